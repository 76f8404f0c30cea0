"""The columnar API (load_columns, load_dataframes) against `simpletrace
json`: every event, every argument type, strings, dropped records."""

import io
import json
import os
import subprocess
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import simpletrace
from conftest import ROOT, TESTDATA
from support import dropped, event, event_v0, header, header_v0, mapping

# (trace-events, trace, whether it has a header), in testdata/.
TESTDATA_CASES = [
    ('sample.trace-events', 'sample.trace', True),
    ('sample.trace-events', 'edge-deltas.trace', True),
    ('sample.trace-events', 'strings.trace', True),
    ('sample.trace-events', 'no-header.trace', False),
    ('vcpu.trace-events', 'vcpu.trace', True),
    ('tcg.trace-events', 'tcg.trace', True),
]

CORPUS_TRACES = ['tiny', 'strings', 'medium-create', 'medium-io', 'medium-convert', 'dropped']


def _binary():
    """The command line built by `cargo test` / `cargo build`, or None."""
    given = os.environ.get('SIMPLETRACE_BIN')
    if given:
        return Path(given)
    target = Path(os.environ.get('CARGO_TARGET_DIR', ROOT / 'target'))
    for profile in ('debug', 'release'):
        path = target / profile / 'simpletrace'
        if path.is_file():
            return path
    return None


@pytest.fixture(scope='session')
def binary():
    path = _binary()
    if path is None:
        pytest.skip('the simpletrace command is not built (cargo build), nor SIMPLETRACE_BIN set')
    return path


def json_columns(binary, events, trace, has_header=True):
    """What `simpletrace json` says, as columns of Python values: event ->
    column -> list."""
    cmd = [str(binary), 'json', str(events), str(trace)] + ([] if has_header else ['--no-header'])
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    tables = defaultdict(lambda: defaultdict(list))
    for line in out.splitlines():
        rec = json.loads(line)
        table = tables[rec['event']]
        table['timestamp_ns'].append(_exact(rec['timestamp_ns']))
        table['pid'].append(rec['pid'])
        raw = rec.get('raw', {})
        for name, value in rec['args'].items():
            column = 'arg_' + name if name in ('timestamp_ns', 'pid', 'record') else name
            if name in raw:
                value = bytes.fromhex(raw[name])
            elif isinstance(value, str) and value.startswith('0x') and column not in _strings(rec):
                value = int(value, 16)
            elif column not in _strings(rec):
                value = _exact(value)
            table[column].append(value)
    return tables


def _exact(value):
    """An integer of `simpletrace json`: outside +-(2**53 - 1) it is
    written as a string of its digits, so that every JSON reader keeps it
    exact (docs/cli.md)."""
    if isinstance(value, str) and value.lstrip('-').isdigit():
        return int(value)
    return value


# Names of string arguments, by event: filled by the test from the
# declarations (a pointer and a string both come as JSON strings).
_STRING_ARGS = {}


def _strings(rec):
    return _STRING_ARGS.get(rec['event'], ())


def check_against_json(binary, events, trace, has_header=True, threads=None):
    ours = simpletrace.load_columns(events, trace, '*', read_header=has_header, threads=threads)
    for name, columns in ours.items():
        _STRING_ARGS[name] = {c for c, a in columns.items() if a.dtype == object}
    expected = json_columns(binary, events, trace, has_header)
    seen = {name for name, cols in ours.items() if len(cols['timestamp_ns'])}
    assert seen == set(expected)
    for name, columns in expected.items():
        got = ours[name]
        assert list(got) == ['timestamp_ns', 'pid', 'record'] + [c for c in columns if c not in ('timestamp_ns', 'pid')]
        assert (np.diff(got['record'].astype(np.int64)) > 0).all()
        for column, values in columns.items():
            array = got[column]
            assert len(array) == len(values), (name, column)
            if array.dtype == object:
                assert all(isinstance(v, bytes) for v in array)
                want = [v if isinstance(v, bytes) else v.encode('utf-8') for v in values]
                assert array.tolist() == want, (name, column)
            else:
                assert array.tolist() == values, (name, column)
    return ours


