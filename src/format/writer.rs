//! Writing simple traces: [`TraceWriter`], for any format version.
//!
//! ```
//! use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
//! use simpletrace::format::{TraceEvents, TraceReader};
//!
//! let events = TraceEvents::parse(
//!     "trace-events",
//!     b"open_file(const char *path, int flags) \"path %s flags 0x%x\"\n",
//! )?;
//! let mut writer = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events)?;
//! writer.event_by_name("open_file", 1_000, 42, &[Arg::from("/tmp/x"), Arg::from(2)])?;
//! // A wrong argument is an error, not a corrupt trace.
//! assert!(writer.event_by_name("open_file", 2_000, 42, &[Arg::from(2), Arg::from(2)]).is_err());
//! let trace = writer.finish()?;
//!
//! let record = TraceReader::new(&trace, &events)?.next().unwrap()?;
//! assert_eq!(record.name(), "open_file");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Versions 2 and 3 have no mapping records (ids are positions in the
//! trace-events file) and no pid (written as 0); version 0 has fixed
//! records of at most six integer arguments and no dropped-events records.
//! The writer refuses what a version cannot hold instead of writing a file
//! its readers would misread.

use core::fmt;
use std::collections::HashMap;
use std::io::{self, Write};

use super::error::EventId;
use super::events::{ArgKind, EventDecl, TraceEvents};
use super::header::{ByteOrder, HEADER_EVENT_ID, HEADER_MAGIC, V0_HEADER_LEN, Version};
use super::reader::{RECORD_TYPE_EVENT, RECORD_TYPE_MAPPING, V0_RECORD_LEN};
use super::record::ArgValue;

/// The longest string QEMU's simple backend records; longer ones are cut.
pub const QEMU_MAX_STRING_LEN: usize = 512;

/// Arguments a version-0 record holds.
pub const V0_MAX_ARGS: usize = 6;

/// One argument to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// An unsigned integer (or `bool`).
    U64(u64),
    /// A signed integer, stored sign-extended.
    I64(i64),
    /// A pointer, stored as its address.
    Ptr(u64),
    /// A string; `None` is a NULL pointer, stored as the empty string.
    Str(Option<&'a [u8]>),
}

impl Arg<'_> {
    /// What kind of argument this is, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Arg::U64(_) => "an unsigned integer",
            Arg::I64(_) => "a signed integer",
            Arg::Ptr(_) => "a pointer",
            Arg::Str(_) => "a string",
        }
    }
}

macro_rules! arg_from {
    ($variant:ident as $wide:ty: $($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(v: $t) -> Self {
                Arg::$variant(v as $wide)
            }
        }
    )*};
}
arg_from!(U64 as u64: u8, u16, u32, u64, usize);
arg_from!(I64 as i64: i8, i16, i32, i64, isize);

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::U64(u64::from(v))
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(Some(s.as_bytes()))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Str(Some(s.as_bytes()))
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(s: &'a [u8]) -> Self {
        Arg::Str(Some(s))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Arg::Str(s.map(str::as_bytes))
    }
}

impl<T> From<*const T> for Arg<'_> {
    fn from(p: *const T) -> Self {
        Arg::Ptr(p as usize as u64)
    }
}

impl<T> From<*mut T> for Arg<'_> {
    fn from(p: *mut T) -> Self {
        Arg::Ptr(p as usize as u64)
    }
}

impl<'a> From<ArgValue<'a>> for Arg<'a> {
    fn from(v: ArgValue<'a>) -> Self {
        match v {
            ArgValue::Int(v) => Arg::U64(v),
            ArgValue::Str(s) => Arg::Str(Some(s)),
        }
    }
}

