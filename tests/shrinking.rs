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

/// The command line, cut short while it writes to a pipe nobody reads
/// yet: every command that streams, one thread and two. The records
/// printed are exactly those before the one the message names, the
/// message names the file, the sizes and the offset, and the exit status
/// is 4.
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
    for command in commands {
        let full = {
            let mut args: Vec<&std::ffi::OsStr> = command.iter().map(|a| a.as_ref()).collect();
            args.extend([events.as_os_str(), whole.as_os_str()]);
            support::run(args).stdout
        };
        for threads in ["1", "2"] {
            let what = format!("{command:?} -j{threads}");
            let path = dir.join("trace");
            std::fs::write(&path, &bytes).unwrap();
            let mut child = support::bin()
                .args(command)
                .args(["-j", threads, "--chunk-size", "65536"])
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
            let stderr = support::stderr(&out);
            assert_eq!(out.status.code(), Some(4), "{what}: {stderr}");
            // After filter's summary, if any: the message.
            let err = stderr
                .split_inclusive('\n')
                .find(|l| l.starts_with("simpletrace: "))
                .unwrap_or_default();
            let head = format!(
                "simpletrace: {}: the file shrank from {} to 100000 bytes while it was read \
                 (another program truncated or rewrote it); reading stopped at record ",
                path.display(),
                bytes.len()
            );
            assert!(err.starts_with(&head), "{what}: {err}");
            assert!(
                err.ends_with(", and every record before it was read\n"),
                "{what}: {err}"
            );
            let stop = stopped_at(err);
            // Each event record is one line (or one record of the filtered
            // trace), records numbered with the 5 mappings first.
            if command.first() == Some(&"filter") {
                let partial = dir.join("partial");
                std::fs::write(&partial, &got).unwrap();
                let printed = support::run([events.as_os_str(), partial.as_os_str()]);
                assert!(
                    printed.status.success(),
                    "{what}: {}",
                    support::stderr(&printed)
                );
                assert_eq!(
                    printed.stdout.iter().filter(|&&b| b == b'\n').count(),
                    stop - 5,
                    "{what}"
                );
            } else {
                let lines = got.iter().filter(|&&b| b == b'\n').count();
                assert_eq!(lines, stop - 5, "{what}");
                assert!(full.starts_with(&got), "{what}");
            }
            assert!(
                stop > 1000,
                "{what}: stopped at {stop}: not blocked mid-run?"
            );
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

/// Waits until process `pid` has `path` open (or mapped), up to 30 s.
fn wait_until_open(pid: u32, path: &Path) {
    let target = std::fs::canonicalize(path).unwrap();
    for _ in 0..3000 {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains(target.to_str().unwrap()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
