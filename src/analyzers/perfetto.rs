//! `json --format perfetto`: Perfetto's own protobuf trace format, which
//! ui.perfetto.dev opens directly and loads far faster, and at a fraction
//! of the size, than the Chrome JSON of [`super::chrome`].
//!
//! The file is a `Trace`: a sequence of `TracePacket`s, each written as it
//! is made (a length-delimited `Trace.packet` entry), so memory does not
//! grow with the trace. Every packet is on one sequence
//! ([`SEQUENCE_ID`]); the first clears its incremental state, and event
//! names and argument names are interned on it once, in the packet that
//! first uses them.
//!
//! - Each pid has a process track (a `TrackDescriptor` with a
//!   `ProcessDescriptor`, named after the trace), declared before its
//!   first record.
//! - Every record is an instant `TrackEvent` on its pid's track, named
//!   after its event, its arguments as debug annotations: pointers as
//!   `pointer_value` (shown in hex), signed integers as `int_value`, other
//!   integers as `uint_value`, `bool`s as `bool_value`, strings as
//!   `string_value` (bytes that are not UTF-8 replaced by U+FFFD), or,
//!   short ones (QEMU's file names, drivers, formats, which come back in
//!   every record), interned once (`string_value_iid`) up to a bounded
//!   number of them.
//!   Dropped-events records are instants `Dropped_Event` (argument
//!   `num_events_dropped`) in category `lost_events`.
//! - Spans (`--span`, paired exactly as the Chrome output pairs them:
//!   [`super::chrome::span_roles`], [`super::pairing`]) are slices on
//!   child tracks of the pid's track, named after the span: spans that do
//!   not overlap share a track; one that overlaps those already on a track
//!   goes to the next track of that name (a new one when none is free).
//!   Both ends of a span are written when it ends; ends without a begin
//!   and begins open at the end are instants in categories
//!   `unmatched-span-end` and `unmatched-span-begin`.
//! - Counters (`--counter EVENT:ARG`): each record of the event adds the
//!   argument's value (as a signed 64-bit integer) to a counter track,
//!   one per pid, named `EVENT.ARG`, beside the record's instant.
//!
//! Timestamps are the records' own, in nanoseconds; they step back across
//! threads, which Perfetto's trace processor accepts (it sorts).
//!
//! The messages below are the subset of Perfetto's protos that is written,
//! field numbers as in google/perfetto's `protos/perfetto/trace/trace.proto`,
//! `trace_packet.proto`, `interned_data/interned_data.proto`,
//! `track_event/track_event.proto`, `track_event/track_descriptor.proto`,
//! `track_event/debug_annotation.proto`,
//! `track_event/counter_descriptor.proto` and
//! `track_event/process_descriptor.proto` (checked against the descriptors
//! of the `perfetto` Python package, whose schema the tests decode with).
//! Fields of a `oneof` there are plain optional fields here: one of them is
//! set at a time, which encodes the same.

use super::alloc::AllocAnalyzer;
use super::chrome::{Key, Role, SpanSpec, role_of, span_key, span_roles};
use super::pairing::{Pairing, Pairs};
use super::sink::{Sink, Stream};
use super::{AnalyzerError, Event, TraceInfo};
use crate::format::ArgValue;
use crate::format::events::ArgKind;
use core::fmt;
use core::str::FromStr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The one `trusted_packet_sequence_id` of every packet.
pub const SEQUENCE_ID: u32 = 1;

/// `TracePacket.SequenceFlags.SEQ_INCREMENTAL_STATE_CLEARED`.
pub const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
/// `TracePacket.SequenceFlags.SEQ_NEEDS_INCREMENTAL_STATE`.
pub const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;

/// The category of dropped-events records.
pub const LOST_EVENTS: &str = "lost_events";

