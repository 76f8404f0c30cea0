//! Which records a run looks at: the filters every command shares
//! (`--events`, `--events-file`, `--pid`, `--start`, `--end`).
//!
//! ```
//! use simpletrace::analyzers::select::{Selection, TimeBound};
//!
//! let mut s = Selection::default();
//! s.events = Some(simpletrace::pattern::EventPatterns::parse_list("bdrv_*,-bdrv_co_*")?);
//! s.pids = vec![4242];
//! s.start = Some("+1.5ms".parse()?);
//! s.end = Some("2s".parse()?);
//! assert_eq!(s.start, Some(TimeBound::Relative(1_500_000)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Records a selection leaves out are skipped before their arguments are
//! decoded; for analyzers they do not exist (the printer's deltas, for
//! one, are between the records it prints).

use core::fmt;
use core::str::FromStr;

use crate::format::events::{EventDecl, TraceEvents};
use crate::format::excerpt::Excerpt;
use crate::pattern::EventPatterns;

/// A time limit of `--start` / `--end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A timestamp, in nanoseconds of the trace's clock.
    Absolute(u64),
    /// Nanoseconds after the timestamp of the trace's first event record.
    Relative(u64),
}

/// A time bound that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBoundError(String);

impl fmt::Display for TimeBoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.0.trim();
        let number = number.strip_prefix('+').unwrap_or(number);
        let fraction_without_unit = number.contains('.')
            && number.bytes().any(|b| b.is_ascii_digit())
            && number.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if fraction_without_unit {
            // `--end 1.5` most likely meant seconds; digits alone are
            // nanoseconds, which have no fraction.
            return write!(
                f,
                "{} has a fraction but no unit, and digits alone are whole nanoseconds: \
                 give a unit (1.5s, 1.5ms, 1.5us, +1.5s) or whole nanoseconds of the trace clock \
                 (1731000000000)",
                Excerpt::new(&self.0)
            );
        }
        write!(
            f,
            "{} is not a time: give nanoseconds of the trace clock (1731000000000), or a time after the first record with a unit (1.5s, 200ms, 30us, 500ns, or +30us)",
            Excerpt::new(&self.0)
        )
    }
}

impl std::error::Error for TimeBoundError {}

impl FromStr for TimeBound {
    type Err = TimeBoundError;

    /// Digits alone are an absolute timestamp in nanoseconds; a unit (`s`,
    /// `ms`, `us`, `µs`, `ns`) or a leading `+` makes it relative to the
    /// first record. The number is exact ([`crate::syntax::quantity`]):
    /// a fraction of a nanosecond is refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TimeBoundError(s.to_owned());
        let t = s.trim();
        let (plus, t) = match t.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        // A bare number is nanoseconds of the trace clock.
        let (ns, unit) =
            crate::syntax::quantity(t, &[crate::syntax::TIME_UNITS]).ok_or_else(err)?;
        Ok(if plus || unit.is_some() {
            TimeBound::Relative(ns)
        } else {
            TimeBound::Absolute(ns)
        })
    }
}

/// Which records to keep. The default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Event-name patterns (QEMU syntax, later ones win). When every
    /// pattern is an exclusion (`-qemu_mutex_*`), everything else is kept;
    /// otherwise only what a pattern switches on.
    pub events: Option<EventPatterns>,
    /// Keep only these pids (all when empty).
    pub pids: Vec<u32>,
    /// Keep records at or after this time.
    pub start: Option<TimeBound>,
    /// Keep records at or before this time.
    pub end: Option<TimeBound>,
}

impl Selection {
    /// Whether this selection keeps every record.
    pub fn is_everything(&self) -> bool {
        self.events.is_none() && self.pids.is_empty() && self.start.is_none() && self.end.is_none()
    }

    /// Whether records of `decl` pass the event patterns.
    pub fn wants_event(&self, decl: &EventDecl) -> bool {
        match &self.events {
            None => true,
            Some(p) => {
                let only_exclusions = p.patterns.iter().all(|p| !p.enable);
                p.decide(&decl.name).unwrap_or(only_exclusions)
            }
        }
    }
}

