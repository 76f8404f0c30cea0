"""`simpletrace json --format perfetto` decoded with Perfetto's own schema
(the `perfetto` package's perfetto_trace_pb2, issue 19): every packet
parses and re-encodes to the same bytes (no field of a wrong number or
type), every track used is declared, every interned id resolves, every
slice end closes a begin on its track, and the records, arguments and
timestamps are `simpletrace json`'s.

Runs the command built by `cargo build`/`cargo test` (target/debug or
target/release, SIMPLETRACE_BIN names another); skipped, saying why,
without it or without the package.
"""

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

pb = pytest.importorskip('perfetto.protos.perfetto.trace.perfetto_trace_pb2')

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / 'testdata'

SPANS = ['thread_pool_submit_aio:req,thread_pool_complete_aio:req',
         'qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex']

INSTANT = pb.TrackEvent.TYPE_INSTANT
BEGIN = pb.TrackEvent.TYPE_SLICE_BEGIN
END = pb.TrackEvent.TYPE_SLICE_END
COUNTER = pb.TrackEvent.TYPE_COUNTER
CLEARED = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
NEEDS = pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE


def _binary():
    given = os.environ.get('SIMPLETRACE_BIN')
    target = Path(os.environ.get('CARGO_TARGET_DIR', ROOT / 'target'))
    candidates = [Path(given)] if given else [target / p / 'simpletrace' for p in ('debug', 'release')]
    for path in candidates:
        if path.is_file():
            return path
    return None


@pytest.fixture(scope='module')
def binary():
    path = _binary()
    if path is None:
        pytest.skip('no simpletrace command built (cargo build, or set SIMPLETRACE_BIN)')
    return path


def _cases():
    """(trace-events, trace, filters): dropped.bin's first 400 ms only
    (30,000 of its 470,000 records, three of them Dropped_Event), to keep
    the test fast; the filters apply to both outputs."""
    cases = [(TESTDATA / 'sample.trace-events', TESTDATA / n, ()) for n in ('sample.trace', 'strings.trace')]
    cases += [(TESTDATA / 'vcpu.trace-events', TESTDATA / 'vcpu.trace', ()),
              (TESTDATA / 'tcg.trace-events', TESTDATA / 'tcg.trace', ())]
    corpus = Path(os.environ.get('SIMPLETRACE_CORPUS', ROOT.parent / 'shared' / 'testdata'))
    if (corpus / 'trace-events-all').is_file():
        for name in ('tiny.bin', 'strings.bin', 'medium-io.bin', 'medium-create.bin',
                     'medium-convert.bin', 'dropped.bin'):
            if (corpus / name).is_file():
                extra = ('--end', '400ms') if name == 'dropped.bin' else ()
                cases.append((corpus / 'trace-events-all', corpus / name, extra))
    return cases


CASES = _cases()


