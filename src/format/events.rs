//! The `trace-events` parser: QEMU's event declarations.
//!
//! A QEMU build concatenates every `trace-events` file into
//! `trace-events-all`; a trace can only be decoded against the file of the
//! build that wrote it, because argument types decide the payload layout.
//!
//! ```
//! use simpletrace::format::events::{ArgKind, TraceEvents};
//!
//! let text = b"# block layer\n\
//!     disable bdrv_open(void *bs, const char *filename, int flags) \"bs %p file %s flags 0x%x\"\n\
//!     vm_stop(void) \"\"\n";
//! let events = TraceEvents::parse("trace-events", text)?;
//! let open = events.by_name(b"bdrv_open").unwrap();
//! assert!(open.is_disabled());
//! assert_eq!(open.args[1].name, "filename");
//! assert_eq!(open.args[1].kind, ArgKind::String);
//! assert_eq!(events.len(), 2);
//! # Ok::<(), simpletrace::format::events::EventsError>(())
//! ```
//!
//! API structure:
//! - [`TraceEvents`]: every declaration of one file, by position and by name.
//! - [`EventDecl`]: one declaration; [`ArgDecl`] and [`ArgKind`] for its
//!   arguments; [`FormatString`] for its format.
//! - [`EventsError`]: a fault with its file and line.

use core::fmt;
use std::collections::HashMap;

/// The most arguments an event may declare.
pub const MAX_ARGS: usize = 10;

/// The C base types a declaration may use (besides `const` and `*`).
const ALLOWED_TYPE_WORDS: &[&str] = &[
    "int",
    "long",
    "short",
    "char",
    "bool",
    "unsigned",
    "signed",
    "int8_t",
    "uint8_t",
    "int16_t",
    "uint16_t",
    "int32_t",
    "uint32_t",
    "int64_t",
    "uint64_t",
    "void",
    "size_t",
    "ssize_t",
    "uintptr_t",
    "ptrdiff_t",
];

/// How an argument is stored in a trace record and what C type it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A C string: u32 length then the bytes.
    String,
    /// Any other pointer: one u64 holding the address.
    Pointer,
    /// A C `bool`: one u64 holding 0 or 1.
    Bool,
    /// An integer: one u64, sign-extended when `signed`.
    Int {
        /// Whether the C type is signed.
        signed: bool,
        /// The C type's width in bits (LP64: `long` is 64).
        bits: u8,
    },
}

impl ArgKind {
    /// Classifies a declared C type the way QEMU's simple backend stores it.
    pub fn of_type(ty: &str) -> ArgKind {
        if is_string_type(ty) {
            return ArgKind::String;
        }
        if ty.contains('*') {
            return ArgKind::Pointer;
        }
        let words: Vec<&str> = ty
            .split_ascii_whitespace()
            .filter(|w| *w != "const")
            .collect();
        let has = |w: &str| words.contains(&w);
        let longs = words.iter().filter(|w| **w == "long").count();
        let (signed, bits) = match words.as_slice() {
            ["bool"] => return ArgKind::Bool,
            ["int8_t"] => (true, 8),
            ["uint8_t"] => (false, 8),
            ["int16_t"] => (true, 16),
            ["uint16_t"] => (false, 16),
            ["int32_t"] => (true, 32),
            ["uint32_t"] => (false, 32),
            ["int64_t"] | ["ssize_t"] | ["ptrdiff_t"] => (true, 64),
            ["uint64_t"] | ["size_t"] | ["uintptr_t"] => (false, 64),
            _ => {
                let unsigned = has("unsigned");
                let bits = if has("char") {
                    8
                } else if has("short") {
                    16
                } else if longs > 0 {
                    64
                } else {
                    32
                };
                // Plain `char` is signed on the hosts QEMU traces come from
                // (x86-64); `unsigned char` is not.
                (!unsigned, bits)
            }
        };
        ArgKind::Int { signed, bits }
    }
}