/// The Perfetto messages written (see the [module documentation](self)).
pub mod proto {
    /// `perfetto.protos.Trace` (trace.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Trace {
        /// The packets, in file order.
        #[prost(message, repeated, tag = "1")]
        pub packet: Vec<TracePacket>,
    }

    /// `perfetto.protos.TracePacket` (trace_packet.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TracePacket {
        /// Nanoseconds (default clock).
        #[prost(uint64, optional, tag = "8")]
        pub timestamp: Option<u64>,
        /// The sequence (interning is per sequence).
        #[prost(uint32, optional, tag = "10")]
        pub trusted_packet_sequence_id: Option<u32>,
        /// An event on a track.
        #[prost(message, optional, tag = "11")]
        pub track_event: Option<TrackEvent>,
        /// Interned strings, from this packet on.
        #[prost(message, optional, tag = "12")]
        pub interned_data: Option<InternedData>,
        /// `SEQ_INCREMENTAL_STATE_CLEARED`, `SEQ_NEEDS_INCREMENTAL_STATE`.
        #[prost(uint32, optional, tag = "13")]
        pub sequence_flags: Option<u32>,
        /// A track's declaration.
        #[prost(message, optional, tag = "60")]
        pub track_descriptor: Option<TrackDescriptor>,
        /// Set on the sequence's first packet.
        #[prost(bool, optional, tag = "87")]
        pub first_packet_on_sequence: Option<bool>,
    }

    /// `perfetto.protos.TrackEvent` (track_event/track_event.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrackEvent {
        /// Arguments.
        #[prost(message, repeated, tag = "4")]
        pub debug_annotations: Vec<DebugAnnotation>,
        /// [`TYPE_SLICE_BEGIN`], [`TYPE_SLICE_END`], [`TYPE_INSTANT`],
        /// [`TYPE_COUNTER`].
        #[prost(int32, optional, tag = "9")]
        pub r#type: Option<i32>,
        /// The name, interned (`InternedData.event_names`).
        #[prost(uint64, optional, tag = "10")]
        pub name_iid: Option<u64>,
        /// The track.
        #[prost(uint64, optional, tag = "11")]
        pub track_uuid: Option<u64>,
        /// Categories, not interned (only rare events have one).
        #[prost(string, repeated, tag = "22")]
        pub categories: Vec<String>,
        /// A counter's value.
        #[prost(int64, optional, tag = "30")]
        pub counter_value: Option<i64>,
    }

    /// `TrackEvent.Type.TYPE_SLICE_BEGIN`.
    pub const TYPE_SLICE_BEGIN: i32 = 1;
    /// `TrackEvent.Type.TYPE_SLICE_END`.
    pub const TYPE_SLICE_END: i32 = 2;
    /// `TrackEvent.Type.TYPE_INSTANT`.
    pub const TYPE_INSTANT: i32 = 3;
    /// `TrackEvent.Type.TYPE_COUNTER`.
    pub const TYPE_COUNTER: i32 = 4;

    /// `perfetto.protos.DebugAnnotation`
    /// (track_event/debug_annotation.proto): one value set.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DebugAnnotation {
        /// The name, interned (`InternedData.debug_annotation_names`).
        #[prost(uint64, optional, tag = "1")]
        pub name_iid: Option<u64>,
        /// A `bool`.
        #[prost(bool, optional, tag = "2")]
        pub bool_value: Option<bool>,
        /// An unsigned integer.
        #[prost(uint64, optional, tag = "3")]
        pub uint_value: Option<u64>,
        /// A signed integer.
        #[prost(int64, optional, tag = "4")]
        pub int_value: Option<i64>,
        /// A string.
        #[prost(string, optional, tag = "6")]
        pub string_value: Option<String>,
        /// A pointer (shown in hex).
        #[prost(uint64, optional, tag = "7")]
        pub pointer_value: Option<u64>,
        /// A string, interned
        /// (`InternedData.debug_annotation_string_values`).
        #[prost(uint64, optional, tag = "17")]
        pub string_value_iid: Option<u64>,
    }

    /// `perfetto.protos.InternedData` (interned_data/interned_data.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InternedData {
        /// Event names.
        #[prost(message, repeated, tag = "2")]
        pub event_names: Vec<InternedString>,
        /// Debug annotation names.
        #[prost(message, repeated, tag = "3")]
        pub debug_annotation_names: Vec<InternedString>,
        /// Debug annotations' string values.
        #[prost(message, repeated, tag = "29")]
        pub debug_annotation_string_values: Vec<InternedBytes>,
    }

    /// `perfetto.protos.InternedString` (iid 1, str 2, bytes).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InternedBytes {
        /// Its id on the sequence (from 1).
        #[prost(uint64, optional, tag = "1")]
        pub iid: Option<u64>,
        /// The string (UTF-8 here).
        #[prost(bytes = "vec", optional, tag = "2")]
        pub str: Option<Vec<u8>>,
    }

    /// `perfetto.protos.EventName` and `DebugAnnotationName` (the same
    /// fields: iid 1, name 2).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InternedString {
        /// Its id on the sequence (from 1).
        #[prost(uint64, optional, tag = "1")]
        pub iid: Option<u64>,
        /// The string.
        #[prost(string, optional, tag = "2")]
        pub name: Option<String>,
    }

    /// `perfetto.protos.TrackDescriptor`
    /// (track_event/track_descriptor.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrackDescriptor {
        /// The track's id.
        #[prost(uint64, optional, tag = "1")]
        pub uuid: Option<u64>,
        /// Its name.
        #[prost(string, optional, tag = "2")]
        pub name: Option<String>,
        /// The process, for a process track.
        #[prost(message, optional, tag = "3")]
        pub process: Option<ProcessDescriptor>,
        /// The parent track (a span's or counter's process track).
        #[prost(uint64, optional, tag = "5")]
        pub parent_uuid: Option<u64>,
        /// Makes it a counter track.
        #[prost(message, optional, tag = "8")]
        pub counter: Option<CounterDescriptor>,
    }

    /// `perfetto.protos.ProcessDescriptor`
    /// (track_event/process_descriptor.proto).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ProcessDescriptor {
        /// The pid.
        #[prost(int32, optional, tag = "1")]
        pub pid: Option<i32>,
        /// Its name.
        #[prost(string, optional, tag = "6")]
        pub process_name: Option<String>,
    }

    /// `perfetto.protos.CounterDescriptor`
    /// (track_event/counter_descriptor.proto): no field set, a plain
    /// counter of integer values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CounterDescriptor {
        /// `CounterDescriptor.Unit`; unset.
        #[prost(int32, optional, tag = "3")]
        pub unit: Option<i32>,
    }
}

use proto::{
    CounterDescriptor, DebugAnnotation, InternedBytes, InternedData, InternedString,
    ProcessDescriptor, TracePacket, TrackDescriptor, TrackEvent,
};

/// One `--counter EVENT:ARG`: an integer argument plotted over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSpec {
    /// The event.
    pub event: String,
    /// Its integer argument.
    pub arg: String,
}

/// A `--counter` that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSpecError(String);

