//! Errors of the read side: what went wrong in a binary trace, and where.

use super::header::V0_HEADER_LEN;
use core::fmt;

/// A byte offset from the start of the trace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileOffset(pub u64);

/// The position of a record in the trace, counting every record (mappings
/// included) from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RecordIndex(pub u64);

/// An event id as written in a trace record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

impl EventId {
    /// The id QEMU writes for a "dropped events" record.
    pub const DROPPED: EventId = EventId(0xffff_ffff_ffff_fffe);
}

impl fmt::Display for FileOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte offset {} (0x{:x})", self.0, self.0)
    }
}

impl fmt::Display for RecordIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}", self.0)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == EventId::DROPPED {
            f.write_str("0xfffffffffffffffe (dropped)")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Where a fault was found: the record it belongs to and its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// The record the fault belongs to.
    pub record: RecordIndex,
    /// Offset of the first byte of that record.
    pub offset: FileOffset,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.record, self.offset)
    }
}

/// Everything that can be wrong with a binary trace.
///
/// Every variant says where the fault is and what value was found there, so
/// a message can point a user at the exact byte.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The file is shorter than its header (24 bytes; 64 for version 0).
    TruncatedHeader {
        /// Length of the whole file.
        len: u64,
        /// Length of the header it needs.
        needed: u64,
    },
    /// The first header word is not `0xffffffffffffffff`.
    BadHeaderId {
        /// The word found at offset 0.
        found: u64,
    },
    /// The second header word is not the simple-trace magic.
    BadMagic {
        /// The word found at offset 8.
        found: u64,
    },
    /// The header names a format version no QEMU release has written.
    UnknownVersion {
        /// The version word found at offset 16.
        version: u64,
    },
    /// The file ends in the middle of a record, as when the writer was
    /// killed: the record's length is one a real record can have (at most
    /// [`MAX_RECORD_LEN`]) but the file ends first. Every record before it
    /// is complete.
    Truncated {
        /// The incomplete record.
        at: At,
        /// How many bytes of it the file holds (all ignored).
        available: u64,
        /// How many bytes the record needs (at least).
        needed: u64,
    },
    /// A record type word that is neither 0 (mapping) nor 1 (event).
    UnknownRecordType {
        /// The record.
        at: At,
        /// The type word found.
        found: u64,
    },
    /// A record whose length runs past the end of the file, where the
    /// length is corrupt rather than the file cut short: it is larger than
    /// any record a writer makes ([`MAX_RECORD_LEN`] for an event,
    /// [`MAX_NAME_LEN`] for a mapping's name), or plausible records follow
    /// inside the bytes it claims.
    RecordPastEnd {
        /// The record.
        at: At,
        /// The bytes the record claims (type word included).
        needed: u64,
        /// The bytes left in the file from the record's start.
        available: u64,
        /// The first plausible record after it, when that is what shows
        /// the length is corrupt.
        next: Option<FileOffset>,
    },
    /// An event record whose length is smaller than its own 24-byte header.
    BadRecordLength {
        /// The record.
        at: At,
        /// The length field found.
        len: u32,
    },
    /// An event record uses an id that no mapping record has named.
    UnmappedEventId {
        /// The record.
        at: At,
        /// The id found.
        id: EventId,
    },
    /// An event id that no mapping record names and that is no position in
    /// the trace-events file, in a trace whose ids are such positions
    /// (versions 0, 2 and 3, and headerless traces).
    UnknownEventId {
        /// The record.
        at: At,
        /// The id found.
        id: EventId,
        /// How many events the trace-events file declares.
        declared: u64,
    },
    /// An event record names an event that the trace-events file does not
    /// declare.
    UndeclaredEvent {
        /// The record.
        at: At,
        /// The id found.
        id: EventId,
        /// The event name the trace maps the id to (lossy UTF-8).
        name: Box<str>,
    },
    /// The record ends before one of its declared arguments is complete.
    ArgumentPastRecord {
        /// The record.
        at: At,
        /// The event's name.
        event: Box<str>,
        /// The 0-based position of the argument.
        arg: u8,
        /// The record length field.
        len: u32,
    },
    /// A string argument's length runs past the end of its record.
    StringPastRecord {
        /// The record.
        at: At,
        /// The event's name.
        event: Box<str>,
        /// The 0-based position of the argument.
        arg: u8,
        /// The string length field.
        str_len: u32,
        /// The payload bytes left for the string.
        available: u64,
    },
    /// An event record longer than its declared arguments: bytes are left
    /// over after the last one. QEMU writes records exactly as long as
    /// their arguments, so the length is corrupt or the trace-events file
    /// is not the one the trace was written with.
    TrailingBytes {
        /// The record.
        at: At,
        /// The event's name.
        event: Box<str>,
        /// The record length field.
        len: u32,
        /// The bytes the header and arguments take.
        used: u64,
    },
    /// A mapping record whose name cannot be an event name: empty, longer
    /// than [`MAX_NAME_LEN`], or with bytes other than ASCII letters,
    /// digits and `_` (what an event name is made of).
    BadMappingName {
        /// The record.
        at: At,
        /// The id being mapped.
        id: EventId,
        /// The name length field.
        len: u32,
        /// The start of the name as a Python bytes literal
        /// (`b'\xff\x00ab'`), at most [`SHOWN_NAME_BYTES`] bytes of it.
        shown: Box<str>,
    },
    /// The record runs past the point where the data stopped being
    /// readable while it was read: a memory-mapped file that another
    /// program truncated or rewrote shorter (see
    /// [`TraceReader::with_valid_len`](super::TraceReader::with_valid_len)).
    /// Every record before it was read whole.
    Cut {
        /// The record.
        at: At,
        /// The offset the data stayed readable up to (from the start of
        /// the trace).
        valid: FileOffset,
    },
}

