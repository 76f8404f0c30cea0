//! Histograms of integer samples (durations, sizes, argument values), as
//! the `hist` and `alloc` analyzers report them: bpftrace-style ASCII bars
//! over log2 or linear buckets, a summary with percentiles, and JSON.
//!
//! ```
//! use simpletrace::analyzers::histogram::{Domain, Histogram, Scale, Unit};
//!
//! let mut h = Histogram::new(Domain::Unsigned, Scale::Log2);
//! for v in [0u64, 1, 3, 700, 1000, 1500, 4096] {
//!     h.record(v);
//! }
//! assert_eq!(h.count(), 7);
//! assert_eq!(h.percentile(0.5), Some(700.0));
//! print!("{}", h.render(Unit::Nanoseconds));
//! // [0ns]                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
//! // [1ns]                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
//! // [2ns, 4ns)            1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
//! // [4ns, 8ns)            0 |                                                    |
//! // ...
//! // [512ns, 1.02us)       2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
//! // [1.02us, 2.05us)      1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
//! // [2.05us, 4.1us)       0 |                                                    |
//! // [4.1us, 8.19us)       1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
//! println!("{}", h.summary(Unit::Nanoseconds));
//! // count 7, min 0ns, mean 1.04us, p50 700ns, p90 4.1us, p99 4.1us, p99.9 4.1us, max 4.1us
//! ```
//!
//! Counts per bucket, count, min, max, sum and mean are always exact.
//! Percentiles are exact (nearest rank: the smallest sample with at least
//! `q` of the samples at or below it) up to [`EXACT_SAMPLES`] samples; past
//! that the histogram keeps log-linear sub-buckets instead of samples, so
//! memory stays bounded on any trace, and a percentile is the middle of
//! its sub-bucket: within [`APPROX_RELATIVE_ERROR`] of the exact value.
//! [`Histogram::is_exact`] says which.
//!
//! Memory: a histogram is under 100 bytes plus its samples (8 bytes each)
//! while exact, then a count per sub-bucket in use (and, for a linear
//! scale, per linear bucket in use). The counts per bucket are worked out
//! from those when the histogram is drawn, so many small histograms (one
//! per `--by` group, two per mutex) cost little, and a linear histogram
//! of millions of buckets is drawn a row at a time
//! ([`Histogram::write_bars`], [`Histogram::iter_buckets`],
//! [`Histogram::to_lazy_json`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, btree_map};
use std::fmt::Write as _;
use std::io;

use serde_json::{Value, json};

use super::human::{Precision, human_precise};
pub use super::human::{human, human_f64};
use super::listing::LazyJson;
use crate::report::{Align, BarRow, Bars, Block};

/// Samples kept for exact percentiles before switching to sub-buckets
/// (8 MiB of samples per histogram).
pub const EXACT_SAMPLES: usize = 1 << 20;

/// Exact samples the histograms of one analyzer keep in all by default
/// (64 MiB of samples; see [`ExactBudget`]).
pub const EXACT_BUDGET: usize = 1 << 23;

/// Samples a histogram keeps exactly whatever its share of a spent
/// [`ExactBudget`]: below this, its sub-buckets would cost more than its
/// samples.
pub const EXACT_FLOOR: u64 = 64;

/// Bits of each sub-bucket's mantissa once percentiles are approximate.
const SUB_BITS: u32 = 11;

/// The largest relative error of an approximate percentile: a sub-bucket
/// spans at most 2^-10 of its lower bound, and the middle is reported.
pub const APPROX_RELATIVE_ERROR: f64 = 1.0 / 2048.0;

/// Width of the bar column, as in bpftrace.
const BAR_WIDTH: usize = 52;

/// Rows beyond which a linear histogram shows only its non-empty buckets.
const MAX_FILLED_ROWS: usize = 1000;

/// How the `u64` samples are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// As unsigned integers (sizes, unsigned arguments).
    Unsigned,
    /// As two's-complement `i64` (durations, which can step back; signed
    /// arguments).
    Signed,
}

/// How samples are grouped into the bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Powers of two, like bpftrace's `hist()`: `[0]`, `[1]`, `[2, 4)`,
    /// `[4, 8)`, ...; negative values mirrored: `(-4, -2]`, `[-1]`.
    Log2,
    /// Buckets of `step` (at least 1) starting at 0, like bpftrace's
    /// `lhist()`: `[0, step)`, `[step, 2*step)`, ... (and below 0).
    Linear {
        /// The width of a bucket.
        step: u64,
    },
}

/// What the samples measure: how bucket bounds and figures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Plain numbers (`1K` for 1024 in log2 labels, as bpftrace).
    Count,
    /// Nanoseconds: `512ns`, `1.02us`, `3.5ms`, `2s`.
    Nanoseconds,
    /// Bytes: `512B`, `4KiB`, `1.5MiB`.
    Bytes,
}

impl Unit {
    /// The name used in JSON (`"count"`, `"ns"`, `"bytes"`).
    pub fn json_name(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Nanoseconds => "ns",
            Unit::Bytes => "bytes",
        }
    }
}

/// One bar: the samples in `[low, high)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Smallest value in the bucket.
    pub low: i128,
    /// One past the largest value in the bucket.
    pub high: i128,
    /// How many samples.
    pub count: u64,
}

/// Samples kept for percentiles; while exact, the display buckets are
/// counted from them when drawn, so a histogram holds nothing per bucket.
#[derive(Debug, Clone)]
enum Samples {
    /// Every sample (raw bits), until there are more than the exact limit.
    Exact(Vec<u64>),
    /// Counts per sub-bucket (and per linear bucket).
    Approx(Box<Approx>),
}

/// What a histogram past its exact limit keeps.
#[derive(Debug, Clone, Default)]
struct Approx {
    /// Counts per log-linear sub-bucket (see [`sub_key`]); each lies in
    /// one log2 bucket, so they also give the log2 bars.
    sub: BTreeMap<i64, u64>,
    /// Counts per linear display bucket (linear scales only: sub-buckets
    /// straddle linear buckets).
    linear: BTreeMap<i128, u64>,
}

impl Approx {
    #[inline]
    fn add(&mut self, v: i128, scale: Scale, n: u64) {
        *self.sub.entry(sub_key(v)).or_insert(0) += n;
        if let Scale::Linear { step } = scale {
            *self
                .linear
                .entry(v.div_euclid(i128::from(step.max(1))))
                .or_insert(0) += n;
        }
    }

