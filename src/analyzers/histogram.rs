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

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

/// Samples kept for exact percentiles before switching to sub-buckets
/// (8 MiB of samples per histogram).
pub const EXACT_SAMPLES: usize = 1 << 20;

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

/// Log2 bucket indices run from -128 to 128 (i128 values).
const LOG2_BUCKETS: usize = 257;

/// Counts per display bucket index: a fixed array for log2 scales (every
/// record is one increment, no search), a sorted map for linear ones
/// (whose indices are unbounded).
#[derive(Debug, Clone)]
enum BucketCounts {
    Log2(Box<[u64; LOG2_BUCKETS]>),
    Linear(BTreeMap<i128, u64>),
}

impl BucketCounts {
    fn new(scale: Scale) -> BucketCounts {
        match scale {
            Scale::Log2 => BucketCounts::Log2(Box::new([0; LOG2_BUCKETS])),
            Scale::Linear { .. } => BucketCounts::Linear(BTreeMap::new()),
        }
    }

    #[inline]
    fn add(&mut self, index: i128, n: u64) {
        match self {
            BucketCounts::Log2(counts) => {
                // Log2 indices are within -128..=128 by construction.
                let slot = usize::try_from(index + 128).unwrap_or(0);
                if let Some(c) = counts.get_mut(slot) {
                    *c += n;
                }
            }
            BucketCounts::Linear(map) => *map.entry(index).or_insert(0) += n,
        }
    }

    /// The non-empty buckets, lowest index first.
    fn iter(&self) -> Box<dyn Iterator<Item = (i128, u64)> + '_> {
        match self {
            BucketCounts::Log2(counts) => Box::new(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, &c)| (i as i128 - 128, c)),
            ),
            BucketCounts::Linear(map) => Box::new(map.iter().map(|(&i, &c)| (i, c))),
        }
    }
}

/// Samples kept for percentiles.
#[derive(Debug, Clone)]
enum Samples {
    /// Every sample (raw bits), until there are [`EXACT_SAMPLES`].
    Exact(Vec<u64>),
    /// Counts per log-linear sub-bucket (see [`sub_key`]).
    Approx(BTreeMap<i64, u64>),
}

/// A histogram: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Histogram {
    domain: Domain,
    scale: Scale,
    count: u64,
    sum: i128,
    min: i128,
    max: i128,
    /// Count per display bucket index (see [`Histogram::bucket_index`]).
    buckets: BucketCounts,
    samples: Samples,
    /// Samples kept exactly before switching to sub-buckets.
    exact_limit: usize,
}

