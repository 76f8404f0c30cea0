//! Every fault gets a clear message naming where it is, exit status 1, and
//! every record before it printed; a trace cut off mid-record prints all
//! complete records, warns, and exits 0. Nothing panics.

use simpletrace::analyzers::print::Printer;
use simpletrace::format::{ArgValue, Error, TraceEvents, TraceReader, encode};

use crate::support::{self, samples::Rng};

const EVENTS: &str = "\
hello(int n) \"n=%d\"
greet(const char *who, int n) \"%s %d\"
";

fn events_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("trace-events");
    std::fs::write(&path, EVENTS).unwrap();
    path
}

/// A trace whose first records are good: header, two mappings, two events.
fn good_prefix() -> Vec<u8> {
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"hello");
    encode::mapping(&mut t, 1, b"greet");
    encode::event(&mut t, 0, 1000, 5, &[ArgValue::Int(1)]);
    encode::event(
        &mut t,
        1,
        2000,
        5,
        &[ArgValue::Str(b"bob"), ArgValue::Int(2)],
    );
    t
}

const GOOD_LINES: &str = "hello 0.000 pid=5 n=0x1\ngreet 1.000 pid=5 who=b'bob' n=0x2\n";
/// Offset of the first record after `good_prefix`, and its record index.
const AFTER_GOOD: usize = 24 + 25 + 25 + 40 + 47;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_trace(test: &str, trace: &[u8]) -> Run {
    let dir = support::scratch(test);
    let path = dir.join("trace");
    std::fs::write(&path, trace).unwrap();
    let out = support::run([events_file(&dir), path]);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: support::stderr(&out),
    }
}

#[track_caller]
fn assert_fault(run: &Run, stdout: &str, needles: &[&str]) {
    assert_eq!(run.code, Some(1), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, stdout);
    assert!(run.stderr.starts_with("simpletrace: "), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{:?} not in {:?}",
            needle,
            run.stderr
        );
    }
}

#[test]
fn good_prefix_prints() {
    let run = run_trace("good_prefix", &good_prefix());
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (Some(0), GOOD_LINES, "")
    );
}

#[test]
fn header_only_prints_nothing() {
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    let run = run_trace("header_only", &t);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (Some(0), "", "")
    );
}

#[test]
fn not_a_trace() {
    let run = run_trace(
        "not_a_trace",
        b"hello(int n) \"n=%d\"\nmore text to pass 24 bytes\n",
    );
    assert_fault(
        &run,
        "",
        &[
            "not a simple trace",
            "expected 0xffffffffffffffff",
            "is a text file (a trace-events file?), not a binary trace",
        ],
    );
}

#[test]
fn bad_magic() {
    let mut t = good_prefix();
    t[8] ^= 1;
    assert_fault(
        &run_trace("bad_magic", &t),
        "",
        &["bad magic 0xf2b177cb0aa429b5", "byte offset 8"],
    );
}

#[test]
fn short_header() {
    let t = good_prefix();
    assert_fault(
        &run_trace("short_header", &t[..20]),
        "",
        &["20 bytes long", "24-byte header"],
    );
    assert_fault(&run_trace("empty_file", b""), "", &["0 bytes long"]);
}

#[test]
fn unknown_version() {
    let mut t = good_prefix();
    t[16] = 7;
    assert_fault(
        &run_trace("unknown_version", &t),
        "",
        &["unknown trace format version 7"],
    );
}

#[test]
fn unmapped_id() {
    let mut t = good_prefix();
    encode::event(&mut t, 9, 3000, 5, &[]);
    let run = run_trace("unmapped_id", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &[
            "record 4 at byte offset 161 (0xa1)",
            "event id 9 has no mapping",
        ],
    );
}

#[test]
fn undeclared_event() {
    let mut t = good_prefix();
    encode::mapping(&mut t, 2, b"qcow2_writev");
    encode::event(&mut t, 2, 3000, 5, &[]);
    let run = run_trace("undeclared", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &[
            "record 5 at byte offset",
            "'qcow2_writev' (id 2)",
            "not declared",
            "trace-events-all",
        ],
    );
}

