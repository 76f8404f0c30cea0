//! Stepping over corrupt regions (`--resync`): finding the next plausible
//! record after a fault, and the log of the regions stepped over.
//!
//! Records are not aligned (a mapping record is 20 bytes plus its name, a
//! string argument 4 plus its bytes), so after a fault the next record can
//! start at any byte: the scan tries every offset. Only version 0, whose
//! records all have 64 bytes from offset 64, steps by whole records.
//!
//! An offset is a resync point when a record there reads without a fault
//! (the same checks as reading it, arguments included) and the bytes after
//! it are framed as a record too (or the file ends exactly after it).
//! Random bytes pass the first check about never: an event record needs
//! the type word 1 (seven zero bytes and a one), an id the id table
//! resolves to a declared event, a length of at least 24 that stays inside
//! the file, and arguments that fill the length exactly; a mapping record
//! needs eight zero bytes and a name of 1 to
//! [`MAX_NAME_LEN`](crate::format::MAX_NAME_LEN) identifier bytes, which a
//! run of zeros (length 0) does not have. Asking a known type word and a
//! sane length of the following record makes a false match inside a
//! damaged record's payload as unlikely again. The following record's id
//! need not resolve: when a corrupt region swallowed a mapping record,
//! every later record of its id is a fault, and asking a resolving id of
//! the follower would make each of them swallow the good record before
//! it.

use core::fmt;

use super::{
    KeepFn, Raw, Skipped, Slot, State, Step, Stepped, TraceReader, V0_RECORD_LEN, Version,
    is_event_name, raw_record, sane_length,
};
use crate::format::error::{At, Error, FileOffset};
use crate::format::events::EventDecl;
use crate::format::header::ByteOrder;
use crate::format::record::Record;
use crate::format::wire::{Big, Little, Order};

/// A corrupt region a resyncing reader stepped over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The first byte stepped over: where the faulty record starts.
    pub start: FileOffset,
    /// The first byte after the region: where the next plausible record
    /// starts, or the end of the file.
    pub end: FileOffset,
    /// The fault found at `start`. A record whose length ran past the end
    /// of the file but which plausible records follow is reported as
    /// [`Error::RecordPastEnd`], not as a truncation.
    pub fault: Error,
}

impl Skip {
    /// The number of bytes stepped over.
    pub fn len(&self) -> u64 {
        self.end.0.saturating_sub(self.start.0)
    }

    /// Whether the region is empty (it never is: a fault costs at least
    /// its record's first byte).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Skip {
    /// `skipped bytes 161..205 (44 bytes), starting with record 4 at byte
    /// offset 161 (0xa1): event id 9 has no mapping record naming it`: the
    /// range is half-open (the end is the first byte read again).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped bytes {}..{} ({} bytes), starting with {}",
            self.start.0,
            self.end.0,
            self.len(),
            self.fault
        )
    }
}

/// The regions a resyncing read stepped over, in file order: all of them
/// counted, the first [`Skips::LISTED`] kept in full (a hostile file can
/// hold millions, and the log must not grow with it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips {
    listed: Vec<Skip>,
    count: u64,
    bytes: u64,
}

impl Skips {
    /// How many regions are kept in full.
    pub const LISTED: usize = 100;

    /// Notes a region after those noted so far.
    pub fn push(&mut self, skip: Skip) {
        self.count += 1;
        self.bytes += skip.len();
        if self.listed.len() < Self::LISTED {
            self.listed.push(skip);
        }
    }

    /// Appends the regions of a later part of the same trace (a later
    /// chunk): the result is what one reader of both parts would have
    /// noted.
    pub fn append(&mut self, later: Skips) {
        self.count += later.count;
        self.bytes += later.bytes;
        let room = Self::LISTED.saturating_sub(self.listed.len());
        self.listed.extend(later.listed.into_iter().take(room));
    }

    /// The first [`Skips::LISTED`] regions.
    pub fn listed(&self) -> &[Skip] {
        &self.listed
    }

    /// How many regions were stepped over.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many bytes they hold in all.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing was stepped over.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A mapping a candidate record makes, for judging the record after it.
type Overlay<'a> = Option<(u64, Slot<'a>)>;