def run(binary, *args):
    done = subprocess.run([str(binary), *map(str, args)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def decode(data):
    """The packets, each checked to re-encode to its own bytes."""
    trace = pb.Trace()
    trace.ParseFromString(data)
    assert trace.SerializeToString() == data, 'fields the schema does not know, or of another type'
    return trace.packet


def check(packets):
    """The structural checks; gives the events in file order as
    (packet, event type, name, pid, annotations) and the slices per track."""
    tracks = {}          # uuid -> pid of its process
    names, arg_names, strings = {}, {}, {}
    cleared = False
    events = []
    slices = defaultdict(list)
    for n, p in enumerate(packets):
        assert p.trusted_packet_sequence_id == 1
        if p.sequence_flags & CLEARED:
            names, arg_names, strings, cleared = {}, {}, {}, True
        assert n > 0 or cleared, 'the first packet clears the incremental state'
        if p.HasField('interned_data'):
            for e in p.interned_data.event_names:
                assert e.iid not in names, f'event name iid {e.iid} interned twice'
                names[e.iid] = e.name
            for e in p.interned_data.debug_annotation_names:
                assert e.iid not in arg_names, f'annotation name iid {e.iid} interned twice'
                arg_names[e.iid] = e.name
            for e in p.interned_data.debug_annotation_string_values:
                assert e.iid not in strings, f'string value iid {e.iid} interned twice'
                strings[e.iid] = e.str.decode()
        if p.HasField('track_descriptor'):
            d = p.track_descriptor
            assert d.uuid not in tracks, f'track {d.uuid} declared twice'
            if d.HasField('process'):
                tracks[d.uuid] = d.process.pid
            else:
                assert d.parent_uuid in tracks, f'track {d.uuid}: parent {d.parent_uuid} undeclared'
                tracks[d.uuid] = tracks[d.parent_uuid]
        if p.HasField('track_event'):
            e = p.track_event
            assert p.sequence_flags & NEEDS
            assert e.track_uuid in tracks, f'packet {n}: track {e.track_uuid} undeclared'
            name = None
            if e.HasField('name_iid'):
                assert e.name_iid in names, f'packet {n}: event name iid {e.name_iid} unresolved'
                name = names[e.name_iid]
            args = {}
            for a in e.debug_annotations:
                assert a.name_iid in arg_names, f'packet {n}: annotation iid {a.name_iid} unresolved'
                kind = a.WhichOneof('value')
                v = getattr(a, kind)
                if kind == 'string_value_iid':
                    assert v in strings, f'packet {n}: string value iid {v} unresolved'
                    v = strings[v]
                args[arg_names[a.name_iid]] = f'0x{v:x}' if kind == 'pointer_value' else v
            if e.type in (BEGIN, END):
                slices[e.track_uuid].append((p.timestamp, n, e.type))
            events.append((p, e.type, name, tracks[e.track_uuid], args, list(e.categories)))
    for track, marks in slices.items():
        depth = 0
        for ts, n, kind in sorted(marks):
            depth += 1 if kind == BEGIN else -1
            assert depth >= 0, f'track {track}: a slice end at {ts} with no begin open'
            assert depth <= 1, f'track {track}: slices overlap at {ts}'
        assert depth == 0, f'track {track}: a slice is never closed'
    return events, slices


def json_args(rec):
    """json's arguments as the annotations hold them: integers written as
    strings of digits (past 2^53) are integers again."""
    out = {}
    for k, v in rec['args'].items():
        if isinstance(v, str) and v.lstrip('-').isdigit():
            v = int(v)
        out[k] = v
    return out


@pytest.mark.parametrize('events,trace,extra', CASES, ids=[c[1].name for c in CASES])
def test_records_equal_json(binary, events, trace, extra):
    packets = decode(run(binary, 'json', '--format', 'perfetto', *extra, events, trace))
    got, slices = check(packets)
    assert not slices
    lines = run(binary, 'json', *extra, events, trace).splitlines()
    if trace.name == 'dropped.bin':
        assert sum(b'Dropped_Event' in line for line in lines) >= 3
    assert len(got) == len(lines)
    for (p, kind, name, pid, args, cats), line in zip(got, lines):
        rec = json.loads(line)
        assert kind == INSTANT
        assert (name, pid, p.timestamp) == (rec['event'], rec['pid'], int(rec['timestamp_ns']))
        assert args == json_args(rec), name
        assert cats == (['lost_events'] if name == 'Dropped_Event' else [])


@pytest.mark.parametrize('events,trace,extra', CASES[-6:], ids=[c[1].name for c in CASES[-6:]])
def test_spans_and_counters_are_well_formed(binary, events, trace, extra, tmp_path):
    if events.name != 'trace-events-all':
        pytest.skip('the spans are QEMU events of the shared corpus')
    out = tmp_path / 'trace.pftrace'
    run(binary, 'json', '--format', 'perfetto', '--span', SPANS[0], '--span', SPANS[1],
        '--counter', 'qemu_mutex_lock:line', '-o', out, *extra, events, trace)
    got, slices = check(decode(out.read_bytes()))
    ends = {'qemu_mutex_lock', 'qemu_mutex_unlock', 'thread_pool_submit_aio',
            'thread_pool_complete_aio'}
    every = [json.loads(line) for line in run(binary, 'json', *extra, events, trace).splitlines()]
    plain = [(r['event'], int(r['timestamp_ns'])) for r in every if r['event'] not in ends]
    instants = [(g[2], g[0].timestamp) for g in got
                if g[1] == INSTANT and not any(c.startswith('unmatched') for c in g[5])]
    assert instants == plain
    assert len(slices) > 0 or not any(r['event'] in ends for r in every)
    counters = [g for g in got if g[1] == COUNTER]
    locks = [r for r in every if r['event'] == 'qemu_mutex_lock']
    assert [(c[0].timestamp, c[0].track_event.counter_value) for c in counters] == \
        [(int(r['timestamp_ns']), r['args']['line']) for r in locks]
