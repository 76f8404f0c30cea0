//! Input sources (issue 8): a trace on standard input (a pipe, or a file
//! redirected), compressed traces (gzip, zstd, xz; by extension and by
//! magic bytes alone), their faults, streams longer than memory should
//! hold, and offsets past 4 GiB.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use simpletrace::format::{ArgValue, encode};
use simpletrace::input::TraceStream;

use crate::support;
use crate::support::compress::{compressors, gzip};

/// Runs the binary with the file `path` as its standard input.
fn redirected<I, S>(args: I, path: &Path) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    support::bin()
        .args(args)
        .stdin(Stdio::from(std::fs::File::open(path).unwrap()))
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `args` with the trace-events file and the trace appended.
fn with(args: &[&str], events: &Path, trace: &str) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    v.push(s(events).to_owned());
    v.push(trace.to_owned());
    v
}

/// The same status, output and messages; messages name the trace as
/// given, so `name` in `stream`'s is read as `path`.
#[track_caller]
fn assert_same(what: &str, file: &Output, stream: &Output, path: &str, name: &str) {
    support::assert_same_output(what, &stream.stdout, &file.stdout);
    assert_eq!(
        support::stderr(stream).replace(&format!("{name}: "), &format!("{path}: ")),
        support::stderr(file),
        "{what}: standard error"
    );
    assert_eq!(stream.status.code(), file.status.code(), "{what}: status");
}

/// Every command, as run on the QEMU corpus (`trace-events-all`).
const CORPUS_COMMANDS: &[&[&str]] = &[
    &[],
    &["print", "--format", "log", "--timestamps"],
    &[
        "print",
        "--events",
        "qemu_mutex_*,-qemu_mutex_unlock",
        "--start",
        "+1ms",
    ],
    &["json"],
    &["json", "--format", "chrome"],
    &["stats", "--json"],
    &["stats", "--by-pid", "--start", "1ms", "--end", "+40ms"],
    &["hist", "--event", "qemu_memalign", "--arg", "size"],
    &[
        "hist",
        "--latency",
        "qemu_mutex_lock:mutex,qemu_mutex_unlock",
        "--json",
    ],
    &["alloc"],
    &["locks", "--json"],
    &["filter", "--events", "-qemu_co_*", "-o", "-"],
    &[
        "run", "--plugin", "stats", "--plugin", "locks", "--plugin", "print",
    ],
];

/// Every command, as run on the project's sample trace.
const SAMPLE_COMMANDS: &[&[&str]] = &[
    &[],
    &["print", "--format", "log", "--timestamps"],
    &["json"],
    &["json", "--format", "chrome"],
    &["stats"],
    &["hist", "--event", "mem_alloc", "--arg", "size", "--json"],
    &["alloc"],
    &["locks"],
    &["filter", "--pid", "4242", "-o", "-"],
    &["run", "--plugin", "stats", "--plugin", "locks", "--json"],
    &["run", "--plugin", "print", "--plugin", "stats"],
];

