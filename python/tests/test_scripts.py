"""Unchanged scripts on the module (simpletrace-runscript), against the same
scripts on QEMU's own simpletrace.py; and `python -m simpletrace`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTDATA
from support import dropped, event, header, mapping, read_golden

BIN = Path(sys.executable).parent


def runscript():
    """The command that runs a script on our module."""
    found = BIN / 'simpletrace-runscript'
    if found.exists():
        return [str(found)]
    found = shutil.which('simpletrace-runscript')
    if found:
        return [found]
    pytest.skip('simpletrace-runscript is not installed beside this Python')


def run(args, cwd=None):
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=600)


def beside_qemus_module(reference, tmp_path, script, text):
    """`script` with `text` in a folder with QEMU's simpletrace.py and
    tracetool beside it: `python3 SCRIPT` there runs on QEMU's module."""
    folder = tmp_path / 'scripts'
    folder.mkdir()
    for name in ('simpletrace.py', 'tracetool'):
        (folder / name).symlink_to(reference / name)
    path = folder / script
    path.write_text(text)
    return path


def last_error(stderr):
    """The failing line of the script and the exception, from a traceback."""
    lines = [line for line in stderr.splitlines() if line.strip() and not set(line.strip()) <= set('^~')]
    return lines[-2].strip(), lines[-1]