    fn merge(&mut self, other: &Approx) {
        for (&k, &c) in &other.sub {
            *self.sub.entry(k).or_insert(0) += c;
        }
        for (&k, &c) in &other.linear {
            *self.linear.entry(k).or_insert(0) += c;
        }
    }
}

/// A histogram: see the [module documentation](self).
///
/// What it holds: a fixed part (under 100 bytes) and, until the exact
/// limit, 8 bytes per sample; past it, a count per sub-bucket (and per
/// linear bucket) in use. Bucket counts are worked out when the histogram
/// is drawn, so a histogram of one sample costs one sample, whatever its
/// scale.
#[derive(Debug, Clone)]
pub struct Histogram {
    count: u64,
    sum: i128,
    /// Smallest and largest sample, raw (read through `domain`).
    min: u64,
    max: u64,
    samples: Samples,
    /// Samples kept exactly before switching to sub-buckets.
    exact_limit: usize,
    scale: Scale,
    domain: Domain,
    /// Whether the exact samples are sorted by value.
    sorted: bool,
}

impl Histogram {
    /// An empty histogram. A linear `step` of 0 is taken as 1.
    pub fn new(domain: Domain, scale: Scale) -> Histogram {
        let scale = match scale {
            Scale::Linear { step: 0 } => Scale::Linear { step: 1 },
            s => s,
        };
        Histogram {
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
            samples: Samples::Exact(Vec::new()),
            exact_limit: EXACT_SAMPLES,
            scale,
            domain,
            sorted: true,
        }
    }

    /// An empty histogram that keeps at most `limit` samples for exact
    /// percentiles (instead of [`EXACT_SAMPLES`]), for analyzers that keep
    /// many histograms: past it, percentiles are within
    /// [`APPROX_RELATIVE_ERROR`].
    pub fn with_exact_limit(domain: Domain, scale: Scale, limit: usize) -> Histogram {
        Histogram {
            exact_limit: limit,
            ..Histogram::new(domain, scale)
        }
    }

    /// How the samples are read.
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// The bucket scale.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// The value of a raw sample.
    #[inline]
    fn value(&self, raw: u64) -> i128 {
        match self.domain {
            Domain::Unsigned => i128::from(raw),
            Domain::Signed => i128::from(raw as i64),
        }
    }

    /// Adds a sample: a `u64`, or an `i64` cast to `u64` for
    /// [`Domain::Signed`].
    #[inline]
    pub fn record(&mut self, raw: u64) {
        let v = self.value(raw);
        if self.count == 0 {
            self.min = raw;
            self.max = raw;
        } else if v < self.value(self.min) {
            self.min = raw;
        } else if v > self.value(self.max) {
            self.max = raw;
        }
        self.count += 1;
        self.sum += v;
        match &mut self.samples {
            Samples::Exact(values) => {
                values.push(raw);
                self.sorted = false;
                if values.len() > self.exact_limit {
                    self.switch_to_approx();
                }
            }
            Samples::Approx(a) => a.add(v, self.scale, 1),
        }
    }

    /// Adds a signed sample (for [`Domain::Signed`] histograms).
    pub fn record_i64(&mut self, v: i64) {
        self.record(v as u64);
    }

    /// Keeps log-linear sub-buckets from now on instead of the samples:
    /// percentiles become approximate (within [`APPROX_RELATIVE_ERROR`]),
    /// everything else stays exact, and memory follows the sub-buckets in
    /// use instead of the samples. What [`ExactBudget`] does to the largest
    /// histograms; nothing when already approximate.
    pub fn make_approximate(&mut self) {
        self.switch_to_approx();
    }

    fn switch_to_approx(&mut self) {
        if let Samples::Exact(values) = &self.samples {
            let mut a = Approx::default();
            for &raw in values {
                a.add(self.value(raw), self.scale, 1);
            }
            self.samples = Samples::Approx(Box::new(a));
        }
    }

    /// Adds every sample of `other` (same domain and scale; a histogram of
    /// another scale is rebucketed from its exact samples, or refused with
    /// `false` when it has none).
    pub fn merge(&mut self, other: Histogram) -> bool {
        if other.count == 0 {
            return true;
        }
        if other.domain != self.domain {
            return false;
        }
        if other.scale != self.scale {
            let Samples::Exact(values) = other.samples else {
                return false;
            };
            for raw in values {
                self.record(raw);
            }
            return true;
        }
        if self.count == 0 {
            let limit = self.exact_limit;
            *self = other;
            self.exact_limit = limit;
            if matches!(&self.samples, Samples::Exact(v) if v.len() > limit) {
                self.switch_to_approx();
            }
            return true;
        }
        if self.value(other.min) < self.value(self.min) {
            self.min = other.min;
        }
        if self.value(other.max) > self.value(self.max) {
            self.max = other.max;
        }
        self.count += other.count;
        self.sum += other.sum;
        match other.samples {
            Samples::Exact(b) => match &mut self.samples {
                Samples::Exact(a) => {
                    a.extend(b);
                    self.sorted = false;
                    if a.len() > self.exact_limit {
                        self.switch_to_approx();
                    }
                }
                Samples::Approx(a) => {
                    for raw in b {
                        let v = match self.domain {
                            Domain::Unsigned => i128::from(raw),
                            Domain::Signed => i128::from(raw as i64),
                        };
                        a.add(v, self.scale, 1);
                    }
                }
            },
            Samples::Approx(b) => {
                self.switch_to_approx();
                if let Samples::Approx(a) = &mut self.samples {
                    a.merge(&b);
                }
            }
        }
        true
    }

    /// Sorts the samples kept for exact percentiles. Nothing it reports
    /// changes; the summaries, bars and JSON made afterwards (until the
    /// next sample) then work on them in place instead of on a sorted copy.
    pub fn sort_samples(&mut self) {
        if let Samples::Exact(values) = &mut self.samples
            && !self.sorted
        {
            sort_by_value(self.domain, values);
            self.sorted = true;
        }
    }

    /// The exact samples sorted by value (borrowed when they are, else a
    /// sorted copy); empty past the exact limit.
    fn sorted_samples(&self) -> Cow<'_, [u64]> {
        match &self.samples {
            Samples::Exact(values) if self.sorted => Cow::Borrowed(values),
            Samples::Exact(values) => {
                let mut copy = values.clone();
                sort_by_value(self.domain, &mut copy);
                Cow::Owned(copy)
            }
            Samples::Approx(_) => Cow::Borrowed(&[]),
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sum of the samples.
    pub fn sum(&self) -> i128 {
        self.sum
    }

    /// Smallest sample.
    pub fn min(&self) -> Option<i128> {
        (self.count > 0).then(|| self.value(self.min))
    }

    /// Largest sample.
    pub fn max(&self) -> Option<i128> {
        (self.count > 0).then(|| self.value(self.max))
    }

    /// Mean of the samples.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Whether percentiles are exact (see the module documentation).
    pub fn is_exact(&self) -> bool {
        matches!(self.samples, Samples::Exact(_))
    }

    /// The `q` quantile (0 < q <= 1; 0.99 for p99): the smallest sample
    /// with at least a fraction `q` of the samples at or below it. `None`
    /// without samples.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.percentiles(&[q]).first().copied().flatten()
    }