/// An event pattern that matches no declared event (and not `dropped`):
/// a likely typo, or a trace-events file of another QEMU build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The pattern as written (with its leading `-` for an exclusion).
    pub pattern: String,
    /// The declared name closest to it, when the pattern has no wildcard
    /// and a name is close enough to be what was meant.
    pub similar: Option<String>,
}

impl fmt::Display for Unmatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' matches no declared event", self.pattern)?;
        match &self.similar {
            Some(s) => write!(f, " (did you mean '{s}'?)"),
            None => Ok(()),
        }
    }
}

impl Selection {
    /// The event patterns that match no event `events` declares (see
    /// [`unmatched`]).
    pub fn unmatched(&self, events: &TraceEvents) -> Vec<Unmatched> {
        self.events
            .as_ref()
            .map_or_else(Vec::new, |p| unmatched(p, events))
    }
}

/// The patterns of `patterns` that match no event `events` declares (nor
/// the dropped-events pseudo event, `Dropped_Event`), in the order given,
/// each once. Such a pattern selects nothing, which is worth a warning,
/// not a failure: QEMU's own `-trace events=FILE` only warns about names
/// its build does not declare, and an events file is often shared between
/// builds.
pub fn unmatched(patterns: &EventPatterns, events: &TraceEvents) -> Vec<Unmatched> {
    {
        let dropped = events.dropped();
        let mut out: Vec<Unmatched> = Vec::new();
        for p in &patterns.patterns {
            let glob = p.glob.as_str();
            let matches = |name: &str| crate::pattern::glob_match(glob, name);
            if matches(&dropped.name) || events.iter().any(|d| matches(&d.name)) {
                continue;
            }
            let pattern = if p.enable {
                glob.to_owned()
            } else {
                format!("-{glob}")
            };
            if out.iter().any(|u| u.pattern == pattern) {
                continue;
            }
            let literal = !glob.contains(['*', '?']);
            let similar = literal
                .then(|| events.suggest(glob).map(str::to_owned))
                .flatten();
            out.push(Unmatched { pattern, similar });
        }
        out
    }
}

/// A [`Selection`] resolved against one trace: per-event table, absolute
/// times.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Per slot (declaration position, then the dropped pseudo event).
    slots: Option<Vec<bool>>,
    pids: Vec<u32>,
    start: u64,
    end: u64,
    /// Whether anything is filtered at all.
    pub active: bool,
}

impl Resolved {
    /// Resolves `sel` for `events`; `first_ts` is the timestamp of the
    /// trace's first event record (for relative bounds).
    pub fn new(sel: &Selection, events: &TraceEvents, first_ts: Option<u64>) -> Resolved {
        let base = first_ts.unwrap_or(0);
        let absolute = |b: &TimeBound| match *b {
            TimeBound::Absolute(t) => t,
            TimeBound::Relative(d) => base.saturating_add(d),
        };
        let slots = sel.events.as_ref().map(|_| {
            let mut v: Vec<bool> = events.iter().map(|d| sel.wants_event(d)).collect();
            v.push(sel.wants_event(events.dropped()));
            v
        });
        Resolved {
            slots,
            pids: sel.pids.clone(),
            start: sel.start.as_ref().map_or(0, absolute),
            end: sel.end.as_ref().map_or(u64::MAX, absolute),
            active: !sel.is_everything(),
        }
    }

    /// Whether a record in `slot` from `pid` at `ts` is kept.
    #[inline(always)]
    pub fn keep(&self, slot: usize, pid: u32, ts: u64) -> bool {
        if !self.active {
            return true;
        }
        self.slots
            .as_ref()
            .is_none_or(|s| s.get(slot).copied().unwrap_or(false))
            && (self.pids.is_empty() || self.pids.contains(&pid))
            && ts >= self.start
            && ts <= self.end
    }

