//! Issue 13: outputs never destroy inputs and never look complete when
//! they are not; results never vanish into a closed standard output.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use simpletrace::format::{ArgValue, encode};

use crate::support;

/// A trace of `n` small records of two events, and its events file.
fn small_trace(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let events = dir.join("events");
    std::fs::write(
        &events,
        "tick(uint64_t n) \"n %lu\"\ntock(int x) \"x %d\"\n",
    )
    .unwrap();
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"tick");
    encode::mapping(&mut t, 1, b"tock");
    for i in 0..n {
        encode::event(&mut t, i % 2, i * 10, 7, &[ArgValue::Int(i)]);
    }
    let trace = dir.join("trace");
    std::fs::write(&trace, t).unwrap();
    (events, trace)
}

/// What the drop-in printer prints for `trace`.
fn printed(events: &Path, trace: &Path) -> Vec<u8> {
    let out = support::run([events, trace]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    out.stdout
}

fn args(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    list.iter().map(|a| a.as_ref().to_owned()).collect()
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[track_caller]
fn assert_refused(out: &Output, path: &Path) {
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(out));
    assert_eq!(
        support::stderr(out),
        format!(
            "simpletrace: {}: refusing to write over an input of this run (the same file, by \
             device and inode)\n",
            path.display()
        )
    );
}

/// `-o` and `--svg` are refused when they name any input, however named:
/// a hard link, a symbolic link, the file behind standard input, the
/// trace-events file, the `--events-file`. Before, all of these were
/// truncated or overwritten (only the trace's own path was checked).
#[test]
fn outputs_never_overwrite_an_input() {
    let dir = support::scratch("outputs_never_overwrite_an_input");
    let (events, trace) = small_trace(&dir, 100);
    let hard = dir.join("hard.bin");
    std::fs::hard_link(&trace, &hard).unwrap();
    let soft = dir.join("soft.bin");
    std::os::unix::fs::symlink(&trace, &soft).unwrap();
    let patterns = dir.join("patterns");
    std::fs::write(&patterns, "tick\n").unwrap();
    let original = [
        (trace.clone(), std::fs::read(&trace).unwrap()),
        (events.clone(), std::fs::read(&events).unwrap()),
        (patterns.clone(), std::fs::read(&patterns).unwrap()),
    ];
    for target in [&hard, &soft, &events] {
        let out = support::run(args(&[&"filter", &"-o", target, &events, &trace]));
        assert_refused(&out, target);
    }
    let out = support::run(args(&[
        &"filter",
        &"--events-file",
        &patterns,
        &"-o",
        &patterns,
        &events,
        &trace,
    ]));
    assert_refused(&out, &patterns);
    // The trace on standard input, the output named by another path.
    let out = support::bin()
        .args(args(&[&"filter", &"-o", &hard, &events, &"-"]))
        .stdin(std::fs::File::open(&trace).unwrap())
        .output()
        .unwrap();
    assert_refused(&out, &hard);
    let out = support::run(args(&[
        &"hist", &"--event", &"tick", &"--arg", &"n", &"--svg", &hard, &events, &trace,
    ]));
    assert_refused(&out, &hard);
    let out = support::run(args(&[
        &"hist", &"--event", &"tick", &"--arg", &"n", &"--svg", &events, &events, &trace,
    ]));
    assert_refused(&out, &events);
    for (path, bytes) in &original {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    // A directory is no output either; nothing ran.
    let out = support::run(args(&[&"filter", &"-o", &dir, &events, &trace]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("is a directory"),
        "{}",
        support::stderr(&out)
    );
}

/// A successful `filter -o` replaces an older file at the target only when
/// it is done, and leaves nothing else behind.
#[test]
fn outputs_appear_whole() {
    let dir = support::scratch("outputs_appear_whole");
    let (events, trace) = small_trace(&dir, 1000);
    let out_path = dir.join("out.trace");
    std::fs::write(&out_path, b"an older file").unwrap();
    let out = support::run(args(&[&"filter", &"-o", &out_path, &events, &trace]));
    assert!(out.status.success(), "{}", support::stderr(&out));
    support::assert_same_output(
        "filtered",
        &printed(&events, &out_path),
        &printed(&events, &trace),
    );
    assert_eq!(entries(&dir), ["events", "out.trace", "trace"]);
    let svg = dir.join("plot.svg");
    let out = support::run(args(&[
        &"hist", &"--event", &"tick", &"--arg", &"n", &"--svg", &svg, &events, &trace,
    ]));
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert_eq!(entries(&dir), ["events", "out.trace", "plot.svg", "trace"]);
}

/// A corrupt record stops `filter -o` (status 1): the records before it
/// go to `OUT.partial`, not to `OUT`, which a later reader would take for
/// the whole result (before, `OUT` was a well-formed shorter trace that
/// printed with status 0); an older `OUT` stays as it was.
#[test]
fn a_fault_leaves_a_partial_output_under_another_name() {
    let dir = support::scratch("a_fault_leaves_a_partial_output");
    let (events, good) = small_trace(&dir, 50);
    let mut bytes = std::fs::read(&good).unwrap();
    encode::event_header(&mut bytes, 0, 999, 8, 7); // length 8: corrupt
    bytes.extend([0u8; 64]);
    let trace = dir.join("bad");
    std::fs::write(&trace, &bytes).unwrap();
    let out_path = dir.join("out.trace");
    std::fs::write(&out_path, b"an older file").unwrap();
    let out = support::run(args(&[&"filter", &"-o", &out_path, &events, &trace]));
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    let partial = dir.join("out.trace.partial");
    assert!(
        support::stderr(&out).ends_with(&format!(
            "record length 8 is shorter than the 24-byte event header; what was written before \
             that is in {}, not in {}\n",
            partial.display(),
            out_path.display()
        )),
        "{}",
        support::stderr(&out)
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), b"an older file");
    // The partial output holds exactly the records before the fault.
    support::assert_same_output(
        "partial",
        &printed(&events, &partial),
        &printed(&events, &good),
    );
    assert_eq!(
        entries(&dir),
        ["bad", "events", "out.trace", "out.trace.partial", "trace"]
    );
}

/// Writing fails part way (here the file-size limit, as a full disk
/// would): status 1, and no file at the target, nor a temporary one left.
#[test]
fn a_failed_write_leaves_nothing() {
    let dir = support::scratch("a_failed_write_leaves_nothing");
    let (events, trace) = small_trace(&dir, 20_000);
    let out_path = dir.join("out.trace");
    let mut cmd = support::bin();
    cmd.args(args(&[&"filter", &"-o", &out_path, &events, &trace]))
        .stdin(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls are
    // made (setrlimit, signal).
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("File too large"),
        "{}",
        support::stderr(&out)
    );
    assert_eq!(entries(&dir), ["events", "trace"]);
}

/// `filter -o` killed part way (SIGKILL: nothing can be cleaned up) leaves
/// no file at the target; before, the target held a well-formed, shorter
/// trace. The trace comes through a FIFO, so the kill lands mid-run.
#[test]
fn a_killed_filter_leaves_no_output() {
    let dir = support::scratch("a_killed_filter_leaves_no_output");
    let (events, whole) = small_trace(&dir, 200_000);
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out_path = dir.join("out.trace");
    let mut child = support::bin()
        .args(args(&[
            &"filter",
            &"--chunk-size",
            &"65536",
            &"-o",
            &out_path,
            &events,
            &fifo,
        ]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Most of the trace, and the FIFO held open: the run waits for more.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    std::io::Write::write_all(&mut writer, &bytes[..bytes.len() - 100]).unwrap();
    // Wait until output has reached the disk (a buffer of 1 MiB is flushed).
    let deadline = Instant::now() + Duration::from_secs(60);
    let written = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name();
                n != "events" && n != "trace" && n != "fifo"
            })
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    };
    while written(&dir) == 0 {
        assert!(Instant::now() < deadline, "no output after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(writer);
    assert!(!out_path.exists(), "{:?}", entries(&dir));
    // What is left is a hidden temporary file, not the output.
    for name in entries(&dir) {
        assert!(
            ["events", "trace", "fifo"].contains(&name.as_str())
                || (name.starts_with(".out.trace.") && name.ends_with(".simpletrace-tmp")),
            "{name}"
        );
    }
}

/// Runs the binary with its standard output closed.
fn with_stdout_closed(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = support::bin();
    cmd.args(args(list))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: close is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

const CLOSED: &str = "simpletrace: writing the output failed: standard output is closed \
                      (redirect it to a file, or to /dev/null to discard the results)\n";

/// Results into a closed standard output are an error (status 1), not a
/// silent success; so is `--help` into a full disk. A command whose
/// results go to a file still runs.
#[test]
fn a_closed_or_full_standard_output_is_an_error() {
    let dir = support::scratch("a_closed_standard_output");
    let (events, trace) = small_trace(&dir, 100);
    for command in [
        &[&"stats" as &dyn AsRef<std::ffi::OsStr>, &events, &trace][..],
        &[&events, &trace],
        &[&"json", &events, &trace],
        &[&"filter", &"-o", &"-", &events, &trace],
        &[&"--help"],
        &[&"stats", &"--help"],
        &[&"--version"],
        &[&"man"],
    ] {
        let out = with_stdout_closed(command);
        assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
        assert_eq!(support::stderr(&out), CLOSED);
    }
    let out_path = dir.join("out");
    let out = with_stdout_closed(&[&"filter", &"-o", &out_path, &events, &trace]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    support::assert_same_output(
        "filtered",
        &printed(&events, &out_path),
        &printed(&events, &trace),
    );
    // A full disk behind standard output.
    for command in [&["--help"][..], &["--version"], &["completions", "bash"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_simpletrace"))
            .args(command)
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(
            support::stderr(&out).contains("No space left on device"),
            "{}",
            support::stderr(&out)
        );
    }
    // /dev/null, opened read-write as Python's subprocess.DEVNULL does, is
    // a place to discard results, not a closed stream.
    let out = Command::new(env!("CARGO_BIN_EXE_simpletrace"))
        .args(args(&[&"stats", &events, &trace]))
        .stdout(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
}

/// Runs the binary with a standard output whose reader is already gone.
fn into_a_closed_pipe(list: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut child = support::bin()
        .args(args(list))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// A reader that stops early (`| head`) is no failure, for `--help` too,
/// and a file the run writes meanwhile is put in place (before, `hist
/// --svg` removed its finished plot, and `--help` failed with status 1).
#[test]
fn a_closed_pipe_is_success_and_keeps_files() {
    let dir = support::scratch("a_closed_pipe_is_success");
    let (events, trace) = small_trace(&dir, 5000);
    for command in [
        &[&"--help" as &dyn AsRef<std::ffi::OsStr>][..],
        &[&"--version"],
    ] {
        let out = into_a_closed_pipe(command);
        assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    }
    let svg = dir.join("plot.svg");
    let out = into_a_closed_pipe(&[
        &"hist", &"--event", &"tick", &"--arg", &"n", &"--svg", &svg, &events, &trace,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // `run --output`: the file's report is written before standard
    // output's, so the run's end reached it.
    let stats = dir.join("stats.txt");
    let to = format!("stats={}", stats.display());
    let out = into_a_closed_pipe(&[
        &"run",
        &"--plugin",
        &"stats",
        &"--plugin",
        &"locks",
        &"--output",
        &to,
        &events,
        &trace,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert!(std::fs::read_to_string(&stats).unwrap().contains("records"));
}

/// `filter -o OUT` over a trace called `OUT.partial` (re-filtering a
/// partial output) that is itself faulty: the new partial output must not
/// replace its own input; it stays under its temporary name, which the
/// message gives.
#[test]
fn a_partial_output_never_replaces_its_input() {
    let dir = support::scratch("a_partial_output_never_replaces");
    let (events, good) = small_trace(&dir, 50);
    let mut bytes = std::fs::read(&good).unwrap();
    encode::event_header(&mut bytes, 0, 999, 8, 7); // length 8: corrupt
    let input = dir.join("out.partial");
    std::fs::write(&input, &bytes).unwrap();
    let out = support::run(args(&[&"filter", &"-o", &dir.join("out"), &events, &input]));
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
    let err = support::stderr(&out);
    let kept = err
        .split("what was written before that is in ")
        .nth(1)
        .and_then(|rest| rest.split(", not in ").next())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(kept.ends_with(".simpletrace-tmp"), "{err}");
    support::assert_same_output(
        "kept",
        &printed(&events, Path::new(kept)),
        &printed(&events, &good),
    );
}
