//! `hist`: histograms of what a trace records, over any event the
//! trace-events file declares.
//!
//! Three measures:
//! - **value** ([`Measure::Value`]): one numeric argument of every record
//!   of an event (`bytes` of `bdrv_co_pwritev_part`);
//! - **latency** ([`Measure::Latency`]): the time from a *begin* record to
//!   the *end* record it pairs with. A pair has the same pid and, when a
//!   key argument is named, the same key value
//!   (`thread_pool_submit_aio:req` → `thread_pool_complete_aio:req`,
//!   `qemu_mutex_lock:mutex` → `qemu_mutex_unlock:mutex`);
//! - **interval** ([`Measure::Interval`]): the time between consecutive
//!   records of one event from the same pid.
//!
//! Each can be grouped ([`GroupBy`]: the pid, arguments, or both): one
//! histogram per distinct key, largest group first. Buckets, percentiles
//! and their exactness are those of [`super::histogram`].
//!
//! ```
//! use simpletrace::analyzers::Driver;
//! use simpletrace::analyzers::hist::{Hist, HistSpec, Measure};
//! use simpletrace::format::{TraceEvents, TraceReader, writer::{Arg, TraceWriter, WriterOptions}};
//!
//! let events = TraceEvents::parse("te", b"blk_pwrite(uint64_t offset, uint64_t bytes)\n")?;
//! let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events)?;
//! for (ts, bytes) in [(10, 512u64), (20, 4096), (30, 4096)] {
//!     w.event_by_name("blk_pwrite", ts, 1, &[Arg::from(0u64), Arg::from(bytes)])?;
//! }
//! let trace = w.finish()?;
//!
//! let spec = HistSpec::new(Measure::Value { event: "blk_pwrite".into(), arg: "bytes".into() });
//! let mut driver = Driver::new();
//! Hist::new(spec, &events)?.add_to(&mut driver);
//! let outcome = driver.run(TraceReader::new(&trace, &events)?, &mut std::io::sink(), Default::default())?;
//! // The report is written as it goes out (a listing can be millions of
//! // groups long); `complete` renders it in memory.
//! let report = outcome.reports[0].clone().complete();
//! // `bytes` is a size: the unit is bytes.
//! assert!(report.text.contains("[4KiB, 8KiB)"));
//! assert_eq!(report.json["groups"][0]["histogram"]["max"], 4096);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Choices, for the record:
//! - Latency pairs are matched per `(pid, key)`: processes are separate
//!   address spaces, so equal pointers in two pids are two objects.
//!   Without a key, begins and ends pair per pid. When several begins of
//!   one key are open, an end takes the oldest ([`Pairing::Fifo`], right
//!   for queues and contended locks) or the newest ([`Pairing::Lifo`],
//!   right for nested begin/end). Only open begins are kept: memory follows
//!   what is outstanding, not the trace's length.
//! - Timestamps are not monotonic across threads, so a latency or an
//!   interval can be negative; those histograms are signed.
//! - Intervals are between records consecutive in the file (per pid, and
//!   per group key when grouped), never across a dropped-events record of
//!   the same pid: the lost records fell in between.
//! - Value and interval histograms run chunk-parallel (an interval that
//!   straddles two chunks is joined when the chunks merge, so the result
//!   is the same as a sequential run); latency pairs across the whole
//!   trace, so it runs in file order.
//! - Dropped-events records are counted and reported: the histogram misses
//!   the lost records, and a latency pair may have lost its partner (pairs
//!   whose begin and end lie on both sides of a loss are counted).
//!
//! API structure: [`HistSpec`] says what to measure ([`Measure`],
//! [`GroupBy`], scale, unit, [`Style`]); [`Hist::new`] checks it against
//! the declarations ([`HistError`]) and gives the analyzer, which
//! [`Hist::add_to`] adds to a [`Driver`] the right way (parallel or not).

use core::cmp::Ordering;
use core::fmt;
use core::str::FromStr;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::histogram::{
    self, Bucket, CloseBounds, Domain, EXACT_BUDGET, ExactBudget, Histogram, Scale, Unit,
};
use super::human::plural;
use super::listing::{LazyJson, TableStyle, TextTable};
use super::{
    Analyzer, AnalyzerError, ChunkStart, Context, Driver, Event, Handlers, Interest,
    ParallelAnalyzer, Report, ReportBody, TraceInfo,
};
use crate::format::ArgValue;
use crate::format::events::{ArgKind, EventDecl, TraceEvents};
use crate::format::excerpt::Excerpt;
use crate::syntax;

/// Most parts a group key has (`--by pid,mutex,file`).
pub const MAX_BY: usize = 3;

/// Open begins a latency report lists one by one (the oldest).
const OPEN_SHOWN: usize = 5;

/// The analyzer's name, the heading of its report.
const NAME: &str = "hist";

/// The name of dropped-events records.
const DROPPED: &str = "Dropped_Event";

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// The value of a numeric argument in every record of an event.
    Value {
        /// The event.
        event: String,
        /// Its argument.
        arg: String,
    },
    /// The time from a begin record to the end record it pairs with.
    Latency {
        /// The event that begins, and its key argument.
        begin: Endpoint,
        /// The event that ends, and its key argument. When only one side
        /// names a key, the other uses the argument of the same name.
        end: Endpoint,
        /// Which open begin an end takes.
        pairing: Pairing,
    },
    /// The time between consecutive records of an event from one pid.
    Interval {
        /// The event.
        event: String,
    },
}

/// One side of a latency: an event and the argument that ties a begin to
/// its end (`thread_pool_submit_aio:req`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The event name.
    pub event: String,
    /// The key argument, if any.
    pub key: Option<String>,
}

impl Endpoint {
    /// An endpoint without a key.
    pub fn event(event: impl Into<String>) -> Self {
        Endpoint {
            event: event.into(),
            key: None,
        }
    }

    /// An endpoint keyed by `key`.
    pub fn keyed(event: impl Into<String>, key: impl Into<String>) -> Self {
        Endpoint {
            event: event.into(),
            key: Some(key.into()),
        }
    }
}

/// A latency request as written on the command line:
/// `BEGIN[:KEY],END[:KEY]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyPair {
    /// The begin event.
    pub begin: Endpoint,
    /// The end event.
    pub end: Endpoint,
}

/// A `BEGIN[:KEY],END[:KEY]` or `--by` item that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What was given.
    pub text: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}",
            Excerpt::new(&self.text),
            self.expected
        )
    }
}

impl std::error::Error for SyntaxError {}

impl FromStr for Endpoint {
    type Err = SyntaxError;

    /// `EVENT` or `EVENT:ARG`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SyntaxError {
            text: s.to_owned(),
            expected: "EVENT or EVENT:ARG",
        };
        let (event, key) = syntax::event_arg(s).ok_or_else(err)?;
        Ok(Endpoint {
            event: event.to_owned(),
            key: key.map(str::to_owned),
        })
    }
}

impl FromStr for LatencyPair {
    type Err = SyntaxError;

    /// `BEGIN[:KEY],END[:KEY]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SyntaxError {
            text: s.to_owned(),
            expected: "BEGIN_EVENT[:ARG],END_EVENT[:ARG], e.g. thread_pool_submit_aio:req,thread_pool_complete_aio:req",
        };
        let ((begin, begin_key), (end, end_key)) = syntax::event_pair(s).ok_or_else(err)?;
        Ok(LatencyPair {
            begin: Endpoint {
                event: begin.to_owned(),
                key: begin_key.map(str::to_owned),
            },
            end: Endpoint {
                event: end.to_owned(),
                key: end_key.map(str::to_owned),
            },
        })
    }
}

/// Which open begin an end record pairs with, when several of its key are
/// open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pairing {
    /// The oldest: requests served in order, contended locks.
    #[default]
    Fifo,
    /// The newest: nested begin/end (recursion, nested locks).
    Lifo,
    /// Keys are unique while outstanding (request pointers, which are
    /// reused once free): a begin whose key is already open replaces the
    /// open one, which counts as unmatched. When a trace lost records, this
    /// keeps a begin whose end was lost from pairing with the end of the
    /// next request that reuses its key.
    Unique,
}

impl Pairing {
    fn describe(self) -> &'static str {
        match self {
            Pairing::Fifo => "first in, first out",
            Pairing::Lifo => "last in, first out",
            Pairing::Unique => "a new begin replaces an open one",
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            Pairing::Fifo => "fifo",
            Pairing::Lifo => "lifo",
            Pairing::Unique => "unique",
        }
    }
}

/// One part of a group key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// The record's pid (`pid`).
    Pid,
    /// An argument (`NAME`, or `args.NAME` for an argument called `pid`).
    Arg(String),
}

