//! The correlator of `alloc`: live blocks and freed pointers ([`Tracker`]),
//! what each allocation, free and reallocation finds, counters per pid,
//! live-bytes timelines, and where events were lost.

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

use crate::analyzers::histogram::{Domain, Histogram, Scale};

use super::blocks::{Blocks, Full};
use super::report::big;
use super::rules::Family;
use super::{LOSS_WINDOW, PID_TIMELINE_POINTS, TIMELINE_POINTS};
/// Where and when something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Site {
    pub(super) ts: u64,
    pub(super) pid: u32,
    /// The record's index in the trace (mappings counted).
    pub(super) record: u64,
    /// The record's byte offset in the trace.
    pub(super) offset: u64,
    /// The rule of the event.
    pub(super) rule: u16,
}

/// A live block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    pub(super) size: u64,
    /// Whether the rule gave a size (a user alloc rule may not).
    pub(super) sized: bool,
    /// The allocation that started the realloc chain.
    pub(super) born: Site,
    /// The last realloc, if any.
    pub(super) moved: Option<Site>,
    pub(super) reallocs: u32,
}

/// Live memory of one pid (or of all), its peak and its timeline of up to
/// `N` points.
#[derive(Debug, Clone)]
pub(super) struct Live<const N: usize> {
    pub(super) bytes: u128,
    pub(super) blocks: u64,
    /// The peak, once there is a change ([`Live::peak`]).
    pub(super) peak: Peak,
    pub(super) timeline: Timeline<N>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Peak {
    pub(super) bytes: u128,
    pub(super) blocks: u64,
    pub(super) ts: u64,
    pub(super) pid: u32,
    pub(super) record: u64,
}

impl<const N: usize> Live<N> {
    /// No memory live.
    pub(super) fn new() -> Self {
        Live {
            bytes: 0,
            blocks: 0,
            peak: Peak::default(),
            timeline: Timeline::new(),
        }
    }

    /// The first change at which the most bytes were live; `None` before
    /// any change.
    pub(super) fn peak(&self) -> Option<Peak> {
        (!self.timeline.is_empty()).then_some(self.peak)
    }

    /// Applies one event's net change: `added` bytes and blocks came,
    /// `removed` went.
    pub(super) fn change(&mut self, at: Site, added: (u128, u64), removed: (u128, u64)) {
        self.bytes = (self.bytes + added.0).saturating_sub(removed.0);
        self.blocks = (self.blocks + added.1).saturating_sub(removed.1);
        if self.timeline.is_empty() || self.bytes > self.peak.bytes {
            self.peak = Peak {
                bytes: self.bytes,
                blocks: self.blocks,
                ts: at.ts,
                pid: at.pid,
                record: at.record,
            };
        }
        self.timeline.record(at.ts, self.bytes);
    }
}

/// One point of a live-bytes timeline: a run of consecutive changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelinePoint {
    /// Timestamp of the first change of the run (ns).
    pub first_ts: u64,
    /// Timestamp of the last change of the run (ns).
    pub last_ts: u64,
    /// Fewest live bytes during the run.
    pub min: u128,
    /// Most live bytes during the run.
    pub max: u128,
    /// Live bytes after the run.
    pub end: u128,
    /// Changes in the run.
    pub changes: u64,
}

impl TimelinePoint {
    pub(super) fn absorb(&mut self, later: &TimelinePoint) {
        self.last_ts = later.last_ts;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.end = later.end;
        self.changes += later.changes;
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "first_ts_ns": self.first_ts,
            "last_ts_ns": self.last_ts,
            "min_bytes": big(self.min),
            "max_bytes": big(self.max),
            "end_bytes": big(self.end),
            "changes": self.changes,
        })
    }
}

/// A run of consecutive changes of a timeline, as kept: a
/// [`TimelinePoint`] without its count of changes (every complete run of a
/// timeline has the same count). 64 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) first_ts: u64,
    pub(super) last_ts: u64,
    pub(super) min: u128,
    pub(super) max: u128,
    pub(super) end: u128,
}

impl Run {
    pub(super) fn absorb(&mut self, later: &Run) {
        self.last_ts = later.last_ts;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.end = later.end;
    }

    pub(super) fn point(&self, changes: u64) -> TimelinePoint {
        TimelinePoint {
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            min: self.min,
            max: self.max,
            end: self.end,
            changes,
        }
    }
}

/// Live bytes over time in bounded memory, held inline: at most `N` points
/// ([`TIMELINE_POINTS`] for all pids, [`PID_TIMELINE_POINTS`] for each),
/// each summarising the same number of consecutive changes (in file
/// order), the last one possibly fewer; when `N` are complete, neighbours
/// merge in pairs. `64 × N + 32` bytes.
#[derive(Debug, Clone)]
pub(super) struct Timeline<const N: usize> {
    /// The complete runs (`len` of them, of `span` changes each), then
    /// the run being made (of `pending` changes, fewer than `span`; none
    /// when 0). Fewer than `N` runs are ever complete at rest, so that it
    /// has a place.
    pub(super) runs: [Run; N],
    pub(super) len: usize,
    pub(super) pending: u64,
    pub(super) span: u64,
}