/// How a [`TraceWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// The format version (default 4, what QEMU writes since 2.8).
    pub version: Version,
    /// The byte order of every integer (default: this machine's, as QEMU).
    pub order: ByteOrder,
    /// Strings longer than this are cut to it, as QEMU does at 512 bytes
    /// (the default); `None` keeps them whole.
    pub max_string_len: Option<usize>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            version: Version::V4,
            order: ByteOrder::NATIVE,
            max_string_len: Some(QEMU_MAX_STRING_LEN),
        }
    }
}

impl WriterOptions {
    /// The default options with another version.
    pub fn version(version: Version) -> Self {
        WriterOptions {
            version,
            ..Self::default()
        }
    }
}

/// Everything that can go wrong while writing a trace.
#[non_exhaustive]
#[derive(Debug)]
pub enum WriteError {
    /// The output failed.
    Io(io::Error),
    /// The chosen format version cannot hold this.
    Unsupported {
        /// The version being written.
        version: Version,
        /// What it cannot hold.
        what: &'static str,
    },
    /// No declaration has this name.
    UnknownEvent(String),
    /// The id refers to no declared event: not mapped by this writer
    /// (version 4), or not a position in the trace-events file (older
    /// versions).
    UnknownId(EventId),
    /// The number of arguments differs from the declaration.
    ArgCount {
        /// The event.
        event: String,
        /// Arguments declared.
        declared: usize,
        /// Arguments given.
        given: usize,
    },
    /// An argument of the wrong kind (a string for an integer, say).
    ArgKind {
        /// The event.
        event: String,
        /// The argument's declared name.
        arg: String,
        /// The argument's declared C type.
        declared: String,
        /// What was given.
        given: &'static str,
    },
    /// An integer that the declared C type cannot hold.
    ArgRange {
        /// The event.
        event: String,
        /// The argument's declared name.
        arg: String,
        /// The argument's declared C type.
        declared: String,
        /// The value given.
        value: i128,
    },
    /// The record would be longer than a u32 length field can say.
    RecordTooLong {
        /// The record's length in bytes.
        len: u64,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Io(e) => write!(f, "writing the trace failed: {e}"),
            WriteError::Unsupported { version, what } => write!(
                f,
                "trace format version {} cannot hold {what}",
                version.number()
            ),
            WriteError::UnknownEvent(name) => {
                write!(f, "no event called '{name}' is declared")
            }
            WriteError::UnknownId(id) => write!(f, "event id {id} refers to no declared event"),
            WriteError::ArgCount {
                event,
                declared,
                given,
            } => write!(
                f,
                "event '{event}' declares {declared} arguments but {given} were given"
            ),
            WriteError::ArgKind {
                event,
                arg,
                declared,
                given,
            } => write!(
                f,
                "event '{event}': argument '{arg}' is declared '{declared}' but {given} was given"
            ),
            WriteError::ArgRange {
                event,
                arg,
                declared,
                value,
            } => write!(
                f,
                "event '{event}': argument '{arg}' is declared '{declared}', which cannot hold {value}"
            ),
            WriteError::RecordTooLong { len } => write!(
                f,
                "the record would be {len} bytes long, more than a record length can say"
            ),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

/// The writer's result type.
pub type Result<T> = core::result::Result<T, WriteError>;

/// What an id stands for in the records this writer has written.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A declaration, by position.
    Decl(usize),
    /// A name the trace-events file does not declare.
    Undeclared,
    /// The dropped-events pseudo event.
    Dropped,
}

/// Output is handed to the inner writer in blocks of this size.
const BLOCK: usize = 64 * 1024;

/// Writes a simple trace to any [`Write`], checking arguments against
/// their declarations when it has the trace-events file.
///
/// The writer buffers (no need for a `BufWriter`); call
/// [`TraceWriter::finish`] to write out the rest and get the output back.
/// Dropping it also writes out the rest, ignoring errors.
pub struct TraceWriter<'e, W: Write> {
    out: Option<W>,
    options: WriterOptions,
    events: Option<&'e TraceEvents>,
    /// Version 4: what each id means, as this writer's mappings left it.
    ids: HashMap<u64, Target>,
    /// Version 4: an id currently mapped to each declaration position.
    id_of_position: Vec<Option<u64>>,
    buf: Vec<u8>,
    records: u64,
    /// Bytes handed to the output so far (the buffer comes on top).
    flushed_bytes: u64,
}