impl FromStr for GroupBy {
    type Err = SyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "pid" {
            return Ok(GroupBy::Pid);
        }
        let name = s.strip_prefix("args.").unwrap_or(s);
        if syntax::is_ident(name) {
            Ok(GroupBy::Arg(name.to_owned()))
        } else {
            Err(SyntaxError {
                text: s.to_owned(),
                expected: "pid, an argument name, or args.NAME",
            })
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::Pid => f.write_str("pid"),
            GroupBy::Arg(a) if a == "pid" => f.write_str("args.pid"),
            GroupBy::Arg(a) => f.write_str(a),
        }
    }
}

/// How each histogram is drawn in the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// bpftrace-style ASCII bars.
    #[default]
    Bars,
    /// A table of the non-empty buckets with counts, percentages and
    /// cumulative percentages.
    Table,
}

/// A histogram request, before it is checked against the declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistSpec {
    /// What to measure.
    pub measure: Measure,
    /// Group by these (one histogram per distinct key); empty for one
    /// histogram. For a latency, an argument is the begin event's, or the
    /// end event's when the begin has none of that name.
    pub by: Vec<GroupBy>,
    /// Bucket scale.
    pub scale: Scale,
    /// The unit; `None` for the default ([`HistSpec::default_unit`]).
    pub unit: Option<Unit>,
    /// Report only the largest N groups.
    pub top: Option<usize>,
    /// How the text report draws histograms.
    pub style: Style,
    /// Exact samples all the groups keep together, for exact percentiles
    /// ([`ExactBudget`]; [`EXACT_BUDGET`] by default): past it, the
    /// largest groups' percentiles come from sub-buckets.
    pub exact_budget: usize,
}

impl HistSpec {
    /// A request for one log2 histogram of `measure`, in its default unit.
    pub fn new(measure: Measure) -> Self {
        HistSpec {
            measure,
            by: Vec::new(),
            scale: Scale::Log2,
            unit: None,
            top: None,
            style: Style::Bars,
            exact_budget: EXACT_BUDGET,
        }
    }

    /// The unit of a measure when none is given: nanoseconds for latencies
    /// and intervals; for a value, bytes when the argument's name says it
    /// is a size (its last `_`-separated word is `bytes`, `size`, `len`,
    /// `length`, `nbytes` or `sz`: `bytes`, `buf_size`), nanoseconds when
    /// it says it is a time (`ns`, `nsec`: `max_ns`), a plain count
    /// otherwise.
    pub fn default_unit(measure: &Measure) -> Unit {
        match measure {
            Measure::Latency { .. } | Measure::Interval { .. } => Unit::Nanoseconds,
            Measure::Value { arg, .. } => {
                let lower = arg.to_ascii_lowercase();
                let last = lower.rsplit('_').next().unwrap_or("");
                if ["bytes", "size", "len", "length", "nbytes", "sz"].contains(&last) {
                    Unit::Bytes
                } else if ["ns", "nsec", "nsecs"].contains(&last) {
                    Unit::Nanoseconds
                } else {
                    Unit::Count
                }
            }
        }
    }
}

/// A request that does not fit the trace-events declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistError {
    /// No event of that name is declared.
    UnknownEvent {
        /// The name given.
        event: String,
        /// A declared name close to it.
        suggestion: Option<String>,
    },
    /// The event has no argument of that name.
    UnknownArgument {
        /// The event.
        event: String,
        /// The name given.
        arg: String,
        /// What the argument was for: `value`, `key`, `group`.
        role: &'static str,
        /// The arguments that would do (only numeric ones for a value).
        candidates: Vec<String>,
    },
    /// A value histogram of a string argument.
    NotNumeric {
        /// The event.
        event: String,
        /// The string argument.
        arg: String,
        /// The event's numeric arguments.
        numeric: Vec<String>,
    },
    /// A `--by` argument that neither latency event has.
    UnknownGroupArgument {
        /// The name given.
        arg: String,
        /// The begin event and its arguments.
        begin: (String, Vec<String>),
        /// The end event and its arguments.
        end: (String, Vec<String>),
    },
    /// A latency from an event to itself.
    SameEvent(String),
    /// One latency key is a string and the other is not: they never match.
    KeyKindsDiffer {
        /// `EVENT:ARG` of the begin key.
        begin: String,
        /// `EVENT:ARG` of the end key.
        end: String,
    },
    /// More than [`MAX_BY`] group parts.
    TooManyGroupParts(usize),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl fmt::Display for HistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistError::UnknownEvent { event, suggestion } => {
                write!(f, "the trace-events file declares no event '{event}'")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean '{s}'?)")?;
                }
                Ok(())
            }
            HistError::UnknownArgument {
                event,
                arg,
                role,
                candidates,
            } => {
                let which = if *role == "value" {
                    "numeric arguments"
                } else {
                    "arguments"
                };
                write!(
                    f,
                    "event '{event}' has no argument '{arg}' (for the {role}); its {which}: {}",
                    list(candidates)
                )
            }
            HistError::NotNumeric {
                event,
                arg,
                numeric,
            } => write!(
                f,
                "argument '{arg}' of event '{event}' is a string, and a value histogram needs a number; its numeric arguments: {}",
                list(numeric)
            ),
            HistError::UnknownGroupArgument { arg, begin, end } => write!(
                f,
                "--by {arg}: neither '{}' (arguments: {}) nor '{}' (arguments: {}) has an argument '{arg}'",
                begin.0,
                list(&begin.1),
                end.0,
                list(&end.1)
            ),
            HistError::SameEvent(e) => write!(
                f,
                "the latency begins and ends with the same event '{e}': give two different events (for the time between records of one event, use an interval)"
            ),
            HistError::KeyKindsDiffer { begin, end } => write!(
                f,
                "the latency keys {begin} and {end} can never be equal: one is a string and the other a number"
            ),
            HistError::TooManyGroupParts(n) => {
                write!(f, "--by has {n} parts; at most {MAX_BY} are supported")
            }
        }
    }
}

impl std::error::Error for HistError {}

fn decl<'e>(events: &'e TraceEvents, name: &str) -> Result<&'e EventDecl, HistError> {
    events
        .by_name(name.as_bytes())
        .ok_or_else(|| HistError::UnknownEvent {
            event: name.to_owned(),
            suggestion: syntax::did_you_mean(name, events.iter().map(|d| d.name.as_str()))
                .map(str::to_owned),
        })
}

fn arg_names(decl: &EventDecl, numeric_only: bool) -> Vec<String> {
    decl.args
        .iter()
        .filter(|a| !numeric_only || a.kind != ArgKind::String)
        .map(|a| a.name.clone())
        .collect()
}

/// The position and kind of argument `arg` of `decl`.
fn arg_of(decl: &EventDecl, arg: &str, role: &'static str) -> Result<(usize, ArgKind), HistError> {
    let pos = decl
        .arg_position(arg)
        .ok_or_else(|| HistError::UnknownArgument {
            event: decl.name.clone(),
            arg: arg.to_owned(),
            role,
            candidates: arg_names(decl, role == "value"),
        })?;
    let kind = decl.args.get(pos).map_or(ArgKind::Pointer, |a| a.kind);
    Ok((pos, kind))
}

/// Which record of a latency pair an argument is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The begin (or the only) record.
    Begin,
    /// The end record.
    End,
}

/// A group-key part, resolved.
#[derive(Debug, Clone)]
enum Part {
    Pid,
    Arg {
        side: Side,
        pos: usize,
        name: String,
        kind: ArgKind,
    },
}

/// A latency key argument, resolved.
#[derive(Debug, Clone)]
struct Key {
    pos: usize,
    name: String,
    kind: ArgKind,
}

/// The request resolved against the declarations.
#[derive(Debug, Clone)]
enum Resolved {
    Value {
        event: String,
        pos: usize,
        arg: String,
    },
    Latency {
        begin: String,
        end: String,
        begin_key: Option<Key>,
        end_key: Option<Key>,
        pairing: Pairing,
    },
    Interval {
        event: String,
    },
}

/// Everything an analyzer needs to know about its request; shared by the
/// forks of a parallel run.
#[derive(Debug)]
struct Plan {
    spec: HistSpec,
    resolved: Resolved,
    parts: Vec<Part>,
    unit: Unit,
    domain: Domain,
}

