//! Writes a version-4 trace with many distinct keys, to measure what an
//! analyzer keeps per key (docs/performance.md, "Memory per key").
//!
//! ```sh
//! cargo run --release --example gen_keys -- --kind mutex --keys 1000000 -o /tmp/mutex.trace
//! simpletrace locks ../shared/testdata/trace-events-all /tmp/mutex.trace
//! ```
//!
//! Kinds (events of QEMU's `trace-events-all`):
//! - `mutex`: `qemu_mutex_lock`, `qemu_mutex_locked`, `qemu_mutex_unlock` of
//!   N distinct mutexes (for `locks`, and `hist --latency ... --by mutex`);
//! - `by`: `qemu_memalign` with N distinct `ptr` values and sizes spread
//!   over log2 buckets (for `hist --event qemu_memalign --arg size --by ptr`);
//! - `linear`: `qemu_memalign` with N distinct `size` values, each in its
//!   own `--linear 1` bucket (for `hist ... --arg size --linear 1`);
//! - `pid`: `qemu_memalign` then `qemu_vfree` from N distinct pids (for
//!   `stats`, `stats --by-pid` and `alloc`).
//!
//! `--repeat R` writes each key's records R times (more samples per key).

use std::io::BufWriter;
use std::path::PathBuf;

use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::input::read_trace_events;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut events = root.join("../shared/testdata/trace-events-all");
    let mut kind = String::new();
    let mut keys: u64 = 1_000_000;
    let mut repeat: u64 = 1;
    let mut output = PathBuf::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--events" => events = value()?.into(),
            "--kind" => kind = value()?,
            "--keys" => keys = value()?.parse()?,
            "--repeat" => repeat = value()?.parse()?,
            "-o" | "--output" => output = value()?.into(),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if output.as_os_str().is_empty() || kind.is_empty() {
        return Err("usage: gen_keys --kind mutex|by|linear|pid [--keys N] [--repeat R] [--events F] -o OUT".into());
    }
    let events = read_trace_events(&events)?;
    let file = BufWriter::new(std::fs::File::create(&output)?);
    let mut w = TraceWriter::with_events(file, WriterOptions::default(), &events)?;
    let mut ts = 1_000_000u64;
    let file_name: &[u8] = b"../util/qemu-thread-posix.c";
    for r in 0..repeat {
        for k in 0..keys {
            ts += 100;
            match kind.as_str() {
                "mutex" => {
                    let mutex = Arg::Ptr(0x5500_0000_0000 + k * 64);
                    let line = Arg::I64(90 + (k % 4) as i64);
                    let file = Arg::Str(Some(file_name));
                    w.event_by_name("qemu_mutex_lock", ts, 1, &[mutex, file, line])?;
                    w.event_by_name(
                        "qemu_mutex_locked",
                        ts + 10 + k % 50,
                        1,
                        &[mutex, file, line],
                    )?;
                    w.event_by_name(
                        "qemu_mutex_unlock",
                        ts + 80 + k % 7,
                        1,
                        &[mutex, file, line],
                    )?;
                }
                "by" => {
                    let size = 1u64 << ((k + r) % 20);
                    let ptr = 0x7f00_0000_0000 + k * 4096;
                    w.event_by_name(
                        "qemu_memalign",
                        ts,
                        1,
                        &[Arg::U64(64), Arg::U64(size), Arg::Ptr(ptr)],
                    )?;
                }
                "linear" => {
                    let size = k * 2 + r % 2;
                    w.event_by_name(
                        "qemu_memalign",
                        ts,
                        1,
                        &[Arg::U64(64), Arg::U64(size), Arg::Ptr(0x7f00_0000_0000)],
                    )?;
                }
                "pid" => {
                    let pid = 1000 + k as u32;
                    let ptr = 0x7f00_0000_0000 + k * 4096;
                    w.event_by_name(
                        "qemu_memalign",
                        ts,
                        pid,
                        &[Arg::U64(64), Arg::U64(4096), Arg::Ptr(ptr)],
                    )?;
                    w.event_by_name("qemu_vfree", ts + 50, pid, &[Arg::Ptr(ptr)])?;
                }
                _ => return Err(format!("unknown kind {kind}").into()),
            }
        }
    }
    let records = w.records_written();
    let bytes = w.bytes_written();
    w.finish()?;
    eprintln!("{}: {bytes} bytes, {records} records", output.display());
    Ok(())
}
