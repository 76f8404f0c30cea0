//! [`TraceReader`]: walks the records of a trace held in memory.

use std::collections::HashMap;

use super::error::{At, Error, EventId, FileOffset, RecordIndex, Result};
use super::events::{EventDecl, TraceEvents};
use super::header::{ByteOrder, TraceKind, Version};
use super::record::{DebugBytes, Record};
use nom::Parser;

use super::wire::{self, Big, Little, Order};

/// Record type word of a mapping record.
pub const RECORD_TYPE_MAPPING: u64 = 0;
/// Record type word of an event record.
pub const RECORD_TYPE_EVENT: u64 = 1;

/// A mapping record: from here on, `id` means the event called `name`.
#[derive(Clone, Copy)]
pub struct Mapping<'a> {
    /// Which record this is and where it starts.
    pub at: At,
    /// The id being (re)defined.
    pub id: EventId,
    /// The event name, as bytes from the trace.
    pub name: &'a [u8],
    /// The declaration of that name, if the trace-events file has one.
    pub decl: Option<&'a EventDecl>,
}

impl core::fmt::Debug for Mapping<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mapping")
            .field("at", &self.at)
            .field("id", &self.id)
            .field("name", &String::from_utf8_lossy(self.name))
            .field("declared", &self.decl.is_some())
            .finish()
    }
}

/// One record of any type.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A mapping record.
    Mapping(Mapping<'a>),
    /// An event or dropped-events record.
    Event(Record<'a>),
}

/// What an event id currently refers to.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Unmapped,
    Decl(&'a EventDecl),
    Undeclared(&'a [u8]),
}

impl core::fmt::Debug for Slot<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Slot::Unmapped => f.write_str("Unmapped"),
            Slot::Decl(d) => write!(f, "Decl({})", d.name),
            Slot::Undeclared(n) => write!(f, "Undeclared({:?})", DebugBytes(n)),
        }
    }
}

/// Ids below this may live in a vector; QEMU numbers its events from 0, so
/// every real id does. Larger ids (the dropped id, corrupt data) go to a map.
const DENSE_IDS: u64 = 1 << 16;

/// How far past twice the number of ids set so far the vector may grow.
const DENSE_SLACK: u64 = 1024;

/// The id -> event table, as mapping records have built it so far.
#[derive(Debug, Clone)]
struct IdMap<'a> {
    dense: Vec<Slot<'a>>,
    sparse: HashMap<u64, Slot<'a>>,
    /// How many times an id was set: the vector grows in proportion.
    sets: u64,
}

impl<'a> IdMap<'a> {
    fn new(events: &'a TraceEvents) -> Self {
        let mut sparse = HashMap::new();
        sparse.insert(EventId::DROPPED.0, Slot::Decl(events.dropped()));
        IdMap {
            dense: Vec::new(),
            sparse,
            sets: 0,
        }
    }

    fn set(&mut self, id: u64, slot: Slot<'a>) {
        self.sets = self.sets.saturating_add(1);
        if let Some(dense) = usize::try_from(id).ok().and_then(|i| self.dense.get_mut(i)) {
            *dense = slot;
            return;
        }
        // The vector only grows in proportion to the ids set (each from a
        // mapping record of at least 20 bytes, or a declaration): a lone
        // mapping of id 65,535 in a 50-byte file would otherwise make a
        // 1.5 MiB table, cloned again for every chunk in flight when
        // reading in parallel. Such an id goes to the map, where `get`
        // still finds it if the vector grows past it later.
        let limit = DENSE_IDS.min(self.sets.saturating_mul(2).saturating_add(DENSE_SLACK));
        match usize::try_from(id) {
            Ok(i) if id < limit => {
                self.dense.resize(i + 1, Slot::Unmapped);
                if let Some(dense) = self.dense.get_mut(i) {
                    *dense = slot;
                }
            }
            _ => {
                self.sparse.insert(id, slot);
            }
        }
    }

    #[inline(always)]
    fn get(&self, id: u64) -> Slot<'a> {
        // Every id set since the vector covered it is in the vector; one
        // set before that (or never covered) is in the map.
        match usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            Some(Slot::Unmapped) | None => self.sparse.get(&id).copied().unwrap_or(Slot::Unmapped),
            Some(&slot) => slot,
        }
    }
}

