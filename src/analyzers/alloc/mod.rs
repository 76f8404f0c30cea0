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
//! is made from that state when it is written: it is a streamed
//! [`Report`] ([`Report::streamed`], its body in `report`) that goes out a
//! row at a time, so that listing every leak costs 4 bytes a leak more,
//! not a table and a JSON value of them; [`Report::complete`] gives it as
//! text and JSON in memory.
//!
//! API structure:
//! - [`AllocAnalyzer`] with its [`AllocOptions`];
//! - [`RuleSpec`] (a rule as written), [`BUILTIN_RULES`], [`RuleSet`]
//!   (rules checked against a trace-events file), [`RuleError`] and
//!   [`RuleWarning`].

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde_json::{Value, json};

use super::histogram::{Domain, Histogram, Scale};
use super::{Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, TraceInfo};
use crate::format::ArgValue;
use crate::format::events::{ArgKind, EventDecl, TraceEvents};
use crate::format::excerpt::Excerpt;

mod blocks;
mod report;

use blocks::{Blocks, Full};
use report::big;

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
// Rules

/// What a rule says its event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Makes a block live at a pointer.
    Alloc,
    /// Ends the block at a pointer.
    Free,
    /// Moves and resizes a block.
    Realloc,
}

impl RuleKind {
    /// The option that gives such a rule (`--alloc`).
    pub fn option(self) -> &'static str {
        match self {
            RuleKind::Alloc => "--alloc",
            RuleKind::Free => "--free",
            RuleKind::Realloc => "--realloc",
        }
    }

    /// The name used in reports and JSON (`alloc`).
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Alloc => "alloc",
            RuleKind::Free => "free",
            RuleKind::Realloc => "realloc",
        }
    }

    /// The keys a spec of this kind takes, and whether each is required.
    fn keys(self) -> &'static [(&'static str, bool)] {
        match self {
            RuleKind::Alloc | RuleKind::Free => &[("ptr", true), ("size", false)],
            RuleKind::Realloc => &[("old", true), ("new", true), ("size", true)],
        }
    }

    /// The syntax of a spec, for messages.
    pub fn syntax(self) -> &'static str {
        match self {
            RuleKind::Alloc => "EVENT:ptr=ARG[,size=ARG]",
            RuleKind::Free => "EVENT:ptr=ARG[,size=ARG]",
            RuleKind::Realloc => "EVENT:old=ARG,new=ARG,size=ARG",
        }
    }
}

/// Allocator families of the built-in rules: a block freed by another
/// family's free (a `qemu_anon_ram_alloc` block given to `qemu_vfree`) is a
/// *mismatched free*. User rules belong to no family and never mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `qemu_memalign`, `qemu_vmalloc` / `qemu_vfree`.
    QemuVfree,
    /// `qemu_anon_ram_alloc` / `qemu_anon_ram_free`.
    AnonRam,
    /// `g_malloc`, `g_realloc` / `g_free` (the GLib allocator, which older
    /// QEMU releases traced).
    Glib,
}

impl Family {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::QemuVfree => "qemu_vfree",
            Family::AnonRam => "anon_ram",
            Family::Glib => "glib",
        }
    }
}

/// A rule as written: `qemu_vfree:ptr=ptr` given to `--free`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// What the event does.
    pub kind: RuleKind,
    /// The event name.
    pub event: String,
    /// `(key, argument name)` pairs, in the order written; the keys are
    /// those of [`RuleKind`]'s syntax (`ptr`, `size`, `old`, `new`).
    pub args: Vec<(String, String)>,
    /// The built-in family, `None` for user rules.
    pub family: Option<Family>,
}

/// A built-in rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRule {
    /// What the event does.
    pub kind: RuleKind,
    /// The event name.
    pub event: &'static str,
    /// `(key, argument name)` pairs.
    pub args: &'static [(&'static str, &'static str)],
    /// The allocator family.
    pub family: Family,
}

/// The built-in rules: QEMU's allocator events, with the argument names
/// QEMU declares them with.
pub const BUILTIN_RULES: &[BuiltinRule] = &[
    BuiltinRule {
        kind: RuleKind::Alloc,
        event: "qemu_memalign",
        args: &[("size", "size"), ("ptr", "ptr")],
        family: Family::QemuVfree,
    },
    BuiltinRule {
        kind: RuleKind::Alloc,
        event: "qemu_vmalloc",
        args: &[("size", "size"), ("ptr", "ptr")],
        family: Family::QemuVfree,
    },
    BuiltinRule {
        kind: RuleKind::Free,
        event: "qemu_vfree",
        args: &[("ptr", "ptr")],
        family: Family::QemuVfree,
    },
    BuiltinRule {
        kind: RuleKind::Alloc,
        event: "qemu_anon_ram_alloc",
        args: &[("size", "size"), ("ptr", "ptr")],
        family: Family::AnonRam,
    },
    BuiltinRule {
        kind: RuleKind::Free,
        event: "qemu_anon_ram_free",
        args: &[("ptr", "ptr"), ("size", "size")],
        family: Family::AnonRam,
    },
    BuiltinRule {
        kind: RuleKind::Alloc,
        event: "g_malloc",
        args: &[("size", "size"), ("ptr", "ptr")],
        family: Family::Glib,
    },
    BuiltinRule {
        kind: RuleKind::Realloc,
        event: "g_realloc",
        args: &[("old", "ptr"), ("size", "size"), ("new", "newptr")],
        family: Family::Glib,
    },
    BuiltinRule {
        kind: RuleKind::Free,
        event: "g_free",
        args: &[("ptr", "ptr")],
        family: Family::Glib,
    },
];

