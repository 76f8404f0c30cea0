//! How fast any query straight from a trace file could be, at best: the
//! time to map the trace as `simpletrace` maps it and load every 64-byte
//! line of it once, split between threads, with no decoding at all
//! (docs/performance.md, "The floor of a query straight from a trace").
//! Every record of a simple trace is read to find the next one, so no
//! query over the trace file can answer in less.
//!
//! ```sh
//! cargo run --release --example read_floor -- /work/bench/medium-rand-512M.trace 2 5
//! ```
//!
//! Arguments: the trace, threads (default 2), runs (default 5). Prints the
//! best of the runs, each a fresh mapping (the file stays in the page
//! cache: the kernel's page tables are built again each time, as for a new
//! process).

use std::time::{Duration, Instant};

use simpletrace::input::TraceInput;

/// Cache lines are 64 bytes: one load each brings all of a line.
const LINE: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: read_floor TRACE [THREADS] [RUNS]")?;
    let threads: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let TraceInput::Data(data) = TraceInput::open(&path)? else {
            return Err(format!("{path}: not a mappable file").into());
        };
        bytes = data.len();
        let share = data.len().div_ceil(threads.max(1)).max(1);
        let sum = std::thread::scope(|scope| {
            let handles: Vec<_> = data
                .chunks(share)
                .map(|part| scope.spawn(move || touch(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0u64, u64::wrapping_add)
        });
        let took = started.elapsed();
        // The sum keeps the loads from being optimised away.
        std::hint::black_box(sum);
        best = best.min(took);
    }
    println!(
        "{path}: {bytes} bytes, {threads} threads: best of {runs} {:.1} ms ({:.0} MB/s)",
        best.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / best.as_secs_f64()
    );
    Ok(())
}

/// Loads the first byte of every line of `part`.
fn touch(part: &[u8]) -> u64 {
    part.iter()
        .step_by(LINE)
        .fold(0u64, |sum, &b| sum.wrapping_add(u64::from(b)))
}
