//! The parallel path: the printer's pipeline, generalised.
//!
//! A scanner thread cuts the trace into chunks at record boundaries
//! ([`Whole::chunks`]); a rayon task per chunk runs the record loop over
//! it, with a fork of every [`ParallelAnalyzer`](crate::analyzers::ParallelAnalyzer)
//! as the target, and collects the records the sequential analyzers want
//! (decoding, id resolution and argument checks all happen there, ahead
//! of time, in parallel); the calling thread then takes the chunks in file
//! order, writes their output, merges the forks, and runs the record loop
//! again over the collected records with the sequential analyzers as the
//! target. A bounded queue keeps the memory flat.

use core::ops::Range;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::dispatch::{Forker, Many, Masks, Partial, Pick};
use super::record_loop::{self, Records, Target, records_before};
use super::{
    ChunkStart, Driver, LengthMismatches, LoopEnd, Parallelism, Ran, RunError, fail_after,
};
use crate::analyzers::select::Resolved;
use crate::analyzers::{AnalyzerError, Context, Event};
use crate::format::chunks::Chunk;
use crate::format::events::{EventDecl, TraceEvents};
use crate::format::{self, Record, RecordIndex, Skips};
use crate::input::source::{RecordSource, Whole};

/// What a worker produced for one chunk.
struct ChunkWork<'r> {
    text: Vec<u8>,
    partials: Vec<(usize, Box<dyn Partial>)>,
    /// Records for the sequential analyzers, in file order, each with
    /// where its payload lies in `payloads`.
    batch: Vec<(Record<'r>, Range<usize>)>,
    /// The payloads of `batch`'s records, copied when the worker read
    /// them: the main thread feeds them to the sequential analyzers later,
    /// and by then a mapped trace's pages may have vanished under a
    /// truncation (or changed under a rewrite); what the worker checked
    /// is what they get.
    payloads: Vec<u8>,
    records: u64,
    /// Records read from the start of the trace to the end of this chunk
    /// (or its fault), mappings included.
    records_read: u64,
    fault: Option<format::Error>,
    /// The corrupt regions the chunk's reader stepped over.
    skips: Skips,
    error: Option<AnalyzerError>,
    stopped: bool,
    end: usize,
    /// The chunk's records longer than their declarations.
    mismatches: LengthMismatches,
}

/// A chunk worker's target: the forks of the parallel analyzers, and the
/// collection of the records the sequential ones want.
struct ChunkTarget<'w, 'r> {
    partials: &'w mut [(usize, Box<dyn Partial>)],
    masks: &'w Masks,
    batch: &'w mut Vec<(Record<'r>, Range<usize>)>,
    payloads: &'w mut Vec<u8>,
}

impl<'r> Target<'r> for ChunkTarget<'_, 'r> {
    #[inline(always)]
    fn wants(&self, slot: usize) -> bool {
        self.masks.any(slot) != 0
    }

    fn handle(&mut self, slot: usize, ev: &Event<'r>, out: &mut Vec<u8>) -> Result<bool, RunError> {
        let par = Masks::get(&self.masks.parallel, slot);
        let mut stopped = false;
        for (i, part) in self.partials.iter_mut() {
            if par & (1 << *i) == 0 {
                continue;
            }
            let mut ctx = Context::new(out);
            part.handle(slot, ev, &mut ctx)?;
            stopped |= ctx.stopped();
        }
        if Masks::get(&self.masks.sequential, slot) != 0 {
            let record = *ev.record();
            let start = self.payloads.len();
            self.payloads.extend_from_slice(record.payload);
            self.batch.push((record, start..self.payloads.len()));
        }
        Ok(stopped)
    }

    fn retract_last(&mut self, ev: &Event<'r>) {
        for (_, part) in self.partials.iter_mut() {
            part.retract(ev);
        }
        if let Some((record, range)) = self.batch.last()
            && record.at == ev.record().at
        {
            self.payloads.truncate(range.start);
            self.batch.pop();
        }
    }
}

/// The records a worker collected, as a source for the record loop.
struct Collected<'b, 'r> {
    events: &'r TraceEvents,
    batch: core::slice::Iter<'b, (Record<'r>, Range<usize>)>,
    payloads: &'b [u8],
}

impl<'b> Records<'b> for Collected<'b, '_> {
    fn events(&self) -> &'b TraceEvents {
        self.events
    }

    #[inline]
    fn next_into(&mut self, out: &mut Record<'b>) -> Option<format::Result<()>> {
        let (record, range) = self.batch.next()?;
        *out = Record {
            payload: self.payloads.get(range.clone()).unwrap_or_default(),
            ..*record
        };
        Some(Ok(()))
    }

    fn position(&self) -> usize {
        0
    }
}

