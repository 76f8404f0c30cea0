//! What each fuzz target does with its input, and the oracles it checks.
//!
//! Shared by the libFuzzer targets in `fuzz/fuzz_targets/` and by the main
//! crate's `tests/fuzz_regressions.rs` (through a `#[path]` module), so a
//! saved crashing input replays through exactly the code that found it.
//! Every function panics when an oracle fails; returning means the input
//! passed.
//!
//! Input layouts (the first bytes choose the mode, the rest is data):
//! - [`trace_events`]: the whole input is a trace-events file.
//! - [`decode`]: `MODE TRACE...`; see [`decode`].
//! - [`cformat`]: `NDECL NVAL (TYPE)* (VALUE)* FORMAT...`; see [`cformat`].
//! - [`print`]: `MODE CHUNK [SELECTION] [EVENTS] TRACE...`; see [`print`].

use std::sync::OnceLock;

use simpletrace::analyzers::json::JsonLines;
use simpletrace::analyzers::locks::LocksAnalyzer;
use simpletrace::analyzers::log::LogPrinter;
use simpletrace::analyzers::print::{Parallelism, PrintAnalyzer, Printer};
use simpletrace::analyzers::select::{Selection, TimeBound};
use simpletrace::analyzers::stats::{StatsAnalyzer, StatsSort};
use simpletrace::analyzers::{Driver, Event, RunOptions};
use simpletrace::format::cformat::{CFormat, MAX_FIELD};
use simpletrace::format::chunks::Chunks;
use simpletrace::format::events::{
    ArgKind, FormatPiece, FormatString, MAX_ARGS, TCG_EXEC_SUFFIX, TCG_TRANS_SUFFIX, TcgHalf,
    VCPU_ARG_NAME, is_string_type,
};
use simpletrace::format::header::{HEADER_EVENT_ID, HEADER_MAGIC, V0_HEADER_LEN};
use simpletrace::format::{
    ArgDecl, ArgValue, ByteOrder, Error, Item, TraceEvents, TraceKind, TraceReader, Version, pyfmt,
};
use simpletrace::pattern::EventPatterns;

/// The project's sample declarations (`testdata/sample.trace-events`).
const SAMPLE_EVENTS: &[u8] = include_bytes!("../../testdata/sample.trace-events");

/// A small trace-events file made for fuzzing: every argument kind, ten
/// arguments, two strings in a row, a duplicate name (the later wins), an
/// event called `dropped`, a `vcpu` event (its implicit first argument), a
/// `vcpu tcg` declaration (two events, last, so that the positions before
/// stay those of earlier versions of this file), positional and `*`
/// conversions, and two formats the `log` printer fails on: one with a
/// width too large (`%99999d`), one that is not quoted literals and macros
/// (`e12`).
pub const FUZZ_EVENTS: &str = r#"# simpletrace fuzzing declarations
e0(void)
e1(int x) "x=%d"
e2(const char *s) "s=%s"
e3(const char *a, uint64_t b, const char *c) "a=%s b=0x%" PRIx64 " c=%-8.3s|"
e4(uint8_t a, int8_t b, uint16_t c, int16_t d, uint32_t e, int32_t f, uint64_t g, int64_t h, bool i, void *j) "%u %d %hu %hd %x %i %lu %ld %d %p"
e5(char *s, size_t n, ssize_t r) "%.*s %zu %zd"
e6(unsigned long long v, long w, unsigned char c, short h) "%llx %ld %c %hd %4$d %1$*3$llu"
e7(void *p)
e8(void *cpu, uint64_t v) "cpu=%p v=0x%" PRIx64
disable e9(int x) "%99999d"
vcpu e10(const char *s, const char *t) "%s%s%%%n"
e1(int x, int y) "x=%d y=%d"
dropped(int x) "never"
e11(uint64_t a) "%#o %#x %#b %+d % d %08.3d %-5c %f %5y"
e12(int x) "x=%d" ;
vcpu tcg e13(TCGv a, uint16_t b, TCGv_i32 c) "b=%d", "a=0x%" PRIx64 " b=%d c=%u"
"#;

