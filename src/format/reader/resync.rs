//! Stepping over corrupt regions (`--resync`): finding the next plausible
//! record after a fault, and the log of the regions stepped over.
//!
//! Records are not aligned (a mapping record is 20 bytes plus its name, a
//! string argument 4 plus its bytes), so after a fault the next record can
//! start at any byte: the scan tries every offset. Only version 0, whose
//! records all have 64 bytes from offset 64, steps by whole records.
//!
//! An offset is a resync point when a record there reads without a fault
//! (the same checks as reading it, arguments included) and so does the
//! record after it, or the file ends exactly after it, or with a record
//! cut short. Random bytes pass the first check about never: an event
//! record needs the type word 1 (seven zero bytes and a one), an id the
//! id table resolves to a declared event, a length of at least 24 that
//! stays inside the file, and arguments that fill the length exactly; a
//! mapping record needs eight zero bytes and a name of 1 to
//! [`MAX_NAME_LEN`](crate::format::MAX_NAME_LEN) identifier bytes, which a run of zeros (length 0)
//! does not have. Asking the same of the following record makes a false
//! match inside a damaged record's payload as unlikely again.

use core::fmt;

use super::{Raw, Slot, State, TraceReader, V0_RECORD_LEN, Version, is_event_name, raw_record};
use crate::format::error::{At, Error, FileOffset};
use crate::format::events::MAX_ARGS;
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
    /// `skipped bytes 161..205 (44 bytes) after record 4 at byte offset
    /// 161 (0xa1): event id 9 has no mapping record naming it`: the range
    /// is half-open (the end is the first byte read again).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped bytes {}..{} ({} bytes) after {}",
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
    /// Steps over the fault `fault` of the record at `at`: moves to the
    /// next resync point after `at` and notes the region, returning `None`;
    /// or, when there is none and the fault is a record cut short by the
    /// end of the file, ends reading and returns the fault.
    pub(super) fn resync_after(&mut self, at: At, fault: Error) -> Option<Error> {
        let start = usize::try_from(at.offset.0).unwrap_or(usize::MAX);
        let found = match self.kind.order {
            ByteOrder::Little => self.resync_point::<Little>(start),
            ByteOrder::Big => self.resync_point::<Big>(start),
        };
        let (end, fault) = match (found, fault) {
            (None, fault @ Error::Truncated { .. }) => {
                self.state = State::Done;
                return Some(fault);
            }
            (None, fault) => (self.full.len(), fault),
            // Records follow: the length was corrupt, not cut short.
            (
                Some(end),
                Error::Truncated {
                    at,
                    available,
                    needed,
                },
            ) => (
                end,
                Error::RecordPastEnd {
                    at,
                    needed,
                    available,
                },
            ),
            (Some(end), fault) => (end, fault),
        };
        self.skips.push(Skip {
            start: at.offset,
            end: FileOffset(end as u64),
            fault,
        });
        self.pos = end;
        // The region counts as one record.
        self.record = at.record.0.saturating_add(1);
        None
    }

    /// The first resync point after `start`, if any before the end.
    fn resync_point<O: Order>(&self, start: usize) -> Option<usize> {
        let step = if self.kind.version == Version::V0 {
            // Fixed-size records: a fault never misplaces the next one.
            V0_RECORD_LEN
        } else {
            1
        };
        let mut q = start.checked_add(step)?;
        while q < self.full.len() {
            if self.plausible_pair::<O>(q) {
                return Some(q);
            }
            q = q.checked_add(step)?;
        }
        None
    }

    /// Whether a record reads without a fault at `q`, and so does the one
    /// after it, or the file ends right after it or with a record cut
    /// short.
    fn plausible_pair<O: Order>(&self, q: usize) -> bool {
        let Some((end, overlay)) = self.plausible_at::<O>(q, None) else {
            return false;
        };
        end == self.full.len()
            || self.plausible_at::<O>(end, overlay).is_some()
            || self.cut_short::<O>(end)
    }

    /// Where the record at `q` ends, and the mapping it makes, if it reads
    /// without a fault with the id table as it stands (plus `overlay`).
    fn plausible_at<O: Order>(
        &self,
        q: usize,
        overlay: Overlay<'a>,
    ) -> Option<(usize, Overlay<'a>)> {
        let rest = self.full.get(q..)?;
        let (after, raw) = raw_record::<O>(self.kind.version, rest).ok()?;
        let end = self.full.len() - after.len();
        match raw {
            Raw::Mapping { id, name } => {
                if !is_event_name(name) {
                    return None;
                }
                let slot = self
                    .events
                    .by_name(name)
                    .map_or(Slot::Undeclared(name), Slot::Decl);
                Some((end, Some((id, slot))))
            }
            Raw::Event { header, payload } => {
                let slot = match overlay {
                    Some((id, slot)) if id == header.id => slot,
                    _ => self.ids.get(header.id),
                };
                let Slot::Decl(decl) = slot else {
                    return None;
                };
                let mut record = Record::placeholder(decl);
                record.payload = payload;
                record.order = self.kind.order;
                record.words_only = self.kind.version == Version::V0;
                // Not `check_args`: a failing candidate must not allocate.
                let mut words = [0u64; MAX_ARGS];
                record.decode_words(&mut words)?;
                Some((end, None))
            }
        }
    }

    /// Whether the bytes from `q` to the end of the file are the start of
    /// a record cut short (what reading them would call a truncation).
    fn cut_short<O: Order>(&self, q: usize) -> bool {
        let Some(rest) = self.full.get(q..) else {
            return false;
        };
        matches!(
            raw_record::<O>(self.kind.version, rest),
            Err(super::Fault::Truncated(_))
        )
    }
}
