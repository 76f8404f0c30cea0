//! `simpletrace sql` and `simpletrace::sql` (the `sql` feature): every
//! table equals what `simpletrace json` writes, counts equal `stats`',
//! and bad queries fail with DataFusion's message and the right status.

#![cfg(feature = "sql")]

#[path = "support/mod.rs"]
mod support;

use simpletrace::analyzers::json::exact_numbers;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::{Map, Value};
use simpletrace::format::{ArgKind, TraceEvents};
use simpletrace::input::{self, TraceData};
use simpletrace::sql::TraceTables;
use simpletrace::sql::schema::argument_columns;

/// One trace to check: its events file, the trace, `--no-header`.
struct Case {
    events: PathBuf,
    trace: PathBuf,
    no_header: bool,
}

fn case(events: PathBuf, trace: PathBuf) -> Case {
    Case {
        events,
        trace,
        no_header: false,
    }
}

/// The project's test traces.
fn testdata_cases() -> Vec<Case> {
    let sample = support::testdata("sample.trace-events");
    vec![
        case(sample.clone(), support::testdata("sample.trace")),
        case(sample.clone(), support::testdata("strings.trace")),
        case(sample.clone(), support::testdata("edge-deltas.trace")),
        Case {
            events: sample,
            trace: support::testdata("no-header.trace"),
            no_header: true,
        },
        case(
            support::testdata("tcg.trace-events"),
            support::testdata("tcg.trace"),
        ),
        case(
            support::testdata("vcpu.trace-events"),
            support::testdata("vcpu.trace"),
        ),
    ]
}

/// The corpus's traces (`names`), when it is there.
fn corpus_cases(names: &[&str]) -> Vec<Case> {
    let Some(dir) = support::corpus() else {
        return Vec::new();
    };
    names
        .iter()
        .map(|n| case(dir.join("trace-events-all"), dir.join(format!("{n}.bin"))))
        .collect()
}

fn run(args: &[&OsStr]) -> Output {
    support::run(args)
}

use support::run_ok;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `simpletrace json`'s lines for a case.
fn json_lines(c: &Case) -> Vec<Value> {
    let mut args = vec![os("json")];
    if c.no_header {
        args.push(os("--no-header"));
    }
    args.extend([c.events.as_os_str(), c.trace.as_os_str()]);
    parse_lines(&run_ok(&args))
}

fn parse_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `simpletrace sql --format jsonl QUERY` on a case, with `extra`
/// options.
fn sql_lines(c: &Case, query: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![os("sql"), os("--format"), os("jsonl")];
    args.extend(extra.iter().map(|e| os(e)));
    if c.no_header {
        args.push(os("--no-header"));
    }
    args.extend([os(query), c.events.as_os_str(), c.trace.as_os_str()]);
    parse_lines(&run_ok(&args))
}

/// A `records` row (from JSON Lines) in `json`'s shape.
fn records_row_as_json(row: &Value) -> Value {
    let mut o = Map::new();
    o.insert("event".into(), row["event"].clone());
    o.insert("id".into(), row["id"].clone());
    o.insert("timestamp_ns".into(), row["ts_ns"].clone());
    // NULL where the difference does not fit an Int64 (docs/sql.md):
    // `json` writes it whole, beyond ±2^63.
    o.insert("delta_ns".into(), row["delta_ns"].clone());
    o.insert("pid".into(), row["pid"].clone());
    let text = |v: &Value| serde_json::from_str::<Value>(v.as_str().unwrap()).unwrap();
    o.insert("args".into(), text(&row["args"]));
    if let Some(raw) = row.get("raw").filter(|r| !r.is_null()) {
        o.insert("raw".into(), text(raw));
    }
    // `json` writes integers past 2^53 as strings of their digits.
    exact_numbers(&Value::Object(o)).into_owned()
}

