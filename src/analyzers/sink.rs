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
//! driver's concern, not the sink's.
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

    /// Output after every record's (see [`Analyzer::postamble`]).
    fn tail(&mut self, out: &mut Vec<u8>) {
        let _ = out;
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
