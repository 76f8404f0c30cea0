//! Analyzers: what consumes records, and the driver that runs them.
//!
//! An analyzer is a type implementing [`Analyzer`]: it names the events it
//! cares about ([`Analyzer::interest`]), registers a handler per event name
//! and a catch-all ([`Analyzer::handlers`]), and produces a [`Report`] at
//! the end. The [`Driver`] resolves the handlers once per event id, decodes
//! only the records some analyzer wants, and runs several analyzers in one
//! pass over one memory map.
//!
//! ```
//! use simpletrace::analyzers::{Analyzer, AnalyzerError, Context, Driver, Event, Handlers, Interest, Report, TraceInfo};
//! use simpletrace::format::{TraceEvents, TraceReader, writer::{Arg, TraceWriter, WriterOptions}};
//!
//! /// Sums the bytes of every write.
//! #[derive(Default)]
//! struct WriteBytes {
//!     total: u64,
//! }
//!
//! impl WriteBytes {
//!     fn on_write(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
//!         self.total += ev.u64("bytes").unwrap_or(0);
//!         Ok(())
//!     }
//! }
//!
//! impl Analyzer for WriteBytes {
//!     fn name(&self) -> &str {
//!         "write-bytes"
//!     }
//!     fn interest(&self) -> Interest {
//!         Interest::parse("blk_pwrite").unwrap()
//!     }
//!     fn handlers(&self) -> Handlers<Self> {
//!         let mut h = Handlers::new();
//!         h.on("blk_pwrite", Self::on_write);
//!         h
//!     }
//!     fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
//!         Ok(Report::new(format!("{} bytes written\n", self.total), self.total.into()))
//!     }
//! }
//!
//! let events = TraceEvents::parse("te", b"blk_pwrite(uint64_t offset, uint64_t bytes)\nblk_flush(void)\n")?;
//! let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events)?;
//! w.event_by_name("blk_pwrite", 10, 1, &[Arg::from(0u64), Arg::from(4096u64)])?;
//! w.event_by_name("blk_flush", 20, 1, &[])?;
//! w.event_by_name("blk_pwrite", 30, 1, &[Arg::from(4096u64), Arg::from(512u64)])?;
//! let trace = w.finish()?;
//!
//! let mut driver = Driver::new();
//! driver.add(WriteBytes::default());
//! let outcome = driver.run(TraceReader::new(&trace, &events)?, &mut std::io::sink(), Default::default())?;
//! assert_eq!(outcome.reports[0].json, 4608);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! API structure:
//! - [`Analyzer`]: the trait; [`ParallelAnalyzer`] for analyzers whose
//!   partial results merge, which then run chunk-parallel.
//! - [`Handlers`]: per-event-name handlers and a catch-all.
//! - [`Event`]: a record with its arguments decoded, with typed accessors.
//! - [`Context`]: per-call output buffer and early stop.
//! - [`sink`]: the trait of the streaming analyzers (every record written
//!   as it goes by): `print`, `log`, `json`, `chrome`, `perfetto` and `subset` are
//!   [`Sink`](sink::Sink)s, and so [`Analyzer`]s.
//! - [`Driver`]: runs analyzers over a trace; [`registry`] lists the
//!   built-in ones.
//! - [`select`]: the record filters every command shares.
//! - [`print`](mod@print): the drop-in printer; [`log`]: QEMU `log`-backend lines;
//!   [`stats`]: counts per event and pid; [`hist`]: histograms of values,
//!   latencies and intervals; [`alloc`]: allocations matched to frees;
//!   [`locks`]: mutex contention;
//!   [`json`]: JSON Lines; [`chrome`]: Chrome/Perfetto trace JSON;
//!   [`perfetto`]: Perfetto protobuf traces;
//!   [`subset`]: writes the kept records to a new trace.
//! - [`histogram`]: log2/linear histograms with percentiles, drawn as
//!   ASCII bars, for analyzers that report distributions.
//! - [`Report`]: what an analyzer produces: data (a
//!   [`Document`], rendered by
//!   [`crate::report::render`]: every built-in report), or text and JSON
//!   in memory (plugins' reports) or a [`ReportBody`] (helped by
//!   [`listing`]) written out as it goes.

use core::fmt;
use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use crate::format::events::{ArgKind, EventDecl, MAX_EVENT_ARGS, TraceEvents};
use crate::format::{self, ArgValue, EventId, Record, TraceKind};
use crate::pattern::{EventPatterns, PatternError};
use crate::report::{Document, render};

