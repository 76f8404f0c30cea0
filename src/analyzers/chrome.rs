//! `json --format chrome`: the Chrome trace-event JSON that Perfetto UI
//! (ui.perfetto.dev) and `chrome://tracing` open.
//!
//! Every record becomes an instant event (`"ph":"i"`, thread-scoped) with
//! its arguments (encoded as in [`super::json`]); the trace has no thread
//! ids, so `tid` is the pid. Timestamps are microseconds with nanosecond
//! decimals, exactly.
//!
//! With spans (`--span BEGIN_EVENT:KEY,END_EVENT:KEY`), a record of the
//! begin event and a later record of the end event whose KEY arguments are
//! equal (and from the same pid) become one complete event (`"ph":"X"`)
//! named after the begin event, with its duration and both records'
//! arguments: `thread_pool_submit_aio:req,thread_pool_complete_aio:req`
//! shows every request of QEMU's thread pool as a bar. Without a key, begin
//! and end pair first-in first-out per pid. Ends without a begin, and begins
//! still open when the trace ends, are kept as instant events marked
//! `unmatched-span-end` / `unmatched-span-begin` (the begins oldest first).
//! Begins and ends pair through the engine `hist --latency` uses
//! (`analyzers::pairing`), first in first out. Spans need the records
//! in file order, so a run with spans is not chunk-parallel; one without
//! is.

use super::json::{write_args, write_json_str, write_raw_strings};
use super::pairing::{Pairing, Pairs};
use super::sink::{ChunkSink, Sink, Stream};
use super::{AnalyzerError, ChunkStart, Event, TraceInfo};
use crate::format::ArgValue;
use crate::format::excerpt::Excerpt;
use crate::format::pyfmt;
use core::fmt;
use core::str::FromStr;

/// One `--span`: which events begin and end a span, and the arguments
/// that must be equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanSpec {
    /// The event that opens a span.
    pub begin: String,
    /// Its argument that identifies the span.
    pub begin_key: Option<String>,
    /// The event that closes it.
    pub end: String,
    /// Its argument that must equal the begin's key.
    pub end_key: Option<String>,
}

/// A `--span` that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanSpecError(String);

impl fmt::Display for SpanSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a span: give BEGIN_EVENT[:KEY],END_EVENT[:KEY], e.g. thread_pool_submit_aio:req,thread_pool_complete_aio:req",
            Excerpt::new(&self.0)
        )
    }
}

impl std::error::Error for SpanSpecError {}

impl FromStr for SpanSpec {
    type Err = SpanSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SpanSpecError(s.to_owned());
        let ((begin, begin_key), (end, end_key)) = crate::syntax::event_pair(s).ok_or_else(err)?;
        let (begin, begin_key) = (begin.to_owned(), begin_key.map(str::to_owned));
        let (end, end_key) = (end.to_owned(), end_key.map(str::to_owned));
        Ok(SpanSpec {
            begin,
            begin_key,
            end,
            end_key,
        })
    }
}

/// What a record's event is to the spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    Begin(usize),
    End(usize),
}

/// A key argument's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    None,
    Int(u64),
    Bytes(Vec<u8>),
}

/// The Chrome trace-event writer.
#[derive(Debug)]
pub struct ChromeTrace {
    specs: Vec<SpanSpec>,
    /// By declaration position; dropped records are always plain.
    roles: Vec<Role>,
    /// Open begins by (span, pid, key), with their arguments as JSON;
    /// paired first in first out.
    open: Pairs<(usize, u32, Key), Vec<u8>>,
    records: u64,
    spans: u64,
    unmatched_ends: u64,
}

impl Default for ChromeTrace {
    fn default() -> Self {
        ChromeTrace {
            specs: Vec::new(),
            roles: Vec::new(),
            open: Pairs::new(Pairing::Fifo),
            records: 0,
            spans: 0,
            unmatched_ends: 0,
        }
    }
}