/// The traces to compare on: the sample, and the corpus's small ones.
fn cases() -> Vec<(PathBuf, PathBuf, &'static [&'static [&'static str]])> {
    let mut cases = vec![(
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
        SAMPLE_COMMANDS,
    )];
    if let Some(corpus) = support::corpus() {
        for name in ["tiny", "medium-io", "medium-create", "strings"] {
            cases.push((
                corpus.join("trace-events-all"),
                corpus.join(format!("{name}.bin")),
                CORPUS_COMMANDS,
            ));
        }
    }
    cases
}

/// A pipe on standard input gives what the file gives, for every command,
/// in blocks of 4 KiB (so that records straddle many block boundaries) and
/// in the default blocks.
#[test]
fn stdin_pipe_equals_file_for_every_command() {
    for (events, trace, commands) in cases() {
        let bytes = std::fs::read(&trace).unwrap();
        for cmd in commands {
            let small: Vec<&str> = cmd
                .iter()
                .copied()
                .chain(["--chunk-size", "4096"])
                .collect();
            let what = format!("{} {cmd:?}", trace.display());
            let file = support::run(with(&small, &events, s(&trace)));
            assert!(file.status.success(), "{what}: {}", support::stderr(&file));
            let pipe = support::run_with_stdin(with(&small, &events, "-"), &bytes);
            assert_same(&what, &file, &pipe, s(&trace), "-");
        }
        let file = support::run(with(&[], &events, s(&trace)));
        let pipe = support::run_with_stdin(with(&[], &events, "-"), &bytes);
        assert_same(
            &format!("{} default blocks", trace.display()),
            &file,
            &pipe,
            s(&trace),
            "-",
        );
    }
}

/// `- < trace`: standard input that is a regular file is read like the
/// file (it is mapped).
#[test]
fn stdin_redirected_from_a_file() {
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let file = support::run(with(&["stats"], &events, s(&trace)));
    let redirect = redirected(with(&["stats"], &events, "-"), &trace);
    assert_same("redirected", &file, &redirect, s(&trace), "-");
}

/// A headerless trace streams too (`--no-header`).
#[test]
fn headerless_stream() {
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("no-header.trace");
    let args = ["--no-header", "--chunk-size", "4096"];
    let file = support::run(with(&args, &events, s(&trace)));
    assert!(file.status.success());
    let pipe = support::run_with_stdin(with(&args, &events, "-"), &std::fs::read(&trace).unwrap());
    assert_same("no-header", &file, &pipe, s(&trace), "-");
}

/// The corpus's medium-io trace, or the sample when the corpus is absent.
fn a_real_trace() -> (PathBuf, PathBuf) {
    match support::corpus() {
        Some(c) => (c.join("trace-events-all"), c.join("medium-io.bin")),
        None => (
            support::testdata("sample.trace-events"),
            support::testdata("sample.trace"),
        ),
    }
}

/// A .gz, .zst or .xz trace prints as the trace does: by its name, by its
/// magic bytes alone (renamed), on a pipe and redirected.
#[test]
fn compressed_traces_equal_the_uncompressed() {
    let (events, trace) = a_real_trace();
    let bytes = std::fs::read(&trace).unwrap();
    let dir = support::scratch("compressed_traces");
    for args in [&["--chunk-size", "4096"][..], &["stats", "--json"]] {
        let want = support::run(with(args, &events, s(&trace)));
        assert!(want.status.success());
        for (name, ext, compress) in compressors() {
            let packed = compress(&bytes);
            let named = dir.join(format!("trace.{ext}"));
            let renamed = dir.join(format!("trace-{name}"));
            std::fs::write(&named, &packed).unwrap();
            std::fs::write(&renamed, &packed).unwrap();
            for path in [&named, &renamed] {
                let got = support::run(with(args, &events, s(path)));
                assert_same(
                    &format!("{name} {args:?} {}", path.display()),
                    &want,
                    &got,
                    s(&trace),
                    s(path),
                );
            }
            let got = support::run_with_stdin(with(args, &events, "-"), &packed);
            assert_same(
                &format!("{name} {args:?} pipe"),
                &want,
                &got,
                s(&trace),
                "-",
            );
            let got = redirected(with(args, &events, "-"), &renamed);
            assert_same(
                &format!("{name} {args:?} redirected"),
                &want,
                &got,
                s(&trace),
                "-",
            );
        }
    }
}

/// Several gzip members, zstd frames or xz streams one after the other
/// (what `cat a.gz b.gz` makes), cut anywhere in the trace, are the trace.
#[test]
fn concatenated_members_frames_and_streams() {
    let (events, trace) = a_real_trace();
    let bytes = std::fs::read(&trace).unwrap();
    let want = support::run(with(&[], &events, s(&trace)));
    let dir = support::scratch("concatenated");
    let cuts = [0, 7, bytes.len() / 3, bytes.len() / 2 + 11, bytes.len()];
    for (name, ext, compress) in compressors() {
        let mut packed = Vec::new();
        for w in cuts.windows(2) {
            packed.extend(compress(&bytes[w[0]..w[1]]));
        }
        let path = dir.join(format!("multi.{ext}"));
        std::fs::write(&path, &packed).unwrap();
        let got = support::run(with(&["--chunk-size", "4096"], &events, s(&path)));
        assert_same(
            &format!("{name} concatenated"),
            &want,
            &got,
            s(&trace),
            s(&path),
        );
    }
}

/// The bytes a compressed trace's decoder gives before it fails or ends,
/// read as `simpletrace` reads them ([`TraceStream`] in large blocks).
fn decoded_until_error(data: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    let Ok(mut stream) = TraceStream::new(std::io::Cursor::new(data.to_vec())) else {
        return decoded;
    };
    let mut block = vec![0; 4 << 20];
    while let Ok(n @ 1..) = stream.read(&mut block) {
        decoded.extend_from_slice(&block[..n]);
    }
    decoded
}

/// Corrupt or cut-off compressed data: everything before the damage is
/// printed, then a message naming the file, the compression and how many
/// (decompressed) bytes were read. Corrupt data is an error (exit status
/// 1); cut-off data is a trace cut off mid-record (a warning, exit status
/// 0), in the same words for every compressor.
#[test]
fn corrupt_and_cut_compressed_data() {
    let (events, trace) = a_real_trace();
    let bytes = std::fs::read(&trace).unwrap();
    let full = support::run(with(&[], &events, s(&trace)));
    let dir = support::scratch("corrupt_compressed");
    for (name, ext, compress) in compressors() {
        let packed = compress(&bytes);
        let mut corrupt = packed.clone();
        let middle = corrupt.len() / 2;
        for b in &mut corrupt[middle..middle + 16] {
            *b ^= 0x5a;
        }
        let cut = packed[..packed.len() * 2 / 3].to_vec();
        for (damage, data) in [("corrupt", corrupt), ("cut", cut)] {
            let path = dir.join(format!("{damage}.{ext}"));
            std::fs::write(&path, &data).unwrap();
            let what = format!("{damage} {name}");
            // Damaged data can decompress to wrong bytes before the decoder
            // notices (it does for the small sample); only bytes that came
            // out right must print as the trace does.
            let decoded = decoded_until_error(&data);
            let intact = bytes.starts_with(&decoded);
            assert!(intact || damage == "corrupt", "{what}: wrong bytes");
            // Every whole record of the bytes that came out (up to the
            // record fault that wrong bytes made, if they did).
            let prefix = dir.join("prefix");
            std::fs::write(&prefix, &decoded).unwrap();
            let want = support::run(with(&[], &events, s(&prefix)));
            for (how, out) in [
                ("file", support::run(with(&[], &events, s(&path)))),
                (
                    "pipe",
                    support::run_with_stdin(with(&[], &events, "-"), &data),
                ),
            ] {
                let err = support::stderr(&out);
                // Cut off before the trace's first 64 bytes came out (the
                // sample is one zstd block): the header cannot be checked,
                // an error.
                let cut = damage == "cut" && decoded.len() >= 64;
                assert_eq!(
                    out.status.code(),
                    Some(if cut { 0 } else { 1 }),
                    "{what} {how}: {err}"
                );
                if intact {
                    assert!(
                        full.stdout.starts_with(&out.stdout),
                        "{what} {how}: the output is not a prefix of the whole trace's"
                    );
                }
                assert!(
                    err.ends_with(&format!(
                        " ({name}-compressed trace: offsets and sizes count bytes of the \
                         decompressed trace)\n"
                    )),
                    "{what} {how}: {err}"
                );
                let shown = if how == "file" { s(&path) } else { "-" };
                let prefix = if cut {
                    "simpletrace: warning:"
                } else {
                    "simpletrace:"
                };
                assert!(
                    err.starts_with(&format!("{prefix} {shown}: ")),
                    "{what} {how}: {err}"
                );
                assert!(
                    !err.contains("panicked") && !err.contains("Error {"),
                    "{err}"
                );
                if cut {
                    let received: usize = err
                        .split(&format!(
                            "the compressed data ends early after {} bytes (a cut-off {name} \
                             file): every complete record in the ",
                            data.len()
                        ))
                        .nth(1)
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{err}"));
                    assert_eq!(received, decoded.len(), "{what} {how}: {err}");
                }
                // Corrupt data is a read error, unless it decompresses to
                // wrong bytes before the decoder notices: then those bytes
                // make a trace fault.
                let read_error = err.contains("reading the trace failed after ");
                assert!(
                    read_error || damage == "corrupt" || cut || err.contains("too few to check"),
                    "{what} {how}: {err}"
                );
                if read_error {
                    let received: usize = err
                        .split("failed after ")
                        .nth(1)
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{err}"));
                    assert_eq!(received, decoded.len(), "{what} {how}: {err}");
                }
                support::assert_same_output(&what, &out.stdout, &want.stdout);
            }
        }
    }
}

/// Damage three quarters of the way into a compressed 2 MiB trace: the
/// records before it come out (the decoder is asked for 64 KiB at a time,
/// so a failing call loses little), not just those of the first bytes.
#[test]
fn corrupt_compressed_data_keeps_what_came_before() {
    let dir = support::scratch("corrupt_keeps");
    let events = dir.join("te");
    std::fs::write(&events, "say(const char *text, int n)\n").unwrap();
    let mut bytes = Vec::new();
    write_long_trace(&mut bytes, 2 << 20).unwrap();
    let full_lines = {
        let out = support::run_with_stdin(with(&[], &events, "-"), &bytes);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    for (name, _, compress) in compressors() {
        let mut packed = compress(&bytes);
        let at = packed.len() * 3 / 4;
        for b in &mut packed[at..at + 8] {
            *b ^= 0xa5;
        }
        let out = support::run_with_stdin(with(&[], &events, "-"), &packed);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        assert!(
            lines > full_lines / 2,
            "{name}: {lines} of {full_lines} lines; {}",
            support::stderr(&out)
        );
    }
}

/// A trace cut off mid-record on a pipe (or in a compressed file): every
/// whole record, the warning the file gives, exit status 0.
#[test]
fn truncated_stream_warns_and_succeeds() {
    let (events, trace) = a_real_trace();
    let bytes = std::fs::read(&trace).unwrap();
    let dir = support::scratch("truncated_stream");
    let cut = dir.join("cut");
    for end in [bytes.len() - 1, bytes.len() / 2 + 3, 30] {
        std::fs::write(&cut, &bytes[..end]).unwrap();
        for args in [&[][..], &["--chunk-size", "4096"], &["stats"]] {
            let file = support::run(with(args, &events, s(&cut)));
            assert_eq!(file.status.code(), Some(0));
            let warning = support::stderr(&file);
            let prefix = format!(
                "simpletrace: warning: {}: the trace ends inside record ",
                s(&cut)
            );
            assert!(
                warning.starts_with(&prefix)
                    && warning
                        .contains(" bytes were ignored (an incomplete record; it needs at least ")
                    && warning.ends_with(")\n")
                    && warning.lines().count() == 1,
                "{warning}"
            );
            let pipe = support::run_with_stdin(with(args, &events, "-"), &bytes[..end]);
            assert_same(
                &format!("cut at {end} {args:?}"),
                &file,
                &pipe,
                s(&cut),
                "-",
            );
            if !cfg!(feature = "gzip") {
                continue;
            }
            let gz = dir.join("cut.gz");
            std::fs::write(&gz, gzip(&bytes[..end])).unwrap();
            let packed = support::run(with(args, &events, s(&gz)));
            assert_eq!(packed.stdout, file.stdout);
            assert_eq!(packed.status.code(), Some(0));
            // The same warning, naming the .gz, with a word on the offsets.
            assert_eq!(
                support::stderr(&packed),
                warning.replace(s(&cut), s(&gz)).replace(
                    ")\n",
                    ") (gzip-compressed trace: offsets and sizes count bytes of the \
                     decompressed trace)\n"
                )
            );
        }
    }
}

/// A record longer than a block (here a 20,000-byte string with 4 KiB
/// blocks) is read whole: the block grows for it.
#[test]
fn record_longer_than_a_block() {
    let dir = support::scratch("long_record");
    let events = dir.join("te");
    std::fs::write(&events, "say(const char *text, int n)\n").unwrap();
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"say");
    let long = vec![b'x'; 20_000];
    for i in 0..20u64 {
        let text: &[u8] = if i % 7 == 3 { &long } else { b"short" };
        encode::event(
            &mut t,
            0,
            i * 100,
            1,
            &[ArgValue::Str(text), ArgValue::Int(i)],
        );
    }
    let trace = dir.join("trace");
    std::fs::write(&trace, &t).unwrap();
    let args = ["--chunk-size", "4096"];
    let file = support::run(with(&args, &events, s(&trace)));
    assert!(file.status.success());
    let pipe = support::run_with_stdin(with(&args, &events, "-"), &t);
    assert_same("long record", &file, &pipe, s(&trace), "-");
}

/// Not a trace, though the name says gzip: the header error says so.
#[test]
fn name_says_compressed_but_data_is_not() {
    let dir = support::scratch("not_gzip");
    let path = dir.join("trace.gz");
    std::fs::write(&path, b"this is not a trace, nor gzip data").unwrap();
    let out = support::run(with(
        &[],
        &support::testdata("sample.trace-events"),
        s(&path),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: {}: not a simple trace: the header starts with 0x2073692073696874 \
             at byte offset 0, expected 0xffffffffffffffff (the name says gzip, but the data does not start as \
             gzip data does)\n",
            path.display()
        )
    );
    // An uncompressed trace called .gz is read as what it is.
    std::fs::copy(support::testdata("sample.trace"), &path).unwrap();
    let out = support::run(with(
        &[],
        &support::testdata("sample.trace-events"),
        s(&path),
    ));
    assert!(out.status.success());
}

/// An empty pipe (or `/dev/null`, or an empty file on standard input) is
/// an empty trace, as an empty file is.
#[test]
fn empty_stdin() {
    let events = support::testdata("sample.trace-events");
    let want = "simpletrace: -: not a simple trace: the file is 0 bytes long, shorter than \
                the 24-byte header\n";
    let out = support::run_with_stdin(with(&[], &events, "-"), b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(support::stderr(&out), want);
    let empty = support::scratch("empty_stdin").join("empty");
    std::fs::write(&empty, b"").unwrap();
    for file in [Path::new("/dev/null"), &empty] {
        let out = redirected(with(&[], &events, "-"), file);
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        assert_eq!(support::stderr(&out), want, "{}", file.display());
    }
}

/// A bad record on a pipe: what a file gives, the records before it, the
/// error with its record number and offset, exit status 1.
#[test]
fn bad_record_on_a_pipe() {
    let events = support::testdata("sample.trace-events");
    let mut bytes = std::fs::read(support::testdata("sample.trace")).unwrap();
    // Record 13, at byte 462: a type word of 7.
    bytes[462..470].copy_from_slice(&7u64.to_le_bytes());
    let dir = support::scratch("bad_record_pipe");
    let path = dir.join("bad");
    std::fs::write(&path, &bytes).unwrap();
    let file = support::run(with(&["--chunk-size", "4096"], &events, s(&path)));
    assert_eq!(file.status.code(), Some(1));
    assert_eq!(
        support::stderr(&file),
        format!(
            "simpletrace: {}: record 13 at byte offset 462 (0x1ce): unknown record type 0x7 \
             (expected 0 for a mapping or 1 for an event)\n",
            path.display()
        )
    );
    assert_eq!(String::from_utf8_lossy(&file.stdout).lines().count(), 1);
    let pipe = support::run_with_stdin(with(&["--chunk-size", "4096"], &events, "-"), &bytes);
    assert_same("bad record", &file, &pipe, s(&path), "-");
}

/// Standard input, or a trace path, that cannot be read at all (here a
/// directory): the read error, after 0 bytes.
#[cfg(target_os = "linux")]
#[test]
fn unreadable_input() {
    let events = support::testdata("sample.trace-events");
    let dir = support::scratch("unreadable_input");
    let want = |name: &str| {
        format!(
            "simpletrace: {name}: reading the trace failed after 0 bytes: Is a directory \
             (os error 21)\n"
        )
    };
    let out = redirected(with(&[], &events, "-"), &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(support::stderr(&out), want("-"));
    let out = support::run(with(&[], &events, s(&dir)));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(support::stderr(&out), want(s(&dir)));
}

/// Compressed data that fails within the first bytes of the trace (here a
/// gzip file cut off after 30 bytes): an error before any output, since
/// not even the header could be checked.
#[cfg(feature = "gzip")]
#[test]
fn compressed_data_that_fails_at_once() {
    let events = support::testdata("sample.trace-events");
    let packed = gzip(&std::fs::read(support::testdata("sample.trace")).unwrap());
    let dir = support::scratch("fails_at_once");
    let path = dir.join("t.gz");
    std::fs::write(&path, &packed[..30]).unwrap();
    let out = support::run(with(&[], &events, s(&path)));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // How much of the header came out first depends on the compressor.
    let err = support::stderr(&out);
    let received = err
        .strip_prefix(&format!(
            "simpletrace: {}: the compressed data ends early after 30 bytes (a cut-off gzip \
             file): it holds ",
            path.display()
        ))
        .and_then(|rest| {
            rest.strip_suffix(
                " bytes of trace, too few to check the trace's header (gzip-compressed trace: \
                 offsets and sizes count bytes of the decompressed trace)\n",
            )
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(received.is_some_and(|n| n < 64), "{err}");
}

/// A record whose length field says more than a stream holds (64 MiB),
/// with that many bytes after it: refused, with its record number and
/// offset. (The same record in a file is read: a map costs nothing.)
#[test]
fn record_longer_than_a_stream_holds() {
    let events = support::testdata("sample.trace-events");
    let mut head = Vec::new();
    encode::header(&mut head, 4);
    encode::event_header(&mut head, 1, 0, u32::MAX, 1);
    let args = with(&[], &events, "-");
    let out = support::run_with_stdin_from(
        &args,
        std::io::Cursor::new(head).chain(std::io::repeat(0).take(65 << 20)),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        support::stderr(&out),
        "simpletrace: -: record 0 at byte offset 24 (0x18): the record is longer than \
         67108864 bytes, the most a trace read as a stream holds in memory (a file is not \
         limited so)\n"
    );
}

/// A relative `--start` needs the first event's timestamp: a stream with
/// none in its first 64 MiB (here mapping records with names of the
/// longest kind, 1 KiB) is an error before any record is processed.
#[test]
fn no_first_event_within_reach_of_a_stream() {
    let events = support::testdata("sample.trace-events");
    let mut head = Vec::new();
    encode::header(&mut head, 4);
    let name = vec![b'n'; 1024];
    for id in 0..(65 << 20) / (20 + 1024) {
        encode::mapping(&mut head, 100 + id % 1000, &name);
    }
    encode::mapping(&mut head, 0, b"mem_alloc");
    let args = with(&["--start", "1us"], &events, "-");
    let out = support::run_with_stdin(args, &head);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        support::stderr(&out),
        "simpletrace: -: no event record in the first 67108864 bytes of the trace: read as a \
         stream, it has no first timestamp within reach for a relative --start or --end (give \
         the time in nanoseconds, or read the trace from a file)\n"
    );
}

/// A relative `--start` on a stream whose first block ends exactly where
/// a record does, before any event record: the block grows until the
/// first event is in it, as for a block that ends inside a record.
#[test]
fn first_event_after_a_block_that_ends_between_records() {
    let dir = support::scratch("first_event_boundary");
    let events = dir.join("te");
    std::fs::write(&events, "say(const char *text, int n)\n").unwrap();
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    // 24 + 4 x (20 + 998) = 4096: the first block, exactly.
    for id in 5..9 {
        encode::mapping(&mut t, id, &[b'x'; 998]);
    }
    assert_eq!(t.len(), 4096);
    encode::mapping(&mut t, 0, b"say");
    // Timestamps far from 0, so that "20 us after the first" is not "20 us".
    for i in 0..50u64 {
        encode::event(
            &mut t,
            0,
            7_000_000_000 + 1000 * i,
            3,
            &[ArgValue::Str(b"hi"), ArgValue::Int(i)],
        );
    }
    let trace = dir.join("trace");
    std::fs::write(&trace, &t).unwrap();
    let args = ["--chunk-size", "4096", "--start", "+20us"];
    let file = support::run(with(&args, &events, s(&trace)));
    assert!(file.status.success(), "{}", support::stderr(&file));
    assert_eq!(String::from_utf8_lossy(&file.stdout).lines().count(), 30);
    let pipe = support::run_with_stdin(with(&args, &events, "-"), &t);
    assert_same("first event after a block", &file, &pipe, s(&trace), "-");
}

/// A compression this build cannot read names the feature that would.
#[test]
fn missing_decoder_names_its_feature() {
    use simpletrace::input::{Compression, InputError, StreamSetupError};
    let e = InputError::Stream {
        path: PathBuf::from("trace.xz"),
        source: StreamSetupError::Unsupported {
            compression: Compression::Xz,
            feature: "xz",
        },
    };
    assert_eq!(
        e.to_string(),
        "trace.xz: the trace is xz-compressed, and this simpletrace was built without the \
         'xz' feature that reads it"
    );
}

/// The same, end to end, in a build without the `xz` feature
/// (`cargo test --no-default-features --features gzip,zstd`).
#[cfg(not(feature = "xz"))]
#[test]
fn missing_decoder_end_to_end() {
    let dir = support::scratch("missing_decoder");
    let path = dir.join("trace.xz");
    std::fs::write(
        &path,
        crate::support::compress::xz(&std::fs::read(support::testdata("sample.trace")).unwrap()),
    )
    .unwrap();
    let out = support::run(with(
        &[],
        &support::testdata("sample.trace-events"),
        s(&path),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: {}: the trace is xz-compressed, and this simpletrace was built \
             without the 'xz' feature that reads it\n",
            path.display()
        )
    );
}

/// Writes `total` bytes of a valid trace, made of one encoded stretch of
/// records written over and over after a header and a mapping.
fn write_long_trace(mut sink: impl Write, total: usize) -> std::io::Result<()> {
    let mut head = Vec::new();
    encode::header(&mut head, 4);
    encode::mapping(&mut head, 0, b"say");
    sink.write_all(&head)?;
    let mut block = Vec::new();
    let text = [b'q'; 400];
    let mut i = 0u64;
    while block.len() < 1 << 20 {
        encode::event(
            &mut block,
            0,
            i * 1000,
            7,
            &[ArgValue::Str(&text), ArgValue::Int(i)],
        );
        i += 1;
    }
    let mut written = head.len();
    while written < total {
        sink.write_all(&block)?;
        written += block.len();
    }
    Ok(())
}

/// Waits for `child`, sampling its peak resident memory (`VmHWM` in
/// `/proc/PID/status`, in KiB) every few milliseconds: the last sample
/// before it exits, and how many samples were taken. (`wait4`'s
/// `ru_maxrss` would be exact, but a child spawned with `vfork` inherits
/// the test process's own peak, which other tests make large.)
#[cfg(target_os = "linux")]
fn wait_sampling_peak_rss(
    mut child: std::process::Child,
) -> (std::process::ExitStatus, u64, usize) {
    let mut peak = 0;
    let mut samples = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak, samples);
        }
        if let Some(kib) = support::peak_rss_kib(child.id()) {
            peak = peak.max(kib);
            samples += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// 256 MiB through a pipe, far more than the process may hold: its peak
/// resident memory stays at a few blocks.
#[cfg(target_os = "linux")]
#[test]
fn memory_stays_bounded_on_a_long_stream() {
    let dir = support::scratch("long_stream");
    let events = dir.join("te");
    std::fs::write(&events, "say(const char *text, int n)\n").unwrap();
    let total = 256 << 20;
    let mut child = support::bin()
        .args(["stats", "--json", s(&events), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || write_long_trace(stdin, total));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).map(|_| v)
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let (status, peak, samples) = wait_sampling_peak_rss(child);
    writer.join().unwrap().unwrap();
    let out = reader.join().unwrap().unwrap();
    assert!(status.success(), "{}", errors.join().unwrap().unwrap());
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let records = json["records_read"].as_u64().unwrap();
    assert!(records > 600_000, "{records} records");
    assert!(samples > 3, "{samples} samples");
    assert!(peak < 48 * 1024, "peak RSS {peak} KiB for a 256 MiB stream");
}

/// A part of a generated trace: bytes, or a run of zeros.
enum Piece {
    Bytes(Vec<u8>),
    Zeros(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Zeros(n) => *n,
        }
    }
}

/// Size of the `pad` records of [`past_4_gib`]: 128 of them end at 4 GiB.
const PAD: u64 = 32 << 20;

/// Events of [`past_4_gib`].
const BIG_EVENTS: &str = "pad(void)\nsay(const char *text, int n)\n";

/// A trace that crosses 4 GiB, most of it zeros: after the header and two
/// mappings, 128 `pad` event records of 32 MiB each (a 32-byte header,
/// then a payload of zeros the reader never looks at, which a sparse file
/// does not store), so that the next record starts at byte 2^32 exactly,
/// an offset that is 0 in 32 bits. There, record 130: a `say` event with
/// id `last_id`; after it, record 131, cut off 4 bytes short. (The blocks
/// of a stream read in 32 MiB blocks end on record boundaries, so nothing
/// is moved between blocks.)
fn past_4_gib(last_id: u64) -> Vec<Piece> {
    let mut head = Vec::new();
    encode::header(&mut head, 4);
    encode::mapping(&mut head, 0, b"pad");
    encode::mapping(&mut head, 1, b"say");
    let mut pieces = Vec::new();
    let mut start = head.len() as u64;
    pieces.push(Piece::Bytes(head));
    for i in 0..128u64 {
        // The first pad fills the first 32 MiB up.
        let size = PAD - start % PAD;
        let mut record = Vec::new();
        let len = u32::try_from(size - 8).unwrap(); // not counting the type word
        encode::event_header(&mut record, 0, 1000 * i, len, 1);
        let zeros = size - record.len() as u64;
        pieces.push(Piece::Bytes(record));
        pieces.push(Piece::Zeros(zeros));
        start += size;
    }
    assert_eq!(start, 1 << 32);
    let mut tail = Vec::new();
    encode::event(
        &mut tail,
        last_id,
        200_000,
        9,
        &[ArgValue::Str(b"past 4 GiB"), ArgValue::Int(5)],
    );
    encode::event(
        &mut tail,
        1,
        300_000,
        9,
        &[ArgValue::Str(b"cut"), ArgValue::Int(6)],
    );
    tail.truncate(tail.len() - 4);
    pieces.push(Piece::Bytes(tail));
    pieces
}

/// The offset of record 131 of [`past_4_gib`], the one cut off: after the
/// 46-byte `say` record at 2^32.
const CUT_AT: u64 = (1 << 32) + 8 + 24 + 4 + 10 + 8;

/// Writes `pieces` as a sparse file: runs of zeros are holes. Returns
/// false, having removed the file, when the file system stores the holes
/// anyway (then the test is not cheap, and says so).
fn write_sparse(path: &Path, pieces: &[Piece]) -> bool {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::create(path).unwrap();
    let mut len = 0;
    for piece in pieces {
        if let Piece::Bytes(b) = piece {
            f.seek(SeekFrom::Start(len)).unwrap();
            f.write_all(b).unwrap();
        }
        len += piece.len();
    }
    f.set_len(len).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let stored = f.metadata().unwrap().blocks() * 512;
        if stored > 64 << 20 {
            drop(f);
            let _ = std::fs::remove_file(path);
            eprintln!("{}: holes are not sparse here; skipped", path.display());
            return false;
        }
    }
    true
}

/// Reads `pieces` front to back, writing the zeros: a 4 GiB stream made in
/// memory, a block at a time.
struct PieceReader {
    pieces: std::vec::IntoIter<Piece>,
    current: Option<Piece>,
    done: u64,
    /// Bytes read out so far.
    served: u64,
}

impl PieceReader {
    fn new(pieces: Vec<Piece>) -> Self {
        PieceReader {
            pieces: pieces.into_iter(),
            current: None,
            done: 0,
            served: 0,
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(piece) = &self.current else {
                match self.pieces.next() {
                    Some(p) => self.current = Some(p),
                    None => return Ok(0),
                }
                continue;
            };
            let left = piece.len() - self.done;
            if left == 0 {
                self.current = None;
                self.done = 0;
                continue;
            }
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            match piece {
                Piece::Bytes(b) => {
                    let from = self.done as usize;
                    buf[..n].copy_from_slice(&b[from..from + n]);
                }
                Piece::Zeros(_) => buf[..n].fill(0),
            }
            self.done += n as u64;
            self.served += n as u64;
            return Ok(n);
        }
    }
}

/// A memory-mapped trace past 4 GiB (a sparse file: it takes a few
/// hundred KiB of disk): the record at byte 2^32 prints, the warning for
/// the one cut off after it names its offset and record number in full,
/// on one thread and on several; a fault there names them too.
#[test]
fn over_4_gib_mapped() {
    let dir = support::scratch("over_4_gib_mapped");
    let events = dir.join("te");
    std::fs::write(&events, BIG_EVENTS).unwrap();
    let path = dir.join("big.trace");
    if !write_sparse(&path, &past_4_gib(1)) {
        return;
    }
    let want_warning = format!(
        "simpletrace: warning: {}: the trace ends inside record 131 at byte offset {CUT_AT} \
         (0x{CUT_AT:x}): the last 43 bytes were ignored (an incomplete record; it needs at \
         least 47)\n",
        path.display()
    );
    for threads in ["1", "2"] {
        let out = support::run(with(&["-j", threads], &events, s(&path)));
        assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
        // The pads are longer than `pad(void)` declares: one warning
        // about them (offsets past 4 GiB are not involved), then the cut.
        let err = support::stderr(&out);
        let (pads, cut) = err.split_once('\n').unwrap();
        assert!(
            pads.contains(": 128 records are longer than ")
                && pads.contains("; the first, record 2 at byte offset "),
            "-j {threads}: {pads}"
        );
        assert_eq!(cut, want_warning, "-j {threads}");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 129, "-j {threads}");
        assert_eq!(lines[0], "pad 0.000 pid=1 ");
        assert_eq!(lines[127], "pad 1.000 pid=1 ");
        assert_eq!(lines[128], "say 73.000 pid=9 text=b'past 4 GiB' n=0x5");
    }
    let out = support::run(with(&["stats", "--json"], &events, s(&path)));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["records_read"].as_u64(), Some(131));

    // An unmapped id at 2^32: an error, exit status 1, after the records
    // before it.
    if !write_sparse(&path, &past_4_gib(7)) {
        return;
    }
    let out = support::run(with(&[], &events, s(&path)));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: {}: record 130 at byte offset 4294967296 (0x100000000): event id 7 \
             has no mapping record naming it\n",
            path.display()
        )
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 128);
    let _ = std::fs::remove_file(&path);
}

