//! The `hist` report: headline, totals, each group's histogram as bars or
//! a table, and its JSON.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::analyzers::Report;
use crate::analyzers::histogram::{self, Histogram, Unit, bucket_label};
use crate::analyzers::human::{plural, seconds};
use crate::analyzers::listing::{LazyJson, TableStyle};
use crate::report::{
    Align, Block, Blocks, Cell, Column, Document, Hint, LostEvents, More, Panel, Plot, Table,
};

use super::Loss;
use super::groups::{GroupKey, Groups};
use super::latency::LatencyTotals;
use super::plan::{Plan, Resolved};
use super::spec::Style;

/// The first line of the text report.
pub(super) fn headline(plan: &Plan, samples: u64, groups: usize) -> String {
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
/// written from their histograms as the report goes out (as text, JSON,
/// or a plot).
pub(super) fn report(
    plan: &Arc<Plan>,
    mut groups: Groups,
    loss: Loss,
    latency: Option<LatencyTotals>,
) -> Report {
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
    Report::document(body)
}

/// A `hist` report: data, its blocks made as it is written (see
/// [`Document`]).
#[derive(Debug)]
pub(super) struct HistReport {
    pub(super) plan: Arc<Plan>,
    /// The groups shown (all of them without `--top`), largest first.
    pub(super) groups: Groups,
    /// Groups in all.
    pub(super) groups_total: usize,
    /// Samples in all, and in the groups not shown.
    pub(super) samples: u64,
    pub(super) rest_samples: u64,
    /// When the groups' samples passed the budget of exact samples: each
    /// group's share and the budget.
    pub(super) budget: Option<(u64, u64)>,
    pub(super) loss: Loss,
    pub(super) latency: Option<LatencyTotals>,
}

impl HistReport {
    /// The groups shown, in order.
    pub(super) fn shown(&self) -> impl Iterator<Item = (&GroupKey, &Histogram)> + '_ {
        self.groups.list.iter().map(|(k, h)| (k, h))
    }
}

impl HistReport {
    /// The lost-events warning, when records were lost.
    pub(super) fn lost(&self) -> Option<LostEvents> {
        if self.loss.records == 0 {
            return None;
        }
        let consequence = match (&self.plan.resolved, &self.latency) {
            (Resolved::Latency { .. }, Some(l)) => format!(
                "{} a loss, and lost records can leave begins and ends unmatched",
                plural(l.pairs_across_loss, "pair spans", "pairs span")
            ),
            (Resolved::Interval { .. }, _) => {
                "no interval is measured across a loss of its pid".to_owned()
            }
            _ => "their values are missing".to_owned(),
        };
        Some(LostEvents {
            records: self.loss.records,
            events: self.loss.events,
            consequence: Some(consequence),
        })
    }

    /// The note of the groups not shown, when some are not.
    pub(super) fn more(&self) -> Option<More<'static>> {
        let left_out = self.groups_total.checked_sub(self.groups.list.len())?;
        (left_out > 0).then(|| More {
            count: left_out as u64,
            noun: ("group", "groups"),
            hint: Hint::None,
            holding: Some(plural(self.rest_samples, "sample", "samples")),
        })
    }

    /// The line of latency totals.
    fn latency_line(l: &LatencyTotals) -> String {
        let replaced = if l.replaced > 0 {
            format!(
                ", {} by a later begin of {} key",
                plural(l.replaced, "begin replaced", "begins replaced"),
                if l.replaced == 1 { "its" } else { "their" }
            )
        } else {
            String::new()
        };
        format!(
            "{}, {}; unmatched: {} still open at the end{replaced}, {} without a begin",
            plural(l.begins, "begin", "begins"),
            plural(l.ends, "end", "ends"),
            plural(l.open, "begin", "begins"),
            plural(l.unmatched_ends, "end", "ends")
        )
    }

    /// A group's blocks: its label (when grouped), summary, and bars or
    /// table.
    fn group<'a>(&'a self, key: &'a GroupKey, h: &'a Histogram) -> impl Iterator<Item = Block<'a>> {
        let plan = &self.plan;
        let unit = plan.unit;
        let label =
            (!plan.spec.by.is_empty()).then(|| Block::Title(self.groups.label(plan, key).0.into()));
        let shape = match plan.spec.style {
            Style::Bars => Block::Bars(h.bars(unit)),
            Style::Table => Block::Table(bucket_table(h, unit)),
        };
        std::iter::once(Block::Blank)
            .chain(label)
            .chain([Block::Text(h.summary(unit).into()), shape])
    }

    /// What follows the groups: the notes, and the begins still open.
    fn tail(&self) -> Vec<Block<'_>> {
        let mut blocks = Vec::new();
        if let Some(m) = self.more() {
            blocks.extend([Block::Blank, Block::More(m)]);
        }
        if self.shown().any(|(_, h)| !h.is_exact()) {
            let past = match self.budget {
                None => String::new(),
                Some((share, limit)) => {
                    format!(", or past {share} when the groups hold more than {limit} in all,")
                }
            };
            blocks.extend([
                Block::Blank,
                Block::Text(
                    format!(
                        "~ percentiles of histograms past {} samples{past} come from sub-buckets: within {:.3}% of the exact value.",
                        histogram::EXACT_SAMPLES,
                        histogram::APPROX_RELATIVE_ERROR * 100.0
                    )
                    .into(),
                ),
            ]);
        }
        if let Some(l) = &self.latency
            && !l.open_shown.is_empty()
        {
            blocks.extend([
                Block::Blank,
                Block::Title("Still open at the end (oldest first):".into()),
            ]);
            for o in &l.open_shown {
                let key = o
                    .key
                    .as_ref()
                    .map_or(String::new(), |(n, (v, _))| format!(" {n}={v}"));
                blocks.push(Block::Text(
                    format!(
                        "  pid {}{key}: began at {}, open for {} until the last begin or end record",
                        o.pid,
                        seconds(o.ts),
                        histogram::human_f64(o.open_ns as f64, Unit::Nanoseconds)
                    )
                    .into(),
                ));
            }
            if l.open > l.open_shown.len() as u64 {
                blocks.push(Block::Text(
                    format!("  ({} more)", l.open - l.open_shown.len() as u64).into(),
                ));
            }
        }
        blocks
    }
}

