//! The driver: runs analyzers over a trace in one pass.
//!
//! Every run goes through one record loop (`record_loop`): read a record,
//! look up (once per event, in a table) which analyzers want it, decode its
//! arguments once, hand it to them. The loop is generic over where the
//! records come from and where they go, so each combination is
//! monomorphised:
//!
//! - `dispatch`: the handler tables and masks, and the targets (one
//!   analyzer alone, several by mask).
//! - `record_loop`: the loop.
//! - `parallel`: the chunk-parallel path, which runs the same loop per
//!   chunk on worker threads and again, on the calling thread, over the
//!   records the sequential analyzers want.
//!
//! The records come from a record source ([`crate::input::source`]): a
//! trace held whole in memory, read in one piece or cut into chunks, or a
//! stream read in blocks. The source owns all buffering and block
//! bookkeeping; the driver only runs records.

use core::fmt;
use std::io::{self, Read, Write};

use super::select::{Resolved, Selection, TimeBound};
use super::{Analyzer, AnalyzerError, ParallelAnalyzer, Report, Setup, SetupWarning, TraceInfo};
use crate::format::events::TraceEvents;
use crate::format::{self, FileOffset, RecordIndex, Skips, TraceKind, TraceReader};
use crate::input::FollowedTrace;
use crate::input::follow::Follow;
use crate::input::source::{Blocks, PieceEnd, RecordSource, Whole};

mod dispatch;
mod parallel;
mod record_loop;

pub use crate::input::source::{STREAM_BLOCK, STREAM_RECORD_LIMIT, StreamError};
pub use dispatch::MAX_ANALYZERS;

use dispatch::{Forker, Many, Masks, Parallel, Pick, Runner, Sequential};
pub use record_loop::LengthMismatches;
use record_loop::{LoopEnd, records_before};

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

/// How often output is handed to the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// After every line (for a terminal).
    Line,
    /// In blocks of about 256 KiB (for pipes and files).
    Block,
}

/// How a run divides the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads that run the analyzers' forks (1: everything on the calling
    /// thread).
    pub threads: usize,
    /// Bytes of trace per chunk handed to a thread.
    pub chunk_bytes: usize,
}

impl Parallelism {
    /// One thread: the plain sequential loop.
    pub const SEQUENTIAL: Parallelism = Parallelism {
        threads: 1,
        chunk_bytes: DEFAULT_CHUNK_BYTES,
    };

    /// `threads` threads with the default chunk size for that many:
    /// [`DEFAULT_CHUNK_BYTES`] up to 4 threads, smaller beyond so that the
    /// chunk texts in flight stay within about 64 MiB.
    pub fn threads(threads: usize) -> Parallelism {
        let threads = threads.max(1);
        Parallelism {
            threads,
            chunk_bytes: (DEFAULT_CHUNK_BYTES * 4 / threads).clamp(256 << 10, DEFAULT_CHUNK_BYTES),
        }
    }
}

/// Chunk size for up to 4 threads. Through a pipe, 4 MiB beat 1 MiB by
/// about 10% (fewer hand-offs and larger writes); to `/dev/null` they tie.
/// Each chunk's text is about 1.5 times its size.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

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
    /// What the analyzers' [`Analyzer::configure`] warned about at the
    /// start of the run, in the order they were added.
    pub warnings: Vec<SetupWarning>,
    /// The records longer than their declarations say (bytes left over
    /// after the declared arguments): a trace-events file that does not
    /// fit the trace, most likely. They were analysed as declared.
    pub length_mismatches: LengthMismatches,
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

impl From<AnalyzerError> for RunError {
    fn from(e: AnalyzerError) -> Self {
        RunError::Analyzer(e)
    }
}

/// Runs analyzers over a trace in one pass; see the [module
/// documentation](self).
#[derive(Default)]
pub struct Driver<'d> {
    runners: Vec<Box<dyn Runner + 'd>>,
    release: Option<Box<dyn FnMut(usize) + 'd>>,
    selection: Selection,
    /// Block size of [`Driver::run_stream`]; 0 for [`STREAM_BLOCK`].
    stream_block: usize,
    /// Whether [`Driver::run_stream`] steps over corrupt regions.
    stream_resync: bool,
    /// Live reports of a followed trace ([`Driver::live_reports`]).
    live: Option<Live<'d>>,
}