/// One event record as the stream test saw it.
#[derive(Debug, Default)]
struct Seen(Vec<(String, u64, u64)>);

impl Seen {
    fn on(
        &mut self,
        ev: &simpletrace::analyzers::Event<'_>,
        _: &mut simpletrace::analyzers::Context<'_>,
    ) -> Result<(), simpletrace::analyzers::AnalyzerError> {
        let at = ev.record().at;
        self.0
            .push((ev.name().to_owned(), at.offset.0, at.record.0));
        Ok(())
    }
}

impl simpletrace::analyzers::Analyzer for Seen {
    fn name(&self) -> &str {
        "seen"
    }
    fn handlers(&self) -> simpletrace::analyzers::Handlers<Self> {
        let mut h = simpletrace::analyzers::Handlers::new();
        h.catchall(Self::on);
        h
    }
    fn end(
        &mut self,
        _: &simpletrace::analyzers::TraceInfo<'_>,
    ) -> Result<simpletrace::analyzers::Report, simpletrace::analyzers::AnalyzerError> {
        let seen = std::mem::take(&mut self.0);
        Ok(simpletrace::analyzers::Report::new(
            String::new(),
            serde_json::json!(seen),
        ))
    }
}

/// Runs [`Seen`] over `input`, a version-4 trace with a header, as a
/// stream read in blocks of `block` bytes: what it saw, and how the run
/// ended.
fn run_seen(
    input: &mut dyn Read,
    events: &simpletrace::format::TraceEvents,
    block: usize,
) -> (serde_json::Value, simpletrace::analyzers::RunOutcome) {
    use simpletrace::analyzers::{Driver, RunOptions};
    let mut header = Vec::new();
    encode::header(&mut header, 4);
    let kind = simpletrace::format::TraceKind::detect(&header).unwrap();
    let mut driver = Driver::new();
    driver.add(Seen::default());
    driver.stream_block(block);
    let mut outcome = driver
        .run_stream(
            input,
            kind,
            events,
            &mut std::io::sink(),
            RunOptions::default(),
        )
        .unwrap();
    let seen = outcome.reports.remove(0).json;
    (seen, outcome)
}

