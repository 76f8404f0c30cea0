//! The `alloc` report, written out row by row: text and JSON from the
//! state a run ends with, in bounded memory beyond that state.
//!
//! What it keeps besides the live blocks (the leaks, which the run holds
//! anyway): their slab positions sorted biggest first (4 bytes a leak; the
//! run's hash index, 10 to 21 bytes a block, is dropped first; each slab
//! chunk is sorted in place and the chunks merged), at most
//! `2 × --top` groups of leaks by size (24 bytes each; all of them, one per
//! distinct size, for `--top all`), and the pids' positions sorted (4
//! bytes a pid). It is a [`Document`] (see [`crate::report`]): its blocks
//! are data the render layer writes, the long lists [`Table`]s whose rows
//! are made a row at a time (twice: once to measure the columns and once
//! to write them), and the JSON a [`LazyJson`] whose lists are iterators.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::blocks::LiveBlocks;
use super::{
    AllocOptions, BUILTIN_RULES, CHART_ROWS, CHART_WIDTH, Family, Findings, Incident, LOSS_WINDOW,
    Peak, PidStats, RuleSet, Site, TIMELINE_POINTS, TimelinePoint, Tracker, seconds,
};
use crate::analyzers::histogram::{Unit, human};
use crate::analyzers::listing::{LazyJson, TableStyle};
use crate::report::{
    Align, BarRow, Bars, Block as Part, Blocks, Cell, Column, Document, Hint, LostEvents, More,
    Table,
};

/// A sum of sizes as JSON (it can exceed `u64::MAX`): by the
/// exact-integer rule, a number up to 2^53 - 1 and beyond it a string of
/// its digits (until issue 16, a number up to `u64::MAX` and a float
/// beyond).
pub(super) fn big(v: u128) -> Value {
    crate::analyzers::json::exact_uint_value(v)
}

/// Bytes for people: `512B`, `1.5MiB`.
fn human_bytes(v: u128) -> String {
    human(i128::try_from(v).unwrap_or(i128::MAX), Unit::Bytes)
}

/// An exact size, with its human form past 1 KiB: `1048576 (1MiB)`.
pub(super) fn size_text(v: u64) -> String {
    if v < 1024 {
        v.to_string()
    } else {
        format!("{v} ({})", human_bytes(u128::from(v)))
    }
}

/// How a list's heading ends: `:` before the whole list, `; the first:`
/// before part of it, nothing when none of it is shown.
fn lead(shown: usize, total: u64) -> &'static str {
    if shown == 0 {
        "."
    } else if (shown as u64) < total {
        "; the first:"
    } else {
        ":"
    }
}

pub(super) use crate::analyzers::human::plural;

/// Bytes as a table cell (sums of sizes past `i128` saturate).
fn bytes_cell(v: u128) -> Cell<'static> {
    Cell::Bytes(i128::try_from(v).unwrap_or(i128::MAX))
}

/// Columns of these headers and alignments.
fn columns(list: &[(&'static str, Align)]) -> Vec<Column> {
    list.iter().map(|&(h, a)| Column::new(h, a)).collect()
}

/// A table of `columns` (no borders), a row of `row`'s cells per item.
fn slice_table<'a, T>(
    columns: Vec<Column>,
    items: &'a [T],
    row: impl Fn(&'a T) -> Vec<Cell<'a>> + 'a,
) -> Table<'a> {
    let row = std::rc::Rc::new(row);
    Table::new(TableStyle::Plain, columns, move || {
        let row = std::rc::Rc::clone(&row);
        Box::new(items.iter().map(move |i| row(i)))
    })
}

/// A list of the report: `table` (its `shown` rows) after its `title` and
/// a blank line when it has one, nothing at all (not even the header) when
/// it has no row; then how many of its `total` entries are not shown
/// (`noun`: an entry, one and several).
fn listed<'a>(
    parts: &mut Vec<Part<'a>>,
    title: Option<&'a str>,
    table: Table<'a>,
    shown: usize,
    total: u64,
    noun: (&'a str, &'a str),
) {
    if shown > 0 {
        if let Some(title) = title {
            parts.extend([Part::Blank, Part::Title(title.into())]);
        }
        parts.push(Part::Table(table));
    }
    let hidden = total.saturating_sub(shown as u64);
    if hidden > 0 {
        parts.push(Part::More(More {
            count: hidden,
            noun,
            holding: None,
            hint: Hint::After("--top N to see more"),
        }));
    }
}

/// A kind of finding, as [`Finished::finding`] lists it.
struct Kind<'k> {
    /// The heading's words before the count (`Unknown frees`) and after
    /// it (` (pointers not allocated in the trace...)`).
    what: &'k str,
    why: &'k str,
    /// The columns after the time, pid and pointer.
    columns: &'k [(&'static str, Align)],
    /// A finding, one and several.
    noun: (&'static str, &'static str),
}

