"""Another engine reads `simpletrace parquet`'s dataset: DuckDB's answers
on the export equal `simpletrace sql` on the trace files and `simpletrace
stats` (docs/sql.md, issue 17 item 4).

Needs the command built with the `sql` feature (scripts/test's `cargo test
--features sql` builds target/debug/simpletrace with it; SIMPLETRACE_BIN
names another) and the duckdb package; skipped, saying why, without them.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

duckdb = pytest.importorskip('duckdb')

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / 'testdata'


def _sql_binary():
    """A simpletrace command that has `parquet` (the `sql` feature), or
    the reason there is none."""
    given = os.environ.get('SIMPLETRACE_BIN')
    target = Path(os.environ.get('CARGO_TARGET_DIR', ROOT / 'target'))
    candidates = [Path(given)] if given else [target / p / 'simpletrace' for p in ('release', 'debug')]
    for path in candidates:
        if not path.is_file():
            continue
        done = subprocess.run([str(path), 'parquet', '--help'], capture_output=True)
        # A build without the feature takes `parquet` for a trace-events
        # file and prints the main help.
        if done.returncode == 0 and b'--replace' in done.stdout:
            return path, None
    return None, (f'no simpletrace built with the sql feature among {[str(c) for c in candidates]} '
                  '(cargo build --features sql, or set SIMPLETRACE_BIN)')


@pytest.fixture(scope='module')
def binary():
    path, why = _sql_binary()
    if path is None:
        pytest.skip(why)
    return path


def _traces():
    """The trace-events file, the traces, and a (event, integer argument)
    to aggregate per pid: the corpus's when it is there, else the
    project's."""
    corpus = Path(os.environ.get('SIMPLETRACE_CORPUS', ROOT.parent / 'shared' / 'testdata'))
    if (corpus / 'trace-events-all').is_file():
        names = ['medium-io.bin', 'dropped.bin']
        traces = [corpus / n for n in names if (corpus / n).is_file()]
        if traces:
            return corpus / 'trace-events-all', traces, ('qemu_mutex_lock', 'line')
    return (TESTDATA / 'sample.trace-events',
            [TESTDATA / 'sample.trace', TESTDATA / 'strings.trace'],
            ('blk_co_pwritev', 'bytes'))


@pytest.fixture(scope='module')
def dataset(binary, tmp_path_factory):
    events, traces, arg = _traces()
    out = tmp_path_factory.mktemp('parquet') / 'set'
    # Two runs: the second appends.
    for part in (traces[:1], traces[1:]):
        if part:
            subprocess.run([str(binary), 'parquet', '-o', str(out), str(events)]
                           + [str(t) for t in part], check=True, capture_output=True)
    return events, traces, arg, out


def sql(binary, events, traces, query):
    """`simpletrace sql --format jsonl` on the trace files: rows as tuples."""
    out = subprocess.run([str(binary), 'sql', '--format', 'jsonl', query, str(events)]
                         + [str(t) for t in traces], check=True, capture_output=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return sorted(tuple(r.values()) for r in rows)


def duck(dataset_dir, table, query):
    """`query` in DuckDB, `t` being `table` of the dataset: rows as tuples."""
    con = duckdb.connect()
    glob = f'{dataset_dir}/{table}/*/*.parquet'
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
    return sorted(tuple(r) for r in con.execute(query).fetchall())


def stats(binary, events, trace):
    out = subprocess.run([str(binary), 'stats', '--json', str(events), str(trace)],
                         check=True, capture_output=True).stdout
    return json.loads(out)


def test_event_counts(binary, dataset):
    events, traces, _, out = dataset
    got = duck(out, 'records', 'SELECT trace, event, count(*) FROM t GROUP BY ALL')
    want = sql(binary, events, traces,
               'SELECT trace, event, count(*) AS n FROM records GROUP BY trace, event')
    assert got == want
    assert len(got) > 2
    # And `stats`, trace by trace (its counts leave dropped-events records out).
    for trace in traces:
        s = stats(binary, events, trace)
        want = sorted((trace.name, e['event'], e['count']) for e in s['events'])
        mine = [r for r in got if r[0] == trace.name]
        assert mine == want, trace.name


def test_per_pid_aggregate_of_an_argument(binary, dataset):
    events, traces, (event, arg), out = dataset
    got = duck(out, event, f'SELECT trace, pid, count(*), sum({arg}), min(ts_ns), max(ts_ns) '
                           f'FROM t GROUP BY ALL')
    want = sql(binary, events, traces,
               f'SELECT trace, pid, count(*) AS n, sum({arg}) AS s, min(ts_ns) AS lo, max(ts_ns) AS hi '
               f'FROM {event} GROUP BY trace, pid')
    assert got == want
    assert got


def test_dropped_records(binary, dataset):
    events, traces, _, out = dataset
    got = duck(out, 'dropped', 'SELECT trace, count(*), sum(num_events_dropped) FROM t GROUP BY ALL')
    got = {r[0]: (r[1], r[2]) for r in got}
    for trace in traces:
        s = stats(binary, events, trace)
        want = (s['dropped_records'], s['events_lost']) if s['dropped_records'] else None
        assert got.get(trace.name) == want, trace.name


def test_schema_version_in_the_file_metadata(dataset):
    _, traces, _, out = dataset
    con = duckdb.connect()
    rows = con.execute(
        "SELECT DISTINCT decode(key), decode(value) FROM parquet_kv_metadata("
        f"'{out}/records/*/*.parquet') WHERE decode(key) = 'simpletrace.schema_version'").fetchall()
    assert rows == [('simpletrace.schema_version', '1')]
