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
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{
    Analyzer, AnalyzerError, ChunkStart, Context, Event, Handlers, ParallelAnalyzer, Report,
    TraceInfo,
};
use crate::format::{EventDecl, FileOffset, RecordIndex, TraceEvents};

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
    sparse: HashMap<(u32, usize), Tally>,
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
            None => self.sparse.entry((pid, slot)).or_default().add(ts),
        }
    }

    /// Every pid's records by slot: (pid, slot) -> tally.
    fn per_pid(&self) -> HashMap<u32, HashMap<usize, Tally>> {
        let mut pids: HashMap<u32, HashMap<usize, Tally>> = HashMap::new();
        for p in &self.pids {
            let slots = pids.entry(p.pid).or_default();
            for (slot, t) in p.by_slot.iter().enumerate() {
                if t.count > 0 {
                    slots.entry(slot).or_default().merge(t);
                }
            }
        }
        for (&(pid, slot), t) in &self.sparse {
            pids.entry(pid)
                .or_default()
                .entry(slot)
                .or_default()
                .merge(t);
        }
        pids
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

/// One row of the event table.
struct Row<'e> {
    name: &'e str,
    slot: usize,
    pid: Option<u32>,
    tally: Tally,
    pids: Vec<(u32, u64)>,
}

/// Seconds with microseconds, as the trace clock shows them.
fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

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

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let events = info.events;
        let pids = self.per_pid();
        let mut total = Tally::default();
        let mut pid_totals: HashMap<u32, Tally> = HashMap::new();
        let mut by_slot: HashMap<usize, (Tally, Vec<(u32, u64)>)> = HashMap::new();
        for (&pid, slots) in &pids {
            let pid_total = pid_totals.entry(pid).or_default();
            for (&slot, t) in slots {
                total.merge(t);
                pid_total.merge(t);
                let e = by_slot
                    .entry(slot)
                    .or_insert((Tally::default(), Vec::new()));
                e.0.merge(t);
                e.1.push((pid, t.count));
            }
        }
        let records = total.count;
        let span = if records > 0 {
            total.last_ns - total.first_ns
        } else {
            0
        };
        let origin = if records > 0 { total.first_ns } else { 0 };
        let dropped_records = by_slot.get(&self.slots).map_or(0, |(t, _)| t.count);
        let mappings = info.records_read.saturating_sub(info.event_records);

        let mut rows: Vec<Row<'_>> = Vec::new();
        for (&slot, (tally, slot_pids)) in &by_slot {
            let mut slot_pids = slot_pids.clone();
            slot_pids.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let name = self.name(events, slot);
            if self.by_pid {
                for &(pid, _) in &slot_pids {
                    let t = pids
                        .get(&pid)
                        .and_then(|p| p.get(&slot))
                        .copied()
                        .unwrap_or_default();
                    rows.push(Row {
                        name,
                        slot,
                        pid: Some(pid),
                        tally: t,
                        pids: vec![(pid, t.count)],
                    });
                }
            } else {
                rows.push(Row {
                    name,
                    slot,
                    pid: None,
                    tally: *tally,
                    pids: slot_pids,
                });
            }
        }
        rows.sort_by(|a, b| {
            let key = match self.sort {
                StatsSort::Count => b.tally.count.cmp(&a.tally.count),
                StatsSort::Name => a.name.cmp(b.name),
                StatsSort::First => a.tally.first_ns.cmp(&b.tally.first_ns),
                StatsSort::Last => b.tally.last_ns.cmp(&a.tally.last_ns),
                StatsSort::Declared => a.slot.cmp(&b.slot),
            };
            key.then(a.name.cmp(b.name)).then(a.pid.cmp(&b.pid))
        });
        let shown = self.top.unwrap_or(usize::MAX).min(rows.len());

        // JSON: every figure, timestamps in ns.
        let step_json = |s: &StepBack| {
            json!({
                "ns": s.ns,
                "record": s.record.0,
                "offset": s.offset.0,
                "event": self.name(events, s.slot),
            })
        };
        let row_json = |r: &Row<'_>| {
            let mut o = json!({
                "event": r.name,
                "count": r.tally.count,
                "share": if records > 0 { r.tally.count as f64 / records as f64 } else { 0.0 },
                "rate_per_s": rate(r.tally.count, span),
                "first_ns": r.tally.first_ns,
                "last_ns": r.tally.last_ns,
                "pids": r.pids.iter().map(|&(pid, n)| json!({"pid": pid, "count": n})).collect::<Vec<_>>(),
            });
            if let (Some(pid), Some(obj)) = (r.pid, o.as_object_mut()) {
                obj.insert("pid".into(), json!(pid));
            }
            o
        };
        let mut pid_list: Vec<(u32, Tally, usize)> = pids
            .iter()
            .map(|(&pid, slots)| {
                let total = pid_totals.get(&pid).copied().unwrap_or_default();
                (pid, total, slots.len())
            })
            .collect();
        pid_list.sort_unstable_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        let json = json!({
            "records": records,
            "event_records_read": info.event_records,
            "mapping_records": mappings,
            "records_read": info.records_read,
            "dropped_records": dropped_records,
            "events_lost": self.events_lost,
            "first_ns": (records > 0).then_some(total.first_ns),
            "last_ns": (records > 0).then_some(total.last_ns),
            "duration_ns": span,
            "steps_back": self.steps_back,
            "largest_step_back": self.largest_step.as_ref().map_or(Value::Null, step_json),
            "events": rows.iter().take(shown).map(row_json).collect::<Vec<_>>(),
            "pids": pid_list.iter().map(|(pid, t, n)| json!({
                "pid": pid,
                "count": t.count,
                "share": if records > 0 { t.count as f64 / records as f64 } else { 0.0 },
                "events": n,
                "first_ns": t.first_ns,
                "last_ns": t.last_ns,
            })).collect::<Vec<_>>(),
        });

        // Text.
        let mut text = String::new();
        let distinct = by_slot.len();
        let lost = if dropped_records == 0 {
            "no events lost".to_owned()
        } else {
            format!(
                "{} events LOST in {dropped_records} dropped-events records",
                self.events_lost
            )
        };
        let _ = writeln!(
            text,
            "{records} records of {distinct} events, {mappings} mapping records, {lost}"
        );
        if info.event_records > records {
            let _ = writeln!(
                text,
                "(the filters kept {records} of {} event records)",
                info.event_records
            );
        }
        if records > 0 {
            let _ = writeln!(
                text,
                "{} s, from {} s to {} s of the trace clock",
                seconds(span),
                seconds(total.first_ns),
                seconds(total.last_ns)
            );
        }
        match &self.largest_step {
            None => {
                let _ = writeln!(text, "timestamps never step back");
            }
            Some(s) => {
                let _ = writeln!(
                    text,
                    "timestamps step back {} times, at most {} ({} at byte {}, {})",
                    self.steps_back,
                    super::histogram::human(i128::from(s.ns), super::histogram::Unit::Nanoseconds),
                    s.record,
                    s.offset.0,
                    self.name(events, s.slot)
                );
            }
        }
        if shown > 0 {
            let mut table = comfy_table::Table::new();
            table.load_style(comfy_table::presets::NOTHING);
            let mut header = vec!["event"];
            if self.by_pid {
                header.push("pid");
            }
            header.extend(["count", "share", "rate/s", "first s", "last s"]);
            if !self.by_pid {
                header.push("pids");
            }
            table.set_header(header);
            for r in rows.iter().take(shown) {
                let mut cells = vec![r.name.to_owned()];
                if let Some(pid) = r.pid {
                    cells.push(pid.to_string());
                }
                cells.extend([
                    r.tally.count.to_string(),
                    percent(r.tally.count, records),
                    rate(r.tally.count, span).map_or("-".into(), |r| format!("{r:.1}")),
                    seconds(r.tally.first_ns.saturating_sub(origin)),
                    seconds(r.tally.last_ns.saturating_sub(origin)),
                ]);
                if r.pid.is_none() {
                    cells.push(r.pids.len().to_string());
                }
                table.add_row(cells);
            }
            for (i, c) in table.column_iter_mut().enumerate() {
                if i > 0 {
                    c.set_cell_alignment(comfy_table::CellAlignment::Right);
                }
            }
            let _ = writeln!(text, "\n{}", table.trim_fmt());
            if shown < rows.len() {
                let _ = writeln!(text, "({} more rows; --top shows more)", rows.len() - shown);
            }
        }
        if pid_list.len() > 1 {
            let mut table = comfy_table::Table::new();
            table.load_style(comfy_table::presets::NOTHING);
            table.set_header(["pid", "count", "share", "events", "first s", "last s"]);
            for (pid, t, n) in &pid_list {
                table.add_row([
                    pid.to_string(),
                    t.count.to_string(),
                    percent(t.count, records),
                    n.to_string(),
                    seconds(t.first_ns.saturating_sub(origin)),
                    seconds(t.last_ns.saturating_sub(origin)),
                ]);
            }
            for c in table.column_iter_mut() {
                c.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
            let _ = writeln!(text, "\n{}", table.trim_fmt());
        }
        Ok(Report::new(text, json))
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
                            self.sparse.entry((p.pid, slot)).or_default().merge(t);
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
