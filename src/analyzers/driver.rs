//! The driver: runs analyzers over a trace in one pass.
//!
//! Sequentially it is one loop: read a record, look up (once per event, in
//! a table) which analyzers want it, decode its arguments once, call each
//! one's handler.
//!
//! In parallel it is the printer's pipeline, generalised: a scanner thread
//! cuts the trace into chunks at record boundaries; a rayon task per chunk
//! runs a fork of every [`ParallelAnalyzer`] over the chunk and collects
//! the records the sequential analyzers want (decoding, id resolution and
//! argument checks all happen there, ahead of time, in parallel); the
//! calling thread then takes the chunks in file order, writes their output,
//! merges the forks, and feeds the collected records to the sequential
//! analyzers. A bounded queue keeps the memory flat.

use core::fmt;
use std::any::Any;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::print::{Buffering, Parallelism};
use super::select::{Resolved, Selection, TimeBound};
use super::{
    Analyzer, AnalyzerError, Context, Event, Handler, ParallelAnalyzer, Report, TraceInfo,
};
use crate::format::chunks::{Chunk, Chunks};
use crate::format::events::{EventDecl, TraceEvents};
use crate::format::{
    self, At, FileOffset, ReaderState, Record, RecordIndex, Skips, TraceKind, TraceReader,
};

/// Where a chunk of the trace starts, for [`ParallelAnalyzer::fork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStart {
    /// The chunk's position among the chunks (0 for a sequential run).
    pub index: usize,
    /// Offset of its first record.
    pub offset: FileOffset,
    /// Index of its first record.
    pub record: RecordIndex,
    /// Timestamp of the last event record before it, if any.
    pub prev_timestamp_ns: Option<u64>,
}

/// How [`Driver::run`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Threads and chunk size.
    pub parallelism: Parallelism,
    /// How often output is handed to the writer.
    pub buffering: Buffering,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            parallelism: Parallelism::SEQUENTIAL,
            buffering: Buffering::Block,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// One report per analyzer, in the order they were added.
    pub reports: Vec<Report>,
    /// Event records read (dropped-events records included) before the
    /// end, the fault or the stop; the faulting record, even one whose
    /// header was fine but whose arguments do not decode, is not counted.
    pub records: u64,
    /// The trace fault that ended the run early, if any; every record
    /// before it was analysed and the reports cover them.
    pub fault: Option<format::Error>,
    /// The corrupt regions a resyncing reader
    /// ([`TraceReader::with_resync`]) stepped over, in file order; the
    /// reports cover every record outside them. The same for any
    /// parallelism.
    pub skips: Skips,
    /// Whether an analyzer asked to stop early.
    pub stopped: bool,
    /// Why a streamed trace ([`Driver::run_stream`]) could not be read to
    /// its end, if it could not; every whole record before that point was
    /// analysed and the reports cover them.
    pub stream_error: Option<StreamError>,
}

/// Why a run failed.
#[derive(Debug)]
pub enum RunError {
    /// Writing the output failed (a closed pipe, a full disk).
    Io(io::Error),
    /// An analyzer failed.
    Analyzer(AnalyzerError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Io(e) => write!(f, "writing the output failed: {e}"),
            RunError::Analyzer(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Io(e) => Some(e),
            RunError::Analyzer(e) => Some(e),
        }
    }
}

/// Bytes of a streamed trace read (and decoded) at a time by
/// [`Driver::run_stream`].
pub const STREAM_BLOCK: usize = 4 << 20;

/// The longest record [`Driver::run_stream`] holds in memory. QEMU's
/// records are a few KiB at most (it cuts strings at 512 bytes); a longer
/// one in a stream is refused rather than buffered without limit.
pub const STREAM_RECORD_LIMIT: usize = 64 << 20;

/// Why a streamed trace could not be read to its end
/// ([`RunOutcome::stream_error`]).
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
    /// With resyncing ([`Driver::stream_resync`]), a fault after which no
    /// plausible record could be told within [`STREAM_RECORD_LIMIT`]
    /// bytes.
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
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read { received, source } => {
                write!(
                    f,
                    "reading the trace failed after {received} bytes: {source}"
                )
            }
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
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Read { source, .. } => Some(source),
            _ => None,
        }
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

/// The offset [`Driver::release_with`]'s callback is given: the reader's
/// position in the trace. It only fits a `usize` when the trace does (a
/// memory map does); a stream past `usize::MAX` bytes (past 4 GiB on a
/// 32-bit machine) saturates rather than wrapping round to the start.
fn release_offset(reader: &TraceReader<'_>) -> usize {
    usize::try_from(reader.position().0).unwrap_or(usize::MAX)
}

/// The timestamp of a streamed trace's first event record, reading on
/// (without consuming) until the buffer holds one: what a relative time
/// filter counts from. `None` when the trace has none before its end or
/// a fault, as with [`Driver::run`].
fn first_timestamp(
    stream: &mut StreamBuf<'_>,
    events: &TraceEvents,
    kind: TraceKind,
    resync: bool,
) -> Result<Option<u64>, StreamError> {
    loop {
        // The first event record a reader of the whole trace returns: the
        // first before any fault, or with resyncing after the regions
        // skipped before it.
        let first = TraceReader::with_kind(stream.bytes(), events, kind)
            .with_resync(resync)
            .with_more_to_come(!stream.end)
            .next();
        let block_too_short = match first {
            Some(Ok(record)) => return Ok(Some(record.timestamp_ns)),
            // The block ends inside a record, or before a resync point can
            // be told: the trace goes on, so the block grows for more.
            Some(Err(e)) => e.is_truncation(),
            // Or it ends between two records, before any event.
            None => true,
        };
        if !block_too_short || stream.end {
            return Ok(None);
        }
        if !stream.refill(0) {
            return Err(StreamError::NoFirstEvent {
                limit: stream.limit as u64,
            });
        }
    }
}

impl From<AnalyzerError> for RunError {
    fn from(e: AnalyzerError) -> Self {
        RunError::Analyzer(e)
    }
}

