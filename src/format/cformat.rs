//! Event messages formatted as C's `printf` would, the way QEMU's `log`
//! trace backend prints them.
//!
//! [`CFormat::parse`] turns a declaration's [`FormatString`] (the quoted
//! literals with `PRIx64`-style macros between them) into a C format, once;
//! [`CFormat::render`] then formats one record's arguments into a byte
//! buffer, exactly as glibc's `printf` does on x86-64 Linux (LP64) when each
//! argument is passed with its declared C type.
//!
//! ```
//! use simpletrace::format::cformat::CFormat;
//! use simpletrace::format::{ArgValue, TraceEvents};
//!
//! let events = TraceEvents::parse(
//!     "trace-events",
//!     b"io_done(void *bs, uint64_t offset, int ret, const char *drv) \
//!       \"bs %p offset 0x%08\" PRIx64 \" ret %d drv %-6s|\"\n",
//! )?;
//! let decl = events.by_name(b"io_done").unwrap();
//! let format = CFormat::parse(decl.format.as_ref().unwrap())?;
//!
//! let mut out = Vec::new();
//! let values = [
//!     ArgValue::Int(0x55d0_1234_5678),
//!     ArgValue::Int(0x1000),
//!     ArgValue::Int(-5_i64 as u64), // QEMU stores signed values sign-extended
//!     ArgValue::Str(b"qcow2"),
//! ];
//! format.render(&decl.args, &values, &mut out);
//! assert_eq!(out, b"bs 0x55d012345678 offset 0x00001000 ret -5 drv qcow2 |");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How arguments are read: a recorded value first becomes its declared type
//! (truncated to its width, signed or not; `bool` becomes 0 or 1), default
//! argument promotions apply (`bool`, `char`, `short` become `int`), and each
//! conversion reads the argument as its length modifier says, as on x86-64
//! where every variadic argument fills a 64-bit slot: `%d` of a `uint64_t`
//! prints its low 32 bits as an `int`, `%hhx` of an `int` its low byte.
//!
//! Where C's behaviour is undefined and no output can be predicted, the
//! conversion renders as [`MISMATCH`] (`<?>`), ignoring its width:
//! - a missing argument (more conversions than arguments);
//! - `%s` of anything but a string argument (a string recorded as its
//!   address, as version-0 traces do, prints `(null)` when the address is
//!   0, as glibc does);
//! - an integer conversion (or `%c`, or a `*` width) of a string argument,
//!   and `%p` of one (its address is not recorded);
//! - a 64-bit read (`%p`, `%lx`, `%zu`, ...) of an argument narrower than
//!   64 bits, whose upper half is unspecified;
//! - wide characters: `%ls`, `%S`, and `%lc`/`%C` of a value outside ASCII
//!   (glibc fails in the C locale);
//! - floating-point conversions (`%f`, `%e`, `%g`, `%a`, ...), which read
//!   registers no argument was passed in, and `%m` (the `errno` of the
//!   traced moment is not recorded); these consume no argument;
//! - a `*` width or precision larger than [`MAX_FIELD`] (a guard against
//!   hostile traces; glibc would print that much padding).
//!
//! Everything else follows glibc: `%p` of 0 prints `(nil)` (padded as a
//! string), other pointers print as `%#lx` but keep the `+` and space flags;
//! an unknown conversion such as `%5y` prints itself back (as glibc
//! rebuilds it: flags, width and precision, without length modifiers) and
//! consumes no argument; `%b`/`%B` print binary (glibc 2.35 and later); `%n`
//! prints nothing; a format that ends inside a conversion stops there (glibc
//! returns an error after printing the text before it), unless an unknown
//! conversion, a `$`, or a conversion glibc's fast loop lacks (`%hc`, `%hs`,
//! `%hp`) came before it (glibc has then switched to its loop
//! for positional arguments, which prints it back like an unknown
//! conversion: `%y %-5` prints `%y %-5`; that loop also prints `%qd` and
//! `%Ld` as `%d`); a NUL byte ends the
//! format, and a `%s` string at its first NUL. Positional arguments (`%2$d`,
//! `%*1$d`) index the declared arguments; mixing them with sequential ones
//! is undefined in C and here simply continues the sequential count.
//!
//! Literals come from [`FormatPiece::Literal`], whose escapes the
//! trace-events parser resolved to characters: an escape of a byte above
//! `\x7f` (`\377`) is written as that character in UTF-8, not as the byte.

use core::fmt;

use super::events::{ArgDecl, ArgKind, FormatPiece, FormatString};
use super::record::ArgValue;

/// What a conversion renders as when C's behaviour is undefined (see the
/// [module documentation](self)).
pub const MISMATCH: &[u8] = b"<?>";

/// The largest field width or precision, written in the format or taken
/// from a `*` argument. Larger literal values are a [`CFormatError`]; larger
/// `*` values render the conversion as [`MISMATCH`].
pub const MAX_FIELD: u32 = 1 << 16;

// Flags, as bits of `Spec::flags`.
const LEFT: u8 = 1;
const PLUS: u8 = 1 << 1;
const SPACE: u8 = 1 << 2;
const ALT: u8 = 1 << 3;
const ZERO: u8 = 1 << 4;
const GROUP: u8 = 1 << 5;
const I18N: u8 = 1 << 6;

/// A field width or precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Absent,
    Fixed(u32),
    /// `*`: the next sequential argument.
    Next,
    /// `*N$`: argument N-1.
    Arg(usize),
}

/// How much of the argument a conversion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    /// `int` (no modifier).
    Int,
    /// `hh`: an `int` converted to `char`.
    Char,
    /// `h`: an `int` converted to `short`.
    Short,
    /// `l`, `ll`, `L`, `q`, `z`, `Z`, `j`, `t`: 64 bits (wide for `c`, `s`).
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// `d`, `i`.
    Signed,
    /// `u`, `o`, `x`, `X`, `b`, `B`.
    Unsigned { base: u8, upper: bool },
    /// `c` (`C` is parsed as `lc`).
    Char,
    /// `s` (`S` is parsed as `ls`).
    Str,
    /// `p`.
    Pointer,
    /// `%` after flags, width or length (a bare `%%` is literal text).
    Percent,
    /// `n`: consumes a pointer, prints nothing.
    Written,
    /// Floating point and `%m`: undefined here, consume no argument.
    Undefined,
    /// Anything else: glibc prints the conversion back. `None`: the
    /// format ends before the conversion character.
    Unknown(Option<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    flags: u8,
    width: Count,
    precision: Count,
    length: Length,
    conv: Conv,
    /// `N$`: the argument N-1 instead of the next one.
    position: Option<usize>,
    /// The length modifier was `q` or `L`.
    quad: bool,
    /// glibc's fast loop does not know this conversion and hands it, and
    /// the rest of the format, to its loop for positional arguments.
    switches: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Text(Box<[u8]>),
    Spec(Spec),
}

