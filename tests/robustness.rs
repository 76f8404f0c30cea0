//! The fault catalogue of docs/robustness.md: one crafted trace per fault
//! class (built with the crate's own encoder), run through the binary with
//! and without `--resync`, sequentially and chunk-parallel, checking the
//! exact standard error, the exit status and what was printed.
//!
//! Every trace here is a good prefix of [`PREFIX_RECORDS`] events, the
//! fault, and a good suffix of [`SUFFIX_RECORDS`] events, long enough that
//! `-j 2 --chunk-size 4096` cuts it into several chunks on both sides of
//! the fault.

use std::path::{Path, PathBuf};

use simpletrace::format::{ArgValue, encode};

use crate::support;

const EVENTS: &str = "\
hello(int n) \"n=%d\"
greet(const char *who, int n) \"%s %d\"
qemu_mutex_lock(void *mutex, const char *file, const int line) \"waiting on mutex %p (%s:%d)\"
qemu_mutex_locked(void *mutex, const char *file, const int line) \"taken mutex %p (%s:%d)\"
qemu_mutex_unlock(void *mutex, const char *file, const int line) \"released mutex %p (%s:%d)\"
g_malloc(size_t size, void *ptr) \"size %zu ptr %p\"
g_free(void *ptr) \"ptr %p\"
";

/// Ids the traces map: positions in [`EVENTS`].
const HELLO: u64 = 0;
const GREET: u64 = 1;
const LOCK: u64 = 2;
const LOCKED: u64 = 3;
const UNLOCK: u64 = 4;
const MALLOC: u64 = 5;
const FREE: u64 = 6;

const PREFIX_RECORDS: u64 = 300;
const SUFFIX_RECORDS: u64 = 300;

/// A trace being built, with the lines `simpletrace.py` prints for it.
struct Trace {
    bytes: Vec<u8>,
    /// Records so far, mappings included.
    records: u64,
    last_ts: Option<u64>,
    ts: u64,
    lines: String,
}

impl Trace {
    /// The header and a mapping for every declared event.
    fn new() -> Self {
        let mut t = Trace {
            bytes: Vec::new(),
            records: 0,
            last_ts: None,
            ts: 0,
            lines: String::new(),
        };
        encode::header(&mut t.bytes, 4);
        for (id, name) in [
            (HELLO, "hello"),
            (GREET, "greet"),
            (LOCK, "qemu_mutex_lock"),
            (LOCKED, "qemu_mutex_locked"),
            (UNLOCK, "qemu_mutex_unlock"),
            (MALLOC, "g_malloc"),
            (FREE, "g_free"),
        ] {
            t.mapping(id, name.as_bytes());
        }
        t
    }

    /// Where the next record starts.
    fn offset(&self) -> usize {
        self.bytes.len()
    }

    fn mapping(&mut self, id: u64, name: &[u8]) {
        encode::mapping(&mut self.bytes, id, name);
        self.records += 1;
    }