/// The slot of a declaration in the handler tables: its position, or one
/// past the last for the dropped-events pseudo event.
fn slot_of(decl: &EventDecl, events: usize) -> usize {
    if decl.is_dropped_pseudo() {
        events
    } else {
        decl.position
    }
}

/// Handler table of one analyzer: which handler (if any) each slot gets.
struct Table<A> {
    handlers: Vec<Option<Handler<A>>>,
    /// The one handler every slot gets, when the analyzer wants every
    /// event and has only a catch-all (the printer): no table lookup.
    uniform: Option<Handler<A>>,
}

impl<A: Analyzer> Table<A> {
    fn build(analyzer: &A, events: &TraceEvents) -> Self {
        let handlers = analyzer.handlers();
        let interest = analyzer.interest();
        let resolve = |decl: &EventDecl| {
            if interest.wants(decl) {
                handlers.resolve(decl)
            } else {
                None
            }
        };
        let mut table: Vec<_> = events.iter().map(resolve).collect();
        table.push(resolve(events.dropped()));
        let uniform = match (&interest, handlers.is_catchall_only()) {
            (super::Interest::All, true) => handlers.resolve(events.dropped()),
            _ => None,
        };
        Table {
            handlers: table,
            uniform,
        }
    }

    fn wants(&self) -> Vec<bool> {
        self.handlers.iter().map(Option::is_some).collect()
    }

    #[inline(always)]
    fn call(
        &self,
        a: &mut A,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        let handler = match self.uniform {
            Some(h) => Some(h),
            None => self.handlers.get(slot).copied().flatten(),
        };
        match handler {
            Some(h) => a.dispatch(h, ev, ctx),
            None => Ok(()),
        }
    }

    #[inline(always)]
    fn wants_slot(&self, slot: usize) -> bool {
        self.uniform.is_some() || self.handlers.get(slot).is_some_and(Option::is_some)
    }
}

/// Called with the output buffer when it is full, and the trace position.
type BlockFn<'f> = dyn FnMut(&mut Vec<u8>, usize) -> Result<(), RunError> + 'f;

/// How a loop over records ended.
struct LoopEnd {
    records: u64,
    fault: Option<format::Error>,
    stopped: bool,
}

/// The loop of a run with a single analyzer, monomorphised for it so its
/// handler inlines: read, decode what it wants, dispatch. `block` is
/// called with the output buffer whenever it passes `threshold` bytes, and
/// the position reached.
#[inline(always)]
fn drive_alone<'r, A: Analyzer>(
    analyzer: &mut A,
    table: &Table<A>,
    sel: &Resolved,
    reader: &mut TraceReader<'r>,
    buf: &mut Vec<u8>,
    threshold: usize,
    block: &mut BlockFn<'_>,
) -> Result<LoopEnd, RunError> {
    let events = reader.events().len();
    let mut end = LoopEnd {
        records: 0,
        fault: None,
        stopped: false,
    };
    let mut ev = Event::placeholder(reader.events().dropped());
    while let Some(read) = reader.next_into(ev.record_mut()) {
        if let Err(e) = read {
            end.fault = Some(e);
            break;
        }
        let slot = slot_of(ev.decl(), events);
        let wanted = table.wants_slot(slot) && sel.keep(slot, ev.pid(), ev.timestamp_ns());
        if wanted && let Err(e) = ev.decode_current() {
            // A record whose arguments do not decode is the fault, not a
            // record read (see `records_before`).
            end.fault = Some(e);
            break;
        }
        end.records += 1;
        if wanted {
            let mut ctx = Context::new(buf);
            table.call(analyzer, slot, &ev, &mut ctx)?;
            if ctx.stopped() {
                end.stopped = true;
                break;
            }
        }
        // Also every 64 Ki records, so that an analyzer that writes
        // nothing still lets the memory map go behind it.
        if buf.len() > threshold || end.records.trailing_zeros() >= 16 {
            block(buf, release_offset(reader))?;
        }
    }
    Ok(end)
}

impl<A> Table<A> {
    fn empty() -> Self {
        Table {
            handlers: Vec::new(),
            uniform: None,
        }
    }
}

/// A fork of a parallel analyzer, working on one chunk.
trait Partial: Send {
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError>;
    /// Runs the whole chunk when this fork is the only analyzer of the run.
    fn run_chunk(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        text: &mut Vec<u8>,
    ) -> Result<LoopEnd, RunError>;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// Makes forks; shared by the worker threads.
trait Forker: Send + Sync {
    fn fork(&self, chunk: &ChunkStart) -> Box<dyn Partial>;
}

/// An analyzer as the driver holds it.
trait Runner: Send {
    fn name(&self) -> &str;
    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError>;
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError>;
    /// Runs the whole trace when this is the only analyzer of the run.
    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError>;
    /// Parallel analyzers: a forker (after `begin`).
    fn forker(&mut self) -> Option<Arc<dyn Forker>>;
    fn merge(&mut self, part: Box<dyn Partial>) -> Result<(), AnalyzerError>;
    fn preamble(&mut self, out: &mut Vec<u8>);
    fn postamble(&mut self, out: &mut Vec<u8>);
    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError>;
}

struct Sequential<A> {
    analyzer: A,
    table: Option<Table<A>>,
}

impl<A: Analyzer> Runner for Sequential<A> {
    fn name(&self) -> &str {
        self.analyzer.name()
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError> {
        self.analyzer.begin(info)?;
        let table = Table::build(&self.analyzer, info.events);
        let wants = table.wants();
        self.table = Some(table);
        Ok(wants)
    }

    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        match &self.table {
            Some(t) => t.call(&mut self.analyzer, slot, ev, ctx),
            None => Ok(()),
        }
    }

    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError> {
        let table = self.table.take().unwrap_or_else(Table::empty);
        let end = drive_alone(
            &mut self.analyzer,
            &table,
            sel,
            reader,
            buf,
            threshold,
            block,
        );
        self.table = Some(table);
        end
    }

    fn forker(&mut self) -> Option<Arc<dyn Forker>> {
        None
    }

    fn merge(&mut self, _part: Box<dyn Partial>) -> Result<(), AnalyzerError> {
        Ok(())
    }