    /// The median: while exact, the middle sample, or the mean of the two
    /// middle ones for an even count; past the exact limit, the 0.5
    /// percentile.
    pub fn median(&self) -> Option<f64> {
        match &self.samples {
            Samples::Exact(values) if !values.is_empty() => {
                median_of_sorted(&self.sorted_samples(), |raw| self.value(raw) as f64)
            }
            _ => self.percentile(0.5),
        }
    }

    /// Several quantiles at once (one sort).
    pub fn percentiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        if self.count == 0 {
            return vec![None; qs.len()];
        }
        // Nearest rank, 1-based.
        let rank = |q: f64| -> u64 {
            let r = (q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64;
            r.clamp(1, self.count)
        };
        match &self.samples {
            Samples::Exact(_) => {
                let sorted = self.sorted_samples();
                qs.iter()
                    .map(|&q| {
                        let i = usize::try_from(rank(q) - 1).unwrap_or(usize::MAX);
                        sorted.get(i).map(|&r| self.value(r) as f64)
                    })
                    .collect()
            }
            Samples::Approx(a) => qs
                .iter()
                .map(|&q| {
                    let want = rank(q);
                    let mut seen = 0u64;
                    let (min, max) = (self.value(self.min) as f64, self.value(self.max) as f64);
                    for (&key, &c) in &a.sub {
                        seen += c;
                        if seen >= want {
                            let (low, high) = sub_range(key);
                            // Within the recorded extremes.
                            let mid = (low as f64 + (high - 1) as f64) / 2.0;
                            return Some(mid.clamp(min, max));
                        }
                    }
                    Some(max)
                })
                .collect(),
        }
    }

    /// The display bucket of `v`.
    fn bucket_index(&self, v: i128) -> i128 {
        match self.scale {
            Scale::Log2 => log2_index(v),
            Scale::Linear { step } => v.div_euclid(i128::from(step.max(1))),
        }
    }

    /// The values of display bucket `index`: `[low, high)`.
    fn bucket_range(&self, index: i128) -> (i128, i128) {
        match self.scale {
            Scale::Log2 => {
                let k = index.unsigned_abs().min(127) as u32;
                if k == 0 {
                    return (0, 1);
                }
                let low = 1i128 << (k - 1);
                let high = 1i128 << k.min(126);
                if index > 0 {
                    (low, high)
                } else {
                    // (-high, -low]: the values -high+1 ..= -low.
                    (-high + 1, -low + 1)
                }
            }
            Scale::Linear { step } => {
                let step = i128::from(step.max(1));
                (index * step, index * step + step)
            }
        }
    }

    fn bucket(&self, index: i128, count: u64) -> Bucket {
        let (low, high) = self.bucket_range(index);
        Bucket { low, high, count }
    }

    /// The non-empty buckets' indices and counts, lowest first, counted
    /// from `sorted` (the exact samples in order) or the sub-buckets.
    fn bucket_counts<'a>(&'a self, sorted: Cow<'a, [u64]>) -> BucketCounts<'a> {
        match &self.samples {
            Samples::Exact(_) => BucketCounts::Exact {
                h: self,
                sorted,
                pos: 0,
            },
            Samples::Approx(a) => match self.scale {
                Scale::Log2 => BucketCounts::Sub(a.sub.iter().peekable()),
                Scale::Linear { .. } => BucketCounts::Linear(a.linear.iter()),
            },
        }
    }