/// A parsed C format string: parse once with [`CFormat::parse`], render
/// every record with [`CFormat::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFormat {
    items: Box<[Item]>,
}

/// Why a format string cannot be used.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CFormatError {
    /// A field width or precision written in the format exceeds
    /// [`MAX_FIELD`].
    FieldTooLarge {
        /// The byte offset of the conversion's `%` in the format (macros
        /// expanded).
        offset: usize,
    },
}

impl fmt::Display for CFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CFormatError::FieldTooLarge { offset } => write!(
                f,
                "the conversion at byte {offset} of the format has a field width or precision \
                 larger than {MAX_FIELD}"
            ),
        }
    }
}

impl std::error::Error for CFormatError {}

/// The conversion glibc's `<inttypes.h>` gives a `PRI` macro on x86-64
/// (LP64): whether it has an `l` modifier, and its conversion character.
fn pri_macro(name: &str) -> Option<(bool, u8)> {
    let rest = name.strip_prefix("PRI")?.as_bytes();
    let (&conv, size) = rest.split_first()?;
    if !b"diouxX".contains(&conv) {
        return None;
    }
    let long = match size {
        b"8" | b"16" | b"32" | b"LEAST8" | b"LEAST16" | b"LEAST32" | b"FAST8" => false,
        b"64" | b"LEAST64" | b"FAST16" | b"FAST32" | b"FAST64" | b"MAX" | b"PTR" => true,
        _ => return None,
    };
    Some((long, conv))
}

/// A cursor over the format bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// A run of decimal digits (possibly none), saturating.
    fn number(&mut self) -> u64 {
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            self.pos += 1;
        }
        n
    }

    /// `N$` with N >= 1, or nothing (the cursor unmoved).
    fn position(&mut self) -> Option<usize> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'1'..=b'9')) {
            let n = self.number();
            if self.eat(b'$') {
                return Some(usize::try_from(n - 1).unwrap_or(usize::MAX));
            }
        }
        self.pos = start;
        None
    }

    /// A width or precision after its `*`, if any, was looked at.
    fn count(&mut self, star: bool, offset: usize) -> Result<Count, CFormatError> {
        if star {
            return Ok(match self.position() {
                Some(i) => Count::Arg(i),
                None => Count::Next,
            });
        }
        let n = self.number();
        match u32::try_from(n) {
            Ok(n) if n <= MAX_FIELD => Ok(Count::Fixed(n)),
            _ => Err(CFormatError::FieldTooLarge { offset }),
        }
    }
}

/// Parses the conversion after the `%` at `offset`; one the format ends
/// inside is `Conv::Unknown(None)`.
fn parse_spec(cur: &mut Cursor<'_>, offset: usize) -> Result<Spec, CFormatError> {
    let position = cur.position();
    let mut flags = 0;
    loop {
        let flag = match cur.peek() {
            Some(b'-') => LEFT,
            Some(b'+') => PLUS,
            Some(b' ') => SPACE,
            Some(b'#') => ALT,
            Some(b'0') => ZERO,
            Some(b'\'') => GROUP,
            Some(b'I') => I18N,
            _ => break,
        };
        flags |= flag;
        cur.pos += 1;
    }
    let width = match cur.peek() {
        Some(b'*') => {
            cur.pos += 1;
            cur.count(true, offset)?
        }
        Some(b'1'..=b'9') => cur.count(false, offset)?,
        _ => Count::Absent,
    };
    let precision = if cur.eat(b'.') {
        let star = cur.eat(b'*');
        cur.count(star, offset)?
    } else {
        Count::Absent
    };
    let quad = matches!(cur.peek(), Some(b'q' | b'L'));
    let mut length = match cur.peek() {
        Some(b'h') => {
            cur.pos += 1;
            if cur.eat(b'h') {
                Length::Char
            } else {
                Length::Short
            }
        }
        Some(b'l') => {
            cur.pos += 1;
            cur.eat(b'l');
            Length::Long
        }
        Some(b'L' | b'q' | b'z' | b'Z' | b'j' | b't') => {
            cur.pos += 1;
            Length::Long
        }
        _ => Length::Int,
    };
    let Some(c) = cur.peek() else {
        return Ok(Spec {
            flags,
            width,
            precision,
            length,
            conv: Conv::Unknown(None),
            position,
            quad,
            switches: false,
        });
    };
    cur.pos += 1;
    let single_h = length == Length::Short;
    let unsigned = |base, upper| Conv::Unsigned { base, upper };
    let conv = match c {
        b'd' | b'i' => Conv::Signed,
        b'u' => unsigned(10, false),
        b'o' => unsigned(8, false),
        b'x' => unsigned(16, false),
        b'X' => unsigned(16, true),
        b'b' => unsigned(2, false),
        b'B' => unsigned(2, true),
        b'c' => Conv::Char,
        b's' => Conv::Str,
        b'C' | b'S' => {
            length = Length::Long;
            if c == b'C' { Conv::Char } else { Conv::Str }
        }
        b'p' => Conv::Pointer,
        b'%' => Conv::Percent,
        b'n' => Conv::Written,
        b'm' | b'f' | b'F' | b'e' | b'E' | b'g' | b'G' | b'a' | b'A' => Conv::Undefined,
        other => Conv::Unknown(Some(other)),
    };
    // Besides unknown conversions, glibc 2.36's fast loop has no entry for
    // these after a single `h` (probed: `%hc %-` prints `%-` where `%c %-`
    // fails).
    let switches = matches!(conv, Conv::Unknown(_)) || (single_h && b"cspmSfFeEgGaA".contains(&c));
    Ok(Spec {
        flags,
        width,
        precision,
        length,
        conv,
        position,
        quad,
        switches,
    })
}

impl CFormat {
    /// Parses a declaration's format: its literals concatenated with each
    /// `PRI` macro replaced by its glibc x86-64 expansion (`PRIx64` is
    /// `lx`, `PRIu32` is `u`). An unknown macro stays as its name, printed
    /// literally. Fails only for a literal field width or precision above
    /// [`MAX_FIELD`].
    pub fn parse(format: &FormatString) -> Result<CFormat, CFormatError> {
        let mut bytes = Vec::new();
        for piece in &format.pieces {
            match piece {
                FormatPiece::Literal(text) => bytes.extend_from_slice(text.as_bytes()),
                FormatPiece::Macro(name) => match pri_macro(name) {
                    Some((long, conv)) => {
                        if long {
                            bytes.push(b'l');
                        }
                        bytes.push(conv);
                    }
                    None => bytes.extend_from_slice(name.as_bytes()),
                },
            }
        }
        CFormat::from_bytes(&bytes)
    }

