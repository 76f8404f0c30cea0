//! `stats`: what happened how often. Per event: count, share of the
//! records, rate, first and last timestamp, and which pids wrote it; per
//! pid the same; totals: records, mapping records, dropped-events records
//! and the events they lost, the time span, and how often a record's
//! timestamp steps back from the one before it (records reach the trace
//! buffer in file order, but their timestamps are taken on several
//! threads beforehand).
//!
//! ```text
//! 1008 records of 31 events, 34 mapping records, no events lost
//! 2.104318 s, from 474.846976 s to 476.951294 s of the trace clock
//! timestamps step back 15 times, at most 3.52us (record 617 at byte 35520, thread_pool_complete_aio)
//!
//!  event                      count  share  rate/s     first s     last s  pids
//!  qemu_aio_coroutine_enter     262  26.0%   124.5  0.000012  2.104300     1
//! ```
//!
//! `first s` and `last s` are seconds after the earliest record (the
//! earliest and latest timestamp of the event, not its first and last
//! record in the file); the rate is the count over the whole span of the
//! trace. Only the records the filters keep are counted; the mapping
//! records and the records read in all are those of the whole pass.
//!
//! The analyzer runs chunk-parallel and decodes nothing but the
//! dropped-events records' counts.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::histogram::Unit;
use super::human::human;
use super::listing::{LazyJson, TableStyle};
use super::{
    Analyzer, AnalyzerError, ChunkStart, Context, Event, Handlers, ParallelAnalyzer, Report,
    TraceInfo,
};
use crate::format::{EventDecl, FileOffset, RecordIndex, TraceEvents};
use crate::report::{Align, Block, Blocks, Cell, Column, Document, Hint, LostEvents, More, Table};

/// How the event table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsSort {
    /// Most records first (the default).
    #[default]
    Count,
    /// By event name.
    Name,
    /// By earliest timestamp.
    First,
    /// By latest timestamp.
    Last,
    /// In declaration order (the order of trace-events-all).
    Declared,
}

/// Count and time span of a set of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    count: u64,
    first_ns: u64,
    last_ns: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            count: 0,
            first_ns: u64::MAX,
            last_ns: 0,
        }
    }
}

impl Tally {
    #[inline(always)]
    fn add(&mut self, ts: u64) {
        self.count += 1;
        self.first_ns = self.first_ns.min(ts);
        self.last_ns = self.last_ns.max(ts);
    }

    fn merge(&mut self, other: &Tally) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
    }
}

/// The records of one pid, by event slot (declaration position; the last
/// slot is the dropped-events records).
#[derive(Debug, Clone)]
struct PidTallies {
    pid: u32,
    by_slot: Vec<Tally>,
}

/// Pids tallied in vectors by slot (fast); any beyond go to a map (a
/// trace is normally written by one process: this bounds the memory of
/// odd ones).
const DENSE_PIDS: usize = 64;

/// The largest step back of the timestamps, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StepBack {
    ns: u64,
    record: RecordIndex,
    offset: FileOffset,
    slot: usize,
}

/// The `stats` analyzer.
#[derive(Debug, Clone, Default)]
pub struct StatsAnalyzer {
    sort: StatsSort,
    top: Option<usize>,
    by_pid: bool,
    /// The first `DENSE_PIDS` pids seen.
    pids: Vec<PidTallies>,
    /// The index in `pids` of the last record's pid.
    last: usize,
    /// Records of further pids, by (pid, slot).
    sparse: HashMap<(u32, u32), Tally>,
    prev_ns: Option<u64>,
    steps_back: u64,
    largest_step: Option<StepBack>,
    events_lost: u64,
    slots: usize,
}

impl StatsAnalyzer {
    /// A `stats` analyzer: the event table ordered by `sort`, its first
    /// `top` rows (all when `None`), one row per event and pid when
    /// `by_pid`.
    pub fn new(sort: StatsSort, top: Option<usize>, by_pid: bool) -> Self {
        StatsAnalyzer {
            sort,
            top,
            by_pid,
            ..Self::default()
        }
    }

