//! One pairing engine for begin and end records, used by `hist --latency`
//! and by `json --format chrome --span`.
//!
//! [`Pairs`] keeps the begins still open, per key, in the order they came.
//! An end of a key takes one of them ([`Pairs::end`]); the [`Pairing`]
//! rule says which, and whether a new begin replaces the open ones of its
//! key. Only open begins are held: a key none of whose begins is open is
//! forgotten, so memory follows what is outstanding, not the trace's
//! length. What is left open at the end comes out oldest first
//! ([`Pairs::open_oldest_first`]).
//!
//! What the two commands do differently is theirs, around the engine:
//! - **the rule**: `hist --latency` takes `--pairing` (first in first out
//!   by default, last in first out, or unique keys); `chrome --span` always
//!   pairs first in first out;
//! - **the key**, built by the caller: both pair only records of the same
//!   pid. `hist` keys by one argument word (signed arguments sign-extended
//!   from their declared width, strings interned), and a key named on one
//!   side stands for both; `chrome` keys by the span, the pid and the named
//!   argument's value on each side (a side without a key has none, so it
//!   pairs only with a side without one either);
//! - **what becomes of a pair and of what is unmatched**: `hist` records a
//!   signed duration (timestamps can step back across threads) and counts
//!   unmatched begins and ends, listing the oldest open ones; `chrome`
//!   writes an async begin/end pair of duration at least zero, and writes
//!   unmatched ends at once and begins still open at the end as instants.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

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
    /// The rule in words, for reports.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Pairing::Fifo => "first in, first out",
            Pairing::Lifo => "last in, first out",
            Pairing::Unique => "a new begin replaces an open one",
        }
    }

    /// The rule's name in JSON reports.
    pub(crate) fn json_name(self) -> &'static str {
        match self {
            Pairing::Fifo => "fifo",
            Pairing::Lifo => "lifo",
            Pairing::Unique => "unique",
        }
    }
}

/// An open begin: its timestamp and what the caller keeps with it.
#[derive(Debug, Clone)]
pub(crate) struct Begin<V> {
    /// The begin record's timestamp, in nanoseconds.
    pub(crate) ts: u64,
    /// The caller's data (the begin's arguments, its group, ...).
    pub(crate) value: V,
}

/// The begins still open, by key `K` (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub(crate) struct Pairs<K, V> {
    rule: Pairing,
    /// Open begins per key, oldest first; no key maps to an empty queue.
    open: HashMap<K, VecDeque<Begin<V>>>,
}

impl<K: Eq + Hash, V> Pairs<K, V> {
    /// No begin open yet; ends pair by `rule`.
    pub(crate) fn new(rule: Pairing) -> Self {
        Pairs {
            rule,
            open: HashMap::new(),
        }
    }

    /// Opens a begin of `key` at `ts`. Returns how many open begins of the
    /// key it replaced ([`Pairing::Unique`]; 0 by the other rules).
    pub(crate) fn begin(&mut self, key: K, ts: u64, value: V) -> usize {
        let queue = self.open.entry(key).or_default();
        let replaced = if self.rule == Pairing::Unique {
            let n = queue.len();
            queue.clear();
            n
        } else {
            0
        };
        queue.push_back(Begin { ts, value });
        replaced
    }

    /// The open begin an end of `key` pairs with, now closed; `None` when
    /// no begin of the key is open.
    pub(crate) fn end(&mut self, key: &K) -> Option<Begin<V>> {
        let queue = self.open.get_mut(key)?;
        let begin = match self.rule {
            Pairing::Lifo => queue.pop_back(),
            Pairing::Fifo | Pairing::Unique => queue.pop_front(),
        };
        if queue.is_empty() {
            // Memory follows what is open, not what was seen.
            self.open.remove(key);
        }
        begin
    }

    /// The begins still open, oldest first: by timestamp, then key, then
    /// the order they came in (the same whatever the hash order).
    pub(crate) fn open_oldest_first(&self) -> Vec<(&K, &Begin<V>)>
    where
        K: Ord,
    {
        let mut open: Vec<(&K, &Begin<V>)> = self
            .open
            .iter()
            .flat_map(|(k, q)| q.iter().map(move |b| (k, b)))
            .collect();
        // Stable: begins of one key and timestamp keep their order.
        open.sort_by(|a, b| a.1.ts.cmp(&b.1.ts).then_with(|| a.0.cmp(b.0)));
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rule: Pairing, records: &[(bool, u32, u64)]) -> (Vec<(u64, u64)>, Pairs<u32, ()>) {
        let mut p = Pairs::new(rule);
        let mut pairs = Vec::new();
        for &(begin, key, ts) in records {
            if begin {
                p.begin(key, ts, ());
            } else if let Some(b) = p.end(&key) {
                pairs.push((b.ts, ts));
            }
        }
        (pairs, p)
    }

    #[test]
    fn rules_pick_the_oldest_the_newest_or_the_last() {
        let recs = [(true, 1, 10), (true, 1, 20), (false, 1, 30), (false, 1, 40)];
        assert_eq!(run(Pairing::Fifo, &recs).0, [(10, 30), (20, 40)]);
        assert_eq!(run(Pairing::Lifo, &recs).0, [(20, 30), (10, 40)]);
        // The second begin replaced the first; the second end has none.
        assert_eq!(run(Pairing::Unique, &recs).0, [(20, 30)]);
        let mut p = Pairs::new(Pairing::Unique);
        assert_eq!(p.begin(7, 1, ()), 0);
        assert_eq!(p.begin(7, 2, ()), 1);
        assert_eq!(p.open_oldest_first().len(), 1);
        // Keys never meet.
        let (pairs, _) = run(Pairing::Fifo, &[(true, 1, 10), (false, 2, 20)]);
        assert!(pairs.is_empty());
    }

    #[test]
    fn only_open_begins_are_held() {
        let mut p = Pairs::new(Pairing::Fifo);
        for k in 0..1000u32 {
            p.begin(k, u64::from(k), ());
            assert!(p.end(&k).is_some());
        }
        assert_eq!(p.open.len(), 0);
        assert!(p.end(&3).is_none());
    }

    #[test]
    fn open_begins_come_out_oldest_first_then_by_key() {
        let (_, p) = run(
            Pairing::Fifo,
            &[(true, 9, 5), (true, 2, 5), (true, 2, 1), (true, 4, 3)],
        );
        let open: Vec<(u32, u64)> = p
            .open_oldest_first()
            .into_iter()
            .map(|(k, b)| (*k, b.ts))
            .collect();
        assert_eq!(open, [(2, 1), (4, 3), (2, 5), (9, 5)]);
    }
}
