//! `hist`: histograms of what a trace records, over any event the
//! trace-events file declares.
//!
//! Three measures:
//! - **value** ([`Measure::Value`]): one numeric argument of every record
//!   of an event (`bytes` of `bdrv_co_pwritev_part`);
//! - **latency** ([`Measure::Latency`]): the time from a *begin* record to
//!   the *end* record it pairs with. A pair has the same pid and, when a
//!   key argument is named, the same key value
//!   (`thread_pool_submit_aio:req` → `thread_pool_complete_aio:req`,
//!   `qemu_mutex_lock:mutex` → `qemu_mutex_unlock:mutex`);
//! - **interval** ([`Measure::Interval`]): the time between consecutive
//!   records of one event from the same pid.
//!
//! Each can be grouped ([`GroupBy`]: the pid, arguments, or both): one
//! histogram per distinct key, largest group first. Buckets, percentiles
//! and their exactness are those of [`super::histogram`].
//!
//! ```
//! use simpletrace::analyzers::Driver;
//! use simpletrace::analyzers::hist::{Hist, HistSpec, Measure};
//! use simpletrace::format::{TraceEvents, TraceReader, writer::{Arg, TraceWriter, WriterOptions}};
//!
//! let events = TraceEvents::parse("te", b"blk_pwrite(uint64_t offset, uint64_t bytes)\n")?;
//! let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events)?;
//! for (ts, bytes) in [(10, 512u64), (20, 4096), (30, 4096)] {
//!     w.event_by_name("blk_pwrite", ts, 1, &[Arg::from(0u64), Arg::from(bytes)])?;
//! }
//! let trace = w.finish()?;
//!
//! let spec = HistSpec::new(Measure::Value { event: "blk_pwrite".into(), arg: "bytes".into() });
//! let mut driver = Driver::new();
//! Hist::new(spec, &events)?.add_to(&mut driver);
//! let outcome = driver.run(TraceReader::new(&trace, &events)?, &mut std::io::sink(), Default::default())?;
//! // The report is written as it goes out (a listing can be millions of
//! // groups long); `complete` renders it in memory.
//! let report = outcome.reports[0].clone().complete();
//! // `bytes` is a size: the unit is bytes.
//! assert!(report.text.contains("[4KiB, 8KiB)"));
//! assert_eq!(report.json["groups"][0]["histogram"]["max"], 4096);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Choices, for the record:
//! - Latency pairs are matched per `(pid, key)`: processes are separate
//!   address spaces, so equal pointers in two pids are two objects.
//!   Without a key, begins and ends pair per pid. When several begins of
//!   one key are open, an end takes the oldest ([`Pairing::Fifo`], right
//!   for queues and contended locks) or the newest ([`Pairing::Lifo`],
//!   right for nested begin/end). Only open begins are kept: memory follows
//!   what is outstanding, not the trace's length.
//! - Timestamps are not monotonic across threads, so a latency or an
//!   interval can be negative; those histograms are signed.
//! - Intervals are between records consecutive in the file (per pid, and
//!   per group key when grouped), never across a dropped-events record of
//!   the same pid: the lost records fell in between.
//! - Value and interval histograms run chunk-parallel (an interval that
//!   straddles two chunks is joined when the chunks merge, so the result
//!   is the same as a sequential run); latency pairs across the whole
//!   trace, so it runs in file order.
//! - Dropped-events records are counted and reported: the histogram misses
//!   the lost records, and a latency pair may have lost its partner (pairs
//!   whose begin and end lie on both sides of a loss are counted).
//!
//! API structure: [`HistSpec`] says what to measure ([`Measure`],
//! [`GroupBy`], scale, unit, [`Style`]); [`Hist::new`] checks it against
//! the declarations ([`HistError`]) and gives the analyzer, which
//! [`Hist::add_to`] adds to a [`Driver`] the right way (parallel or not).

mod groups;
mod latency;
mod plan;
mod report;
mod samples;
mod spec;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use latency::LatencyHist;
pub use samples::SampleHist;
pub use spec::{
    Endpoint, GroupBy, HistError, HistSpec, LatencyPair, MAX_BY, Measure, Pairing, Style,
    SyntaxError,
};

use super::histogram::Unit;
use super::{Driver, Event};
use crate::format::events::TraceEvents;
use plan::{Plan, Resolved};

/// The analyzer's name, the heading of its report.
const NAME: &str = "hist";

/// The name of dropped-events records.
const DROPPED: &str = "Dropped_Event";

/// Dropped-events records seen.
#[derive(Debug, Clone, Copy, Default)]
struct Loss {
    records: u64,
    events: u64,
}

impl Loss {
    fn add(&mut self, ev: &Event<'_>) {
        self.records += 1;
        self.events = self.events.saturating_add(ev.word(0));
    }
}

/// The `hist` analyzer: [`Hist::new`] checks a request and builds it.
#[derive(Debug)]
pub enum Hist {
    /// Values and intervals: chunk-parallel.
    Samples(SampleHist),
    /// Latencies: in file order.
    Latency(LatencyHist),
}

impl Hist {
    /// Checks `spec` against the declarations and builds the analyzer.
    pub fn new(spec: HistSpec, events: &TraceEvents) -> Result<Hist, HistError> {
        let plan = Arc::new(Plan::resolve(spec, events)?);
        Ok(match plan.resolved {
            Resolved::Latency { .. } => Hist::Latency(LatencyHist::new(plan)),
            _ => Hist::Samples(SampleHist::new(plan)),
        })
    }

    /// The events whose records it reads (it also reads dropped-events
    /// records, to report losses).
    pub fn events(&self) -> Vec<String> {
        self.plan().events()
    }

    /// The unit it reports in.
    pub fn unit(&self) -> Unit {
        self.plan().unit
    }

    fn plan(&self) -> &Plan {
        match self {
            Hist::Samples(s) => &s.plan,
            Hist::Latency(l) => &l.plan,
        }
    }

    /// Adds it to `driver`: chunk-parallel for values and intervals, in
    /// file order for latencies.
    pub fn add_to(self, driver: &mut Driver<'_>) {
        match self {
            Hist::Samples(s) => driver.add_parallel(s),
            Hist::Latency(l) => driver.add(l),
        }
    }
}