    /// Parses a C format string with its macros already expanded (the
    /// bytes `printf` would receive); a NUL byte ends it.
    pub fn from_bytes(format: &[u8]) -> Result<CFormat, CFormatError> {
        let end = format.iter().position(|&b| b == 0).unwrap_or(format.len());
        let mut cur = Cursor {
            bytes: format.get(..end).unwrap_or(format),
            pos: 0,
        };
        let mut items = Vec::new();
        let mut text = Vec::new();
        // Whether glibc has left its fast loop for the one that handles
        // positional arguments: it does at the first unknown conversion
        // or `$`, and from there prints a conversion the format ends in
        // back, as it prints an unknown one (found by the cformat fuzz
        // target against glibc).
        let mut positional_loop = false;
        while let Some(b) = cur.peek() {
            cur.pos += 1;
            if b != b'%' {
                text.push(b);
                continue;
            }
            if cur.eat(b'%') {
                text.push(b'%');
                continue;
            }
            let offset = cur.pos - 1;
            let mut spec = parse_spec(&mut cur, offset)?;
            // A `$` switches before its own conversion is handled.
            positional_loop |= spec.position.is_some()
                || matches!(spec.width, Count::Arg(_))
                || matches!(spec.precision, Count::Arg(_));
            if spec.conv == Conv::Unknown(None) && !positional_loop {
                // glibc's fast loop stops with an error at a conversion
                // the format ends in, after printing everything before it.
                break;
            }
            positional_loop |= spec.switches;
            if positional_loop && spec.quad {
                // That loop reads `q` and `L` integers as 64-bit slots but
                // prints them as `int`s (it sets glibc's `is_long_double`
                // without `is_long`), and `%Lc`, `%Ls` as narrow.
                spec.length = Length::Int;
            }
            if !text.is_empty() {
                items.push(Item::Text(core::mem::take(&mut text).into_boxed_slice()));
            }
            items.push(Item::Spec(spec));
        }
        if !text.is_empty() {
            items.push(Item::Text(text.into_boxed_slice()));
        }
        Ok(CFormat {
            items: items.into_boxed_slice(),
        })
    }

    /// Appends the message for `values`, the recorded arguments of an event
    /// declared with `decl_args`, to `out`: the bytes glibc's `printf`
    /// writes for the format with those arguments, and [`MISMATCH`] for
    /// each conversion whose output C leaves undefined. Arguments beyond
    /// the format's conversions are ignored, as in C. Never fails and
    /// allocates nothing but `out`'s growth.
    pub fn render(&self, decl_args: &[ArgDecl], values: &[ArgValue<'_>], out: &mut Vec<u8>) {
        let args = ArgList {
            decls: decl_args,
            values,
        };
        let mut next = 0;
        for item in self.items.iter() {
            match item {
                Item::Text(text) => out.extend_from_slice(text),
                Item::Spec(spec) => render_spec(spec, &args, &mut next, out),
            }
        }
    }
}

/// An argument as `printf` receives it in its 64-bit variadic slot.
#[derive(Clone, Copy)]
enum Slot<'a> {
    /// Absent, or a value that does not match its declaration.
    Missing,
    /// A promoted `int` or `unsigned int`: the upper half of the slot is
    /// unspecified.
    Narrow(u32),
    /// A 64-bit integer or pointer.
    Wide(u64),
    /// A string, with its recorded bytes.
    Str(&'a [u8]),
    /// A string recorded as its address (version-0 traces).
    StrAddr(u64),
}

impl Slot<'_> {
    /// The slot read as an `int` (its low 32 bits).
    fn int(self) -> Option<u32> {
        match self {
            Slot::Narrow(x) => Some(x),
            Slot::Wide(v) | Slot::StrAddr(v) => Some(v as u32),
            Slot::Missing | Slot::Str(_) => None,
        }
    }

    /// The slot read as 64 bits.
    fn long(self) -> Option<u64> {
        match self {
            Slot::Wide(v) | Slot::StrAddr(v) => Some(v),
            Slot::Missing | Slot::Narrow(_) | Slot::Str(_) => None,
        }
    }
}

struct ArgList<'d, 'v, 'a> {
    decls: &'d [ArgDecl],
    values: &'v [ArgValue<'a>],
}

impl<'a> ArgList<'_, '_, 'a> {
    fn slot(&self, i: usize) -> Slot<'a> {
        let (Some(decl), Some(&value)) = (self.decls.get(i), self.values.get(i)) else {
            return Slot::Missing;
        };
        match (decl.kind, value) {
            (ArgKind::String, ArgValue::Str(s)) => Slot::Str(s),
            (ArgKind::String, ArgValue::Int(addr)) => Slot::StrAddr(addr),
            (ArgKind::Pointer, ArgValue::Int(addr)) => Slot::Wide(addr),
            (ArgKind::Bool, ArgValue::Int(v)) => Slot::Narrow(u32::from(v != 0)),
            (ArgKind::Int { signed, bits }, ArgValue::Int(v)) => match bits {
                0 => Slot::Missing,
                1..=63 => {
                    let shift = 64 - u32::from(bits);
                    let x = if signed {
                        (((v << shift) as i64) >> shift) as u64
                    } else {
                        (v << shift) >> shift
                    };
                    // Types up to 32 bits arrive as a (promoted) `int`.
                    if bits <= 32 {
                        Slot::Narrow(x as u32)
                    } else {
                        Slot::Wide(x)
                    }
                }
                _ => Slot::Wide(v),
            },
            (ArgKind::Pointer | ArgKind::Bool | ArgKind::Int { .. }, ArgValue::Str(_)) => {
                Slot::Missing
            }
        }
    }
}

/// A width or precision's value: `Err(())` when its `*` argument is missing
/// or out of range, otherwise the signed value (`None` when absent).
fn count_value(
    count: Count,
    args: &ArgList<'_, '_, '_>,
    next: &mut usize,
) -> Result<Option<i64>, ()> {
    let index = match count {
        Count::Absent => return Ok(None),
        Count::Fixed(n) => return Ok(Some(i64::from(n))),
        Count::Next => {
            let i = *next;
            *next = next.saturating_add(1);
            i
        }
        Count::Arg(i) => i,
    };
    let v = i64::from(args.slot(index).int().ok_or(())? as i32);
    if v.unsigned_abs() > u64::from(MAX_FIELD) {
        return Err(());
    }
    Ok(Some(v))
}

