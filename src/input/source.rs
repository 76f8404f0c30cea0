//! Where a run's records come from: a record source.
//!
//! Two kinds of source feed the driver's one record loop:
//!
//! - [`Whole`]: a trace held whole in memory (a memory map, a file read
//!   into memory). It is read in one piece, or cut into chunks at record
//!   boundaries ([`Whole::chunks`]) for the parallel path.
//! - [`Blocks`]: a trace that arrives in pieces (standard input, a
//!   decompressor), read a block at a time into one buffer. A record cut
//!   by the end of a block moves to the front of the next; the buffer
//!   grows for a record (or, resyncing, a corrupt region) longer than a
//!   block, up to [`STREAM_RECORD_LIMIT`].
//!
//! Both hand the driver [`TraceReader`]s over byte slices
//! ([`RecordSource::pieces`]); all the buffering and block bookkeeping
//! (what is carried from one block to the next, when a fault only means
//! "read on") lives here, so the reader only decodes slices and the driver
//! only runs records.

use core::fmt;
use std::io::{self, Read};

use super::CompressedDataEnds;
use crate::format::chunks::Chunks;
use crate::format::events::TraceEvents;
use crate::format::{
    self, At, FileOffset, KeepFn, ReaderState, RecordIndex, TraceKind, TraceReader,
};

/// Bytes of a streamed trace read (and decoded) at a time by
/// [`Driver::run_stream`](crate::analyzers::Driver::run_stream).
pub const STREAM_BLOCK: usize = 4 << 20;

/// The longest record [`Driver::run_stream`](crate::analyzers::Driver::run_stream)
/// holds in memory. QEMU's records are a few KiB at most (it cuts strings
/// at 512 bytes); a longer one in a stream is refused rather than buffered
/// without limit.
pub const STREAM_RECORD_LIMIT: usize = 64 << 20;

/// Why a streamed trace could not be read to its end
/// ([`RunOutcome::stream_error`](crate::analyzers::RunOutcome::stream_error)).
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading failed: an I/O error, or (for a compressed trace) corrupt or
    /// cut-off compressed data.
    Read {
        /// Bytes of the trace received before the failure (decompressed
        /// bytes, for a compressed trace); every whole record among them
        /// was analysed.
        received: u64,
        /// What the reader said.
        source: io::Error,
    },
    /// A record longer than [`STREAM_RECORD_LIMIT`] bytes (so far as its
    /// header says, with at least that many bytes of the trace after its
    /// start).
    RecordTooLong {
        /// The record.
        at: At,
        /// [`STREAM_RECORD_LIMIT`].
        limit: u64,
    },
    /// With resyncing ([`Driver::stream_resync`](crate::analyzers::Driver::stream_resync)),
    /// a fault after which no plausible record could be told within
    /// [`STREAM_RECORD_LIMIT`] bytes.
    RegionTooLong {
        /// The faulty record.
        at: At,
        /// [`STREAM_RECORD_LIMIT`].
        limit: u64,
    },
    /// A relative `--start` or `--end` needs the first event record's
    /// timestamp, and the first [`STREAM_RECORD_LIMIT`] bytes hold no
    /// event record.
    NoFirstEvent {
        /// [`STREAM_RECORD_LIMIT`].
        limit: u64,
    },
    /// A followed trace was restarted (truncated or replaced) and the new
    /// trace's header is not a trace header.
    RestartedBadHeader(format::Error),
    /// A followed trace was restarted with another format version or
    /// byte order than the trace the run began with.
    RestartedOtherKind,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read { received, source } => match CompressedDataEnds::of(source) {
                Some(ends) => write!(
                    f,
                    "{ends}: every complete record in the {received} bytes of trace before the \
                     cut was read"
                ),
                None => write!(
                    f,
                    "reading the trace failed after {received} bytes: {source}"
                ),
            },
            StreamError::RecordTooLong { at, limit } => write!(
                f,
                "{at}: the record is longer than {limit} bytes, the most a trace read as a \
                 stream holds in memory (a file is not limited so)"
            ),
            StreamError::RegionTooLong { at, limit } => write!(
                f,
                "{at}: no plausible record follows within {limit} bytes, the most a trace \
                 read as a stream holds in memory, so --resync cannot step over this fault \
                 (a file is not limited so)"
            ),
            StreamError::NoFirstEvent { limit } => write!(
                f,
                "no event record in the first {limit} bytes of the trace: read as a stream, \
                 it has no first timestamp within reach for a relative --start or --end \
                 (give the time in nanoseconds, or read the trace from a file)"
            ),
            StreamError::RestartedBadHeader(e) => {
                write!(
                    f,
                    "the trace was restarted, and the new one does not start with a trace header: {e}"
                )
            }
            StreamError::RestartedOtherKind => f.write_str(
                "the trace was restarted with another format version or byte order: \
                 follow it again with a new run",
            ),
        }
    }
}

