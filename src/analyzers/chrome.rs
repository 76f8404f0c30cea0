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
//! equal (and from the same pid) become one span named after the begin
//! event: a pair of async events (`"ph":"b"` with the begin's arguments
//! under `begin`, `"ph":"e"` with the end's under `end`) sharing an `id`
//! of their own, in category `span`:
//! `thread_pool_submit_aio:req,thread_pool_complete_aio:req` shows every
//! request of QEMU's thread pool as a bar. Async, because spans of one pid
//! partly overlap (requests served out of order, locks of several threads)
//! and a thread track only draws spans that nest; viewers lay async spans
//! out on as many rows as they need, grouped by name under the process.
//! (Until issue 16 spans were complete events, `"ph":"X"`, on the pid's
//! track, which Perfetto drew wrong or dropped where they overlapped.)
//! Both events are written when the span ends, so the only state is the
//! open begins: memory follows what is open, not the trace. Without a key,
//! begin and end pair first-in first-out per pid. Ends without a begin, and begins
//! still open when the trace ends, are kept as instant events marked
//! `unmatched-span-end` / `unmatched-span-begin` (the begins oldest first).
//! Begins and ends pair through the engine `hist --latency` uses
//! (`analyzers::pairing`), first in first out. Spans need the records
//! in file order, so a run with spans is not chunk-parallel; one without
//! is.
//!
//! Integers in arguments follow the exact-integer rule of
//! [`super::json::is_exact_in_json`]. Each pid's track of records is named
//! `records` (a `thread_name` metadata event); the counts of records, spans
//! and unmatched ones are in the top-level `metadata` object, under
//! `simpletrace`, with the output's `format_version` ([`FORMAT_VERSION`]).

use super::json::{ArgsFrames, write_args, write_exact_u64, write_json_str, write_raw_strings};
use super::pairing::{Pairing, Pairs};
use super::sink::{ChunkSink, Sink, Stream};
use super::{AnalyzerError, ChunkStart, Event, TraceInfo};
use crate::format::ArgValue;
use crate::format::excerpt::Excerpt;
use crate::format::pyfmt;
use core::fmt;
use core::str::FromStr;
use std::collections::BTreeSet;

/// The version of the Chrome output, in its `metadata.simpletrace`: 2
/// since issue 16 (spans as async `b`/`e` pairs, integers past 2^53 as
/// strings, the counts moved from a last `"simpletrace"` metadata event of
/// pid 0 to the top-level `metadata` object, tracks named); 1 before,
/// when there was no version field.
pub const FORMAT_VERSION: u32 = 2;

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

/// What a record's event is to the spans (shared with the Perfetto
/// output, [`super::perfetto`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Plain,
    Begin(usize),
    End(usize),
}

/// A key argument's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Key {
    None,
    Int(u64),
    Bytes(Vec<u8>),
}

/// What `ev` is to the spans: [`span_roles`]' entry for its declaration
/// (a dropped-events record is plain).
pub(super) fn role_of(roles: &[Role], ev: &Event<'_>) -> Role {
    if ev.is_dropped() {
        return Role::Plain;
    }
    roles
        .get(ev.decl().position)
        .copied()
        .unwrap_or(Role::Plain)
}

/// The value of a span's key argument in `ev` (no key named: none).
pub(super) fn span_key(ev: &Event<'_>, name: &Option<String>) -> Key {
    match name.as_deref().and_then(|n| ev.value(n)) {
        None => Key::None,
        Some(ArgValue::Int(v)) => Key::Int(v),
        Some(ArgValue::Str(s)) => Key::Bytes(s.to_vec()),
    }
}

/// Checks `specs` against the declarations (every event declared, every
/// key one of its arguments; `sink` names the output in the message) and
/// gives each declaration's role, by position.
pub(super) fn span_roles(
    sink: &str,
    specs: &[SpanSpec],
    info: &TraceInfo<'_>,
) -> Result<Vec<Role>, AnalyzerError> {
    for spec in specs {
        for (name, key) in [(&spec.begin, &spec.begin_key), (&spec.end, &spec.end_key)] {
            let decl = info.events.by_name(name.as_bytes()).ok_or_else(|| {
                let hint = info
                    .events
                    .suggest(name)
                    .map_or(String::new(), |s| format!(" (did you mean '{s}'?)"));
                AnalyzerError::new(
                    sink,
                    format!("--span: no event called '{name}' is declared{hint}"),
                )
            })?;
            if let Some(k) = key
                && decl.arg_position(k).is_none()
            {
                return Err(AnalyzerError::new(
                    sink,
                    format!("--span: event '{name}' has no argument '{k}'"),
                ));
            }
        }
    }
    Ok(info
        .events
        .iter()
        .map(|d| {
            for (i, spec) in specs.iter().enumerate() {
                if d.name == spec.begin {
                    return Role::Begin(i);
                }
                if d.name == spec.end {
                    return Role::End(i);
                }
            }
            Role::Plain
        })
        .collect())
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
    /// The pids of the records written, to name their tracks at the end:
    /// as many as the trace has writers, not records.
    pids: BTreeSet<u32>,
    records: u64,
    spans: u64,
    unmatched_ends: u64,
    frames: ArgsFrames,
}