    /// The non-empty buckets, lowest first.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.iter_buckets().collect()
    }

    /// The non-empty buckets, lowest first, one at a time (nothing is
    /// held per bucket).
    pub fn iter_buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        self.bucket_counts(self.sorted_samples())
            .map(|(i, c)| self.bucket(i, c))
    }

    /// The rows to draw: every bucket from the lowest to the highest
    /// non-empty one (empty ones included, as bpftrace draws them), or only
    /// the non-empty ones when that would be more than `max_filled` rows;
    /// `None` marks a gap of empty buckets. One at a time.
    pub(crate) fn rows(&self, max_filled: usize) -> Rows<'_> {
        self.rows_in(max_filled, self.sorted_samples())
    }

    fn rows_in<'a>(&'a self, max_filled: usize, sorted: Cow<'a, [u64]>) -> Rows<'a> {
        let fill = match (self.min(), self.max()) {
            (Some(min), Some(max)) => {
                let span = self.bucket_index(max) - self.bucket_index(min) + 1;
                u128::try_from(span).unwrap_or(u128::MAX) <= max_filled as u128
            }
            _ => true,
        };
        Rows {
            h: self,
            counts: self.bucket_counts(sorted),
            fill,
            prev: None,
            held: None,
            gap_shown: false,
        }
    }

    /// The label of a bucket in the bars (see [`bucket_label`]).
    fn label(&self, b: &Bucket, unit: Unit) -> String {
        bucket_label(self.scale, b, unit)
    }

    /// The bars, bpftrace style: one row per bucket, `LABEL COUNT |@@@ |`.
    /// Empty without samples.
    pub fn render(&self, unit: Unit) -> String {
        let mut out = Vec::new();
        // Writing into a Vec does not fail.
        let _ = self.write_bars(&mut out, unit);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Writes [`Histogram::render`]'s bars to `out`, a row at a time (a
    /// linear histogram can have millions of buckets).
    pub fn write_bars(&self, out: &mut dyn io::Write, unit: Unit) -> io::Result<()> {
        let bars = Block::Bars(self.bars(unit));
        crate::report::render::write_block(&bars, out, &crate::report::render::Plain)
    }

    /// The bars as report data (a [`Block::Bars`]), made a row at a time
    /// when written: one row per bucket, its label and count, and rows
    /// left out (`...`) between far buckets.
    pub fn bars(&self, unit: Unit) -> Bars<'_> {
        let columns = vec![(Align::Left, 0), (Align::Right, 6)];
        Bars::new(columns, BAR_WIDTH, move || {
            Box::new(self.rows(MAX_FILLED_ROWS).map(move |row| match row {
                Some(b) => BarRow::Bar(
                    vec![self.label(&b, unit).into(), b.count.to_string().into()],
                    u128::from(b.count),
                ),
                None => BarRow::Gap,
            }))
        })
    }

    /// One line of figures: `count 7, min 0ns, mean 1.04us, p50 700ns,
    /// p90 1.5us, p99 4.1us, p99.9 4.1us, max 4.1us` (`~` before the
    /// percentiles when they are approximate).
    pub fn summary(&self, unit: Unit) -> String {
        let (Some(min), Some(max), Some(mean)) = (self.min(), self.max(), self.mean()) else {
            return "count 0".to_owned();
        };
        let ps = self.percentiles(&PERCENTILES.map(|(_, q)| q));
        let approx = if self.is_exact() { "" } else { "~" };
        let mut s = format!(
            "count {}, min {}, mean {}",
            self.count,
            human(min, unit),
            human_f64(mean, unit)
        );
        for ((name, _), p) in PERCENTILES.iter().zip(ps) {
            if let Some(p) = p {
                let _ = write!(s, ", {name} {approx}{}", human_f64(p, unit));
            }
        }
        let _ = write!(s, ", max {}", human(max, unit));
        s
    }

    /// The histogram as JSON: `unit`, `count`, `sum`, `min`, `max`,
    /// `mean`, `percentiles` (`p50`, `p90`, `p99`, `p99.9`),
    /// `percentiles_exact`, `scale` (`"log2"` or `{"linear": STEP}`), and
    /// `buckets`: the non-empty ones as `{"low", "high", "count"}` with
    /// `high` exclusive. Integers beyond JSON's exact range (2^53) are
    /// written as numbers all the same; `serde_json` keeps them exact.
    pub fn to_json(&self, unit: Unit) -> Value {
        self.to_lazy_json(unit).into_value()
    }

    /// [`Histogram::to_json`] with its buckets made as they are written.
    pub fn to_lazy_json(&self, unit: Unit) -> LazyJson<'_> {
        let ps = self.percentiles(&PERCENTILES.map(|(_, q)| q));
        let percentiles: serde_json::Map<String, Value> = PERCENTILES
            .iter()
            .zip(ps)
            .map(|((name, _), p)| ((*name).to_owned(), p.map_or(Value::Null, |p| json!(p))))
            .collect();
        let scale = match self.scale {
            Scale::Log2 => json!("log2"),
            Scale::Linear { step } => json!({ "linear": step }),
        };
        let buckets = self.iter_buckets().map(|b| {
            LazyJson::Value(json!({
                "low": int_json(b.low),
                "high": int_json(b.high),
                "count": b.count,
            }))
        });
        let fields: [(&str, Value); 9] = [
            ("unit", json!(unit.json_name())),
            ("count", json!(self.count)),
            ("sum", int_json(self.sum)),
            ("min", self.min().map_or(Value::Null, int_json)),
            ("max", self.max().map_or(Value::Null, int_json)),
            ("mean", json!(self.mean())),
            ("percentiles", Value::Object(percentiles)),
            ("percentiles_exact", json!(self.is_exact())),
            ("scale", scale),
        ];
        let mut object: Vec<(String, LazyJson<'_>)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), LazyJson::Value(v)))
            .collect();
        object.push(("buckets".to_owned(), LazyJson::Array(Box::new(buckets))));
        LazyJson::Object(object)
    }
}

/// One budget of exact samples shared by all the histograms of an analyzer
/// (`hist`'s groups, `locks`' waits and holds), so that their memory does
/// not grow with the trace, however many busy histograms there are.
///
/// While the histograms hold no more samples in all than the budget,
/// nothing changes. Past it, every histogram holding more than its share
/// switches to sub-buckets ([`Histogram::make_approximate`]): the share is
/// the budget over the number of histograms rounded up to a power of two,
/// but never below [`EXACT_FLOOR`]. So the largest switch, and the exact
/// samples left are at most the budget (or [`EXACT_FLOOR`] a histogram).
///
/// The rule depends only on the counts at the end (a histogram is exact
/// if and only if its count is within its share, or the total within the
/// budget): a count only grows and a share only shrinks, so a histogram
/// switched on the way would be switched at the end, and a run cut into
/// chunks ([`Histogram::merge`]) ends with the same histograms exact as a
/// run in one piece.
///
/// ```
/// use simpletrace::analyzers::histogram::{Domain, ExactBudget, Histogram, Scale};
///
/// let mut budget = ExactBudget::new(1000);
/// let mut hists: Vec<Histogram> =
///     (0..4).map(|_| Histogram::new(Domain::Unsigned, Scale::Log2)).collect();
/// for i in 0..1200u64 {
///     // Most samples in the first histogram.
///     let h = &mut hists[if i % 10 == 0 { 1 + i as usize % 3 } else { 0 }];
///     h.record(i);
///     if budget.recorded(h, 4) {
///         budget.enforce(hists.iter_mut(), 4);
///     }
/// }
/// assert!(budget.is_spent() && budget.share(4) == 250);
/// assert!(!hists[0].is_exact()); // 1080 samples: switched
/// assert!(hists[1].is_exact() && hists[1].count() == 40);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactBudget {
    limit: u64,
    /// Samples recorded into all the histograms.
    samples: u64,
    /// The share last enforced on every histogram, if it still holds.
    enforced: Option<u64>,
}

impl Default for ExactBudget {
    /// [`EXACT_BUDGET`] samples.
    fn default() -> Self {
        ExactBudget::new(EXACT_BUDGET)
    }
}

impl ExactBudget {
    /// A budget of `samples` exact samples in all.
    pub fn new(samples: usize) -> Self {
        ExactBudget {
            limit: u64::try_from(samples).unwrap_or(u64::MAX),
            samples: 0,
            enforced: None,
        }
    }

    /// The samples of the budget.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether more samples were recorded than the budget holds (and the
    /// largest histograms switch).
    pub fn is_spent(&self) -> bool {
        self.samples > self.limit
    }

    /// The samples each of `histograms` may keep exactly once the budget
    /// is spent.
    pub fn share(&self, histograms: usize) -> u64 {
        let n = u64::try_from(histograms.max(1).next_power_of_two()).unwrap_or(u64::MAX);
        (self.limit / n).max(EXACT_FLOOR)
    }