impl fmt::Display for CounterSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a counter: give EVENT:ARG, e.g. qemu_vfree:ptr",
            crate::format::excerpt::Excerpt::new(&self.0)
        )
    }
}

impl std::error::Error for CounterSpecError {}

impl FromStr for CounterSpec {
    type Err = CounterSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match crate::syntax::event_arg(s) {
            Some((event, Some(arg))) => Ok(CounterSpec {
                event: event.to_owned(),
                arg: arg.to_owned(),
            }),
            _ => Err(CounterSpecError(s.to_owned())),
        }
    }
}

/// A record's event as the writer sees it, by declaration position.
#[derive(Debug, Clone, Default)]
struct EventInfo {
    /// Its interned name (0: not interned yet).
    name_iid: u64,
    /// Its arguments' interned names (empty: not interned yet).
    arg_iids: Vec<u64>,
    /// The counters it feeds: (counter, argument position).
    counters: Vec<(usize, usize)>,
}

/// An open span's begin: its arguments.
type OpenBegin = Vec<DebugAnnotation>;

/// The Perfetto protobuf writer.
#[derive(Debug)]
pub struct PerfettoTrace {
    process_name: String,
    specs: Vec<SpanSpec>,
    counter_specs: Vec<CounterSpec>,
    roles: Vec<Role>,
    events: Vec<EventInfo>,
    /// Interned event names by string (spans, dropped records) and
    /// argument names: iids from 1, on the one sequence.
    names: HashMap<String, u64>,
    arg_names: HashMap<String, u64>,
    /// Interned string values (QEMU's file names, formats, drivers come
    /// back in every record), up to [`MAX_INTERNED_STRINGS`] of at most
    /// [`MAX_INTERNED_LEN`] bytes: the rest are written in place.
    strings: HashMap<Vec<u8>, u64, BuildHasherDefault<Fnv>>,
    processes: HashMap<u32, u64>,
    /// The last record's pid and its track: most records have the pid of
    /// the one before.
    last_process: Option<(u32, u64)>,
    counters: HashMap<(usize, u32), u64>,
    /// With `--alloc-counter`: the `alloc` analyzer the records go
    /// through, and each pid's track of its live bytes.
    alloc: Option<Box<AllocAnalyzer>>,
    alloc_tracks: HashMap<u32, u64>,
    /// Span tracks by (span, pid): (uuid, the latest end on it).
    lanes: HashMap<(usize, u32), Vec<(u64, u64)>>,
    open: Pairs<(usize, u32, Key), OpenBegin>,
    next_uuid: u64,
    seq: Sequence,
    /// Every track declared, to declare again after a retraction.
    declared: Vec<TrackDescriptor>,
    /// A record was taken back with its packets: the next record first
    /// declares every track and interned string again.
    redeclare: bool,
    /// The packet of every record, its buffers reused.
    packet: TracePacket,
    records: u64,
    spans: u64,
    unmatched_ends: u64,
}

/// The most string values interned (the memory they take is bounded).
pub const MAX_INTERNED_STRINGS: usize = 1 << 16;
/// The longest string value interned, in bytes.
pub const MAX_INTERNED_LEN: usize = 128;

/// First uuid of the tracks that are not process tracks (those are the
/// pid plus one: never 0).
const FIRST_CHILD_UUID: u64 = 1 << 33;

impl PerfettoTrace {
    /// A writer naming each pid's track `process_name` (the trace's file
    /// name), making spans of `specs` and counters of `counters`.
    pub fn new(
        process_name: impl Into<String>,
        specs: Vec<SpanSpec>,
        counters: Vec<CounterSpec>,
    ) -> Self {
        PerfettoTrace {
            process_name: process_name.into(),
            specs,
            counter_specs: counters,
            roles: Vec::new(),
            events: Vec::new(),
            names: HashMap::new(),
            arg_names: HashMap::new(),
            strings: HashMap::default(),
            processes: HashMap::new(),
            last_process: None,
            counters: HashMap::new(),
            alloc: None,
            alloc_tracks: HashMap::new(),
            lanes: HashMap::new(),
            open: Pairs::new(Pairing::Fifo),
            next_uuid: FIRST_CHILD_UUID,
            seq: Sequence::default(),
            declared: Vec::new(),
            redeclare: false,
            packet: TracePacket::default(),
            records: 0,
            spans: 0,
            unmatched_ends: 0,
        }
    }

    /// Adds a counter track per pid of the bytes `alloc`'s rules hold
    /// live (QEMU's allocator events, or the rules `alloc` is given), as
    /// `simpletrace alloc` counts them, updated at each of the rules'
    /// records.
    pub fn with_alloc_counter(mut self, alloc: AllocAnalyzer) -> Self {
        self.alloc = Some(Box::new(alloc));
        self
    }

    /// Appends `packet` as one `Trace.packet` entry (see [`emit_on`]).
    fn emit(&mut self, mut packet: TracePacket, out: &mut Vec<u8>) -> TracePacket {
        emit_on(&mut self.seq, &mut packet, out);
        packet
    }

    fn emit_descriptor(&mut self, track: TrackDescriptor, out: &mut Vec<u8>) {
        self.declared.push(track.clone());
        let packet = TracePacket {
            track_descriptor: Some(track),
            ..TracePacket::default()
        };
        // Interned names wait for the next event's packet.
        let pending = std::mem::take(&mut self.seq.interned);
        self.emit(packet, out);
        self.seq.interned = pending;
    }

