"""The module against QEMU 10's own simpletrace.py: the same records, the
same calls, the same exceptions, and the goldens it printed."""

import gzip
import io
import os
import subprocess
import sys
import traceback
import warnings

import pytest

import simpletrace
from conftest import TESTDATA
from support import (dropped, event, event_v0, event_v3, formatter, header, header_v0, mapping,
                     old_style, read_golden)

# (trace-events, trace, golden, whether the trace has a header), in testdata/.
TESTDATA_CASES = [
    ('sample.trace-events', 'sample.trace', 'sample.simpletrace.txt', True),
    ('sample.trace-events', 'edge-deltas.trace', 'edge-deltas.simpletrace.txt', True),
    ('sample.trace-events', 'strings.trace', 'strings.simpletrace.txt', True),
    ('sample.trace-events', 'no-header.trace', 'no-header.simpletrace.txt', False),
    ('vcpu.trace-events', 'vcpu.trace', 'vcpu.simpletrace.txt', True),
    ('tcg.trace-events', 'tcg.trace', 'tcg.simpletrace.txt', True),
]

CORPUS_TRACES = ['tiny', 'strings', 'medium-create', 'medium-io', 'medium-convert',
                 'medium-rand', 'dropped']


def golden_of(corpus, name):
    plain = corpus / f'{name}.simpletrace.txt'
    return read_golden(plain if plain.exists() else corpus / f'{name}.simpletrace.txt.gz')


def run_formatter(module, events, trace, **kwargs):
    f = formatter(module)
    module.process(events, trace, f, **kwargs)
    return f.text()


@pytest.mark.parametrize('events,trace,golden,has_header', TESTDATA_CASES,
                         ids=[c[1] for c in TESTDATA_CASES])
def test_an_analyzer2_formatter_prints_the_testdata_goldens(events, trace, golden, has_header):
    got = run_formatter(simpletrace, str(TESTDATA / events), str(TESTDATA / trace),
                        read_header=has_header)
    assert got == read_golden(TESTDATA / golden)


@pytest.mark.parametrize('name', CORPUS_TRACES)
def test_an_analyzer2_formatter_prints_the_corpus_goldens(corpus, name):
    got = run_formatter(simpletrace, str(corpus / 'trace-events-all'), str(corpus / f'{name}.bin'))
    assert got == golden_of(corpus, name)


@pytest.mark.parametrize('name', ['tiny', 'strings', 'medium-io'])
def test_the_formatter_prints_what_it_prints_on_qemus_module(corpus, qemu, name):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / f'{name}.bin')
    assert run_formatter(simpletrace, events, trace) == run_formatter(qemu, events, trace)


def test_no_header_as_qemus_module_reads_it(qemu):
    events, trace = str(TESTDATA / 'sample.trace-events'), str(TESTDATA / 'no-header.trace')
    ours = run_formatter(simpletrace, events, trace, read_header=False)
    assert ours == run_formatter(qemu, events, trace, read_header=False)


# Old-style analyzers: the three handler signatures and the catch-all.

OLD_STYLE_HANDLERS = {
    'qemu_aio_coroutine_enter': (0, 4),   # arguments only
    'bdrv_co_preadv_part': (1, 4),        # timestamp first
    'thread_pool_submit_aio': (2, 3),     # timestamp and pid first
}


def old_style_calls(module, events, trace, **kwargs):
    calls = []
    module.process(events, trace, old_style(module, OLD_STYLE_HANDLERS, calls), **kwargs)
    return calls


def test_old_style_analyzer_gets_the_same_calls(corpus, qemu):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        ours = old_style_calls(simpletrace, events, trace)
        theirs = old_style_calls(qemu, events, trace)
    assert ours == theirs
    assert ours[0] == 'begin' and ours[-1] == 'end'
    kinds = {c[0] for c in ours[1:-1]}
    assert kinds == set(OLD_STYLE_HANDLERS) | {'catchall'}
    # Timestamps and pids are ints; string arguments bytes.
    ts_pid = next(c for c in ours if c[0] == 'thread_pool_submit_aio')
    assert all(isinstance(v, int) for v in ts_pid[1:])
    catchall = next(c for c in ours if c[0] == 'catchall' and c[1] == 'bdrv_open_common')
    assert catchall[2][0] == 'bdrv_open_common'
    assert any(isinstance(v, bytes) for v in catchall[2])