    /// Counts a sample just recorded into `h`, one of `histograms`, and
    /// switches `h` if it holds more than its share of a spent budget.
    /// Returns `true` when every histogram must be checked
    /// ([`ExactBudget::enforce`]): the budget was just spent, or the share
    /// fell (there are more histograms).
    pub fn recorded(&mut self, h: &mut Histogram, histograms: usize) -> bool {
        self.samples += 1;
        if !self.is_spent() {
            return false;
        }
        let share = self.share(histograms);
        if h.is_exact() && h.count() > share {
            h.make_approximate();
        }
        self.enforced != Some(share)
    }

    /// Switches every histogram of `all` (`histograms` of them) holding
    /// more than its share of a spent budget.
    pub fn enforce<'h>(&mut self, all: impl Iterator<Item = &'h mut Histogram>, histograms: usize) {
        if !self.is_spent() {
            return;
        }
        let share = self.share(histograms);
        for h in all {
            if h.is_exact() && h.count() > share {
                h.make_approximate();
            }
        }
        self.enforced = Some(share);
    }

    /// Counts the samples of another budget's histograms (a chunk's, whose
    /// histograms were merged into these); call [`ExactBudget::enforce`]
    /// next.
    pub fn merge(&mut self, other: &ExactBudget) {
        self.samples = self.samples.saturating_add(other.samples);
        self.enforced = None;
    }
}

/// Sorts raw samples by the value they have in `domain`.
fn sort_by_value(domain: Domain, values: &mut [u64]) {
    match domain {
        Domain::Unsigned => values.sort_unstable(),
        Domain::Signed => values.sort_unstable_by_key(|&r| r as i64),
    }
}

/// The log2 bucket of `v`: 0 -> 0; [2^(k-1), 2^k) -> k; negatives
/// mirrored.
fn log2_index(v: i128) -> i128 {
    let k = i128::from(128 - v.unsigned_abs().leading_zeros());
    if v < 0 { -k } else { k }
}

/// The non-empty buckets of a histogram, as (index, count), lowest first.
enum BucketCounts<'a> {
    /// Runs of exact samples sorted by value.
    Exact {
        h: &'a Histogram,
        sorted: Cow<'a, [u64]>,
        pos: usize,
    },
    /// Runs of sub-buckets in one log2 bucket.
    Sub(std::iter::Peekable<btree_map::Iter<'a, i64, u64>>),
    /// Linear buckets past the exact limit.
    Linear(btree_map::Iter<'a, i128, u64>),
}

impl Iterator for BucketCounts<'_> {
    type Item = (i128, u64);

    fn next(&mut self) -> Option<(i128, u64)> {
        match self {
            BucketCounts::Exact { h, sorted, pos } => {
                let index = h.bucket_index(h.value(*sorted.get(*pos)?));
                let start = *pos;
                *pos += 1;
                while let Some(&raw) = sorted.get(*pos)
                    && h.bucket_index(h.value(raw)) == index
                {
                    *pos += 1;
                }
                Some((index, (*pos - start) as u64))
            }
            BucketCounts::Sub(iter) => {
                let (&key, &count) = iter.next()?;
                let index = log2_index(sub_range(key).0);
                let mut total = count;
                while let Some(&(&k, &c)) = iter.peek()
                    && log2_index(sub_range(k).0) == index
                {
                    total += c;
                    iter.next();
                }
                Some((index, total))
            }
            BucketCounts::Linear(iter) => iter.next().map(|(&i, &c)| (i, c)),
        }
    }
}

/// The rows a histogram draws: see [`Histogram::rows`].
pub(crate) struct Rows<'a> {
    h: &'a Histogram,
    counts: BucketCounts<'a>,
    /// Whether empty buckets between non-empty ones are drawn.
    fill: bool,
    /// The last bucket index given.
    prev: Option<i128>,
    /// A non-empty bucket waiting behind the empty ones or the gap.
    held: Option<(i128, u64)>,
    /// Whether the gap before `held` was given.
    gap_shown: bool,
}

impl Iterator for Rows<'_> {
    type Item = Option<Bucket>;

    fn next(&mut self) -> Option<Option<Bucket>> {
        let (i, count) = match self.held.take() {
            Some(next) => next,
            None => self.counts.next()?,
        };
        if let Some(p) = self.prev
            && i > p + 1
        {
            if self.fill {
                self.held = Some((i, count));
                self.prev = Some(p + 1);
                return Some(Some(self.h.bucket(p + 1, 0)));
            }
            if !self.gap_shown {
                self.held = Some((i, count));
                self.gap_shown = true;
                return Some(None);
            }
        }
        self.gap_shown = false;
        self.prev = Some(i);
        Some(Some(self.h.bucket(i, count)))
    }
}

/// The percentiles reported.
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

/// The median of sorted values, each read by `value`: the middle one, or
/// the mean of the two middle ones for an even count; `None` when there
/// are none. (The one median rule: [`Histogram::median`] while exact, and
/// `locks`' summaries of plain values.)
pub(crate) fn median_of_sorted<T: Copy>(sorted: &[T], value: impl Fn(T) -> f64) -> Option<f64> {
    let n = sorted.len();
    let high = value(*sorted.get(n / 2)?);
    Some(if n % 2 == 1 {
        high
    } else {
        (value(*sorted.get(n / 2 - 1)?) + high) / 2.0
    })
}

/// An integer as a JSON number (exact for any `i64` or `u64`; larger
/// values, such as a sum, become floating point).
fn int_json(v: i128) -> Value {
    if let Ok(v) = i64::try_from(v) {
        json!(v)
    } else if let Ok(v) = u64::try_from(v) {
        json!(v)
    } else {
        json!(v as f64)
    }
}

/// The sub-bucket key of `v` once percentiles are approximate: exact below
/// 2^SUB_BITS, then `SUB_BITS` significant bits; ordered like the values.
fn sub_key(v: i128) -> i64 {
    let m = v.unsigned_abs();
    let key = if m < 1 << SUB_BITS {
        m as i64
    } else {
        let top = 127 - m.leading_zeros();
        let shift = top + 1 - SUB_BITS;
        let mantissa = (m >> shift) as i64;
        i64::from(shift) * (1 << (SUB_BITS - 1)) + mantissa
    };
    if v < 0 { -key } else { key }
}

/// The values of sub-bucket `key`: `[low, high)`.
fn sub_range(key: i64) -> (i128, i128) {
    let k = key.unsigned_abs();
    let (low, high) = if k < 1 << SUB_BITS {
        (i128::from(k), i128::from(k) + 1)
    } else {
        let half = 1u64 << (SUB_BITS - 1);
        // key = shift * half + mantissa, mantissa in [half, 2 * half).
        let shift = (k - half) / half;
        let mantissa = k - shift * half;
        (
            i128::from(mantissa) << shift,
            i128::from(mantissa + 1) << shift,
        )
    };
    if key < 0 {
        (-high + 1, -low + 1)
    } else {
        (low, high)
    }
}