/// The same trace as [`over_4_gib_mapped`]'s, streamed (made in memory,
/// 4 GiB of zeros written a block at a time): offsets past 4 GiB in
/// records and faults, and no block holds more than 32 MiB.
#[test]
fn over_4_gib_streamed() {
    use simpletrace::format::{Error, FileOffset, RecordIndex};
    let events = simpletrace::format::TraceEvents::parse("te", BIG_EVENTS.as_bytes()).unwrap();
    let mut input = PieceReader::new(past_4_gib(1));
    let (seen, outcome) = run_seen(&mut input, &events, PAD as usize);
    assert!(outcome.stream_error.is_none(), "{:?}", outcome.stream_error);
    assert_eq!(input.served, CUT_AT + 43, "the whole trace was read");
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 129);
    assert_eq!(seen[0], serde_json::json!(["pad", 70, 2]));
    assert_eq!(
        seen[127],
        serde_json::json!(["pad", (1u64 << 32) - PAD, 129])
    );
    assert_eq!(seen[128], serde_json::json!(["say", 1u64 << 32, 130]));
    match outcome.fault {
        Some(Error::Truncated { at, .. }) => {
            assert_eq!(
                (at.offset, at.record),
                (FileOffset(CUT_AT), RecordIndex(131))
            );
        }
        otherwise => panic!("{otherwise:?}"),
    }
}