/// The project's `testdata/sample.trace-events`, parsed.
pub fn sample_events() -> &'static TraceEvents {
    static EVENTS: OnceLock<TraceEvents> = OnceLock::new();
    EVENTS.get_or_init(
        || match TraceEvents::parse("sample.trace-events", SAMPLE_EVENTS) {
            Ok(ev) => ev,
            Err(e) => panic!("sample.trace-events: {e}"),
        },
    )
}

/// [`FUZZ_EVENTS`], parsed.
pub fn fuzz_events() -> &'static TraceEvents {
    static EVENTS: OnceLock<TraceEvents> = OnceLock::new();
    EVENTS.get_or_init(
        || match TraceEvents::parse("fuzz", FUZZ_EVENTS.as_bytes()) {
            Ok(ev) => ev,
            Err(e) => panic!("FUZZ_EVENTS: {e}"),
        },
    )
}

/// A fixed events file: the sample's for `false`, [`FUZZ_EVENTS`] for
/// `true`.
fn fixed_events(fuzz: bool) -> &'static TraceEvents {
    if fuzz { fuzz_events() } else { sample_events() }
}

/// Version and byte order from two mode bits.
fn version_of(bits: u8) -> Version {
    match bits & 3 {
        0 => Version::V4,
        1 => Version::V3,
        2 => Version::V2,
        _ => Version::V0,
    }
}

/// A valid file header of `version` in `order` (64 bytes for version 0).
pub fn header(version: Version, order: ByteOrder) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [HEADER_EVENT_ID, HEADER_MAGIC, version.number()] {
        match order {
            ByteOrder::Little => out.extend_from_slice(&word.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&word.to_be_bytes()),
        }
    }
    if version == Version::V0 {
        out.resize(V0_HEADER_LEN, 0);
    }
    out
}

// ---------------------------------------------------------------------
// trace_events

/// The trace-events parser on arbitrary bytes. Oracles: an accepted file
/// has consistent positions, names, argument counts and kinds; every
/// format of it goes through the C-format parser and renderer; errors
/// display and name a line that exists.
pub fn trace_events(data: &[u8]) {
    let events = match TraceEvents::parse("fuzz", data) {
        Ok(events) => events,
        Err(e) => {
            // Lines end at `\n`, `\r\n` or `\r`.
            let ends = data
                .iter()
                .enumerate()
                .filter(|&(i, &b)| {
                    b == b'\r' || (b == b'\n' && data.get(i.wrapping_sub(1)) != Some(&b'\r'))
                })
                .count();
            let lines = ends + 1;
            assert!(
                (e.line as usize) <= lines,
                "error line {} past the {lines} lines: {e}",
                e.line
            );
            let _ = e.to_string();
            return;
        }
    };
    let decls: Vec<_> = events.iter().collect();
    assert_eq!(decls.len(), events.len());
    for (i, decl) in decls.iter().enumerate() {
        assert_eq!(decl.position, i);
        assert!(!decl.is_dropped_pseudo());
        // At most ten declared, and a `vcpu` event's implicit one first.
        let vcpu = decl.properties.vcpu;
        assert!(
            decl.args.len() <= MAX_ARGS + usize::from(vcpu),
            "{} arguments",
            decl.args.len()
        );
        assert_eq!(
            decl.args.first().map(|a| a.name.as_str()) == Some(VCPU_ARG_NAME) && vcpu,
            vcpu
        );
        // A format that does not parse is no format.
        assert!(decl.format_error.is_none() || decl.format.is_none());
        // The two events of a `tcg` declaration follow each other.
        match decl.properties.tcg {
            None => {}
            Some(TcgHalf::Trans) => {
                assert!(decl.name.ends_with(TCG_TRANS_SUFFIX));
                assert_eq!(
                    decls.get(i + 1).map(|d| d.properties.tcg),
                    Some(Some(TcgHalf::Exec))
                );
            }
            Some(TcgHalf::Exec) => {
                assert!(decl.name.ends_with(TCG_EXEC_SUFFIX));
                assert_eq!(
                    decls.get(i.wrapping_sub(1)).map(|d| d.properties.tcg),
                    Some(Some(TcgHalf::Trans))
                );
            }
        }
        // The name resolves to a declaration of that name (the last one;
        // `dropped` always means the dropped-events pseudo event).
        let by_name = events.by_name(decl.name.as_bytes());
        match by_name {
            Some(d) if decl.name == "dropped" => assert!(d.is_dropped_pseudo()),
            Some(d) => {
                assert_eq!(d.name, decl.name);
                assert!(d.position >= decl.position);
            }
            None => panic!("{} not found by name", decl.name),
        }
        for arg in &decl.args {
            assert_eq!(
                arg.kind == ArgKind::String,
                is_string_type(&arg.ty),
                "{arg:?}"
            );
            assert!(decl.arg_position(&arg.name).is_some());
        }
        if let Some(Ok(f)) = decl.format.as_ref().map(CFormat::parse) {
            // Every argument as zero or the empty string.
            let values: Vec<_> = decl
                .args
                .iter()
                .map(|a| match a.kind {
                    ArgKind::String => ArgValue::Str(b""),
                    _ => ArgValue::Int(0),
                })
                .collect();
            let mut out = Vec::new();
            f.render(&decl.args, &values, &mut out);
        }
    }
}