fn check_records(c: &Case, threads: &str) -> usize {
    let want = json_lines(c);
    let got = sql_lines(
        c,
        "SELECT event, id, ts_ns, delta_ns, pid, args, raw FROM records ORDER BY record",
        &["-j", threads],
    );
    assert_eq!(got.len(), want.len(), "{}", c.trace.display());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let mut w = w.clone();
        let delta = &w["delta_ns"];
        if g.get("delta_ns").is_none_or(Value::is_null) {
            assert!(
                delta.as_i64().is_none(),
                "{}: delta {delta} became NULL",
                c.trace.display()
            );
            w["delta_ns"] = Value::Null;
        }
        assert_eq!(
            records_row_as_json(g),
            w,
            "{} row {i} (-j {threads})",
            c.trace.display()
        );
    }
    want.len()
}

/// `records` holds what `json` writes, record for record, for any number
/// of threads.
#[test]
fn records_equal_json_on_testdata() {
    for c in testdata_cases() {
        for threads in ["1", "2"] {
            assert!(check_records(&c, threads) > 0);
        }
    }
}

/// The corpus too; medium-rand is cut into several chunks per partition,
/// so `delta_ns` crosses chunk boundaries.
#[test]
fn records_equal_json_on_the_corpus() {
    for c in corpus_cases(&[
        "tiny",
        "medium-create",
        "medium-io",
        "medium-convert",
        "strings",
    ]) {
        check_records(&c, "2");
    }
    for c in corpus_cases(&["medium-rand"]) {
        for threads in ["2", "3"] {
            check_records(&c, threads);
        }
    }
}

/// A runtime and a session with `c`'s trace registered.
fn session(c: &Case, partitions: usize) -> (tokio::runtime::Runtime, SessionContext, TraceEvents) {
    let events = input::read_trace_events(&c.events).unwrap();
    let mut tables = TraceTables::new(events.clone());
    let name = c.trace.file_name().unwrap().to_string_lossy().into_owned();
    tables
        .add(name, TraceData::open(&c.trace).unwrap(), c.no_header)
        .unwrap();
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    tables.register(&ctx).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    (rt, ctx, events)
}