def test_old_style_deprecation_warning_once_per_run(corpus, qemu):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    seen = {}
    for module in (simpletrace, qemu):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            old_style_calls(module, events, trace)
        seen[module] = [w for w in caught if w.category is DeprecationWarning]
    assert len(seen[simpletrace]) == 1
    assert len(seen[qemu]) == 51  # one per record
    assert str(seen[simpletrace][0].message) == str(seen[qemu][0].message)
    # Attributed to the module (not to the caller), as QEMU's: the default
    # filters hide it.
    assert seen[simpletrace][0].filename == simpletrace.__file__


def test_analyzer2_methods_and_catchall_get_the_same_calls(corpus, qemu):
    def make(module):
        calls = []

        class A(module.Analyzer2):
            def begin(self):
                calls.append('begin')

            def qemu_aio_coroutine_enter(self, ctx, from_, to, opaque, **kwargs):
                calls.append(('enter', ctx, from_, to, opaque, sorted(kwargs)))

            def bdrv_open_common(self, *args, event, event_id, timestamp_ns, pid):
                calls.append(('open', args, event.name, event_id, timestamp_ns, pid))

            def catchall(self, *args, event, timestamp_ns, pid, event_id, **kwargs):
                calls.append(('catchall', args, event.name, event_id, timestamp_ns, pid))

            def end(self):
                calls.append('end')

        return A(), calls

    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    ours, ours_calls = make(simpletrace)
    theirs, theirs_calls = make(qemu)
    simpletrace.process(events, trace, ours)
    qemu.process(events, trace, theirs)
    assert ours_calls == theirs_calls
    assert len(ours_calls) == 53


def test_begin_and_end_order_with_and_without_the_context_manager(qemu):
    for module in (simpletrace, qemu):
        calls = []

        class A(module.Analyzer2):
            def begin(self):
                calls.append('begin')

            def catchall(self, *args, **kwargs):
                calls.append('record')

            def end(self):
                calls.append('end')

        module.process(str(TESTDATA / 'sample.trace-events'), str(TESTDATA / 'sample.trace'), A())
        assert calls[0] == 'begin' and calls[-1] == 'end' and calls.count('record') == len(calls) - 2
        calls.clear()
        with A():
            calls.append('inside')
        assert calls == ['begin', 'inside', 'end']
        calls.clear()
        with pytest.raises(KeyError):
            with A():
                raise KeyError('x')
        assert calls == ['begin']


class Boom(Exception):
    pass


def test_a_handler_exception_propagates_with_its_traceback_and_end_is_not_called(corpus, qemu):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    results = []
    for module in (simpletrace, qemu):
        calls = []

        class A(module.Analyzer2):
            def catchall(self, *args, event, **kwargs):
                calls.append(event.name)
                if len(calls) == 5:
                    raise Boom(f'at {event.name}')

            def end(self):
                calls.append('end')

        with pytest.raises(Boom) as info:
            module.process(events, trace, A())
        frames = traceback.extract_tb(info.value.__traceback__)
        assert frames[-1].name == 'catchall'
        results.append((calls, str(info.value)))
    assert results[0] == results[1]
    assert 'end' not in results[0][0]


def test_handlers_resolved_after_begin(tmp_path):
    """A handler made in begin() is seen, as QEMU's module finds handlers
    at each event's first record."""
    calls = []

    class A(simpletrace.Analyzer2):
        def begin(self):
            self.mem_free = lambda *args, **kwargs: calls.append(args)

    simpletrace.process(str(TESTDATA / 'sample.trace-events'), str(TESTDATA / 'sample.trace'), A())
    assert len(calls) == 43


# Inputs: file objects, lists of events, positions.

def test_file_objects_and_lists_of_tracetool_events(corpus, qemu, tracetool):
    events_path, trace_path = corpus / 'trace-events-all', corpus / 'medium-io.bin'
    want = golden_of(corpus, 'medium-io')
    with open(events_path) as ef, open(trace_path, 'rb') as tf:
        assert run_formatter(simpletrace, ef, tf) == want
        # Left at its end, as reading it leaves it.
        assert tf.tell() == os.path.getsize(trace_path)
    with open(events_path) as ef:
        listed = tracetool.read_events(ef, str(events_path))
    seen = set()

    class Identity(simpletrace.Analyzer2):
        def catchall(self, *args, event, event_id, **kwargs):
            seen.add(id(event))

    simpletrace.process(listed, str(trace_path), Identity())
    assert seen and seen <= {id(e) for e in listed}
    assert run_formatter(simpletrace, listed, str(trace_path)) == want
    assert run_formatter(simpletrace, listed, io.BytesIO(trace_path.read_bytes())) == want


