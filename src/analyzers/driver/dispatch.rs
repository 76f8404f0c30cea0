//! Dispatch: which analyzer gets which record, and how the driver holds
//! analyzers.
//!
//! Each analyzer's handlers are resolved once per event into a [`Table`];
//! the analyzers of a run are combined into per-event bit [`Masks`]. The
//! record loop hands records to a [`Target`]: [`Alone`] (one analyzer,
//! monomorphised so its handler inlines: the hot path) or [`Many`] (several,
//! by mask).

use std::any::Any;
use std::sync::Arc;

use super::record_loop::Target;
use super::{ChunkStart, LoopEnd, RunError};
use crate::analyzers::select::Resolved;
use crate::analyzers::{
    Analyzer, AnalyzerError, Context, Event, Handler, Interest, ParallelAnalyzer, Report, Setup,
    SetupWarning, TraceInfo,
};
use crate::format::events::{EventDecl, TraceEvents};
use crate::format::{FileOffset, RecordIndex, TraceReader};

/// Called with the output buffer when it is full, and the trace position.
pub(super) type BlockFn<'f> = dyn FnMut(&mut Vec<u8>, usize) -> Result<(), RunError> + 'f;

/// The slot of a declaration in the handler tables: its position, or one
/// past the last for the dropped-events pseudo event.
pub(super) fn slot_of(decl: &EventDecl, events: usize) -> usize {
    if decl.is_dropped_pseudo() {
        events
    } else {
        decl.position
    }
}

/// Handler table of one analyzer: which handler (if any) each slot gets.
pub(super) struct Table<A> {
    handlers: Vec<Option<Handler<A>>>,
    /// The one handler every slot gets, when the analyzer wants every
    /// event and has only a catch-all (the printer): no table lookup.
    uniform: Option<Handler<A>>,
}

impl<A> Table<A> {
    pub(super) fn empty() -> Self {
        Table {
            handlers: Vec::new(),
            uniform: None,
        }
    }
}

impl<A: Analyzer> Table<A> {
    pub(super) fn build(analyzer: &A, events: &TraceEvents) -> Self {
        let handlers = analyzer.handlers();
        let interest = analyzer.interest();
        let resolve = |decl: &EventDecl| {
            if interest.wants(decl) {
                handlers.resolve(decl)
            } else {
                None
            }
        };
        let mut table: Vec<_> = events.iter().map(resolve).collect();
        table.push(resolve(events.dropped()));
        let uniform = match (&interest, handlers.is_catchall_only()) {
            (Interest::All, true) => handlers.resolve(events.dropped()),
            _ => None,
        };
        Table {
            handlers: table,
            uniform,
        }
    }

    pub(super) fn wants(&self) -> Vec<bool> {
        self.handlers.iter().map(Option::is_some).collect()
    }

    #[inline(always)]
    fn call(
        &self,
        a: &mut A,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        let handler = match self.uniform {
            Some(h) => Some(h),
            None => self.handlers.get(slot).copied().flatten(),
        };
        match handler {
            Some(h) => a.dispatch(h, ev, ctx),
            None => Ok(()),
        }
    }

    #[inline(always)]
    fn wants_slot(&self, slot: usize) -> bool {
        self.uniform.is_some() || self.handlers.get(slot).is_some_and(Option::is_some)
    }
}

/// One analyzer as the record loop's target: its table, no masks, no
/// dynamic call.
pub(super) struct Alone<'t, A> {
    pub(super) analyzer: &'t mut A,
    pub(super) table: &'t Table<A>,
}

impl<'a, A: Analyzer> Target<'a> for Alone<'_, A> {
    #[inline(always)]
    fn wants(&self, slot: usize) -> bool {
        self.table.wants_slot(slot)
    }

    #[inline(always)]
    fn handle(&mut self, slot: usize, ev: &Event<'a>, out: &mut Vec<u8>) -> Result<bool, RunError> {
        let mut ctx = Context::new(out);
        self.table.call(self.analyzer, slot, ev, &mut ctx)?;
        Ok(ctx.stopped())
    }

    fn retract_last(&mut self, ev: &Event<'a>) {
        self.analyzer.retract(ev);
    }
}

/// Most analyzers one run takes (the dispatch masks are u64).
pub const MAX_ANALYZERS: usize = 64;

/// Per slot, which analyzers want it: all, the parallel ones, the
/// sequential ones.
pub(super) struct Masks {
    pub(super) any: Vec<u64>,
    pub(super) parallel: Vec<u64>,
    pub(super) sequential: Vec<u64>,
    /// The mask of every slot, when they are all the same (every analyzer
    /// wants every event): saves a dependent load per record.
    pub(super) uniform_any: Option<u64>,
}

