//! Low-level encoding of version-4 records, little-endian.
//!
//! These functions append exactly the bytes QEMU's simple backend writes and
//! check nothing against declarations; they are the building blocks for
//! test traces and generators.
//!
//! ```
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//!
//! let events = TraceEvents::parse("te", b"open(const char *path, int fd)\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"open");
//! encode::event(&mut trace, 0, 1_000, 42, &[ArgValue::Str(b"/tmp/x"), ArgValue::Int(3)]);
//! let record = TraceReader::new(&trace, &events)?.next().unwrap()?;
//! assert_eq!(record.arg_by_name("fd").unwrap()?, ArgValue::Int(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::error::EventId;
use super::header::{HEADER_EVENT_ID, HEADER_MAGIC};
use super::reader::{RECORD_TYPE_EVENT, RECORD_TYPE_MAPPING};
use super::record::ArgValue;

/// Appends the 24-byte file header.
pub fn header(out: &mut Vec<u8>, version: u64) {
    out.extend_from_slice(&HEADER_EVENT_ID.to_le_bytes());
    out.extend_from_slice(&HEADER_MAGIC.to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
}

/// Appends a mapping record naming `id`.
///
/// # Panics
/// If `name` is longer than `u32::MAX` bytes.
pub fn mapping(out: &mut Vec<u8>, id: u64, name: &[u8]) {
    let len = u32::try_from(name.len()).expect("event name longer than 4 GiB");
    out.extend_from_slice(&RECORD_TYPE_MAPPING.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(name);
}

/// The payload length of `args` as an event record stores them.
pub fn payload_len(args: &[ArgValue<'_>]) -> usize {
    args.iter()
        .map(|a| match a {
            ArgValue::Int(_) => 8,
            ArgValue::Str(s) => 4 + s.len(),
        })
        .sum()
}

/// Appends an event record with the given arguments.
///
/// # Panics
/// If the record would be longer than `u32::MAX` bytes.
pub fn event(out: &mut Vec<u8>, id: u64, timestamp_ns: u64, pid: u32, args: &[ArgValue<'_>]) {
    let len = u32::try_from(24 + payload_len(args)).expect("record longer than 4 GiB");
    event_header(out, id, timestamp_ns, len, pid);
    for arg in args {
        match arg {
            ArgValue::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
            ArgValue::Str(s) => {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s);
            }
        }
    }
}

/// Appends an event record whose payload is already encoded (for example
/// copied from another trace).
///
/// # Panics
/// If the record would be longer than `u32::MAX` bytes.
pub fn event_with_payload(out: &mut Vec<u8>, id: u64, timestamp_ns: u64, pid: u32, payload: &[u8]) {
    let len = u32::try_from(24 + payload.len()).expect("record longer than 4 GiB");
    event_header(out, id, timestamp_ns, len, pid);
    out.extend_from_slice(payload);
}

/// Appends the type word and 24-byte header of an event record with an
/// explicit record length, for building records whose length field lies.
pub fn event_header(out: &mut Vec<u8>, id: u64, timestamp_ns: u64, len: u32, pid: u32) {
    out.extend_from_slice(&RECORD_TYPE_EVENT.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&timestamp_ns.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&pid.to_le_bytes());
}

/// Appends a dropped-events record: `count` events were lost.
pub fn dropped(out: &mut Vec<u8>, timestamp_ns: u64, pid: u32, count: u64) {
    event(
        out,
        EventId::DROPPED.0,
        timestamp_ns,
        pid,
        &[ArgValue::Int(count)],
    );
}
