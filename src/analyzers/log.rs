//! `print --format log`: every record as QEMU's `log` trace backend would
//! have printed it, its declaration's C format string rendered by
//! [`cformat`](crate::format::cformat).
//!
//! ```text
//! NAME FORMATTED-MESSAGE
//! PID@SECONDS.MICROS:NAME FORMATTED-MESSAGE      (with timestamps)
//! ```
//!
//! The line is what QEMU's generated `qemu_log("NAME " FORMAT "\n", ...)`
//! call writes: the event name, one space, the message. An event declared
//! without a format prints its name and the space only. With timestamps,
//! the prefix is `%d@%zu.%06zu:` of the record's pid and timestamp; the
//! seconds are those of the trace's clock (the host's monotonic clock, as
//! the simple backend records it), not the wall-clock time the `log`
//! backend would have taken. Dropped-events records, which the `log`
//! backend has no counterpart for, print as
//! `Dropped_Event num_events_dropped=N`.
//!
//! ```
//! use simpletrace::analyzers::Driver;
//! use simpletrace::analyzers::log::LogPrinter;
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//!
//! let events = TraceEvents::parse(
//!     "te",
//!     b"open(const char *path, int fd) \"path %s fd %d\"\n",
//! )?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"open");
//! encode::event(&mut trace, 0, 2_000_003_000, 42, &[ArgValue::Str(b"/tmp/x"), ArgValue::Int(-1i64 as u64)]);
//!
//! let mut driver = Driver::new();
//! driver.add_parallel(LogPrinter::new(true));
//! let mut out = Vec::new();
//! driver.run(TraceReader::new(&trace, &events)?, &mut out, Default::default())?;
//! assert_eq!(String::from_utf8(out)?, "42@2.000003:open path /tmp/x fd -1\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::{Arc, OnceLock};

use super::print::NAME_COLOR;
use super::sink::{ChunkSink, Sink, Stream};
use super::{AnalyzerError, ChunkStart, Event, TraceInfo};
use crate::format::cformat::{CFormat, CFormatError};
use crate::format::events::MAX_EVENT_ARGS;
use crate::format::{ArgValue, EventDecl, pyfmt};

/// How one declaration's messages are rendered.
#[derive(Debug)]
enum Message {
    Format(CFormat),
    /// Declared without a format string: nothing after the name.
    Empty,
    /// The format cannot be used; printing a record of it is an error.
    Bad(CFormatError),
    /// The text after the argument list is not a format string (the
    /// trace-events parser reads such a declaration, as QEMU's tracetool
    /// does); printing a record of it is an error.
    Unparsed(&'static str),
}

impl Message {
    fn of(decl: &EventDecl) -> Message {
        if let Some(what) = decl.format_error {
            return Message::Unparsed(what);
        }
        match &decl.format {
            None => Message::Empty,
            Some(format) => match CFormat::parse(format) {
                Ok(f) => Message::Format(f),
                Err(e) => Message::Bad(e),
            },
        }
    }
}

/// Arguments rendered without a heap allocation: every declaration's.
const INLINE_ARGS: usize = MAX_EVENT_ARGS;

/// The `log` printer: one line per record, as QEMU's `log` backend prints
/// it. Runs chunk-parallel; lines come out in file order.
#[derive(Debug, Clone)]
pub struct LogPrinter {
    timestamps: bool,
    /// Event names in colour, for a terminal.
    color: bool,
    /// Messages by declaration position, parsed on first use and shared by
    /// every fork.
    messages: Arc<[OnceLock<Message>]>,
    dropped: Arc<CFormat>,
}

impl LogPrinter {
    /// A printer; `timestamps` adds the `PID@SECONDS.MICROS:` prefix.
    pub fn new(timestamps: bool) -> Self {
        LogPrinter {
            timestamps,
            color: false,
            messages: Arc::from(Vec::new()),
            dropped: Arc::new(dropped_format()),
        }
    }

