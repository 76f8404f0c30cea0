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

/// The names in parentheses after `marker` in `text`: a comma-separated
/// list, maybe in backticks and across lines.
fn names_after(text: &str, marker: &str) -> Vec<String> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {text}"))
        + marker.len();
    let rest = &text[at..];
    let open = rest.find('(').unwrap();
    let close = rest.find(')').unwrap();
    rest[open + 1..close]
        .split(',')
        .map(|n| n.trim().trim_matches('`').to_owned())
        .collect()
}

/// One registry: every analyzer `registry()` lists is named in `run
/// --help` (and in docs/cli.md) and taken by `run --plugin`; the help
/// lists nothing the registry lacks (issue 14, item 6).
#[test]
fn run_help_and_plugin_names_are_the_registry() {
    let registry: Vec<String> = simpletrace::analyzers::registry()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let help = support::run(["run", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert_eq!(names_after(&help, "a built-in name"), registry, "{help}");
    let short = String::from_utf8(support::run(["run", "-h"]).stdout).unwrap();
    assert_eq!(names_after(&short, "a built-in name"), registry, "{short}");
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md"),
    )
    .unwrap();
    assert_eq!(names_after(&docs, "built-in ones by name"), registry);
    let [events, trace] = sample_args();
    for name in &registry {
        let out = support::run([
            std::ffi::OsStr::new("run"),
            "--plugin".as_ref(),
            name.as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        assert!(out.status.success(), "{name}: {}", support::stderr(&out));
    }
    // And the refusal lists the same names.
    let out = support::run(["run", "--plugin", "nosuch", "te", "t"]);
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!("(built in: {};", registry.join(", "))),
        "{err}"
    );
}
