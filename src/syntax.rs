//! The small languages every part shares: identifiers (event and argument
//! names), `EVENT[:ARG]` and `BEGIN[:ARG],END[:ARG]`, numbers with units
//! (`1.5ms`, `4KiB`), and the "did you mean" of an unknown name.
//!
//! One copy of each: the trace-events parser, the reader's mapping check,
//! `hist`, `chrome --span`, the `alloc` rules, event patterns, time bounds
//! and `--linear` all ask here. Callers keep their own error messages;
//! these functions only say whether, and what, the text is.

/// Whether `b` may appear in an identifier: an ASCII letter, digit or `_`.
#[inline]
pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `s` is an identifier as QEMU's event and argument names are:
/// ASCII letters, digits and `_`, at least one. A leading digit is allowed:
/// tracetool lets such names through, and a trace-events file declaring
/// one is read (so a rule or histogram must be able to name it).
#[inline]
pub(crate) fn is_ident(s: impl AsRef<[u8]>) -> bool {
    let s = s.as_ref();
    !s.is_empty() && s.iter().all(|&b| is_ident_byte(b))
}

/// `EVENT` or `EVENT:ARG` (surrounding blanks ignored): the event and the
/// argument, or `None` when either is not an identifier.
pub(crate) fn event_arg(s: &str) -> Option<(&str, Option<&str>)> {
    let s = s.trim();
    let (event, arg) = match s.split_once(':') {
        Some((e, a)) => (e, Some(a)),
        None => (s, None),
    };
    (is_ident(event) && arg.is_none_or(is_ident)).then_some((event, arg))
}

/// One side of [`event_pair`]: an event and its argument, if named.
pub(crate) type EventArg<'a> = (&'a str, Option<&'a str>);

/// `BEGIN[:ARG],END[:ARG]` (`hist --latency`, `chrome --span`): both
/// sides, or `None` when the text is not two [`event_arg`]s joined by a
/// comma.
pub(crate) fn event_pair(s: &str) -> Option<(EventArg<'_>, EventArg<'_>)> {
    let (begin, end) = s.split_once(',')?;
    Some((event_arg(begin)?, event_arg(end)?))
}

/// A number, bare or with a unit, read exactly: `1.5ms` with `ms` worth
/// 10^6 is 1,500,000. The one rounding rule: there is none. A number that
/// is not a whole count of the base unit (`1.5ns`, `0.3B`) is refused, as
/// is one past `u64`: the caller says what it wanted.
///
/// `tables` lists the accepted suffixes, each table mapping a suffix to its
/// worth in base units ([`TIME_UNITS`], [`SIZE_UNITS`]). The number is
/// digits with at most one `.` (`1.`, `.5` and `1.5`; not `.` alone), at
/// most 18 significant digits after the point; surrounding blanks are
/// ignored. Gives the value in base units and which table the suffix came
/// from (`None` for a bare number, worth one base unit).
pub(crate) fn quantity(text: &str, tables: &[&[(&str, u64)]]) -> Option<(u64, Option<usize>)> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let (scale, table) = if suffix.is_empty() {
        (1, None)
    } else {
        tables.iter().enumerate().find_map(|(i, table)| {
            let worth = table.iter().find(|(name, _)| *name == suffix)?.1;
            Some((worth, Some(i)))
        })?
    };
    let scale = u128::from(scale);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    // Trailing zeros after the point change nothing.
    let frac = frac.trim_end_matches('0');
    if int.is_empty() && number.len() <= 1 || frac.len() > 18 {
        return None;
    }
    let digits = |d: &str| -> Option<u128> {
        if d.is_empty() {
            Some(0)
        } else if d.bytes().all(|b| b.is_ascii_digit()) {
            d.parse::<u128>().ok()
        } else {
            None
        }
    };
    let denominator = 10u128.pow(u32::try_from(frac.len()).ok()?);
    let numerator = digits(int)?
        .checked_mul(denominator)?
        .checked_add(digits(frac)?)?
        .checked_mul(scale)?;
    if !numerator.is_multiple_of(denominator) {
        return None;
    }
    Some((u64::try_from(numerator / denominator).ok()?, table))
}

/// The time units: nanoseconds as the base.
pub(crate) const TIME_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
];

/// A duration with its unit (`500ms`, `1.5s`: [`TIME_UNITS`]); a bare
/// number is refused (seconds or nanoseconds? the reader cannot tell).
// Only the command line's `--idle` reads durations so far.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) fn duration(text: &str) -> Option<core::time::Duration> {
    match quantity(text, &[TIME_UNITS])? {
        (ns, Some(_)) => Some(core::time::Duration::from_nanos(ns)),
        (_, None) => None,
    }
}