    /// The process track of `pid`, declared if new.
    fn process(&mut self, pid: u32, out: &mut Vec<u8>) -> u64 {
        if let Some((last, uuid)) = self.last_process
            && last == pid
        {
            return uuid;
        }
        if let Some(&uuid) = self.processes.get(&pid) {
            self.last_process = Some((pid, uuid));
            return uuid;
        }
        let uuid = u64::from(pid) + 1;
        self.processes.insert(pid, uuid);
        self.emit_descriptor(
            TrackDescriptor {
                uuid: Some(uuid),
                process: Some(ProcessDescriptor {
                    pid: Some(pid as i32),
                    process_name: Some(self.process_name.clone()),
                }),
                ..TrackDescriptor::default()
            },
            out,
        );
        uuid
    }

    fn new_child(&mut self, parent: u64, name: &str, counter: bool, out: &mut Vec<u8>) -> u64 {
        let uuid = self.next_uuid;
        self.next_uuid += 1;
        self.emit_descriptor(
            TrackDescriptor {
                uuid: Some(uuid),
                name: Some(name.to_owned()),
                parent_uuid: Some(parent),
                counter: counter.then(CounterDescriptor::default),
                ..TrackDescriptor::default()
            },
            out,
        );
        uuid
    }

    /// After a retraction: the incremental state cleared again, every
    /// track declared again (the same uuids), every name and string
    /// interned again (the same iids) in the next event's packet.
    fn declare_again(&mut self, out: &mut Vec<u8>) {
        self.redeclare = false;
        self.seq.cleared = false;
        let tracks = std::mem::take(&mut self.declared);
        for track in &tracks {
            let packet = TracePacket {
                track_descriptor: Some(track.clone()),
                ..TracePacket::default()
            };
            let pending = std::mem::take(&mut self.seq.interned);
            self.emit(packet, out);
            self.seq.interned = pending;
        }
        self.declared = tracks;
        let interned = &mut self.seq.interned;
        interned.event_names = sorted(&self.names)
            .map(|(name, iid)| InternedString {
                iid: Some(iid),
                name: Some(name.to_owned()),
            })
            .collect();
        interned.debug_annotation_names = sorted(&self.arg_names)
            .map(|(name, iid)| InternedString {
                iid: Some(iid),
                name: Some(name.to_owned()),
            })
            .collect();
        let mut strings: Vec<(&Vec<u8>, u64)> = self.strings.iter().map(|(k, &v)| (k, v)).collect();
        strings.sort_unstable_by_key(|&(_, iid)| iid);
        interned.debug_annotation_string_values = strings
            .into_iter()
            .map(|(s, iid)| InternedBytes {
                iid: Some(iid),
                str: Some(String::from_utf8_lossy(s).into_owned().into_bytes()),
            })
            .collect();
    }

    /// The iid of an event name given as a string, interned if new.
    fn name_iid(&mut self, name: &str) -> u64 {
        if let Some(&iid) = self.names.get(name) {
            return iid;
        }
        let iid = self.names.len() as u64 + 1;
        self.names.insert(name.to_owned(), iid);
        self.seq.interned.event_names.push(InternedString {
            iid: Some(iid),
            name: Some(name.to_owned()),
        });
        iid
    }

    fn arg_iid(&mut self, name: &str) -> u64 {
        if let Some(&iid) = self.arg_names.get(name) {
            return iid;
        }
        let iid = self.arg_names.len() as u64 + 1;
        self.arg_names.insert(name.to_owned(), iid);
        self.seq
            .interned
            .debug_annotation_names
            .push(InternedString {
                iid: Some(iid),
                name: Some(name.to_owned()),
            });
        iid
    }

    /// The iid of a string value, interned if new; `None` for one written
    /// in place (too long, or the table is full).
    fn string_iid(&mut self, s: &[u8]) -> Option<u64> {
        if let Some(&iid) = self.strings.get(s) {
            return Some(iid);
        }
        if s.len() > MAX_INTERNED_LEN || self.strings.len() >= MAX_INTERNED_STRINGS {
            return None;
        }
        let iid = self.strings.len() as u64 + 1;
        self.strings.insert(s.to_vec(), iid);
        let text = String::from_utf8_lossy(s).into_owned();
        self.seq
            .interned
            .debug_annotation_string_values
            .push(InternedBytes {
                iid: Some(iid),
                str: Some(text.into_bytes()),
            });
        Some(iid)
    }

