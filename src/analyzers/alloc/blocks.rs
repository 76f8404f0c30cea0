//! The blocks `alloc` knows of, live ones and remembered freed pointers, in
//! one compact table keyed by (pid, pointer).
//!
//! Each entry is 56 bytes in a slab of fixed-size chunks (no per-entry heap
//! allocation, no growth by copying); an open-addressing index of 8-byte
//! slots (the high 32 bits of the key's hash and the entry's slab position,
//! at most three quarters full) finds it: 67 to 77 bytes per entry between
//! two growths of the index, 88 while it doubles. The hash bits in a slot
//! give its home slot, so that removing a slot and growing the index never
//! read the slab. A realloc chain's last move (32 bytes) goes to a side
//! table, only for blocks that moved. Freed pointers stay in the entry
//! their block had (a free turns it from live to freed in place), in free
//! order behind a queue of 12 bytes each (up to one and a half times the
//! history, stale entries included), bounded by the free history.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use super::{Block, Site};

/// Entries per slab chunk.
const CHUNK: usize = 1 << 12;

/// An index slot with no entry.
const EMPTY: u64 = u64::MAX;

/// The most entries the table holds: three quarters of an index of 2^32
/// slots, so that a slot's 32 hash bits always hold its home slot (and
/// slab positions fit a `u32`, `u32::MAX` being no position).
pub(super) const MAX_ENTRIES: usize = 3 << 30;

/// The most freed pointers remembered, whatever the history asked for.
const MAX_HISTORY: usize = 1 << 30;

/// The table is full: more than [`MAX_ENTRIES`] live blocks and
/// remembered freed pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

const LIVE: u8 = 1;
const FREED: u8 = 2;
const SIZED: u8 = 4;

/// One live block or freed pointer. Vacant entries link the slab's free
/// list through `ptr`.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    ptr: u64,
    /// Live: the block's size; freed: the generation of the free, which
    /// tells it from older entries of the free queue.
    size_or_generation: u64,
    /// Live: the allocation that started the realloc chain; freed: the
    /// free.
    ts: u64,
    record: u64,
    offset: u64,
    pid: u32,
    reallocs: u32,
    /// The last realloc of a live block: its position in the side table,
    /// or `u32::MAX`.
    moved: u32,
    rule: u16,
    /// `LIVE`, `FREED` (or neither: vacant), and `SIZED`.
    flags: u8,
}

impl Entry {
    fn site(&self) -> Site {
        Site {
            ts: self.ts,
            pid: self.pid,
            record: self.record,
            offset: self.offset,
            rule: self.rule,
        }
    }

    fn set_site(&mut self, s: Site) {
        self.ts = s.ts;
        self.pid = s.pid;
        self.record = s.record;
        self.offset = s.offset;
        self.rule = s.rule;
    }
}

/// A realloc's site, without the pid (the block's).
#[derive(Debug, Clone, Copy, Default)]
struct Moved {
    ts: u64,
    record: u64,
    offset: u64,
    rule: u16,
}

/// A freed entry's place in the free queue: its slab position and the
/// generation of its free (the whole `u64`, in two halves so that it takes
/// 12 bytes). An entry can stay current for any number of frees (a pointer
/// freed and never allocated again), so no part of the generation can be
/// dropped: it tells the free from any later one at the same position.
#[derive(Debug, Clone, Copy)]
struct Queued {
    pos: u32,
    generation: [u32; 2],
}

impl Queued {
    fn new(pos: u32, generation: u64) -> Self {
        Queued {
            pos,
            generation: [generation as u32, (generation >> 32) as u32],
        }
    }

    fn generation(&self) -> u64 {
        let [low, high] = self.generation;
        u64::from(low) | (u64::from(high) << 32)
    }
}