    /// An event record of `name`, printed as `simpletrace.py` would.
    fn event(&mut self, id: u64, name: &str, args: &[(&str, ArgValue<'_>)]) {
        self.ts += 1500;
        let values: Vec<ArgValue<'_>> = args.iter().map(|(_, v)| *v).collect();
        encode::event(&mut self.bytes, id, self.ts, 42, &values);
        self.records += 1;
        let delta = self.ts - self.last_ts.unwrap_or(self.ts);
        self.last_ts = Some(self.ts);
        let mut line = format!("{name} {}.{:03} pid=42 ", delta / 1000, delta % 1000);
        let shown: Vec<String> = args
            .iter()
            .map(|(arg, v)| match v {
                ArgValue::Int(n) => format!("{arg}=0x{n:x}"),
                ArgValue::Str(s) => format!("{arg}=b'{}'", String::from_utf8_lossy(s)),
            })
            .collect();
        line.push_str(&shown.join(" "));
        self.lines.push_str(&line);
        self.lines.push('\n');
    }

    fn hello(&mut self, n: u64) {
        self.event(HELLO, "hello", &[("n", ArgValue::Int(n))]);
    }

    /// `n` records: hellos, greets, a lock/unlock cycle and an
    /// allocation now and then, for the analyzers.
    fn filler(&mut self, from: u64, n: u64) {
        for i in from..from + n {
            match i % 10 {
                3 => self.event(
                    GREET,
                    "greet",
                    &[("who", ArgValue::Str(b"bob")), ("n", ArgValue::Int(i))],
                ),
                5..=7 => {
                    let (id, name) = [
                        (LOCK, "qemu_mutex_lock"),
                        (LOCKED, "qemu_mutex_locked"),
                        (UNLOCK, "qemu_mutex_unlock"),
                    ][(i % 10 - 5) as usize];
                    self.event(
                        id,
                        name,
                        &[
                            ("mutex", ArgValue::Int(0x1000 + i % 3)),
                            ("file", ArgValue::Str(b"util.c")),
                            ("line", ArgValue::Int(17)),
                        ],
                    )
                }
                8 => self.event(
                    MALLOC,
                    "g_malloc",
                    &[
                        ("size", ArgValue::Int(64)),
                        ("ptr", ArgValue::Int(0xa000 + i)),
                    ],
                ),
                // Frees the block of two records before, once in three.
                9 if i % 3 == 0 => {
                    self.event(FREE, "g_free", &[("ptr", ArgValue::Int(0xa000 + i - 1))])
                }
                _ => self.hello(i),
            }
        }
    }

    /// Raw bytes: part of no record the builder knows.
    fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// A record counted but not printed (a faulty one).
    fn faulty(&mut self, bytes: &[u8]) {
        self.raw(bytes);
        self.records += 1;
    }
}

/// A good prefix: the mappings and [`PREFIX_RECORDS`] events.
fn prefix() -> Trace {
    let mut t = Trace::new();
    t.filler(0, PREFIX_RECORDS);
    t
}

/// What the binary did.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

struct Files {
    dir: PathBuf,
    events: PathBuf,
    trace: PathBuf,
}

fn files(test: &str, trace: &[u8]) -> Files {
    let dir = support::scratch(&format!("robustness_{test}"));
    let events = dir.join("trace-events");
    std::fs::write(&events, EVENTS).unwrap();
    let path = dir.join("trace");
    std::fs::write(&path, trace).unwrap();
    Files {
        dir,
        events,
        trace: path,
    }
}

/// Runs `simpletrace ARGS... [FLAGS] EVENTS TRACE`.
fn run(args: &[&str], flags: &[&str], events: &Path, trace: &Path) -> Outcome {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    all.extend(flags.iter().map(std::ffi::OsStr::new));
    all.push(events.as_os_str());
    all.push(trace.as_os_str());
    let out = support::run(all);
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: support::stderr(&out),
    }
}

const SEQUENTIAL: &[&str] = &["-j", "1"];
const PARALLEL: &[&str] = &["-j", "2", "--chunk-size", "4096"];

/// Runs `print` on `trace` with `flags` (plus `--resync` if `resync`),
/// sequentially and chunk-parallel; checks both give `want` (stderr lines
/// as `{trace}` templates) and returns nothing.
#[track_caller]
fn check(test: &str, trace: &[u8], flags: &[&str], resync: bool, want: (i32, &str, &[String])) {
    let f = files(test, trace);
    let path = f.trace.display().to_string();
    let (code, stdout, stderr) = want;
    let stderr: String = stderr
        .iter()
        .map(|l| {
            let l = l.replace("{trace}", &path);
            let l = l.replace("{events}", &f.events.display().to_string());
            format!("simpletrace: {l}\n")
        })
        .collect();
    for threads in [SEQUENTIAL, PARALLEL] {
        let mut all: Vec<&str> = flags.to_vec();
        all.extend_from_slice(threads);
        if resync {
            all.push("--resync");
        }
        let got = run(&[], &all, &f.events, &f.trace);
        let ctx = format!("{test} {all:?}");
        assert_eq!(got.stderr, stderr, "{ctx}");
        assert_eq!(got.code, Some(code), "{ctx}");
        support::assert_same_output(&ctx, got.stdout.as_bytes(), stdout.as_bytes());
    }
}

/// A fault found before any record is read: the same with `--resync`.
#[track_caller]
fn header_fault(test: &str, trace: &[u8], message: &str) {
    for resync in [false, true] {
        check(
            test,
            trace,
            &[],
            resync,
            (1, "", &[format!("{{trace}}: {message}")]),
        );
    }
}

/// A fault in the record at `at` (record `record`): without `--resync`
/// exit 1 after the lines before it; with it exit 3, the region `at..end`
/// reported and the suffix printed too.
#[track_caller]
fn record_fault(
    test: &str,
    flags: &[&str],
    t: &Trace,
    before: &str,
    at: usize,
    end: usize,
    message: &str,
) {
    check(
        test,
        &t.bytes,
        flags,
        false,
        (1, before, &[format!("{{trace}}: {message}")]),
    );
    check(
        test,
        &t.bytes,
        flags,
        true,
        (
            3,
            &t.lines,
            &[
                format!(
                    "{{trace}}: skipped bytes {at}..{end} ({} bytes), starting with {message}",
                    end - at
                ),
                format!(
                    "{{trace}}: --resync skipped 1 corrupt region ({} bytes in all); \
                     every record outside them was read",
                    end - at
                ),
            ],
        ),
    );
}

/// `record R at byte offset O (0xO)`.
fn at(record: u64, offset: usize) -> String {
    format!("record {record} at {}", byte_offset(offset))
}

/// `byte offset O (0xO)`.
fn byte_offset(offset: usize) -> String {
    format!("byte offset {offset} (0x{offset:x})")
}

/// `t`, then the record `bad`, then good records: a [`record_fault`] at
/// `bad`, with the message `message(at, left)` gets from where the record
/// stands ([`at`]) and how many bytes the file has from it on.
#[track_caller]
fn one_bad_record(
    test: &str,
    flags: &[&str],
    mut t: Trace,
    bad: &[u8],
    message: impl FnOnce(&str, usize) -> String,
) {
    let before = t.lines.clone();
    let start = t.offset();
    let record = t.records;
    t.faulty(bad);
    let end = t.offset();
    t.filler(PREFIX_RECORDS, SUFFIX_RECORDS);
    let message = message(&at(record, start), t.bytes.len() - start);
    record_fault(test, flags, &t, &before, start, end, &message);
}

#[test]
fn clean_trace_is_the_same_with_resync() {
    let mut t = prefix();
    t.filler(PREFIX_RECORDS, SUFFIX_RECORDS);
    for resync in [false, true] {
        check("clean", &t.bytes, &[], resync, (0, &t.lines, &[]));
    }
}

#[test]
fn bad_header_id() {
    let mut t = prefix();
    t.bytes[0] = 0xfe;
    header_fault(
        "bad_header_id",
        &t.bytes,
        "not a simple trace: the header starts with 0xfffffffffffffffe at byte offset 0, \
         expected 0xffffffffffffffff",
    );
}

#[test]
fn bad_magic() {
    let mut t = prefix();
    t.bytes[8] ^= 1;
    header_fault(
        "bad_magic",
        &t.bytes,
        "not a simple trace: bad magic 0xf2b177cb0aa429b5 at byte offset 8, \
         expected 0xf2b177cb0aa429b4 (or byte-swapped, in a big-endian trace)",
    );
}

#[test]
fn unknown_version() {
    let mut t = prefix();
    t.bytes[16] = 5;
    header_fault(
        "unknown_version",
        &t.bytes,
        "unknown trace format version 5 at byte offset 16 (known versions: 0, 2, 3, 4)",
    );
}

#[test]
fn truncated_header() {
    let t = prefix();
    header_fault(
        "truncated_header",
        &t.bytes[..20],
        "not a simple trace: the file is 20 bytes long, shorter than the 24-byte header",
    );
    let mut v0 = Vec::new();
    encode::header(&mut v0, 0);
    v0.extend([0; 16]);
    header_fault(
        "truncated_header_v0",
        &v0,
        "not a simple trace: the file is 40 bytes long, shorter than the 64-byte header \
         of a version-0 trace",
    );
}

/// A trace cut off mid-record (a killed QEMU): every complete record
/// printed, a warning, exit 0; `--resync` changes nothing.
#[test]
fn truncated_tail() {
    let mut t = prefix();
    let lines = t.lines.clone();
    let start = t.offset();
    let record = t.records;
    t.hello(1);
    let cut = &t.bytes[..t.bytes.len() - 5];
    let warning = format!(
        "warning: {{trace}}: the trace ends inside {}: the last 35 bytes were ignored \
         (an incomplete record; it needs at least 40)",
        at(record, start)
    );
    for resync in [false, true] {
        check(
            "truncated_tail",
            cut,
            &[],
            resync,
            (0, &lines, std::slice::from_ref(&warning)),
        );
    }
}

#[test]
fn record_length_too_small() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event_header(&mut bad, HELLO, 1, 8, 42);
    bad.extend([0; 8]);
    one_bad_record("length_too_small", &[], t, &bad, |at, _| {
        format!("{at}: record length 8 is shorter than the 24-byte event header")
    });
}