fn render_spec(spec: &Spec, args: &ArgList<'_, '_, '_>, next: &mut usize, out: &mut Vec<u8>) {
    let mut flags = spec.flags;
    let width = count_value(spec.width, args, next);
    let precision = count_value(spec.precision, args, next);
    let slot = match spec.conv {
        Conv::Percent | Conv::Undefined | Conv::Unknown(_) => Slot::Missing,
        _ => match spec.position {
            Some(i) => args.slot(i),
            None => {
                let i = *next;
                *next = next.saturating_add(1);
                args.slot(i)
            }
        },
    };
    let (Ok(width), Ok(precision)) = (width, precision) else {
        out.extend_from_slice(MISMATCH);
        return;
    };
    // A negative `*` width is the `-` flag; a negative `*` precision is
    // no precision.
    let width = match width {
        Some(w) if w < 0 => {
            flags |= LEFT;
            w.unsigned_abs() as usize
        }
        Some(w) => w as usize,
        None => 0,
    };
    let precision = precision.filter(|&p| p >= 0).map(|p| p as usize);
    let left = flags & LEFT != 0;
    let written = match spec.conv {
        Conv::Signed => {
            let v = match spec.length {
                Length::Int => slot.int().map(|x| i64::from(x as i32)),
                Length::Char => slot.int().map(|x| i64::from(x as u8 as i8)),
                Length::Short => slot.int().map(|x| i64::from(x as u16 as i16)),
                Length::Long => slot.long().map(|x| x as i64),
            };
            v.map(|v| {
                number(
                    out,
                    flags,
                    width,
                    precision,
                    v.unsigned_abs(),
                    v < 0,
                    10,
                    false,
                )
            })
        }
        Conv::Unsigned { base, upper } => {
            let v = match spec.length {
                Length::Int => slot.int().map(u64::from),
                Length::Char => slot.int().map(|x| u64::from(x as u8)),
                Length::Short => slot.int().map(|x| u64::from(x as u16)),
                Length::Long => slot.long(),
            };
            // `+` and space only apply to signed conversions.
            let flags = flags & !(PLUS | SPACE);
            v.map(|v| number(out, flags, width, precision, v, false, base, upper))
        }
        Conv::Pointer => slot.long().map(|v| {
            if v == 0 {
                pad(out, b"(nil)", width, left);
            } else {
                // glibc prints `%#lx`, keeping the `+` and space flags.
                number(out, flags | ALT, width, precision, v, false, 16, false);
            }
        }),
        Conv::Char => slot.int().and_then(|x| {
            let byte = match spec.length {
                // A `wint_t`, converted in the C locale: ASCII only.
                Length::Long => u8::try_from(x).ok().filter(u8::is_ascii)?,
                _ => x as u8,
            };
            pad(out, &[byte], width, left);
            Some(())
        }),
        Conv::Str => {
            let bytes = match (spec.length, slot) {
                (Length::Long, _) => None,
                (_, Slot::Str(s)) => {
                    let s = s.split(|&b| b == 0).next().unwrap_or(s);
                    Some(precision.and_then(|p| s.get(..p)).unwrap_or(s))
                }
                (_, Slot::StrAddr(0)) => Some(if precision.is_none_or(|p| p >= 6) {
                    &b"(null)"[..]
                } else {
                    b""
                }),
                _ => None,
            };
            bytes.map(|s| pad(out, s, width, left))
        }
        Conv::Written => slot.long().map(|_| ()),
        Conv::Percent => {
            out.push(b'%');
            Some(())
        }
        Conv::Undefined => None,
        Conv::Unknown(c) => {
            // A literal `-` clears the `0` flag; a negative `*` width does
            // not.
            let zero = spec.flags & (ZERO | LEFT) == ZERO;
            unknown(out, flags, zero, width, precision, c);
            Some(())
        }
    };
    if written.is_none() {
        out.extend_from_slice(MISMATCH);
    }
}

/// Appends `n` copies of `byte`.
fn fill(out: &mut Vec<u8>, byte: u8, n: usize) {
    if n > 0 {
        out.resize(out.len() + n, byte);
    }
}

/// Writes `bytes` padded with spaces to `width`, on the left unless `left`.
fn pad(out: &mut Vec<u8>, bytes: &[u8], width: usize, left: bool) {
    let spaces = width.saturating_sub(bytes.len());
    if !left {
        fill(out, b' ', spaces);
    }
    out.extend_from_slice(bytes);
    if left {
        fill(out, b' ', spaces);
    }
}

/// Writes `n` in decimal.
fn decimal(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let digits = digits(&mut buf, n, 10, false);
    out.extend_from_slice(digits);
}