    #[inline(always)]
    fn on_record(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let decl = ev.decl();
        let slot = if decl.is_dropped_pseudo() {
            // The one argument: how many events the full buffer lost.
            self.events_lost = self.events_lost.saturating_add(ev.word(0));
            self.slots
        } else {
            decl.position
        };
        let ts = ev.timestamp_ns();
        if let Some(prev) = self.prev_ns
            && ts < prev
        {
            self.steps_back += 1;
            if self.largest_step.is_none_or(|s| prev - ts > s.ns) {
                let at = ev.record().at;
                self.largest_step = Some(StepBack {
                    ns: prev - ts,
                    record: at.record,
                    offset: at.offset,
                    slot,
                });
            }
        }
        self.prev_ns = Some(ts);
        let pid = ev.pid();
        if let Some(p) = self.pids.get_mut(self.last)
            && p.pid == pid
            && let Some(t) = p.by_slot.get_mut(slot)
        {
            t.add(ts);
        } else {
            self.tally_slow(pid, slot, ts);
        }
        Ok(())
    }

    /// The tallies of `pid` (created if there is room).
    fn pid_tallies(&mut self, pid: u32) -> Option<&mut PidTallies> {
        match self.pids.iter().position(|p| p.pid == pid) {
            Some(i) => {
                self.last = i;
            }
            None if self.pids.len() < DENSE_PIDS => {
                self.pids.push(PidTallies {
                    pid,
                    by_slot: vec![Tally::default(); self.slots + 1],
                });
                self.last = self.pids.len() - 1;
            }
            None => return None,
        }
        self.pids.get_mut(self.last)
    }

    #[cold]
    fn tally_slow(&mut self, pid: u32, slot: usize, ts: u64) {
        match self.pid_tallies(pid).and_then(|p| p.by_slot.get_mut(slot)) {
            Some(t) => t.add(ts),
            None => self.sparse.entry((pid, slot as u32)).or_default().add(ts),
        }
    }

    /// Every (pid, slot) tally, each once, sorted by pid then slot.
    fn entries(&mut self) -> Vec<Entry> {
        let sparse = std::mem::take(&mut self.sparse);
        let dense: usize = self
            .pids
            .iter()
            .map(|p| p.by_slot.iter().filter(|t| t.count > 0).count())
            .sum();
        let mut entries = Vec::with_capacity(dense + sparse.len());
        for p in std::mem::take(&mut self.pids) {
            for (slot, t) in p.by_slot.iter().enumerate() {
                if t.count > 0 {
                    entries.push(Entry {
                        pid: p.pid,
                        slot: slot as u32,
                        tally: *t,
                    });
                }
            }
        }
        entries.extend(
            sparse
                .into_iter()
                .map(|((pid, slot), tally)| Entry { pid, slot, tally }),
        );
        entries.sort_unstable_by_key(|e| (e.pid, e.slot));
        // A pid can be both in a vector and in the map after a merge.
        entries.dedup_by(|later, kept| {
            let same = (later.pid, later.slot) == (kept.pid, kept.slot);
            if same {
                kept.tally.merge(&later.tally);
            }
            same
        });
        entries
    }

    fn name<'e>(&self, events: &'e TraceEvents, slot: usize) -> &'e str {
        if slot == self.slots {
            &events.dropped().name
        } else {
            events
                .get(slot)
                .map_or("?", |d: &EventDecl| d.name.as_str())
        }
    }
}

/// The records of one pid and one event slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: u32,
    slot: u32,
    tally: Tally,
}

/// One event's row (the table without `--by-pid`): its pids are
/// `entries[start..end]`, most records first.
#[derive(Debug, Clone, Copy)]
struct SlotRow {
    slot: u32,
    tally: Tally,
    start: usize,
    end: usize,
}

/// One pid's row of the pid table.
#[derive(Debug, Clone, Copy)]
struct PidRow {
    pid: u32,
    /// Events it wrote.
    events: usize,
    tally: Tally,
}

use super::human::{plural, seconds};

fn rate(count: u64, span_ns: u64) -> Option<f64> {
    (span_ns > 0).then(|| count as f64 * 1e9 / span_ns as f64)
}

impl Analyzer for StatsAnalyzer {
    fn name(&self) -> &str {
        "stats"
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.catchall(Self::on_record);
        h
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.slots = info.events.len();
        Ok(())
    }

    #[inline(always)]
    fn dispatch(
        &mut self,
        _: super::Handler<Self>,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        self.on_record(ev, ctx)
    }