/// [`over_4_gib_streamed`] end to end: the binary reading 4 GiB from a
/// pipe. Ignored because pushing 4 GiB through a pipe takes a few seconds;
/// run it with `cargo test -- --ignored over_4_gib_through_a_pipe`.
#[test]
#[ignore]
fn over_4_gib_through_a_pipe() {
    let dir = support::scratch("over_4_gib_pipe");
    let events = dir.join("te");
    std::fs::write(&events, BIG_EVENTS).unwrap();
    let block = PAD.to_string();
    let mut child = support::bin()
        .args(["--chunk-size", &block, s(&events), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        std::io::copy(&mut PieceReader::new(past_4_gib(1)), &mut stdin).map(drop)
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: warning: -: the trace ends inside record 131 at byte offset {CUT_AT} \
             (0x{CUT_AT:x}): the last 43 bytes were ignored (an incomplete record; it needs at \
             least 47)\n"
        )
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 129);
    assert_eq!(
        text.lines().last(),
        Some("say 73.000 pid=9 text=b'past 4 GiB' n=0x5")
    );
}

/// Reads `data`, then fails: an I/O error after `data.len()` bytes.
struct FailsAfter {
    data: std::io::Cursor<Vec<u8>>,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(std::io::Error::other("the disk caught fire")),
            n => Ok(n),
        }
    }
}