/// Whether QEMU's simple backend records a C type as a string: the type,
/// left-trimmed, starts with `const char*`, `char*`, `const char *` or
/// `char *`, and has exactly one `*`.
pub fn is_string_type(ty: &str) -> bool {
    let t = ty.trim_start();
    let prefixed = ["const char*", "char*", "const char *", "char *"]
        .iter()
        .any(|p| t.starts_with(p));
    prefixed && t.bytes().filter(|&b| b == b'*').count() == 1
}

/// One declared argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The C type as written (`const char *`, `uint64_t`, `void *`).
    pub ty: String,
    /// The argument name.
    pub name: String,
    /// How the argument is stored and interpreted.
    pub kind: ArgKind,
}

/// A piece of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatPiece {
    /// The contents of a quoted C string literal, escapes resolved.
    Literal(String),
    /// A macro between literals, e.g. `PRIx64`.
    Macro(String),
}

/// An event's format string as declared: quoted C literals with
/// `PRIx64`-style macros between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatString {
    /// The text as written, quotes and macros included.
    pub raw: String,
    /// The literals (unescaped) and macros in order.
    pub pieces: Vec<FormatPiece>,
}

/// Event properties (the words before the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Properties {
    /// `disable`: compiled out of the QEMU binary.
    pub disable: bool,
    /// `vcpu`: the event concerns a virtual CPU.
    pub vcpu: bool,
    /// `tcg` (older QEMU): a TCG event with translation and execution
    /// formats.
    pub tcg: bool,
}

/// One event declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDecl {
    /// The event name.
    pub name: String,
    /// Its position among the declarations of the file (0-based), which is
    /// its id in traces without mapping records.
    pub position: usize,
    /// The 1-based line of the declaration.
    pub line: u32,
    /// Properties.
    pub properties: Properties,
    /// Declared arguments, in record order.
    pub args: Vec<ArgDecl>,
    /// The format string (the execution-time one for `tcg` events); `None`
    /// when the declaration has none.
    pub format: Option<FormatString>,
    /// The translation-time format of a two-format `tcg` declaration.
    pub tcg_trans_format: Option<FormatString>,
}

impl EventDecl {
    /// Whether the event carries the `disable` property.
    pub fn is_disabled(&self) -> bool {
        self.properties.disable
    }

    /// Whether this is the pseudo declaration of dropped-events records
    /// ([`TraceEvents::dropped`]).
    pub fn is_dropped_pseudo(&self) -> bool {
        self.position == DROPPED_POSITION
    }

    /// The position of the argument called `name`.
    pub fn arg_position(&self, name: &str) -> Option<usize> {
        self.args.iter().position(|a| a.name == name)
    }
}

/// What is wrong with a trace-events line.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsErrorKind {
    /// The file is not UTF-8 text.
    NotUtf8,
    /// The last line has no final newline.
    MissingFinalNewline,
    /// The line is not of the form `[PROPERTIES] NAME(ARGS) ["FORMAT"]`.
    Syntax(&'static str),
    /// A property word QEMU does not know.
    UnknownProperty(String),
    /// An empty argument (`foo()` or `a, , b`).
    EmptyArgument,
    /// An argument without a name.
    UnnamedArgument(String),
    /// An argument name that is not a C identifier.
    BadArgumentName(String),
    /// A type outside the standard C integer types and pointers to them.
    DisallowedType(String),
    /// More than [`MAX_ARGS`] arguments.
    TooManyArguments(usize),
    /// A format string that is not a sequence of C string literals and
    /// macros.
    BadFormat(&'static str),
    /// A format uses `%m`.
    PercentM,
    /// A format contains a newline escape.
    NewlineInFormat,
}

/// A fault in a trace-events file, with its file name and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsError {
    /// The file name as given to [`TraceEvents::parse`].
    pub file: String,
    /// The 1-based line (0 when the fault concerns the whole file).
    pub line: u32,
    /// What is wrong.
    pub kind: EventsErrorKind,
}