@pytest.mark.parametrize('events,trace,has_header', TESTDATA_CASES, ids=[c[1] for c in TESTDATA_CASES])
def test_testdata_columns_are_the_json_values(binary, events, trace, has_header):
    check_against_json(binary, TESTDATA / events, TESTDATA / trace, has_header)


@pytest.mark.parametrize('name', CORPUS_TRACES)
def test_corpus_columns_are_the_json_values(binary, corpus, name):
    check_against_json(binary, corpus / 'trace-events-all', corpus / f'{name}.bin')


def test_dtypes_follow_the_declared_types():
    tables = simpletrace.load_columns(TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace',
                                      ['blk_open', 'clock_step'])
    blk = tables['blk_open']
    assert blk['timestamp_ns'].dtype == np.uint64
    assert blk['pid'].dtype == np.uint32
    assert blk['blk'].dtype == np.uint64          # a pointer
    assert blk['filename'].dtype == object        # a string: bytes
    assert blk['filename'][0] == b'img/disk.qcow2'
    assert tables['clock_step']['delta_ns'].dtype == np.int64   # int64_t, negative ones too
    assert tables['clock_step']['delta_ns'].min() < 0
    # Read-only views of the buffers the native side made.
    assert not blk['timestamp_ns'].flags.writeable


def test_types_of_every_kind(tmp_path):
    events = tmp_path / 'events'
    events.write_text('ev(int8_t a, uint16_t b, int c, unsigned long d, bool e, void *p, '
                      'const char *s)\n')
    trace = tmp_path / 'trace'
    trace.write_bytes(header() + mapping(0, 'ev')
                      + event(0, 10, 1, 2**64 - 1, 65535, 2**64 - 5, 2**64 - 1, 1, 0xdead, b'x')
                      + event(0, 20, 2, 127, 0, 7, 3, 0, 0, b''))
    ev = simpletrace.load_columns(events, trace, 'ev')['ev']
    assert ev['a'].dtype == np.int64 and ev['a'].tolist() == [-1, 127]
    assert ev['b'].dtype == np.uint64 and ev['b'].tolist() == [65535, 0]
    assert ev['c'].dtype == np.int64 and ev['c'].tolist() == [-5, 7]
    assert ev['d'].dtype == np.uint64 and ev['d'].tolist() == [2**64 - 1, 3]
    assert ev['e'].dtype == np.bool_ and ev['e'].tolist() == [True, False]
    assert ev['p'].tolist() == [0xdead, 0]
    assert ev['s'].tolist() == [b'x', b'']
    assert ev['timestamp_ns'].tolist() == [10, 20]
    assert ev['pid'].tolist() == [1, 2]
    assert ev['record'].tolist() == [1, 2]   # after the mapping record


def test_an_argument_named_like_a_record_column(tmp_path):
    events = tmp_path / 'events'
    events.write_text('ev(int pid, uint64_t record, uint64_t timestamp_ns)\n')
    trace = tmp_path / 'trace'
    trace.write_bytes(header() + mapping(0, 'ev') + event(0, 10, 1, 2**64 - 2, 5, 6))
    ev = simpletrace.load_columns(events, trace, 'ev')['ev']
    assert list(ev) == ['timestamp_ns', 'pid', 'record', 'arg_pid', 'arg_record', 'arg_timestamp_ns']
    assert ev['pid'].tolist() == [1] and ev['arg_pid'].tolist() == [-2]
    assert ev['record'].tolist() == [1] and ev['arg_record'].tolist() == [5]
    assert ev['timestamp_ns'].tolist() == [10] and ev['arg_timestamp_ns'].tolist() == [6]