/// Appends a nanosecond time as microseconds with three decimals.
fn write_us(out: &mut Vec<u8>, ns: u64) {
    pyfmt::write_decimal(out, ns / 1000);
    let frac = ns % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

fn args_json(ev: &Event<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if write_args(&mut out, ev) {
        out.pop();
        out.extend_from_slice(b",\"raw\":");
        write_raw_strings(&mut out, ev);
        out.push(b'}');
    }
    out
}

fn write_instant(out: &mut Vec<u8>, name: &str, cat: &str, ts: u64, pid: u32, args: &[u8]) {
    out.extend_from_slice(b"{\"name\":");
    write_json_str(out, name);
    out.extend_from_slice(b",\"cat\":");
    write_json_str(out, cat);
    out.extend_from_slice(b",\"ph\":\"i\",\"s\":\"t\",\"ts\":");
    write_us(out, ts);
    out.extend_from_slice(b",\"pid\":");
    pyfmt::write_decimal(out, u64::from(pid));
    out.extend_from_slice(b",\"tid\":");
    pyfmt::write_decimal(out, u64::from(pid));
    out.extend_from_slice(b",\"args\":");
    out.extend_from_slice(args);
    out.extend_from_slice(b"},\n");
}

impl ChromeTrace {
    /// A writer making spans of `specs` (none: instants only).
    pub fn new(specs: Vec<SpanSpec>) -> Self {
        ChromeTrace {
            specs,
            ..Self::default()
        }
    }

    /// Whether spans are configured (the run must then be sequential).
    pub fn has_spans(&self) -> bool {
        !self.specs.is_empty()
    }

    fn key(ev: &Event<'_>, name: &Option<String>) -> Key {
        match name.as_deref().and_then(|n| ev.value(n)) {
            None => Key::None,
            Some(ArgValue::Int(v)) => Key::Int(v),
            Some(ArgValue::Str(s)) => Key::Bytes(s.to_vec()),
        }
    }

    fn on_record(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.records += 1;
        let role = if ev.is_dropped() {
            Role::Plain
        } else {
            self.roles
                .get(ev.decl().position)
                .copied()
                .unwrap_or(Role::Plain)
        };
        match role {
            Role::Plain => write_instant(
                out,
                ev.name(),
                "event",
                ev.timestamp_ns(),
                ev.pid(),
                &args_json(ev),
            ),
            Role::Begin(i) => {
                let key = Self::key(ev, &self.specs[i].begin_key);
                self.open
                    .begin((i, ev.pid(), key), ev.timestamp_ns(), args_json(ev));
            }
            Role::End(i) => {
                let key = Self::key(ev, &self.specs[i].end_key);
                let begun = self.open.end(&(i, ev.pid(), key));
                match begun {
                    Some(open) => {
                        let end = ev.timestamp_ns();
                        // Timestamps can step back across threads; a span
                        // cannot be shorter than nothing.
                        let dur = end.saturating_sub(open.ts);
                        out.extend_from_slice(b"{\"name\":");
                        write_json_str(out, &self.specs[i].begin);
                        out.extend_from_slice(b",\"cat\":\"span\",\"ph\":\"X\",\"ts\":");
                        write_us(out, open.ts);
                        out.extend_from_slice(b",\"dur\":");
                        write_us(out, dur);
                        out.extend_from_slice(b",\"pid\":");
                        pyfmt::write_decimal(out, u64::from(ev.pid()));
                        out.extend_from_slice(b",\"tid\":");
                        pyfmt::write_decimal(out, u64::from(ev.pid()));
                        out.extend_from_slice(b",\"args\":{\"begin\":");
                        out.extend_from_slice(&open.value);
                        out.extend_from_slice(b",\"end\":");
                        out.extend_from_slice(&args_json(ev));
                        out.extend_from_slice(b"}},\n");
                        self.spans += 1;
                    }
                    None => {
                        self.unmatched_ends += 1;
                        write_instant(
                            out,
                            ev.name(),
                            "unmatched-span-end",
                            ev.timestamp_ns(),
                            ev.pid(),
                            &args_json(ev),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

impl Sink for ChromeTrace {
    const NAME: &'static str = "chrome";
    const STREAM: Stream = Stream::Data;

    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        for spec in &self.specs {
            for (name, key) in [(&spec.begin, &spec.begin_key), (&spec.end, &spec.end_key)] {
                let decl = info.events.by_name(name.as_bytes()).ok_or_else(|| {
                    let hint = info
                        .events
                        .suggest(name)
                        .map_or(String::new(), |s| format!(" (did you mean '{s}'?)"));
                    AnalyzerError::new(
                        "chrome",
                        format!("--span: no event called '{name}' is declared{hint}"),
                    )
                })?;
                if let Some(k) = key
                    && decl.arg_position(k).is_none()
                {
                    return Err(AnalyzerError::new(
                        "chrome",
                        format!("--span: event '{name}' has no argument '{k}'"),
                    ));
                }
            }
        }
        self.roles = info
            .events
            .iter()
            .map(|d| {
                for (i, spec) in self.specs.iter().enumerate() {
                    if d.name == spec.begin {
                        return Role::Begin(i);
                    }
                    if d.name == spec.end {
                        return Role::End(i);
                    }
                }
                Role::Plain
            })
            .collect();
        Ok(())
    }

    fn head(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"traceEvents\":[\n");
    }

    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.on_record(ev, out)
    }

    fn tail(&mut self, out: &mut Vec<u8>) {
        // Spans still open: their begins as instants, oldest first.
        let pending = std::mem::replace(&mut self.open, Pairs::new(Pairing::Fifo));
        let open = pending.open_oldest_first();
        let unmatched_begins = open.len();
        for (&(i, pid, _), begin) in open {
            write_instant(
                out,
                &self.specs[i].begin,
                "unmatched-span-begin",
                begin.ts,
                pid,
                &begin.value,
            );
        }
        // A last, metadata element: the array needs no trailing comma.
        out.extend_from_slice(
            b"{\"name\":\"simpletrace\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\"args\":{\"records\":",
        );
        pyfmt::write_decimal(out, self.records);
        out.extend_from_slice(b",\"spans\":");
        pyfmt::write_decimal(out, self.spans);
        out.extend_from_slice(b",\"unmatched_span_begins\":");
        pyfmt::write_decimal(out, unmatched_begins as u64);
        out.extend_from_slice(b",\"unmatched_span_ends\":");
        pyfmt::write_decimal(out, self.unmatched_ends);
        out.extend_from_slice(b"}}\n],\"displayTimeUnit\":\"ns\"}\n");
    }
}

impl ChunkSink for ChromeTrace {
    fn split(&self, _chunk: &ChunkStart) -> Self {
        ChromeTrace {
            specs: self.specs.clone(),
            roles: self.roles.clone(),
            ..Self::default()
        }
    }

    fn join(&mut self, part: Self) {
        // Only used without spans: nothing pairs across chunks.
        self.records += part.records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_specs() {
        let s: SpanSpec = "thread_pool_submit_aio:req,thread_pool_complete_aio:req"
            .parse()
            .unwrap();
        assert_eq!(s.begin, "thread_pool_submit_aio");
        assert_eq!(s.end_key.as_deref(), Some("req"));
        let s: SpanSpec = "a,b".parse().unwrap();
        assert_eq!((s.begin_key, s.end_key), (None, None));
        for bad in ["a", "a:,b", ":k,b", "a b,c", "a,b:c:d"] {
            assert!(bad.parse::<SpanSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn microseconds() {
        let us = |ns| {
            let mut out = Vec::new();
            write_us(&mut out, ns);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(us(0), "0.000");
        assert_eq!(us(1), "0.001");
        assert_eq!(us(1_234_567), "1234.567");
    }
}
