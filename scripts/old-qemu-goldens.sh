#!/usr/bin/env bash
# Regenerates the goldens of a sample trace of an older QEMU's event syntax
# from that QEMU's own scripts (QEMU 10's, which ../shared/tools/
# reference-simpletrace fetches, no longer knows it):
#   vcpu  testdata/vcpu.trace, from QEMU 7.2, the last series whose tracetool
#         gave `vcpu` events their implicit `__cpu` argument (Debian 12's
#         source package, from the apt sources configured);
#   tcg   testdata/tcg.trace and tcg-no-header.trace, from QEMU 5.2, whose
#         tracetool made two events of each `tcg` declaration (Debian 11's
#         source package, from deb.debian.org through an apt configuration
#         of its own under the cache; the system's is left alone).
# It writes:
#   testdata/SAMPLE.simpletrace.txt  what that QEMU's simpletrace.py prints
#                                    (SAMPLE-no-header.trace, read with
#                                    --no-header, must print the same);
#   testdata/SAMPLE.log.txt          what that QEMU's log backend prints: each
#                                    record through the C library's printf,
#                                    with the format string and argument types
#                                    that QEMU's tracetool gives that backend.
# QEMU's scripts are fetched into a cache (DIR, default
# ~/.cache/simpletrace-qemu-VERSION) and never committed. Needs apt-get,
# python3 and cc.
#
# Usage: scripts/old-qemu-goldens.sh vcpu|tcg [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:?usage: scripts/old-qemu-goldens.sh vcpu|tcg [DIR]}
case $sample in
  vcpu) series=7.2 suite= ;;
  tcg) series=5.2 suite=bullseye ;;
  *) echo "old-qemu-goldens: unknown sample $sample" >&2; exit 2 ;;
esac
dir=${2:-$HOME/.cache/simpletrace-qemu-$series}
if [[ ! -f $dir/scripts/simpletrace.py ]]; then
  apt=()
  if [[ -n $suite ]]; then
    conf=$dir.apt
    mkdir -p "$conf/lists/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$conf/sources.list"
    apt=(-o "Dir::Etc::SourceList=$conf/sources.list" -o Dir::Etc::SourceParts=/nonexistent
         -o "Dir::State::Lists=$conf/lists")
    apt-get "${apt[@]}" update -qq >/dev/null
  fi
  version=$(apt-cache "${apt[@]}" showsrc qemu | sed -n "s/^Version: \(1:${series//./\\.}.*\)/\1/p" | sort -V | tail -n 1)
  if [[ -z $version ]]; then echo "old-qemu-goldens: no qemu $series source package known to apt" >&2; exit 1; fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get "${apt[@]}" source --download-only -qq "qemu=$version" >/dev/null 2>&1) || true
  tarball=$(ls "$work"/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
  if [[ -z $tarball ]]; then echo "old-qemu-goldens: could not fetch qemu $version source" >&2; exit 1; fi
  mkdir -p "$dir"
  tar -xf "$tarball" -C "$dir" --strip-components=1 --wildcards \
    '*/scripts/simpletrace.py' '*/scripts/tracetool/*'
fi
events=testdata/$sample.trace-events
trace=testdata/$sample.trace
golden=testdata/$sample.simpletrace.txt
python3 "$dir/scripts/simpletrace.py" "$events" "$trace" >"$golden"
echo "$golden: $(wc -l <"$golden") lines"
headerless=testdata/$sample-no-header.trace
if [[ -f $headerless ]]; then
  python3 "$dir/scripts/simpletrace.py" --no-header "$events" "$headerless" | cmp - "$golden"
  echo "$headerless: prints $golden"
fi

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
"$bin" >"testdata/$sample.log.txt"
rm -f "$c" "$bin"
echo "testdata/$sample.log.txt: $(wc -l <"testdata/$sample.log.txt") lines"