/// An I/O error in the middle of a stream: every whole record before it
/// is analysed (the same as a file cut there gives), then the error, with
/// the bytes received. The record the failure cut is not reported as a
/// truncation of the trace: the trace did not end, the reading did.
#[test]
fn read_error_in_the_middle_of_a_stream() {
    let events = support::samples::sample_events();
    let trace = support::samples::sample_trace();
    let fail_at = trace.len() / 2 + 7;
    let prefix = &trace[..fail_at];
    let mut input = FailsAfter {
        data: std::io::Cursor::new(prefix.to_vec()),
    };
    let (seen, outcome) = run_seen(&mut input, &events, 4096);
    let (want, whole) = run_seen(&mut std::io::Cursor::new(prefix), &events, 4096);
    assert!(whole.fault.as_ref().is_some_and(|e| e.is_truncation()));
    assert_eq!(seen, want);
    assert!(seen.as_array().unwrap().len() > 10);
    assert!(outcome.fault.is_none(), "{:?}", outcome.fault);
    match &outcome.stream_error {
        Some(e @ simpletrace::analyzers::StreamError::Read { received, .. }) => {
            assert_eq!(*received, fail_at as u64);
            assert_eq!(
                e.to_string(),
                format!("reading the trace failed after {fail_at} bytes: the disk caught fire")
            );
        }
        otherwise => panic!("{otherwise:?}"),
    }
}

