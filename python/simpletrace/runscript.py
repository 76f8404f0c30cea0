"""Runs an unchanged analysis script on this module::

    simpletrace-runscript SCRIPT [ARGS...]
    python3 -m simpletrace.runscript SCRIPT [ARGS...]

run SCRIPT as ``python3 SCRIPT ARGS...`` would (``sys.argv``, ``__name__ ==
'__main__'``, the script's folder first on ``sys.path``), except that its
``import simpletrace`` gets this module, even when QEMU's own
``simpletrace.py`` sits beside the script (as QEMU's
``scripts/analyse-locks-simpletrace.py`` does). The command works from any
folder; ``python3 -m`` puts the current folder first on ``sys.path``, so
from a folder that holds another ``simpletrace.py`` it would find that one
before this package (``python3 -P -m`` does not, on Python 3.11 and later).
"""

import os
import runpy
import sys

import simpletrace


def main():
    if len(sys.argv) < 2:
        sys.stderr.write('usage: simpletrace-runscript SCRIPT [ARGS...]\n')
        sys.exit(2)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    # An import finds sys.modules before it looks at sys.path: the
    # script's folder can come first, as for `python3 SCRIPT`, without its
    # simpletrace.py winning.
    sys.modules['simpletrace'] = simpletrace
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
