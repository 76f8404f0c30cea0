#!/usr/bin/env bash
# `json --format perfetto` beside `json --format chrome` (issue 19,
# docs/performance.md): the size of both files for the same records, and
# the throughput of each (MB of trace per second, best of $RUNS runs,
# output piped into `cat > /dev/null` by scripts/measure.py, with the
# writer's peak RSS), and the peak anonymous memory of each.
#
#   scripts/bench-perfetto.sh [TRACE] [TRACE_EVENTS]
#
# Needs the release binary (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:-/work/bench/medium-rand-512M.trace}
events=${2:-../shared/testdata/trace-events-all}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/simpletrace
runs=${RUNS:-3}
spans=(--span thread_pool_submit_aio:req,thread_pool_complete_aio:req
       --span qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex)

size=$(stat -c %s "$trace")
echo "trace: $trace ($size bytes); load: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$trace" >/dev/null   # page cache
for format in chrome perfetto; do
    for with in plain spans; do
        args=(json --format "$format")
        [[ $with == spans ]] && args+=("${spans[@]}")
        bytes=$("$bin" "${args[@]}" "$events" "$trace" | wc -c)
        python3 scripts/measure.py "$runs" "$bin" "${args[@]}" "$events" "$trace" | python3 -c "
import json, sys
runs = [json.loads(l) for l in sys.stdin]
best = min(r['wall_s'] for r in runs)
rss = max(r['peak_rss'] for r in runs)
print(f'$format $with: {$bytes} bytes ({$bytes / $size:.3f} of the trace), best {best:.2f} s, '
      f'{$size / 1e6 / best:.0f} MB/s of trace, peak RSS {rss / 2**20:.0f} MiB (mapped trace pages included)')"
    done
done
# Memory apart from the mapped trace (heap, buffers): sampled, untimed.
for format in chrome perfetto; do
    python3 scripts/measure.py --memory "$bin" json --format "$format" "${spans[@]}" "$events" "$trace" |
        python3 -c "import json,sys; m=json.load(sys.stdin); print('$format spans: peak anonymous RSS', round(m['peak_anon'] / 2**20), 'MiB')"
done
