//! `json`: every record as one line of JSON (JSON Lines).
//!
//! ```text
//! {"event":"bdrv_open_common","id":12,"timestamp_ns":1731000000000,"delta_ns":0,"pid":8823,"args":{"bs":"0x5643596b66b0","filename":"img/small.qcow2","flags":32768,"format_name":"file"}}
//! ```
//!
//! Arguments keep their C types: unsigned integers are JSON numbers,
//! signed ones are numbers with their sign (an `int` of -1 is `-1`, not
//! `4294967295`), `bool`s are `true`/`false`, pointers are `"0x…"`
//! strings, strings are JSON strings. Any integer past ±2^53 (an
//! argument, the id of `Dropped_Event`, a timestamp) is a string of its
//! digits: readers that hold numbers as doubles would round it. That
//! exact-integer rule ([`is_exact_in_json`]) is every JSON output's: this
//! module writes it for the record streams, and
//! [`write_pretty_value`](super::listing::write_pretty_value) applies it
//! to the reports' and plugins' JSON. A string that is not valid UTF-8 is written with U+FFFD for
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
use crate::format::events::{ArgKind, EventDecl};
use crate::format::pyfmt;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `bytes` are UTF-8. ASCII, what nearly every argument string
/// is, is checked a word at a time; a full UTF-8 check costs about a
/// hundred instructions even for a short file name.
#[inline]
pub(crate) fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || core::str::from_utf8(bytes).is_ok()
}

/// Appends `s` as a JSON string (quoted, escaped).
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    write_json_text(out, s.as_bytes());
}

/// Appends `bytes`, which are UTF-8 ([`is_utf8`]), as a JSON string.
/// Only ASCII bytes are ever escaped, so UTF-8 in is UTF-8 out.
fn write_json_text(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Most strings (file names, device names) need no escape: one pass
    // without early exit, which the compiler vectorises, then one copy.
    let needs_escape = bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
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

/// The largest integer magnitude every JSON reader holds exactly,
/// 2^53 - 1: JavaScript's `Number.MAX_SAFE_INTEGER`. Readers that parse
/// numbers into doubles (JavaScript, jq 1.6, pandas) round integers past
/// it (18446744073709551615 becomes 18446744073709552000).
pub const MAX_EXACT_INT: u64 = (1 << 53) - 1;

/// The exact-integer rule of every JSON this crate writes: an integer
/// whose magnitude is at most [`MAX_EXACT_INT`] is a JSON number, any
/// other a JSON string of its decimal digits (`"18446744073709551615"`),
/// which every reader keeps exactly. The one place the rule is decided.
#[inline]
pub fn is_exact_in_json(magnitude: u128) -> bool {
    magnitude <= u128::from(MAX_EXACT_INT)
}

/// Appends the integer of this sign and magnitude by the exact-integer
/// rule ([`is_exact_in_json`]). Inlined: the record streams write several
/// integers per record, nearly all of them numbers.
#[inline(always)]
pub(crate) fn write_exact_int(out: &mut Vec<u8>, negative: bool, magnitude: u64) {
    if magnitude <= MAX_EXACT_INT {
        if negative && magnitude != 0 {
            out.push(b'-');
        }
        pyfmt::write_decimal(out, magnitude);
    } else {
        write_quoted_int(out, negative, magnitude);
    }
}

/// [`write_exact_int`] past [`MAX_EXACT_INT`]: a string of the digits.
#[cold]
#[inline(never)]
fn write_quoted_int(out: &mut Vec<u8>, negative: bool, magnitude: u64) {
    out.push(b'"');
    if negative {
        out.push(b'-');
    }
    pyfmt::write_decimal(out, magnitude);
    out.push(b'"');
}

/// Appends an unsigned integer by the exact-integer rule.
#[inline]
pub(crate) fn write_exact_u64(out: &mut Vec<u8>, v: u64) {
    write_exact_int(out, false, v);
}

/// Appends a signed integer by the exact-integer rule.
#[inline]
pub(crate) fn write_exact_i64(out: &mut Vec<u8>, v: i64) {
    write_exact_int(out, v < 0, v.unsigned_abs());
}

/// An unsigned integer of any width as a JSON value by the exact-integer
/// rule ([`is_exact_in_json`]): a number, or a string of its digits.
pub fn exact_uint_value(v: u128) -> Value {
    match u64::try_from(v) {
        Ok(small) if is_exact_in_json(v) => Value::from(small),
        _ => Value::String(v.to_string()),
    }
}

/// `v` with every integer that breaks the exact-integer rule
/// ([`is_exact_in_json`]) turned into a string of its digits; borrowed
/// when there is none (the usual case: nothing is copied). Reports and
/// plugins build their JSON as [`Value`]s with plain numbers; this is
/// applied where they are written out.
pub fn exact_numbers(v: &Value) -> Cow<'_, Value> {
    fn inexact(n: &serde_json::Number) -> Option<Value> {
        let magnitude = match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u128::from(u),
            (None, Some(i)) => u128::from(i.unsigned_abs()),
            // A float: already what readers read.
            (None, None) => return None,
        };
        (!is_exact_in_json(magnitude)).then(|| Value::String(n.to_string()))
    }
    fn needs(v: &Value) -> bool {
        match v {
            Value::Number(n) => inexact(n).is_some(),
            Value::Array(items) => items.iter().any(needs),
            Value::Object(fields) => fields.values().any(needs),
            _ => false,
        }
    }
    fn convert(v: &Value) -> Value {
        match v {
            Value::Number(n) => inexact(n).unwrap_or_else(|| v.clone()),
            Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), convert(v)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }
    if needs(v) {
        Cow::Owned(convert(v))
    } else {
        Cow::Borrowed(v)
    }
}