/// Live blocks and remembered freed pointers.
#[derive(Clone, Debug)]
pub(super) struct Blocks {
    chunks: Vec<Box<[Entry]>>,
    /// Slab positions used so far (vacant ones included).
    used: usize,
    /// The first vacant position, `u32::MAX` for none.
    vacant: u32,
    /// Open addressing, linear probing: `hash >> 32 << 32 | position`.
    index: Vec<u64>,
    /// Entries in the index.
    entries: usize,
    /// [`MAX_ENTRIES`] (smaller in tests).
    max_entries: usize,
    seeds: [u64; 2],
    moved: Vec<Moved>,
    moved_vacant: Vec<u32>,
    live: usize,
    freed: usize,
    /// Freed entries oldest first, with the generation of their free;
    /// entries whose generation no longer matches are stale.
    queue: VecDeque<Queued>,
    history: usize,
    generation: u64,
    forgotten: u64,
}

/// Mixes two words into one (a folded 128-bit multiply).
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Blocks {
    /// A table remembering up to `history` freed pointers.
    pub(super) fn new(history: usize) -> Self {
        // Seeds from the standard library's per-process random keys, so
        // that a crafted trace cannot pick colliding pointers.
        let random = |n: u64| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.finish()
        };
        Blocks {
            chunks: Vec::new(),
            used: 0,
            vacant: u32::MAX,
            index: Vec::new(),
            entries: 0,
            max_entries: MAX_ENTRIES,
            seeds: [random(1) | 1, random(2)],
            moved: Vec::new(),
            moved_vacant: Vec::new(),
            live: 0,
            freed: 0,
            queue: VecDeque::new(),
            history: history.min(MAX_HISTORY),
            generation: 0,
            forgotten: 0,
        }
    }

    #[inline]
    fn hash(&self, pid: u32, ptr: u64) -> u64 {
        let [a, b] = self.seeds;
        fold(
            fold(ptr ^ b, 0x9e37_79b9_7f4a_7c15 ^ a) ^ u64::from(pid),
            a ^ 0xa076_1d64_78bd_642f,
        )
    }

    fn entry(&self, pos: u32) -> Option<&Entry> {
        let pos = pos as usize;
        self.chunks.get(pos / CHUNK)?.get(pos % CHUNK)
    }

    fn entry_mut(&mut self, pos: u32) -> Option<&mut Entry> {
        let pos = pos as usize;
        self.chunks.get_mut(pos / CHUNK)?.get_mut(pos % CHUNK)
    }

    /// The index slot where probing starts for a key whose hash has `tag`
    /// as its high 32 bits (an index has at most 2^32 slots: see
    /// [`MAX_ENTRIES`]).
    #[inline]
    fn home(&self, tag: u32) -> usize {
        let bits = self.index.len().trailing_zeros();
        if bits == 0 {
            0
        } else {
            (tag >> (32 - bits.min(32))) as usize
        }
    }

    /// The hash bits an index slot keeps of a key: the high 32.
    #[inline]
    fn tag(hash: u64) -> u32 {
        (hash >> 32) as u32
    }

    /// The index slot holding `(pid, ptr)` and its slab position.
    fn find(&self, pid: u32, ptr: u64) -> Option<(usize, u32)> {
        if self.index.is_empty() {
            return None;
        }
        let tag = Self::tag(self.hash(pid, ptr));
        let mask = self.index.len() - 1;
        let mut i = self.home(tag);
        loop {
            let slot = *self.index.get(i)?;
            if slot == EMPTY {
                return None;
            }
            if (slot >> 32) as u32 == tag {
                let pos = slot as u32;
                if let Some(e) = self.entry(pos)
                    && e.ptr == ptr
                    && e.pid == pid
                {
                    return Some((i, pos));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `pos`, whose key's hash has `tag` as its high bits, in the
    /// index (which has room and does not hold the key).
    fn index_insert(&mut self, tag: u32, pos: u32) {
        let mask = self.index.len() - 1;
        let mut i = self.home(tag);
        while let Some(slot) = self.index.get_mut(i) {
            if *slot == EMPTY {
                *slot = (u64::from(tag) << 32) | u64::from(pos);
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes index slot `i`, shifting back the entries of its cluster
    /// that probing would no longer reach (no tombstones). Each slot's
    /// home comes from its own hash bits: the slab is not read.
    fn index_remove(&mut self, mut i: usize) {
        let mask = self.index.len() - 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let Some(&slot) = self.index.get(j) else {
                return;
            };
            if slot == EMPTY {
                break;
            }
            let home = self.home((slot >> 32) as u32);
            // The entry at j may fill i if its home is not cyclically in
            // (i, j].
            let in_between = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !in_between {
                if let Some(s) = self.index.get_mut(i) {
                    *s = slot;
                }
                i = j;
            }
        }
        if let Some(s) = self.index.get_mut(i) {
            *s = EMPTY;
        }
        self.entries -= 1;
    }

    /// Makes room in the index for one more entry.
    fn reserve_one(&mut self) -> Result<(), Full> {
        if self.entries >= self.max_entries {
            return Err(Full);
        }
        if (self.entries + 1) * 4 <= self.index.len() * 3 {
            return Ok(());
        }
        let size = (self.index.len() * 2).max(16);
        let old = std::mem::replace(&mut self.index, vec![EMPTY; size]);
        for slot in old {
            if slot != EMPTY {
                self.index_insert((slot >> 32) as u32, slot as u32);
            }
        }
        Ok(())
    }

    /// A vacant slab position, holding `entry`.
    fn allocate(&mut self, entry: Entry) -> Result<u32, Full> {
        if self.vacant != u32::MAX {
            let pos = self.vacant;
            if let Some(e) = self.entry_mut(pos) {
                let next = e.ptr as u32;
                *e = entry;
                self.vacant = next;
                return Ok(pos);
            }
        }
        if self.used >= self.max_entries {
            return Err(Full);
        }
        if self.used == self.chunks.len() * CHUNK {
            self.chunks
                .push(vec![Entry::default(); CHUNK].into_boxed_slice());
        }
        let pos = self.used as u32;
        self.used += 1;
        if let Some(e) = self.entry_mut(pos) {
            *e = entry;
        }
        Ok(pos)
    }

    /// Inserts a new entry for a key the table does not hold.
    fn insert(&mut self, entry: Entry) -> Result<u32, Full> {
        self.reserve_one()?;
        let tag = Self::tag(self.hash(entry.pid, entry.ptr));
        let pos = self.allocate(entry)?;
        self.index_insert(tag, pos);
        self.entries += 1;
        Ok(pos)
    }

    /// Drops the entry at index slot `i`, slab position `pos`.
    fn remove(&mut self, i: usize, pos: u32) {
        self.index_remove(i);
        let vacant = self.vacant;
        let mut moved = None;
        if let Some(e) = self.entry_mut(pos) {
            if e.flags & LIVE != 0 && e.moved != u32::MAX {
                moved = Some(e.moved);
            }
            *e = Entry {
                ptr: u64::from(vacant),
                ..Entry::default()
            };
        }
        if let Some(m) = moved {
            self.moved_vacant.push(m);
        }
        self.vacant = pos;
    }

    fn block_of(&self, e: &Entry) -> Block {
        let moved = (e.moved != u32::MAX)
            .then(|| self.moved.get(e.moved as usize))
            .flatten()
            .map(|m| Site {
                ts: m.ts,
                pid: e.pid,
                record: m.record,
                offset: m.offset,
                rule: m.rule,
            });
        Block {
            size: e.size_or_generation,
            sized: e.flags & SIZED != 0,
            born: e.site(),
            moved,
            reallocs: e.reallocs,
        }
    }

    /// Sets entry `pos` to the live block `b`.
    fn set_live(&mut self, pos: u32, b: &Block) {
        let keep_moved = self
            .entry(pos)
            .filter(|e| e.flags & LIVE != 0)
            .map_or(u32::MAX, |e| e.moved);
        let moved = match (b.moved, keep_moved) {
            (None, u32::MAX) => u32::MAX,
            (None, m) => {
                self.moved_vacant.push(m);
                u32::MAX
            }
            (Some(s), m) => {
                let site = Moved {
                    ts: s.ts,
                    record: s.record,
                    offset: s.offset,
                    rule: s.rule,
                };
                let m = if m != u32::MAX {
                    Some(m)
                } else {
                    self.moved_vacant.pop()
                };
                match m.and_then(|m| self.moved.get_mut(m as usize).map(|slot| (m, slot))) {
                    Some((m, slot)) => {
                        *slot = site;
                        m
                    }
                    None => {
                        self.moved.push(site);
                        (self.moved.len() - 1) as u32
                    }
                }
            }
        };
        if let Some(e) = self.entry_mut(pos) {
            e.set_site(b.born);
            e.size_or_generation = b.size;
            e.reallocs = b.reallocs;
            e.moved = moved;
            e.flags = LIVE | if b.sized { SIZED } else { 0 };
        }
    }

    /// Makes `b` live at `(pid, ptr)`, forgetting a free of it; returns the
    /// block live there before, if any.
    pub(super) fn put_live(&mut self, ptr: u64, b: &Block) -> Result<Option<Block>, Full> {
        let pid = b.born.pid;
        match self.find(pid, ptr) {
            Some((_, pos)) => {
                let Some(e) = self.entry(pos).copied() else {
                    return Ok(None);
                };
                let previous = if e.flags & LIVE != 0 {
                    Some(self.block_of(&e))
                } else {
                    self.freed -= 1;
                    self.live += 1;
                    None
                };
                self.set_live(pos, b);
                Ok(previous)
            }
            None => {
                let pos = self.insert(Entry {
                    ptr,
                    pid,
                    moved: u32::MAX,
                    ..Entry::default()
                })?;
                self.set_live(pos, b);
                self.live += 1;
                Ok(None)
            }
        }
    }

    /// Takes the live block at `(pid, ptr)` out of the table.
    pub(super) fn take_live(&mut self, pid: u32, ptr: u64) -> Option<Block> {
        let (i, pos) = self.find(pid, ptr)?;
        let e = *self.entry(pos)?;
        if e.flags & LIVE == 0 {
            return None;
        }
        let b = self.block_of(&e);
        self.remove(i, pos);
        self.live -= 1;
        Some(b)
    }

    /// Frees the live block at `(pid, ptr)`: returns it, and remembers the
    /// free at `at` (which has its pid) in the entry the block had, found
    /// once (as [`Blocks::take_live`] then [`Blocks::remember_free`] would,
    /// in one lookup). `None`, changing nothing, when no block is live
    /// there.
    pub(super) fn free_live(
        &mut self,
        pid: u32,
        ptr: u64,
        at: Site,
    ) -> Result<Option<Block>, Full> {
        let Some((i, pos)) = self.find(pid, ptr) else {
            return Ok(None);
        };
        let Some(e) = self.entry(pos).copied().filter(|e| e.flags & LIVE != 0) else {
            return Ok(None);
        };
        let b = self.block_of(&e);
        self.live -= 1;
        if self.history == 0 {
            self.remove(i, pos);
            self.forgotten += 1;
            return Ok(Some(b));
        }
        if e.moved != u32::MAX {
            self.moved_vacant.push(e.moved);
        }
        self.set_freed(pos, ptr, at);
        self.freed += 1;
        self.forget_oldest();
        Ok(Some(b))
    }

    /// The live block at `(pid, ptr)`.
    #[cfg(test)]
    pub(super) fn live(&self, pid: u32, ptr: u64) -> Option<Block> {
        let (_, pos) = self.find(pid, ptr)?;
        let e = self.entry(pos)?;
        (e.flags & LIVE != 0).then(|| self.block_of(e))
    }

    /// Where `(pid, ptr)` was freed, if that is remembered and it was not
    /// allocated since.
    pub(super) fn freed_at(&self, pid: u32, ptr: u64) -> Option<Site> {
        let (_, pos) = self.find(pid, ptr)?;
        let e = self.entry(pos)?;
        (e.flags & FREED != 0).then(|| e.site())
    }

    /// Sets entry `pos` to the freed pointer `ptr`, freed at `at`, with the
    /// next generation, at the back of the free queue.
    fn set_freed(&mut self, pos: u32, ptr: u64, at: Site) {
        self.generation += 1;
        let generation = self.generation;
        if let Some(e) = self.entry_mut(pos) {
            *e = Entry {
                ptr,
                size_or_generation: generation,
                moved: u32::MAX,
                flags: FREED,
                ..Entry::default()
            };
            e.set_site(at);
        }
        self.queue.push_back(Queued::new(pos, generation));
    }

    /// Remembers that `ptr` was freed at `at` (which has its pid),
    /// forgetting the oldest freed pointer when more than the history
    /// are remembered.
    pub(super) fn remember_free(&mut self, ptr: u64, at: Site) -> Result<(), Full> {
        if self.history == 0 {
            self.forgotten += 1;
            return Ok(());
        }
        let pos = match self.find(at.pid, ptr) {
            Some((_, pos)) => {
                // Freed already: the newer free replaces the older. (The
                // callers free a live block through `free_live`; were one
                // still there, it would end here.)
                if let Some(e) = self.entry(pos).copied()
                    && e.flags & LIVE != 0
                {
                    if e.moved != u32::MAX {
                        self.moved_vacant.push(e.moved);
                    }
                    self.live -= 1;
                    self.freed += 1;
                }
                pos
            }
            None => {
                let pos = self.insert(Entry {
                    ptr,
                    pid: at.pid,
                    moved: u32::MAX,
                    ..Entry::default()
                })?;
                self.freed += 1;
                pos
            }
        };
        self.set_freed(pos, ptr, at);
        self.forget_oldest();
        Ok(())
    }

    /// Forgets the oldest freed pointers while more than the history are
    /// remembered, and drops the free queue's stale entries (left by
    /// pointers allocated again) once they are a third of it, so that it
    /// stays bounded too.
    fn forget_oldest(&mut self) {
        while self.freed > self.history {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            if let Some(e) = self.current(q) {
                if let Some((i, _)) = self.find(e.pid, e.ptr) {
                    self.remove(i, q.pos);
                }
                self.freed -= 1;
                self.forgotten += 1;
            }
        }
        let limit = self.history.max(64);
        if self.queue.len() > limit + limit / 2 {
            let mut queue = std::mem::take(&mut self.queue);
            queue.retain(|&q| self.current(q).is_some());
            self.queue = queue;
        }
    }

    /// The freed entry a queue entry stands for, if its free is still the
    /// entry's (the same generation).
    fn current(&self, q: Queued) -> Option<Entry> {
        self.entry(q.pos)
            .filter(|e| e.flags & FREED != 0 && e.size_or_generation == q.generation())
            .copied()
    }

    /// Freed pointers forgotten so far (or never remembered: history 0).
    pub(super) fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Freed pointers remembered.
    #[cfg(test)]
    pub(super) fn freed_len(&self) -> usize {
        self.freed
    }

    /// The generation of the remembered free of `(pid, ptr)`.
    #[cfg(test)]
    fn freed_generation(&self, pid: u32, ptr: u64) -> Option<u64> {
        let (_, pos) = self.find(pid, ptr)?;
        let e = self.entry(pos)?;
        (e.flags & FREED != 0).then_some(e.size_or_generation)
    }

    /// Entries of the free queue, stale ones included.
    #[cfg(test)]
    pub(super) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Live blocks.
    #[cfg(test)]
    pub(super) fn live_len(&self) -> usize {
        self.live
    }

    /// Ends the run: drops the index and the free history, keeping the live
    /// blocks for the report.
    pub(super) fn into_live(self) -> LiveBlocks {
        LiveBlocks {
            chunks: self.chunks,
            moved: self.moved,
            live: self.live,
        }
    }
}

/// The blocks live at the end of the run, by slab position.
#[derive(Debug, Default)]
pub(super) struct LiveBlocks {
    chunks: Vec<Box<[Entry]>>,
    moved: Vec<Moved>,
    live: usize,
}

impl LiveBlocks {
    /// The slab positions of the live blocks, biggest first (then by
    /// allocation time, record, pid and pointer). Each chunk is sorted in
    /// place, live blocks first (it fits in a cache), then the chunks'
    /// runs are merged: no comparison reaches far into the slab. Returns
    /// exactly as many positions as there are live blocks (4 bytes each).
    pub(super) fn biggest_first(&mut self) -> Vec<u32> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let key = |e: &Entry| {
            (
                e.flags & LIVE == 0,
                Reverse(e.size_or_generation),
                e.ts,
                e.record,
                e.pid,
                e.ptr,
            )
        };
        let mut heap = BinaryHeap::new();
        for (c, chunk) in self.chunks.iter_mut().enumerate() {
            chunk.sort_unstable_by_key(key);
            if let Some(first) = chunk.first().filter(|e| e.flags & LIVE != 0) {
                heap.push(Reverse((key(first), c, 0usize)));
            }
        }
        let mut order = Vec::new();
        order.reserve_exact(self.live);
        while let Some(Reverse((_, c, i))) = heap.pop() {
            order.push((c * CHUNK + i) as u32);
            if let Some(next) = self
                .chunks
                .get(c)
                .and_then(|chunk| chunk.get(i + 1))
                .filter(|e| e.flags & LIVE != 0)
            {
                heap.push(Reverse((key(next), c, i + 1)));
            }
        }
        order
    }

    fn entry(&self, pos: u32) -> Option<&Entry> {
        let pos = pos as usize;
        self.chunks.get(pos / CHUNK)?.get(pos % CHUNK)
    }

    /// The pointer, pid, size and whether sized of the block at `pos`
    /// (cheap: for sorting).
    #[inline]
    pub(super) fn key(&self, pos: u32) -> Option<(u64, Site, bool, u64)> {
        self.entry(pos)
            .map(|e| (e.size_or_generation, e.site(), e.flags & SIZED != 0, e.ptr))
    }

    /// The block at `pos` and its pointer.
    pub(super) fn get(&self, pos: u32) -> Option<(u64, Block)> {
        let e = self.entry(pos)?;
        let moved = (e.moved != u32::MAX)
            .then(|| self.moved.get(e.moved as usize))
            .flatten()
            .map(|m| Site {
                ts: m.ts,
                pid: e.pid,
                record: m.record,
                offset: m.offset,
                rule: m.rule,
            });
        Some((
            e.ptr,
            Block {
                size: e.size_or_generation,
                sized: e.flags & SIZED != 0,
                born: e.site(),
                moved,
                reallocs: e.reallocs,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(pid: u32, n: u64) -> Site {
        Site {
            ts: n,
            pid,
            record: n,
            offset: n,
            rule: 0,
        }
    }

    fn block(pid: u32, n: u64, size: u64) -> Block {
        Block {
            size,
            sized: true,
            born: site(pid, n),
            moved: None,
            reallocs: 0,
        }
    }

    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<Entry>(), 56);
    }

    #[test]
    fn insert_find_remove_many_against_a_model() {
        let mut t = Blocks::new(1000);
        let mut model = std::collections::HashMap::new();
        // Pointers that share low bits, and a reused pid.
        let mut x = 12345u64;
        for n in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pid = (x % 3) as u32;
            let ptr = (x >> 40) << 12;
            if x % 5 < 3 {
                let prev = t.put_live(ptr, &block(pid, n, x % 100)).unwrap();
                let old = model.insert((pid, ptr), x % 100);
                assert_eq!(prev.map(|b| b.size), old);
            } else {
                let got = t.take_live(pid, ptr).map(|b| b.size);
                assert_eq!(got, model.remove(&(pid, ptr)));
            }
        }
        assert_eq!(t.live_len(), model.len());
        for (&(pid, ptr), &size) in &model {
            assert_eq!(t.live(pid, ptr).map(|b| b.size), Some(size));
        }
        let mut live = t.into_live();
        let order = live.biggest_first();
        assert_eq!(order.len(), model.len());
        let sizes: Vec<u64> = order.iter().map(|&p| live.key(p).unwrap().0).collect();
        let mut want: Vec<u64> = model.values().copied().collect();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sizes, want);
    }

    /// Live blocks, frees and the free history against a model: a free
    /// turns the entry from live to freed in place, the same as taking
    /// the block out and remembering the free; the oldest frees are
    /// forgotten first; allocating a freed pointer forgets its free.
    #[test]
    fn frees_and_their_history_against_a_model() {
        use std::collections::{BTreeMap, HashMap};
        for history in [0, 1, 7, 100] {
            let mut t = Blocks::new(history);
            let mut live: HashMap<(u32, u64), u64> = HashMap::new();
            let mut freed: HashMap<(u32, u64), u64> = HashMap::new();
            let mut by_time: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
            let remember = |freed: &mut HashMap<_, _>, by_time: &mut BTreeMap<_, _>, key, n| {
                if let Some(old) = freed.insert(key, n) {
                    by_time.remove(&old);
                }
                by_time.insert(n, key);
                while freed.len() > history {
                    let (_, oldest) = by_time.pop_first().unwrap();
                    freed.remove(&oldest);
                }
            };
            let mut x = 987_654_321u64;
            for n in 1..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = ((x % 2) as u32, (x >> 50) << 4);
                let (pid, ptr) = key;
                match x % 8 {
                    0..=3 => {
                        t.put_live(ptr, &block(pid, n, n)).unwrap();
                        if let Some(old) = freed.remove(&key) {
                            by_time.remove(&old);
                        }
                        live.insert(key, n);
                    }
                    4..=6 => {
                        let got = t.free_live(pid, ptr, site(pid, n)).unwrap();
                        assert_eq!(got.map(|b| b.size), live.remove(&key));
                        if got.is_some() && history > 0 {
                            remember(&mut freed, &mut by_time, key, n);
                        }
                    }
                    _ if !live.contains_key(&key) => {
                        t.remember_free(ptr, site(pid, n)).unwrap();
                        if history > 0 {
                            remember(&mut freed, &mut by_time, key, n);
                        }
                    }
                    _ => {}
                }
                if n % 97 == 0 {
                    for (&(pid, ptr), &at) in &freed {
                        assert_eq!(t.freed_at(pid, ptr).map(|s| s.record), Some(at));
                    }
                }
            }
            assert_eq!((t.live_len(), t.freed_len()), (live.len(), freed.len()));
            for (&(pid, ptr), &born) in &live {
                assert_eq!(t.live(pid, ptr).map(|b| b.born.record), Some(born));
                assert_eq!(t.freed_at(pid, ptr), None);
            }
            assert!(t.queue_len() <= history.max(64) * 3 / 2 + 1);
        }
    }

    /// More entries than the table holds: `Full`, for a live block and for
    /// a freed pointer alike, and room again once one goes.
    #[test]
    fn a_full_table_says_so() {
        let mut t = Blocks::new(10);
        t.max_entries = 5;
        for i in 0..5 {
            t.put_live(0x1000 + i, &block(1, i, 8)).unwrap();
        }
        assert_eq!(t.put_live(0x2000, &block(1, 9, 8)), Err(Full));
        assert_eq!(t.remember_free(0x2000, site(1, 9)), Err(Full));
        // A key it holds is no new entry.
        assert!(t.put_live(0x1000, &block(1, 10, 16)).unwrap().is_some());
        assert!(t.free_live(1, 0x1001, site(1, 11)).unwrap().is_some());
        assert_eq!(t.put_live(0x2000, &block(1, 12, 8)), Err(Full));
        t.take_live(1, 0x1002).unwrap();
        assert_eq!(t.put_live(0x2000, &block(1, 13, 8)), Ok(None));
        assert_eq!((t.live_len(), t.freed_len()), (4, 1));
    }

    /// A free queue entry that stayed current for 2^32 frees (its pointer
    /// freed and not allocated again), then went stale, must not stand for
    /// a later free at its slab position whose generation has the same
    /// low 32 bits: the pointers freed in between are forgotten first.
    #[test]
    fn generations_tell_a_free_from_any_later_one() {
        let mut t = Blocks::new(3);
        t.remember_free(0xa0, site(1, 1)).unwrap(); // Z
        t.remember_free(0xb0, site(1, 2)).unwrap(); // P
        t.remember_free(0xc0, site(1, 3)).unwrap(); // Y
        t.put_live(0xb0, &block(1, 4, 8)).unwrap(); // P's queue entry goes stale
        // 2^32 frees later (not made one by one), P is freed again.
        let first = t.freed_generation(1, 0xa0).unwrap();
        t.generation = first + (1 << 32);
        t.free_live(1, 0xb0, site(1, 5)).unwrap().unwrap();
        assert_eq!(t.freed_len(), 3);
        t.remember_free(0xd0, site(1, 6)).unwrap(); // Z goes
        t.remember_free(0xe0, site(1, 7)).unwrap(); // Y goes, not P
        let remembered = [0xa0, 0xb0, 0xc0, 0xd0, 0xe0].map(|p| t.freed_at(1, p).map(|s| s.record));
        assert_eq!(remembered, [None, Some(5), None, Some(6), Some(7)]);
    }

    /// The free queue's stale entries are dropped while slab positions are
    /// reused: an entry freed, allocated again and ended (its position
    /// vacant), the position then holding another freed pointer; the
    /// queue keeps the current frees, in order.
    #[test]
    fn compaction_keeps_current_frees_of_reused_positions() {
        let mut t = Blocks::new(64);
        for round in 0..400u64 {
            let ptr = 0x1000 + 16 * (round % 5);
            t.remember_free(ptr, site(1, 3 * round)).unwrap();
            t.put_live(ptr, &block(1, 3 * round + 1, 8)).unwrap();
            t.take_live(1, ptr).unwrap(); // its position vacant
            // Reused by another pointer's free.
            t.remember_free(0x9000 + round, site(2, 3 * round + 2))
                .unwrap();
            assert!(t.queue_len() <= 96 + 1);
        }
        // The last 64 frees of pid 2 are remembered, the older ones not.
        assert_eq!(t.freed_len(), 64);
        for round in 0..400u64 {
            let got = t.freed_at(2, 0x9000 + round).map(|s| s.record);
            assert_eq!(got, (round >= 336).then_some(3 * round + 2), "{round}");
        }
        // The current entries of the queue, oldest first.
        let records: Vec<u64> = t
            .queue
            .iter()
            .filter_map(|&q| t.current(q))
            .map(|e| e.record)
            .collect();
        let want: Vec<u64> = (336..400).map(|r| 3 * r + 2).collect();
        assert_eq!(records, want);
    }

    #[test]
    fn moves_live_in_the_side_table_and_are_reused() {
        let mut t = Blocks::new(10);
        let mut b = block(1, 1, 8);
        b.moved = Some(site(1, 2));
        b.reallocs = 1;
        t.put_live(0xa0, &b).unwrap();
        let got = t.live(1, 0xa0).unwrap();
        assert_eq!((got.moved.map(|m| m.record), got.reallocs), (Some(2), 1));
        t.take_live(1, 0xa0).unwrap();
        t.put_live(0xb0, &b).unwrap();
        assert_eq!(t.moved.len(), 1);
    }

    #[test]
    fn freed_pointers_and_their_history() {
        let mut t = Blocks::new(2);
        for (n, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
            t.remember_free(p, site(1, n as u64)).unwrap();
        }
        assert_eq!((t.freed_len(), t.forgotten()), (2, 1));
        assert_eq!(t.freed_at(1, 0xa0), None);
        assert_eq!(t.freed_at(1, 0xb0).map(|s| s.record), Some(1));
        // Allocating a freed pointer forgets its free.
        t.put_live(0xb0, &block(1, 9, 1)).unwrap();
        assert_eq!((t.freed_at(1, 0xb0), t.freed_len()), (None, 1));
    }
}
