//! Errors of the read side: what went wrong in a binary trace, and where.

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
    /// The file is shorter than the 24-byte header.
    TruncatedHeader {
        /// Length of the whole file.
        len: u64,
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
    /// killed. Every record before it is complete.
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
}

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
            | Error::BadRecordLength { at, .. }
            | Error::UnmappedEventId { at, .. }
            | Error::UndeclaredEvent { at, .. }
            | Error::ArgumentPastRecord { at, .. }
            | Error::StringPastRecord { at, .. } => Some(*at),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TruncatedHeader { len } => write!(
                f,
                "not a simple trace: the file is {len} bytes long, shorter than the 24-byte header"
            ),
            Error::BadHeaderId { found } => write!(
                f,
                "not a simple trace: the header starts with 0x{found:016x}, expected 0xffffffffffffffff"
            ),
            Error::BadMagic { found } => write!(
                f,
                "not a simple trace: bad magic 0x{found:016x} at byte offset 8, expected 0xf2b177cb0aa429b4"
            ),
            Error::UnknownVersion { version } => write!(
                f,
                "unknown trace format version {version} (known versions: 0, 2, 3, 4)"
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
            Error::BadRecordLength { at, len } => write!(
                f,
                "{at}: record length {len} is shorter than the 24-byte event header"
            ),
            Error::UnmappedEventId { at, id } => {
                write!(f, "{at}: event id {id} has no mapping record naming it")
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
        }
    }
}

impl std::error::Error for Error {}