/// A length larger than any record, running past the end: corrupt, not a
/// cut tail, so exit 1 (not a warning).
#[test]
fn record_length_past_the_end() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event_header(&mut bad, HELLO, 1, 0x7fff_0000, 42);
    bad.extend(7u64.to_le_bytes());
    one_bad_record("length_past_end", &[], t, &bad, |at, left| {
        format!(
            "{at}: the record claims {} bytes but only {left} are left in the file, \
             and no record is that long: a corrupt length, not a trace cut short",
            8 + 0x7fff_0000u64
        )
    });
}

/// A length a record could have, past the end of the file, but with good
/// records inside the bytes it claims: a corrupt length, exit 1, not the
/// cut tail's warning and exit 0 (which would lose the records silently).
#[test]
fn record_length_past_the_end_with_records_after() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event_header(&mut bad, HELLO, 1, 100_000, 42);
    bad.extend(7u64.to_le_bytes());
    let end = t.offset() + bad.len();
    one_bad_record("length_past_end_records_after", &[], t, &bad, |at, left| {
        format!(
            "{at}: the record claims 100008 bytes but only {left} are left in the file, \
             and a plausible record follows at {}: a corrupt length, not a trace cut short",
            byte_offset(end)
        )
    });
}

#[test]
fn unknown_record_type() {
    let t = prefix();
    let mut bad = 2u64.to_le_bytes().to_vec();
    bad.extend([0x55; 40]);
    one_bad_record("unknown_record_type", &[], t, &bad, |at, _| {
        format!("{at}: unknown record type 0x2 (expected 0 for a mapping or 1 for an event)")
    });
}

