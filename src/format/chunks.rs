//! Splitting a trace into chunks at record boundaries, for decoding them in
//! parallel.
//!
//! One sequential pass hops from record to record by their lengths (it
//! reads a few header words per record and decodes nothing), applying
//! mapping records, and cuts a chunk about every `target` bytes. Each
//! [`Chunk`] carries a reader positioned at its first record with the id
//! table as it stands there, and the timestamp of the record before it, so
//! chunks can be decoded independently and give exactly what one
//! sequential read would.
//!
//! ```
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//! use simpletrace::format::chunks::Chunks;
//!
//! let events = TraceEvents::parse("te", b"tick(uint64_t n)\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"tick");
//! for n in 0..1000 {
//!     encode::event(&mut trace, 0, n * 10, 1, &[ArgValue::Int(n)]);
//! }
//! let chunks: Vec<_> = Chunks::new(TraceReader::new(&trace, &events)?, 4096).collect();
//! assert!(chunks.len() > 5);
//! let total: usize = chunks.into_iter().map(|c| c.reader.count()).sum();
//! assert_eq!(total, 1000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::ops::Range;

use super::reader::{KeepFn, ReaderState, Skipped, TraceReader};

/// A run of whole records that can be decoded on its own.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    /// Reads the chunk's records, with the id table as mapping records
    /// before the chunk left it.
    pub reader: TraceReader<'a>,
    /// The timestamp of the last event record before the chunk, if any.
    pub prev_timestamp_ns: Option<u64>,
    /// The bytes of the trace the chunk covers.
    pub range: Range<usize>,
    /// The chunk's position among the chunks, from 0.
    pub index: usize,
}

/// Iterator over the [`Chunk`]s of a trace, in file order.
///
/// The last chunk ends at the end of the data; when the pass meets a record
/// it cannot skip (cut off, corrupt), the chunk holding it runs to the end
/// of the data so that its reader reports the fault, and no chunk follows.
/// A resyncing reader's pass ([`TraceReader::with_resync`]) checks every
/// record and steps over corrupt regions exactly as reading does, so each
/// chunk starts where one resyncing reader of the whole trace would stand,
/// and each region is found (and noted) by the chunk where it starts.
#[derive(Clone)]
pub struct Chunks<'a> {
    reader: TraceReader<'a>,
    target: usize,
    last_timestamp: Option<u64>,
    index: usize,
    done: bool,
    keep: Option<KeepFn<'a>>,
}

impl core::fmt::Debug for Chunks<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Chunks")
            .field("reader", &self.reader)
            .field("target", &self.target)
            .field("index", &self.index)
            .field("filtered", &self.keep.is_some())
            .finish()
    }
}

impl<'a> Chunks<'a> {
    /// Splits what `reader` has left into chunks of about `target` bytes.
    pub fn new(reader: TraceReader<'a>, target: usize) -> Self {
        Chunks {
            reader,
            target: target.max(1),
            last_timestamp: None,
            index: 0,
            done: false,
            keep: None,
        }
    }

    /// Like [`Chunks::new`], but a chunk's `prev_timestamp_ns` is that of
    /// the last record before it that `keep(decl, pid, timestamp)` accepts:
    /// what a filtered run computes its deltas from.
    pub fn filtered(reader: TraceReader<'a>, target: usize, keep: KeepFn<'a>) -> Self {
        Chunks {
            keep: Some(keep),
            ..Self::new(reader, target)
        }
    }
}

/// Where a pass stands between two chunks, holding no borrow of the trace:
/// what [`Chunks::resume`] goes on from, for a caller that cuts a trace a
/// chunk at a time as the chunks are needed.
#[derive(Debug, Clone)]
pub struct ChunksState {
    reader: ReaderState,
    last_timestamp: Option<u64>,
    index: usize,
    done: bool,
}

impl ChunksState {
    /// The pass's reader, to resume (with [`TraceReader::resume_within`])
    /// and give to [`Chunks::resume`].
    pub fn reader(&self) -> &ReaderState {
        &self.reader
    }
}

impl<'a> Chunks<'a> {
    /// Where the pass stands (unfiltered passes: a [`Chunks::filtered`]
    /// one's filter is not kept).
    pub fn suspend(&self) -> ChunksState {
        ChunksState {
            reader: self.reader.suspend(),
            last_timestamp: self.last_timestamp,
            index: self.index,
            done: self.done,
        }
    }

