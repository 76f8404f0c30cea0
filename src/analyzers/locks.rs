//! `locks`: contention of QEMU's mutexes, from the `qemu_mutex_lock`,
//! `qemu_mutex_locked` and `qemu_mutex_unlock` events (each carries the
//! mutex pointer and the caller's file and line).
//!
//! For every mutex (per pid: processes are separate address spaces) it
//! reports how often it was requested, acquired and released, how long
//! acquiring took (wait: `lock` to `locked`) and how long it was held
//! (`locked` to `unlock`), as min / median / mean / max, and which mutexes
//! were still held or still waited for when the trace ended, with their
//! call sites.
//!
//! Pairing, without thread ids in the trace:
//! - a `locked` is paired with the oldest pending `lock` of the same mutex
//!   from the same call site (a call site locks, then reports it has the
//!   lock). A `locked` with no such `lock` is an acquisition whose wait is
//!   unknown (`qemu_mutex_trylock` and the re-acquisition inside
//!   `qemu_cond_wait` report `locked` alone);
//! - a mutex has one holder at a time: `unlock` ends the current hold,
//!   whatever its call site. An `unlock` with no holder (the lock was taken
//!   before the trace started) is counted apart.
//!
//! Timestamps are not monotonic across threads, so a pair can come out a
//! few nanoseconds negative; such values are kept as they are.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use serde_json::json;

use super::histogram::{Domain, Histogram, Scale, median_of_sorted};
use super::{Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, TraceInfo};

/// The events the analyzer reads.
pub const LOCK_EVENTS: [&str; 3] = ["qemu_mutex_lock", "qemu_mutex_locked", "qemu_mutex_unlock"];

/// How the per-mutex table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Total time spent waiting, most first (the default: contention).
    #[default]
    Wait,
    /// Total time held, most first.
    Hold,
    /// Acquisitions, most first.
    Count,
}

/// A call site, interned: `(file, line)`.
type Site = u32;

#[derive(Debug, Clone, Copy)]
struct Pending {
    ts: u64,
    site: Site,
}

/// Samples per wait or hold histogram kept for exact medians; past it the
/// median is within `histogram::APPROX_RELATIVE_ERROR` and memory stops
/// growing (a trace of any length).
const EXACT_PER_MUTEX: usize = 1 << 16;

#[derive(Debug)]
struct MutexStats {
    requests: u64,
    acquisitions: u64,
    unlocks: u64,
    untimed_acquisitions: u64,
    unlocks_without_holder: u64,
    /// Bounded: exact up to `EXACT_PER_MUTEX` samples each (see
    /// [`Histogram::with_exact_limit`]).
    waits: Histogram,
    holds: Histogram,
    pending: VecDeque<Pending>,
    holder: Option<Pending>,
}

impl Default for MutexStats {
    fn default() -> Self {
        let durations =
            || Histogram::with_exact_limit(Domain::Signed, Scale::Log2, EXACT_PER_MUTEX);
        MutexStats {
            requests: 0,
            acquisitions: 0,
            unlocks: 0,
            untimed_acquisitions: 0,
            unlocks_without_holder: 0,
            waits: durations(),
            holds: durations(),
            pending: VecDeque::new(),
            holder: None,
        }
    }
}

/// Min, median, mean, max of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many.
    pub count: usize,
    /// Smallest, ns.
    pub min: i64,
    /// Median, ns (the mean of the two middle values for an even count).
    pub median: f64,
    /// Mean, ns.
    pub mean: f64,
    /// Largest, ns.
    pub max: i64,
    /// Sum, ns.
    pub total: i128,
}

impl Summary {
    /// Summarises a histogram of durations; `None` when empty. The median
    /// is exact while the histogram is (see [`Histogram::median`]).
    pub fn of_histogram(h: &Histogram) -> Option<Summary> {
        Some(Summary {
            count: usize::try_from(h.count()).unwrap_or(usize::MAX),
            min: i64::try_from(h.min()?).unwrap_or(i64::MIN),
            median: h.median()?,
            mean: h.mean()?,
            max: i64::try_from(h.max()?).unwrap_or(i64::MAX),
            total: h.sum(),
        })
    }

    /// Summarises `values` (sorted in place); `None` when empty.
    pub fn of(values: &mut [i64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let n = values.len();
        let total: i128 = values.iter().map(|&v| i128::from(v)).sum();
        Some(Summary {
            count: n,
            min: values[0],
            median: median_of_sorted(values)?,
            mean: total as f64 / n as f64,
            max: values[n - 1],
            total,
        })
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "count": self.count,
            "min": self.min,
            "median": self.median,
            "mean": self.mean,
            "max": self.max,
            "total": self.total as f64,
        })
    }
}

