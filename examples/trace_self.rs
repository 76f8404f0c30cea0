//! A program that traces itself and then prints its own trace, the way the
//! `simpletrace` command would.
//!
//! ```sh
//! cargo run --example trace_self
//! ```
//!
//! It declares its events in trace-events syntax, traces a small
//! multi-threaded job (work items, allocations and frees) with
//! `simpletrace::tracer`, closes the tracer, and prints the file with the
//! drop-in printer. The trace and its events file stay in the system's
//! temporary directory, so `simpletrace EVENTS TRACE` shows the same.

use std::io::Write;

use simpletrace::analyzers::print::{Buffering, Parallelism, print_trace};
use simpletrace::format::{TraceEvents, TraceReader};
use simpletrace::trace;
use simpletrace::tracer::{Overflow, Tracer};

const EVENTS: &str = "\
# Events of the trace_self example.
job_start(uint32_t workers, uint64_t items) \"workers %u items %\" PRIu64
work_item(uint32_t worker, uint64_t item, const char *kind) \"worker %u item %\" PRIu64 \" kind %s\"
buffer_alloc(size_t size, void *ptr) \"size %zu ptr %p\"
buffer_free(void *ptr) \"ptr %p\"
job_done(int64_t checksum) \"checksum %\" PRId64
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir();
    let events_path = dir.join("trace_self.trace-events");
    let trace_path = dir.join(format!("trace_self-{}", std::process::id()));
    std::fs::write(&events_path, EVENTS)?;

    let events = TraceEvents::parse("trace_self.trace-events", EVENTS.as_bytes())?;
    let tracer = Tracer::builder(events.clone())
        .overflow(Overflow::Block)
        .create(&trace_path)?;
    let (start, item, alloc, free, done) = (
        tracer.event("job_start").ok_or("job_start")?,
        tracer.event("work_item").ok_or("work_item")?,
        tracer.event("buffer_alloc").ok_or("buffer_alloc")?,
        tracer.event("buffer_free").ok_or("buffer_free")?,
        tracer.event("job_done").ok_or("job_done")?,
    );

    const WORKERS: u32 = 3;
    const ITEMS: u64 = 4;
    trace!(tracer, start, WORKERS, ITEMS)?;
    let checksum: i64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let tracer = &tracer;
                s.spawn(move || -> Result<i64, simpletrace::tracer::TraceError> {
                    let mut sum = 0i64;
                    for i in 0..ITEMS {
                        let kind = if i % 2 == 0 { "even" } else { "odd" };
                        trace!(tracer, item, w, i, kind)?;
                        let buffer = vec![w as u8; 64 << i];
                        trace!(tracer, alloc, buffer.len(), buffer.as_ptr())?;
                        sum += buffer.iter().map(|&b| i64::from(b)).sum::<i64>();
                        trace!(tracer, free, buffer.as_ptr())?;
                    }
                    Ok(sum)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker").unwrap_or(0))
            .sum()
    });
    trace!(tracer, done, checksum)?;
    let stats = tracer.close()?;
    eprintln!(
        "traced {} records into {} (dropped {})\n",
        stats.written,
        trace_path.display(),
        stats.dropped
    );

    // Print it exactly as `simpletrace EVENTS TRACE` does.
    let data = simpletrace::input::TraceData::open(&trace_path)?;
    let reader = TraceReader::new(&data, &events)?;
    let mut out = std::io::stdout().lock();
    print_trace(
        reader,
        &mut out,
        Buffering::Block,
        Parallelism::SEQUENTIAL,
        &mut |_| {},
    )?;
    writeln!(
        out,
        "\nSee it again with: simpletrace {} {}",
        events_path.display(),
        trace_path.display()
    )?;
    Ok(())
}
