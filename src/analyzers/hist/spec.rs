//! What `hist` is asked: the request ([`HistSpec`]) and its syntax, and
//! the errors of checking it against the declarations ([`HistError`]).

use core::fmt;
use core::str::FromStr;

use crate::analyzers::histogram::{EXACT_BUDGET, Scale, Unit};
use crate::format::excerpt::Excerpt;
use crate::syntax;

pub use crate::analyzers::pairing::Pairing;

/// Most parts a group key has (`--by pid,mutex,file`).
pub const MAX_BY: usize = 3;

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
    /// The run's selection (`--events`) leaves out an event the histogram
    /// reads: it would be empty, or all unmatched.
    FilteredOut {
        /// The event left out.
        event: String,
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

pub(super) fn list(names: &[String]) -> String {
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
            HistError::FilteredOut { event } => write!(
                f,
                "the --events filter leaves out {event}, which this histogram reads"
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

impl HistError {
    /// Whether the request is wrong whatever the trace-events file says
    /// (too many `--by` parts, one event for both ends, an event the
    /// `--events` filter leaves out): a usage error, where the other
    /// variants are a request that does not fit this file's declarations.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            HistError::TooManyGroupParts(_)
                | HistError::SameEvent(_)
                | HistError::FilteredOut { .. }
        )
    }
}

impl std::error::Error for HistError {}
