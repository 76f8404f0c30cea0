//! The tracer's cost per event on the tracing thread, for a 3-argument
//! event (a pointer, a u64, an int), writing a real file.
//!
//! Events are traced in batches of 20,000 into a buffer large enough for a
//! batch; between batches (not timed) the tracer is flushed, so the
//! measurement is what a traced program pays per event while the writer
//! keeps up: no waiting, no drops. The sustained rate the writer can keep
//! up with is `benches/tracer_rate.rs`.
//!
//! ```sh
//! cargo bench --bench tracer
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use simpletrace::format::TraceEvents;
use simpletrace::trace;
use simpletrace::tracer::{Overflow, Tracer};

const EVENTS: &[u8] =
    b"bdrv_co_io(void *bs, uint64_t offset, int ret) \"bs %p offset %\" PRIu64 \" ret %d\"\n";

const BATCH: u64 = 20_000;

fn file(threads: u64) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tracer-bench-{threads}.trace"))
}

/// Traces `iters` events on each of `threads` threads; returns the time
/// the tracing calls took on one thread (the slowest).
fn run(tracer: &Tracer, threads: u64, iters: u64) -> Duration {
    let ev = tracer.event("bdrv_co_io").unwrap();
    let barrier = std::sync::Barrier::new(threads as usize);
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let bs = (0x5600_0000_0000 + t * 0x1000) as *const u8;
                    let mut spent = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        let n = BATCH.min(iters - done);
                        barrier.wait();
                        let start = Instant::now();
                        for i in done..done + n {
                            trace!(tracer, ev, bs, i * 4096, 0).unwrap();
                        }
                        spent += start.elapsed();
                        done += n;
                        barrier.wait();
                        if t == 0 {
                            tracer.flush().unwrap();
                        }
                    }
                    spent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    times.into_iter().max().unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracer, 3-argument event, to a file");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    for threads in [1u64, 2] {
        let events = TraceEvents::parse("bench", EVENTS).unwrap();
        let tracer = Tracer::builder(events)
            .overflow(Overflow::Drop)
            .buffer_bytes(4 << 20)
            .create(file(threads))
            .unwrap();
        g.bench_function(
            format!("{threads} thread(s), per event on a tracing thread"),
            |b| b.iter_custom(|iters| run(&tracer, threads, iters)),
        );
        let stats = tracer.close().unwrap();
        assert_eq!(stats.dropped, 0, "a batch overflowed the buffer");
    }
    g.finish();
}

criterion_group!(tracer, benches);
criterion_main!(tracer);
