//! Value and interval histograms: chunk-parallel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::analyzers::histogram::Domain;
use crate::analyzers::{
    Analyzer, AnalyzerError, ChunkStart, Context, Event, Handlers, Interest, ParallelAnalyzer,
    Report, Setup, SetupWarning, TraceInfo,
};
use crate::format::ArgValue;

use super::groups::{GroupKey, Groups};
use super::plan::{Plan, Resolved, Side};
use super::report::report;
use super::spec::MAX_BY;
use super::{DROPPED, Loss, NAME};

/// Consecutive records per series, for intervals.
#[derive(Debug, Default, Clone)]
pub(super) struct Series {
    /// Timestamp of each series' first record in this chunk, when no
    /// dropped-events record of its pid came before it in the chunk: the
    /// interval from the previous chunk's last record is made at merge.
    pub(super) first: HashMap<(u32, GroupKey), u64>,
    /// Timestamp of each series' latest record (none after a loss).
    pub(super) last: HashMap<(u32, GroupKey), u64>,
    /// Pids with a dropped-events record in this chunk.
    pub(super) lossy_pids: HashSet<u32>,
}

/// Value and interval histograms (see [`Hist`]).
#[derive(Debug, Clone)]
pub struct SampleHist {
    pub(super) plan: Arc<Plan>,
    pub(super) groups: Groups,
    pub(super) loss: Loss,
    pub(super) series: Series,
}

impl SampleHist {
    pub(super) fn new(plan: Arc<Plan>) -> Self {
        SampleHist {
            groups: Groups::new(&plan),
            plan,
            loss: Loss::default(),
            series: Series::default(),
        }
    }

    pub(super) fn on_record(
        &mut self,
        ev: &Event<'_>,
        _: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
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

    pub(super) fn on_dropped(
        &mut self,
        ev: &Event<'_>,
        _: &mut Context<'_>,
    ) -> Result<(), AnalyzerError> {
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

    fn configure(&mut self, setup: &mut Setup<'_>) -> Result<Vec<SetupWarning>, AnalyzerError> {
        self.plan.configure(setup)
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

    /// A copy of it, ended (for a live report, `--follow`).
    fn report_so_far(&self, info: &TraceInfo<'_>) -> Option<Result<Report, AnalyzerError>> {
        Some(self.clone().end(info))
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        let groups = std::mem::replace(&mut self.groups, Groups::new(&self.plan));
        Ok(report(&self.plan, groups, self.loss, None))
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