impl Document for HistReport {
    fn blocks(&self) -> Blocks<'_> {
        let plan = &self.plan;
        let mut head = vec![Block::Text(
            headline(plan, self.samples, self.groups_total).into(),
        )];
        if let Some(l) = &self.latency {
            head.push(Block::Text(Self::latency_line(l).into()));
        }
        if let Some(l) = self.lost() {
            head.push(Block::Lost(l));
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
            head.push(Block::Text(
                format!("No samples: {why} among the records read.").into(),
            ));
        }
        // The groups' blocks are made as they are written; the tail is
        // small.
        let groups = self.shown().flat_map(move |(key, h)| self.group(key, h));
        let tail = std::iter::once(()).flat_map(move |()| self.tail());
        Box::new(head.into_iter().chain(groups).chain(tail))
    }

    /// The groups shown as a chart, a panel each (whether the text shows
    /// bars or tables), with the text's lost-events warning and note of
    /// the groups left out.
    fn plot(&self) -> Option<Plot<'_>> {
        let unit = self.plan.unit;
        let title = headline(&self.plan, self.samples, self.groups_total);
        let mut plot = Plot::new(title, unit, move || {
            Box::new(self.shown().map(move |(key, h)| Panel {
                label: self.groups.label(&self.plan, key).0,
                summary: h.summary(unit),
                histogram: h,
            }))
        });
        plot.lost = self.lost();
        plot.more = self.more();
        plot.quantity = Some(match &self.plan.resolved {
            Resolved::Value { arg, .. } => arg.as_str().into(),
            Resolved::Latency { .. } => "latency".into(),
            Resolved::Interval { .. } => "interval".into(),
        });
        Some(plot)
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

/// `--table`: the non-empty buckets with counts, percentages and
/// cumulative percentages (data to read, not a shape to see: the empty
/// buckets the bars show are left out), a row at a time.
fn bucket_table(h: &Histogram, unit: Unit) -> Table<'_> {
    let columns = vec![
        Column::new("bucket", Align::Left),
        Column::new("count", Align::Right),
        Column::new("%", Align::Right),
        Column::new("cumulative %", Align::Right),
    ];
    let total = h.count().max(1) as f64;
    Table::new(TableStyle::Markdown, columns, move || {
        let mut cumulative = 0u64;
        Box::new(h.iter_buckets().map(move |b| {
            cumulative += b.count;
            vec![
                // The bars' labels, as the SVG writes them.
                Cell::Text(bucket_label(h.scale(), &b, unit).into()),
                Cell::Int(i128::from(b.count)),
                Cell::text(format!("{:.2}", b.count as f64 * 100.0 / total)),
                Cell::text(format!("{:.2}", cumulative as f64 * 100.0 / total)),
            ]
        }))
    })
}
