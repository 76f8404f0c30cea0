"""``python3 -m simpletrace [--no-header] <trace-events> <trace-file>``:
prints every record of a trace exactly as QEMU's ``simpletrace.py`` does,
with the Rust printer (on every core)."""

import os
import sys

from . import SimpleException, _declarations, _native


def _threads():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def main():
    args = sys.argv[1:]
    read_header = True
    if len(args) == 3 and args[0] == '--no-header':
        read_header = False
        args = args[1:]
    if len(args) != 2:
        sys.stderr.write(f'usage: {sys.argv[0]} [--no-header] <trace-events> <trace-file>\n\n')
        sys.exit(1)
    events_path, trace_path = args
    try:
        decls = _declarations(events_path)
        trace = _native.Trace.open(decls, path=trace_path, read_header=read_header)
        result = trace.print(sys.stdout.buffer, _threads())
    except BrokenPipeError:
        # `| head`: the reader has what it wanted.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except (SimpleException, ValueError, OSError) as e:
        sys.stdout.flush()
        sys.stderr.write(f'{e}\n')
        sys.exit(1)
    if result.warning:
        sys.stdout.flush()
        sys.stderr.write(f'simpletrace: warning: {result.warning}\n')


if __name__ == '__main__':
    main()
