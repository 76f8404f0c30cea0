//! Latency histograms: begins paired with ends, in file order.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::analyzers::{
    Analyzer, AnalyzerError, Context, Event, Handlers, Interest, Report, Setup, SetupWarning,
    TraceInfo,
};

use super::groups::{GroupKey, Groups, arg_word, show_word};
use super::plan::{Plan, Resolved, Side};
use super::report::report;
use super::spec::{MAX_BY, Pairing};
use super::{DROPPED, Loss, NAME};
use crate::analyzers::pairing::Pairs;

/// Open begins a latency report lists one by one (the oldest).
pub(super) const OPEN_SHOWN: usize = 5;

/// What is kept with a begin waiting for its end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    /// The group-key parts the begin record gives.
    pub(super) group: GroupKey,
    /// Dropped-events records of its pid before it.
    pub(super) losses: u64,
}

/// Latency histograms (see [`Hist`]).
#[derive(Debug, Clone)]
pub struct LatencyHist {
    pub(super) plan: Arc<Plan>,
    pub(super) groups: Groups,
    pub(super) loss: Loss,
    /// Open begins by (pid, key word).
    pub(super) pending: Pairs<(u32, u64), Pending>,
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
}

impl LatencyHist {
    pub(super) fn new(plan: Arc<Plan>) -> Self {
        let pairing = match plan.resolved {
            Resolved::Latency { pairing, .. } => pairing,
            _ => Pairing::default(),
        };
        LatencyHist {
            groups: Groups::new(&plan),
            plan,
            loss: Loss::default(),
            pending: Pairs::new(pairing),
            key_interned: false,
            losses: HashMap::new(),
            begins: 0,
            ends: 0,
            unmatched_ends: 0,
            replaced: 0,
            pairs_across_loss: 0,
            last_ts: 0,
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
        let replaced = self
            .pending
            .begin(key, ev.timestamp_ns(), Pending { group, losses });
        self.replaced += replaced as u64;
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
        let begin = self.pending.end(&key);
        let Some(begin) = begin else {
            self.unmatched_ends += 1;
            return Ok(());
        };
        let mut group = begin.value.group;
        self.groups.fill_key(&self.plan, Side::End, ev, &mut group);
        if self.losses.get(&ev.pid()).copied().unwrap_or(0) != begin.value.losses {
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
}

impl Analyzer for LatencyHist {
    fn name(&self) -> &str {
        NAME
    }

    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        self.plan.configure(setup)
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

    /// A copy of it, ended (for a live report, `--follow`).
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        Some(self.clone().end(info))
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let open = self.pending.open_oldest_first();
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
            .map(|&(&(pid, word), begin)| OpenBegin {
                pid,
                key: show_key(word),
                ts: begin.ts,
                open_ns: self.last_ts.wrapping_sub(begin.ts) as i64,
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
        Ok(report(&self.plan, groups, self.loss, Some(totals)))
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
