//! A request resolved against the trace-events declarations ([`Plan`]).

use crate::analyzers::histogram::{Domain, Unit};
use crate::analyzers::{AnalyzerError, Interest, Setup, SetupWarning};
use crate::format::events::{ArgKind, EventDecl, TraceEvents};
use crate::syntax;

use super::DROPPED;
use super::spec::{GroupBy, HistError, HistSpec, MAX_BY, Measure, Pairing};

pub(super) fn decl<'e>(events: &'e TraceEvents, name: &str) -> Result<&'e EventDecl, HistError> {
    events
        .by_name(name.as_bytes())
        .ok_or_else(|| HistError::UnknownEvent {
            event: name.to_owned(),
            suggestion: syntax::did_you_mean(name, events.iter().map(|d| d.name.as_str()))
                .map(str::to_owned),
        })
}

pub(super) fn arg_names(decl: &EventDecl, numeric_only: bool) -> Vec<String> {
    decl.args
        .iter()
        .filter(|a| !numeric_only || a.kind != ArgKind::String)
        .map(|a| a.name.clone())
        .collect()
}

/// The position and kind of argument `arg` of `decl`.
pub(super) fn arg_of(
    decl: &EventDecl,
    arg: &str,
    role: &'static str,
) -> Result<(usize, ArgKind), HistError> {
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
pub(super) enum Side {
    /// The begin (or the only) record.
    Begin,
    /// The end record.
    End,
}

/// A group-key part, resolved.
#[derive(Debug, Clone)]
pub(super) enum Part {
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
pub(super) struct Key {
    pub(super) pos: usize,
    pub(super) name: String,
    pub(super) kind: ArgKind,
}

/// The request resolved against the declarations.
#[derive(Debug, Clone)]
pub(super) enum Resolved {
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
pub(super) struct Plan {
    pub(super) spec: HistSpec,
    pub(super) resolved: Resolved,
    pub(super) parts: Vec<Part>,
    pub(super) unit: Unit,
    pub(super) domain: Domain,
}

impl Plan {
    pub(super) fn resolve(spec: HistSpec, events: &TraceEvents) -> Result<Plan, HistError> {
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
    pub(super) fn part(
        by: &GroupBy,
        first: &EventDecl,
        end: Option<&EventDecl>,
    ) -> Result<Part, HistError> {
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
    pub(super) fn events(&self) -> Vec<String> {
        match &self.resolved {
            Resolved::Value { event, .. } | Resolved::Interval { event } => vec![event.clone()],
            Resolved::Latency { begin, end, .. } => vec![begin.clone(), end.clone()],
        }
    }

    /// The check at the start of a run: refuses a selection that leaves
    /// out an event the histogram reads (the result would be silently
    /// empty or all unmatched), and keeps the dropped-events records,
    /// which say what is missing, unless the selection names them.
    pub(super) fn configure(
        &self,
        setup: &mut Setup<'_>,
    ) -> Result<Vec<SetupWarning>, AnalyzerError> {
        let events = setup.events();
        for name in self.events() {
            if let Some(decl) = events.by_name(name.as_bytes())
                && !setup.selects(decl)
            {
                return Err(AnalyzerError::setup(
                    super::NAME,
                    HistError::FilteredOut { event: name },
                ));
            }
        }
        setup.keep_event(events.dropped());
        Ok(Vec::new())
    }

    pub(super) fn interest(&self) -> Interest {
        let mut names = self.events();
        names.push(DROPPED.to_owned());
        Interest::parse(&names.join(",")).unwrap_or_default()
    }

    /// `, by pid and mutex`, or nothing.
    pub(super) fn by_text(&self) -> String {
        if self.spec.by.is_empty() {
            return String::new();
        }
        let names: Vec<String> = self.spec.by.iter().map(ToString::to_string).collect();
        format!(", by {}", names.join(" and "))
    }
}
