//! Text exactly as QEMU's Python `simpletrace.py` renders it: Python's
//! `repr()` of `bytes`, `'%0.3f'` of a microsecond delta, `'0x%x'`.
//!
//! Every function appends to a `Vec<u8>` and allocates nothing else, so the
//! printer can call them per record.
//!
//! ```
//! use simpletrace::format::pyfmt;
//!
//! let mut out = Vec::new();
//! pyfmt::write_bytes_repr(&mut out, b"it's\n");
//! out.push(b' ');
//! pyfmt::write_delta_us(&mut out, 1_000, 3_500);
//! out.push(b' ');
//! pyfmt::write_hex(&mut out, 255);
//! assert_eq!(out, br#"b"it's\n" 2.500 0xff"#);
//! ```

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `0x` and the lowercase hex digits of `v` (Python `f'0x{v:x}'`).
#[inline]
pub fn write_hex(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 18];
    let digits = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(4)
    };
    buf[0] = b'0';
    buf[1] = b'x';
    for i in 0..digits {
        let nibble = (v >> (4 * (digits - 1 - i))) & 0xf;
        buf[2 + i] = HEX[nibble as usize];
    }
    out.extend_from_slice(&buf[..2 + digits]);
}

/// Appends Python's `repr()` of a `bytes` object: `b'...'`, or `b"..."`
/// when the bytes hold a `'` and no `"`.
pub fn write_bytes_repr(out: &mut Vec<u8>, bytes: &[u8]) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.reserve(bytes.len() + 3);
    out.push(b'b');
    out.push(quote);
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let plain = (0x20..0x7f).contains(&b) && b != b'\\' && b != quote;
        if plain {
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..i]);
        plain_from = i + 1;
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ if b == quote => {
                out.push(b'\\');
                out.push(quote);
            }
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(quote);
}

/// Differences below this many nanoseconds print exactly by integer
/// arithmetic: their quotient by 1000 is below 2^43, where the nearest
/// double is within 2^-11 of the exact three-decimal value, so rounding that
/// double to three decimals gives the exact value back.
const EXACT_INTEGER_LIMIT: u128 = 1 << 52;