#[test]
fn unknown_id() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event(&mut bad, 77, 1, 42, &[ArgValue::Int(1)]);
    one_bad_record("unknown_id", &[], t, &bad, |at, _| {
        format!("{at}: event id 77 has no mapping record naming it")
    });
}

/// Without a header, ids are positions in the trace-events file: an id
/// past its end names no event.
#[test]
fn unknown_id_without_header() {
    let mut t = prefix();
    // The same records, without the header.
    t.bytes.drain(..24);
    let mut bad = Vec::new();
    encode::event(&mut bad, 7, 1, 42, &[]);
    one_bad_record(
        "unknown_id_headerless",
        &["--no-header"],
        t,
        &bad,
        |at, _| {
            format!(
                "{at}: event id 7 names no event: no mapping record names it and the trace-events \
             file declares 7 events (ids 0 to 6)"
            )
        },
    );
}

/// A mapping to a name the trace-events file lacks is fine until a record
/// uses it; that record is the fault (and with `--resync` only it is
/// skipped: the mapping stands).
#[test]
fn undeclared_event() {
    let mut t = prefix();
    t.mapping(9, b"qcow2_writev");
    let mut bad = Vec::new();
    encode::event(&mut bad, 9, 1, 42, &[ArgValue::Int(1)]);
    one_bad_record("undeclared_event", &[], t, &bad, |at, _| {
        format!(
            "{at}: event 'qcow2_writev' (id 9) is in the trace but not declared in the \
             trace-events file; pass the trace-events-all file of the QEMU build that wrote \
             the trace"
        )
    });
}

#[test]
fn string_past_the_record() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event_header(&mut bad, GREET, 1, 24 + 4 + 3 + 8, 42);
    bad.extend(200u32.to_le_bytes());
    bad.extend(b"bob");
    bad.extend(5u64.to_le_bytes());
    one_bad_record("string_past_record", &[], t, &bad, |at, _| {
        format!(
            "{at}: event 'greet': string argument 1 is 200 bytes long but only 11 bytes of the \
             record are left"
        )
    });
}

#[test]
fn argument_past_the_record() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::event_header(&mut bad, GREET, 1, 24 + 4 + 3 + 4, 42);
    bad.extend(3u32.to_le_bytes());
    bad.extend(b"bob");
    bad.extend([0; 4]);
    one_bad_record("argument_past_record", &[], t, &bad, |at, _| {
        format!("{at}: event 'greet': the record (35 bytes) ends before argument 2 is complete")
    });
}

/// Bytes after the last argument: ignored as `simpletrace.py` ignores them
/// (the length says where the next record starts), but with `--resync` a
/// sign of a corrupt length.
#[test]
fn bytes_after_the_arguments() {
    let mut t = prefix();
    let start = t.offset();
    let record = t.records;
    t.ts += 1500;
    let mut payload = 9u64.to_le_bytes().to_vec();
    payload.extend([0xee; 5]);
    encode::event_with_payload(&mut t.bytes, HELLO, t.ts, 42, &payload);
    t.records += 1;
    let end = t.offset();
    let mut plain = t.lines.clone();
    plain.push_str("hello 1.500 pid=42 n=0x9\n");
    let mut resynced = t.lines.clone();
    t.last_ts = Some(t.ts);
    t.filler(PREFIX_RECORDS, SUFFIX_RECORDS);
    plain.push_str(&t.lines[resynced.len()..]);
    // The record after the skipped one prints its delta from the one before
    // the region.
    let rest = &t.lines[resynced.len()..];
    let (first, rest) = rest.split_once('\n').unwrap();
    resynced.push_str(&first.replace(" 1.500 pid", " 3.000 pid"));
    resynced.push('\n');
    resynced.push_str(rest);
    // The record is longer than its declaration: one warning at the end.
    let longer = format!(
        "warning: {{trace}}: 1 record is longer than {{events}} declares (is it the \
         trace-events file of the QEMU build that wrote the trace?); they are decoded as \
         declared, as simpletrace.py does; the first, {}, 'hello', is 37 bytes long; its \
         declaration makes 32",
        at(record, start)
    );
    check(
        "trailing_bytes",
        &t.bytes,
        &[],
        false,
        (0, &plain, &[longer]),
    );
    let message = format!(
        "{}: event 'hello': record length 37, but the header and arguments take 32 bytes: \
         5 bytes left over (a corrupt length, or not the trace-events file the trace was \
         written with)",
        at(record, start)
    );
    check(
        "trailing_bytes",
        &t.bytes,
        &[],
        true,
        (
            3,
            &resynced,
            &[
                format!(
                    "{{trace}}: skipped bytes {start}..{end} ({} bytes), starting with {message}",
                    end - start
                ),
                "{trace}: --resync skipped 1 corrupt region (45 bytes in all); \
                 every record outside them was read"
                    .to_owned(),
            ],
        ),
    );
}