impl RuleSpec {
    /// Parses a user rule of `kind`: `EVENT:KEY=ARG,KEY=ARG`, keys in any
    /// order.
    ///
    /// ```
    /// use simpletrace::analyzers::alloc::{RuleKind, RuleSpec};
    ///
    /// let r = RuleSpec::parse(RuleKind::Realloc, "my_realloc:old=p,new=q,size=n")?;
    /// assert_eq!(r.arg("new"), Some("q"));
    /// assert!(RuleSpec::parse(RuleKind::Free, "my_free:size=n").is_err()); // no ptr
    /// # Ok::<(), simpletrace::analyzers::alloc::RuleError>(())
    /// ```
    pub fn parse(kind: RuleKind, text: &str) -> Result<RuleSpec, RuleError> {
        let syntax = |problem: String| RuleError::Syntax {
            kind,
            spec: text.to_owned(),
            problem,
        };
        let (event, list) = text
            .split_once(':')
            .ok_or_else(|| syntax("no ':' after the event name".into()))?;
        let event = event.trim();
        if event.is_empty() {
            return Err(syntax("the event name is empty".into()));
        }
        if !crate::syntax::is_ident(event) {
            return Err(syntax(format!(
                "{} is not an event name",
                Excerpt::new(event)
            )));
        }
        let mut args: Vec<(String, String)> = Vec::new();
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(syntax("an empty KEY=ARG item".into()));
            }
            let (key, arg) = item
                .split_once('=')
                .ok_or_else(|| syntax(format!("{} is not KEY=ARG", Excerpt::new(item))))?;
            let (key, arg) = (key.trim(), arg.trim());
            if !kind.keys().iter().any(|(k, _)| *k == key) {
                let known: Vec<&str> = kind.keys().iter().map(|(k, _)| *k).collect();
                return Err(syntax(format!(
                    "unknown key {} (a {} rule takes {})",
                    Excerpt::new(key),
                    kind.name(),
                    known.join(", ")
                )));
            }
            if !crate::syntax::is_ident(arg) {
                return Err(syntax(format!(
                    "{} given to {key} is not an argument name",
                    Excerpt::new(arg)
                )));
            }
            if args.iter().any(|(k, _)| k == key) {
                return Err(syntax(format!("'{key}' is given twice")));
            }
            args.push((key.to_owned(), arg.to_owned()));
        }
        for (key, required) in kind.keys() {
            if *required && !args.iter().any(|(k, _)| k == key) {
                return Err(syntax(format!("'{key}=ARG' is missing")));
            }
        }
        Ok(RuleSpec {
            kind,
            event: event.to_owned(),
            args,
            family: None,
        })
    }

    /// The built-in rules ([`BUILTIN_RULES`]) as specs.
    pub fn builtins() -> Vec<RuleSpec> {
        BUILTIN_RULES
            .iter()
            .map(|b| RuleSpec {
                kind: b.kind,
                event: b.event.to_owned(),
                args: b
                    .args
                    .iter()
                    .map(|(k, a)| ((*k).to_owned(), (*a).to_owned()))
                    .collect(),
                family: Some(b.family),
            })
            .collect()
    }

    /// The argument given to `key`.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a.as_str())
    }

    /// Whether this is a built-in rule.
    pub fn is_builtin(&self) -> bool {
        self.family.is_some()
    }
}

impl fmt::Display for RuleSpec {
    /// `EVENT:key=arg,...`, as a user would write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.event)?;
        for (i, (k, a)) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={a}")?;
        }
        Ok(())
    }
}