    /// Goes on with the pass `state` was suspended from: `reader` is its
    /// reader, resumed; chunks of about `target` bytes from there.
    pub fn resume(reader: TraceReader<'a>, target: usize, state: &ChunksState) -> Self {
        Chunks {
            last_timestamp: state.last_timestamp,
            index: state.index,
            done: state.done,
            ..Self::new(reader, target)
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        let start = self.reader.data_position();
        let len = self.reader.data_len();
        if self.done || start >= len {
            return None;
        }
        let at_start = self.reader.clone();
        let prev_timestamp_ns = self.last_timestamp;
        let (how, last) = self
            .reader
            .skip_to_where(start.saturating_add(self.target), self.keep);
        if last.is_some() {
            self.last_timestamp = last;
        }
        let mut end = self.reader.data_position();
        if how == Skipped::Blocked {
            end = len;
            self.done = true;
        }
        let index = self.index;
        self.index += 1;
        Some(Chunk {
            reader: at_start.until(end),
            prev_timestamp_ns,
            range: start..end,
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ArgValue, Error, TraceEvents, encode};

    fn events() -> TraceEvents {
        TraceEvents::parse("te", b"a(int x)\nb(const char *s)\n").unwrap()
    }

    fn trace() -> Vec<u8> {
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        for i in 0..500u64 {
            encode::event(&mut t, 0, 1000 - i, 1, &[ArgValue::Int(i)]);
            if i == 250 {
                // Id 0 changes meaning mid-file; a new id appears.
                encode::mapping(&mut t, 0, b"b");
                encode::mapping(&mut t, 1, b"a");
                encode::dropped(&mut t, 5, 1, 2);
            }
            if i > 250 {
                encode::event(&mut t, 1, 7, 1, &[ArgValue::Int(i)]);
            }
        }
        t
    }

    fn summary(r: TraceReader<'_>) -> Vec<(String, u64, u64)> {
        r.map(|x| {
            let x = x.unwrap();
            (x.name().to_owned(), x.at.offset.0, x.timestamp_ns)
        })
        .collect()
    }

    #[test]
    fn chunks_equal_one_pass_for_every_size() {
        // Payloads of `b` are strings but the trace writes u64s: decoding
        // args would fail, which chunking must not notice.
        let ev = events();
        let t = trace();
        let whole = summary(TraceReader::new(&t, &ev).unwrap());
        for target in [1, 7, 40, 100, 1000, 4096, 1 << 20] {
            let mut joined = Vec::new();
            let mut prev_end = 24;
            let mut prev_ts = None;
            for chunk in Chunks::new(TraceReader::new(&t, &ev).unwrap(), target) {
                assert_eq!(chunk.range.start, prev_end);
                assert_eq!(chunk.prev_timestamp_ns, prev_ts);
                prev_end = chunk.range.end;
                let part = summary(chunk.reader);
                prev_ts = part.last().map(|p| p.2).or(prev_ts);
                joined.extend(part);
            }
            assert_eq!(prev_end, t.len());
            assert_eq!(joined, whole, "target {target}");
        }
    }

    /// A pass suspended after each chunk and resumed gives the chunks of
    /// one pass.
    #[test]
    fn a_suspended_pass_goes_on_where_it_stood() {
        let ev = events();
        let t = trace();
        let key = |c: &Chunk<'_>| (c.index, c.range.clone(), c.prev_timestamp_ns);
        let whole: Vec<_> = Chunks::new(TraceReader::new(&t, &ev).unwrap(), 100)
            .map(|c| key(&c))
            .collect();
        let mut pieces = Vec::new();
        let mut state = Chunks::new(TraceReader::new(&t, &ev).unwrap(), 100).suspend();
        loop {
            let reader = TraceReader::resume_within(&t, &ev, state.reader());
            let mut chunks = Chunks::resume(reader, 100, &state);
            let Some(chunk) = chunks.next() else {
                break;
            };
            pieces.push(key(&chunk));
            state = chunks.suspend();
        }
        assert!(whole.len() > 10);
        assert_eq!(pieces, whole);
    }

    #[test]
    fn a_fault_ends_the_chunks_and_is_reported_by_its_chunk() {
        let ev = events();
        let mut t = trace();
        let good = t.len();
        encode::event(&mut t, 0, 1, 1, &[ArgValue::Int(1)]);
        t.truncate(t.len() - 3);
        let chunks: Vec<_> = Chunks::new(TraceReader::new(&t, &ev).unwrap(), 1000).collect();
        let last = chunks.last().unwrap().clone();
        assert_eq!(last.range.end, t.len());
        let results: Vec<_> = last.reader.collect();
        match results.last() {
            Some(Err(Error::Truncated { at, .. })) => assert_eq!(at.offset.0 as usize, good),
            otherwise => panic!("{otherwise:?}"),
        }
    }
}
