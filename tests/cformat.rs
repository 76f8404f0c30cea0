//! `CFormat` against the C library itself: for every declaration of a
//! trace-events file, random argument values of the declared types are
//! rendered by `CFormat` and by the system C compiler's `snprintf` (the
//! declaration's format exactly as written, PRI macros and all, each
//! argument a C expression of its declared type), and the two outputs must
//! be the same bytes.
//!
//! Declarations without a format are skipped (there is nothing to print).
//! A case whose rendering contains `<?>` (`cformat::MISMATCH`) is one where
//! C's behaviour is undefined (a `%s` of an integer, a missing argument, a
//! `%p` of a string whose address is not recorded): C cannot be run on it
//! (it may crash), so it is not compiled; each file states how many such
//! cases it may have, and the generated strings never contain `<?>`, so no
//! other case can be mistaken for one.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use simpletrace::format::cformat::{CFormat, MISMATCH};
use simpletrace::format::{ArgKind, ArgValue, EventDecl, TraceEvents};

use crate::support::{self, samples::Rng};

/// Random cases per declaration.
const CASES: usize = 5;

/// Random cases per declaration of the edge formats.
const EDGE_CASES: usize = 60;

/// The C buffer; every expected output is shorter.
const BUF_SIZE: usize = 1 << 16;

/// Conversions per generated C function (keeps each function, and the
/// compiler's time on it, small).
const CALLS_PER_FUNCTION: usize = 250;

/// One argument value, with what the C program passes for it.
#[derive(Debug, Clone)]
enum Value {
    /// An integer, bool or pointer, as QEMU records it.
    Int(u64),
    /// A string's bytes.
    Str(Vec<u8>),
    /// A NULL `const char *` recorded as its address (version-0 traces):
    /// `ArgValue::Int(0)`, and `(const char *)0` in C.
    NullStr,
}

impl Value {
    fn arg(&self) -> ArgValue<'_> {
        match self {
            Value::Int(v) => ArgValue::Int(*v),
            Value::Str(s) => ArgValue::Str(s),
            Value::NullStr => ArgValue::Int(0),
        }
    }
}

/// One rendering to compare.
struct Case<'e> {
    decl: &'e EventDecl,
    values: Vec<Value>,
    ours: Vec<u8>,
}

/// What a run covered.
#[derive(Debug, Default)]
struct Coverage {
    declarations: usize,
    without_format: usize,
    compared: usize,
    /// Cases drawn again with small integers (see `check`).
    redrawn: usize,
    /// Event names of the cases not compared because C's behaviour is
    /// undefined for them.
    undefined: Vec<String>,
}

const STRINGS: &[&[u8]] = &[
    b"",
    b"hello world",
    b"100% %d %s %% %n",
    b"caf\xc3\xa9 \xff\xfe\x80\x7f",
    b"tab\there\rcr",
    b"line\nbreak",
    b"  leading and trailing  ",
    b"img/small.qcow2",
    b"\"quoted\" \\back\\ ??= trigraph",
    b"cut\0after a NUL",
];