impl Masks {
    pub(super) fn new(slots: usize) -> Self {
        Masks {
            any: vec![0; slots],
            parallel: vec![0; slots],
            sequential: vec![0; slots],
            uniform_any: None,
        }
    }

    #[inline]
    pub(super) fn get(v: &[u64], slot: usize) -> u64 {
        v.get(slot).copied().unwrap_or(0)
    }

    #[inline]
    pub(super) fn any(&self, slot: usize) -> u64 {
        match self.uniform_any {
            Some(m) => m,
            None => Self::get(&self.any, slot),
        }
    }

    pub(super) fn settle(&mut self) {
        let first = self.any.first().copied();
        self.uniform_any = first.filter(|f| self.any.iter().all(|m| m == f));
    }
}

/// Iterates the set bits of a mask.
pub(super) fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// Which of a run's masks [`Many`] dispatches by.
#[derive(Clone, Copy)]
pub(super) enum Pick {
    /// Every analyzer that wants the record (a sequential pass).
    Any,
    /// The sequential analyzers only (records a chunk worker collected).
    Sequential,
}

/// Several analyzers as the record loop's target, each record to those
/// whose bit its slot's mask has.
pub(super) struct Many<'t, 'd> {
    pub(super) runners: &'t mut [Box<dyn Runner + 'd>],
    pub(super) masks: &'t Masks,
    pub(super) pick: Pick,
}

impl Many<'_, '_> {
    #[inline(always)]
    fn mask(&self, slot: usize) -> u64 {
        match self.pick {
            Pick::Any => self.masks.any(slot),
            Pick::Sequential => Masks::get(&self.masks.sequential, slot),
        }
    }
}

impl<'a> Target<'a> for Many<'_, '_> {
    #[inline(always)]
    fn wants(&self, slot: usize) -> bool {
        self.mask(slot) != 0
    }

    #[inline]
    fn handle(&mut self, slot: usize, ev: &Event<'a>, out: &mut Vec<u8>) -> Result<bool, RunError> {
        let mut stopped = false;
        for i in bits(self.mask(slot)) {
            let mut ctx = Context::new(out);
            if let Some(r) = self.runners.get_mut(i) {
                r.handle(slot, ev, &mut ctx)?;
            }
            stopped |= ctx.stopped();
        }
        Ok(stopped)
    }

    fn retract_last(&mut self, ev: &Event<'a>) {
        for r in self.runners.iter_mut() {
            r.retract(ev);
        }
    }
}

/// A fork of a parallel analyzer, working on one chunk.
pub(super) trait Partial: Send {
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError>;
    /// See [`Analyzer::retract`].
    fn retract(&mut self, ev: &Event<'_>);
    /// Runs the whole chunk when this fork is the only analyzer of the run.
    fn run_chunk(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        text: &mut Vec<u8>,
    ) -> Result<LoopEnd, RunError>;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// Makes forks; shared by the worker threads.
pub(super) trait Forker: Send + Sync {
    fn fork(&self, chunk: &ChunkStart) -> Box<dyn Partial>;
}

/// An analyzer as the driver holds it.
pub(super) trait Runner: Send {
    fn name(&self) -> &str;
    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError>;
    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError>;
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError>;
    /// Runs the whole trace when this is the only analyzer of the run.
    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError>;
    /// Parallel analyzers: a forker (after `begin`).
    fn forker(&mut self) -> Option<Arc<dyn Forker>>;
    fn merge(&mut self, part: Box<dyn Partial>) -> Result<(), AnalyzerError>;
    fn preamble(&mut self, out: &mut Vec<u8>);
    fn postamble(&mut self, out: &mut Vec<u8>);
    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError>;
    /// See [`Analyzer::retract`].
    fn retract(&mut self, ev: &Event<'_>);
    /// See [`Analyzer::restart`].
    fn restart(&mut self);
    /// See [`Analyzer::caught_up`].
    fn caught_up(&mut self) -> Result<(), AnalyzerError>;
    /// See [`Analyzer::report_so_far`].
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>>;
}

pub(super) struct Sequential<A> {
    pub(super) analyzer: A,
    pub(super) table: Option<Table<A>>,
}

impl<A: Analyzer> Runner for Sequential<A> {
    fn name(&self) -> &str {
        self.analyzer.name()
    }

    fn retract(&mut self, ev: &Event<'_>) {
        self.analyzer.retract(ev);
    }

    fn restart(&mut self) {
        self.analyzer.restart();
    }

    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        self.analyzer.caught_up()
    }

    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        self.analyzer.report_so_far(info)
    }

    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        self.analyzer.configure(setup)
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError> {
        self.analyzer.begin(info)?;
        let table = Table::build(&self.analyzer, info.events);
        let wants = table.wants();
        self.table = Some(table);
        Ok(wants)
    }

    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        match &self.table {
            Some(t) => t.call(&mut self.analyzer, slot, ev, ctx),
            None => Ok(()),
        }
    }

    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError> {
        let table = self.table.take().unwrap_or_else(Table::empty);
        let mut target = Alone {
            analyzer: &mut self.analyzer,
            table: &table,
        };
        let end = super::record_loop::run(reader, &mut target, sel, buf, threshold, block);
        self.table = Some(table);
        end
    }