/// Formats nanoseconds with a unit that keeps 3-4 significant digits.
pub fn human_ns(ns: f64) -> String {
    let a = ns.abs();
    if a < 1_000.0 {
        format!("{ns:.0} ns")
    } else if a < 1_000_000.0 {
        format!("{:.2} us", ns / 1e3)
    } else if a < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The `locks` analyzer.
#[derive(Debug, Default)]
pub struct LocksAnalyzer {
    sort: SortBy,
    top: Option<usize>,
    mutexes: HashMap<(u32, u64), MutexStats>,
    sites: Vec<(Vec<u8>, i64)>,
    site_ids: HashMap<(Vec<u8>, i64), Site>,
    last_ts: u64,
    totals: [u64; 3],
    declared: usize,
}

impl LocksAnalyzer {
    /// An analyzer that orders its table by `sort` and shows the first
    /// `top` mutexes (all when `None`).
    pub fn new(sort: SortBy, top: Option<usize>) -> Self {
        LocksAnalyzer {
            sort,
            top,
            ..Self::default()
        }
    }

    fn site(&mut self, ev: &Event<'_>) -> Site {
        let file = ev.bytes("file").unwrap_or_default();
        let line = ev.i64("line").unwrap_or(0);
        let key = (file.to_vec(), line);
        if let Some(&id) = self.site_ids.get(&key) {
            return id;
        }
        let id = self.sites.len() as Site;
        self.sites.push(key.clone());
        self.site_ids.insert(key, id);
        id
    }

    fn site_text(&self, site: Site) -> String {
        match self.sites.get(site as usize) {
            Some((file, line)) => format!("{}:{line}", String::from_utf8_lossy(file)),
            None => "?".into(),
        }
    }

    fn key(ev: &Event<'_>) -> (u32, u64) {
        (ev.pid(), ev.ptr("mutex").unwrap_or(0))
    }

    fn on_lock(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let site = self.site(ev);
        self.totals[0] += 1;
        let m = self.mutexes.entry(Self::key(ev)).or_default();
        m.requests += 1;
        m.pending.push_back(Pending {
            ts: ev.timestamp_ns(),
            site,
        });
        self.last_ts = self.last_ts.max(ev.timestamp_ns());
        Ok(())
    }

    fn on_locked(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let site = self.site(ev);
        self.totals[1] += 1;
        let ts = ev.timestamp_ns();
        let m = self.mutexes.entry(Self::key(ev)).or_default();
        m.acquisitions += 1;
        match m.pending.iter().position(|p| p.site == site) {
            Some(i) => {
                let request = m.pending.remove(i).unwrap_or(Pending { ts, site });
                m.waits.record_i64(ts.wrapping_sub(request.ts) as i64);
            }
            None => m.untimed_acquisitions += 1,
        }
        m.holder = Some(Pending { ts, site });
        self.last_ts = self.last_ts.max(ts);
        Ok(())
    }

    fn on_unlock(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.totals[2] += 1;
        let ts = ev.timestamp_ns();
        let m = self.mutexes.entry(Self::key(ev)).or_default();
        m.unlocks += 1;
        match m.holder.take() {
            Some(h) => m.holds.record_i64(ts.wrapping_sub(h.ts) as i64),
            None => m.unlocks_without_holder += 1,
        }
        self.last_ts = self.last_ts.max(ts);
        Ok(())
    }
}

impl Analyzer for LocksAnalyzer {
    fn name(&self) -> &str {
        "locks"
    }

    fn interest(&self) -> Interest {
        Interest::parse(&LOCK_EVENTS.join(",")).unwrap_or_default()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on("qemu_mutex_lock", Self::on_lock)
            .on("qemu_mutex_locked", Self::on_locked)
            .on("qemu_mutex_unlock", Self::on_unlock);
        h
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.declared = LOCK_EVENTS
            .iter()
            .filter(|n| info.events.by_name(n.as_bytes()).is_some())
            .count();
        Ok(())
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let mut rows = Vec::new();
        for (&(pid, mutex), m) in self.mutexes.iter_mut() {
            let wait = Summary::of_histogram(&m.waits);
            let hold = Summary::of_histogram(&m.holds);
            rows.push((pid, mutex, wait, hold));
        }
        let total = |s: &Option<Summary>| s.map_or(0, |s| s.total);
        let count = |k: &(u32, u64)| self.mutexes.get(k).map_or(0, |m| m.acquisitions);
        rows.sort_by(|a, b| {
            let key = |r: &(u32, u64, Option<Summary>, Option<Summary>)| match self.sort {
                SortBy::Wait => (total(&r.2), i128::from(count(&(r.0, r.1)))),
                SortBy::Hold => (total(&r.3), i128::from(count(&(r.0, r.1)))),
                SortBy::Count => (i128::from(count(&(r.0, r.1))), total(&r.2)),
            };
            key(b).cmp(&key(a)).then((a.0, a.1).cmp(&(b.0, b.1)))
        });
        let shown = self.top.unwrap_or(rows.len()).min(rows.len());

        let mut text = String::new();
        let [requests, acquisitions, unlocks] = self.totals;
        if self.declared == 0 {
            text.push_str(
                "The trace-events file declares none of qemu_mutex_lock, qemu_mutex_locked, qemu_mutex_unlock.\n",
            );
        }
        let _ = writeln!(
            text,
            "{} mutexes: {requests} lock requests, {acquisitions} acquisitions, {unlocks} unlocks",
            rows.len()
        );
        if !rows.is_empty() {
            let mut table = comfy_table::Table::new();
            table.load_style(comfy_table::presets::NOTHING);
            table.set_header([
                "mutex", "pid", "acquired", "untimed", "wait min", "median", "mean", "max",
                "hold min", "median", "mean", "max",
            ]);
            for (pid, mutex, wait, hold) in rows.iter().take(shown) {
                let m = &self.mutexes[&(*pid, *mutex)];
                let mut row = vec![
                    format!("0x{mutex:x}"),
                    pid.to_string(),
                    m.acquisitions.to_string(),
                    m.untimed_acquisitions.to_string(),
                ];
                for s in [wait, hold] {
                    match s {
                        Some(s) => row.extend([
                            human_ns(s.min as f64),
                            human_ns(s.median),
                            human_ns(s.mean),
                            human_ns(s.max as f64),
                        ]),
                        None => row.extend(["-".to_string(), "-".into(), "-".into(), "-".into()]),
                    }
                }
                table.add_row(row);
            }
            for i in 2..12 {
                if let Some(c) = table.column_mut(i) {
                    c.set_cell_alignment(comfy_table::CellAlignment::Right);
                }
            }
            let _ = writeln!(text, "\n{}", table.trim_fmt());
            if shown < rows.len() {
                let _ = writeln!(text, "({} more mutexes not shown)", rows.len() - shown);
            }
        }

        let mut held = Vec::new();
        let mut waiting = Vec::new();
        let mut json_rows = Vec::new();
        for (pid, mutex, wait, hold) in &rows {
            let m = &self.mutexes[&(*pid, *mutex)];
            let held_at_end = m.holder.map(|h| {
                let since = self.last_ts.wrapping_sub(h.ts) as i64;
                held.push(format!(
                    "  0x{mutex:x} (pid {pid}) taken at {}, held for {} until the end",
                    self.site_text(h.site),
                    human_ns(since as f64)
                ));
                json!({ "site": self.site_text(h.site), "since_ns": h.ts, "held_ns": since })
            });
            let waiting_at_end: Vec<_> = m
                .pending
                .iter()
                .map(|p| {
                    let since = self.last_ts.wrapping_sub(p.ts) as i64;
                    waiting.push(format!(
                        "  0x{mutex:x} (pid {pid}) requested at {}, waiting for {} at the end",
                        self.site_text(p.site),
                        human_ns(since as f64)
                    ));
                    json!({ "site": self.site_text(p.site), "since_ns": p.ts, "waiting_ns": since })
                })
                .collect();
            json_rows.push(json!({
                "mutex": format!("0x{mutex:x}"),
                "pid": pid,
                "lock_requests": m.requests,
                "acquisitions": m.acquisitions,
                "acquisitions_without_wait_record": m.untimed_acquisitions,
                "unlocks": m.unlocks,
                "unlocks_without_holder": m.unlocks_without_holder,
                "wait_ns": wait.map(|s| s.json()),
                "hold_ns": hold.map(|s| s.json()),
                "held_at_end": held_at_end,
                "waiting_at_end": waiting_at_end,
            }));
        }
        if !held.is_empty() {
            let _ = writeln!(
                text,
                "\nStill held when the trace ends:\n{}",
                held.join("\n")
            );
        }
        if !waiting.is_empty() {
            let _ = writeln!(
                text,
                "\nStill waited for when the trace ends:\n{}",
                waiting.join("\n")
            );
        }
        let json = json!({
            "lock_requests": requests,
            "acquisitions": acquisitions,
            "unlocks": unlocks,
            "mutexes": json_rows,
        });
        Ok(Report::new(text, json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let mut v = vec![5, 1, 3, 2];
        let s = Summary::of(&mut v).unwrap();
        assert_eq!((s.count, s.min, s.max, s.total), (4, 1, 5, 11));
        assert_eq!((s.median, s.mean), (2.5, 2.75));
        let s = Summary::of(&mut [7, -1, 3]).unwrap();
        assert_eq!((s.median, s.min), (3.0, -1));
        assert!(Summary::of(&mut []).is_none());
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ns(999.0), "999 ns");
        assert_eq!(human_ns(1_500.0), "1.50 us");
        assert_eq!(human_ns(2_345_678.0), "2.35 ms");
        assert_eq!(human_ns(3.5e9), "3.50 s");
        assert_eq!(human_ns(-1_500.0), "-1.50 us");
    }
}
