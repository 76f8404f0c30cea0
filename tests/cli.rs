//! Command-line behaviour: the drop-in form, `print`, standard input,
//! closed pipes, usage errors.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use simpletrace::format::{ArgValue, encode};

use crate::support;

fn sample_args() -> [std::path::PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

#[test]
fn print_subcommand_is_the_drop_in() {
    let [events, trace] = sample_args();
    let bare = support::run([&events, &trace]);
    let print = support::run([std::path::Path::new("print"), &events, &trace]);
    assert!(bare.status.success() && print.status.success());
    assert!(!bare.stdout.is_empty());
    assert_eq!(bare.stdout, print.stdout);
}

#[test]
fn trace_from_stdin() {
    let [events, trace] = sample_args();
    let bytes = std::fs::read(&trace).unwrap();
    let from_file = support::run([&events, &trace]);
    let from_stdin = support::run_with_stdin([events.to_str().unwrap(), "-"], &bytes);
    assert!(
        from_stdin.status.success(),
        "{}",
        support::stderr(&from_stdin)
    );
    assert_eq!(from_stdin.stdout, from_file.stdout);
}

/// `simpletrace ... | head -1`, for the drop-in printer and every command
/// that streams records: the reader goes away, we exit 0 without a word.
#[test]
fn closed_pipe_is_quiet_success() {
    let dir = support::scratch("closed_pipe");
    let events = dir.join("te");
    std::fs::write(&events, "tick(uint64_t n, const char *s) \"n %lu s %s\"\n").unwrap();
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"tick");
    for i in 0..200_000u64 {
        encode::event(
            &mut t,
            0,
            i * 10,
            1,
            &[ArgValue::Int(i), ArgValue::Str(b"some text")],
        );
    }
    let trace = dir.join("trace");
    std::fs::write(&trace, t).unwrap();
    for cmd in [
        &[][..],
        &["print", "--format", "log"][..],
        &["json"][..],
        &["json", "--format", "chrome"][..],
        &["filter", "-o", "-"][..],
    ] {
        let mut child = support::bin()
            .args(cmd)
            .args([&events, &trace])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = Vec::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_until(b'\n', &mut first)
            .unwrap();
        if cmd.is_empty() {
            assert_eq!(first, b"tick 0.000 pid=1 n=0x0 s=b'some text'\n");
        } else {
            assert!(!first.is_empty(), "{cmd:?}");
        }
        // The reader is dropped here, closing the pipe.
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        assert_eq!(support::stderr(&out), "", "{cmd:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["only-one"][..],
        &["a", "b", "c"][..],
        &["--frobnicate", "a", "b"][..],
    ] {
        let out = support::run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(support::stderr(&out).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn help_has_examples() {
    for args in [&["--help"][..], &["print", "--help"][..]] {
        let out = support::run(args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Examples:") && text.contains("--no-header"),
            "{text}"
        );
    }
}