impl<'a> TraceReader<'a> {
    /// [`TraceReader::skip_to_where`] for a resyncing reader: every record
    /// read and checked in full and every fault stepped over exactly as
    /// reading would, so that chunks start where a reader of the whole
    /// trace would read a record. The regions stepped over are not kept
    /// (the chunks' readers find them again).
    pub(super) fn skip_checked(
        &mut self,
        offset: usize,
        keep: Option<KeepFn<'_>>,
    ) -> (Skipped, Option<u64>) {
        // The regions passed here are not noted (the reader of the chunk
        // where each starts notes it); those noted before are kept.
        let noted = core::mem::take(&mut self.skips);
        let mut last_timestamp = None;
        let mut scratch = Record::placeholder(self.events.dropped());
        let mut how = Skipped::Reached;
        while self.pos < offset {
            match self.step(&mut scratch) {
                Step::End => break,
                Step::Event => {
                    if keep.is_none_or(|k| k(scratch.decl, scratch.pid, scratch.timestamp_ns)) {
                        last_timestamp = Some(scratch.timestamp_ns);
                    }
                }
                Step::Mapping => self.stepped = Stepped::Nothing,
                Step::Fault => {
                    if self.take_fault().is_some() {
                        how = Skipped::Blocked;
                        break;
                    }
                }
            }
        }
        self.skips = noted;
        (how, last_timestamp)
    }

    /// Steps over the fault `fault` of the record at `at`: moves to the
    /// next resync point after `at` and notes the region, returning `None`;
    /// or, when there is none and the fault is a record cut short by the
    /// end of the file, ends reading and returns the fault.
    pub(super) fn resync_after(&mut self, at: At, fault: Error) -> Option<Error> {
        let found = match self.resync_point(at) {
            Found::At(end) => Some(end),
            Found::None => None,
            Found::PutOff => {
                // Deciding needs bytes past the end of this block: read the
                // faulty record again from a longer one.
                self.state = State::Done;
                self.resync_put_off = true;
                let available = self.full.len().saturating_sub(self.pos) as u64;
                return Some(Error::Truncated {
                    at,
                    available,
                    needed: available.saturating_add(1),
                });
            }
        };
        // The scan may have run into pages a truncation took back (they
        // read as zeros, and the guard lowered the valid length): then
        // the region is no corrupt data of the file but the cut, and
        // nothing after it is the file's.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let valid = self.valid_len.load(core::sync::atomic::Ordering::SeqCst);
        if found.unwrap_or(self.full.len()) > valid {
            self.state = State::Done;
            return Some(Error::Cut {
                at,
                valid: FileOffset(self.base + valid as u64),
            });
        }
        let (end, fault) = match (found, fault) {
            (None, fault @ Error::Truncated { .. }) => {
                self.state = State::Done;
                return Some(fault);
            }
            (None, fault) => (self.full.len(), fault),
            (Some(end), fault) => (end, past_end(fault, self.base + end as u64)),
        };
        self.skips.push(Skip {
            start: at.offset,
            end: FileOffset(self.base + end as u64),
            fault,
        });
        self.pos = end;
        // The region counts as one record.
        self.record = at.record.0.saturating_add(1);
        None
    }

    /// The fault that ends a reader that does not resync. A record cut
    /// short by the end of the file is only a truncation if no plausible
    /// record follows inside the bytes it claims: if one does, the length
    /// is corrupt, and the records after it would be lost without a word.
    pub(super) fn confirm_truncation(&self, fault: Error) -> Error {
        match fault.at() {
            Some(at) if fault.is_truncation() => match self.resync_point(at) {
                Found::At(next) => past_end(fault, self.base + next as u64),
                Found::None | Found::PutOff => fault,
            },
            _ => fault,
        }
    }

    /// The first resync point after the record at `at` (an index into
    /// the data), if any before the end of the trace.
    fn resync_point(&self, at: At) -> Found {
        let Some(start) = at
            .offset
            .0
            .checked_sub(self.base)
            .and_then(|s| usize::try_from(s).ok())
        else {
            return Found::None;
        };
        match self.kind.order {
            ByteOrder::Little => self.resync_point_in::<Little>(start),
            ByteOrder::Big => self.resync_point_in::<Big>(start),
        }
    }

