#!/usr/bin/env python3
"""Runs a command with its standard output piped into `cat > /dev/null`,
several times; prints one JSON line per run with the wall time of the whole
pipeline and the command's peak memory, sampled from /proc every 5 ms:
VmHWM (peak resident set), and the peaks of RssAnon (heap, buffers) and
RssFile (mapped file pages)."""

import json
import subprocess
import sys
import time


def status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return fields


def run(cmd):
    start = time.perf_counter()
    producer = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    consumer = subprocess.Popen(["cat"], stdin=producer.stdout, stdout=subprocess.DEVNULL)
    producer.stdout.close()
    peak = {"VmHWM": 0, "RssAnon": 0, "RssFile": 0}
    while producer.poll() is None:
        for key, value in status(producer.pid).items():
            peak[key] = max(peak[key], value)
        time.sleep(0.005)
    consumer.wait()
    wall = time.perf_counter() - start
    if producer.returncode != 0:
        sys.exit(f"{cmd[0]} exited with {producer.returncode}")
    return {"wall_s": wall, "peak_rss": peak["VmHWM"], "peak_anon": peak["RssAnon"], "peak_file": peak["RssFile"]}


def main():
    runs = int(sys.argv[1])
    cmd = sys.argv[2:]
    for _ in range(runs):
        print(json.dumps(run(cmd)), flush=True)


if __name__ == "__main__":
    main()