def test_a_list_of_our_own_events_and_a_headerless_trace(qemu, tracetool):
    events_path = TESTDATA / 'sample.trace-events'
    want = read_golden(TESTDATA / 'no-header.simpletrace.txt')
    decls = simpletrace._native.Declarations.from_path(str(events_path))
    listed = decls.events
    got = run_formatter(simpletrace, listed, str(TESTDATA / 'no-header.trace'), read_header=False)
    assert got == want
    with open(events_path) as ef:
        tt = tracetool.read_events(ef, str(events_path))
    assert run_formatter(simpletrace, tt, str(TESTDATA / 'no-header.trace'), read_header=False) == want
    assert run_formatter(qemu, tt, str(TESTDATA / 'no-header.trace'), read_header=False) == want


def test_streams_and_positions(tmp_path):
    events = str(TESTDATA / 'sample.trace-events')
    data = (TESTDATA / 'sample.trace').read_bytes()
    want = read_golden(TESTDATA / 'sample.simpletrace.txt')
    assert run_formatter(simpletrace, events, io.BytesIO(data)) == want
    # A file read past its header: the records from there on.
    with open(TESTDATA / 'sample.trace', 'rb') as f:
        f.read(24)
        assert run_formatter(simpletrace, events, f, read_header=False) == want
    # Compressed: a GzipFile read with read(), or a path decompressed.
    gz = tmp_path / 'sample.trace.gz'
    gz.write_bytes(gzip.compress(data))
    with gzip.open(gz, 'rb') as f:
        assert run_formatter(simpletrace, events, f) == want
    assert run_formatter(simpletrace, events, str(gz)) == want
    # A compressed file opened as a plain file: decompressed from its start,
    # even after Python read ahead in it, and left at its end.
    with open(gz, 'rb') as f:
        f.read(100)
        f.seek(0)
        assert run_formatter(simpletrace, events, f) == want
        assert f.tell() == gz.stat().st_size
    # An events file object.
    with open(events) as ef:
        assert run_formatter(simpletrace, ef, str(TESTDATA / 'sample.trace')) == want


def test_a_text_mode_trace_file_is_refused():
    with open(TESTDATA / 'sample.trace', 'r', encoding='latin-1') as f:
        with pytest.raises(TypeError, match='binary mode'):
            simpletrace.process(str(TESTDATA / 'sample.trace-events'), f, simpletrace.Analyzer2())


def test_process_event_overridden_gets_every_record(corpus, qemu):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    results = []
    for module in (simpletrace, qemu):
        calls = []

        class A(module.Analyzer2):
            def _process_event(self, rec_args, *, event, event_id, timestamp_ns, pid):
                calls.append((type(rec_args).__name__, tuple(rec_args), event.name, event_id,
                              timestamp_ns, pid))

        module.process(events, trace, A())
        results.append(calls)
    assert results[0] == results[1]
    assert len(results[0]) == 51


def test_records_without_a_handler_never_cross_into_python(corpus):
    """One handler for a rare event, no catch-all: one call per record of
    that event, none for the rest."""
    class Rare(simpletrace.Analyzer2):
        def __init__(self):
            self.seen = 0

        def qcow2_l2_allocate_done(self, *args, **kwargs):
            self.seen += 1

    rare = Rare()
    decls = simpletrace._declarations(str(corpus / 'trace-events-all'))
    trace = simpletrace._open(decls, str(corpus / 'dropped.bin'), True)
    table, _ = simpletrace._handler_table(rare, decls)
    result = trace.dispatch(table)
    assert (result.records, result.calls, rare.seen) == (467570, 1, 1)


# Dropped-events records.

DROPPED_EVENTS = 'tick(uint64_t n)\nname(const char *s, int x)\n'


def dropped_trace():
    return (header() + mapping(0, 'tick') + mapping(1, 'name')
            + event(0, 1000, 7, 1) + dropped(1500, 7, 42) + event(1, 2000, 7, b"it's", -1)
            + dropped(2500, 8, 3) + event(0, 3000, 9, 2))