    fn preamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.preamble(out);
    }

    fn postamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.postamble(out);
    }

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.analyzer.end(info)
    }
}

struct Parallel<A> {
    analyzer: A,
    table: Option<Arc<Table<A>>>,
}

struct Fork<A> {
    analyzer: A,
    table: Arc<Table<A>>,
}

impl<A: ParallelAnalyzer + 'static> Partial for Fork<A> {
    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        self.table.call(&mut self.analyzer, slot, ev, ctx)
    }

    fn run_chunk(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        text: &mut Vec<u8>,
    ) -> Result<LoopEnd, RunError> {
        drive_alone(
            &mut self.analyzer,
            &self.table,
            sel,
            reader,
            text,
            usize::MAX,
            &mut |_, _| Ok(()),
        )
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Forks from a prototype (a fork made at the start), so workers never
/// touch the analyzer the main thread merges into.
struct Prototype<A> {
    proto: A,
    table: Arc<Table<A>>,
}

impl<A: ParallelAnalyzer + 'static> Forker for Prototype<A> {
    fn fork(&self, chunk: &ChunkStart) -> Box<dyn Partial> {
        Box::new(Fork {
            analyzer: self.proto.fork(chunk),
            table: Arc::clone(&self.table),
        })
    }
}

impl<A: ParallelAnalyzer + 'static> Runner for Parallel<A> {
    fn name(&self) -> &str {
        self.analyzer.name()
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError> {
        self.analyzer.begin(info)?;
        let table = Table::build(&self.analyzer, info.events);
        let wants = table.wants();
        self.table = Some(Arc::new(table));
        Ok(wants)
    }

    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        match &self.table {
            Some(t) => t.call(&mut self.analyzer, slot, ev, ctx),
            None => Ok(()),
        }
    }

    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError> {
        let table = match &self.table {
            Some(t) => Arc::clone(t),
            None => Arc::new(Table::empty()),
        };
        drive_alone(
            &mut self.analyzer,
            &table,
            sel,
            reader,
            buf,
            threshold,
            block,
        )
    }

    fn forker(&mut self) -> Option<Arc<dyn Forker>> {
        let table = Arc::clone(self.table.as_ref()?);
        let origin = ChunkStart {
            index: 0,
            offset: FileOffset(0),
            record: RecordIndex(0),
            prev_timestamp_ns: None,
        };
        Some(Arc::new(Prototype {
            proto: self.analyzer.fork(&origin),
            table,
        }))
    }

    fn merge(&mut self, part: Box<dyn Partial>) -> Result<(), AnalyzerError> {
        match part.into_any().downcast::<Fork<A>>() {
            Ok(fork) => self.analyzer.merge(fork.analyzer),
            Err(_) => Err(AnalyzerError::new(
                self.analyzer.name().to_owned(),
                "internal error: a chunk result of another analyzer",
            )),
        }
    }

    fn preamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.preamble(out);
    }

    fn postamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.postamble(out);
    }

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.analyzer.end(info)
    }
}

/// Runs analyzers over a trace in one pass; see the [module
/// documentation](super).
#[derive(Default)]
pub struct Driver<'d> {
    runners: Vec<Box<dyn Runner + 'd>>,
    release: Option<Box<dyn FnMut(usize) + 'd>>,
    selection: Selection,
    /// Block size of [`Driver::run_stream`]; 0 for [`STREAM_BLOCK`].
    stream_block: usize,
    /// Whether [`Driver::run_stream`] steps over corrupt regions.
    stream_resync: bool,
}