    /// A copy of it, ended (for a live report, `--follow`).
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        Some(self.clone().end(info))
    }

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let events = info.events;
        let mut entries = self.entries();
        let mut total = Tally::default();
        let mut pids: Vec<PidRow> = Vec::new();
        let mut slot_rows: Vec<SlotRow> = Vec::new();
        for e in &entries {
            total.merge(&e.tally);
            match pids.last_mut() {
                Some(p) if p.pid == e.pid => {
                    p.events += 1;
                    p.tally.merge(&e.tally);
                }
                _ => pids.push(PidRow {
                    pid: e.pid,
                    events: 1,
                    tally: e.tally,
                }),
            }
        }
        pids.sort_unstable_by(|a, b| b.tally.count.cmp(&a.tally.count).then(a.pid.cmp(&b.pid)));
        // Each event's pids together, most records first.
        entries.sort_unstable_by(|a, b| {
            a.slot
                .cmp(&b.slot)
                .then(b.tally.count.cmp(&a.tally.count))
                .then(a.pid.cmp(&b.pid))
        });
        for (i, e) in entries.iter().enumerate() {
            match slot_rows.last_mut() {
                Some(r) if r.slot == e.slot => {
                    r.tally.merge(&e.tally);
                    r.end = i + 1;
                }
                _ => slot_rows.push(SlotRow {
                    slot: e.slot,
                    tally: e.tally,
                    start: i,
                    end: i + 1,
                }),
            }
        }
        let names: Vec<Box<str>> = match slot_rows.last() {
            Some(r) => (0..=r.slot as usize)
                .map(|slot| self.name(events, slot).into())
                .collect(),
            None => Vec::new(),
        };
        let records = total.count;
        let dropped_records = slot_rows
            .iter()
            .find(|r| r.slot as usize == self.slots)
            .map_or(0, |r| r.tally.count);
        let mut report = StatsReport {
            sort: self.sort,
            top: self.top,
            by_pid: self.by_pid,
            names,
            entries,
            slot_rows,
            pids,
            span: if records > 0 {
                total.last_ns - total.first_ns
            } else {
                0
            },
            total,
            dropped_records,
            events_lost: self.events_lost,
            mappings: info.records_read.saturating_sub(info.event_records),
            event_records: info.event_records,
            records_read: info.records_read,
            steps_back: self.steps_back,
            largest_step: self
                .largest_step
                .map(|s| (s, self.name(events, s.slot).to_owned())),
        };
        report.order_rows();
        Ok(Report::document(report))
    }
}

/// A `stats` report, a [`Document`] whose rows are made as it goes out:
/// the pid table and the pids of each event can run to millions of rows.
#[derive(Debug)]
struct StatsReport {
    sort: StatsSort,
    top: Option<usize>,
    by_pid: bool,
    /// Event names by slot (the slots that have records).
    names: Vec<Box<str>>,
    /// With `--by-pid`, the rows in the table's order; otherwise by slot,
    /// most records first.
    entries: Vec<Entry>,
    /// Without `--by-pid`, the rows in the table's order.
    slot_rows: Vec<SlotRow>,
    /// The pid table, most records first.
    pids: Vec<PidRow>,
    total: Tally,
    span: u64,
    dropped_records: u64,
    events_lost: u64,
    mappings: u64,
    event_records: u64,
    records_read: u64,
    steps_back: u64,
    largest_step: Option<(StepBack, String)>,
}

/// A row of the event table, whichever kind.
struct Row<'r> {
    name: &'r str,
    pid: Option<u32>,
    tally: Tally,
    /// Its pids and their counts.
    pids: &'r [Entry],
}

impl StatsReport {
    fn name(&self, slot: u32) -> &str {
        self.names.get(slot as usize).map_or("?", |n| n)
    }

    /// Sorts the rows into the table's order: by the sort key, then name,
    /// then pid (and slot, for two events of one name).
    fn order_rows(&mut self) {
        let sort = self.sort;
        let names = &self.names;
        let name = |slot: u32| names.get(slot as usize).map_or("?", |n| &**n);
        let cmp = |a: (u32, &Tally, u32), b: (u32, &Tally, u32)| {
            let key = match sort {
                StatsSort::Count => b.1.count.cmp(&a.1.count),
                StatsSort::Name => name(a.0).cmp(name(b.0)),
                StatsSort::First => a.1.first_ns.cmp(&b.1.first_ns),
                StatsSort::Last => b.1.last_ns.cmp(&a.1.last_ns),
                StatsSort::Declared => a.0.cmp(&b.0),
            };
            key.then(name(a.0).cmp(name(b.0)))
                .then(a.2.cmp(&b.2))
                .then(a.0.cmp(&b.0))
        };
        if self.by_pid {
            self.entries
                .sort_unstable_by(|a, b| cmp((a.slot, &a.tally, a.pid), (b.slot, &b.tally, b.pid)));
        } else {
            self.slot_rows
                .sort_unstable_by(|a, b| cmp((a.slot, &a.tally, 0), (b.slot, &b.tally, 0)));
        }
    }

