//! The soak test: every command over a multi-gigabyte generated trace (past
//! 4 GiB by default, so that 64-bit offsets are exercised), with 1 and 2
//! threads: the outputs must be the same bytes, and the peak memory of each
//! run must stay bounded whatever the trace size. `print` runs twice more,
//! with `--resync` (every record checked; nothing to skip) and from a pipe
//! (a stream read in blocks), and must print the same bytes.
//!
//! Ignored by default (it writes a 5 GiB file and runs for minutes); run it
//! with the release build:
//!
//! ```sh
//! cargo test --release --test integration soak -- --ignored --nocapture
//! SIMPLETRACE_SOAK_SIZE=8G SIMPLETRACE_SOAK_DIR=/big/tmp cargo test --release ...
//! ```
//!
//! It prints a table of wall time and peak RSS per command and thread count
//! (docs/performance.md records a run).

use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support;

// Shared with the benchmarks, which use all of it.
#[allow(dead_code)]
#[path = "../benches/support/replay.rs"]
mod replay;

/// Peak resident memory a run may reach (the mapped trace is let go
/// behind the reader; the rest is chunks in flight and the analyzers'
/// state).
const RSS_LIMIT_MIB: u64 = 256;

fn size_from_env() -> u64 {
    let text = std::env::var("SIMPLETRACE_SOAK_SIZE").unwrap_or_else(|_| "5G".into());
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .expect("SIMPLETRACE_SOAK_SIZE: a size like 5G");
    n * match unit {
        "" => 1,
        "M" => 1 << 20,
        "G" => 1 << 30,
        other => panic!("SIMPLETRACE_SOAK_SIZE: unit {other:?}: use M or G"),
    }
}

/// Writes the trace (once: it is kept between runs when its size matches).
fn generate(dir: &Path, size: u64) -> (PathBuf, PathBuf) {
    let corpus = support::corpus();
    let (events, model) = match &corpus {
        Some(c) => (c.join("trace-events-all"), c.join("medium-rand.bin")),
        None => (
            support::testdata("sample.trace-events"),
            support::testdata("sample.trace"),
        ),
    };
    let trace = dir.join(format!("soak-{size}.trace"));
    if std::fs::metadata(&trace).is_ok_and(|m| m.len() >= size) {
        return (events, trace);
    }
    let parsed = simpletrace::input::read_trace_events(&events).unwrap();
    let model = replay::Model::read(&std::fs::read(&model).unwrap(), &parsed).unwrap();
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&trace).unwrap());
    let started = Instant::now();
    let records = model.replay(size, 4, file).unwrap();
    eprintln!(
        "soak: wrote {} ({records} records, {:.1} GiB) in {:.1?}",
        trace.display(),
        size as f64 / (1u64 << 30) as f64,
        started.elapsed()
    );
    (events, trace)
}

struct Run {
    hash: u64,
    bytes: u64,
    wall: Duration,
    peak_kib: u64,
}

