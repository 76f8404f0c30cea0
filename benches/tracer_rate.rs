//! Can the tracer sustain a given event rate? One thread traces a
//! 3-argument event at a fixed pace (default 10 million events per second)
//! for a few seconds into a real file, in drop mode (any record the writer
//! could not keep up with is dropped and counted) and in back-pressure mode
//! (the tracing thread is held back instead: does it keep its schedule?).
//! Then it traces flat out in back-pressure mode, which measures the
//! highest rate the writer sustains. The buffer defaults to 1 MiB.
//!
//! ```sh
//! cargo bench --bench tracer_rate [-- RATE_PER_SECOND SECONDS BUFFER_BYTES]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use simpletrace::format::TraceEvents;
use simpletrace::trace;
use simpletrace::tracer::{Overflow, Tracer};

const EVENTS: &[u8] =
    b"bdrv_co_io(void *bs, uint64_t offset, int ret) \"bs %p offset %\" PRIu64 \" ret %d\"\n";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rate: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10e6);
    let seconds: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let buffer: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1 << 20);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tracer-rate.trace");
    let events = TraceEvents::parse("bench", EVENTS).unwrap();

    for overflow in [Overflow::Drop, Overflow::Block] {
        paced_run(&events, overflow, rate, seconds, buffer, &path);
    }

    // Flat out, back-pressure mode.
    let total = (rate * seconds) as u64;
    let tracer = Tracer::builder(events)
        .overflow(Overflow::Block)
        .create(&path)
        .unwrap();
    let ev = tracer.event("bdrv_co_io").unwrap();
    let start = Instant::now();
    for i in 0..total {
        trace!(tracer, ev, 0x5600_0000_1000 as *const u8, i * 4096, 0).unwrap();
    }
    let traced_for = start.elapsed();
    let stats = tracer.close().unwrap();
    let with_drain = start.elapsed();
    println!(
        "flat out (back-pressure mode): {:.1} M events/s while tracing, {:.1} M events/s including the final drain; written {}, dropped {}",
        total as f64 / traced_for.as_secs_f64() / 1e6,
        total as f64 / with_drain.as_secs_f64() / 1e6,
        stats.written,
        stats.dropped
    );
}

/// Traces at `rate` for `seconds` and reports what was written, dropped,
/// and whether the pace held (in back-pressure mode a writer that cannot
/// keep up slows the tracing thread down instead of dropping).
fn paced_run(
    events: &TraceEvents,
    overflow: Overflow,
    rate: f64,
    seconds: f64,
    buffer: usize,
    path: &std::path::Path,
) {
    let tracer = Tracer::builder(events.clone())
        .overflow(overflow)
        .buffer_bytes(buffer)
        .create(path)
        .unwrap();
    let ev = tracer.event("bdrv_co_io").unwrap();
    let total = (rate * seconds) as u64;
    let start = Instant::now();
    let mut i = 0u64;
    let mut worst_lag = Duration::ZERO;
    while i < total {
        // Trace in slices of 1000, then wait for the schedule.
        for _ in 0..1000 {
            trace!(tracer, ev, 0x5600_0000_1000 as *const u8, i * 4096, 0).unwrap();
            i += 1;
        }
        let due = Duration::from_secs_f64(i as f64 / rate);
        worst_lag = worst_lag.max(start.elapsed().saturating_sub(due));
        while start.elapsed() < due {
            std::hint::spin_loop();
        }
    }
    let traced_for = start.elapsed();
    let stats = tracer.close().unwrap();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "paced {:.2} M events/s for {:.2} s ({overflow:?} mode, {} KiB buffer): written {}, dropped {} ({:.3}%), \
         worst lag behind schedule {:.2} ms, file {} MB",
        i as f64 / traced_for.as_secs_f64() / 1e6,
        traced_for.as_secs_f64(),
        buffer / 1024,
        stats.written,
        stats.dropped,
        100.0 * stats.dropped as f64 / i as f64,
        worst_lag.as_secs_f64() * 1e3,
        size / 1_000_000
    );
}