/// A rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// The spec is not `EVENT:KEY=ARG,...` with the keys its kind takes.
    Syntax {
        /// The kind of rule.
        kind: RuleKind,
        /// The spec as given.
        spec: String,
        /// What is wrong.
        problem: String,
    },
    /// The trace-events file does not declare the event.
    UnknownEvent {
        /// The kind of rule.
        kind: RuleKind,
        /// The event name.
        event: String,
        /// A declared event with a similar name.
        similar: Option<String>,
    },
    /// The event has no argument of that name.
    UnknownArg {
        /// The kind of rule.
        kind: RuleKind,
        /// The event name.
        event: String,
        /// The argument name.
        arg: String,
        /// The event's declared arguments.
        declared: Vec<String>,
    },
    /// The argument is a string or a `bool`, not an integer or pointer.
    NotNumeric {
        /// The kind of rule.
        kind: RuleKind,
        /// The event name.
        event: String,
        /// The argument name.
        arg: String,
        /// Its declared C type.
        ty: String,
    },
    /// Two user rules for one event.
    DuplicateRule {
        /// The event name.
        event: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Syntax {
                kind,
                spec,
                problem,
            } => write!(
                f,
                "{} {}: {problem}; expected {}",
                kind.option(),
                Excerpt::new(spec),
                kind.syntax()
            ),
            RuleError::UnknownEvent {
                kind,
                event,
                similar,
            } => {
                write!(
                    f,
                    "{} {event}: the trace-events file declares no event '{event}'",
                    kind.option()
                )?;
                match similar {
                    Some(s) => write!(f, " (did you mean '{s}'?)"),
                    None => Ok(()),
                }
            }
            RuleError::UnknownArg {
                kind,
                event,
                arg,
                declared,
            } => {
                write!(
                    f,
                    "{} {event}: {event} has no argument '{arg}' (",
                    kind.option()
                )?;
                if declared.is_empty() {
                    f.write_str("it has no arguments)")
                } else {
                    write!(f, "it has {})", declared.join(", "))
                }
            }
            RuleError::NotNumeric {
                kind,
                event,
                arg,
                ty,
            } => write!(
                f,
                "{} {event}: argument '{arg}' of {event} is a '{ty}'; pointers and sizes must be integer or pointer arguments",
                kind.option()
            ),
            RuleError::DuplicateRule { event } => {
                write!(f, "two rules for {event}: give one rule per event")
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// A built-in rule left out because its event is declared with other
/// arguments than the rule expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    /// The built-in rule.
    pub rule: RuleSpec,
    /// Why it does not fit the declaration.
    pub problem: RuleError,
}

impl fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = match &self.problem {
            RuleError::UnknownArg { arg, declared, .. } => format!(
                "has no argument '{arg}' (it has {})",
                if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                }
            ),
            RuleError::NotNumeric { arg, ty, .. } => {
                format!("declares '{arg}' as '{ty}', not an integer or pointer")
            }
            other => other.to_string(),
        };
        write!(
            f,
            "built-in alloc rule for {} not used: the trace-events file's {} {detail}; \
             give it as {} '{}' with the right argument names",
            self.rule.event,
            self.rule.event,
            self.rule.kind.option(),
            self.rule.kind.syntax()
        )
    }
}

/// Positions of a rule's arguments in its event's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Alloc { ptr: usize, size: Option<usize> },
    Free { ptr: usize, size: Option<usize> },
    Realloc { old: usize, new: usize, size: usize },
}

/// A rule checked against a declaration.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as written (or built in).
    pub spec: RuleSpec,
    /// The event's position in the trace-events file.
    pub position: usize,
    action: Action,
}

/// The rules in force for one trace-events file.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    warnings: Vec<RuleWarning>,
    /// Rule index per declaration position.
    by_position: Vec<Option<u16>>,
}

impl RuleSet {
    /// Checks `user` rules against `events` and adds the built-in rules
    /// whose events are declared (when `builtins`): a user rule replaces the
    /// built-in rule of its event. Built-in rules whose events are not
    /// declared are left out silently; those declared with other arguments
    /// are left out with a [`RuleWarning`]. A user rule that does not fit
    /// its declaration, or two user rules for one event, are errors.
    pub fn resolve(
        events: &TraceEvents,
        user: &[RuleSpec],
        builtins: bool,
    ) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet {
            by_position: vec![None; events.len()],
            ..RuleSet::default()
        };
        for spec in user {
            if set.rules.iter().any(|r| r.spec.event == spec.event) {
                return Err(RuleError::DuplicateRule {
                    event: spec.event.clone(),
                });
            }
            let decl = declared(events, &spec.event).ok_or_else(|| RuleError::UnknownEvent {
                kind: spec.kind,
                event: spec.event.clone(),
                similar: similar_name(events, &spec.event),
            })?;
            set.push(spec.clone(), decl)?;
        }
        if builtins {
            for spec in RuleSpec::builtins() {
                if set.rules.iter().any(|r| r.spec.event == spec.event) {
                    continue;
                }
                let Some(decl) = declared(events, &spec.event) else {
                    continue;
                };
                if let Err(problem) = set.push(spec.clone(), decl) {
                    set.warnings.push(RuleWarning {
                        rule: spec,
                        problem,
                    });
                }
            }
        }
        Ok(set)
    }

    fn push(&mut self, spec: RuleSpec, decl: &EventDecl) -> Result<(), RuleError> {
        let pos = |key: &str| -> Result<Option<usize>, RuleError> {
            let Some(arg) = spec.arg(key) else {
                return Ok(None);
            };
            let Some(p) = decl.arg_position(arg) else {
                return Err(RuleError::UnknownArg {
                    kind: spec.kind,
                    event: spec.event.clone(),
                    arg: arg.to_owned(),
                    declared: decl.args.iter().map(|a| a.name.clone()).collect(),
                });
            };
            match decl.args.get(p).map(|a| (a.kind, &a.ty)) {
                Some((ArgKind::Pointer | ArgKind::Int { .. }, _)) => Ok(Some(p)),
                Some((_, ty)) => Err(RuleError::NotNumeric {
                    kind: spec.kind,
                    event: spec.event.clone(),
                    arg: arg.to_owned(),
                    ty: ty.clone(),
                }),
                None => Ok(None),
            }
        };
        // `parse` and the built-in table make required keys present; a
        // spec built by hand without them is a syntax error.
        let required = |key: &str| -> Result<usize, RuleError> {
            pos(key)?.ok_or_else(|| RuleError::Syntax {
                kind: spec.kind,
                spec: spec.to_string(),
                problem: format!("'{key}=ARG' is missing"),
            })
        };
        let action = match spec.kind {
            RuleKind::Alloc => Action::Alloc {
                ptr: required("ptr")?,
                size: pos("size")?,
            },
            RuleKind::Free => Action::Free {
                ptr: required("ptr")?,
                size: pos("size")?,
            },
            RuleKind::Realloc => Action::Realloc {
                old: required("old")?,
                new: required("new")?,
                size: required("size")?,
            },
        };
        let index = u16::try_from(self.rules.len()).map_err(|_| RuleError::Syntax {
            kind: spec.kind,
            spec: spec.to_string(),
            problem: "too many rules".into(),
        })?;
        if let Some(slot) = self.by_position.get_mut(decl.position) {
            *slot = Some(index);
        }
        self.rules.push(Rule {
            spec,
            position: decl.position,
            action,
        });
        Ok(())
    }

    /// The rules in force, user rules first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Built-in rules left out because their events' declarations differ.
    pub fn warnings(&self) -> &[RuleWarning] {
        &self.warnings
    }

    /// Whether no rule is in force.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn rule_of(&self, decl: &EventDecl) -> Option<(u16, Action)> {
        let index = (*self.by_position.get(decl.position)?)?;
        let rule = self.rules.get(usize::from(index))?;
        Some((index, rule.action))
    }
}

