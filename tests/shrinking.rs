//! Issue 13: a trace file cut short while it is read (`truncate -s`, `cp
//! other trace`, a QEMU restarted with the same `-trace file=`). Before,
//! the first read of a vanished page ended the process with SIGBUS (exit
//! status 135, no message): these tests died with it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use simpletrace::analyzers::print::Parallelism;
use simpletrace::analyzers::subset::SubsetWriter;
use simpletrace::analyzers::{Driver, RunOptions, registry};
use simpletrace::format::{ArgValue, Error, FileOffset, TraceEvents, TraceReader, encode};
use simpletrace::input::TraceData;

use crate::support;

const EVENTS: &str = "tick(uint64_t n) \"n %lu\"\n\
                      say(const char *what, int n) \"%s %d\"\n\
                      qemu_mutex_lock(void *mutex, const char *file, const int line) \"m %p\"\n\
                      qemu_mutex_locked(void *mutex, const char *file, const int line) \"m %p\"\n\
                      qemu_mutex_unlock(void *mutex, const char *file, const int line) \"m %p\"\n";

/// A version-4 trace of `n` records of every event above, with strings of
/// varied lengths, and the offset of each event record.
fn trace(n: u64) -> (Vec<u8>, Vec<usize>) {
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    for (id, name) in [
        "tick",
        "say",
        "qemu_mutex_lock",
        "qemu_mutex_locked",
        "qemu_mutex_unlock",
    ]
    .iter()
    .enumerate()
    {
        encode::mapping(&mut t, id as u64, name.as_bytes());
    }
    let mut starts = Vec::new();
    let text: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    for i in 0..n {
        starts.push(t.len());
        let ts = i * 100;
        let pid = (i % 3) as u32;
        match i % 5 {
            0 => encode::event(&mut t, 0, ts, pid, &[ArgValue::Int(i)]),
            1 => {
                let s = &text[..(i as usize * 7) % 300];
                encode::event(&mut t, 1, ts, pid, &[ArgValue::Str(s), ArgValue::Int(i)]);
            }
            k => {
                let mutex = ArgValue::Int(0x1000 + (i / 5) % 7);
                let args = [mutex, ArgValue::Str(b"util/x.c"), ArgValue::Int(i)];
                encode::event(&mut t, k, ts, pid, &args);
            }
        }
    }
    (t, starts)
}

/// What each analyzer of a run wrote and reported.
#[derive(Debug, PartialEq)]
struct Seen {
    out: Vec<u8>,
    reports: Vec<(String, serde_json::Value)>,
    records: u64,
}

/// Runs the built-in analyzer `name` (or `filter`, into memory) over
/// `reader`.
fn run(name: &str, reader: TraceReader<'_>, threads: usize) -> (Seen, Option<Error>) {
    let mut driver = Driver::new();
    let written = Arc::new(Mutex::new(Vec::new()));
    if name == "filter" {
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        driver.add(SubsetWriter::new(
            Box::new(Shared(Arc::clone(&written))),
            "memory",
        ));
    } else {
        let entry = registry().into_iter().find(|e| e.name == name).unwrap();
        entry.add_to(&mut driver);
    }
    let options = RunOptions {
        parallelism: Parallelism {
            threads,
            chunk_bytes: 16 << 10,
        },
        ..RunOptions::default()
    };
    let mut out = Vec::new();
    let outcome = driver.run(reader, &mut out, options).unwrap();
    out.extend_from_slice(&written.lock().unwrap());
    let seen = Seen {
        out,
        reports: outcome
            .reports
            .into_iter()
            .map(|r| {
                // A streamed report (stats, locks...) written out whole.
                let r = r.complete();
                (r.text, r.json)
            })
            .collect(),
        records: outcome.records,
    };
    (seen, outcome.fault)
}

