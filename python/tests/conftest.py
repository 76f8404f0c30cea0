"""Fixtures: the project's test data, QEMU's conformance corpus, and QEMU's
own simpletrace.py to compare with.

The corpus is `$SIMPLETRACE_CORPUS`, or `../shared/testdata` beside the
project; QEMU's scripts are fetched by `../shared/tools/reference-simpletrace`
(or found in `$SIMPLETRACE_REFERENCE`). Tests that need either are skipped,
saying why, when it is missing.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import simpletrace  # ours: imported first, so `simpletrace` stays ours

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / 'testdata'


def _corpus():
    path = Path(os.environ.get('SIMPLETRACE_CORPUS', ROOT.parent / 'shared' / 'testdata'))
    return path if (path / 'trace-events-all').is_file() else None


def _reference():
    """The folder holding QEMU's scripts/simpletrace.py and tracetool, or
    the reason there is none."""
    given = os.environ.get('SIMPLETRACE_REFERENCE')
    if given:
        folder = Path(given)
    else:
        tool = ROOT.parent / 'shared' / 'tools' / 'reference-simpletrace'
        if not tool.is_file():
            return None, f'{tool} is missing: it fetches QEMU\'s simpletrace.py'
        try:
            done = subprocess.run(['bash', str(tool)], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f'{tool} failed: {e}'
        if done.returncode != 0:
            return None, f'{tool} could not fetch QEMU\'s simpletrace.py: {done.stderr.strip()}'
        folder = Path(done.stdout.strip())
    if not (folder / 'scripts' / 'simpletrace.py').is_file():
        return None, f'no scripts/simpletrace.py in {folder}'
    return folder, None


CORPUS = _corpus()
REFERENCE, REFERENCE_MISSING = _reference()


@pytest.fixture(scope='session')
def corpus():
    if CORPUS is None:
        pytest.skip('QEMU conformance corpus not found: set SIMPLETRACE_CORPUS or put it at '
                    '../shared/testdata beside the project')
    return CORPUS


@pytest.fixture(scope='session')
def reference():
    """The folder of QEMU's scripts (simpletrace.py, tracetool, analyse-*.py)."""
    if REFERENCE is None:
        pytest.skip(f'QEMU\'s simpletrace.py is not available: {REFERENCE_MISSING}')
    return REFERENCE / 'scripts'


@pytest.fixture(scope='session')
def qemu(reference):
    """QEMU 10's own simpletrace module, imported under another name (with
    tracetool importable, after our own module on sys.path)."""
    if str(reference) not in sys.path:
        sys.path.append(str(reference))
    spec = importlib.util.spec_from_file_location('qemu_simpletrace', reference / 'simpletrace.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sys.modules['simpletrace'] is simpletrace
    return module


@pytest.fixture(scope='session')
def tracetool(qemu):
    import tracetool
    return tracetool
