//! The `alloc` report, written out row by row: text and JSON from the
//! state a run ends with, in bounded memory beyond that state.
//!
//! What it keeps besides the live blocks (the leaks, which the run holds
//! anyway): their slab positions sorted biggest first (4 bytes a leak; the
//! run's hash index, 10 to 21 bytes a block, is dropped first; each slab
//! chunk is sorted in place and the chunks merged), at most
//! `2 × --top` groups of leaks by size (24 bytes each; all of them, one per
//! distinct size, for `--top all`), and the pids' positions sorted (4
//! bytes a pid). It is the body of a streamed [`Report`](crate::analyzers::Report):
//! every list is written a row at a time, the tables through
//! [`TextTable`] (rows made twice, once to measure the columns and once to
//! write them) and the JSON as a [`LazyJson`] whose lists are iterators.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::blocks::LiveBlocks;
use super::{
    AllocOptions, BUILTIN_RULES, CHART_ROWS, CHART_WIDTH, Family, Findings, Incident, LOSS_WINDOW,
    Live, Peak, PidStats, RuleSet, Site, TIMELINE_POINTS, TimelinePoint, Tracker, seconds,
};
use crate::analyzers::ReportBody;
use crate::analyzers::histogram::{Unit, human};
use crate::analyzers::listing::{LazyJson, TableStyle, TextTable};