pub mod alloc;
pub mod chrome;
mod driver;
pub mod hist;
pub mod histogram;
pub mod human;
pub mod json;
pub mod listing;
pub mod locks;
pub mod log;
mod pairing;
pub mod perfetto;
#[cfg(feature = "plugins")]
pub mod plugin;
pub mod print;
pub mod select;
pub mod sink;
pub mod stats;
pub mod subset;

pub use driver::{
    ChunkStart, Driver, LengthMismatches, RunError, RunOptions, RunOutcome, STREAM_BLOCK,
    STREAM_RECORD_LIMIT, StreamError,
};

/// What an analyzer learns about the trace: before the first record, and
/// again at the end with the counts of what was read.
#[derive(Debug, Clone, Copy)]
pub struct TraceInfo<'a> {
    /// Format version and byte order.
    pub kind: TraceKind,
    /// The declarations the trace is decoded against.
    pub events: &'a TraceEvents,
    /// Size of the trace in bytes. For a trace read as a stream
    /// ([`Driver::run_stream`]: a pipe, a decompressor) 0 for `begin`,
    /// whose length is not known yet, and the bytes read for `end`.
    pub file_size: u64,
    /// Records read, mapping records included: 0 for `begin`; for `end`,
    /// every record up to the end of the trace (or to a fault, or an early
    /// stop), whatever the filters kept.
    pub records_read: u64,
    /// Event records read (dropped-events records included): 0 for
    /// `begin`; for `end`, as [`TraceInfo::records_read`], so the mapping
    /// records are the difference.
    pub event_records: u64,
}

/// The events an analyzer wants; the driver does not decode the others'
/// arguments for it.
#[derive(Debug, Clone, Default)]
pub enum Interest {
    /// Every record, dropped-events records included.
    #[default]
    All,
    /// Records whose event name one of the patterns switches on (QEMU
    /// syntax; dropped-events records are called `Dropped_Event`).
    Events(EventPatterns),
}

impl Interest {
    /// Parses a comma-separated pattern list (`qemu_mutex_*,-qemu_mutex_unlock`).
    pub fn parse(patterns: &str) -> Result<Interest, PatternError> {
        Ok(Interest::Events(EventPatterns::parse_list(patterns)?))
    }

    /// Whether records of `decl` are wanted.
    pub fn wants(&self, decl: &EventDecl) -> bool {
        match self {
            Interest::All => true,
            Interest::Events(p) => p.decide(&decl.name).unwrap_or(false),
        }
    }
}

/// A failure inside an analyzer: which analyzer, what went wrong, and the
/// error that caused it when there is one ([`AnalyzerError::caused_by`]),
/// as [`std::error::Error::source`]. The message already says what the
/// cause says, so printing the error alone is enough (as the crate's other
/// errors do).
#[derive(Debug)]
pub struct AnalyzerError {
    /// The analyzer's name.
    pub analyzer: String,
    /// What went wrong (with the cause's own words, when there is one).
    pub message: String,
    /// What caused it.
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// Whether [`Analyzer::configure`] refused the analyzer's request.
    setup: bool,
}

impl AnalyzerError {
    /// An error of analyzer `analyzer`.
    pub fn new(analyzer: impl Into<String>, message: impl Into<String>) -> Self {
        AnalyzerError {
            analyzer: analyzer.into(),
            message: message.into(),
            source: None,
            setup: false,
        }
    }

    /// An error of analyzer `analyzer` caused by `source`: the message is
    /// `context: source`, and [`std::error::Error::source`] gives `source`
    /// back (so that a caller can tell, say, a closed pipe from a full
    /// disk).
    pub fn caused_by(
        analyzer: impl Into<String>,
        context: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AnalyzerError {
            analyzer: analyzer.into(),
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
            setup: false,
        }
    }

    /// The refusal of analyzer `analyzer`'s [`Analyzer::configure`]: what
    /// it was asked to do does not fit the trace's declarations or the
    /// run's selection, and `source` says why. The message is `source`'s
    /// own words (they are what a command line prints after its name),
    /// and [`std::error::Error::source`] gives `source` back.
    pub fn setup(
        analyzer: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AnalyzerError {
            analyzer: analyzer.into(),
            message: source.to_string(),
            source: Some(Box::new(source)),
            setup: true,
        }
    }

    /// Whether this is a refusal at the start of the run
    /// ([`AnalyzerError::setup`]), before any record was read: nothing
    /// was written, and the request, not the trace, is at fault.
    pub fn is_setup(&self) -> bool {
        self.setup
    }
}

impl fmt::Display for AnalyzerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "analyzer '{}': {}", self.analyzer, self.message)
    }
}