/// Where live reports go, and when ([`Driver::live_reports`]).
struct Live<'d> {
    every: std::time::Duration,
    show: ShowFn<'d>,
    /// When the last were shown.
    last: std::time::Instant,
    /// Records have come since.
    changed: bool,
}

/// What is called with the live reports.
type ShowFn<'d> = Box<dyn FnMut(&[Report]) -> io::Result<()> + 'd>;

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

/// Output handed to the writer at a time (with [`Buffering::Block`]).
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
    mismatches: LengthMismatches,
}

/// What every run sets up before the first record.
struct Start {
    warnings: Vec<SetupWarning>,
    masks: Masks,
    forkers: Vec<(usize, std::sync::Arc<dyn Forker>)>,
    sel: Resolved,
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

    /// With [`Driver::run_follow`]: calls `show` with every analyzer's
    /// report as it stands ([`Analyzer::report_so_far`]; an analyzer
    /// without one gives [`Report::none`]) when records have come since
    /// the last call and at least `every` has passed, as the follow has
    /// caught up with the file (`stats --follow`). The follow wakes every
    /// `every` to do so ([`FollowedTrace::set_tick`] is set by the run).
    pub fn live_reports(
        &mut self,
        every: std::time::Duration,
        show: impl FnMut(&[Report]) -> io::Result<()> + 'd,
    ) {
        self.live = Some(Live {
            every,
            show: Box::new(show),
            last: std::time::Instant::now(),
            changed: false,
        });
    }

    /// Runs every analyzer over `reader`'s records, writing what they
    /// stream to `out`, and returns their reports.
    pub fn run(
        &mut self,
        reader: TraceReader<'_>,
        out: &mut dyn Write,
        options: RunOptions,
    ) -> Result<RunOutcome, RunError> {
        let mut source = Whole::new(reader);
        let info = TraceInfo {
            kind: source.kind(),
            events: source.events(),
            file_size: source.len(),
            records_read: 0,
            event_records: 0,
        };
        let start = self.start(&mut source, &info, out)?;
        let par = options.parallelism;
        let ran = if par.threads <= 1 || source.left() < 2 * par.chunk_bytes {
            self.run_pieces(&mut source, out, options.buffering, &start, &info)?
                .0
        } else {
            let Start {
                masks,
                forkers,
                sel,
                ..
            } = &start;
            self.run_parallel(source, out, par, masks, forkers, sel)?
        };
        let mut outcome = self.finish(info, ran, out)?;
        outcome.warnings = start.warnings;
        Ok(outcome)
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
        let mut source = Blocks::new(input, events, kind, block, self.stream_resync);
        let info = TraceInfo {
            kind,
            events,
            file_size: 0,
            records_read: 0,
            event_records: 0,
        };
        let start = self.start(&mut source, &info, out)?;
        let (ran, stream_error) =
            self.run_pieces(&mut source, out, options.buffering, &start, &info)?;
        let info = TraceInfo {
            file_size: source.len(),
            ..info
        };
        let mut outcome = self.finish(info, ran, out)?;
        outcome.stream_error = stream_error;
        outcome.warnings = start.warnings;
        Ok(outcome)
    }

    /// Runs every analyzer over a trace that is still being written
    /// ([`FollowedTrace`], `--follow`): its records as they come, read as
    /// [`Driver::run_stream`] reads a stream (a block at a time, on the
    /// calling thread, the same output for the same bytes), each piece's
    /// output written and flushed as soon as it is decoded. A record cut
    /// at the current end of the file is read once the rest of it has
    /// come; a restarted trace is read from its new header on. The run
    /// ends when following stops ([`FollowedTrace::stopped`]): then the
    /// postambles and reports are made as at the end of any trace.
    pub fn run_follow(
        &mut self,
        trace: &mut FollowedTrace,
        events: &TraceEvents,
        out: &mut dyn Write,
        options: RunOptions,
    ) -> Result<RunOutcome, RunError> {
        let resync = self.stream_resync;
        trace.set_tick(self.live.as_ref().map(|live| live.every));
        let mut source = Follow::new(trace, events, resync);
        let info = TraceInfo {
            kind: source.kind(),
            events,
            file_size: 0,
            records_read: 0,
            event_records: 0,
        };
        let start = self.start(&mut source, &info, out)?;
        let (ran, stream_error) =
            self.run_pieces(&mut source, out, options.buffering, &start, &info)?;
        let info = TraceInfo {
            file_size: source.len(),
            ..info
        };
        let mut outcome = self.finish(info, ran, out)?;
        outcome.stream_error = stream_error;
        outcome.warnings = start.warnings;
        Ok(outcome)
    }