    /// The record's event name iid and its arguments as annotations (into
    /// `anns`, cleared first).
    fn describe(&mut self, ev: &Event<'_>, anns: &mut Vec<DebugAnnotation>) -> u64 {
        let decl = ev.decl();
        let slot = if ev.is_dropped() {
            None
        } else {
            Some(decl.position)
        };
        let (name_iid, known) = match slot.and_then(|p| self.events.get(p)) {
            Some(info) if info.name_iid != 0 => (info.name_iid, !info.arg_iids.is_empty()),
            _ => (0, false),
        };
        let name_iid = if name_iid != 0 {
            name_iid
        } else {
            let iid = self.name_iid(ev.name());
            if let Some(info) = slot.and_then(|p| self.events.get_mut(p)) {
                info.name_iid = iid;
            }
            iid
        };
        let mut local: [u64; crate::format::events::MAX_EVENT_ARGS] =
            [0; crate::format::events::MAX_EVENT_ARGS];
        let n = if known {
            let iids = slot
                .and_then(|p| self.events.get(p))
                .map_or(&[][..], |i| &i.arg_iids);
            let n = iids.len().min(local.len());
            local[..n].copy_from_slice(&iids[..n]);
            n
        } else {
            for (i, arg) in decl.args.iter().enumerate().take(local.len()) {
                local[i] = self.arg_iid(&arg.name);
            }
            let n = decl.args.len().min(local.len());
            if let Some(info) = slot.and_then(|p| self.events.get_mut(p))
                && n > 0
            {
                info.arg_iids = local[..n].to_vec();
            }
            n
        };
        let arg_iids = &local[..n];
        anns.clear();
        let strings = ev.has_strings();
        for (i, ((value, arg), &iid)) in ev.args().zip(&decl.args).zip(arg_iids).enumerate() {
            let mut ann = DebugAnnotation {
                name_iid: Some(iid),
                ..DebugAnnotation::default()
            };
            match (value, arg.kind) {
                (ArgValue::Str(s), _) => match self.string_iid(s) {
                    Some(iid) => ann.string_value_iid = Some(iid),
                    None => ann.string_value = Some(String::from_utf8_lossy(s).into_owned()),
                },
                (ArgValue::Int(v), ArgKind::Pointer) => ann.pointer_value = Some(v),
                (ArgValue::Int(v), ArgKind::String) if !strings => ann.pointer_value = Some(v),
                (ArgValue::Int(v), ArgKind::Bool) => ann.bool_value = Some(v != 0),
                (ArgValue::Int(_), ArgKind::Int { signed: true, .. }) => {
                    ann.int_value = Some(ev.i64_at(i).unwrap_or(0))
                }
                (ArgValue::Int(v), _) => ann.uint_value = Some(v),
            }
            anns.push(ann);
        }
        name_iid
    }