impl StreamError {
    /// Whether the trace simply stops early, as a trace cut off
    /// mid-record does: its compressed data ends before its end marker
    /// ([`CompressedDataEnds`]), every record before the cut delivered.
    pub fn is_truncation(&self) -> bool {
        matches!(self, StreamError::Read { source, .. } if CompressedDataEnds::of(source).is_some())
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Read { source, .. } => Some(source),
            StreamError::RestartedBadHeader(e) => Some(e),
            _ => None,
        }
    }
}

/// What the record loop is told of a piece before reading it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Piece {
    /// The trace was restarted before this piece (a followed file
    /// truncated or replaced): its records are a new trace's.
    pub restarted: bool,
    /// The piece ends at the current end of a followed trace: after it
    /// the source waits for more.
    pub caught_up: bool,
}

/// How the record loop left one piece of a source.
#[derive(Debug)]
pub(crate) struct PieceEnd {
    /// The fault the piece's reader stopped at, if any.
    pub fault: Option<format::Error>,
    /// Whether an analyzer asked to stop.
    pub stopped: bool,
}

/// How a whole source was read.
#[derive(Debug, Default)]
pub(crate) struct SourceEnd {
    /// The fault that ended the trace, if any (a record cut by the end of
    /// a block is not one: it is read again from the next).
    pub fault: Option<format::Error>,
    /// Whether an analyzer asked to stop.
    pub stopped: bool,
    /// Why a streamed trace could not be read to its end, if it could not.
    pub stream_error: Option<StreamError>,
}

/// A source of records for the driver: readers over its bytes, a piece at
/// a time. The driver is generic over it (one call per piece, never per
/// record).
pub(crate) trait RecordSource<'e> {
    /// The trace's kind.
    fn kind(&self) -> TraceKind;
    /// The declarations records resolve against.
    fn events(&self) -> &'e TraceEvents;
    /// The trace's length in bytes as known before reading (0 for a
    /// stream), and after ([`RecordSource::pieces`]) the bytes read.
    fn len(&self) -> u64;
    /// The timestamp of the first event record (what a relative time
    /// filter counts from), `None` when there is none before the end or a
    /// fault. A stream reads on for it without consuming anything; when
    /// it does not come within reach the source keeps the
    /// [`StreamError`] and reads nothing more.
    fn first_timestamp(&mut self) -> Option<u64>;
    /// Runs `run` over a reader of each piece in turn, from the first
    /// record that is not yet read; stops after a piece that stopped or
    /// faulted for good.
    fn pieces<E>(
        &mut self,
        run: impl FnMut(&mut TraceReader<'_>, Piece) -> Result<PieceEnd, E>,
    ) -> Result<SourceEnd, E>;
}

/// A trace held whole in memory: one piece, or chunks.
#[derive(Debug, Clone)]
pub(crate) struct Whole<'a> {
    reader: TraceReader<'a>,
}

impl<'a> Whole<'a> {
    pub(crate) fn new(reader: TraceReader<'a>) -> Self {
        Whole { reader }
    }

    /// Bytes not read yet.
    pub(crate) fn left(&self) -> usize {
        self.reader
            .data_len()
            .saturating_sub(self.reader.data_position())
    }

    /// Cut into chunks of about `target` bytes at record boundaries; with
    /// `keep`, a chunk's previous timestamp is that of the last record
    /// before it that `keep` accepts.
    pub(crate) fn chunks(self, target: usize, keep: Option<KeepFn<'a>>) -> Chunks<'a> {
        match keep {
            Some(keep) => Chunks::filtered(self.reader, target, keep),
            None => Chunks::new(self.reader, target),
        }
    }
}

impl<'a> RecordSource<'a> for Whole<'a> {
    fn kind(&self) -> TraceKind {
        self.reader.kind()
    }

    fn events(&self) -> &'a TraceEvents {
        self.reader.events()
    }

    fn len(&self) -> u64 {
        self.reader.data_len() as u64
    }

    fn first_timestamp(&mut self) -> Option<u64> {
        self.reader
            .clone()
            .find_map(Result::ok)
            .map(|r| r.timestamp_ns)
    }

    fn pieces<E>(
        &mut self,
        mut run: impl FnMut(&mut TraceReader<'_>, Piece) -> Result<PieceEnd, E>,
    ) -> Result<SourceEnd, E> {
        let end = run(&mut self.reader, Piece::default())?;
        Ok(SourceEnd {
            fault: end.fault,
            stopped: end.stopped,
            stream_error: None,
        })
    }
}

