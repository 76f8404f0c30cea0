#!/usr/bin/env bash
# Regenerates testdata/*.simpletrace.txt with QEMU's own simpletrace.py (the
# reference), fetched by ../shared/tools/reference-simpletrace. Run it after
# changing the sample traces (SIMPLETRACE_REGENERATE=1 cargo test testdata);
# then review the diff: the goldens are what QEMU prints, not what we print.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=$(../shared/tools/reference-simpletrace)
py=(python3 "$ref/scripts/simpletrace.py")
events=testdata/sample.trace-events
for trace in testdata/*.trace; do
  golden=${trace%.trace}.simpletrace.txt
  case $trace in
    # vcpu and tcg events need a QEMU whose tracetool still knew the property.
    *vcpu*) echo "$golden: skipped (scripts/old-qemu-goldens.sh vcpu, from QEMU 7.2)"; continue ;;
    *tcg*) echo "$golden: skipped (scripts/old-qemu-goldens.sh tcg, from QEMU 5.2)"; continue ;;
    *no-header*) "${py[@]}" --no-header "$events" "$trace" >"$golden" ;;
    *) "${py[@]}" "$events" "$trace" >"$golden" ;;
  esac
  echo "$golden: $(wc -l <"$golden") lines"
done
