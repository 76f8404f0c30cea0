//! Streaming sinks: analyzers whose work is to write every record they are
//! given (`print`, `log`, `json`, `chrome`, `filter`'s subset), one
//! trait for what they share.
//!
//! A sink says how it writes one record ([`Sink::write`]) and, if it needs
//! to, what comes before and after the records and what it reports at the
//! end. Everything else an [`Analyzer`] has (the catch-all handler, the
//! direct dispatch the compiler inlines into the record loop, an empty
//! report) comes with it: every `Sink` is an `Analyzer`. A sink whose
//! records can be written chunk by chunk ([`ChunkSink`]) is a
//! [`ParallelAnalyzer`], its chunks written out in file order by the
//! driver. Where the bytes go (buffered, flushed, in chunk order) is the
//! driver's concern, not the sink's; a sink whose records should go
//! somewhere else than the run's output (`run --output KEY=FILE`) is
//! wrapped in a [`ToWriter`], which hands it a buffer of its own.
//!
//! ```
//! use simpletrace::analyzers::sink::{ChunkSink, Sink, Stream};
//! use simpletrace::analyzers::{AnalyzerError, ChunkStart, Driver, Event};
//! use simpletrace::format::{TraceEvents, TraceReader, encode};
//!
//! /// One line per record: its name.
//! #[derive(Default)]
//! struct Names;
//!
//! impl Sink for Names {
//!     const NAME: &'static str = "names";
//!     const STREAM: Stream = Stream::Text;
//!     fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
//!         out.extend_from_slice(ev.name().as_bytes());
//!         out.push(b'\n');
//!         Ok(())
//!     }
//! }
//!
//! impl ChunkSink for Names {
//!     fn split(&self, _: &ChunkStart) -> Self {
//!         Names
//!     }
//! }
//!
//! let events = TraceEvents::parse("te", b"a(int x)\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"a");
//! encode::event(&mut trace, 0, 1, 1, &[simpletrace::format::ArgValue::Int(1)]);
//! let mut driver = Driver::new();
//! driver.add_parallel(Names);
//! let mut out = Vec::new();
//! driver.run(TraceReader::new(&trace, &events)?, &mut out, Default::default())?;
//! assert_eq!(out, b"a\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    Analyzer, AnalyzerError, ChunkStart, Context, Event, Handler, Handlers, ParallelAnalyzer,
    Report, TraceInfo,
};

/// What a sink writes into the run's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Text for people (`print`, `log`).
    Text,
    /// A format for other programs (`json`'s JSON Lines, `chrome`'s
    /// document): nothing else may share the output with it.
    Data,
    /// Nothing: it writes to a destination of its own (`filter -o`).
    Own,
}

/// A streaming analyzer: writes each record it is given. See the
/// [module documentation](self).
pub trait Sink: Send + Sized {
    /// Its name: the subcommand, the heading of its report.
    const NAME: &'static str;

    /// What it writes into the run's output.
    const STREAM: Stream;

    /// Called once before the first record (see [`Analyzer::begin`]).
    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        let _ = info;
        Ok(())
    }

    /// Output before any record's (see [`Analyzer::preamble`]).
    fn head(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Appends what `ev` becomes to `out`, the run's output buffer. On an
    /// error nothing should have been appended.
    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError>;

    /// Takes back the record last given to [`Sink::write`] (see
    /// [`Analyzer::retract`]; default: nothing, as for a sink that wrote
    /// into the run's output, which the driver takes back).
    fn retract(&mut self, ev: &Event<'_>) {
        let _ = ev;
    }

    /// Output after every record's (see [`Analyzer::postamble`]).
    fn tail(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// The trace was restarted (see [`Analyzer::restart`]; default:
    /// nothing).
    fn restart(&mut self) {}

    /// Every record there is for now was given (see
    /// [`Analyzer::caught_up`]; default: nothing).
    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        Ok(())
    }

    /// Called once after the last record; its report (default: none).
    fn close(&mut self) -> Result<Report, AnalyzerError> {
        Ok(Report::none())
    }
}

/// A sink whose records can be written chunk by chunk: a fork per chunk,
/// the chunks' output put together in file order.
pub trait ChunkSink: Sink + Sync {
    /// A sink for the chunk that starts as `chunk` says (the previous
    /// record's timestamp, for a delta column).
    fn split(&self, chunk: &ChunkStart) -> Self;

    /// Folds in what a chunk's sink counted; called in chunk order
    /// (default: nothing to fold).
    fn join(&mut self, part: Self) {
        let _ = part;
    }
}

/// The one handler of every sink.
#[inline(always)]
fn write_record<S: Sink>(
    sink: &mut S,
    ev: &Event<'_>,
    ctx: &mut Context<'_>,
) -> Result<(), AnalyzerError> {
    sink.write(ev, ctx.out())
}

impl<S: Sink> Analyzer for S {
    fn name(&self) -> &str {
        S::NAME
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.catchall(write_record::<S>);
        h
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.open(info)
    }