/// The block of a streamed trace being decoded, and the reading behind it.
struct StreamBuf<'s> {
    input: &'s mut dyn Read,
    /// Zeroed once and reused: only `..filled` holds trace bytes.
    buf: Vec<u8>,
    filled: usize,
    /// The trace offset of `buf[0]`.
    base: u64,
    /// No more bytes will come: the input ended, or reading it failed.
    end: bool,
    error: Option<io::Error>,
    limit: usize,
}

impl<'s> StreamBuf<'s> {
    fn new(input: &'s mut dyn Read, block: usize, limit: usize) -> Self {
        StreamBuf {
            input,
            // The first block must hold the header (64 bytes in version 0).
            buf: vec![0; block.clamp(64, limit.max(64))],
            filled: 0,
            base: 0,
            end: false,
            error: None,
            limit,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.filled).unwrap_or_default()
    }

    /// Bytes of the trace read so far.
    fn received(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Reads until the buffer is full or the input ends.
    fn fill(&mut self) {
        while !self.end {
            let Some(room) = self.buf.get_mut(self.filled..).filter(|r| !r.is_empty()) else {
                return;
            };
            match self.input.read(room) {
                Ok(0) => self.end = true,
                Ok(n) => self.filled += n.min(room.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.end = true;
                }
            }
        }
    }

    /// Drops the first `consumed` bytes, moves the rest to the front, and
    /// reads on. When the rest fills the buffer (one record longer than
    /// it), the buffer doubles, up to `limit`; returns false when it would
    /// have to grow past that.
    fn refill(&mut self, consumed: usize) -> bool {
        let consumed = consumed.min(self.filled);
        self.buf.copy_within(consumed..self.filled, 0);
        self.filled -= consumed;
        self.base += consumed as u64;
        if self.filled == self.buf.len() {
            if self.buf.len() >= self.limit {
                return false;
            }
            let len = self.buf.len().saturating_mul(2).min(self.limit);
            self.buf.resize(len, 0);
        }
        self.fill();
        true
    }
}

/// A trace that arrives in pieces, read a block at a time: each block's
/// whole records are decoded where they lie, like those of a memory map,
/// by a reader that carries the id table and the record count over from
/// the block before. Memory stays at a block or two whatever the length
/// of the trace, and the records are those one reader of the whole trace
/// would give.
pub(crate) struct Blocks<'s> {
    stream: StreamBuf<'s>,
    events: &'s TraceEvents,
    kind: TraceKind,
    resync: bool,
    /// Why reading cannot go on, once known.
    error: Option<StreamError>,
}

impl fmt::Debug for Blocks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocks")
            .field("block", &self.stream.buf.len())
            .field("received", &self.stream.received())
            .field("kind", &self.kind)
            .field("resync", &self.resync)
            .finish_non_exhaustive()
    }
}

impl<'s> Blocks<'s> {
    /// A source over `input`, which yields the whole trace from its first
    /// byte, read in blocks of `block` bytes (64 at least), stepping over
    /// corrupt regions when `resync`. Reads the first block.
    pub(crate) fn new(
        input: &'s mut dyn Read,
        events: &'s TraceEvents,
        kind: TraceKind,
        block: usize,
        resync: bool,
    ) -> Self {
        let mut stream = StreamBuf::new(input, block, STREAM_RECORD_LIMIT);
        stream.fill();
        Blocks {
            stream,
            events,
            kind,
            resync,
            error: None,
        }
    }

    /// A reader of the current block, starting from `state` (or the
    /// trace's first record), told whether more of the trace follows.
    fn reader<'b>(&'b self, state: Option<&'b ReaderState>) -> TraceReader<'b>
    where
        's: 'b,
    {
        let reader = match state {
            None => TraceReader::with_kind(self.stream.bytes(), self.events, self.kind)
                .with_resync(self.resync),
            Some(s) => TraceReader::resume(self.stream.bytes(), self.events, s),
        };
        reader.with_more_to_come(!self.stream.end)
    }
}