// ---------------------------------------------------------------------
// decode

/// What one record of a walk was, compared between a whole-file read and
/// the chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Mapping {
        offset: u64,
        record: u64,
        id: u64,
        declared: bool,
    },
    Event {
        offset: u64,
        record: u64,
        id: u64,
        name: String,
        timestamp_ns: u64,
        pid: u32,
        payload: usize,
    },
}

impl Seen {
    fn offset(&self) -> u64 {
        match self {
            Seen::Mapping { offset, .. } | Seen::Event { offset, .. } => *offset,
        }
    }
}

/// Reads every record of `reader`, and with `check` decodes each event's
/// arguments both ways; returns the records and the fault that ended the
/// walk.
fn walk(mut reader: TraceReader<'_>, len: usize, check: bool) -> (Vec<Seen>, Option<Error>) {
    let mut seen = Vec::new();
    let mut printer = Printer::new();
    while let Some(item) = reader.next_item() {
        match item {
            Ok(Item::Mapping(m)) => {
                assert!((m.at.offset.0 as usize) < len);
                if check && seen.is_empty() {
                    let _ = format!("{m:?}");
                }
                seen.push(Seen::Mapping {
                    offset: m.at.offset.0,
                    record: m.at.record.0,
                    id: m.id.0,
                    declared: m.decl.is_some(),
                });
            }
            Ok(Item::Event(record)) => {
                assert!((record.at.offset.0 as usize) < len);
                if check {
                    check_arguments(&record, &mut printer, seen.is_empty());
                }
                seen.push(Seen::Event {
                    offset: record.at.offset.0,
                    record: record.at.record.0,
                    id: record.id.0,
                    name: record.name().to_owned(),
                    timestamp_ns: record.timestamp_ns,
                    pid: record.pid,
                    payload: record.payload.len(),
                });
            }
            Err(e) => {
                check_error(&e, len);
                // A reader is done after its first fault.
                assert!(reader.next_item().is_none(), "records after {e}");
                return (seen, Some(e));
            }
        }
    }
    assert_eq!(reader.position().0 as usize, len, "a clean end is the end");
    (seen, None)
}

fn check_error(e: &Error, len: usize) {
    let _ = e.to_string();
    let _ = e.is_truncation();
    if let Some(offset) = e.offset() {
        assert!((offset.0 as usize) < len.max(1), "{e} past the end ({len})");
    }
}