impl fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field(
                "analyzers",
                &self
                    .runners
                    .iter()
                    .map(|r| r.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Most analyzers one run takes (the dispatch masks are u64).
pub const MAX_ANALYZERS: usize = 64;

/// Per slot, which analyzers want it: all, the parallel ones, the
/// sequential ones.
struct Masks {
    any: Vec<u64>,
    parallel: Vec<u64>,
    sequential: Vec<u64>,
    /// The mask of every slot, when they are all the same (every analyzer
    /// wants every event): saves a dependent load per record.
    uniform_any: Option<u64>,
}

impl Masks {
    #[inline]
    fn get(v: &[u64], slot: usize) -> u64 {
        v.get(slot).copied().unwrap_or(0)
    }

    #[inline]
    fn any(&self, slot: usize) -> u64 {
        match self.uniform_any {
            Some(m) => m,
            None => Self::get(&self.any, slot),
        }
    }

    fn settle(&mut self) {
        let first = self.any.first().copied();
        self.uniform_any = first.filter(|f| self.any.iter().all(|m| m == f));
    }
}

/// Iterates the set bits of a mask.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// What a worker produced for one chunk.
struct ChunkWork<'r> {
    text: Vec<u8>,
    partials: Vec<(usize, Box<dyn Partial>)>,
    /// Records for the sequential analyzers, in file order, each with
    /// where its payload lies in `payloads`.
    batch: Vec<(Record<'r>, core::ops::Range<usize>)>,
    /// The payloads of `batch`'s records, copied when the worker read
    /// them: the main thread feeds them to the sequential analyzers later,
    /// and by then a mapped trace's pages may have vanished under a
    /// truncation (or changed under a rewrite); what the worker checked
    /// is what they get.
    payloads: Vec<u8>,
    records: u64,
    /// Records read from the start of the trace to the end of this chunk
    /// (or its fault), mappings included.
    records_read: u64,
    fault: Option<format::Error>,
    /// The corrupt regions the chunk's reader stepped over.
    skips: Skips,
    error: Option<AnalyzerError>,
    stopped: bool,
    end: usize,
}

const BLOCK: usize = 256 * 1024;

/// Calls the release hook as a sequential pass goes, about every 8 MiB of
/// input rather than at every block written.
struct ReleasePace {
    next: usize,
}

impl ReleasePace {
    const STEP: usize = 8 << 20;

    fn reached(&mut self, pos: usize, release: &mut Option<Box<dyn FnMut(usize) + '_>>) {
        if pos >= self.next {
            if let Some(r) = release.as_mut() {
                r(pos);
            }
            self.next = pos.saturating_add(Self::STEP);
        }
    }
}

impl Default for ReleasePace {
    fn default() -> Self {
        ReleasePace { next: Self::STEP }
    }
}

/// How a pass over the records ended.
#[derive(Default)]
struct Ran {
    /// Event records read.
    records: u64,
    /// Records read, mapping records included.
    records_read: u64,
    fault: Option<format::Error>,
    skips: Skips,
    stopped: bool,
}

impl<'d> Driver<'d> {
    /// A driver with no analyzers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an analyzer that gets every record it wants in file order.
    pub fn add<A: Analyzer + 'd>(&mut self, analyzer: A) {
        self.runners.push(Box::new(Sequential {
            analyzer,
            table: None,
        }));
    }

    /// Adds an analyzer whose forks run chunk-parallel.
    pub fn add_parallel<A: ParallelAnalyzer + 'static>(&mut self, analyzer: A) {
        self.runners.push(Box::new(Parallel {
            analyzer,
            table: None,
        }));
    }

    /// The names of the analyzers, in the order they were added.
    pub fn names(&self) -> Vec<String> {
        self.runners.iter().map(|r| r.name().to_owned()).collect()
    }

    /// Analyzers added so far.
    pub fn len(&self) -> usize {
        self.runners.len()
    }

    /// Whether no analyzer was added.
    pub fn is_empty(&self) -> bool {
        self.runners.is_empty()
    }

    /// Restricts the run to the records `selection` keeps; the others are
    /// not decoded and no analyzer sees them.
    pub fn select(&mut self, selection: Selection) {
        self.selection = selection;
    }

    /// Calls `release(offset)` as output is written: the trace bytes before
    /// `offset` will not be read again (a memory map can drop them). The
    /// offset counts from the start of the trace, also in
    /// [`Driver::run_stream`] (saturating at `usize::MAX`).
    pub fn release_with(&mut self, release: impl FnMut(usize) + 'd) {
        self.release = Some(Box::new(release));
    }

    /// Reads streamed traces ([`Driver::run_stream`]) in blocks of `bytes`
    /// instead of [`STREAM_BLOCK`] (for tests and tuning: smaller blocks
    /// take less memory and more time; 64 at least). A record longer than
    /// a block still fits: the block grows for it, up to
    /// [`STREAM_RECORD_LIMIT`].
    pub fn stream_block(&mut self, bytes: usize) {
        self.stream_block = bytes;
    }

    /// Reads streamed traces ([`Driver::run_stream`]) stepping over
    /// corrupt regions, as [`TraceReader::with_resync`] does for
    /// [`Driver::run`]: the same regions, the same records. Deciding where
    /// a region ends may need the bytes after it, so the block grows for
    /// a region as for a long record; a region longer than
    /// [`STREAM_RECORD_LIMIT`] ends the run with a [`StreamError`].
    pub fn stream_resync(&mut self, on: bool) {
        self.stream_resync = on;
    }

    /// Runs every analyzer over `reader`'s records, writing what they
    /// stream to `out`, and returns their reports.
    pub fn run(
        &mut self,
        mut reader: TraceReader<'_>,
        out: &mut dyn Write,
        options: RunOptions,
    ) -> Result<RunOutcome, RunError> {
        let info = TraceInfo {
            kind: reader.kind(),
            events: reader.events(),
            file_size: reader.data_len() as u64,
            records_read: 0,
            event_records: 0,
        };
        let (masks, forkers) = self.begin(&info)?;
        let first_ts = if self.relative_times() {
            reader.clone().find_map(Result::ok).map(|r| r.timestamp_ns)
        } else {
            None
        };
        let sel = Resolved::new(&self.selection, info.events, first_ts);
        self.preamble(out)?;
        let left = reader.data_len().saturating_sub(reader.data_position());
        let par = options.parallelism;
        let ran = if par.threads <= 1 || left < 2 * par.chunk_bytes {
            self.run_sequential(&mut reader, out, options.buffering, &masks, &sel)?
        } else {
            self.run_parallel(reader, out, par, &masks, &forkers, &sel)?
        };
        self.finish(info, ran, out)
    }

    /// Runs every analyzer over a trace that arrives in pieces (standard
    /// input, a decompressor): `input` yields the whole trace from its
    /// first byte (the header included), whose kind is `kind` (from
    /// [`TraceKind::detect`](crate::format::TraceKind::detect) on its first
    /// bytes, or [`TraceKind::headerless`](crate::format::TraceKind::headerless)).
    ///
    /// The trace is read in blocks of [`STREAM_BLOCK`] bytes (see
    /// [`Driver::stream_block`]), and each
    /// block's whole records are decoded where they lie, like those of a
    /// memory-mapped file, by a reader that carries the id table and the
    /// record count over from the block before; a record cut by the end of
    /// a block moves to the front of the next. Memory stays at a block or
    /// two, whatever the length of the trace, and the output is the same as
    /// [`Driver::run`]'s for the same bytes. The records are decoded in
    /// order on the calling thread (`options.parallelism` is not used).
    ///
    /// Differences from [`Driver::run`]: analyzers' `begin` sees a
    /// [`TraceInfo::file_size`] of 0 (the length is not known yet; `end`
    /// sees the bytes read); a record longer than
    /// [`STREAM_RECORD_LIMIT`] bytes, or (with a relative time filter) a
    /// trace whose first event record does not come within that many
    /// bytes, ends the run with a [`StreamError`]. A failure to read
    /// `input` also ends it with a [`StreamError`], after every whole
    /// record before it has been analysed.
    pub fn run_stream(
        &mut self,
        input: &mut dyn Read,
        kind: TraceKind,
        events: &TraceEvents,
        out: &mut dyn Write,
        options: RunOptions,
    ) -> Result<RunOutcome, RunError> {
        let block = match self.stream_block {
            0 => STREAM_BLOCK,
            n => n,
        };
        let mut stream = StreamBuf::new(input, block, STREAM_RECORD_LIMIT);
        stream.fill();
        let info = TraceInfo {
            kind,
            events,
            file_size: 0,
            records_read: 0,
            event_records: 0,
        };
        let (masks, _) = self.begin(&info)?;
        let mut stream_error = None;
        let mut first_ts = None;
        if self.relative_times() {
            match first_timestamp(&mut stream, events, kind, self.stream_resync) {
                Ok(ts) => first_ts = ts,
                Err(e) => stream_error = Some(e),
            }
        }
        let sel = Resolved::new(&self.selection, events, first_ts);
        self.preamble(out)?;
        let mut ran = Ran::default();
        let mut state: Option<ReaderState> = None;
        while stream_error.is_none() {
            let reader = match &state {
                None => TraceReader::with_kind(stream.bytes(), events, kind)
                    .with_resync(self.stream_resync),
                Some(s) => TraceReader::resume(stream.bytes(), events, s),
            };
            let mut reader = reader.with_more_to_come(!stream.end);
            let mut block =
                self.run_sequential(&mut reader, out, options.buffering, &masks, &sel)?;
            ran.records += block.records;
            ran.records_read = block.records_read;
            ran.skips.append(core::mem::take(&mut block.skips));
            // A record that runs past the end of the block is whole in the
            // next one, unless the trace ends there.
            let cut = block
                .fault
                .as_ref()
                .is_some_and(format::Error::is_truncation);
            if block.stopped || (block.fault.is_some() && !cut) || stream.end {
                ran.fault = block.fault;
                ran.stopped = block.stopped;
                break;
            }
            let next = reader.suspend();
            let put_off = reader.resync_put_off();
            // Within the block: no more than it holds, whatever the offset.
            let consumed =
                usize::try_from(next.offset().saturating_sub(stream.base)).unwrap_or(usize::MAX);
            if !stream.refill(consumed) {
                let at = At {
                    record: RecordIndex(next.records_read()),
                    offset: FileOffset(next.offset()),
                };
                let limit = STREAM_RECORD_LIMIT as u64;
                stream_error = Some(if put_off {
                    StreamError::RegionTooLong { at, limit }
                } else {
                    StreamError::RecordTooLong { at, limit }
                });
            }
            state = Some(next);
        }
        if let Some(source) = stream.error.take() {
            // The record cut off is the read failure's doing, not the
            // trace's: report the failure alone.
            if ran.fault.as_ref().is_some_and(format::Error::is_truncation) {
                ran.fault = None;
            }
            stream_error = Some(StreamError::Read {
                received: stream.received(),
                source,
            });
        }
        let info = TraceInfo {
            file_size: stream.received(),
            ..info
        };
        let mut outcome = self.finish(info, ran, out)?;
        outcome.stream_error = stream_error;
        Ok(outcome)
    }

    /// Calls every analyzer's `begin` and builds the dispatch masks and
    /// the forkers of the parallel analyzers.
    #[allow(clippy::type_complexity)]
    fn begin(
        &mut self,
        info: &TraceInfo<'_>,
    ) -> Result<(Masks, Vec<(usize, Arc<dyn Forker>)>), RunError> {
        if self.runners.len() > MAX_ANALYZERS {
            return Err(RunError::Analyzer(AnalyzerError::new(
                "driver",
                format!("at most {MAX_ANALYZERS} analyzers can run in one pass"),
            )));
        }
        let slots = info.events.len() + 1;
        let mut masks = Masks {
            any: vec![0; slots],
            parallel: vec![0; slots],
            sequential: vec![0; slots],
            uniform_any: None,
        };
        let mut forkers = Vec::new();
        for (i, runner) in self.runners.iter_mut().enumerate() {
            let wants = runner.begin(info)?;
            let forker = runner.forker();
            let target = if forker.is_some() {
                &mut masks.parallel
            } else {
                &mut masks.sequential
            };
            for (slot, &w) in wants.iter().enumerate().take(slots) {
                if w {
                    target[slot] |= 1 << i;
                    masks.any[slot] |= 1 << i;
                }
            }
            if let Some(f) = forker {
                forks_push(&mut forkers, i, f);
            }
        }
        masks.settle();
        Ok((masks, forkers))
    }

    /// Whether the selection has a time relative to the first record.
    fn relative_times(&self) -> bool {
        matches!(self.selection.start, Some(TimeBound::Relative(_)))
            || matches!(self.selection.end, Some(TimeBound::Relative(_)))
    }

    fn preamble(&mut self, out: &mut dyn Write) -> Result<(), RunError> {
        let mut head = Vec::new();
        for runner in &mut self.runners {
            runner.preamble(&mut head);
        }
        out.write_all(&head).map_err(RunError::Io)
    }

    /// Writes the postambles and collects the reports.
    fn finish(
        &mut self,
        info: TraceInfo<'_>,
        ran: Ran,
        out: &mut dyn Write,
    ) -> Result<RunOutcome, RunError> {
        let mut tail = Vec::new();
        for runner in &mut self.runners {
            runner.postamble(&mut tail);
        }
        out.write_all(&tail).map_err(RunError::Io)?;
        out.flush().map_err(RunError::Io)?;
        let info = TraceInfo {
            records_read: ran.records_read,
            event_records: ran.records,
            ..info
        };
        let mut reports = Vec::with_capacity(self.runners.len());
        for runner in &mut self.runners {
            reports.push(runner.end(&info)?);
        }
        Ok(RunOutcome {
            reports,
            records: ran.records,
            fault: ran.fault,
            skips: ran.skips,
            stopped: ran.stopped,
            stream_error: None,
        })
    }

    fn release(&mut self, offset: usize) {
        if let Some(r) = self.release.as_mut() {
            r(offset);
        }
    }

    #[allow(clippy::type_complexity)]
    fn run_sequential(
        &mut self,
        reader: &mut TraceReader<'_>,
        out: &mut dyn Write,
        buffering: Buffering,
        masks: &Masks,
        sel: &Resolved,
    ) -> Result<Ran, RunError> {
        let threshold = match buffering {
            Buffering::Line => 0,
            Buffering::Block => BLOCK,
        };
        let events = reader.events().len();
        let mut buf = Vec::with_capacity(BLOCK + 4096);
        if let [only] = self.runners.as_mut_slice() {
            let mut pace = ReleasePace::default();
            let release = &mut self.release;
            let mut block = |buf: &mut Vec<u8>, pos: usize| -> Result<(), RunError> {
                out.write_all(buf).map_err(RunError::Io)?;
                buf.clear();
                pace.reached(pos, release);
                Ok(())
            };
            let end = match only.run_alone(sel, reader, &mut buf, threshold, &mut block) {
                Ok(end) => end,
                Err(e) => return Err(fail_after(out, &buf, e)),
            };
            out.write_all(&buf).map_err(RunError::Io)?;
            out.flush().map_err(RunError::Io)?;
            return Ok(Ran {
                records: end.records,
                records_read: records_before(reader, end.fault.as_ref()),
                fault: end.fault,
                skips: reader.take_skips(),
                stopped: end.stopped,
            });
        }
        let mut records = 0u64;
        let mut fault = None;
        let mut stopped = false;
        let mut pace = ReleasePace::default();
        let mut ev = Event::placeholder(reader.events().dropped());
        while let Some(read) = reader.next_into(ev.record_mut()) {
            if let Err(e) = read {
                fault = Some(e);
                break;
            }
            let slot = slot_of(ev.decl(), events);
            let mask = if sel.keep(slot, ev.pid(), ev.timestamp_ns()) {
                masks.any(slot)
            } else {
                0
            };
            if mask != 0
                && let Err(e) = ev.decode_current()
            {
                fault = Some(e);
                break;
            }
            records += 1;
            if mask != 0 {
                for i in bits(mask) {
                    let mut ctx = Context::new(&mut buf);
                    if let Some(r) = self.runners.get_mut(i)
                        && let Err(e) = r.handle(slot, &ev, &mut ctx)
                    {
                        return Err(fail_after(out, &buf, e.into()));
                    }
                    stopped |= ctx.stopped();
                }
            }
            // Also every 64 Ki records: analyzers that write nothing must
            // still let the memory map go behind them.
            if buf.len() > threshold || records.trailing_zeros() >= 16 {
                out.write_all(&buf).map_err(RunError::Io)?;
                buf.clear();
                pace.reached(release_offset(reader), &mut self.release);
            }
            if stopped {
                break;
            }
        }
        out.write_all(&buf).map_err(RunError::Io)?;
        out.flush().map_err(RunError::Io)?;
        Ok(Ran {
            records,
            records_read: records_before(reader, fault.as_ref()),
            fault,
            skips: reader.take_skips(),
            stopped,
        })
    }

    #[allow(clippy::type_complexity)]
    fn run_parallel(
        &mut self,
        reader: TraceReader<'_>,
        out: &mut dyn Write,
        par: Parallelism,
        masks: &Masks,
        forkers: &[(usize, Arc<dyn Forker>)],
        sel: &Resolved,
    ) -> Result<Ran, RunError> {
        let threads = par.threads;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("simpletrace-worker-{i}"))
            .build()
            .map_err(|e| RunError::Io(io::Error::other(e)))?;
        let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        let chunk_bytes = par.chunk_bytes;
        let events = reader.events().len();
        let keep = move |decl: &EventDecl, pid: u32, ts: u64| sel.keep_decl(decl, events, pid, ts);
        let keep = &keep;
        pool.in_place_scope(|workers| {
            std::thread::scope(|s| {
                let (order_tx, order_rx) =
                    mpsc::sync_channel::<mpsc::Receiver<ChunkWork<'_>>>(threads + 2);
                let (spare, stop) = (&spare, &stop);
                s.spawn(move || {
                    let chunks = if sel.active {
                        Chunks::filtered(reader, chunk_bytes, keep)
                    } else {
                        Chunks::new(reader, chunk_bytes)
                    };
                    for chunk in chunks {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let (tx, rx) = mpsc::sync_channel(1);
                        if order_tx.send(rx).is_err() {
                            break;
                        }
                        workers.spawn(move |_| {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let text = spare
                                .lock()
                                .ok()
                                .and_then(|mut v| v.pop())
                                .unwrap_or_else(|| Vec::with_capacity(chunk_bytes * 2));
                            let _ = tx.send(work_chunk(chunk, text, masks, forkers, sel, events));
                        });
                    }
                });
                let result = self.consume_in_order(order_rx, out, spare, masks, events);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                result
            })
        })
    }

    /// The main thread's side of the pipeline; returning drops the queue,
    /// which stops the scanner.
    #[allow(clippy::type_complexity)]
    fn consume_in_order(
        &mut self,
        order: mpsc::Receiver<mpsc::Receiver<ChunkWork<'_>>>,
        out: &mut dyn Write,
        spare: &Mutex<Vec<Vec<u8>>>,
        masks: &Masks,
        events: usize,
    ) -> Result<Ran, RunError> {
        let mut records = 0u64;
        let mut records_read = 0u64;
        let mut skips = Skips::default();
        let mut buf = Vec::new();
        for pending in order {
            let Ok(mut work) = pending.recv() else {
                return Err(RunError::Io(io::Error::other(
                    "a worker thread stopped without a result",
                )));
            };
            out.write_all(&work.text).map_err(RunError::Io)?;
            records += work.records;
            records_read = work.records_read;
            skips.append(core::mem::take(&mut work.skips));
            if let Some(e) = work.error.take() {
                return Err(RunError::Analyzer(e));
            }
            for (i, part) in work.partials.drain(..) {
                if let Some(r) = self.runners.get_mut(i) {
                    r.merge(part)?;
                }
            }
            let mut stopped = work.stopped;
            for (record, range) in work.batch.drain(..) {
                let slot = slot_of(record.decl, events);
                let record = Record {
                    payload: work.payloads.get(range).unwrap_or_default(),
                    ..record
                };
                // The worker has checked that these arguments decode.
                let ev = match Event::decode(record) {
                    Ok(ev) => ev,
                    Err(e) => {
                        out.write_all(&buf).map_err(RunError::Io)?;
                        out.flush().map_err(RunError::Io)?;
                        return Ok(Ran {
                            records,
                            records_read,
                            fault: Some(e),
                            skips,
                            stopped,
                        });
                    }
                };
                for i in bits(Masks::get(&masks.sequential, slot)) {
                    let mut ctx = Context::new(&mut buf);
                    if let Some(r) = self.runners.get_mut(i)
                        && let Err(e) = r.handle(slot, &ev, &mut ctx)
                    {
                        return Err(fail_after(out, &buf, e.into()));
                    }
                    stopped |= ctx.stopped();
                }
                if stopped {
                    break;
                }
            }
            out.write_all(&buf).map_err(RunError::Io)?;
            buf.clear();
            if work.fault.is_some() || stopped {
                out.flush().map_err(RunError::Io)?;
                return Ok(Ran {
                    records,
                    records_read,
                    fault: work.fault,
                    skips,
                    stopped,
                });
            }
            self.release(work.end);
            work.text.clear();
            if let Ok(mut v) = spare.lock() {
                v.push(work.text);
            }
        }
        out.flush().map_err(RunError::Io)?;
        Ok(Ran {
            records,
            records_read,
            fault: None,
            skips,
            stopped: false,
        })
    }
}