impl std::error::Error for AnalyzerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What an analyzer produced: a [`Document`],
/// data that the render layer ([`crate::report::render`]) writes as plain
/// or coloured text or as JSON, its rows made as they go out
/// ([`Report::document`]: every built-in report with something to say);
/// or text for people and the same as JSON, held in memory
/// ([`Report::new`]: plugins' reports), or a [`ReportBody`] that writes
/// text and JSON from the analyzer's data as it goes
/// ([`Report::streamed`]). Text that is not a document is written as it
/// is, never coloured. A report made when written out starts with an
/// empty `text` and a null `json`.
///
/// Write either kind with [`Report::write_text`] and
/// [`Report::write_json`] (or [`Report::lazy_json`]);
/// [`Report::complete`] turns a streamed report into text and JSON in
/// memory. For a streamed report or a document, the text written is
/// `text` (whatever a caller put there) followed by the body's text, and
/// the JSON is the body's alone: `json` is not used.
#[derive(Clone)]
pub struct Report {
    /// Human-readable output (tables, histograms), newline-terminated, or
    /// empty.
    pub text: String,
    /// The same results as JSON (`null` when there are none; not used by
    /// a streamed report).
    pub json: serde_json::Value,
    /// The report written as it goes out, when it has one.
    body: Option<Body>,
}

/// What a report made when written out holds.
#[derive(Clone)]
enum Body {
    /// Data, rendered by [`crate::report::render`].
    Document(Arc<dyn Document>),
    /// Text and JSON written by the analyzer's own code.
    Streamed(Arc<dyn ReportBody>),
}

impl Body {
    fn write_text(&self, out: &mut dyn io::Write) -> io::Result<()> {
        match self {
            Body::Document(d) => render::write_text(&**d, out, &render::Plain),
            Body::Streamed(b) => b.write_text(out),
        }
    }

    fn json(&self) -> listing::LazyJson<'_> {
        match self {
            Body::Document(d) => d.json(),
            Body::Streamed(b) => b.json(),
        }
    }
}

/// A report written from the analyzer's data when it goes out, so that a
/// listing of millions of rows is never built whole in memory. (The older
/// form, for analyzers outside the crate: a [`Document`] says the same as
/// data, and the render layer writes and colours it; this text is written
/// as it is, never coloured.) It owns
/// the data (the analyzer hands it over at [`Analyzer::end`]); each write
/// renders one row at a time. [`listing`] has the helpers that keep the
/// bytes the same as the in-memory forms.
pub trait ReportBody: Send + Sync {
    /// Writes the text form (what [`Report::text`] would hold).
    fn write_text(&self, out: &mut dyn io::Write) -> io::Result<()>;

    /// The JSON form (what [`Report::json`] would hold), its long arrays
    /// made as they are written.
    fn json(&self) -> listing::LazyJson<'_>;
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("text", &self.text)
            .field("json", &self.json)
            .field(
                "body",
                &self.body.as_ref().map(|b| match b {
                    Body::Document(_) => "document",
                    Body::Streamed(_) => "streamed",
                }),
            )
            .finish()
    }
}

impl PartialEq for Report {
    /// The same text and JSON; a streamed report is compared by what it
    /// writes.
    fn eq(&self, other: &Report) -> bool {
        match (&self.body, &other.body) {
            (None, None) => self.text == other.text && self.json == other.json,
            _ => self.rendered() == other.rendered(),
        }
    }
}

impl Report {
    /// A report with both forms.
    pub fn new(text: impl Into<String>, json: serde_json::Value) -> Self {
        Report {
            text: text.into(),
            json,
            body: None,
        }
    }

    /// No report (streaming analyzers write as they go).
    pub fn none() -> Self {
        Report::new(String::new(), serde_json::Value::Null)
    }

    /// A report written out by `body` (see [`ReportBody`]).
    pub fn streamed(body: impl ReportBody + 'static) -> Self {
        Report {
            text: String::new(),
            json: serde_json::Value::Null,
            body: Some(Body::Streamed(Arc::new(body))),
        }
    }

    /// A report of data: `doc`'s blocks and JSON, rendered when written
    /// out (see [`crate::report`]).
    pub fn document(doc: impl Document + 'static) -> Self {
        Report {
            text: String::new(),
            json: serde_json::Value::Null,
            body: Some(Body::Document(Arc::new(doc))),
        }
    }

    /// Its document, when it is one ([`Report::document`]): for a caller
    /// that renders it another way than plain text (in colour, say, with
    /// [`render::write_text`]). The report's `text`, if any, goes first.
    pub fn as_document(&self) -> Option<&dyn Document> {
        match &self.body {
            Some(Body::Document(d)) => Some(&**d),
            _ => None,
        }
    }