/// The declaration called `name`, not the dropped-events pseudo event.
fn declared<'e>(events: &'e TraceEvents, name: &str) -> Option<&'e EventDecl> {
    events
        .by_name(name.as_bytes())
        .filter(|d| !d.is_dropped_pseudo())
}

/// The declared event name closest to `name` (a typo), if any is close.
fn similar_name(events: &TraceEvents, name: &str) -> Option<String> {
    crate::syntax::did_you_mean(name, events.iter().map(|d| d.name.as_str())).map(str::to_owned)
}

// ---------------------------------------------------------------------------
// State

/// Where and when something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Site {
    ts: u64,
    pid: u32,
    /// The record's index in the trace (mappings counted).
    record: u64,
    /// The record's byte offset in the trace.
    offset: u64,
    /// The rule of the event.
    rule: u16,
}

/// A live block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    size: u64,
    /// Whether the rule gave a size (a user alloc rule may not).
    sized: bool,
    /// The allocation that started the realloc chain.
    born: Site,
    /// The last realloc, if any.
    moved: Option<Site>,
    reallocs: u32,
}

/// Live memory of one pid (or of all), its peak and its timeline of up to
/// `N` points.
#[derive(Debug, Clone)]
struct Live<const N: usize> {
    bytes: u128,
    blocks: u64,
    /// The peak, once there is a change ([`Live::peak`]).
    peak: Peak,
    timeline: Timeline<N>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Peak {
    bytes: u128,
    blocks: u64,
    ts: u64,
    pid: u32,
    record: u64,
}

impl<const N: usize> Live<N> {
    /// No memory live.
    fn new() -> Self {
        Live {
            bytes: 0,
            blocks: 0,
            peak: Peak::default(),
            timeline: Timeline::new(),
        }
    }

    /// The first change at which the most bytes were live; `None` before
    /// any change.
    fn peak(&self) -> Option<Peak> {
        (!self.timeline.is_empty()).then_some(self.peak)
    }

    /// Applies one event's net change: `added` bytes and blocks came,
    /// `removed` went.
    fn change(&mut self, at: Site, added: (u128, u64), removed: (u128, u64)) {
        self.bytes = (self.bytes + added.0).saturating_sub(removed.0);
        self.blocks = (self.blocks + added.1).saturating_sub(removed.1);
        if self.timeline.is_empty() || self.bytes > self.peak.bytes {
            self.peak = Peak {
                bytes: self.bytes,
                blocks: self.blocks,
                ts: at.ts,
                pid: at.pid,
                record: at.record,
            };
        }
        self.timeline.record(at.ts, self.bytes);
    }
}

/// One point of a live-bytes timeline: a run of consecutive changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelinePoint {
    /// Timestamp of the first change of the run (ns).
    pub first_ts: u64,
    /// Timestamp of the last change of the run (ns).
    pub last_ts: u64,
    /// Fewest live bytes during the run.
    pub min: u128,
    /// Most live bytes during the run.
    pub max: u128,
    /// Live bytes after the run.
    pub end: u128,
    /// Changes in the run.
    pub changes: u64,
}

impl TimelinePoint {
    fn absorb(&mut self, later: &TimelinePoint) {
        self.last_ts = later.last_ts;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.end = later.end;
        self.changes += later.changes;
    }

    fn json(&self) -> Value {
        json!({
            "first_ts_ns": self.first_ts,
            "last_ts_ns": self.last_ts,
            "min_bytes": big(self.min),
            "max_bytes": big(self.max),
            "end_bytes": big(self.end),
            "changes": self.changes,
        })
    }
}

/// A run of consecutive changes of a timeline, as kept: a
/// [`TimelinePoint`] without its count of changes (every complete run of a
/// timeline has the same count). 64 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Run {
    first_ts: u64,
    last_ts: u64,
    min: u128,
    max: u128,
    end: u128,
}

impl Run {
    fn absorb(&mut self, later: &Run) {
        self.last_ts = later.last_ts;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.end = later.end;
    }

    fn point(&self, changes: u64) -> TimelinePoint {
        TimelinePoint {
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            min: self.min,
            max: self.max,
            end: self.end,
            changes,
        }
    }
}

