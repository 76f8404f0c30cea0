//! `alloc`: the malloc/free correlator. Matches the pointer an allocation
//! event returns with the pointer a free event is given, per process, and
//! reports what leaked, what was freed without being allocated, what was
//! freed twice, and how live memory and block lifetimes evolved.
//!
//! ```
//! use simpletrace::analyzers::Driver;
//! use simpletrace::analyzers::alloc::{AllocAnalyzer, AllocOptions};
//! use simpletrace::format::{TraceEvents, TraceReader, writer::{Arg, TraceWriter, WriterOptions}};
//!
//! let events = TraceEvents::parse("te", b"qemu_memalign(size_t alignment, size_t size, void *ptr)\n\
//!     qemu_vfree(void *ptr)\n")?;
//! let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events)?;
//! let memalign = |size: u64, ptr: u64| [Arg::from(4096u64), Arg::from(size), Arg::Ptr(ptr)];
//! w.event_by_name("qemu_memalign", 100, 7, &memalign(4096, 0x1000))?;
//! w.event_by_name("qemu_memalign", 200, 7, &memalign(512, 0x9000))?;
//! w.event_by_name("qemu_vfree", 300, 7, &[Arg::Ptr(0x1000)])?;
//! let trace = w.finish()?;
//!
//! let mut driver = Driver::new();
//! driver.add(AllocAnalyzer::new(AllocOptions::default()));
//! let outcome = driver.run(TraceReader::new(&trace, &events)?, &mut std::io::sink(), Default::default())?;
//! // The report is written out as it goes (a row per leak, per pid):
//! // complete() gives it as text and JSON in memory.
//! let report = &outcome.reports[0].clone().complete().json;
//! assert_eq!(report["leaks"]["blocks"], 1);
//! assert_eq!(report["leaks"]["bytes"], 512);
//! assert_eq!(report["lifetime_ns"]["max"], 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules
//!
//! A rule says what an event does and which of its arguments carry the
//! pointer and the size:
//! - `alloc` (`EVENT:ptr=ARG[,size=ARG]`): a block of `size` bytes now
//!   lives at `ptr`;
//! - `free` (`EVENT:ptr=ARG[,size=ARG]`): the block at `ptr` ends (a size
//!   given to the free is checked against the allocation's);
//! - `realloc` (`EVENT:old=ARG,new=ARG,size=ARG`): the block at `old` moves
//!   to `new` and now has `size` bytes, with C's special cases:
//!   `realloc(NULL, n)` allocates, `realloc(p, 0)` returning NULL frees `p`
//!   (glibc and GLib do this), any other NULL result is a failed call that
//!   leaves `p` allocated.
//!
//! [`BUILTIN_RULES`] cover QEMU's allocator events; each applies when the
//! trace-events file declares its event with the expected arguments. User
//! rules ([`RuleSpec`]) add to them, replace the built-in rule of the same
//! event, and are checked against the declarations ([`RuleSet::resolve`]).
//!
//! # Correlation
//!
//! File order decides (timestamps are not monotonic across threads), and
//! each pid is a separate address space. A free of a pointer that is not
//! live is a *double free* when the pointer was freed before and not
//! allocated since (the last [`AllocOptions::free_history`] freed pointers
//! are remembered), else an *unknown free* (allocated before the trace
//! started, lost in dropped records, or never allocated). An allocation at
//! a pointer that is already live is *allocated twice*: its free was
//! missed. A realloc chain is one block: its lifetime runs from the first
//! allocation to the final free, and it leaks as the block the first
//! allocation made.
//!
//! # Lost events
//!
//! Dropped-events records are counted and listed, and each finding that a
//! lost event could explain (a leak whose free, an unknown free whose
//! allocation, a double free or a block allocated twice whose event in
//! between may have been lost) is flagged as near lost events, a loss being
//! placed within [`LOSS_WINDOW`] bytes of trace on either side of its
//! record.
//!
//! # Memory
//!
//! What the run keeps grows with the blocks live at once, not with the
//! trace: a live block (or a freed pointer remembered) is a 56-byte entry
//! in a slab of chunks, found through an open-addressing index (`blocks`),
//! 75 to 90 bytes in all (measured in `tests/memory.rs`); a pid is 752
//! bytes of counters, peak and 8-point timeline, inline, and its place in
//! the map from pid to position (about 940 bytes a pid measured, with a
//! live block and a freed pointer of its own). The report
//! is made from that state when it is written: it is a
//! [`Document`](crate::report::Document) ([`Report::document`], its body
//! in `report`) whose lists go out a row at a time, so that listing every
//! leak costs 4 bytes a leak more, not a table and a JSON value of them;
//! [`Report::complete`] gives it as text and JSON in memory.
//!
//! API structure:
//! - [`AllocAnalyzer`] with its [`AllocOptions`];
//! - [`RuleSpec`] (a rule as written), [`BUILTIN_RULES`], [`RuleSet`]
//!   (rules checked against a trace-events file), [`RuleError`] and
//!   [`RuleWarning`].