/// The size units: bytes as the base, binary multiples.
// Only `hist --linear`'s command-line syntax reads sizes so far.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

/// Levenshtein distance between two names, in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = Vec::with_capacity(b.len() + 1);
    for (i, ca) in a.chars().enumerate() {
        row.clear();
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let delete = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let insert = row.last().copied().unwrap_or(0) + 1;
            row.push(substitute.min(delete).min(insert));
        }
        core::mem::swap(&mut prev, &mut row);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `name` when it is close enough to be a likely
/// typo of it: at most a third of `name`'s length in edits, at least 1 and
/// at most 3. Ties go to the name first in byte order.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        use core::time::Duration;
        assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(duration(" 20us "), Some(Duration::from_micros(20)));
        assert_eq!(duration("3"), None);
        assert_eq!(duration("3 parsecs"), None);
        assert_eq!(duration("-1s"), None);
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_", "qemu_vfree", "9pfs_op", "A1_b2", "0"] {
            assert!(is_ident(ok), "{ok}");
        }
        for bad in ["", "a-b", "a b", "a:b", "é", "a.b", " a"] {
            assert!(!is_ident(bad), "{bad:?}");
        }
        assert!(is_ident(b"raw_bytes".as_slice()));
    }

    #[test]
    fn event_args() {
        assert_eq!(event_arg("ev"), Some(("ev", None)));
        assert_eq!(event_arg(" ev:req "), Some(("ev", Some("req"))));
        assert_eq!(event_arg("9p:fid"), Some(("9p", Some("fid"))));
        for bad in ["", "ev:", ":req", "ev :req", "ev: req", "ev:a:b", "e-v"] {
            assert_eq!(event_arg(bad), None, "{bad:?}");
        }
        assert_eq!(event_pair("a:k, b"), Some((("a", Some("k")), ("b", None))));
        assert_eq!(event_pair("a:k"), None);
        assert_eq!(event_pair("a,b,c"), None);
        assert_eq!(event_pair(",b"), None);
    }

    #[test]
    fn quantities_are_exact() {
        let t = |s| quantity(s, &[TIME_UNITS]);
        assert_eq!(t("1.5ms"), Some((1_500_000, Some(0))));
        assert_eq!(t(".25ms"), Some((250_000, Some(0))));
        assert_eq!(t("2.s"), Some((2_000_000_000, Some(0))));
        assert_eq!(t("0.000000001s"), Some((1, Some(0))));
        assert_eq!(t("30µs"), Some((30_000, Some(0))));
        assert_eq!(t(" 7ns "), Some((7, Some(0))));
        assert_eq!(t("12"), Some((12, None)));
        assert_eq!(t("1."), Some((1, None)));
        assert_eq!(t(".0"), Some((0, None)));
        // Trailing zeros past 18 digits are still exact.
        assert_eq!(
            t("1.0000000000000000000000s"),
            Some((1_000_000_000, Some(0)))
        );
        // No rounding: a fraction of a nanosecond is refused, not cut.
        assert_eq!(t("1.5ns"), None);
        assert_eq!(t("1.5"), None);
        assert_eq!(t("0.0000000015s"), None);
        assert_eq!(t("1.0000000000000000001s"), None);
        // Not numbers, or not a unit.
        for bad in [
            "", ".", "ms", "1.2.3ms", "-1ms", "1 ms", "1h", "+1ms", "1KiB",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
        // Past u64.
        assert_eq!(t("18446744073709551615ns"), Some((u64::MAX, Some(0))));
        assert_eq!(t("18446744073709551616"), None);
        assert_eq!(t("18446744074s"), None);
        let both: &[&[(&str, u64)]] = &[TIME_UNITS, SIZE_UNITS];
        assert_eq!(quantity("4KiB", both), Some((4096, Some(1))));
        assert_eq!(quantity("0.5KiB", both), Some((512, Some(1))));
        assert_eq!(quantity("2us", both), Some((2000, Some(0))));
        assert_eq!(quantity("0.3B", both), None);
    }

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("g_free", "g_malloc"), 6);
        assert_eq!(edit_distance("é", "e"), 1);
        let names = ["write", "pool_get", "pool_put", "g_free"];
        assert_eq!(did_you_mean("writ", names), Some("write"));
        assert_eq!(did_you_mean("pool_gets", names), Some("pool_get"));
        // pool_gex is one edit from both: the first in byte order wins.
        assert_eq!(did_you_mean("pool_gex", names), Some("pool_get"));
        // Short names get one edit, long ones at most three.
        assert_eq!(did_you_mean("wr", names), None);
        assert_eq!(did_you_mean("g_fr", names), None);
        assert_eq!(did_you_mean("xool_gxt_xx", names), None);
        assert_eq!(did_you_mean("xyz", names), None);
    }
}