    fn resync_point_in<O: Order>(&self, start: usize) -> Found {
        let step = if self.kind.version == Version::V0 {
            // Fixed-size records: a fault never misplaces the next one.
            V0_RECORD_LEN
        } else {
            1
        };
        let mut q = start.saturating_add(step);
        while q < self.full.len() {
            match self.plausible_pair::<O>(q) {
                Judged::Yes => return Found::At(q),
                Judged::No => {}
                Judged::Unknown => return Found::PutOff,
            }
            q = q.saturating_add(step);
        }
        if self.more_follows {
            Found::PutOff
        } else {
            Found::None
        }
    }

    /// Whether a record reads without a fault at `q`, and the bytes after
    /// it are framed as a record too, or the file ends right after it.
    /// Unknown when that depends on bytes past the end of a block that
    /// more of the trace follows.
    fn plausible_pair<O: Order>(&self, q: usize) -> Judged {
        let (end, overlay) = match self.plausible_at::<O>(q) {
            Ok(record) => record,
            Err(judged) => return judged,
        };
        if end == self.full.len() {
            return if self.more_follows {
                Judged::Unknown
            } else {
                Judged::Yes
            };
        }
        self.framed_at::<O>(end, overlay)
    }

    /// Where the record at `q` ends, and the mapping it makes, if it reads
    /// without a fault with the id table as it stands: an event record of
    /// a declared event, no longer than a writer makes, whose arguments
    /// fill its length exactly, or a mapping record whose name is an
    /// identifier.
    /// [`Judged::No`] or [`Judged::Unknown`] when it does not.
    fn plausible_at<O: Order>(&self, q: usize) -> Result<(usize, Overlay<'a>), Judged> {
        let Some(rest) = self.full.get(q..) else {
            return Err(Judged::No);
        };
        let (after, raw) = match raw_record::<O>(self.kind.version, rest) {
            Ok(parsed) => parsed,
            Err(super::Fault::Truncated(_)) if self.more_follows => return Err(Judged::Unknown),
            Err(_) => return Err(Judged::No),
        };
        let end = self.full.len() - after.len();
        let verdict = |ok: bool, overlay| {
            if ok {
                Ok((end, overlay))
            } else {
                Err(Judged::No)
            }
        };
        match raw {
            Raw::Mapping { id, name } => {
                if !is_event_name(name) {
                    return Err(Judged::No);
                }
                let slot = Slot::named(self.events, name);
                verdict(true, Some((id, slot)))
            }
            Raw::Event { header, payload } => {
                let Slot::Decl(decl) = self.ids.get(header.id) else {
                    return Err(Judged::No);
                };
                verdict(sane_length(header.len) && self.fills(decl, payload), None)
            }
        }
    }

    /// Whether the bytes at `q` are framed as a record: a known type word,
    /// a length that fits what is left of the file (or runs past its end
    /// as a record cut short would), a mapping's name an identifier, and
    /// an event of a declared event filled exactly by its arguments. An
    /// event's id need not resolve: records of an id whose mapping record
    /// was lost in a corrupt region are faults of their own, and each
    /// should cost only itself, not the good records before it.
    fn framed_at<O: Order>(&self, q: usize, overlay: Overlay<'a>) -> Judged {
        let Some(rest) = self.full.get(q..) else {
            return Judged::No;
        };
        let framed = match raw_record::<O>(self.kind.version, rest) {
            Ok((_, Raw::Mapping { name, .. })) => is_event_name(name),
            Ok((_, Raw::Event { header, payload })) => {
                let slot = match overlay {
                    Some((id, slot)) if id == header.id => slot,
                    _ => self.ids.get(header.id),
                };
                sane_length(header.len)
                    && match slot {
                        Slot::Decl(decl) => self.fills(decl, payload),
                        Slot::Unmapped | Slot::Undeclared(_) => true,
                    }
            }
            // Cut short by the end of the file, as a last record can be;
            // a block's end is not the file's.
            Err(super::Fault::Truncated(_)) if self.more_follows => return Judged::Unknown,
            Err(super::Fault::Truncated(_)) => true,
            Err(_) => false,
        };
        if framed { Judged::Yes } else { Judged::No }
    }

