//! The drop-in printer: one line per event record, byte for byte what QEMU's
//! `scripts/simpletrace.py` prints.
//!
//! ```text
//! NAME DELTA_US pid=PID ARG=VALUE ARG=VALUE ...
//! ```
//!
//! ```
//! use simpletrace::analyzers::print::Printer;
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//!
//! let events = TraceEvents::parse("te", b"open(const char *path, int fd)\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"open");
//! encode::event(&mut trace, 0, 1_000, 42, &[ArgValue::Str(b"/tmp/x"), ArgValue::Int(3)]);
//! encode::event(&mut trace, 0, 3_500, 42, &[ArgValue::Str(b"it's"), ArgValue::Int(-1i64 as u64)]);
//!
//! let mut out = Vec::new();
//! let mut printer = Printer::new();
//! for record in TraceReader::new(&trace, &events)? {
//!     printer.write_record(&mut out, &record?)?;
//! }
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "open 0.000 pid=42 path=b'/tmp/x' fd=0x3\n\
//!      open 2.500 pid=42 path=b\"it's\" fd=0xffffffffffffffff\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use std::io::{self, Write};

use super::sink::{ChunkSink, Sink, Stream};
use super::{AnalyzerError, ChunkStart, Driver, Event, RunError, RunOptions};
use crate::format::events::ArgKind;
use crate::format::{self, EventDecl, Record, Skips, TraceReader, pyfmt};
use crate::report::render::{Ansi, Style};

/// Text that is appended often: short pieces are kept in a fixed block so
/// that appending is a fixed-size copy (see `pyfmt::push_padded`).
#[derive(Debug, Clone)]
enum Piece {
    Short([u8; 64], u8),
    Long(Box<[u8]>),
}

impl Piece {
    fn new(parts: &[&[u8]]) -> Piece {
        let bytes: Vec<u8> = parts.concat();
        if bytes.len() <= 64 {
            let mut block = [0u8; 64];
            block[..bytes.len()].copy_from_slice(&bytes);
            Piece::Short(block, bytes.len() as u8)
        } else {
            Piece::Long(bytes.into_boxed_slice())
        }
    }

    #[inline(always)]
    fn push(&self, out: &mut Vec<u8>) {
        match self {
            Piece::Short(block, len) => pyfmt::push_padded(out, block, usize::from(*len)),
            Piece::Long(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// The constant parts of one event's lines, built once per event.
#[derive(Debug, Clone)]
struct Layout {
    /// Address of the declaration this was built from (identity only).
    decl: usize,
    /// `NAME ` (the delta follows).
    head: Piece,
    /// `ARG=` for the first argument, ` ARG=` for the others, and whether
    /// the argument is a string.
    args: Vec<(Piece, bool)>,
}

/// The escape sequences around event names in colour, in every output
/// that colours them: the render layer's (see [`Ansi`]).
pub(crate) const NAME_COLOR: (&[u8], &[u8]) = (
    Ansi::sgr(Style::EventName).as_bytes(),
    Ansi::RESET.as_bytes(),
);

impl Layout {
    fn new(decl: &EventDecl, color: bool) -> Layout {
        let head = if color {
            Piece::new(&[NAME_COLOR.0, decl.name.as_bytes(), NAME_COLOR.1, b" "])
        } else {
            Piece::new(&[decl.name.as_bytes(), b" "])
        };
        Layout {
            decl: decl as *const EventDecl as usize,
            head,
            args: decl
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let sep: &[u8] = if i == 0 { b"" } else { b" " };
                    (
                        Piece::new(&[sep, a.name.as_bytes(), b"="]),
                        a.kind == ArgKind::String,
                    )
                })
                .collect(),
        }
    }
}

/// Formats records as `simpletrace.py` does, tracking the previous
/// timestamp for the delta column.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    last_timestamp_ns: Option<u64>,
    /// Layouts by declaration position.
    layouts: Vec<Option<Layout>>,
    dropped: Option<Layout>,
    /// Event names in colour, for a terminal.
    color: bool,
}

impl Printer {
    /// A printer whose first record prints a delta of `0.000`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A printer that continues after a record with this timestamp.
    pub fn after(timestamp_ns: Option<u64>) -> Self {
        Printer {
            last_timestamp_ns: timestamp_ns,
            ..Self::default()
        }
    }

    /// The same printer with the event names in colour (ANSI escapes, for
    /// a terminal; the lines are otherwise the same bytes).
    pub fn with_color(mut self, color: bool) -> Self {
        if color != self.color {
            self.layouts.clear();
            self.dropped = None;
        }
        self.color = color;
        self
    }

    /// The layout of `decl`, built on first use.
    #[inline(always)]
    fn layout(&mut self, decl: &EventDecl) -> &Layout {
        let slot = if decl.is_dropped_pseudo() {
            &mut self.dropped
        } else {
            let i = decl.position;
            if i >= self.layouts.len() {
                self.layouts.resize(i + 1, None);
            }
            &mut self.layouts[i]
        };
        let address = decl as *const EventDecl as usize;
        let color = self.color;
        if slot.as_ref().is_none_or(|l| l.decl != address) {
            *slot = Some(Layout::new(decl, color));
        }
        slot.get_or_insert_with(|| Layout::new(decl, color))
    }