def test_dropped_records_as_qemus_module_delivers_them(tmp_path, qemu):
    events = tmp_path / 'events'
    events.write_text(DROPPED_EVENTS)
    trace = tmp_path / 'trace'
    trace.write_bytes(dropped_trace())
    results = []
    for module in (simpletrace, qemu):
        calls = []

        class New(module.Analyzer2):
            def Dropped_Event(self, num_events_dropped, *, event, event_id, timestamp_ns, pid):
                calls.append(('dropped', num_events_dropped, event.name, list(event.args),
                              event_id, timestamp_ns, pid))

            def catchall(self, *args, event, event_id, timestamp_ns, pid):
                calls.append(('catchall', args, event.name, event_id, timestamp_ns, pid))

        class Catchall(module.Analyzer2):
            def catchall(self, *args, event, event_id, timestamp_ns, pid):
                calls.append(('only', args, event.name, event_id))

        module.process(str(events), str(trace), New())
        module.process(str(events), str(trace), Catchall())
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            module.process(str(events), str(trace),
                           old_style(module, {'Dropped_Event': (2, 1)}, calls))
        results.append(calls)
    assert results[0] == results[1]
    assert ('dropped', 42, 'Dropped_Event', [('uint64_t', 'num_events_dropped')], 'dropped',
            1500, 7) in results[0]
    assert ('Dropped_Event', 2500, 8, 3) in results[0]


# Faults.

def write(tmp_path, data, events=DROPPED_EVENTS):
    e, t = tmp_path / 'events', tmp_path / 'trace'
    e.write_text(events)
    t.write_bytes(data)
    return str(e), str(t)