/// Writes what the analyzers produced before one of them failed, then
/// gives that failure back. The parallel path writes every chunk before
/// the failing one and the failing chunk's output up to the failing
/// record; so does the sequential path with this, and a run's output does
/// not depend on the thread count even when it fails (found by the `print`
/// fuzz target: sequentially, the last unwritten block was lost).
fn fail_after(out: &mut dyn Write, buf: &[u8], e: RunError) -> RunError {
    if let RunError::Analyzer(_) = e
        && let Err(io) = out.write_all(buf).and_then(|()| out.flush())
    {
        return RunError::Io(io);
    }
    e
}

/// Records read before `fault`, or all that `reader` read without one.
/// A record whose arguments fail to decode has already been counted by the
/// reader, a record the reader rejects has not; the fault's own index
/// counts the records before it either way, so every path (sequential,
/// chunk-parallel, one analyzer or several) reports the same counts and
/// the mapping records (records read minus event records) come out right
/// (found by the `print` fuzz target: the paths disagreed by one).
fn records_before(reader: &TraceReader<'_>, fault: Option<&format::Error>) -> u64 {
    match fault.and_then(format::Error::at) {
        Some(at) => at.record.0,
        None => reader.records_read(),
    }
}

fn forks_push(forkers: &mut Vec<(usize, Arc<dyn Forker>)>, i: usize, f: Arc<dyn Forker>) {
    forkers.push((i, f));
}

