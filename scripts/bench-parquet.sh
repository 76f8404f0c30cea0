#!/usr/bin/env bash
# The Parquet export and DuckDB beside `simpletrace sql` (issue 17,
# docs/performance.md): export throughput of a trace, then the same two
# queries straight from the trace and with DuckDB on the export, best of
# $RUNS runs each, in one run of this script.
#
#   scripts/bench-parquet.sh [TRACE] [TRACE_EVENTS]
#
# Needs the release binary built with the sql feature
# (cargo build --release --features sql) and a Python with duckdb
# ($PYTHON, default: the test venv scripts/test makes). With the
# read_floor example built too (cargo build --release --example
# read_floor), it first prints the floor of any query straight from the
# trace: mapping it and loading each of its cache lines once on 2 threads.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:-/work/bench/medium-rand-512M.trace}
events=${2:-../shared/testdata/trace-events-all}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/simpletrace
python=${PYTHON:-$target/pytest-venv/bin/python}
runs=${RUNS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

best() { # best wall time in seconds of "$@", $runs runs
    local best=
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null
        t1=$(date +%s.%N)
        best=$(python3 -c "print(min(float('${best:-inf}'), $t1 - $t0))")
    done
    printf '%.3f' "$best"
}

size=$(stat -c %s "$trace")
echo "trace: $trace ($size bytes); load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -x "$target/release/examples/read_floor" ]; then
    echo "floor: $("$target/release/examples/read_floor" "$trace" 2 "$runs")"
fi
export_once() { rm -rf "$out/set"; "$bin" parquet -o "$out/set" "$events" "$trace" 2>/dev/null; }
t=$(best export_once)
echo "export: ${t} s, $(python3 -c "print(round($size / 1e6 / $t))") MB/s of trace;" \
    "dataset $(du -sb "$out/set" | cut -f1) bytes, $(find "$out/set" -name '*.parquet' | wc -l) files"

q1='SELECT event, count(*) AS n FROM records GROUP BY event'
q2='SELECT pid, avg(size) AS mean FROM qemu_memalign GROUP BY pid'
for q in "$q1" "$q2"; do
    echo "query: $q"
    echo "  simpletrace sql on the trace: $(best "$bin" sql --format csv "$q" "$events" "$trace") s"
    echo "  simpletrace sql --dataset:    $(best "$bin" sql --format csv --dataset "$out/set" "$q") s"
done
"$python" - "$out/set" "$runs" "$q1" "$q2" <<'PY'
import sys, time, duckdb
root, runs, queries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for q in queries:
    best = float('inf')
    for _ in range(runs):
        t0 = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET threads = 2")
        for t in ('records', 'qemu_memalign'):
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/*/*.parquet', hive_partitioning = true)")
        con.execute(q).fetchall()
        best = min(best, time.perf_counter() - t0)
    print(f"duckdb {duckdb.__version__} on the export: {best:.3f} s  ({q})")
PY