impl fmt::Display for EventsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}: ", self.file, self.line)?;
        }
        match &self.kind {
            EventsErrorKind::NotUtf8 => f.write_str("the trace-events file is not UTF-8 text"),
            EventsErrorKind::MissingFinalNewline => {
                f.write_str("the last line does not end with a newline")
            }
            EventsErrorKind::Syntax(what) => write!(
                f,
                "not an event declaration ({what}); expected [PROPERTIES] NAME(ARGS) [\"FORMAT\"]"
            ),
            EventsErrorKind::UnknownProperty(p) => {
                write!(f, "unknown property '{p}' (known: disable, vcpu, tcg)")
            }
            EventsErrorKind::EmptyArgument => {
                f.write_str("empty argument (an event without arguments is declared NAME(void))")
            }
            EventsErrorKind::UnnamedArgument(a) => write!(f, "argument '{a}' has no name"),
            EventsErrorKind::BadArgumentName(n) => {
                write!(f, "argument name '{n}' is not a C identifier")
            }
            EventsErrorKind::DisallowedType(t) => write!(
                f,
                "type '{t}' is not allowed: use standard C integer types, fixed-size intN_t types, \
                 or 'void *' for other pointers"
            ),
            EventsErrorKind::TooManyArguments(n) => {
                write!(f, "{n} arguments declared, at most {MAX_ARGS} are allowed")
            }
            EventsErrorKind::BadFormat(what) => write!(f, "bad format string: {what}"),
            EventsErrorKind::PercentM => f.write_str(
                "the format uses '%m', which is not allowed: pass the error as an argument",
            ),
            EventsErrorKind::NewlineInFormat => {
                f.write_str("the format contains a newline ('\\n'), which is not allowed")
            }
        }
    }
}

impl std::error::Error for EventsError {}

/// The parsed declarations of one trace-events file.
#[derive(Debug, Clone)]
pub struct TraceEvents {
    decls: Vec<EventDecl>,
    by_name: HashMap<String, usize>,
    dropped: EventDecl,
}

/// The [`EventDecl::position`] of the dropped-events pseudo declaration.
pub const DROPPED_POSITION: usize = usize::MAX;

/// The event name under which traces refer to dropped-events records.
pub const DROPPED_MAPPING_NAME: &str = "dropped";

/// The name dropped-events records print under.
pub const DROPPED_EVENT_NAME: &str = "Dropped_Event";

impl TraceEvents {
    /// Parses a trace-events file. `file` names it in error messages.
    pub fn parse(file: &str, text: &[u8]) -> Result<TraceEvents, EventsError> {
        let err = |line: u32, kind| EventsError {
            file: file.to_owned(),
            line,
            kind,
        };
        let text = core::str::from_utf8(text).map_err(|e| {
            let line = text[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            err(
                u32::try_from(line).unwrap_or(u32::MAX),
                EventsErrorKind::NotUtf8,
            )
        })?;
        let mut decls = Vec::new();
        let mut by_name = HashMap::new();
        let mut rest = text;
        let mut line_no: u32 = 0;
        while !rest.is_empty() {
            line_no = line_no.saturating_add(1);
            let (line, more) = match rest.find('\n') {
                Some(nl) => (&rest[..nl], &rest[nl + 1..]),
                None => return Err(err(line_no, EventsErrorKind::MissingFinalNewline)),
            };
            rest = more;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut decl = parse_declaration(trimmed).map_err(|kind| err(line_no, kind))?;
            decl.line = line_no;
            decl.position = decls.len();
            // A later declaration of the same name wins, as in QEMU's tool.
            by_name.insert(decl.name.clone(), decls.len());
            decls.push(decl);
        }
        Ok(TraceEvents {
            decls,
            by_name,
            dropped: dropped_decl(),
        })
    }

    /// The number of declarations.
    pub fn len(&self) -> usize {
        self.decls.len()
    }

    /// Whether the file declares nothing.
    pub fn is_empty(&self) -> bool {
        self.decls.is_empty()
    }

    /// The declaration at `position`.
    pub fn get(&self, position: usize) -> Option<&EventDecl> {
        self.decls.get(position)
    }

    /// All declarations in file order.
    pub fn iter(&self) -> core::slice::Iter<'_, EventDecl> {
        self.decls.iter()
    }

