#!/usr/bin/env bash
# Pretty-printing benchmark: our binary against QEMU's simpletrace.py on the
# same large trace, output piped into `cat > /dev/null`, several runs each,
# medians. Also 1 vs 2 threads and peak memory. Results go to standard
# output as a Markdown table (paste into docs/performance.md).
#
# Usage: scripts/bench.sh [TRACE_SIZE] (default 512M)
# Environment: RUNS (ours, default 7), PY_RUNS (reference, default 3),
#   BENCH_DIR (default target/bench), SIMPLETRACE_CORPUS (default ../shared/testdata).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-512M}
runs=${RUNS:-7}
py_runs=${PY_RUNS:-3}
dir=${BENCH_DIR:-target/bench}
corpus=${SIMPLETRACE_CORPUS:-../shared/testdata}
events=$corpus/trace-events-all
mkdir -p "$dir"
trace=$dir/medium-rand-$size.trace

cargo build --release --quiet --bin simpletrace --example gen_trace
bin=target/release/simpletrace
if [[ ! -f $trace ]]; then
  target/release/examples/gen_trace --events "$events" --model "$corpus/medium-rand.bin" \
    --size "$size" -o "$trace"
fi
ref=$(../shared/tools/reference-simpletrace)
cat "$trace" >/dev/null   # page cache

median() { python3 -c 'import json,statistics,sys; r=[json.loads(l) for l in sys.stdin]; print(statistics.median(x[sys.argv[1]] for x in r))' "$1"; }
maxof() { python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(max(x[sys.argv[1]] for x in r))' "$1"; }

echo "checking that the outputs are identical..." >&2
ours_sum=$("$bin" "$events" "$trace" | sha256sum)
ref_sum=$(python3 "$ref/scripts/simpletrace.py" "$events" "$trace" | sha256sum)
[[ $ours_sum == "$ref_sum" ]] || { echo "OUTPUTS DIFFER" >&2; exit 1; }

echo "reference, $py_runs runs..." >&2
python3 scripts/measure.py "$py_runs" python3 "$ref/scripts/simpletrace.py" "$events" "$trace" >"$dir/ref.jsonl"
# Alternate the two thread counts run by run, so that a slow spell of the
# machine does not land on one of them only.
: >"$dir/j1.jsonl"; : >"$dir/j2.jsonl"
echo "simpletrace -j1 and -j2, $runs runs each..." >&2
for _ in $(seq "$runs"); do
  for j in 1 2; do
    python3 scripts/measure.py 1 "$bin" -j "$j" "$events" "$trace" >>"$dir/j$j.jsonl"
  done
done
for name in ref j1 j2; do
  case $name in
    ref) cmd=(python3 "$ref/scripts/simpletrace.py") ;;
    j1) cmd=("$bin" -j 1) ;;
    j2) cmd=("$bin" -j 2) ;;
  esac
  python3 scripts/measure.py --memory "${cmd[@]}" "$events" "$trace" >"$dir/$name.mem.json"
done

bytes=$(stat -c %s "$trace")
records=$("$bin" "$events" "$trace" | wc -l)
out_bytes=$("$bin" "$events" "$trace" | wc -c)
ref_t=$(median wall_s <"$dir/ref.jsonl")
j1_t=$(median wall_s <"$dir/j1.jsonl")
j2_t=$(median wall_s <"$dir/j2.jsonl")
python3 - "$bytes" "$records" "$out_bytes" "$ref_t" "$j1_t" "$j2_t" "$dir" <<'PY'
import json, sys
bytes_, records, out_bytes = map(int, sys.argv[1:4])
ref, j1, j2 = map(float, sys.argv[4:7])
d = sys.argv[7]
def peaks(name):
    rows = [json.loads(l) for l in open(f"{d}/{name}.jsonl")]
    mem = json.load(open(f"{d}/{name}.mem.json"))
    return (max(r["peak_rss"] for r in rows) / 2**20, mem["peak_anon"] / 2**20, mem["peak_file"] / 2**20)
mb = bytes_ / 1e6
print(f"Trace: {mb:.0f} MB, {records:,} records; output {out_bytes/1e6:.0f} MB, piped into `cat > /dev/null`.\n")
print("| command | median wall | trace MB/s | vs simpletrace.py | peak RSS | peak anon | peak mapped file |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, label, t in (("ref", "simpletrace.py (QEMU 10)", ref), ("j1", "simpletrace -j1", j1), ("j2", "simpletrace -j2", j2)):
    rss, anon, file_ = peaks(name)
    print(f"| {label} | {t:.3f} s | {mb/t:,.0f} | {ref/t:.0f}x | {rss:.0f} MiB | {anon:.0f} MiB | {file_:.0f} MiB |")
print(f"\n2 threads vs 1: {j1/j2:.2f}x")
PY