#[test]
fn garbage_mapping_name() {
    let t = prefix();
    let mut bad = Vec::new();
    encode::mapping(&mut bad, 5, b"g_malloc(); rm -rf");
    one_bad_record("garbage_mapping_name", &[], t, &bad, |at, _| {
        format!(
            "{at}: mapping record for id 5: the name b'g_malloc(); rm -rf' (18 bytes) is not an \
             event name (expected 1 to 1024 ASCII letters, digits or '_')"
        )
    });
}

/// A name that is not UTF-8 shows as a Python bytes literal; a long one
/// only its start.
#[test]
fn non_utf8_mapping_name() {
    let t = prefix();
    let mut name = b"hel\xfflo\x00".to_vec();
    name.extend([b'x'; 60]);
    let mut bad = Vec::new();
    encode::mapping(&mut bad, 0, &name);
    one_bad_record("non_utf8_mapping_name", &[], t, &bad, |at, _| {
        format!(
            "{at}: mapping record for id 0: the name b'hel\\xfflo\\x00{}'... (67 bytes) is not an \
             event name (expected 1 to 1024 ASCII letters, digits or '_')",
            "x".repeat(48 - 7)
        )
    });
}

/// Not a fault: a later mapping replaces an earlier one, in every chunk.
#[test]
fn ids_remapped_mid_file() {
    let mut t = prefix();
    // Id 0 becomes greet, id 9 hello.
    t.mapping(HELLO, b"greet");
    t.mapping(9, b"hello");
    for i in 0..200 {
        t.event(
            HELLO,
            "greet",
            &[("who", ArgValue::Str(b"al")), ("n", ArgValue::Int(i))],
        );
        t.event(9, "hello", &[("n", ArgValue::Int(i))]);
    }
    t.mapping(HELLO, b"hello");
    t.filler(PREFIX_RECORDS, SUFFIX_RECORDS);
    for resync in [false, true] {
        check("remapped", &t.bytes, &[], resync, (0, &t.lines, &[]));
    }
}

/// Random bytes spliced between records: one region, from the first
/// garbage byte to the next good record.
#[test]
fn garbage_between_records() {
    let t = prefix();
    let mut rng = support::samples::Rng::new(8);
    let junk: Vec<u8> = (0..3000).map(|_| rng.next() as u8).collect();
    let found = u64::from_le_bytes(junk[..8].try_into().unwrap());
    one_bad_record("garbage", &[], t, &junk, |at, _| {
        format!(
            "{at}: unknown record type 0x{found:x} (expected 0 for a mapping or 1 for an event)"
        )
    });
}

/// The skip log lists the first hundred regions and sums up the rest.
#[test]
fn many_regions_are_summed_up() {
    let mut t = prefix();
    let mut listed = Vec::new();
    for i in 0..150 {
        let start = t.offset();
        let record = t.records;
        let mut bad = Vec::new();
        encode::event(&mut bad, 77, 1, 42, &[]);
        t.faulty(&bad);
        if i < 100 {
            listed.push(format!(
                "{{trace}}: skipped bytes {start}..{} (32 bytes), starting with {}: event id 77 \
                 has no mapping record naming it",
                start + 32,
                at(record, start)
            ));
        }
        t.hello(i);
    }
    listed.push("{trace}: 50 more skipped ranges (1600 bytes) are not listed".to_owned());
    listed.push(
        "{trace}: --resync skipped 150 corrupt regions (4800 bytes in all); every record \
         outside them was read"
            .to_owned(),
    );
    check("many_regions", &t.bytes, &[], true, (3, &t.lines, &listed));
}

/// Several faults, and a cut tail at the end: every region listed, the
/// warning, then the summary; exit 3.
#[test]
fn regions_and_a_cut_tail() {
    let mut t = prefix();
    let first = t.offset();
    let first_record = t.records;
    t.faulty(&[0xab; 100]);
    t.filler(0, 200);
    let second = t.offset();
    let second_record = t.records;
    let mut bad = Vec::new();
    encode::event(&mut bad, 77, 1, 42, &[]);
    t.faulty(&bad);
    t.filler(0, 200);
    let tail = t.offset();
    let tail_record = t.records;
    let lines = t.lines.clone();
    t.hello(1);
    let cut = &t.bytes[..t.bytes.len() - 1];
    check(
        "regions_and_cut_tail",
        cut,
        &[],
        true,
        (
            3,
            &lines,
            &[
                format!(
                    "{{trace}}: skipped bytes {first}..{} (100 bytes), starting with {}: unknown \
                     record type 0x{:x} (expected 0 for a mapping or 1 for an event)",
                    first + 100,
                    at(first_record, first),
                    u64::from_le_bytes([0xab; 8])
                ),
                format!(
                    "{{trace}}: skipped bytes {second}..{} (32 bytes), starting with {}: event id \
                     77 has no mapping record naming it",
                    second + 32,
                    at(second_record, second)
                ),
                format!(
                    "warning: {{trace}}: the trace ends inside {}: the last 39 bytes were \
                     ignored (an incomplete record; it needs at least 40)",
                    at(tail_record, tail)
                ),
                "{trace}: --resync skipped 2 corrupt regions (132 bytes in all); every record \
                 outside them was read"
                    .to_owned(),
            ],
        ),
    );
}