/// The fixed text of one declaration's `args` object, escaped once: what
/// comes before each argument's value (`"bs":`, then `,"flags":`...).
/// Writing a record's object copies these and formats only the values
/// (escaping the names of every record again was a sixth of the Parquet
/// export's JSON).
#[derive(Debug, Clone)]
pub(crate) struct ArgsFrame {
    keys: Box<[Box<[u8]>]>,
    /// The address of the declaration it was made from: a cache asked
    /// for another declaration at the same position (another events
    /// file) makes a new frame rather than write the wrong names.
    decl: usize,
}

impl ArgsFrame {
    /// The frame of `decl`'s arguments.
    pub(crate) fn new(decl: &EventDecl) -> ArgsFrame {
        let keys = decl
            .args
            .iter()
            .enumerate()
            .map(|(i, arg)| {
                let mut key = Vec::with_capacity(arg.name.len() + 4);
                if i > 0 {
                    key.push(b',');
                }
                write_json_str(&mut key, &arg.name);
                key.push(b':');
                key.into_boxed_slice()
            })
            .collect();
        ArgsFrame {
            keys,
            decl: core::ptr::from_ref(decl) as usize,
        }
    }

    /// Whether the frame was made from `decl`.
    #[inline]
    fn is_of(&self, decl: &EventDecl) -> bool {
        self.decl == core::ptr::from_ref(decl) as usize
    }
}

/// The [`ArgsFrame`]s of the declarations met, each made when first
/// needed, held by declaration position (a declaration met at a position
/// held for another replaces it).
#[derive(Debug, Clone, Default)]
pub(crate) struct ArgsFrames {
    by_position: Vec<Option<ArgsFrame>>,
    /// `Dropped_Event`'s (and any declaration outside the file's
    /// positions).
    others: HashMap<usize, ArgsFrame>,
}

/// Declarations past this position get no slot of their own (the
/// `Dropped_Event` declaration's is `usize::MAX`).
const FRAME_SLOTS: usize = 1 << 16;

impl ArgsFrames {
    /// The frame of `decl`.
    #[inline]
    pub(crate) fn of(&mut self, decl: &EventDecl) -> &ArgsFrame {
        let position = decl.position;
        if position < FRAME_SLOTS {
            if self.by_position.len() <= position {
                self.by_position.resize(position + 1, None);
            }
            if let Some(slot) = self.by_position.get_mut(position) {
                if !slot.as_ref().is_some_and(|f| f.is_of(decl)) {
                    *slot = Some(ArgsFrame::new(decl));
                }
                return slot.get_or_insert_with(|| ArgsFrame::new(decl));
            }
        }
        let frame = self
            .others
            .entry(position)
            .or_insert_with(|| ArgsFrame::new(decl));
        if !frame.is_of(decl) {
            *frame = ArgsFrame::new(decl);
        }
        frame
    }
}