    /// The one place a run starts: calls every analyzer's `configure`
    /// (which may refuse, or widen the selection), then its `begin`,
    /// builds the dispatch masks and the forkers of the parallel
    /// analyzers, resolves the selection (reading ahead for the first
    /// timestamp when it needs it) and writes the preambles.
    fn start<'e, S: RecordSource<'e>>(
        &mut self,
        source: &mut S,
        info: &TraceInfo<'_>,
        out: &mut dyn Write,
    ) -> Result<Start, RunError> {
        if self.runners.len() > MAX_ANALYZERS {
            return Err(RunError::Analyzer(AnalyzerError::new(
                "driver",
                format!("at most {MAX_ANALYZERS} analyzers can run in one pass"),
            )));
        }
        let mut warnings = Vec::new();
        for runner in &mut self.runners {
            let mut setup = Setup::new(info.events, &mut self.selection);
            warnings.extend(runner.configure(&mut setup)?);
        }
        let slots = info.events.len() + 1;
        let mut masks = Masks::new(slots);
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
                forkers.push((i, f));
            }
        }
        masks.settle();
        let first_ts = if self.relative_times() {
            source.first_timestamp()
        } else {
            None
        };
        let sel = Resolved::new(&self.selection, info.events, first_ts);
        let mut head = Vec::new();
        for runner in &mut self.runners {
            runner.preamble(&mut head);
        }
        out.write_all(&head).map_err(RunError::Io)?;
        Ok(Start {
            warnings,
            masks,
            forkers,
            sel,
        })
    }

    /// Whether the selection has a time relative to the first record.
    fn relative_times(&self) -> bool {
        matches!(self.selection.start, Some(TimeBound::Relative(_)))
            || matches!(self.selection.end, Some(TimeBound::Relative(_)))
    }

    /// Runs the record loop over each piece of `source` in turn, on the
    /// calling thread.
    fn run_pieces<'e, S: RecordSource<'e>>(
        &mut self,
        source: &mut S,
        out: &mut dyn Write,
        buffering: Buffering,
        start: &Start,
        info: &TraceInfo<'_>,
    ) -> Result<(Ran, Option<StreamError>), RunError> {
        let mut ran = Ran::default();
        let end = source.pieces(|reader, at| {
            if at.restarted {
                for runner in &mut self.runners {
                    runner.restart();
                }
            }
            let mut piece = self.run_sequential(reader, out, buffering, start)?;
            if at.caught_up {
                for runner in &mut self.runners {
                    runner.caught_up()?;
                }
            }
            ran.records += piece.records;
            ran.records_read = piece.records_read;
            if at.caught_up
                && let Some(live) = self.live.as_mut()
            {
                live.changed |= piece.records > 0;
                if live.changed && live.last.elapsed() >= live.every {
                    let now = TraceInfo {
                        file_size: TraceReader::position(reader).0,
                        records_read: ran.records_read,
                        event_records: ran.records,
                        ..*info
                    };
                    let reports = self
                        .runners
                        .iter()
                        .map(|r| r.report_so_far(&now).unwrap_or_else(|| Ok(Report::none())))
                        .collect::<Result<Vec<_>, _>>()?;
                    (live.show)(&reports).map_err(RunError::Io)?;
                    live.changed = false;
                    live.last = std::time::Instant::now();
                }
            }
            ran.skips.append(core::mem::take(&mut piece.skips));
            ran.mismatches
                .append(core::mem::take(&mut piece.mismatches));
            Ok::<_, RunError>(PieceEnd {
                fault: piece.fault,
                stopped: piece.stopped,
            })
        })?;
        ran.fault = end.fault;
        ran.stopped = end.stopped;
        Ok((ran, end.stream_error))
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
            warnings: Vec::new(),
            length_mismatches: ran.mismatches,
        })
    }

    fn release(&mut self, offset: usize) {
        if let Some(r) = self.release.as_mut() {
            r(offset);
        }
    }

    /// The record loop over one reader on the calling thread: with one
    /// analyzer, its own monomorphised loop; with several, the loop with
    /// all of them as its target.
    fn run_sequential(
        &mut self,
        reader: &mut TraceReader<'_>,
        out: &mut dyn Write,
        buffering: Buffering,
        start: &Start,
    ) -> Result<Ran, RunError> {
        let threshold = match buffering {
            Buffering::Line => 0,
            Buffering::Block => BLOCK,
        };
        let mut buf = Vec::with_capacity(BLOCK + 4096);
        let mut pace = ReleasePace::default();
        let release = &mut self.release;
        let mut block = |buf: &mut Vec<u8>, pos: usize| -> Result<(), RunError> {
            out.write_all(buf).map_err(RunError::Io)?;
            buf.clear();
            pace.reached(pos, release);
            Ok(())
        };
        let end = match self.runners.as_mut_slice() {
            [only] => only.run_alone(&start.sel, reader, &mut buf, threshold, &mut block),
            runners => {
                let mut target = Many {
                    runners,
                    masks: &start.masks,
                    pick: Pick::Any,
                };
                record_loop::run(
                    reader,
                    &mut target,
                    &start.sel,
                    &mut buf,
                    threshold,
                    &mut block,
                )
            }
        };
        let end: LoopEnd = match end {
            Ok(end) => end,
            Err(e) => return Err(fail_after(out, &buf, e)),
        };
        out.write_all(&buf).map_err(RunError::Io)?;
        out.flush().map_err(RunError::Io)?;
        // Where the piece ended, which the paced calls above fall short
        // of (a progress bar's last position).
        let reached = usize::try_from(TraceReader::position(reader).0).unwrap_or(usize::MAX);
        self.release(reached);
        Ok(Ran {
            records: end.records,
            records_read: records_before(reader, end.fault.as_ref()),
            fault: end.fault,
            skips: reader.take_skips(),
            stopped: end.stopped,
            mismatches: end.mismatches,
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analyzers::{Context, Event, Handlers, ParallelAnalyzer};
    use crate::format::{ArgValue, encode};
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// Writes `n=N` per record, and while it uses the record whose
    /// argument is `at`, lowers the valid length below that record's end,
    /// as the `SIGBUS` guard does when another program truncates the file
    /// while the record is read (its bytes may then have been zeros).
    #[derive(Clone)]
    struct VanishAt {
        at: u64,
        valid: &'static AtomicUsize,
        to: usize,
    }

    impl VanishAt {
        fn on(&mut self, ev: &Event<'_>, ctx: &mut Context<'_>) -> Result<(), AnalyzerError> {
            let n = ev.u64("n").unwrap_or(0);
            if n == self.at {
                self.valid.fetch_min(self.to, Ordering::SeqCst);
            }
            ctx.out().extend_from_slice(format!("n={n}\n").as_bytes());
            Ok(())
        }
    }

    impl Analyzer for VanishAt {
        fn name(&self) -> &str {
            "vanish"
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

    impl ParallelAnalyzer for VanishAt {
        fn fork(&self, _: &ChunkStart) -> Self {
            self.clone()
        }
        fn merge(&mut self, _: Self) -> Result<(), AnalyzerError> {
            Ok(())
        }
    }

    use crate::analyzers::sink::tests::Shared;

    /// A page that vanishes after the reader checked it, while a record on
    /// it is used (found by `shrinking::the_command_line_says_where_the_file_was_cut`
    /// under load: `filter` copied zeros for a record's arguments after
    /// blocking on a full pipe, `print -j2` printed them after a worker was
    /// descheduled): the run stops at that record with the cut, and nothing
    /// of it goes out, in the run's output or in `filter`'s, whatever the
    /// thread count and the analyzers' layout.
    #[test]
    fn a_record_read_while_its_page_vanished_is_the_cut_and_is_not_written() {
        let events = TraceEvents::parse("te", b"tick(uint64_t n)\n").unwrap();
        let mut trace = Vec::new();
        encode::header(&mut trace, 4);
        encode::mapping(&mut trace, 0, b"tick");
        let mut starts = Vec::new();
        for n in 0..100 {
            starts.push(trace.len());
            encode::event(&mut trace, 0, n * 10, 1, &[ArgValue::Int(n)]);
        }
        let want: String = (0..70).map(|n| format!("n={n}\n")).collect();
        for layout in 0..5 {
            for threads in [1, 2] {
                if layout == 1 && threads == 2 {
                    // A sequential analyzer of a parallel run is handed
                    // copies the workers made and confirmed: nothing can
                    // vanish under it.
                    continue;
                }
                let valid: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(usize::MAX)));
                // Inside record 70, past its header.
                let vanish = VanishAt {
                    at: 70,
                    valid,
                    to: starts[70] + 30,
                };
                let subset = Shared::default();
                let mut driver = Driver::new();
                match layout {
                    0 => driver.add_parallel(vanish),
                    1 => driver.add(vanish),
                    2 => {
                        driver.add_parallel(vanish);
                        driver.add(Idle);
                    }
                    3 => {
                        driver.add_parallel(vanish);
                        driver.add(crate::analyzers::subset::SubsetWriter::new(
                            Box::new(subset.clone()),
                            "subset",
                        ));
                    }
                    _ => {
                        // The Perfetto writer takes back what it wrote of
                        // the record by declaring everything again.
                        driver.add_parallel(vanish);
                        let sink = crate::analyzers::perfetto::PerfettoTrace::new(
                            "t",
                            Vec::new(),
                            Vec::new(),
                        );
                        driver.add(crate::analyzers::sink::ToWriter::new(
                            sink,
                            Box::new(subset.clone()),
                            "perfetto",
                        ));
                    }
                }
                let options = RunOptions {
                    parallelism: Parallelism {
                        threads,
                        chunk_bytes: 200,
                    },
                    ..RunOptions::default()
                };
                let what = format!("layout {layout}, {threads} threads");
                let mut out = Vec::new();
                let reader = TraceReader::new(&trace, &events)
                    .unwrap()
                    .with_valid_len(valid);
                let outcome = driver.run(reader, &mut out, options).unwrap();
                match &outcome.fault {
                    Some(format::Error::Cut { at, .. }) => {
                        assert_eq!(at.record, RecordIndex(71), "{what}");
                    }
                    otherwise => panic!("{what}: {otherwise:?}"),
                }
                assert_eq!(outcome.records, 70, "{what}");
                assert_eq!(String::from_utf8(out).unwrap(), want, "{what}");
                if layout == 3 {
                    // filter's new trace: records 0 to 69, each intact.
                    let written = subset.0.lock().unwrap().clone();
                    let ns: Vec<u64> = TraceReader::new(&written, &events)
                        .unwrap()
                        .map(|r| {
                            let r = r.unwrap();
                            u64::from_le_bytes(r.payload.try_into().unwrap())
                        })
                        .collect();
                    assert_eq!(ns, (0..70).collect::<Vec<u64>>(), "{what}");
                }
                if layout == 4 {
                    // Perfetto's trace: an instant `tick` for records 0
                    // to 69, each with its `n`, every name interned.
                    use crate::analyzers::perfetto::proto;
                    use prost::Message;
                    let written = subset.0.lock().unwrap().clone();
                    let decoded = proto::Trace::decode(&written[..]).unwrap();
                    let mut names = std::collections::HashMap::new();
                    let mut ns = Vec::new();
                    for packet in &decoded.packet {
                        if let Some(interned) = &packet.interned_data {
                            for name in &interned.event_names {
                                names.insert(name.iid, name.name.clone());
                            }
                        }
                        let Some(ev) = &packet.track_event else {
                            continue;
                        };
                        assert_eq!(ev.r#type, Some(proto::TYPE_INSTANT), "{what}");
                        let name = names.get(&ev.name_iid).cloned().flatten();
                        assert_eq!(name.as_deref(), Some("tick"), "{what}");
                        ns.push(ev.debug_annotations[0].uint_value.unwrap());
                    }
                    assert_eq!(ns, (0..70).collect::<Vec<u64>>(), "{what}");
                }
            }
        }
    }
}
