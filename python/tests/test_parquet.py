"""Another engine reads `simpletrace parquet`'s dataset: DuckDB's answers
on the export equal `simpletrace sql` on the trace files and `simpletrace
stats` (docs/sql.md, issue 17 item 4).

Needs the command built with the `sql` feature (scripts/test's `cargo test
--features sql` builds target/debug/simpletrace with it; SIMPLETRACE_BIN
names another) and the duckdb package; skipped, saying why, without them.
"""

import csv
import io
import json
import os
import re
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


def views(binary, dataset_dir, engine, tmp_path):
    """`simpletrace sql --dataset DIR --views ENGINE`, written to a file."""
    script = tmp_path / f'views-{engine}'
    subprocess.run([str(binary), 'sql', '--dataset', str(dataset_dir), '--views', engine,
                    '-o', str(script)], check=True, capture_output=True)
    return script.read_text()


def known_tables(binary, dataset_dir):
    """The tables `simpletrace sql --dataset` knows."""
    out = subprocess.run([str(binary), 'sql', '--format', 'jsonl', '--dataset', str(dataset_dir),
                          "SELECT table_name FROM information_schema.tables "
                          "WHERE table_schema = 'public'"],
                         check=True, capture_output=True).stdout
    return sorted(json.loads(line)['table_name'] for line in out.splitlines())


def test_views_give_duckdb_every_table(binary, dataset, tmp_path):
    events, traces, (event, arg), out = dataset
    con = duckdb.connect()
    con.execute(views(binary, out, 'duckdb', tmp_path))
    names = sorted(r[0] for r in con.execute('SHOW TABLES').fetchall())
    assert names == known_tables(binary, out)
    # Tables without files are there, empty; `trace` comes first.
    missing = [n for n in names if not (out / n).is_dir()]
    assert missing
    assert con.execute(f'SELECT count(*) FROM "{missing[0]}"').fetchall() == [(0,)]
    assert con.execute(f'DESCRIBE "{missing[0]}"').fetchall()[0][:2] == ('trace', 'VARCHAR')
    # The same answers as `simpletrace sql` on the traces, from the views.
    query = (f'SELECT trace, pid, count(*) AS n, sum({arg}) AS s, min(ts_ns) AS lo '
             f'FROM {event} GROUP BY trace, pid')
    got = sorted(tuple(r) for r in con.execute(query).fetchall())
    assert got == sql(binary, events, traces, query)
    assert got
    # `SELECT *` has the columns in the order `simpletrace sql` gives them.
    cols = [d[0] for d in con.execute(f'SELECT * FROM {event} LIMIT 0').description]
    first = subprocess.run([str(binary), 'sql', '--format', 'csv', f'SELECT * FROM {event} LIMIT 0',
                            str(events)] + [str(t) for t in traces],
                           check=True, capture_output=True).stdout.decode().splitlines()[0]
    assert cols == first.split(',')


def test_empty_views_have_the_types_read_from_files(binary, dataset, tmp_path):
    """Every event table of a dataset whose only trace has no records is an
    empty view; its columns and types are those DuckDB reads from the
    files of the same table in a dataset that has rows of it."""
    events, _, _, out = dataset
    empty_trace = tmp_path / 'empty.trace'
    # A version-4 file header, then nothing.
    empty_trace.write_bytes((2**64 - 1).to_bytes(8, 'little')
                            + 0xf2b177cb0aa429b4.to_bytes(8, 'little')
                            + (4).to_bytes(8, 'little'))
    empty = tmp_path / 'empty-set'
    subprocess.run([str(binary), 'parquet', '-o', str(empty), str(events), str(empty_trace)],
                   check=True, capture_output=True)
    full, bare = duckdb.connect(), duckdb.connect()
    full.execute(views(binary, out, 'duckdb', tmp_path))
    bare.execute(views(binary, empty, 'duckdb', tmp_path))
    compared = 0
    for name in sorted(os.listdir(out)):
        if name.startswith(('.', '_')) or (empty / name).is_dir():
            continue
        want = [r[:2] for r in full.execute(f'DESCRIBE "{name}"').fetchall()]
        got = [r[:2] for r in bare.execute(f'DESCRIBE "{name}"').fetchall()]
        assert got == want, name
        compared += 1
    assert compared > 5


def _norm(v):
    """One spelling for a value from DuckDB or from `simpletrace sql`'s CSV."""
    if v is None or v == '':
        return ''
    if isinstance(v, int) or (isinstance(v, str) and re.fullmatch(r'-?\d+', v)):
        return str(int(v))
    try:
        return repr(float(v))
    except ValueError:
        return str(v)


def test_worked_examples_run_unchanged_in_duckdb(binary, dataset, tmp_path):
    """docs/sql.md's worked examples, as written, in DuckDB over the views
    give the rows of `simpletrace sql --dataset` (tables no trace has rows
    of included: the examples name some)."""
    _, traces, _, out = dataset
    if [t.name for t in traces] != ['medium-io.bin', 'dropped.bin']:
        pytest.skip('the worked examples name the shared corpus\'s events (../shared absent)')
    doc = (ROOT / 'docs' / 'sql.md').read_text()
    section = doc[doc.index('### Worked examples across traces'):doc.index('### Checked against')]
    queries = re.findall(r'```sql\n(.*?)```', section, re.S)
    assert len(queries) == 3
    con = duckdb.connect()
    con.execute(views(binary, out, 'duckdb', tmp_path))
    for query in queries:
        got = [tuple(_norm(v) for v in r) for r in con.execute(query).fetchall()]
        csv_out = subprocess.run([str(binary), 'sql', '--format', 'csv', '--dataset', str(out), query],
                                 check=True, capture_output=True, text=True).stdout
        want = [tuple(_norm(v) for v in r) for r in list(csv.reader(io.StringIO(csv_out)))[1:]]
        assert got == want, query
        assert got
