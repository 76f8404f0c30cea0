#!/usr/bin/env bash
# Runs one fuzz target the way docs/robustness.md reports it:
#   fuzz/run.sh TARGET [RUNS] [extra libFuzzer flags...]
# One process (the machine is shared), no sanitizer (the library has no
# `unsafe`; the harness's allocator catches hostile allocations instead),
# debug assertions and overflow checks on, seeds from fuzz/seeds/TARGET,
# new finds in fuzz/corpus/TARGET (not committed), crashes in
# fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [RUNS] [libFuzzer flags...]}
runs=${2:-10000000}
shift $(( $# < 2 ? $# : 2 ))
case $target in
  decode | print) dict=dicts/trace.dict ;;
  *) dict=dicts/$target.dict ;;
esac
mkdir -p "corpus/$target"
exec cargo +nightly fuzz run --sanitizer none --debug-assertions "$target" \
  "corpus/$target" "seeds/$target" -- \
  -dict="$dict" -runs="$runs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=256 -malloc_limit_mb=64 -print_final_stats=1 "$@"
