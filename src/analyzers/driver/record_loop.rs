//! The record loop: the one loop every run goes through, whatever the
//! source (a whole trace, a chunk of it, a block of a stream, the records a
//! chunk worker collected) and whatever the target (one analyzer, several).
//!
//! It is generic over both, so each combination is monomorphised: with
//! one analyzer (the printer) the handler inlines into the loop and no
//! dynamic call is made per record. Before it there were four copies of
//! this loop (sequential, sequential with several analyzers, chunk
//! worker, collected records), and the fuzzer twice found them disagreeing
//! (on which records count, and on what is written before a failure).

use super::RunError;
use super::dispatch::{BlockFn, slot_of};
use crate::analyzers::Event;
use crate::analyzers::select::Resolved;
use crate::format::events::TraceEvents;
use crate::format::{self, Record, TraceReader};

/// Where the record loop gets its records: a reader over trace bytes, or
/// records collected earlier.
pub(super) trait Records<'a> {
    /// The declarations the records resolve against.
    fn events(&self) -> &'a TraceEvents;
    /// The next event record into `out`: `Some(Ok(()))` when `out` holds
    /// it, `Some(Err(_))` at a fault, `None` at the end.
    fn next_into(&mut self, out: &mut Record<'a>) -> Option<format::Result<()>>;
    /// The trace offset reached, for the release hook (saturating).
    fn position(&self) -> usize;
    /// After the record at `at` was used: the cut, if its bytes may have
    /// vanished while they were read ([`TraceReader::confirm_last`]);
    /// records in memory never do.
    #[inline(always)]
    fn confirm_last(&mut self, at: format::At) -> Option<format::Error> {
        let _ = at;
        None
    }
}

impl<'a> Records<'a> for TraceReader<'a> {
    #[inline(always)]
    fn events(&self) -> &'a TraceEvents {
        TraceReader::events(self)
    }

    #[inline(always)]
    fn next_into(&mut self, out: &mut Record<'a>) -> Option<format::Result<()>> {
        TraceReader::next_into(self, out)
    }

    /// The reader's position in the trace. It only fits a `usize` when the
    /// trace does (a memory map does); a stream past `usize::MAX` bytes
    /// (past 4 GiB on a 32-bit machine) saturates rather than wrapping
    /// round to the start.
    fn position(&self) -> usize {
        usize::try_from(TraceReader::position(self).0).unwrap_or(usize::MAX)
    }

    #[inline(always)]
    fn confirm_last(&mut self, at: format::At) -> Option<format::Error> {
        TraceReader::confirm_last(self, at)
    }
}

/// Where the record loop hands the records: one analyzer or several.
pub(super) trait Target<'a> {
    /// Whether any analyzer wants records of `slot` (they are decoded only
    /// then).
    fn wants(&self, slot: usize) -> bool;
    /// Hands over a decoded record; `Ok(true)` when an analyzer asked to
    /// stop (after this record).
    fn handle(&mut self, slot: usize, ev: &Event<'a>, out: &mut Vec<u8>) -> Result<bool, RunError>;
    /// Takes back what it kept of `ev`, the record last handed over, which
    /// turned out to be read from a vanished page (see
    /// [`Records::confirm_last`]); what it wrote into the output buffer the
    /// loop takes back itself. Default: nothing kept.
    #[cold]
    fn retract_last(&mut self, ev: &Event<'a>) {
        let _ = ev;
    }
}

/// The records whose length disagrees with their declaration: longer
/// than the header and the declared arguments take (a trace-events file
/// that lost arguments since the trace was written, which `simpletrace.py`
/// reads without a word, as `print` does). Counted among the records whose
/// arguments were decoded (those the selection keeps and an analyzer
/// wants); a record shorter than its declaration is a fault instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LengthMismatches {
    /// How many records.
    pub count: u64,
    /// The first of them (in trace order), as the fault
    /// [`format::Error::TrailingBytes`] a resyncing reader would take it
    /// for: its record number, offset, event, length and the bytes used.
    pub first: Option<format::Error>,
}

impl LengthMismatches {
    /// Adds the tally of records after these.
    pub(crate) fn append(&mut self, later: LengthMismatches) {
        self.count += later.count;
        if self.first.is_none() {
            self.first = later.first;
        }
    }

    /// Counts `record`, which has bytes left over (the first is described
    /// once, off the hot path).
    #[cold]
    fn add(&mut self, record: &Record<'_>) {
        if self.first.is_none() {
            self.first = Some(record.args_fault());
        }
        self.count += 1;
    }
}

/// How a loop over records ended.
pub(crate) struct LoopEnd {
    /// Event records read (a record whose arguments do not decode is the
    /// fault, not a record read; see `records_before`).
    pub(super) records: u64,
    pub(super) fault: Option<format::Error>,
    pub(super) stopped: bool,
    pub(super) mismatches: LengthMismatches,
}

/// The record loop: read a record, keep it if the selection does and a
/// target wants it, decode its arguments once, hand it over. `block` is
/// called with the output buffer whenever it passes `threshold` bytes
/// (and every 64 Ki records, so that an analyzer that writes nothing still
/// lets a memory map go behind it), with the position reached.
#[inline(always)]
pub(super) fn run<'a, R: Records<'a>, T: Target<'a>>(
    records: &mut R,
    target: &mut T,
    sel: &Resolved,
    buf: &mut Vec<u8>,
    threshold: usize,
    block: &mut BlockFn<'_>,
) -> Result<LoopEnd, RunError> {
    let events = records.events().len();
    let mut end = LoopEnd {
        records: 0,
        fault: None,
        stopped: false,
        mismatches: LengthMismatches::default(),
    };
    let mut ev = Event::placeholder(records.events().dropped());
    while let Some(read) = records.next_into(ev.record_mut()) {
        if let Err(e) = read {
            end.fault = Some(e);
            break;
        }
        let slot = slot_of(ev.decl(), events);
        let wanted = target.wants(slot) && sel.keep(slot, ev.pid(), ev.timestamp_ns());
        if wanted {
            match ev.decode_current() {
                Ok(0) => {}
                Ok(_) => end.mismatches.add(ev.record()),
                Err(e) => {
                    end.fault = Some(e);
                    break;
                }
            }
        }
        end.records += 1;
        if wanted {
            let mark = buf.len();
            let stop = target.handle(slot, &ev, buf)?;
            // Its bytes were used: were they still the file's? If not,
            // nothing of it goes out, and reading stops at it.
            if let Some(e) = records.confirm_last(ev.record().at) {
                buf.truncate(mark);
                target.retract_last(&ev);
                end.records -= 1;
                end.fault = Some(e);
                break;
            }
            if stop {
                end.stopped = true;
                break;
            }
        }
        if buf.len() > threshold || end.records.trailing_zeros() >= 16 {
            block(buf, records.position())?;
        }
    }
    Ok(end)
}

/// Records read before `fault`, or all that `reader` read without one.
/// A record whose arguments fail to decode has already been counted by the
/// reader, a record the reader rejects has not; the fault's own index
/// counts the records before it either way, so every path (sequential,
/// chunk-parallel, one analyzer or several) reports the same counts and
/// the mapping records (records read minus event records) come out right
/// (found by the `print` fuzz target: the paths disagreed by one).
pub(super) fn records_before(reader: &TraceReader<'_>, fault: Option<&format::Error>) -> u64 {
    match fault.and_then(format::Error::at) {
        Some(at) => at.record.0,
        None => reader.records_read(),
    }
}
