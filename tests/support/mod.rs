//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod compress;
pub mod samples;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `simpletrace` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simpletrace"))
}

/// Runs `cmd` as `cmd | head -1` would: reads its first line of standard
/// output, then closes the pipe; the line and how the run ended.
pub fn first_line_then_closed(cmd: &mut Command) -> (Vec<u8>, Output) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = Vec::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_until(b'\n', &mut first)
        .unwrap();
    // The reader is dropped here, closing the pipe.
    (first, child.wait_with_output().unwrap())
}

/// Runs the binary with `args`, standard input closed.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running simpletrace")
}

/// `run`, which must succeed: its standard output.
pub fn run_ok(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out.stdout
}

/// Runs the binary with `args` and `input` on standard input (a pipe).
pub fn run_with_stdin<I, S>(args: I, input: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_with_stdin_from(args, std::io::Cursor::new(input.to_vec()))
}

/// Runs the binary with `args`, copying `input` into its standard input (a
/// pipe) from another thread. The binary may stop reading early; the
/// write then fails, and that is not an error.
pub fn run_with_stdin_from<I, S>(args: I, mut input: impl Read + Send + 'static) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running simpletrace");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = std::io::copy(&mut input, &mut stdin);
    });
    let out = child.wait_with_output().expect("waiting for simpletrace");
    writer.join().unwrap();
    out
}

/// The peak resident set of a running process in KiB (`VmHWM` in
/// `/proc/PID/status`), if it can be read.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Sends `signal` to a running child.
pub fn kill(child: &std::process::Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// A file in the project's `testdata/`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// A scratch directory for one test, emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The QEMU conformance corpus: `$SIMPLETRACE_CORPUS`, or `../shared/testdata`
/// beside the project. When it is missing, says so on the real standard
/// error (past the test harness's capture) and returns `None`.
pub fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("SIMPLETRACE_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
    };
    if dir.join("trace-events-all").is_file() {
        return Some(dir);
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** QEMU conformance corpus NOT FOUND at {}: the byte-for-byte comparisons \
         with simpletrace.py were NOT run. Set SIMPLETRACE_CORPUS to its directory. ***\n",
        dir.display()
    );
    None
}

/// Reads a golden file, gunzipping `*.gz`.
pub fn read_golden(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out
    } else {
        bytes
    }
}

/// Asserts two outputs are byte-identical; on a difference, shows the first
/// differing line of each with its number instead of two huge blobs.
#[track_caller]
pub fn assert_same_output(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let got_lines: Vec<&[u8]> = got.split(|&b| b == b'\n').collect();
    let want_lines: Vec<&[u8]> = want.split(|&b| b == b'\n').collect();
    let first = got_lines
        .iter()
        .zip(&want_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(got_lines.len().min(want_lines.len()));
    let show = |lines: &[&[u8]]| {
        lines.get(first).map_or("<end of output>".to_string(), |l| {
            String::from_utf8_lossy(l).into_owned()
        })
    };
    panic!(
        "{what}: output differs from the golden at line {}\n  got:  {}\n  want: {}\n\
         ({} lines vs {} lines)",
        first + 1,
        show(&got_lines),
        show(&want_lines),
        got_lines.len(),
        want_lines.len()
    );
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