/// A trace with three kinds of corrupt region, for the commands test.
fn corrupt_trace() -> (Trace, Vec<std::ops::Range<usize>>) {
    let mut t = prefix();
    let mut regions = Vec::new();
    let mut rng = support::samples::Rng::new(3);
    let start = t.offset();
    let junk: Vec<u8> = (0..500).map(|_| rng.next() as u8 | 0x80).collect();
    t.faulty(&junk);
    regions.push(start..t.offset());
    t.filler(PREFIX_RECORDS, 200);
    let start = t.offset();
    let mut bad = Vec::new();
    encode::mapping(&mut bad, 3, b"\xff\xfe");
    t.faulty(&bad);
    regions.push(start..t.offset());
    t.filler(PREFIX_RECORDS + 200, 200);
    let start = t.offset();
    let mut bad = Vec::new();
    encode::event(&mut bad, 77, 1, 42, &[ArgValue::Int(5)]);
    t.faulty(&bad);
    regions.push(start..t.offset());
    t.filler(PREFIX_RECORDS + 400, SUFFIX_RECORDS);
    (t, regions)
}

/// Every command resyncs: `-j 1` and `-j 2` give the same output and the
/// same skipped ranges, and the output is what the command gives for the
/// trace with the corrupt regions cut out (for the commands that print no
/// record numbers or file sizes).
#[test]
fn every_command_resyncs_alike_sequentially_and_in_parallel() {
    let (t, regions) = corrupt_trace();
    let mut clean = t.bytes.clone();
    for r in regions.iter().rev() {
        clean.drain(r.clone());
    }
    let f = files("every_command", &t.bytes);
    let clean_path = f.dir.join("clean");
    std::fs::write(&clean_path, &clean).unwrap();
    let out = |name: &str| f.dir.join(name).display().to_string();
    let (o1, o2) = (out("filtered-1"), out("filtered-2"));
    let commands: Vec<(Vec<&str>, bool)> = vec![
        (vec!["print"], true),
        (vec!["print", "--format", "log"], true),
        (vec!["stats"], false),
        (vec!["stats", "--json"], false),
        (vec!["hist", "--event", "hello", "--arg", "n"], true),
        (
            vec![
                "hist",
                "--latency",
                "qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex",
            ],
            true,
        ),
        (vec!["alloc"], false),
        (vec!["locks"], true),
        (vec!["json"], false),
        (vec!["json", "--format", "chrome"], true),
        (vec!["run", "--plugin", "stats", "--plugin", "locks"], false),
        (vec!["--events", "g_*,hello"], true),
    ];
    let skipped: Vec<String> = regions
        .iter()
        .map(|r| format!("skipped bytes {}..{} ", r.start, r.end))
        .collect();
    for (args, same_as_clean) in commands {
        let one = run(&args, &["-j", "1", "--resync"], &f.events, &f.trace);
        let two = run(
            &args,
            &["-j", "2", "--chunk-size", "4096", "--resync"],
            &f.events,
            &f.trace,
        );
        assert_eq!(one.code, Some(3), "{args:?}: {}", one.stderr);
        assert_eq!(one, two, "{args:?}");
        let lines: Vec<&str> = one.stderr.lines().collect();
        assert_eq!(lines.len(), 4, "{args:?}: {}", one.stderr);
        for (line, want) in lines.iter().zip(&skipped) {
            assert!(line.contains(want.as_str()), "{args:?}: {line}");
        }
        assert!(!one.stdout.is_empty(), "{args:?}");
        if same_as_clean {
            let clean_run = run(&args, &["-j", "1"], &f.events, &clean_path);
            assert_eq!(clean_run.code, Some(0), "{args:?}: {}", clean_run.stderr);
            support::assert_same_output(
                &format!("{args:?}"),
                one.stdout.as_bytes(),
                clean_run.stdout.as_bytes(),
            );
        }
        // Without --resync, the first region ends the run.
        let plain = run(
            &args,
            &["-j", "2", "--chunk-size", "4096"],
            &f.events,
            &f.trace,
        );
        assert_eq!(plain.code, Some(1), "{args:?}: {}", plain.stderr);
        assert!(
            plain
                .stderr
                .contains(&format!("at byte offset {} ", regions[0].start))
        );
    }
    // filter -o writes a clean trace, the same for any parallelism.
    for (path, threads) in [(&o1, "1"), (&o2, "2")] {
        let got = run(
            &["filter", "-o", path],
            &["-j", threads, "--chunk-size", "4096", "--resync"],
            &f.events,
            &f.trace,
        );
        assert_eq!(got.code, Some(3), "{}", got.stderr);
    }
    let written = std::fs::read(&o1).unwrap();
    assert_eq!(written, std::fs::read(&o2).unwrap());
    let reread = run(&[], &["-j", "1"], &f.events, Path::new(&o1));
    assert_eq!((reread.code, reread.stderr.as_str()), (Some(0), ""));
    assert_eq!(reread.stdout, t.lines);
}

