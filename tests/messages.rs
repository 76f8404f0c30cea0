//! Messages that teach (issue 16, items 5 and 8): event patterns that
//! match nothing, empty time windows, times without a unit, cut-off
//! compressed traces, headerless traces, `-` as the trace-events file,
//! and trace-events files that do not fit the trace.

use std::path::{Path, PathBuf};

use crate::support;

fn sample_args() -> [PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

fn run(args: &[&str], events: &Path, trace: &Path) -> std::process::Output {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.push(events.as_os_str());
    all.push(trace.as_os_str());
    support::run(all)
}

#[test]
fn patterns_that_match_nothing_warn_with_the_closest_name() {
    let [events, trace] = sample_args();
    let plain = run(&["print", "--events", "lock_acquire"], &events, &trace);
    let out = run(
        &["print", "--events", "lock_acquire,lock_acquir,-nothing_*"],
        &events,
        &trace,
    );
    // The output is what the patterns that match select; exit status 0.
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(!out.stdout.is_empty());
    assert_eq!(out.stdout, plain.stdout);
    let err = support::stderr(&out);
    let ev = events.display();
    assert_eq!(
        err,
        format!(
            "simpletrace: warning: --events: 'lock_acquir' matches no event declared in {ev} \
             (did you mean 'lock_acquire'?)\n\
             simpletrace: warning: --events: '-nothing_*' matches no event declared in {ev}\n"
        )
    );
    assert!(support::stderr(&plain).is_empty());

    // Every pattern matching nothing: still a warning (the selection is
    // empty), as QEMU's -trace events=FILE does; and for an events file.
    let dir = support::scratch("messages-events-file");
    let file = dir.join("events");
    std::fs::write(&file, "# mine\nlock_acquir\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let out = run(&["stats", "--events-file", file_arg], &events, &trace);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains(&format!(
        "warning: --events-file {file_arg}: 'lock_acquir' matches no event declared in {ev} \
         (did you mean 'lock_acquire'?)"
    )));
}

#[test]
fn an_inverted_window_is_a_usage_error() {
    let [events, trace] = sample_args();
    for (start, end, want) in [
        (
            "2s",
            "1s",
            "--start (2s after the first record) is after --end (1s after the first record)",
        ),
        (
            "2000",
            "1000",
            "--start (2000 ns of the trace clock) is after --end (1000 ns of the trace clock)",
        ),
    ] {
        let out = run(&["print", "--start", start, "--end", end], &events, &trace);
        assert_eq!(out.status.code(), Some(2), "{start} {end}");
        assert!(out.stdout.is_empty());
        assert!(
            support::stderr(&out).contains(want),
            "{}",
            support::stderr(&out)
        );
    }
    // Equal bounds keep the records of that instant; bounds of two kinds
    // are compared only once the trace is read (nothing is refused).
    for (start, end) in [("1s", "1s"), ("+0", "1")] {
        let out = run(&["stats", "--start", start, "--end", end], &events, &trace);
        assert!(out.status.success(), "{}", support::stderr(&out));
    }
}

#[test]
fn a_fraction_without_a_unit_is_refused_with_the_accepted_forms() {
    let [events, trace] = sample_args();
    for arg in ["--end", "--start"] {
        let out = run(&["print", arg, "1.5"], &events, &trace);
        assert_eq!(out.status.code(), Some(2));
        let err = support::stderr(&out);
        assert!(
            err.contains("'1.5' has a fraction but no unit")
                && err.contains("1.5s")
                && err.contains("whole nanoseconds"),
            "{err}"
        );
    }
}

#[test]
fn span_events_that_are_not_declared_suggest_the_closest() {
    let [events, trace] = sample_args();
    let out = run(
        &[
            "json",
            "--format",
            "chrome",
            "--span",
            "lock_acquir:mutex,lock_release:mutex",
        ],
        &events,
        &trace,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains(
            "--span: no event called 'lock_acquir' is declared (did you mean 'lock_acquire'?)"
        ),
        "{}",
        support::stderr(&out)
    );
}