impl<const N: usize> Timeline<N> {
    pub(super) fn new() -> Self {
        // Runs merge in pairs when all `N` are complete.
        const { assert!(N >= 2 && N.is_multiple_of(2)) };
        Timeline {
            runs: [Run::default(); N],
            len: 0,
            pending: 0,
            span: 1,
        }
    }

    /// Whether no change was recorded.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0 && self.pending == 0
    }

    pub(super) fn record(&mut self, ts: u64, bytes: u128) {
        let change = Run {
            first_ts: ts,
            last_ts: ts,
            min: bytes,
            max: bytes,
            end: bytes,
        };
        let Some(run) = self.runs.get_mut(self.len) else {
            return;
        };
        if self.pending == 0 {
            *run = change;
        } else {
            run.absorb(&change);
        }
        self.pending += 1;
        if self.pending < self.span {
            return;
        }
        self.pending = 0;
        self.len += 1;
        if self.len >= N {
            for i in 0..N / 2 {
                if let (Some(&a), Some(&b)) = (self.runs.get(2 * i), self.runs.get(2 * i + 1)) {
                    let mut merged = a;
                    merged.absorb(&b);
                    if let Some(slot) = self.runs.get_mut(i) {
                        *slot = merged;
                    }
                }
            }
            self.len = N / 2;
            self.span *= 2;
        }
    }

    /// The points, the unfinished one last.
    pub(super) fn points(&self) -> Vec<TimelinePoint> {
        let complete = self.runs.iter().take(self.len).map(|r| r.point(self.span));
        let pending = (self.pending > 0)
            .then(|| self.runs.get(self.len).map(|r| r.point(self.pending)))
            .flatten();
        complete.chain(pending).collect()
    }
}

/// Counters of one pid (or, `N` = [`TIMELINE_POINTS`], of all), its live
/// memory and timeline inline: 752 bytes for a pid.
#[derive(Debug, Clone)]
pub(super) struct PidStats<const N: usize = PID_TIMELINE_POINTS> {
    pub(super) pid: u32,
    pub(super) allocations: u64,
    pub(super) allocated_bytes: u128,
    pub(super) reallocs: u64,
    pub(super) frees: u64,
    pub(super) freed_bytes: u128,
    pub(super) null_frees: u64,
    pub(super) failed: u64,
    pub(super) zero_null: u64,
    pub(super) unknown_frees: u64,
    pub(super) double_frees: u64,
    pub(super) allocated_twice: u64,
    pub(super) size_mismatches: u64,
    pub(super) mismatched_frees: u64,
    pub(super) live: Live<N>,
}

impl<const N: usize> PidStats<N> {
    pub(super) fn new(pid: u32) -> Self {
        PidStats {
            pid,
            allocations: 0,
            allocated_bytes: 0,
            reallocs: 0,
            frees: 0,
            freed_bytes: 0,
            null_frees: 0,
            failed: 0,
            zero_null: 0,
            unknown_frees: 0,
            double_frees: 0,
            allocated_twice: 0,
            size_mismatches: 0,
            mismatched_frees: 0,
            live: Live::new(),
        }
    }
}

/// Pids per chunk of the pid table.
pub(super) const PID_CHUNK: usize = 64;

/// The counters of every pid seen, in chunks (no growth by copying), found
/// through a map from pid to position, the last pid's position at hand
/// (the events of a trace mostly come from one pid at a time).
#[derive(Clone, Debug, Default)]
pub(super) struct Pids {
    pub(super) chunks: Vec<Vec<PidStats>>,
    pub(super) positions: HashMap<u32, u32>,
    /// The last pid looked up and its position.
    pub(super) last: Option<(u32, u32)>,
}

impl Pids {
    pub(super) fn get_mut(&mut self, pid: u32) -> &mut PidStats {
        let pos = self.position(pid);
        // Positions are handed out in order and each gets its entry when
        // handed out: the indexing cannot fail.
        &mut self.chunks[pos / PID_CHUNK][pos % PID_CHUNK]
    }

    /// The position of `pid` in the table (added if new).
    pub(super) fn position(&mut self, pid: u32) -> usize {
        match self.last {
            Some((last, pos)) if last == pid => pos as usize,
            _ => self.find_or_add(pid),
        }
    }

    /// The position of `pid`, added if new; remembered as the last.
    pub(super) fn find_or_add(&mut self, pid: u32) -> usize {
        let n = self.positions.len();
        let pos = *self.positions.entry(pid).or_insert(n as u32) as usize;
        if pos == n {
            if self.chunks.last().is_none_or(|c| c.len() == PID_CHUNK) {
                self.chunks.push(Vec::with_capacity(PID_CHUNK));
            }
            if let Some(c) = self.chunks.last_mut() {
                c.push(PidStats::new(pid));
            }
        }
        self.last = Some((pid, pos as u32));
        pos
    }
    pub(super) fn get(&self, pid: u32) -> Option<&PidStats> {
        let pos = *self.positions.get(&pid)? as usize;
        self.chunks.get(pos / PID_CHUNK)?.get(pos % PID_CHUNK)
    }