/// Prints `data` in-process with `parallelism`: the output, and the skips
/// or the fault that stood.
fn print_in_process(
    data: &[u8],
    events: &simpletrace::format::TraceEvents,
    resync: bool,
    parallelism: simpletrace::analyzers::print::Parallelism,
) -> (Vec<u8>, Result<Vec<simpletrace::format::Skip>, String>) {
    use simpletrace::analyzers::print::{Buffering, PrintError, print_trace};
    let reader = simpletrace::format::TraceReader::new(data, events)
        .unwrap()
        .with_resync(resync);
    let mut out = Vec::new();
    let result = print_trace(reader, &mut out, Buffering::Block, parallelism, &mut |_| {});
    let result = match result {
        Ok(summary) => Ok(summary.skips.listed().to_vec()),
        Err(PrintError::Trace(e)) => Err(e.to_string()),
        Err(PrintError::Io(e)) => panic!("{e}"),
    };
    (out, result)
}

/// Prints `data` in-process as a stream read in blocks of `block` bytes
/// ([`Driver::run_stream`]): the output, and the skips or the fault that
/// stood.
fn print_streamed(
    data: &[u8],
    events: &simpletrace::format::TraceEvents,
    resync: bool,
    block: usize,
) -> (Vec<u8>, Result<Vec<simpletrace::format::Skip>, String>) {
    use simpletrace::analyzers::print::PrintAnalyzer;
    use simpletrace::analyzers::{Driver, RunOptions};
    let kind = simpletrace::format::TraceKind::detect(data).unwrap();
    let mut driver = Driver::new();
    driver.add_parallel(PrintAnalyzer::new());
    driver.stream_block(block);
    driver.stream_resync(resync);
    let mut out = Vec::new();
    let mut input = data;
    let outcome = driver
        .run_stream(&mut input, kind, events, &mut out, RunOptions::default())
        .unwrap();
    assert!(outcome.stream_error.is_none(), "{:?}", outcome.stream_error);
    let result = match outcome.fault {
        Some(e) => Err(e.to_string()),
        None => Ok(outcome.skips.listed().to_vec()),
    };
    (out, result)
}

/// Random damage to a trace of every shape the sample has (strings,
/// mid-file mappings, dropped records): flipped bytes, spliced garbage,
/// zeroed runs, huge lengths. Chunk-parallel printing gives the same bytes
/// and the same skipped ranges (or the same fault) as sequential printing,
/// with and without `--resync`, and so does a stream read in 64-byte
/// blocks; with `--resync`, no fault but a cut tail stands.
#[test]
fn random_damage_resyncs_alike_in_parallel() {
    use simpletrace::analyzers::print::Parallelism;
    let events = support::samples::sample_events();
    let one = support::samples::sample_trace();
    // A few repetitions of the sample's records: several 4 KiB chunks.
    let mut base = one.clone();
    for _ in 0..5 {
        base.extend_from_slice(&one[24..]);
    }
    let parallel = Parallelism {
        threads: 2,
        chunk_bytes: 4096,
    };
    let mut rng = support::samples::Rng::new(88);
    let mut skipped = 0;
    for round in 0..60 {
        let mut t = base.clone();
        for _ in 0..1 + rng.below(4) {
            let i = 24 + rng.below((t.len() - 32) as u64) as usize;
            match rng.below(4) {
                0 => t[i] ^= 1 << rng.below(8),
                1 => {
                    let junk: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                    t.splice(i..i, junk);
                }
                2 => {
                    let n = (rng.below(300) as usize).min(t.len() - i);
                    t[i..i + n].fill(0);
                }
                _ => t[i..i + 4].copy_from_slice(&[0xff; 4]),
            }
        }
        if rng.below(3) == 0 {
            t.truncate(t.len() - rng.below(50) as usize);
        }
        for resync in [false, true] {
            let (want, want_result) =
                print_in_process(&t, &events, resync, Parallelism::SEQUENTIAL);
            let (got, got_result) = print_in_process(&t, &events, resync, parallel);
            assert_eq!(got_result, want_result, "round {round}, resync {resync}");
            assert!(
                got == want,
                "round {round}, resync {resync}: output differs"
            );
            // Streamed in the smallest blocks: every fault and every resync
            // decision meets a block's end somewhere.
            let (got, got_result) = print_streamed(&t, &events, resync, 64);
            assert_eq!(
                got_result, want_result,
                "round {round}, resync {resync}, streamed"
            );
            assert!(
                got == want,
                "round {round}, resync {resync}: streamed output differs"
            );
            match &want_result {
                Err(e) if resync => {
                    assert!(e.starts_with("the trace ends inside"), "round {round}: {e}")
                }
                Ok(skips) if !skips.is_empty() => skipped += 1,
                _ => {}
            }
        }
    }
    // Most rounds damage something that has to be stepped over.
    assert!(skipped > 30, "{skipped}");
}

