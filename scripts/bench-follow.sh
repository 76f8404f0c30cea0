#!/usr/bin/env bash
# `--follow` (issue 18, docs/performance.md): how long a record flushed to
# a followed trace takes to appear on standard output (median and 90th
# percentile of $N records, each written alone with one write(2) after a
# pause, as QEMU's writer thread flushes), and the CPU the follower uses
# while the trace is idle ($IDLE seconds, from /proc/PID/stat).
#
#   scripts/bench-follow.sh [BINARY]
#
# BINARY defaults to the release build ($CARGO_TARGET_DIR or target).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
bin=${1:-$target/release/simpletrace}
n=${N:-200}
idle=${IDLE:-10}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "binary: $bin; load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$bin" "$dir" "$n" "$idle" <<'PY'
import os, random, statistics, struct, subprocess, sys, time

binary, d, n, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
events = os.path.join(d, "trace-events")
with open(events, "w") as f:
    f.write('bench_tick(uint64_t n) "n %" PRIu64\n')
live = os.path.join(d, "trace-live")
# Version-4 header, and a mapping record naming id 0.
head = struct.pack("<QQQ", 0xFFFFFFFFFFFFFFFF, 0xF2B177CB0AA429B4, 4)
head += struct.pack("<QQI", 0, 0, 10) + b"bench_tick"
with open(live, "wb") as f:
    f.write(head)

def record(i):
    # Type, id, timestamp, length, pid, one argument.
    return struct.pack("<QQQIIQ", 1, 0, 1000 + i, 32, 1, i)

clk = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clk

p = subprocess.Popen([binary, "-f", events, live], stdout=subprocess.PIPE, bufsize=0)
out = p.stdout
fd = os.open(live, os.O_WRONLY | os.O_APPEND)
time.sleep(0.5)
lat = []
rng = random.Random(18)
for i in range(n):
    time.sleep(0.02 + rng.random() * 0.03)
    rec = record(i)
    t0 = time.perf_counter()
    os.write(fd, rec)
    line = out.readline()
    lat.append(time.perf_counter() - t0)
    if not line.startswith(b"bench_tick"):
        sys.exit(f"unexpected line {line!r}")
lat.sort()
med = statistics.median(lat) * 1e3
p90 = lat[int(len(lat) * 0.9)] * 1e3
print(f"latency over {n} records: median {med:.2f} ms, p90 {p90:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
# A record cut in two: the line comes when its second half does.
rec = record(n)
os.write(fd, rec[:13])
time.sleep(0.2)
t0 = time.perf_counter()
os.write(fd, rec[13:])
out.readline()
print(f"a record completed by a second write: {(time.perf_counter() - t0) * 1e3:.2f} ms")
c0, w0 = cpu(p.pid), time.perf_counter()
time.sleep(idle)
c1, w1 = cpu(p.pid), time.perf_counter()
print(f"idle for {w1 - w0:.1f} s: {c1 - c0:.2f} s of CPU ({(c1 - c0) / (w1 - w0) * 100:.2f} %, clock tick {1 / clk * 1e3:.0f} ms)")
p.send_signal(2)
p.wait()
print(f"after Ctrl-C: exit status {p.returncode}")
PY