    pub(super) fn len(&self) -> usize {
        self.positions.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &PidStats> {
        self.chunks.iter().flatten()
    }

    /// Pids in increasing order, as positions for [`Pids::at`].
    pub(super) fn sorted(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by_key(|&p| self.at(p).map(|s| s.pid));
        order
    }

    pub(super) fn at(&self, pos: u32) -> Option<&PidStats> {
        let pos = pos as usize;
        self.chunks.get(pos / PID_CHUNK)?.get(pos % PID_CHUNK)
    }
}

/// A finding worth listing, in 72 bytes (`--top all` keeps every one):
/// where it happened (without the byte offset, which only the loss window
/// needs, when it is found), the pointer, and the other event involved,
/// of the same pid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Incident {
    pub(super) ts: u64,
    pub(super) record: u64,
    pub(super) ptr: u64,
    pub(super) other_ts: u64,
    pub(super) other_record: u64,
    pub(super) sizes_: [u64; 2],
    pub(super) pid: u32,
    pub(super) rule: u16,
    pub(super) other_rule: u16,
    pub(super) has_other: bool,
    pub(super) has_sizes: bool,
    /// Events lost near the records it depends on may explain it (see
    /// [`LOSS_WINDOW`]).
    pub(super) near_loss: bool,
}

impl Incident {
    /// A finding at `site` about `ptr`: `other` is the other event
    /// involved (the first free of a double free, the earlier allocation
    /// of a pointer allocated twice, the allocation of a block freed with
    /// another size or by another family), `sizes` the sizes involved (the
    /// earlier block's and the new one's, or the allocation's and the
    /// free's).
    pub(super) fn new(
        site: Site,
        ptr: u64,
        other: Option<Site>,
        sizes: Option<(u64, u64)>,
    ) -> Self {
        let o = other.unwrap_or(site);
        let (a, b) = sizes.unwrap_or_default();
        Incident {
            ts: site.ts,
            record: site.record,
            ptr,
            other_ts: o.ts,
            other_record: o.record,
            sizes_: [a, b],
            pid: site.pid,
            rule: site.rule,
            other_rule: o.rule,
            has_other: other.is_some(),
            has_sizes: sizes.is_some(),
            near_loss: false,
        }
    }

    /// Where it happened; the byte offset is not kept (0).
    pub(super) fn site(&self) -> Site {
        Site {
            ts: self.ts,
            pid: self.pid,
            record: self.record,
            offset: 0,
            rule: self.rule,
        }
    }

    /// The other event involved, if any (its byte offset is not kept).
    pub(super) fn other(&self) -> Option<Site> {
        self.has_other.then_some(Site {
            ts: self.other_ts,
            pid: self.pid,
            record: self.other_record,
            offset: 0,
            rule: self.other_rule,
        })
    }

    /// The sizes involved, if any.
    pub(super) fn sizes(&self) -> Option<(u64, u64)> {
        let [a, b] = self.sizes_;
        self.has_sizes.then_some((a, b))
    }
}

/// One kind of finding: how many, how many near lost events, the first
/// few in file order.
#[derive(Debug, Clone, Default)]
pub(super) struct Findings {
    pub(super) count: u64,
    pub(super) near_loss: u64,
    pub(super) first: Vec<Incident>,
}

impl Findings {
    /// Counts `incident` and keeps it if fewer than `keep` are kept;
    /// returns its index then.
    pub(super) fn add(&mut self, incident: Incident, keep: usize) -> Option<usize> {
        self.count += 1;
        self.near_loss += u64::from(incident.near_loss);
        if self.first.len() < keep {
            self.first.push(incident);
            return Some(self.first.len() - 1);
        }
        None
    }
}

/// The findings that lost events can explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LossProne {
    Unknown,
    Double,
    Twice,
}

/// A finding not yet near a loss, which a dropped-events record less than
/// [`LOSS_WINDOW`] bytes further on would put near one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) offset: u64,
    pub(super) kind: LossProne,
    /// Its index among the kept findings.
    pub(super) kept: Option<usize>,
}

/// Dropped-events records seen.
#[derive(Debug, Clone, Default)]
pub(super) struct Drops {
    pub(super) records: u64,
    pub(super) lost: u128,
    /// The first few (as many as the lists show): where, and how many
    /// events.
    pub(super) first: Vec<(Site, u64)>,
    pub(super) earliest: Option<Site>,
    pub(super) last: Option<Site>,
}

/// The correlation state: live blocks, freed pointers, counters.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    pub(super) keep: usize,
    pub(super) families: Vec<Option<Family>>,
    /// Live blocks and remembered freed pointers.
    pub(super) blocks: Blocks,
    pub(super) pids: Pids,
    pub(super) total: Live<TIMELINE_POINTS>,
    pub(super) unknown: Findings,
    pub(super) double: Findings,
    pub(super) twice: Findings,
    pub(super) size_mismatch: Findings,
    pub(super) mismatched: Findings,
    pub(super) drops: Drops,
    /// Offset of the last dropped-events record.
    pub(super) last_drop: Option<u64>,
    /// Findings of the last [`LOSS_WINDOW`] bytes not near a loss yet.
    pub(super) pending: VecDeque<Pending>,
    pub(super) lifetimes: Histogram,
    pub(super) sizes: Histogram,
    pub(super) events: u64,
    pub(super) min_ts: Option<u64>,
    pub(super) max_ts: Option<u64>,
}