/// Reads the records of a trace held in memory (typically a memory-mapped
/// file), without copying: records borrow from `data`.
///
/// Iterating yields event records (mapping records are applied on the way);
/// [`TraceReader::next_item`] yields every record. After the first error the
/// reader yields nothing more.
///
/// ```
/// use simpletrace::format::{TraceEvents, TraceReader};
/// # use simpletrace::format::{ArgValue, encode};
/// # let mut trace = Vec::new();
/// # encode::header(&mut trace, 4);
/// # encode::mapping(&mut trace, 0, b"hello");
/// # encode::event(&mut trace, 0, 1000, 7, &[ArgValue::Int(1)]);
/// let events = TraceEvents::parse("trace-events", b"hello(int n) \"n=%d\"\n")?;
/// for record in TraceReader::new(&trace, &events)? {
///     let record = record?;
///     println!("{} at {} ns", record.name(), record.timestamp_ns);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TraceReader<'a> {
    data: &'a [u8],
    events: &'a TraceEvents,
    kind: TraceKind,
    pos: usize,
    record: u64,
    ids: IdMap<'a>,
    done: bool,
}

impl<'a> TraceReader<'a> {
    /// Checks the header of `data` and prepares to read its records.
    pub fn new(data: &'a [u8], events: &'a TraceEvents) -> Result<Self> {
        let kind = TraceKind::detect(data)?;
        Ok(Self::with_kind(data, events, kind))
    }

    /// Reads `data` as a headerless trace: records from the first byte, and
    /// ids without a mapping record mean positions in `events` (as they
    /// always do in versions 0, 2 and 3, which have no mapping records).
    pub fn headerless(data: &'a [u8], events: &'a TraceEvents) -> Self {
        Self::with_kind(data, events, TraceKind::headerless())
    }

    /// Reads `data` as a trace of the given kind.
    pub fn with_kind(data: &'a [u8], events: &'a TraceEvents, kind: TraceKind) -> Self {
        let mut ids = IdMap::new(events);
        if kind.records_start == 0 || kind.version != Version::V4 {
            for (position, decl) in events.iter().enumerate() {
                // The name decides, as in QEMU's tool: a later declaration
                // of the same name wins.
                let decl = events.by_name(decl.name.as_bytes()).unwrap_or(decl);
                ids.set(position as u64, Slot::Decl(decl));
            }
        }
        TraceReader {
            data,
            events,
            kind,
            pos: kind.records_start.min(data.len()),
            record: 0,
            ids,
            done: false,
        }
    }

    /// The trace's kind (version, byte order).
    pub fn kind(&self) -> TraceKind {
        self.kind
    }

