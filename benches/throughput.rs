//! Throughput of decoding, counting, the `stats` analyzer and printing, in bytes of trace per
//! second, on a 64 MiB trace held in memory (no I/O in the timed loops).
//!
//! The trace replays QEMU's `medium-rand.bin` (qemu-io random I/O, all
//! events on) when the conformance corpus is present, the project's own
//! sample otherwise; `SIMPLETRACE_CORPUS` points at the corpus.
//!
//! ```sh
//! cargo bench --bench throughput
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use simpletrace::analyzers::print::{Buffering, Parallelism, print_trace};
use simpletrace::analyzers::stats::{StatsAnalyzer, StatsSort};
use simpletrace::analyzers::{Driver, RunOptions};
use simpletrace::format::chunks::Chunks;
use simpletrace::format::{ArgValue, TraceEvents, TraceReader};
use simpletrace::input::read_trace_events;

#[path = "support/replay.rs"]
mod replay;

const SIZE: u64 = 64 << 20;

fn input() -> (TraceEvents, Vec<u8>, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::env::var_os("SIMPLETRACE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/testdata"));
    let (events, model, what) = if corpus.join("medium-rand.bin").is_file() {
        (
            corpus.join("trace-events-all"),
            corpus.join("medium-rand.bin"),
            "medium-rand replay",
        )
    } else {
        eprintln!(
            "QEMU corpus not found at {}: benchmarking the sample trace's mix",
            corpus.display()
        );
        (
            root.join("testdata/sample.trace-events"),
            root.join("testdata/sample.trace"),
            "sample replay",
        )
    };
    let events = read_trace_events(events).expect("events file");
    let model_bytes = std::fs::read(model).expect("model trace");
    let model = replay::Model::read(&model_bytes, &events).expect("model decodes");
    assert!(!model.is_empty(), "the model trace has no event records");
    let mut trace = Vec::with_capacity(SIZE as usize + (1 << 17));
    model.replay(SIZE, 4, &mut trace).expect("replay");
    (events, trace, what)
}

/// Counts records per event: the core of count-only statistics.
fn count(reader: TraceReader<'_>, slots: usize) -> Vec<u64> {
    let mut counts = vec![0u64; slots + 1];
    for record in reader {
        let record = record.expect("valid trace");
        let slot = record.decl.position.min(slots);
        counts[slot] += 1;
    }
    counts
}

fn benches(c: &mut Criterion) {
    let (events, trace, what) = input();
    let slots = events.len();
    let mut g = c.benchmark_group(format!("64MiB {what}"));
    g.throughput(Throughput::Bytes(trace.len() as u64));
    g.sample_size(10);

    g.bench_function("scan chunk boundaries", |b| {
        b.iter(|| Chunks::new(TraceReader::new(&trace, &events).unwrap(), 1 << 20).count())
    });
    g.bench_function("count, 1 thread", |b| {
        b.iter(|| count(TraceReader::new(&trace, &events).unwrap(), slots))
    });
    // The same, but mapping the file anew each time, as the CLI does: the
    // pages come from the page cache through page faults.
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("throughput.trace");
    std::fs::write(&file, &trace).expect("writing the trace");
    g.bench_function("count, 1 thread, mmap from page cache", |b| {
        b.iter(|| {
            let data = simpletrace::input::TraceData::open(&file).unwrap();
            count(TraceReader::new(&data, &events).unwrap(), slots)
        })
    });
    g.bench_function("count, 2 threads", |b| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        b.iter(|| {
            pool.install(|| {
                let chunks: Vec<_> =
                    Chunks::new(TraceReader::new(&trace, &events).unwrap(), 4 << 20).collect();
                chunks
                    .into_par_iter()
                    .map(|c| count(c.reader, slots))
                    .reduce(
                        || vec![0; slots + 1],
                        |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
                    )
            })
        })
    });
    g.bench_function("decode all arguments, 1 thread", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for record in TraceReader::new(&trace, &events).unwrap() {
                for arg in record.unwrap().args() {
                    sum = sum.wrapping_add(match arg.unwrap() {
                        ArgValue::Int(v) => v,
                        ArgValue::Str(s) => s.len() as u64,
                    });
                }
            }
            black_box(sum)
        })
    });
    for threads in [1, 2] {
        g.bench_function(format!("stats analyzer, {threads} thread(s)"), |b| {
            b.iter(|| {
                let mut driver = Driver::new();
                driver.add_parallel(StatsAnalyzer::new(StatsSort::Count, None, false));
                let options = RunOptions {
                    parallelism: Parallelism::threads(threads),
                    buffering: Buffering::Block,
                };
                let reader = TraceReader::new(&trace, &events).unwrap();
                driver.run(reader, &mut std::io::sink(), options).unwrap()
            })
        });
    }
    for threads in [1, 2] {
        g.bench_function(format!("print, {threads} thread(s)"), |b| {
            b.iter(|| {
                let reader = TraceReader::new(&trace, &events).unwrap();
                print_trace(
                    reader,
                    &mut std::io::sink(),
                    Buffering::Block,
                    Parallelism::threads(threads),
                    &mut |_| {},
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(throughput, benches);
criterion_main!(throughput);
