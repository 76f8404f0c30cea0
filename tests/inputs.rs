//! Input sources (issue 8): a trace on standard input (a pipe, or a file
//! redirected), compressed traces (gzip, zstd, xz; by extension and by
//! magic bytes alone), their faults, streams longer than memory should
//! hold, and offsets past 4 GiB.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use simpletrace::format::{ArgValue, encode};

use crate::support;

/// Runs the binary with `args`, `input` written to its standard input
/// from another thread (a pipe).
fn piped(args: &[&str], input: &[u8]) -> Output {
    support::run_with_stdin(args, input)
}

/// Runs the binary with the file `path` as its standard input.
fn redirected(args: &[&str], path: &Path) -> Output {
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

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
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
    &["run", "--plugin", "stats", "--plugin", "json", "--json"],
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
            let pipe = piped(&strs(&with(&small, &events, "-")), &bytes);
            assert_same(&what, &file, &pipe, s(&trace), "-");
        }
        let file = support::run(with(&[], &events, s(&trace)));
        let pipe = piped(&strs(&with(&[], &events, "-")), &bytes);
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
    let redirect = redirected(&strs(&with(&["stats"], &events, "-")), &trace);
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
    let pipe = piped(
        &strs(&with(&args, &events, "-")),
        &std::fs::read(&trace).unwrap(),
    );
    assert_same("no-header", &file, &pipe, s(&trace), "-");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn xz(data: &[u8]) -> Vec<u8> {
    let options = lzma_rust2::XzOptions::with_preset(1);
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

type Compressor = fn(&[u8]) -> Vec<u8>;

const COMPRESSORS: [(&str, &str, Compressor); 3] = [
    ("gzip", "gz", gzip),
    ("zstd", "zst", zstd),
    ("xz", "xz", xz),
];

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
        for (name, ext, compress) in COMPRESSORS {
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
            let got = piped(&strs(&with(args, &events, "-")), &packed);
            assert_same(
                &format!("{name} {args:?} pipe"),
                &want,
                &got,
                s(&trace),
                "-",
            );
            let got = redirected(&strs(&with(args, &events, "-")), &renamed);
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
    for (name, ext, compress) in COMPRESSORS {
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

/// Corrupt or cut-off compressed data: everything before the damage is
/// printed, then an error naming the file, the compression and how many
/// (decompressed) bytes were read; exit status 1.
#[test]
fn corrupt_and_cut_compressed_data() {
    let (events, trace) = a_real_trace();
    let bytes = std::fs::read(&trace).unwrap();
    let full = support::run(with(&[], &events, s(&trace)));
    let dir = support::scratch("corrupt_compressed");
    for (name, ext, compress) in COMPRESSORS {
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
            for (how, out) in [
                ("file", support::run(with(&[], &events, s(&path)))),
                ("pipe", piped(&strs(&with(&[], &events, "-")), &data)),
            ] {
                let err = support::stderr(&out);
                assert_eq!(out.status.code(), Some(1), "{what} {how}: {err}");
                assert!(
                    full.stdout.starts_with(&out.stdout),
                    "{what} {how}: the output is not a prefix of the whole trace's"
                );
                assert!(
                    err.contains(&format!("{name}-compressed trace")) && err.contains("bytes"),
                    "{what} {how}: {err}"
                );
                let shown = if how == "file" { s(&path) } else { "-" };
                assert!(
                    err.starts_with(&format!("simpletrace: {shown}: ")),
                    "{what} {how}: {err}"
                );
                assert!(!err.contains("panicked"), "{err}");
                if damage == "cut" {
                    assert!(
                        err.contains("reading the trace failed after"),
                        "{what} {how}: {err}"
                    );
                    // Every whole record of the bytes that came out.
                    let received: usize = err
                        .split("failed after ")
                        .nth(1)
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{err}"));
                    let prefix = dir.join("prefix");
                    std::fs::write(&prefix, &bytes[..received]).unwrap();
                    let want = support::run(with(&[], &events, s(&prefix)));
                    support::assert_same_output(&what, &out.stdout, &want.stdout);
                }
            }
        }
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
            assert!(
                support::stderr(&file).contains("warning"),
                "{}",
                support::stderr(&file)
            );
            let pipe = piped(&strs(&with(args, &events, "-")), &bytes[..end]);
            assert_same(
                &format!("cut at {end} {args:?}"),
                &file,
                &pipe,
                s(&cut),
                "-",
            );
            let gz = dir.join("cut.gz");
            std::fs::write(&gz, gzip(&bytes[..end])).unwrap();
            let packed = support::run(with(args, &events, s(&gz)));
            assert_eq!(packed.stdout, file.stdout);
            assert_eq!(packed.status.code(), Some(0));
            assert!(support::stderr(&packed).contains("gzip-compressed trace"));
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
    let pipe = piped(&strs(&with(&args, &events, "-")), &t);
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
    let err = support::stderr(&out);
    assert!(
        err.contains("not a simple trace") && err.contains("the name says gzip"),
        "{err}"
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

/// An empty pipe is an empty trace, as an empty file is.
#[test]
fn empty_stdin() {
    let events = support::testdata("sample.trace-events");
    let out = piped(&strs(&with(&[], &events, "-")), b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("shorter than the 24-byte header"));
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
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let mut samples = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak, samples);
        }
        let hwm = std::fs::read_to_string(&status_file).ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        if let Some(kib) = hwm {
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

/// A trace past 4 GiB, streamed and mapped: offsets and counts past
/// `u32::MAX`. 5 GiB of zeros are version-4 mapping records (type 0, id 0,
/// an empty name), so a sparse file makes a valid big trace cheaply. Takes
/// a while (the reader hops over 268 million records, twice); run with
/// `cargo test --release -- --ignored over_4_gib`.
#[test]
#[ignore]
fn over_4_gib() {
    let dir = support::scratch("over_4_gib");
    let events = dir.join("te");
    std::fs::write(&events, "say(const char *text, int n)\n").unwrap();
    let path = dir.join("big.trace");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut head = Vec::new();
    encode::header(&mut head, 4);
    f.write_all(&head).unwrap();
    let zeros: u64 = 5 << 30; // a multiple of 20: whole empty mappings
    assert_eq!(zeros % 20, 0);
    f.set_len(head.len() as u64 + zeros).unwrap();
    let mut tail = Vec::new();
    encode::mapping(&mut tail, 1, b"say");
    encode::event(
        &mut tail,
        1,
        42,
        9,
        &[ArgValue::Str(b"past 4 GiB"), ArgValue::Int(5)],
    );
    let cut_at = head.len() as u64 + zeros + tail.len() as u64;
    encode::event(
        &mut tail,
        1,
        43,
        9,
        &[ArgValue::Str(b"cut"), ArgValue::Int(6)],
    );
    use std::io::Seek;
    f.seek(std::io::SeekFrom::End(0)).unwrap();
    f.write_all(&tail[..tail.len() - 4]).unwrap();
    drop(f);
    let mappings = zeros / 20 + 1;
    let want_line = "say 0.000 pid=9 text=b'past 4 GiB' n=0x5\n";
    let want_warning = format!("record {} at byte offset {cut_at} ", mappings + 1);
    // Mapped.
    let out = support::run(with(&[], &events, s(&path)));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want_line);
    assert!(
        support::stderr(&out).contains(&want_warning),
        "{}",
        support::stderr(&out)
    );
    // Streamed through a pipe, fed from the file by `cat`-like copying.
    let mut child = support::bin()
        .args(["stats", "--json", s(&events), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let src = path.clone();
    let writer = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::fs::File::open(src).unwrap(), &mut stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains(&want_warning),
        "{}",
        support::stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["records_read"].as_u64(), Some(mappings + 1));
    let _ = std::fs::remove_file(&path);
}
