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

use serde_json::json;

use super::histogram::{Domain, ExactBudget, Histogram, Scale, Unit, human, median_of_sorted};
use super::human::plural;
use super::listing::{LazyJson, TableStyle};
use super::{Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, TraceInfo};
use crate::report::{Align, Block, Blocks, Cell, Column, Document, Hint, LostEvents, More, Table};

/// The events the analyzer reads (and the dropped-events records, to warn
/// of a loss).
pub const LOCK_EVENTS: [&str; 3] = ["qemu_mutex_lock", "qemu_mutex_locked", "qemu_mutex_unlock"];

/// The name of dropped-events records in patterns and handlers.
const DROPPED: &str = "Dropped_Event";

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
    /// The dropped-events records read before it (saturating): a wait or
    /// hold whose two ends saw different numbers spans a loss.
    losses: u32,
}

/// Samples per wait or hold histogram kept for exact medians; past it the
/// median is within `histogram::APPROX_RELATIVE_ERROR`. All the mutexes'
/// histograms together keep at most an [`ExactBudget`] of samples (by
/// default `histogram::EXACT_BUDGET`): past it, the largest switch too.
const EXACT_PER_MUTEX: usize = 1 << 16;

/// Lock requests not yet acquired, oldest first: the oldest held inline
/// (a mutex seldom has more than one waiter in the trace at a time), the
/// others in a queue that allocates only when needed.
#[derive(Clone, Debug, Default)]
struct Waiting {
    /// The oldest; `None` only when `rest` is empty too.
    first: Option<Pending>,
    rest: VecDeque<Pending>,
}

impl Waiting {
    fn push(&mut self, p: Pending) {
        if self.first.is_none() {
            self.first = Some(p);
        } else {
            self.rest.push_back(p);
        }
    }