impl Tracker {
    pub(super) fn new(keep: usize, free_history: usize) -> Self {
        Tracker {
            keep,
            families: Vec::new(),
            blocks: Blocks::new(free_history),
            pids: Pids::default(),
            total: Live::new(),
            unknown: Findings::default(),
            double: Findings::default(),
            twice: Findings::default(),
            size_mismatch: Findings::default(),
            mismatched: Findings::default(),
            drops: Drops::default(),
            last_drop: None,
            pending: VecDeque::new(),
            lifetimes: Histogram::new(Domain::Signed, Scale::Log2),
            sizes: Histogram::new(Domain::Unsigned, Scale::Log2),
            events: 0,
            min_ts: None,
            max_ts: None,
        }
    }

    pub(super) fn seen(&mut self, ts: u64) {
        self.events += 1;
        self.min_ts = Some(self.min_ts.map_or(ts, |m| m.min(ts)));
        self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
    }

    pub(super) fn stats(&mut self, pid: u32) -> &mut PidStats {
        self.pids.get_mut(pid)
    }

    pub(super) fn family(&self, rule: u16) -> Option<Family> {
        self.families.get(usize::from(rule)).copied().flatten()
    }

    /// Applies a net change of live memory to the pid's and the total.
    pub(super) fn change(&mut self, at: Site, added: (u128, u64), removed: (u128, u64)) {
        self.stats(at.pid).live.change(at, added, removed);
        self.total.change(at, added, removed);
    }

    /// An allocation returned `ptr` for `size` bytes (`None`: the rule
    /// gives no size).
    pub(super) fn alloc(&mut self, at: Site, ptr: u64, size: Option<u64>) -> Result<(), Full> {
        if ptr == 0 {
            // malloc(0) may return NULL (GLib's does); otherwise NULL
            // means the allocation failed.
            let s = self.stats(at.pid);
            if size == Some(0) {
                s.zero_null += 1;
            } else {
                s.failed += 1;
            }
            return Ok(());
        }
        let s = self.stats(at.pid);
        s.allocations += 1;
        s.allocated_bytes += u128::from(size.unwrap_or(0));
        if let Some(size) = size {
            self.sizes.record(size);
        }
        let block = Block {
            size: size.unwrap_or(0),
            sized: size.is_some(),
            born: at,
            moved: None,
            reallocs: 0,
        };
        let removed = self.place(at, ptr, block)?;
        self.change(at, (u128::from(block.size), 1), removed);
        Ok(())
    }

    /// Makes `block` live at `ptr`; returns the bytes and blocks of a block
    /// that was live there already (allocated twice: its free was missed).
    pub(super) fn place(&mut self, at: Site, ptr: u64, block: Block) -> Result<(u128, u64), Full> {
        let Some(previous) = self.blocks.put_live(ptr, &block)? else {
            return Ok((0, 0));
        };
        self.stats(at.pid).allocated_twice += 1;
        let earlier = previous.moved.unwrap_or(previous.born);
        let incident = Incident::new(at, ptr, Some(earlier), Some((previous.size, block.size)));
        // The free was missed after the last allocation of the block.
        self.loss_prone(LossProne::Twice, at, incident, Some(earlier.offset));
        Ok((u128::from(previous.size), 1))
    }

    /// A free of `ptr`, with the size the free was given, if any.
    pub(super) fn free(&mut self, at: Site, ptr: u64, size: Option<u64>) -> Result<(), Full> {
        if ptr == 0 {
            self.stats(at.pid).null_frees += 1;
            return Ok(());
        }
        self.stats(at.pid).frees += 1;
        let Some(block) = self.blocks.free_live(at.pid, ptr, at)? else {
            return self.bad_free(at, ptr);
        };
        self.end_block(at, ptr, &block, size);
        self.change(at, (0, 0), (u128::from(block.size), 1));
        Ok(())
    }

    /// The end of a live block: its lifetime and the checks a free makes.
    pub(super) fn end_block(&mut self, at: Site, ptr: u64, block: &Block, size: Option<u64>) {
        self.lifetimes
            .record_i64(at.ts.wrapping_sub(block.born.ts) as i64);
        self.stats(at.pid).freed_bytes += u128::from(block.size);
        if let Some(freed_size) = size
            && block.sized
            && freed_size != block.size
        {
            self.stats(at.pid).size_mismatches += 1;
            let incident = Incident::new(
                at,
                ptr,
                Some(block.moved.unwrap_or(block.born)),
                Some((block.size, freed_size)),
            );
            self.size_mismatch.add(incident, self.keep);
        }
        if let (Some(a), Some(f)) = (self.family(block.born.rule), self.family(at.rule))
            && a != f
        {
            self.stats(at.pid).mismatched_frees += 1;
            let incident = Incident::new(at, ptr, Some(block.born), None);
            self.mismatched.add(incident, self.keep);
        }
    }