fn query(rt: &tokio::runtime::Runtime, ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    rt.block_on(async { ctx.sql(sql).await?.collect().await })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A column's values as JSON values, in `json`'s representation of an
/// argument of kind `kind`.
fn cells(array: &ArrayRef, kind: ArgKind) -> Vec<Value> {
    let n = array.len();
    match array.data_type() {
        DataType::Utf8 => (0..n)
            .map(|i| Value::from(array.as_string::<i32>().value(i)))
            .collect(),
        DataType::Boolean => (0..n)
            .map(|i| Value::from(array.as_boolean().value(i)))
            .collect(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let wide = cast(array, &DataType::Int64).unwrap();
            let wide = wide.as_primitive::<Int64Type>();
            (0..n).map(|i| Value::from(wide.value(i))).collect()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let wide = cast(array, &DataType::UInt64).unwrap();
            let wide = wide.as_primitive::<UInt64Type>();
            (0..n)
                .map(|i| {
                    let v = wide.value(i);
                    if kind == ArgKind::Pointer {
                        Value::from(format!("0x{v:x}"))
                    } else {
                        Value::from(v)
                    }
                })
                .collect()
        }
        other => panic!("argument column of type {other}"),
    }
}

/// Every event's table holds, row for row, the records `json` writes
/// for that event: the same timestamps, pids and arguments (typed as
/// `json` types them), and the exact bytes of strings that are not UTF-8.
fn check_event_tables(c: &Case, most: usize) {
    let want = json_lines(c);
    let (rt, ctx, events) = session(c, 2);
    let mut names: Vec<&str> = want
        .iter()
        .map(|l| l["event"].as_str().unwrap())
        .filter(|n| *n != "Dropped_Event")
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(!names.is_empty());
    // Each table is a scan of the whole trace: on a large one, a sample.
    let step = names.len().div_ceil(most);
    let names: Vec<&str> = names.into_iter().step_by(step).collect();
    for name in names {
        let decl = events.by_name(name.as_bytes()).unwrap();
        let columns = argument_columns(decl);
        let batches = query(
            &rt,
            &ctx,
            &format!("SELECT * FROM \"{name}\" ORDER BY record"),
        );
        let expected: Vec<&Value> = want.iter().filter(|l| l["event"] == name).collect();
        let mut got = Vec::new();
        for batch in &batches {
            let column = |n: &str| {
                batch
                    .column_by_name(n)
                    .unwrap_or_else(|| panic!("{name}.{n}"))
            };
            let ts = column("ts_ns").as_primitive::<UInt64Type>();
            let pids = cells(column("pid"), ArgKind::Bool);
            let values: Vec<Vec<Value>> = decl
                .args
                .iter()
                .zip(&columns)
                .map(|(arg, (col, _))| cells(column(col), arg.kind))
                .collect();
            for row in 0..batch.num_rows() {
                let mut args = Map::new();
                let mut raw = Map::new();
                for (i, (arg, (_, raw_col))) in decl.args.iter().zip(&columns).enumerate() {
                    args.insert(arg.name.clone(), values[i][row].clone());
                    if let Some(raw_col) = raw_col {
                        let bytes = column(raw_col).as_binary::<i32>();
                        if bytes.is_valid(row) {
                            raw.insert(arg.name.clone(), Value::from(hex(bytes.value(row))));
                        }
                    }
                }
                got.push((ts.value(row), pids[row].clone(), Value::Object(args), raw));
            }
        }
        assert_eq!(got.len(), expected.len(), "{}: {name}", c.trace.display());
        for ((ts, pid, args, raw), w) in got.iter().zip(expected) {
            // `json` writes integers past 2^53 as strings of their digits.
            assert_eq!(
                *exact_numbers(&Value::from(*ts)),
                w["timestamp_ns"],
                "{name}"
            );
            assert_eq!(pid, &w["pid"], "{name}");
            assert_eq!(*exact_numbers(args), w["args"], "{name} at {ts}");
            let want_raw = w.get("raw").cloned().unwrap_or(Value::Object(Map::new()));
            assert_eq!(Value::Object(raw.clone()), want_raw, "{name} at {ts}");
        }
    }
}

#[test]
fn event_tables_equal_json_on_testdata() {
    for c in testdata_cases() {
        check_event_tables(&c, usize::MAX);
    }
}

#[test]
fn event_tables_equal_json_on_the_corpus() {
    for c in corpus_cases(&["tiny", "medium-io", "strings"]) {
        check_event_tables(&c, usize::MAX);
    }
    for c in corpus_cases(&["medium-rand"]) {
        check_event_tables(&c, 12);
    }
}

/// `stats --json`'s event counts.
fn stats_counts(c: &Case) -> Vec<(String, u64)> {
    let out = run_ok(&[
        os("stats"),
        os("--json"),
        c.events.as_os_str(),
        c.trace.as_os_str(),
    ]);
    let j: Value = serde_json::from_slice(&out).unwrap();
    let mut counts: Vec<(String, u64)> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    counts
}

/// `GROUP BY event` over `records` counts what `stats` counts; `dropped`
/// holds the lost-events records `json` writes.
#[test]
fn counts_equal_stats() {
    let mut cases = testdata_cases();
    cases.retain(|c| !c.no_header);
    cases.extend(corpus_cases(&["medium-rand", "dropped"]));
    for c in cases {
        let rows = sql_lines(
            &c,
            "SELECT event, count(*) AS n FROM records GROUP BY event ORDER BY event",
            &[],
        );
        let got: Vec<(String, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r["event"].as_str().unwrap().to_owned(),
                    r["n"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, stats_counts(&c), "{}", c.trace.display());
    }
    for c in corpus_cases(&["dropped"]) {
        let out = run_ok(&[
            os("stats"),
            os("--json"),
            c.events.as_os_str(),
            c.trace.as_os_str(),
        ]);
        let stats: Value = serde_json::from_slice(&out).unwrap();
        let dropped = sql_lines(
            &c,
            "SELECT count(*) AS records, sum(num_events_dropped) AS events FROM dropped",
            &[],
        );
        assert_eq!(dropped[0]["records"], stats["dropped_records"]);
        assert_eq!(dropped[0]["events"], stats["events_lost"]);
        let time = sql_lines(
            &c,
            "SELECT min(ts_ns) AS first, max(ts_ns) AS last, count(*) FILTER (WHERE delta_ns < 0) AS back FROM records",
            &[],
        );
        assert_eq!(time[0]["back"], stats["steps_back"]);
        assert!(time[0]["first"].as_u64() <= stats["first_ns"].as_u64());
        assert!(time[0]["last"].as_u64() >= stats["last_ns"].as_u64());
    }
}

/// Filters on `ts_ns` and `pid` (pushed into the scan) keep exactly the
/// rows DataFusion's own filtering keeps.
#[test]
fn pushed_down_filters_keep_the_same_rows() {
    let mut cases = testdata_cases();
    cases.truncate(1);
    cases.extend(corpus_cases(&["medium-io"]));
    for c in cases {
        let all = sql_lines(
            &c,
            "SELECT ts_ns, pid, record FROM records ORDER BY record",
            &[],
        );
        let ts: Vec<u64> = all.iter().map(|r| r["ts_ns"].as_u64().unwrap()).collect();
        let (lo, hi) = (ts[ts.len() / 4], ts[ts.len() / 2]);
        let pid = all[all.len() / 3]["pid"].as_u64().unwrap();
        let count = |f: &dyn Fn(u64, u64) -> bool| {
            all.iter()
                .filter(|r| f(r["ts_ns"].as_u64().unwrap(), r["pid"].as_u64().unwrap()))
                .count() as u64
        };
        let cases: Vec<(String, u64)> = vec![
            (
                format!("ts_ns >= {lo} AND ts_ns < {hi}"),
                count(&|t, _| t >= lo && t < hi),
            ),
            (
                format!("ts_ns BETWEEN {lo} AND {hi}"),
                count(&|t, _| t >= lo && t <= hi),
            ),
            (format!("{lo} < ts_ns"), count(&|t, _| t > lo)),
            (format!("pid = {pid}"), count(&|_, p| p == pid)),
            (
                format!("pid IN ({pid}, 0)"),
                count(&|_, p| p == pid || p == 0),
            ),
            (format!("pid <> {pid}"), count(&|_, p| p != pid)),
            ("pid = -1".to_owned(), 0),
            (
                format!("pid = {pid} OR ts_ns < {lo}"),
                count(&|t, p| p == pid || t < lo),
            ),
        ];
        for (filter, want) in cases {
            let got = sql_lines(
                &c,
                &format!("SELECT count(*) AS n FROM records WHERE {filter}"),
                &[],
            );
            assert_eq!(got[0]["n"], want, "{filter}");
        }
    }
}

/// The `events` table describes each declaration, with its table's
/// columns, and its id in the trace: on the corpus, whose traces map
/// every event once at the start, the id of every record `json` writes.
#[test]
fn events_table_describes_the_declarations() {
    let mut cases = vec![case(
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    )];
    cases.extend(corpus_cases(&["tiny"]));
    for (n, c) in cases.iter().enumerate() {
        let rows = sql_lines(
            c,
            "SELECT trace, name, id, position, arguments, columns, format FROM events ORDER BY position",
            &[],
        );
        let events = input::read_trace_events(&c.events).unwrap();
        assert_eq!(rows.len(), events.len());
        let trace_name = c.trace.file_name().unwrap().to_str().unwrap();
        for (row, decl) in rows.iter().zip(events.iter()) {
            assert_eq!(row["trace"], trace_name);
            assert_eq!(row["name"], decl.name.as_str());
            let columns: Vec<String> = argument_columns(decl)
                .into_iter()
                .map(|(v, _)| v)
                .chain(argument_columns(decl).into_iter().filter_map(|(_, r)| r))
                .collect();
            assert_eq!(row["columns"], columns.join(", "), "{}", decl.name);
        }
        if n == 0 {
            let open = rows.iter().find(|r| r["name"] == "blk_open").unwrap();
            assert_eq!(
                open["arguments"],
                "void *blk, const char *filename, int flags, const char *driver"
            );
            assert_eq!(
                open["columns"],
                "blk, filename, flags, driver, filename_raw, driver_raw"
            );
            continue;
        }
        for line in json_lines(c)
            .iter()
            .filter(|l| l["event"] != "Dropped_Event")
        {
            let row = rows.iter().find(|r| r["name"] == line["event"]).unwrap();
            assert_eq!(row["id"], line["id"], "{}", line["event"]);
        }
    }
}

/// The catalog is queryable: `information_schema.columns` lists a table's
/// columns with their types, as docs/sql.md gives them.
#[test]
fn the_catalog_describes_the_tables() {
    let c = case(
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    );
    let rows = sql_lines(
        &c,
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 'blk_open' ORDER BY ordinal_position",
        &[],
    );
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("column_name"), s("data_type"))
        })
        .collect();
    let want = [
        ("trace", "Dictionary(Int32, Utf8)"),
        ("ts_ns", "UInt64"),
        ("pid", "UInt32"),
        ("record", "UInt64"),
        ("file_offset", "UInt64"),
        ("blk", "UInt64"),
        ("filename", "Utf8"),
        ("flags", "Int32"),
        ("driver", "Utf8"),
        ("filename_raw", "Binary"),
        ("driver_raw", "Binary"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(got, want);
}

/// Several traces: one query spans them, the trace column tells them
/// apart; two traces with one file name are refused.
#[test]
fn several_traces_in_one_query() {
    let events = support::testdata("sample.trace-events");
    let dir = support::scratch("sql_several");
    let a = dir.join("a.trace");
    let b = dir.join("b.trace");
    std::fs::copy(support::testdata("sample.trace"), &a).unwrap();
    std::fs::copy(support::testdata("strings.trace"), &b).unwrap();
    let out = run_ok(&[
        os("sql"),
        os("--format"),
        os("csv"),
        os("SELECT trace, count(*) AS n FROM records GROUP BY trace ORDER BY trace"),
        events.as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let one = |t: &Path| {
        let c = case(events.clone(), t.to_owned());
        json_lines(&c).len()
    };
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("trace,n\na.trace,{}\nb.trace,{}\n", one(&a), one(&b))
    );
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(&a, sub.join("a.trace")).unwrap();
    let out = run(&[
        os("sql"),
        os("SELECT 1"),
        events.as_os_str(),
        a.as_os_str(),
        sub.join("a.trace").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("two traces are named 'a.trace'"));
}

/// Bad SQL, an unknown table or column, a query that writes: usage
/// errors (exit status 2) with DataFusion's message.
#[test]
fn bad_queries_are_usage_errors() {
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    for (query, message) in [
        ("SELEC 1", "SQL error: ParserError"),
        (
            "SELECT * FROM nope",
            "table 'datafusion.public.nope' not found",
        ),
        ("SELECT nope FROM records", "No field named nope"),
        ("SELECT ts_ns + 'x' FROM blk_open", "Error during planning"),
        ("CREATE TABLE t AS SELECT 1", "DDL not supported"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "not supported"),
        ("SET datafusion.execution.batch_size = 1", "not supported"),
        (
            "SHOW COLUMNS FROM nope",
            "table 'datafusion.public.nope' not found",
        ),
    ] {
        let out = run(&[os("sql"), os(query), events.as_os_str(), trace.as_os_str()]);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{query}: {err}");
        assert!(err.starts_with("simpletrace: "), "{query}: {err}");
        assert!(err.contains(message), "{query}: {err}");
        assert!(out.stdout.is_empty(), "{query}");
    }
    let out = run(&[
        os("sql"),
        os("--format"),
        os("parquet"),
        os("SELECT 1"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("--format parquet needs -o FILE"));
}

/// A corrupt record is bad data (exit status 1), said as every command
/// says it; a trace cut off in its last record is read up to it, with a
/// warning, as every command reads it.
#[test]
fn bad_traces_are_data_errors() {
    let events = support::testdata("sample.trace-events");
    let dir = support::scratch("sql_bad_traces");
    let good = std::fs::read(support::testdata("sample.trace")).unwrap();
    let records = json_lines(&case(events.clone(), support::testdata("sample.trace"))).len();
    let mut bytes = good.clone();
    bytes.truncate(bytes.len() - 3);
    let cut = dir.join("cut.trace");
    std::fs::write(&cut, &bytes).unwrap();
    let out = run(&[
        os("sql"),
        os("--format"),
        os("csv"),
        os("SELECT count(*) AS n FROM records"),
        events.as_os_str(),
        cut.as_os_str(),
    ]);
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.starts_with("simpletrace: warning: cut.trace: "),
        "{err}"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("n\n{}\n", records - 1)
    );
    // An unknown record type after the last record: bad data.
    let mut bytes = good;
    bytes.extend_from_slice(&7u64.to_le_bytes());
    bytes.extend_from_slice(&[0; 40]);
    let bad = dir.join("bad.trace");
    std::fs::write(&bad, &bytes).unwrap();
    let print = run(&[events.as_os_str(), bad.as_os_str()]);
    assert_eq!(print.status.code(), Some(1));
    let print_err = support::stderr(&print);
    let fault = print_err.split_once("bad.trace: ").unwrap().1;
    let out = run(&[
        os("sql"),
        os("SELECT count(*) FROM blk_open"),
        events.as_os_str(),
        bad.as_os_str(),
    ]);
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err, format!("simpletrace: bad.trace: {fault}"));
    let not_a_trace = dir.join("not.trace");
    std::fs::write(&not_a_trace, b"hello, this is not a trace at all").unwrap();
    let out = run(&[
        os("sql"),
        os("SELECT 1"),
        events.as_os_str(),
        not_a_trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
}

/// A compressed trace (each compression built in), a trace piped into
/// standard input, and a compressed trace cut off are queried like the
/// file they decompress to (through an unlinked temporary file): the same
/// rows, named after the file given (`-` for standard input); the cut one
/// up to its last whole record, with the warning every command gives, and
/// exit status 0.
#[test]
fn compressed_and_piped_traces_are_queried_like_files() {
    let events = support::testdata("sample.trace-events");
    let plain = support::testdata("sample.trace");
    let bytes = std::fs::read(&plain).unwrap();
    let dir = support::scratch("sql_compressed_traces");
    let query =
        "SELECT event, count(*) AS n, sum(ts_ns) AS t FROM records GROUP BY event ORDER BY event";
    let want = run_ok(&[
        os("sql"),
        os("--format"),
        os("csv"),
        os(query),
        events.as_os_str(),
        plain.as_os_str(),
    ]);
    assert!(want.len() > 20, "{}", String::from_utf8_lossy(&want));
    for (name, ext, compress) in support::compress::compressors() {
        let path = dir.join(format!("sample.trace.{ext}"));
        std::fs::write(&path, compress(&bytes)).unwrap();
        let got = run_ok(&[
            os("sql"),
            os("--format"),
            os("csv"),
            os(query),
            events.as_os_str(),
            path.as_os_str(),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        let named = run_ok(&[
            os("sql"),
            os("--format"),
            os("csv"),
            os("SELECT DISTINCT trace FROM records"),
            events.as_os_str(),
            path.as_os_str(),
        ]);
        assert_eq!(
            String::from_utf8(named).unwrap(),
            format!("trace\nsample.trace.{ext}\n")
        );
    }
    // Standard input, a pipe.
    let out = support::run_with_stdin_from(
        [
            os("sql"),
            os("--format"),
            os("csv"),
            os(query),
            events.as_os_str(),
            os("-"),
        ],
        std::io::Cursor::new(bytes.clone()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&want)
    );
    // Cut off: the compressed data ends in the middle.
    // (gzip: a deflate stream gives its bytes as it goes, where a small
    // trace is one zstd block.)
    let gz = support::compress::gzip(&bytes);
    let cut = dir.join("cut.trace.gz");
    std::fs::write(&cut, &gz[..gz.len() * 2 / 3]).unwrap();
    let count = "SELECT count(*) AS n FROM records";
    let out = run(&[
        os("sql"),
        os("--format"),
        os("csv"),
        os(count),
        events.as_os_str(),
        cut.as_os_str(),
    ]);
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("cut.trace.gz: the compressed data ends early"),
        "{err}"
    );
    let n: usize = String::from_utf8(out.stdout)
        .unwrap()
        .trim_start_matches("n\n")
        .trim()
        .parse()
        .unwrap();
    let all = json_lines(&case(events.clone(), plain.clone())).len();
    assert!(n > 0 && n < all, "{n} of {all}");
}

/// Each output format; -o writes in place only when done and never over
/// an input.
#[test]
fn output_formats_and_files() {
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let dir = support::scratch("sql_outputs");
    let q =
        "SELECT event, count(*) AS n FROM records GROUP BY event ORDER BY n DESC, event LIMIT 3";
    let table = run_ok(&[os("sql"), os(q), events.as_os_str(), trace.as_os_str()]);
    let csv = run_ok(&[
        os("sql"),
        os("--format"),
        os("csv"),
        os(q),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let table = String::from_utf8(table).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{csv}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].trim_start().starts_with("event"), "{table}");
    for (line, row) in lines[1..].iter().zip(&rows) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells, *row, "{table}");
    }
    // Parquet, read back.
    let pq = dir.join("out.parquet");
    run_ok(&[
        os("sql"),
        os("--format"),
        os("parquet"),
        os("-o"),
        pq.as_os_str(),
        os("SELECT * FROM records"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ctx = SessionContext::new();
    let n: i64 = rt.block_on(async {
        let path = pq.to_str().unwrap();
        let df = ctx
            .read_parquet(path, Default::default())
            .await
            .unwrap()
            .aggregate(
                vec![],
                vec![datafusion::functions_aggregate::count::count_all()],
            )
            .unwrap();
        let batches = df.collect().await.unwrap();
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    });
    let c = case(events.clone(), trace.clone());
    assert_eq!(n as usize, json_lines(&c).len());
    // Never over an input: nothing written, the input intact.
    let before = std::fs::read(&trace).unwrap();
    let out = run(&[
        os("sql"),
        os("-o"),
        trace.as_os_str(),
        os("SELECT 1"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert_eq!(std::fs::read(&trace).unwrap(), before);
    // A failed query leaves no file behind.
    let csv_out = dir.join("x.csv");
    let out = run(&[
        os("sql"),
        os("-o"),
        csv_out.as_os_str(),
        os("SELECT nope FROM records"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!csv_out.exists());
}

/// JSON Lines writes 64-bit integers by the exact-integer rule of every
/// JSON of simpletrace (docs/cli.md): a number within ±(2^53 - 1), a
/// string of its digits past it, value by value; `json` writes the same
/// arguments the same way.
#[test]
fn jsonl_writes_big_integers_as_strings() {
    use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
    let dir = support::scratch("sql_jsonl_exact");
    let decls =
        "big(uint64_t u, int64_t i, uint32_t small) \"u %\" PRIu64 \" i %\" PRId64 \" small %u\"\n";
    let events_path = dir.join("events");
    std::fs::write(&events_path, decls).unwrap();
    let events = TraceEvents::parse("events", decls.as_bytes()).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    let exact = (1u64 << 53) - 1;
    let values: [(u64, i64); 5] = [
        (0, 0),
        (exact, -(exact as i64)),
        (exact + 1, -(exact as i64) - 1),
        (u64::MAX, i64::MIN),
        (u64::MAX - 1, i64::MAX),
    ];
    for (n, (u, i)) in values.iter().enumerate() {
        let args = [Arg::from(*u), Arg::from(*i), Arg::from(7u32)];
        w.event_by_name("big", 1000 + n as u64, 1, &args).unwrap();
    }
    let trace = dir.join("big.trace");
    std::fs::write(&trace, w.finish().unwrap()).unwrap();
    let c = case(events_path, trace);
    let rows = sql_lines(
        &c,
        "SELECT u, i, small, u - u AS zero, CAST(small AS BIGINT) * -1 AS neg FROM big ORDER BY record",
        &[],
    );
    let want = [
        ("0", "0"),
        ("9007199254740991", "-9007199254740991"),
        ("\"9007199254740992\"", "\"-9007199254740992\""),
        ("\"18446744073709551615\"", "\"-9223372036854775808\""),
        ("\"18446744073709551614\"", "\"9223372036854775807\""),
    ];
    assert_eq!(rows.len(), want.len());
    for (row, (u, i)) in rows.iter().zip(want) {
        assert_eq!(row["u"].to_string(), u, "{row}");
        assert_eq!(row["i"].to_string(), i, "{row}");
        // Small values stay numbers, whatever the type.
        assert_eq!(row["small"], Value::from(7), "{row}");
        assert_eq!(row["zero"], Value::from(0), "{row}");
        assert_eq!(row["neg"], Value::from(-7), "{row}");
    }
    // The same as `json`'s arguments.
    for (row, line) in rows.iter().zip(json_lines(&c)) {
        assert_eq!(row["u"], line["args"]["u"]);
        assert_eq!(row["i"], line["args"]["i"]);
    }
}

/// The corpus's qcow2 `host_offset` of -1 in a `uint64_t`: a string in
/// `sql --format jsonl` as in `json`.
#[test]
fn jsonl_big_integers_on_the_corpus() {
    let Some(c) = corpus_cases(&["medium-io"]).pop() else {
        return;
    };
    let rows = sql_lines(
        &c,
        "SELECT host_offset FROM qcow2_handle_copied ORDER BY record",
        &[],
    );
    let want: Vec<Value> = json_lines(&c)
        .into_iter()
        .filter(|l| l["event"] == "qcow2_handle_copied")
        .map(|l| l["args"]["host_offset"].clone())
        .collect();
    assert!(want.contains(&Value::from("18446744073709551615")));
    let got: Vec<Value> = rows.iter().map(|r| r["host_offset"].clone()).collect();
    assert_eq!(got, want);
}

/// Every table equals `json` on traces of every format version (version 0
/// included: fixed 64-byte records, six words, strings as pointers).
#[test]
fn tables_equal_json_in_every_version() {
    let dir = support::scratch("sql_versions");
    for trace in support::samples::version_traces(&dir) {
        let c = case(support::testdata("sample.trace-events"), trace);
        for threads in ["1", "2"] {
            assert!(check_records(&c, threads) > 0, "{}", c.trace.display());
        }
        check_event_tables(&c, usize::MAX);
    }
    // Version 0's string argument: its word, as `json` writes it.
    let c = case(
        support::testdata("sample.trace-events"),
        dir.join("v0-strings.trace"),
    );
    let rows = sql_lines(&c, "SELECT text FROM guest_message ORDER BY record", &[]);
    assert_eq!(rows[0]["text"], "0x7f001234");
    assert_eq!(rows[1]["text"], "0xffffffffffffffff");
}

/// `simpletrace sql ... | head -1`: the reader goes away, the query ends
/// quietly with status 0, whatever the format (Arrow's CSV writer used to
/// turn the closed pipe into the text "Csv error: Broken pipe", an error
/// with status 1).
#[test]
fn a_closed_pipe_is_quiet_success() {
    let dir = support::scratch("sql_closed_pipe");
    let (events, trace) = support::samples::long_tick_trace(&dir);
    for format in ["table", "csv", "jsonl"] {
        let (first, out) = support::first_line_then_closed(
            support::bin()
                .args(["sql", "--format", format, "SELECT * FROM tick"])
                .args([&events, &trace]),
        );
        assert!(!first.is_empty(), "{format}");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            support::stderr(&out)
        );
        assert_eq!(support::stderr(&out), "", "{format}");
    }
}