/// Leaks of one size (`None`: blocks of rules that give no size): a run
/// of the leaks sorted biggest first.
/// 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Group {
    /// The size (0 when not `sized`).
    size_or_0: u64,
    blocks: u32,
    /// Where the run of the leaks of this size starts in the sorted leaks,
    /// and how long it is (blocks of size 0 with and without a size share
    /// one run).
    start: u32,
    len: u32,
    sized: bool,
}

impl Group {
    fn size(&self) -> Option<u64> {
        self.sized.then_some(self.size_or_0)
    }

    fn bytes(&self) -> u128 {
        u128::from(self.size_or_0) * u128::from(self.blocks)
    }

    /// Most bytes first, then most blocks, then the larger size (a size
    /// before none).
    fn order(a: &Group, b: &Group) -> std::cmp::Ordering {
        (b.bytes(), b.blocks, b.size()).cmp(&(a.bytes(), a.blocks, a.size()))
    }
}

/// What a run ended with, and the figures worked out from it once: the
/// report, written when printed.
#[derive(Debug)]
pub(super) struct Finished {
    options: AllocOptions,
    rules: RuleSet,
    t: Tracker,
    live: LiveBlocks,
    forgotten: u64,
    /// Leaks (slab positions), biggest first.
    order: Vec<u32>,
    leaked_bytes: u128,
    leaks_near_loss: u64,
    /// The groups of leaks by size shown (the first `top`), in order.
    by_size: Vec<Group>,
    /// Distinct sizes among the leaks.
    sizes: u64,
    /// Pids in increasing order (positions in the pid table).
    pids: Vec<u32>,
    /// Blocks and bytes leaked, by position in the pid table.
    pid_leaks: Vec<(u64, u128)>,
    totals: PidStats<TIMELINE_POINTS>,
    end_ts: u64,
}

impl Finished {
    pub(super) fn new(options: AllocOptions, rules: RuleSet, mut t: Tracker) -> Self {
        // Sorted once, in place: the summaries, bars and JSON then read
        // the samples where they are instead of each sorting a copy.
        t.lifetimes.sort_samples();
        t.sizes.sort_samples();
        let blocks = std::mem::replace(&mut t.blocks, super::Blocks::new(0));
        let forgotten = blocks.forgotten();
        let mut live = blocks.into_live();
        let order = live.biggest_first();
        let mut leaked_bytes = 0u128;
        let mut leaks_near_loss = 0u64;
        let mut pid_leaks: Vec<(u64, u128)> = vec![(0, 0); t.pids.len()];
        for &pos in &order {
            if let Some((size, born, _, _)) = live.key(pos) {
                leaked_bytes += u128::from(size);
                leaks_near_loss += u64::from(t.near_past_loss(Some(born.offset)));
                if let Some(l) = pid_leaks.get_mut(t.pids.position(born.pid)) {
                    l.0 += 1;
                    l.1 += u128::from(size);
                }
            }
        }
        let (by_size, sizes) = Self::groups(&live, &order, options.top);
        let mut totals = PidStats::new(0);
        for s in t.pids.iter() {
            totals.allocations += s.allocations;
            totals.allocated_bytes += s.allocated_bytes;
            totals.reallocs += s.reallocs;
            totals.frees += s.frees;
            totals.freed_bytes += s.freed_bytes;
            totals.null_frees += s.null_frees;
            totals.failed += s.failed;
            totals.zero_null += s.zero_null;
            totals.unknown_frees += s.unknown_frees;
            totals.double_frees += s.double_frees;
            totals.allocated_twice += s.allocated_twice;
            totals.size_mismatches += s.size_mismatches;
            totals.mismatched_frees += s.mismatched_frees;
        }
        totals.live = t.total.clone();
        let pids = t.pids.sorted();
        let end_ts = t.max_ts.unwrap_or(0);
        Finished {
            options,
            rules,
            t,
            live,
            forgotten,
            order,
            leaked_bytes,
            leaks_near_loss,
            by_size,
            sizes,
            pids,
            pid_leaks,
            totals,
            end_ts,
        }
    }