impl<W: Write> fmt::Debug for TraceWriter<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceWriter")
            .field("options", &self.options)
            .field("checked", &self.events.is_some())
            .field("records", &self.records)
            .finish()
    }
}

impl<'e, W: Write> TraceWriter<'e, W> {
    /// A writer that checks nothing against declarations: arguments are
    /// written as given. Writes the file header.
    pub fn new(out: W, options: WriterOptions) -> Result<Self> {
        Self::create(out, options, None)
    }

    /// A writer that checks every event against `events`: names must be
    /// declared and arguments must match the declared count, kinds and
    /// integer widths. Writes the file header.
    pub fn with_events(out: W, options: WriterOptions, events: &'e TraceEvents) -> Result<Self> {
        Self::create(out, options, Some(events))
    }

    fn create(out: W, options: WriterOptions, events: Option<&'e TraceEvents>) -> Result<Self> {
        let mut ids = HashMap::new();
        ids.insert(EventId::DROPPED.0, Target::Dropped);
        let mut writer = TraceWriter {
            out: Some(out),
            options,
            events,
            ids,
            id_of_position: vec![None; events.map_or(0, TraceEvents::len)],
            buf: Vec::with_capacity(BLOCK + 4096),
            records: 0,
            flushed_bytes: 0,
        };
        writer.put_u64(HEADER_EVENT_ID);
        writer.put_u64(HEADER_MAGIC);
        writer.put_u64(options.version.number());
        if options.version == Version::V0 {
            // Version 0's header is one of its 64-byte records.
            writer.buf.resize(V0_HEADER_LEN, 0);
        }
        Ok(writer)
    }

    /// The options this writer uses.
    pub fn options(&self) -> WriterOptions {
        self.options
    }