impl Histogram {
    /// An empty histogram. A linear `step` of 0 is taken as 1.
    pub fn new(domain: Domain, scale: Scale) -> Histogram {
        let scale = match scale {
            Scale::Linear { step: 0 } => Scale::Linear { step: 1 },
            s => s,
        };
        Histogram {
            domain,
            scale,
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
            buckets: BucketCounts::new(scale),
            samples: Samples::Exact(Vec::new()),
            exact_limit: EXACT_SAMPLES,
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
    fn value(&self, raw: u64) -> i128 {
        match self.domain {
            Domain::Unsigned => i128::from(raw),
            Domain::Signed => i128::from(raw as i64),
        }
    }

    /// Adds a sample: a `u64`, or an `i64` cast to `u64` for
    /// [`Domain::Signed`].
    pub fn record(&mut self, raw: u64) {
        let v = self.value(raw);
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
        let index = self.bucket_index(v);
        self.buckets.add(index, 1);
        match &mut self.samples {
            Samples::Exact(values) => {
                values.push(raw);
                if values.len() > self.exact_limit {
                    self.switch_to_approx();
                }
            }
            Samples::Approx(map) => *map.entry(sub_key(v)).or_insert(0) += 1,
        }
    }

    /// Adds a signed sample (for [`Domain::Signed`] histograms).
    pub fn record_i64(&mut self, v: i64) {
        self.record(v as u64);
    }

    fn switch_to_approx(&mut self) {
        if let Samples::Exact(values) = &self.samples {
            let mut map = BTreeMap::new();
            for &raw in values {
                *map.entry(sub_key(self.value(raw))).or_insert(0) += 1;
            }
            self.samples = Samples::Approx(map);
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
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.sum += other.sum;
        for (k, c) in other.buckets.iter() {
            self.buckets.add(k, c);
        }
        match (&mut self.samples, other.samples) {
            (Samples::Exact(a), Samples::Exact(b)) => {
                a.extend(b);
                if a.len() > self.exact_limit {
                    self.switch_to_approx();
                }
            }
            (Samples::Exact(_), Samples::Approx(b)) => {
                self.switch_to_approx();
                if let Samples::Approx(a) = &mut self.samples {
                    for (k, c) in b {
                        *a.entry(k).or_insert(0) += c;
                    }
                }
            }
            (Samples::Approx(a), Samples::Exact(b)) => {
                for raw in b {
                    let v = match self.domain {
                        Domain::Unsigned => i128::from(raw),
                        Domain::Signed => i128::from(raw as i64),
                    };
                    *a.entry(sub_key(v)).or_insert(0) += 1;
                }
            }
            (Samples::Approx(a), Samples::Approx(b)) => {
                for (k, c) in b {
                    *a.entry(k).or_insert(0) += c;
                }
            }
        }
        true
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
        (self.count > 0).then_some(self.min)
    }

    /// Largest sample.
    pub fn max(&self) -> Option<i128> {
        (self.count > 0).then_some(self.max)
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
            Samples::Exact(values) if !values.is_empty() => median_of_sorted(&self.sorted(values)),
            _ => self.percentile(0.5),
        }
    }

    /// The exact samples' values, sorted.
    fn sorted(&self, values: &[u64]) -> Vec<i128> {
        let mut sorted: Vec<i128> = values.iter().map(|&r| self.value(r)).collect();
        sorted.sort_unstable();
        sorted
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
            Samples::Exact(values) => {
                let sorted = self.sorted(values);
                qs.iter()
                    .map(|&q| {
                        let i = usize::try_from(rank(q) - 1).unwrap_or(usize::MAX);
                        sorted.get(i).map(|&v| v as f64)
                    })
                    .collect()
            }
            Samples::Approx(map) => qs
                .iter()
                .map(|&q| {
                    let want = rank(q);
                    let mut seen = 0u64;
                    for (&key, &c) in map {
                        seen += c;
                        if seen >= want {
                            let (low, high) = sub_range(key);
                            // Within the recorded extremes.
                            let mid = (low as f64 + (high - 1) as f64) / 2.0;
                            return Some(mid.clamp(self.min as f64, self.max as f64));
                        }
                    }
                    Some(self.max as f64)
                })
                .collect(),
        }
    }

    /// The display bucket of `v`.
    fn bucket_index(&self, v: i128) -> i128 {
        match self.scale {
            Scale::Log2 => {
                // 0 -> 0; [2^(k-1), 2^k) -> k; negatives mirrored.
                let m = v.unsigned_abs();
                let k = i128::from(128 - m.leading_zeros());
                if v < 0 { -k } else { k }
            }
            Scale::Linear { step } => v.div_euclid(i128::from(step.max(1))),
        }
    }

    /// The values of display bucket `index`: `[low, high)`.
    fn bucket_range(&self, index: i128) -> (i128, i128) {
        match self.scale {
            Scale::Log2 => {
                let k = index.unsigned_abs();
                if k == 0 {
                    return (0, 1);
                }
                let low = 1i128 << (k - 1);
                let high = 1i128 << k;
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

    /// The non-empty buckets, lowest first.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.buckets
            .iter()
            .map(|(i, count)| {
                let (low, high) = self.bucket_range(i);
                Bucket { low, high, count }
            })
            .collect()
    }

    /// The rows to draw: every bucket from the lowest to the highest
    /// non-empty one (empty ones included, as bpftrace draws them), or only
    /// the non-empty ones when that would be more than `MAX_FILLED_ROWS`
    /// rows; `None` marks a gap of empty buckets.
    fn rows(&self) -> Vec<Option<Bucket>> {
        let (Some((first, _)), Some((last, _))) =
            (self.buckets.iter().next(), self.buckets.iter().last())
        else {
            return Vec::new();
        };
        let filled = (last - first + 1) as u128 <= MAX_FILLED_ROWS as u128;
        let mut rows = Vec::new();
        let mut prev: Option<i128> = None;
        for (i, count) in self.buckets.iter() {
            if let Some(p) = prev {
                if filled {
                    for empty in p + 1..i {
                        let (low, high) = self.bucket_range(empty);
                        rows.push(Some(Bucket {
                            low,
                            high,
                            count: 0,
                        }));
                    }
                } else if i > p + 1 {
                    rows.push(None);
                }
            }
            let (low, high) = self.bucket_range(i);
            rows.push(Some(Bucket { low, high, count }));
            prev = Some(i);
        }
        rows
    }

    /// The label of a bucket: `[0]`, `[1]`, `[4KiB, 8KiB)`, `(-8, -4]`.
    fn label(&self, b: &Bucket, unit: Unit) -> String {
        if b.high - b.low == 1 {
            return format!("[{}]", human(b.low, unit));
        }
        if matches!(self.scale, Scale::Log2) && b.high <= 0 {
            // (-2^k, -2^(k-1)]
            return format!("({}, {}]", human(b.low - 1, unit), human(b.high - 1, unit));
        }
        let (low, high) = distinct(b.low, b.high, unit);
        format!("[{low}, {high})")
    }

    /// The bars, bpftrace style: one row per bucket, `LABEL COUNT |@@@ |`.
    /// Empty without samples.
    pub fn render(&self, unit: Unit) -> String {
        let rows = self.rows();
        let labels: Vec<Option<String>> = rows
            .iter()
            .map(|r| r.as_ref().map(|b| self.label(b, unit)))
            .collect();
        let label_width = labels.iter().flatten().map(String::len).max().unwrap_or(0);
        let most = rows.iter().flatten().map(|b| b.count).max().unwrap_or(0);
        let count_width = most.to_string().len().max(6);
        let mut out = String::new();
        for (row, label) in rows.iter().zip(&labels) {
            let (Some(b), Some(label)) = (row, label) else {
                let _ = writeln!(out, "{:>label_width$}", "...");
                continue;
            };
            let bar = if most == 0 {
                0
            } else {
                // Rounded up, so that every non-empty bucket shows.
                ((u128::from(b.count) * BAR_WIDTH as u128).div_ceil(u128::from(most))) as usize
            };
            let _ = writeln!(
                out,
                "{label:<label_width$} {:>count_width$} |{}{}|",
                b.count,
                "@".repeat(bar),
                " ".repeat(BAR_WIDTH - bar)
            );
        }
        out
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
        json!({
            "unit": unit.json_name(),
            "count": self.count,
            "sum": int_json(self.sum),
            "min": self.min().map_or(Value::Null, int_json),
            "max": self.max().map_or(Value::Null, int_json),
            "mean": self.mean(),
            "percentiles": percentiles,
            "percentiles_exact": self.is_exact(),
            "scale": scale,
            "buckets": self.buckets().iter().map(|b| json!({
                "low": int_json(b.low),
                "high": int_json(b.high),
                "count": b.count,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The percentiles reported.
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

/// An integer as a JSON number (exact for any `i64` or `u64`; larger
/// values, such as a sum, become floating point).
/// The median of sorted values: the middle one, or the mean of the two
/// middle ones for an even count; `None` when there are none.
pub(crate) fn median_of_sorted<T: Copy + Into<i128>>(sorted: &[T]) -> Option<f64> {
    let n = sorted.len();
    let high = (*sorted.get(n / 2)?).into() as f64;
    Some(if n % 2 == 1 {
        high
    } else {
        ((*sorted.get(n / 2 - 1)?).into() as f64 + high) / 2.0
    })
}

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

/// Labels for `low` and `high` that differ (more digits as needed).
fn distinct(low: i128, high: i128, unit: Unit) -> (String, String) {
    for digits in 3..=40 {
        let (a, b) = (
            human_digits(low, unit, digits),
            human_digits(high, unit, digits),
        );
        if a != b {
            return (a, b);
        }
    }
    (low.to_string(), high.to_string())
}

/// `v` in `unit`, with 3 significant digits: `1.02us`, `4KiB`, `1K`.
pub fn human(v: i128, unit: Unit) -> String {
    human_digits(v, unit, 3)
}

/// A fractional value (a mean, a percentile) in `unit`.
pub fn human_f64(v: f64, unit: Unit) -> String {
    if v.fract() == 0.0 && v.abs() < 1e30 {
        return human(v as i128, unit);
    }
    match unit {
        Unit::Count if v.abs() < 1024.0 => trim(format!("{v:.2}")),
        Unit::Bytes if v.abs() < 1024.0 => format!("{}B", trim(format!("{v:.1}"))),
        Unit::Nanoseconds if v.abs() < 1000.0 => format!("{}ns", trim(format!("{v:.1}"))),
        _ => scaled(v, unit, 3),
    }
}

fn human_digits(v: i128, unit: Unit, digits: usize) -> String {
    match unit {
        Unit::Count => {
            // bpftrace's K/M/G for exact multiples of 1024.
            let mut n = v;
            for suffix in ["", "K", "M", "G", "T", "P", "E"] {
                if n % 1024 != 0 || n == 0 || suffix == "E" {
                    return format!("{n}{suffix}");
                }
                n /= 1024;
            }
            v.to_string()
        }
        Unit::Bytes if v.unsigned_abs() < 1024 => format!("{v}B"),
        Unit::Nanoseconds if v.unsigned_abs() < 1000 => format!("{v}ns"),
        _ => scaled(v as f64, unit, digits),
    }
}

/// `v` in the largest unit it reaches, with `digits` significant digits,
/// trailing zeros trimmed.
fn scaled(v: f64, unit: Unit, digits: usize) -> String {
    let (steps, names): (f64, &[&str]) = match unit {
        Unit::Nanoseconds => (1000.0, &["ns", "us", "ms", "s"]),
        Unit::Bytes => (1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]),
        Unit::Count => (1000.0, &["", "K", "M", "G", "T", "P", "E"]),
    };
    let mut x = v;
    let mut i = 0;
    while x.abs() >= steps && i + 1 < names.len() {
        x /= steps;
        i += 1;
    }
    let whole = if x.abs() < 1.0 {
        1
    } else {
        (x.abs().log10().floor() as usize) + 1
    };
    let decimals = digits.saturating_sub(whole);
    let name = names.get(i).copied().unwrap_or("");
    format!("{}{name}", trim(format!("{x:.decimals$}")))
}

/// Drops trailing zeros after a decimal point (and the point).
fn trim(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
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
        // Neighbours stay distinct with more digits.
        assert_eq!(
            distinct(1_000_000, 1_000_100, Unit::Nanoseconds),
            ("1ms".to_owned(), "1.0001ms".to_owned())
        );
        let h = hist(
            Domain::Unsigned,
            Scale::Linear { step: 100 },
            &[1_000_000, 1_000_150],
        );
        let text = h.render(Unit::Nanoseconds);
        assert!(text.starts_with("[1ms, 1.0001ms) "), "{text}");
        assert!(text.contains("\n[1.0001ms, 1.0002ms) "), "{text}");
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