/// A worker's job: run the forks over one chunk and collect the records
/// the sequential analyzers want.
fn work_chunk<'r>(
    chunk: Chunk<'r>,
    mut text: Vec<u8>,
    masks: &Masks,
    forkers: &[(usize, Arc<dyn Forker>)],
    sel: &Resolved,
    events: usize,
) -> ChunkWork<'r> {
    let start = ChunkStart {
        index: chunk.index,
        offset: chunk.reader.position(),
        record: RecordIndex(chunk.reader.records_read()),
        prev_timestamp_ns: chunk.prev_timestamp_ns,
    };
    let mut partials: Vec<(usize, Box<dyn Partial>)> =
        forkers.iter().map(|(i, f)| (*i, f.fork(&start))).collect();
    let alone = masks.sequential.iter().all(|&m| m == 0);
    if let ([(_, part)], true) = (partials.as_mut_slice(), alone) {
        let mut reader = chunk.reader;
        let end = part.run_chunk(sel, &mut reader, &mut text);
        let (fault, error, stopped, records) = match end {
            Ok(e) => (e.fault, None, e.stopped, e.records),
            Err(RunError::Analyzer(e)) => (None, Some(e), false, 0),
            Err(RunError::Io(e)) => (
                None,
                Some(AnalyzerError::new("driver", e.to_string())),
                false,
                0,
            ),
        };
        return ChunkWork {
            text,
            partials,
            batch: Vec::new(),
            payloads: Vec::new(),
            records,
            records_read: records_before(&reader, fault.as_ref()),
            fault,
            skips: reader.take_skips(),
            error,
            stopped,
            end: chunk.range.end,
        };
    }
    let mut work = ChunkWork {
        text: Vec::new(),
        partials: Vec::new(),
        batch: Vec::new(),
        payloads: Vec::new(),
        records: 0,
        records_read: 0,
        fault: None,
        skips: Skips::default(),
        error: None,
        stopped: false,
        end: chunk.range.end,
    };
    let mut reader = chunk.reader;
    let mut ev = Event::placeholder(reader.events().dropped());
    'records: while let Some(read) = reader.next_into(ev.record_mut()) {
        if let Err(e) = read {
            work.fault = Some(e);
            break;
        }
        let slot = slot_of(ev.decl(), events);
        let any = if sel.keep(slot, ev.pid(), ev.timestamp_ns()) {
            masks.any(slot)
        } else {
            0
        };
        if any != 0 {
            if let Err(e) = ev.decode_current() {
                work.fault = Some(e);
                break;
            }
            let par = Masks::get(&masks.parallel, slot);
            for (i, part) in partials.iter_mut() {
                if par & (1 << *i) == 0 {
                    continue;
                }
                let mut ctx = Context::new(&mut text);
                if let Err(e) = part.handle(slot, &ev, &mut ctx) {
                    work.error = Some(e);
                    break 'records;
                }
                work.stopped |= ctx.stopped();
            }
            if Masks::get(&masks.sequential, slot) != 0 {
                let record = *ev.record();
                let start = work.payloads.len();
                work.payloads.extend_from_slice(record.payload);
                work.batch.push((record, start..work.payloads.len()));
            }
        }
        work.records += 1;
        if work.stopped {
            break;
        }
    }
    work.records_read = records_before(&reader, work.fault.as_ref());
    work.skips = reader.take_skips();
    work.text = text;
    work.partials = partials;
    work
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::print::Parallelism;
    use crate::analyzers::{Handlers, ParallelAnalyzer};
    use crate::format::{ArgValue, encode};

    /// Writes `n=N` per record and fails on the record whose argument is
    /// `fail_at`.
    #[derive(Clone)]
    struct FailAt {
        fail_at: u64,
    }

    impl FailAt {
        fn on(&mut self, ev: &Event<'_>, ctx: &mut Context<'_>) -> Result<(), AnalyzerError> {
            let n = ev.u64("n").unwrap_or(0);
            if n == self.fail_at {
                return Err(AnalyzerError::new("fail", format!("record {n}")));
            }
            ctx.out().extend_from_slice(format!("n={n}\n").as_bytes());
            Ok(())
        }
    }

    impl Analyzer for FailAt {
        fn name(&self) -> &str {
            "fail"
        }
        fn handlers(&self) -> Handlers<Self> {
            let mut h = Handlers::new();
            h.catchall(Self::on);
            h
        }
        fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
            Ok(Report::none())
        }
    }

    impl ParallelAnalyzer for FailAt {
        fn fork(&self, _: &ChunkStart) -> Self {
            self.clone()
        }
        fn merge(&mut self, _: Self) -> Result<(), AnalyzerError> {
            Ok(())
        }
    }

    /// Reports nothing and wants nothing: a second analyzer, so the
    /// driver takes its multi-analyzer loops.
    struct Idle;

    impl Analyzer for Idle {
        fn name(&self) -> &str {
            "idle"
        }
        fn handlers(&self) -> Handlers<Self> {
            Handlers::new()
        }
        fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
            Ok(Report::none())
        }
    }

    /// Wants every record and reports the counts `end` is given.
    #[derive(Clone)]
    struct Counts;

    impl Analyzer for Counts {
        fn name(&self) -> &str {
            "counts"
        }
        fn handlers(&self) -> Handlers<Self> {
            let mut h = Handlers::new();
            h.catchall(|_: &mut Self, _: &Event<'_>, _: &mut Context<'_>| Ok(()));
            h
        }
        fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
            let text = format!("{} {}", info.records_read, info.event_records);
            Ok(Report::new(text, serde_json::Value::Null))
        }
    }

    impl ParallelAnalyzer for Counts {
        fn fork(&self, _: &ChunkStart) -> Self {
            Counts
        }
        fn merge(&mut self, _: Self) -> Result<(), AnalyzerError> {
            Ok(())
        }
    }

    /// Found by the `print` fuzz target: with several analyzers, the
    /// sequential loop counted a record whose arguments do not decode as
    /// an event record and the chunk-parallel one did not, so `stats`
    /// told them apart ("the filters kept 7 of 8 event records" against
    /// one mapping record too many).
    #[test]
    fn a_record_whose_arguments_fail_is_not_counted_on_any_path() {
        let events = TraceEvents::parse("te", b"tick(uint64_t n)\nname(const char *s)\n").unwrap();
        let mut trace = Vec::new();
        encode::header(&mut trace, 4);
        encode::mapping(&mut trace, 0, b"tick");
        encode::mapping(&mut trace, 1, b"name");
        for n in 0..20 {
            encode::event(&mut trace, 0, n * 10, 1, &[ArgValue::Int(n)]);
        }
        // A string whose length runs 1000 bytes past its record.
        encode::event_with_payload(&mut trace, 1, 500, 1, &1000u32.to_le_bytes());
        // 2 mappings and 20 events before the fault.
        let want = "22 20";
        for layout in 0..3 {
            for threads in [1, 2] {
                let mut driver = Driver::new();
                match layout {
                    0 => driver.add_parallel(Counts),
                    1 => driver.add(Counts),
                    _ => {
                        driver.add_parallel(Counts);
                        driver.add(Idle);
                    }
                }
                let options = RunOptions {
                    parallelism: Parallelism {
                        threads,
                        chunk_bytes: 64,
                    },
                    ..RunOptions::default()
                };
                let reader = TraceReader::new(&trace, &events).unwrap();
                let outcome = driver.run(reader, &mut Vec::new(), options).unwrap();
                match &outcome.fault {
                    Some(format::Error::StringPastRecord { at, .. }) => {
                        assert_eq!(at.record, RecordIndex(22));
                    }
                    otherwise => panic!("{otherwise:?}"),
                }
                assert_eq!(outcome.records, 20, "layout {layout}, {threads} threads");
                assert_eq!(
                    outcome.reports[0].text, want,
                    "layout {layout}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn an_analyzer_failure_writes_what_came_before_on_any_thread_count() {
        let events = TraceEvents::parse("te", b"tick(uint64_t n)\n").unwrap();
        let mut trace = Vec::new();
        encode::header(&mut trace, 4);
        encode::mapping(&mut trace, 0, b"tick");
        for n in 0..100 {
            encode::event(&mut trace, 0, n * 10, 1, &[ArgValue::Int(n)]);
        }
        let want: String = (0..70).map(|n| format!("n={n}\n")).collect();
        // Alone, with a sequential companion, as the sequential one.
        for layout in 0..3 {
            for threads in [1, 2] {
                let mut driver = Driver::new();
                match layout {
                    0 => driver.add_parallel(FailAt { fail_at: 70 }),
                    1 => {
                        driver.add_parallel(FailAt { fail_at: 70 });
                        driver.add(Idle);
                    }
                    _ => {
                        driver.add(FailAt { fail_at: 70 });
                        driver.add_parallel(FailAt { fail_at: u64::MAX });
                    }
                }
                let options = RunOptions {
                    parallelism: Parallelism {
                        threads,
                        chunk_bytes: 200,
                    },
                    ..RunOptions::default()
                };
                let mut out = Vec::new();
                let reader = TraceReader::new(&trace, &events).unwrap();
                match driver.run(reader, &mut out, options) {
                    Err(RunError::Analyzer(e)) => assert_eq!(e.message, "record 70"),
                    otherwise => panic!("{otherwise:?}"),
                }
                let out = String::from_utf8(out).unwrap();
                if layout == 2 {
                    // Both print the first 70 records, interleaved per
                    // record sequentially and per chunk in parallel.
                    assert_eq!(out.lines().filter(|l| *l == "n=69").count(), 2, "{out}");
                } else {
                    assert_eq!(out, want, "layout {layout}, {threads} threads");
                }
            }
        }
    }
}