/// A value of `kind` for case `case` (0: all zeros, 1: all ones; later
/// cases random edges and random values). Arguments named `star*` are
/// widths and precisions: small, possibly negative, ints; those named
/// `ascii*`, ASCII characters. With `small`, every integer is small.
fn value(kind: ArgKind, name: &str, rng: &mut Rng, case: usize, small: bool) -> Value {
    let pick = match case {
        0 => 0,
        1 => 1,
        _ => rng.below(10),
    };
    match kind {
        ArgKind::String => match pick {
            0 => Value::Str(Vec::new()),
            1..=4 => Value::Str(STRINGS[rng.below(STRINGS.len() as u64) as usize].to_vec()),
            5 => Value::NullStr,
            6 => Value::Str(vec![b'x'; 1 + rng.below(300) as usize]),
            _ => loop {
                let len = rng.below(40) as usize;
                let s: Vec<u8> = (0..len).map(|_| 1 + rng.below(255) as u8).collect();
                if !s.windows(MISMATCH.len()).any(|w| w == MISMATCH) {
                    break Value::Str(s);
                }
            },
        },
        ArgKind::Pointer => Value::Int(match pick {
            0 => 0,
            1 => u64::MAX,
            2 => 1,
            3 => 0x7fff_ffff_ffff_ffff,
            4 => 0x8000_0000_0000_0000,
            5 => 0xffff_ffff,
            6 => 0x5643_596b_66b0 + (rng.below(1 << 20) << 4),
            7 => 0x7f21_0000_0000 | rng.below(1 << 32),
            _ => rng.next(),
        }),
        ArgKind::Bool => Value::Int(match pick {
            0 => 0,
            1 => 1,
            // Not what QEMU writes, but `(bool)x` in C and `!= 0` here.
            2 => rng.next(),
            _ => rng.below(2),
        }),
        ArgKind::Int { signed, bits } => {
            let bits = u32::from(bits);
            let mask = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let canonical = |x: u64| {
                let x = x & mask;
                if signed && bits < 64 && x >> (bits - 1) & 1 == 1 {
                    x | !mask
                } else {
                    x
                }
            };
            if name.starts_with("ascii") {
                return Value::Int(rng.below(128));
            }
            if name.starts_with("star") || small {
                return Value::Int(canonical(rng.below(51).wrapping_sub(25)));
            }
            Value::Int(match pick {
                0 => 0,
                1 => canonical(u64::MAX),
                // The signed minimum (or 0x80..., unsigned).
                2 => canonical(1 << (bits - 1)),
                // The signed maximum (or 0x7f..., unsigned).
                3 => canonical(mask >> 1),
                4 => canonical(rng.below(300)),
                5 => canonical(rng.below(300).wrapping_neg()),
                6 => canonical(1 << rng.below(u64::from(bits))),
                // Random bits beyond the type's width: not what QEMU
                // writes, but a C cast truncates them as `CFormat` does.
                7 => rng.next(),
                _ => canonical(rng.next()),
            })
        }
    }
}

/// A C string literal of `bytes`, every byte unambiguous.
fn c_string(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b" .,:;_-+=/()[]{}<>!@#$%^&*|~'".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:03o}");
        }
    }
    s.push('"');
    s
}

/// The C expression passing `value` as an argument of type `ty`.
fn c_arg(ty: &str, kind: ArgKind, value: &Value) -> String {
    match (kind, value) {
        (_, Value::Str(s)) => format!("({ty}){}", c_string(s)),
        (_, Value::NullStr) => format!("({ty})0"),
        (ArgKind::Pointer, Value::Int(v)) => format!("({ty})(uintptr_t)0x{v:x}ULL"),
        (_, Value::Int(v)) => format!("({ty})0x{v:x}ULL"),
    }
}