    /// The groups of leaks by size to show (the first `top`, in order),
    /// and how many sizes there are; at most `2 × top` groups are held.
    fn groups(live: &LiveBlocks, order: &[u32], top: usize) -> (Vec<Group>, u64) {
        let mut kept: Vec<Group> = Vec::new();
        let mut sizes = 0u64;
        let mut keep = |g: Group, kept: &mut Vec<Group>| {
            sizes += 1;
            if top == 0 {
                return;
            }
            if kept.len() == kept.capacity() {
                // At most twice the groups shown, and no more than the
                // leaks: no growth by doubling past what is needed.
                let most = top.saturating_mul(2).min(order.len());
                kept.reserve_exact(most.saturating_sub(kept.len()).max(1));
            }
            kept.push(g);
            if kept.len() >= top.saturating_mul(2) {
                kept.sort_unstable_by(Group::order);
                kept.truncate(top);
            }
        };
        let mut start = 0usize;
        while start < order.len() {
            let size_at = |i: usize| order.get(i).and_then(|&p| live.key(p)).map(|k| k.0);
            let size = size_at(start);
            let mut end = start + 1;
            while end < order.len() && size_at(end) == size {
                end += 1;
            }
            let (mut sized, mut sizeless) = (0u32, 0u32);
            for &pos in order.get(start..end).unwrap_or_default() {
                match live.key(pos) {
                    Some((_, _, true, _)) => sized += 1,
                    Some(_) => sizeless += 1,
                    None => {}
                }
            }
            let run = |sized, blocks| Group {
                size_or_0: if sized { size.unwrap_or(0) } else { 0 },
                blocks,
                start: start as u32,
                len: (end - start) as u32,
                sized,
            };
            if sized > 0 {
                keep(run(true, sized), &mut kept);
            }
            if sizeless > 0 {
                keep(run(false, sizeless), &mut kept);
            }
            start = end;
        }
        kept.sort_unstable_by(Group::order);
        kept.truncate(top);
        (kept, sizes)
    }