    /// Whether there is nothing to show (no text, no JSON, no body).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.json.is_null() && self.body.is_none()
    }

    /// Whether it is made when written out: a [`ReportBody`]
    /// ([`Report::streamed`]) or a document ([`Report::document`]).
    pub fn is_streamed(&self) -> bool {
        self.body.is_some()
    }

    /// Writes the text form: `text`, then the body's text if it has one.
    pub fn write_text(&self, out: &mut dyn io::Write) -> io::Result<()> {
        out.write_all(self.text.as_bytes())?;
        match &self.body {
            Some(body) => body.write_text(out),
            None => Ok(()),
        }
    }

    /// The JSON form, to be written: the body's when it has one (its long
    /// arrays made as they are written), else `json`, borrowed.
    pub fn lazy_json(&self) -> listing::LazyJson<'_> {
        match &self.body {
            Some(body) => body.json(),
            None => listing::LazyJson::Ref(&self.json),
        }
    }

    /// Writes the JSON form ([`Report::lazy_json`]) as
    /// `serde_json::to_string_pretty` writes it, nested `depth` levels deep
    /// (every line after the first indented by two spaces a level), with no
    /// newline after it.
    pub fn write_json(&self, out: &mut dyn io::Write, depth: usize) -> io::Result<()> {
        self.lazy_json().write_pretty(out, depth)
    }

    /// Its text and JSON as written out.
    fn rendered(&self) -> (Vec<u8>, Vec<u8>) {
        let (mut text, mut json) = (Vec::new(), Vec::new());
        // Writing into a Vec fails only if the body does.
        let _ = self.write_text(&mut text);
        let _ = self.write_json(&mut json, 0);
        (text, json)
    }

    /// The report with its text and JSON in memory (a streamed report
    /// rendered whole; others as they are).
    pub fn complete(self) -> Report {
        let Some(body) = self.body else {
            return self;
        };
        let mut text = self.text.into_bytes();
        // Writing into a Vec fails only if the body does, and ours fail
        // only with their writer.
        let _ = body.write_text(&mut text);
        Report::new(
            String::from_utf8(text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            body.json().into_value(),
        )
    }
}

/// Passed to handlers: where a streaming analyzer writes its output, and a
/// way to stop the run early.
#[derive(Debug)]
pub struct Context<'o> {
    out: &'o mut Vec<u8>,
    stop: bool,
}

impl<'o> Context<'o> {
    pub(crate) fn new(out: &'o mut Vec<u8>) -> Self {
        Context { out, stop: false }
    }

    /// The output buffer. The driver writes it out in file order (for a
    /// chunk-parallel analyzer, each chunk's buffer in chunk order).
    pub fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Asks the driver to stop after this record (like `head`).
    pub fn stop(&mut self) {
        self.stop = true;
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop
    }
}

/// A handler: called for each record of the events it was registered for.
pub type Handler<A> = fn(&mut A, &Event<'_>, &mut Context<'_>) -> Result<(), AnalyzerError>;

/// An analyzer's handlers: by event name or QEMU-style glob, and a
/// catch-all for the rest of what it is interested in. The driver resolves
/// them once per event, never per record.
#[derive(Debug)]
pub struct Handlers<A> {
    named: Vec<(String, Handler<A>)>,
    catchall: Option<Handler<A>>,
}

impl<A> Default for Handlers<A> {
    fn default() -> Self {
        Handlers {
            named: Vec::new(),
            catchall: None,
        }
    }
}

impl<A> Handlers<A> {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `handler` for events whose name matches `pattern` (an exact
    /// name or a glob). The first registration that matches wins.
    pub fn on(&mut self, pattern: &str, handler: Handler<A>) -> &mut Self {
        self.named.push((pattern.to_owned(), handler));
        self
    }

    /// Calls `handler` for every wanted event no named handler takes.
    pub fn catchall(&mut self, handler: Handler<A>) -> &mut Self {
        self.catchall = Some(handler);
        self
    }

    /// Whether the only handler is the catch-all.
    pub fn is_catchall_only(&self) -> bool {
        self.named.is_empty() && self.catchall.is_some()
    }

    /// The handler for `decl`, if any.
    pub(crate) fn resolve(&self, decl: &EventDecl) -> Option<Handler<A>> {
        self.named
            .iter()
            .find(|(p, _)| crate::pattern::glob_match(p, &decl.name))
            .map(|(_, h)| *h)
            .or(self.catchall)
    }
}

/// What [`Analyzer::configure`] sees of the run about to start: the
/// declarations the trace is decoded against and the run's record
/// [`Selection`](select::Selection), which an analyzer may check (it needs
/// records the selection leaves out) and widen (it needs records nobody
/// named).
#[derive(Debug)]
pub struct Setup<'a> {
    events: &'a TraceEvents,
    selection: &'a mut select::Selection,
}

