#!/usr/bin/env bash
# Regenerates the goldens of testdata/vcpu.trace from QEMU 7.2, the last
# QEMU series whose tracetool gave `vcpu` events their implicit `__cpu`
# argument (QEMU 10's, which ../shared/tools/reference-simpletrace fetches,
# ignores the property):
#   testdata/vcpu.simpletrace.txt  what QEMU 7.2's simpletrace.py prints;
#   testdata/vcpu.log.txt          what QEMU 7.2's log backend prints: each
#                                  record through the C library's printf,
#                                  with the format string and argument types
#                                  tracetool 7.2 gives that backend.
# QEMU's scripts are fetched from Debian's qemu 1:7.2 source package into a
# cache (DIR, default ~/.cache/simpletrace-qemu-7.2) and never committed.
# Needs apt-get source entries for Debian 12 (bookworm), python3 and cc.
#
# Usage: scripts/vcpu-goldens.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$HOME/.cache/simpletrace-qemu-7.2}
if [[ ! -f $dir/scripts/simpletrace.py ]]; then
  version=$(apt-cache showsrc qemu | sed -n 's/^Version: \(1:7\.2.*\)/\1/p' | sort -V | tail -n 1)
  if [[ -z $version ]]; then echo "vcpu-goldens: no qemu 7.2 source package known to apt" >&2; exit 1; fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source --download-only -qq "qemu=$version" >/dev/null 2>&1) || true
  tarball=$(ls "$work"/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
  if [[ -z $tarball ]]; then echo "vcpu-goldens: could not fetch qemu $version source" >&2; exit 1; fi
  mkdir -p "$dir"
  tar -xf "$tarball" -C "$dir" --strip-components=1 --wildcards \
    '*/scripts/simpletrace.py' '*/scripts/tracetool/*'
fi
events=testdata/vcpu.trace-events
trace=testdata/vcpu.trace
python3 "$dir/scripts/simpletrace.py" "$events" "$trace" >testdata/vcpu.simpletrace.txt
echo "testdata/vcpu.simpletrace.txt: $(wc -l <testdata/vcpu.simpletrace.txt) lines"

# One printf per record, as the log backend's qemu_log("NAME " FMT "\n", ...).
c=$(mktemp --suffix=.c)
bin=${c%.c}
python3 - "$dir/scripts" "$events" "$trace" >"$c" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import simpletrace, tracetool
from tracetool.backend.simple import is_string

events = tracetool.read_events(open(sys.argv[2]), sys.argv[2])
records = []

class Collect(simpletrace.Analyzer):
    def catchall(self, event, rec):
        records.append((event, rec))

with open(sys.argv[3], 'rb') as f:
    simpletrace.process(events, f, Collect())

print('#include <inttypes.h>\n#include <stdbool.h>\n#include <stddef.h>\n'
      '#include <stdint.h>\n#include <stdio.h>\n#include <sys/types.h>\n'
      'int main(void) {')
for event, rec in records:
    args = []
    for i, (ty, _) in enumerate(event.args):
        value = rec[3 + i]
        if is_string(ty):
            args.append('"' + ''.join('\\%03o' % b for b in value) + '"')
        elif ty.strip().endswith('*'):
            args.append('(%s)(uintptr_t)%dULL' % (ty, value))
        else:
            args.append('(%s)%dULL' % (ty, value))
    print('    printf("%s " %s "\\n"%s);'
          % (event.name, event.fmt, ''.join(', ' + a for a in args)))
print('    return 0;\n}')
EOF
cc -w -o "$bin" "$c"
"$bin" >testdata/vcpu.log.txt
rm -f "$c" "$bin"
echo "testdata/vcpu.log.txt: $(wc -l <testdata/vcpu.log.txt) lines"