    /// The same with the event names in colour (ANSI escapes, for a
    /// terminal).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    #[inline]
    fn write_line(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        let decl = ev.decl();
        let start = out.len();
        if self.timestamps {
            // `%d` of the pid: an `int`.
            let pid = ev.pid() as i32;
            if pid < 0 {
                out.push(b'-');
            }
            pyfmt::write_decimal(out, u64::from(pid.unsigned_abs()));
            out.push(b'@');
            let ts = ev.timestamp_ns();
            pyfmt::write_decimal(out, ts / 1_000_000_000);
            out.push(b'.');
            let micros = ts % 1_000_000_000 / 1_000;
            let mut digits = [b'0'; 6];
            let mut rest = micros;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            out.extend_from_slice(&digits);
            out.push(b':');
        }
        if self.color {
            out.extend_from_slice(NAME_COLOR.0);
            out.extend_from_slice(decl.name.as_bytes());
            out.extend_from_slice(NAME_COLOR.1);
        } else {
            out.extend_from_slice(decl.name.as_bytes());
        }
        out.push(b' ');
        let format = if decl.is_dropped_pseudo() {
            Some(&*self.dropped)
        } else {
            let message = match self.messages.get(decl.position) {
                Some(slot) => slot.get_or_init(|| Message::of(decl)),
                None => {
                    out.truncate(start);
                    return Err(AnalyzerError::new(
                        "log",
                        format!("{}: event {} is not declared", ev.record().at, decl.name),
                    ));
                }
            };
            match message {
                Message::Format(f) => Some(f),
                Message::Empty => None,
                Message::Bad(e) => {
                    out.truncate(start);
                    return Err(bad_format(ev, e));
                }
                Message::Unparsed(what) => {
                    out.truncate(start);
                    return Err(bad_format(ev, format_args!("bad format string: {what}")));
                }
            }
        };
        if let Some(format) = format {
            let mut inline = [ArgValue::Int(0); INLINE_ARGS];
            let count = ev.arg_count();
            if count <= INLINE_ARGS {
                for (slot, value) in inline.iter_mut().zip(ev.args()) {
                    *slot = value;
                }
                format.render(&decl.args, &inline[..count], out);
            } else {
                let values: Vec<ArgValue<'_>> = ev.args().collect();
                format.render(&decl.args, &values, out);
            }
        }
        out.push(b'\n');
        Ok(())
    }
}

/// Why a record's message cannot be printed: its declaration's format.
#[cold]
fn bad_format(ev: &Event<'_>, what: impl core::fmt::Display) -> AnalyzerError {
    let decl = ev.decl();
    AnalyzerError::new(
        "log",
        format!(
            "{}: event {} (trace-events line {}): {what}",
            ev.record().at,
            decl.name,
            decl.line
        ),
    )
}

/// The message of dropped-events records.
fn dropped_format() -> CFormat {
    // A fixed format without field widths always parses.
    CFormat::from_bytes(b"num_events_dropped=%lu").unwrap_or_else(|_| unreachable!())
}

impl Sink for LogPrinter {
    const NAME: &'static str = "log";
    const STREAM: Stream = Stream::Text;

    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.messages = (0..info.events.len()).map(|_| OnceLock::new()).collect();
        Ok(())
    }

    #[inline(always)]
    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.write_line(ev, out)
    }
}

impl ChunkSink for LogPrinter {
    fn split(&self, _: &ChunkStart) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::{Driver, RunOptions};
    use crate::format::{TraceEvents, TraceReader, encode};

    fn run(events: &str, trace: &[u8], timestamps: bool, threads: usize) -> String {
        let events = TraceEvents::parse("te", events.as_bytes()).unwrap();
        let mut driver = Driver::new();
        driver.add_parallel(LogPrinter::new(timestamps));
        let mut out = Vec::new();
        let options = RunOptions {
            parallelism: crate::analyzers::print::Parallelism {
                threads,
                chunk_bytes: 4096,
            },
            ..RunOptions::default()
        };
        driver
            .run(TraceReader::new(trace, &events).unwrap(), &mut out, options)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_prefixes_and_dropped_records() {
        let events = "a(int x, const char *s) \"x=%d s=%s\"\nb(void)\nc(uint8_t v) \"v=%02x\"\n";
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::mapping(&mut t, 1, b"b");
        encode::mapping(&mut t, 2, b"c");
        encode::event(
            &mut t,
            0,
            5,
            7,
            &[ArgValue::Int(-3i64 as u64), ArgValue::Str(b"hi")],
        );
        encode::event(&mut t, 1, 1_999_999_999, 7, &[]);
        encode::event(
            &mut t,
            2,
            12_345_678_901,
            0xffff_ffff,
            &[ArgValue::Int(0x1ab)],
        );
        encode::dropped(&mut t, 12_345_678_902, 0, 9);
        assert_eq!(
            run(events, &t, false, 1),
            "a x=-3 s=hi\nb \nc v=ab\nDropped_Event num_events_dropped=9\n"
        );
        assert_eq!(
            run(events, &t, true, 1),
            "7@0.000000:a x=-3 s=hi\n7@1.999999:b \n-1@12.345678:c v=ab\n\
             0@12.345678:Dropped_Event num_events_dropped=9\n"
        );
    }

    #[test]
    fn parallel_output_is_sequential_output() {
        let events = "a(uint64_t n, const char *s) \"n=%\" PRIu64 \" s=%-8s|\"\n";
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        for i in 0..5000u64 {
            encode::event(
                &mut t,
                0,
                i * 10,
                1,
                &[ArgValue::Int(i), ArgValue::Str(b"str")],
            );
        }
        let one = run(events, &t, true, 1);
        assert_eq!(one.lines().count(), 5000);
        assert!(one.starts_with("1@0.000000:a n=0 s=str     |\n"));
        assert_eq!(run(events, &t, true, 4), one);
    }

    #[test]
    fn a_bad_format_is_an_error_naming_the_event() {
        let events = "a(int x) \"%999999d\"\n";
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::event(&mut t, 0, 5, 7, &[ArgValue::Int(1)]);
        let events = TraceEvents::parse("te", events.as_bytes()).unwrap();
        let mut driver = Driver::new();
        driver.add_parallel(LogPrinter::new(false));
        let mut out = Vec::new();
        let err = driver
            .run(
                TraceReader::new(&t, &events).unwrap(),
                &mut out,
                RunOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("event a (trace-events line 1)"), "{err}");
        assert!(out.is_empty());
    }
}