    /// Records written so far (mappings included).
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Bytes of trace written so far, header included (some may still be
    /// in the writer's buffer).
    pub fn bytes_written(&self) -> u64 {
        self.flushed_bytes + self.buf.len() as u64
    }

    fn put_u64(&mut self, v: u64) {
        match self.options.order {
            ByteOrder::Little => self.buf.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    fn put_u32(&mut self, v: u32) {
        match self.options.order {
            ByteOrder::Little => self.buf.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    fn record_done(&mut self) -> Result<()> {
        self.records += 1;
        if self.buf.len() >= BLOCK {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.write_all(&self.buf)?;
        }
        self.flushed_bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes a mapping record: from here on `id` means the event `name`.
    /// Only version 4 has mapping records.
    pub fn mapping(&mut self, id: u64, name: &[u8]) -> Result<()> {
        if self.options.version != Version::V4 {
            return Err(WriteError::Unsupported {
                version: self.options.version,
                what: "mapping records (its event ids are positions in the trace-events file)",
            });
        }
        let len = u32::try_from(name.len()).map_err(|_| WriteError::RecordTooLong {
            len: 20 + name.len() as u64,
        })?;
        if let Some(Target::Decl(old)) = self.ids.get(&id)
            && let Some(slot) = self.id_of_position.get_mut(*old)
            && *slot == Some(id)
        {
            *slot = None;
        }
        let target = match self.events {
            Some(events) => match events.by_name(name) {
                Some(decl) if decl.is_dropped_pseudo() => Target::Dropped,
                Some(decl) => {
                    if let Some(slot) = self.id_of_position.get_mut(decl.position) {
                        *slot = Some(id);
                    }
                    Target::Decl(decl.position)
                }
                None => Target::Undeclared,
            },
            None => Target::Undeclared,
        };
        self.ids.insert(id, target);
        self.put_u64(RECORD_TYPE_MAPPING);
        self.put_u64(id);
        self.put_u32(len);
        self.buf.extend_from_slice(name);
        self.record_done()
    }

    /// Writes a mapping record for every declaration, with its position as
    /// the id, as QEMU does when it opens a trace file. Needs the events.
    pub fn map_all(&mut self) -> Result<()> {
        let Some(events) = self.events else {
            return Ok(());
        };
        for decl in events.iter() {
            self.mapping(decl.position as u64, decl.name.as_bytes())?;
        }
        Ok(())
    }

    /// Writes an event record for the declaration called `name`. In version
    /// 4 the writer first writes a mapping record if no id names it yet;
    /// older versions use the declaration's position as the id.
    pub fn event_by_name(
        &mut self,
        name: &str,
        timestamp_ns: u64,
        pid: u32,
        args: &[Arg<'_>],
    ) -> Result<()> {
        let events = self
            .events
            .ok_or_else(|| WriteError::UnknownEvent(name.to_owned()))?;
        let decl = events
            .by_name(name.as_bytes())
            .filter(|d| !d.is_dropped_pseudo())
            .ok_or_else(|| WriteError::UnknownEvent(name.to_owned()))?;
        let id = if self.options.version == Version::V4 {
            match self.id_of_position.get(decl.position).copied().flatten() {
                Some(id) => id,
                None => {
                    let mut id = decl.position as u64;
                    while self.ids.contains_key(&id) {
                        id += 1;
                    }
                    self.mapping(id, name.as_bytes())?;
                    id
                }
            }
        } else {
            decl.position as u64
        };
        self.write_event(id, Some(decl), timestamp_ns, pid, args)
    }

    /// Writes an event record with the given id. With the events known, the
    /// id must refer to a declaration (through this writer's mappings in
    /// version 4, as a position before) and the arguments must match it.
    pub fn event(&mut self, id: u64, timestamp_ns: u64, pid: u32, args: &[Arg<'_>]) -> Result<()> {
        let decl = match self.events {
            None => None,
            Some(events) => {
                let position = if self.options.version == Version::V4 {
                    match self.ids.get(&id) {
                        Some(Target::Decl(p)) => Some(*p),
                        Some(Target::Dropped) => {
                            return self.write_event(
                                id,
                                Some(events.dropped()),
                                timestamp_ns,
                                pid,
                                args,
                            );
                        }
                        _ => None,
                    }
                } else {
                    Some(id as usize).filter(|&p| p < events.len())
                };
                let decl = position
                    .and_then(|p| events.get(p))
                    .ok_or(WriteError::UnknownId(EventId(id)))?;
                Some(decl)
            }
        };
        self.write_event(id, decl, timestamp_ns, pid, args)
    }

    /// Writes a dropped-events record: `count` events were lost before
    /// `timestamp_ns`. Version 0 has no such record.
    pub fn dropped(&mut self, timestamp_ns: u64, pid: u32, count: u64) -> Result<()> {
        if self.options.version == Version::V0 {
            return Err(WriteError::Unsupported {
                version: Version::V0,
                what: "dropped-events records",
            });
        }
        let dropped = self.events.map(TraceEvents::dropped);
        self.write_event(
            EventId::DROPPED.0,
            dropped,
            timestamp_ns,
            pid,
            &[Arg::U64(count)],
        )
    }

    /// Writes an event record whose payload is already encoded, unchecked
    /// (for copying records from another trace). Versions 2 to 4.
    pub fn event_payload(
        &mut self,
        id: u64,
        timestamp_ns: u64,
        pid: u32,
        payload: &[u8],
    ) -> Result<()> {
        if self.options.version == Version::V0 {
            return Err(WriteError::Unsupported {
                version: Version::V0,
                what: "variable-length payloads",
            });
        }
        let len = 24 + payload.len() as u64;
        let len = u32::try_from(len).map_err(|_| WriteError::RecordTooLong { len })?;
        self.event_header(id, timestamp_ns, len, pid);
        self.buf.extend_from_slice(payload);
        self.record_done()
    }

    fn event_header(&mut self, id: u64, timestamp_ns: u64, len: u32, pid: u32) {
        if self.options.version == Version::V4 {
            self.put_u64(RECORD_TYPE_EVENT);
        }
        self.put_u64(id);
        self.put_u64(timestamp_ns);
        self.put_u32(len);
        // Before version 4 this word was reserved.
        self.put_u32(if self.options.version == Version::V4 {
            pid
        } else {
            0
        });
    }

    fn cut<'s>(&self, s: Option<&'s [u8]>) -> &'s [u8] {
        let s = s.unwrap_or_default();
        match self.options.max_string_len {
            Some(max) if s.len() > max => &s[..max],
            _ => s,
        }
    }

    fn write_event(
        &mut self,
        id: u64,
        decl: Option<&EventDecl>,
        timestamp_ns: u64,
        pid: u32,
        args: &[Arg<'_>],
    ) -> Result<()> {
        if let Some(decl) = decl {
            check_args(decl, args)?;
        }
        if self.options.version == Version::V0 {
            return self.write_v0_event(id, timestamp_ns, args);
        }
        let payload: u64 = args
            .iter()
            .map(|a| match a {
                Arg::Str(s) => 4 + self.cut(*s).len() as u64,
                _ => 8,
            })
            .sum();
        let len = 24 + payload;
        let len = u32::try_from(len).map_err(|_| WriteError::RecordTooLong { len })?;
        self.event_header(id, timestamp_ns, len, pid);
        for arg in args {
            match *arg {
                Arg::U64(v) | Arg::Ptr(v) => self.put_u64(v),
                Arg::I64(v) => self.put_u64(v as u64),
                Arg::Str(s) => {
                    let s = self.cut(s);
                    self.put_u32(s.len() as u32);
                    self.buf.extend_from_slice(s);
                }
            }
        }
        self.record_done()
    }

    fn write_v0_event(&mut self, id: u64, timestamp_ns: u64, args: &[Arg<'_>]) -> Result<()> {
        if args.len() > V0_MAX_ARGS {
            return Err(WriteError::Unsupported {
                version: Version::V0,
                what: "more than six arguments",
            });
        }
        if args.iter().any(|a| matches!(a, Arg::Str(_))) {
            return Err(WriteError::Unsupported {
                version: Version::V0,
                what: "string arguments",
            });
        }
        self.put_u64(id);
        self.put_u64(timestamp_ns);
        for i in 0..V0_MAX_ARGS {
            let v = match args.get(i) {
                Some(Arg::U64(v) | Arg::Ptr(v)) => *v,
                Some(Arg::I64(v)) => *v as u64,
                Some(Arg::Str(_)) | None => 0,
            };
            self.put_u64(v);
        }
        debug_assert_eq!(V0_RECORD_LEN, 64);
        self.record_done()
    }

    /// Hands everything written so far to the output and flushes it.
    pub fn flush(&mut self) -> Result<()> {
        self.write_out()?;
        if let Some(out) = self.out.as_mut() {
            out.flush()?;
        }
        Ok(())
    }

    /// Writes out the rest and returns the output.
    pub fn finish(mut self) -> Result<W> {
        self.flush()?;
        Ok(self.out.take().expect("the output is only taken by finish"))
    }
}

impl<W: Write> Drop for TraceWriter<'_, W> {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = self.flush();
        }
    }
}

/// Checks `args` against `decl`: count, kind, and integer width.
pub fn check_args(decl: &EventDecl, args: &[Arg<'_>]) -> Result<()> {
    if args.len() != decl.args.len() {
        return Err(WriteError::ArgCount {
            event: decl.name.clone(),
            declared: decl.args.len(),
            given: args.len(),
        });
    }
    for (arg, d) in args.iter().zip(&decl.args) {
        let kind_error = || WriteError::ArgKind {
            event: decl.name.clone(),
            arg: d.name.clone(),
            declared: d.ty.clone(),
            given: arg.kind_name(),
        };
        let range_error = |value: i128| WriteError::ArgRange {
            event: decl.name.clone(),
            arg: d.name.clone(),
            declared: d.ty.clone(),
            value,
        };
        match (d.kind, *arg) {
            (ArgKind::String, Arg::Str(_)) => {}
            (ArgKind::Pointer, Arg::Ptr(_) | Arg::U64(_)) => {}
            (ArgKind::Bool, Arg::U64(v)) => {
                if v > 1 {
                    return Err(range_error(i128::from(v)));
                }
            }
            (ArgKind::Bool, Arg::I64(v)) => {
                if !(0..=1).contains(&v) {
                    return Err(range_error(i128::from(v)));
                }
            }
            (ArgKind::Int { signed, bits }, Arg::U64(v)) => {
                let fits = if bits >= 64 {
                    true
                } else if signed {
                    // The raw word of a signed value: a sign extension.
                    let shift = 64 - u32::from(bits);
                    (((v << shift) as i64) >> shift) as u64 == v
                } else {
                    v >> bits == 0
                };
                if !fits {
                    return Err(range_error(i128::from(v)));
                }
            }
            (ArgKind::Int { signed, bits }, Arg::I64(v)) => {
                let fits = if signed {
                    bits >= 64 || (v >> (bits - 1) == 0 || v >> (bits - 1) == -1)
                } else {
                    v >= 0 && (bits >= 64 || (v as u64) >> bits == 0)
                };
                if !fits {
                    return Err(range_error(i128::from(v)));
                }
            }
            _ => return Err(kind_error()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{TraceReader, Version};

    fn events() -> TraceEvents {
        TraceEvents::parse(
            "te",
            b"a(int x, unsigned char c, bool b, int64_t l)\n\
              s(const char *s, void *p)\n\
              n(void)\n",
        )
        .unwrap()
    }

    #[test]
    fn checks_count_kind_and_range() {
        let ev = events();
        let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &ev).unwrap();
        let ok = [
            Arg::from(-1),
            Arg::from(255u8),
            Arg::from(true),
            Arg::from(i64::MIN),
        ];
        w.event_by_name("a", 1, 1, &ok).unwrap();
        // Raw words of negative ints are fine as u64 when sign-extended.
        w.event_by_name(
            "a",
            1,
            1,
            &[Arg::U64(u64::MAX), Arg::U64(0), Arg::U64(1), Arg::U64(7)],
        )
        .unwrap();
        match w.event_by_name("a", 1, 1, &ok[..3]) {
            Err(WriteError::ArgCount {
                declared: 4,
                given: 3,
                ..
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match w.event_by_name("a", 1, 1, &[Arg::from("x"), ok[1], ok[2], ok[3]]) {
            Err(WriteError::ArgKind { arg, .. }) if arg == "x" => {}
            otherwise => panic!("{otherwise:?}"),
        }
        for bad in [
            [Arg::I64(1 << 31), ok[1], ok[2], ok[3]],
            [Arg::U64(0xffff_ffff), ok[1], ok[2], ok[3]],
            [ok[0], Arg::U64(256), ok[2], ok[3]],
            [ok[0], Arg::I64(-1), ok[2], ok[3]],
            [ok[0], ok[1], Arg::U64(2), ok[3]],
        ] {
            match w.event_by_name("a", 1, 1, &bad) {
                Err(WriteError::ArgRange { .. }) => {}
                otherwise => panic!("{bad:?}: {otherwise:?}"),
            }
        }
        match w.event_by_name("s", 1, 1, &[Arg::Str(None), Arg::I64(3)]) {
            Err(WriteError::ArgKind { arg, .. }) if arg == "p" => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match w.event_by_name("nope", 1, 1, &[]) {
            Err(WriteError::UnknownEvent(n)) if n == "nope" => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match w.event(77, 1, 1, &[]) {
            Err(WriteError::UnknownId(EventId(77))) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // Nothing of the refused records reached the output.
        let out = w.finish().unwrap();
        let n = TraceReader::new(&out, &ev).unwrap().count();
        assert_eq!(n, 2);
    }

    #[test]
    fn strings_are_cut_like_qemu() {
        let ev = events();
        let long = vec![b'x'; 600];
        for (max, want) in [(Some(512), 512), (Some(3), 3), (None, 600)] {
            let options = WriterOptions {
                max_string_len: max,
                ..WriterOptions::default()
            };
            let mut w = TraceWriter::with_events(Vec::new(), options, &ev).unwrap();
            w.event_by_name("s", 1, 1, &[Arg::from(&long[..]), Arg::Ptr(0)])
                .unwrap();
            w.event_by_name("s", 1, 1, &[Arg::Str(None), Arg::Ptr(0)])
                .unwrap();
            let out = w.finish().unwrap();
            let records: Vec<_> = TraceReader::new(&out, &ev)
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(
                records[0]
                    .arg(0)
                    .unwrap()
                    .unwrap()
                    .as_bytes()
                    .unwrap()
                    .len(),
                want
            );
            assert_eq!(records[1].arg(0).unwrap().unwrap(), ArgValue::Str(b""));
        }
    }

    #[test]
    fn version_limits() {
        let ev = events();
        let mut w =
            TraceWriter::with_events(Vec::new(), WriterOptions::version(Version::V3), &ev).unwrap();
        match w.mapping(0, b"a") {
            Err(WriteError::Unsupported {
                version: Version::V3,
                ..
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        w.event_by_name("n", 5, 9, &[]).unwrap();
        w.dropped(6, 9, 3).unwrap();
        let out = w.finish().unwrap();
        let got: Vec<_> = TraceReader::new(&out, &ev)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (r.name().to_owned(), r.id.0, r.pid)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("n".to_owned(), 2, 0),
                ("Dropped_Event".to_owned(), EventId::DROPPED.0, 0)
            ]
        );

        let mut w =
            TraceWriter::with_events(Vec::new(), WriterOptions::version(Version::V0), &ev).unwrap();
        match w.event_by_name("s", 1, 1, &[Arg::from("x"), Arg::Ptr(0)]) {
            Err(WriteError::Unsupported {
                what: "string arguments",
                ..
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        assert!(w.dropped(1, 1, 1).is_err());
        let mut raw = TraceWriter::new(Vec::new(), WriterOptions::version(Version::V0)).unwrap();
        match raw.event(0, 1, 1, &[Arg::U64(0); 7]) {
            Err(WriteError::Unsupported {
                what: "more than six arguments",
                ..
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn event_by_name_maps_once_in_v4() {
        let ev = events();
        let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &ev).unwrap();
        w.event_by_name("n", 1, 1, &[]).unwrap();
        w.event_by_name("n", 2, 1, &[]).unwrap();
        // The position id of `s` is taken by another name: a free id is used.
        w.mapping(1, b"n").unwrap();
        w.event_by_name("s", 3, 1, &[Arg::from("q"), Arg::Ptr(1)])
            .unwrap();
        assert_eq!(w.records_written(), 6);
        let out = w.finish().unwrap();
        let mut r = TraceReader::new(&out, &ev).unwrap();
        let mut items = Vec::new();
        while let Some(item) = r.next_item() {
            items.push(match item.unwrap() {
                crate::format::Item::Mapping(m) => {
                    format!("map {}={}", m.id.0, String::from_utf8_lossy(m.name))
                }
                crate::format::Item::Event(e) => format!("{}#{}", e.name(), e.id.0),
            });
        }
        assert_eq!(
            items,
            ["map 2=n", "n#2", "n#2", "map 1=n", "map 3=s", "s#3"]
        );
    }
}