use super::{
    Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, Setup, SetupWarning,
    TraceInfo,
};
use crate::format::ArgValue;

mod blocks;
mod report;
mod rules;
mod tracker;

use blocks::{Blocks, Full};
use rules::Action;
pub use rules::{
    BUILTIN_RULES, BuiltinRule, Family, Rule, RuleError, RuleKind, RuleSet, RuleSpec, RuleWarning,
};
pub use tracker::TimelinePoint;
use tracker::{Block, Findings, Incident, Peak, PidStats, Site, Tracker};

/// How many freed pointers are remembered by default for telling double
/// frees from unknown ones. Each costs about 90 bytes (the 56-byte table
/// entry its block had, an index slot of 8 bytes in an index at most three
/// quarters full, and a 12-byte place in the free queue, which holds up to
/// half as many stale places again): 23 MiB, and up to about 30 MiB while
/// the index and the queue grow.
pub const DEFAULT_FREE_HISTORY: usize = 1 << 18;

/// How many entries each list of the report shows by default.
pub const DEFAULT_TOP: usize = 10;

/// Points kept for the live-bytes timeline of all pids together: the
/// series is halved whenever it reaches this many, so it stays between
/// half and all of it.
pub const TIMELINE_POINTS: usize = 128;

/// Points kept for each pid's live-bytes timeline (as
/// [`TIMELINE_POINTS`]): few, inline (64 bytes each), so that a pid costs
/// under a kilobyte however many pids there are.
pub const PID_TIMELINE_POINTS: usize = 8;

/// How far from a dropped-events record, in bytes of trace, the events it
/// reports may have been lost. QEMU's writer thread writes that record
/// when it catches up with its 256 KiB ring buffer, before the records the
/// ring still holds, so the loss sits within about a ring of records on
/// either side; twice the ring covers the 8-byte type word the file adds
/// to each record.
pub const LOSS_WINDOW: u64 = 512 * 1024;

/// Rows of the live-bytes chart in the text report.
const CHART_ROWS: usize = 16;

/// Width of the live-bytes chart's bars (as the histograms').
const CHART_WIDTH: usize = 52;

// ---------------------------------------------------------------------------
// The analyzer

/// What `alloc` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocOptions {
    /// User rules; they add to the built-in ones and replace the built-in
    /// rule of the same event.
    pub rules: Vec<RuleSpec>,
    /// Whether the built-in rules apply (`--no-builtin` clears it).
    pub builtins: bool,
    /// Entries per list in the report (leaks, unknown frees, ...);
    /// `usize::MAX` for all.
    pub top: usize,
    /// Freed pointers remembered for recognising double frees; a pointer
    /// freed again after it was forgotten counts as an unknown free.
    pub free_history: usize,
}

impl Default for AllocOptions {
    fn default() -> Self {
        AllocOptions {
            rules: Vec::new(),
            builtins: true,
            top: DEFAULT_TOP,
            free_history: DEFAULT_FREE_HISTORY,
        }
    }
}

/// The `alloc` analyzer: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct AllocAnalyzer {
    options: AllocOptions,
    rules: RuleSet,
    tracker: Tracker,
}

impl Default for AllocAnalyzer {
    fn default() -> Self {
        AllocAnalyzer::new(AllocOptions::default())
    }
}

impl AllocAnalyzer {
    /// An analyzer with these options; its rules are checked against the
    /// trace's declarations when the run begins.
    pub fn new(options: AllocOptions) -> Self {
        let tracker = Tracker::new(options.top, options.free_history);
        AllocAnalyzer {
            options,
            rules: RuleSet::default(),
            tracker,
        }
    }

    /// The names of the events the rules in force (or, before the run, the
    /// rules asked for) apply to.
    fn rule_events(&self) -> Vec<String> {
        if !self.rules.is_empty() {
            return self
                .rules
                .rules()
                .iter()
                .map(|r| r.spec.event.clone())
                .collect();
        }
        let mut names: Vec<String> = self.options.rules.iter().map(|r| r.event.clone()).collect();
        if self.options.builtins {
            names.extend(BUILTIN_RULES.iter().map(|b| b.event.to_owned()));
        }
        names
    }