    fn preamble(&mut self, out: &mut Vec<u8>) {
        self.head(out);
    }

    fn postamble(&mut self, out: &mut Vec<u8>) {
        self.tail(out);
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.close()
    }

    fn retract(&mut self, ev: &Event<'_>) {
        Sink::retract(self, ev);
    }

    fn restart(&mut self) {
        Sink::restart(self);
    }

    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        Sink::caught_up(self)
    }

    fn stream(&self) -> Option<Stream> {
        Some(S::STREAM)
    }

    #[inline(always)]
    fn dispatch(
        &mut self,
        _: Handler<Self>,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        // The only handler: a direct call the compiler inlines into the
        // record loop.
        write_record(self, ev, ctx)
    }
}

impl<S: ChunkSink> ParallelAnalyzer for S {
    fn fork(&self, chunk: &ChunkStart) -> Self {
        self.split(chunk)
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        self.join(part);
        Ok(())
    }
}

/// How much a [`ToWriter`] gathers before it writes: the driver's block
/// size for pipes and files.
const WRITE_AT: usize = 256 << 10;

/// A sink whose records go to a writer of its own instead of the run's
/// output (`run --output KEY=FILE`): the sink writes into a buffer of the
/// wrapper's, exactly as it would into the run's output, and the buffer
/// goes to the writer in file order (a chunk's after the chunks before
/// it, as the driver writes the run's output). Its stream is then
/// [`Stream::Own`], so that it shares the run's output with nothing.
///
/// ```
/// use simpletrace::analyzers::Driver;
/// use simpletrace::analyzers::json::JsonLines;
/// use simpletrace::analyzers::sink::ToWriter;
/// use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
///
/// let events = TraceEvents::parse("te", b"a(int x)\n")?;
/// let mut trace = Vec::new();
/// encode::header(&mut trace, 4);
/// encode::mapping(&mut trace, 0, b"a");
/// encode::event(&mut trace, 0, 1, 1, &[ArgValue::Int(1)]);
/// let file = std::env::temp_dir().join(format!("to-writer-{}.jsonl", std::process::id()));
/// let mut driver = Driver::new();
/// let out = Box::new(std::fs::File::create(&file)?);
/// driver.add_parallel(ToWriter::new(JsonLines::new(), out, file.display().to_string()));
/// let mut stdout = Vec::new();
/// driver.run(TraceReader::new(&trace, &events)?, &mut stdout, Default::default())?;
/// assert!(stdout.is_empty());
/// assert!(std::fs::read_to_string(&file)?.starts_with("{\"event\":\"a\""));
/// # std::fs::remove_file(&file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ToWriter<S> {
    sink: S,
    /// What the sink wrote that has not gone out yet (in a chunk's fork,
    /// the whole chunk's).
    buf: Vec<u8>,
    /// Where it goes; `None` in a chunk's fork, whose buffer goes out when
    /// it is merged. In a mutex only so that the wrapper is `Sync` (forks
    /// are made from a shared reference) whatever the writer: it is only
    /// reached through `&mut self`, so never locked.
    out: Option<Mutex<Box<dyn Write + Send>>>,
    /// The writer's name, for messages.
    destination: Arc<str>,
    /// The record last written into `buf` and where its bytes start there,
    /// until the next: what [`Sink::retract`] takes back (the buffer goes
    /// out before a record is written into it, never after, so that the
    /// last record's bytes are still here when the driver retracts it).
    last: Option<(u64, usize)>,
}

impl<S> fmt::Debug for ToWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToWriter")
            .field("destination", &self.destination)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<S: Sink> ToWriter<S> {
    /// `sink`, writing to `out` instead of the run's output; `destination`
    /// names `out` in messages (a path). `out` need not be buffered.
    pub fn new(sink: S, out: Box<dyn Write + Send>, destination: impl Into<String>) -> Self {
        ToWriter {
            sink,
            buf: Vec::new(),
            out: Some(Mutex::new(out)),
            destination: Arc::from(destination.into()),
            last: None,
        }
    }

    /// Writes out what is buffered (nothing in a fork: the merge does).
    fn drain(&mut self) -> Result<(), AnalyzerError> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let out = out.get_mut().unwrap_or_else(PoisonError::into_inner);
        let written = out.write_all(&self.buf);
        self.buf.clear();
        written.map_err(|e| AnalyzerError::caused_by(S::NAME, &self.destination, e))
    }

    /// Writes out what is buffered once there is enough of it.
    fn drain_if_full(&mut self) -> Result<(), AnalyzerError> {
        if self.buf.len() >= WRITE_AT {
            self.drain()?;
        }
        Ok(())
    }
}