/// Runs the binary (its standard input a pipe that `cat` feeds the file
/// `stdin` into, or none), hashing its standard output as it streams, and
/// sampling its peak memory until it exits.
fn run(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> Run {
    let started = Instant::now();
    let mut feeder = stdin.map(|path| {
        std::process::Command::new("cat")
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    });
    let input = match feeder.as_mut().and_then(|f| f.stdout.take()) {
        Some(pipe) => Stdio::from(pipe),
        None => Stdio::null(),
    };
    let mut child = support::bin()
        .args(args)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(
                    support::peak_rss_kib(pid).unwrap_or(0),
                    std::sync::atomic::Ordering::Relaxed,
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        // Before the process exits, its peak is still readable.
        peak.fetch_max(
            support::peak_rss_kib(pid).unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        hasher.write(&buf[..n]);
        bytes += n as u64;
    }
    let out = child.wait_with_output().unwrap();
    if let Some(mut feeder) = feeder {
        feeder.wait().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        hash: hasher.finish(),
        bytes,
        wall: started.elapsed(),
        peak_kib: peak.load(std::sync::atomic::Ordering::Relaxed),
    }
}

#[test]
#[ignore = "writes a multi-GB trace and runs for minutes: see the module docs"]
fn soak_every_command_on_a_multi_gigabyte_trace() {
    let size = size_from_env();
    let dir = std::env::var_os("SIMPLETRACE_SOAK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak"));
    std::fs::create_dir_all(&dir).unwrap();
    let (events, trace) = generate(&dir, size);
    let commands: &[&[&str]] = &[
        &["print"],
        &["print", "--format", "log", "--timestamps"],
        &["json"],
        &["json", "--format", "chrome"],
        &[
            "json",
            "--format",
            "chrome",
            "--span",
            "qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex",
        ],
        &["stats", "--by-pid"],
        &[
            "hist",
            "--event",
            "qemu_memalign",
            "--arg",
            "size",
            "--by",
            "pid",
        ],
        &["hist", "--interval", "qemu_mutex_lock"],
        &[
            "hist",
            "--latency",
            "thread_pool_submit_aio:req,thread_pool_complete_aio:req",
        ],
        &["alloc", "--top", "100"],
        &["locks"],
        &["filter", "--events", "qemu_mutex_*", "-o", "-"],
        &[
            "run", "--plugin", "stats", "--plugin", "locks", "--plugin", "alloc", "--json",
        ],
    ];
    let corpus_events = support::corpus().is_some();
    let mut table = String::from("command | threads | output | wall | peak RSS\n");
    let mut worst = 0u64;
    let mut printed = None;
    for cmd in commands {
        if !corpus_events
            && cmd
                .iter()
                .any(|a| a.contains("qemu_") || a.contains("thread_pool"))
        {
            continue;
        }
        let mut results = Vec::new();
        for threads in ["1", "2"] {
            let mut args: Vec<&std::ffi::OsStr> = cmd.iter().map(std::ffi::OsStr::new).collect();
            args.extend([
                "-j".as_ref(),
                threads.as_ref(),
                events.as_os_str(),
                trace.as_os_str(),
            ]);
            let r = run(&args, None);
            table.push_str(&format!(
                "{} | {threads} | {:.2} GiB | {:.1?} | {} MiB\n",
                cmd.join(" "),
                r.bytes as f64 / (1u64 << 30) as f64,
                r.wall,
                r.peak_kib / 1024
            ));
            worst = worst.max(r.peak_kib);
            results.push(r);
        }
        assert_eq!(
            results[0].hash, results[1].hash,
            "{cmd:?}: the output differs between 1 and 2 threads"
        );
        assert_eq!(results[0].bytes, results[1].bytes, "{cmd:?}");
        assert!(results[0].bytes > 0, "{cmd:?}: no output");
        if cmd == &["print"] {
            printed = Some(results[0].hash);
        }
    }
    // The printer again, with every record checked (--resync, which must
    // find nothing to skip) and from standard input (a stream, read in
    // blocks): the same bytes.
    let printed = printed.expect("print ran");
    let variants: [(&str, Vec<&std::ffi::OsStr>, Option<&Path>); 2] = [
        (
            "print --resync | 2",
            vec![
                "--resync".as_ref(),
                "-j".as_ref(),
                "2".as_ref(),
                events.as_os_str(),
                trace.as_os_str(),
            ],
            None,
        ),
        (
            "cat TRACE | print - | 1",
            vec![events.as_os_str(), "-".as_ref()],
            Some(trace.as_path()),
        ),
    ];
    for (name, args, stdin) in variants {
        let r = run(&args, stdin);
        table.push_str(&format!(
            "{name} | {:.2} GiB | {:.1?} | {} MiB\n",
            r.bytes as f64 / (1u64 << 30) as f64,
            r.wall,
            r.peak_kib / 1024
        ));
        worst = worst.max(r.peak_kib);
        assert_eq!(r.hash, printed, "{name}: the output differs from print's");
    }
    eprintln!("soak, {} byte trace:\n{table}", size);
    assert!(
        worst < RSS_LIMIT_MIB << 10,
        "peak RSS {} MiB is over {RSS_LIMIT_MIB} MiB",
        worst / 1024
    );
}