def test_a_version_0_trace_gives_string_arguments_as_addresses(binary, tmp_path):
    events = tmp_path / 'events'
    events.write_text('ev(const char *s, int x, bool b)\n')
    trace = tmp_path / 'trace'
    trace.write_bytes(header_v0() + event_v0(0, 100, 0x5600, -3, 1) + event_v0(0, 200, 0x5610, 4, 0))
    ev = check_against_json(binary, events, trace)['ev']
    assert ev['s'].dtype == np.uint64 and ev['s'].tolist() == [0x5600, 0x5610]
    assert ev['x'].tolist() == [-3, 4] and ev['b'].tolist() == [True, False]


DROPPED_EVENTS = 'tick(uint64_t n)\nname(const char *s, int x)\n'


def dropped_trace():
    return (header() + mapping(0, 'tick') + mapping(1, 'name')
            + event(0, 1000, 7, 1) + dropped(1500, 7, 42) + event(1, 2000, 7, b"it's", -1)
            + dropped(2500, 8, 3) + event(0, 3000, 9, 2))


def test_dropped_records_are_the_dropped_event(tmp_path):
    events = tmp_path / 'events'
    events.write_text(DROPPED_EVENTS)
    trace = tmp_path / 'trace'
    trace.write_bytes(dropped_trace())
    tables = simpletrace.load_columns(events, trace, '*')
    assert list(tables) == ['tick', 'name', 'Dropped_Event']
    d = tables['Dropped_Event']
    assert d['timestamp_ns'].tolist() == [1500, 2500]
    assert d['pid'].tolist() == [7, 8]
    assert d['num_events_dropped'].tolist() == [42, 3]
    assert list(simpletrace.load_columns(events, trace, 'Dropped_Event')) == ['Dropped_Event']
    assert list(simpletrace.load_columns(events, trace, '*,-Dropped_Event')) == ['tick', 'name']
    assert tables['name']['s'].tolist() == [b"it's"]
    assert tables['name']['x'].tolist() == [-1]


def test_patterns_as_the_command_line_takes_them():
    events, trace = TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace'
    every = simpletrace.load_columns(events, trace, '*')
    mem = [n for n in every if n.startswith('mem_')]
    assert list(simpletrace.load_columns(events, trace, 'mem_*')) == mem
    assert list(simpletrace.load_columns(events, trace, ['mem_*', '-mem_free'])) == \
        [n for n in mem if n != 'mem_free']
    assert list(simpletrace.load_columns(events, trace, 'mem_free, blk_open')) == \
        [n for n in every if n in ('mem_free', 'blk_open')]


def test_threads_give_the_same_columns(corpus):
    events, trace = corpus / 'trace-events-all', corpus / 'dropped.bin'
    one = simpletrace.load_columns(events, trace, '*', threads=1)
    two = simpletrace.load_columns(events, trace, '*', threads=2)
    assert list(one) == list(two)
    for name in one:
        for column in one[name]:
            assert one[name][column].tolist() == two[name][column].tolist(), (name, column)


def test_file_objects_and_lists_of_events(corpus, tracetool):
    events, trace = corpus / 'trace-events-all', corpus / 'strings.bin'
    want = simpletrace.load_columns(events, trace, '*')
    with open(events) as ef, open(trace, 'rb') as tf:
        got = simpletrace.load_columns(ef, tf, '*')
        assert tf.read() == b''
    stream = simpletrace.load_columns(events, io.BytesIO(trace.read_bytes()), '*')
    with open(events) as ef:
        parsed = tracetool.read_events(ef, str(events))
    listed = simpletrace.load_columns(parsed, trace, '*')
    for other in (got, stream, listed):
        assert list(other) == list(want)
        for name in want:
            for column in want[name]:
                assert other[name][column].tolist() == want[name][column].tolist()