/// Writes `n` in `base` (2, 8, 10 or 16) at the end of `buf`; returns the
/// digits. Each base has its own loop so that the divisions are by
/// constants (multiplications and shifts, not a divide per digit).
fn digits(buf: &mut [u8], mut n: u64, base: u8, upper: bool) -> &[u8] {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let shift = match base {
        2 => 1,
        8 => 3,
        16 => 4,
        _ => 0,
    };
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        start -= 1;
        if shift == 0 {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        } else {
            *slot = table[(n & ((1 << shift) - 1)) as usize];
            n >>= shift;
        }
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

/// Writes an integer conversion as glibc does: sign, `0x`/`0b` prefix,
/// zeros up to the precision, digits, padded to the width with spaces or,
/// for the `0` flag without a precision, zeros after the prefix.
#[allow(clippy::too_many_arguments)]
fn number(
    out: &mut Vec<u8>,
    flags: u8,
    width: usize,
    precision: Option<usize>,
    magnitude: u64,
    negative: bool,
    base: u8,
    upper: bool,
) {
    let alt = flags & ALT != 0;
    let mut buf = [0u8; 64];
    let digits: &[u8] = if precision == Some(0) && magnitude == 0 {
        b""
    } else {
        digits(&mut buf, magnitude, base, upper)
    };
    let min_digits = precision.unwrap_or(1);
    // `#` with `o` makes the first digit a zero.
    let octal_zero = alt
        && base == 8
        && if magnitude == 0 {
            digits.is_empty()
        } else {
            min_digits <= digits.len()
        };
    let len = digits.len() + usize::from(octal_zero);
    let zeros = min_digits.saturating_sub(len);
    let prefix: &[u8] = match (alt && magnitude != 0, base, upper) {
        (true, 16, false) => b"0x",
        (true, 16, true) => b"0X",
        (true, 2, false) => b"0b",
        (true, 2, true) => b"0B",
        _ => b"",
    };
    let sign: &[u8] = if negative {
        b"-"
    } else if flags & PLUS != 0 {
        b"+"
    } else if flags & SPACE != 0 {
        b" "
    } else {
        b""
    };
    let body = sign.len() + prefix.len() + zeros + len;
    let padding = width.saturating_sub(body);
    let left = flags & LEFT != 0;
    let zero_pad = flags & ZERO != 0 && !left && precision.is_none();
    if !left && !zero_pad {
        fill(out, b' ', padding);
    }
    if let [sign] = sign {
        out.push(*sign);
    }
    if !prefix.is_empty() {
        out.extend_from_slice(prefix);
    }
    let zeros = zeros + usize::from(octal_zero) + if zero_pad { padding } else { 0 };
    fill(out, b'0', zeros);
    out.extend_from_slice(digits);
    if left {
        fill(out, b' ', padding);
    }
}

/// Writes an unknown conversion back as glibc rebuilds it: `%`, the flags
/// in its order (`0` when `zero`), the width and precision, the conversion
/// character if there is one (length modifiers are dropped).
fn unknown(
    out: &mut Vec<u8>,
    flags: u8,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    c: Option<u8>,
) {
    out.push(b'%');
    if flags & ALT != 0 {
        out.push(b'#');
    }
    if flags & GROUP != 0 {
        out.push(b'\'');
    }
    if flags & PLUS != 0 {
        out.push(b'+');
    } else if flags & SPACE != 0 {
        out.push(b' ');
    }
    if flags & LEFT != 0 {
        out.push(b'-');
    }
    if zero {
        out.push(b'0');
    }
    if flags & I18N != 0 {
        out.push(b'I');
    }
    if width != 0 {
        decimal(out, width as u64);
    }
    if let Some(p) = precision {
        out.push(b'.');
        decimal(out, p as u64);
    }
    if let Some(c) = c {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls(types: &[&str]) -> Vec<ArgDecl> {
        types
            .iter()
            .enumerate()
            .map(|(i, ty)| ArgDecl {
                ty: (*ty).to_owned(),
                name: format!("a{i}"),
                kind: ArgKind::of_type(ty),
            })
            .collect()
    }

    /// `format` rendered with `values` of the declared `types`.
    fn render(format: &str, types: &[&str], values: &[ArgValue<'_>]) -> String {
        let f = CFormat::from_bytes(format.as_bytes()).unwrap();
        let mut out = Vec::new();
        f.render(&decls(types), values, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn int(format: &str, ty: &str, v: i64) -> String {
        render(format, &[ty], &[ArgValue::Int(v as u64)])
    }

    fn int_ok(format: &str, ty: &str, v: i64, want: &str) {
        assert_eq!(int(format, ty, v), want, "{format} of ({ty}){v}");
    }

    #[test]
    fn plain_conversions() {
        int_ok("%d", "int", -42, "-42");
        int_ok("%i", "int", 42, "42");
        int_ok("%u", "unsigned", 42, "42");
        int_ok("%x", "int", 255, "ff");
        int_ok("%X", "int", 255, "FF");
        int_ok("%o", "int", 8, "10");
        int_ok("%c", "int", 65, "A");
        int_ok("[%%]", "int", 0, "[%]");
        assert_eq!(
            render(
                "%s=%d",
                &["const char *", "int"],
                &[ArgValue::Str(b"x y"), ArgValue::Int(3)]
            ),
            "x y=3"
        );
        assert_eq!(render("no conversions", &[], &[]), "no conversions");
        assert_eq!(render("", &[], &[]), "");
    }

    #[test]
    fn flags() {
        int_ok("[%-5d]", "int", 3, "[3    ]");
        int_ok("[%+d]", "int", 3, "[+3]");
        int_ok("[%+d]", "int", -3, "[-3]");
        int_ok("[% d]", "int", 3, "[ 3]");
        int_ok("[% d]", "int", -3, "[-3]");
        int_ok("[%05d]", "int", -3, "[-0003]");
        int_ok("[%0 5d]", "int", 8, "[ 0008]");
        // `-` overrides `0`, `+` overrides space.
        int_ok("[%-05d]", "int", 3, "[3    ]");
        int_ok("[%0-5d]", "int", 3, "[3    ]");
        int_ok("[%+ d]", "int", 3, "[+3]");
        int_ok("[% +d]", "int", 3, "[+3]");
        int_ok("[%-+5d]", "int", 8, "[+8   ]");
        // `+` and space do nothing to unsigned conversions.
        int_ok("[%+u]", "unsigned", 5, "[5]");
        int_ok("[% x]", "unsigned", 5, "[5]");
        // `#`.
        int_ok("%#x", "int", 255, "0xff");
        int_ok("%#X", "int", 255, "0XFF");
        int_ok("%#x", "int", 0, "0");
        int_ok("%#o", "int", 8, "010");
        int_ok("%#o", "int", 0, "0");
        int_ok("%#.0o", "int", 0, "0");
        int_ok("%#.2o", "int", 8, "010");
        int_ok("%#.3o", "int", 8, "010");
        int_ok("%#.4o", "int", 8, "0010");
        int_ok("%#08x", "int", 255, "0x0000ff");
        int_ok("[%-#8x]", "int", 255, "[0xff    ]");
        int_ok("[%0#10o]", "int", 8, "[0000000010]");
        int_ok("[%-#10o]", "int", 8, "[010       ]");
        // `'` and `I` change nothing in the C locale.
        int_ok("%'d", "int", 1_234_567, "1234567");
        int_ok("%Iu", "int", 1_234_567, "1234567");
    }

    #[test]
    fn width_and_precision() {
        int_ok("[%5d]", "int", -42, "[  -42]");
        int_ok("[%1d]", "int", -42, "[-42]");
        int_ok("[%.5d]", "int", -42, "[-00042]");
        int_ok("[%8.5d]", "int", 42, "[   00042]");
        // A precision disables the `0` flag.
        int_ok("[%08.5d]", "int", 42, "[   00042]");
        int_ok("[%0.3d]", "int", 8, "[008]");
        // A zero precision prints nothing for zero, but the sign or `#o`.
        int_ok("[%.0d]", "int", 0, "[]");
        int_ok("[%.d]", "int", 0, "[]");
        int_ok("[%.0x]", "int", 0, "[]");
        int_ok("[%.0d]", "int", 1, "[1]");
        int_ok("[%+.0d]", "int", 0, "[+]");
        int_ok("[% .0d]", "int", 0, "[ ]");
        int_ok("[%#5.0x]", "int", 0, "[     ]");
        int_ok("[%3.0u]", "int", 0, "[   ]");
        let s = |f: &str, v: &[u8]| render(f, &["const char *"], &[ArgValue::Str(v)]);
        assert_eq!(s("[%5s]", b"ab"), "[   ab]");
        assert_eq!(s("[%-5s]", b"ab"), "[ab   ]");
        // glibc pads strings with spaces even with `0`.
        assert_eq!(s("[%05s]", b"ab"), "[   ab]");
        assert_eq!(s("[%.2s]", b"abcdef"), "[ab]");
        assert_eq!(s("[%.0s]", b"abcdef"), "[]");
        assert_eq!(s("[%.9s]", b"abc"), "[abc]");
        assert_eq!(s("[%5.1s]", b"abc"), "[    a]");
        assert_eq!(s("[%1s]", b"abc"), "[abc]");
    }

    #[test]
    fn star_width_and_precision() {
        let r = |f: &str, vals: &[i64]| {
            let types = vec!["int"; vals.len()];
            let values: Vec<_> = vals.iter().map(|&v| ArgValue::Int(v as u64)).collect();
            render(f, &types, &values)
        };
        assert_eq!(r("[%*d]", &[5, 42]), "[   42]");
        // A negative width is the `-` flag (which beats `0`).
        assert_eq!(r("[%*d]", &[-5, 42]), "[42   ]");
        assert_eq!(r("[%0*d]", &[-5, 42]), "[42   ]");
        assert_eq!(r("[%.*d]", &[4, 42]), "[0042]");
        // A negative precision is no precision.
        assert_eq!(r("[%.*d]", &[-4, 42]), "[42]");
        assert_eq!(r("[%0*.*d]", &[6, -1, 42]), "[000042]");
        assert_eq!(r("[%*.*d|%d]", &[6, 3, 42, 7]), "[   042|7]");
        // `*` reads an int: the low 32 bits of a wider argument.
        assert_eq!(
            render(
                "[%*d]",
                &["uint64_t", "int"],
                &[ArgValue::Int(0x1_0000_0003), ArgValue::Int(1)]
            ),
            "[  1]"
        );
        assert_eq!(
            render(
                "[%.*s]",
                &["unsigned", "const char *"],
                &[ArgValue::Int(2), ArgValue::Str(b"abc")]
            ),
            "[ab]"
        );
        // A `*` that is missing, a string, or beyond MAX_FIELD.
        assert_eq!(r("[%*d]", &[5]), "[<?>]");
        assert_eq!(
            render(
                "[%*d|%d]",
                &["const char *", "int", "int"],
                &[ArgValue::Str(b"x"), ArgValue::Int(1), ArgValue::Int(2)]
            ),
            "[<?>|2]"
        );
        let huge = i64::from(MAX_FIELD) + 1;
        assert_eq!(r("[%*d|%d]", &[huge, 1, 2]), "[<?>|2]");
        assert_eq!(r("[%*d|%d]", &[-huge, 1, 2]), "[<?>|2]");
        assert_eq!(r("[%.*d|%d]", &[huge, 1, 2]), "[<?>|2]");
        assert_eq!(r("[%*d]", &[i64::from(MAX_FIELD), 1]).len(), 65_538);
        assert_eq!(r("[%*d]", &[i64::from(i32::MIN), 1]), "[<?>]");
    }

    #[test]
    fn length_modifiers_read_the_argument_as_c_does() {
        let v = 0x1234_5678_9abc_def0_u64 as i64;
        let u64_ = "uint64_t";
        int_ok("%hhx", u64_, v, "f0");
        int_ok("%hhd", u64_, v, "-16");
        int_ok("%hhu", u64_, v, "240");
        int_ok("%hx", u64_, v, "def0");
        int_ok("%hd", u64_, v, "-8464");
        int_ok("%x", u64_, v, "9abcdef0");
        int_ok("%d", u64_, v, "-1698898192");
        int_ok("%u", u64_, v, "2596069104");
        for m in ["l", "ll", "z", "Z", "j", "t", "L", "q"] {
            int_ok(&format!("%{m}x"), u64_, v, "123456789abcdef0");
            int_ok(&format!("%{m}d"), "int64_t", -1, "-1");
            int_ok(&format!("%{m}u"), "int64_t", -1, "18446744073709551615");
        }
        int_ok("%lo", "uint64_t", -1, "1777777777777777777777");
        // `%hhd` of an int: signed char.
        int_ok("%hhd", "int", 200, "-56");
        int_ok("%hhu", "int", -1, "255");
        int_ok("%hu", "int", -1, "65535");
        int_ok("%hd", "int", 40000, "-25536");
    }

    #[test]
    fn values_become_their_declared_type() {
        // Signed types: sign-extended as recorded, truncated to the width.
        int_ok("%d", "int8_t", -1, "-1");
        int_ok("%u", "int8_t", -1, "4294967295");
        int_ok("%x", "int8_t", -128, "ffffff80");
        int_ok("%d", "char", 0x1ff, "-1");
        int_ok("%d", "short", 0x18000, "-32768");
        int_ok("%d", "int16_t", -2, "-2");
        int_ok("%d", "int", 0x1_8000_0000, "-2147483648");
        int_ok("%u", "int", -1, "4294967295");
        int_ok("%ld", "long", i64::MIN, "-9223372036854775808");
        int_ok("%lu", "ssize_t", -1, "18446744073709551615");
        // Unsigned types: zero-extended, truncated.
        int_ok("%d", "uint8_t", 0x1ff, "255");
        int_ok("%d", "unsigned char", -1, "255");
        int_ok("%d", "uint16_t", -1, "65535");
        int_ok("%d", "unsigned", -1, "-1");
        int_ok("%u", "uint32_t", 0x1_ffff_ffff, "4294967295");
        int_ok("%lu", "size_t", -1, "18446744073709551615");
        int_ok("%ld", "uint64_t", -1, "-1");
        // bool is 0 or 1, whatever was recorded.
        int_ok("%d", "bool", 1, "1");
        int_ok("%d", "bool", 0, "0");
        int_ok("%d", "bool", 0x100, "1");
        int_ok("%c", "char", 0x141, "A");
        int_ok("%c", "uint64_t", 0x7_0000_0042, "B");
        int_ok("%d", "void *", 0x1_0000_0007, "7");
    }

    #[test]
    fn pointers() {
        int_ok("%p", "void *", 0x5643_596b_66b0, "0x5643596b66b0");
        int_ok("%p", "void *", -1, "0xffffffffffffffff");
        int_ok("%p", "void *", 0, "(nil)");
        int_ok("[%10p]", "void *", 0, "[     (nil)]");
        int_ok("[%-10p]", "void *", 0, "[(nil)     ]");
        int_ok("[%010p]", "void *", 0, "[     (nil)]");
        int_ok("[%.2p]", "void *", 0, "[(nil)]");
        int_ok("[%+p]", "void *", 0, "[(nil)]");
        // Non-null: `%#lx`, keeping `+`, space, `0` and the precision.
        int_ok("%+p", "void *", 0x1234, "+0x1234");
        int_ok("% p", "void *", 0x1234, " 0x1234");
        int_ok("%020p", "void *", 0x1234, "0x000000000000001234");
        int_ok("%.8p", "void *", 0x1234, "0x00001234");
        int_ok("[%-8p]", "void *", 0x1234, "[0x1234  ]");
        int_ok("%#p", "void *", 255, "0xff");
        int_ok("%lp", "void *", 1, "0x1");
        int_ok("%hp", "void *", 1, "0x1");
        int_ok("%p", "uint64_t", 0xabc, "0xabc");
    }

    #[test]
    fn chars_and_strings() {
        int_ok("[%c]", "int", 0, "[\0]");
        int_ok("[%3c]", "int", 97, "[  a]");
        int_ok("[%-3c]", "int", 97, "[a  ]");
        int_ok("[%03c]", "int", 97, "[  a]");
        int_ok("[%.0c]", "int", 97, "[a]");
        int_ok("[%hhc]", "int", 0x141, "[A]");
        int_ok("[%lc]", "int", 65, "[A]");
        int_ok("[%C]", "int", 65, "[A]");
        int_ok("[%lc]", "int", 200, "[<?>]");
        let s = |f: &str, v: &[u8]| {
            let f = CFormat::from_bytes(f.as_bytes()).unwrap();
            let mut out = Vec::new();
            f.render(&decls(&["const char *"]), &[ArgValue::Str(v)], &mut out);
            out
        };
        // Raw bytes, no escaping; a NUL ends the string.
        assert_eq!(s("<%s>", b"\xff\n%d\"\\"), b"<\xff\n%d\"\\>");
        assert_eq!(s("<%s>", b"ab\0cd"), b"<ab>");
        assert_eq!(s("<%s>", b""), b"<>");
        assert_eq!(s("<%hhs>", b"ab"), b"<ab>");
        assert_eq!(s("<%hs>", b"ab"), b"<ab>");
        assert_eq!(s("<%ls>", b"ab"), b"<<?>>");
        assert_eq!(s("<%zs>", b"ab"), b"<<?>>");
        assert_eq!(s("<%S>", b"ab"), b"<<?>>");
        // A string recorded as its address (version 0): NULL prints as
        // glibc prints it, other addresses are unknown strings.
        let null = |f: &str| render(f, &["const char *"], &[ArgValue::Int(0)]);
        assert_eq!(null("<%s>"), "<(null)>");
        assert_eq!(null("<%8s>"), "<  (null)>");
        assert_eq!(null("<%.6s>"), "<(null)>");
        assert_eq!(null("<%.5s>"), "<>");
        assert_eq!(null("<%p>"), "<(nil)>");
        assert_eq!(
            render(
                "<%s|%p>",
                &["const char *", "char *"],
                &[ArgValue::Int(0x10), ArgValue::Int(0x10)]
            ),
            "<<?>|0x10>"
        );
    }

    #[test]
    fn binary() {
        int_ok("%b", "unsigned", 5, "101");
        int_ok("%#b", "unsigned", 5, "0b101");
        int_ok("%#B", "unsigned", 5, "0B101");
        int_ok("%#b", "unsigned", 0, "0");
        int_ok("%#010b", "unsigned", 5, "0b00000101");
        int_ok("%lb", "uint64_t", -1, &"1".repeat(64));
    }

    #[test]
    fn pri_macros() {
        let fs = |pieces: &[(&str, bool)]| FormatString {
            raw: String::new(),
            pieces: pieces
                .iter()
                .map(|&(t, m)| {
                    if m {
                        FormatPiece::Macro(t.to_owned())
                    } else {
                        FormatPiece::Literal(t.to_owned())
                    }
                })
                .collect(),
        };
        let f = CFormat::parse(&fs(&[
            ("a=%08", false),
            ("PRIx64", true),
            (" b=%", false),
            ("PRId32", true),
        ]))
        .unwrap();
        let mut out = Vec::new();
        f.render(
            &decls(&["uint64_t", "int32_t"]),
            &[ArgValue::Int(0x1_0000_00ff), ArgValue::Int(-1_i64 as u64)],
            &mut out,
        );
        assert_eq!(out, b"a=1000000ff b=-1");
        for (name, want) in [
            ("PRId8", "d"),
            ("PRIi16", "i"),
            ("PRIu32", "u"),
            ("PRIx64", "lx"),
            ("PRIXPTR", "lX"),
            ("PRIoMAX", "lo"),
            ("PRIuLEAST8", "u"),
            ("PRIuLEAST16", "u"),
            ("PRIuLEAST32", "u"),
            ("PRIuLEAST64", "lu"),
            ("PRIxFAST8", "x"),
            ("PRIxFAST16", "lx"),
            ("PRIxFAST32", "lx"),
            ("PRIxFAST64", "lx"),
        ] {
            let (long, conv) = pri_macro(name).unwrap();
            let got = format!("{}{}", if long { "l" } else { "" }, conv as char);
            assert_eq!(got, want, "{name}");
        }
        for name in [
            "PRIb8", "PRIx128", "PRIx", "PRI", "SCNx64", "PRIdFAST", "PRIé8",
        ] {
            assert_eq!(pri_macro(name), None, "{name}");
        }
        // An unknown macro stays as its name.
        let f = CFormat::parse(&fs(&[
            ("[", false),
            ("FOO", true),
            ("|%", false),
            ("PRIfoo", true),
            ("]", false),
        ]))
        .unwrap();
        let mut out = Vec::new();
        f.render(&[], &[], &mut out);
        assert_eq!(out, b"[FOO|%PRIfoo]");
    }

    #[test]
    fn mismatches_are_marked() {
        // A `%s` of an integer, a `%d` of a string, missing arguments.
        assert_eq!(int("[%s]", "int", 1), "[<?>]");
        assert_eq!(int("[%s]", "void *", 1), "[<?>]");
        assert_eq!(
            render(
                "[%d|%c|%x|%p]",
                &["const char *"; 4],
                &[ArgValue::Str(b"x"); 4]
            ),
            "[<?>|<?>|<?>|<?>]"
        );
        assert_eq!(int("[%d %d %s]", "int", 1), "[1 <?> <?>]");
        assert_eq!(render("[%d]", &[], &[]), "[<?>]");
        // Declarations and values that disagree.
        assert_eq!(render("[%d]", &["int"], &[ArgValue::Str(b"1")]), "[<?>]");
        assert_eq!(render("[%d]", &[], &[ArgValue::Int(1)]), "[<?>]");
        // A 64-bit read of a narrower argument: its upper half is unknown.
        assert_eq!(int("[%lx]", "int", 1), "[<?>]");
        assert_eq!(int("[%p]", "uint32_t", 1), "[<?>]");
        assert_eq!(int("[%zu]", "bool", 1), "[<?>]");
        // Width is not applied to the marker.
        assert_eq!(int("[%10s]", "int", 1), "[<?>]");
        // Floating point and %m read no argument.
        assert_eq!(
            int("[%f %5.2e %g %a %m %d]", "int", 7),
            "[<?> <?> <?> <?> <?> 7]"
        );
        // Extra arguments are ignored, as in C.
        assert_eq!(
            render(
                "[%d]",
                &["int", "int"],
                &[ArgValue::Int(1), ArgValue::Int(2)]
            ),
            "[1]"
        );
        // An inconsistent ArgKind never panics.
        let odd = [ArgDecl {
            ty: "odd".into(),
            name: "x".into(),
            kind: ArgKind::Int {
                signed: true,
                bits: 0,
            },
        }];
        let mut out = Vec::new();
        CFormat::from_bytes(b"%d")
            .unwrap()
            .render(&odd, &[ArgValue::Int(1)], &mut out);
        assert_eq!(out, b"<?>");
    }

    #[test]
    fn unknown_conversions_print_themselves() {
        int_ok("[%y|%d]", "int", 3, "[%y|3]");
        int_ok("[%5y]", "int", 3, "[%5y]");
        int_ok("[%-0#+ 5.3y]", "int", 3, "[%#+-5.3y]");
        int_ok("[%0-y|%05y|%00y]", "int", 3, "[%-y|%05y|%0y]");
        int_ok("[%'Iy|%.y|%hhy|%Ly]", "int", 3, "[%'Iy|%.0y|%y|%y]");
        int_ok("[%k|%D|%U|%O]", "int", 3, "[%k|%D|%U|%O]");
        // glibc reads `hh` then stops at the third `h`.
        int_ok("[%hhhd|%llld|%hld]", "int", 3, "[%hd|%ld|%ld]");
        let r = |f: &str, vals: &[i64]| {
            let types = vec!["int"; vals.len()];
            let values: Vec<_> = vals.iter().map(|&v| ArgValue::Int(v as u64)).collect();
            render(f, &types, &values)
        };
        assert_eq!(r("[%*y|%d]", &[7, 3]), "[%7y|3]");
        assert_eq!(r("[%*y|%d]", &[-7, 3]), "[%-7y|3]");
        assert_eq!(r("[%0*y|%d]", &[-7, 3]), "[%-07y|3]");
        assert_eq!(r("[%.*y|%d]", &[-7, 3]), "[%y|3]");
        assert_eq!(r("[%.*y|%d]", &[7, 3]), "[%.7y|3]");
    }

    #[test]
    fn percent_written_and_odd_endings() {
        int_ok("[%5%|%-5%|%ll%|%d%%]", "int", 3, "[%|%|%|3%]");
        // %n prints nothing but takes its (pointer) argument.
        assert_eq!(
            render(
                "[%n|%d]",
                &["void *", "int"],
                &[ArgValue::Int(8), ArgValue::Int(1)]
            ),
            "[|1]"
        );
        // glibc stops at a conversion the format ends in.
        int_ok("%d then %", "int", 3, "3 then ");
        int_ok("%d then %-5", "int", 3, "3 then ");
        int_ok("%d then %-5.2l", "int", 3, "3 then ");
        // After an unknown conversion, a `$`, or a conversion glibc's fast
        // loop lacks (`%hc`), glibc has switched to its loop for
        // positional arguments, which prints an unfinished conversion back
        // as it prints an unknown one.
        int_ok("%y %d %-5.2l", "int", 3, "%y 3 %-5.2");
        int_ok("%y %", "int", 3, "%y %");
        int_ok("%1$d %3", "int", 3, "3 %3");
        int_ok("%hc %-", "int", 0x41, "A %-");
        int_ok("%hhc %-", "int", 0x41, "A ");
        int_ok("%hS %-", "int", 0x41, "<?> %-");
        int_ok("%*1$d %-4", "int", 3, "  3 %-4");
        assert_eq!(
            render(
                "%y %*.*",
                &["int", "int"],
                &[ArgValue::Int(7), ArgValue::Int(8)]
            ),
            "%y %7.8"
        );
        // That loop also prints `q` and `L` integers as `int`s, and `%Lc`
        // as a narrow character.
        let v = ArgValue::Int(0xffff_00ff_0000_0041);
        let t = ["uint64_t"; 3];
        assert_eq!(
            render("%qd|%Lx|%llx", &t, &[v; 3]),
            "-280379760050111|ffff00ff00000041|ffff00ff00000041"
        );
        assert_eq!(
            render("%y %qd|%Lx|%llx", &t, &[v; 3]),
            "%y 65|41|ffff00ff00000041"
        );
        assert_eq!(render("%1$qd|%1$Lc", &t, &[v]), "65|A");
        // A NUL ends the format.
        int_ok("%d\0 %d", "int", 3, "3");
    }

    #[test]
    fn positional_arguments() {
        let types = ["int", "uint64_t", "const char *"];
        let values = [ArgValue::Int(1), ArgValue::Int(0xff), ArgValue::Str(b"s")];
        assert_eq!(
            render("[%2$lx %1$d %3$s %1$x]", &types, &values),
            "[ff 1 s 1]"
        );
        assert_eq!(
            render(
                "[%2$*1$d]",
                &["int", "int"],
                &[ArgValue::Int(5), ArgValue::Int(3)]
            ),
            "[    3]"
        );
        assert_eq!(
            render(
                "[%1$.*2$d]",
                &["int", "int"],
                &[ArgValue::Int(5), ArgValue::Int(3)]
            ),
            "[005]"
        );
        assert_eq!(render("[%4$d]", &types, &values), "[<?>]");
        assert_eq!(
            render("[%99999999999999999999$d]", &types, &values),
            "[<?>]"
        );
        // `%0$d` is not positional: `0` is a flag and `$` unknown.
        assert_eq!(render("[%0$d]", &types, &values), "[%0$d]");
    }

    #[test]
    fn large_literal_fields_are_errors() {
        let max = format!("%{MAX_FIELD}d|%.{MAX_FIELD}d");
        assert!(CFormat::from_bytes(max.as_bytes()).is_ok());
        for f in [
            format!("ab%{}d", MAX_FIELD + 1),
            format!("ab%.{}d", MAX_FIELD + 1),
            "ab%99999999999999999999999d".to_owned(),
        ] {
            let e = CFormat::from_bytes(f.as_bytes()).unwrap_err();
            assert_eq!(e, CFormatError::FieldTooLarge { offset: 2 });
            assert_eq!(
                e.to_string(),
                "the conversion at byte 2 of the format has a field width or precision larger \
                 than 65536"
            );
        }
    }

    #[test]
    fn render_appends_and_is_reusable() {
        let f = CFormat::from_bytes(b"x=%d;").unwrap();
        let types = decls(&["int"]);
        let mut out = b"> ".to_vec();
        for v in [1, 2, 3] {
            f.render(&types, &[ArgValue::Int(v)], &mut out);
        }
        assert_eq!(out, b"> x=1;x=2;x=3;");
    }

    #[test]
    fn arbitrary_formats_never_panic() {
        let alphabet = b"%%%-+ #0'I123*.$hlLqzZjtdiuxXobBcCsSpnmfy\0";
        let types = decls(&[
            "int",
            "const char *",
            "void *",
            "uint64_t",
            "bool",
            "int8_t",
        ]);
        let values = [
            ArgValue::Int(u64::MAX),
            ArgValue::Str(b"s"),
            ArgValue::Int(0),
            ArgValue::Int(1 << 40),
            ArgValue::Int(1),
            ArgValue::Int(0x80),
        ];
        let mut seed: u64 = 0x1234_5678;
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let mut format = Vec::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok(f) = CFormat::from_bytes(&format) {
                out.clear();
                f.render(&types, &values, &mut out);
                f.render(&types[..2], &values[..1], &mut out);
            }
        }
    }
}
