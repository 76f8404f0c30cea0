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

/// Appends the first `len` bytes of `block` by copying all `N` and then
/// trimming: a fixed-size copy compiles to a few vector moves, where a
/// variable-length one calls `memmove`, which dominates for short pieces.
#[inline(always)]
pub(crate) fn push_padded<const N: usize>(out: &mut Vec<u8>, block: &[u8; N], len: usize) {
    let end = out.len() + len.min(N);
    out.extend_from_slice(block);
    out.truncate(end);
}

/// The 16 hex digits of `v`, most significant first, as ASCII bytes packed
/// in a u128 (SWAR: spread the nibbles into bytes, then map 0-9 and a-f).
#[inline(always)]
fn hex_digits(v: u64) -> u128 {
    // Each step halves the field width and doubles its spacing, until
    // nibble i sits in byte i.
    let mut x = u128::from(v);
    x = (x & 0xffff_ffff) | ((x >> 32) << 64);
    x = (x & 0x0000_0000_0000_ffff_0000_0000_0000_ffff)
        | ((x & 0x0000_0000_ffff_0000_0000_0000_ffff_0000) << 16);
    x = (x & 0x0000_00ff_0000_00ff_0000_00ff_0000_00ff)
        | ((x & 0x0000_ff00_0000_ff00_0000_ff00_0000_ff00) << 8);
    x = (x & 0x000f_000f_000f_000f_000f_000f_000f_000f)
        | ((x & 0x00f0_00f0_00f0_00f0_00f0_00f0_00f0_00f0) << 4);
    // Each byte now holds one nibble (0..=15). Bytes above 9 get 0x27 more
    // so that 10 lands on 'a'.
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let above_nine = ((x + ONES * 6) >> 4) & ONES;
    x + ONES * u128::from(b'0') + above_nine * 0x27
}

/// Appends `0x` and the lowercase hex digits of `v` (Python `f'0x{v:x}'`).
#[inline(always)]
pub fn write_hex(out: &mut Vec<u8>, v: u64) {
    let digits = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(4)
    };
    // Shift the significant digits to the front, then copy all sixteen and
    // keep `digits` of them.
    let ascii = hex_digits(v) << (8 * (16 - digits));
    let at = out.len();
    out.extend_from_slice(b"0x");
    out.extend_from_slice(&ascii.to_be_bytes());
    out.truncate(at + 2 + digits);
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The number of decimal digits of `v`.
#[inline(always)]
fn decimal_digits(v: u64) -> usize {
    let mut n = 1;
    let mut x = v;
    while x >= 10_000 {
        x /= 10_000;
        n += 4;
    }
    if x >= 1000 {
        n + 3
    } else if x >= 100 {
        n + 2
    } else if x >= 10 {
        n + 1
    } else {
        n
    }
}

/// Writes the decimal digits of `v` at the start of `dst` (at least 20
/// bytes); returns how many.
#[inline(always)]
fn put_decimal(dst: &mut [u8], mut v: u64) -> usize {
    let n = decimal_digits(v);
    let mut end = n;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        dst[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        end -= 2;
    }
    if v >= 10 {
        let pair = v as usize * 2;
        dst[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        dst[end - 1] = b'0' + v as u8;
    }
    n
}

/// Appends the decimal digits of `v` (Python `f'{v}'` of an int).
#[inline(always)]
pub fn write_decimal(out: &mut Vec<u8>, v: u64) {
    let at = out.len();
    out.extend_from_slice(&[0u8; 20]);
    let n = put_decimal(&mut out[at..], v);
    out.truncate(at + n);
}

/// Appends Python's `repr()` of a `bytes` object: `b'...'`, or `b"..."`
/// when the bytes hold a `'` and no `"`.
pub fn write_bytes_repr(out: &mut Vec<u8>, bytes: &[u8]) {
    // Most strings (file names, source locations) need no escaping at all.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && b != b'\'')
    {
        out.reserve(bytes.len() + 3);
        out.extend_from_slice(b"b'");
        out.extend_from_slice(bytes);
        out.push(b'\'');
        return;
    }
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
#[inline(always)]
pub fn write_delta_us(out: &mut Vec<u8>, prev_ns: u64, now_ns: u64) {
    let (negative, magnitude) = if now_ns >= prev_ns {
        (false, u128::from(now_ns - prev_ns))
    } else {
        (true, u128::from(prev_ns - now_ns))
    };
    // Below the limit the value fits a u64 (and u64 division is a single
    // instruction, u128 division a library call); above, the exact path.
    // Either way the whole part is below 2^64 / 1000 and fits a u64.
    let (whole, frac) = if magnitude < EXACT_INTEGER_LIMIT {
        let m = magnitude as u64;
        (m / 1000, (m % 1000) as usize)
    } else {
        let (mantissa, exp2) = div1000_to_double(magnitude);
        let t = round_to_thousandths(mantissa, exp2);
        ((t / 1000) as u64, (t % 1000) as usize)
    };
    // Sign, up to 17 integer digits (2^64 / 1000 < 10^17), point, three
    // decimals: reserve a fixed 24 bytes, fill them in place, trim.
    let at = out.len();
    out.extend_from_slice(&[b'-'; 24]);
    let dst = &mut out[at..];
    let sign = usize::from(negative);
    let int_digits = put_decimal(&mut dst[sign..], whole);
    let point = sign + int_digits;
    dst[point] = b'.';
    dst[point + 1] = b'0' + (frac / 100) as u8;
    dst[point + 2..point + 4].copy_from_slice(&DIGIT_PAIRS[frac % 100 * 2..frac % 100 * 2 + 2]);
    out.truncate(at + point + 4);
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
    let sticky = !scaled.is_multiple_of(1000);
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
    fn decimal() {
        let d = |v| {
            let mut out = Vec::new();
            write_decimal(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            12_345,
            4_294_967_295,
            u64::MAX,
        ] {
            assert_eq!(d(v), v.to_string());
        }
        let mut x = 1u64;
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = x >> (x % 64);
            assert_eq!(d(v), v.to_string());
        }
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
        let mut x = 7u64;
        for _ in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let v = x >> (x % 64);
            assert_eq!(h(v), format!("0x{v:x}"));
        }
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