/// A number as JSON: exact up to `u64::MAX`, floating point beyond (sums
/// of sizes read from the trace can exceed it).
pub(super) fn big(v: u128) -> Value {
    match u64::try_from(v) {
        Ok(v) => json!(v),
        Err(_) => json!(v as f64),
    }
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

/// A table of the report, laid out by [`TextTable`] (no borders, columns
/// `right` aligned right) after its `title` line if it has one: nothing at
/// all, not even the header, when it has no rows. `rows` is called as
/// [`TextTable::write`] calls it, and once before to see whether there is
/// a row. Returns how many rows it wrote.
fn table<I>(
    out: &mut dyn Write,
    title: Option<&str>,
    header: &[&str],
    right: &[usize],
    rows: impl Fn() -> I,
) -> io::Result<usize>
where
    I: Iterator<Item = Vec<String>>,
{
    if rows().next().is_none() {
        return Ok(0);
    }
    if let Some(title) = title {
        writeln!(out, "\n{title}")?;
    }
    let mut table = TextTable::new(TableStyle::Plain, header.iter().copied());
    for &i in right {
        table.align_right(i);
    }
    table.write(out, rows)
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

    // -- Text

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        self.summary_text(out)?;
        self.rules_text(out)?;
        self.drops_text(out)?;
        if self.rules.is_empty() {
            return Ok(());
        }
        self.pids_text(out)?;
        if self.t.events == 0 {
            return Ok(());
        }
        self.leaks_text(out)?;
        self.findings_text(out)?;
        self.live_text(out)?;
        self.histograms_text(out)
    }

    fn summary_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let s = &self.totals;
        write!(
            out,
            "alloc: {} ({}), {}, {} ({} of NULL)",
            plural(s.allocations, "allocation", "allocations"),
            human_bytes(s.allocated_bytes),
            plural(s.reallocs, "realloc", "reallocs"),
            plural(s.frees + s.null_frees, "free", "frees"),
            s.null_frees,
        )?;
        match self.pids.len() {
            0 => {}
            1 => write!(out, ", pid")?,
            _ => write!(out, ", pids")?,
        }
        for (i, (s, _)) in self.pid_stats().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(out, "{sep}{}", s.pid)?;
        }
        if let (Some(lo), Some(hi)) = (self.t.min_ts, self.t.max_ts) {
            write!(out, ", {} to {}", seconds(lo), seconds(hi))?;
        }
        writeln!(out)
    }

    fn drops_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let d = &self.t.drops;
        let (Some(first), Some(last)) = (d.earliest, d.last) else {
            return Ok(());
        };
        writeln!(
            out,
            "\nWARNING: EVENTS WERE LOST: {} {}, from {} to {}.\n\
             These findings may be artefacts of the loss: {} of {} (a loss after the allocation),\n\
             {} of {} (a loss before the free), {} of {} and {} of {} allocated\n\
             twice (a loss between the two events), counting {} KiB of trace on either side of each\n\
             dropped-events record as the loss's place.",
            plural(
                d.records,
                "dropped-events record reports",
                "dropped-events records report"
            ),
            plural(d.lost, "lost event", "lost events"),
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
        )?;
        table(
            out,
            None,
            &["lost at", "pid", "record", "events"],
            &[1, 2, 3],
            || {
                d.first.iter().map(|(s, n)| {
                    vec![
                        seconds(s.ts),
                        s.pid.to_string(),
                        s.record.to_string(),
                        n.to_string(),
                    ]
                })
            },
        )?;
        Self::more(
            out,
            d.first.len(),
            d.records,
            ("dropped-events record", "dropped-events records"),
        )
    }

    fn rules_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let rules = self.rules.rules();
        if rules.is_empty() {
            writeln!(
                out,
                "\nNo allocator rule applies: the trace-events file declares none of {}{}.\n\
                 Give rules with --alloc EVENT:ptr=ARG,size=ARG, --free EVENT:ptr=ARG, --realloc EVENT:old=ARG,new=ARG,size=ARG.",
                BUILTIN_RULES
                    .iter()
                    .map(|b| b.event)
                    .collect::<Vec<_>>()
                    .join(", "),
                if self.options.builtins {
                    ""
                } else {
                    " (and --no-builtin is given)"
                }
            )?;
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
            writeln!(out, "Rules: {}", described.join("; "))?;
        }
        for w in self.rules.warnings() {
            writeln!(out, "warning: {w}")?;
        }
        Ok(())
    }

    fn peak_cells<const N: usize>(live: &Live<N>) -> [String; 2] {
        match live.peak() {
            Some(p) => [human_bytes(p.bytes), seconds(p.ts)],
            None => ["-".into(), "-".into()],
        }
    }

    fn pid_row<const N: usize>(pid: String, s: &PidStats<N>, leaks: (u64, u128)) -> Vec<String> {
        let [peak, peak_at] = Self::peak_cells(&s.live);
        vec![
            pid,
            s.allocations.to_string(),
            human_bytes(s.allocated_bytes),
            s.reallocs.to_string(),
            s.frees.to_string(),
            s.null_frees.to_string(),
            leaks.0.to_string(),
            human_bytes(leaks.1),
            s.unknown_frees.to_string(),
            s.double_frees.to_string(),
            peak,
            peak_at,
        ]
    }

    fn pids_text(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.pids.is_empty() {
            return writeln!(
                out,
                "\nNo records of these events in the trace (or none passed the filters)."
            );
        }
        writeln!(out)?;
        let all = (self.pids.len() > 1).then_some(&self.totals);
        table(
            out,
            None,
            &[
                "pid",
                "allocs",
                "allocated",
                "reallocs",
                "frees",
                "free(NULL)",
                "leaks",
                "leaked",
                "unknown frees",
                "double frees",
                "peak live",
                "peak at",
            ],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            || {
                self.pid_stats()
                    .map(|(s, leaks)| Self::pid_row(s.pid.to_string(), s, leaks))
                    .chain(all.map(|s| Self::pid_row("all".into(), s, self.all_leaks())))
            },
        )?;
        Ok(())
    }

    /// Says how many of a list's `total` entries are not shown: `what`
    /// is the entry's name, singular and plural.
    fn more(out: &mut dyn Write, shown: usize, total: u64, what: (&str, &str)) -> io::Result<()> {
        let hidden = total.saturating_sub(shown as u64);
        if hidden > 0 {
            let word = if hidden == 1 { what.0 } else { what.1 };
            writeln!(out, "({hidden} more {word} not shown; --top N to see more)")?;
        }
        Ok(())
    }

    fn leaks_text(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.order.is_empty() {
            return writeln!(
                out,
                "\nLeaks: none: every block allocated in the trace was freed."
            );
        }
        write!(
            out,
            "\nLeaks: {} never freed, {}",
            plural(self.order.len() as u64, "block", "blocks"),
            human_bytes(self.leaked_bytes)
        )?;
        let drops = self.t.drops.records > 0;
        if drops {
            write!(out, " ({} near lost events)", self.leaks_near_loss)?;
        }
        writeln!(out)?;
        let mut header = vec!["size", "blocks", "bytes", "allocated by"];
        if drops {
            header.push("near lost events");
        }
        let shown = table(out, Some("By size:"), &header, &[0, 1, 2, 4], || {
            self.by_size.iter().map(move |g| {
                let (rules, near_loss) = self.group_detail(g);
                let by: Vec<&str> = rules.iter().map(|&r| self.event(r)).collect();
                let mut row = vec![
                    g.size().map_or("?".into(), size_text),
                    g.blocks.to_string(),
                    human_bytes(g.bytes()),
                    by.join(", "),
                ];
                if drops {
                    row.push(near_loss.to_string());
                }
                row
            })
        })?;
        Self::more(out, shown, self.sizes, ("size", "sizes"))?;

        let shown = table(
            out,
            Some("Biggest leaks:"),
            &[
                "ptr",
                "size",
                "pid",
                "allocated at",
                "by",
                "age at end",
                "note",
            ],
            &[1, 2, 5],
            || {
                self.biggest().map(|(ptr, b)| {
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
                        format!("0x{ptr:x}"),
                        if b.sized {
                            size_text(b.size)
                        } else {
                            "?".into()
                        },
                        b.born.pid.to_string(),
                        seconds(b.born.ts),
                        self.event(b.born.rule).to_owned(),
                        human(
                            i128::from(self.end_ts.wrapping_sub(b.born.ts) as i64),
                            Unit::Nanoseconds,
                        ),
                        notes.join("; "),
                    ]
                })
            },
        )?;
        Self::more(out, shown, self.order.len() as u64, ("leak", "leaks"))
    }

    fn head(&self, i: &Incident) -> Vec<String> {
        vec![
            seconds(i.ts),
            i.pid.to_string(),
            format!("0x{:x}", i.ptr),
            self.event(i.rule).to_owned(),
        ]
    }

    fn other_at(&self, i: &Incident) -> [String; 2] {
        i.other().map_or(["-".into(), "-".into()], |o| {
            [seconds(o.ts), self.event(o.rule).to_owned()]
        })
    }

    fn note(near_loss: bool) -> String {
        if near_loss {
            "near lost events".to_owned()
        } else {
            String::new()
        }
    }

    fn findings_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let t = &self.t;
        if t.unknown.count > 0 {
            writeln!(
                out,
                "\nUnknown frees: {} (pointers not allocated in the trace: allocated before it started, \
                 allocated by an event no rule covers, lost, or invalid){}",
                t.unknown.count,
                lead(t.unknown.first.len(), t.unknown.count)
            )?;
            table(
                out,
                None,
                &["time", "pid", "ptr", "event", "note"],
                &[1],
                || {
                    t.unknown.first.iter().map(|i| {
                        let mut r = self.head(i);
                        r.push(Self::note(i.near_loss));
                        r
                    })
                },
            )?;
            Self::more(
                out,
                t.unknown.first.len(),
                t.unknown.count,
                ("unknown free", "unknown frees"),
            )?;
        }
        if t.double.count > 0 {
            writeln!(
                out,
                "\nDouble frees: {} (freed again without an allocation in between; the last {} freed \
                 pointers are remembered){}",
                t.double.count,
                self.options.free_history,
                lead(t.double.first.len(), t.double.count)
            )?;
            table(
                out,
                None,
                &[
                    "time",
                    "pid",
                    "ptr",
                    "event",
                    "first freed at",
                    "by",
                    "note",
                ],
                &[1],
                || {
                    t.double.first.iter().map(|i| {
                        let mut r = self.head(i);
                        r.extend(self.other_at(i));
                        r.push(Self::note(i.near_loss));
                        r
                    })
                },
            )?;
            Self::more(
                out,
                t.double.first.len(),
                t.double.count,
                ("double free", "double frees"),
            )?;
        }
        if t.twice.count > 0 {
            writeln!(
                out,
                "\nAllocated twice without a free: {} (a pointer returned again while live: its free \
                 was missed or lost; the earlier block is dropped){}",
                t.twice.count,
                lead(t.twice.first.len(), t.twice.count)
            )?;
            table(
                out,
                None,
                &[
                    "time",
                    "pid",
                    "ptr",
                    "event",
                    "live since",
                    "by",
                    "its size",
                    "note",
                ],
                &[1, 6],
                || {
                    t.twice.first.iter().map(|i| {
                        let mut r = self.head(i);
                        let [at, by] = self.other_at(i);
                        let (old, _) = i.sizes().unwrap_or_default();
                        r.extend([at, by, size_text(old)]);
                        r.push(Self::note(i.near_loss));
                        r
                    })
                },
            )?;
            Self::more(out, t.twice.first.len(), t.twice.count, ("block", "blocks"))?;
        }
        if t.size_mismatch.count > 0 {
            writeln!(
                out,
                "\nFreed with another size than allocated: {}{}",
                t.size_mismatch.count,
                lead(t.size_mismatch.first.len(), t.size_mismatch.count)
            )?;
            table(
                out,
                None,
                &[
                    "time",
                    "pid",
                    "ptr",
                    "event",
                    "freed size",
                    "allocated size",
                    "allocated at",
                    "by",
                ],
                &[1, 4, 5],
                || {
                    t.size_mismatch.first.iter().map(|i| {
                        let mut r = self.head(i);
                        let (allocated, freed) = i.sizes().unwrap_or_default();
                        r.push(size_text(freed));
                        r.push(size_text(allocated));
                        r.extend(self.other_at(i));
                        r
                    })
                },
            )?;
            Self::more(
                out,
                t.size_mismatch.first.len(),
                t.size_mismatch.count,
                ("free", "frees"),
            )?;
        }
        if t.mismatched.count > 0 {
            writeln!(
                out,
                "\nFreed by another allocator's free: {}{}",
                t.mismatched.count,
                lead(t.mismatched.first.len(), t.mismatched.count)
            )?;
            table(
                out,
                None,
                &["time", "pid", "ptr", "freed by", "allocated at", "by"],
                &[1],
                || {
                    t.mismatched.first.iter().map(|i| {
                        let mut r = self.head(i);
                        r.extend(self.other_at(i));
                        r
                    })
                },
            )?;
            Self::more(
                out,
                t.mismatched.first.len(),
                t.mismatched.count,
                ("free", "frees"),
            )?;
        }
        let s = &self.totals;
        if s.failed > 0 || s.zero_null > 0 {
            writeln!(
                out,
                "\nAllocations that returned NULL: {} failed, {} of 0 bytes (malloc(0) may return NULL).",
                s.failed, s.zero_null
            )?;
        }
        if self.forgotten > 0 {
            writeln!(
                out,
                "\nNote: {} freed pointers were forgotten (--free-history {}): freeing one of them again \
                 counts as an unknown free, not a double free.",
                self.forgotten, self.options.free_history
            )?;
        }
        Ok(())
    }

    fn live_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let live = &self.t.total;
        let Some(peak) = live.peak() else {
            return Ok(());
        };
        writeln!(
            out,
            "\nLive memory: peak {} ({} bytes in {}) at {} (pid {}, record {}); {} in {} at the end.",
            human_bytes(peak.bytes),
            peak.bytes,
            plural(peak.blocks, "block", "blocks"),
            seconds(peak.ts),
            peak.pid,
            peak.record,
            human_bytes(live.bytes),
            plural(live.blocks, "block", "blocks"),
        )?;
        let points = live.timeline.points();
        if points.len() < 2 {
            return Ok(());
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
        let most = rows.iter().map(|p| p.max).max().unwrap_or(0);
        let cells: Vec<(String, String)> = rows
            .iter()
            .map(|p| (seconds(p.first_ts), human_bytes(p.max)))
            .collect();
        let time_width = cells.iter().map(|c| c.0.len()).max().unwrap_or(0);
        let bytes_width = cells.iter().map(|c| c.1.len()).max().unwrap_or(0);
        writeln!(
            out,
            "Live bytes over time (the most in each row; rows hold equally many changes):"
        )?;
        for (p, (t, b)) in rows.iter().zip(&cells) {
            let bar = if most == 0 {
                0
            } else {
                (p.max.saturating_mul(CHART_WIDTH as u128)).div_ceil(most) as usize
            };
            writeln!(
                out,
                "{t:>time_width$} {b:>bytes_width$} |{}{}|",
                "@".repeat(bar.min(CHART_WIDTH)),
                " ".repeat(CHART_WIDTH - bar.min(CHART_WIDTH))
            )?;
        }
        Ok(())
    }

    fn histograms_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let t = &self.t;
        if !t.lifetimes.is_empty() {
            writeln!(
                out,
                "\nBlock lifetimes, allocation to free (ns; negative when timestamps step back across threads):\n{}\n{}",
                t.lifetimes.summary(Unit::Nanoseconds),
                t.lifetimes.render(Unit::Nanoseconds).trim_end()
            )?;
        }
        if !t.sizes.is_empty() {
            writeln!(
                out,
                "\nSizes requested (allocations and reallocs):\n{}\n{}",
                t.sizes.summary(Unit::Bytes),
                t.sizes.render(Unit::Bytes).trim_end()
            )?;
        }
        Ok(())
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

impl ReportBody for Finished {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        self.text(out)
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