impl Plan {
    fn resolve(spec: HistSpec, events: &TraceEvents) -> Result<Plan, HistError> {
        if spec.by.len() > MAX_BY {
            return Err(HistError::TooManyGroupParts(spec.by.len()));
        }
        let mut parts = Vec::new();
        let (resolved, domain) = match &spec.measure {
            Measure::Value { event, arg } => {
                let d = decl(events, event)?;
                let (pos, kind) = arg_of(d, arg, "value")?;
                if kind == ArgKind::String {
                    return Err(HistError::NotNumeric {
                        event: event.clone(),
                        arg: arg.clone(),
                        numeric: arg_names(d, true),
                    });
                }
                for by in &spec.by {
                    parts.push(Self::part(by, d, None)?);
                }
                let domain = match kind {
                    ArgKind::Int { signed: true, .. } => Domain::Signed,
                    _ => Domain::Unsigned,
                };
                (
                    Resolved::Value {
                        event: event.clone(),
                        pos,
                        arg: arg.clone(),
                    },
                    domain,
                )
            }
            Measure::Interval { event } => {
                let d = decl(events, event)?;
                for by in &spec.by {
                    parts.push(Self::part(by, d, None)?);
                }
                (
                    Resolved::Interval {
                        event: event.clone(),
                    },
                    Domain::Signed,
                )
            }
            Measure::Latency {
                begin,
                end,
                pairing,
            } => {
                let b = decl(events, &begin.event)?;
                let e = decl(events, &end.event)?;
                if b.name == e.name {
                    return Err(HistError::SameEvent(b.name.clone()));
                }
                // One named key stands for both sides.
                let (bk, ek) = match (&begin.key, &end.key) {
                    (Some(k), None) => (Some(k), Some(k)),
                    (None, Some(k)) => (Some(k), Some(k)),
                    (b, e) => (b.as_ref(), e.as_ref()),
                };
                let key = |d: &EventDecl, k: Option<&String>| -> Result<Option<Key>, HistError> {
                    k.map(|k| {
                        arg_of(d, k, "key").map(|(pos, kind)| Key {
                            pos,
                            name: k.clone(),
                            kind,
                        })
                    })
                    .transpose()
                };
                let begin_key = key(b, bk)?;
                let end_key = key(e, ek)?;
                if let (Some(x), Some(y)) = (&begin_key, &end_key)
                    && (x.kind == ArgKind::String) != (y.kind == ArgKind::String)
                {
                    return Err(HistError::KeyKindsDiffer {
                        begin: format!("{}:{}", b.name, x.name),
                        end: format!("{}:{}", e.name, y.name),
                    });
                }
                for by in &spec.by {
                    parts.push(Self::part(by, b, Some(e))?);
                }
                (
                    Resolved::Latency {
                        begin: b.name.clone(),
                        end: e.name.clone(),
                        begin_key,
                        end_key,
                        pairing: *pairing,
                    },
                    Domain::Signed,
                )
            }
        };
        let unit = spec
            .unit
            .unwrap_or_else(|| HistSpec::default_unit(&spec.measure));
        Ok(Plan {
            spec,
            resolved,
            parts,
            unit,
            domain,
        })
    }

    /// Resolves a `--by` part against the (begin) event and, for a
    /// latency, the end event.
    fn part(by: &GroupBy, first: &EventDecl, end: Option<&EventDecl>) -> Result<Part, HistError> {
        let GroupBy::Arg(name) = by else {
            return Ok(Part::Pid);
        };
        let found = |d: &EventDecl, side| {
            d.arg_position(name).map(|pos| Part::Arg {
                side,
                pos,
                name: name.clone(),
                kind: d.args.get(pos).map_or(ArgKind::Pointer, |a| a.kind),
            })
        };
        if let Some(p) = found(first, Side::Begin) {
            return Ok(p);
        }
        match end {
            None => Err(HistError::UnknownArgument {
                event: first.name.clone(),
                arg: name.clone(),
                role: "group",
                candidates: arg_names(first, false),
            }),
            Some(e) => found(e, Side::End).ok_or_else(|| HistError::UnknownGroupArgument {
                arg: name.clone(),
                begin: (first.name.clone(), arg_names(first, false)),
                end: (e.name.clone(), arg_names(e, false)),
            }),
        }
    }

    /// The events the analyzer reads (dropped-events records aside).
    fn events(&self) -> Vec<String> {
        match &self.resolved {
            Resolved::Value { event, .. } | Resolved::Interval { event } => vec![event.clone()],
            Resolved::Latency { begin, end, .. } => vec![begin.clone(), end.clone()],
        }
    }

    fn interest(&self) -> Interest {
        let mut names = self.events();
        names.push(DROPPED.to_owned());
        Interest::parse(&names.join(",")).unwrap_or_default()
    }

    /// `, by pid and mutex`, or nothing.
    fn by_text(&self) -> String {
        if self.spec.by.is_empty() {
            return String::new();
        }
        let names: Vec<String> = self.spec.by.iter().map(ToString::to_string).collect();
        format!(", by {}", names.join(" and "))
    }
}

/// Interned strings (string arguments in keys).
#[derive(Debug, Clone, Default)]
struct Strings {
    ids: HashMap<Vec<u8>, u64>,
    list: Vec<Vec<u8>>,
}

impl Strings {
    fn intern(&mut self, s: &[u8]) -> u64 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.list.len() as u64;
        self.list.push(s.to_vec());
        self.ids.insert(s.to_vec(), id);
        id
    }

    fn get(&self, id: u64) -> &[u8] {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.list.get(i))
            .map_or(&[][..], Vec::as_slice)
    }
}

/// A group key: one word per part (a pid, an argument's value, or an
/// interned string's id); unused parts are 0.
type GroupKey = [u64; MAX_BY];

/// The key word of argument `pos`: a number (sign-extended from its
/// declared width when signed) or an interned string (`true`).
fn arg_word(ev: &Event<'_>, pos: usize, kind: ArgKind, strings: &mut Strings) -> (u64, bool) {
    match ev.arg(pos) {
        Some(ArgValue::Str(s)) => (strings.intern(s), true),
        Some(ArgValue::Int(v)) => match kind {
            ArgKind::Int { signed: true, .. } => (ev.i64_at(pos).map_or(v, |x| x as u64), false),
            _ => (v, false),
        },
        None => (0, false),
    }
}

/// Histograms by group key.
#[derive(Debug, Clone)]
struct Groups {
    domain: Domain,
    scale: Scale,
    /// Where each group is in `list`.
    index: HashMap<GroupKey, usize>,
    /// The groups, in the order they came (largest first once
    /// [`Groups::keep_shown`] has run).
    list: Vec<(GroupKey, Histogram)>,
    strings: Strings,
    /// Which key parts hold interned strings (string arguments, except in
    /// version-0 traces, which record strings as their addresses).
    interned: [bool; MAX_BY],
    /// The exact samples all the groups keep together.
    budget: ExactBudget,
}

impl Groups {
    fn new(plan: &Plan) -> Self {
        Groups {
            domain: plan.domain,
            scale: plan.spec.scale,
            index: HashMap::new(),
            list: Vec::new(),
            strings: Strings::default(),
            interned: [false; MAX_BY],
            budget: ExactBudget::new(plan.spec.exact_budget),
        }
    }

    /// Fills the parts of `key` that `side`'s record gives.
    fn fill_key(&mut self, plan: &Plan, side: Side, ev: &Event<'_>, key: &mut GroupKey) {
        for ((part, slot), interned) in plan
            .parts
            .iter()
            .zip(key.iter_mut())
            .zip(self.interned.iter_mut())
        {
            match part {
                Part::Pid if side == Side::Begin => *slot = u64::from(ev.pid()),
                Part::Arg {
                    side: s, pos, kind, ..
                } if *s == side => {
                    let (word, is_string) = arg_word(ev, *pos, *kind, &mut self.strings);
                    *slot = word;
                    *interned |= is_string;
                }
                _ => {}
            }
        }
    }

    /// The histogram of group `key` (created empty on first use).
    fn histogram(&mut self, key: GroupKey) -> &mut Histogram {
        let i = self.position(key);
        // In range: the index holds positions of pushed groups only.
        &mut self.list[i].1
    }