impl<'a> Setup<'a> {
    /// The run about to start: `events`, and the `selection` an analyzer
    /// may widen ([`Setup::keep_event`]).
    pub fn new(events: &'a TraceEvents, selection: &'a mut select::Selection) -> Self {
        Setup { events, selection }
    }

    /// The declarations the trace is decoded against.
    pub fn events(&self) -> &'a TraceEvents {
        self.events
    }

    /// The run's record selection.
    pub fn selection(&self) -> &select::Selection {
        self.selection
    }

    /// Whether the selection's event patterns keep records of `decl`.
    pub fn selects(&self, decl: &EventDecl) -> bool {
        self.selection.wants_event(decl)
    }

    /// Lets records of `decl` through the selection's event patterns,
    /// unless they keep them already or a pattern names the event (the
    /// user decided on it): for records that say what is missing, such as
    /// the dropped-events ones ([`TraceEvents::dropped`]). The other
    /// analyzers of the run see them too.
    pub fn keep_event(&mut self, decl: &EventDecl) {
        let kept = self.selection.wants_event(decl);
        if let Some(patterns) = &mut self.selection.events
            && !kept
            && patterns.decide(&decl.name).is_none()
        {
            patterns.patterns.push(crate::pattern::EventPattern {
                glob: decl.name.clone(),
                enable: true,
            });
        }
    }
}

/// A warning of [`Analyzer::configure`]: part of the request does not
/// apply to this trace, and the run goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupWarning {
    /// The analyzer's name.
    pub analyzer: String,
    /// What does not apply, and why.
    pub message: String,
}

