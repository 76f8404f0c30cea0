//! `simpletrace parquet` and `simpletrace sql --dataset` (the `sql`
//! feature): the exported dataset reads back equal to the traces, a
//! failed export leaves nothing that looks complete, traces are appended
//! and replaced.

#![cfg(feature = "sql")]

#[path = "support/mod.rs"]
mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use datafusion::arrow::array::AsArray;
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use simpletrace::input::{self, TraceData};
use simpletrace::sql::{TraceTables, register_dataset};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn run(args: &[&OsStr]) -> Output {
    support::run(args)
}

use support::run_ok;

/// `sql --format jsonl QUERY` on the traces, or on the dataset.
fn direct(query: &str, events: &Path, traces: &[PathBuf]) -> String {
    let mut args = vec![
        os("sql"),
        os("--format"),
        os("jsonl"),
        os(query),
        events.as_os_str(),
    ];
    args.extend(traces.iter().map(|t| t.as_os_str()));
    String::from_utf8(run_ok(&args)).unwrap()
}

fn on_dataset(query: &str, dir: &Path) -> String {
    String::from_utf8(run_ok(&[
        os("sql"),
        os("--format"),
        os("jsonl"),
        os("--dataset"),
        dir.as_os_str(),
        os(query),
    ]))
    .unwrap()
}

fn export(dir: &Path, events: &Path, traces: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec![os("parquet"), os("-o"), dir.as_os_str()];
    args.extend(extra.iter().map(|a| os(a)));
    args.push(events.as_os_str());
    args.extend(traces.iter().map(|t| t.as_os_str()));
    run(&args)
}