    /// The declarations records are resolved against.
    pub fn events(&self) -> &'a TraceEvents {
        self.events
    }

    /// The offset of the next record to read.
    pub fn position(&self) -> FileOffset {
        FileOffset(self.pos as u64)
    }

    /// The number of records read so far, mappings included.
    pub fn records_read(&self) -> u64 {
        self.record
    }

    /// The next record of any type, or `None` at the end of the trace.
    #[inline(always)]
    pub fn next_item(&mut self) -> Option<Result<Item<'a>>> {
        let mut record = Record::placeholder(self.events.dropped());
        match self.step(&mut record)? {
            Ok(Step::Event) => Some(Ok(Item::Event(record))),
            Ok(Step::Mapping(m)) => Some(Ok(Item::Mapping(m))),
            Err(e) => Some(Err(e)),
        }
    }

    /// Reads the next event record into `out` (applying mapping records on
    /// the way): `Some(Ok(()))` when `out` holds it, `None` at the end.
    /// The same records as [`Iterator::next`], but written field by field
    /// into a record the caller keeps, which in a tight loop is faster than
    /// moving a new record out each time.
    #[inline(always)]
    pub fn next_into(&mut self, out: &mut Record<'a>) -> Option<Result<()>> {
        loop {
            match self.step(out)? {
                Ok(Step::Event) => return Some(Ok(())),
                Ok(Step::Mapping(_)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// One record: an event is written into `out`.
    #[inline(always)]
    fn step(&mut self, out: &mut Record<'a>) -> Option<Result<Step<'a>>> {
        if self.done {
            return None;
        }
        let step = match self.kind.order {
            ByteOrder::Little => self.next_in::<Little>(out),
            ByteOrder::Big => self.next_in::<Big>(out),
        };
        if let Some(Err(_)) = step {
            self.done = true;
        }
        step
    }

    #[inline(always)]
    fn next_in<O: Order>(&mut self, out: &mut Record<'a>) -> Option<Result<Step<'a>>> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return None;
        }
        let at = At {
            record: RecordIndex(self.record),
            offset: FileOffset(self.pos as u64),
        };
        let (after, raw) = match raw_record::<O>(self.kind.version, rest) {
            Ok(parsed) => parsed,
            Err(fault) => return Some(Err(fault.at(at, rest.len()))),
        };
        let step = match raw {
            Raw::Event { header: h, payload } => {
                let id = EventId(h.id);
                let decl = match self.ids.get(h.id) {
                    Slot::Decl(decl) => decl,
                    Slot::Unmapped => return Some(Err(Error::UnmappedEventId { at, id })),
                    Slot::Undeclared(name) => {
                        return Some(Err(Error::UndeclaredEvent {
                            at,
                            id,
                            name: String::from_utf8_lossy(name).into(),
                        }));
                    }
                };
                // Field by field into the caller's record: no temporary.
                out.at = at;
                out.id = id;
                out.decl = decl;
                out.timestamp_ns = h.timestamp_ns;
                out.pid = h.pid;
                out.payload = payload;
                out.order = self.kind.order;
                out.words_only = self.kind.version == Version::V0;
                Step::Event
            }
            Raw::Mapping { id, name } => {
                let decl = self.events.by_name(name);
                self.ids
                    .set(id, decl.map_or(Slot::Undeclared(name), Slot::Decl));
                Step::Mapping(Mapping {
                    at,
                    id: EventId(id),
                    name,
                    decl,
                })
            }
        };
        self.pos = self.data.len() - after.len();
        self.record += 1;
        Some(Ok(step))
    }
}

/// What [`TraceReader::step`] read.
enum Step<'a> {
    /// An event record, written into the caller's record.
    Event,
    Mapping(Mapping<'a>),
}

/// One record split into its parts, before any id is resolved.
enum Raw<'a> {
    Event {
        header: wire::EventHeader,
        payload: &'a [u8],
    },
    Mapping {
        id: u64,
        name: &'a [u8],
    },
}

/// Why a record could not be split.
enum Fault {
    /// The data ends before the record does; it needs at least this many
    /// bytes.
    Truncated(u64),
    BadLength(u32),
    UnknownType(u64),
}

impl Fault {
    fn at(self, at: At, available: usize) -> Error {
        match self {
            Fault::Truncated(needed) => Error::Truncated {
                at,
                available: available as u64,
                needed,
            },
            Fault::BadLength(len) => Error::BadRecordLength { at, len },
            Fault::UnknownType(found) => Error::UnknownRecordType { at, found },
        }
    }
}

/// Length of a version-0 record: id, timestamp, six u64 arguments.
pub(crate) const V0_RECORD_LEN: usize = 64;

/// Splits the record at the start of `rest` per the layout of `version`.
#[inline(always)]
fn raw_record<O: Order>(
    version: Version,
    rest: &[u8],
) -> core::result::Result<(&[u8], Raw<'_>), Fault> {
    match version {
        Version::V4 => {
            let (body, record_type) = O::u64(rest).map_err(|_| Fault::Truncated(8))?;
            match record_type {
                RECORD_TYPE_EVENT => sized_event::<O>(body, 8),
                RECORD_TYPE_MAPPING => {
                    let (after_header, (id, name_len)) =
                        wire::mapping_header::<O>(body).map_err(|_| Fault::Truncated(20))?;
                    let (after, name) = wire::bytes(after_header, name_len as usize)
                        .map_err(|_| Fault::Truncated(20 + u64::from(name_len)))?;
                    Ok((after, Raw::Mapping { id, name }))
                }
                found => Err(Fault::UnknownType(found)),
            }
        }
        Version::V2 | Version::V3 => sized_event::<O>(rest, 0).map(|(after, mut raw)| {
            // The fourth header word was reserved before version 4.
            if let Raw::Event { header, .. } = &mut raw {
                header.pid = 0;
            }
            (after, raw)
        }),
        Version::V0 => {
            let (after, (id, timestamp_ns)) = (O::u64, O::u64)
                .parse(rest)
                .map_err(|_| Fault::Truncated(V0_RECORD_LEN as u64))?;
            let (after, payload) = wire::bytes(after, V0_RECORD_LEN - 16)
                .map_err(|_| Fault::Truncated(V0_RECORD_LEN as u64))?;
            let header = wire::EventHeader {
                id,
                timestamp_ns,
                len: V0_RECORD_LEN as u32,
                pid: 0,
            };
            Ok((after, Raw::Event { header, payload }))
        }
    }
}

/// An event record whose header gives its length; `before` bytes (the type
/// word) precede `body` in the record.
#[inline(always)]
fn sized_event<O: Order>(
    body: &[u8],
    before: u64,
) -> core::result::Result<(&[u8], Raw<'_>), Fault> {
    let (after_header, header) = wire::event_header::<O>(body)
        .map_err(|_| Fault::Truncated(before + wire::EVENT_HEADER_LEN as u64))?;
    let payload_len = (header.len as usize)
        .checked_sub(wire::EVENT_HEADER_LEN)
        .ok_or(Fault::BadLength(header.len))?;
    let (after, payload) = wire::bytes(after_header, payload_len)
        .map_err(|_| Fault::Truncated(before + u64::from(header.len)))?;
    Ok((after, Raw::Event { header, payload }))
}

/// A record predicate on (declaration, pid, timestamp), for
/// [`TraceReader::skip_to_where`].
pub type KeepFn<'f> = &'f (dyn Fn(&EventDecl, u32, u64) -> bool + Sync);

/// How [`TraceReader::skip_to`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// The next record starts at or after the requested offset (or the
    /// trace ended cleanly).
    Reached,
    /// The record at the current position cannot be passed (it is cut off
    /// or corrupt); reading it reports the fault.
    Blocked,
}

impl<'a> TraceReader<'a> {
    /// Moves past whole records, without resolving event ids or decoding
    /// arguments, until the next record starts at or after `offset`.
    /// Mapping records on the way are applied, so reading on from the new
    /// position resolves ids exactly as reading every record would. Returns
    /// how it ended and the timestamp of the last event record passed.
    pub fn skip_to(&mut self, offset: usize) -> (Skipped, Option<u64>) {
        self.skip_to_where(offset, None)
    }

    /// [`TraceReader::skip_to`], where the timestamp returned is that of
    /// the last event record passed that `keep(decl, pid, timestamp)`
    /// accepts (a filtered run's notion of "the record before").
    pub fn skip_to_where(
        &mut self,
        offset: usize,
        keep: Option<KeepFn<'_>>,
    ) -> (Skipped, Option<u64>) {
        match self.kind.order {
            ByteOrder::Little => self.skip_in::<Little>(offset, keep),
            ByteOrder::Big => self.skip_in::<Big>(offset, keep),
        }
    }

    fn skip_in<O: Order>(
        &mut self,
        offset: usize,
        keep: Option<KeepFn<'_>>,
    ) -> (Skipped, Option<u64>) {
        let mut last_timestamp = None;
        if self.done {
            return (Skipped::Blocked, None);
        }
        while self.pos < offset {
            let rest = self.data.get(self.pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            let Ok((after, raw)) = raw_record::<O>(self.kind.version, rest) else {
                return (Skipped::Blocked, last_timestamp);
            };
            match raw {
                Raw::Event { header, .. } => {
                    let kept = match keep {
                        None => true,
                        Some(keep) => match self.ids.get(header.id) {
                            Slot::Decl(decl) => keep(decl, header.pid, header.timestamp_ns),
                            _ => false,
                        },
                    };
                    if kept {
                        last_timestamp = Some(header.timestamp_ns);
                    }
                }
                Raw::Mapping { id, name } => {
                    let decl = self.events.by_name(name);
                    self.ids
                        .set(id, decl.map_or(Slot::Undeclared(name), Slot::Decl));
                }
            }
            self.pos = self.data.len() - after.len();
            self.record += 1;
        }
        (Skipped::Reached, last_timestamp)
    }

    /// This reader, stopping at `end` (an offset where a record starts)
    /// instead of the end of the data.
    pub fn until(mut self, end: usize) -> Self {
        let end = end.clamp(self.pos, self.data.len());
        self.data = self.data.get(..end).unwrap_or(self.data);
        self
    }

    /// The length of the data this reader reads.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
}

impl<'a> Iterator for TraceReader<'a> {
    type Item = Result<Record<'a>>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_item()? {
                Ok(Item::Event(record)) => return Some(Ok(record)),
                Ok(Item::Mapping(_)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl core::iter::FusedIterator for TraceReader<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ArgValue, encode};

    fn events() -> TraceEvents {
        TraceEvents::parse("te", b"a(int x)\nb(const char *s, uint8_t y)\nc(void)\n").unwrap()
    }

    fn names(data: &[u8], events: &TraceEvents) -> Vec<String> {
        TraceReader::new(data, events)
            .unwrap()
            .map(|r| r.unwrap().name().to_owned())
            .collect()
    }

    #[test]
    fn mappings_anywhere_and_remapped() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 5, b"a");
        encode::event(&mut t, 5, 1, 1, &[ArgValue::Int(1)]);
        encode::mapping(&mut t, 5, b"c");
        encode::event(&mut t, 5, 2, 1, &[]);
        encode::mapping(&mut t, 70_000, b"b");
        encode::event(
            &mut t,
            70_000,
            3,
            1,
            &[ArgValue::Str(b"x"), ArgValue::Int(2)],
        );
        encode::dropped(&mut t, 4, 1, 9);
        assert_eq!(names(&t, &ev), ["a", "c", "b", "Dropped_Event"]);

        let mut r = TraceReader::new(&t, &ev).unwrap();
        let mut kinds = Vec::new();
        while let Some(item) = r.next_item() {
            kinds.push(match item.unwrap() {
                Item::Mapping(m) => format!("map {} {}", m.id.0, String::from_utf8_lossy(m.name)),
                Item::Event(e) => format!("event {} @{}", e.name(), e.at.offset.0),
            });
        }
        assert_eq!(kinds[0], "map 5 a");
        assert_eq!(kinds[1], "event a @45");
        assert_eq!(r.records_read(), 7);
        assert_eq!(r.position().0, t.len() as u64);
    }

    #[test]
    fn a_large_id_does_not_size_the_id_table() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        // Far past the vector: to the map.
        encode::mapping(&mut t, 65_535, b"a");
        encode::mapping(&mut t, 3_000, b"c");
        encode::event(&mut t, 65_535, 1, 1, &[ArgValue::Int(1)]);
        let mut r = TraceReader::new(&t, &ev).unwrap();
        assert_eq!(r.next().unwrap().unwrap().name(), "a");
        assert!(r.ids.dense.is_empty(), "{}", r.ids.dense.len());
        assert_eq!(r.ids.sparse.len(), 3);
        // The vector grows past id 3,000 (set while it lay outside) with
        // ids in order; 3,000 is still found, and a later mapping of it
        // wins.
        let mut u = t.clone();
        for id in 0..3_500 {
            encode::mapping(&mut u, id, b"b");
        }
        encode::mapping(&mut u, 3_000, b"c");
        encode::event(&mut u, 3_000, 2, 1, &[]);
        encode::mapping(&mut u, 4_000, b"a");
        encode::event(&mut u, 4_000, 3, 1, &[ArgValue::Int(2)]);
        encode::event(&mut t, 3_000, 2, 1, &[]);
        assert_eq!(names(&t, &ev), ["a", "c"]);
        assert_eq!(names(&u, &ev), ["a", "c", "a"]);
        let mut r = TraceReader::new(&u, &ev).unwrap();
        r.by_ref().for_each(drop);
        assert_eq!(r.ids.dense.len(), 4_001);
    }

    #[test]
    fn dropped_records_are_first_class() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::dropped(&mut t, 4, 1, 0x4330b);
        let r = TraceReader::new(&t, &ev).unwrap().next().unwrap().unwrap();
        assert!(r.is_dropped());
        assert_eq!(
            r.arg_by_name("num_events_dropped").unwrap().unwrap(),
            ArgValue::Int(0x4330b)
        );
    }

    #[test]
    fn headerless_ids_are_positions() {
        let ev = events();
        let mut t = Vec::new();
        encode::event(&mut t, 1, 10, 0, &[ArgValue::Str(b"hi"), ArgValue::Int(3)]);
        encode::event(&mut t, 2, 20, 0, &[]);
        let got: Vec<_> = TraceReader::headerless(&t, &ev)
            .map(|r| r.unwrap().name())
            .collect();
        assert_eq!(got, ["b", "c"]);
    }

    #[test]
    fn big_endian_trace() {
        let ev = events();
        let mut t = Vec::new();
        for w in [u64::MAX, crate::format::header::HEADER_MAGIC, 4] {
            t.extend(w.to_be_bytes());
        }
        t.extend(0u64.to_be_bytes());
        t.extend(3u64.to_be_bytes());
        t.extend(1u32.to_be_bytes());
        t.extend(b"b");
        t.extend(1u64.to_be_bytes());
        t.extend(3u64.to_be_bytes());
        t.extend(77u64.to_be_bytes());
        t.extend((24u32 + 4 + 2 + 8).to_be_bytes());
        t.extend(9u32.to_be_bytes());
        t.extend(2u32.to_be_bytes());
        t.extend(b"hi");
        t.extend(200u64.to_be_bytes());
        let r = TraceReader::new(&t, &ev).unwrap().next().unwrap().unwrap();
        assert_eq!((r.name(), r.timestamp_ns, r.pid), ("b", 77, 9));
        let args: Vec<_> = r.args().map(|a| a.unwrap()).collect();
        assert_eq!(args, [ArgValue::Str(b"hi"), ArgValue::Int(200)]);
    }

    #[test]
    fn faults_are_exact() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        let good = t.len();
        encode::event(&mut t, 0, 1, 1, &[ArgValue::Int(1)]);
        let at = At {
            record: RecordIndex(1),
            offset: FileOffset(good as u64),
        };
        // Cut inside the event.
        match TraceReader::new(&t[..good + 30], &ev).unwrap().next() {
            Some(Err(Error::Truncated {
                at: a,
                available: 30,
                needed: 32,
            })) if a == at => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceReader::new(&t[..t.len() - 1], &ev).unwrap().next() {
            Some(Err(Error::Truncated {
                available: 39,
                needed: 40,
                ..
            })) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // An event using an id nobody mapped.
        let mut u = t[..good].to_vec();
        encode::event(&mut u, 3, 1, 1, &[]);
        match TraceReader::new(&u, &ev).unwrap().next() {
            Some(Err(Error::UnmappedEventId {
                at: a,
                id: EventId(3),
            })) if a == at => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // After a fault the reader is done.
        let mut r = TraceReader::new(&u, &ev).unwrap();
        assert!(r.next().unwrap().is_err());
        assert!(r.next().is_none());
        // Length below the header size.
        let mut l = t[..good].to_vec();
        encode::event_header(&mut l, 0, 1, 23, 1);
        match TraceReader::new(&l, &ev).unwrap().next() {
            Some(Err(Error::BadRecordLength { len: 23, .. })) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // A hostile name length is a truncation, not an allocation.
        let mut m = t[..good].to_vec();
        m.extend(0u64.to_le_bytes());
        m.extend(1u64.to_le_bytes());
        m.extend(u32::MAX.to_le_bytes());
        match TraceReader::new(&m, &ev).unwrap().next() {
            Some(Err(Error::Truncated { needed, .. })) if needed == 20 + u64::from(u32::MAX) => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn argument_faults() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 1, b"b");
        // Declared (string, u8) but the payload holds only a string.
        encode::event(&mut t, 1, 1, 1, &[ArgValue::Str(b"abc")]);
        let r = TraceReader::new(&t, &ev).unwrap().next().unwrap().unwrap();
        let args: Vec<_> = r.args().collect();
        assert_eq!(args[0], Ok(ArgValue::Str(b"abc")));
        match &args[1] {
            Err(Error::ArgumentPastRecord {
                arg: 1, len: 31, ..
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // A string longer than what is left of the record.
        let mut s = Vec::new();
        encode::header(&mut s, 4);
        encode::mapping(&mut s, 1, b"b");
        encode::event_header(&mut s, 1, 1, 24 + 4 + 8, 1);
        s.extend(9u32.to_le_bytes());
        s.extend([0; 8]);
        let r = TraceReader::new(&s, &ev).unwrap().next().unwrap().unwrap();
        match r.args().next() {
            Some(Err(Error::StringPastRecord {
                arg: 0,
                str_len: 9,
                available: 8,
                ..
            })) => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }
}
