//! `--progress always` draws the same bar for every command that reads a
//! trace: from a pipe (a spinner with the bytes read and the rate), and
//! from a compressed file, whose size is known (a bar over its compressed
//! bytes, with the time left). The bar goes to standard error only when it
//! is a terminal, so these tests run the binary under `script(1)`, which
//! gives it one; without `script` they say so and pass.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support;

/// The commands that read a trace, each with the arguments it needs before
/// the two files.
const COMMANDS: &[&[&str]] = &[
    &["print"],
    &["stats"],
    &["locks"],
    &["hist", "--event", "blk_co_preadv", "--arg", "bytes"],
    &["alloc"],
    &["json"],
    &["filter", "-o", "/dev/null"],
];

/// What `shell` wrote to the terminal `script` gave it, or `None` when
/// there is no `script` to run it under.
fn on_a_terminal(shell: &str) -> Option<String> {
    let out = Command::new("script")
        .args(["-qec", shell, "/dev/null"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) => {
            assert!(out.status.success(), "{shell}: {out:?}");
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => {
            eprintln!("*** script(1) not found ({e}): the progress bar tests were NOT run ***");
            None
        }
    }
}

/// `path` quoted for `sh`.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The command line of `args` reading `trace` (`-`: standard input), its
/// standard output thrown away.
fn command_line(args: &[&str], trace: &str) -> String {
    let events = quoted(&support::testdata("sample.trace-events"));
    format!(
        "{} {} --progress always {events} {trace} >/dev/null",
        quoted(Path::new(env!("CARGO_BIN_EXE_simpletrace"))),
        args.join(" "),
    )
}

/// From a pipe every command draws the spinner with the bytes read (the
/// report commands drew nothing: the driver told the bar how far it had
/// read only as output was written, or after 64 Ki records of a 4 MiB
/// block).
#[test]
fn every_command_draws_a_spinner_reading_a_pipe() {
    let trace = quoted(&support::testdata("sample.trace"));
    for args in COMMANDS {
        let shell = format!("cat {trace} | {}", command_line(args, "-"));
        let Some(terminal) = on_a_terminal(&shell) else {
            return;
        };
        // 17,944 bytes: the whole trace has been read when the bar is
        // drawn last.
        assert!(
            terminal.contains("17.52 KiB read, "),
            "{args:?}: {terminal:?}"
        );
    }
}

/// A compressed file, whose size is known: a bar over its compressed
/// bytes, to its whole size, with the time left.
#[test]
fn every_command_draws_a_bar_reading_a_compressed_file() {
    let dir = support::scratch("progress_compressed");
    let data = std::fs::read(support::testdata("sample.trace")).unwrap();
    for (_, ext, compress) in support::compress::compressors() {
        let path = dir.join(format!("sample.trace.{ext}"));
        std::fs::write(&path, compress(&data)).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        // indicatif's binary units, as the bar shows them.
        let whole = format!("{size} B/{size} B");
        let whole = if size < 1024 {
            whole
        } else {
            let kib = size as f64 / 1024.0;
            format!("{kib:.2} KiB/{kib:.2} KiB")
        };
        for args in COMMANDS {
            let Some(terminal) = on_a_terminal(&command_line(args, &quoted(&path))) else {
                return;
            };
            assert!(terminal.contains(&whole), "{ext} {args:?}: {terminal:?}");
            assert!(terminal.contains(" left"), "{ext} {args:?}: {terminal:?}");
        }
    }
}