impl Driver<'_> {
    pub(super) fn run_parallel(
        &mut self,
        source: Whole<'_>,
        out: &mut dyn Write,
        par: Parallelism,
        masks: &Masks,
        forkers: &[(usize, Arc<dyn Forker>)],
        sel: &Resolved,
    ) -> Result<Ran, RunError> {
        let threads = par.threads;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("simpletrace-worker-{i}"))
            .build()
            .map_err(|e| RunError::Io(io::Error::other(e)))?;
        let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        let chunk_bytes = par.chunk_bytes;
        let trace_events = source.events();
        let events = trace_events.len();
        let keep = move |decl: &EventDecl, pid: u32, ts: u64| sel.keep_decl(decl, events, pid, ts);
        let keep = &keep;
        pool.in_place_scope(|workers| {
            std::thread::scope(|s| {
                let (order_tx, order_rx) =
                    mpsc::sync_channel::<mpsc::Receiver<ChunkWork<'_>>>(threads + 2);
                let (spare, stop) = (&spare, &stop);
                s.spawn(move || {
                    let keep = if sel.active {
                        Some(keep as format::KeepFn<'_>)
                    } else {
                        None
                    };
                    for chunk in source.chunks(chunk_bytes, keep) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let (tx, rx) = mpsc::sync_channel(1);
                        if order_tx.send(rx).is_err() {
                            break;
                        }
                        workers.spawn(move |_| {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let text = spare
                                .lock()
                                .ok()
                                .and_then(|mut v| v.pop())
                                .unwrap_or_else(|| Vec::with_capacity(chunk_bytes * 2));
                            let _ = tx.send(work_chunk(chunk, text, masks, forkers, sel));
                        });
                    }
                });
                let result = self.consume_in_order(order_rx, out, spare, masks, sel, trace_events);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                result
            })
        })
    }

    /// The main thread's side of the pipeline; returning drops the queue,
    /// which stops the scanner.
    fn consume_in_order(
        &mut self,
        order: mpsc::Receiver<mpsc::Receiver<ChunkWork<'_>>>,
        out: &mut dyn Write,
        spare: &Mutex<Vec<Vec<u8>>>,
        masks: &Masks,
        sel: &Resolved,
        events: &TraceEvents,
    ) -> Result<Ran, RunError> {
        let mut ran = Ran::default();
        let mut buf = Vec::new();
        for pending in order {
            let Ok(mut work) = pending.recv() else {
                return Err(RunError::Io(io::Error::other(
                    "a worker thread stopped without a result",
                )));
            };
            out.write_all(&work.text).map_err(RunError::Io)?;
            ran.records += work.records;
            ran.records_read = work.records_read;
            // Counted by the worker, which decoded the collected records
            // too (the loop over them below counts them again: ignored).
            ran.mismatches.append(core::mem::take(&mut work.mismatches));
            ran.skips.append(core::mem::take(&mut work.skips));
            if let Some(e) = work.error.take() {
                return Err(RunError::Analyzer(e));
            }
            for (i, part) in work.partials.drain(..) {
                if let Some(r) = self.runners.get_mut(i) {
                    r.merge(part)?;
                }
            }
            // The records the worker collected (and checked) for the
            // sequential analyzers, through the same loop.
            let mut collected = Collected {
                events,
                batch: work.batch.iter(),
                payloads: &work.payloads,
            };
            let mut target = Many {
                runners: &mut self.runners,
                masks,
                pick: Pick::Sequential,
            };
            let fed = record_loop::run(
                &mut collected,
                &mut target,
                sel,
                &mut buf,
                usize::MAX,
                &mut |_, _| Ok(()),
            );
            let fed = match fed {
                Ok(fed) => fed,
                Err(e) => return Err(fail_after(out, &buf, e)),
            };
            out.write_all(&buf).map_err(RunError::Io)?;
            buf.clear();
            ran.stopped = work.stopped || fed.stopped;
            // The worker has checked that these arguments decode; if they
            // do not, the first that does not is the fault.
            let fault = fed.fault.or(work.fault);
            if fault.is_some() || ran.stopped {
                out.flush().map_err(RunError::Io)?;
                ran.fault = fault;
                return Ok(ran);
            }
            self.release(work.end);
            work.text.clear();
            if let Ok(mut v) = spare.lock() {
                v.push(work.text);
            }
        }
        out.flush().map_err(RunError::Io)?;
        Ok(ran)
    }
}

/// A worker's job: the record loop over one chunk, with the forks as its
/// target (alone: the one fork's own monomorphised loop).
fn work_chunk<'r>(
    chunk: Chunk<'r>,
    mut text: Vec<u8>,
    masks: &Masks,
    forkers: &[(usize, Arc<dyn Forker>)],
    sel: &Resolved,
) -> ChunkWork<'r> {
    let start = ChunkStart {
        index: chunk.index,
        offset: chunk.reader.position(),
        record: RecordIndex(chunk.reader.records_read()),
        prev_timestamp_ns: chunk.prev_timestamp_ns,
    };
    let mut partials: Vec<(usize, Box<dyn Partial>)> =
        forkers.iter().map(|(i, f)| (*i, f.fork(&start))).collect();
    let mut batch = Vec::new();
    let mut payloads = Vec::new();
    let mut reader = chunk.reader;
    let alone = masks.sequential.iter().all(|&m| m == 0);
    let end = match (partials.as_mut_slice(), alone) {
        ([(_, part)], true) => part.run_chunk(sel, &mut reader, &mut text),
        (partials, _) => {
            let mut target = ChunkTarget {
                partials,
                masks,
                batch: &mut batch,
                payloads: &mut payloads,
            };
            record_loop::run(
                &mut reader,
                &mut target,
                sel,
                &mut text,
                usize::MAX,
                &mut |_, _| Ok(()),
            )
        }
    };
    let (end, error) = match end {
        Ok(end) => (end, None),
        Err(e) => {
            let error = match e {
                RunError::Analyzer(e) => e,
                RunError::Io(e) => AnalyzerError::new("driver", e.to_string()),
            };
            let end = LoopEnd {
                records: 0,
                fault: None,
                stopped: false,
                mismatches: LengthMismatches::default(),
            };
            (end, Some(error))
        }
    };
    ChunkWork {
        text,
        partials,
        batch,
        payloads,
        records: end.records,
        records_read: records_before(&reader, end.fault.as_ref()),
        fault: end.fault,
        skips: reader.take_skips(),
        error,
        stopped: end.stopped,
        end: chunk.range.end,
        mismatches: end.mismatches,
    }
}