    /// The declaration a trace's event name refers to. The name
    /// `dropped` always means the dropped-events pseudo event.
    pub fn by_name(&self, name: &[u8]) -> Option<&EventDecl> {
        if name == DROPPED_MAPPING_NAME.as_bytes() {
            return Some(&self.dropped);
        }
        let name = core::str::from_utf8(name).ok()?;
        self.by_name.get(name).and_then(|&i| self.decls.get(i))
    }

    /// The pseudo declaration of dropped-events records:
    /// `Dropped_Event(uint64_t num_events_dropped)`.
    pub fn dropped(&self) -> &EventDecl {
        &self.dropped
    }
}

impl<'a> IntoIterator for &'a TraceEvents {
    type Item = &'a EventDecl;
    type IntoIter = core::slice::Iter<'a, EventDecl>;
    fn into_iter(self) -> Self::IntoIter {
        self.decls.iter()
    }
}

fn dropped_decl() -> EventDecl {
    EventDecl {
        name: DROPPED_EVENT_NAME.to_owned(),
        position: DROPPED_POSITION,
        line: 0,
        properties: Properties::default(),
        args: vec![ArgDecl {
            ty: "uint64_t".to_owned(),
            name: "num_events_dropped".to_owned(),
            kind: ArgKind::Int {
                signed: false,
                bits: 64,
            },
        }],
        format: None,
        tcg_trans_format: None,
    }
}

/// Whether `s` is an identifier as event and argument names are: ASCII
/// letters, digits and `_`, at least one.
pub(super) fn is_ident(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses one non-blank, non-comment line, already trimmed.
fn parse_declaration(line: &str) -> Result<EventDecl, EventsErrorKind> {
    use EventsErrorKind::*;
    let open = line
        .find('(')
        .ok_or(Syntax("no '(' after the event name"))?;
    let head = &line[..open];
    if head.ends_with(|c: char| c.is_whitespace()) {
        return Err(Syntax("space between the event name and '('"));
    }
    let mut words: Vec<&str> = head.split_whitespace().collect();
    let name = words.pop().ok_or(Syntax("no event name before '('"))?;
    if !is_ident(name.as_bytes()) {
        return Err(Syntax("the event name is not a C identifier"));
    }
    let mut properties = Properties::default();
    for word in words {
        match word {
            "disable" => properties.disable = true,
            "vcpu" => properties.vcpu = true,
            "tcg" => properties.tcg = true,
            other => return Err(UnknownProperty(other.to_owned())),
        }
    }
    let after_open = &line[open + 1..];
    let close = after_open
        .find(')')
        .ok_or(Syntax("no ')' closing the argument list"))?;
    let args = parse_args(&after_open[..close])?;
    let (trans, format) = parse_formats(after_open[close + 1..].trim())?;
    for f in trans.iter().chain(format.iter()) {
        if f.raw.contains("%m") {
            return Err(PercentM);
        }
    }
    if let Some(f) = &format
        && f.raw.contains("\\n")
    {
        return Err(NewlineInFormat);
    }
    Ok(EventDecl {
        name: name.to_owned(),
        position: 0,
        line: 0,
        properties,
        args,
        format,
        tcg_trans_format: trans,
    })
}

fn parse_args(list: &str) -> Result<Vec<ArgDecl>, EventsErrorKind> {
    use EventsErrorKind::*;
    let mut args = Vec::new();
    for arg in list.split(',') {
        let arg = arg.trim();
        if arg.is_empty() {
            return Err(EmptyArgument);
        }
        if arg == "void" {
            continue;
        }
        let (ty, name) = match arg.rfind('*') {
            Some(star) => (&arg[..=star], arg[star + 1..].trim()),
            None => match arg.rsplit_once(char::is_whitespace) {
                Some((ty, name)) => (ty.trim_end(), name),
                None => return Err(UnnamedArgument(arg.to_owned())),
            },
        };
        if name.is_empty() {
            return Err(UnnamedArgument(arg.to_owned()));
        }
        if !is_ident(name.as_bytes()) {
            return Err(BadArgumentName(name.to_owned()));
        }
        validate_type(ty)?;
        args.push(ArgDecl {
            ty: ty.to_owned(),
            name: name.to_owned(),
            kind: ArgKind::of_type(ty),
        });
    }
    if args.len() > MAX_ARGS {
        return Err(TooManyArguments(args.len()));
    }
    Ok(args)
}

fn validate_type(ty: &str) -> Result<(), EventsErrorKind> {
    let mut base_words = 0;
    for word in ty.split(|c: char| c.is_whitespace() || c == '*') {
        if word.is_empty() || word == "const" {
            continue;
        }
        if !ALLOWED_TYPE_WORDS.contains(&word) {
            return Err(EventsErrorKind::DisallowedType(ty.to_owned()));
        }
        base_words += 1;
    }
    if base_words == 0 {
        return Err(EventsErrorKind::DisallowedType(ty.to_owned()));
    }
    Ok(())
}

/// Splits the text after `)` into the optional translation-time format and
/// the format: literals and macros, with one top-level comma in the older
/// two-format `tcg` form.
#[allow(clippy::type_complexity)]
fn parse_formats(
    text: &str,
) -> Result<(Option<FormatString>, Option<FormatString>), EventsErrorKind> {
    use EventsErrorKind::BadFormat;
    if text.is_empty() {
        return Ok((None, None));
    }
    if !text.starts_with('"') {
        return Err(BadFormat("it must start with '\"'"));
    }
    let mut formats: Vec<FormatString> = Vec::with_capacity(2);
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let (lit, end) = parse_literal(text, i)?;
                pieces.push(FormatPiece::Literal(lit));
                i = end;
            }
            b',' => {
                if pieces.is_empty() {
                    return Err(BadFormat("empty format before ','"));
                }
                if !formats.is_empty() {
                    return Err(BadFormat("more than two comma-separated formats"));
                }
                formats.push(FormatString {
                    raw: text[start..i].trim_end().to_owned(),
                    pieces: core::mem::take(&mut pieces),
                });
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) != Some(&b'"') {
                    return Err(BadFormat("the second format must start with '\"'"));
                }
                start = i;
            }
            b if b.is_ascii_whitespace() => i += 1,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(text.len(), |n| i + n);
                pieces.push(FormatPiece::Macro(text[i..end].to_owned()));
                i = end;
            }
            _ => return Err(BadFormat("expected a quoted string or a PRI macro")),
        }
    }
    if pieces.is_empty() {
        return Err(BadFormat("empty format after ','"));
    }
    formats.push(FormatString {
        raw: text[start..].trim_end().to_owned(),
        pieces,
    });
    let format = formats.pop();
    Ok((formats.pop(), format))
}