    /// Where group `key` is in `list` (created empty on first use).
    fn position(&mut self, key: GroupKey) -> usize {
        let next = self.list.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.list
                .push((key, Histogram::new(self.domain, self.scale)));
        }
        i
    }

    /// Records a sample of group `key`, within the budget of exact samples.
    fn record(&mut self, key: GroupKey, raw: u64) {
        let i = self.position(key);
        let groups = self.list.len();
        let Some((_, h)) = self.list.get_mut(i) else {
            return;
        };
        h.record(raw);
        if self.budget.recorded(h, groups) {
            self.enforce_budget();
        }
    }

    /// Switches the groups that hold more than their share of a spent
    /// budget.
    fn enforce_budget(&mut self) {
        let groups = self.list.len();
        self.budget
            .enforce(self.list.iter_mut().map(|(_, h)| h), groups);
    }

    /// Maps the keys of a fork's groups (its own string ids) to ours.
    fn remap_from(&mut self, other: &Groups) -> Remap {
        let ids = other
            .strings
            .list
            .iter()
            .map(|s| self.strings.intern(s))
            .collect();
        for (mine, theirs) in self.interned.iter_mut().zip(other.interned) {
            *mine |= theirs;
        }
        Remap {
            ids,
            interned: other.interned,
        }
    }

    fn merge(&mut self, other: Groups, remap: &Remap) -> Result<(), AnalyzerError> {
        self.budget.merge(&other.budget);
        for (key, h) in other.list {
            if !self.histogram(remap.key(key)).merge(h) {
                return Err(AnalyzerError::new(
                    NAME,
                    "internal error: histograms of different kinds",
                ));
            }
        }
        self.enforce_budget();
        Ok(())
    }

    fn total(&self) -> u64 {
        self.list.iter().map(|(_, h)| h.count()).sum()
    }

    /// The order of keys within a count: part by part, numbers as
    /// numbers (signed arguments with their sign), strings as bytes.
    fn cmp_keys(&self, plan: &Plan, a: &GroupKey, b: &GroupKey) -> Ordering {
        for (i, part) in plan.parts.iter().enumerate() {
            let (x, y) = (
                a.get(i).copied().unwrap_or(0),
                b.get(i).copied().unwrap_or(0),
            );
            let order = if self.interned.get(i).copied().unwrap_or(false) {
                self.strings.get(x).cmp(self.strings.get(y))
            } else if matches!(
                part,
                Part::Arg {
                    kind: ArgKind::Int { signed: true, .. },
                    ..
                }
            ) {
                (x as i64).cmp(&(y as i64))
            } else {
                x.cmp(&y)
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }

    /// Keeps the `top` largest groups (all when `None`), largest first,
    /// ties in key order, and lets go of the others and of the index.
    /// Picks the top ones in place, without sorting the rest.
    fn keep_shown(&mut self, plan: &Plan, top: Option<usize>) {
        self.index = HashMap::new();
        let mut list = std::mem::take(&mut self.list);
        let cmp = |a: &(GroupKey, Histogram), b: &(GroupKey, Histogram)| {
            b.1.count()
                .cmp(&a.1.count())
                .then_with(|| self.cmp_keys(plan, &a.0, &b.0))
        };
        if let Some(n) = top
            && n < list.len()
        {
            if n > 0 {
                list.select_nth_unstable_by(n - 1, cmp);
            }
            list.truncate(n);
            list.shrink_to_fit();
        }
        // Keys are distinct and compare distinct: unstable is stable here.
        list.sort_unstable_by(cmp);
        self.list = list;
    }

    /// `pid=4242, mutex=0x55d0c8a0` and the same as a JSON object.
    fn label(&self, plan: &Plan, key: &GroupKey) -> (String, Value) {
        let mut text = Vec::new();
        let mut obj = serde_json::Map::new();
        for (i, part) in plan.parts.iter().enumerate() {
            let word = key.get(i).copied().unwrap_or(0);
            let interned = self.interned.get(i).copied().unwrap_or(false);
            let (name, shown, value) = match part {
                Part::Pid => ("pid".to_owned(), word.to_string(), json!(word)),
                Part::Arg { name, kind, .. } => {
                    let (shown, value) = show_word(word, *kind, interned.then_some(&self.strings));
                    (name.clone(), shown, value)
                }
            };
            text.push(format!("{name}={shown}"));
            obj.insert(name, value);
        }
        (text.join(", "), Value::Object(obj))
    }
}

/// A key word as text and JSON: strings quoted, pointers in hex, signed
/// integers with their sign.
fn show_word(word: u64, kind: ArgKind, strings: Option<&Strings>) -> (String, Value) {
    if let Some(strings) = strings {
        let s = String::from_utf8_lossy(strings.get(word)).into_owned();
        return (format!("\"{}\"", s.escape_debug()), json!(s));
    }
    match kind {
        ArgKind::Int { signed: true, .. } => (format!("{}", word as i64), json!(word as i64)),
        ArgKind::Int { signed: false, .. } => (word.to_string(), json!(word)),
        ArgKind::Bool => ((word != 0).to_string(), json!(word != 0)),
        // Pointers, and strings of version-0 traces (their addresses).
        ArgKind::Pointer | ArgKind::String => (format!("0x{word:x}"), json!(format!("0x{word:x}"))),
    }
}

/// String ids of a fork, mapped to the merged analyzer's.
#[derive(Debug)]
struct Remap {
    ids: Vec<u64>,
    interned: [bool; MAX_BY],
}

impl Remap {
    fn key(&self, mut key: GroupKey) -> GroupKey {
        for (word, interned) in key.iter_mut().zip(self.interned) {
            if interned {
                *word = usize::try_from(*word)
                    .ok()
                    .and_then(|i| self.ids.get(i))
                    .copied()
                    .unwrap_or(*word);
            }
        }
        key
    }
}

/// Dropped-events records seen.
#[derive(Debug, Clone, Copy, Default)]
struct Loss {
    records: u64,
    events: u64,
}

impl Loss {
    fn add(&mut self, ev: &Event<'_>) {
        self.records += 1;
        self.events = self.events.saturating_add(ev.word(0));
    }
}

/// Where `--svg` goes: written once, when the report is made.
struct PlotSink(Mutex<Option<(Box<dyn Write + Send>, String)>>);

impl PlotSink {
    fn none() -> Self {
        PlotSink(Mutex::new(None))
    }

    fn take(&self) -> Option<(Box<dyn Write + Send>, String)> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

impl fmt::Debug for PlotSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("PlotSink").field("set", &set).finish()
    }
}

/// The `hist` analyzer: [`Hist::new`] checks a request and builds it.
#[derive(Debug)]
pub enum Hist {
    /// Values and intervals: chunk-parallel.
    Samples(SampleHist),
    /// Latencies: in file order.
    Latency(LatencyHist),
}

impl Hist {
    /// Checks `spec` against the declarations and builds the analyzer.
    pub fn new(spec: HistSpec, events: &TraceEvents) -> Result<Hist, HistError> {
        let plan = Arc::new(Plan::resolve(spec, events)?);
        Ok(match plan.resolved {
            Resolved::Latency { .. } => Hist::Latency(LatencyHist::new(plan)),
            _ => Hist::Samples(SampleHist::new(plan)),
        })
    }

    /// Also writes the histograms as an SVG plot to `out` when the report
    /// is made; `name` names it in error messages.
    pub fn with_svg(self, out: Box<dyn Write + Send>, name: impl Into<String>) -> Hist {
        let sink = PlotSink(Mutex::new(Some((out, name.into()))));
        match self {
            Hist::Samples(mut s) => {
                s.svg = sink;
                Hist::Samples(s)
            }
            Hist::Latency(mut l) => {
                l.svg = sink;
                Hist::Latency(l)
            }
        }
    }

    /// The events whose records it reads (it also reads dropped-events
    /// records, to report losses).
    pub fn events(&self) -> Vec<String> {
        self.plan().events()
    }

    /// The unit it reports in.
    pub fn unit(&self) -> Unit {
        self.plan().unit
    }

    fn plan(&self) -> &Plan {
        match self {
            Hist::Samples(s) => &s.plan,
            Hist::Latency(l) => &l.plan,
        }
    }

    /// Adds it to `driver`: chunk-parallel for values and intervals, in
    /// file order for latencies.
    pub fn add_to(self, driver: &mut Driver<'_>) {
        match self {
            Hist::Samples(s) => driver.add_parallel(s),
            Hist::Latency(l) => driver.add(l),
        }
    }
}

/// Consecutive records per series, for intervals.
#[derive(Debug, Default)]
struct Series {
    /// Timestamp of each series' first record in this chunk, when no
    /// dropped-events record of its pid came before it in the chunk: the
    /// interval from the previous chunk's last record is made at merge.
    first: HashMap<(u32, GroupKey), u64>,
    /// Timestamp of each series' latest record (none after a loss).
    last: HashMap<(u32, GroupKey), u64>,
    /// Pids with a dropped-events record in this chunk.
    lossy_pids: HashSet<u32>,
}

/// Value and interval histograms (see [`Hist`]).
#[derive(Debug)]
pub struct SampleHist {
    plan: Arc<Plan>,
    groups: Groups,
    loss: Loss,
    series: Series,
    svg: PlotSink,
}

impl SampleHist {
    fn new(plan: Arc<Plan>) -> Self {
        SampleHist {
            groups: Groups::new(&plan),
            plan,
            loss: Loss::default(),
            series: Series::default(),
            svg: PlotSink::none(),
        }
    }

