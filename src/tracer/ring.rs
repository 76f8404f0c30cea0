//! A single-producer, single-consumer ring of records, one per tracing
//! thread, built from atomic words so that it needs no `unsafe`.
//!
//! A record in the ring is whole words:
//!
//! | word | contents |
//! |---|---|
//! | 0 | raw timestamp (the clock's counter) |
//! | 1 | event position (low 32 bits), payload length in bytes (high 32) |
//! | 2.. | the payload bytes, little-endian packed, zero-padded to a word |
//!
//! The producer fills the words with relaxed stores and then publishes the
//! new head with a release store; the consumer reads the head with an
//! acquire load, copies the records out, and publishes the new tail the
//! same way. Counters only grow (64-bit, they never wrap in practice);
//! word `i` lives in slot `i % capacity`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Keeps the producer's and the consumer's counters on separate cache
/// lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// The ring word holding the payload bytes of a u64 argument `v` (stored
/// in this machine's byte order, packed little-endian into the word).
#[inline(always)]
pub(crate) fn payload_word(v: u64) -> u64 {
    u64::from_le_bytes(v.to_ne_bytes())
}

/// One decoded ring record, as the consumer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub raw_time: u64,
    pub position: u32,
    pub payload_len: u32,
}

impl Header {
    /// Words the record occupies in the ring.
    pub fn words(&self) -> u64 {
        2 + u64::from(self.payload_len).div_ceil(8)
    }
}

/// The ring of one producer thread.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: Box<[AtomicU64]>,
    mask: u64,
    /// Words published by the producer.
    head: Padded,
    /// Words released by the consumer.
    tail: Padded,
    /// The producer's last look at `tail` (only the producer touches it).
    tail_seen: Padded,
    /// Records the producer could not fit (drop mode), not yet reported.
    pub dropped: AtomicU64,
    /// Set by the producer when the ring passes half full; the consumer
    /// clears it after draining, so the producer wakes it only once.
    pub kicked: AtomicBool,
    /// Set when the producing thread has exited.
    pub closed: AtomicBool,
}

