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
#[derive(Debug)]
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

    fn on_event(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
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
        self.rules = RuleSet::resolve(setup.events(), &self.options.rules, self.options.builtins)
            .map_err(|e| AnalyzerError::setup("alloc", e))?;
        self.tracker.families = self.rules.rules().iter().map(|r| r.spec.family).collect();
        Ok(self
            .rules
            .warnings()
            .iter()
            .map(|w| SetupWarning::new("alloc", w))
            .collect())
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
mod tests {
    use super::report::{big, plural, size_text};
    use super::tracker::{Run, Timeline};
    use super::*;
    use crate::format::events::TraceEvents;
    use serde_json::json;

    const DECLS: &[u8] = b"\
qemu_memalign(size_t alignment, size_t size, void *ptr) \"\"
qemu_vfree(void *ptr) \"\"
qemu_anon_ram_alloc(size_t size, void *ptr) \"\"
qemu_anon_ram_free(void *p, size_t size) \"\"
pool_get(const char *name, void *obj, uint32_t len, bool zeroed) \"\"
pool_put(void *obj) \"\"
";

    fn events() -> TraceEvents {
        TraceEvents::parse("te", DECLS).unwrap()
    }

    fn spec(kind: RuleKind, text: &str) -> RuleSpec {
        RuleSpec::parse(kind, text).unwrap()
    }

    #[test]
    fn specs_parse_in_any_order_with_blanks() {
        let r = spec(RuleKind::Alloc, " pool_get : size = len , ptr = obj ");
        assert_eq!(r.event, "pool_get");
        assert_eq!((r.arg("ptr"), r.arg("size")), (Some("obj"), Some("len")));
        assert_eq!(r.to_string(), "pool_get:size=len,ptr=obj");
        assert!(!r.is_builtin());
        let r = spec(RuleKind::Free, "pool_put:ptr=obj");
        assert_eq!((r.arg("ptr"), r.arg("size")), (Some("obj"), None));
        // Names are identifiers as the trace-events file's are: a leading
        // digit is one (refused before the identifier test was shared).
        let r = spec(RuleKind::Free, "9p_put:ptr=1obj");
        assert_eq!((r.event.as_str(), r.arg("ptr")), ("9p_put", Some("1obj")));
    }

    #[test]
    fn spec_syntax_errors_say_what_is_wrong() {
        let cases = [
            (RuleKind::Alloc, "pool_get", "no ':' after the event name"),
            (RuleKind::Alloc, ":ptr=p", "the event name is empty"),
            (RuleKind::Alloc, "a-b:ptr=p", "'a-b' is not an event name"),
            (RuleKind::Alloc, "e:ptr=p,", "an empty KEY=ARG item"),
            (RuleKind::Alloc, "e:ptr", "'ptr' is not KEY=ARG"),
            (
                RuleKind::Alloc,
                "e:ptr=p,old=q",
                "unknown key 'old' (a alloc rule takes ptr, size)",
            ),
            (
                RuleKind::Free,
                "e:ptr=",
                "'' given to ptr is not an argument name",
            ),
            (RuleKind::Free, "e:ptr=p,ptr=q", "'ptr' is given twice"),
            (RuleKind::Free, "e:size=n", "'ptr=ARG' is missing"),
            (RuleKind::Realloc, "e:old=a,size=n", "'new=ARG' is missing"),
        ];
        for (kind, text, problem) in cases {
            match RuleSpec::parse(kind, text) {
                Err(RuleError::Syntax { problem: p, .. }) => assert_eq!(p, problem, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = RuleSpec::parse(RuleKind::Realloc, "e:old=a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--realloc 'e:old=a': 'new=ARG' is missing; expected EVENT:old=ARG,new=ARG,size=ARG"
        );
    }

    #[test]
    fn builtins_are_picked_by_declaration() {
        let set = RuleSet::resolve(&events(), &[], true).unwrap();
        let names: Vec<&str> = set.rules().iter().map(|r| r.spec.event.as_str()).collect();
        // qemu_vmalloc and the g_* events are not declared: left out
        // silently; qemu_anon_ram_free names its pointer 'p': a warning.
        assert_eq!(
            names,
            ["qemu_memalign", "qemu_vfree", "qemu_anon_ram_alloc"]
        );
        assert_eq!(set.warnings().len(), 1);
        let w = set.warnings()[0].to_string();
        assert_eq!(
            w,
            "built-in alloc rule for qemu_anon_ram_free not used: the trace-events file's \
             qemu_anon_ram_free has no argument 'ptr' (it has p, size); give it as --free \
             'EVENT:ptr=ARG[,size=ARG]' with the right argument names"
        );
        let memalign = &set.rules()[0];
        assert_eq!(
            memalign.action,
            Action::Alloc {
                ptr: 2,
                size: Some(1)
            }
        );
        assert!(RuleSet::resolve(&events(), &[], false).unwrap().is_empty());
    }

    #[test]
    fn user_rules_add_to_and_replace_builtins() {
        let user = [
            spec(RuleKind::Free, "qemu_anon_ram_free:ptr=p,size=size"),
            spec(RuleKind::Alloc, "pool_get:ptr=obj,size=len"),
        ];
        let set = RuleSet::resolve(&events(), &user, true).unwrap();
        let names: Vec<(&str, bool)> = set
            .rules()
            .iter()
            .map(|r| (r.spec.event.as_str(), r.spec.is_builtin()))
            .collect();
        assert_eq!(
            names,
            [
                ("qemu_anon_ram_free", false),
                ("pool_get", false),
                ("qemu_memalign", true),
                ("qemu_vfree", true),
                ("qemu_anon_ram_alloc", true),
            ]
        );
        assert!(set.warnings().is_empty());
        let only = RuleSet::resolve(&events(), &user[1..], false).unwrap();
        assert_eq!(only.rules().len(), 1);
        assert_eq!(
            only.rules()[0].action,
            Action::Alloc {
                ptr: 1,
                size: Some(2)
            }
        );
    }

    #[test]
    fn user_rules_are_checked_against_declarations() {
        let check = |kind, text: &str| {
            RuleSet::resolve(&events(), &[spec(kind, text)], true)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            check(RuleKind::Alloc, "pool_gett:ptr=obj"),
            "--alloc pool_gett: the trace-events file declares no event 'pool_gett' (did you mean 'pool_get'?)"
        );
        assert_eq!(
            check(RuleKind::Alloc, "nothing_like_it:ptr=obj"),
            "--alloc nothing_like_it: the trace-events file declares no event 'nothing_like_it'"
        );
        assert_eq!(
            check(RuleKind::Free, "pool_put:ptr=p"),
            "--free pool_put: pool_put has no argument 'p' (it has obj)"
        );
        assert_eq!(
            check(RuleKind::Alloc, "pool_get:ptr=name"),
            "--alloc pool_get: argument 'name' of pool_get is a 'const char *'; pointers and sizes must be integer or pointer arguments"
        );
        assert_eq!(
            check(RuleKind::Alloc, "pool_get:ptr=obj,size=zeroed"),
            "--alloc pool_get: argument 'zeroed' of pool_get is a 'bool'; pointers and sizes must be integer or pointer arguments"
        );
        // The dropped-events pseudo event is no declaration.
        assert!(
            check(RuleKind::Free, "dropped:ptr=num_events_dropped").contains("declares no event")
        );
        let twice = [
            spec(RuleKind::Alloc, "pool_get:ptr=obj"),
            spec(RuleKind::Free, "pool_get:ptr=obj"),
        ];
        assert_eq!(
            RuleSet::resolve(&events(), &twice, true).unwrap_err(),
            RuleError::DuplicateRule {
                event: "pool_get".into()
            }
        );
    }

    /// A tracker with rule 0 of family QemuVfree, rule 1 of AnonRam, rule 2
    /// of none.
    fn tracker(keep: usize, history: usize) -> Tracker {
        let mut t = Tracker::new(keep, history);
        t.families = vec![Some(Family::QemuVfree), Some(Family::AnonRam), None];
        t
    }

    /// Record `n` of pid `pid` at `ts`, of rule `rule`, at offset 100 * n.
    fn at(n: u64, ts: u64, pid: u32, rule: u16) -> Site {
        Site {
            ts,
            pid,
            record: n,
            offset: 100 * n,
            rule,
        }
    }

    #[test]
    fn alloc_free_lifetimes_and_live_bytes() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 1000, 1, 0), 0xa0, Some(100)).unwrap();
        t.alloc(at(2, 1500, 1, 0), 0xb0, Some(50)).unwrap();
        t.free(at(3, 1400, 1, 0), 0xa0, None).unwrap(); // lived 400
        t.free(at(4, 1450, 1, 0), 0xb0, None).unwrap(); // -50: the clock stepped back
        t.free(at(5, 1600, 1, 0), 0, None).unwrap();
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.allocations, s.allocated_bytes), (2, 150));
        assert_eq!((s.frees, s.freed_bytes, s.null_frees), (2, 150, 1));
        assert_eq!(t.lifetimes.count(), 2);
        assert_eq!(
            (t.lifetimes.min(), t.lifetimes.max()),
            (Some(-50), Some(400))
        );
        assert_eq!(
            t.total.peak(),
            Some(Peak {
                bytes: 150,
                blocks: 2,
                ts: 1500,
                pid: 1,
                record: 2
            })
        );
        assert_eq!((t.total.bytes, t.total.blocks), (0, 0));
        let ends: Vec<u128> = t.total.timeline.points().iter().map(|p| p.end).collect();
        assert_eq!(ends, [100, 150, 50, 0]);
        assert_eq!(t.blocks.live_len(), 0);
    }

    #[test]
    fn double_unknown_and_null() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 10, 1, 0), 0xa0, Some(8)).unwrap();
        t.free(at(2, 20, 1, 0), 0xa0, None).unwrap();
        t.free(at(3, 30, 1, 0), 0xa0, None).unwrap(); // double
        t.free(at(4, 40, 1, 0), 0xa0, None).unwrap(); // double again, same first free
        t.free(at(5, 50, 1, 0), 0xc0, None).unwrap(); // unknown
        t.free(at(6, 60, 1, 0), 0xc0, None).unwrap(); // now a double free
        t.free(at(7, 70, 2, 0), 0xa0, None).unwrap(); // another pid: unknown
        t.alloc(at(8, 80, 1, 0), 0xa0, Some(8)).unwrap(); // reallocated: forgotten
        t.free(at(9, 90, 1, 0), 0xa0, None).unwrap(); // a plain free
        assert_eq!(
            (
                t.pids.get(1).unwrap().double_frees,
                t.pids.get(1).unwrap().unknown_frees
            ),
            (3, 1)
        );
        assert_eq!(
            (
                t.pids.get(2).unwrap().double_frees,
                t.pids.get(2).unwrap().unknown_frees
            ),
            (0, 1)
        );
        assert_eq!(t.pids.get(1).unwrap().frees, 6);
        let firsts: Vec<(u64, Option<u64>)> = t
            .double
            .first
            .iter()
            .map(|i| (i.record, i.other().map(|o| o.record)))
            .collect();
        assert_eq!(firsts, [(3, Some(2)), (4, Some(2)), (6, Some(5))]);
        let unknown: Vec<(u64, u32)> = t.unknown.first.iter().map(|i| (i.record, i.pid)).collect();
        assert_eq!(unknown, [(5, 1), (7, 2)]);
        assert_eq!(t.lifetimes.count(), 2);
    }

    #[test]
    fn null_results_and_allocated_twice() {
        let mut t = tracker(1, 100);
        t.alloc(at(1, 10, 1, 0), 0, Some(0)).unwrap();
        t.alloc(at(2, 20, 1, 0), 0, Some(64)).unwrap();
        t.alloc(at(3, 30, 1, 0), 0, None).unwrap();
        t.alloc(at(4, 40, 1, 0), 0xa0, Some(10)).unwrap();
        t.alloc(at(5, 50, 1, 0), 0xa0, Some(30)).unwrap(); // twice: the 10 go
        t.alloc(at(6, 60, 1, 0), 0xa0, Some(5)).unwrap(); // twice again, not kept
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.zero_null, s.failed, s.allocations), (1, 2, 3));
        assert_eq!((t.twice.count, t.twice.first.len()), (2, 1));
        let i = t.twice.first[0];
        assert_eq!(
            (i.record, i.other().map(|o| o.record), i.sizes()),
            (5, Some(4), Some((10, 30)))
        );
        assert_eq!((t.total.bytes, t.total.blocks), (5, 1));
        assert_eq!(t.total.peak().map(|p| (p.bytes, p.record)), Some((30, 5)));
        // The dropped block's lifetime is unknown: none recorded.
        assert!(t.lifetimes.is_empty());
    }

    #[test]
    fn realloc_chains() {
        let mut t = tracker(10, 100);
        t.realloc(at(1, 100, 1, 2), 0, 0xa0, 10).unwrap(); // realloc(NULL, 10): malloc
        t.realloc(at(2, 200, 1, 2), 0xa0, 0xb0, 20).unwrap(); // moves
        t.realloc(at(3, 300, 1, 2), 0xb0, 0xb0, 40).unwrap(); // grows in place
        t.realloc(at(4, 400, 1, 2), 0xb0, 0, 80).unwrap(); // fails: stays
        t.free(at(5, 500, 1, 2), 0xa0, None).unwrap(); // the old address: a double free
        let b = t.blocks.live(1, 0xb0).unwrap();
        assert_eq!((b.size, b.reallocs, b.born.record), (40, 2, 1));
        assert_eq!(b.moved.map(|m| m.record), Some(3));
        t.realloc(at(6, 600, 1, 2), 0xb0, 0, 0).unwrap(); // realloc(p, 0): frees
        let s = t.pids.get(1).unwrap();
        assert_eq!(
            (s.allocations, s.reallocs, s.failed, s.frees, s.double_frees),
            (1, 2, 1, 2, 1)
        );
        // One lifetime, from the first allocation of the chain.
        assert_eq!((t.lifetimes.count(), t.lifetimes.max()), (1, Some(500)));
        assert_eq!(s.freed_bytes, 40);
        assert_eq!(t.blocks.live_len(), 0);
        let ends: Vec<u128> = t.total.timeline.points().iter().map(|p| p.end).collect();
        assert_eq!(ends, [10, 20, 40, 0]);
        // Sizes: 10, 20, 40 (not the failed call's).
        assert_eq!((t.sizes.count(), t.sizes.sum()), (3, 70));
    }

    #[test]
    fn realloc_of_unknown_pointers_and_onto_live_ones() {
        let mut t = tracker(10, 100);
        t.realloc(at(1, 100, 1, 2), 0xa0, 0xb0, 16).unwrap(); // unknown old: new chain at b0
        t.alloc(at(2, 200, 1, 2), 0xc0, Some(8)).unwrap();
        t.realloc(at(3, 300, 1, 2), 0xb0, 0xc0, 32).unwrap(); // onto a live block: twice
        t.realloc(at(4, 400, 1, 2), 0, 0, 0).unwrap(); // realloc(NULL, 0) returning NULL
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.unknown_frees, s.allocated_twice, s.zero_null), (1, 1, 1));
        assert_eq!((s.reallocs, s.allocations), (2, 1));
        let b = t.blocks.live(1, 0xc0).unwrap();
        assert_eq!((b.size, b.born.record, b.reallocs), (32, 1, 1));
        assert_eq!((t.total.bytes, t.total.blocks), (32, 1));
        assert_eq!(t.blocks.live_len(), 1);
    }

    #[test]
    fn sizes_and_families_are_checked_on_free() {
        let mut t = tracker(10, 100);
        t.alloc(at(1, 10, 1, 1), 0xa0, Some(4096)).unwrap();
        t.free(at(2, 20, 1, 1), 0xa0, Some(8192)).unwrap(); // same family, other size
        t.alloc(at(3, 30, 1, 1), 0xb0, Some(4096)).unwrap();
        t.free(at(4, 40, 1, 0), 0xb0, None).unwrap(); // anon RAM given to qemu_vfree
        t.alloc(at(5, 50, 1, 2), 0xc0, None).unwrap(); // a user rule: no size
        t.free(at(6, 60, 1, 1), 0xc0, Some(1)).unwrap(); // unsized, no family: fine
        let s = t.pids.get(1).unwrap();
        assert_eq!((s.size_mismatches, s.mismatched_frees), (1, 1));
        assert_eq!(t.size_mismatch.first[0].sizes(), Some((4096, 8192)));
        assert_eq!(t.mismatched.first[0].other().map(|o| o.rule), Some(1));
        assert_eq!(s.freed_bytes, 8192);
        // The unsized block counts no bytes and no size sample.
        assert_eq!((s.allocated_bytes, t.sizes.count()), (8192, 2));
    }

    #[test]
    fn free_history_forgets_the_oldest() {
        let mut t = tracker(10, 2);
        for (n, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
            t.alloc(at(n as u64, 10, 1, 0), p, Some(1)).unwrap();
        }
        for (n, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
            t.free(at(10 + n as u64, 20, 1, 0), p, None).unwrap();
        }
        assert_eq!(t.blocks.forgotten(), 1);
        t.free(at(20, 30, 1, 0), 0xa0, None).unwrap(); // forgotten: unknown
        t.free(at(21, 30, 1, 0), 0xc0, None).unwrap(); // remembered: double
        assert_eq!((t.unknown.count, t.double.count), (1, 1));
        // A long run of reallocated pointers leaves the queue bounded.
        for i in 0..10_000u64 {
            t.alloc(at(100 + i, 40, 1, 0), 0x1000 + i % 7, Some(1))
                .unwrap();
            t.free(at(100 + i, 40, 1, 0), 0x1000 + i % 7, None).unwrap();
        }
        assert!(t.blocks.freed_len() <= 2);
        assert!(t.blocks.queue_len() <= 96 + 1, "{}", t.blocks.queue_len());
        let mut none = tracker(10, 0);
        none.alloc(at(1, 1, 1, 0), 0xa0, Some(1)).unwrap();
        none.free(at(2, 2, 1, 0), 0xa0, None).unwrap();
        none.free(at(3, 3, 1, 0), 0xa0, None).unwrap();
        assert_eq!(
            (
                none.unknown.count,
                none.double.count,
                none.blocks.forgotten()
            ),
            (1, 0, 2)
        );
    }

    #[test]
    fn losses_are_placed_within_the_window() {
        let w = LOSS_WINDOW;
        let site = |offset: u64| Site {
            ts: offset,
            pid: 1,
            record: offset,
            offset,
            rule: 0,
        };
        let mut t = tracker(10, 100);
        // An unknown free, then a loss reported within the window after it:
        // the loss may have come before the free.
        t.free(site(1000), 0xa0, None).unwrap();
        t.dropped(site(1000 + w - 1), 5);
        assert_eq!((t.unknown.count, t.unknown.near_loss), (1, 1));
        assert!(t.unknown.first[0].near_loss);
        // An unknown free after a loss: near it, whatever the distance.
        t.free(site(10 * w), 0xb0, None).unwrap();
        assert_eq!(t.unknown.near_loss, 2);
        // A block allocated twice, both well after the last loss, and a
        // loss reported more than a window later: not near.
        t.alloc(site(20 * w), 0xc0, Some(1)).unwrap();
        t.alloc(site(20 * w + 10), 0xc0, Some(1)).unwrap();
        t.dropped(site(21 * w + 10), 1);
        assert_eq!((t.twice.count, t.twice.near_loss), (1, 0));
        // A double free whose first free is within a window after a loss.
        t.alloc(site(30 * w), 0xd0, Some(1)).unwrap();
        t.free(site(30 * w + 1), 0xd0, None).unwrap();
        t.dropped(site(31 * w), 1);
        t.free(site(31 * w + 2), 0xd0, None).unwrap();
        assert_eq!((t.double.count, t.double.near_loss), (1, 1));
        // Leaks: allocated before the last loss's window ends.
        assert!(t.near_past_loss(Some(31 * w + w - 1)));
        assert!(!t.near_past_loss(Some(32 * w)));
        assert_eq!((t.drops.records, t.drops.lost), (3, 7));
    }

    #[test]
    fn timelines_stay_bounded_and_keep_extremes() {
        let mut tl = Timeline::<TIMELINE_POINTS>::new();
        // 0, 1, ..., 999 then back to 0.
        for i in 0..1000u64 {
            tl.record(i, u128::from(i));
        }
        tl.record(1000, 0);
        let points = tl.points();
        assert!(points.len() <= TIMELINE_POINTS && points.len() >= TIMELINE_POINTS / 2);
        let changes: u64 = points.iter().map(|p| p.changes).sum();
        assert_eq!(changes, 1001);
        assert_eq!(points.iter().map(|p| p.max).max(), Some(999));
        assert_eq!(points.first().map(|p| (p.first_ts, p.min)), Some((0, 0)));
        assert_eq!(points.last().map(|p| (p.last_ts, p.end)), Some((1000, 0)));
        // Consecutive points cover consecutive changes.
        for pair in points.windows(2) {
            assert_eq!(pair[0].last_ts + 1, pair[1].first_ts);
        }
    }

    #[test]
    fn pid_timelines_are_shorter_than_the_total() {
        let mut t = tracker(10, 100);
        for i in 0..1000u64 {
            t.alloc(at(i, i, 1 + (i % 2) as u32, 0), 0x1000 + i, Some(8))
                .unwrap();
        }
        for pid in [1, 2] {
            let points = t.pids.get(pid).unwrap().live.timeline.points();
            assert!(
                (PID_TIMELINE_POINTS / 2..=PID_TIMELINE_POINTS).contains(&points.len()),
                "{}",
                points.len()
            );
            assert_eq!(points.iter().map(|p| p.changes).sum::<u64>(), 500);
            assert_eq!(points.last().map(|p| p.end), Some(500 * 8));
        }
        let total = t.total.timeline.points();
        assert!(total.len() > PID_TIMELINE_POINTS && total.len() <= TIMELINE_POINTS);
    }

    /// A trace with a bit of everything: leaks of several sizes and pids,
    /// frees of unknown and freed pointers, a block allocated twice,
    /// anonymous RAM freed by the wrong family and with the wrong size,
    /// sizes past `u64` in total, and lost events.
    fn mixed_trace(events: &TraceEvents) -> Vec<u8> {
        use crate::format::writer::{Arg, TraceWriter, WriterOptions};
        let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), events).unwrap();
        let memalign = |size: u64, ptr: u64| [Arg::from(4096u64), Arg::from(size), Arg::Ptr(ptr)];
        let mut ts = 1_000_000_000;
        for i in 0..300u64 {
            ts += 1000;
            let pid = 1 + (i % 3) as u32;
            let ptr = 0x1000 + 16 * (i % 97);
            match i % 7 {
                0..=2 => w.event_by_name("qemu_memalign", ts, pid, &memalign(i % 5 * 100, ptr)),
                3 | 4 => w.event_by_name("qemu_vfree", ts, pid, &[Arg::Ptr(ptr)]),
                5 => w.event_by_name(
                    "qemu_anon_ram_alloc",
                    ts,
                    pid,
                    &[Arg::from(u64::MAX - i), Arg::Ptr(ptr)],
                ),
                _ => w.event_by_name(
                    "qemu_anon_ram_free",
                    ts,
                    pid,
                    &[Arg::Ptr(ptr), Arg::from(i)],
                ),
            }
            .unwrap();
            if i % 101 == 0 {
                w.dropped(ts, pid, i).unwrap();
            }
        }
        w.finish().unwrap()
    }

    /// The report, a document made when written, writes what its
    /// completed form holds: the text, and the JSON as
    /// `serde_json::to_string_pretty` prints it, alone and nested (as `run
    /// --json` nests it), its lists made as they are written.
    #[test]
    fn document_report_writes_its_completed_form() {
        use crate::analyzers::Driver;
        use crate::format::TraceReader;
        let events = TraceEvents::parse(
            "te",
            b"qemu_memalign(size_t alignment, size_t size, void *ptr)\n\
              qemu_vfree(void *ptr)\n\
              qemu_anon_ram_alloc(size_t size, void *ptr)\n\
              qemu_anon_ram_free(void *ptr, size_t size)\n",
        )
        .unwrap();
        let trace = mixed_trace(&events);
        for top in [0, 3, usize::MAX] {
            let mut driver = Driver::new();
            driver.add(AllocAnalyzer::new(AllocOptions {
                top,
                ..AllocOptions::default()
            }));
            let reader = TraceReader::new(&trace, &events).unwrap();
            let outcome = driver
                .run(reader, &mut std::io::sink(), Default::default())
                .unwrap();
            let streamed = outcome.reports.into_iter().next().unwrap();
            let built = streamed.clone().complete();
            assert!(streamed.is_streamed() && !built.is_streamed());
            assert!(streamed.as_document().is_some());
            let mut text = Vec::new();
            streamed.write_text(&mut text).unwrap();
            assert_eq!(String::from_utf8(text).unwrap(), built.text);
            assert!(built.text.contains("Freed by another allocator's free"));
            for depth in [0, 1] {
                let mut json = Vec::new();
                streamed.write_json(&mut json, depth).unwrap();
                let mut want = Vec::new();
                crate::analyzers::listing::write_pretty_value(&mut want, &built.json, depth)
                    .unwrap();
                assert_eq!(
                    String::from_utf8(json).unwrap(),
                    String::from_utf8(want).unwrap()
                );
            }
            assert_eq!(streamed, built);
            assert!(built.json["totals"]["allocated_bytes"].is_f64());
            let listed = built.json["leaks"]["biggest"].as_array().unwrap().len();
            assert_eq!(
                listed,
                top.min(built.json["leaks"]["blocks"].as_u64().unwrap() as usize)
            );
        }
    }

    #[test]
    fn findings_and_pids_stay_small() {
        assert_eq!(std::mem::size_of::<Incident>(), 72);
        // The timeline's points inline, 64 bytes each.
        assert_eq!(std::mem::size_of::<Run>(), 64);
        assert_eq!(std::mem::size_of::<Timeline<PID_TIMELINE_POINTS>>(), 544);
        assert_eq!(std::mem::size_of::<PidStats>(), 752);
    }

    #[test]
    fn formatting() {
        assert_eq!(seconds(471_478_372_999), "471.478372");
        assert_eq!(seconds(5), "0.000000");
        assert_eq!(size_text(1000), "1000");
        assert_eq!(size_text(1 << 20), "1048576 (1MiB)");
        assert_eq!(big(u128::from(u64::MAX)), json!(u64::MAX));
        assert_eq!(big(u128::from(u64::MAX) + 1), json!(18446744073709551616.0));
        assert_eq!(plural(1u64, "block", "blocks"), "1 block");
    }
}