    /// Writes one track event, its annotations taken from `anns`.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        out: &mut Vec<u8>,
        ts: u64,
        kind: i32,
        track: u64,
        name_iid: Option<u64>,
        anns: Vec<DebugAnnotation>,
        category: Option<&str>,
    ) -> Vec<DebugAnnotation> {
        // The packet is built in place: it is large, and moving it for
        // every record cost more than encoding it.
        let packet = &mut self.packet;
        packet.timestamp = Some(ts);
        let te = packet.track_event.get_or_insert_with(TrackEvent::default);
        te.r#type = Some(kind);
        te.track_uuid = Some(track);
        te.name_iid = name_iid;
        te.debug_annotations = anns;
        te.counter_value = None;
        te.categories.clear();
        if let Some(c) = category {
            te.categories.push(c.to_owned());
        }
        emit_on(&mut self.seq, packet, out);
        packet
            .track_event
            .as_mut()
            .map(|te| std::mem::take(&mut te.debug_annotations))
            .unwrap_or_default()
    }

    fn counter(&mut self, out: &mut Vec<u8>, ts: u64, track: u64, value: i64) {
        let packet = TracePacket {
            timestamp: Some(ts),
            track_event: Some(TrackEvent {
                r#type: Some(proto::TYPE_COUNTER),
                track_uuid: Some(track),
                counter_value: Some(value),
                ..TrackEvent::default()
            }),
            ..TracePacket::default()
        };
        self.emit(packet, out);
    }

    /// The span track of (span, pid) free for a span from `begin` to
    /// `end`: the first whose spans all ended before `begin` (so that
    /// slices on one track never overlap), a new one when none is.
    fn lane(&mut self, span: usize, pid: u32, begin: u64, end: u64, out: &mut Vec<u8>) -> u64 {
        let lanes = self.lanes.entry((span, pid)).or_default();
        if let Some(lane) = lanes.iter_mut().find(|(_, last)| *last < begin) {
            lane.1 = end;
            return lane.0;
        }
        let parent = self.process(pid, out);
        let name = self.specs[span].begin.clone();
        let uuid = self.new_child(parent, &name, false, out);
        self.lanes.entry((span, pid)).or_default().push((uuid, end));
        uuid
    }

    fn on_record(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        if self.redeclare {
            self.declare_again(out);
        }
        self.records += 1;
        let pid = ev.pid();
        let ts = ev.timestamp_ns();
        let track = self.process(pid, out);
        let mut anns = std::mem::take(
            &mut self
                .packet
                .track_event
                .get_or_insert_with(TrackEvent::default)
                .debug_annotations,
        );
        let name_iid = self.describe(ev, &mut anns);
        let anns = match role_of(&self.roles, ev) {
            Role::Plain => {
                let category = ev.is_dropped().then_some(LOST_EVENTS);
                let kind = proto::TYPE_INSTANT;
                self.event(out, ts, kind, track, Some(name_iid), anns, category)
            }
            Role::Begin(i) => {
                let key = span_key(ev, &self.specs[i].begin_key);
                self.open.begin((i, pid, key), ts, anns.clone());
                anns
            }
            Role::End(i) => {
                let key = span_key(ev, &self.specs[i].end_key);
                match self.open.end(&(i, pid, key)) {
                    Some(open) => {
                        // Timestamps step back across threads; a span
                        // cannot end before it begins.
                        let end = ts.max(open.ts);
                        let lane = self.lane(i, pid, open.ts, end, out);
                        let name = self.specs[i].begin.clone();
                        let span_iid = self.name_iid(&name);
                        let begin = proto::TYPE_SLICE_BEGIN;
                        self.event(out, open.ts, begin, lane, Some(span_iid), open.value, None);
                        self.spans += 1;
                        let kind = proto::TYPE_SLICE_END;
                        self.event(out, end, kind, lane, None, anns, None)
                    }
                    None => {
                        self.unmatched_ends += 1;
                        let kind = proto::TYPE_INSTANT;
                        let category = Some("unmatched-span-end");
                        self.event(out, ts, kind, track, Some(name_iid), anns, category)
                    }
                }
            }
        };
        if let Some(te) = self.packet.track_event.as_mut() {
            te.debug_annotations = anns;
        }
        let counters = ev
            .is_dropped()
            .then(Vec::new)
            .or_else(|| {
                self.events
                    .get(ev.decl().position)
                    .map(|info| info.counters.clone())
            })
            .unwrap_or_default();
        for (c, position) in counters {
            let Some(ArgValue::Int(raw)) = ev.arg(position) else {
                continue;
            };
            let value = if matches!(
                ev.decl().args.get(position).map(|a| a.kind),
                Some(ArgKind::Int { signed: true, .. })
            ) {
                ev.i64_at(position).unwrap_or(raw as i64)
            } else {
                raw as i64
            };
            let track = match self.counters.get(&(c, pid)) {
                Some(&t) => t,
                None => {
                    let spec = &self.counter_specs[c];
                    let name = format!("{}.{}", spec.event, spec.arg);
                    let t = self.new_child(track, &name, true, out);
                    self.counters.insert((c, pid), t);
                    t
                }
            };
            self.counter(out, ts, track, value);
        }
        let live = match self.alloc.as_mut() {
            Some(alloc) if !ev.is_dropped() => alloc.observe(ev)?,
            _ => None,
        };
        if let Some(bytes) = live {
            let counter = match self.alloc_tracks.get(&pid) {
                Some(&t) => t,
                None => {
                    let t = self.new_child(track, "alloc live bytes", true, out);
                    self.alloc_tracks.insert(pid, t);
                    t
                }
            };
            self.counter(out, ts, counter, i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        Ok(())
    }
}

/// The entries of an intern table in the order of their ids.
fn sorted<S>(table: &HashMap<String, u64, S>) -> impl Iterator<Item = (&str, u64)> {
    let mut entries: Vec<(&str, u64)> = table.iter().map(|(k, &v)| (k.as_str(), v)).collect();
    entries.sort_unstable_by_key(|&(_, iid)| iid);
    entries.into_iter()
}

/// FNV-1a, for the table of interned strings: short keys, hashed for
/// every string argument (SipHash cost a tenth of the run). The table is
/// bounded ([`MAX_INTERNED_STRINGS`]), so keys crafted to collide can
/// slow it down but not without limit.
#[derive(Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The state of the one packet sequence.
#[derive(Debug, Default)]
struct Sequence {
    /// Whether the first packet (which clears the state) was written.
    cleared: bool,
    /// Names and strings interned since the last packet, which the next
    /// one carries.
    interned: InternedData,
}

/// Appends `packet` as one `Trace.packet` entry on the sequence: its id,
/// its flags (the first packet clears the incremental state; track events
/// need it), and what was interned since the last packet.
fn emit_on(seq: &mut Sequence, packet: &mut TracePacket, out: &mut Vec<u8>) {
    packet.trusted_packet_sequence_id = Some(SEQUENCE_ID);
    let needs = if packet.track_event.is_some() {
        SEQ_NEEDS_INCREMENTAL_STATE
    } else {
        0
    };
    if seq.cleared {
        packet.sequence_flags = (needs != 0).then_some(needs);
        packet.first_packet_on_sequence = None;
    } else {
        seq.cleared = true;
        packet.sequence_flags = Some(SEQ_INCREMENTAL_STATE_CLEARED | needs);
        packet.first_packet_on_sequence = Some(true);
    }
    let interned = &seq.interned;
    if !interned.event_names.is_empty()
        || !interned.debug_annotation_names.is_empty()
        || !interned.debug_annotation_string_values.is_empty()
    {
        packet.interned_data = Some(std::mem::take(&mut seq.interned));
    }
    write_packet(packet, out);
    if let Some(mut interned) = packet.interned_data.take() {
        interned.event_names.clear();
        interned.debug_annotation_names.clear();
        interned.debug_annotation_string_values.clear();
        seq.interned = interned;
    }
}

/// Appends `packet` as a `Trace.packet` entry (field 1, length-delimited).
/// Track events, one or more per record, go through [`fast`], which
/// writes the bytes prost would (a test checks it) at several times its
/// speed; track descriptors, a few per trace, through prost.
fn write_packet(packet: &TracePacket, out: &mut Vec<u8>) {
    use prost::Message;
    if packet.track_descriptor.is_none() {
        fast::packet(packet, out);
        return;
    }
    out.push(0x0a);
    // Encoding into a Vec cannot run out of room.
    let _ = packet.encode_length_delimited(out);
}

/// A hand-written encoder of [`TracePacket`]s without a track descriptor:
/// the same bytes as prost's (fields in the order of their numbers), in
/// one pass over lengths computed without prost's per-field dispatch.
mod fast {
    use super::proto::{DebugAnnotation, TracePacket, TrackEvent};
    use prost::Message;

    #[inline(always)]
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[inline(always)]
    fn varint_len(v: u64) -> usize {
        ((64 - (v | 1).leading_zeros()) as usize).div_ceil(7)
    }

    /// A varint field's size: key (one byte for fields 1-15, two up to
    /// 2047) and value.
    #[inline(always)]
    fn field_len(tag: u32, v: u64) -> usize {
        let key = if tag < 16 { 1 } else { 2 };
        key + varint_len(v)
    }

    #[inline(always)]
    fn key(out: &mut Vec<u8>, tag: u32, wire: u32) {
        varint(out, u64::from(tag << 3 | wire));
    }

    fn annotation_len(a: &DebugAnnotation) -> usize {
        let mut n = 0;
        if let Some(v) = a.name_iid {
            n += field_len(1, v);
        }
        if let Some(v) = a.bool_value {
            n += field_len(2, u64::from(v));
        }
        if let Some(v) = a.uint_value {
            n += field_len(3, v);
        }
        if let Some(v) = a.int_value {
            n += field_len(4, v as u64);
        }
        if let Some(s) = &a.string_value {
            n += field_len(6, s.len() as u64) + s.len();
        }
        if let Some(v) = a.pointer_value {
            n += field_len(7, v);
        }
        if let Some(v) = a.string_value_iid {
            n += field_len(17, v);
        }
        n
    }

    fn annotation(out: &mut Vec<u8>, a: &DebugAnnotation, len: usize) {
        key(out, 4, 2);
        varint(out, len as u64);
        if let Some(v) = a.name_iid {
            key(out, 1, 0);
            varint(out, v);
        }
        if let Some(v) = a.bool_value {
            key(out, 2, 0);
            varint(out, u64::from(v));
        }
        if let Some(v) = a.uint_value {
            key(out, 3, 0);
            varint(out, v);
        }
        if let Some(v) = a.int_value {
            key(out, 4, 0);
            varint(out, v as u64);
        }
        if let Some(s) = &a.string_value {
            key(out, 6, 2);
            varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        if let Some(v) = a.pointer_value {
            key(out, 7, 0);
            varint(out, v);
        }
        if let Some(v) = a.string_value_iid {
            key(out, 17, 0);
            varint(out, v);
        }
    }

    fn event_len(e: &TrackEvent) -> usize {
        let mut n = 0;
        for a in &e.debug_annotations {
            let len = annotation_len(a);
            n += 1 + varint_len(len as u64) + len;
        }
        if let Some(v) = e.r#type {
            n += field_len(9, v as i64 as u64);
        }
        if let Some(v) = e.name_iid {
            n += field_len(10, v);
        }
        if let Some(v) = e.track_uuid {
            n += field_len(11, v);
        }
        for c in &e.categories {
            n += field_len(22, c.len() as u64) + c.len();
        }
        if let Some(v) = e.counter_value {
            n += field_len(30, v as u64);
        }
        n
    }

    fn event(out: &mut Vec<u8>, e: &TrackEvent, len: usize) {
        key(out, 11, 2);
        varint(out, len as u64);
        for a in &e.debug_annotations {
            annotation(out, a, annotation_len(a));
        }
        if let Some(v) = e.r#type {
            key(out, 9, 0);
            varint(out, v as i64 as u64);
        }
        if let Some(v) = e.name_iid {
            key(out, 10, 0);
            varint(out, v);
        }
        if let Some(v) = e.track_uuid {
            key(out, 11, 0);
            varint(out, v);
        }
        for c in &e.categories {
            key(out, 22, 2);
            varint(out, c.len() as u64);
            out.extend_from_slice(c.as_bytes());
        }
        if let Some(v) = e.counter_value {
            key(out, 30, 0);
            varint(out, v as u64);
        }
    }

    /// Appends `p` (which has no track descriptor) as a `Trace.packet`.
    pub(super) fn packet(p: &TracePacket, out: &mut Vec<u8>) {
        let event_len = p.track_event.as_ref().map(event_len);
        let interned_len = p.interned_data.as_ref().map(Message::encoded_len);
        let mut n = 0;
        if let Some(v) = p.timestamp {
            n += field_len(8, v);
        }
        if let Some(v) = p.trusted_packet_sequence_id {
            n += field_len(10, u64::from(v));
        }
        if let Some(len) = event_len {
            n += 1 + varint_len(len as u64) + len;
        }
        if let Some(len) = interned_len {
            n += 1 + varint_len(len as u64) + len;
        }
        if let Some(v) = p.sequence_flags {
            n += field_len(13, u64::from(v));
        }
        if let Some(v) = p.first_packet_on_sequence {
            n += field_len(87, u64::from(v));
        }
        out.reserve(n + 11);
        key(out, 1, 2);
        varint(out, n as u64);
        if let Some(v) = p.timestamp {
            key(out, 8, 0);
            varint(out, v);
        }
        if let Some(v) = p.trusted_packet_sequence_id {
            key(out, 10, 0);
            varint(out, u64::from(v));
        }
        if let (Some(e), Some(len)) = (&p.track_event, event_len) {
            event(out, e, len);
        }
        if let (Some(i), Some(len)) = (&p.interned_data, interned_len) {
            key(out, 12, 2);
            varint(out, len as u64);
            i.encode_raw(out);
        }
        if let Some(v) = p.sequence_flags {
            key(out, 13, 0);
            varint(out, u64::from(v));
        }
        if let Some(v) = p.first_packet_on_sequence {
            key(out, 87, 0);
            varint(out, u64::from(v));
        }
    }
}

