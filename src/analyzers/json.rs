//! `json`: every record as one line of JSON (JSON Lines).
//!
//! ```text
//! {"event":"bdrv_open_common","id":12,"timestamp_ns":1731000000000,"delta_ns":0,"pid":8823,"args":{"bs":"0x5643596b66b0","filename":"img/small.qcow2","flags":32768,"format_name":"file"}}
//! ```
//!
//! Arguments keep their C types: unsigned integers are JSON numbers,
//! signed ones are numbers with their sign (an `int` of -1 is `-1`, not
//! `4294967295`), `bool`s are `true`/`false`, pointers are `"0x…"`
//! strings (JSON numbers lose precision past 2^53), strings are JSON
//! strings. A string that is not valid UTF-8 is written with U+FFFD for
//! each bad sequence, and its exact bytes are added, in hex, under `"raw"`:
//! `"args":{"file":"bad\ufffd.img"},"raw":{"file":"626164ff2e696d67"}`.
//! Dropped-events records are records of their own (`Dropped_Event`, one
//! argument `num_events_dropped`). `delta_ns` is the exact difference from
//! the previous record written (negative when timestamps step back).
//!
//! The analyzer runs chunk-parallel; lines come out in file order.

use super::sink::{ChunkSink, Sink, Stream};
use super::{AnalyzerError, ChunkStart, Event};
use crate::format::ArgValue;
use crate::format::events::ArgKind;
use crate::format::pyfmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string (quoted, escaped).
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// Appends a signed decimal.
fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    pyfmt::write_decimal(out, v.unsigned_abs());
}

/// Appends `{"name":value,...}` for the event's arguments, and returns
/// whether a string was not UTF-8 (then [`write_raw_strings`] adds them).
pub(crate) fn write_args(out: &mut Vec<u8>, ev: &Event<'_>) -> bool {
    let decl = ev.decl();
    let strings = ev.has_strings();
    let mut bad_utf8 = false;
    out.push(b'{');
    for (i, (value, arg)) in ev.args().zip(&decl.args).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, &arg.name);
        out.push(b':');
        match (value, arg.kind) {
            (ArgValue::Str(s), _) => match core::str::from_utf8(s) {
                Ok(text) => write_json_str(out, text),
                Err(_) => {
                    bad_utf8 = true;
                    write_json_str(out, &String::from_utf8_lossy(s));
                }
            },
            (ArgValue::Int(v), ArgKind::Pointer) => write_hex_str(out, v),
            (ArgValue::Int(v), ArgKind::String) if !strings => write_hex_str(out, v),
            (ArgValue::Int(v), ArgKind::Bool) => {
                out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
            }
            (ArgValue::Int(_), ArgKind::Int { signed: true, .. }) => {
                write_i64(out, ev.i64_at(i).unwrap_or(0))
            }
            (ArgValue::Int(v), _) => pyfmt::write_decimal(out, v),
        }
    }
    out.push(b'}');
    bad_utf8
}

/// Appends `{"name":"hex",...}` with the exact bytes of every argument
/// string that is not valid UTF-8.
pub(crate) fn write_raw_strings(out: &mut Vec<u8>, ev: &Event<'_>) {
    out.push(b'{');
    let mut first = true;
    for (value, arg) in ev.args().zip(&ev.decl().args) {
        if let ArgValue::Str(s) = value
            && core::str::from_utf8(s).is_err()
        {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_str(out, &arg.name);
            out.extend_from_slice(b":\"");
            for &b in s {
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            out.push(b'"');
        }
    }
    out.push(b'}');
}

fn write_hex_str(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    pyfmt::write_hex(out, v);
    out.push(b'"');
}

/// The `json` analyzer: JSON Lines.
#[derive(Debug, Clone, Default)]
pub struct JsonLines {
    last_ns: Option<u64>,
    records: u64,
}

impl JsonLines {
    /// A JSON Lines writer.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn write_line(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) {
        let ts = ev.timestamp_ns();
        out.extend_from_slice(b"{\"event\":");
        write_json_str(out, ev.name());
        out.extend_from_slice(b",\"id\":");
        pyfmt::write_decimal(out, ev.id().0);
        out.extend_from_slice(b",\"timestamp_ns\":");
        pyfmt::write_decimal(out, ts);
        out.extend_from_slice(b",\"delta_ns\":");
        let prev = self.last_ns.unwrap_or(ts);
        if ts >= prev {
            pyfmt::write_decimal(out, ts - prev);
        } else {
            out.push(b'-');
            pyfmt::write_decimal(out, prev - ts);
        }
        out.extend_from_slice(b",\"pid\":");
        pyfmt::write_decimal(out, u64::from(ev.pid()));
        out.extend_from_slice(b",\"args\":");
        if write_args(out, ev) {
            out.extend_from_slice(b",\"raw\":");
            write_raw_strings(out, ev);
        }
        out.extend_from_slice(b"}\n");
        self.last_ns = Some(ts);
        self.records += 1;
    }
}

impl Sink for JsonLines {
    const NAME: &'static str = "json";
    const STREAM: Stream = Stream::Data;

    #[inline(always)]
    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.write_line(ev, out);
        Ok(())
    }
}

impl ChunkSink for JsonLines {
    fn split(&self, chunk: &ChunkStart) -> Self {
        JsonLines {
            last_ns: chunk.prev_timestamp_ns,
            records: 0,
        }
    }

    fn join(&mut self, part: Self) {
        self.records += part.records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings() {
        let s = |t: &str| {
            let mut out = Vec::new();
            write_json_str(&mut out, t);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(s("plain"), "\"plain\"");
        assert_eq!(s("q\"b\\n\nt\t\u{1}é"), "\"q\\\"b\\\\n\\nt\\t\\u0001é\"");
        let v: String = serde_json::from_str(&s("it's \"x\" \u{7f} \u{1f}")).unwrap();
        assert_eq!(v, "it's \"x\" \u{7f} \u{1f}");
    }
}