/// Live bytes over time in bounded memory, held inline: at most `N` points
/// ([`TIMELINE_POINTS`] for all pids, [`PID_TIMELINE_POINTS`] for each),
/// each summarising the same number of consecutive changes (in file
/// order), the last one possibly fewer; when `N` are complete, neighbours
/// merge in pairs. `64 × N + 32` bytes.
#[derive(Debug, Clone)]
struct Timeline<const N: usize> {
    /// The complete runs (`len` of them, of `span` changes each), then
    /// the run being made (of `pending` changes, fewer than `span`; none
    /// when 0). Fewer than `N` runs are ever complete at rest, so that it
    /// has a place.
    runs: [Run; N],
    len: usize,
    pending: u64,
    span: u64,
}

impl<const N: usize> Timeline<N> {
    fn new() -> Self {
        // Runs merge in pairs when all `N` are complete.
        const { assert!(N >= 2 && N.is_multiple_of(2)) };
        Timeline {
            runs: [Run::default(); N],
            len: 0,
            pending: 0,
            span: 1,
        }
    }

    /// Whether no change was recorded.
    fn is_empty(&self) -> bool {
        self.len == 0 && self.pending == 0
    }

    fn record(&mut self, ts: u64, bytes: u128) {
        let change = Run {
            first_ts: ts,
            last_ts: ts,
            min: bytes,
            max: bytes,
            end: bytes,
        };
        let Some(run) = self.runs.get_mut(self.len) else {
            return;
        };
        if self.pending == 0 {
            *run = change;
        } else {
            run.absorb(&change);
        }
        self.pending += 1;
        if self.pending < self.span {
            return;
        }
        self.pending = 0;
        self.len += 1;
        if self.len >= N {
            for i in 0..N / 2 {
                if let (Some(&a), Some(&b)) = (self.runs.get(2 * i), self.runs.get(2 * i + 1)) {
                    let mut merged = a;
                    merged.absorb(&b);
                    if let Some(slot) = self.runs.get_mut(i) {
                        *slot = merged;
                    }
                }
            }
            self.len = N / 2;
            self.span *= 2;
        }
    }

    /// The points, the unfinished one last.
    fn points(&self) -> Vec<TimelinePoint> {
        let complete = self.runs.iter().take(self.len).map(|r| r.point(self.span));
        let pending = (self.pending > 0)
            .then(|| self.runs.get(self.len).map(|r| r.point(self.pending)))
            .flatten();
        complete.chain(pending).collect()
    }
}

/// Counters of one pid (or, `N` = [`TIMELINE_POINTS`], of all), its live
/// memory and timeline inline: 752 bytes for a pid.
#[derive(Debug, Clone)]
struct PidStats<const N: usize = PID_TIMELINE_POINTS> {
    pid: u32,
    allocations: u64,
    allocated_bytes: u128,
    reallocs: u64,
    frees: u64,
    freed_bytes: u128,
    null_frees: u64,
    failed: u64,
    zero_null: u64,
    unknown_frees: u64,
    double_frees: u64,
    allocated_twice: u64,
    size_mismatches: u64,
    mismatched_frees: u64,
    live: Live<N>,
}

impl<const N: usize> PidStats<N> {
    fn new(pid: u32) -> Self {
        PidStats {
            pid,
            allocations: 0,
            allocated_bytes: 0,
            reallocs: 0,
            frees: 0,
            freed_bytes: 0,
            null_frees: 0,
            failed: 0,
            zero_null: 0,
            unknown_frees: 0,
            double_frees: 0,
            allocated_twice: 0,
            size_mismatches: 0,
            mismatched_frees: 0,
            live: Live::new(),
        }
    }
}

/// Pids per chunk of the pid table.
const PID_CHUNK: usize = 64;

/// The counters of every pid seen, in chunks (no growth by copying), found
/// through a map from pid to position, the last pid's position at hand
/// (the events of a trace mostly come from one pid at a time).
#[derive(Debug, Default)]
struct Pids {
    chunks: Vec<Vec<PidStats>>,
    positions: HashMap<u32, u32>,
    /// The last pid looked up and its position.
    last: Option<(u32, u32)>,
}

impl Pids {
    fn get_mut(&mut self, pid: u32) -> &mut PidStats {
        let pos = self.position(pid);
        // Positions are handed out in order and each gets its entry when
        // handed out: the indexing cannot fail.
        &mut self.chunks[pos / PID_CHUNK][pos % PID_CHUNK]
    }

    /// The position of `pid` in the table (added if new).
    fn position(&mut self, pid: u32) -> usize {
        match self.last {
            Some((last, pos)) if last == pid => pos as usize,
            _ => self.find_or_add(pid),
        }
    }

    /// The position of `pid`, added if new; remembered as the last.
    fn find_or_add(&mut self, pid: u32) -> usize {
        let n = self.positions.len();
        let pos = *self.positions.entry(pid).or_insert(n as u32) as usize;
        if pos == n {
            if self.chunks.last().is_none_or(|c| c.len() == PID_CHUNK) {
                self.chunks.push(Vec::with_capacity(PID_CHUNK));
            }
            if let Some(c) = self.chunks.last_mut() {
                c.push(PidStats::new(pid));
            }
        }
        self.last = Some((pid, pos as u32));
        pos
    }
    #[cfg(test)]
    fn get(&self, pid: u32) -> Option<&PidStats> {
        let pos = *self.positions.get(&pid)? as usize;
        self.chunks.get(pos / PID_CHUNK)?.get(pos % PID_CHUNK)
    }