impl Sink for PerfettoTrace {
    const NAME: &'static str = "perfetto";
    const STREAM: Stream = Stream::Data;

    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.roles = span_roles("perfetto", &self.specs, info)?;
        if let Some(alloc) = self.alloc.as_mut() {
            // A built-in rule whose event this QEMU declares otherwise is
            // left out, as `alloc` leaves it out (with its warning there).
            alloc.resolve(info.events)?;
        }
        self.events = vec![EventInfo::default(); info.events.len()];
        for (c, spec) in self.counter_specs.iter().enumerate() {
            let decl = info.events.by_name(spec.event.as_bytes()).ok_or_else(|| {
                let hint = info
                    .events
                    .suggest(&spec.event)
                    .map_or(String::new(), |s| format!(" (did you mean '{s}'?)"));
                AnalyzerError::new(
                    "perfetto",
                    format!(
                        "--counter: no event called '{}' is declared{hint}",
                        spec.event
                    ),
                )
            })?;
            let position = decl.arg_position(&spec.arg).ok_or_else(|| {
                AnalyzerError::new(
                    "perfetto",
                    format!(
                        "--counter: event '{}' has no argument '{}'",
                        spec.event, spec.arg
                    ),
                )
            })?;
            if matches!(
                decl.args.get(position).map(|a| a.kind),
                Some(ArgKind::String)
            ) {
                return Err(AnalyzerError::new(
                    "perfetto",
                    format!(
                        "--counter: argument '{}' of '{}' is a string, not a number",
                        spec.arg, spec.event
                    ),
                ));
            }
            if let Some(info) = self.events.get_mut(decl.position) {
                info.counters.push((c, position));
            }
        }
        Ok(())
    }

    fn write(&mut self, ev: &Event<'_>, out: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        self.on_record(ev, out)
    }

    fn retract(&mut self, _ev: &Event<'_>) {
        // The driver dropped the record's packets, which may have declared
        // tracks or carried interned strings (its own, or ones an earlier
        // record interned): declare everything again, on a cleared state.
        self.redeclare = true;
    }

    fn tail(&mut self, out: &mut Vec<u8>) {
        if self.redeclare {
            self.declare_again(out);
        }
        let pending = std::mem::replace(&mut self.open, Pairs::new(Pairing::Fifo));
        for (&(i, pid, _), begin) in pending.open_oldest_first() {
            let track = self.process(pid, out);
            let name = self.specs[i].begin.clone();
            let iid = self.name_iid(&name);
            let kind = proto::TYPE_INSTANT;
            let category = Some("unmatched-span-begin");
            let anns = begin.value.clone();
            self.event(out, begin.ts, kind, track, Some(iid), anns, category);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The hand-written encoder writes prost's bytes, field for field.
    #[test]
    fn fast_encoder_writes_what_prost_writes() {
        let ann = |f: &dyn Fn(&mut DebugAnnotation)| {
            let mut a = DebugAnnotation {
                name_iid: Some(3),
                ..DebugAnnotation::default()
            };
            f(&mut a);
            a
        };
        let anns = vec![
            ann(&|a| a.pointer_value = Some(0x5643_596b_66b0)),
            ann(&|a| a.int_value = Some(-1)),
            ann(&|a| a.int_value = Some(i64::MIN)),
            ann(&|a| a.uint_value = Some(u64::MAX)),
            ann(&|a| a.bool_value = Some(false)),
            ann(&|a| a.string_value = Some("img/disk.qcow2 \u{20ac}".into())),
            ann(&|a| a.string_value = Some("x".repeat(300))),
            ann(&|a| a.string_value_iid = Some(200_000)),
        ];
        let interned = InternedData {
            event_names: vec![InternedString {
                iid: Some(1),
                name: Some("blk_open".into()),
            }],
            debug_annotation_names: Vec::new(),
            debug_annotation_string_values: vec![InternedBytes {
                iid: Some(9),
                str: Some(b"qcow2".to_vec()),
            }],
        };
        let packets = [
            TracePacket {
                timestamp: Some(1_731_000_000_000),
                trusted_packet_sequence_id: Some(SEQUENCE_ID),
                track_event: Some(TrackEvent {
                    debug_annotations: anns,
                    r#type: Some(proto::TYPE_INSTANT),
                    name_iid: Some(1),
                    track_uuid: Some(4243),
                    categories: vec![LOST_EVENTS.into()],
                    counter_value: None,
                }),
                interned_data: Some(interned),
                sequence_flags: Some(3),
                track_descriptor: None,
                first_packet_on_sequence: Some(true),
            },
            TracePacket {
                timestamp: Some(0),
                track_event: Some(TrackEvent {
                    r#type: Some(proto::TYPE_COUNTER),
                    track_uuid: Some(FIRST_CHILD_UUID),
                    counter_value: Some(-5),
                    ..TrackEvent::default()
                }),
                ..TracePacket::default()
            },
            TracePacket::default(),
        ];
        for p in packets {
            let mut fast = Vec::new();
            write_packet(&p, &mut fast);
            let want = proto::Trace { packet: vec![p] }.encode_to_vec();
            assert_eq!(fast, want);
        }
    }

    #[test]
    fn counter_specs() {
        let c: CounterSpec = "qemu_vfree:ptr".parse().unwrap();
        assert_eq!((c.event.as_str(), c.arg.as_str()), ("qemu_vfree", "ptr"));
        for bad in ["a", "a:", ":b", "a:b:c", "a b:c"] {
            assert!(bad.parse::<CounterSpec>().is_err(), "{bad}");
        }
    }
}