impl SetupWarning {
    /// A warning of analyzer `analyzer`.
    pub fn new(analyzer: impl Into<String>, message: impl fmt::Display) -> Self {
        SetupWarning {
            analyzer: analyzer.into(),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for SetupWarning {
    /// The message alone (a command line prints it after its name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An analyzer. See the [module documentation](self) for an example.
pub trait Analyzer: Send {
    /// A short name: the subcommand, the heading of its report.
    fn name(&self) -> &str;

    /// The events it wants (default: all).
    fn interest(&self) -> Interest {
        Interest::All
    }

    /// Its handlers, resolved once per event id before the first record.
    fn handlers(&self) -> Handlers<Self>
    where
        Self: Sized;

    /// Checks what the analyzer was asked to do against the run about to
    /// start, before anything else of it (before [`Analyzer::interest`],
    /// [`Analyzer::handlers`] and [`Analyzer::begin`], before any record
    /// is read or any output written): the names of events and arguments
    /// it was given against the declarations, what it needs against the
    /// selection. The driver calls it once per run, for every analyzer,
    /// at the one place a run starts. A request that cannot work is an
    /// [`AnalyzerError::setup`], which ends the run; parts that do not
    /// apply come back as warnings ([`RunOutcome::warnings`]). The default
    /// checks nothing.
    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        let _ = setup;
        Ok(Vec::new())
    }

    /// Called once before the first record (after
    /// [`Analyzer::configure`]).
    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        let _ = info;
        Ok(())
    }

    /// Output that comes before any record's, such as the opening of a
    /// JSON document; called once, after `begin`.
    fn preamble(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Output that comes after every record's, such as the closing of a
    /// JSON document; called once, before `end` (also after a fault).
    fn postamble(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Called once after the last record (also after a fault or an early
    /// stop: the results so far are still worth having).
    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError>;

    /// What it writes into the run's output as records go by: `None` for
    /// an analyzer that only reports at the end (the default); every
    /// [`Sink`](sink::Sink) says which [`Stream`](sink::Stream).
    fn stream(&self) -> Option<sink::Stream> {
        None
    }

    /// Takes back `ev`, the record last handed over, which turned out to
    /// have been read from a page of the file that vanished while it was
    /// read (another program truncated the trace): its bytes may be zeros,
    /// and the run stops at it with the cut. An analyzer that writes
    /// elsewhere than the run's output and has not written `ev` yet drops
    /// it here (`filter -o` holds each record until the next one comes);
    /// what went into the run's output is taken back by the driver.
    /// Default: nothing.
    fn retract(&mut self, ev: &Event<'_>) {
        let _ = ev;
    }

    /// The trace was restarted (a followed file truncated or replaced,
    /// `--follow`): the records that come next are a new trace's, from
    /// its first. An analyzer that relates a record to the one before it
    /// (the printer's delta) starts afresh here. Default: nothing.
    fn restart(&mut self) {}

    /// Every record there is for now has been handed over (a followed
    /// trace waits for more, `--follow`): an analyzer that writes
    /// elsewhere than the run's output writes out what it holds and
    /// flushes it here, so that a reader sees the records as they come.
    /// Default: nothing.
    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        Ok(())
    }

    /// The report as it stands before the trace's end, for a live report
    /// of a followed trace (`stats --follow`): what [`Analyzer::end`]
    /// would give now, without ending anything. `None` (the default) for
    /// an analyzer that cannot make one; the report analyzers make it by
    /// ending a copy of themselves.
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        let _ = info;
        None
    }

    /// Calls `handler` (the one the table chose for this record). An
    /// analyzer with a single handler can call it directly here instead,
    /// so that the compiler inlines it into the driver's loop: the printer
    /// does.
    #[inline(always)]
    fn dispatch(
        &mut self,
        handler: Handler<Self>,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError>
    where
        Self: Sized,
    {
        handler(self, ev, ctx)
    }
}

/// An analyzer whose partial results merge: the driver runs one fork per
/// chunk of the trace on rayon and merges the forks back in file order.
/// Counters, histograms and the printer are like this; anything that pairs
/// records across the trace is not (it stays a plain [`Analyzer`], which
/// the driver feeds in file order).
pub trait ParallelAnalyzer: Analyzer + Sized + Sync {
    /// A fresh analyzer for one chunk, which starts where `chunk` says.
    fn fork(&self, chunk: &ChunkStart) -> Self;

    /// Folds a chunk's results in; called in chunk order.
    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError>;
}

/// A record with its arguments decoded, as handlers see it.
#[derive(Clone, Copy)]
pub struct Event<'a> {
    record: Record<'a>,
    /// One word per argument, as [`Record::decode_words`] makes them.
    words: [u64; MAX_EVENT_ARGS],
    len: u8,
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("record", &self.record)
            .field("args", &self.args().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> Event<'a> {
    /// Decodes the arguments of `record`.
    #[inline]
    pub fn decode(record: Record<'a>) -> format::Result<Self> {
        let mut ev = Event {
            record,
            words: [0; MAX_EVENT_ARGS],
            len: 0,
        };
        ev.redecode(record)?;
        Ok(ev)
    }

    /// Makes this event `record`, decoding its arguments in place.
    #[inline(always)]
    pub(crate) fn redecode(&mut self, record: Record<'a>) -> format::Result<()> {
        self.record.assign(&record);
        self.decode_current().map(drop)
    }

    /// An event with no record yet: the driver keeps one and has the reader
    /// write each record into it ([`Event::record_mut`]).
    pub(crate) fn placeholder(decl: &'a EventDecl) -> Self {
        Event {
            record: Record::placeholder(decl),
            words: [0; MAX_EVENT_ARGS],
            len: 0,
        }
    }

    /// The record, for [`TraceReader::next_into`](crate::format::TraceReader::next_into)
    /// to fill; call [`Event::decode_current`] after.
    pub(crate) fn record_mut(&mut self) -> &mut Record<'a> {
        &mut self.record
    }

    /// Decodes the arguments of the record this event holds; gives how
    /// many bytes of the record are left after its declared arguments
    /// (see [`Record::decode_words_left`]).
    #[inline(always)]
    pub(crate) fn decode_current(&mut self) -> format::Result<usize> {
        match self.record.decode_words_left(&mut self.words) {
            Some((len, left)) => {
                self.len = len as u8;
                Ok(left)
            }
            None => {
                self.len = 0;
                Err(Self::fault(&self.record))
            }
        }
    }

    /// Why `record`'s arguments do not decode (the slow path).
    #[cold]
    fn fault(record: &Record<'a>) -> format::Error {
        record.args_fault()
    }

    /// The underlying record.
    pub fn record(&self) -> &Record<'a> {
        &self.record
    }

    /// The event name.
    pub fn name(&self) -> &'a str {
        self.record.name()
    }

    /// The declaration.
    pub fn decl(&self) -> &'a EventDecl {
        self.record.decl
    }

    /// The event id as written in the trace.
    pub fn id(&self) -> EventId {
        self.record.id
    }

    /// Timestamp in nanoseconds (host monotonic clock).
    pub fn timestamp_ns(&self) -> u64 {
        self.record.timestamp_ns
    }

    /// The writer's pid.
    pub fn pid(&self) -> u32 {
        self.record.pid
    }

    /// Whether this is a dropped-events record.
    pub fn is_dropped(&self) -> bool {
        self.record.is_dropped()
    }

    /// The number of arguments.
    pub fn arg_count(&self) -> usize {
        usize::from(self.len)
    }