    /// Takes the oldest request from `site`.
    fn take_from(&mut self, site: Site) -> Option<Pending> {
        match self.first {
            Some(f) if f.site == site => {
                self.first = self.rest.pop_front();
                Some(f)
            }
            _ => {
                let i = self.rest.iter().position(|p| p.site == site)?;
                self.rest.remove(i)
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.first.iter().chain(&self.rest)
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

/// What is kept per mutex: 336 bytes, plus 8 bytes per wait and hold
/// kept exactly (up to `EXACT_PER_MUTEX` each, within the budget), plus
/// its waiters beyond the first.
#[derive(Debug, Clone)]
struct MutexStats {
    pid: u32,
    mutex: u64,
    requests: u64,
    acquisitions: u64,
    unlocks: u64,
    untimed_acquisitions: u64,
    unlocks_without_holder: u64,
    /// Bounded: exact up to `EXACT_PER_MUTEX` samples each (see
    /// [`Histogram::with_exact_limit`]).
    waits: Histogram,
    holds: Histogram,
    pending: Waiting,
    holder: Option<Pending>,
}

impl MutexStats {
    fn new((pid, mutex): (u32, u64)) -> Self {
        let durations =
            || Histogram::with_exact_limit(Domain::Signed, Scale::Log2, EXACT_PER_MUTEX);
        MutexStats {
            pid,
            mutex,
            requests: 0,
            acquisitions: 0,
            unlocks: 0,
            untimed_acquisitions: 0,
            unlocks_without_holder: 0,
            waits: durations(),
            holds: durations(),
            pending: Waiting::default(),
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
            median: median_of_sorted(values, |v| i128::from(v) as f64)?,
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

/// Whole nanoseconds for people: `1.5us`.
fn human_whole_ns(ns: i64) -> String {
    human(i128::from(ns), Unit::Nanoseconds)
}

/// The `locks` analyzer.
#[derive(Debug, Default, Clone)]
pub struct LocksAnalyzer {
    sort: SortBy,
    top: Option<usize>,
    /// Where each mutex's figures are in `stats`.
    index: HashMap<(u32, u64), usize>,
    stats: Vec<MutexStats>,
    /// Call sites: file (interned) and line.
    sites: Vec<(u32, i64)>,
    site_ids: HashMap<(u32, i64), Site>,
    files: HashMap<Box<[u8]>, u32>,
    last_ts: u64,
    totals: [u64; 3],
    declared: usize,
    /// The exact samples all the waits and holds keep together.
    budget: ExactBudget,
    /// Dropped-events records read, and the events they say were lost.
    dropped_records: u64,
    events_lost: u64,
    /// Waits and holds timed across a dropped-events record.
    across_loss: [u64; 2],
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

    /// The same, keeping at most `samples` waits and holds exactly in all
    /// (instead of `histogram::EXACT_BUDGET`; see [`ExactBudget`]): past
    /// it, the medians of the mutexes with the most are approximate.
    pub fn with_exact_budget(mut self, samples: usize) -> Self {
        self.budget = ExactBudget::new(samples);
        self
    }

    fn site(&mut self, ev: &Event<'_>) -> Site {
        let file = ev.bytes("file").unwrap_or_default();
        let line = ev.i64("line").unwrap_or(0);
        let file = match self.files.get(file) {
            Some(&id) => id,
            None => {
                let id = self.files.len() as u32;
                self.files.insert(file.into(), id);
                id
            }
        };
        let next = self.sites.len() as Site;
        let id = *self.site_ids.entry((file, line)).or_insert(next);
        if id == next {
            self.sites.push((file, line));
        }
        id
    }

    /// The figures of the mutex `ev` names (created on its first event).
    fn mutex(&mut self, ev: &Event<'_>) -> &mut MutexStats {
        let i = self.position(ev);
        // In range: every index was given for a pushed entry.
        &mut self.stats[i]
    }

    /// Where the figures of the mutex `ev` names are in `stats` (created
    /// on its first event).
    fn position(&mut self, ev: &Event<'_>) -> usize {
        let key = (ev.pid(), ev.ptr("mutex").unwrap_or(0));
        let next = self.stats.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.stats.push(MutexStats::new(key));
        }
        i
    }

    /// Records a wait (or a hold) of mutex `i`, within the budget of exact
    /// samples.
    fn record(&mut self, i: usize, hold: bool, ns: i64) {
        let histograms = 2 * self.stats.len();
        let Some(m) = self.stats.get_mut(i) else {
            return;
        };
        let h = if hold { &mut m.holds } else { &mut m.waits };
        h.record_i64(ns);
        if self.budget.recorded(h, histograms) {
            self.enforce_budget();
        }
    }

    /// Switches the waits and holds that hold more than their share of a
    /// spent budget.
    fn enforce_budget(&mut self) {
        let histograms = 2 * self.stats.len();
        let all = self
            .stats
            .iter_mut()
            .flat_map(|m| [&mut m.waits, &mut m.holds]);
        self.budget.enforce(all, histograms);
    }

    fn on_lock(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let site = self.site(ev);
        self.totals[0] += 1;
        let ts = ev.timestamp_ns();
        let losses = self.losses();
        let m = self.mutex(ev);
        m.requests += 1;
        m.pending.push(Pending { ts, site, losses });
        self.last_ts = self.last_ts.max(ts);
        Ok(())
    }

    fn on_locked(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let site = self.site(ev);
        self.totals[1] += 1;
        let ts = ev.timestamp_ns();
        let losses = self.losses();
        let i = self.position(ev);
        let Some(m) = self.stats.get_mut(i) else {
            return Ok(());
        };
        m.acquisitions += 1;
        let waited = m.pending.take_from(site);
        if waited.is_none() {
            m.untimed_acquisitions += 1;
        }
        m.holder = Some(Pending { ts, site, losses });
        if let Some(request) = waited {
            if request.losses != losses {
                self.across_loss[0] += 1;
            }
            self.record(i, false, ts.wrapping_sub(request.ts) as i64);
        }
        self.last_ts = self.last_ts.max(ts);
        Ok(())
    }

    /// The dropped-events records read so far, as [`Pending`] keeps them.
    fn losses(&self) -> u32 {
        u32::try_from(self.dropped_records).unwrap_or(u32::MAX)
    }

    fn on_dropped(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.dropped_records += 1;
        // The one argument: how many events the full buffer lost.
        self.events_lost = self.events_lost.saturating_add(ev.word(0));
        Ok(())
    }

    fn on_unlock(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.totals[2] += 1;
        let ts = ev.timestamp_ns();
        let i = self.position(ev);
        let Some(m) = self.stats.get_mut(i) else {
            return Ok(());
        };
        m.unlocks += 1;
        let losses = u32::try_from(self.dropped_records).unwrap_or(u32::MAX);
        match m.holder.take() {
            Some(h) => {
                if h.losses != losses {
                    self.across_loss[1] += 1;
                }
                self.record(i, true, ts.wrapping_sub(h.ts) as i64)
            }
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
        Interest::parse(&format!("{},{DROPPED}", LOCK_EVENTS.join(","))).unwrap_or_default()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on("qemu_mutex_lock", Self::on_lock)
            .on("qemu_mutex_locked", Self::on_locked)
            .on("qemu_mutex_unlock", Self::on_unlock)
            .on(DROPPED, Self::on_dropped);
        h
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.declared = LOCK_EVENTS
            .iter()
            .filter(|n| info.events.by_name(n.as_bytes()).is_some())
            .count();
        Ok(())
    }

    /// A copy of it, ended (for a live report, `--follow`).
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        Some(self.clone().end(info))
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        // The index goes; the figures stay, in the table's order.
        self.index = HashMap::new();
        self.site_ids = HashMap::new();
        self.enforce_budget();
        let mut rows = std::mem::take(&mut self.stats);
        for m in &mut rows {
            m.waits.sort_samples();
            m.holds.sort_samples();
        }
        let key = |m: &MutexStats| -> (i128, i128) {
            let count = i128::from(m.acquisitions);
            match self.sort {
                SortBy::Wait => (m.waits.sum(), count),
                SortBy::Hold => (m.holds.sum(), count),
                SortBy::Count => (count, m.waits.sum()),
            }
        };
        // (pid, mutex) is unique: an unstable sort is stable here, and
        // sorts in place.
        rows.sort_unstable_by(|a, b| {
            key(b)
                .cmp(&key(a))
                .then((a.pid, a.mutex).cmp(&(b.pid, b.mutex)))
        });
        let mut files: Vec<Box<[u8]>> = vec![Box::from(&b""[..]); self.files.len()];
        for (name, id) in std::mem::take(&mut self.files) {
            if let Some(slot) = files.get_mut(id as usize) {
                *slot = name;
            }
        }
        Ok(Report::document(LocksReport {
            dropped_records: self.dropped_records,
            events_lost: self.events_lost,
            across_loss: self.across_loss,
            top: self.top,
            rows,
            sites: std::mem::take(&mut self.sites),
            files,
            last_ts: self.last_ts,
            totals: self.totals,
            declared: self.declared,
        }))
    }
}

/// A `locks` report, a [`Document`] whose rows are made as it goes out: a
/// row per mutex, however many.
#[derive(Debug)]
struct LocksReport {
    top: Option<usize>,
    /// Every mutex, in the table's order.
    rows: Vec<MutexStats>,
    sites: Vec<(u32, i64)>,
    files: Vec<Box<[u8]>>,
    last_ts: u64,
    totals: [u64; 3],
    declared: usize,
    dropped_records: u64,
    events_lost: u64,
    /// Waits and holds timed across a dropped-events record.
    across_loss: [u64; 2],
}

impl LocksReport {
    fn site_text(&self, site: Site) -> String {
        match self.sites.get(site as usize) {
            Some(&(file, line)) => {
                let file = self.files.get(file as usize).map_or(&[][..], |f| &f[..]);
                format!("{}:{line}", String::from_utf8_lossy(file))
            }
            None => "?".into(),
        }
    }

    fn shown(&self) -> usize {
        self.top.unwrap_or(self.rows.len()).min(self.rows.len())
    }

    /// The table's cells for a mutex.
    fn cells<'c>(m: &MutexStats) -> Vec<Cell<'c>> {
        let mut row = vec![
            Cell::Hex(m.mutex),
            Cell::Int(m.pid.into()),
            Cell::Int(m.acquisitions.into()),
            Cell::Int(m.untimed_acquisitions.into()),
        ];
        for h in [&m.waits, &m.holds] {
            match Summary::of_histogram(h) {
                Some(s) => row.extend([
                    Cell::Duration(s.min.into()),
                    Cell::DurationF64(s.median),
                    Cell::DurationF64(s.mean),
                    Cell::Duration(s.max.into()),
                ]),
                None => row.extend([Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing]),
            }
        }
        row
    }

    fn row_json(&self, m: &MutexStats) -> serde_json::Value {
        let held_at_end = m.holder.map(|h| {
            let since = self.last_ts.wrapping_sub(h.ts) as i64;
            json!({ "site": self.site_text(h.site), "since_ns": h.ts, "held_ns": since })
        });
        let waiting_at_end: Vec<_> = m
            .pending
            .iter()
            .map(|p| {
                let since = self.last_ts.wrapping_sub(p.ts) as i64;
                json!({ "site": self.site_text(p.site), "since_ns": p.ts, "waiting_ns": since })
            })
            .collect();
        json!({
            "mutex": format!("0x{:x}", m.mutex),
            "pid": m.pid,
            "lock_requests": m.requests,
            "acquisitions": m.acquisitions,
            "acquisitions_without_wait_record": m.untimed_acquisitions,
            "unlocks": m.unlocks,
            "unlocks_without_holder": m.unlocks_without_holder,
            "wait_ns": Summary::of_histogram(&m.waits).map(|s| s.json()),
            "hold_ns": Summary::of_histogram(&m.holds).map(|s| s.json()),
            "held_at_end": held_at_end,
            "waiting_at_end": waiting_at_end,
        })
    }
}

impl Document for LocksReport {
    fn blocks(&self) -> Blocks<'_> {
        let [requests, acquisitions, unlocks] = self.totals;
        let mut head = Vec::with_capacity(6);
        if self.declared == 0 {
            head.push(Block::Text(
                "The trace-events file declares none of qemu_mutex_lock, qemu_mutex_locked, qemu_mutex_unlock.".into(),
            ));
        }
        head.push(Block::Text(
            format!(
                "{}: {}, {}, {}",
                plural(self.rows.len() as u64, "mutex", "mutexes"),
                plural(requests, "lock request", "lock requests"),
                plural(acquisitions, "acquisition", "acquisitions"),
                plural(unlocks, "unlock", "unlocks"),
            )
            .into(),
        ));
        if self.dropped_records > 0 {
            head.push(Block::Lost(LostEvents {
                records: self.dropped_records,
                events: self.events_lost,
                // What a loss means here: a wait or hold timed across it
                // may pair a request, acquisition or unlock with the wrong
                // partner, and a lost record leaves requests waiting or
                // mutexes held that were not.
                consequence: Some(format!(
                    "{} and {} span a loss and may pair the wrong events; lost records can also leave requests waiting and mutexes held at the end",
                    plural(self.across_loss[0], "wait", "waits"),
                    plural(self.across_loss[1], "hold", "holds"),
                )),
            }));
        }
        let shown = self.shown();
        if !self.rows.is_empty() {
            let columns = [
                "mutex", "pid", "acquired", "untimed", "wait min", "median", "mean", "max",
                "hold min", "median", "mean", "max",
            ]
            .into_iter()
            .enumerate()
            .map(|(i, h)| Column::new(h, if i < 2 { Align::Left } else { Align::Right }))
            .collect();
            let table = Table::new(TableStyle::Plain, columns, move || {
                Box::new(self.rows.iter().take(shown).map(Self::cells))
            });
            head.extend([Block::Blank, Block::Table(table)]);
            if shown < self.rows.len() {
                head.push(Block::More(More {
                    count: (self.rows.len() - shown) as u64,
                    noun: ("mutex", "mutexes"),
                    hint: Hint::None,
                    holding: None,
                }));
            }
        }
        // A line per mutex still held, and per request still waiting: made
        // as they are written.
        let held = self.rows.iter().filter_map(move |m| {
            let h = m.holder?;
            let since = self.last_ts.wrapping_sub(h.ts) as i64;
            Some(Block::Text(
                format!(
                    "  0x{:x} (pid {}) taken at {}, held for {} until the end",
                    m.mutex,
                    m.pid,
                    self.site_text(h.site),
                    human_whole_ns(since)
                )
                .into(),
            ))
        });
        let waiting = self.rows.iter().flat_map(move |m| {
            m.pending.iter().map(move |p| {
                let since = self.last_ts.wrapping_sub(p.ts) as i64;
                Block::Text(
                    format!(
                        "  0x{:x} (pid {}) requested at {}, waiting for {} at the end",
                        m.mutex,
                        m.pid,
                        self.site_text(p.site),
                        human_whole_ns(since)
                    )
                    .into(),
                )
            })
        });
        let part = |any: bool, title: &'static str| {
            any.then(|| [Block::Blank, Block::Title(title.into())])
                .into_iter()
                .flatten()
        };
        let held_count = self.rows.iter().filter(|m| m.holder.is_some()).count() as u64;
        let waiting_count: u64 = self.rows.iter().map(|m| m.pending.len() as u64).sum();
        // `--top N` keeps each list to N lines, as it does the table, and
        // says how many more there are the same way.
        let limit = self.top.map_or(u64::MAX, |n| n as u64);
        let more = |total: u64, noun: (&'static str, &'static str)| {
            (total > limit).then(|| {
                Block::More(More {
                    count: total - limit,
                    noun,
                    hint: Hint::None,
                    holding: None,
                })
            })
        };
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        Box::new(
            head.into_iter()
                .chain(part(held_count > 0, "Still held when the trace ends:"))
                .chain(held.take(take))
                .chain(more(held_count, ("mutex", "mutexes")))
                .chain(part(
                    waiting_count > 0,
                    "Still waited for when the trace ends:",
                ))
                .chain(waiting.take(take))
                .chain(more(waiting_count, ("request", "requests"))),
        )
    }

    fn json(&self) -> LazyJson<'_> {
        let [requests, acquisitions, unlocks] = self.totals;
        let rows = self.rows.iter().map(|m| LazyJson::Value(self.row_json(m)));
        LazyJson::Object(vec![
            ("lock_requests".into(), LazyJson::Value(json!(requests))),
            ("acquisitions".into(), LazyJson::Value(json!(acquisitions))),
            ("unlocks".into(), LazyJson::Value(json!(unlocks))),
            (
                "dropped_records".into(),
                LazyJson::Value(json!(self.dropped_records)),
            ),
            (
                "events_lost".into(),
                LazyJson::Value(json!(self.events_lost)),
            ),
            (
                "waits_across_loss".into(),
                LazyJson::Value(json!(self.across_loss[0])),
            ),
            (
                "holds_across_loss".into(),
                LazyJson::Value(json!(self.across_loss[1])),
            ),
            ("mutexes".into(), LazyJson::Array(Box::new(rows))),
        ])
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
        // The one format of every report (was "1.50 us" here alone): the
        // render layer's, for the table's cells.
        let dur = |ns: f64| crate::report::render::cell_text(&Cell::DurationF64(ns)).into_owned();
        assert_eq!(dur(999.0), "999ns");
        assert_eq!(dur(1_500.0), "1.5us");
        assert_eq!(dur(2_345_678.0), "2.35ms");
        assert_eq!(dur(3.5e9), "3.5s");
        assert_eq!(human_whole_ns(-1_500), "-1.5us");
        assert_eq!(human_whole_ns(i64::MAX), "9223372037s");
    }
}
