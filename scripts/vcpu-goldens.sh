#!/usr/bin/env bash
# Regenerates the goldens of testdata/vcpu.trace from QEMU 7.2: see
# scripts/old-qemu-goldens.sh, which does it (and those of the tcg sample).
#
# Usage: scripts/vcpu-goldens.sh [DIR]
exec "$(dirname "$0")/old-qemu-goldens.sh" vcpu "$@"