impl Ring {
    /// A ring of at least `words` words (rounded up to a power of two).
    pub fn new(words: usize) -> Ring {
        let n = words.next_power_of_two().max(64);
        Ring {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            mask: n as u64 - 1,
            head: Padded::default(),
            tail: Padded::default(),
            tail_seen: Padded::default(),
            dropped: AtomicU64::new(0),
            kicked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Capacity in words.
    pub fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// Words in use, as the producer sees it (its own head, its cached
    /// tail refreshed when needed).
    fn free_for_producer(&self, need: u64) -> bool {
        let head = self.head.0.load(Ordering::Relaxed);
        let mut tail = self.tail_seen.0.load(Ordering::Relaxed);
        if head + need - tail <= self.capacity() {
            return true;
        }
        tail = self.tail.0.load(Ordering::Acquire);
        self.tail_seen.0.store(tail, Ordering::Relaxed);
        head + need - tail <= self.capacity()
    }

    /// Whether the ring is at least half full, from the producer's side
    /// (its cached view of the tail).
    #[inline]
    pub fn half_full(&self) -> bool {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail_seen.0.load(Ordering::Relaxed);
        2 * (head - tail) > self.mask
    }

    /// Appends a record if it fits; returns whether it did. Producer only.
    #[inline]
    pub fn push(&self, raw_time: u64, position: u32, payload: &[u8]) -> bool {
        let need = 2 + (payload.len() as u64).div_ceil(8);
        if !self.free_for_producer(need) {
            return false;
        }
        let head = self.head.0.load(Ordering::Relaxed);
        let mask = self.mask;
        let slot = |i: u64| &self.slots[((head + i) & mask) as usize];
        slot(0).store(raw_time, Ordering::Relaxed);
        slot(1).store(
            u64::from(position) | ((payload.len() as u64) << 32),
            Ordering::Relaxed,
        );
        let mut i = 2;
        let mut words = payload.chunks_exact(8);
        for w in words.by_ref() {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            slot(i).store(u64::from_le_bytes(b), Ordering::Relaxed);
            i += 1;
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            slot(i).store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        self.head.0.store(head + need, Ordering::Release);
        true
    }

    /// Appends a record whose payload is whole u64 arguments, given as
    /// words already in payload byte order (see [`payload_word`]). Producer
    /// only.
    #[inline]
    pub fn push_words(&self, raw_time: u64, position: u32, words: &[u64]) -> bool {
        let need = 2 + words.len() as u64;
        if !self.free_for_producer(need) {
            return false;
        }
        let head = self.head.0.load(Ordering::Relaxed);
        let mask = self.mask;
        let slot = |i: u64| &self.slots[((head + i) & mask) as usize];
        slot(0).store(raw_time, Ordering::Relaxed);
        slot(1).store(
            u64::from(position) | ((words.len() as u64 * 8) << 32),
            Ordering::Relaxed,
        );
        for (i, &w) in words.iter().enumerate() {
            slot(2 + i as u64).store(w, Ordering::Relaxed);
        }
        self.head.0.store(head + need, Ordering::Release);
        true
    }

    /// Whether a record of `payload_len` bytes could ever fit.
    pub fn can_hold(&self, payload_len: usize) -> bool {
        2 + (payload_len as u64).div_ceil(8) <= self.capacity()
    }

    /// The consumer's view: its tail and the published head.
    pub fn published(&self) -> (u64, u64) {
        (
            self.tail.0.load(Ordering::Relaxed),
            self.head.0.load(Ordering::Acquire),
        )
    }

    /// The record header at word `at` (which the consumer knows is
    /// published).
    pub fn header_at(&self, at: u64) -> Header {
        let w0 = self.slots[(at & self.mask) as usize].load(Ordering::Relaxed);
        let w1 = self.slots[((at + 1) & self.mask) as usize].load(Ordering::Relaxed);
        Header {
            raw_time: w0,
            position: w1 as u32,
            payload_len: (w1 >> 32) as u32,
        }
    }

    /// Appends the payload of the record at word `at` to `out`.
    pub fn copy_payload(&self, at: u64, header: Header, out: &mut Vec<u8>) {
        let len = header.payload_len as usize;
        let start = out.len();
        for i in 0..u64::from(header.payload_len).div_ceil(8) {
            let w = self.slots[((at + 2 + i) & self.mask) as usize].load(Ordering::Relaxed);
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.truncate(start + len);
    }

    /// Releases everything before word `tail` to the producer.
    pub fn release(&self, tail: u64) {
        self.tail.0.store(tail, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn records_come_back_in_order_across_the_wrap() {
        let ring = Ring::new(64);
        let mut out = Vec::new();
        let mut seen = 0u32;
        for round in 0..200u32 {
            let payload: Vec<u8> = (0..(round % 23) as u8).collect();
            assert!(ring.push(u64::from(round), round, &payload));
            let (mut tail, head) = ring.published();
            while tail < head {
                let h = ring.header_at(tail);
                out.clear();
                ring.copy_payload(tail, h, &mut out);
                assert_eq!((h.raw_time, h.position), (u64::from(seen), seen));
                assert_eq!(out, (0..(seen % 23) as u8).collect::<Vec<_>>());
                tail += h.words();
                seen += 1;
            }
            ring.release(tail);
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn word_records_read_back_as_native_bytes() {
        let ring = Ring::new(64);
        assert!(ring.push_words(
            9,
            3,
            &[payload_word(0x0102_0304_0506_0708), payload_word(7)]
        ));
        let (tail, _) = ring.published();
        let h = ring.header_at(tail);
        let mut out = Vec::new();
        ring.copy_payload(tail, h, &mut out);
        let mut want = 0x0102_0304_0506_0708u64.to_ne_bytes().to_vec();
        want.extend(7u64.to_ne_bytes());
        assert_eq!((h.position, h.payload_len, out), (3, 16, want));
    }

    #[test]
    fn full_ring_refuses() {
        let ring = Ring::new(64);
        let payload = [7u8; 40]; // 2 + 5 words
        let fits = (0..20).take_while(|_| ring.push(1, 1, &payload)).count();
        assert_eq!(fits, 64 / 7);
        assert!(!ring.can_hold(64 * 8));
    }

    #[test]
    fn one_producer_one_consumer_threads() {
        let ring = Arc::new(Ring::new(256));
        let producer = {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                for i in 0..100_000u64 {
                    let payload = i.to_le_bytes();
                    while !ring.push(i, (i % 7) as u32, &payload[..(i % 9) as usize]) {
                        std::hint::spin_loop();
                    }
                }
            })
        };
        let mut next = 0u64;
        let mut out = Vec::new();
        while next < 100_000 {
            let (mut tail, head) = ring.published();
            while tail < head {
                let h = ring.header_at(tail);
                out.clear();
                ring.copy_payload(tail, h, &mut out);
                assert_eq!(h.raw_time, next);
                assert_eq!(out, next.to_le_bytes()[..(next % 9) as usize]);
                tail += h.words();
                next += 1;
            }
            ring.release(tail);
        }
        producer.join().unwrap();
    }
}