    /// Whether `payload` holds exactly the arguments of `decl`.
    fn fills(&self, decl: &'a EventDecl, payload: &'a [u8]) -> bool {
        let mut record = Record::placeholder(decl);
        record.payload = payload;
        record.order = self.kind.order;
        record.words_only = self.kind.version == Version::V0;
        record.fills_payload()
    }
}

/// Where the next plausible record is after a fault.
enum Found {
    /// At this index of the data.
    At(usize),
    /// Nowhere before the end of the trace.
    None,
    /// Not known before more of the trace has arrived (a block of a stream).
    PutOff,
}

/// A candidate resync point's verdict.
enum Judged {
    Yes,
    No,
    /// It depends on bytes past the end of a block more of the trace follows.
    Unknown,
}

/// `fault` as the corrupt length it turns out to be when a plausible
/// record follows at `next` inside the bytes a record cut short claims;
/// any other fault as it is.
fn past_end(fault: Error, next: u64) -> Error {
    match fault {
        Error::Truncated {
            at,
            available,
            needed,
        } => Error::RecordPastEnd {
            at,
            needed,
            available,
            next: Some(FileOffset(next)),
        },
        fault => fault,
    }
}

#[cfg(test)]
mod tests {
    use crate::format::error::{Error, EventId, FileOffset};
    use crate::format::{ArgValue, Skip, Skips, TraceEvents, TraceReader, encode};

    fn events() -> TraceEvents {
        TraceEvents::parse("te", b"a(int x)\nb(const char *s, uint8_t y)\nc(void)\n").unwrap()
    }

    /// Header and mappings for ids 0 (a), 1 (b), 2 (c).
    fn start() -> Vec<u8> {
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::mapping(&mut t, 1, b"b");
        encode::mapping(&mut t, 2, b"c");
        t
    }

    fn a(t: &mut Vec<u8>, x: u64) {
        encode::event(t, 0, x, 1, &[ArgValue::Int(x)]);
    }

    /// The `x` of every `a` record read, and the regions skipped.
    fn read(t: &[u8], ev: &TraceEvents) -> (Vec<u64>, Vec<(u64, u64)>, Option<Error>) {
        let mut r = TraceReader::new(t, ev).unwrap().with_resync(true);
        let mut xs = Vec::new();
        let mut fault = None;
        for record in &mut r {
            match record {
                Ok(rec) if rec.name() == "a" => {
                    xs.push(rec.arg(0).unwrap().unwrap().as_u64().unwrap())
                }
                Ok(_) => {}
                Err(e) => fault = Some(e),
            }
        }
        let skips = r
            .skips()
            .listed()
            .iter()
            .map(|s| (s.start.0, s.end.0))
            .collect();
        (xs, skips, fault)
    }

    /// Skipping ahead does not note the regions it passes, and keeps those
    /// read before it.
    #[test]
    fn skip_to_keeps_the_regions_noted_before() {
        let ev = events();
        let mut t = start();
        a(&mut t, 1);
        let first = t.len() as u64;
        t.extend([0xee; 10]);
        for x in 2..5 {
            a(&mut t, x);
        }
        let second = t.len();
        t.extend([0xee; 10]);
        for x in 5..8 {
            a(&mut t, x);
        }
        let mut r = TraceReader::new(&t, &ev).unwrap().with_resync(true);
        for _ in 0..2 {
            r.next().unwrap().unwrap();
        }
        r.skip_to(second + 20);
        let skips: Vec<_> = r
            .skips()
            .listed()
            .iter()
            .map(|s| (s.start.0, s.end.0))
            .collect();
        assert_eq!(skips, [(first, first + 10)]);
    }