impl Default for ChromeTrace {
    fn default() -> Self {
        ChromeTrace {
            specs: Vec::new(),
            roles: Vec::new(),
            open: Pairs::new(Pairing::Fifo),
            pids: BTreeSet::new(),
            records: 0,
            spans: 0,
            unmatched_ends: 0,
            frames: ArgsFrames::default(),
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

fn args_json(frames: &mut ArgsFrames, ev: &Event<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if write_args(&mut out, ev, frames.of(ev.decl())) {
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

/// Appends one async event of a span: its begin (`b`, the begin
/// record's arguments under `begin`) or its end (`e`, the end record's
/// under `end`).
fn write_async(
    out: &mut Vec<u8>,
    begin: bool,
    name: &str,
    id: u64,
    ts: u64,
    pid: u32,
    args: &[u8],
) {
    out.extend_from_slice(b"{\"name\":");
    write_json_str(out, name);
    out.extend_from_slice(if begin {
        b",\"cat\":\"span\",\"ph\":\"b\""
    } else {
        b",\"cat\":\"span\",\"ph\":\"e\""
    });
    // A string of hex digits, as Chrome writes ids: exact in every reader.
    out.extend_from_slice(b",\"id\":\"");
    pyfmt::write_hex(out, id);
    out.extend_from_slice(b"\",\"ts\":");
    write_us(out, ts);
    out.extend_from_slice(b",\"pid\":");
    pyfmt::write_decimal(out, u64::from(pid));
    out.extend_from_slice(b",\"tid\":");
    pyfmt::write_decimal(out, u64::from(pid));
    out.extend_from_slice(if begin {
        b",\"args\":{\"begin\":"
    } else {
        b",\"args\":{\"end\":"
    });
    out.extend_from_slice(args);
    out.extend_from_slice(b"}},\n");
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

    fn on_record(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.records += 1;
        self.pids.insert(ev.pid());
        match role_of(&self.roles, ev) {
            Role::Plain => write_instant(
                out,
                ev.name(),
                "event",
                ev.timestamp_ns(),
                ev.pid(),
                &args_json(&mut self.frames, ev),
            ),
            Role::Begin(i) => {
                let key = span_key(ev, &self.specs[i].begin_key);
                self.open.begin(
                    (i, ev.pid(), key),
                    ev.timestamp_ns(),
                    args_json(&mut self.frames, ev),
                );
            }
            Role::End(i) => {
                let key = span_key(ev, &self.specs[i].end_key);
                let begun = self.open.end(&(i, ev.pid(), key));
                match begun {
                    Some(open) => {
                        // Timestamps can step back across threads; a span
                        // cannot end before it begins.
                        let end = ev.timestamp_ns().max(open.ts);
                        // Unique per span, so that no two spans share an
                        // async track's id and must nest.
                        let id = self.spans;
                        let name = &self.specs[i].begin;
                        let pid = ev.pid();
                        write_async(out, true, name, id, open.ts, pid, &open.value);
                        write_async(
                            out,
                            false,
                            name,
                            id,
                            end,
                            pid,
                            &args_json(&mut self.frames, ev),
                        );
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
                            &args_json(&mut self.frames, ev),
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
        self.roles = span_roles("chrome", &self.specs, info)?;
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
        // Each pid's track named, the last of them closing the array
        // (which has no trailing comma); none when there was no record.
        let pids = std::mem::take(&mut self.pids);
        let last = pids.len();
        for (n, pid) in pids.into_iter().enumerate() {
            out.extend_from_slice(b"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":");
            pyfmt::write_decimal(out, u64::from(pid));
            out.extend_from_slice(b",\"tid\":");
            pyfmt::write_decimal(out, u64::from(pid));
            out.extend_from_slice(b",\"args\":{\"name\":\"records\"}}");
            out.extend_from_slice(if n + 1 == last { b"\n" } else { b",\n" });
        }
        // The counts in the document's own metadata, apart from every pid
        // (until issue 16 they were a last event of pid 0, a real pid).
        out.extend_from_slice(
            b"],\"displayTimeUnit\":\"ns\",\"metadata\":{\"simpletrace\":{\"format_version\":",
        );
        pyfmt::write_decimal(out, u64::from(FORMAT_VERSION));
        out.extend_from_slice(b",\"records\":");
        write_exact_u64(out, self.records);
        out.extend_from_slice(b",\"spans\":");
        write_exact_u64(out, self.spans);
        out.extend_from_slice(b",\"unmatched_span_begins\":");
        write_exact_u64(out, unmatched_begins as u64);
        out.extend_from_slice(b",\"unmatched_span_ends\":");
        write_exact_u64(out, self.unmatched_ends);
        out.extend_from_slice(b"}}}\n");
    }
}

impl ChunkSink for ChromeTrace {
    fn split(&self, _chunk: &ChunkStart) -> Self {
        ChromeTrace {
            specs: self.specs.clone(),
            roles: self.roles.clone(),
            frames: self.frames.clone(),
            ..Self::default()
        }
    }

    fn join(&mut self, part: Self) {
        // Only used without spans: nothing pairs across chunks.
        self.records += part.records;
        self.pids.extend(part.pids);
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
