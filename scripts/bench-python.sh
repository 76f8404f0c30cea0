#!/usr/bin/env bash
# Python module benchmark: our `simpletrace` module against QEMU 10's
# scripts/simpletrace.py on the same large trace (every event on, made as
# scripts/bench.sh makes it), identical output required:
#   (a) analyse-locks-simpletrace.py with its one-line timestamp fix;
#   (b) an Analyzer2 with one handler for a rare event and no catch-all;
#   (c) the columnar load (load_columns) of the three mutex events.
# QEMU's module runs once per case (minutes on 500 MB), ours RUNS times
# (median). Results go to standard output as Markdown (paste into
# docs/performance.md).
#
# Usage: scripts/bench-python.sh [TRACE_SIZE] (default 512M)
# Environment: RUNS (ours, default 3), TRACE (an existing trace to use),
#   BENCH_DIR (default $CARGO_TARGET_DIR/bench), SIMPLETRACE_CORPUS
#   (default ../shared/testdata). The module is built into
#   $CARGO_TARGET_DIR/pytest-venv as scripts/test does.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-512M}
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
dir=${BENCH_DIR:-$target/bench}
corpus=${SIMPLETRACE_CORPUS:-../shared/testdata}
events=$corpus/trace-events-all
mkdir -p "$dir"
trace=${TRACE:-$dir/medium-rand-$size.trace}

if [[ ! -f $trace ]]; then
  cargo build --release --quiet --example gen_trace
  "$target/release/examples/gen_trace" --events "$events" --model "$corpus/medium-rand.bin" \
    --size "$size" -o "$trace"
fi
venv=$target/pytest-venv
if ! "$venv/bin/python" -c 'import numpy' 2>/dev/null || [[ ! -x $venv/bin/maturin ]]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9.4,<2' pytest numpy
fi
(cd python && VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH CARGO_TARGET_DIR=$target \
  maturin develop --release --quiet >&2)
py=$venv/bin/python
ref=$(../shared/tools/reference-simpletrace)
cat "$trace" >/dev/null   # page cache

# The scripts, in a folder of their own: QEMU's module is found through
# PYTHONPATH (with tracetool beside it), ours through simpletrace-runscript.
work=$dir/python-scripts
mkdir -p "$work"
sed 's/timestamp\[0\]/timestamp/' "$ref/scripts/analyse-locks-simpletrace.py" >"$work/locks.py"
cat >"$work/rare.py" <<'PY'
import sys
import simpletrace

class Rare(simpletrace.Analyzer2):
    def __init__(self):
        self.n = 0
        self.last = None

    def qcow2_pwrite_zeroes(self, co, offset, bytes, *, timestamp_ns, pid, **kwargs):
        self.n += 1
        self.last = (timestamp_ns, pid, co, offset, bytes)

a = Rare()
simpletrace.process(sys.argv[1], sys.argv[2], a)
print(a.n, a.last)
PY
cat >"$work/columns.py" <<'PY'
import sys, time
t0 = time.perf_counter()
import numpy
import simpletrace
t1 = time.perf_counter()
tables = simpletrace.load_columns(sys.argv[1], sys.argv[2],
                                  ['qemu_mutex_lock', 'qemu_mutex_locked', 'qemu_mutex_unlock'])
t2 = time.perf_counter()
print(' '.join(f"{name}={len(t['record'])}" for name, t in tables.items()))
print(f"load_s={t2 - t1:.3f} import_s={t1 - t0:.3f}", file=sys.stderr)
PY

qemu() { PYTHONPATH=$ref/scripts "$py" "$@"; }
ours() { "$venv/bin/simpletrace-runscript" "$@"; }
median() { python3 -c 'import json,statistics,sys; r=[json.loads(l) for l in sys.stdin]; print(statistics.median(x[sys.argv[1]] for x in r))' "$1"; }
maxof() { python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(max(x[sys.argv[1]] for x in r))' "$1"; }

for case in locks rare; do
  echo "$case: checking that the outputs are identical..." >&2
  qemu "$work/$case.py" "$events" "$trace" >"$dir/$case.qemu.out"
  ours "$work/$case.py" "$events" "$trace" >"$dir/$case.ours.out"
  cmp "$dir/$case.qemu.out" "$dir/$case.ours.out" || { echo "$case: OUTPUTS DIFFER" >&2; exit 1; }
  echo "$case: QEMU's module, 1 run..." >&2
  PYTHONPATH=$ref/scripts python3 scripts/measure.py 1 "$py" "$work/$case.py" "$events" "$trace" >"$dir/$case.qemu.jsonl"
  echo "$case: ours, $runs runs..." >&2
  python3 scripts/measure.py "$runs" "$venv/bin/simpletrace-runscript" "$work/$case.py" "$events" "$trace" >"$dir/$case.ours.jsonl"
done
echo "columns: $runs runs..." >&2
: >"$dir/columns.load"
for _ in $(seq "$runs"); do
  python3 scripts/measure.py 1 "$py" "$work/columns.py" "$events" "$trace" 2>>"$dir/columns.load" >>"$dir/columns.jsonl.tmp"
done
mv "$dir/columns.jsonl.tmp" "$dir/columns.jsonl"
counts=$("$py" "$work/columns.py" "$events" "$trace" 2>/dev/null)
load=$(python3 -c 'import statistics,sys; print(statistics.median(float(l.split()[0].split("=")[1]) for l in sys.stdin))' <"$dir/columns.load")
python3 scripts/measure.py --memory "$py" "$work/columns.py" "$events" "$trace" >"$dir/columns.mem.json" 2>/dev/null
python3 scripts/measure.py --memory "$py" -c 'import numpy, simpletrace' >"$dir/python.mem.json"

bytes=$(stat -c %s "$trace")
mib() { python3 -c "print(f'{$1/1048576:.0f} MiB')"; }
echo
echo "Trace: $(mib "$bytes") ($(basename "$trace")), every event on; $(nproc) CPUs; Python $("$py" -c 'import sys; print(sys.version.split()[0])'); QEMU's module run once, ours $runs times (median)."
echo
echo "| case | QEMU 10's simpletrace.py | ours | speed-up | our peak RSS |"
echo "|---|---|---|---|---|"
for case in locks rare; do
  q=$(median wall_s <"$dir/$case.qemu.jsonl"); o=$(median wall_s <"$dir/$case.ours.jsonl")
  rss=$(maxof peak_rss <"$dir/$case.ours.jsonl")
  label=$([[ $case == locks ]] && echo "analyse-locks-simpletrace.py (timestamp fix)" || echo "one handler for a rare event (qcow2_pwrite_zeroes), no catch-all")
  python3 -c "print(f'| $label | {$q:.2f} s | {$o:.2f} s | {$q/$o:.1f}x | {$rss/1048576:.0f} MiB |')"
done
c=$(median wall_s <"$dir/columns.jsonl")
anon=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_anon"])' "$dir/columns.mem.json")
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_anon"])' "$dir/python.mem.json")
echo
echo "Columnar load of the mutex events ($counts):"
python3 -c "print(f'load_columns {$load:.2f} s (the whole process, Python start and imports included: {$c:.2f} s); peak anonymous memory {$anon/1048576:.0f} MiB, of which Python and numpy alone take {$base/1048576:.0f} MiB')"