/// The precision of a histogram's labels, chosen once from its scale:
/// linear buckets are written finely enough that bounds a bucket width
/// apart read differently (`[14.501us]`, `[14.502us]` for `--linear 1ns`);
/// log2 bounds, a factor of two apart, need only three significant digits.
pub(crate) fn label_precision(scale: Scale) -> Precision {
    match scale {
        Scale::Log2 => Precision::SIGNIFICANT,
        Scale::Linear { step } => Precision::step(step),
    }
}

/// The label of a bucket of a histogram of `scale`: `[0]`, `[1]`, `[4KiB,
/// 8KiB)`, `(-8, -4]`, `[1ms, 1.0001ms)`, written with the histogram's
/// [`label_precision`] so that no two buckets share a label. The bars, the
/// `--table` rows and the SVG plot all use it.
pub(crate) fn bucket_label(scale: Scale, b: &Bucket, unit: Unit) -> String {
    let precision = label_precision(scale);
    let value = |v: i128| human_precise(v, unit, precision);
    if b.high - b.low == 1 {
        return format!("[{}]", value(b.low));
    }
    if matches!(scale, Scale::Log2) && b.high <= 0 {
        // (-2^k, -2^(k-1)]
        return format!("({}, {}]", value(b.low - 1), value(b.high - 1));
    }
    format!("[{}, {})", value(b.low), value(b.high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(domain: Domain, scale: Scale, values: &[i64]) -> Histogram {
        let mut h = Histogram::new(domain, scale);
        for &v in values {
            h.record(v as u64);
        }
        h
    }

    #[test]
    fn log2_buckets_like_bpftrace() {
        let h = hist(
            Domain::Unsigned,
            Scale::Log2,
            &[0, 1, 2, 3, 4, 7, 8, 1023, 1024],
        );
        let b: Vec<(i128, i128, u64)> = h
            .buckets()
            .iter()
            .map(|b| (b.low, b.high, b.count))
            .collect();
        assert_eq!(
            b,
            [
                (0, 1, 1),
                (1, 2, 1),
                (2, 4, 2),
                (4, 8, 2),
                (8, 16, 1),
                (512, 1024, 1),
                (1024, 2048, 1)
            ]
        );
        let text = h.render(Unit::Count);
        let lines: Vec<&str> = text.lines().collect();
        // Every bucket from 0 to 1024, the empty ones too.
        assert_eq!(lines.len(), 12);
        assert!(lines[0].starts_with("[0] "), "{text}");
        assert!(lines[2].starts_with("[2, 4) "), "{text}");
        assert!(lines[11].starts_with("[1K, 2K) "), "{text}");
        // The fullest bucket has the full bar; a bucket of 1 of 2 half.
        let full = format!("|{}|", "@".repeat(BAR_WIDTH));
        assert!(lines[2].ends_with(&full), "{text}");
        assert!(lines[0].contains(&format!("|{}{}|", "@".repeat(26), " ".repeat(26))));
        assert!(
            lines[5].contains(&format!("0 |{}|", " ".repeat(BAR_WIDTH))),
            "{text}"
        );
    }

    #[test]
    fn negative_values() {
        let h = hist(Domain::Signed, Scale::Log2, &[-1, -2, -3, -4, 0, 5]);
        let b: Vec<(i128, i128, u64)> = h
            .buckets()
            .iter()
            .map(|b| (b.low, b.high, b.count))
            .collect();
        // (-8, -4], (-4, -2], [-1], [0], [4, 8)
        assert_eq!(
            b,
            [(-7, -3, 1), (-3, -1, 2), (-1, 0, 1), (0, 1, 1), (4, 8, 1)]
        );
        let text = h.render(Unit::Count);
        assert!(text.starts_with("(-8, -4] "), "{text}");
        assert!(text.contains("\n(-4, -2] "), "{text}");
        assert!(text.contains("\n[-1] "), "{text}");
        assert_eq!(h.min(), Some(-4));
        assert_eq!(h.max(), Some(5));
        assert_eq!(h.sum(), -5);
        assert_eq!(h.percentile(0.5), Some(-2.0));
    }

    #[test]
    fn linear_buckets() {
        let h = hist(
            Domain::Signed,
            Scale::Linear { step: 100 },
            &[0, 99, 100, 250, -1, -100, -101],
        );
        let b: Vec<(i128, i128, u64)> = h
            .buckets()
            .iter()
            .map(|b| (b.low, b.high, b.count))
            .collect();
        assert_eq!(
            b,
            [
                (-200, -100, 1),
                (-100, 0, 2),
                (0, 100, 2),
                (100, 200, 1),
                (200, 300, 1)
            ]
        );
        let text = h.render(Unit::Nanoseconds);
        assert!(text.starts_with("[-200ns, -100ns) "), "{text}");
        // Far-apart buckets are not filled in by the thousand.
        let sparse = hist(Domain::Unsigned, Scale::Linear { step: 1 }, &[1, 5000]);
        assert_eq!(sparse.render(Unit::Count).lines().count(), 3);
        assert!(sparse.render(Unit::Count).lines().nth(1).unwrap().trim() == "...");
    }

    #[test]
    fn labels_in_units() {
        assert_eq!(human(512, Unit::Nanoseconds), "512ns");
        assert_eq!(human(1024, Unit::Nanoseconds), "1.02us");
        assert_eq!(human(1_500_000, Unit::Nanoseconds), "1.5ms");
        assert_eq!(human(2_000_000_000, Unit::Nanoseconds), "2s");
        assert_eq!(human(4096, Unit::Bytes), "4KiB");
        assert_eq!(human(1536 * 1024, Unit::Bytes), "1.5MiB");
        assert_eq!(human(100, Unit::Bytes), "100B");
        assert_eq!(human(3072, Unit::Count), "3K");
        assert_eq!(human(1000, Unit::Count), "1000");
        let h = hist(
            Domain::Unsigned,
            Scale::Linear { step: 100 },
            &[1_000_000, 1_000_150],
        );
        let text = h.render(Unit::Nanoseconds);
        assert!(text.starts_with("[1ms, 1.0001ms) "), "{text}");
        assert!(text.contains("\n[1.0001ms, 1.0002ms) "), "{text}");
        // The one label rule, whatever writes it.
        let close = Bucket {
            low: 1_000_000,
            high: 1_000_100,
            count: 1,
        };
        let scale = Scale::Linear { step: 100 };
        assert_eq!(
            bucket_label(scale, &close, Unit::Nanoseconds),
            "[1ms, 1.0001ms)"
        );
        let far = Bucket {
            low: 4096,
            high: 8192,
            count: 1,
        };
        assert_eq!(bucket_label(Scale::Log2, &far, Unit::Bytes), "[4KiB, 8KiB)");
    }

    #[test]
    fn linear_labels_are_distinct_at_any_width() {
        // issue 16, item 9: `--linear 1ns` wrote 14501ns and 14502ns both
        // as `[14.5us]`.
        for step in [1u64, 3, 7, 25, 100, 1000, 1024, 4096, 1_000_000] {
            for unit in [Unit::Nanoseconds, Unit::Bytes, Unit::Count] {
                let scale = Scale::Linear { step };
                let mut seen = std::collections::HashMap::new();
                for start in [
                    0i128,
                    14_500,
                    999_990,
                    1_048_570,
                    1_000_000_000,
                    743_528_834_539,
                ] {
                    let first = start.div_euclid(i128::from(step));
                    for i in first..first + 40 {
                        let low = i * i128::from(step);
                        let b = Bucket {
                            low,
                            high: low + i128::from(step),
                            count: 1,
                        };
                        let label = bucket_label(scale, &b, unit);
                        let first = *seen.entry(label.clone()).or_insert(low);
                        assert_eq!(first, low, "{step} {unit:?}: {label} twice");
                    }
                }
            }
        }
    }

    #[test]
    fn exact_percentiles_by_nearest_rank() {
        let values: Vec<i64> = (1..=1000).collect();
        let h = hist(Domain::Unsigned, Scale::Log2, &values);
        assert!(h.is_exact());
        assert_eq!(
            h.percentiles(&[0.5, 0.9, 0.99, 0.999, 1.0]),
            [
                Some(500.0),
                Some(900.0),
                Some(990.0),
                Some(999.0),
                Some(1000.0)
            ]
        );
        assert_eq!(h.mean(), Some(500.5));
        let one = hist(Domain::Unsigned, Scale::Log2, &[42]);
        assert_eq!(one.percentile(0.999), Some(42.0));
        assert_eq!(
            Histogram::new(Domain::Signed, Scale::Log2).percentile(0.5),
            None
        );
        assert_eq!(
            Histogram::new(Domain::Signed, Scale::Log2).summary(Unit::Count),
            "count 0"
        );
    }

    #[test]
    fn sub_buckets_are_ordered_and_tight() {
        let mut prev = i64::MIN;
        let mut v: i128 = -(1 << 40);
        while v < 1 << 62 {
            let k = sub_key(v);
            assert!(k >= prev, "{v}");
            let (low, high) = sub_range(k);
            assert!(low <= v && v < high, "{v}: [{low}, {high})");
            if v.unsigned_abs() >= 1 << SUB_BITS {
                let width = (high - low) as f64;
                assert!(width / (low.unsigned_abs() as f64) <= 2.0 * APPROX_RELATIVE_ERROR + 1e-12);
            }
            prev = k;
            v += 1 + v.unsigned_abs() as i128 / 3;
        }
        let (low, high) = sub_range(sub_key(u64::MAX.into()));
        assert!(low <= u64::MAX.into() && high > u64::MAX.into());
    }

    #[test]
    fn approximate_percentiles_stay_within_the_bound() {
        let mut h = Histogram::new(Domain::Unsigned, Scale::Log2);
        let n = EXACT_SAMPLES as u64 + 5000;
        // A spread of values: i * 7919 mod a large prime, scaled.
        let mut exact: Vec<u64> = (0..n)
            .map(|i| (i * 7919 % 1_000_003) * 1000 + i % 1000)
            .collect();
        for &v in &exact {
            h.record(v);
        }
        assert!(!h.is_exact());
        exact.sort_unstable();
        for (_, q) in PERCENTILES {
            let want = exact[((q * n as f64).ceil() as usize).max(1) - 1] as f64;
            let got = h.percentile(q).unwrap();
            assert!(
                (got - want).abs() <= want * APPROX_RELATIVE_ERROR + 1.0,
                "p{q}: {got} vs {want}"
            );
        }
        assert_eq!(h.count(), n);
        assert_eq!(h.min(), Some(i128::from(exact[0])));
        assert!(h.summary(Unit::Count).contains("p50 ~"));
    }

    #[test]
    fn merging_equals_recording_everything() {
        let a_values: Vec<i64> = (0..500).map(|i| i * 37 % 1000 - 300).collect();
        let b_values: Vec<i64> = (0..700).map(|i| i * 91 % 5000).collect();
        let mut a = hist(Domain::Signed, Scale::Log2, &a_values);
        let b = hist(Domain::Signed, Scale::Log2, &b_values);
        assert!(a.merge(b));
        let all: Vec<i64> = a_values.iter().chain(&b_values).copied().collect();
        let whole = hist(Domain::Signed, Scale::Log2, &all);
        assert_eq!(a.buckets(), whole.buckets());
        assert_eq!(a.to_json(Unit::Count), whole.to_json(Unit::Count));
        assert!(!a.merge(hist(Domain::Unsigned, Scale::Log2, &[1])));
    }

    #[test]
    fn medians_and_a_small_exact_limit() {
        let h = hist(Domain::Signed, Scale::Log2, &[5, 1, 3, 2]);
        assert_eq!(h.median(), Some(2.5));
        assert_eq!(
            hist(Domain::Signed, Scale::Log2, &[7, -1, 3]).median(),
            Some(3.0)
        );
        assert_eq!(Histogram::new(Domain::Signed, Scale::Log2).median(), None);
        let mut small = Histogram::with_exact_limit(Domain::Unsigned, Scale::Log2, 100);
        for v in 1..=100u64 {
            small.record(v * 1000);
        }
        assert!(small.is_exact());
        assert_eq!(small.median(), Some(50_500.0));
        small.record(101_000);
        assert!(!small.is_exact());
        let m = small.median().unwrap();
        assert!(
            (m - 51_000.0).abs() <= 51_000.0 * APPROX_RELATIVE_ERROR,
            "{m}"
        );
        // The limit survives a merge into an empty histogram.
        let mut empty = Histogram::with_exact_limit(Domain::Unsigned, Scale::Log2, 10);
        assert!(empty.merge(hist(Domain::Unsigned, Scale::Log2, &[1; 20])));
        assert!(!empty.is_exact());
    }

    #[test]
    fn buckets_are_the_same_past_the_exact_limit() {
        // Bucket counts come from the samples while exact and from the
        // sub-buckets (log2) or linear counts past the limit: the same bars.
        let values: Vec<i64> = (0..3000i64)
            .map(|i| (i * 7919) % 100_003 * if i % 3 == 0 { -37 } else { 1 })
            .chain([0, 1, -1, i64::MIN, i64::MAX, 2047, 2048, -2049])
            .collect();
        for domain in [Domain::Signed, Domain::Unsigned] {
            for scale in [Scale::Log2, Scale::Linear { step: 1000 }] {
                let mut exact = Histogram::new(domain, scale);
                let mut approx = Histogram::with_exact_limit(domain, scale, 10);
                let mut halves = Histogram::with_exact_limit(domain, scale, 10);
                let mut other = Histogram::new(domain, scale);
                for (i, &v) in values.iter().enumerate() {
                    exact.record(v as u64);
                    approx.record(v as u64);
                    if i % 2 == 0 {
                        halves.record(v as u64);
                    } else {
                        other.record(v as u64);
                    }
                }
                assert!(exact.is_exact() && !approx.is_exact());
                assert!(halves.merge(other));
                for h in [&approx, &halves] {
                    assert_eq!(h.buckets(), exact.buckets(), "{domain:?} {scale:?}");
                    assert_eq!(h.render(Unit::Count), exact.render(Unit::Count));
                    assert_eq!(
                        (h.min(), h.max(), h.sum()),
                        (exact.min(), exact.max(), exact.sum())
                    );
                }
                // Sorting in place changes nothing it reports.
                let before = (
                    exact.render(Unit::Count),
                    exact.to_json(Unit::Count),
                    exact.median(),
                );
                exact.sort_samples();
                assert_eq!(
                    before,
                    (
                        exact.render(Unit::Count),
                        exact.to_json(Unit::Count),
                        exact.median()
                    )
                );
            }
        }
    }

    /// Records `samples` (histogram index, value) under `budget`,
    /// enforcing it as [`ExactBudget::recorded`] asks.
    fn budgeted(budget: &mut ExactBudget, hists: &mut [Histogram], samples: &[(usize, u64)]) {
        let n = hists.len();
        for &(i, v) in samples {
            let h = &mut hists[i];
            h.record(v);
            if budget.recorded(h, n) {
                budget.enforce(hists.iter_mut(), n);
            }
        }
    }

    /// Under a shared budget, the histograms exact at the end are those
    /// within their share (or all, within the budget), whether the samples
    /// came in one piece or in chunks merged afterwards; the exact samples
    /// left are within the budget.
    #[test]
    fn a_shared_budget_switches_the_largest_whatever_the_chunks() {
        let new = || -> Vec<Histogram> {
            (0..8)
                .map(|_| Histogram::new(Domain::Unsigned, Scale::Log2))
                .collect()
        };
        // Histogram i gets about 2^i × 10 samples: 2,550 in all.
        let samples: Vec<(usize, u64)> = (0..8usize)
            .flat_map(|i| (0..(10u64 << i)).map(move |v| (i, v * 7 % 1000)))
            .collect();
        let mut mixed = samples.clone();
        mixed.sort_by_key(|&(i, v)| (v * 31 + i as u64) % 97);
        for limit in [10_000, 1000, 300] {
            let mut whole = new();
            let mut budget = ExactBudget::new(limit);
            budgeted(&mut budget, &mut whole, &mixed);
            budget.enforce(whole.iter_mut(), 8);
            let share = budget.share(8);
            let exact: Vec<bool> = whole.iter().map(Histogram::is_exact).collect();
            let want: Vec<bool> = whole
                .iter()
                .map(|h| limit >= 2550 || h.count() <= share)
                .collect();
            assert_eq!(exact, want, "limit {limit}");
            let held: u64 = whole
                .iter()
                .filter(|h| h.is_exact())
                .map(|h| h.count())
                .sum();
            assert!(held <= limit as u64, "{held}");
            // In three chunks, each under its own budget, merged in order.
            let mut merged = new();
            let mut total = ExactBudget::new(limit);
            for chunk in mixed.chunks(mixed.len() / 3 + 1) {
                let mut part = new();
                let mut part_budget = ExactBudget::new(limit);
                budgeted(&mut part_budget, &mut part, chunk);
                total.merge(&part_budget);
                for (m, p) in merged.iter_mut().zip(part) {
                    assert!(m.merge(p));
                }
                total.enforce(merged.iter_mut(), 8);
            }
            let chunked: Vec<bool> = merged.iter().map(Histogram::is_exact).collect();
            assert_eq!(chunked, exact, "limit {limit}");
            for (a, b) in merged.iter().zip(&whole) {
                assert_eq!(a.to_json(Unit::Count), b.to_json(Unit::Count));
            }
        }
        // Never below the floor: a thousand histograms of 64 samples stay
        // exact past a budget of 1,000.
        let mut many: Vec<Histogram> = (0..1000)
            .map(|_| Histogram::new(Domain::Unsigned, Scale::Log2))
            .collect();
        let mut budget = ExactBudget::new(1000);
        let samples: Vec<(usize, u64)> = (0..64_000).map(|k| (k % 1000, k as u64)).collect();
        budgeted(&mut budget, &mut many, &samples);
        assert!(budget.is_spent() && budget.share(1000) == EXACT_FLOOR);
        assert!(many.iter().all(Histogram::is_exact));
    }

    #[test]
    fn json_form() {
        let h = hist(Domain::Unsigned, Scale::Linear { step: 10 }, &[5, 15, 15]);
        let j = h.to_json(Unit::Bytes);
        assert_eq!(j["unit"], "bytes");
        assert_eq!(j["count"], 3);
        assert_eq!(j["sum"], 35);
        assert_eq!(j["percentiles"]["p50"], 15.0);
        assert_eq!(j["scale"]["linear"], 10);
        assert_eq!(j["buckets"][1], json!({"low": 10, "high": 20, "count": 2}));
        let big = hist(Domain::Unsigned, Scale::Log2, &[-1]);
        assert_eq!(big.to_json(Unit::Count)["max"], json!(u64::MAX));
    }

    #[test]
    fn summary_line() {
        let h = hist(Domain::Unsigned, Scale::Log2, &[1000, 2000, 3000]);
        assert_eq!(
            h.summary(Unit::Nanoseconds),
            "count 3, min 1us, mean 2us, p50 2us, p90 3us, p99 3us, p99.9 3us, max 3us"
        );
    }
}