#[test]
fn undeclared_mapping_alone_is_fine() {
    // QEMU maps every compiled-in event; only using one matters.
    let mut t = good_prefix();
    encode::mapping(&mut t, 2, b"qcow2_writev");
    let run = run_trace("undeclared_unused", &t);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (Some(0), GOOD_LINES, "")
    );
}

#[test]
fn record_shorter_than_its_arguments() {
    let mut t = good_prefix();
    encode::event_header(&mut t, 1, 3000, 24 + 4 + 3 + 4, 5);
    t.extend(3u32.to_le_bytes());
    t.extend(b"bob");
    t.extend([0; 4]); // half of the int argument
    let run = run_trace("args_past_record", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &[
            &format!("record 4 at byte offset {AFTER_GOOD}"),
            "'greet'",
            "(35 bytes) ends before argument 2",
        ],
    );
}

#[test]
fn string_past_record() {
    let mut t = good_prefix();
    encode::event_header(&mut t, 1, 3000, 24 + 4 + 3 + 8, 5);
    t.extend(200u32.to_le_bytes());
    t.extend(b"bob");
    t.extend([0; 8]);
    let run = run_trace("string_past_record", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &["string argument 1 is 200 bytes long but only 11 bytes"],
    );
}

#[test]
fn record_length_below_header() {
    let mut t = good_prefix();
    encode::event_header(&mut t, 0, 3000, 8, 5);
    t.extend([0; 16]);
    let run = run_trace("bad_len", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &["record length 8 is shorter than the 24-byte event header"],
    );
}

#[test]
fn unknown_record_type() {
    let mut t = good_prefix();
    t.extend(2u64.to_le_bytes());
    t.extend([0; 40]);
    let run = run_trace("bad_type", &t);
    assert_fault(
        &run,
        GOOD_LINES,
        &[
            &format!("byte offset {AFTER_GOOD}"),
            "unknown record type 0x2",
        ],
    );
}

/// A killed QEMU leaves a partial record at the end: every cut point of the
/// last record prints the complete ones, warns with the offset and ignored
/// byte count, and exits 0.
#[test]
fn truncated_tail_warns_and_succeeds() {
    let mut t = good_prefix();
    encode::mapping(&mut t, 2, b"hello");
    let mapping_end = t.len();
    encode::event(
        &mut t,
        1,
        3000,
        5,
        &[ArgValue::Str(b"carol"), ArgValue::Int(3)],
    );
    for cut in (AFTER_GOOD + 1..mapping_end).chain(mapping_end + 1..t.len()) {
        let run = run_trace("truncated", &t[..cut]);
        assert_eq!(run.code, Some(0), "cut at {cut}: {}", run.stderr);
        assert_eq!(run.stdout, GOOD_LINES, "cut at {cut}");
        let (record, start) = if cut < mapping_end {
            (4, AFTER_GOOD)
        } else {
            (5, mapping_end)
        };
        let ignored = cut - start;
        assert!(
            run.stderr.starts_with("simpletrace: warning: "),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains(&format!("record {record} at byte offset {start} ")),
            "cut at {cut}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("the last {ignored} bytes")),
            "cut at {cut}: {}",
            run.stderr
        );
    }
}