/// The two argument decoders agree: the checked iterator
/// ([`simpletrace::format::Record::args`]) and the word decoder the
/// driver uses ([`Event::decode`]); so do the accessors built on them.
fn check_arguments(record: &simpletrace::format::Record<'_>, printer: &mut Printer, debug: bool) {
    if debug {
        let _ = format!("{record:?}");
    }
    let slow: Vec<_> = record.args().collect();
    assert!(slow.len() <= record.decl.args.len());
    let first_fault = slow.iter().find_map(|a| a.as_ref().err().cloned());
    match (Event::decode(*record), first_fault) {
        (Ok(ev), None) => {
            let values: Vec<_> = slow
                .iter()
                .filter_map(|a| a.as_ref().ok().copied())
                .collect();
            assert_eq!(values.len(), record.decl.args.len());
            assert_eq!(ev.arg_count(), values.len());
            assert!(ev.args().eq(values.iter().copied()));
            for (i, value) in values.iter().enumerate() {
                assert_eq!(ev.arg(i), Some(*value));
                assert_eq!(record.arg(i), Some(Ok(*value)));
                let _ = ev.i64_at(i);
                let mut out = Vec::new();
                match value {
                    ArgValue::Int(v) => pyfmt::write_hex(&mut out, *v),
                    ArgValue::Str(s) => {
                        assert!(s.len() <= record.payload.len());
                        pyfmt::write_bytes_repr(&mut out, s);
                    }
                }
            }
            if let Some(arg) = record.decl.args.first() {
                let _ = (ev.u64(&arg.name), ev.str(&arg.name), ev.bytes(&arg.name));
                assert!(record.arg_by_name(&arg.name).is_some());
            }
            let mut line = Vec::new();
            let printed = printer.write_record(&mut line, record);
            assert!(printed.is_ok());
            assert_eq!(line.last(), Some(&b'\n'));
            if debug {
                let _ = format!("{ev:?}");
            }
        }
        (Err(fast), Some(slow)) => assert_eq!(fast, slow),
        (fast, slow) => panic!("decoders disagree: {fast:?} vs {slow:?}"),
    }
}

/// The decoder on arbitrary bytes against a fixed events file.
///
/// `MODE`: bit 0 picks [`FUZZ_EVENTS`] over the sample's; bit 1 reads the
/// bytes as headerless records of the version (bits 3-4: 4, 3, 2, 0) and
/// byte order (bit 5: big) the mode gives; otherwise bit 2 puts a valid
/// header of that version and order before the bytes (so the fuzzer need
/// not find the magic), and without it the bytes are the whole file.
/// Bits 6-7 pick a chunk size for the splitter.
///
/// Oracles: no panic; the two argument decoders agree on every record;
/// the chunk splitter ([`Chunks`], plain and filtered) yields contiguous
/// chunks whose records, read independently, are exactly the whole read's
/// up to its first fault, with the right timestamp before each chunk.
pub fn decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let events = fixed_events(mode & 1 != 0);
    let version = version_of(mode >> 3);
    let order = if mode & 0x20 != 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let with_header;
    let trace: &[u8] = if mode & 2 == 0 && mode & 4 != 0 {
        with_header = [header(version, order).as_slice(), rest].concat();
        &with_header
    } else {
        rest
    };
    let _ = TraceKind::detect(trace);
    let reader = if mode & 2 != 0 {
        let kind = TraceKind {
            version,
            order,
            records_start: 0,
        };
        TraceReader::with_kind(trace, events, kind)
    } else {
        match TraceReader::new(trace, events) {
            Ok(r) => r,
            Err(e) => {
                assert_eq!(e.offset(), None, "a header fault is not in a record");
                let _ = e.to_string();
                return;
            }
        }
    };
    let len = trace.len();
    let (whole, fault) = walk(reader.clone(), len, true);

    let small = [1, 3, 16, 64][usize::from(mode >> 6)];
    for target in [small, 100, usize::MAX] {
        check_chunks(
            Chunks::new(reader.clone(), target),
            &whole,
            &fault,
            len,
            |_| true,
        );
        // A filter on pid and time, as `--pid`/`--start` make: the
        // timestamp before each chunk is that of the last kept record.
        let keep = |_: &simpletrace::format::EventDecl, pid: u32, ts: u64| pid % 3 != 1 && ts > 5;
        check_chunks(
            Chunks::filtered(reader.clone(), target, &keep),
            &whole,
            &fault,
            len,
            |s| matches!(s, Seen::Event { pid, timestamp_ns, .. } if pid % 3 != 1 && *timestamp_ns > 5),
        );
    }
}