#[test]
fn a_headerless_trace_and_the_reverse_hint_at_no_header() {
    let events = support::testdata("sample.trace-events");
    let headerless = support::testdata("no-header.trace");
    let with_header = support::testdata("sample.trace");
    let out = run(&["print"], &events, &headerless);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).ends_with(
            "; it starts with a record, as a trace written without a header does: read it \
             with --no-header\n"
        ),
        "{}",
        support::stderr(&out)
    );
    for threads in ["-j1", "-j2"] {
        let out = run(&["stats", threads, "--no-header"], &events, &with_header);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            support::stderr(&out).ends_with(
                "unknown record type 0xffffffffffffffff (expected 0 for a mapping or 1 for an \
                 event); it starts with a file header: read it without --no-header\n"
            ),
            "{}",
            support::stderr(&out)
        );
    }
    // From a pipe too.
    let bytes = std::fs::read(&headerless).unwrap();
    let out = support::run_with_stdin(["print", events.to_str().unwrap(), "-"], &bytes);
    assert!(support::stderr(&out).contains("read it with --no-header"));
    // And nothing is said where it is read right.
    let out = run(&["print", "--no-header"], &events, &headerless);
    assert!(out.status.success() && support::stderr(&out).is_empty());
}

#[test]
fn trace_events_from_standard_input() {
    let [events, trace] = sample_args();
    let text = std::fs::read(&events).unwrap();
    let from_file = run(&["print"], &events, &trace);
    let out = support::run_with_stdin(["print", "-", trace.to_str().unwrap()], &text);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(out.stdout, from_file.stdout);
    // An events file from standard input works the same way.
    let out = support::run_with_stdin(
        [
            "print",
            "--events-file",
            "-",
            events.to_str().unwrap(),
            trace.to_str().unwrap(),
        ],
        b"lock_acquire\n",
    );
    let want = run(&["print", "--events", "lock_acquire"], &events, &trace);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(out.stdout, want.stdout);
    // Two inputs cannot both be standard input: a usage error.
    for (args, names) in [
        (
            vec!["print", "-", "-"],
            "TRACE_EVENTS and TRACE_FILE are both '-'",
        ),
        (
            vec!["stats", "--events-file", "-", "-", "-"],
            "TRACE_EVENTS and --events-file and TRACE_FILE are all '-'",
        ),
    ] {
        let out = support::run_with_stdin(args, &text);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        assert!(
            support::stderr(&out).starts_with(&format!(
                "simpletrace: {names}: standard input can be only one of them"
            )),
            "{}",
            support::stderr(&out)
        );
    }
}

#[test]
fn records_longer_than_their_declaration_warn_once() {
    let [events, trace] = sample_args();
    let dir = support::scratch("messages-mismatch");
    // lock_acquire lost its last argument since the trace was written.
    let text = std::fs::read_to_string(&events).unwrap();
    let fewer = text.replace(
        "lock_acquire(void *mutex, const char *file, int line) \"mutex %p %s:%d\"",
        "lock_acquire(void *mutex, const char *file) \"mutex %p %s\"",
    );
    assert_ne!(fewer, text);
    let te = dir.join("te");
    std::fs::write(&te, fewer).unwrap();
    let want_err = format!(
        "simpletrace: warning: {}: 32 records are longer than {} declares (is it the \
         trace-events file of the QEMU build that wrote the trace?); they are decoded as \
         declared, as simpletrace.py does; the first, record 26 at byte offset 1118 (0x45e), \
         'lock_acquire', is 65 bytes long; its declaration makes 57\n",
        trace.display(),
        te.display()
    );
    let one = run(&["print", "-j1"], &te, &trace);
    assert!(one.status.success());
    assert_eq!(support::stderr(&one), want_err);
    // The same output and the same one warning on every path.
    for args in [
        &["print", "-j3", "--chunk-size", "4096"][..],
        &["print", "-j2"],
    ] {
        let out = run(args, &te, &trace);
        assert!(out.status.success());
        assert_eq!(out.stdout, one.stdout, "{args:?}");
        assert_eq!(support::stderr(&out), want_err, "{args:?}");
    }
    let bytes = std::fs::read(&trace).unwrap();
    let piped = support::run_with_stdin(["print", te.to_str().unwrap(), "-"], &bytes);
    assert_eq!(piped.stdout, one.stdout);
    assert_eq!(
        support::stderr(&piped),
        want_err.replace(&trace.display().to_string(), "-")
    );
    let stats = run(&["stats", "-j2"], &te, &trace);
    assert!(stats.status.success());
    assert_eq!(support::stderr(&stats), want_err);
    // Records left out are not decoded, so not checked; the right file
    // says nothing.
    let other = run(&["print", "--events", "blk_*"], &te, &trace);
    assert!(other.status.success() && support::stderr(&other).is_empty());
    let right = run(&["print"], &events, &trace);
    assert!(support::stderr(&right).is_empty());
}