    /// The leaks of a group: positions and blocks.
    fn group_leaks(&self, g: &Group) -> impl Iterator<Item = (u64, super::Block)> + '_ {
        let (start, len) = (g.start as usize, g.len as usize);
        let sized = g.sized;
        self.order
            .get(start..start + len)
            .unwrap_or_default()
            .iter()
            .filter_map(|&pos| self.live.get(pos))
            .filter(move |(_, b)| b.sized == sized)
    }

    /// The rules that allocated a group's leaks, and how many of them are
    /// near lost events.
    fn group_detail(&self, g: &Group) -> (BTreeSet<u16>, u64) {
        let mut rules = BTreeSet::new();
        let mut near_loss = 0u64;
        for (_, b) in self.group_leaks(g) {
            rules.insert(b.born.rule);
            near_loss += u64::from(self.t.near_past_loss(Some(b.born.offset)));
        }
        (rules, near_loss)
    }

    /// The leaks shown, biggest first.
    fn biggest(&self) -> impl Iterator<Item = (u64, super::Block)> + '_ {
        self.order
            .iter()
            .take(self.options.top)
            .filter_map(|&pos| self.live.get(pos))
    }

    fn event(&self, rule: u16) -> &str {
        self.rules
            .rules()
            .get(usize::from(rule))
            .map_or("?", |r| r.spec.event.as_str())
    }

    /// The pids in increasing order, with their leaks (blocks, bytes).
    fn pid_stats(&self) -> impl Iterator<Item = (&PidStats, (u64, u128))> + '_ {
        self.pids.iter().filter_map(|&p| {
            let leaks = self.pid_leaks.get(p as usize).copied().unwrap_or((0, 0));
            Some((self.t.pids.at(p)?, leaks))
        })
    }

    /// All pids' leaks (blocks, bytes).
    fn all_leaks(&self) -> (u64, u128) {
        (self.order.len() as u64, self.leaked_bytes)
    }

    // -- Blocks

    /// Everything the text says, in order: small lists of blocks, the
    /// long lists tables whose rows are made as they are written.
    fn parts(&self) -> Vec<Part<'_>> {
        let mut parts = vec![Part::Text(self.summary_line().into())];
        self.rules_parts(&mut parts);
        self.drops_parts(&mut parts);
        if self.rules.is_empty() {
            return parts;
        }
        self.pids_parts(&mut parts);
        if self.t.events == 0 {
            return parts;
        }
        self.leaks_parts(&mut parts);
        self.findings_parts(&mut parts);
        self.live_parts(&mut parts);
        self.histograms_parts(&mut parts);
        parts
    }

    fn summary_line(&self) -> String {
        let s = &self.totals;
        let mut line = format!(
            "alloc: {} ({}), {}, {} ({} of NULL)",
            plural(s.allocations, "allocation", "allocations"),
            human_bytes(s.allocated_bytes),
            plural(s.reallocs, "realloc", "reallocs"),
            plural(s.frees + s.null_frees, "free", "frees"),
            s.null_frees,
        );
        match self.pids.len() {
            0 => {}
            1 => line.push_str(", pid"),
            _ => line.push_str(", pids"),
        }
        for (i, (s, _)) in self.pid_stats().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(line, "{sep}{}", s.pid);
        }
        if let (Some(lo), Some(hi)) = (self.t.min_ts, self.t.max_ts) {
            let _ = write!(line, ", {} to {}", seconds(lo), seconds(hi));
        }
        line
    }

    fn rules_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        let rules = self.rules.rules();
        if rules.is_empty() {
            let names: Vec<&str> = BUILTIN_RULES.iter().map(|b| b.event).collect();
            let no_builtin = if self.options.builtins {
                ""
            } else {
                " (and --no-builtin is given)"
            };
            parts.extend([
                Part::Blank,
                Part::Text(
                    format!(
                        "No allocator rule applies: the trace-events file declares none of {}{no_builtin}.",
                        names.join(", ")
                    )
                    .into(),
                ),
                Part::Text(
                    "Give rules with --alloc EVENT:ptr=ARG,size=ARG, --free EVENT:ptr=ARG, \
                     --realloc EVENT:old=ARG,new=ARG,size=ARG."
                        .into(),
                ),
            ]);
        } else {
            let described: Vec<String> = rules
                .iter()
                .map(|r| {
                    format!(
                        "{} {}{}",
                        r.spec.kind.name(),
                        r.spec,
                        if r.spec.is_builtin() { "" } else { " (user)" }
                    )
                })
                .collect();
            parts.push(Part::Text(
                format!("Rules: {}", described.join("; ")).into(),
            ));
        }
        for w in self.rules.warnings() {
            parts.push(Part::Warning(format!("warning: {w}").into()));
        }
    }

    /// The lost events: the one warning, what they may have made of the
    /// findings, and where the first of them lie.
    fn drops_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        let d = &self.t.drops;
        let (Some(first), Some(last)) = (d.earliest, d.last) else {
            return;
        };
        parts.extend([
            Part::Blank,
            Part::Lost(LostEvents {
                records: d.records,
                events: u64::try_from(d.lost).unwrap_or(u64::MAX),
                consequence: Some("findings near a loss may be its artefacts".into()),
            }),
        ]);
        let explained = format!(
            "Dropped-events records from {} to {}. Near a loss: {} of {} (a loss after the allocation),\n\
             {} of {} (a loss before the free), {} of {} and {} of {} allocated\n\
             twice (a loss between the two events), counting {} KiB of trace on either side of each\n\
             dropped-events record as the loss's place.",
            seconds(first.ts),
            seconds(last.ts),
            self.leaks_near_loss,
            plural(self.order.len() as u64, "leaked block", "leaked blocks"),
            self.t.unknown.near_loss,
            plural(self.t.unknown.count, "unknown free", "unknown frees"),
            self.t.double.near_loss,
            plural(self.t.double.count, "double free", "double frees"),
            self.t.twice.near_loss,
            plural(self.t.twice.count, "block", "blocks"),
            LOSS_WINDOW / 1024,
        );
        parts.extend(explained.lines().map(|l| Part::Text(l.to_owned().into())));
        let columns = columns(&[
            ("lost at", Align::Left),
            ("pid", Align::Right),
            ("record", Align::Right),
            ("events", Align::Right),
        ]);
        let table = slice_table(columns, &d.first, |(s, n)| {
            vec![
                Cell::Seconds(s.ts),
                Cell::Int(s.pid.into()),
                Cell::Int(s.record.into()),
                Cell::Int((*n).into()),
            ]
        });
        listed(
            parts,
            None,
            table,
            d.first.len(),
            d.records,
            ("dropped-events record", "dropped-events records"),
        );
    }

    fn pid_row<const N: usize>(
        pid: Cell<'static>,
        s: &PidStats<N>,
        leaks: (u64, u128),
    ) -> Vec<Cell<'static>> {
        let [peak, peak_at] = match s.live.peak() {
            Some(p) => [bytes_cell(p.bytes), Cell::Seconds(p.ts)],
            None => [Cell::Missing, Cell::Missing],
        };
        vec![
            pid,
            Cell::Int(s.allocations.into()),
            bytes_cell(s.allocated_bytes),
            Cell::Int(s.reallocs.into()),
            Cell::Int(s.frees.into()),
            Cell::Int(s.null_frees.into()),
            Cell::Int(leaks.0.into()),
            bytes_cell(leaks.1),
            Cell::Int(s.unknown_frees.into()),
            Cell::Int(s.double_frees.into()),
            peak,
            peak_at,
        ]
    }

    fn pids_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        parts.push(Part::Blank);
        if self.pids.is_empty() {
            parts.push(Part::Text(
                "No records of these events in the trace (or none passed the filters).".into(),
            ));
            return;
        }
        let columns = columns(&[
            ("pid", Align::Left),
            ("allocs", Align::Right),
            ("allocated", Align::Right),
            ("reallocs", Align::Right),
            ("frees", Align::Right),
            ("free(NULL)", Align::Right),
            ("leaks", Align::Right),
            ("leaked", Align::Right),
            ("unknown frees", Align::Right),
            ("double frees", Align::Right),
            ("peak live", Align::Right),
            ("peak at", Align::Left),
        ]);
        let all = (self.pids.len() > 1).then_some(&self.totals);
        parts.push(Part::Table(Table::new(
            TableStyle::Plain,
            columns,
            move || {
                Box::new(
                    self.pid_stats()
                        .map(|(s, leaks)| Self::pid_row(Cell::Int(s.pid.into()), s, leaks))
                        .chain(all.map(|s| Self::pid_row(Cell::text("all"), s, self.all_leaks()))),
                )
            },
        )));
    }

    fn leaks_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        parts.push(Part::Blank);
        if self.order.is_empty() {
            parts.push(Part::Text(
                "Leaks: none: every block allocated in the trace was freed.".into(),
            ));
            return;
        }
        let drops = self.t.drops.records > 0;
        let near = if drops {
            format!(" ({} near lost events)", self.leaks_near_loss)
        } else {
            String::new()
        };
        parts.push(Part::Title(
            format!(
                "Leaks: {} never freed, {}{near}",
                plural(self.order.len() as u64, "block", "blocks"),
                human_bytes(self.leaked_bytes)
            )
            .into(),
        ));
        let mut by_size = vec![
            ("size", Align::Right),
            ("blocks", Align::Right),
            ("bytes", Align::Right),
            ("allocated by", Align::Left),
        ];
        if drops {
            by_size.push(("near lost events", Align::Right));
        }
        let table = slice_table(columns(&by_size), &self.by_size, move |g| {
            let (rules, near_loss) = self.group_detail(g);
            let by: Vec<&str> = rules.iter().map(|&r| self.event(r)).collect();
            let mut row = vec![
                g.size()
                    .map_or(Cell::text("?"), |s| Cell::Text(size_text(s).into())),
                Cell::Int(g.blocks.into()),
                bytes_cell(g.bytes()),
                Cell::Text(by.join(", ").into()),
            ];
            if drops {
                row.push(Cell::Int(near_loss.into()));
            }
            row
        });
        let shown = self.by_size.len();
        listed(
            parts,
            Some("By size:"),
            table,
            shown,
            self.sizes,
            ("size", "sizes"),
        );
        let biggest = columns(&[
            ("ptr", Align::Left),
            ("size", Align::Right),
            ("pid", Align::Right),
            ("allocated at", Align::Left),
            ("by", Align::Left),
            ("age at end", Align::Right),
            ("note", Align::Left),
        ]);
        let shown = self.biggest().count();
        let table = Table::new(TableStyle::Plain, biggest, move || {
            Box::new(self.biggest().map(move |(ptr, b)| self.leak_row(ptr, &b)))
        });
        let total = self.order.len() as u64;
        listed(
            parts,
            Some("Biggest leaks:"),
            table,
            shown,
            total,
            ("leak", "leaks"),
        );
    }

    fn leak_row(&self, ptr: u64, b: &super::Block) -> Vec<Cell<'_>> {
        let mut notes = Vec::new();
        if let Some(m) = b.moved {
            notes.push(format!(
                "{} to it, the last at {} by {}",
                plural(u64::from(b.reallocs), "realloc", "reallocs"),
                seconds(m.ts),
                self.event(m.rule)
            ));
        }
        if self.t.near_past_loss(Some(b.born.offset)) {
            notes.push("near lost events".into());
        }
        vec![
            Cell::Hex(ptr),
            if b.sized {
                Cell::Text(size_text(b.size).into())
            } else {
                Cell::text("?")
            },
            Cell::Int(b.born.pid.into()),
            Cell::Seconds(b.born.ts),
            Cell::text(self.event(b.born.rule)),
            Cell::Duration(i128::from(self.end_ts.wrapping_sub(b.born.ts) as i64)),
            Cell::Text(notes.join("; ").into()),
        ]
    }

    /// An incident's first cells: when, which pid, which pointer, which
    /// event.
    fn head(&self, i: &Incident) -> Vec<Cell<'_>> {
        vec![
            Cell::Seconds(i.ts),
            Cell::Int(i.pid.into()),
            Cell::Hex(i.ptr),
            Cell::text(self.event(i.rule)),
        ]
    }

    /// Where and by what event the incident's other record was.
    fn other_at(&self, i: &Incident) -> [Cell<'_>; 2] {
        i.other().map_or([Cell::Missing, Cell::Missing], |o| {
            [Cell::Seconds(o.ts), Cell::text(self.event(o.rule))]
        })
    }

    fn note(near_loss: bool) -> Cell<'static> {
        Cell::text(if near_loss { "near lost events" } else { "" })
    }

    /// A kind of finding as the report lists it: its heading (`what:
    /// COUNT (why)` and how much of the list follows), the first few in a
    /// table (the incident's time, pid and pointer, then `cells`' cells
    /// under `kind.columns`), and how many more there are. Nothing when
    /// there is none. One shape for every kind (unknown frees, double
    /// frees, blocks allocated twice, size and allocator mismatches).
    fn finding<'a>(
        &'a self,
        parts: &mut Vec<Part<'a>>,
        f: &'a Findings,
        kind: Kind<'_>,
        cells: impl Fn(&'a Self, &'a Incident) -> Vec<Cell<'a>> + 'a,
    ) {
        if f.count == 0 {
            return;
        }
        let Kind {
            what,
            why,
            columns: rest,
            noun,
        } = kind;
        let title = format!("{what}: {}{why}{}", f.count, lead(f.first.len(), f.count));
        let mut all = vec![
            ("time", Align::Left),
            ("pid", Align::Right),
            ("ptr", Align::Left),
        ];
        all.extend_from_slice(rest);
        parts.extend([Part::Blank, Part::Title(title.into())]);
        let table = slice_table(columns(&all), &f.first, move |i| {
            let mut row = self.head(i);
            row.extend(cells(self, i));
            row
        });
        listed(parts, None, table, f.first.len(), f.count, noun);
    }

    fn findings_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        let t = &self.t;
        let (event, note) = (("event", Align::Left), ("note", Align::Left));
        let (at, by) = (("allocated at", Align::Left), ("by", Align::Left));
        let unknown = Kind {
            what: "Unknown frees",
            why: " (pointers not allocated in the trace: allocated before it started, \
                  allocated by an event no rule covers, lost, or invalid)",
            columns: &[event, note],
            noun: ("unknown free", "unknown frees"),
        };
        self.finding(parts, &t.unknown, unknown, |_, i| {
            vec![Self::note(i.near_loss)]
        });
        let remembered = format!(
            " (freed again without an allocation in between; the last {} freed pointers are remembered)",
            self.options.free_history
        );
        let double = Kind {
            what: "Double frees",
            why: &remembered,
            columns: &[event, ("first freed at", Align::Left), by, note],
            noun: ("double free", "double frees"),
        };
        self.finding(parts, &t.double, double, |s, i| {
            let mut r = s.other_at(i).to_vec();
            r.push(Self::note(i.near_loss));
            r
        });
        let twice = Kind {
            what: "Allocated twice without a free",
            why: " (a pointer returned again while live: its free was missed or lost; \
                  the earlier block is dropped)",
            columns: &[
                event,
                ("live since", Align::Left),
                by,
                ("its size", Align::Right),
                note,
            ],
            noun: ("block", "blocks"),
        };
        self.finding(parts, &t.twice, twice, |s, i| {
            let mut r = s.other_at(i).to_vec();
            let (old, _) = i.sizes().unwrap_or_default();
            r.extend([Cell::Text(size_text(old).into()), Self::note(i.near_loss)]);
            r
        });
        let size_mismatch = Kind {
            what: "Freed with another size than allocated",
            why: "",
            columns: &[
                event,
                ("freed size", Align::Right),
                ("allocated size", Align::Right),
                at,
                by,
            ],
            noun: ("free", "frees"),
        };
        self.finding(parts, &t.size_mismatch, size_mismatch, |s, i| {
            let (allocated, freed) = i.sizes().unwrap_or_default();
            let mut r = vec![
                Cell::Text(size_text(freed).into()),
                Cell::Text(size_text(allocated).into()),
            ];
            r.extend(s.other_at(i));
            r
        });
        let mismatched = Kind {
            what: "Freed by another allocator's free",
            why: "",
            columns: &[("freed by", Align::Left), at, by],
            noun: ("free", "frees"),
        };
        self.finding(parts, &t.mismatched, mismatched, |s, i| {
            s.other_at(i).to_vec()
        });
        let s = &self.totals;
        if s.failed > 0 || s.zero_null > 0 {
            parts.extend([
                Part::Blank,
                Part::Text(
                    format!(
                        "Allocations that returned NULL: {} failed, {} of 0 bytes (malloc(0) may return NULL).",
                        s.failed, s.zero_null
                    )
                    .into(),
                ),
            ]);
        }
        if self.forgotten > 0 {
            parts.extend([
                Part::Blank,
                Part::Text(
                    format!(
                        "Note: {} freed pointers were forgotten (--free-history {}): freeing one of them again \
                         counts as an unknown free, not a double free.",
                        self.forgotten, self.options.free_history
                    )
                    .into(),
                ),
            ]);
        }
    }

    fn live_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        let live = &self.t.total;
        let Some(peak) = live.peak() else {
            return;
        };
        parts.extend([
            Part::Blank,
            Part::Text(
                format!(
                    "Live memory: peak {} ({} bytes in {}) at {} (pid {}, record {}); {} in {} at the end.",
                    human_bytes(peak.bytes),
                    peak.bytes,
                    plural(peak.blocks, "block", "blocks"),
                    seconds(peak.ts),
                    peak.pid,
                    peak.record,
                    human_bytes(live.bytes),
                    plural(live.blocks, "block", "blocks"),
                )
                .into(),
            ),
        ]);
        let points = live.timeline.points();
        if points.len() < 2 {
            return;
        }
        // Rows of consecutive points, each drawn at its highest.
        let per_row = points.len().div_ceil(CHART_ROWS);
        let rows: Vec<TimelinePoint> = points
            .chunks(per_row.max(1))
            .filter_map(|c| {
                let (first, rest) = c.split_first()?;
                let mut p = *first;
                for q in rest {
                    p.absorb(q);
                }
                Some(p)
            })
            .collect();
        parts.push(Part::Text(
            "Live bytes over time (the most in each row; rows hold equally many changes):".into(),
        ));
        let columns = vec![(Align::Right, 0), (Align::Right, 0)];
        parts.push(Part::Bars(Bars::new(columns, CHART_WIDTH, move || {
            Box::new(rows.clone().into_iter().map(|p| {
                BarRow::Bar(
                    vec![seconds(p.first_ts).into(), human_bytes(p.max).into()],
                    p.max,
                )
            }))
        })));
    }

    fn histograms_parts<'a>(&'a self, parts: &mut Vec<Part<'a>>) {
        let t = &self.t;
        let histograms = [
            (
                &t.lifetimes,
                "Block lifetimes, allocation to free (ns; negative when timestamps step back across threads):",
                Unit::Nanoseconds,
            ),
            (
                &t.sizes,
                "Sizes requested (allocations and reallocs):",
                Unit::Bytes,
            ),
        ];
        for (h, title, unit) in histograms {
            if !h.is_empty() {
                parts.extend([
                    Part::Blank,
                    Part::Title(title.into()),
                    Part::Text(h.summary(unit).into()),
                    Part::Bars(h.bars(unit)),
                ]);
            }
        }
    }

    // -- JSON

    fn site_json(&self, s: &Site) -> Value {
        json!({
            "ts_ns": s.ts,
            "pid": s.pid,
            "record": s.record,
            "event": self.event(s.rule),
        })
    }

    fn peak_json(p: Option<Peak>) -> Value {
        match p {
            Some(p) => json!({
                "bytes": big(p.bytes),
                "blocks": p.blocks,
                "ts_ns": p.ts,
                "pid": p.pid,
                "record": p.record,
            }),
            None => Value::Null,
        }
    }

    fn counters_json<const N: usize>(
        s: &PidStats<N>,
        leaks: (u64, u128),
    ) -> serde_json::Map<String, Value> {
        let v = json!({
            "allocations": s.allocations,
            "allocated_bytes": big(s.allocated_bytes),
            "reallocs": s.reallocs,
            "frees": s.frees,
            "freed_bytes": big(s.freed_bytes),
            "null_frees": s.null_frees,
            "failed_allocations": s.failed,
            "zero_size_null_allocations": s.zero_null,
            "leaked_blocks": leaks.0,
            "leaked_bytes": big(leaks.1),
            "unknown_frees": s.unknown_frees,
            "double_frees": s.double_frees,
            "allocated_twice": s.allocated_twice,
            "size_mismatches": s.size_mismatches,
            "mismatched_frees": s.mismatched_frees,
            "live_bytes_at_end": big(s.live.bytes),
            "live_blocks_at_end": s.live.blocks,
            "peak": Self::peak_json(s.live.peak()),
            "timeline": s.live.timeline.points().iter().map(TimelinePoint::json).collect::<Vec<_>>(),
        });
        match v {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }

    fn incident_json(&self, i: &Incident, other_key: &str) -> Value {
        let mut v = self.site_json(&i.site());
        if let Value::Object(m) = &mut v {
            m.insert("ptr".into(), json!(format!("0x{:x}", i.ptr)));
            m.insert("near_lost_events".into(), json!(i.near_loss));
            if let Some(o) = &i.other() {
                m.insert(other_key.into(), self.site_json(o));
            }
            match (other_key, i.sizes()) {
                ("earlier_allocation", Some((old, new))) => {
                    m.insert("earlier_size".into(), json!(old));
                    m.insert("size".into(), json!(new));
                }
                ("allocation", Some((allocated, freed))) => {
                    m.insert("allocated_size".into(), json!(allocated));
                    m.insert("freed_size".into(), json!(freed));
                }
                _ => {}
            }
        }
        v
    }

    /// `{"count", "first": [...], "near_lost_events"}`, the list made an
    /// element at a time.
    fn findings_json<'a>(&'a self, f: &'a Findings, other_key: &'a str) -> LazyJson<'a> {
        let first = f
            .first
            .iter()
            .map(move |i| LazyJson::Value(self.incident_json(i, other_key)));
        LazyJson::Object(vec![
            ("count".into(), json!(f.count).into()),
            ("first".into(), LazyJson::Array(Box::new(first))),
            ("near_lost_events".into(), json!(f.near_loss).into()),
        ])
    }

    fn rules_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .rules()
            .iter()
            .map(|r| {
                let args: serde_json::Map<String, Value> = r
                    .spec
                    .args
                    .iter()
                    .map(|(k, a)| (k.clone(), json!(a)))
                    .collect();
                json!({
                    "event": r.spec.event,
                    "kind": r.spec.kind.name(),
                    "args": args,
                    "builtin": r.spec.is_builtin(),
                    "family": r.spec.family.map(Family::name),
                })
            })
            .collect();
        Value::Array(rules)
    }

    fn leak_json(&self, ptr: u64, b: &super::Block) -> Value {
        json!({
            "ptr": format!("0x{ptr:x}"),
            "pid": b.born.pid,
            "size": b.sized.then_some(b.size),
            "ts_ns": b.born.ts,
            "record": b.born.record,
            "event": self.event(b.born.rule),
            "age_at_end_ns": self.end_ts.wrapping_sub(b.born.ts) as i64,
            "reallocs": b.reallocs,
            "last_realloc": b.moved.map(|m| self.site_json(&m)),
            "near_lost_events": self.t.near_past_loss(Some(b.born.offset)),
        })
    }

    fn leaks_json(&self) -> LazyJson<'_> {
        let biggest = self
            .biggest()
            .map(|(ptr, b)| LazyJson::Value(self.leak_json(ptr, &b)));
        let by_size = self.by_size.iter().map(|g| {
            let (rules, near_loss) = self.group_detail(g);
            LazyJson::Value(json!({
                "size": g.size(),
                "blocks": g.blocks,
                "bytes": big(g.bytes()),
                "events": rules.iter().map(|&r| self.event(r)).collect::<Vec<_>>(),
                "near_lost_events": near_loss,
            }))
        });
        LazyJson::Object(vec![
            ("biggest".into(), LazyJson::Array(Box::new(biggest))),
            ("blocks".into(), json!(self.order.len()).into()),
            ("by_size".into(), LazyJson::Array(Box::new(by_size))),
            ("bytes".into(), big(self.leaked_bytes).into()),
            (
                "near_lost_events".into(),
                json!(self.leaks_near_loss).into(),
            ),
            ("sizes".into(), json!(self.sizes).into()),
        ])
    }

    fn lost_events_json(&self) -> LazyJson<'_> {
        let d = &self.t.drops;
        let first = d.first.iter().map(|(s, n)| {
            LazyJson::Value(json!({
                "ts_ns": s.ts, "pid": s.pid, "record": s.record, "events": n,
            }))
        });
        LazyJson::Object(vec![
            ("dropped_records".into(), json!(d.records).into()),
            ("events".into(), big(d.lost).into()),
            ("first".into(), LazyJson::Array(Box::new(first))),
            ("last_ts_ns".into(), json!(d.last.map(|s| s.ts)).into()),
        ])
    }
}