@pytest.mark.parametrize('data,raises', [
    (header()[:8] + b'\0' * 16, ValueError),                      # header id
    (header()[:8] + b'\1' * 8 + header()[16:], ValueError),       # magic
    (header()[:16] + b'\x09' + b'\0' * 7, ValueError),            # version
    (header()[:10], simpletrace.SimpleException),                 # too short
    (header() + mapping(0, 'nosuch') + event(0, 1, 1), simpletrace.SimpleException),
], ids=['id', 'magic', 'version', 'short', 'undeclared'])
def test_bad_traces_raise_what_qemus_module_raises(tmp_path, qemu, data, raises):
    events, trace = write(tmp_path, data)
    for module in (simpletrace, qemu):
        a = old_style(module, {}, [])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            expected = module.SimpleException if raises is simpletrace.SimpleException else raises
            with pytest.raises(expected) as info:
                module.process(events, trace, a)
        if module is simpletrace:
            assert trace in str(info.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_fault_names_the_record_and_offset_after_handling_the_records_before(tmp_path):
    data = header() + mapping(0, 'tick') + event(0, 1, 1, 5) + event(7, 2, 1, 6)
    events, trace = write(tmp_path, data)
    calls = []
    with pytest.raises(simpletrace.SimpleException) as info:
        simpletrace.process(events, trace, old_style(simpletrace, {'tick': (0, 1)}, calls))
    assert calls == ['begin', ('tick', 5)]
    message = str(info.value)
    assert 'record 2' in message and 'byte offset 88 (0x58)' in message, message


def test_a_trace_cut_off_mid_record_warns_after_its_last_record_and_ends(tmp_path):
    data = (TESTDATA / 'sample.trace').read_bytes()
    events, trace = str(TESTDATA / 'sample.trace-events'), tmp_path / 'cut.trace'
    trace.write_bytes(data[:-5])
    f = formatter(simpletrace)
    ended = []
    f.end = lambda: ended.append(True)
    with pytest.warns(simpletrace.TruncatedTraceWarning, match='cut.trace'):
        simpletrace.process(events, str(trace), f)
    want = read_golden(TESTDATA / 'sample.simpletrace.txt').splitlines(keepends=True)[:-1]
    assert f.text() == ''.join(want)
    assert ended == [True]


def test_missing_files_raise_oserror_naming_them(tmp_path):
    missing = str(tmp_path / 'missing')
    with pytest.raises(FileNotFoundError) as info:
        simpletrace.process(missing, str(TESTDATA / 'sample.trace'), simpletrace.Analyzer2())
    assert info.value.filename == missing
    with pytest.raises(FileNotFoundError):
        simpletrace.process(str(TESTDATA / 'sample.trace-events'), missing, simpletrace.Analyzer2())


def test_a_bad_events_file_raises_valueerror_with_file_and_line(tmp_path):
    bad = tmp_path / 'bad'
    bad.write_text('tick(uint64_t n)\noops(\n')
    with pytest.raises(ValueError, match='bad:2'):
        simpletrace.process(str(bad), str(TESTDATA / 'sample.trace'), simpletrace.Analyzer2())


# run() and its command line.

def test_run_argv_rules_and_usage(monkeypatch, qemu):
    events, trace = str(TESTDATA / 'sample.trace-events'), str(TESTDATA / 'no-header.trace')
    for argv in (['prog'], ['prog', 'a'], ['prog', '-x', 'a', 'b'], ['prog', 'a', 'b', 'c', 'd']):
        monkeypatch.setattr(sys, 'argv', argv)
        messages = []
        for module in (simpletrace, qemu):
            with pytest.raises(module.SimpleException) as info:
                module.run(module.Analyzer2())
            messages.append(str(info.value))
        assert messages[0] == messages[1] == 'usage: prog [--no-header] <trace-events> <trace-file>\n'
    monkeypatch.setattr(sys, 'argv', ['prog', '--no-header', events, trace])
    f = formatter(simpletrace)
    simpletrace.run(f)
    assert f.text() == read_golden(TESTDATA / 'no-header.simpletrace.txt')


def test_public_names_are_qemus(qemu):
    assert simpletrace.__all__ == qemu.__all__
    for name in qemu.__all__ + ['SimpleException']:
        assert hasattr(simpletrace, name)


# Event objects.

def test_event_objects_carry_what_tracetool_events_do(corpus, tracetool):
    path = corpus / 'trace-events-all'
    ours = simpletrace._native.Declarations.from_path(str(path)).events
    with open(path) as f:
        theirs = tracetool.read_events(f, str(path))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.name == b.name
        assert list(a.args) == list(b.args)
        assert len(a.args) == len(b.args)
        assert a.args.names() == b.args.names()
        assert a.args.types() == b.args.types()
        assert a.args.casted() == b.args.casted()
        assert str(a.args) == str(b.args)
        assert a.args[0:1] is not None and list(a.args[0:1]) == list(b.args[0:1])
        if len(b.args):
            assert a.args[-1] == b.args[-1]
        assert a.fmt == b.fmt.rstrip()
        assert a.properties == b.properties
        assert a.lineno == b.lineno
        assert a.filename == b.filename


@pytest.mark.parametrize('version', [0, 2, 3, 4])
def test_every_version_reaches_the_handlers_as_the_printer_prints_it(tmp_path, version):
    events = 'tick(uint64_t n)\npair(int a, int b)\nname(const char *s, int x)\n'
    if version == 0:
        data = header_v0() + event_v0(0, 100, 1) + event_v0(1, 250, -2, 3) + event_v0(0, 200, 7)
    elif version in (2, 3):
        data = (header(version) + event_v3(0, 100, 1) + event_v3(2, 250, b"it's", -1)
                + event_v3(1, 300, 4, 5) + event_v3(0, 200, 7))
    else:
        data = (header() + mapping(5, 'name') + mapping(6, 'tick') + event(6, 100, 3, 1)
                + event(5, 250, 3, b'x\ty', 9) + dropped(260, 3, 2))
    events, trace = write(tmp_path, data, events)
    printed = subprocess.run([sys.executable, '-m', 'simpletrace', events, trace],
                             capture_output=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert run_formatter(simpletrace, events, trace) == printed.stdout.decode()
    assert printed.stdout.count(b'\n') in (3, 4)


def test_process_event_of_the_base_classes_called_by_a_subclass(corpus, qemu):
    events, trace = str(corpus / 'trace-events-all'), str(corpus / 'tiny.bin')
    results = []
    for module in (simpletrace, qemu):
        calls = []
        old = old_style(module, OLD_STYLE_HANDLERS, calls)

        class Counted(type(old)):
            def _process_event(self, rec_args, **kwargs):
                calls.append(('via', kwargs['event_id']))
                super()._process_event(rec_args, **kwargs)

        class New(module.Analyzer2):
            def _process_event(self, rec_args, **kwargs):
                calls.append(('via2', kwargs['event_id']))
                super()._process_event(rec_args, **kwargs)

            def bdrv_open_common(self, *args, event, **kwargs):
                calls.append(('open', args))

        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            module.process(events, trace, Counted())
            module.process(events, trace, New())
        results.append(calls)
    assert results[0] == results[1]
    assert sum(1 for c in results[0] if c[0] == 'open') == 2