    fn rows_total(&self) -> usize {
        if self.by_pid {
            self.entries.len()
        } else {
            self.slot_rows.len()
        }
    }

    fn shown(&self) -> usize {
        self.top.unwrap_or(usize::MAX).min(self.rows_total())
    }

    /// The rows of the event table shown, in order.
    fn rows(&self) -> Box<dyn Iterator<Item = Row<'_>> + '_> {
        let shown = self.shown();
        if self.by_pid {
            Box::new(self.entries.iter().take(shown).map(|e| Row {
                name: self.name(e.slot),
                pid: Some(e.pid),
                tally: e.tally,
                pids: std::slice::from_ref(e),
            }))
        } else {
            Box::new(self.slot_rows.iter().take(shown).map(|r| Row {
                name: self.name(r.slot),
                pid: None,
                tally: r.tally,
                pids: self.entries.get(r.start..r.end).unwrap_or_default(),
            }))
        }
    }

    fn share(&self, count: u64) -> f64 {
        if self.total.count > 0 {
            count as f64 / self.total.count as f64
        } else {
            0.0
        }
    }

    fn origin(&self) -> u64 {
        if self.total.count > 0 {
            self.total.first_ns
        } else {
            0
        }
    }
}

impl Document for StatsReport {
    fn blocks(&self) -> Blocks<'_> {
        let records = self.total.count;
        let origin = self.origin();
        let mut blocks = Vec::with_capacity(12);
        let head = format!(
            "{} of {}, {}",
            plural(records, "record", "records"),
            plural(self.slot_rows.len() as u64, "event", "events"),
            plural(self.mappings, "mapping record", "mapping records"),
        );
        if self.dropped_records == 0 {
            blocks.push(Block::Text(format!("{head}, no events lost").into()));
        } else {
            blocks.push(Block::Text(head.into()));
            blocks.push(Block::Lost(LostEvents {
                records: self.dropped_records,
                events: self.events_lost,
                consequence: Some("every other figure undercounts".into()),
            }));
        }
        if self.event_records > records {
            blocks.push(Block::Text(
                format!(
                    "(the filters kept {records} of {})",
                    plural(self.event_records, "event record", "event records")
                )
                .into(),
            ));
        }
        if records > 0 {
            blocks.push(Block::Text(
                format!(
                    "{} s, from {} s to {} s of the trace clock",
                    seconds(self.span),
                    seconds(self.total.first_ns),
                    seconds(self.total.last_ns)
                )
                .into(),
            ));
        }
        blocks.push(Block::Text(match &self.largest_step {
            None => "timestamps never step back".into(),
            Some((s, name)) => format!(
                "timestamps step back {}, at most {} ({} at byte {}, {name})",
                plural(self.steps_back, "time", "times"),
                human(i128::from(s.ns), Unit::Nanoseconds),
                s.record,
                s.offset.0,
            )
            .into(),
        }));
        let shown = self.shown();
        if shown > 0 {
            let right = |h: &'static str| Column::new(h, Align::Right);
            let mut columns = vec![Column::new("event", Align::Left)];
            if self.by_pid {
                columns.push(right("pid"));
            }
            columns.extend(["count", "share", "rate/s", "first s", "last s"].map(right));
            if !self.by_pid {
                columns.push(right("pids"));
            }
            let table = Table::new(TableStyle::Plain, columns, move || {
                Box::new(self.rows().map(move |r| {
                    let mut cells = vec![Cell::text(r.name)];
                    if let Some(pid) = r.pid {
                        cells.push(Cell::Int(pid.into()));
                    }
                    cells.extend([
                        Cell::Int(r.tally.count.into()),
                        Cell::Percent {
                            part: r.tally.count,
                            whole: records,
                        },
                        Cell::Decimal1(rate(r.tally.count, self.span)),
                        Cell::Seconds(r.tally.first_ns.saturating_sub(origin)),
                        Cell::Seconds(r.tally.last_ns.saturating_sub(origin)),
                    ]);
                    if r.pid.is_none() {
                        cells.push(Cell::Int(r.pids.len() as i128));
                    }
                    cells
                }))
            });
            blocks.extend([Block::Blank, Block::Table(table)]);
            if shown < self.rows_total() {
                blocks.push(Block::More(More {
                    count: (self.rows_total() - shown) as u64,
                    noun: ("row", "rows"),
                    hint: Hint::Instead("--top shows more"),
                    holding: None,
                }));
            }
        }
        if self.pids.len() > 1 {
            let columns = ["pid", "count", "share", "events", "first s", "last s"]
                .map(|h| Column::new(h, Align::Right))
                .to_vec();
            let table = Table::new(TableStyle::Plain, columns, move || {
                Box::new(self.pids.iter().map(move |p| {
                    vec![
                        Cell::Int(p.pid.into()),
                        Cell::Int(p.tally.count.into()),
                        Cell::Percent {
                            part: p.tally.count,
                            whole: records,
                        },
                        Cell::Int(p.events as i128),
                        Cell::Seconds(p.tally.first_ns.saturating_sub(origin)),
                        Cell::Seconds(p.tally.last_ns.saturating_sub(origin)),
                    ]
                }))
            });
            blocks.extend([Block::Blank, Block::Table(table)]);
        }
        Box::new(blocks.into_iter())
    }

    fn json(&self) -> LazyJson<'_> {
        let records = self.total.count;
        let span = self.span;
        let head = json!({
            "records": records,
            "event_records_read": self.event_records,
            "mapping_records": self.mappings,
            "records_read": self.records_read,
            "dropped_records": self.dropped_records,
            "events_lost": self.events_lost,
            "first_ns": (records > 0).then_some(self.total.first_ns),
            "last_ns": (records > 0).then_some(self.total.last_ns),
            "duration_ns": span,
            "steps_back": self.steps_back,
            "largest_step_back": self.largest_step.as_ref().map_or(Value::Null, |(s, name)| json!({
                "ns": s.ns,
                "record": s.record.0,
                "offset": s.offset.0,
                "event": name,
            })),
        });
        let mut fields: Vec<(String, LazyJson<'_>)> = match head {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (k, LazyJson::Value(v)))
                .collect(),
            _ => Vec::new(),
        };
        let rows = self.rows().map(move |r| {
            let pids = r
                .pids
                .iter()
                .map(|e| LazyJson::Value(json!({"pid": e.pid, "count": e.tally.count})));
            let mut row = vec![
                ("event".to_owned(), json!(r.name)),
                ("count".to_owned(), json!(r.tally.count)),
                ("share".to_owned(), json!(self.share(r.tally.count))),
                ("rate_per_s".to_owned(), json!(rate(r.tally.count, span))),
                ("first_ns".to_owned(), json!(r.tally.first_ns)),
                ("last_ns".to_owned(), json!(r.tally.last_ns)),
            ];
            if let Some(pid) = r.pid {
                row.push(("pid".to_owned(), json!(pid)));
            }
            let mut row: Vec<(String, LazyJson<'_>)> = row
                .into_iter()
                .map(|(k, v)| (k, LazyJson::Value(v)))
                .collect();
            row.push(("pids".to_owned(), LazyJson::Array(Box::new(pids))));
            LazyJson::Object(row)
        });
        fields.push(("events".to_owned(), LazyJson::Array(Box::new(rows))));
        let pids = self.pids.iter().map(move |p| {
            LazyJson::Value(json!({
                "pid": p.pid,
                "count": p.tally.count,
                "share": self.share(p.tally.count),
                "events": p.events,
                "first_ns": p.tally.first_ns,
                "last_ns": p.tally.last_ns,
            }))
        });
        fields.push(("pids".to_owned(), LazyJson::Array(Box::new(pids))));
        LazyJson::Object(fields)
    }
}

impl ParallelAnalyzer for StatsAnalyzer {
    fn fork(&self, chunk: &ChunkStart) -> Self {
        StatsAnalyzer {
            sort: self.sort,
            top: self.top,
            by_pid: self.by_pid,
            slots: self.slots,
            prev_ns: chunk.prev_timestamp_ns,
            ..Self::default()
        }
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        self.steps_back += part.steps_back;
        if let Some(s) = part.largest_step
            && self.largest_step.is_none_or(|m| s.ns > m.ns)
        {
            self.largest_step = Some(s);
        }
        self.events_lost = self.events_lost.saturating_add(part.events_lost);
        for p in part.pids {
            match self.pid_tallies(p.pid) {
                Some(mine) => {
                    for (m, t) in mine.by_slot.iter_mut().zip(&p.by_slot) {
                        m.merge(t);
                    }
                }
                None => {
                    for (slot, t) in p.by_slot.iter().enumerate() {
                        if t.count > 0 {
                            self.sparse
                                .entry((p.pid, slot as u32))
                                .or_default()
                                .merge(t);
                        }
                    }
                }
            }
        }
        for (key, t) in part.sparse {
            self.sparse.entry(key).or_default().merge(&t);
        }
        Ok(())
    }
}