/// Appends `{"name":value,...}` for the event's arguments, and returns
/// whether a string was not UTF-8 (then [`write_raw_strings`] adds them).
/// `frame` is the event's declaration's ([`ArgsFrames::of`]).
#[inline]
pub(crate) fn write_args(out: &mut Vec<u8>, ev: &Event<'_>, frame: &ArgsFrame) -> bool {
    let decl = ev.decl();
    let strings = ev.has_strings();
    let mut bad_utf8 = false;
    out.push(b'{');
    for (i, ((value, arg), key)) in ev.args().zip(&decl.args).zip(&frame.keys).enumerate() {
        out.extend_from_slice(key);
        match (value, arg.kind) {
            (ArgValue::Str(s), _) => {
                if is_utf8(s) {
                    write_json_text(out, s);
                } else {
                    bad_utf8 = true;
                    write_json_str(out, &String::from_utf8_lossy(s));
                }
            }
            (ArgValue::Int(v), ArgKind::Pointer) => write_hex_str(out, v),
            (ArgValue::Int(v), ArgKind::String) if !strings => write_hex_str(out, v),
            (ArgValue::Int(v), ArgKind::Bool) => {
                out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
            }
            (ArgValue::Int(_), ArgKind::Int { signed: true, .. }) => {
                write_exact_i64(out, ev.i64_at(i).unwrap_or(0))
            }
            (ArgValue::Int(v), _) => write_exact_u64(out, v),
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
            && !is_utf8(s)
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
    frames: ArgsFrames,
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
        write_exact_u64(out, ev.id().0);
        out.extend_from_slice(b",\"timestamp_ns\":");
        write_exact_u64(out, ts);
        out.extend_from_slice(b",\"delta_ns\":");
        let prev = self.last_ns.unwrap_or(ts);
        write_exact_int(out, ts < prev, ts.abs_diff(prev));
        out.extend_from_slice(b",\"pid\":");
        pyfmt::write_decimal(out, u64::from(ev.pid()));
        out.extend_from_slice(b",\"args\":");
        if write_args(out, ev, self.frames.of(ev.decl())) {
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

    /// A new trace's first record has a `delta_ns` of 0, as in a run over
    /// that trace alone.
    fn restart(&mut self) {
        self.last_ns = None;
    }
}

impl ChunkSink for JsonLines {
    fn split(&self, chunk: &ChunkStart) -> Self {
        JsonLines {
            last_ns: chunk.prev_timestamp_ns,
            records: 0,
            frames: self.frames.clone(),
        }
    }

    fn join(&mut self, part: Self) {
        self.records += part.records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(position: usize, args: &[&str]) -> EventDecl {
        EventDecl {
            name: "ev".to_owned(),
            position,
            line: 1,
            properties: Default::default(),
            args: args
                .iter()
                .map(|name| crate::format::events::ArgDecl {
                    ty: "int".to_owned(),
                    name: (*name).to_owned(),
                    kind: ArgKind::Int {
                        signed: true,
                        bits: 32,
                    },
                })
                .collect(),
            format: None,
            format_error: None,
        }
    }

    /// A frame holds each argument's `"name":` (escaped, a comma before
    /// all but the first); a cache asked for another declaration at a
    /// position (another events file) gives that declaration's frame.
    #[test]
    fn args_frames_follow_their_declarations() {
        let keys = |f: &ArgsFrame| {
            f.keys
                .iter()
                .map(|k| String::from_utf8(k.to_vec()).unwrap())
                .collect::<Vec<_>>()
        };
        let a = decl(3, &["bs", "q\"uote"]);
        let b = decl(3, &["other"]);
        let far = decl(usize::MAX, &["num_events_dropped"]);
        let mut frames = ArgsFrames::default();
        assert_eq!(keys(frames.of(&a)), ["\"bs\":", ",\"q\\\"uote\":"]);
        assert_eq!(keys(frames.of(&a)), ["\"bs\":", ",\"q\\\"uote\":"]);
        assert_eq!(keys(frames.of(&b)), ["\"other\":"]);
        assert_eq!(keys(frames.of(&a)), ["\"bs\":", ",\"q\\\"uote\":"]);
        assert_eq!(keys(frames.of(&far)), ["\"num_events_dropped\":"]);
        assert_eq!(keys(frames.of(&decl(0, &[]))), Vec::<String>::new());
    }

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

    /// Integers past ±(2^53 - 1) are strings of digits, the others
    /// numbers; read back as a double (as JavaScript, jq 1.6 and pandas
    /// read numbers), every number is exact.
    #[test]
    fn integers_survive_readers_of_doubles() {
        let text = |negative, magnitude| {
            let mut out = Vec::new();
            write_exact_int(&mut out, negative, magnitude);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(false, MAX_EXACT_INT), "9007199254740991");
        assert_eq!(text(true, MAX_EXACT_INT), "-9007199254740991");
        assert_eq!(text(false, MAX_EXACT_INT + 1), "\"9007199254740992\"");
        assert_eq!(text(false, u64::MAX), "\"18446744073709551615\"");
        assert_eq!(text(true, 0), "0");
        let mut out = Vec::new();
        write_exact_i64(&mut out, i64::MIN);
        assert_eq!(out, b"\"-9223372036854775808\"");
        for v in [0, 1, MAX_EXACT_INT - 1, MAX_EXACT_INT] {
            let as_double: f64 = serde_json::from_str(&text(false, v)).unwrap();
            assert_eq!(as_double as u64, v);
        }
        assert_eq!(exact_uint_value(7), serde_json::json!(7));
        assert_eq!(
            exact_uint_value(u128::MAX),
            serde_json::json!(u128::MAX.to_string())
        );
    }

    /// Values built with plain numbers are rewritten only where a number
    /// breaks the rule, and not copied when none does.
    #[test]
    fn values_are_made_exact_where_needed() {
        let fine = serde_json::json!({"a": [1, -2, 2.5, MAX_EXACT_INT], "b": "x"});
        assert!(matches!(exact_numbers(&fine), Cow::Borrowed(_)));
        let big = serde_json::json!({"a": [1, u64::MAX, i64::MIN], "b": {"c": MAX_EXACT_INT + 1}});
        assert_eq!(
            *exact_numbers(&big),
            serde_json::json!({
                "a": [1, "18446744073709551615", "-9223372036854775808"],
                "b": {"c": "9007199254740992"}
            })
        );
    }
}