/// Byte-escaped text for failure messages.
fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Writes, compiles and runs the C program printing `snprintf`'s output for
/// every case; returns the outputs in order.
fn run_c(dir: &Path, cases: &[Case<'_>]) -> Vec<Vec<u8>> {
    const PRELUDE: &str = "#include <inttypes.h>\n#include <stdbool.h>\n#include <stdio.h>\n\
                           #include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\
                           #include <sys/types.h>\n";
    let mut units = Vec::new();
    let mut main = format!(
        "{PRELUDE}#include <stdlib.h>\nchar buf[{BUF_SIZE}];\n\
         void emit(int n) {{\n\
         \x20 /* -1: glibc failed after writing what `buf` holds. */\n\
         \x20 size_t len = n < 0 ? strlen(buf) : (size_t)n;\n\
         \x20 if (len >= sizeof buf) {{ fputs(\"output too long\\n\", stderr); exit(2); }}\n\
         \x20 printf(\"%s%zu:\", n < 0 ? \"E\" : \"\", len);\n\
         \x20 fwrite(buf, 1, len, stdout);\n\
         \x20 putchar('\\n');\n\
         }}\n"
    );
    let chunks: Vec<&[Case<'_>]> = cases.chunks(CALLS_PER_FUNCTION).collect();
    for (k, chunk) in chunks.iter().enumerate() {
        let mut c = format!(
            "{PRELUDE}extern char buf[{BUF_SIZE}];\nvoid emit(int n);\nvoid chunk{k}(void) {{\n"
        );
        for case in chunk.iter() {
            let format = &case.decl.format.as_ref().expect("cases have formats").raw;
            let _ = write!(
                c,
                "  buf[0] = 0;\n  emit(snprintf(buf, sizeof buf, {format}"
            );
            for (decl, value) in case.decl.args.iter().zip(&case.values) {
                let _ = write!(c, ", {}", c_arg(&decl.ty, decl.kind, value));
            }
            c.push_str("));\n");
        }
        c.push_str("}\n");
        let path = dir.join(format!("chunk{k}.c"));
        std::fs::write(&path, c).unwrap();
        units.push(path);
        let _ = writeln!(main, "void chunk{k}(void);");
    }
    main.push_str("int main(void) {\n");
    for k in 0..chunks.len() {
        let _ = writeln!(main, "  chunk{k}();");
    }
    main.push_str("  return fflush(stdout) != 0;\n}\n");
    let main_path = dir.join("main.c");
    std::fs::write(&main_path, main).unwrap();
    units.push(main_path);

    // Compile the units in parallel, then link.
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let jobs = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut objects = Vec::new();
    for batch in units.chunks(jobs) {
        let children: Vec<_> = batch
            .iter()
            .map(|unit| {
                let object = unit.with_extension("o");
                let child = Command::new(&cc)
                    .args(["-O0", "-w", "-c", "-o"])
                    .arg(&object)
                    .arg(unit)
                    .spawn()
                    .unwrap_or_else(|e| panic!("running the C compiler `{cc}`: {e}"));
                objects.push(object);
                (unit, child)
            })
            .collect();
        for (unit, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{cc} failed on {}", unit.display());
        }
    }
    let exe = dir.join("snprintf");
    let status = Command::new(&cc)
        .arg("-o")
        .arg(&exe)
        .args(&objects)
        .status()
        .unwrap();
    assert!(status.success(), "{cc} failed to link {}", exe.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    // Parse `[E]LEN:BYTES\n` records.
    let mut outputs = Vec::with_capacity(cases.len());
    let mut rest = &out.stdout[..];
    while !rest.is_empty() {
        let colon = rest.iter().position(|&b| b == b':').expect("a length");
        let head = std::str::from_utf8(&rest[..colon]).unwrap();
        let len: usize = head.trim_start_matches('E').parse().expect("a length");
        let text = &rest[colon + 1..colon + 1 + len];
        assert_eq!(rest[colon + 1 + len], b'\n');
        outputs.push(text.to_vec());
        rest = &rest[colon + 2 + len..];
    }
    assert_eq!(outputs.len(), cases.len(), "one output per case");
    outputs
}

/// Renders every declaration of `events` with random values, runs the same
/// through `snprintf`, and fails on the first differences.
fn check(test: &str, events: &TraceEvents, cases_per_decl: usize, seed: u64) -> Coverage {
    let mut rng = Rng::new(seed);
    let mut coverage = Coverage::default();
    let mut cases = Vec::new();
    for decl in events {
        coverage.declarations += 1;
        let Some(format) = &decl.format else {
            coverage.without_format += 1;
            continue;
        };
        let cformat =
            CFormat::parse(format).unwrap_or_else(|e| panic!("{}: {}: {e}", decl.name, format.raw));
        for case in 0..cases_per_decl {
            // QEMU passes some widths as arguments (`"0x%0*" PRIx64`): a
            // random int there is a width beyond `cformat::MAX_FIELD`
            // (C would print gigabytes), so when a case renders `<?>` it is
            // drawn again with small integers before being deemed
            // undefined.
            let mut attempt = 0;
            let rendered = loop {
                let small = attempt > 0;
                let values: Vec<Value> = decl
                    .args
                    .iter()
                    .map(|a| value(a.kind, &a.name, &mut rng, case, small))
                    .collect();
                let args: Vec<ArgValue<'_>> = values.iter().map(Value::arg).collect();
                let mut ours = Vec::new();
                cformat.render(&decl.args, &args, &mut ours);
                if !ours.windows(MISMATCH.len()).any(|w| w == MISMATCH) {
                    break Some((values, ours));
                }
                attempt += 1;
                if attempt > 4 {
                    break None;
                }
            };
            match rendered {
                Some((values, ours)) => {
                    coverage.redrawn += usize::from(attempt > 0);
                    cases.push(Case { decl, values, ours });
                }
                None => coverage.undefined.push(decl.name.clone()),
            }
        }
    }
    let theirs = run_c(&support::scratch(test), &cases);
    let mut report = String::new();
    let mut failures = 0;
    for (case, theirs) in cases.iter().zip(&theirs) {
        if case.ours == *theirs {
            continue;
        }
        failures += 1;
        if failures <= 10 {
            let format = case.decl.format.as_ref().map_or("", |f| &f.raw);
            let args: Vec<String> = case
                .decl
                .args
                .iter()
                .zip(&case.values)
                .map(|(a, v)| format!("{} {} = {v:?}", a.ty, a.name))
                .collect();
            let _ = write!(
                report,
                "\n{} (line {}): {format}\n  args: {}\n  ours: {}\n  C:    {}\n",
                case.decl.name,
                case.decl.line,
                args.join(", "),
                show(&case.ours),
                show(theirs),
            );
        }
    }
    assert!(
        failures == 0,
        "{test}: {failures} of {} renderings differ from snprintf:{report}",
        cases.len()
    );
    coverage.compared = cases.len();
    coverage.undefined.dedup();
    // Past the harness's capture: the numbers are the point of the test.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {} declarations ({} without a format), {} renderings identical to snprintf \
         ({} with small integers), {} undefined in C not compared {:?}",
        coverage.declarations,
        coverage.without_format,
        coverage.compared,
        coverage.redrawn,
        coverage.undefined.len(),
        coverage.undefined,
    );
    coverage
}

fn events_at(path: &Path) -> TraceEvents {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    TraceEvents::parse(&path.display().to_string(), &text).unwrap()
}

#[test]
fn sample_events_match_snprintf() {
    let events = support::samples::sample_events();
    let c = check("cformat_sample", &events, CASES, 0x5eed);
    assert_eq!(c.declarations, events.len());
    assert_eq!(c.compared, (events.len() - c.without_format) * CASES);
}

#[test]
fn corpus_trace_events_all_match_snprintf() {
    let Some(dir) = support::corpus() else { return };
    let c = check(
        "cformat_all",
        &events_at(&dir.join("trace-events-all")),
        CASES,
        0xc0de,
    );
    assert_eq!(c.declarations, 952);
    assert!(c.undefined.is_empty(), "{:?}", c.undefined);
}

#[test]
fn corpus_system_avr_match_snprintf() {
    let Some(dir) = support::corpus() else { return };
    let c = check(
        "cformat_avr",
        &events_at(&dir.join("trace-events-all.system-avr")),
        CASES,
        0xa7,
    );
    assert_eq!(c.declarations, 5843);
    assert!(c.undefined.is_empty(), "{:?}", c.undefined);
}

/// Formats QEMU does not use but C allows: every flag, `*` widths and
/// precisions (arguments named `star*` get small values, negative ones
/// included), positional arguments, each length modifier on each
/// conversion, `%b`, unknown conversions, and conversions reading more or
/// less of an argument than was passed.
const EDGE_EVENTS: &str = r#"
flags1(int a, int b, int c, int d, int e, int f, unsigned g, unsigned h, unsigned i, unsigned j) "[%-5d|%+d|% d|%+ d|%05d|%-05d|%#o|%#x|%#X|%#08x]"
flags2(unsigned a, unsigned b, unsigned c, unsigned d, int e, int f, unsigned g, int h, int i, int64_t j) "[%-#8x|%0#10o|%#.0o|%#5.0x|%+.0d|% .0d|%.0u|%.d|%5.3d|%-+7.2ld]"
flags3(int a, int b, unsigned c, unsigned d, int e, int64_t f, uint64_t g) "[%0 5d|%-+5d|%'u|%Iu|%+u|% 8ld|%+#lo]"
widths(uint64_t a, uint64_t b, uint64_t c, int64_t d, int8_t e, uint8_t f, uint16_t g, int16_t h, const char *s, const char *t) "[%20lx|%-20lu|%020lo|%.20ld|%3hhd|%-4hhu|%06hx|%.1hd|%10s|%-10s]"
strings(const char *a, const char *b, const char *c, const char *d, char *e, const char *f) "[%.3s|%10.2s|%-3.0s|%05s|%s|%hs]"
strings_null(const char *a, const char *b, const char *c, const char *d) "[%s|%.5s|%.6s|%-8.0s]"
stars(int star_w, int star_p, int a, int star_w2, const char *s) "[%*.*d|%-*s]"
star_only(int star_w, unsigned long a) "[%*lx]"
star_prec(int star_p, const char *s, int star_p2, int x) "[%.*s|%.*x]"
lengths(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f, int64_t g, int64_t h, int64_t i, int64_t j) "[%hhd|%hd|%d|%ld|%lld|%zd|%jd|%td|%Ld|%qd]"
ulengths(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f, uint64_t g, uint64_t h, uint64_t i, uint64_t j) "[%hhx|%hX|%o|%lu|%llx|%zx|%jo|%tu|%Lx|%Zu]"
narrow(int8_t a, uint8_t b, int16_t c, uint16_t d, char e, unsigned char f, short g, bool h, long i, unsigned long long j) "[%d|%u|%x|%hu|%hhd|%c|%ho|%d|%hhu|%hhx]"
chars(int a, unsigned b, uint64_t c, int star_w, char d, int ascii_e, int ascii_f) "[%c|%-3c|%5c|%*c|%lc|%-4C]"
pointers(void *a, const void *b, uint8_t *c, void *d, void *e, void *f) "[%p|%20p|%-20p|%+p|% 020p|%.10p]"
nil(void *a, void *b, void *c, void *d, void *e) "[%10p|%-10p|%.2p|%010p|%lp]"
binary(unsigned a, uint64_t b, unsigned c, unsigned d) "[%b|%#lB|%#010b|%.12b]"
positional(int a, uint64_t b, const char *s) "[%2$lx %1$d %3$s %1$x]"
positional_star(int star_w, int a) "[%2$*1$d|%1$d]"
unknown(int a) "[%5y|%-0#+ 5.3y|%'Iy|%hhy|%.y|%05y|%0-y|%05.3y|%k|%llld|%d]"
unknown_star(int star_w, int star_p, int star_w2, int a) "[%*y|%.*y|%0*y|%d]"
percents(int a) "[%5%|%-5%|%ll%|%d%%]"
wide_read_of_wide(int64_t a, uint64_t b, size_t c, ssize_t d, uintptr_t e, void *f) "[%d|%u|%x|%hhd|%c|%hu]"
pri(int8_t a, uint16_t b, int32_t c, uint64_t d, int64_t e, uintptr_t f) "[%" PRId8 "|%" PRIu16 "|%08" PRIX32 "|%#" PRIo64 "|%+" PRIi64 "|%" PRIxPTR "]"
pri_least(uint64_t a, uint32_t b, int64_t c, uint8_t d, uint16_t e) "[%" PRIuLEAST64 "|%" PRIxLEAST32 "|%" PRIdFAST64 "|%" PRIuFAST8 "|%" PRIxLEAST16 "]"
pri_fast(uint64_t a, uint64_t b, uint64_t c, int64_t d, int32_t e, int8_t f) "[%" PRIxFAST16 "|%" PRIXFAST32 "|%" PRIuMAX "|%" PRIdMAX "|%" PRIiLEAST32 "|%" PRIoFAST8 "]"
extra_args(int a, int b, const char *c) "only [%d]"
no_conversions(int a) "plain text, 100%% sure"
escapes(int a) "tab\there \"quoted\" \\ %d \x41\101"
nul_in_format(int a) "before %d\0after %d"
dangling(int a) "%d then a dangling %"
dangling_width(int a) "%d then %-5"
empty(void) ""
"#;

#[test]
fn edge_formats_match_snprintf() {
    let events = TraceEvents::parse("edge", EDGE_EVENTS.as_bytes()).unwrap();
    let c = check("cformat_edge", &events, EDGE_CASES, 0xed9e);
    assert_eq!(c.without_format, 0);
    // None of these is undefined for the values generated (`star*` and
    // `ascii*` arguments stay in range).
    assert!(c.undefined.is_empty(), "{:?}", c.undefined);
}

/// What C leaves undefined renders as `<?>` (and is not compared above).
#[test]
fn undefined_cases_are_marked() {
    let events = TraceEvents::parse(
        "undefined",
        b"u(int a, void *p, const char *s) \"%s|%d|%p|%lx|%d|%f|%ls|%lc\"\n",
    )
    .unwrap();
    let decl = events.get(0).unwrap();
    let format = CFormat::parse(decl.format.as_ref().unwrap()).unwrap();
    let mut out = Vec::new();
    let values = [ArgValue::Int(1), ArgValue::Int(2), ArgValue::Str(b"x")];
    format.render(&decl.args, &values, &mut out);
    // %s of an int, %d of a pointer (its low half), %p of a string (no
    // address recorded), %lx of nothing (arguments exhausted), %d of
    // nothing, %f (no argument), %ls, %lc of nothing.
    assert_eq!(out, b"<?>|2|<?>|<?>|<?>|<?>|<?>|<?>");
}

/// Records of the corpus traces in the output of `print --format log`:
/// each line must be the `PID@SECONDS.MICROS:NAME ` prefix and what
/// `snprintf` makes of the declaration's format with the record's own
/// argument values. Dropped-events records have no C format; their line is
/// the documented `Dropped_Event num_events_dropped=N`.
#[test]
fn corpus_traces_print_as_log_lines_like_snprintf() {
    use simpletrace::format::TraceReader;
    use std::ffi::OsStr;

    /// What one record's line must be after its prefix.
    enum Message {
        /// The C program's output for this case.
        Case(usize),
        Text(String),
        /// Not compared (past the C-checked records of a big trace).
        Unchecked,
    }

    let Some(dir) = support::corpus() else { return };
    let events_path = dir.join("trace-events-all");
    let events = events_at(&events_path);
    // The traces, and how many of their first records to run through C:
    // the `dropped` trace has 467,570 records, the first dropped-events
    // record at 17,969; all its 46 dropped-events records are checked.
    let traces = [
        ("tiny.bin", usize::MAX),
        ("strings.bin", usize::MAX),
        ("medium-io.bin", usize::MAX),
        ("medium-create.bin", usize::MAX),
        ("medium-convert.bin", usize::MAX),
        ("dropped.bin", 2000),
    ];
    for (name, c_limit) in traces {
        let path = dir.join(name);
        let data = std::fs::read(&path).unwrap();
        let mut lines: Vec<(String, Message)> = Vec::new();
        let mut cases: Vec<Case<'_>> = Vec::new();
        let mut dropped = 0;
        for (i, record) in TraceReader::new(&data, &events).unwrap().enumerate() {
            let record = record.unwrap();
            let ts = record.timestamp_ns;
            let prefix = format!(
                "{}@{}.{:06}:{} ",
                record.pid,
                ts / 1_000_000_000,
                ts % 1_000_000_000 / 1000,
                record.decl.name
            );
            let values: Vec<Value> = record
                .args()
                .map(|a| match a.unwrap() {
                    ArgValue::Int(v) => Value::Int(v),
                    ArgValue::Str(s) => Value::Str(s.to_vec()),
                })
                .collect();
            let message = if record.decl.is_dropped_pseudo() {
                dropped += 1;
                let Some(Value::Int(n)) = values.first() else {
                    panic!("a dropped-events record without its count")
                };
                Message::Text(format!("num_events_dropped={n}"))
            } else if i >= c_limit {
                Message::Unchecked
            } else if record.decl.format.is_none() {
                Message::Text(String::new())
            } else {
                let decl = events.get(record.decl.position).unwrap();
                cases.push(Case {
                    decl,
                    values,
                    ours: Vec::new(),
                });
                Message::Case(cases.len() - 1)
            };
            lines.push((prefix, message));
        }
        if name == "dropped.bin" {
            assert_eq!(dropped, 46);
        }
        let theirs = run_c(&support::scratch(&format!("cformat_log_{name}")), &cases);

        for threads in ["1", "3"] {
            let out = support::run([
                OsStr::new("print"),
                OsStr::new("--format"),
                OsStr::new("log"),
                OsStr::new("--timestamps"),
                OsStr::new("-j"),
                OsStr::new(threads),
                OsStr::new("--chunk-size"),
                OsStr::new("65536"),
                events_path.as_os_str(),
                path.as_os_str(),
            ]);
            assert!(out.status.success(), "{name}: {}", support::stderr(&out));
            // No message of these traces has a newline of its own.
            let got: Vec<&[u8]> = out.stdout.split(|&b| b == b'\n').collect();
            assert_eq!(got.len(), lines.len() + 1, "{name}: one line per record");
            assert_eq!(got.last(), Some(&&b""[..]), "{name}: a final newline");
            let mut compared = 0;
            for (n, ((prefix, message), got)) in lines.iter().zip(&got).enumerate() {
                let mut want = prefix.as_bytes().to_vec();
                match message {
                    Message::Case(i) => want.extend_from_slice(&theirs[*i]),
                    Message::Text(t) => want.extend_from_slice(t.as_bytes()),
                    Message::Unchecked => continue,
                }
                compared += 1;
                assert!(
                    want == *got,
                    "{name} -j {threads}, record {n}:\n  want {}\n  got  {}",
                    show(&want),
                    show(got)
                );
            }
            if threads == "1" {
                let _ = writeln!(
                    std::io::stderr(),
                    "cformat_log {name}: {compared} of {} lines compared, {} through snprintf, \
                     {dropped} dropped-events records",
                    lines.len(),
                    cases.len()
                );
            }
        }
    }
}