    fn site(ev: &Event<'_>, rule: u16) -> Site {
        Site {
            ts: ev.timestamp_ns(),
            pid: ev.pid(),
            record: ev.record().at.record.0,
            offset: ev.record().at.offset.0,
            rule,
        }
    }

    /// Resolves the rules against `events`: a user rule that does not fit
    /// is an error; a built-in rule whose event is declared with other
    /// arguments is left out, with a warning in the rule set.
    pub(crate) fn resolve(
        &mut self,
        events: &crate::format::TraceEvents,
    ) -> Result<(), AnalyzerError> {
        self.rules = RuleSet::resolve(events, &self.options.rules, self.options.builtins)
            .map_err(|e| AnalyzerError::setup("alloc", e))?;
        self.tracker.families = self.rules.rules().iter().map(|r| r.spec.family).collect();
        Ok(())
    }

    /// Applies `ev` as the analyzer does, for a writer that plots live
    /// memory (`json --format perfetto --alloc-counter`): the bytes its
    /// pid holds live after it, when it is one of the rules' records.
    pub(crate) fn observe(&mut self, ev: &Event<'_>) -> Result<Option<u128>, AnalyzerError> {
        if self.rules.rule_of(ev.decl()).is_none() {
            return Ok(None);
        }
        self.apply(ev)?;
        Ok(self.tracker.pids.get(ev.pid()).map(|p| p.live.bytes))
    }

    fn on_event(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.apply(ev)
    }

    fn apply(&mut self, ev: &Event<'_>) -> Result<(), AnalyzerError> {
        let Some((rule, action)) = self.rules.rule_of(ev.decl()) else {
            return Ok(());
        };
        let word = |position: usize| ev.arg(position).and_then(ArgValue::as_u64).unwrap_or(0);
        let at = Self::site(ev, rule);
        self.tracker.seen(at.ts);
        match action {
            Action::Alloc { ptr, size } => self.tracker.alloc(at, word(ptr), size.map(word)),
            Action::Free { ptr, size } => self.tracker.free(at, word(ptr), size.map(word)),
            Action::Realloc { old, new, size } => {
                self.tracker.realloc(at, word(old), word(new), word(size))
            }
        }
        .map_err(|Full| {
            AnalyzerError::new(
                "alloc",
                format!(
                    "record {} at byte offset {}: more than {} live blocks and remembered freed \
                     pointers; lower --free-history",
                    at.record,
                    at.offset,
                    blocks::MAX_ENTRIES
                ),
            )
        })
    }

    fn on_dropped(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let count = ev.arg(0).and_then(ArgValue::as_u64).unwrap_or(0);
        self.tracker.dropped(Self::site(ev, u16::MAX), count);
        Ok(())
    }
}

impl Analyzer for AllocAnalyzer {
    fn name(&self) -> &str {
        "alloc"
    }

    fn interest(&self) -> Interest {
        let mut names = self.rule_events();
        names.push(crate::format::events::DROPPED_EVENT_NAME.to_owned());
        // Event names are identifiers, which always parse as patterns; were
        // one not to, every event would be offered and the handlers would
        // still take only the rules' events.
        Interest::parse(&names.join(",")).unwrap_or_default()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on(crate::format::events::DROPPED_EVENT_NAME, Self::on_dropped);
        for name in self.rule_events() {
            h.on(&name, Self::on_event);
        }
        h
    }

    /// Resolves the rules against the declarations: a user rule that does
    /// not fit is an error; a built-in rule whose event is declared with
    /// other arguments is left out with a warning.
    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        self.resolve(setup.events())?;
        Ok(self
            .rules
            .warnings()
            .iter()
            .map(|w| SetupWarning::new("alloc", w))
            .collect())
    }

    /// A copy of it, ended (for a live report, `--follow`).
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        Some(self.clone().end(info))
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let fresh = Tracker::new(self.options.top, self.options.free_history);
        let tracker = std::mem::replace(&mut self.tracker, fresh);
        let finished = report::Finished::new(self.options.clone(), self.rules.clone(), tracker);
        Ok(Report::document(finished))
    }
}

// ---------------------------------------------------------------------------
// The report (see report.rs)

/// A timestamp of the trace clock as `SECONDS.MICROS` (the one formatter
/// of every report).
pub(crate) use super::human::seconds;

#[cfg(test)]
#[cfg(test)]
mod tests;