/// Every analyzer, on one thread and two, with and without resyncing,
/// over a mapped trace cut short after it was opened: no SIGBUS; the run
/// stops with `Error::Cut` at the record that reaches past the cut, and
/// everything it wrote and reported is what a run over the records before
/// that one gives.
#[test]
fn a_mapped_trace_cut_short_stops_at_the_cut() {
    let dir = support::scratch("a_mapped_trace_cut_short");
    let events = TraceEvents::parse("events", EVENTS.as_bytes()).unwrap();
    let (bytes, starts) = trace(40_000);
    // Page-aligned cuts: the records before are whole on pages that stay.
    for cut in [64 << 10, 600 << 10] {
        let stop = starts.iter().position(|&s| s >= cut).unwrap() - 1;
        let stop_at = starts[stop];
        assert!(stop_at < cut && starts[stop + 1] > cut);
        let prefix = &bytes[..stop_at];
        for name in [
            "print", "log", "json", "chrome", "stats", "locks", "alloc", "filter",
        ] {
            for threads in [1, 2] {
                for resync in [false, true] {
                    let what = format!("{name}, cut at {cut}, -j{threads}, resync {resync}");
                    let want = run(
                        name,
                        TraceReader::new(prefix, &events)
                            .unwrap()
                            .with_resync(resync),
                        threads,
                    );
                    assert_eq!(want.1, None, "{what}");
                    let path = dir.join("trace");
                    std::fs::write(&path, &bytes).unwrap();
                    let data = TraceData::open(&path).unwrap();
                    assert!(data.is_mapped());
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(cut as u64)
                        .unwrap();
                    let reader = data.reader(&events).unwrap().with_resync(resync);
                    let (seen, fault) = run(name, reader, threads);
                    match fault {
                        Some(Error::Cut { at, valid }) => {
                            assert_eq!(at.offset, FileOffset(stop_at as u64), "{what}");
                            assert_eq!(valid, FileOffset(cut as u64), "{what}");
                        }
                        other => panic!("{what}: {other:?}"),
                    }
                    assert_eq!(seen, want.0, "{what}");
                    let shrink = data.shrink().unwrap();
                    assert_eq!(shrink.mapped, bytes.len() as u64);
                    assert_eq!(shrink.now, Some(cut as u64));
                    assert_eq!(shrink.caught_at, Some(cut as u64), "{what}");
                }
            }
        }
    }
}

/// Cut to nothing before the header is read: the header reads as zeros,
/// and the shrink is there to say why.
#[test]
fn a_mapped_trace_emptied_before_its_header() {
    let dir = support::scratch("a_mapped_trace_emptied");
    let events = TraceEvents::parse("events", EVENTS.as_bytes()).unwrap();
    let path = dir.join("trace");
    std::fs::write(&path, trace(1000).0).unwrap();
    let data = TraceData::open(&path).unwrap();
    std::fs::File::create(&path).unwrap();
    assert!(data.reader(&events).is_err());
    let shrink = data.shrink().unwrap();
    assert_eq!((shrink.now, shrink.caught_at), (Some(0), Some(0)));
    assert_eq!(
        shrink.to_string(),
        format!(
            "the file shrank from {} to 0 bytes while it was read (another program truncated \
             or rewrote it)",
            shrink.mapped
        )
    );
}