fn check_chunks(
    chunks: Chunks<'_>,
    whole: &[Seen],
    fault: &Option<Error>,
    len: usize,
    kept: impl Fn(&Seen) -> bool,
) {
    let mut joined: Vec<Seen> = Vec::new();
    let mut first_fault = None;
    let mut expected_start = None;
    // The whole read's records before the current chunk, and the
    // timestamp of the last kept event among them.
    let mut before = 0;
    let mut want_prev = None;
    for (n, chunk) in chunks.enumerate() {
        assert_eq!(chunk.index, n);
        assert_eq!(chunk.reader.position().0 as usize, chunk.range.start);
        assert!(chunk.range.start < chunk.range.end && chunk.range.end <= len);
        if first_fault.is_some() {
            // The whole read stopped at the fault; later chunks (past an
            // unmapped id, say) are not compared.
            continue;
        }
        if let Some(start) = expected_start {
            assert_eq!(chunk.range.start, start, "chunks are contiguous");
        }
        expected_start = Some(chunk.range.end);
        while let Some(s) = whole.get(before)
            && (s.offset() as usize) < chunk.range.start
        {
            if let Seen::Event { timestamp_ns, .. } = s
                && kept(s)
            {
                want_prev = Some(*timestamp_ns);
            }
            before += 1;
        }
        assert_eq!(chunk.prev_timestamp_ns, want_prev, "chunk {n}");
        // The arguments were checked in the whole read.
        let (part, part_fault) = walk(chunk.reader, chunk.range.end, false);
        joined.extend(part);
        first_fault = part_fault;
    }
    assert_eq!(joined, whole, "chunks read what one pass reads");
    assert_eq!(&first_fault, fault, "chunks meet the same fault");
    if fault.is_none() && !whole.is_empty() {
        assert_eq!(expected_start, Some(len), "the chunks cover the trace");
    }
}

// ---------------------------------------------------------------------
// cformat

/// Declared types the `cformat` target picks from, with an odd kind no
/// parser makes (a zero-bit integer) to check the renderer never trusts
/// its declarations.
pub const TYPES: &[&str] = &[
    "int",
    "unsigned",
    "long",
    "unsigned long long",
    "short",
    "unsigned char",
    "char",
    "bool",
    "int8_t",
    "uint8_t",
    "int16_t",
    "uint16_t",
    "int32_t",
    "uint32_t",
    "int64_t",
    "uint64_t",
    "size_t",
    "ssize_t",
    "void *",
    "const char *",
    "char *",
    "const uint8_t *",
];

/// Longest format the `cformat` target renders: each conversion writes at
/// most [`MAX_FIELD`] bytes of padding, so output stays under the memory
/// limit the fuzzers run with.
pub const MAX_FORMAT: usize = 256;