    /// The raw word of argument `position`: an integer's value, or for a
    /// string its payload offset (high 32 bits) and length (low 32); see
    /// [`Event::string_of_word`]. For callers that already know which
    /// arguments are strings (the printer's per-event layouts).
    #[inline]
    pub fn word(&self, position: usize) -> u64 {
        self.words.get(position).copied().unwrap_or(0)
    }

    /// The string a word of [`Event::word`] stands for.
    #[inline]
    pub fn string_of_word(&self, word: u64) -> &'a [u8] {
        let offset = (word >> 32) as usize;
        let len = (word & 0xffff_ffff) as usize;
        let payload: &'a [u8] = self.record.payload;
        payload.get(offset..offset + len).unwrap_or_default()
    }

    /// Whether string arguments are stored as strings in this trace (not
    /// in version 0, where every argument is a word).
    #[inline]
    pub fn has_strings(&self) -> bool {
        !self.record.words_only
    }

    /// All arguments, in declaration order.
    pub fn args(&self) -> impl ExactSizeIterator<Item = ArgValue<'a>> + '_ {
        self.words[..usize::from(self.len)]
            .iter()
            .enumerate()
            .map(|(i, &w)| self.record.word_value(i, w))
    }

    /// The argument at `position`.
    #[inline]
    pub fn arg(&self, position: usize) -> Option<ArgValue<'a>> {
        let word = *self.words[..usize::from(self.len)].get(position)?;
        Some(self.record.word_value(position, word))
    }

    /// The position of the argument called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.record.decl.arg_position(name)
    }

    /// The argument called `name`.
    pub fn value(&self, name: &str) -> Option<ArgValue<'a>> {
        self.arg(self.position(name)?)
    }

    /// An integer, pointer or bool argument as the raw u64.
    pub fn u64(&self, name: &str) -> Option<u64> {
        self.value(name)?.as_u64()
    }

    /// An integer argument as a signed value: sign-extended from the
    /// declared width for signed C types, the raw value otherwise.
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.i64_at(self.position(name)?)
    }

    /// [`Event::i64`] by position.
    pub fn i64_at(&self, position: usize) -> Option<i64> {
        let raw = self.arg(position)?.as_u64()?;
        match self.record.decl.args.get(position)?.kind {
            ArgKind::Int { signed: true, bits } if bits < 64 => {
                let shift = 64 - u32::from(bits);
                Some(((raw << shift) as i64) >> shift)
            }
            _ => Some(raw as i64),
        }
    }

    /// A pointer argument (any integer argument works too).
    pub fn ptr(&self, name: &str) -> Option<u64> {
        self.u64(name)
    }

    /// A string argument's bytes.
    pub fn bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.value(name)?.as_bytes()
    }

    /// A string argument as text (invalid UTF-8 replaced).
    pub fn str(&self, name: &str) -> Option<Cow<'a, str>> {
        self.bytes(name).map(String::from_utf8_lossy)
    }
}

/// Adds an entry's analyzer to a driver, and says what it streams.
type AddTo = dyn Fn(&mut Driver<'_>) -> Option<sink::Stream> + Send + Sync;

/// Adds an entry's streaming analyzer to a driver, its records going to a
/// writer of their own (named by the string, for messages).
type AddWritingTo = dyn Fn(&mut Driver<'_>, Box<dyn io::Write + Send>, String) + Send + Sync;

/// One built-in or added analyzer, by name, for the command line and
/// `run --plugin NAME`.
pub struct AnalyzerEntry {
    /// The name (a subcommand).
    pub name: String,
    /// One line about it.
    pub about: String,
    build: Box<AddTo>,
    /// For a [`sink`](AnalyzerEntry::sink) entry: the same, its records
    /// sent elsewhere ([`sink::ToWriter`]).
    build_writing_to: Option<Box<AddWritingTo>>,
}

impl fmt::Debug for AnalyzerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalyzerEntry")
            .field("name", &self.name)
            .field("about", &self.about)
            .finish()
    }
}