    /// [`Resolved::keep`] by declaration (for the chunk scanner).
    pub fn keep_decl(&self, decl: &EventDecl, events: usize, pid: u32, ts: u64) -> bool {
        let slot = if decl.is_dropped_pseudo() {
            events
        } else {
            decl.position
        };
        self.keep(slot, pid, ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds() {
        let p = |s: &str| s.parse::<TimeBound>();
        assert_eq!(
            p("1731000000000"),
            Ok(TimeBound::Absolute(1_731_000_000_000))
        );
        assert_eq!(p("1.5s"), Ok(TimeBound::Relative(1_500_000_000)));
        assert_eq!(p("200ms"), Ok(TimeBound::Relative(200_000_000)));
        assert_eq!(p("+30us"), Ok(TimeBound::Relative(30_000)));
        assert_eq!(p("30µs"), Ok(TimeBound::Relative(30_000)));
        assert_eq!(p("+500"), Ok(TimeBound::Relative(500)));
        assert_eq!(p("0.000000001s"), Ok(TimeBound::Relative(1)));
        assert_eq!(p(".25ms"), Ok(TimeBound::Relative(250_000)));
        for bad in ["", "s", "1.5x", "abc", "-5", "1e3", "99999999999999999999s"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        // Exact: a fraction of a nanosecond is refused, not cut (it was
        // cut before the number parsers were one).
        for bad in ["1.5", "+1.5ns", "1.0000000005s", ".", "+."] {
            assert!(p(bad).is_err(), "{bad}");
        }
        // A fraction without a unit says why it is refused.
        for bad in ["1.5", "+1.5", " .5"] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("has a fraction but no unit"), "{e}");
        }
        let e = p("1.5x").unwrap_err().to_string();
        assert!(e.contains("is not a time"), "{e}");
        assert!(p(".").unwrap_err().to_string().contains("is not a time"));
    }

    #[test]
    fn keeping() {
        let ev = TraceEvents::parse("te", b"a(void)\nb(void)\nc(void)\n").unwrap();
        let sel = Selection {
            events: Some(EventPatterns::parse_list("a,c").unwrap()),
            pids: vec![7],
            start: Some(TimeBound::Relative(100)),
            end: Some(TimeBound::Absolute(1_500)),
        };
        let r = Resolved::new(&sel, &ev, Some(1_000));
        assert!(r.keep(0, 7, 1_100));
        assert!(!r.keep(1, 7, 1_100), "event b");
        assert!(!r.keep(0, 8, 1_100), "pid");
        assert!(!r.keep(0, 7, 1_099), "before the start");
        assert!(r.keep(2, 7, 1_500));
        assert!(!r.keep(2, 7, 1_501), "after the end");
        assert!(!r.keep(3, 7, 1_200), "dropped records are events too");
        let only_minus = Selection {
            events: Some(EventPatterns::parse_list("-b").unwrap()),
            ..Selection::default()
        };
        let r = Resolved::new(&only_minus, &ev, None);
        assert!(r.keep(0, 1, 0) && !r.keep(1, 1, 0) && r.keep(3, 1, 0));
        assert!(Resolved::new(&Selection::default(), &ev, None).keep(1, 9, 9));
    }

    #[test]
    fn patterns_that_match_nothing() {
        let ev = TraceEvents::parse("te", b"pool_get(void)\npool_put(void)\n").unwrap();
        let sel = |list: &str| Selection {
            events: Some(EventPatterns::parse_list(list).unwrap()),
            ..Selection::default()
        };
        let names = |list: &str| -> Vec<(String, Option<String>)> {
            sel(list)
                .unmatched(&ev)
                .into_iter()
                .map(|u| (u.pattern, u.similar))
                .collect()
        };
        let none: Vec<(String, Option<String>)> = Vec::new();
        assert_eq!(names("pool_*,-pool_put,Dropped_Event,Dropped_*"), none);
        assert_eq!(
            names("pool_gte,-pool_pot,bdrv_*,xyz,pool_gte"),
            vec![
                ("pool_gte".into(), Some("pool_get".into())),
                ("-pool_pot".into(), Some("pool_put".into())),
                ("bdrv_*".into(), None),
                ("xyz".into(), None),
            ]
        );
        // `dropped` names the mapping of dropped-events records, not
        // their event: as a pattern it selects nothing.
        assert_eq!(names("dropped"), vec![("dropped".into(), None)]);
        assert!(Selection::default().unmatched(&ev).is_empty());
    }
}
