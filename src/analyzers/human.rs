//! How reports write numbers for people: one formatter for durations,
//! sizes and counts ([`human`], [`human_f64`]: `1.5us`, `4KiB`, `3K`),
//! one for timestamps of the trace clock ([`seconds`]: `471.478372`), and
//! counted nouns ([`plural`]: `1 group`, `2 groups`). `stats`, `hist`,
//! `locks` and `alloc` all write through these, so a duration reads the
//! same in every report (see docs/analyzers.md, "Numbers in reports").

use super::histogram::Unit;

/// `v` in `unit`, with 3 significant digits: `1.02us`, `4KiB`, `1K`.
pub fn human(v: i128, unit: Unit) -> String {
    human_digits(v, unit, 3)
}

/// How finely [`human_precise`] writes values: 3 significant digits, and
/// more where values a `step` apart would otherwise read the same. Chosen
/// once for a set of values (a histogram's bucket bounds, all multiples
/// of its bucket width), so that all of them are written alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precision {
    /// The smallest difference to show, in the unit's base (ns, bytes).
    step: u64,
}

impl Precision {
    /// 3 significant digits, as [`human`] writes: enough for values at
    /// least a few percent apart (log2 buckets).
    pub const SIGNIFICANT: Precision = Precision { step: u64::MAX };

    /// Enough digits that values `step` apart never read the same: for a
    /// step of 1ns, `14.501us` and `14.502us`.
    pub fn step(step: u64) -> Precision {
        Precision { step: step.max(1) }
    }

    /// The decimals to write a value scaled down by `divisor` (1000 for
    /// `us`, 1024 for `KiB`) with: enough that `step / divisor` shows.
    fn decimals(self, divisor: f64) -> usize {
        // Counted rather than taken from log10, which may miss 3 for 1000.
        let mut shown = self.step as f64;
        let mut decimals = 0;
        while shown < divisor && decimals < 40 {
            shown *= 10.0;
            decimals += 1;
        }
        decimals
    }
}

/// `v` in `unit`, written with `precision`: [`human`]'s form, with more
/// decimals where `precision` needs them (`14.501us` for a step of 1ns).
/// Values below the first scaled unit (`999ns`, `1023B`) and counts are
/// always written whole, so they need none.
pub fn human_precise(v: i128, unit: Unit, precision: Precision) -> String {
    match unit {
        Unit::Count => human(v, unit),
        Unit::Bytes if v.unsigned_abs() < 1024 => human(v, unit),
        Unit::Nanoseconds if v.unsigned_abs() < 1000 => human(v, unit),
        _ => scaled_with(v as f64, unit, 3, precision),
    }
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

pub(crate) fn human_digits(v: i128, unit: Unit, digits: usize) -> String {
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
    scaled_with(v, unit, digits, Precision::SIGNIFICANT)
}

/// [`scaled`], with at least the decimals `precision` needs in the unit
/// chosen.
fn scaled_with(v: f64, unit: Unit, digits: usize, precision: Precision) -> String {
    let (steps, names): (f64, &[&str]) = match unit {
        Unit::Nanoseconds => (1000.0, &["ns", "us", "ms", "s"]),
        Unit::Bytes => (1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]),
        Unit::Count => (1000.0, &["", "K", "M", "G", "T", "P", "E"]),
    };
    let mut x = v;
    let mut i = 0;
    let mut divisor = 1.0;
    while x.abs() >= steps && i + 1 < names.len() {
        x /= steps;
        divisor *= steps;
        i += 1;
    }
    let whole = if x.abs() < 1.0 {
        1
    } else {
        (x.abs().log10().floor() as usize) + 1
    };
    let decimals = digits
        .saturating_sub(whole)
        .max(precision.decimals(divisor));
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

/// A timestamp of the trace clock, or a span of it, as `SECONDS.MICROS`
/// (`471.478372`), as QEMU's log backend prints times.
pub fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

/// `n` and the noun that goes with it: `"1 block"`, `"0 blocks"`,
/// `"2 blocks"`.
pub fn plural(n: impl Into<u128>, one: &str, many: &str) -> String {
    let n: u128 = n.into();
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_sizes_counts() {
        assert_eq!(human(512, Unit::Nanoseconds), "512ns");
        assert_eq!(human(1024, Unit::Nanoseconds), "1.02us");
        assert_eq!(human(-1_500, Unit::Nanoseconds), "-1.5us");
        assert_eq!(human(4096, Unit::Bytes), "4KiB");
        assert_eq!(human(3072, Unit::Count), "3K");
        assert_eq!(human_f64(999.0, Unit::Nanoseconds), "999ns");
        assert_eq!(human_f64(1_500.0, Unit::Nanoseconds), "1.5us");
        assert_eq!(human_f64(2_345_678.0, Unit::Nanoseconds), "2.35ms");
        assert_eq!(human_f64(3.5e9, Unit::Nanoseconds), "3.5s");
        assert_eq!(human_f64(12.25, Unit::Nanoseconds), "12.2ns");
        assert_eq!(human_f64(1536.5, Unit::Bytes), "1.5KiB");
    }

    #[test]
    fn precision_for_a_step() {
        // Neighbours a step apart read differently, at every scale.
        let ns = Precision::step(1);
        assert_eq!(human_precise(14_501, Unit::Nanoseconds, ns), "14.501us");
        assert_eq!(human_precise(14_502, Unit::Nanoseconds, ns), "14.502us");
        assert_eq!(
            human_precise(1_234_567_891, Unit::Nanoseconds, ns),
            "1.234567891s"
        );
        assert_eq!(human_precise(999, Unit::Nanoseconds, ns), "999ns");
        let step = Precision::step(100);
        assert_eq!(human_precise(1_000_000, Unit::Nanoseconds, step), "1ms");
        assert_eq!(
            human_precise(1_000_100, Unit::Nanoseconds, step),
            "1.0001ms"
        );
        // Wide steps keep three significant digits.
        let wide = Precision::step(1_000_000);
        assert_eq!(human_precise(5_000_000, Unit::Nanoseconds, wide), "5ms");
        assert_eq!(
            human_precise(1_234_000_000, Unit::Nanoseconds, wide),
            "1.234s"
        );
        assert_eq!(
            human_precise(4_000_000, Unit::Nanoseconds, Precision::SIGNIFICANT),
            human(4_000_000, Unit::Nanoseconds)
        );
        let bytes = Precision::step(1);
        assert_ne!(
            human_precise(4097, Unit::Bytes, bytes),
            human_precise(4098, Unit::Bytes, bytes)
        );
        assert_eq!(
            human_precise(4096, Unit::Bytes, Precision::step(1024)),
            "4KiB"
        );
        assert_eq!(human_precise(5000, Unit::Count, bytes), "5000");
    }

    #[test]
    fn timestamps_and_plurals() {
        assert_eq!(seconds(471_478_372_999), "471.478372");
        assert_eq!(seconds(5), "0.000000");
        assert_eq!(plural(0u64, "group", "groups"), "0 groups");
        assert_eq!(plural(1u64, "group", "groups"), "1 group");
        assert_eq!(plural(2u64, "mutex", "mutexes"), "2 mutexes");
    }
}