impl AnalyzerEntry {
    /// An analyzer fed in file order; `make` builds a fresh one per run.
    pub fn sequential<A: Analyzer + 'static>(
        name: impl Into<String>,
        about: impl Into<String>,
        make: impl Fn() -> A + Send + Sync + 'static,
    ) -> Self {
        AnalyzerEntry {
            name: name.into(),
            about: about.into(),
            build: Box::new(move |d| {
                let analyzer = make();
                let stream = analyzer.stream();
                d.add(analyzer);
                stream
            }),
            build_writing_to: None,
        }
    }

    /// A chunk-parallel analyzer; `make` builds a fresh one per run.
    pub fn parallel<A: ParallelAnalyzer + 'static>(
        name: impl Into<String>,
        about: impl Into<String>,
        make: impl Fn() -> A + Send + Sync + 'static,
    ) -> Self {
        AnalyzerEntry {
            name: name.into(),
            about: about.into(),
            build: Box::new(move |d| {
                let analyzer = make();
                let stream = analyzer.stream();
                d.add_parallel(analyzer);
                stream
            }),
            build_writing_to: None,
        }
    }

    /// A streaming analyzer, chunk-parallel like
    /// [`parallel`](AnalyzerEntry::parallel)'s, whose records can also be
    /// sent to a writer of their own
    /// ([`add_writing_to`](AnalyzerEntry::add_writing_to); `run --output
    /// NAME=FILE`); `make` builds a fresh one per run.
    pub fn sink<S: sink::ChunkSink + 'static>(
        name: impl Into<String>,
        about: impl Into<String>,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        let make = Arc::new(make);
        let make_to = Arc::clone(&make);
        AnalyzerEntry {
            name: name.into(),
            about: about.into(),
            build: Box::new(move |d| {
                d.add_parallel(make());
                Some(S::STREAM)
            }),
            build_writing_to: Some(Box::new(move |d, out, destination| {
                d.add_parallel(sink::ToWriter::new(make_to(), out, destination));
            })),
        }
    }

    /// Adds a fresh instance to `driver`; returns what it streams into
    /// the run's output ([`Analyzer::stream`]).
    pub fn add_to(&self, driver: &mut Driver<'_>) -> Option<sink::Stream> {
        (self.build)(driver)
    }

    /// Whether [`add_writing_to`](AnalyzerEntry::add_writing_to) can send
    /// its records elsewhere: a [`sink`](AnalyzerEntry::sink) entry.
    pub fn can_write_to(&self) -> bool {
        self.build_writing_to.is_some()
    }

    /// Adds a fresh instance to `driver` whose records go to `out` instead
    /// of the run's output (`destination` names `out` in messages); its
    /// report is still the run's. Returns whether it was added: only a
    /// [`sink`](AnalyzerEntry::sink) entry's records can go elsewhere.
    pub fn add_writing_to(
        &self,
        driver: &mut Driver<'_>,
        out: Box<dyn io::Write + Send>,
        destination: impl Into<String>,
    ) -> bool {
        match &self.build_writing_to {
            Some(build) => {
                build(driver, out, destination.into());
                true
            }
            None => false,
        }
    }
}

/// The built-in analyzers that `simpletrace run --plugin NAME` knows.
pub fn registry() -> Vec<AnalyzerEntry> {
    vec![
        AnalyzerEntry::sink(
            "print",
            "every record, one line each, exactly like QEMU's simpletrace.py",
            print::PrintAnalyzer::new,
        ),
        AnalyzerEntry::sink(
            "log",
            "every record as QEMU's log trace backend prints it (its C format string)",
            || log::LogPrinter::new(false),
        ),
        AnalyzerEntry::sink(
            "json",
            "every record as a line of JSON",
            json::JsonLines::new,
        ),
        AnalyzerEntry::sink(
            "chrome",
            "the Chrome trace-event JSON that Perfetto and chrome://tracing open",
            || chrome::ChromeTrace::new(Vec::new()),
        ),
        AnalyzerEntry::parallel(
            "stats",
            "counts, shares, rates and time spans per event and pid; lost events; timestamps stepping back",
            || stats::StatsAnalyzer::new(stats::StatsSort::Count, None, false),
        ),
        AnalyzerEntry::sequential(
            "locks",
            "QEMU mutex contention: wait and hold times per mutex, locks held at the end",
            locks::LocksAnalyzer::default,
        ),
        AnalyzerEntry::sequential(
            "alloc",
            "malloc/free correlation of QEMU's allocator events: leaks, unknown and double frees, live bytes",
            alloc::AllocAnalyzer::default,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in analyzer that writes records into the run's output
    /// can send them elsewhere instead (`run --output NAME=FILE`), and one
    /// sent elsewhere leaves the run's output alone.
    #[test]
    fn built_in_streams_can_go_elsewhere() {
        for entry in registry() {
            let mut driver = Driver::new();
            let stream = entry.add_to(&mut driver);
            let streams = matches!(stream, Some(sink::Stream::Text | sink::Stream::Data));
            assert_eq!(entry.can_write_to(), streams, "{}", entry.name);
            let mut elsewhere = Driver::new();
            let added = entry.add_writing_to(&mut elsewhere, Box::new(io::sink()), "nowhere");
            assert_eq!(added, streams, "{}", entry.name);
            assert_eq!(elsewhere.len(), usize::from(added), "{}", entry.name);
        }
    }
}