    /// Appends one line for `record` to `out`. On an argument fault nothing
    /// is appended and the previous timestamp is kept.
    pub fn write_record(&mut self, out: &mut Vec<u8>, record: &Record<'_>) -> format::Result<()> {
        let event = Event::decode(*record)?;
        self.write_event(out, &event);
        Ok(())
    }

    /// Appends one line for an event whose arguments are decoded.
    #[inline(always)]
    pub fn write_event(&mut self, out: &mut Vec<u8>, event: &Event<'_>) {
        let record = event.record();
        let prev = self.last_timestamp_ns.unwrap_or(record.timestamp_ns);
        let layout = self.layout(record.decl);
        layout.head.push(out);
        pyfmt::write_delta_us(out, prev, record.timestamp_ns);
        pyfmt::push_padded(out, b" pid=", 5);
        pyfmt::write_decimal(out, u64::from(record.pid));
        out.push(b' ');
        let strings = event.has_strings();
        for (i, (piece, string)) in layout.args.iter().enumerate().take(event.arg_count()) {
            piece.push(out);
            let word = event.word(i);
            if *string && strings {
                pyfmt::write_bytes_repr(out, event.string_of_word(word));
            } else {
                pyfmt::write_hex(out, word);
            }
        }
        out.push(b'\n');
        self.last_timestamp_ns = Some(record.timestamp_ns);
    }
}

/// Why printing stopped early.
#[derive(Debug)]
pub enum PrintError {
    /// Writing the output failed (a closed pipe, a full disk).
    Io(io::Error),
    /// The trace has a fault; every record before it was printed.
    Trace(format::Error),
}

impl fmt::Display for PrintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrintError::Io(e) => write!(f, "writing the output failed: {e}"),
            PrintError::Trace(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PrintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PrintError::Io(e) => Some(e),
            PrintError::Trace(e) => Some(e),
        }
    }
}

/// What [`print_trace`] printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrintSummary {
    /// Event records printed.
    pub records: u64,
    /// The corrupt regions a resyncing reader
    /// ([`TraceReader::with_resync`]) stepped over.
    pub skips: Skips,
}

/// How a run divides the work and buffers its output: driver options,
/// also found here where they were first defined.
pub use super::driver::{Buffering, DEFAULT_CHUNK_BYTES, Parallelism};

/// Prints every event record of `reader` to `out`, on `parallelism.threads`
/// threads: the [`PrintAnalyzer`] run by the [`Driver`]. The output is the
/// same bytes whatever the thread count. On a trace fault every line
/// before it has been written when the error returns.
///
/// `on_written(offset)` is called as output is written: the trace bytes
/// before `offset` will not be read again (a memory-mapped input can drop
/// them from memory).
pub fn print_trace(
    reader: TraceReader<'_>,
    out: &mut impl Write,
    buffering: Buffering,
    parallelism: Parallelism,
    on_written: &mut dyn FnMut(usize),
) -> Result<PrintSummary, PrintError> {
    let mut driver = Driver::new();
    driver.add_parallel(PrintAnalyzer::new());
    driver.release_with(on_written);
    let options = RunOptions {
        parallelism,
        buffering,
    };
    let outcome = driver.run(reader, out, options).map_err(|e| match e {
        RunError::Io(e) => PrintError::Io(e),
        RunError::Analyzer(e) => PrintError::Io(io::Error::other(e)),
    })?;
    match outcome.fault {
        Some(e) => Err(PrintError::Trace(e)),
        None => Ok(PrintSummary {
            records: outcome.records,
            skips: outcome.skips,
        }),
    }
}

/// The drop-in printer as an analyzer: every record, one line each, into
/// the run's output. It runs chunk-parallel: a fork only needs the
/// timestamp of the record before its chunk.
#[derive(Debug, Clone, Default)]
pub struct PrintAnalyzer {
    printer: Printer,
}

impl PrintAnalyzer {
    /// A printer analyzer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same with the event names in colour (for a terminal).
    pub fn with_color(self, color: bool) -> Self {
        PrintAnalyzer {
            printer: self.printer.with_color(color),
        }
    }
}

impl Sink for PrintAnalyzer {
    const NAME: &'static str = "print";
    const STREAM: Stream = Stream::Text;

    #[inline(always)]
    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.printer.write_event(out, ev);
        Ok(())
    }

    /// A new trace's first record prints a delta of `0.000`, as in a run
    /// over that trace alone.
    fn restart(&mut self) {
        self.printer.last_timestamp_ns = None;
    }
}

impl ChunkSink for PrintAnalyzer {
    fn split(&self, chunk: &ChunkStart) -> Self {
        PrintAnalyzer {
            printer: Printer::after(chunk.prev_timestamp_ns).with_color(self.printer.color),
        }
    }
}