def test_an_unknown_event_says_what_it_likely_meant():
    events, trace = TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace'
    with pytest.raises(ValueError, match=r"unknown event 'mem_fre' \(did you mean 'mem_free'\?\)"):
        simpletrace.load_columns(events, trace, 'mem_fre')
    with pytest.raises(ValueError, match=r"^unknown event 'zzz_nothing_like_it'$"):
        simpletrace.load_columns(events, trace, ['zzz_nothing_like_it'])
    with pytest.raises(ValueError, match=r"no declared event matches 'nothing_\*'"):
        simpletrace.load_columns(events, trace, 'nothing_*')
    with pytest.raises(ValueError, match='is not an event pattern'):
        simpletrace.load_columns(events, trace, 'mem free')
    with pytest.raises(TypeError):
        simpletrace.load_columns(events, trace, [b'mem_free'])
    with pytest.raises(ValueError, match='threads'):
        simpletrace.load_columns(events, trace, '*', threads=0)


def test_a_bad_trace_raises_simpleexception_with_its_offset(tmp_path):
    events = tmp_path / 'events'
    events.write_text(DROPPED_EVENTS)
    trace = tmp_path / 'trace'
    # An event id nothing maps.
    trace.write_bytes(header() + mapping(0, 'tick') + event(0, 1000, 7, 1) + event(5, 2000, 7, 1))
    with pytest.raises(simpletrace.SimpleException, match='offset'):
        simpletrace.load_columns(events, trace, 'tick')


def test_a_cut_off_trace_warns_and_keeps_the_records_before(tmp_path):
    events = tmp_path / 'events'
    events.write_text(DROPPED_EVENTS)
    whole = dropped_trace()
    trace = tmp_path / 'trace'
    trace.write_bytes(whole[:-3])
    with pytest.warns(simpletrace.TruncatedTraceWarning):
        tables = simpletrace.load_columns(events, trace, 'tick')
    assert tables['tick']['n'].tolist() == [1]


def test_strings_as_arrow(tmp_path):
    pa = pytest.importorskip('pyarrow')
    events = tmp_path / 'events'
    events.write_text(DROPPED_EVENTS)
    trace = tmp_path / 'trace'
    trace.write_bytes(dropped_trace())
    s = simpletrace.load_columns(events, trace, 'name', strings='arrow')['name']['s']
    assert isinstance(s, pa.Array) and s.to_pylist() == [b"it's"]


def test_dataframes():
    pd = pytest.importorskip('pandas')
    events, trace = TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace'
    frames = simpletrace.load_dataframes(events, trace, 'blk_open,mem_*')
    columns = simpletrace.load_columns(events, trace, 'blk_open,mem_*')
    assert list(frames) == list(columns)
    for name, frame in frames.items():
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == list(columns[name])
        for column, array in columns[name].items():
            assert frame[column].tolist() == array.tolist()
            assert frame[column].dtype == array.dtype


def test_dataframes_without_pandas_say_so(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == 'pandas':
            raise ImportError('No module named pandas')
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_pandas)
    with pytest.raises(ImportError, match='load_dataframes needs pandas'):
        simpletrace.load_dataframes(TESTDATA / 'sample.trace-events', TESTDATA / 'sample.trace', '*')


# The vectorised example against the script it mirrors.

@pytest.mark.parametrize('name', ['medium-rand', 'dropped'])
def test_the_vectorised_locks_example_prints_what_the_script_prints(corpus, reference, name,
                                                                    tmp_path):
    import sys
    from test_scripts import run, runscript
    text = (reference / 'analyse-locks-simpletrace.py').read_text()
    # The one-line fix QEMU 10's module needs (its timestamp is an int).
    script = tmp_path / 'analyse-locks-simpletrace.py'
    script.write_text(text.replace('timestamp[0]', 'timestamp'))
    args = [str(corpus / 'trace-events-all'), str(corpus / f'{name}.bin')]
    want = run(runscript() + [str(script)] + args)
    assert want.returncode == 0, want.stderr
    example = ROOT / 'python' / 'examples' / 'analyse_locks_columns.py'
    got = run([sys.executable, str(example)] + args)
    assert got.returncode == 0, got.stderr
    assert got.stdout == want.stdout
    if name == 'dropped':
        assert '  LOCK HELD (' in got.stdout
