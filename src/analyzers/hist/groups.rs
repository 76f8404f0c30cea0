//! Histograms by group key, and the key words they are filed under.

use core::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::analyzers::histogram::{Domain, ExactBudget, Histogram, Scale};
use crate::analyzers::{AnalyzerError, Event};
use crate::format::ArgValue;
use crate::format::events::ArgKind;

use super::NAME;
use super::plan::{Part, Plan, Side};
use super::spec::MAX_BY;

/// Interned strings (string arguments in keys).
#[derive(Debug, Clone, Default)]
pub(super) struct Strings {
    pub(super) ids: HashMap<Vec<u8>, u64>,
    pub(super) list: Vec<Vec<u8>>,
}

impl Strings {
    pub(super) fn intern(&mut self, s: &[u8]) -> u64 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.list.len() as u64;
        self.list.push(s.to_vec());
        self.ids.insert(s.to_vec(), id);
        id
    }

    pub(super) fn get(&self, id: u64) -> &[u8] {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.list.get(i))
            .map_or(&[][..], Vec::as_slice)
    }
}

/// A group key: one word per part (a pid, an argument's value, or an
/// interned string's id); unused parts are 0.
pub(super) type GroupKey = [u64; MAX_BY];

/// The key word of argument `pos`: a number (sign-extended from its
/// declared width when signed) or an interned string (`true`).
pub(super) fn arg_word(
    ev: &Event<'_>,
    pos: usize,
    kind: ArgKind,
    strings: &mut Strings,
) -> (u64, bool) {
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
pub(super) struct Groups {
    pub(super) domain: Domain,
    pub(super) scale: Scale,
    /// Where each group is in `list`.
    pub(super) index: HashMap<GroupKey, usize>,
    /// The groups, in the order they came (largest first once
    /// [`Groups::keep_shown`] has run).
    pub(super) list: Vec<(GroupKey, Histogram)>,
    pub(super) strings: Strings,
    /// Which key parts hold interned strings (string arguments, except in
    /// version-0 traces, which record strings as their addresses).
    pub(super) interned: [bool; MAX_BY],
    /// The exact samples all the groups keep together.
    pub(super) budget: ExactBudget,
}

impl Groups {
    pub(super) fn new(plan: &Plan) -> Self {
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
    pub(super) fn fill_key(&mut self, plan: &Plan, side: Side, ev: &Event<'_>, key: &mut GroupKey) {
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
    pub(super) fn histogram(&mut self, key: GroupKey) -> &mut Histogram {
        let i = self.position(key);
        // In range: the index holds positions of pushed groups only.
        &mut self.list[i].1
    }

    /// Where group `key` is in `list` (created empty on first use).
    pub(super) fn position(&mut self, key: GroupKey) -> usize {
        let next = self.list.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            self.list
                .push((key, Histogram::new(self.domain, self.scale)));
        }
        i
    }

    /// Records a sample of group `key`, within the budget of exact samples.
    pub(super) fn record(&mut self, key: GroupKey, raw: u64) {
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
    pub(super) fn enforce_budget(&mut self) {
        let groups = self.list.len();
        self.budget
            .enforce(self.list.iter_mut().map(|(_, h)| h), groups);
    }

    /// Maps the keys of a fork's groups (its own string ids) to ours.
    pub(super) fn remap_from(&mut self, other: &Groups) -> Remap {
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

    pub(super) fn merge(&mut self, other: Groups, remap: &Remap) -> Result<(), AnalyzerError> {
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

    pub(super) fn total(&self) -> u64 {
        self.list.iter().map(|(_, h)| h.count()).sum()
    }

    /// The order of keys within a count: part by part, numbers as
    /// numbers (signed arguments with their sign), strings as bytes.
    pub(super) fn cmp_keys(&self, plan: &Plan, a: &GroupKey, b: &GroupKey) -> Ordering {
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
    pub(super) fn keep_shown(&mut self, plan: &Plan, top: Option<usize>) {
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
    pub(super) fn label(&self, plan: &Plan, key: &GroupKey) -> (String, Value) {
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
pub(super) fn show_word(word: u64, kind: ArgKind, strings: Option<&Strings>) -> (String, Value) {
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
pub(super) struct Remap {
    pub(super) ids: Vec<u64>,
    pub(super) interned: [bool; MAX_BY],
}

impl Remap {
    pub(super) fn key(&self, mut key: GroupKey) -> GroupKey {
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