impl<S: Sink> Sink for ToWriter<S> {
    const NAME: &'static str = S::NAME;
    const STREAM: Stream = Stream::Own;

    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.sink.open(info)
    }

    fn head(&mut self, _: &mut Vec<u8>) {
        self.sink.head(&mut self.buf);
    }

    fn write(&mut self, ev: &Event<'_>, _: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.drain_if_full()?;
        let mark = self.buf.len();
        self.sink.write(ev, &mut self.buf)?;
        self.last = Some((ev.record().at.record.0, mark));
        Ok(())
    }

    fn retract(&mut self, ev: &Event<'_>) {
        if let Some((record, mark)) = self.last.take()
            && record == ev.record().at.record.0
        {
            self.buf.truncate(mark);
        }
        self.sink.retract(ev);
    }

    fn tail(&mut self, _: &mut Vec<u8>) {
        self.sink.tail(&mut self.buf);
    }

    fn restart(&mut self) {
        self.sink.restart();
    }

    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        self.sink.caught_up()?;
        self.drain()?;
        if let Some(out) = self.out.as_mut() {
            let out = out.get_mut().unwrap_or_else(PoisonError::into_inner);
            out.flush()
                .map_err(|e| AnalyzerError::caused_by(S::NAME, &self.destination, e))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<Report, AnalyzerError> {
        self.drain()?;
        if let Some(out) = self.out.as_mut() {
            let out = out.get_mut().unwrap_or_else(PoisonError::into_inner);
            out.flush()
                .map_err(|e| AnalyzerError::caused_by(S::NAME, &self.destination, e))?;
        }
        self.sink.close()
    }
}

/// Not through [`ChunkSink`]: a merge here writes, and a failed write must
/// end the run, which [`ChunkSink::join`] cannot say.
impl<S: ChunkSink> ParallelAnalyzer for ToWriter<S> {
    fn fork(&self, chunk: &ChunkStart) -> Self {
        ToWriter {
            sink: self.sink.split(chunk),
            buf: Vec::new(),
            out: None,
            destination: Arc::clone(&self.destination),
            last: None,
        }
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        self.sink.join(part.sink);
        if self.buf.is_empty() {
            self.buf = part.buf;
        } else {
            self.buf.extend_from_slice(&part.buf);
        }
        self.drain_if_full()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::analyzers::print::{Parallelism, PrintAnalyzer};
    use crate::analyzers::{Driver, RunOptions};
    use crate::format::{ArgValue, TraceEvents, TraceReader, encode};

    /// A writer the test can read back after the driver is done with it.
    #[derive(Clone, Default)]
    pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A writer that fails every write.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("no space left"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn trace(records: u64) -> (TraceEvents, Vec<u8>) {
        let events = TraceEvents::parse("te", b"tick(uint64_t n)\n").unwrap();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"tick");
        for i in 0..records {
            encode::event(&mut t, 0, i * 1000, 7, &[ArgValue::Int(i)]);
        }
        (events, t)
    }

    fn options(threads: usize) -> RunOptions {
        RunOptions {
            parallelism: Parallelism {
                threads,
                chunk_bytes: 4096,
            },
            ..Default::default()
        }
    }

    /// The wrapped sink's records, in order, go to its writer and not to
    /// the run's output, sequential or chunk by chunk; and past the
    /// wrapper's buffer size.
    #[test]
    fn records_go_to_the_writer_in_order() {
        let (events, t) = trace(20_000);
        let mut want = Vec::new();
        let mut driver = Driver::new();
        driver.add_parallel(PrintAnalyzer::new());
        driver
            .run(
                TraceReader::new(&t, &events).unwrap(),
                &mut want,
                options(1),
            )
            .unwrap();
        assert!(want.len() > WRITE_AT);
        for threads in [1, 3] {
            let file = Shared::default();
            let mut driver = Driver::new();
            let sink = ToWriter::new(PrintAnalyzer::new(), Box::new(file.clone()), "f");
            assert_eq!(sink.stream(), Some(Stream::Own));
            driver.add_parallel(sink);
            let mut out = Vec::new();
            driver
                .run(
                    TraceReader::new(&t, &events).unwrap(),
                    &mut out,
                    options(threads),
                )
                .unwrap();
            assert!(out.is_empty(), "-j{threads}");
            assert!(*file.0.lock().unwrap() == want, "-j{threads}");
        }
    }

    /// A failed write ends the run with the analyzer's error, naming the
    /// destination, sequential or chunk by chunk.
    #[test]
    fn a_failed_write_ends_the_run() {
        let (events, t) = trace(20_000);
        for threads in [1, 3] {
            let mut driver = Driver::new();
            driver.add_parallel(ToWriter::new(
                PrintAnalyzer::new(),
                Box::new(Full),
                "out.txt",
            ));
            let e = driver
                .run(
                    TraceReader::new(&t, &events).unwrap(),
                    &mut Vec::new(),
                    options(threads),
                )
                .unwrap_err();
            assert!(
                e.to_string().contains("out.txt: no space left"),
                "-j{threads}: {e}"
            );
        }
    }
}