/// Appends the delta between two timestamps in microseconds with three
/// decimals, as Python prints `f'{(now - prev) / 1000:0.3f}'` for integer
/// nanoseconds: the exact difference, divided by 1000 with one rounding to
/// the nearest double, then rounded half-to-even to three decimals.
#[inline]
pub fn write_delta_us(out: &mut Vec<u8>, prev_ns: u64, now_ns: u64) {
    let (negative, magnitude) = if now_ns >= prev_ns {
        (false, u128::from(now_ns - prev_ns))
    } else {
        (true, u128::from(prev_ns - now_ns))
    };
    let thousandths = if magnitude < EXACT_INTEGER_LIMIT {
        magnitude
    } else {
        let (mantissa, exp2) = div1000_to_double(magnitude);
        round_to_thousandths(mantissa, exp2)
    };
    if negative {
        out.push(b'-');
    }
    let mut itoa = itoa::Buffer::new();
    out.extend_from_slice(itoa.format(thousandths / 1000).as_bytes());
    let frac = (thousandths % 1000) as u16;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// The double nearest to `n / 1000` (ties to even) as `mantissa * 2^exp2`
/// with `mantissa <= 2^53`. `n` must be below 2^126.
fn div1000_to_double(n: u128) -> (u128, i32) {
    if n == 0 {
        return (0, 0);
    }
    // Scale up so the quotient carries far more than 53 significant bits.
    let shift = n.leading_zeros() as i32 - 1;
    let scaled = n << shift;
    let quotient = scaled / 1000;
    let sticky = scaled % 1000 != 0;
    let bits = 128 - quotient.leading_zeros() as i32;
    let drop = bits - 53;
    if drop <= 0 {
        return (quotient, -shift);
    }
    let mut mantissa = quotient >> drop;
    let rest = quotient & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rest > half || (rest == half && (sticky || mantissa & 1 == 1)) {
        mantissa += 1;
    }
    (mantissa, drop - shift)
}

/// Rounds `mantissa * 2^exp2` times 1000 to the nearest integer, ties to
/// even: the value in thousandths as Python's `'%.3f'` rounds it.
fn round_to_thousandths(mantissa: u128, exp2: i32) -> u128 {
    let scaled = mantissa * 1000;
    if exp2 >= 0 {
        return scaled << exp2;
    }
    let shift = -exp2;
    if shift >= 127 {
        return 0;
    }
    let whole = scaled >> shift;
    let rest = scaled & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && whole & 1 == 1) {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(b: &[u8]) -> String {
        let mut out = Vec::new();
        write_bytes_repr(&mut out, b);
        String::from_utf8(out).unwrap()
    }

    fn delta(prev: u64, now: u64) -> String {
        let mut out = Vec::new();
        write_delta_us(&mut out, prev, now);
        String::from_utf8(out).unwrap()
    }

    /// The slow path alone, for any magnitude.
    fn exact(magnitude: u128) -> u128 {
        let (m, e) = div1000_to_double(magnitude);
        round_to_thousandths(m, e)
    }

    #[test]
    fn bytes_repr_matches_python() {
        // Expected strings are what CPython 3.11 prints for repr(b).
        assert_eq!(repr(b""), "b''");
        assert_eq!(repr(b"img/small.qcow2"), "b'img/small.qcow2'");
        assert_eq!(repr(b"it's"), r#"b"it's""#);
        assert_eq!(repr(b"say \"hi\""), r#"b'say "hi"'"#);
        assert_eq!(repr(b"it's \"q\""), r#"b'it\'s "q"'"#);
        assert_eq!(repr(b"a\\b"), r"b'a\\b'");
        assert_eq!(
            repr(b"\t\n\r\x00\x1f\x7f\x80\xff"),
            r"b'\t\n\r\x00\x1f\x7f\x80\xff'"
        );
        assert_eq!(repr("café €".as_bytes()), r"b'caf\xc3\xa9 \xe2\x82\xac'");
        assert_eq!(repr(b" ~"), "b' ~'");
        assert_eq!(repr(b"'"), r#"b"'""#);
        assert_eq!(repr(b"\""), r#"b'"'"#);
        assert_eq!(repr(b"'\""), r#"b'\'"'"#);
    }

    #[test]
    fn hex() {
        let h = |v| {
            let mut out = Vec::new();
            write_hex(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(h(0), "0x0");
        assert_eq!(h(0xf), "0xf");
        assert_eq!(h(0x10), "0x10");
        assert_eq!(h(0x5643596b66b0), "0x5643596b66b0");
        assert_eq!(h(u64::MAX), "0xffffffffffffffff");
        assert_eq!(h(1 << 63), "0x8000000000000000");
    }

    #[test]
    fn deltas_small() {
        assert_eq!(delta(5, 5), "0.000");
        assert_eq!(delta(0, 1), "0.001");
        assert_eq!(delta(0, 999), "0.999");
        assert_eq!(delta(0, 52_628), "52.628");
        assert_eq!(delta(1_000, 0), "-1.000");
        assert_eq!(delta(10, 9), "-0.001");
        assert_eq!(delta(0, 24_675_633), "24675.633");
    }

    #[test]
    fn deltas_huge_match_python() {
        // Expected strings are CPython 3.11's f'{d / 1000:0.3f}'.
        assert_eq!(delta(0, u64::MAX), "18446744073709552.000");
        assert_eq!(delta(u64::MAX, 0), "-18446744073709552.000");
        assert_eq!(delta(0, 1 << 53), "9007199254740.992");
        assert_eq!(delta(0, (1 << 53) + 1), "9007199254740.992");
        assert_eq!(delta(0, (1 << 52) + 1), "4503599627370.497");
        assert_eq!(delta(0, 9_007_199_254_740_993_123), "9007199254740994.000");
        assert_eq!(delta(0, 281_474_976_710_656_062), "281474976710656.062");
        assert_eq!(delta(0, 281_474_976_710_656_188), "281474976710656.188");
        assert_eq!(delta(0, 562_949_953_421_312_250), "562949953421312.250");
        assert_eq!(delta(0, 1_234_567_890_123_456_789), "1234567890123456.750");
        assert_eq!(delta(3, 1 << 63), "9223372036854776.000");
    }

    #[test]
    fn integer_path_agrees_with_exact_path() {
        // Below the limit both paths must give the same digits; check a
        // spread of magnitudes up to it, including its neighbourhood.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = (u128::from(x) % EXACT_INTEGER_LIMIT) >> (x % 50);
            assert_eq!(exact(m), m, "{m}");
        }
        for m in EXACT_INTEGER_LIMIT - 5000..EXACT_INTEGER_LIMIT {
            assert_eq!(exact(m), m, "{m}");
        }
    }
}