/// The message for a text input past the bound (issue 13).
fn too_long(path: &str) -> String {
    format!(
        "simpletrace: {path}: the file has more than 16777216 bytes (16 MiB), the most read of a \
         text input such as a trace-events file: is it the right file?\n"
    )
}

/// Text inputs (the trace-events file, `--events-file`) are read to a
/// bound, 16 MiB, with a clear error past it, whatever they are: a device
/// that never ends (`/dev/zero`), a pipe that never ends, a regular file
/// one byte too long (refused by its size, unread). Before, each was read
/// until memory ran out. A pipe, a FIFO or `/dev/stdin` that ends within
/// the bound is read whole, as before.
#[test]
fn text_inputs_are_read_to_a_bound() {
    assert_eq!(simpletrace::input::MAX_TEXT_LEN, 16 << 20);
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let refused = |args: &[&str], path: &str, input: Option<Box<dyn Read + Send>>| {
        let mut all: Vec<&str> = args.to_vec();
        all.push(s(&trace));
        let out = match input {
            Some(input) => support::run_with_stdin_from(&all, input),
            None => support::run(&all),
        };
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            support::stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(support::stderr(&out), too_long(path), "{args:?}");
    };
    refused(&["/dev/zero"], "/dev/zero", None);
    refused(
        &["--events-file", "/dev/zero", s(&events)],
        "/dev/zero",
        None,
    );
    // A pipe that never ends, as either file.
    let endless = || Some(Box::new(std::io::repeat(b'#')) as Box<dyn Read + Send>);
    refused(&["/dev/stdin"], "/dev/stdin", endless());
    refused(
        &["--events-file", "/dev/stdin", s(&events)],
        "/dev/stdin",
        endless(),
    );
    // A regular file one byte over the bound (sparse: no disk written).
    let dir = support::scratch("text_bound");
    let big = dir.join("big-events");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((16 << 20) + 1)
        .unwrap();
    refused(&[s(&big)], s(&big), None);
    // At the bound exactly, it is read: the error is then the parser's.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let out = support::run([&big, &trace]);
    let err = support::stderr(&out);
    assert!(
        err.contains("the last line does not end with a newline"),
        "{err}"
    );
    // Pipes and FIFOs that end are read whole.
    let text = std::fs::read(&events).unwrap();
    let golden = std::fs::read(support::testdata("sample.simpletrace.txt")).unwrap();
    let out = support::run_with_stdin(["/dev/stdin", s(&trace)], &text);
    assert!(out.status.success(), "{}", support::stderr(&out));
    support::assert_same_output("/dev/stdin", &out.stdout, &golden);
    let fifo = dir.join("events-fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    let out = support::run([&fifo, &trace]);
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    support::assert_same_output("FIFO", &out.stdout, &golden);
}

/// What else a text input can be: an events file that is not UTF-8, and a
/// trace longer than the bound given as TRACE_EVENTS (the files swapped:
/// refused unread, with the hint that says so).
#[test]
fn text_input_faults_say_what_is_wrong() {
    let dir = support::scratch("text_faults");
    let events = support::testdata("sample.trace-events");
    let trace = support::testdata("sample.trace");
    let patterns = dir.join("patterns");
    std::fs::write(&patterns, b"ok_*\n\xff\n").unwrap();
    let out = support::run(["--events-file", s(&patterns), s(&events), s(&trace)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: {}: not UTF-8 text (an invalid byte at offset 5)\n",
            patterns.display()
        )
    );
    let big = dir.join("big-trace");
    let mut header = Vec::new();
    encode::header(&mut header, 4);
    std::fs::write(&big, &header).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let out = support::run([s(&big), s(&events)]);
    assert_eq!(out.status.code(), Some(1));
    let err = support::stderr(&out);
    assert!(
        err.starts_with(too_long(s(&big)).trim_end())
            && err.contains("; the two files seem swapped"),
        "{err}"
    );
}

/// A trace opened from a file already open (as the Python module is handed
/// one): a regular file is mapped from its first byte whatever the file's
/// position; a compressed one is decompressed, as by path.
#[test]
fn trace_input_from_an_open_file() {
    use simpletrace::input::{TraceData, TraceInput};
    use std::io::{Seek, SeekFrom};
    let path = support::testdata("sample.trace");
    let bytes = std::fs::read(&path).unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    file.seek(SeekFrom::Start(10)).unwrap();
    match TraceInput::from_file(file, &path).unwrap() {
        TraceInput::Data(data @ TraceData::Mapped(_)) => assert_eq!(&data[..], &bytes[..]),
        otherwise => panic!("{otherwise:?}"),
    }
    let gz = support::scratch("trace_input_from_an_open_file").join("sample.trace.gz");
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    match TraceInput::from_file(std::fs::File::open(&gz).unwrap(), &gz).unwrap() {
        TraceInput::Stream(mut s) => {
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap();
            assert_eq!(all, bytes);
        }
        otherwise => panic!("{otherwise:?}"),
    }
}