/// The number in "reading stopped at record N" of a message.
fn stopped_at(message: &str) -> usize {
    let rest = message
        .split("reading stopped at record ")
        .nth(1)
        .unwrap_or_else(|| {
            panic!("no stop in {message}");
        });
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Runs `command` (with `-j threads` and small chunks) over a copy of
/// `bytes`, cuts the copy to `cut` bytes once the command is blocked on a
/// full pipe nobody reads yet, then reads everything; returns the run and
/// all it wrote.
fn cut_while_blocked(
    dir: &Path,
    events: &Path,
    bytes: &[u8],
    command: &[&str],
    threads: &str,
    cut: u64,
) -> (std::process::Output, Vec<u8>) {
    let path = dir.join("trace");
    std::fs::write(&path, bytes).unwrap();
    let mut child = support::bin()
        .args(command)
        .args(["-j", threads, "--chunk-size", "65536"])
        .arg(events)
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Running, and soon blocked on the full pipe.
    let mut got = vec![0; 4096];
    stdout.read_exact(&mut got).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    stdout.read_to_end(&mut got).unwrap();
    (child.wait_with_output().unwrap(), got)
}

/// What `simpletrace EVENTS TRACE` prints, for a trace in memory.
fn printed(dir: &Path, events: &Path, trace: &[u8]) -> Vec<u8> {
    let path = dir.join("printed");
    std::fs::write(&path, trace).unwrap();
    let out = support::run([events.as_os_str(), path.as_os_str()]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    out.stdout
}

/// Checks a run cut short: status 4, the message, and output that is
/// exactly the whole run's output up to the record the message names
/// (`filter`'s: a trace that prints as that much of the input does).
#[track_caller]
fn assert_cut(
    what: &str,
    (out, got): &(std::process::Output, Vec<u8>),
    full: &[u8],
    head: &str,
    filter: Option<(&Path, &Path)>,
) {
    let stderr = support::stderr(out);
    assert_eq!(out.status.code(), Some(4), "{what}: {stderr}");
    // After filter's summary, if any: the message.
    let err = stderr
        .split_inclusive('\n')
        .find(|l| l.starts_with("simpletrace: "))
        .unwrap_or_default();
    assert!(err.starts_with(head), "{what}: {err}");
    let stop = stopped_at(err);
    assert!(
        stop > 1000,
        "{what}: stopped at {stop}: not blocked mid-run?"
    );
    let got = match filter {
        Some((dir, events)) => printed(dir, events, got),
        None => got.clone(),
    };
    // Each event record is one line, records numbered with the 5 mappings
    // first.
    let lines = got.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(lines, stop - 5, "{what}");
    assert!(
        full.starts_with(&got),
        "{what}: not what the whole file gives"
    );
}

/// The command line, cut short behind the reader while it writes to a
/// pipe nobody reads yet: every command that streams, one thread and two
/// (with two, `filter`'s records travel from the worker that read them to
/// the main thread, which writes them), with and without `--resync`. The
/// records written are exactly those before the one the message names,
/// the message names the file, the sizes and the offset, and the exit
/// status is 4.
#[test]
fn the_command_line_says_where_the_file_was_cut() {
    let dir = support::scratch("the_command_line_says_where");
    let events = dir.join("events");
    std::fs::write(&events, EVENTS).unwrap();
    let (bytes, _) = trace(150_000);
    let whole = dir.join("whole");
    std::fs::write(&whole, &bytes).unwrap();
    let commands: [&[&str]; 4] = [
        &[],
        &["json"],
        &["print", "--format", "log"],
        &["filter", "-o", "-"],
    ];
    let head = format!(
        "simpletrace: {}: the file shrank from {} to 100000 bytes while it was read \
         (another program truncated or rewrote it); reading stopped at record ",
        dir.join("trace").display(),
        bytes.len()
    );
    for command in commands {
        let is_filter = command.first() == Some(&"filter");
        let full = {
            let mut args: Vec<&std::ffi::OsStr> = command.iter().map(|a| a.as_ref()).collect();
            args.extend([events.as_os_str(), whole.as_os_str()]);
            let out = support::run(args).stdout;
            if is_filter {
                printed(&dir, &events, &out)
            } else {
                out
            }
        };
        for threads in ["1", "2"] {
            for resync in [false, true] {
                let mut args = command.to_vec();
                if resync {
                    args.push("--resync");
                }
                let what = format!("{args:?} -j{threads}");
                let run = cut_while_blocked(&dir, &events, &bytes, &args, threads, 100_000);
                let filter = is_filter.then_some((dir.as_path(), events.as_path()));
                assert_cut(&what, &run, &full, &head, filter);
                let err = support::stderr(&run.0);
                assert!(
                    err.ends_with(", and every record before it was read\n"),
                    "{what}: {err}"
                );
            }
        }
    }
}

/// Cut ahead of the reader, inside a record and inside a page (the usual
/// case when another program copies a shorter file over the trace): the
/// kernel leaves zeros after the new end in that last page, which the
/// reader meets before any vanished page. With or without `--resync` the
/// run stops there with status 4 (not 3: the zeros are no corrupt region
/// of the file), and writes exactly the records before.
#[test]
fn a_cut_ahead_of_the_reader_inside_a_page() {
    let dir = support::scratch("a_cut_ahead_of_the_reader");
    let events = dir.join("events");
    std::fs::write(&events, EVENTS).unwrap();
    let (bytes, starts) = trace(150_000);
    let whole = dir.join("whole");
    std::fs::write(&whole, &bytes).unwrap();
    let full = support::run([events.as_os_str(), whole.as_os_str()]).stdout;
    // 3 bytes into a record near 8 MB, and not on a page boundary.
    let record = starts
        .iter()
        .position(|&s| s > 8 << 20 && (s + 3) % 4096 != 0)
        .unwrap();
    let cut = (starts[record] + 3) as u64;
    let head = format!(
        "simpletrace: {}: the file shrank from {} to {cut} bytes while it was read \
         (another program truncated or rewrote it); reading stopped at record ",
        dir.join("trace").display(),
        bytes.len()
    );
    for threads in ["1", "2"] {
        for resync in [&[][..], &["--resync"]] {
            let what = format!("{resync:?} -j{threads}");
            let run = cut_while_blocked(&dir, &events, &bytes, resync, threads, cut);
            assert_cut(&what, &run, &full, &head, None);
            // Stopped at the record the cut went through, or before.
            assert!(stopped_at(&support::stderr(&run.0)) <= record + 5, "{what}");
        }
    }
}

/// A report command (nothing streams to block on): `cp other trace` while
/// it reads, from a thread that waits until the command has the file
/// open; whatever the timing, the status is 0 with the whole file read
/// before the copy, or 4 with the message, never a signal.
#[test]
fn a_report_command_survives_a_copy_over_its_trace() {
    let dir = support::scratch("a_report_command_survives");
    let events = dir.join("events");
    std::fs::write(&events, EVENTS).unwrap();
    let (bytes, _) = trace(400_000);
    let (other, _) = trace(10);
    for command in [["stats"], ["locks"], ["alloc"]] {
        let path: PathBuf = dir.join("trace");
        std::fs::write(&path, &bytes).unwrap();
        let child = support::bin()
            .args(command)
            .arg(&events)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_open(child.id(), &path);
        std::fs::write(&path, &other).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = support::stderr(&out);
        match out.status.code() {
            Some(0) => assert!(!err.contains("panicked"), "{command:?}: {err}"),
            Some(4) => assert!(err.contains("the file shrank from"), "{command:?}: {err}"),
            other => panic!("{command:?}: status {other:?}: {err}"),
        }
    }
}

/// Waits until process `pid` has `path` mapped, up to 30 s.
fn wait_until_open(pid: u32, path: &Path) {
    let target = std::fs::canonicalize(path).unwrap();
    for _ in 0..3000 {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains(target.to_str().unwrap()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "{} was not mapped by process {pid} within 30 s",
        path.display()
    );
}

/// `simpletrace sql` (the `sql` feature), cut short behind the reader
/// while it writes JSON Lines to a pipe nobody reads yet, on one
/// partition and two: exit status 4 and the message every command gives
/// (it was the record fault, status 1, before).
#[cfg(feature = "sql")]
#[test]
fn sql_says_where_the_file_was_cut() {
    let dir = support::scratch("sql_says_where_the_file_was_cut");
    let events = dir.join("events");
    std::fs::write(&events, EVENTS).unwrap();
    let (bytes, _) = trace(150_000);
    let path = dir.join("trace");
    let head = format!(
        "simpletrace: trace: the file shrank from {} to 100000 bytes while it was read \
         (another program truncated or rewrote it); reading stopped at record ",
        bytes.len()
    );
    for threads in ["1", "2"] {
        std::fs::write(&path, &bytes).unwrap();
        let mut child = support::bin()
            .args(["sql", "--format", "jsonl", "-j", threads])
            .arg("SELECT * FROM records")
            .arg(&events)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // Running, and soon blocked on the full pipe.
        let mut got = vec![0; 4096];
        stdout.read_exact(&mut got).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100_000)
            .unwrap();
        stdout.read_to_end(&mut got).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(4), "-j{threads}: {err}");
        assert!(err.starts_with(&head), "-j{threads}: {err}");
        assert!(
            stopped_at(&err) > 1000,
            "-j{threads}: not blocked mid-run? {err}"
        );
    }
}

/// The library under `sql` and `parquet`: a trace mapped, then cut short
/// before it is read; the query's error and the export's carry the fault
/// with how the file shrank (`TraceFault::shrink`), which the command line
/// turns into exit status 4. A fault well inside a trace that did not
/// shrink has none.
#[cfg(feature = "sql")]
#[test]
fn sql_and_export_faults_say_the_file_shrank() {
    use datafusion::error::DataFusionError;
    use datafusion::prelude::SessionContext;
    use simpletrace::sql::export::{ExportError, ExportOptions, export_trace};
    use simpletrace::sql::{TraceFault, TraceTables};

    let dir = support::scratch("sql_and_export_faults_say_the_file_shrank");
    let events = TraceEvents::parse("events", EVENTS.as_bytes()).unwrap();
    let (bytes, starts) = trace(150_000);
    let path = dir.join("trace");
    let cut = 100_000u64;
    let shrink_of = |fault: &TraceFault| {
        let shrink = fault.shrink.unwrap_or_else(|| panic!("no shrink: {fault}"));
        assert_eq!((shrink.mapped, shrink.now), (bytes.len() as u64, Some(cut)));
    };
    let truncate = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let query = |data: TraceData| -> DataFusionError {
        let mut tables = TraceTables::new(events.clone());
        tables.add("trace", data, false).unwrap();
        let ctx = SessionContext::new();
        tables.register(&ctx).unwrap();
        rt.block_on(async {
            ctx.sql("SELECT count(*) FROM records")
                .await?
                .collect()
                .await
        })
        .unwrap_err()
    };
    let fault_of = |e: &DataFusionError| -> Option<TraceFault> {
        match e.find_root() {
            DataFusionError::External(inner) => {
                inner.downcast_ref::<TraceFault>().map(|f| TraceFault {
                    trace: f.trace.clone(),
                    error: f.error.clone(),
                    shrink: f.shrink,
                })
            }
            _ => None,
        }
    };
    // A query.
    std::fs::write(&path, &bytes).unwrap();
    let data = TraceData::open(&path).unwrap();
    truncate();
    let e = query(data);
    shrink_of(&fault_of(&e).unwrap_or_else(|| panic!("not a trace fault: {e}")));
    // An export.
    std::fs::write(&path, &bytes).unwrap();
    let data = TraceData::open(&path).unwrap();
    truncate();
    let options = ExportOptions {
        threads: 2,
        replace: false,
        resync: false,
    };
    match export_trace(
        &dir.join("dataset"),
        &events,
        "trace",
        data,
        false,
        &options,
    ) {
        Err(ExportError::Fault(fault)) => shrink_of(&fault),
        other => panic!("not a trace fault: {other:?}"),
    }
    // A corrupt record far from any cut: the file's own fault.
    let mut bad = bytes.clone();
    let at = starts[1000];
    // An unknown record type.
    bad[at..at + 8].copy_from_slice(&7u64.to_le_bytes());
    std::fs::write(&path, &bad).unwrap();
    let e = query(TraceData::open(&path).unwrap());
    let fault = fault_of(&e).unwrap_or_else(|| panic!("not a trace fault: {e}"));
    assert!(fault.shrink.is_none(), "{fault}");
}