impl<'s> RecordSource<'s> for Blocks<'s> {
    fn kind(&self) -> TraceKind {
        self.kind
    }

    fn events(&self) -> &'s TraceEvents {
        self.events
    }

    fn len(&self) -> u64 {
        self.stream.received()
    }

    fn first_timestamp(&mut self) -> Option<u64> {
        loop {
            // The first event record a reader of the whole trace returns:
            // the first before any fault, or with resyncing after the
            // regions skipped before it.
            let first = self.reader(None).next();
            let block_too_short = match first {
                Some(Ok(record)) => return Some(record.timestamp_ns),
                // The block ends inside a record, or before a resync point
                // can be told: the trace goes on, so the block grows.
                Some(Err(e)) => e.is_truncation(),
                // Or it ends between two records, before any event.
                None => true,
            };
            if !block_too_short || self.stream.end {
                return None;
            }
            if !self.stream.refill(0) {
                self.error = Some(StreamError::NoFirstEvent {
                    limit: self.stream.limit as u64,
                });
                return None;
            }
        }
    }

    fn pieces<E>(
        &mut self,
        mut run: impl FnMut(&mut TraceReader<'_>, Piece) -> Result<PieceEnd, E>,
    ) -> Result<SourceEnd, E> {
        let mut end = SourceEnd::default();
        let mut state: Option<ReaderState> = None;
        while self.error.is_none() {
            let mut reader = self.reader(state.as_ref());
            let piece = run(&mut reader, Piece::default())?;
            // A record that runs past the end of the block is whole in the
            // next one, unless the trace ends there.
            let cut = piece
                .fault
                .as_ref()
                .is_some_and(format::Error::is_truncation);
            if piece.stopped || (piece.fault.is_some() && !cut) || self.stream.end {
                end.fault = piece.fault;
                end.stopped = piece.stopped;
                break;
            }
            let next = reader.suspend();
            let put_off = reader.resync_put_off();
            // Within the block: no more than it holds, whatever the offset.
            let consumed = usize::try_from(next.offset().saturating_sub(self.stream.base))
                .unwrap_or(usize::MAX);
            if !self.stream.refill(consumed) {
                let at = At {
                    record: RecordIndex(next.records_read()),
                    offset: FileOffset(next.offset()),
                };
                let limit = STREAM_RECORD_LIMIT as u64;
                self.error = Some(if put_off {
                    StreamError::RegionTooLong { at, limit }
                } else {
                    StreamError::RecordTooLong { at, limit }
                });
            }
            state = Some(next);
        }
        if let Some(source) = self.stream.error.take() {
            // The record cut off is the read failure's doing, not the
            // trace's: report the failure alone.
            if end.fault.as_ref().is_some_and(format::Error::is_truncation) {
                end.fault = None;
            }
            self.error = Some(StreamError::Read {
                received: self.stream.received(),
                source,
            });
        }
        end.stream_error = self.error.take();
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ArgValue, encode};

    /// Every record of a source, with where its reader stood, and how the
    /// source ended.
    fn read_all<'e>(source: &mut impl RecordSource<'e>) -> (Vec<(u64, u64)>, SourceEnd) {
        let mut seen = Vec::new();
        let end = source
            .pieces(|reader, _| {
                let mut fault = None;
                for record in reader.by_ref() {
                    match record {
                        Ok(r) => seen.push((r.at.offset.0, r.timestamp_ns)),
                        Err(e) => {
                            fault = Some(e);
                            break;
                        }
                    }
                }
                Ok::<_, ()>(PieceEnd {
                    fault,
                    stopped: false,
                })
            })
            .unwrap();
        (seen, end)
    }

    #[test]
    fn blocks_give_what_the_whole_trace_gives() {
        let events = TraceEvents::parse("te", b"tick(uint64_t n)\nname(const char *s)\n").unwrap();
        let mut trace = Vec::new();
        encode::header(&mut trace, 4);
        encode::mapping(&mut trace, 0, b"tick");
        encode::mapping(&mut trace, 1, b"name");
        for n in 0..50 {
            encode::event(&mut trace, 0, n * 10, 1, &[ArgValue::Int(n)]);
            encode::event(&mut trace, 1, n * 10 + 5, 1, &[ArgValue::Str(&[b'x'; 90])]);
        }
        // Cut in the middle of the last record.
        trace.truncate(trace.len() - 7);
        let kind = TraceKind::detect(&trace).unwrap();
        let mut whole = Whole::new(TraceReader::new(&trace, &events).unwrap());
        assert_eq!(whole.first_timestamp(), Some(0));
        let (want, want_end) = read_all(&mut whole);
        assert_eq!(want.len(), 99);
        assert!(
            want_end
                .fault
                .as_ref()
                .is_some_and(format::Error::is_truncation)
        );
        // Blocks shorter than a record too: the buffer grows for it.
        for block in [64, 100, 333, 4096] {
            let mut input: &[u8] = &trace;
            let mut blocks = Blocks::new(&mut input, &events, kind, block, false);
            assert_eq!(blocks.first_timestamp(), Some(0), "block {block}");
            let (got, end) = read_all(&mut blocks);
            assert_eq!(got, want, "block {block}");
            assert_eq!(end.fault, want_end.fault, "block {block}");
            assert!(end.stream_error.is_none(), "block {block}");
            assert_eq!(blocks.len(), trace.len() as u64, "block {block}");
        }
    }
}