/// The dataset's tables (its directories).
fn tables(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Every table's rows, read back with `sql --dataset`, equal `sql` on the
/// traces; the tables' schemas (names, types, order) are the same.
fn check_dataset(events: &Path, traces: &[PathBuf], dir: &Path, most: usize) {
    let mut names = tables(dir);
    // The fixed tables, and at most `most` of the events' (each is two
    // runs of the command).
    let fixed = |n: &String| ["records", "dropped", "events"].contains(&n.as_str());
    let mut left = most;
    names.retain(|n| {
        fixed(n) || {
            left = left.saturating_sub(1);
            left > 0
        }
    });
    assert!(names.contains(&"records".to_owned()), "{names:?}");
    assert!(names.contains(&"dropped".to_owned()), "{names:?}");
    assert!(names.contains(&"events".to_owned()), "{names:?}");
    for table in &names {
        let order = if table == "events" {
            "trace, position"
        } else {
            "trace, record"
        };
        let query = format!("SELECT * FROM \"{table}\" ORDER BY {order}");
        let want = direct(&query, events, traces);
        let got = on_dataset(&query, dir);
        assert!(
            got == want,
            "{table}: differs ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
    // The same Arrow schemas, `trace` first in both.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let trace_ctx = SessionContext::new();
    let mut t = TraceTables::new(input::read_trace_events(events).unwrap());
    for path in traces {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // As the command opens it: a compressed trace through a file.
        let data = match input::TraceInput::open(path).unwrap() {
            input::TraceInput::Data(data) => data,
            input::TraceInput::Stream(stream) => {
                let file = tempfile::tempfile().unwrap();
                let (data, cut) = TraceData::spool(stream, file).unwrap();
                assert!(cut.is_none());
                data
            }
        };
        t.add(name, data, false).unwrap();
    }
    // Every table of the traces, those of events without records too
    // (the dataset has no files of them).
    let all = t.table_names();
    t.register(&trace_ctx).unwrap();
    let set_ctx = SessionContext::new();
    rt.block_on(register_dataset(&set_ctx, dir)).unwrap();
    let mut empty_checked = 0;
    for table in &all {
        let schema = |ctx: &SessionContext| {
            let df = rt
                .block_on(ctx.table(TableReference::bare(table.as_str())))
                .unwrap();
            df.schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
                .collect::<Vec<_>>()
        };
        assert_eq!(schema(&set_ctx), schema(&trace_ctx), "{table}");
        // Rows: the tables compared above, and a few of those without
        // records.
        let without = !names.contains(table);
        if without {
            if empty_checked >= most.min(20) {
                continue;
            }
            empty_checked += 1;
        }
        let count = |ctx: &SessionContext| {
            let sql = format!("SELECT count(*) FROM \"{table}\"");
            let b = rt
                .block_on(async { ctx.sql(&sql).await?.collect().await })
                .unwrap();
            b[0].column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0)
        };
        assert_eq!(count(&set_ctx), count(&trace_ctx), "{table}");
    }
}

/// The project's traces of one events file, several threads (several
/// parts per table): the dataset equals the traces.
#[test]
fn dataset_equals_the_traces() {
    let events = support::testdata("sample.trace-events");
    let traces: Vec<PathBuf> = ["sample.trace", "strings.trace", "edge-deltas.trace"]
        .iter()
        .map(|n| support::testdata(n))
        .collect();
    let dir = support::scratch("parquet_equal").join("set");
    let out = export(&dir, &events, &traces, &["-j", "3"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    check_dataset(&events, &traces, &dir, usize::MAX);
    // Hive layout, one file per part.
    assert!(
        dir.join("records/trace=sample.trace/part-0.parquet")
            .is_file()
    );
    assert!(
        dir.join("events/trace=strings.trace/part-0.parquet")
            .is_file()
    );
}

/// A compressed trace exports as the file it decompresses to (through an
/// unlinked temporary file), its partitions named after the file given:
/// every table equals `sql` on the compressed trace, whose rows
/// `tests/sql.rs` checks against the plain file's.
#[test]
fn compressed_traces_export_like_files() {
    let events = support::testdata("sample.trace-events");
    let bytes = std::fs::read(support::testdata("strings.trace")).unwrap();
    let scratch = support::scratch("parquet_compressed");
    let traces: Vec<PathBuf> = support::compress::compressors()
        .map(|(_, ext, compress)| {
            let path = scratch.join(format!("strings.trace.{ext}"));
            std::fs::write(&path, compress(&bytes)).unwrap();
            path
        })
        .collect();
    assert!(!traces.is_empty());
    let dir = scratch.join("set");
    let out = export(&dir, &events, &traces, &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    check_dataset(&events, &traces, &dir, 4);
    assert!(
        dir.join("records/trace=strings.trace.zst/part-0.parquet")
            .is_file()
            || !cfg!(feature = "zstd")
    );
}

/// Traces of every format version the decoder reads (0, 2, 3, 4, both
/// byte orders; version 0's string arguments are words): the dataset
/// equals `sql` on the traces, which `tests/sql.rs`
/// (`tables_equal_json_in_every_version`) checks against `json`; and the
/// version-0 string reads back as `json` writes it.
#[test]
fn dataset_equals_the_traces_in_every_version() {
    let events = support::testdata("sample.trace-events");
    let scratch = support::scratch("parquet_versions");
    let traces = support::samples::version_traces(&scratch);
    let dir = scratch.join("set");
    let out = export(&dir, &events, &traces, &["-j", "2"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    check_dataset(&events, &traces, &dir, usize::MAX);
    let got = on_dataset(
        "SELECT text FROM guest_message WHERE trace = 'v0-strings.trace' ORDER BY record",
        &dir,
    );
    assert_eq!(
        got,
        "{\"text\":\"0x7f001234\"}\n{\"text\":\"0xffffffffffffffff\"}\n"
    );
}

/// Two exports of one trace name into one dataset never race: while one
/// holds the name's lock, another is refused (exit status 1, nothing of
/// it in place) whether it would add or replace; other names go on; once
/// the lock is released (here, or by a process that ended: the file left
/// behind is no obstacle) the name can be exported again.
#[test]
fn concurrent_exports_of_one_name_are_refused() {
    use simpletrace::sql::export::{ExportError, lock_name};
    let scratch = support::scratch("parquet_busy");
    let dir = scratch.join("set");
    std::fs::create_dir_all(&dir).unwrap();
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let lock = lock_name(&dir, "sample.trace").unwrap();
    match lock_name(&dir, "sample.trace") {
        Err(ExportError::Busy(name)) => assert_eq!(name, "sample.trace"),
        other => panic!("{other:?}"),
    }
    for extra in [&[][..], &["--replace"]] {
        let out = export(&dir, &events, std::slice::from_ref(&trace), extra);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(
            err.contains(
                "another export of a trace named 'sample.trace' into this dataset is running"
            ),
            "{extra:?}: {err}"
        );
        assert_no_trace(&dir, "sample.trace");
    }
    let other = support::testdata("strings.trace");
    let out = export(&dir, &events, std::slice::from_ref(&other), &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    drop(lock);
    assert!(dir.join(".lock-sample.trace").is_file());
    let out = export(&dir, &events, std::slice::from_ref(&trace), &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    // The lock files are no tables.
    check_dataset(&events, &[other, trace], &dir, usize::MAX);
}

/// Two `simpletrace parquet` of one name at once: one exports it, the
/// other is refused, as busy (exit status 1) or, if it came after, as a
/// name already there (exit status 2); the dataset is the one export's.
#[test]
fn two_exports_at_once() {
    let scratch = support::scratch("parquet_at_once");
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    for round in 0..3 {
        let dir = scratch.join(format!("set-{round}"));
        let spawn = || {
            support::bin()
                .args([os("parquet"), os("-o"), dir.as_os_str()])
                .args([events.as_os_str(), trace.as_os_str()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let mut codes: Vec<Option<i32>> = [a, b]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code())
            .collect();
        codes.sort();
        assert!(
            codes == [Some(0), Some(1)] || codes == [Some(0), Some(2)],
            "round {round}: {codes:?}"
        );
        check_dataset(&events, std::slice::from_ref(&trace), &dir, usize::MAX);
    }
}

/// The corpus's traces (when it is there), two appended one at a time.
#[test]
fn dataset_equals_the_corpus_traces() {
    let Some(corpus) = support::corpus() else {
        eprintln!("skipped: no corpus");
        return;
    };
    let events = corpus.join("trace-events-all");
    let traces = vec![corpus.join("medium-io.bin"), corpus.join("dropped.bin")];
    let dir = support::scratch("parquet_corpus").join("set");
    for trace in &traces {
        let out = export(&dir, &events, std::slice::from_ref(trace), &["-j", "2"]);
        assert!(out.status.success(), "{}", support::stderr(&out));
    }
    check_dataset(&events, &traces, &dir, 6);
}

/// The `record` column of a Parquet file, in the file's order.
fn record_numbers(path: &Path) -> Vec<u64> {
    use datafusion::arrow::datatypes::UInt64Type;
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let column = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.name() == "record")
        .unwrap();
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [column]);
    let mut numbers = Vec::new();
    for batch in builder.with_projection(mask).build().unwrap() {
        let batch = batch.unwrap();
        numbers.extend(batch.column(0).as_primitive::<UInt64Type>().values().iter());
    }
    numbers
}

/// `part-N` is the N-th stretch of the trace in every table: each part's
/// rows are in file order, and every row of part N comes before every row
/// of part N + 1 (the corpus's 31 MB trace, three threads: a stretch of
/// about 10 MB each, in 8 MiB chunks).
#[test]
fn parts_are_stretches_of_the_trace_in_file_order() {
    let Some(corpus) = support::corpus() else {
        eprintln!("skipped: no corpus");
        return;
    };
    let events = corpus.join("trace-events-all");
    let trace = corpus.join("dropped.bin");
    let dir = support::scratch("parquet_parts").join("set");
    let out = export(&dir, &events, std::slice::from_ref(&trace), &["-j", "3"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    // Each part of `records`: the range of record numbers it holds.
    let records = dir.join("records/trace=dropped.bin");
    let mut stretches = Vec::new();
    for part in 0.. {
        let path = records.join(format!("part-{part}.parquet"));
        if !path.exists() {
            break;
        }
        let numbers = record_numbers(&path);
        assert!(numbers.is_sorted(), "{}", path.display());
        stretches.push(*numbers.first().unwrap()..=*numbers.last().unwrap());
    }
    assert!(stretches.len() >= 2, "{stretches:?}");
    assert_eq!(
        std::fs::read_dir(&records).unwrap().count(),
        stretches.len(),
        "parts numbered from 0 without a gap"
    );
    assert!(
        stretches.windows(2).all(|w| w[0].end() < w[1].start()),
        "{stretches:?}"
    );
    // Every table's part-N lies in records' part-N.
    for table in tables(&dir) {
        let partition = dir.join(&table).join("trace=dropped.bin");
        for entry in std::fs::read_dir(&partition).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let part: usize = name
                .strip_prefix("part-")
                .and_then(|n| n.strip_suffix(".parquet"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}", path.display()));
            if table == "events" {
                continue;
            }
            let numbers = record_numbers(&path);
            assert!(numbers.is_sorted(), "{}", path.display());
            let stretch = stretches.get(part).unwrap();
            assert!(
                numbers.iter().all(|n| stretch.contains(n)),
                "{} outside {stretch:?}",
                path.display()
            );
        }
    }
}

/// No directory of DIR but the tables, no partition of the trace: what a
/// failed export must leave.
fn assert_no_trace(dir: &Path, trace: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(!name.starts_with(".staging"), "{name} left behind");
        let partition = entry.path().join(format!("trace={trace}"));
        assert!(!partition.exists(), "{} exists", partition.display());
    }
}

/// A failed export (records that the events file does not declare, a
/// bad record half way, an output that is an input) puts nothing of the
/// trace in place and leaves no staging directory; the traces in the
/// dataset before stay.
#[test]
fn a_failed_export_leaves_nothing() {
    let scratch = support::scratch("parquet_failed");
    let dir = scratch.join("set");
    let events = support::testdata("sample.trace-events");
    let good = support::testdata("sample.trace");
    assert!(
        export(&dir, &events, std::slice::from_ref(&good), &[])
            .status
            .success()
    );
    let before = on_dataset("SELECT * FROM records ORDER BY record", &dir);

    // An events file that does not match the trace.
    let tcg = support::testdata("tcg.trace-events");
    let strings = support::testdata("strings.trace");
    let out = export(&dir, &tcg, &[strings], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert_no_trace(&dir, "strings.trace");

    // A bad record after many good ones, several threads.
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.extend_from_slice(&7u64.to_le_bytes());
    bytes.extend_from_slice(&[0; 40]);
    let bad = scratch.join("bad.trace");
    std::fs::write(&bad, &bytes).unwrap();
    let out = export(&dir, &events, &[bad], &["-j", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("bad.trace: record"),
        "{}",
        support::stderr(&out)
    );
    assert_no_trace(&dir, "bad.trace");

    // The output is an input, or holds one.
    let out = export(&good, &events, std::slice::from_ref(&good), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("refusing"),
        "{}",
        support::stderr(&out)
    );
    let inside = dir.join("records").join("inside.trace");
    std::fs::copy(&good, &inside).unwrap();
    let out = export(&dir, &events, std::slice::from_ref(&inside), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("refusing"),
        "{}",
        support::stderr(&out)
    );
    std::fs::remove_file(&inside).unwrap();
    assert_no_trace(&dir, "inside.trace");

    assert_eq!(
        on_dataset("SELECT * FROM records ORDER BY record", &dir),
        before
    );
}

/// A second trace is added beside the first; a name already there is
/// refused (usage) unless --replace, which replaces its partitions.
#[test]
fn appending_and_replacing() {
    let scratch = support::scratch("parquet_append");
    let dir = scratch.join("set");
    let events = support::testdata("sample.trace-events");
    let a = scratch.join("a.trace");
    let b = scratch.join("b.trace");
    std::fs::copy(support::testdata("sample.trace"), &a).unwrap();
    std::fs::copy(support::testdata("strings.trace"), &b).unwrap();
    assert!(
        export(&dir, &events, std::slice::from_ref(&a), &[])
            .status
            .success()
    );
    assert!(
        export(&dir, &events, std::slice::from_ref(&b), &[])
            .status
            .success()
    );
    let query =
        "SELECT trace, count(*) AS n, sum(pid) AS p FROM records GROUP BY trace ORDER BY trace";
    let both = [a.clone(), b.clone()];
    assert_eq!(on_dataset(query, &dir), direct(query, &events, &both));

    let out = export(&dir, &events, std::slice::from_ref(&b), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out).contains("has a trace named 'b.trace' already"),
        "{}",
        support::stderr(&out)
    );
    // b.trace is now another trace: --replace puts it in the old one's
    // place, tables it no longer has included.
    std::fs::copy(support::testdata("edge-deltas.trace"), &b).unwrap();
    let out = export(&dir, &events, std::slice::from_ref(&b), &["--replace"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    check_dataset(&events, &both, &dir, usize::MAX);
}

/// Trace names that need escaping in a partition directory are refused
/// (usage), before anything is written.
#[test]
fn partition_names_are_plain() {
    let scratch = support::scratch("parquet_names");
    let events = support::testdata("sample.trace-events");
    for name in ["a=b.trace", "_hidden", "sp ace"] {
        let t = scratch.join(name);
        std::fs::copy(support::testdata("sample.trace"), &t).unwrap();
        let dir = scratch.join("set");
        let out = export(&dir, &events, &[t], &[]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            support::stderr(&out).contains("cannot name a partition"),
            "{name}"
        );
        assert!(!dir.exists());
    }
}

/// `sql --dataset` takes no trace files; without either it is a usage
/// error; a directory that is no dataset is bad input.
#[test]
fn dataset_arguments() {
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let out = run(&[os("sql"), os("SELECT 1")]);
    assert_eq!(out.status.code(), Some(2));
    let scratch = support::scratch("parquet_dataset_args");
    let out = run(&[
        os("sql"),
        os("--dataset"),
        scratch.as_os_str(),
        os("SELECT 1"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    let out = run(&[
        os("sql"),
        os("--dataset"),
        scratch.as_os_str(),
        os("SELECT 1"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("no tables"),
        "{}",
        support::stderr(&out)
    );
}

/// The files are as docs/sql.md ("The files") says: ZSTD everywhere; the
/// schema version in the key-value metadata; min/max statistics on every
/// column but `args`, `raw`, `event` and `id` of `records`; `ts_ns`,
/// `record`, `file_offset` and `delta_ns` delta-encoded; no dictionary
/// for `pid` and the columns whose every value is new, one for `event`,
/// `id` and `args`.
#[test]
fn files_are_laid_out_as_documented() {
    use datafusion::parquet::basic::{Compression, Encoding};
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    let events = support::testdata("sample.trace-events");
    let traces = [support::testdata("sample.trace")];
    let dir = support::scratch("parquet_layout").join("set");
    let out = export(&dir, &events, &traces, &["-j", "1"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let file = std::fs::File::open(dir.join("records/trace=sample.trace/part-0.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let meta = reader.metadata();
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert!(
        kv.iter()
            .any(|k| k.key == "simpletrace.schema_version" && k.value.as_deref() == Some("1")),
        "{kv:?}"
    );
    let group = meta.row_group(0);
    assert!(group.num_rows() > 0);
    let mut seen = Vec::new();
    for column in group.columns() {
        let name = column.column_path().string();
        let has_minmax = column
            .statistics()
            .is_some_and(|s| s.min_bytes_opt().is_some() && s.max_bytes_opt().is_some());
        let encodings: Vec<Encoding> = column.encodings().collect();
        let dictionary = encodings.contains(&Encoding::RLE_DICTIONARY);
        assert!(
            matches!(column.compression(), Compression::ZSTD(_)),
            "{name}: {:?}",
            column.compression()
        );
        let unpruned = ["args", "raw", "event", "id"].contains(&name.as_str());
        // `raw` is null in every row here: nothing to take a min/max of.
        if name != "raw" {
            assert_eq!(has_minmax, !unpruned, "{name}: statistics");
        }
        match name.as_str() {
            "ts_ns" | "record" | "file_offset" | "delta_ns" => {
                assert!(
                    encodings.contains(&Encoding::DELTA_BINARY_PACKED),
                    "{name}: {encodings:?}"
                );
                assert!(!dictionary, "{name}: {encodings:?}");
            }
            "pid" => assert!(!dictionary, "{name}: {encodings:?}"),
            "event" | "id" | "args" => assert!(dictionary, "{name}: {encodings:?}"),
            _ => {}
        }
        seen.push(name);
    }
    assert_eq!(
        seen,
        [
            "event",
            "id",
            "ts_ns",
            "delta_ns",
            "pid",
            "record",
            "file_offset",
            "args",
            "raw"
        ]
    );
}

/// A dataset under a path with `*`, `?`, `[` and spaces reads as any
/// other (DataFusion would take a plain path with them for a pattern).
#[test]
fn a_dataset_under_a_path_with_pattern_characters() {
    let events = support::testdata("sample.trace-events");
    let traces = vec![support::testdata("sample.trace")];
    let dir = support::scratch("parquet_pattern_path").join("a [1] *?");
    let out = export(&dir, &events, &traces, &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let query = "SELECT trace, count(*) AS n FROM records GROUP BY trace";
    assert_eq!(on_dataset(query, &dir), direct(query, &events, &traces));
    // The engines' scripts could not name it: refused, saying why.
    let out = run(&[
        os("sql"),
        os("--dataset"),
        dir.as_os_str(),
        os("--views"),
        os("duckdb"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("as a pattern"),
        "{}",
        support::stderr(&out)
    );
}

/// `--views duckdb` and `--views spark` name every table `sql --dataset`
/// knows: one with files is read from its directory, one without is an
/// empty view (python/tests/test_parquet.py runs them in DuckDB).
#[test]
fn views_name_every_table() {
    let events = support::testdata("sample.trace-events");
    let traces = vec![support::testdata("sample.trace")];
    let dir = support::scratch("parquet_views").join("set");
    let out = export(&dir, &events, &traces, &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let known: Vec<String> = on_dataset(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
         ORDER BY table_name",
        &dir,
    )
    .lines()
    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["table_name"].to_string())
    .collect();
    let with_files = tables(&dir);
    assert!(known.len() > with_files.len(), "{known:?} {with_files:?}");
    let views = |engine: &str| {
        String::from_utf8(run_ok(&[
            os("sql"),
            os("--dataset"),
            dir.as_os_str(),
            os("--views"),
            os(engine),
        ]))
        .unwrap()
    };
    let (duck, spark) = (views("duckdb"), views("spark"));
    let root = std::path::absolute(&dir).unwrap();
    for table in &known {
        let bare = table.trim_matches('"');
        if with_files.iter().any(|t| t == bare) {
            assert!(duck.contains(&format!(
                "CREATE OR REPLACE VIEW {table} AS SELECT trace, * EXCLUDE (trace) FROM \
                 read_parquet('{}/{bare}/trace=*/*.parquet'",
                root.display()
            )));
            assert!(spark.contains(&format!("_files({table}, \"{}/{bare}\")", root.display())));
        } else {
            assert!(duck.contains(&format!(
                "CREATE OR REPLACE VIEW {table} AS SELECT CAST(NULL AS VARCHAR) AS \"trace\""
            )));
            assert!(spark.contains(&format!(
                "_empty({table}, [T.StructField(\"trace\", T.StringType(), True)"
            )));
        }
    }
    assert_eq!(duck.matches("CREATE OR REPLACE VIEW").count(), known.len());
    assert_eq!(
        spark.matches("\n_files(").count() + spark.matches("\n_empty(").count(),
        known.len()
    );
    // Never into a table's directory, where engines would read it as part
    // of the table (a query's result neither); beside the tables is fine.
    for (args, into) in [
        (vec!["--views", "duckdb"], "records/views.sql"),
        (
            vec!["--format", "csv", "SELECT 1 AS x"],
            "records/trace=sample.trace/x.csv",
        ),
    ] {
        let target = dir.join(into);
        let mut full = vec![
            os("sql"),
            os("--dataset"),
            dir.as_os_str(),
            os("-o"),
            target.as_os_str(),
        ];
        full.extend(args.iter().map(|a| os(a)));
        let out = run(&full);
        assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
        assert!(support::stderr(&out).contains("inside the dataset's table 'records'"));
        assert!(!target.exists());
    }
    let beside = dir.join("_views.sql");
    run_ok(&[
        os("sql"),
        os("--dataset"),
        dir.as_os_str(),
        os("--views"),
        os("duckdb"),
        os("-o"),
        beside.as_os_str(),
    ]);
    assert!(
        std::fs::read_to_string(&beside)
            .unwrap()
            .contains("CREATE OR REPLACE VIEW")
    );
    // Usage: --views needs --dataset and takes no QUERY.
    let out = run(&[os("sql"), os("--views"), os("duckdb")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out).contains("--dataset"),
        "{}",
        support::stderr(&out)
    );
    for args in [
        vec![os("sql"), os("--views"), os("duckdb")],
        vec![
            os("sql"),
            os("--dataset"),
            dir.as_os_str(),
            os("--views"),
            os("duckdb"),
            os("SELECT 1"),
        ],
        vec![
            os("sql"),
            os("--dataset"),
            dir.as_os_str(),
            os("--views"),
            os("trino"),
        ],
    ] {
        assert_eq!(run(&args).status.code(), Some(2));
    }
}
