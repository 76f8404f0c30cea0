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

use crate::format::{self, ArgValue, Record, TraceReader, pyfmt};

/// Formats records as `simpletrace.py` does, tracking the previous
/// timestamp for the delta column.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    last_timestamp_ns: Option<u64>,
}

impl Printer {
    /// A printer whose first record prints a delta of `0.000`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A printer that continues after a record with this timestamp.
    pub fn after(timestamp_ns: u64) -> Self {
        Printer {
            last_timestamp_ns: Some(timestamp_ns),
        }
    }

    /// Appends one line for `record` to `out`. On an argument fault nothing
    /// is appended and the previous timestamp is kept.
    pub fn write_record(&mut self, out: &mut Vec<u8>, record: &Record<'_>) -> format::Result<()> {
        let start = out.len();
        let prev = self.last_timestamp_ns.unwrap_or(record.timestamp_ns);
        out.extend_from_slice(record.decl.name.as_bytes());
        out.push(b' ');
        pyfmt::write_delta_us(out, prev, record.timestamp_ns);
        out.extend_from_slice(b" pid=");
        out.extend_from_slice(itoa::Buffer::new().format(record.pid).as_bytes());
        out.push(b' ');
        for (i, (value, decl)) in record.args().zip(&record.decl.args).enumerate() {
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(decl.name.as_bytes());
            out.push(b'=');
            match value {
                ArgValue::Int(v) => pyfmt::write_hex(out, v),
                ArgValue::Str(s) => pyfmt::write_bytes_repr(out, s),
            }
        }
        out.push(b'\n');
        self.last_timestamp_ns = Some(record.timestamp_ns);
        Ok(())
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

/// How often output is handed to the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// After every line (for a terminal).
    Line,
    /// In blocks of about 64 KiB (for pipes and files).
    Block,
}

const BLOCK: usize = 64 * 1024;

/// What [`print_trace`] printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrintSummary {
    /// Event records printed.
    pub records: u64,
}

/// Prints every event record of `reader` to `out`. On a trace fault every
/// line before it has been written out when the error returns.
pub fn print_trace(
    reader: TraceReader<'_>,
    out: &mut impl Write,
    buffering: Buffering,
) -> Result<PrintSummary, PrintError> {
    let threshold = match buffering {
        Buffering::Line => 0,
        Buffering::Block => BLOCK,
    };
    let mut buf = Vec::with_capacity(BLOCK + 4096);
    let mut printer = Printer::new();
    let mut summary = PrintSummary::default();
    let mut fault = None;
    for record in reader {
        let written = record.and_then(|r| printer.write_record(&mut buf, &r));
        if let Err(e) = written {
            fault = Some(e);
            break;
        }
        summary.records += 1;
        if buf.len() > threshold {
            out.write_all(&buf).map_err(PrintError::Io)?;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(PrintError::Io)?;
    out.flush().map_err(PrintError::Io)?;
    match fault {
        Some(e) => Err(PrintError::Trace(e)),
        None => Ok(summary),
    }
}