    /// A free (or realloc) of a pointer that is not live: a double free if
    /// it was freed before and not allocated since, else unknown.
    pub(super) fn bad_free(&mut self, at: Site, ptr: u64) -> Result<(), Full> {
        match self.blocks.freed_at(at.pid, ptr) {
            Some(first) => {
                self.stats(at.pid).double_frees += 1;
                let incident = Incident::new(at, ptr, Some(first), None);
                // An allocation in between may have been lost.
                self.loss_prone(LossProne::Double, at, incident, Some(first.offset));
                Ok(())
            }
            None => {
                self.stats(at.pid).unknown_frees += 1;
                let incident = Incident::new(at, ptr, None, None);
                // The allocation may have been lost at any time before.
                self.loss_prone(LossProne::Unknown, at, incident, None);
                // Freeing it again would be a double free.
                self.blocks.remember_free(ptr, at)
            }
        }
    }

    /// A realloc of `old` to `size` bytes that returned `new`.
    pub(super) fn realloc(&mut self, at: Site, old: u64, new: u64, size: u64) -> Result<(), Full> {
        if old == 0 {
            // realloc(NULL, n) is malloc(n).
            return self.alloc(at, new, Some(size));
        }
        if new == 0 {
            if size == 0 {
                // realloc(p, 0) returning NULL freed p (glibc, GLib).
                return self.free(at, old, None);
            }
            // A failed realloc leaves p allocated.
            self.stats(at.pid).failed += 1;
            return Ok(());
        }
        self.stats(at.pid).reallocs += 1;
        self.sizes.record(size);
        // A block that moves leaves its old pointer freed (in the entry it
        // had); one that stays is taken out and put back.
        let taken = if old != new {
            self.blocks.free_live(at.pid, old, at)?
        } else {
            self.blocks.take_live(at.pid, old)
        };
        let (mut block, removed_old) = match taken {
            Some(b) => (b, (u128::from(b.size), 1)),
            None => {
                // Reallocating what was never allocated (or was freed):
                // the new block starts a chain of its own.
                self.bad_free(at, old)?;
                if old != new {
                    self.blocks.remember_free(old, at)?;
                }
                let fresh = Block {
                    size,
                    sized: true,
                    born: at,
                    moved: None,
                    reallocs: 0,
                };
                (fresh, (0, 0))
            }
        };
        if block.born != at {
            block.reallocs += 1;
            block.moved = Some(at);
        }
        block.size = size;
        block.sized = true;
        let removed_new = self.place(at, new, block)?;
        self.change(
            at,
            (u128::from(size), 1),
            (removed_old.0 + removed_new.0, removed_old.1 + removed_new.1),
        );
        Ok(())
    }

    /// A dropped-events record: `count` events were lost.
    pub(super) fn dropped(&mut self, at: Site, count: u64) {
        self.drops.records += 1;
        self.drops.lost += u128::from(count);
        if self.drops.first.len() < self.keep {
            self.drops.first.push((at, count));
        }
        self.drops.earliest.get_or_insert(at);
        self.drops.last = Some(at);
        self.last_drop = Some(at.offset);
        // What remains pending is within the window before this record.
        self.expire(at.offset);
        while let Some(p) = self.pending.pop_front() {
            let findings = self.findings_mut(p.kind);
            findings.near_loss += 1;
            if let Some(i) = p.kept.and_then(|i| findings.first.get_mut(i)) {
                i.near_loss = true;
            }
        }
    }

    pub(super) fn findings_mut(&mut self, kind: LossProne) -> &mut Findings {
        match kind {
            LossProne::Unknown => &mut self.unknown,
            LossProne::Double => &mut self.double,
            LossProne::Twice => &mut self.twice,
        }
    }

    /// Whether events lost since offset `since` (`None`: since the start)
    /// and reported by a dropped-events record seen so far may explain a
    /// finding.
    pub(super) fn near_past_loss(&self, since: Option<u64>) -> bool {
        self.last_drop
            .is_some_and(|r| since.is_none_or(|a| r.saturating_add(LOSS_WINDOW) > a))
    }

    /// Counts a finding that events lost since `since` would explain; if no
    /// loss seen so far does, a dropped-events record in the next
    /// [`LOSS_WINDOW`] bytes will.
    pub(super) fn loss_prone(
        &mut self,
        kind: LossProne,
        at: Site,
        mut incident: Incident,
        since: Option<u64>,
    ) {
        incident.near_loss = self.near_past_loss(since);
        let keep = self.keep;
        let kept = self.findings_mut(kind).add(incident, keep);
        if !incident.near_loss {
            self.expire(at.offset);
            self.pending.push_back(Pending {
                offset: at.offset,
                kind,
                kept,
            });
        }
    }