/// The longest record (type word excluded) a length field may claim when
/// the file ends before the record does, for the record to count as cut
/// off ([`Error::Truncated`]) rather than corrupt ([`Error::RecordPastEnd`]).
/// QEMU's records must fit its 256 KiB ring buffer; the margin covers
/// writers with longer strings, such as this crate's tracer without a
/// string limit.
pub const MAX_RECORD_LEN: u64 = 1 << 20;

/// The longest event name a mapping record may carry. QEMU's names are C
/// identifiers of a few dozen bytes.
pub const MAX_NAME_LEN: u32 = 1024;

/// How much of a bad mapping name [`Error::BadMappingName`] shows.
pub const SHOWN_NAME_BYTES: usize = 48;

/// The read side's result type.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// Whether this error means the file simply stops in the middle of a
    /// record (a writer that was killed) rather than holding bad data.
    pub fn is_truncation(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }

    /// The offset of the record the error is about, if it is about one.
    pub fn offset(&self) -> Option<FileOffset> {
        self.at().map(|at| at.offset)
    }

    /// The record the error is about (its index and offset), if it is
    /// about one. Its index is also the number of records before it.
    pub fn at(&self) -> Option<At> {
        match self {
            Error::TruncatedHeader { .. }
            | Error::BadHeaderId { .. }
            | Error::BadMagic { .. }
            | Error::UnknownVersion { .. } => None,
            Error::Truncated { at, .. }
            | Error::UnknownRecordType { at, .. }
            | Error::RecordPastEnd { at, .. }
            | Error::BadRecordLength { at, .. }
            | Error::UnmappedEventId { at, .. }
            | Error::UnknownEventId { at, .. }
            | Error::UndeclaredEvent { at, .. }
            | Error::ArgumentPastRecord { at, .. }
            | Error::StringPastRecord { at, .. }
            | Error::TrailingBytes { at, .. }
            | Error::BadMappingName { at, .. }
            | Error::Cut { at, .. } => Some(*at),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TruncatedHeader { len, needed } => {
                write!(
                    f,
                    "not a simple trace: the file is {len} bytes long, shorter than the {needed}-byte header"
                )?;
                if *needed == V0_HEADER_LEN as u64 {
                    f.write_str(" of a version-0 trace")?;
                }
                Ok(())
            }
            Error::BadHeaderId { found } => write!(
                f,
                "not a simple trace: the header starts with 0x{found:016x} at byte offset 0, \
                 expected 0xffffffffffffffff"
            ),
            Error::BadMagic { found } => write!(
                f,
                "not a simple trace: bad magic 0x{found:016x} at byte offset 8, \
                 expected 0xf2b177cb0aa429b4 (or byte-swapped, in a big-endian trace)"
            ),
            Error::UnknownVersion { version } => write!(
                f,
                "unknown trace format version {version} at byte offset 16 (known versions: 0, 2, 3, 4)"
            ),
            Error::Truncated {
                at,
                available,
                needed,
            } => write!(
                f,
                "the trace ends inside {at}: the last {available} bytes were ignored \
                 (an incomplete record; it needs at least {needed})"
            ),
            Error::UnknownRecordType { at, found } => write!(
                f,
                "{at}: unknown record type 0x{found:x} (expected 0 for a mapping or 1 for an event)"
            ),
            Error::RecordPastEnd {
                at,
                needed,
                available,
                next,
            } => {
                write!(
                    f,
                    "{at}: the record claims {needed} bytes but only {available} are left in the file, "
                )?;
                match next {
                    Some(next) => write!(f, "and a plausible record follows at {next}")?,
                    None => f.write_str("and no record is that long")?,
                }
                f.write_str(": a corrupt length, not a trace cut short")
            }
            Error::BadRecordLength { at, len } => write!(
                f,
                "{at}: record length {len} is shorter than the 24-byte event header"
            ),
            Error::UnmappedEventId { at, id } => {
                write!(f, "{at}: event id {id} has no mapping record naming it")
            }
            Error::UnknownEventId { at, id, declared } => {
                write!(
                    f,
                    "{at}: event id {id} names no event: no mapping record names it and "
                )?;
                match declared.checked_sub(1) {
                    Some(last) => write!(
                        f,
                        "the trace-events file declares {declared} events (ids 0 to {last})"
                    ),
                    None => f.write_str("the trace-events file declares no events"),
                }
            }
            Error::UndeclaredEvent { at, id, name } => write!(
                f,
                "{at}: event '{name}' (id {id}) is in the trace but not declared in the trace-events file; \
                 pass the trace-events-all file of the QEMU build that wrote the trace"
            ),
            Error::ArgumentPastRecord {
                at,
                event,
                arg,
                len,
            } => write!(
                f,
                "{at}: event '{event}': the record ({len} bytes) ends before argument {} is complete",
                u32::from(*arg) + 1
            ),
            Error::StringPastRecord {
                at,
                event,
                arg,
                str_len,
                available,
            } => write!(
                f,
                "{at}: event '{event}': string argument {} is {str_len} bytes long but only {available} bytes of the record are left",
                u32::from(*arg) + 1
            ),
            Error::TrailingBytes {
                at,
                event,
                len,
                used,
            } => write!(
                f,
                "{at}: event '{event}': record length {len}, but the header and arguments take {used} bytes: \
                 {} bytes left over (a corrupt length, or not the trace-events file the trace was written with)",
                u64::from(*len).saturating_sub(*used)
            ),
            Error::BadMappingName { at, id, len, shown } => write!(
                f,
                "{at}: mapping record for id {id}: the name {shown} ({len} bytes) is not an event name \
                 (expected 1 to {MAX_NAME_LEN} ASCII letters, digits or '_')"
            ),
            Error::Cut { at, valid } => write!(
                f,
                "{at}: the record runs past {valid}, where the trace stopped being readable \
                 while it was read"
            ),
        }
    }
}

impl std::error::Error for Error {}