    fn forker(&mut self) -> Option<Arc<dyn Forker>> {
        None
    }

    fn merge(&mut self, _part: Box<dyn Partial>) -> Result<(), AnalyzerError> {
        Ok(())
    }

    fn preamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.preamble(out);
    }

    fn postamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.postamble(out);
    }

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.analyzer.end(info)
    }
}

pub(super) struct Parallel<A> {
    pub(super) analyzer: A,
    pub(super) table: Option<Arc<Table<A>>>,
}

struct Fork<A> {
    analyzer: A,
    table: Arc<Table<A>>,
}

impl<A: ParallelAnalyzer + 'static> Partial for Fork<A> {
    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        self.table.call(&mut self.analyzer, slot, ev, ctx)
    }

    fn retract(&mut self, ev: &Event<'_>) {
        self.analyzer.retract(ev);
    }

    fn run_chunk(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        text: &mut Vec<u8>,
    ) -> Result<LoopEnd, RunError> {
        let mut target = Alone {
            analyzer: &mut self.analyzer,
            table: &self.table,
        };
        super::record_loop::run(reader, &mut target, sel, text, usize::MAX, &mut |_, _| {
            Ok(())
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Forks from a prototype (a fork made at the start), so workers never
/// touch the analyzer the main thread merges into.
struct Prototype<A> {
    proto: A,
    table: Arc<Table<A>>,
}

impl<A: ParallelAnalyzer + 'static> Forker for Prototype<A> {
    fn fork(&self, chunk: &ChunkStart) -> Box<dyn Partial> {
        Box::new(Fork {
            analyzer: self.proto.fork(chunk),
            table: Arc::clone(&self.table),
        })
    }
}

impl<A: ParallelAnalyzer + 'static> Runner for Parallel<A> {
    fn name(&self) -> &str {
        self.analyzer.name()
    }

    fn retract(&mut self, ev: &Event<'_>) {
        self.analyzer.retract(ev);
    }

    fn restart(&mut self) {
        self.analyzer.restart();
    }

    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        self.analyzer.caught_up()
    }

    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        self.analyzer.report_so_far(info)
    }

    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        self.analyzer.configure(setup)
    }

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<Vec<bool>, AnalyzerError> {
        self.analyzer.begin(info)?;
        let table = Table::build(&self.analyzer, info.events);
        let wants = table.wants();
        self.table = Some(Arc::new(table));
        Ok(wants)
    }

    #[inline]
    fn handle(
        &mut self,
        slot: usize,
        ev: &Event<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        match &self.table {
            Some(t) => t.call(&mut self.analyzer, slot, ev, ctx),
            None => Ok(()),
        }
    }

    fn run_alone(
        &mut self,
        sel: &Resolved,
        reader: &mut TraceReader<'_>,
        buf: &mut Vec<u8>,
        threshold: usize,
        block: &mut BlockFn<'_>,
    ) -> Result<LoopEnd, RunError> {
        let table = match &self.table {
            Some(t) => Arc::clone(t),
            None => Arc::new(Table::empty()),
        };
        let mut target = Alone {
            analyzer: &mut self.analyzer,
            table: &table,
        };
        super::record_loop::run(reader, &mut target, sel, buf, threshold, block)
    }

    fn forker(&mut self) -> Option<Arc<dyn Forker>> {
        let table = Arc::clone(self.table.as_ref()?);
        let origin = ChunkStart {
            index: 0,
            offset: FileOffset(0),
            record: RecordIndex(0),
            prev_timestamp_ns: None,
        };
        Some(Arc::new(Prototype {
            proto: self.analyzer.fork(&origin),
            table,
        }))
    }

    fn merge(&mut self, part: Box<dyn Partial>) -> Result<(), AnalyzerError> {
        match part.into_any().downcast::<Fork<A>>() {
            Ok(fork) => self.analyzer.merge(fork.analyzer),
            Err(_) => Err(AnalyzerError::new(
                self.analyzer.name().to_owned(),
                "internal error: a chunk result of another analyzer",
            )),
        }
    }

    fn preamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.preamble(out);
    }

    fn postamble(&mut self, out: &mut Vec<u8>) {
        self.analyzer.postamble(out);
    }

    fn end(&mut self, info: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.analyzer.end(info)
    }
}
