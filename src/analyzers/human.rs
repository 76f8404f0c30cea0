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
    fn timestamps_and_plurals() {
        assert_eq!(seconds(471_478_372_999), "471.478372");
        assert_eq!(seconds(5), "0.000000");
        assert_eq!(plural(0u64, "group", "groups"), "0 groups");
        assert_eq!(plural(1u64, "group", "groups"), "1 group");
        assert_eq!(plural(2u64, "mutex", "mutexes"), "2 mutexes");
    }
}