    fn len(&self) -> usize {
        self.positions.len()
    }

    fn iter(&self) -> impl Iterator<Item = &PidStats> {
        self.chunks.iter().flatten()
    }

    /// Pids in increasing order, as positions for [`Pids::at`].
    fn sorted(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by_key(|&p| self.at(p).map(|s| s.pid));
        order
    }

    fn at(&self, pos: u32) -> Option<&PidStats> {
        let pos = pos as usize;
        self.chunks.get(pos / PID_CHUNK)?.get(pos % PID_CHUNK)
    }
}

/// A finding worth listing, in 72 bytes (`--top all` keeps every one):
/// where it happened (without the byte offset, which only the loss window
/// needs, when it is found), the pointer, and the other event involved,
/// of the same pid.
#[derive(Debug, Clone, Copy)]
struct Incident {
    ts: u64,
    record: u64,
    ptr: u64,
    other_ts: u64,
    other_record: u64,
    sizes_: [u64; 2],
    pid: u32,
    rule: u16,
    other_rule: u16,
    has_other: bool,
    has_sizes: bool,
    /// Events lost near the records it depends on may explain it (see
    /// [`LOSS_WINDOW`]).
    near_loss: bool,
}

impl Incident {
    /// A finding at `site` about `ptr`: `other` is the other event
    /// involved (the first free of a double free, the earlier allocation
    /// of a pointer allocated twice, the allocation of a block freed with
    /// another size or by another family), `sizes` the sizes involved (the
    /// earlier block's and the new one's, or the allocation's and the
    /// free's).
    fn new(site: Site, ptr: u64, other: Option<Site>, sizes: Option<(u64, u64)>) -> Self {
        let o = other.unwrap_or(site);
        let (a, b) = sizes.unwrap_or_default();
        Incident {
            ts: site.ts,
            record: site.record,
            ptr,
            other_ts: o.ts,
            other_record: o.record,
            sizes_: [a, b],
            pid: site.pid,
            rule: site.rule,
            other_rule: o.rule,
            has_other: other.is_some(),
            has_sizes: sizes.is_some(),
            near_loss: false,
        }
    }

    /// Where it happened; the byte offset is not kept (0).
    fn site(&self) -> Site {
        Site {
            ts: self.ts,
            pid: self.pid,
            record: self.record,
            offset: 0,
            rule: self.rule,
        }
    }

    /// The other event involved, if any (its byte offset is not kept).
    fn other(&self) -> Option<Site> {
        self.has_other.then_some(Site {
            ts: self.other_ts,
            pid: self.pid,
            record: self.other_record,
            offset: 0,
            rule: self.other_rule,
        })
    }

    /// The sizes involved, if any.
    fn sizes(&self) -> Option<(u64, u64)> {
        let [a, b] = self.sizes_;
        self.has_sizes.then_some((a, b))
    }
}

/// One kind of finding: how many, how many near lost events, the first
/// few in file order.
#[derive(Debug, Clone, Default)]
struct Findings {
    count: u64,
    near_loss: u64,
    first: Vec<Incident>,
}

impl Findings {
    /// Counts `incident` and keeps it if fewer than `keep` are kept;
    /// returns its index then.
    fn add(&mut self, incident: Incident, keep: usize) -> Option<usize> {
        self.count += 1;
        self.near_loss += u64::from(incident.near_loss);
        if self.first.len() < keep {
            self.first.push(incident);
            return Some(self.first.len() - 1);
        }
        None
    }
}

/// The findings that lost events can explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LossProne {
    Unknown,
    Double,
    Twice,
}

/// A finding not yet near a loss, which a dropped-events record less than
/// [`LOSS_WINDOW`] bytes further on would put near one.
#[derive(Debug, Clone, Copy)]
struct Pending {
    offset: u64,
    kind: LossProne,
    /// Its index among the kept findings.
    kept: Option<usize>,
}

/// Dropped-events records seen.
#[derive(Debug, Clone, Default)]
struct Drops {
    records: u64,
    lost: u128,
    /// The first few (as many as the lists show): where, and how many
    /// events.
    first: Vec<(Site, u64)>,
    earliest: Option<Site>,
    last: Option<Site>,
}

/// The correlation state: live blocks, freed pointers, counters.
#[derive(Debug)]
struct Tracker {
    keep: usize,
    families: Vec<Option<Family>>,
    /// Live blocks and remembered freed pointers.
    blocks: Blocks,
    pids: Pids,
    total: Live<TIMELINE_POINTS>,
    unknown: Findings,
    double: Findings,
    twice: Findings,
    size_mismatch: Findings,
    mismatched: Findings,
    drops: Drops,
    /// Offset of the last dropped-events record.
    last_drop: Option<u64>,
    /// Findings of the last [`LOSS_WINDOW`] bytes not near a loss yet.
    pending: VecDeque<Pending>,
    lifetimes: Histogram,
    sizes: Histogram,
    events: u64,
    min_ts: Option<u64>,
    max_ts: Option<u64>,
}