/// The C-format parser and renderer on arbitrary formats, declarations
/// and values.
///
/// Layout: `NDECL` (declared arguments, mod 12), `NVAL` (values, mod 12),
/// one type byte per declaration (an index into the types above, or the
/// odd kind), then per value a tag byte (even: an integer, 8 bytes
/// follow; odd: a string of `tag >> 1` bytes follows), then the format.
/// When `NDECL` has bit 7 set the format is split at `\x01` bytes into
/// pieces that alternate literal and macro and goes through
/// [`CFormat::parse`], otherwise through [`CFormat::from_bytes`].
///
/// Oracles: no panic; rendering is deterministic, appends, and writes at
/// most what the format's conversions can (a bound per format byte).
pub fn cformat(data: &[u8]) {
    let mut cur = Bytes(data);
    let (Some(ndecl), Some(nval)) = (cur.byte(), cur.byte()) else {
        return;
    };
    let decls: Vec<ArgDecl> = (0..ndecl % 12)
        .filter_map(|i| {
            let t = cur.byte()?;
            let ty = TYPES.get(usize::from(t) % (TYPES.len() + 1));
            Some(ArgDecl {
                ty: ty.copied().unwrap_or("odd").to_owned(),
                name: format!("a{i}"),
                kind: match ty {
                    Some(ty) => ArgKind::of_type(ty),
                    None => ArgKind::Int {
                        signed: t & 1 != 0,
                        bits: t >> 1,
                    },
                },
            })
        })
        .collect();
    let values: Vec<ArgValue<'_>> = (0..nval % 12)
        .filter_map(|_| {
            let tag = cur.byte()?;
            if tag & 1 == 0 {
                let word = cur.take(8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(word);
                Some(ArgValue::Int(u64::from_le_bytes(b)))
            } else {
                Some(ArgValue::Str(cur.take(usize::from(tag >> 1))?))
            }
        })
        .collect();
    let format_bytes = cur.0;
    if format_bytes.len() > MAX_FORMAT {
        return;
    }
    let parsed = if ndecl & 0x80 != 0 {
        let text = String::from_utf8_lossy(format_bytes);
        let pieces = text
            .split('\x01')
            .enumerate()
            .map(|(i, p)| {
                if i % 2 == 0 {
                    FormatPiece::Literal(p.to_owned())
                } else {
                    FormatPiece::Macro(p.to_owned())
                }
            })
            .collect();
        CFormat::parse(&FormatString {
            raw: text.clone().into_owned(),
            pieces,
        })
    } else {
        CFormat::from_bytes(format_bytes)
    };
    let Ok(format) = parsed.map_err(|e| e.to_string()) else {
        return;
    };
    let mut out = b"prefix".to_vec();
    format.render(&decls, &values, &mut out);
    assert!(out.starts_with(b"prefix"), "render appends");
    let rendered = &out[6..];
    // A conversion writes at most MAX_FIELD bytes of padding plus its
    // value (64 binary digits and a prefix, `<?>`, `(nil)`), or a string
    // (at most every value's bytes); a macro expands a PRI name of at
    // least 5 bytes into at most 2.
    let strings: usize = values
        .iter()
        .map(|v| v.as_bytes().map_or(0, <[u8]>::len))
        .sum();
    let conversions = format_bytes.iter().filter(|&&b| b == b'%').count();
    let bound = format_bytes.len() * 4 + conversions * (MAX_FIELD as usize + 80 + strings);
    assert!(
        rendered.len() <= bound,
        "{} bytes from a {}-byte format",
        rendered.len(),
        format_bytes.len()
    );
    let mut again = Vec::new();
    format.render(&decls, &values, &mut again);
    assert_eq!(again, rendered, "rendering is deterministic");
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    if ndecl & 0x80 == 0 {
        glibc::compare(format_bytes, &decls, &values, rendered);
    }
}

/// The renderer against the C library it imitates: where it claims to
/// know what glibc prints (it wrote no [`MISMATCH`] marker), glibc's
/// `snprintf` with the same arguments, each passed in its 64-bit variadic
/// slot as x86-64 passes it, must print the same bytes.
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
mod glibc {
    use std::ffi::{CString, c_char, c_int};

    use simpletrace::format::cformat::MISMATCH;
    use simpletrace::format::{ArgDecl, ArgKind, ArgValue};

    unsafe extern "C" {
        fn snprintf(buf: *mut c_char, len: usize, format: *const c_char, ...) -> c_int;
    }

    /// The value `printf` finds in argument slot `i`, and the string it
    /// points to when it is one.
    fn slot(decls: &[ArgDecl], values: &[ArgValue<'_>], i: usize) -> (u64, Option<CString>) {
        let (Some(decl), Some(value)) = (decls.get(i), values.get(i)) else {
            return (0, None);
        };
        match (decl.kind, *value) {
            (ArgKind::String, ArgValue::Str(s)) => {
                let s = s.split(|&b| b == 0).next().unwrap_or_default();
                let c = CString::new(s).unwrap_or_default();
                (c.as_ptr() as u64, Some(c))
            }
            (ArgKind::Bool, ArgValue::Int(v)) => (u64::from(v != 0), None),
            (ArgKind::Int { signed, bits }, ArgValue::Int(v)) if (1..64).contains(&bits) => {
                let shift = 64 - u32::from(bits);
                let v = if signed {
                    (((v << shift) as i64) >> shift) as u64
                } else {
                    (v << shift) >> shift
                };
                (v, None)
            }
            (_, ArgValue::Int(v)) => (v, None),
            (_, ArgValue::Str(_)) => (0, None),
        }
    }

    pub(super) fn compare(
        format: &[u8],
        decls: &[ArgDecl],
        values: &[ArgValue<'_>],
        rendered: &[u8],
    ) {
        // Only where the renderer claims to know the output; never `%n`
        // (glibc would write through its argument) nor positional
        // arguments (mixing them with sequential ones is undefined, and
        // the renderer goes its own way there).
        let end = format.iter().position(|&b| b == 0).unwrap_or(format.len());
        let format = &format[..end];
        if rendered.windows(MISMATCH.len()).any(|w| w == MISMATCH)
            || format.contains(&b'n')
            || format.contains(&b'$')
        {
            return;
        }
        let Ok(c_format) = CString::new(format) else {
            return;
        };
        let slots: Vec<_> = (0..10).map(|i| slot(decls, values, i)).collect();
        let a: Vec<u64> = slots.iter().map(|s| s.0).collect();
        let mut buf = vec![0u8; rendered.len() + 2];
        // SAFETY: the buffer's length is passed; the format is a C string;
        // ten 64-bit arguments are passed, more than the format reads
        // (the renderer marks a conversion without an argument), and each
        // `%s` reads a C string kept alive in `slots` or a null pointer
        // (any other address the renderer marks, and then this is not
        // called). Positional arguments and `%n` were excluded above.
        let n = unsafe {
            snprintf(
                buf.as_mut_ptr().cast(),
                buf.len(),
                c_format.as_ptr(),
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                a[5],
                a[6],
                a[7],
                a[8],
                a[9],
            )
        };
        // glibc fails (-1) at a format that ends inside a conversion; the
        // renderer prints what came before it.
        let Ok(n) = usize::try_from(n) else {
            return;
        };
        let want = &buf[..n.min(buf.len().saturating_sub(1))];
        assert!(
            n == rendered.len() && want == rendered,
            "glibc prints {:?} ({n} bytes), the renderer {:?}, for {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(rendered),
            String::from_utf8_lossy(format)
        );
    }
}

/// A cursor over fuzz input.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

// ---------------------------------------------------------------------
// print

/// Longest events text the `print` target reads from its input.
pub const MAX_EVENTS_TEXT: usize = 1024;

/// The printers end to end through the [`Driver`], sequentially and on two
/// threads with tiny chunks.
///
/// Layout: `MODE CHUNK`, then when `MODE` bit 4 is set a selection (`SEL
/// PID(4) TIME(8)`, little-endian), then when `MODE & 3 == 2` a u16
/// length and that many bytes of trace-events text, then the trace.
/// `MODE` bits 0-1: events (0: sample, 1 and 3: [`FUZZ_EVENTS`], 2: from
/// the input); bit 2: headerless; bit 3: a valid little-endian version-4
/// header goes before the trace; bits 5-6: the analyzers (the drop-in
/// printer, `--format log` with timestamps, JSON Lines, or all of those
/// with stats and locks in one pass); bit 7: `--resync`; `CHUNK`: chunk
/// size minus one (and the stream's block size minus 64).
///
/// Oracle: parallel output, and the output of the same bytes read as a
/// stream in small blocks ([`Driver::run_stream`]), equal sequential
/// output byte for byte, with the same fault, record count, skipped
/// regions, reports or error.
pub fn print(data: &[u8]) {
    let mut cur = Bytes(data);
    let (Some(mode), Some(chunk)) = (cur.byte(), cur.byte()) else {
        return;
    };
    let mut selection = Selection::default();
    if mode & 0x10 != 0 {
        let (Some(sel), Some(pid), Some(time)) = (cur.byte(), cur.take(4), cur.take(8)) else {
            return;
        };
        let pid = u32::from_le_bytes([pid[0], pid[1], pid[2], pid[3]]);
        let mut t = [0u8; 8];
        t.copy_from_slice(time);
        let time = u64::from_le_bytes(t);
        if sel & 1 != 0 {
            selection.pids = vec![pid, pid.wrapping_add(1)];
        }
        if sel & 2 != 0 {
            selection.start = Some(TimeBound::Absolute(time));
        }
        if sel & 4 != 0 {
            selection.end = Some(TimeBound::Relative(time >> (sel >> 4)));
        }
        if sel & 8 != 0 {
            selection.events = EventPatterns::parse_list("e1*,-e10,blk_*,Dropped_Event").ok();
        }
    }
    let custom;
    let mut custom_text: &[u8] = b"";
    let events: &TraceEvents = match mode & 3 {
        0 => sample_events(),
        2 => {
            let Some(n) = cur.take(2) else { return };
            let n = usize::from(u16::from_le_bytes([n[0], n[1]]));
            let Some(text) = cur.take(n.min(MAX_EVENTS_TEXT)) else {
                return;
            };
            match TraceEvents::parse("fuzz", text) {
                Ok(ev) => {
                    custom = ev;
                    custom_text = text;
                    &custom
                }
                Err(_) => return,
            }
        }
        _ => fuzz_events(),
    };
    // A format with `*` or a width of three digits or more can turn a few
    // bytes into many KiB per record (glibc would print them too); only
    // formats without them run through the `log` printer here, so that
    // output stays in proportion to the input. The cformat target covers
    // the others.
    let log_ok = !custom_text.contains(&b'*')
        && !custom_text
            .windows(3)
            .any(|w| w.iter().all(u8::is_ascii_digit));
    let with_header;
    let trace: &[u8] = if mode & 8 != 0 && mode & 4 == 0 {
        with_header = [header(Version::V4, ByteOrder::Little).as_slice(), cur.0].concat();
        &with_header
    } else {
        cur.0
    };
    let headerless = mode & 4 != 0;
    let analyzers = (mode >> 5) & 3;
    let resync = mode & 0x80 != 0;
    if analyzers == 1 && !log_ok {
        return;
    }
    // 0 threads: read as a stream.
    let run = |threads: usize| {
        let kind = if headerless {
            TraceKind::headerless()
        } else {
            match TraceKind::detect(trace) {
                Ok(kind) => kind,
                Err(e) => return Err(e.to_string()),
            }
        };
        let mut driver = Driver::new();
        match analyzers {
            0 => driver.add_parallel(PrintAnalyzer::new()),
            1 => driver.add_parallel(LogPrinter::new(true)),
            2 => driver.add_parallel(JsonLines::new()),
            _ => {
                driver.add_parallel(PrintAnalyzer::new());
                driver.add_parallel(JsonLines::new());
                if log_ok {
                    driver.add_parallel(LogPrinter::new(false));
                }
                driver.add_parallel(StatsAnalyzer::new(StatsSort::Count, None, true));
                driver.add(LocksAnalyzer::default());
            }
        }
        driver.select(selection.clone());
        let options = RunOptions {
            parallelism: Parallelism {
                threads,
                chunk_bytes: usize::from(chunk) + 1,
            },
            ..RunOptions::default()
        };
        let mut out = Vec::new();
        let outcome = if threads == 0 {
            driver.stream_block(64 + usize::from(chunk));
            driver.stream_resync(resync);
            let mut input = trace;
            driver.run_stream(&mut input, kind, events, &mut out, options)
        } else {
            let reader = TraceReader::with_kind(trace, events, kind).with_resync(resync);
            driver.run(reader, &mut out, options)
        };
        Ok(match outcome {
            Ok(o) => {
                assert!(o.stream_error.is_none(), "{:?}", o.stream_error);
                (out, Ok((o.records, o.fault, o.skips, o.stopped, o.reports)))
            }
            Err(e) => (out, Err(e.to_string())),
        })
    };
    let sequential = run(1);
    for (name, other) in [("parallel", run(2)), ("streamed", run(0))] {
        match (&sequential, &other) {
            (Ok((seq_out, seq)), Ok((other_out, other))) => {
                if seq_out != other_out {
                    panic!(
                        "{name} output differs:\n--- sequential\n{}\n--- {name}\n{}",
                        String::from_utf8_lossy(seq_out),
                        String::from_utf8_lossy(other_out)
                    );
                }
                assert_eq!(seq, other, "{name} outcome differs");
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("{sequential:?} vs {name} {other:?}"),
        }
    }
}