    #[test]
    fn garbage_between_records_is_one_region() {
        let ev = events();
        let mut t = start();
        a(&mut t, 1);
        let junk_at = t.len();
        t.extend((0..77u8).map(|i| i.wrapping_mul(37) | 0x80));
        let next = t.len();
        a(&mut t, 2);
        a(&mut t, 3);
        let (xs, skips, fault) = read(&t, &ev);
        assert_eq!(xs, [1, 2, 3]);
        assert_eq!(skips, [(junk_at as u64, next as u64)]);
        assert_eq!(fault, None);
        // Without resyncing, the garbage ends the read.
        let mut plain = TraceReader::new(&t, &ev).unwrap();
        assert!(plain.next().unwrap().is_ok());
        match plain.next() {
            Some(Err(Error::UnknownRecordType { at, .. })) if at.offset.0 == junk_at as u64 => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn records_of_a_lost_mapping_cost_only_themselves() {
        let ev = events();
        let mut t = start();
        let mut unmapped = Vec::new();
        for x in 0..6 {
            a(&mut t, x);
            unmapped.push(t.len() as u64);
            encode::event(&mut t, 9, x, 1, &[]);
        }
        let (xs, skips, fault) = read(&t, &ev);
        assert_eq!(xs, [0, 1, 2, 3, 4, 5]);
        let want: Vec<_> = unmapped.iter().map(|&s| (s, s + 32)).collect();
        assert_eq!(skips, want);
        assert_eq!(fault, None);
    }

    #[test]
    fn a_record_with_bytes_left_over_is_corrupt_only_when_resyncing() {
        let ev = events();
        let mut t = start();
        let long = t.len();
        encode::event_with_payload(&mut t, 0, 5, 1, &[7, 0, 0, 0, 0, 0, 0, 0, 0xee]);
        a(&mut t, 6);
        // Read plainly, the extra byte is ignored, as simpletrace.py does.
        let plain: Vec<_> = TraceReader::new(&t, &ev)
            .unwrap()
            .map(|r| r.unwrap().id)
            .collect();
        assert_eq!(plain, [EventId(0), EventId(0)]);
        let mut r = TraceReader::new(&t, &ev).unwrap().with_resync(true);
        assert_eq!(r.next().unwrap().unwrap().timestamp_ns, 6);
        match r.skips().listed() {
            [
                Skip {
                    start,
                    end,
                    fault:
                        Error::TrailingBytes {
                            len: 33, used: 32, ..
                        },
                },
            ] if start.0 == long as u64 && end.0 == long as u64 + 41 => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn a_cut_tail_stands_but_a_corrupt_length_does_not() {
        let ev = events();
        let mut t = start();
        a(&mut t, 1);
        let cut_at = t.len();
        a(&mut t, 2);
        let cut = &t[..t.len() - 3];
        for resync in [false, true] {
            let mut r = TraceReader::new(cut, &ev).unwrap().with_resync(resync);
            assert!(r.next().unwrap().is_ok());
            match r.next() {
                Some(Err(Error::Truncated {
                    at,
                    available: 37,
                    needed: 40,
                })) if at.offset.0 == cut_at as u64 => {}
                otherwise => panic!("{otherwise:?}"),
            }
            assert!(r.next().is_none());
            assert!(r.skips().is_empty());
        }
        // A length of 1000 where records follow: not a cut tail.
        let mut bad = t.clone();
        bad[cut_at + 24..cut_at + 28].copy_from_slice(&1000u32.to_le_bytes());
        a(&mut bad, 3);
        let want_next = Some(FileOffset(cut_at as u64 + 40));
        let mut r = TraceReader::new(&bad, &ev).unwrap();
        assert!(r.next().unwrap().is_ok());
        match r.next() {
            Some(Err(Error::RecordPastEnd {
                needed: 1008,
                available: 80,
                next,
                ..
            })) if next == want_next => {}
            otherwise => panic!("{otherwise:?}"),
        }
        let (xs, skips, fault) = read(&bad, &ev);
        assert_eq!(xs, [1, 3]);
        assert_eq!(skips, [(cut_at as u64, cut_at as u64 + 40)]);
        assert_eq!(fault, None);
    }

    #[test]
    fn nothing_plausible_skips_to_the_end() {
        let ev = events();
        let mut t = start();
        a(&mut t, 1);
        let junk_at = t.len();
        t.extend([0u8; 100]);
        let (xs, skips, fault) = read(&t, &ev);
        assert_eq!(xs, [1]);
        assert_eq!(skips, [(junk_at as u64, t.len() as u64)]);
        assert_eq!(fault, None);
    }

    #[test]
    fn version_0_steps_by_whole_records() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 0);
        t.resize(64, 0);
        for (id, ts) in [(0u64, 1u64), (7, 2), (0, 3)] {
            t.extend(id.to_le_bytes());
            t.extend(ts.to_le_bytes());
            t.extend([0; 48]);
        }
        let mut r = TraceReader::new(&t, &ev).unwrap().with_resync(true);
        let ts: Vec<_> = (&mut r).map(|x| x.unwrap().timestamp_ns).collect();
        assert_eq!(ts, [1, 3]);
        match r.skips().listed() {
            [
                Skip {
                    start: FileOffset(128),
                    end: FileOffset(192),
                    fault: Error::UnknownEventId { declared: 3, .. },
                },
            ] => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn big_endian_traces_resync_too() {
        let ev = events();
        let mut t = Vec::new();
        for w in [u64::MAX, crate::format::header::HEADER_MAGIC, 4] {
            t.extend(w.to_be_bytes());
        }
        t.extend(0u64.to_be_bytes());
        t.extend(0u64.to_be_bytes());
        t.extend(1u32.to_be_bytes());
        t.extend(b"a");
        let event = |t: &mut Vec<u8>, x: u64| {
            t.extend(1u64.to_be_bytes());
            t.extend(0u64.to_be_bytes());
            t.extend(x.to_be_bytes());
            t.extend(32u32.to_be_bytes());
            t.extend(1u32.to_be_bytes());
            t.extend(x.to_be_bytes());
        };
        event(&mut t, 1);
        let junk_at = t.len();
        t.extend([0x5a; 13]);
        let next = t.len();
        event(&mut t, 2);
        event(&mut t, 3);
        let (xs, skips, fault) = read(&t, &ev);
        assert_eq!(xs, [1, 2, 3]);
        assert_eq!(skips, [(junk_at as u64, next as u64)]);
        assert_eq!(fault, None);
    }

    #[test]
    fn version_2_records_have_no_type_word_but_resync() {
        let ev = events();
        let mut t = Vec::new();
        encode::header(&mut t, 2);
        let event = |t: &mut Vec<u8>, id: u64, x: u64| {
            t.extend(id.to_le_bytes());
            t.extend(x.to_le_bytes());
            t.extend(32u32.to_le_bytes());
            t.extend(0u32.to_le_bytes());
            t.extend(x.to_le_bytes());
        };
        event(&mut t, 0, 1);
        let bad_at = t.len();
        event(&mut t, 40, 2);
        let next = t.len();
        event(&mut t, 0, 3);
        event(&mut t, 0, 4);
        let mut r = TraceReader::new(&t, &ev).unwrap().with_resync(true);
        let xs: Vec<_> = (&mut r).map(|x| x.unwrap().timestamp_ns).collect();
        assert_eq!(xs, [1, 3, 4]);
        match r.skips().listed() {
            [
                Skip {
                    start,
                    end,
                    fault:
                        Error::UnknownEventId {
                            id: EventId(40), ..
                        },
                },
            ] if start.0 == bad_at as u64 && end.0 == next as u64 => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }

    #[test]
    fn the_log_keeps_the_first_hundred() {
        let skip = |i: u64| Skip {
            start: FileOffset(i * 10),
            end: FileOffset(i * 10 + 3),
            fault: Error::UnknownVersion { version: i },
        };
        let mut whole = Skips::default();
        let mut first = Skips::default();
        let mut second = Skips::default();
        for i in 0..150 {
            whole.push(skip(i));
            if i < 60 {
                first.push(skip(i))
            } else {
                second.push(skip(i))
            }
        }
        assert_eq!(
            (whole.count(), whole.bytes(), whole.listed().len()),
            (150, 450, Skips::LISTED)
        );
        assert_eq!(whole.listed().last(), Some(&skip(99)));
        first.append(second);
        assert_eq!(first, whole);
    }
}