impl Document for Finished {
    fn blocks(&self) -> Blocks<'_> {
        Box::new(self.parts().into_iter())
    }

    /// The whole object; its lists (leaks, findings, pids) made an
    /// element at a time as they are written.
    fn json(&self) -> LazyJson<'_> {
        let t = &self.t;
        let pids = self.pid_stats().map(|(s, leaks)| {
            let mut m = Self::counters_json(s, leaks);
            m.insert("pid".into(), json!(s.pid));
            LazyJson::Value(Value::Object(m))
        });
        let warnings: Vec<String> = self
            .rules
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        LazyJson::Object(vec![
            (
                "allocated_twice".into(),
                self.findings_json(&t.twice, "earlier_allocation"),
            ),
            (
                "double_frees".into(),
                self.findings_json(&t.double, "first_free"),
            ),
            ("events".into(), json!(t.events).into()),
            ("first_ts_ns".into(), json!(t.min_ts).into()),
            (
                "free_history".into(),
                json!({
                    "capacity": self.options.free_history,
                    "forgotten": self.forgotten,
                })
                .into(),
            ),
            ("last_ts_ns".into(), json!(t.max_ts).into()),
            ("leaks".into(), self.leaks_json()),
            (
                "lifetime_ns".into(),
                t.lifetimes.to_lazy_json(Unit::Nanoseconds),
            ),
            ("lost_events".into(), self.lost_events_json()),
            (
                "mismatched_frees".into(),
                self.findings_json(&t.mismatched, "allocation"),
            ),
            ("pids".into(), LazyJson::Array(Box::new(pids))),
            ("rules".into(), self.rules_json().into()),
            ("size_bytes".into(), t.sizes.to_lazy_json(Unit::Bytes)),
            (
                "size_mismatches".into(),
                self.findings_json(&t.size_mismatch, "allocation"),
            ),
            (
                "totals".into(),
                Value::Object(Self::counters_json(&self.totals, self.all_leaks())).into(),
            ),
            (
                "unknown_frees".into(),
                self.findings_json(&t.unknown, "first_free"),
            ),
            ("warnings".into(), json!(warnings).into()),
        ])
    }
}