    fn on_record(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let mut key = [0; MAX_BY];
        self.groups.fill_key(&self.plan, Side::Begin, ev, &mut key);
        match &self.plan.resolved {
            Resolved::Value { pos, .. } => {
                let raw = match self.plan.domain {
                    Domain::Signed => ev.i64_at(*pos).map(|v| v as u64),
                    Domain::Unsigned => ev.arg(*pos).and_then(ArgValue::as_u64),
                };
                if let Some(raw) = raw {
                    self.groups.record(key, raw);
                }
            }
            _ => {
                let ts = ev.timestamp_ns();
                let series = (ev.pid(), key);
                match self.series.last.insert(series, ts) {
                    Some(prev) => self.groups.record(key, ts.wrapping_sub(prev)),
                    None if !self.series.lossy_pids.contains(&ev.pid()) => {
                        self.series.first.insert(series, ts);
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    fn on_dropped(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.loss.add(ev);
        if matches!(self.plan.resolved, Resolved::Interval { .. }) {
            let pid = ev.pid();
            self.series.lossy_pids.insert(pid);
            self.series.last.retain(|(p, _), _| *p != pid);
        }
        Ok(())
    }
}

impl Analyzer for SampleHist {
    fn name(&self) -> &str {
        NAME
    }

    fn interest(&self) -> Interest {
        self.plan.interest()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on(DROPPED, Self::on_dropped);
        for e in self.plan.events() {
            h.on(&e, Self::on_record);
        }
        h
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let groups = std::mem::replace(&mut self.groups, Groups::new(&self.plan));
        report(&self.plan, groups, self.loss, None, &self.svg)
    }
}

impl ParallelAnalyzer for SampleHist {
    fn fork(&self, _: &ChunkStart) -> Self {
        SampleHist::new(Arc::clone(&self.plan))
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        let remap = self.groups.remap_from(&part.groups);
        // Intervals that straddle the chunk boundary.
        let mut firsts: Vec<_> = part.series.first.into_iter().collect();
        firsts.sort_unstable();
        for ((pid, key), ts) in firsts {
            let key = remap.key(key);
            if let Some(&prev) = self.series.last.get(&(pid, key)) {
                self.groups.record(key, ts.wrapping_sub(prev));
            }
        }
        for pid in &part.series.lossy_pids {
            self.series.last.retain(|(p, _), _| p != pid);
        }
        for ((pid, key), ts) in part.series.last {
            self.series.last.insert((pid, remap.key(key)), ts);
        }
        self.series.lossy_pids.extend(part.series.lossy_pids);
        self.groups.merge(part.groups, &remap)?;
        self.loss.records += part.loss.records;
        self.loss.events = self.loss.events.saturating_add(part.loss.events);
        Ok(())
    }
}

/// A begin waiting for its end.
#[derive(Debug, Clone, Copy)]
struct Pending {
    ts: u64,
    /// The group-key parts the begin record gives.
    group: GroupKey,
    /// Dropped-events records of its pid before it.
    losses: u64,
}

/// Latency histograms (see [`Hist`]).
#[derive(Debug)]
pub struct LatencyHist {
    plan: Arc<Plan>,
    groups: Groups,
    loss: Loss,
    /// Open begins by (pid, key word), oldest first.
    pending: HashMap<(u32, u64), VecDeque<Pending>>,
    /// Whether key words are interned strings.
    key_interned: bool,
    /// Dropped-events records so far, per pid.
    losses: HashMap<u32, u64>,
    begins: u64,
    ends: u64,
    unmatched_ends: u64,
    /// Begins replaced by a later begin of their key ([`Pairing::Unique`]).
    replaced: u64,
    pairs_across_loss: u64,
    last_ts: u64,
    svg: PlotSink,
}

impl LatencyHist {
    fn new(plan: Arc<Plan>) -> Self {
        LatencyHist {
            groups: Groups::new(&plan),
            plan,
            loss: Loss::default(),
            pending: HashMap::new(),
            key_interned: false,
            losses: HashMap::new(),
            begins: 0,
            ends: 0,
            unmatched_ends: 0,
            replaced: 0,
            pairs_across_loss: 0,
            last_ts: 0,
            svg: PlotSink::none(),
        }
    }

    fn pair_key(&mut self, ev: &Event<'_>, side: Side) -> (u32, u64) {
        let key = match (&self.plan.resolved, side) {
            (Resolved::Latency { begin_key, .. }, Side::Begin) => begin_key.as_ref(),
            (Resolved::Latency { end_key, .. }, Side::End) => end_key.as_ref(),
            _ => None,
        };
        let word = match key {
            Some(k) => {
                let (word, interned) = arg_word(ev, k.pos, k.kind, &mut self.groups.strings);
                self.key_interned |= interned;
                word
            }
            None => 0,
        };
        (ev.pid(), word)
    }

    fn on_begin(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.begins += 1;
        self.last_ts = self.last_ts.max(ev.timestamp_ns());
        let key = self.pair_key(ev, Side::Begin);
        let mut group = [0; MAX_BY];
        self.groups
            .fill_key(&self.plan, Side::Begin, ev, &mut group);
        let losses = self.losses.get(&ev.pid()).copied().unwrap_or(0);
        let queue = self.pending.entry(key).or_default();
        if matches!(
            self.plan.resolved,
            Resolved::Latency {
                pairing: Pairing::Unique,
                ..
            }
        ) {
            self.replaced += queue.len() as u64;
            queue.clear();
        }
        queue.push_back(Pending {
            ts: ev.timestamp_ns(),
            group,
            losses,
        });
        Ok(())
    }

    fn on_end(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.ends += 1;
        let ts = ev.timestamp_ns();
        self.last_ts = self.last_ts.max(ts);
        let key = self.pair_key(ev, Side::End);
        let lifo = matches!(
            self.plan.resolved,
            Resolved::Latency {
                pairing: Pairing::Lifo,
                ..
            }
        );
        let begin = match self.pending.get_mut(&key) {
            Some(queue) => {
                let b = if lifo {
                    queue.pop_back()
                } else {
                    queue.pop_front()
                };
                if queue.is_empty() {
                    // Memory follows what is open, not what was seen.
                    self.pending.remove(&key);
                }
                b
            }
            None => None,
        };
        let Some(begin) = begin else {
            self.unmatched_ends += 1;
            return Ok(());
        };
        let mut group = begin.group;
        self.groups.fill_key(&self.plan, Side::End, ev, &mut group);
        if self.losses.get(&ev.pid()).copied().unwrap_or(0) != begin.losses {
            self.pairs_across_loss += 1;
        }
        self.groups.record(group, ts.wrapping_sub(begin.ts));
        Ok(())
    }

    fn on_dropped(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.loss.add(ev);
        *self.losses.entry(ev.pid()).or_insert(0) += 1;
        Ok(())
    }

    /// The begins still open, oldest first.
    fn open(&self) -> Vec<(u64, u32, u64)> {
        let mut open: Vec<(u64, u32, u64)> = self
            .pending
            .iter()
            .flat_map(|(&(pid, key), q)| q.iter().map(move |p| (p.ts, pid, key)))
            .collect();
        open.sort_unstable();
        open
    }
}

impl Analyzer for LatencyHist {
    fn name(&self) -> &str {
        NAME
    }

    fn interest(&self) -> Interest {
        self.plan.interest()
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on(DROPPED, Self::on_dropped);
        if let Resolved::Latency { begin, end, .. } = &self.plan.resolved {
            h.on(begin, Self::on_begin).on(end, Self::on_end);
        }
        h
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let open = self.open();
        let key = match &self.plan.resolved {
            Resolved::Latency { begin_key, .. } => begin_key.clone(),
            _ => None,
        };
        let show_key = |word: u64| {
            key.as_ref().map(|k| {
                let strings = self.key_interned.then_some(&self.groups.strings);
                (k.name.clone(), show_word(word, k.kind, strings))
            })
        };
        let open_shown = open
            .iter()
            .take(OPEN_SHOWN)
            .map(|&(ts, pid, word)| OpenBegin {
                pid,
                key: show_key(word),
                ts,
                open_ns: self.last_ts.wrapping_sub(ts) as i64,
            })
            .collect();
        let totals = LatencyTotals {
            begins: self.begins,
            ends: self.ends,
            open: open.len() as u64,
            unmatched_ends: self.unmatched_ends,
            replaced: self.replaced,
            pairs_across_loss: self.pairs_across_loss,
            open_shown,
        };
        let groups = std::mem::replace(&mut self.groups, Groups::new(&self.plan));
        report(&self.plan, groups, self.loss, Some(totals), &self.svg)
    }
}

/// A begin still open at the end of the trace.
#[derive(Debug)]
struct OpenBegin {
    pid: u32,
    /// The key's name, and its value as text and JSON.
    key: Option<(String, (String, Value))>,
    ts: u64,
    /// Time from it to the last begin or end record.
    open_ns: i64,
}

/// What a latency report says beyond the histograms.
#[derive(Debug)]
struct LatencyTotals {
    begins: u64,
    ends: u64,
    open: u64,
    unmatched_ends: u64,
    replaced: u64,
    pairs_across_loss: u64,
    open_shown: Vec<OpenBegin>,
}

/// The first line of the text report.
fn headline(plan: &Plan, samples: u64, groups: usize) -> String {
    let in_groups = if plan.spec.by.is_empty() {
        String::new()
    } else {
        format!(" in {}", plural(groups as u64, "group", "groups"))
    };
    let by = plan.by_text();
    match &plan.resolved {
        Resolved::Value { event, arg, .. } => {
            format!(
                "Values of {event} {arg}{by}: {}{in_groups}",
                plural(samples, "record", "records")
            )
        }
        Resolved::Interval { event } => format!(
            "Time between consecutive {event} records of one pid{by}: {}{in_groups}",
            plural(samples, "interval", "intervals")
        ),
        Resolved::Latency {
            begin,
            end,
            begin_key,
            end_key,
            pairing,
        } => {
            let key = match (begin_key, end_key) {
                (Some(b), Some(e)) if b.name == e.name => format!(" and {}", b.name),
                (Some(b), Some(e)) => format!(" and {begin}:{} = {end}:{}", b.name, e.name),
                _ => String::new(),
            };
            format!(
                "Latency from {begin} to {end}, paired by pid{key} ({}){by}: {}{in_groups}",
                pairing.describe(),
                plural(samples, "pair", "pairs")
            )
        }
    }
}

/// The report: everything but the groups is small; the groups shown are
/// written from their histograms as the report goes out, and the SVG plot
/// (if asked for) is written now.
fn report(
    plan: &Arc<Plan>,
    mut groups: Groups,
    loss: Loss,
    latency: Option<LatencyTotals>,
    svg: &PlotSink,
) -> Result<Report, AnalyzerError> {
    let groups_total = groups.list.len();
    let samples = groups.total();
    // The groups exact at the end are those the budget's rule says (the
    // same however the run was cut into chunks).
    groups.enforce_budget();
    let budget = groups
        .budget
        .is_spent()
        .then(|| (groups.budget.share(groups_total), groups.budget.limit()));
    // Only the groups shown are kept past here.
    groups.keep_shown(plan, plan.spec.top);
    for (_, h) in &mut groups.list {
        h.sort_samples();
    }
    let shown_samples = groups.total();
    let body = HistReport {
        plan: Arc::clone(plan),
        groups,
        groups_total,
        samples,
        rest_samples: samples - shown_samples,
        budget,
        loss,
        latency,
    };
    if let Some((out, name)) = svg.take() {
        let mut out = std::io::BufWriter::new(out);
        body.write_svg(&mut out)
            .and_then(|()| out.flush())
            .map_err(|e| AnalyzerError::new(NAME, format!("writing {name}: {e}")))?;
    }
    Ok(Report::streamed(body))
}

/// A `hist` report, written as it goes out (see [`ReportBody`]).
#[derive(Debug)]
struct HistReport {
    plan: Arc<Plan>,
    /// The groups shown (all of them without `--top`), largest first.
    groups: Groups,
    /// Groups in all.
    groups_total: usize,
    /// Samples in all, and in the groups not shown.
    samples: u64,
    rest_samples: u64,
    /// When the groups' samples passed the budget of exact samples: each
    /// group's share and the budget.
    budget: Option<(u64, u64)>,
    loss: Loss,
    latency: Option<LatencyTotals>,
}

impl HistReport {
    /// The groups shown, in order.
    fn shown(&self) -> impl Iterator<Item = (&GroupKey, &Histogram)> + '_ {
        self.groups.list.iter().map(|(k, h)| (k, h))
    }

    fn write_svg(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let title = headline(&self.plan, self.samples, self.groups_total);
        let unit = self.plan.unit;
        let panels = || {
            self.shown().map(move |(key, h)| {
                let (label, _) = self.groups.label(&self.plan, key);
                (label, h.summary(unit), h)
            })
        };
        write_svg(out, &title, panels, unit)
    }
}

impl ReportBody for HistReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let plan = &self.plan;
        let unit = plan.unit;
        writeln!(out, "{}", headline(plan, self.samples, self.groups_total))?;
        if let Some(l) = &self.latency {
            let replaced = if l.replaced > 0 {
                format!(
                    ", {} by a later begin of {} key",
                    plural(l.replaced, "begin replaced", "begins replaced"),
                    if l.replaced == 1 { "its" } else { "their" }
                )
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}, {}; unmatched: {} still open at the end{replaced}, {} without a begin",
                plural(l.begins, "begin", "begins"),
                plural(l.ends, "end", "ends"),
                plural(l.open, "begin", "begins"),
                plural(l.unmatched_ends, "end", "ends")
            )?;
        }
        if self.loss.records > 0 {
            let consequence = match (&plan.resolved, &self.latency) {
                (Resolved::Latency { .. }, Some(l)) => format!(
                    "{} a loss, and lost records can leave begins and ends unmatched",
                    plural(l.pairs_across_loss, "pair spans", "pairs span")
                ),
                (Resolved::Interval { .. }, _) => {
                    "no interval is measured across a loss of its pid".to_owned()
                }
                _ => "their values are missing".to_owned(),
            };
            writeln!(
                out,
                "Events were lost: {}, {} dropped; {consequence}",
                plural(
                    self.loss.records,
                    "dropped-events record",
                    "dropped-events records"
                ),
                plural(self.loss.events, "event", "events")
            )?;
        }
        if self.groups_total == 0 {
            let why = match &plan.resolved {
                Resolved::Value { event, .. } => format!("no {event} record"),
                Resolved::Interval { event } => {
                    format!("no two {event} records of one pid in a row")
                }
                Resolved::Latency { begin, end, .. } => {
                    format!("no {begin} record paired with a {end} record")
                }
            };
            writeln!(out, "No samples: {why} among the records read.")?;
        }
        let mut approx = false;
        for (key, h) in self.shown() {
            approx |= !h.is_exact();
            out.write_all(b"\n")?;
            if !plan.spec.by.is_empty() {
                writeln!(out, "{}", self.groups.label(plan, key).0)?;
            }
            writeln!(out, "{}", h.summary(unit))?;
            match plan.spec.style {
                Style::Bars => h.write_bars(out, unit)?,
                Style::Table => write_bucket_table(out, h, unit)?,
            }
        }
        if self.groups.list.len() < self.groups_total {
            writeln!(
                out,
                "\n({} with {} not shown)",
                plural(
                    (self.groups_total - self.groups.list.len()) as u64,
                    "more group",
                    "more groups"
                ),
                plural(self.rest_samples, "sample", "samples")
            )?;
        }
        if approx {
            let past = match self.budget {
                None => String::new(),
                Some((share, limit)) => {
                    format!(", or past {share} when the groups hold more than {limit} in all,")
                }
            };
            writeln!(
                out,
                "\n~ percentiles of histograms past {} samples{past} come from sub-buckets: within {:.3}% of the exact value.",
                super::histogram::EXACT_SAMPLES,
                super::histogram::APPROX_RELATIVE_ERROR * 100.0
            )?;
        }
        if let Some(l) = &self.latency
            && !l.open_shown.is_empty()
        {
            writeln!(out, "\nStill open at the end (oldest first):")?;
            for o in &l.open_shown {
                let key = o
                    .key
                    .as_ref()
                    .map_or(String::new(), |(n, (v, _))| format!(" {n}={v}"));
                writeln!(
                    out,
                    "  pid {}{key}: began at {} ns, open for {} until the last begin or end record",
                    o.pid,
                    o.ts,
                    super::histogram::human_f64(o.open_ns as f64, Unit::Nanoseconds)
                )?;
            }
            if l.open > l.open_shown.len() as u64 {
                writeln!(out, "  ({} more)", l.open - l.open_shown.len() as u64)?;
            }
        }
        Ok(())
    }

    fn json(&self) -> LazyJson<'_> {
        let plan = &self.plan;
        let unit = plan.unit;
        let mut json = serde_json::Map::new();
        match &plan.resolved {
            Resolved::Value { event, arg, .. } => {
                json.insert("measure".into(), json!("value"));
                json.insert("event".into(), json!(event));
                json.insert("arg".into(), json!(arg));
            }
            Resolved::Interval { event } => {
                json.insert("measure".into(), json!("interval"));
                json.insert("event".into(), json!(event));
            }
            Resolved::Latency {
                begin,
                end,
                begin_key,
                end_key,
                pairing,
            } => {
                json.insert("measure".into(), json!("latency"));
                json.insert(
                    "begin".into(),
                    json!({"event": begin, "key": begin_key.as_ref().map(|k| &k.name)}),
                );
                json.insert(
                    "end".into(),
                    json!({"event": end, "key": end_key.as_ref().map(|k| &k.name)}),
                );
                json.insert("pairing".into(), json!(pairing.json_name()));
            }
        }
        let by: Vec<String> = plan.spec.by.iter().map(ToString::to_string).collect();
        json.insert("by".into(), json!(by));
        json.insert("unit".into(), json!(unit.json_name()));
        json.insert("samples".into(), json!(self.samples));
        json.insert("groups_total".into(), json!(self.groups_total));
        if let Some(l) = &self.latency {
            json.insert("begins".into(), json!(l.begins));
            json.insert("ends".into(), json!(l.ends));
            json.insert(
                "unmatched".into(),
                json!({
                    "begins": l.open + l.replaced,
                    "open_at_end": l.open,
                    "replaced": l.replaced,
                    "ends": l.unmatched_ends,
                }),
            );
            json.insert("pairs_across_loss".into(), json!(l.pairs_across_loss));
            let open: Vec<Value> = l
                .open_shown
                .iter()
                .map(|o| {
                    let mut v = json!({"pid": o.pid, "begin_ns": o.ts, "open_ns": o.open_ns});
                    if let (Some((name, (_, value))), Some(obj)) = (&o.key, v.as_object_mut()) {
                        obj.insert("key".into(), json!({ name.clone(): value.clone() }));
                    }
                    v
                })
                .collect();
            json.insert("oldest_open".into(), Value::Array(open));
        }
        json.insert(
            "dropped".into(),
            json!({"records": self.loss.records, "events": self.loss.events}),
        );
        let groups = self.shown().map(move |(key, h)| {
            let (_, key_json) = self.groups.label(plan, key);
            LazyJson::Object(vec![
                ("key".to_owned(), LazyJson::Value(key_json)),
                ("histogram".to_owned(), h.to_lazy_json(unit)),
            ])
        });
        let mut fields: Vec<(String, LazyJson<'_>)> = json
            .into_iter()
            .map(|(k, v)| (k, LazyJson::Value(v)))
            .collect();
        fields.push(("groups".to_owned(), LazyJson::Array(Box::new(groups))));
        LazyJson::Object(fields)
    }
}

/// Buckets beyond which plots list only the non-empty ones.
const MAX_FILLED: usize = 200;

/// A bucket's label in `--table` rows and the SVG plot: as the bars write
/// it, except that bounds too close for three significant digits are
/// written as exact integers (the bars add digits instead).
fn bucket_label(scale: Scale, b: &Bucket, unit: Unit) -> String {
    histogram::bucket_label(scale, b, unit, CloseBounds::Exact)
}

/// `--table`: the non-empty buckets with counts, percentages and
/// cumulative percentages (data to read, not a shape to see: the empty
/// buckets the bars show are left out), a row at a time.
fn write_bucket_table(out: &mut dyn Write, h: &Histogram, unit: Unit) -> std::io::Result<()> {
    let mut table = TextTable::new(
        TableStyle::Markdown,
        ["bucket", "count", "%", "cumulative %"],
    );
    table.align_right(1).align_right(2).align_right(3);
    let total = h.count().max(1) as f64;
    table.write(out, || {
        let mut cumulative = 0u64;
        h.iter_buckets().map(move |b| {
            cumulative += b.count;
            vec![
                bucket_label(h.scale(), &b, unit),
                b.count.to_string(),
                format!("{:.2}", b.count as f64 * 100.0 / total),
                format!("{:.2}", cumulative as f64 * 100.0 / total),
            ]
        })
    })?;
    Ok(())
}

/// Escapes text for SVG content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A bar chart per panel (label, summary, histogram), stacked, in one SVG
/// document: a title, each panel's heading and summary, a count axis, the
/// bars with their counts above, bucket labels below. `panels` is called
/// twice (for the size, then to draw), so no panel is held.
fn write_svg<'h, I>(
    out: &mut dyn Write,
    title: &str,
    panels: impl Fn() -> I,
    unit: Unit,
) -> std::io::Result<()>
where
    I: Iterator<Item = (String, String, &'h Histogram)>,
{
    const LEFT: usize = 70;
    const RIGHT: usize = 20;
    const TITLE: usize = 36;
    const HEAD: usize = 44;
    const PLOT: usize = 200;
    const LABELS: usize = 90;
    const PANEL: usize = HEAD + PLOT + LABELS;
    let (mut count, mut most_bars, mut longest) = (0usize, 0usize, 0usize);
    for (label, summary, h) in panels() {
        count += 1;
        most_bars = most_bars.max(h.rows(MAX_FILLED).count());
        longest = longest
            .max(label.chars().count())
            .max(summary.chars().count());
    }
    let most_bars = most_bars.max(1);
    let bar = (720 / most_bars).clamp(4, 40);
    // Wide enough for the bars and the longest line of text (monospace:
    // about 0.62 em per character).
    let text_width = (title.chars().count() * 81 / 10).max(longest * 7) + 20;
    let width = (LEFT + most_bars * bar + RIGHT).max(640).max(text_width);
    let height = TITLE + PANEL * count.max(1);
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    )?;
    writeln!(out, "<title>{}</title>", xml_escape(title))?;
    writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    )?;
    writeln!(
        out,
        r#"<text x="10" y="22" font-size="13" font-weight="bold">{}</text>"#,
        xml_escape(title)
    )?;
    if count == 0 {
        writeln!(out, r#"<text x="10" y="60">no samples</text>"#)?;
    }
    for (p, (label, summary, h)) in panels().enumerate() {
        let top = TITLE + p * PANEL;
        let plot_top = top + HEAD;
        let base = plot_top + PLOT;
        let (mut rows, mut most) = (0usize, 0u64);
        for row in h.rows(MAX_FILLED) {
            rows += 1;
            most = most.max(row.map_or(0, |b| b.count));
        }
        let most = most.max(1);
        writeln!(out, "<g>")?;
        if !label.is_empty() {
            writeln!(
                out,
                r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
                top + 14,
                xml_escape(&label)
            )?;
        }
        writeln!(
            out,
            r##"<text x="10" y="{}" fill="#444">{}</text>"##,
            top + 30,
            xml_escape(&summary)
        )?;
        // Axes, with the count scale at 0, half and the most.
        let right = LEFT + rows * bar;
        writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{plot_top}" x2="{LEFT}" y2="{base}" stroke="black"/>"#
        )?;
        writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" stroke="black"/>"#
        )?;
        for (frac, value) in [(0.0, 0), (0.5, most / 2), (1.0, most)] {
            let y = base as f64 - frac * PLOT as f64;
            writeln!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{value}</text>"#,
                LEFT - 6,
                y + 4.0
            )?;
            if frac > 0.0 {
                writeln!(
                    out,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/>"##
                )?;
            }
        }
        writeln!(
            out,
            r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">count</text>"#,
            plot_top + PLOT / 2,
            plot_top + PLOT / 2
        )?;
        // Label every bar when they fit, else every k-th.
        let every = rows.div_ceil(48).max(1);
        for (i, row) in h.rows(MAX_FILLED).enumerate() {
            let x = LEFT + i * bar;
            let cx = x as f64 + bar as f64 / 2.0;
            let label_text = match row {
                Some(b) => {
                    let height = (b.count as f64 / most as f64) * PLOT as f64;
                    let range = bucket_label(h.scale(), &b, unit);
                    writeln!(
                        out,
                        r##"<rect x="{}" y="{:.1}" width="{}" height="{height:.1}" fill="#4c78a8"><title>{}: {}</title></rect>"##,
                        x + 1,
                        base as f64 - height,
                        bar.saturating_sub(2).max(1),
                        xml_escape(&range),
                        b.count
                    )?;
                    if b.count > 0 && bar >= 14 {
                        writeln!(
                            out,
                            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
                            base as f64 - height - 3.0,
                            b.count
                        )?;
                    }
                    range
                }
                None => "...".to_owned(),
            };
            if i % every == 0 {
                let ly = base + 12;
                writeln!(
                    out,
                    r#"<text x="{cx:.1}" y="{ly}" transform="rotate(-45 {cx:.1} {ly})" text-anchor="end" font-size="9">{}</text>"#,
                    xml_escape(&label_text)
                )?;
            }
        }
        writeln!(out, "</g>")?;
    }
    out.write_all(b"</svg>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::TraceReader;
    use crate::format::writer::{Arg, TraceWriter, WriterOptions};

    const EVENTS: &[u8] = b"\
submit(void *pool, void *req) \"pool %p req %p\"
complete(void *pool, void *req, int ret) \"pool %p req %p ret %d\"
write(void *bs, int64_t offset, uint64_t bytes, const char *name) \"w\"
tick(int delta_ns) \"t\"
";

    fn events() -> TraceEvents {
        TraceEvents::parse("te", EVENTS).unwrap()
    }

    fn value(event: &str, arg: &str) -> Measure {
        Measure::Value {
            event: event.into(),
            arg: arg.into(),
        }
    }

    fn latency(b: &str, e: &str) -> Measure {
        let pair: LatencyPair = format!("{b},{e}").parse().unwrap();
        Measure::Latency {
            begin: pair.begin,
            end: pair.end,
            pairing: Pairing::Fifo,
        }
    }

    fn err(spec: HistSpec) -> HistError {
        match Hist::new(spec, &events()) {
            Err(e) => e,
            Ok(h) => panic!("accepted: {h:?}"),
        }
    }

    #[test]
    fn parses_pairs_and_groups() {
        let p: LatencyPair = "a:req,b".parse().unwrap();
        assert_eq!(p.begin, Endpoint::keyed("a", "req"));
        assert_eq!(p.end, Endpoint::event("b"));
        for bad in ["a", "a,", ",b", "a:,b", "a b,c", "a:x:y,b"] {
            assert!(bad.parse::<LatencyPair>().is_err(), "{bad}");
        }
        assert_eq!("pid".parse::<GroupBy>().unwrap(), GroupBy::Pid);
        assert_eq!(
            "args.pid".parse::<GroupBy>().unwrap(),
            GroupBy::Arg("pid".into())
        );
        assert_eq!(GroupBy::Arg("pid".into()).to_string(), "args.pid");
        assert!("a-b".parse::<GroupBy>().is_err());
    }

    #[test]
    fn requests_are_checked_against_the_declarations() {
        assert_eq!(
            err(HistSpec::new(value("writ", "bytes"))),
            HistError::UnknownEvent {
                event: "writ".into(),
                suggestion: Some("write".into())
            }
        );
        assert_eq!(
            err(HistSpec::new(value("nothing_like_it", "x"))).to_string(),
            "the trace-events file declares no event 'nothing_like_it'"
        );
        let e = err(HistSpec::new(value("write", "size")));
        assert_eq!(
            e.to_string(),
            "event 'write' has no argument 'size' (for the value); its numeric arguments: bs, offset, bytes"
        );
        let e = err(HistSpec::new(value("write", "name")));
        assert!(matches!(e, HistError::NotNumeric { .. }));
        assert_eq!(
            e.to_string(),
            "argument 'name' of event 'write' is a string, and a value histogram needs a number; its numeric arguments: bs, offset, bytes"
        );
        assert_eq!(
            err(HistSpec::new(latency("submit", "submit"))),
            HistError::SameEvent("submit".into())
        );
        assert_eq!(
            err(HistSpec::new(latency("submit:req", "write:name"))),
            HistError::KeyKindsDiffer {
                begin: "submit:req".into(),
                end: "write:name".into()
            }
        );
        // One key names both sides: 'tick' has no 'req'.
        assert!(matches!(
            err(HistSpec::new(latency("submit:req", "tick"))),
            HistError::UnknownArgument { role: "key", .. }
        ));
        let mut spec = HistSpec::new(latency("submit:req", "complete"));
        spec.by = vec![GroupBy::Arg("nope".into())];
        assert_eq!(
            err(spec).to_string(),
            "--by nope: neither 'submit' (arguments: pool, req) nor 'complete' (arguments: pool, req, ret) has an argument 'nope'"
        );
        let mut spec = HistSpec::new(value("write", "bytes"));
        spec.by = vec![GroupBy::Pid; 4];
        assert_eq!(err(spec), HistError::TooManyGroupParts(4));
        // A group argument of the end event is fine.
        let mut spec = HistSpec::new(latency("submit:req", "complete"));
        spec.by = vec![GroupBy::Arg("ret".into())];
        assert!(Hist::new(spec, &events()).is_ok());
    }

    #[test]
    fn default_units() {
        let unit = |arg: &str| HistSpec::default_unit(&value("e", arg));
        assert_eq!(unit("bytes"), Unit::Bytes);
        assert_eq!(unit("buf_size"), Unit::Bytes);
        assert_eq!(unit("len"), Unit::Bytes);
        assert_eq!(unit("max_ns"), Unit::Nanoseconds);
        assert_eq!(unit("offset"), Unit::Count);
        assert_eq!(unit("sizes_seen"), Unit::Count);
        assert_eq!(
            HistSpec::default_unit(&latency("a", "b")),
            Unit::Nanoseconds
        );
        let h = Hist::new(HistSpec::new(value("tick", "delta_ns")), &events()).unwrap();
        assert_eq!(h.unit(), Unit::Nanoseconds);
        assert_eq!(h.events(), ["tick"]);
    }

    fn run(spec: HistSpec, trace: &[u8]) -> Report {
        let events = events();
        let mut driver = Driver::new();
        Hist::new(spec, &events).unwrap().add_to(&mut driver);
        let outcome = driver
            .run(
                TraceReader::new(trace, &events).unwrap(),
                &mut std::io::sink(),
                Default::default(),
            )
            .unwrap();
        outcome.reports.into_iter().next().unwrap().complete()
    }

    #[test]
    fn fifo_and_lifo_pairing() {
        let events = events();
        let mut w =
            TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
        // Two begins of one key, then two ends.
        for (name, ts) in [
            ("submit", 100),
            ("submit", 150),
            ("complete", 400),
            ("complete", 1000),
        ] {
            let args = if name == "submit" {
                vec![Arg::Ptr(1), Arg::Ptr(7)]
            } else {
                vec![Arg::Ptr(1), Arg::Ptr(7), Arg::from(0)]
            };
            w.event_by_name(name, ts, 9, &args).unwrap();
        }
        let trace = w.finish().unwrap();
        let mut spec = HistSpec::new(latency("submit:req", "complete:req"));
        let fifo = run(spec.clone(), &trace);
        // 400-100, 1000-150
        assert_eq!(fifo.json["groups"][0]["histogram"]["min"], 300);
        assert_eq!(fifo.json["groups"][0]["histogram"]["max"], 850);
        spec.measure = Measure::Latency {
            begin: Endpoint::keyed("submit", "req"),
            end: Endpoint::keyed("complete", "req"),
            pairing: Pairing::Lifo,
        };
        let lifo = run(spec, &trace);
        // 400-150, 1000-100
        assert_eq!(lifo.json["groups"][0]["histogram"]["min"], 250);
        assert_eq!(lifo.json["groups"][0]["histogram"]["max"], 900);
        assert_eq!(lifo.json["pairing"], "lifo");
    }

    #[test]
    fn buckets_fill_like_the_bars() {
        let mut h = Histogram::new(Domain::Signed, Scale::Log2);
        for v in [-5i64, 0, 3, 100] {
            h.record_i64(v);
        }
        let rows: Vec<Option<Bucket>> = h.rows(MAX_FILLED).collect();
        let labels: Vec<String> = rows
            .iter()
            .map(|r| bucket_label(Scale::Log2, r.as_ref().unwrap(), Unit::Count))
            .collect();
        assert_eq!(
            labels,
            [
                "(-8, -4]",
                "(-4, -2]",
                "[-1]",
                "[0]",
                "[1]",
                "[2, 4)",
                "[4, 8)",
                "[8, 16)",
                "[16, 32)",
                "[32, 64)",
                "[64, 128)"
            ]
        );
        // The same rows as the ASCII bars.
        let bars: Vec<String> = h
            .render(Unit::Count)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
        let firsts: Vec<String> = labels
            .iter()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
        assert_eq!(bars, firsts);
        let mut sparse = Histogram::new(Domain::Unsigned, Scale::Linear { step: 1 });
        sparse.record(1);
        sparse.record(5000);
        let rows: Vec<Option<Bucket>> = sparse.rows(MAX_FILLED).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].is_none());
        let close = Bucket {
            low: 1_000_000,
            high: 1_000_001 + 9,
            count: 1,
        };
        assert_eq!(
            bucket_label(Scale::Linear { step: 10 }, &close, Unit::Nanoseconds),
            "[1000000, 1000010)"
        );
    }

    #[test]
    fn svg_is_well_formed_and_labelled() {
        let mut h = Histogram::new(Domain::Unsigned, Scale::Log2);
        for v in [1u64, 2, 3, 1000] {
            h.record(v);
        }
        let panels = vec![("name=\"a<b>&'c'\"".to_owned(), h.summary(Unit::Bytes), &h)];
        let svg = svg_plot("title <x>", &panels, Unit::Bytes);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let bars: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#4c78a8"))
            .collect();
        // [1], [2, 4), [4, 8) ... [512, 1024): 10 bars.
        assert_eq!(bars.len(), 10);
        let tooltips: Vec<&str> = bars
            .iter()
            .filter_map(|b| b.first_element_child()?.text())
            .collect();
        assert_eq!(tooltips[0], "[1B]: 1");
        assert_eq!(tooltips[1], "[2B, 4B): 2");
        assert_eq!(tooltips[9], "[512B, 1KiB): 1");
        let texts: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains(&"title <x>"));
        assert!(texts.contains(&"name=\"a<b>&'c'\""));
        // The fullest bar is the plot's height; the others in proportion.
        let height = |i: usize| bars[i].attribute("height").unwrap().parse::<f64>().unwrap();
        assert_eq!(height(1), 200.0);
        assert_eq!(height(0), 100.0);
        assert_eq!(height(2), 0.0);
        assert!(roxmltree::Document::parse(&svg_plot("empty", &[], Unit::Count)).is_ok());
    }

    fn svg_plot(title: &str, panels: &[(String, String, &Histogram)], unit: Unit) -> String {
        let mut out = Vec::new();
        write_svg(&mut out, title, || panels.iter().cloned(), unit).unwrap();
        String::from_utf8(out).unwrap()
    }
}
