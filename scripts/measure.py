#!/usr/bin/env python3
"""Runs a command with its standard output piped into `cat > /dev/null`.

    measure.py RUNS CMD...      time RUNS runs; one JSON line each: the wall
                                time of the whole pipeline and the command's
                                peak RSS (from wait4's rusage, no polling)
    measure.py --memory CMD...  one run sampled from /proc every 5 ms: peaks
                                of RssAnon (heap, buffers) and RssFile
                                (mapped file pages); the sampling costs CPU,
                                so it is kept out of the timed runs
"""

import json
import os
import subprocess
import sys
import time


def status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return fields


def run(cmd, sample):
    start = time.perf_counter()
    producer = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    consumer = subprocess.Popen(["cat"], stdin=producer.stdout, stdout=subprocess.DEVNULL)
    producer.stdout.close()
    peak = {"RssAnon": 0, "RssFile": 0}
    if sample:
        while producer.poll() is None:
            for key, value in status(producer.pid).items():
                peak[key] = max(peak[key], value)
            time.sleep(0.005)
        rusage = None
    else:
        _, code, rusage = os.wait4(producer.pid, 0)
        producer.returncode = os.waitstatus_to_exitcode(code)
    consumer.wait()
    wall = time.perf_counter() - start
    if producer.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {producer.returncode}")
    if sample:
        return {"peak_anon": peak["RssAnon"], "peak_file": peak["RssFile"]}
    return {"wall_s": wall, "peak_rss": rusage.ru_maxrss * 1024}


def main():
    if sys.argv[1] == "--memory":
        print(json.dumps(run(sys.argv[2:], True)), flush=True)
        return
    runs = int(sys.argv[1])
    for _ in range(runs):
        print(json.dumps(run(sys.argv[2:], False)), flush=True)


if __name__ == "__main__":
    main()