/// QEMU's own traces have no fault for `--resync` to find: each prints
/// exactly `simpletrace.py`'s output with it, on two threads, exit 0.
#[test]
fn corpus_is_unchanged_by_resync() {
    let Some(dir) = support::corpus() else { return };
    for name in [
        "tiny",
        "strings",
        "medium-io",
        "medium-create",
        "medium-convert",
        "medium-rand",
        "dropped",
    ] {
        let plain = dir.join(format!("{name}.simpletrace.txt"));
        let golden = if plain.is_file() {
            plain
        } else {
            dir.join(format!("{name}.simpletrace.txt.gz"))
        };
        let got = run(
            &[],
            &["--resync", "-j", "2"],
            &dir.join("trace-events-all"),
            &dir.join(format!("{name}.bin")),
        );
        assert_eq!((got.code, got.stderr.as_str()), (Some(0), ""), "{name}");
        support::assert_same_output(name, got.stdout.as_bytes(), &support::read_golden(&golden));
    }
}

/// `sql` and `parquet` resync as every command does: the records outside
/// the corrupt regions (those `json --resync` gives), each region listed
/// on standard error with the summary last, exit status 3; at several
/// thread counts (more partitions, more chunks, each region still said
/// once, also when one query reads a table twice). Without --resync the
/// first region stops them (exit status 1).
#[cfg(feature = "sql")]
#[test]
fn sql_and_parquet_resync_like_every_command() {
    let (t, regions) = corrupt_trace();
    let f = files("sql_resync", &t.bytes);
    let json = run(&["json"], &["--resync"], &f.events, &f.trace);
    assert_eq!(json.code, Some(3), "{}", json.stderr);
    let lines: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sum: u64 = lines
        .iter()
        .map(|l| l["timestamp_ns"].as_u64().unwrap())
        .sum();
    let want = format!("n,t\n{},{sum}\n", lines.len());
    let skipped: Vec<String> = regions
        .iter()
        .map(|r| format!("trace: skipped bytes {}..{} ", r.start, r.end))
        .collect();
    let check_stderr = |what: &str, stderr: &str| {
        let notes: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains(" records, ") && !l.contains("warning:"))
            .collect();
        assert_eq!(notes.len(), regions.len() + 1, "{what}: {stderr}");
        for (line, want) in notes.iter().zip(&skipped) {
            assert!(line.contains(want.as_str()), "{what}: {line}");
        }
        assert!(
            notes[regions.len()].contains(&format!(
                "trace: --resync skipped {} corrupt regions",
                regions.len()
            )),
            "{what}: {stderr}"
        );
    };
    let query = "SELECT count(*) AS n, sum(ts_ns) AS t FROM records";
    // The same table twice in one query: each region is said once.
    let twice = "SELECT (SELECT count(*) FROM records) AS n, (SELECT sum(ts_ns) FROM records) AS t";
    for threads in ["1", "2", "5"] {
        for q in [query, twice] {
            let out = run(
                &["sql", "--format", "csv", "--resync", "-j", threads, q],
                &[],
                &f.events,
                &f.trace,
            );
            assert_eq!(out.code, Some(3), "-j {threads}: {}", out.stderr);
            assert_eq!(out.stdout, want, "-j {threads}");
            check_stderr("sql", &out.stderr);
        }
    }
    let out = run(&["sql", "--format", "csv", query], &[], &f.events, &f.trace);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stdout.is_empty() || out.stdout == "n,t\n",
        "{}",
        out.stdout
    );

    for threads in ["1", "3"] {
        let set = f.dir.join(format!("set-{threads}"));
        let _ = std::fs::remove_dir_all(&set);
        let set_arg = set.display().to_string();
        let out = run(
            &["parquet", "-o", &set_arg, "--resync", "-j", threads],
            &[],
            &f.events,
            &f.trace,
        );
        assert_eq!(out.code, Some(3), "{}", out.stderr);
        check_stderr("parquet", &out.stderr);
        let read = support::run([
            "sql",
            "--format",
            "csv",
            "--dataset",
            set_arg.as_str(),
            query,
        ]);
        assert_eq!(String::from_utf8_lossy(&read.stdout), want);
    }
    let set = f.dir.join("set-strict");
    let out = run(
        &["parquet", "-o", &set.display().to_string()],
        &[],
        &f.events,
        &f.trace,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}