/// Parses the C string literal starting at the quote at `start`; returns its
/// unescaped contents and the index after the closing quote.
fn parse_literal(text: &str, start: usize) -> Result<(String, usize), EventsErrorKind> {
    use EventsErrorKind::BadFormat;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or(BadFormat("unterminated string"))?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '0'..='7' => {
                        let mut v = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.clone().next() {
                                Some((_, d @ '0'..='7')) => {
                                    v = v * 8 + d.to_digit(8).unwrap_or(0);
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    'x' => {
                        let mut v = 0u32;
                        let mut digits = 0;
                        while let Some((_, d)) = chars.clone().next() {
                            match d.to_digit(16) {
                                Some(x) if digits < 2 => {
                                    v = v * 16 + x;
                                    digits += 1;
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        if digits == 0 {
                            return Err(BadFormat("'\\x' without hex digits"));
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    Err(BadFormat("unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TraceEvents, EventsError> {
        TraceEvents::parse("t", text.as_bytes())
    }

    fn kind_of(text: &str) -> EventsErrorKind {
        match parse(text) {
            Err(e) => e.kind,
            Ok(_) => panic!("{text:?} parsed"),
        }
    }

    #[test]
    fn declaration_with_everything() {
        let ev = parse(
            "# comment\n\n   # indented comment\n\
             disable vcpu foo(const char *name, void *opaque, uint64_t off, int ret) \"n %s o %p off 0x%\" PRIx64 \" ret %d\"\n",
        )
        .unwrap();
        let d = ev.get(0).unwrap();
        assert_eq!(d.name, "foo");
        assert_eq!(d.line, 4);
        assert!(d.properties.disable && d.properties.vcpu && !d.properties.tcg);
        let kinds: Vec<_> = d
            .args
            .iter()
            .map(|a| (a.ty.as_str(), a.name.as_str(), a.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("const char *", "name", ArgKind::String),
                ("void *", "opaque", ArgKind::Pointer),
                (
                    "uint64_t",
                    "off",
                    ArgKind::Int {
                        signed: false,
                        bits: 64
                    }
                ),
                (
                    "int",
                    "ret",
                    ArgKind::Int {
                        signed: true,
                        bits: 32
                    }
                ),
            ]
        );
        let f = d.format.as_ref().unwrap();
        assert_eq!(f.raw, "\"n %s o %p off 0x%\" PRIx64 \" ret %d\"");
        assert_eq!(
            f.pieces,
            [
                FormatPiece::Literal("n %s o %p off 0x%".into()),
                FormatPiece::Macro("PRIx64".into()),
                FormatPiece::Literal(" ret %d".into()),
            ]
        );
    }

    #[test]
    fn void_and_no_format() {
        let ev = parse("a(void)\nb(void) \"\"\n").unwrap();
        assert!(ev.get(0).unwrap().args.is_empty());
        assert_eq!(ev.get(0).unwrap().format, None);
        assert_eq!(ev.get(1).unwrap().format.as_ref().unwrap().raw, "\"\"");
    }

    #[test]
    fn string_detection() {
        for (ty, s) in [
            ("const char *", true),
            ("const char*", true),
            ("char *", true),
            ("char*", true),
            ("  const char *", true),
            ("const char **", false),
            ("char **", false),
            ("unsigned char *", false),
            ("const uint8_t *", false),
            ("void *", false),
        ] {
            assert_eq!(is_string_type(ty), s, "{ty}");
        }
    }

    #[test]
    fn integer_kinds() {
        let k = |t| ArgKind::of_type(t);
        assert_eq!(
            k("unsigned"),
            ArgKind::Int {
                signed: false,
                bits: 32
            }
        );
        assert_eq!(
            k("unsigned long long"),
            ArgKind::Int {
                signed: false,
                bits: 64
            }
        );
        assert_eq!(
            k("long"),
            ArgKind::Int {
                signed: true,
                bits: 64
            }
        );
        assert_eq!(
            k("short"),
            ArgKind::Int {
                signed: true,
                bits: 16
            }
        );
        assert_eq!(
            k("unsigned char"),
            ArgKind::Int {
                signed: false,
                bits: 8
            }
        );
        assert_eq!(
            k("const int"),
            ArgKind::Int {
                signed: true,
                bits: 32
            }
        );
        assert_eq!(k("bool"), ArgKind::Bool);
        assert_eq!(
            k("ssize_t"),
            ArgKind::Int {
                signed: true,
                bits: 64
            }
        );
        assert_eq!(k("const uint8_t *"), ArgKind::Pointer);
    }

    #[test]
    fn tcg_two_formats() {
        let ev = parse(
            "tcg guest_mem(void *cpu, uint64_t vaddr) \"cpu=%p\", \"cpu=%p vaddr=0x%\" PRIx64\n",
        )
        .unwrap();
        let d = ev.get(0).unwrap();
        assert!(d.properties.tcg);
        assert_eq!(d.tcg_trans_format.as_ref().unwrap().raw, "\"cpu=%p\"");
        assert_eq!(
            d.format.as_ref().unwrap().raw,
            "\"cpu=%p vaddr=0x%\" PRIx64"
        );
    }

    #[test]
    fn escapes_and_commas_inside_literals() {
        let ev = parse("e(int a) \"a=%d, \\\"q\\\"\\t\\\\ \\x41\\101\"\n").unwrap();
        let d = ev.get(0).unwrap();
        assert!(d.tcg_trans_format.is_none());
        assert_eq!(
            d.format.as_ref().unwrap().pieces,
            [FormatPiece::Literal("a=%d, \"q\"\t\\ AA".into())]
        );
    }

    #[test]
    fn crlf_lines() {
        let ev = parse("a(int x) \"%d\"\r\nb(void)\r\n").unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev.get(0).unwrap().format.as_ref().unwrap().raw, "\"%d\"");
    }

    #[test]
    fn later_declaration_wins_by_name() {
        let ev = parse("a(int x)\na(int x, int y)\n").unwrap();
        assert_eq!(ev.by_name(b"a").unwrap().args.len(), 2);
        assert_eq!(ev.get(0).unwrap().position, 0);
        assert_eq!(ev.get(1).unwrap().position, 1);
    }

    #[test]
    fn dropped_name() {
        let ev = parse("dropped(int x)\n").unwrap();
        assert_eq!(ev.by_name(b"dropped").unwrap().name, "Dropped_Event");
        assert!(ev.by_name(b"\xff").is_none());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("a(void)\n\nfoo bar(void)\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.kind, EventsErrorKind::UnknownProperty("foo".into()));
        assert_eq!(
            e.to_string(),
            "t:3: unknown property 'foo' (known: disable, vcpu, tcg)"
        );
    }

    #[test]
    fn every_error_kind() {
        use EventsErrorKind::*;
        assert_eq!(kind_of("a(void)"), MissingFinalNewline);
        assert_eq!(kind_of("# only a comment"), MissingFinalNewline);
        assert_eq!(kind_of("a()\n"), EmptyArgument);
        assert_eq!(kind_of("a(int x, , int y)\n"), EmptyArgument);
        assert_eq!(kind_of("a(int x,)\n"), EmptyArgument);
        assert_eq!(kind_of("a(int)\n"), UnnamedArgument("int".into()));
        assert_eq!(kind_of("a(void *)\n"), UnnamedArgument("void *".into()));
        assert_eq!(kind_of("a(int x-y)\n"), BadArgumentName("x-y".into()));
        assert_eq!(
            kind_of("a(struct foo *p)\n"),
            DisallowedType("struct foo *".into())
        );
        assert_eq!(
            kind_of("a(uint128_t x)\n"),
            DisallowedType("uint128_t".into())
        );
        assert_eq!(kind_of("a(const *x)\n"), DisallowedType("const *".into()));
        let eleven = (0..11)
            .map(|i| format!("int a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(kind_of(&format!("a({eleven})\n")), TooManyArguments(11));
        let ten = (0..10)
            .map(|i| format!("int a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(parse(&format!("a({ten})\n")).is_ok());
        assert!(matches!(kind_of("a int x\n"), Syntax(_)));
        assert!(matches!(kind_of("a (int x)\n"), Syntax(_)));
        assert!(matches!(kind_of("(int x)\n"), Syntax(_)));
        assert!(matches!(kind_of("a-b(int x)\n"), Syntax(_)));
        assert!(matches!(kind_of("a(int x\n"), Syntax(_)));
        assert!(matches!(kind_of("a(int x) \"unterminated\n"), BadFormat(_)));
        assert!(matches!(kind_of("a(int x) junk\n"), BadFormat(_)));
        assert!(matches!(kind_of("a(int x) \"%d\" ; \n"), BadFormat(_)));
        assert!(matches!(kind_of("a(int x) \"%d\",\n"), BadFormat(_)));
        assert!(matches!(
            kind_of("a(int x) \"a\", \"b\", \"c\"\n"),
            BadFormat(_)
        ));
        assert_eq!(kind_of("a(int x) \"err %m\"\n"), PercentM);
        assert_eq!(kind_of("tcg a(int x) \"%m\", \"%d\"\n"), PercentM);
        assert_eq!(kind_of("a(int x) \"%d\\n\"\n"), NewlineInFormat);
        assert_eq!(kind_of("a(int x) \"%d\\n more\"\n"), NewlineInFormat);
        assert_eq!(
            TraceEvents::parse("t", b"a(void)\nb(int \xff)\n").unwrap_err(),
            EventsError {
                file: "t".into(),
                line: 2,
                kind: NotUtf8
            }
        );
    }

    #[test]
    fn empty_file_is_fine() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n# x\n").unwrap().is_empty());
    }
}