impl Tracker {
    fn new(keep: usize, free_history: usize) -> Self {
        Tracker {
            keep,
            families: Vec::new(),
            blocks: Blocks::new(free_history),
            pids: Pids::default(),
            total: Live::new(),
            unknown: Findings::default(),
            double: Findings::default(),
            twice: Findings::default(),
            size_mismatch: Findings::default(),
            mismatched: Findings::default(),
            drops: Drops::default(),
            last_drop: None,
            pending: VecDeque::new(),
            lifetimes: Histogram::new(Domain::Signed, Scale::Log2),
            sizes: Histogram::new(Domain::Unsigned, Scale::Log2),
            events: 0,
            min_ts: None,
            max_ts: None,
        }
    }

    fn seen(&mut self, ts: u64) {
        self.events += 1;
        self.min_ts = Some(self.min_ts.map_or(ts, |m| m.min(ts)));
        self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
    }

    fn stats(&mut self, pid: u32) -> &mut PidStats {
        self.pids.get_mut(pid)
    }

    fn family(&self, rule: u16) -> Option<Family> {
        self.families.get(usize::from(rule)).copied().flatten()
    }

    /// Applies a net change of live memory to the pid's and the total.
    fn change(&mut self, at: Site, added: (u128, u64), removed: (u128, u64)) {
        self.stats(at.pid).live.change(at, added, removed);
        self.total.change(at, added, removed);
    }

    /// An allocation returned `ptr` for `size` bytes (`None`: the rule
    /// gives no size).
    fn alloc(&mut self, at: Site, ptr: u64, size: Option<u64>) -> Result<(), Full> {
        if ptr == 0 {
            // malloc(0) may return NULL (GLib's does); otherwise NULL
            // means the allocation failed.
            let s = self.stats(at.pid);
            if size == Some(0) {
                s.zero_null += 1;
            } else {
                s.failed += 1;
            }
            return Ok(());
        }
        let s = self.stats(at.pid);
        s.allocations += 1;
        s.allocated_bytes += u128::from(size.unwrap_or(0));
        if let Some(size) = size {
            self.sizes.record(size);
        }
        let block = Block {
            size: size.unwrap_or(0),
            sized: size.is_some(),
            born: at,
            moved: None,
            reallocs: 0,
        };
        let removed = self.place(at, ptr, block)?;
        self.change(at, (u128::from(block.size), 1), removed);
        Ok(())
    }

    /// Makes `block` live at `ptr`; returns the bytes and blocks of a block
    /// that was live there already (allocated twice: its free was missed).
    fn place(&mut self, at: Site, ptr: u64, block: Block) -> Result<(u128, u64), Full> {
        let Some(previous) = self.blocks.put_live(ptr, &block)? else {
            return Ok((0, 0));
        };
        self.stats(at.pid).allocated_twice += 1;
        let earlier = previous.moved.unwrap_or(previous.born);
        let incident = Incident::new(at, ptr, Some(earlier), Some((previous.size, block.size)));
        // The free was missed after the last allocation of the block.
        self.loss_prone(LossProne::Twice, at, incident, Some(earlier.offset));
        Ok((u128::from(previous.size), 1))
    }

    /// A free of `ptr`, with the size the free was given, if any.
    fn free(&mut self, at: Site, ptr: u64, size: Option<u64>) -> Result<(), Full> {
        if ptr == 0 {
            self.stats(at.pid).null_frees += 1;
            return Ok(());
        }
        self.stats(at.pid).frees += 1;
        let Some(block) = self.blocks.free_live(at.pid, ptr, at)? else {
            return self.bad_free(at, ptr);
        };
        self.end_block(at, ptr, &block, size);
        self.change(at, (0, 0), (u128::from(block.size), 1));
        Ok(())
    }

    /// The end of a live block: its lifetime and the checks a free makes.
    fn end_block(&mut self, at: Site, ptr: u64, block: &Block, size: Option<u64>) {
        self.lifetimes
            .record_i64(at.ts.wrapping_sub(block.born.ts) as i64);
        self.stats(at.pid).freed_bytes += u128::from(block.size);
        if let Some(freed_size) = size
            && block.sized
            && freed_size != block.size
        {
            self.stats(at.pid).size_mismatches += 1;
            let incident = Incident::new(
                at,
                ptr,
                Some(block.moved.unwrap_or(block.born)),
                Some((block.size, freed_size)),
            );
            self.size_mismatch.add(incident, self.keep);
        }
        if let (Some(a), Some(f)) = (self.family(block.born.rule), self.family(at.rule))
            && a != f
        {
            self.stats(at.pid).mismatched_frees += 1;
            let incident = Incident::new(at, ptr, Some(block.born), None);
            self.mismatched.add(incident, self.keep);
        }
    }

    /// A free (or realloc) of a pointer that is not live: a double free if
    /// it was freed before and not allocated since, else unknown.
    fn bad_free(&mut self, at: Site, ptr: u64) -> Result<(), Full> {
        match self.blocks.freed_at(at.pid, ptr) {
            Some(first) => {
                self.stats(at.pid).double_frees += 1;
                let incident = Incident::new(at, ptr, Some(first), None);
                // An allocation in between may have been lost.
                self.loss_prone(LossProne::Double, at, incident, Some(first.offset));
                Ok(())
            }
            None => {
                self.stats(at.pid).unknown_frees += 1;
                let incident = Incident::new(at, ptr, None, None);
                // The allocation may have been lost at any time before.
                self.loss_prone(LossProne::Unknown, at, incident, None);
                // Freeing it again would be a double free.
                self.blocks.remember_free(ptr, at)
            }
        }
    }