#[test]
fn events_file_errors_name_file_and_line() {
    let dir = support::scratch("events_errors");
    let trace = dir.join("trace");
    std::fs::write(&trace, good_prefix()).unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "ok(int a)\nbad(struct foo *p)\n",
            ":2: type 'struct foo *' is not allowed",
        ),
        ("a()\n", ":1: empty argument"),
        ("a(int x)", ":1: the last line does not end with a newline"),
        (
            "\n\nfrobnicate a(int x)\n",
            ":3: unknown property 'frobnicate'",
        ),
        (
            "a(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j, int k, int l)\n",
            ":1: 12 arguments declared, at most 10 are allowed",
        ),
    ];
    for (text, needle) in cases {
        let events = dir.join("te");
        std::fs::write(&events, text).unwrap();
        let out = support::run([&events, &trace]);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {err}");
        assert!(out.stdout.is_empty());
        assert!(
            err.contains(&format!("{}{needle}", events.display())),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn missing_files_are_named() {
    let dir = support::scratch("missing_files");
    let events = events_file(&dir);
    let out = support::run([events.as_path(), dir.join("nope").as_path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("nope: No such file"),
        "{}",
        support::stderr(&out)
    );
    let out = support::run([dir.join("nope-events").as_path(), events.as_path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("nope-events: No such file"));
}

/// Decodes and prints `data` in-process; returns whether it got to the end.
fn decode_everything(data: &[u8], events: &TraceEvents) -> Result<usize, Error> {
    let mut out = Vec::new();
    let mut printer = Printer::new();
    let mut n = 0;
    for record in TraceReader::new(data, events)? {
        printer.write_record(&mut out, &record?)?;
        n += 1;
    }
    Ok(n)
}

/// Random corruption of a real-shaped trace: flipped bytes, cut tails,
/// spliced garbage. Whatever happens, no panic, and errors carry offsets
/// inside the file.
#[test]
fn corrupted_traces_never_panic() {
    let events = TraceEvents::parse(
        "te",
        &std::fs::read(support::testdata("sample.trace-events")).unwrap(),
    )
    .unwrap();
    let base = support::samples::sample_trace();
    assert!(decode_everything(&base, &events).is_ok());
    let mut rng = Rng::new(42);
    for _ in 0..3000 {
        let mut t = base.clone();
        match rng.below(4) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(t.len() as u64) as usize;
                    t[i] = rng.next() as u8;
                }
            }
            1 => t.truncate(rng.below(t.len() as u64) as usize),
            2 => {
                let i = rng.below(t.len() as u64) as usize;
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                t.splice(i..i, junk);
            }
            _ => {
                // Huge lengths where lengths live.
                let i = 24 + rng.below((t.len() - 28) as u64) as usize;
                t[i..i + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
            }
        }
        if let Err(e) = decode_everything(&t, &events) {
            if let Some(off) = e.offset() {
                assert!(off.0 < t.len() as u64, "{e}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

/// A format that is not quoted literals and macros (QEMU's tracetool takes
/// it as it stands, and a build with only the simple backend never compiles
/// it) does not make the trace-events file an error: the trace prints as
/// with a good format, and only `print --format log` fails, at the first
/// record of that event, after the lines before it. Before, the whole file
/// was refused.
#[test]
fn a_format_that_does_not_parse_fails_only_the_log() {
    let dir = support::scratch("unparsed_format");
    let text = std::fs::read_to_string(support::testdata("sample.trace-events")).unwrap();
    let bad = text.replace(
        "vm_stop(void) \"vm stopped\"\n",
        "vm_stop(void) \"vm stopped\" ;\n",
    );
    assert_ne!(bad, text);
    let events = dir.join("te");
    std::fs::write(&events, bad).unwrap();
    let trace = support::testdata("sample.trace");
    let out = support::run([&events, &trace]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let golden = std::fs::read(support::testdata("sample.simpletrace.txt")).unwrap();
    support::assert_same_output("print", &out.stdout, &golden);
    let out = support::run([
        "print".as_ref(),
        "--format".as_ref(),
        "log".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = support::stderr(&out);
    assert!(
        err.starts_with("simpletrace: analyzer 'log': record ")
            && err.ends_with(
                "event vm_stop (trace-events line 25): bad format string: expected a quoted string or a PRI macro\n"
            ),
        "{err}"
    );
    let good = support::run(
        ["print", "--format", "log"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([
                support::testdata("sample.trace-events").as_os_str(),
                trace.as_os_str(),
            ]),
    );
    // Every line before the first vm_stop record, and nothing after.
    let first_vm_stop = good
        .stdout
        .windows(9)
        .position(|w| w == b"\nvm_stop ")
        .unwrap()
        + 1;
    assert_eq!(out.stdout.len(), first_vm_stop);
}