    /// Forgets pending findings too far before `offset` for a loss there.
    pub(super) fn expire(&mut self, offset: u64) {
        while self
            .pending
            .front()
            .is_some_and(|p| p.offset.saturating_add(LOSS_WINDOW) <= offset)
        {
            self.pending.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tracker with rule 0 of family QemuVfree, rule 1 of AnonRam, rule 2
    /// of none.
    fn tracker(keep: usize, history: usize) -> Tracker {
        let mut t = Tracker::new(keep, history);
        t.families = vec![Some(Family::QemuVfree), Some(Family::AnonRam), None];
        t
    }

    /// Record `n` of pid `pid` at `ts`, of rule `rule`, at offset 100 * n.
    fn at(n: u64, ts: u64, pid: u32, rule: u16) -> Site {
        Site {
            ts,
            pid,
            record: n,
            offset: 100 * n,
            rule,
        }
    }

    #[test]
    fn alloc_free_lifetimes_and_live_bytes() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 1000, 1, 0), 0xa0, Some(100)).unwrap();
        t.alloc(at(2, 1500, 1, 0), 0xb0, Some(50)).unwrap();
        t.free(at(3, 1400, 1, 0), 0xa0, None).unwrap(); // lived 400
        t.free(at(4, 1450, 1, 0), 0xb0, None).unwrap(); // -50: the clock stepped back
        t.free(at(5, 1600, 1, 0), 0, None).unwrap();
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.allocations, s.allocated_bytes), (2, 150));
        assert_eq!((s.frees, s.freed_bytes, s.null_frees), (2, 150, 1));
        assert_eq!(t.lifetimes.count(), 2);
        assert_eq!(
            (t.lifetimes.min(), t.lifetimes.max()),
            (Some(-50), Some(400))
        );
        assert_eq!(
            t.total.peak(),
            Some(Peak {
                bytes: 150,
                blocks: 2,
                ts: 1500,
                pid: 1,
                record: 2
            })
        );
        assert_eq!((t.total.bytes, t.total.blocks), (0, 0));
        let ends: Vec<u128> = t.total.timeline.points().iter().map(|p| p.end).collect();
        assert_eq!(ends, [100, 150, 50, 0]);
        assert_eq!(t.blocks.live_len(), 0);
    }

    #[test]
    fn double_unknown_and_null() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 10, 1, 0), 0xa0, Some(8)).unwrap();
        t.free(at(2, 20, 1, 0), 0xa0, None).unwrap();
        t.free(at(3, 30, 1, 0), 0xa0, None).unwrap(); // double
        t.free(at(4, 40, 1, 0), 0xa0, None).unwrap(); // double again, same first free
        t.free(at(5, 50, 1, 0), 0xc0, None).unwrap(); // unknown
        t.free(at(6, 60, 1, 0), 0xc0, None).unwrap(); // now a double free
        t.free(at(7, 70, 2, 0), 0xa0, None).unwrap(); // another pid: unknown
        t.alloc(at(8, 80, 1, 0), 0xa0, Some(8)).unwrap(); // reallocated: forgotten
        t.free(at(9, 90, 1, 0), 0xa0, None).unwrap(); // a plain free
        assert_eq!(
            (
                t.pids.get(1).unwrap().double_frees,
                t.pids.get(1).unwrap().unknown_frees
            ),
            (3, 1)
        );
        assert_eq!(
            (
                t.pids.get(2).unwrap().double_frees,
                t.pids.get(2).unwrap().unknown_frees
            ),
            (0, 1)
        );
        assert_eq!(t.pids.get(1).unwrap().frees, 6);
        let firsts: Vec<(u64, Option<u64>)> = t
            .double
            .first
            .iter()
            .map(|i| (i.record, i.other().map(|o| o.record)))
            .collect();
        assert_eq!(firsts, [(3, Some(2)), (4, Some(2)), (6, Some(5))]);
        let unknown: Vec<(u64, u32)> = t.unknown.first.iter().map(|i| (i.record, i.pid)).collect();
        assert_eq!(unknown, [(5, 1), (7, 2)]);
        assert_eq!(t.lifetimes.count(), 2);
    }

    #[test]
    fn null_results_and_allocated_twice() {
        let mut t = tracker(1, 100);
        t.alloc(at(1, 10, 1, 0), 0, Some(0)).unwrap();
        t.alloc(at(2, 20, 1, 0), 0, Some(64)).unwrap();
        t.alloc(at(3, 30, 1, 0), 0, None).unwrap();
        t.alloc(at(4, 40, 1, 0), 0xa0, Some(10)).unwrap();
        t.alloc(at(5, 50, 1, 0), 0xa0, Some(30)).unwrap(); // twice: the 10 go
        t.alloc(at(6, 60, 1, 0), 0xa0, Some(5)).unwrap(); // twice again, not kept
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.zero_null, s.failed, s.allocations), (1, 2, 3));
        assert_eq!((t.twice.count, t.twice.first.len()), (2, 1));
        let i = t.twice.first[0];
        assert_eq!(
            (i.record, i.other().map(|o| o.record), i.sizes()),
            (5, Some(4), Some((10, 30)))
        );
        assert_eq!((t.total.bytes, t.total.blocks), (5, 1));
        assert_eq!(t.total.peak().map(|p| (p.bytes, p.record)), Some((30, 5)));
        // The dropped block's lifetime is unknown: none recorded.
        assert!(t.lifetimes.is_empty());
    }

    #[test]
    fn realloc_chains() {
        let mut t = tracker(10, 100);
        t.realloc(at(1, 100, 1, 2), 0, 0xa0, 10).unwrap(); // realloc(NULL, 10): malloc
        t.realloc(at(2, 200, 1, 2), 0xa0, 0xb0, 20).unwrap(); // moves
        t.realloc(at(3, 300, 1, 2), 0xb0, 0xb0, 40).unwrap(); // grows in place
        t.realloc(at(4, 400, 1, 2), 0xb0, 0, 80).unwrap(); // fails: stays
        t.free(at(5, 500, 1, 2), 0xa0, None).unwrap(); // the old address: a double free
        let b = t.blocks.live(1, 0xb0).unwrap();
        assert_eq!((b.size, b.reallocs, b.born.record), (40, 2, 1));
        assert_eq!(b.moved.map(|m| m.record), Some(3));
        t.realloc(at(6, 600, 1, 2), 0xb0, 0, 0).unwrap(); // realloc(p, 0): frees
        let s = t.pids.get(1).unwrap();
        assert_eq!(
            (s.allocations, s.reallocs, s.failed, s.frees, s.double_frees),
            (1, 2, 1, 2, 1)
        );
        // One lifetime, from the first allocation of the chain.
        assert_eq!((t.lifetimes.count(), t.lifetimes.max()), (1, Some(500)));
        assert_eq!(s.freed_bytes, 40);
        assert_eq!(t.blocks.live_len(), 0);
        let ends: Vec<u128> = t.total.timeline.points().iter().map(|p| p.end).collect();
        assert_eq!(ends, [10, 20, 40, 0]);
        // Sizes: 10, 20, 40 (not the failed call's).
        assert_eq!((t.sizes.count(), t.sizes.sum()), (3, 70));
    }

    #[test]
    fn realloc_of_unknown_pointers_and_onto_live_ones() {
        let mut t = tracker(10, 100);
        t.realloc(at(1, 100, 1, 2), 0xa0, 0xb0, 16).unwrap(); // unknown old: new chain at b0
        t.alloc(at(2, 200, 1, 2), 0xc0, Some(8)).unwrap();
        t.realloc(at(3, 300, 1, 2), 0xb0, 0xc0, 32).unwrap(); // onto a live block: twice
        t.realloc(at(4, 400, 1, 2), 0, 0, 0).unwrap(); // realloc(NULL, 0) returning NULL
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.unknown_frees, s.allocated_twice, s.zero_null), (1, 1, 1));
        assert_eq!((s.reallocs, s.allocations), (2, 1));
        let b = t.blocks.live(1, 0xc0).unwrap();
        assert_eq!((b.size, b.born.record, b.reallocs), (32, 1, 1));
        assert_eq!((t.total.bytes, t.total.blocks), (32, 1));
        assert_eq!(t.blocks.live_len(), 1);
    }

    #[test]
    fn sizes_and_families_are_checked_on_free() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 10, 1, 1), 0xa0, Some(4096)).unwrap();
        t.free(at(2, 20, 1, 1), 0xa0, Some(8192)).unwrap(); // same family, other size
        t.alloc(at(3, 30, 1, 1), 0xb0, Some(4096)).unwrap();
        t.free(at(4, 40, 1, 0), 0xb0, None).unwrap(); // anon RAM given to qemu_vfree
        t.alloc(at(5, 50, 1, 2), 0xc0, None).unwrap(); // a user rule: no size
        t.free(at(6, 60, 1, 1), 0xc0, Some(1)).unwrap(); // unsized, no family: fine
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.size_mismatches, s.mismatched_frees), (1, 1));
        assert_eq!(t.size_mismatch.first[0].sizes(), Some((4096, 8192)));
        assert_eq!(t.mismatched.first[0].other().map(|o| o.rule), Some(1));
        assert_eq!(s.freed_bytes, 8192);
        // The unsized block counts no bytes and no size sample.
        assert_eq!((s.allocated_bytes, t.sizes.count()), (8192, 2));
    }

    #[test]
    fn free_history_forgets_the_oldest() {
        let mut t = tracker(10, 2);
        for (n, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
            t.alloc(at(n as u64, 10, 1, 0), p, Some(1)).unwrap();
        }
        for (n, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
            t.free(at(10 + n as u64, 20, 1, 0), p, None).unwrap();
        }
        assert_eq!(t.blocks.forgotten(), 1);
        t.free(at(20, 30, 1, 0), 0xa0, None).unwrap(); // forgotten: unknown
        t.free(at(21, 30, 1, 0), 0xc0, None).unwrap(); // remembered: double
        assert_eq!((t.unknown.count, t.double.count), (1, 1));
        // A long run of reallocated pointers leaves the queue bounded.
        for i in 0..10_000u64 {
            t.alloc(at(100 + i, 40, 1, 0), 0x1000 + i % 7, Some(1))
                .unwrap();
            t.free(at(100 + i, 40, 1, 0), 0x1000 + i % 7, None).unwrap();
        }
        assert!(t.blocks.freed_len() <= 2);
        assert!(t.blocks.queue_len() <= 96 + 1, "{}", t.blocks.queue_len());
        let mut none = tracker(10, 0);
        none.alloc(at(1, 1, 1, 0), 0xa0, Some(1)).unwrap();
        none.free(at(2, 2, 1, 0), 0xa0, None).unwrap();
        none.free(at(3, 3, 1, 0), 0xa0, None).unwrap();
        assert_eq!(
            (
                none.unknown.count,
                none.double.count,
                none.blocks.forgotten()
            ),
            (1, 0, 2)
        );
    }

    #[test]
    fn losses_are_placed_within_the_window() {
        let w = LOSS_WINDOW;
        let site = |offset: u64| Site {
            ts: offset,
            pid: 1,
            record: offset,
            offset,
            rule: 0,
        };
        let mut t = tracker(10, 100);
        // An unknown free, then a loss reported within the window after it:
        // the loss may have come before the free.
        t.free(site(1000), 0xa0, None).unwrap();
        t.dropped(site(1000 + w - 1), 5);
        assert_eq!((t.unknown.count, t.unknown.near_loss), (1, 1));
        assert!(t.unknown.first[0].near_loss);
        // An unknown free after a loss: near it, whatever the distance.
        t.free(site(10 * w), 0xb0, None).unwrap();
        assert_eq!(t.unknown.near_loss, 2);
        // A block allocated twice, both well after the last loss, and a
        // loss reported more than a window later: not near.
        t.alloc(site(20 * w), 0xc0, Some(1)).unwrap();
        t.alloc(site(20 * w + 10), 0xc0, Some(1)).unwrap();
        t.dropped(site(21 * w + 10), 1);
        assert_eq!((t.twice.count, t.twice.near_loss), (1, 0));
        // A double free whose first free is within a window after a loss.
        t.alloc(site(30 * w), 0xd0, Some(1)).unwrap();
        t.free(site(30 * w + 1), 0xd0, None).unwrap();
        t.dropped(site(31 * w), 1);
        t.free(site(31 * w + 2), 0xd0, None).unwrap();
        assert_eq!((t.double.count, t.double.near_loss), (1, 1));
        // Leaks: allocated before the last loss's window ends.
        assert!(t.near_past_loss(Some(31 * w + w - 1)));
        assert!(!t.near_past_loss(Some(32 * w)));
        assert_eq!((t.drops.records, t.drops.lost), (3, 7));
    }

    #[test]
    fn timelines_stay_bounded_and_keep_extremes() {
        let mut tl = Timeline::<TIMELINE_POINTS>::new();
        // 0, 1, ..., 999 then back to 0.
        for i in 0..1000u64 {
            tl.record(i, u128::from(i));
        }
        tl.record(1000, 0);
        let points = tl.points();
        assert!(points.len() <= TIMELINE_POINTS && points.len() >= TIMELINE_POINTS / 2);
        let changes: u64 = points.iter().map(|p| p.changes).sum();
        assert_eq!(changes, 1001);
        assert_eq!(points.iter().map(|p| p.max).max(), Some(999));
        assert_eq!(points.first().map(|p| (p.first_ts, p.min)), Some((0, 0)));
        assert_eq!(points.last().map(|p| (p.last_ts, p.end)), Some((1000, 0)));
        // Consecutive points cover consecutive changes.
        for pair in points.windows(2) {
            assert_eq!(pair[0].last_ts + 1, pair[1].first_ts);
        }
    }

    #[test]
    fn pid_timelines_are_shorter_than_the_total() {
        let mut t = tracker(10, 100);
        for i in 0..1000u64 {
            t.alloc(at(i, i, 1 + (i % 2) as u32, 0), 0x1000 + i, Some(8))
                .unwrap();
        }
        for pid in [1, 2] {
            let points = t.pids.get(pid).unwrap().live.timeline.points();
            assert!(
                (PID_TIMELINE_POINTS / 2..=PID_TIMELINE_POINTS).contains(&points.len()),
                "{}",
                points.len()
            );
            assert_eq!(points.iter().map(|p| p.changes).sum::<u64>(), 500);
            assert_eq!(points.last().map(|p| p.end), Some(500 * 8));
        }
        let total = t.total.timeline.points();
        assert!(total.len() > PID_TIMELINE_POINTS && total.len() <= TIMELINE_POINTS);
    }

    #[test]
    fn findings_and_pids_stay_small() {
        assert_eq!(std::mem::size_of::<Incident>(), 72);
        // The timeline's points inline, 64 bytes each.
        assert_eq!(std::mem::size_of::<Run>(), 64);
        assert_eq!(std::mem::size_of::<Timeline<PID_TIMELINE_POINTS>>(), 544);
        assert_eq!(std::mem::size_of::<PidStats>(), 752);
    }
}