    /// A realloc of `old` to `size` bytes that returned `new`.
    fn realloc(&mut self, at: Site, old: u64, new: u64, size: u64) -> Result<(), Full> {
        if old == 0 {
            // realloc(NULL, n) is malloc(n).
            return self.alloc(at, new, Some(size));
        }
        if new == 0 {
            if size == 0 {
                // realloc(p, 0) returning NULL freed p (glibc, GLib).
                return self.free(at, old, None);
            }
            // A failed realloc leaves p allocated.
            self.stats(at.pid).failed += 1;
            return Ok(());
        }
        self.stats(at.pid).reallocs += 1;
        self.sizes.record(size);
        // A block that moves leaves its old pointer freed (in the entry it
        // had); one that stays is taken out and put back.
        let taken = if old != new {
            self.blocks.free_live(at.pid, old, at)?
        } else {
            self.blocks.take_live(at.pid, old)
        };
        let (mut block, removed_old) = match taken {
            Some(b) => (b, (u128::from(b.size), 1)),
            None => {
                // Reallocating what was never allocated (or was freed):
                // the new block starts a chain of its own.
                self.bad_free(at, old)?;
                if old != new {
                    self.blocks.remember_free(old, at)?;
                }
                let fresh = Block {
                    size,
                    sized: true,
                    born: at,
                    moved: None,
                    reallocs: 0,
                };
                (fresh, (0, 0))
            }
        };
        if block.born != at {
            block.reallocs += 1;
            block.moved = Some(at);
        }
        block.size = size;
        block.sized = true;
        let removed_new = self.place(at, new, block)?;
        self.change(
            at,
            (u128::from(size), 1),
            (removed_old.0 + removed_new.0, removed_old.1 + removed_new.1),
        );
        Ok(())
    }

    /// A dropped-events record: `count` events were lost.
    fn dropped(&mut self, at: Site, count: u64) {
        self.drops.records += 1;
        self.drops.lost += u128::from(count);
        if self.drops.first.len() < self.keep {
            self.drops.first.push((at, count));
        }
        self.drops.earliest.get_or_insert(at);
        self.drops.last = Some(at);
        self.last_drop = Some(at.offset);
        // What remains pending is within the window before this record.
        self.expire(at.offset);
        while let Some(p) = self.pending.pop_front() {
            let findings = self.findings_mut(p.kind);
            findings.near_loss += 1;
            if let Some(i) = p.kept.and_then(|i| findings.first.get_mut(i)) {
                i.near_loss = true;
            }
        }
    }

    fn findings_mut(&mut self, kind: LossProne) -> &mut Findings {
        match kind {
            LossProne::Unknown => &mut self.unknown,
            LossProne::Double => &mut self.double,
            LossProne::Twice => &mut self.twice,
        }
    }

    /// Whether events lost since offset `since` (`None`: since the start)
    /// and reported by a dropped-events record seen so far may explain a
    /// finding.
    fn near_past_loss(&self, since: Option<u64>) -> bool {
        self.last_drop
            .is_some_and(|r| since.is_none_or(|a| r.saturating_add(LOSS_WINDOW) > a))
    }

    /// Counts a finding that events lost since `since` would explain; if no
    /// loss seen so far does, a dropped-events record in the next
    /// [`LOSS_WINDOW`] bytes will.
    fn loss_prone(
        &mut self,
        kind: LossProne,
        at: Site,
        mut incident: Incident,
        since: Option<u64>,
    ) {
        incident.near_loss = self.near_past_loss(since);
        let keep = self.keep;
        let kept = self.findings_mut(kind).add(incident, keep);
        if !incident.near_loss {
            self.expire(at.offset);
            self.pending.push_back(Pending {
                offset: at.offset,
                kind,
                kept,
            });
        }
    }

    /// Forgets pending findings too far before `offset` for a loss there.
    fn expire(&mut self, offset: u64) {
        while self
            .pending
            .front()
            .is_some_and(|p| p.offset.saturating_add(LOSS_WINDOW) <= offset)
        {
            self.pending.pop_front();
        }
    }
}

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

    fn begin(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.rules = RuleSet::resolve(info.events, &self.options.rules, self.options.builtins)
            .map_err(|e| AnalyzerError::new("alloc", e.to_string()))?;
        self.tracker.families = self.rules.rules().iter().map(|r| r.spec.family).collect();
        Ok(())
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let fresh = Tracker::new(self.options.top, self.options.free_history);
        let tracker = std::mem::replace(&mut self.tracker, fresh);
        let finished = report::Finished::new(self.options.clone(), self.rules.clone(), tracker);
        Ok(Report::streamed(finished))
    }
}

// ---------------------------------------------------------------------------
// The report (see report.rs)

/// A timestamp of the trace clock as `SECONDS.MICROS` (the one formatter
/// of every report).
pub(crate) use super::human::seconds;

#[cfg(test)]
mod tests {
    use super::report::{plural, size_text};
    use super::*;

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

    /// The streamed report writes what its completed form holds: the
    /// text, and the JSON as `serde_json::to_string_pretty` prints it,
    /// alone and nested (as `run --json` nests it), its lists made as they
    /// are written.
    #[test]
    fn streamed_report_writes_its_completed_form() {
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
