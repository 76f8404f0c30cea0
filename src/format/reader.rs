//! [`TraceReader`]: walks the records of a trace held in memory.

use core::sync::atomic::{AtomicUsize, Ordering, compiler_fence, fence};
use std::collections::HashMap;

use super::error::{
    At, Error, EventId, FileOffset, MAX_NAME_LEN, MAX_RECORD_LEN, RecordIndex, Result,
    SHOWN_NAME_BYTES,
};
use super::events::{DROPPED_POSITION, EventDecl, TraceEvents};
use super::header::{ByteOrder, TraceKind, Version};
use super::record::{DebugBytes, Record};
use nom::Parser;

use super::wire::{self, Big, Little, Order};

mod resync;

pub use resync::{Skip, Skips};

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

impl<'a> Slot<'a> {
    /// What a mapping record naming `name` makes its id refer to.
    fn named(events: &'a TraceEvents, name: &'a [u8]) -> Self {
        events
            .by_name(name)
            .map_or(Slot::Undeclared(name), Slot::Decl)
    }
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
        // The vector only grows in proportion to the ids set (each from a
        // mapping record of at least 20 bytes, or a declaration): a lone
        // mapping of id 65,535 in a 50-byte file would otherwise make a
        // 1.5 MiB table, cloned again for every chunk in flight when
        // reading in parallel. Such an id goes to the map, where `get`
        // still finds it if the vector grows past it later.
        let limit = DENSE_IDS.min(self.sets.saturating_mul(2).saturating_add(DENSE_SLACK));
        let dense = match usize::try_from(id) {
            Ok(i) if i < self.dense.len() => self.dense.get_mut(i),
            Ok(i) if id < limit => {
                self.dense.resize(i + 1, Slot::Unmapped);
                self.dense.get_mut(i)
            }
            _ => None,
        };
        match dense {
            Some(dense) => {
                *dense = slot;
                // Each id lives in one table: an older mapping left in the
                // map would come back when the table is carried to the next
                // block of a stream ([`TraceReader::suspend`]).
                self.sparse.remove(&id);
            }
            None => {
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
/// reader yields nothing more, unless it resyncs
/// ([`TraceReader::with_resync`]): then it steps over each corrupt region
/// to the next plausible record, notes it in [`TraceReader::skips`], and
/// reads on.
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
#[derive(Clone)]
pub struct TraceReader<'a> {
    /// What this reader reads: the whole trace, or up to the end of a
    /// chunk ([`TraceReader::until`]).
    data: &'a [u8],
    /// The whole trace, which resyncing looks ahead in: a chunk's reader
    /// must judge a record after its end exactly as a reader of the whole
    /// trace does.
    full: &'a [u8],
    events: &'a TraceEvents,
    kind: TraceKind,
    pos: usize,
    /// The trace offset of `data[0]`: 0, except for a reader of a later
    /// block of a streamed trace ([`TraceReader::resume`]).
    base: u64,
    record: u64,
    ids: IdMap<'a>,
    /// Reading on, reading with every record checked, or done. One
    /// field, so that the record loop tests one thing whatever the mode.
    state: State,
    /// Whether a fault is stepped over rather than the end.
    resync: bool,
    /// The regions stepped over so far.
    skips: Skips,
    /// Whether more of the trace follows `data` (a block of a stream):
    /// then the end of `data` is not the end of the trace, and nothing
    /// is judged that needs bytes past it.
    more_follows: bool,
    /// Whether reading stopped because a resync needs bytes past the end
    /// of `data` (only with `more_follows`).
    resync_put_off: bool,
    /// How much of `data` is still readable, when another party may lower
    /// it while this reader reads ([`TraceReader::with_valid_len`]);
    /// [`UNBOUNDED`] otherwise (not an `Option`: the record loop tests one
    /// thing fewer).
    valid_len: &'a AtomicUsize,
    /// The data index up to which the pages were found readable
    /// ([`TraceReader::check_pages`]): a record ending before it needs no
    /// check.
    checked_to: usize,
    /// The mapping record or the fault [`Step`] last told of, until its
    /// caller takes it: the step itself is one byte, returned in a
    /// register. (A step that carried them, some sixty bytes built in
    /// memory a field at a time and copied out sixteen bytes at a time,
    /// stalled every record on a failed store-to-load forwarding: a tenth
    /// of a `GROUP BY` over a trace.)
    stepped: Stepped<'a>,
}

/// What a step left for its caller to take ([`TraceReader::stepped`]).
#[derive(Clone, Default)]
enum Stepped<'a> {
    #[default]
    Nothing,
    Mapping(Mapping<'a>),
    Fault(Error),
}

/// The valid length of data that nobody cuts short.
static UNBOUNDED: AtomicUsize = AtomicUsize::new(usize::MAX);

impl core::fmt::Debug for TraceReader<'_> {
    /// The position and state, never the trace's bytes (a whole file).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TraceReader")
            .field("data", &DebugBytes(self.data))
            .field("trace_len", &self.full.len())
            .field("kind", &self.kind)
            .field("pos", &self.pos)
            .field("record", &self.record)
            .field("state", &self.state)
            .field("resync", &self.resync)
            .field("skipped", &self.skips.count())
            .finish_non_exhaustive()
    }
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
        if kind.ids_are_positions() {
            for (position, decl) in events.iter().enumerate() {
                // The name decides, as in QEMU's tool: a later declaration
                // of the same name wins.
                let decl = events.by_name(decl.name.as_bytes()).unwrap_or(decl);
                ids.set(position as u64, Slot::Decl(decl));
            }
        }
        TraceReader {
            data,
            full: data,
            events,
            kind,
            pos: kind.records_start.min(data.len()),
            base: 0,
            record: 0,
            ids,
            state: State::Reading,
            resync: false,
            skips: Skips::default(),
            more_follows: false,
            resync_put_off: false,
            valid_len: &UNBOUNDED,
            checked_to: 0,
            stepped: Stepped::Nothing,
        }
    }

    /// This reader, stepping over corrupt regions instead of stopping at
    /// the first fault (`--resync`).
    ///
    /// Every event record is then checked in full, arguments included
    /// (whether or not anyone decodes it), since a record whose arguments
    /// do not fill its length exactly has a length that cannot be trusted.
    /// At a fault, the reader scans forward byte by byte from the faulty
    /// record's second byte for the first offset where a record reads
    /// without a fault and the bytes after it are framed as a record too
    /// (or the file ends exactly there), notes the region in
    /// [`TraceReader::skips`] and goes on from there (the rules: the
    /// `resync` module). A record cut off by the end of the file with
    /// nothing plausible after it is still the [`Error::Truncated`] it is
    /// without resyncing. Header faults are found before a reader exists
    /// and are never stepped over.
    ///
    /// Record numbers in later messages count a skipped region as one
    /// record. Mapping records inside a region are lost with it, so later
    /// records of the ids they named are faults too (and are skipped).
    pub fn with_resync(mut self, resync: bool) -> Self {
        self.resync = resync;
        if self.state != State::Done {
            self.state = if resync {
                State::Checking
            } else {
                State::Reading
            };
        }
        self
    }

    /// Whether this reader steps over corrupt regions.
    pub fn is_resyncing(&self) -> bool {
        self.resync
    }

    /// This reader, told whether more of the trace follows its data (a
    /// block of a trace read as a stream, not the last one). Then the end
    /// of the data is not the end of the trace: a record it cuts off is
    /// the [`Error::Truncated`] fault it seems (to be read again from a
    /// longer block, [`TraceReader::suspend`]) and is never judged a
    /// corrupt length, and a resyncing reader that needs bytes past the
    /// end to find the next plausible record stops the same way, at the
    /// faulty record ([`TraceReader::resync_put_off`]). A reader of each
    /// block then reads what one reader of the whole trace would.
    pub(crate) fn with_more_to_come(mut self, more: bool) -> Self {
        self.more_follows = more;
        self
    }

    /// This reader, told that only the first `valid_len` bytes of its
    /// data can still be trusted, a figure another party may lower at any
    /// moment while it reads: the bytes of a memory-mapped file that
    /// another program truncates come back as zeros once the mapping's
    /// guard has caught the fault (`input::TraceData`), and the guard
    /// lowers the figure to where they start. A record that ends past it,
    /// or starts past it whatever it reads as, is the [`Error::Cut`]
    /// fault, which ends reading even when resyncing; every record before
    /// it was read from bytes that were still the file's (but for a page
    /// that vanishes in the very instant its records are read). The
    /// reader checks once per page of data: it touches the last byte of
    /// the first record that reaches into a new page, so that a record
    /// reaching into a vanished page is caught on that record.
    pub fn with_valid_len(mut self, valid_len: &'a AtomicUsize) -> Self {
        self.valid_len = valid_len;
        self.checked_to = 0;
        self
    }

    /// Whether reading stopped at a fault because stepping over it needs
    /// bytes past the end of the data (only when more follows,
    /// [`TraceReader::with_more_to_come`]): the [`Error::Truncated`] it
    /// returned stands for "read this record again from a longer block".
    pub(crate) fn resync_put_off(&self) -> bool {
        self.resync_put_off
    }

    /// The corrupt regions stepped over so far, in file order.
    pub fn skips(&self) -> &Skips {
        &self.skips
    }

    /// Takes the corrupt regions stepped over so far, leaving none.
    pub fn take_skips(&mut self) -> Skips {
        core::mem::take(&mut self.skips)
    }

    /// Continues reading a trace where `state` left it, over `data`: the
    /// bytes of the trace from [`ReaderState::offset`] on (a block of a
    /// trace that arrives in pieces, such as standard input or a
    /// decompressor). Records, errors and [`TraceReader::position`] give
    /// offsets and record numbers from the start of the trace, as one
    /// reader over the whole trace would; [`TraceReader::skip_to`],
    /// [`TraceReader::until`] and [`TraceReader::data_len`] count within
    /// `data`. `events` must be the declarations `state` was read with.
    ///
    /// ```
    /// use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
    ///
    /// let events = TraceEvents::parse("te", b"tick(uint64_t n)\n")?;
    /// let mut trace = Vec::new();
    /// encode::header(&mut trace, 4);
    /// encode::mapping(&mut trace, 0, b"tick");
    /// encode::event(&mut trace, 0, 100, 1, &[ArgValue::Int(7)]);
    /// encode::event(&mut trace, 0, 250, 1, &[ArgValue::Int(8)]);
    /// // The first block ends in the middle of the second event.
    /// let (first, _) = trace.split_at(trace.len() - 5);
    /// let mut reader = TraceReader::new(first, &events)?;
    /// assert_eq!(reader.next().unwrap()?.timestamp_ns, 100);
    /// assert!(reader.next().unwrap().unwrap_err().is_truncation());
    /// // The next block starts at the record that was cut off.
    /// let state = reader.suspend();
    /// let rest = &trace[state.offset() as usize..];
    /// let record = TraceReader::resume(rest, &events, &state).next().unwrap()?;
    /// assert_eq!((record.name(), record.timestamp_ns), ("tick", 250));
    /// assert_eq!(record.at.offset.0 as usize, trace.len() - 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(data: &'a [u8], events: &'a TraceEvents, state: &'a ReaderState) -> Self {
        let mut ids = IdMap::new(events);
        for (id, carried) in &state.ids {
            let slot = match carried {
                Carried::Decl(DROPPED_POSITION) => Slot::Decl(events.dropped()),
                Carried::Decl(position) => events.get(*position).map_or(Slot::Unmapped, Slot::Decl),
                Carried::Undeclared(name) => Slot::Undeclared(name),
            };
            ids.set(*id, slot);
        }
        TraceReader {
            data,
            full: data,
            events,
            kind: state.kind,
            pos: 0,
            base: state.offset,
            record: state.record,
            ids,
            state: State::Reading,
            resync: false,
            skips: Skips::default(),
            more_follows: false,
            resync_put_off: false,
            valid_len: &UNBOUNDED,
            checked_to: 0,
            stepped: Stepped::Nothing,
        }
        .with_resync(state.resync)
    }

    /// Continues reading where `state` left it, over `data`: the *whole*
    /// trace, from its first byte (where [`TraceReader::resume`] takes
    /// the bytes from [`ReaderState::offset`] on). Data indices are then
    /// trace offsets, so [`TraceReader::until`] takes a trace offset and
    /// a guard's valid length (`TraceData::guard`) applies as it does to
    /// a reader of the whole trace: what a reader made once per batch of
    /// a chunk ([`crate::format::chunks`]) needs, with nothing borrowed in
    /// between.
    ///
    /// ```
    /// use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
    ///
    /// let events = TraceEvents::parse("te", b"tick(uint64_t n)\n")?;
    /// let mut trace = Vec::new();
    /// encode::header(&mut trace, 4);
    /// encode::mapping(&mut trace, 0, b"tick");
    /// encode::event(&mut trace, 0, 100, 1, &[ArgValue::Int(7)]);
    /// encode::event(&mut trace, 0, 250, 1, &[ArgValue::Int(8)]);
    /// let mut reader = TraceReader::new(&trace, &events)?;
    /// reader.next().unwrap()?;
    /// let state = reader.suspend();
    /// let record = TraceReader::resume_within(&trace, &events, &state).next().unwrap()?;
    /// assert_eq!(record.timestamp_ns, 250);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume_within(data: &'a [u8], events: &'a TraceEvents, state: &'a ReaderState) -> Self {
        let mut reader = Self::resume(data, events, state);
        reader.base = 0;
        reader.pos = usize::try_from(state.offset).map_or(data.len(), |p| p.min(data.len()));
        reader
    }

    /// Where this reader stands, holding no borrow of the trace's bytes:
    /// what [`TraceReader::resume`] continues from once the next block of
    /// the trace has arrived. After a [`Error::Truncated`] fault (a record
    /// running past the end of `data`) the state is that of the start of
    /// that record, so that reading it again from a longer block works.
    pub fn suspend(&self) -> ReaderState {
        let carry = |slot: Slot<'_>| match slot {
            Slot::Unmapped => None,
            Slot::Decl(decl) => Some(Carried::Decl(decl.position)),
            Slot::Undeclared(name) => Some(Carried::Undeclared(name.into())),
        };
        let dense = (0u64..).zip(self.ids.dense.iter().copied());
        let sparse = self.ids.sparse.iter().map(|(&id, &slot)| (id, slot));
        ReaderState {
            kind: self.kind,
            offset: self.base + self.pos as u64,
            record: self.record,
            resync: self.resync,
            ids: dense
                .chain(sparse)
                .filter_map(|(id, slot)| carry(slot).map(|c| (id, c)))
                .collect(),
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

    /// The offset of the next record to read, from the start of the trace.
    pub fn position(&self) -> FileOffset {
        FileOffset(self.base + self.pos as u64)
    }

    /// The index in the data of the next record to read: the same as
    /// [`TraceReader::position`] except for a [resumed](TraceReader::resume)
    /// reader, whose data starts further into the trace.
    pub(crate) fn data_position(&self) -> usize {
        self.pos
    }

    /// The number of records read so far, mappings included.
    pub fn records_read(&self) -> u64 {
        self.record
    }

    /// The next record of any type, or `None` at the end of the trace.
    #[inline(always)]
    pub fn next_item(&mut self) -> Option<Result<Item<'a>>> {
        let mut record = Record::placeholder(self.events.dropped());
        loop {
            match self.step(&mut record) {
                Step::End => return None,
                Step::Event => return Some(Ok(Item::Event(record))),
                Step::Mapping => {
                    if let Some(m) = self.take_mapping() {
                        return Some(Ok(Item::Mapping(m)));
                    }
                }
                Step::Fault => {
                    if let Some(e) = self.take_fault() {
                        return Some(Err(e));
                    }
                }
            }
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
            match self.step(out) {
                Step::End => return None,
                Step::Event => return Some(Ok(())),
                Step::Mapping => self.stepped = Stepped::Nothing,
                Step::Fault => {
                    if let Some(e) = self.take_fault() {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// One record: an event is written into `out`; a mapping record or a
    /// fault is left in `self.stepped` for the caller to take
    /// ([`TraceReader::take_mapping`], [`TraceReader::take_fault`], which
    /// passes the fault to [`TraceReader::fault`]: it ends reading or
    /// resyncs), so that this, the record loop's body, returns one byte.
    #[inline(always)]
    fn step(&mut self, out: &mut Record<'a>) -> Step {
        if self.state != State::Reading {
            return self.step_slow(out);
        }
        match self.kind.order {
            ByteOrder::Little => self.next_in::<Little, false>(out),
            ByteOrder::Big => self.next_in::<Big, false>(out),
        }
    }

    /// [`TraceReader::step`] when done, or resyncing (every record checked
    /// in full): out of line, to keep the plain loop small.
    #[inline(never)]
    fn step_slow(&mut self, out: &mut Record<'a>) -> Step {
        match (self.state, self.kind.order) {
            (State::Done, _) => Step::End,
            (State::Reading, ByteOrder::Little) => self.next_in::<Little, false>(out),
            (State::Reading, ByteOrder::Big) => self.next_in::<Big, false>(out),
            (State::Checking, ByteOrder::Little) => self.next_in::<Little, true>(out),
            (State::Checking, ByteOrder::Big) => self.next_in::<Big, true>(out),
        }
    }

    /// The mapping record the last step read.
    #[inline]
    fn take_mapping(&mut self) -> Option<Mapping<'a>> {
        match core::mem::take(&mut self.stepped) {
            Stepped::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The fault the last step met, passed to [`TraceReader::fault`]:
    /// the fault if it stands (none when a resync stepped over it).
    #[cold]
    #[inline(never)]
    fn take_fault(&mut self) -> Option<Error> {
        match core::mem::take(&mut self.stepped) {
            Stepped::Fault(e) => self.fault(e),
            _ => None,
        }
    }

    /// Leaves `e` for the caller of the step that met it.
    #[cold]
    #[inline(never)]
    fn stepped_fault(&mut self, e: Error) -> Step {
        self.stepped = Stepped::Fault(e);
        Step::Fault
    }

    /// A fault at the current record: the end of reading, or with
    /// resyncing a region to step over. Returns the fault if it stands.
    #[cold]
    #[inline(never)]
    fn fault(&mut self, e: Error) -> Option<Error> {
        // A record starting where the data stopped being the trace's is
        // faulty because of that: it is the cut, whatever it looked like.
        let e = match e.at() {
            Some(at) if at.offset.0 >= self.base => {
                fence(Ordering::SeqCst);
                let valid = self.valid_len.load(Ordering::SeqCst);
                let start = at.offset.0 - self.base;
                if start >= valid as u64 {
                    cut_at(at, self.base, valid)
                } else {
                    e
                }
            }
            _ => e,
        };
        if let Error::Cut { .. } = e {
            // Nothing past it is the trace's any more: no region to step
            // over, nothing to confirm.
            self.state = State::Done;
            return Some(e);
        }
        if self.more_follows && e.is_truncation() {
            // The data ends inside the record, but the trace goes on: it is
            // read again, and judged, from a longer block.
            self.state = State::Done;
            return Some(e);
        }
        if self.resync
            && let Some(at) = e.at()
        {
            return self.resync_after(at, e);
        }
        self.state = State::Done;
        Some(self.confirm_truncation(e))
    }

    /// The fault of an event id the table does not resolve.
    #[cold]
    #[inline(never)]
    fn unmapped(&self, at: At, id: EventId) -> Error {
        if self.kind.ids_are_positions() {
            Error::UnknownEventId {
                at,
                id,
                declared: self.events.len() as u64,
            }
        } else {
            Error::UnmappedEventId { at, id }
        }
    }

    /// The record at the current position in byte order `O`; with `CHECK`,
    /// an event record's arguments are checked too.
    #[inline(always)]
    fn next_in<O: Order, const CHECK: bool>(&mut self, out: &mut Record<'a>) -> Step {
        // A chunk's reader stops at the chunk's end but reads each record
        // from the whole trace, so that it judges a faulty record running
        // past that end exactly as a reader of the whole trace does.
        if self.pos >= self.data.len() {
            return Step::End;
        }
        let rest = self.full.get(self.pos..).unwrap_or_default();
        let at = At {
            record: RecordIndex(self.record),
            offset: FileOffset(self.base + self.pos as u64),
        };
        let (after, raw) = match raw_record::<O>(self.kind.version, rest) {
            Ok(parsed) => parsed,
            Err(fault) => {
                let more_follows = self.more_follows;
                return self.stepped_fault(fault.at(at, rest.len(), more_follows));
            }
        };
        let step = match raw {
            Raw::Event { header: h, payload } => {
                let id = EventId(h.id);
                let decl = match self.ids.get(h.id) {
                    Slot::Decl(decl) => decl,
                    Slot::Unmapped => {
                        let e = self.unmapped(at, id);
                        return self.stepped_fault(e);
                    }
                    Slot::Undeclared(name) => return self.stepped_fault(undeclared(at, id, name)),
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
                // Resyncing checks every record in full: a length its
                // arguments do not fill exactly is not to be trusted.
                if CHECK && let Err(e) = out.check_args() {
                    return self.stepped_fault(e);
                }
                Step::Event
            }
            Raw::Mapping { id, name } => {
                if let Some(e) = name_fault(at, id, name) {
                    return self.stepped_fault(e);
                }
                let decl = self.events.by_name(name);
                self.ids
                    .set(id, decl.map_or(Slot::Undeclared(name), Slot::Decl));
                self.stepped = Stepped::Mapping(Mapping {
                    at,
                    id: EventId(id),
                    name,
                    decl,
                });
                Step::Mapping
            }
        };
        let end = self.full.len() - after.len();
        if end > self.checked_to
            && let Some(e) = self.check_pages(at, end)
        {
            return self.stepped_fault(e);
        }
        self.pos = end;
        self.record += 1;
        step
    }

    /// Confirms that the record last read (at `at`) is still wholly in
    /// the valid length now that its bytes have been used: the loop asks
    /// after handing it over. A page checked once can vanish afterwards
    /// (another program truncates the file while a thread is descheduled
    /// between a record's header and its arguments, or blocked writing
    /// before it copies them); a read of it then sees zeros, and the guard
    /// lowered the valid length before that read returned. So a record
    /// that still ends within the valid length was read from the file's
    /// own bytes, and one that does not is the cut ([`Error::Cut`]) and
    /// ends reading. One load per record (the fence orders the record's
    /// reads before it, and costs nothing on x86).
    #[inline(always)]
    pub(crate) fn confirm_last(&mut self, at: At) -> Option<Error> {
        fence(Ordering::Acquire);
        let valid = self.valid_len.load(Ordering::Relaxed);
        if self.pos > valid {
            return Some(self.cut_after_use(at, valid));
        }
        None
    }

    #[cold]
    #[inline(never)]
    fn cut_after_use(&mut self, at: At, valid: usize) -> Error {
        self.state = State::Done;
        cut_at(at, self.base, valid)
    }

    /// Checks a record that ends past the pages checked so far against
    /// the valid length: [`Error::Cut`] if it runs past it; otherwise the
    /// pages up to the one holding its last byte are checked.
    ///
    /// Once per page, not per record: a page that was there when checked
    /// stays readable (a vanished page reads as zeros, and a record that
    /// starts in zeros is told to be the cut on the fault path); a page
    /// that vanishes after its check, while one of its records is being
    /// used, shows zeros to it, which [`TraceReader::confirm_last`] finds
    /// once the record has been used.
    #[inline(never)]
    fn check_pages(&mut self, at: At, end: usize) -> Option<Error> {
        // If the last byte's page has vanished, touching it faults now and
        // the guard lowers the valid length before it is read. The fence
        // keeps the compiler from reading the valid length first (the
        // guard runs in this thread, as a signal handler).
        let last = end.checked_sub(1).and_then(|i| self.full.get(i));
        core::hint::black_box(last.copied());
        compiler_fence(Ordering::SeqCst);
        // And a fence for the processor, for a page that another thread's
        // fault replaced (the guard lowers the valid length before it maps
        // the zero pages in): once per page, so it costs nothing.
        fence(Ordering::SeqCst);
        let valid = self.valid_len.load(Ordering::SeqCst);
        if end > valid {
            return Some(cut_at(at, self.base, valid));
        }
        // A cut takes a suffix of the file: if the last byte's page is
        // there, every page before it is too.
        let page_end = (end.saturating_sub(1) | (PAGE_GRAIN - 1)).saturating_add(1);
        self.checked_to = page_end.min(valid);
        None
    }
}

/// The smallest page size of the systems we run on: what
/// [`TraceReader::check_pages`] counts in.
const PAGE_GRAIN: usize = 4096;

/// The fault of a record past the data still readable.
#[cold]
#[inline(never)]
fn cut_at(at: At, base: u64, valid: usize) -> Error {
    Error::Cut {
        at,
        valid: FileOffset(base + valid as u64),
    }
}

/// Where a reader stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading records.
    Reading,
    /// Reading records, each event record's arguments checked too
    /// (resyncing).
    Checking,
    /// After a fault that stands, or the end.
    Done,
}

/// A [`TraceReader`]'s place in a trace, owning everything it needs: the
/// trace's kind, the offset and number of the next record, and the id table
/// the mapping records so far have built. Made by [`TraceReader::suspend`],
/// used by [`TraceReader::resume`].
#[derive(Clone)]
pub struct ReaderState {
    kind: TraceKind,
    offset: u64,
    record: u64,
    /// Whether the reader was resyncing ([`TraceReader::with_resync`]).
    resync: bool,
    ids: Vec<(u64, Carried)>,
}

/// What an event id refers to, in a [`ReaderState`].
#[derive(Clone)]
enum Carried {
    /// The declaration at this position of the events file (or the
    /// dropped-events pseudo declaration).
    Decl(usize),
    /// A name the events file does not declare (kept for the error message
    /// of a record that uses the id).
    Undeclared(Box<[u8]>),
}

impl core::fmt::Debug for ReaderState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReaderState")
            .field("kind", &self.kind)
            .field("offset", &self.offset)
            .field("record", &self.record)
            .field("mapped_ids", &self.ids.len())
            .finish()
    }
}

impl ReaderState {
    /// The offset of the next record to read, from the start of the trace:
    /// where the data given to [`TraceReader::resume`] must start.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of records read before it, mappings included.
    pub fn records_read(&self) -> u64 {
        self.record
    }

    /// The trace's kind.
    pub fn kind(&self) -> TraceKind {
        self.kind
    }
}

/// What [`TraceReader::step`] read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The end of the data (or of reading).
    End,
    /// An event record, written into the caller's record.
    Event,
    /// A mapping record ([`TraceReader::take_mapping`]).
    Mapping,
    /// A fault ([`TraceReader::take_fault`]).
    Fault,
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
    /// The data ends before the record does, and the record claims more
    /// bytes than any real record has (this many).
    PastEnd(u64),
    BadLength(u32),
    UnknownType(u64),
}

impl Fault {
    #[cold]
    #[inline(never)]
    /// The error this fault is for the record at `at`, with `available`
    /// bytes of data from it on. A length past the end is only known to be
    /// wrong when no more of the trace follows: otherwise the record is
    /// cut by the block, to be read again from a longer one.
    fn at(self, at: At, available: usize, more_follows: bool) -> Error {
        let fault = match self {
            Fault::PastEnd(needed) if more_follows => Fault::Truncated(needed),
            fault => fault,
        };
        match fault {
            Fault::Truncated(needed) => Error::Truncated {
                at,
                available: available as u64,
                needed,
            },
            Fault::PastEnd(needed) => Error::RecordPastEnd {
                at,
                needed,
                available: available as u64,
                next: None,
            },
            Fault::BadLength(len) => Error::BadRecordLength { at, len },
            Fault::UnknownType(found) => Error::UnknownRecordType { at, found },
        }
    }
}

/// Whether an event record's length is one a writer makes (at most
/// [`MAX_RECORD_LEN`]; QEMU's records are a few KiB at most). A longer one
/// past the end of the data is a corrupt length, not a cut; a resync point
/// is never one, so that a stray type word followed by a huge length never
/// has the scan wait for that many bytes.
fn sane_length(len: u32) -> bool {
    u64::from(len) <= MAX_RECORD_LEN
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
                    let needed = 20 + u64::from(name_len);
                    // A name no event has cannot be a record cut short.
                    let (after, name) = wire::bytes(after_header, name_len as usize)
                        .map_err(|_| short(name_len > MAX_NAME_LEN, needed))?;
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
    // A length no writer makes cannot be a record cut short.
    let (after, payload) = wire::bytes(after_header, payload_len)
        .map_err(|_| short(!sane_length(header.len), before + u64::from(header.len)))?;
    Ok((after, Raw::Event { header, payload }))
}

/// A record that needs `needed` bytes and does not get them: corrupt if
/// its length is `impossible`, else cut short.
#[cold]
#[inline(never)]
fn short(impossible: bool, needed: u64) -> Fault {
    if impossible {
        Fault::PastEnd(needed)
    } else {
        Fault::Truncated(needed)
    }
}

/// The fault of an event record whose id maps to an undeclared name.
#[cold]
#[inline(never)]
fn undeclared(at: At, id: EventId, name: &[u8]) -> Error {
    Error::UndeclaredEvent {
        at,
        id,
        name: String::from_utf8_lossy(name).into(),
    }
}

/// The fault of a mapping record's name, if it cannot be an event name.
/// Out of line: mapping records are few, events many.
#[inline(never)]
fn name_fault(at: At, id: u64, name: &[u8]) -> Option<Error> {
    if is_event_name(name) {
        None
    } else {
        Some(bad_name(at, id, name))
    }
}

/// Whether a mapping record's name can be an event name: QEMU's are C
/// identifiers, and so are those of every trace-events file we accept.
#[inline]
fn is_event_name(name: &[u8]) -> bool {
    name.len() <= MAX_NAME_LEN as usize && crate::syntax::is_ident(name)
}

/// The fault of a mapping record whose name is no event name.
#[cold]
#[inline(never)]
fn bad_name(at: At, id: u64, name: &[u8]) -> Error {
    let head = name.get(..SHOWN_NAME_BYTES).unwrap_or(name);
    let mut shown = Vec::with_capacity(head.len() + 8);
    super::pyfmt::write_bytes_repr(&mut shown, head);
    if head.len() < name.len() {
        shown.extend_from_slice(b"...");
    }
    Error::BadMappingName {
        at,
        id: EventId(id),
        len: name.len() as u32,
        shown: String::from_utf8_lossy(&shown).into(),
    }
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
    /// how it ended and the timestamp of the last event record passed. A
    /// resyncing reader steps over corrupt regions on the way without
    /// noting them in [`TraceReader::skips`] (the regions noted before are
    /// kept).
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
        if self.state == State::Done {
            return (Skipped::Blocked, None);
        }
        if self.resync {
            return self.skip_checked(offset, keep);
        }
        while self.pos < offset {
            if self.pos >= self.data.len() {
                break;
            }
            let rest = self.full.get(self.pos..).unwrap_or_default();
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
                    self.ids.set(id, Slot::named(self.events, name));
                }
            }
            self.pos = self.full.len() - after.len();
            self.record += 1;
        }
        (Skipped::Reached, last_timestamp)
    }

    /// This reader, stopping at `end` (an offset where a record starts)
    /// instead of the end of the data.
    pub fn until(mut self, end: usize) -> Self {
        // Not `clamp`: a reader that stepped over a record running past its
        // data stands beyond the data's end, and clamp would panic.
        let end = end.max(self.pos).min(self.data.len());
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
        // A hostile name length is a corrupt record, not an allocation, and
        // not a truncation either: no event has such a name.
        let mut m = t[..good].to_vec();
        m.extend(0u64.to_le_bytes());
        m.extend(1u64.to_le_bytes());
        m.extend(u32::MAX.to_le_bytes());
        match TraceReader::new(&m, &ev).unwrap().next() {
            Some(Err(Error::RecordPastEnd {
                needed, available, ..
            })) if needed == 20 + u64::from(u32::MAX) && available == 20 => {}
            otherwise => panic!("{otherwise:?}"),
        }
        // The same for an event record's length.
        let mut e = t[..good].to_vec();
        encode::event_header(&mut e, 0, 1, u32::MAX, 1);
        match TraceReader::new(&e, &ev).unwrap().next() {
            Some(Err(Error::RecordPastEnd {
                needed, available, ..
            })) if needed == 8 + u64::from(u32::MAX) && available == 32 => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    /// `until` on a reader whose position is past the end of its data (it
    /// stepped over a record cut by an earlier `until`) keeps the data as
    /// it is rather than panicking.
    #[test]
    fn until_past_the_position() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::event(&mut t, 0, 1, 1, &[ArgValue::Int(1)]);
        let mut r = TraceReader::new(&t, &ev)
            .unwrap()
            .with_resync(true)
            .until(t.len() - 3);
        while r.next().is_some() {}
        let len = r.data_len();
        assert_eq!(r.until(4).data_len(), len);
    }

    /// A valid length short of the data (a mapped file cut short): the
    /// record reaching past it, or starting past it whatever it holds, is
    /// `Error::Cut`, which ends reading even when resyncing.
    #[test]
    fn valid_len_cuts_reading() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        let mut starts = Vec::new();
        for n in 0..10 {
            starts.push(t.len());
            encode::event(&mut t, 0, n, 1, &[ArgValue::Int(n)]);
        }
        for resync in [false, true] {
            // Valid to the middle of the fifth record.
            let valid = AtomicUsize::new(starts[4] + 3);
            let mut r = TraceReader::new(&t, &ev)
                .unwrap()
                .with_resync(resync)
                .with_valid_len(&valid);
            for _ in 0..4 {
                assert!(r.next().unwrap().is_ok());
            }
            match r.next() {
                Some(Err(Error::Cut { at, valid })) => {
                    assert_eq!(at.offset.0 as usize, starts[4]);
                    assert_eq!(valid.0 as usize, starts[4] + 3);
                }
                otherwise => panic!("{otherwise:?}"),
            }
            assert!(r.next().is_none(), "resync {resync}");
        }
        // Zeros where the data was cut: a record starting at or past the
        // valid length is the cut, not the bad mapping it reads as.
        let mut z = t.clone();
        let from = starts[6];
        z[from..].fill(0);
        let valid = AtomicUsize::new(from);
        let faults: Vec<_> = TraceReader::new(&z, &ev)
            .unwrap()
            .with_valid_len(&valid)
            .filter_map(Result::err)
            .collect();
        match faults.as_slice() {
            [Error::Cut { at, .. }] => assert_eq!(at.offset.0 as usize, from),
            otherwise => panic!("{otherwise:?}"),
        }
    }

    /// An id mapped before the table's vector reached it, then mapped again
    /// once the vector covers it: the later mapping holds, also in the
    /// state carried to the next block of a stream.
    #[test]
    fn remapped_id_survives_suspend() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 3000, b"c");
        for id in 0..3500 {
            encode::mapping(&mut t, id, b"a");
        }
        let mappings = t.len();
        encode::event(&mut t, 3000, 5, 1, &[ArgValue::Int(7)]);
        let whole: Vec<_> = TraceReader::new(&t, &ev)
            .unwrap()
            .map(|r| r.unwrap().name().to_owned())
            .collect();
        assert_eq!(whole, ["a"]);
        let mut first = TraceReader::new(&t[..mappings], &ev).unwrap();
        assert!(first.next().is_none());
        let state = first.suspend();
        let mut rest = TraceReader::resume(&t[mappings..], &ev, &state);
        assert_eq!(rest.next().unwrap().unwrap().name(), "a");
    }

    /// A trace read in blocks, each from the state the one before left:
    /// the same records, offsets and faults as one reader over it all.
    #[test]
    fn resumed_blocks_equal_one_pass() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::mapping(&mut t, 9, b"nope");
        for i in 0..40u64 {
            encode::event(&mut t, 0, i, 1, &[ArgValue::Int(i)]);
            if i == 20 {
                encode::mapping(&mut t, 0, b"c");
                encode::mapping(&mut t, 70_000, b"b");
                encode::event(
                    &mut t,
                    70_000,
                    5,
                    1,
                    &[ArgValue::Str(b"x"), ArgValue::Int(2)],
                );
            }
        }
        encode::event(&mut t, 9, 1, 1, &[]);
        let whole: Vec<_> = TraceReader::new(&t, &ev)
            .unwrap()
            .map(|r| r.map(|r| (r.name().to_owned(), r.at, r.timestamp_ns)))
            .collect();
        for block in [1, 13, 32, 100, 1000] {
            let mut got = Vec::new();
            let mut state: Option<ReaderState> = None;
            let mut start = 0;
            // The first block holds the header at least; a block that holds
            // no whole record doubles until it does, as a stream's does.
            let mut len = block.max(24);
            loop {
                let end = (start + len).min(t.len());
                let data = &t[start..end];
                let mut r = match &state {
                    None => TraceReader::new(data, &ev).unwrap(),
                    Some(s) => TraceReader::resume(data, &ev, s),
                };
                let mut cut = false;
                for item in r.by_ref() {
                    match item {
                        Err(e) if e.is_truncation() && end < t.len() => cut = true,
                        other => {
                            got.push(other.map(|r| (r.name().to_owned(), r.at, r.timestamp_ns)))
                        }
                    }
                }
                if end == t.len() && !cut {
                    break;
                }
                let next = r.suspend();
                let next_start = usize::try_from(next.offset()).unwrap();
                len = if next_start == start {
                    len * 2
                } else {
                    block.max(24)
                };
                start = next_start;
                state = Some(next);
            }
            assert_eq!(got, whole, "blocks of {block}");
        }
        // The undeclared name survives the blocks, for the error message.
        match whole.last() {
            Some(Err(Error::UndeclaredEvent { name, .. })) => assert_eq!(&**name, "nope"),
            otherwise => panic!("{otherwise:?}"),
        }
    }

    /// A resyncing reader resumed past 4 GiB reports the region it steps
    /// over at absolute offsets; told that more follows, it puts off a
    /// region whose end it cannot see yet.
    #[test]
    fn resumed_resync_offsets_are_absolute() {
        let ev = events();
        let base = (5u64 << 30) + 3;
        let state = ReaderState {
            kind: TraceKind::headerless(),
            offset: base,
            record: 7,
            resync: true,
            ids: vec![(0, Carried::Decl(0))],
        };
        let mut t = vec![0xee; 10];
        encode::event(&mut t, 0, 1, 1, &[ArgValue::Int(1)]);
        encode::event(&mut t, 0, 2, 1, &[ArgValue::Int(2)]);
        let mut r = TraceReader::resume(&t, &ev, &state);
        let stamps: Vec<u64> = (&mut r).map(|rec| rec.unwrap().timestamp_ns).collect();
        assert_eq!(stamps, [1, 2]);
        let skip = r.skips().listed().first().unwrap().clone();
        assert_eq!(
            (skip.start, skip.end),
            (FileOffset(base), FileOffset(base + 10))
        );
        // The same block with more to come, cut before the second record
        // is whole: the first record alone cannot show where the region
        // ends (the pair rule needs the second), so the reader stops at the
        // fault, to read it again from a longer block.
        let short = &t[..t.len() - 3];
        let mut r = TraceReader::resume(short, &ev, &state).with_more_to_come(true);
        assert!(r.next().unwrap().unwrap_err().is_truncation());
        assert!(r.resync_put_off());
        assert_eq!(r.suspend().offset(), base);
        assert!(r.skips().is_empty());
    }

    /// Offsets past 4 GiB and record numbers past `u32::MAX`: a reader
    /// resumed there reports them whole.
    #[test]
    fn offsets_past_4_gib() {
        let ev = events();
        let base = (5u64 << 30) + 3;
        let state = ReaderState {
            kind: TraceKind::headerless(),
            offset: base,
            record: 5_000_000_000,
            resync: false,
            ids: vec![(0, Carried::Decl(0))],
        };
        let mut t = Vec::new();
        encode::event(&mut t, 0, 1, 1, &[ArgValue::Int(1)]);
        let first = t.len() as u64;
        encode::event(&mut t, 0, 2, 1, &[ArgValue::Int(2)]);
        t.truncate(t.len() - 1);
        let mut r = TraceReader::resume(&t, &ev, &state);
        let rec = r.next().unwrap().unwrap();
        assert_eq!(rec.at.offset, FileOffset(base));
        assert_eq!(rec.at.record, RecordIndex(5_000_000_000));
        assert_eq!(r.position(), FileOffset(base + first));
        assert_eq!(r.data_position() as u64, first);
        match r.next() {
            Some(Err(Error::Truncated { at, .. })) => {
                assert_eq!(at.offset, FileOffset(base + first));
                assert_eq!(at.record, RecordIndex(5_000_000_001));
                assert!(at.offset.0 > u64::from(u32::MAX));
            }
            otherwise => panic!("{otherwise:?}"),
        }
        let next = r.suspend();
        assert_eq!(
            (next.offset(), next.records_read()),
            (base + first, 5_000_000_001)
        );
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
