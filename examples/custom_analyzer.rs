//! A complete analyzer of your own, with the whole `simpletrace` command
//! line around it.
//!
//! `rate` reports, per pid, how many events it wrote, over how long, and at
//! what rate, and its busiest event. It merges partial results, so it runs
//! chunk-parallel like the built-in printer.
//!
//! ```sh
//! cargo run --example custom_analyzer -- rate testdata/sample.trace-events testdata/sample.trace
//! cargo run --example custom_analyzer -- rate --json testdata/sample.trace-events testdata/sample.trace
//! cargo run --example custom_analyzer -- run --plugin rate --plugin locks TRACE_EVENTS TRACE
//! cargo run --example custom_analyzer -- --help     # every built-in command is still there
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;
use simpletrace::analyzers::{
    Analyzer, AnalyzerEntry, AnalyzerError, ChunkStart, Context, Event, Handlers, ParallelAnalyzer,
    Report, TraceInfo,
};

/// What one pid did.
#[derive(Debug, Clone, Default)]
struct PidStats {
    records: u64,
    first_ns: u64,
    last_ns: u64,
    /// Records per event name.
    by_event: BTreeMap<String, u64>,
}

impl PidStats {
    fn merge(&mut self, other: PidStats) {
        if self.records == 0 {
            *self = other;
            return;
        }
        self.records += other.records;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        for (e, n) in other.by_event {
            *self.by_event.entry(e).or_default() += n;
        }
    }
}

/// The `rate` analyzer.
#[derive(Debug, Default)]
struct Rate {
    pids: BTreeMap<u32, PidStats>,
}

impl Rate {
    fn on_event(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let ts = ev.timestamp_ns();
        let p = self.pids.entry(ev.pid()).or_default();
        if p.records == 0 {
            p.first_ns = ts;
            p.last_ns = ts;
        }
        p.records += 1;
        // Timestamps are not monotonic across threads: keep the extremes.
        p.first_ns = p.first_ns.min(ts);
        p.last_ns = p.last_ns.max(ts);
        *p.by_event.entry(ev.name().to_owned()).or_default() += 1;
        Ok(())
    }
}

impl Analyzer for Rate {
    fn name(&self) -> &str {
        "rate"
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.catchall(Self::on_event);
        h
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{:>8} {:>10} {:>12} {:>14}  busiest event",
            "pid", "records", "span", "events/s"
        );
        let mut rows = Vec::new();
        for (pid, p) in &self.pids {
            let span_ns = p.last_ns - p.first_ns;
            let rate = if span_ns > 0 {
                p.records as f64 * 1e9 / span_ns as f64
            } else {
                0.0
            };
            let busiest = p
                .by_event
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(e, n)| (e.clone(), *n));
            let _ = writeln!(
                text,
                "{pid:>8} {:>10} {:>10.3} s {:>14.0}  {}",
                p.records,
                span_ns as f64 / 1e9,
                rate,
                busiest
                    .as_ref()
                    .map_or("-".to_string(), |(e, n)| format!("{e} ({n})"))
            );
            rows.push(json!({
                "pid": pid,
                "records": p.records,
                "first_ns": p.first_ns,
                "last_ns": p.last_ns,
                "events_per_second": rate,
                "busiest_event": busiest.map(|(e, n)| json!({"event": e, "records": n})),
            }));
        }
        Ok(Report::new(text, json!({ "pids": rows })))
    }
}

impl ParallelAnalyzer for Rate {
    fn fork(&self, _chunk: &ChunkStart) -> Self {
        Rate::default()
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        for (pid, stats) in part.pids {
            self.pids.entry(pid).or_default().merge(stats);
        }
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    simpletrace::cli::main_with(vec![AnalyzerEntry::parallel(
        "rate",
        "events per pid: how many, over how long, how fast, and the busiest event",
        Rate::default,
    )])
}