def test_runscript_uses_our_module_beside_another(tmp_path):
    folder = tmp_path / 'here'
    folder.mkdir()
    (folder / 'simpletrace.py').write_text('raise ImportError("the wrong simpletrace")\n')
    (folder / 'sibling.py').write_text('VALUE = 42\n')
    script = folder / 'show.py'
    script.write_text('import sys, simpletrace, sibling\n'
                      'print(simpletrace.__name__, hasattr(simpletrace, "_native"), sibling.VALUE,'
                      ' sys.argv[1:], __name__)\n')
    for cwd in (folder, tmp_path):
        done = run(runscript() + [str(script), 'a', '--b'], cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "simpletrace True 42 ['a', '--b'] __main__\n"
    done = run([sys.executable, '-m', 'simpletrace.runscript', str(script), 'x'], cwd=tmp_path)
    assert done.stdout == "simpletrace True 42 ['x'] __main__\n", done.stderr
    done = run(runscript())
    assert done.returncode == 2 and 'usage' in done.stderr


def test_analyse_locks_unchanged_fails_as_on_qemus_module(corpus, reference, tmp_path):
    args = [str(corpus / 'trace-events-all'), str(corpus / 'medium-rand.bin')]
    script = reference / 'analyse-locks-simpletrace.py'
    theirs = run([sys.executable, str(script)] + args)
    ours = run(runscript() + [str(script)] + args)
    assert theirs.returncode == ours.returncode == 1
    assert ours.stdout == theirs.stdout
    assert last_error(ours.stderr) == last_error(theirs.stderr)
    assert last_error(ours.stderr)[1] == "TypeError: 'int' object is not subscriptable"


def test_analyse_locks_fixed_prints_what_it_prints_on_qemus_module(corpus, reference, tmp_path):
    text = (reference / 'analyse-locks-simpletrace.py').read_text()
    fixed = text.replace('timestamp[0]', 'timestamp')
    assert fixed != text
    script = beside_qemus_module(reference, tmp_path, 'analyse-locks-simpletrace.py', fixed)
    args = [str(corpus / 'trace-events-all'), str(corpus / 'medium-rand.bin')]
    theirs = run([sys.executable, str(script)] + args, cwd=script.parent)
    ours = run(runscript() + [str(script)] + args, cwd=script.parent)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stdout.startswith('Total locks: 33827, locked: 39733, unlocked: 39733\n')


def nine_p_trace(walk=False):
    """A trace of 9p requests, with strings, an error, an event the script
    has no method for, and a dropped-events record; with `walk`, a record
    of v9fs_walk, whose method in QEMU 10's script takes one argument too
    few."""
    ids = {'v9fs_version': 0, 'v9fs_version_return': 1, 'v9fs_attach': 2,
           'v9fs_attach_return': 3, 'v9fs_rerror': 4, 'v9fs_walk': 5, 'v9fs_rcancel': 6,
           'v9fs_xattrwalk': 7}
    data = header() + b''.join(mapping(i, name) for name, i in ids.items())
    records = [
        event(0, 100, 5, 1, 100, 8192, b'9P2000.L'),
        event(1, 200, 5, 1, 101, 8192, b'9P2000.L'),
        event(2, 300, 5, 2, 104, 0, -1, b'root', b''),
        event(3, 400, 5, 2, 105, 0x80, 7, 0x1234),
        dropped(450, 5, 12),
        event(6, 550, 5, 3, 52),
        event(7, 580, 5, 4, 30, 1, 2, b"user.it's"),
        event(4, 600, 5, 3, 7, 2),
    ]
    if walk:
        records.append(event(5, 700, 5, 3, 110, 0, 1, 2, b'a/b'))
    return data + b''.join(records)


def test_analyse_9p_prints_what_it_prints_on_qemus_module(reference, tmp_path):
    events = reference.parent / 'hw' / '9pfs' / 'trace-events'
    if not events.exists():
        pytest.skip(f'{events} was not fetched with QEMU\'s scripts')
    trace = tmp_path / 'trace'
    trace.write_bytes(nine_p_trace())
    script = reference / 'analyse-9p-simpletrace.py'
    theirs = run([sys.executable, str(script), str(events), str(trace)])
    ours = run(runscript() + [str(script), str(events), str(trace)])
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert 'TATTACH' in ours.stdout and 'RERROR' in ours.stdout
    # A method with the wrong number of parameters fails the same way.
    trace.write_bytes(nine_p_trace(walk=True))
    theirs = run([sys.executable, str(script), str(events), str(trace)])
    ours = run(runscript() + [str(script), str(events), str(trace)])
    assert ours.returncode == theirs.returncode == 1
    assert ours.stdout == theirs.stdout
    assert last_error(ours.stderr)[1] == last_error(theirs.stderr)[1]
    assert 'v9fs_walk() takes 6 positional arguments but 7 were given' in ours.stderr
    # The same usage error through run().
    theirs = run([sys.executable, str(script), str(events)])
    ours = run(runscript() + [str(script), str(events)])
    assert ours.returncode == theirs.returncode == 1
    assert last_error(ours.stderr)[1].split(': ', 1)[1] == last_error(theirs.stderr)[1].split(': ', 1)[1]


def test_python_m_simpletrace_prints_the_goldens(corpus):
    for events, trace, golden, extra in [
        (TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace',
         TESTDATA / 'sample.simpletrace.txt', []),
        (TESTDATA / 'sample.trace-events', TESTDATA / 'no-header.trace',
         TESTDATA / 'no-header.simpletrace.txt', ['--no-header']),
        (corpus / 'trace-events-all', corpus / 'dropped.bin',
         corpus / 'dropped.simpletrace.txt.gz', []),
    ]:
        done = subprocess.run([sys.executable, '-m', 'simpletrace'] + extra + [str(events), str(trace)],
                              capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode('utf-8', 'surrogateescape') == read_golden(golden)


def test_python_m_simpletrace_errors(tmp_path):
    done = run([sys.executable, '-m', 'simpletrace', 'only-one'])
    assert done.returncode == 1 and done.stderr.startswith('usage: ')
    bad = tmp_path / 'bad.trace'
    bad.write_bytes(b'\0' * 40)
    done = run([sys.executable, '-m', 'simpletrace', str(TESTDATA / 'sample.trace-events'), str(bad)])
    assert done.returncode == 1 and str(bad) in done.stderr and 'Traceback' not in done.stderr
    cut = tmp_path / 'cut.trace'
    cut.write_bytes((TESTDATA / 'sample.trace').read_bytes()[:-5])
    done = run([sys.executable, '-m', 'simpletrace', str(TESTDATA / 'sample.trace-events'), str(cut)])
    assert done.returncode == 0
    assert done.stderr.startswith('simpletrace: warning: ') and str(cut) in done.stderr
    want = read_golden(TESTDATA / 'sample.simpletrace.txt').splitlines(keepends=True)[:-1]
    assert done.stdout == ''.join(want)
