//! Latency histograms: begins paired with ends, in file order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;

use crate::analyzers::{
    Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, TraceInfo,
};

use super::groups::{GroupKey, Groups, arg_word, show_word};
use super::plan::{Plan, Resolved, Side};
use super::report::report;
use super::spec::{MAX_BY, Pairing};
use super::svg::PlotSink;
use super::{DROPPED, Loss, NAME};

/// Open begins a latency report lists one by one (the oldest).
pub(super) const OPEN_SHOWN: usize = 5;

/// A begin waiting for its end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) ts: u64,
    /// The group-key parts the begin record gives.
    pub(super) group: GroupKey,
    /// Dropped-events records of its pid before it.
    pub(super) losses: u64,
}

/// Latency histograms (see [`Hist`]).
#[derive(Debug)]
pub struct LatencyHist {
    pub(super) plan: Arc<Plan>,
    pub(super) groups: Groups,
    pub(super) loss: Loss,
    /// Open begins by (pid, key word), oldest first.
    pub(super) pending: HashMap<(u32, u64), VecDeque<Pending>>,
    /// Whether key words are interned strings.
    pub(super) key_interned: bool,
    /// Dropped-events records so far, per pid.
    pub(super) losses: HashMap<u32, u64>,
    pub(super) begins: u64,
    pub(super) ends: u64,
    pub(super) unmatched_ends: u64,
    /// Begins replaced by a later begin of their key ([`Pairing::Unique`]).
    pub(super) replaced: u64,
    pub(super) pairs_across_loss: u64,
    pub(super) last_ts: u64,
    pub(super) svg: PlotSink,
}

impl LatencyHist {
    pub(super) fn new(plan: Arc<Plan>) -> Self {
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

    pub(super) fn pair_key(&mut self, ev: &Event<'_>, side: Side) -> (u32, u64) {
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

    pub(super) fn on_begin(
        &mut self,
        ev: &Event<'_>,
        _: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
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

    pub(super) fn on_end(
        &mut self,
        ev: &Event<'_>,
        _: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
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

    pub(super) fn on_dropped(
        &mut self,
        ev: &Event<'_>,
        _: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
        self.loss.add(ev);
        *self.losses.entry(ev.pid()).or_insert(0) += 1;
        Ok(())
    }

    /// The begins still open, oldest first.
    pub(super) fn open(&self) -> Vec<(u64, u32, u64)> {
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
pub(super) struct OpenBegin {
    pub(super) pid: u32,
    /// The key's name, and its value as text and JSON.
    pub(super) key: Option<(String, (String, Value))>,
    pub(super) ts: u64,
    /// Time from it to the last begin or end record.
    pub(super) open_ns: i64,
}

/// What a latency report says beyond the histograms.
#[derive(Debug)]
pub(super) struct LatencyTotals {
    pub(super) begins: u64,
    pub(super) ends: u64,
    pub(super) open: u64,
    pub(super) unmatched_ends: u64,
    pub(super) replaced: u64,
    pub(super) pairs_across_loss: u64,
    pub(super) open_shown: Vec<OpenBegin>,
}
