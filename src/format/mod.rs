//! Pure decoding and encoding of QEMU simple traces, over byte slices.
//!
//! Nothing here does I/O: the caller hands in the trace-events text and the
//! trace bytes (usually a memory map, see [`crate::input`]).
//!
//! ```
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//!
//! let events = TraceEvents::parse("trace-events", b"tick(uint64_t n) \"n=%\" PRIu64\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"tick");
//! encode::event(&mut trace, 0, 100, 1, &[ArgValue::Int(7)]);
//! encode::event(&mut trace, 0, 250, 1, &[ArgValue::Int(8)]);
//!
//! let ticks: Vec<u64> = TraceReader::new(&trace, &events)?
//!     .map(|r| r.map(|r| r.timestamp_ns))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(ticks, [100, 250]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! API structure:
//! - [`events`]: [`TraceEvents`] and [`EventDecl`], the parsed trace-events file.
//! - [`header`]: [`TraceKind::detect`] reads the file header.
//! - [`TraceReader`]: iterates [`Record`]s (and [`Mapping`]s via
//!   [`TraceReader::next_item`]); [`ReaderState`] carries it from one block
//!   of a trace that arrives in pieces to the next.
//! - [`Record`]: one event, with [`ArgValue`] arguments borrowed from the
//!   trace.
//! - [`Error`]: every fault, with its record and byte offset; [`Skips`]:
//!   the corrupt regions a resyncing reader stepped over
//!   ([`TraceReader::with_resync`]).
//! - [`pyfmt`]: text exactly as QEMU's `simpletrace.py` prints it.
//! - [`excerpt`]: input quoted in error messages, cut short.
//! - [`cformat`]: an event's message as C's `printf` formats it, the way
//!   QEMU's `log` backend prints it.
//! - [`writer`]: [`writer::TraceWriter`] writes traces of any version,
//!   checking arguments against their declarations.
//! - [`encode`]: the bytes of version-4 records, unchecked.

#![forbid(unsafe_code)]

pub mod cformat;
pub mod chunks;
pub mod encode;
mod error;
pub mod events;
pub mod excerpt;
pub mod header;
pub mod pyfmt;
mod reader;
mod record;
mod wire;
pub mod writer;

pub use error::{
    At, Error, EventId, FileOffset, MAX_NAME_LEN, MAX_RECORD_LEN, RecordIndex, Result,
    SHOWN_NAME_BYTES,
};
pub use events::{ArgDecl, ArgKind, EventDecl, EventsError, TraceEvents};
pub use header::{ByteOrder, TraceKind, Version};
pub use reader::{
    Item, KeepFn, Mapping, RECORD_TYPE_EVENT, RECORD_TYPE_MAPPING, ReaderState, Skip, Skipped,
    Skips, TraceReader,
};
pub use record::{ArgValue, Args, Record};
