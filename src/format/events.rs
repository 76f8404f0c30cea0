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
//! - [`EventDecl`]: one event; [`ArgDecl`] and [`ArgKind`] for its
//!   arguments; [`FormatString`] for its format; [`TcgHalf`] for which of
//!   the two events of an (older QEMU's) `tcg` declaration it is.
//! - [`EventsError`]: a fault with its file and line.

use core::fmt;
use std::collections::HashMap;

use super::excerpt::Excerpt;

/// The most arguments an event may declare (QEMU's tracetool refuses more).
pub const MAX_ARGS: usize = 10;

/// The most arguments an event's records carry: [`MAX_ARGS`] declared,
/// plus the implicit first argument of a `vcpu` event
/// ([`VCPU_ARG_NAME`]).
pub const MAX_EVENT_ARGS: usize = MAX_ARGS + 1;

/// The name of the implicit first argument of a `vcpu` event: QEMU 2.8 to
/// 8.0 recorded the vCPU (a `CPUState` pointer) before the declared
/// arguments.
pub const VCPU_ARG_NAME: &str = "__cpu";

/// The type of the implicit `vcpu` argument, as QEMU's tracetool declared
/// it from 2020 on (earlier, `CPUState *`; both are pointers).
pub const VCPU_ARG_TYPE: &str = "void *";

/// The literal QEMU's tracetool put before the format of a `vcpu` event,
/// for the implicit argument.
pub const VCPU_FORMAT_PREFIX: &str = "cpu=%p ";

/// The most events a trace-events file may declare (a `tcg` declaration
/// counts two). QEMU 10's largest `trace-events-all` declares about 5,800;
/// the bound keeps the memory a hostile file (within the 16 MiB text bound)
/// takes to tens of megabytes (see `docs/robustness.md`).
pub const MAX_EVENTS: usize = 32_768;

/// The most format pieces (quoted literals and macros) the formats of a
/// trace-events file may have in all, for the same reason as
/// [`MAX_EVENTS`]: each costs a few dozen bytes, from two bytes of text.
/// QEMU 10's largest `trace-events-all` has about 11,400.
pub const MAX_FILE_FORMAT_PIECES: usize = 262_144;

/// The suffixes of the two events a `tcg` declaration makes.
pub const TCG_TRANS_SUFFIX: &str = "_trans";
/// See [`TCG_TRANS_SUFFIX`].
pub const TCG_EXEC_SUFFIX: &str = "_exec";

/// The most pieces (quoted literals and macros) a format string may have;
/// QEMU's formats have at most a few dozen.
pub const MAX_FORMAT_PIECES: usize = 256;

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

/// TCG's types, which older QEMU's tracetool allowed (as the type word
/// `TCGv`; any type before QEMU 5.2 checked them) and, in a `tcg`
/// declaration, replaced by host types in the execution-time event
/// ([`tcg_to_host`]). In C they are pointers (to TCG's opaque values).
const TCG_TYPE_WORDS: &[&str] = &["TCGv", "TCGv_i32", "TCGv_i64", "TCGv_ptr", "TCGv_env"];

/// The host type tracetool gave a `tcg` event's argument of type `ty` in
/// its execution-time event, when it changes it (its `TCG_2_HOST` table,
/// which compares whole types): `TCGv_i32`, `TCGv_i64`, `TCGv_ptr` and
/// `TCGv` (a target-sized value, recorded as 64 bits). The
/// translation-time event keeps only the arguments whose type stays.
pub fn tcg_to_host(ty: &str) -> Option<&'static str> {
    match ty {
        "TCGv_i32" => Some("uint32_t"),
        "TCGv_i64" | "TCGv" => Some("uint64_t"),
        "TCGv_ptr" => Some("void *"),
        _ => None,
    }
}

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
        if ty.contains('*') || ty.split(' ').any(|w| TCG_TYPE_WORDS.contains(&w)) {
            return ArgKind::Pointer;
        }
        // Walked, not collected: a type can be as long as its line.
        let words = || ty.split_ascii_whitespace().filter(|w| *w != "const");
        let has = |w: &str| words().any(|x| x == w);
        let mut it = words();
        let only = match (it.next(), it.next()) {
            (Some(w), None) => Some(w),
            _ => None,
        };
        let (signed, bits) = match only {
            Some("bool") => return ArgKind::Bool,
            Some("int8_t") => (true, 8),
            Some("uint8_t") => (false, 8),
            Some("int16_t") => (true, 16),
            Some("uint16_t") => (false, 16),
            Some("int32_t") => (true, 32),
            Some("uint32_t") => (false, 32),
            Some("int64_t" | "ssize_t" | "ptrdiff_t") => (true, 64),
            Some("uint64_t" | "size_t" | "uintptr_t") => (false, 64),
            _ => {
                let unsigned = has("unsigned");
                let bits = if has("char") {
                    8
                } else if has("short") {
                    16
                } else if has("long") {
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
    /// Which of the two events of a `tcg` declaration this is (older
    /// QEMU): tracetool replaced each such declaration by two events.
    pub tcg: Option<TcgHalf>,
}

/// One of the two events QEMU's tracetool made of a `tcg` declaration
/// `NAME(ARGS) "TRANS", "EXEC"`, in this order, each with its own position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcgHalf {
    /// `NAME_trans`, recorded when TCG translates the code: the first
    /// format, and only the arguments whose type is no TCG value
    /// ([`tcg_to_host`] leaves it as it is).
    Trans,
    /// `NAME_exec`, recorded when the translated code runs: the second
    /// format, and every argument, TCG types replaced by host types
    /// ([`tcg_to_host`]).
    Exec,
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
    /// The format string (for the events of a `tcg` declaration, the
    /// first or the second one, [`TcgHalf`]); `None` when the declaration
    /// has none, or one that does not parse ([`EventDecl::format_error`]).
    /// A `vcpu` event's starts with [`VCPU_FORMAT_PREFIX`], as QEMU's
    /// tracetool made it.
    pub format: Option<FormatString>,
    /// Why the text after the argument list, which starts with a quote, is
    /// not a format string (quoted C literals and `PRIx64`-style macros):
    /// QEMU's tracetool takes that text as it stands, and only its `log`
    /// backends ever compile it, so the declaration is read all the same;
    /// rendering its message (`print --format log`) fails with this.
    pub format_error: Option<&'static str>,
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
    UnknownProperty(Excerpt),
    /// An empty argument (`foo()` or `a, , b`).
    EmptyArgument,
    /// An argument without a name.
    UnnamedArgument(Excerpt),
    /// An argument name that is not made of ASCII letters, digits and `_`
    /// (after `*`, optionally preceded by qualifiers: `const name`).
    BadArgumentName(Excerpt),
    /// A type outside the standard C integer types and pointers to them.
    DisallowedType(Excerpt),
    /// More than [`MAX_ARGS`] arguments: how many the declaration lists.
    TooManyArguments(usize),
    /// A `vcpu tcg` declaration of 10 arguments: each of its two events
    /// would carry 11 with the vCPU, which QEMU's tracetool refused; how
    /// many the declaration lists.
    TooManyVcpuTcgArguments(usize),
    /// A `tcg` declaration without two formats (`NAME(ARGS) "TRANS",
    /// "EXEC"`).
    TcgWithoutTwoFormats,
    /// Two formats (`"A", "B"`) on a declaration without `tcg`.
    TwoFormatsWithoutTcg,
    /// More than [`MAX_EVENTS`] events: the file is no trace-events file of
    /// QEMU (or a hostile one).
    TooManyEvents,
    /// More than [`MAX_FILE_FORMAT_PIECES`] format pieces in the file.
    TooManyFormatPieces,
    /// A format string that is not a sequence of C string literals and
    /// macros. Not produced by [`TraceEvents::parse`], which reads such a
    /// declaration as QEMU's tracetool does ([`EventDecl::format_error`]).
    BadFormat(&'static str),
    /// A format uses `%m`. Not produced: QEMU's tracetool refuses it now,
    /// but older declarations can have it, and it only matters to `log`.
    PercentM,
    /// A format contains a newline escape. Not produced: QEMU's tracetool
    /// refuses it since QEMU 9.1 (at the end of a format, long before), but
    /// older declarations can have it, and it only matters to `log`.
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
                write!(f, "unknown property {p} (known: disable, vcpu, tcg)")
            }
            EventsErrorKind::EmptyArgument => {
                f.write_str("empty argument (an event without arguments is declared NAME(void))")
            }
            EventsErrorKind::UnnamedArgument(a) => write!(f, "argument {a} has no name"),
            EventsErrorKind::BadArgumentName(n) => {
                write!(
                    f,
                    "argument name {n} is not made of ASCII letters, digits and '_'"
                )
            }
            EventsErrorKind::DisallowedType(t) => write!(
                f,
                "type {t} is not allowed: use standard C integer types, fixed-size intN_t types, \
                 or 'void *' for other pointers (words separated by single spaces)"
            ),
            EventsErrorKind::TooManyArguments(n) => {
                write!(f, "{n} arguments declared, at most {MAX_ARGS} are allowed")
            }
            EventsErrorKind::TooManyVcpuTcgArguments(n) => write!(
                f,
                "{n} arguments declared, at most {} are allowed in a 'vcpu tcg' event \
                 (its two events carry the vCPU too, and at most {MAX_ARGS} arguments)",
                MAX_ARGS - 1
            ),
            EventsErrorKind::TcgWithoutTwoFormats => f.write_str(
                "a 'tcg' event needs two formats, for translation and execution: \
                 NAME(ARGS) \"TRANS\", \"EXEC\"",
            ),
            EventsErrorKind::TwoFormatsWithoutTcg => {
                f.write_str("two formats, but only a 'tcg' event can have two")
            }
            EventsErrorKind::TooManyEvents => write!(
                f,
                "more than {MAX_EVENTS} events declared (QEMU's trace-events-all has about \
                 6,000): is it a trace-events file?"
            ),
            EventsErrorKind::TooManyFormatPieces => write!(
                f,
                "more than {MAX_FILE_FORMAT_PIECES} format pieces (quoted literals and macros) \
                 in the file (QEMU's trace-events-all has about 12,000): is it a trace-events \
                 file?"
            ),
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
    ///
    /// Lines end at `\n`, `\r\n` or `\r`, as Python's text mode reads
    /// them for QEMU's tools.
    pub fn parse(file: &str, text: &[u8]) -> Result<TraceEvents, EventsError> {
        let err = |line: usize, kind| EventsError {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            kind,
        };
        let text = core::str::from_utf8(text).map_err(|e| {
            let before = text.get(..e.valid_up_to()).unwrap_or_default();
            err(count_line_ends(before) + 1, EventsErrorKind::NotUtf8)
        })?;
        let mut decls = Vec::new();
        let mut by_name = HashMap::new();
        let mut rest = text;
        let mut line_no: usize = 0;
        let mut pieces: usize = 0;
        while !rest.is_empty() {
            line_no += 1;
            let Some((line, more)) = split_line(rest) else {
                return Err(err(line_no, EventsErrorKind::MissingFinalNewline));
            };
            rest = more;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (first, second) = parse_declaration(line).map_err(|kind| err(line_no, kind))?;
            for mut decl in core::iter::once(first).chain(second) {
                if decls.len() == MAX_EVENTS {
                    return Err(err(line_no, EventsErrorKind::TooManyEvents));
                }
                pieces += decl.format.as_ref().map_or(0, |f| f.pieces.len());
                if pieces > MAX_FILE_FORMAT_PIECES {
                    return Err(err(line_no, EventsErrorKind::TooManyFormatPieces));
                }
                decl.line = u32::try_from(line_no).unwrap_or(u32::MAX);
                decl.position = decls.len();
                // A later declaration of the same name wins, as in QEMU's
                // tool.
                by_name.insert(decl.name.clone(), decls.len());
                decls.push(decl);
            }
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

    /// The declared event name closest to `name` when it is a likely typo
    /// of it (the "did you mean" of an unknown event name), as the
    /// command line suggests them.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        crate::syntax::did_you_mean(name, self.decls.iter().map(|d| d.name.as_str()))
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
        format_error: None,
    }
}

/// Splits off the first line of `text` and what follows its end: `\n`,
/// `\r\n` or `\r` (Python's universal newlines); `None` when the text has
/// no line end.
fn split_line(text: &str) -> Option<(&str, &str)> {
    let end = text.find(['\n', '\r'])?;
    let after = if text[end..].starts_with("\r\n") {
        end + 2
    } else {
        end + 1
    };
    Some((&text[..end], &text[after..]))
}

/// How many line ends (`\n`, `\r\n`, `\r`) `bytes` holds.
fn count_line_ends(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut after_cr = false;
    for &b in bytes {
        n += usize::from(b == b'\r' || (b == b'\n' && !after_cr));
        after_cr = b == b'\r';
    }
    n
}

use crate::syntax::is_ident;

/// Parses one non-blank, non-comment line (without its line end) the way
/// QEMU's tracetool does (see `docs/format.md` for its rules and where this
/// parser differs): one event, or the two events of a `tcg` declaration.
/// Nothing here allocates more than the declarations keep: a line of a
/// million words, arguments or format pieces is refused, or read, without
/// collecting them.
fn parse_declaration(line: &str) -> Result<(EventDecl, Option<EventDecl>), EventsErrorKind> {
    use EventsErrorKind::*;
    let body = line.trim_start();
    let open = body
        .find('(')
        .ok_or(Syntax("no '(' after the event name"))?;
    let head = &body[..open];
    if head.ends_with(|c: char| c.is_whitespace()) {
        return Err(Syntax("space between the event name and '('"));
    }
    // The name is the last word; the words before it are properties.
    let (props, name) = head.rsplit_once(char::is_whitespace).unwrap_or(("", head));
    if name.is_empty() {
        return Err(Syntax("no event name before '('"));
    }
    if !is_ident(name.as_bytes()) {
        return Err(Syntax(
            "the event name is not made of ASCII letters, digits and '_'",
        ));
    }
    // tracetool's pattern wants, before a name without properties, no
    // blank or at least two.
    if props.is_empty() && line[..line.len() - body.len()].chars().count() == 1 {
        return Err(Syntax(
            "a single blank before the event name (QEMU's tracetool takes none, or two or more)",
        ));
    }
    let mut properties = Properties::default();
    let mut tcg = false;
    for word in props.split_whitespace() {
        match word {
            "disable" => properties.disable = true,
            "vcpu" => properties.vcpu = true,
            "tcg" => tcg = true,
            other => return Err(UnknownProperty(Excerpt::new(other))),
        }
    }
    let after_open = &body[open + 1..];
    let close = after_open
        .find(')')
        .ok_or(Syntax("no ')' closing the argument list"))?;
    let mut args = parse_args(&after_open[..close])?;
    let (trans, format) = split_formats(&after_open[close + 1..]);
    match (tcg, trans.is_some()) {
        (true, false) => return Err(TcgWithoutTwoFormats),
        (false, true) => return Err(TwoFormatsWithoutTcg),
        _ => {}
    }
    if properties.vcpu {
        // QEMU 2.8 to 8.0: tracetool gave the event an implicit first
        // argument, the vCPU, and put `"cpu=%p "` before its format(s).
        if tcg && args.len() == MAX_ARGS {
            return Err(TooManyVcpuTcgArguments(MAX_ARGS));
        }
        args.insert(
            0,
            ArgDecl {
                ty: VCPU_ARG_TYPE.to_owned(),
                name: VCPU_ARG_NAME.to_owned(),
                kind: ArgKind::Pointer,
            },
        );
    }
    let event = |name: String, tcg: Option<TcgHalf>, args: Vec<ArgDecl>, text: Option<&str>| {
        let (format, format_error) = match text.map(parse_format) {
            None => (None, None),
            Some(Ok(f)) => (Some(f), None),
            Some(Err(what)) => (None, Some(what)),
        };
        let vcpu = properties.vcpu && format_error.is_none();
        // Kept for the life of the file: no room to spare (a file can hold
        // thousands of declarations).
        let mut args = args;
        args.shrink_to_fit();
        EventDecl {
            name,
            position: 0,
            line: 0,
            properties: Properties { tcg, ..properties },
            args,
            format: if vcpu {
                Some(with_vcpu_prefix(format))
            } else {
                format
            },
            format_error,
        }
    };
    if !tcg {
        return Ok((event(name.to_owned(), None, args, format), None));
    }
    // tracetool replaced a `tcg` declaration by two events, in this order.
    let trans_args = args
        .iter()
        .filter(|a| tcg_to_host(&a.ty).is_none())
        .cloned()
        .collect();
    let exec_args = args
        .into_iter()
        .map(|a| match tcg_to_host(&a.ty) {
            Some(host) => ArgDecl {
                ty: host.to_owned(),
                name: a.name,
                kind: ArgKind::of_type(host),
            },
            None => a,
        })
        .collect();
    Ok((
        event(
            format!("{name}{TCG_TRANS_SUFFIX}"),
            Some(TcgHalf::Trans),
            trans_args,
            trans,
        ),
        Some(event(
            format!("{name}{TCG_EXEC_SUFFIX}"),
            Some(TcgHalf::Exec),
            exec_args,
            format,
        )),
    ))
}

/// The format text(s) after the argument list, as tracetool's pattern
/// takes them: none unless the text, blanks skipped, starts with a quote
/// and has a character after it; two when a comma further on is followed
/// (blanks skipped) by the same, at the last such comma: `"A", "B"` gives
/// `"A"` (translation time, `tcg` events only) and `"B"`. Anything else
/// after `)` is no format, and ignored.
fn split_formats(after: &str) -> (Option<&str>, Option<&str>) {
    let is_format = |t: &str| t.starts_with('"') && t.len() > 1;
    let text = after.trim_start();
    if !is_format(text) {
        return (None, None);
    }
    for (comma, _) in text.rmatch_indices(',') {
        // The first format is a quote and at least one character.
        if comma < 2 {
            break;
        }
        let second = text[comma + 1..].trim_start();
        if is_format(second) {
            return (Some(&text[..comma]), Some(second));
        }
    }
    (None, Some(text))
}

/// `format` (none: an empty one) with the `vcpu` literal before it, as
/// tracetool wrote it: `"cpu=%p "` joined to the format's first quote.
fn with_vcpu_prefix(format: Option<FormatString>) -> FormatString {
    let prefix = FormatPiece::Literal(VCPU_FORMAT_PREFIX.to_owned());
    match format {
        Some(f) => {
            let mut pieces = Vec::with_capacity(f.pieces.len() + 1);
            pieces.push(prefix);
            pieces.extend(f.pieces);
            FormatString {
                raw: format!("\"{VCPU_FORMAT_PREFIX}\"{}", f.raw),
                pieces,
            }
        }
        None => FormatString {
            raw: format!("\"{VCPU_FORMAT_PREFIX}\""),
            pieces: vec![prefix],
        },
    }
}

/// The words C allows between a declarator's last `*` and its name.
const QUALIFIERS: &[&str] = &["const", "volatile", "restrict"];

/// Whether `name`, the text tracetool takes for an argument's name, is a C
/// identifier, optionally after qualifiers: `const name`, from
/// `const char * const name` (tracetool keeps them in the name, and
/// `simpletrace.py` prints them so).
fn is_arg_name(name: &str) -> bool {
    let mut words = name.split_whitespace();
    let last = words.next_back();
    last.is_some_and(|w| is_ident(w.as_bytes())) && words.all(|w| QUALIFIERS.contains(&w))
}

/// Splits and checks the argument list as tracetool does: comma-separated;
/// `void` alone is no argument; with a `*`, the type runs to the last `*`
/// and the name follows it, else the name is the last word. Refused at the
/// 11th argument: the rest is only counted.
fn parse_args(list: &str) -> Result<Vec<ArgDecl>, EventsErrorKind> {
    use EventsErrorKind::*;
    let mut args = Vec::new();
    let mut pieces = list.split(',');
    while let Some(arg) = pieces.next() {
        let arg = arg.trim();
        if arg.is_empty() {
            return Err(EmptyArgument);
        }
        if arg == "void" {
            continue;
        }
        if args.len() == MAX_ARGS {
            let more = pieces.filter(|a| a.trim() != "void").count();
            return Err(TooManyArguments(MAX_ARGS + 1 + more));
        }
        let (ty, name) = match arg.rfind('*') {
            Some(star) => (&arg[..=star], arg[star + 1..].trim()),
            None => match arg.rsplit_once(char::is_whitespace) {
                Some((ty, name)) => (ty.trim_end(), name),
                None => return Err(UnnamedArgument(Excerpt::new(arg))),
            },
        };
        if name.is_empty() {
            return Err(UnnamedArgument(Excerpt::new(arg)));
        }
        if !is_arg_name(name) {
            return Err(BadArgumentName(Excerpt::new(name)));
        }
        validate_type(ty)?;
        args.push(ArgDecl {
            ty: ty.to_owned(),
            name: name.to_owned(),
            kind: ArgKind::of_type(ty),
        });
    }
    Ok(args)
}

/// Checks a type as tracetool does: split at single spaces, each word with
/// its `*`s taken out is empty, `const`, or one of the allowed type words.
/// So `const *` and `*` pass (pointers), and a tab inside a type does not.
fn validate_type(ty: &str) -> Result<(), EventsErrorKind> {
    let allowed = |word: &str| {
        let mut chars = word.chars().filter(|&c| c != '*').peekable();
        chars.peek().is_none()
            || chars.clone().eq("const".chars())
            || ALLOWED_TYPE_WORDS
                .iter()
                .chain(TCG_TYPE_WORDS)
                .any(|w| chars.clone().eq(w.chars()))
    };
    if ty.split(' ').all(allowed) {
        Ok(())
    } else {
        Err(EventsErrorKind::DisallowedType(Excerpt::new(ty)))
    }
}

/// Parses one format: quoted literals and macros, at most
/// [`MAX_FORMAT_PIECES`] pieces.
fn parse_format(text: &str) -> Result<FormatString, &'static str> {
    let text = text.trim_end();
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if pieces.len() >= MAX_FORMAT_PIECES {
            return Err("more than 256 pieces (quoted literals and macros)");
        }
        match bytes[i] {
            b'"' => {
                let (lit, end) = parse_literal(text, i)?;
                pieces.push(FormatPiece::Literal(lit));
                i = end;
            }
            b',' => return Err("a ',' between its pieces (more than two formats?)"),
            b if b.is_ascii_whitespace() => i += 1,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(text.len(), |n| i + n);
                pieces.push(FormatPiece::Macro(text[i..end].to_owned()));
                i = end;
            }
            _ => return Err("expected a quoted string or a PRI macro"),
        }
    }
    pieces.shrink_to_fit();
    Ok(FormatString {
        raw: text.to_owned(),
        pieces,
    })
}

/// Parses the C string literal starting at the quote at `start`; returns its
/// unescaped contents and the index after the closing quote.
fn parse_literal(text: &str, start: usize) -> Result<(String, usize), &'static str> {
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated string")?;
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
                            return Err("'\\x' without hex digits");
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated string")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TraceEvents, EventsError> {
        TraceEvents::parse("t", text.as_bytes())
    }

    #[test]
    fn suggests_a_close_declared_name() {
        let events =
            parse("qemu_mutex_lock(void *m) \"m %p\"\nother(int x) \"x %d\"\n").expect("parses");
        assert_eq!(events.suggest("qemu_mutex_lok"), Some("qemu_mutex_lock"));
        assert_eq!(events.suggest("unrelated_name"), None);
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
             disable foo(const char *name, void *opaque, uint64_t off, int ret) \"n %s o %p off 0x%\" PRIx64 \" ret %d\"\n",
        )
        .unwrap();
        let d = ev.get(0).unwrap();
        assert_eq!(d.name, "foo");
        assert_eq!(d.line, 4);
        assert!(d.properties.disable && !d.properties.vcpu && d.properties.tcg.is_none());
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
    fn escapes_and_commas_inside_literals() {
        let ev = parse("e(int a) \"a=%d, \\\"q\\\"\\t\\\\ \\x41\\101\"\n").unwrap();
        let d = ev.get(0).unwrap();
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

    /// One declaration: `(type, name)` of each argument, and its format's
    /// raw text.
    type Parsed = (Vec<(String, String)>, Option<String>);

    fn parsed(line: &str) -> Parsed {
        let ev = parse(&format!("{line}\n")).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let d = ev.get(0).unwrap();
        (
            d.args
                .iter()
                .map(|a| (a.ty.clone(), a.name.clone()))
                .collect(),
            d.format.as_ref().map(|f| f.raw.clone()),
        )
    }

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, n)| (t.to_string(), n.to_string()))
            .collect()
    }

    /// Declarations QEMU's tracetool (QEMU 10's `Event.build` and
    /// `Arguments.build`) accepts, and how it splits them: the same here.
    /// Checked against tracetool itself (`read_events` on each line).
    #[test]
    fn declarations_split_as_tracetool_splits_them() {
        let s = |x: &str| Some(x.to_owned());
        for (line, want) in [
            // After the last `*` comes the name, qualifiers and all:
            // `simpletrace.py` prints this argument as `const name=...`.
            (
                "a(const char * const name) \"%s\"",
                (args(&[("const char *", "const name")]), s("\"%s\"")),
            ),
            ("a(char *const s)", (args(&[("char *", "const s")]), None)),
            ("a(char*name)", (args(&[("char*", "name")]), None)),
            ("a(char *  * p)", (args(&[("char *  *", "p")]), None)),
            // A type of `const` and `*` alone passes tracetool's check.
            ("a(const *x)", (args(&[("const *", "x")]), None)),
            ("a(* p)", (args(&[("*", "p")]), None)),
            ("a(const x)", (args(&[("const", "x")]), None)),
            (
                "a(unsigned long long x)",
                (args(&[("unsigned long long", "x")]), None),
            ),
            (
                "a(unsigned  int x)",
                (args(&[("unsigned  int", "x")]), None),
            ),
            ("  a(int x)  ", (args(&[("int", "x")]), None)),
            ("a(int  x )", (args(&[("int", "x")]), None)),
            ("a(int\tx)", (args(&[("int", "x")]), None)),
            ("a(void)", (args(&[]), None)),
            ("a(void, int x)", (args(&[("int", "x")]), None)),
            ("a(int x, void)", (args(&[("int", "x")]), None)),
            ("a1(int x2)", (args(&[("int", "x2")]), None)),
            ("a(int 1x)", (args(&[("int", "1x")]), None)),
            (
                "a(int x, int x)",
                (args(&[("int", "x"), ("int", "x")]), None),
            ),
            ("disable disable a(int x)", (args(&[("int", "x")]), None)),
            ("a(int x) \"\"", (args(&[("int", "x")]), s("\"\""))),
            ("a(int x)\"%d\"", (args(&[("int", "x")]), s("\"%d\""))),
            (
                "a(uint64_t x) \"%\" PRIx64 \"\"",
                (args(&[("uint64_t", "x")]), s("\"%\" PRIx64 \"\"")),
            ),
            // Text after `)` that does not start with a quote is no format:
            // tracetool ignores it.
            ("a(int x) junk", (args(&[("int", "x")]), None)),
            ("a(int x))", (args(&[("int", "x")]), None)),
            // A format is a quote and at least one more character.
            ("a(int x) \"", (args(&[("int", "x")]), None)),
            ("a(int x) \" ", (args(&[("int", "x")]), None)),
            // Before the name: no blank, two or more, or any before
            // properties.
            ("\t\ta(int x)", (args(&[("int", "x")]), None)),
            (" disable a(int x)", (args(&[("int", "x")]), None)),
            // A comma not followed by a quote does not split the format
            // (it is an error in it, for `print --format log`).
            ("a(int x) \"a\", b", (args(&[("int", "x")]), None)),
            (
                "a(int x, int y) \"x=%d, y=%d\"",
                (args(&[("int", "x"), ("int", "y")]), s("\"x=%d, y=%d\"")),
            ),
            // QEMU 10 refuses these; the QEMU that wrote older traces did not
            // always (a newline inside a format until 9.1; `%m` and a final
            // newline in older versions still), and they only matter to
            // `print --format log`.
            (
                "a(int x) \"%d\\n more\"",
                (args(&[("int", "x")]), s("\"%d\\n more\"")),
            ),
            (
                "a(int x) \"%d\\n\"",
                (args(&[("int", "x")]), s("\"%d\\n\"")),
            ),
            (
                "a(int x) \"err %m\"",
                (args(&[("int", "x")]), s("\"err %m\"")),
            ),
        ] {
            assert_eq!(parsed(line), want, "{line:?}");
        }
        let ev = parse("a(const char * const name)\nb(const *x)\nc(const x)\n").unwrap();
        let kind = |i: usize| ev.get(i).unwrap().args[0].kind;
        assert_eq!(kind(0), ArgKind::String);
        assert_eq!(kind(1), ArgKind::Pointer);
        assert_eq!(
            kind(2),
            ArgKind::Int {
                signed: true,
                bits: 32
            }
        );
        assert_eq!(ev.get(0).unwrap().arg_position("const name"), Some(0));
    }

    /// What tracetool refuses is refused, and so is what it lets through
    /// but no QEMU build compiles (names not made of ASCII letters, digits
    /// and `_`).
    #[test]
    fn declarations_tracetool_refuses_are_refused() {
        use EventsErrorKind::*;
        // tracetool splits a type at single spaces: a tab inside one is a
        // word it does not know (and `const\tchar *` would not be a string).
        assert_eq!(
            kind_of("a(const\tchar *s)\n"),
            DisallowedType("const\tchar *".into())
        );
        assert_eq!(
            kind_of("a(unsigned\tint x)\n"),
            DisallowedType("unsigned\tint".into())
        );
        assert_eq!(kind_of("foo a(int x)\n"), UnknownProperty("foo".into()));
        assert_eq!(kind_of("a(int)\n"), UnnamedArgument("int".into()));
        assert!(matches!(kind_of("a (int x)\n"), Syntax(_)));
        assert!(matches!(kind_of("\"x\" a(int x)\n"), UnknownProperty(_)));
        // Deliberately stricter than tracetool, which takes any text for a
        // name (C then refuses it): identifiers, ASCII.
        assert_eq!(kind_of("a(int *x y)\n"), BadArgumentName("x y".into()));
        assert_eq!(
            parse("a(int x-y)\n").unwrap_err().to_string(),
            "t:1: argument name 'x-y' is not made of ASCII letters, digits and '_'"
        );
        // A leading digit is fine, as in tracetool (QEMU's C prefixes the
        // name: `trace_1x`).
        assert!(parse("1a(int 2x)\n").is_ok());
        assert_eq!(kind_of("a(int é)\n"), BadArgumentName("é".into()));
        assert!(matches!(kind_of("é(int x)\n"), Syntax(_)));
    }

    /// A format that is not quoted literals and macros does not make the
    /// declaration an error (tracetool takes its text as it stands, and a
    /// build with only the simple backend never compiles it): the event is
    /// read, and only its message cannot be rendered.
    #[test]
    fn a_format_that_does_not_parse_leaves_the_declaration_readable() {
        for (line, why) in [
            ("a(int x) \"unterminated", "unterminated string"),
            (
                "a(int x) \"%d\" ; ",
                "expected a quoted string or a PRI macro",
            ),
            ("a(int x) \"a\"b\"", "unterminated string"),
            (
                "a(int x) \"%d\",",
                "a ',' between its pieces (more than two formats?)",
            ),
        ] {
            let ev = parse(&format!("{line}\nb(void)\n")).unwrap();
            let d = ev.get(0).unwrap();
            assert_eq!(d.args.len(), 1, "{line}");
            assert_eq!(d.format, None, "{line}");
            assert_eq!(d.format_error, Some(why), "{line}");
            assert_eq!(ev.get(1).unwrap().format_error, None);
        }
        // At most MAX_FORMAT_PIECES pieces: more is a format that does not
        // parse, found without collecting the rest.
        let fits = "\"x\" ".repeat(MAX_FORMAT_PIECES);
        let d = parse(&format!("a(int x) {fits}\n")).unwrap();
        assert_eq!(d.get(0).unwrap().format.as_ref().unwrap().pieces.len(), 256);
        let over = "PRIx64 ".repeat(1_000_000);
        let d = parse(&format!("a(int x) \"x\" {over}\n")).unwrap();
        let why = d.get(0).unwrap().format_error.unwrap();
        assert!(why.contains(&MAX_FORMAT_PIECES.to_string()), "{why}");
    }

    /// QEMU 2.8 to 8.0: tracetool gave a `vcpu` event an implicit first
    /// argument `void *__cpu` and put `"cpu=%p "` before its format(s).
    #[test]
    fn vcpu_events_have_the_implicit_cpu_argument() {
        let s = |x: &str| Some(x.to_owned());
        let cpu = ("void *", "__cpu");
        for (line, want) in [
            (
                "vcpu guest_cpu_enter(void)",
                (args(&[cpu]), s("\"cpu=%p \"")),
            ),
            (
                "vcpu guest_cpu_reset(void) \"\"",
                (args(&[cpu]), s("\"cpu=%p \"\"\"")),
            ),
            (
                "disable vcpu e(uint64_t x, const char *s) \"x=0x%\" PRIx64 \" s=%s\"",
                (
                    args(&[cpu, ("uint64_t", "x"), ("const char *", "s")]),
                    s("\"cpu=%p \"\"x=0x%\" PRIx64 \" s=%s\""),
                ),
            ),
        ] {
            assert_eq!(parsed(line), want, "{line:?}");
        }
        let ev = parse("vcpu e(int a) \"a=%d\"\n").unwrap();
        let d = ev.get(0).unwrap();
        assert_eq!(d.args[0].kind, ArgKind::Pointer);
        assert_eq!(
            d.format.as_ref().unwrap().pieces,
            [
                FormatPiece::Literal("cpu=%p ".into()),
                FormatPiece::Literal("a=%d".into())
            ]
        );
        // The limit counts the declared arguments: ten and the vCPU.
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("int a{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ev = parse(&format!("vcpu e({})\n", list(10))).unwrap();
        assert_eq!(ev.get(0).unwrap().args.len(), MAX_EVENT_ARGS);
        assert_eq!(
            kind_of(&format!("vcpu e({})\n", list(11))),
            EventsErrorKind::TooManyArguments(11)
        );
        // A vcpu event whose format does not parse keeps the argument.
        let ev = parse("vcpu e(int a) \"a=%d\" ;\n").unwrap();
        let d = ev.get(0).unwrap();
        assert_eq!((d.args.len(), d.format.is_none()), (2, true));
        assert!(d.format_error.is_some());
    }

    /// QEMU's tracetool (QEMU 5.2's, for one) replaced a `tcg` declaration
    /// by two events, each with its own position: `NAME_trans` (the first
    /// format; only the arguments whose type is no TCG value) then
    /// `NAME_exec` (the second format; every argument, TCG types made host
    /// types). Checked against QEMU 5.2's `read_events`.
    #[test]
    fn tcg_declarations_make_two_events() {
        let ev = parse(
            "a(void)\n\
             vcpu tcg guest_mem_before(TCGv vaddr, uint16_t info) \"info=%d\", \"vaddr=0x%016\"PRIx64\" info=%d\"\n\
             b(int x)\n",
        )
        .unwrap();
        let at: Vec<_> = ev
            .iter()
            .map(|d| (d.name.as_str(), d.position, d.line))
            .collect();
        assert_eq!(
            at,
            [
                ("a", 0, 1),
                ("guest_mem_before_trans", 1, 2),
                ("guest_mem_before_exec", 2, 2),
                ("b", 3, 3)
            ]
        );
        assert!(ev.by_name(b"guest_mem_before").is_none());
        type Sig<'a> = (Vec<(&'a str, &'a str, ArgKind)>, Option<&'a str>);
        let sig = |ev: &'_ TraceEvents, name: &str| -> Sig<'static> {
            let d = ev.by_name(name.as_bytes()).unwrap();
            let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
            (
                d.args
                    .iter()
                    .map(|a| (leak(&a.ty), leak(&a.name), a.kind))
                    .collect(),
                d.format.as_ref().map(|f| leak(&f.raw)),
            )
        };
        let int = |signed, bits| ArgKind::Int { signed, bits };
        let cpu = ("void *", "__cpu", ArgKind::Pointer);
        assert_eq!(
            sig(&ev, "guest_mem_before_trans"),
            (
                vec![cpu, ("uint16_t", "info", int(false, 16))],
                Some("\"cpu=%p \"\"info=%d\"")
            )
        );
        assert_eq!(
            sig(&ev, "guest_mem_before_exec"),
            (
                vec![
                    cpu,
                    ("uint64_t", "vaddr", int(false, 64)),
                    ("uint16_t", "info", int(false, 16))
                ],
                Some("\"cpu=%p \"\"vaddr=0x%016\"PRIx64\" info=%d\"")
            )
        );
        // Every TCG type: tracetool's table maps TCGv_i32, TCGv_i64,
        // TCGv_ptr and TCGv (whole types) to host types; anything else,
        // TCGv_env too, stays, and so stays in the translation event.
        let ev = parse(
            "tcg t(TCGv_i32 a, int b, TCGv_i64 c, TCGv_ptr d, TCGv e, TCGv_env f, const TCGv g) \
             \"b=%d\"  ,  \"a=%u\"\n",
        )
        .unwrap();
        assert_eq!(
            sig(&ev, "t_trans"),
            (
                vec![
                    ("int", "b", int(true, 32)),
                    ("TCGv_env", "f", ArgKind::Pointer),
                    ("const TCGv", "g", ArgKind::Pointer)
                ],
                Some("\"b=%d\"")
            )
        );
        assert_eq!(
            sig(&ev, "t_exec"),
            (
                vec![
                    ("uint32_t", "a", int(false, 32)),
                    ("int", "b", int(true, 32)),
                    ("uint64_t", "c", int(false, 64)),
                    ("void *", "d", ArgKind::Pointer),
                    ("uint64_t", "e", int(false, 64)),
                    ("TCGv_env", "f", ArgKind::Pointer),
                    ("const TCGv", "g", ArgKind::Pointer)
                ],
                Some("\"a=%u\"")
            )
        );
        // Outside `tcg` declarations a TCG type is kept as written (QEMU
        // 5.2's tracetool allowed `TCGv` in any declaration, older ones any
        // type), and recorded as what it is in C, a pointer.
        let ev = parse("b(TCGv x, TCGv_i32 y) \"x\"\n").unwrap();
        assert_eq!(
            sig(&ev, "b"),
            (
                vec![
                    ("TCGv", "x", ArgKind::Pointer),
                    ("TCGv_i32", "y", ArgKind::Pointer)
                ],
                Some("\"x\"")
            )
        );
        // tracetool split the formats at the last comma followed by a
        // quote: three formats make a first one that does not parse, which
        // only that event's `log` rendering reports.
        let ev = parse("tcg t(int a) \"a\", \"b\", \"c\"\n").unwrap();
        let (trans, exec) = (ev.get(0).unwrap(), ev.get(1).unwrap());
        assert_eq!(
            (trans.format_error, &trans.format),
            (
                Some("a ',' between its pieces (more than two formats?)"),
                &None
            )
        );
        assert_eq!(
            (
                exec.format_error,
                exec.format.as_ref().map(|f| f.raw.as_str())
            ),
            (None, Some("\"c\""))
        );
        // Nine declared arguments and the vCPU in each event.
        let list = (0..9)
            .map(|i| format!("int a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let ev = parse(&format!("vcpu tcg t({list}) \"a\", \"b\"\n")).unwrap();
        assert_eq!(ev.get(0).unwrap().args.len(), MAX_ARGS);
        assert_eq!(ev.get(1).unwrap().args.len(), MAX_ARGS);
    }

    /// Which half of a `tcg` declaration an event is.
    #[test]
    fn tcg_events_know_their_half() {
        let ev = parse("disable tcg t(int a) \"a\", \"b\"\nu(void)\n").unwrap();
        let props: Vec<_> = ev.iter().map(|d| d.properties).collect();
        let tcg = |h| Properties {
            disable: true,
            vcpu: false,
            tcg: Some(h),
        };
        assert_eq!(
            props,
            [
                tcg(TcgHalf::Trans),
                tcg(TcgHalf::Exec),
                Properties::default()
            ]
        );
    }

    /// The rules tracetool enforced on `tcg` declarations, on formats and
    /// before the name (checked against QEMU 5.2's tracetool).
    #[test]
    fn tcg_and_format_rules_tracetool_enforced() {
        let message = |text: &str| match parse(text) {
            Err(e) => e.to_string(),
            Ok(ev) => panic!("{text:?} parsed: {} events", ev.len()),
        };
        let needs_two = "t:1: a 'tcg' event needs two formats, for translation and execution: \
                         NAME(ARGS) \"TRANS\", \"EXEC\"";
        let only_tcg = "t:1: two formats, but only a 'tcg' event can have two";
        for (text, want) in [
            ("tcg a(int x) \"a\"\n", needs_two),
            ("tcg a(int x)\n", needs_two),
            ("tcg a(int x) \"a\", \n", needs_two),
            ("a(int x) \"a\", \"b\"\n", only_tcg),
            ("vcpu a(int x) \"a\", \"b\"\n", only_tcg),
            // tracetool's pattern takes the last comma that a quote
            // follows, inside a literal or not.
            ("a(int x) \"x=%d, \" \"y\"\n", only_tcg),
            ("a(int x) \"x=%d,\" PRIx64 \",\" \"\"\n", only_tcg),
            (
                "vcpu tcg a(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9) \"a\", \"b\"\n",
                "t:1: 10 arguments declared, at most 9 are allowed in a 'vcpu tcg' event \
                 (its two events carry the vCPU too, and at most 10 arguments)",
            ),
            // Properties tracetool gave the two events; its pattern does
            // not even take them in a file.
            (
                "tcg-trans a(int x) \"a\", \"b\"\n",
                "t:1: unknown property 'tcg-trans' (known: disable, vcpu, tcg)",
            ),
            (
                "tcg-exec a(int x)\n",
                "t:1: unknown property 'tcg-exec' (known: disable, vcpu, tcg)",
            ),
            // One blank before a name without properties: tracetool's
            // pattern does not match the line.
            (
                " a(int x)\n",
                "t:1: not an event declaration (a single blank before the event name (QEMU's \
                 tracetool takes none, or two or more)); expected [PROPERTIES] NAME(ARGS) \
                 [\"FORMAT\"]",
            ),
        ] {
            assert_eq!(message(text), want, "{text:?}");
        }
        assert!(message("\ta(int x)\n").contains("a single blank before the event name"));
    }

    /// Lines end at `\n`, `\r\n` or `\r`, as Python's text mode (QEMU's
    /// tools) reads them, and line numbers count them so.
    #[test]
    fn lines_end_as_python_text_mode_ends_them() {
        let lines = |text: &str| -> Vec<(String, u32)> {
            parse(text)
                .unwrap_or_else(|e| panic!("{text:?}: {e}"))
                .iter()
                .map(|d| (d.name.clone(), d.line))
                .collect()
        };
        let abc = [
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("c".to_owned(), 3),
        ];
        assert_eq!(lines("a(int x)\rb(void)\nc(int y)\n"), abc);
        assert_eq!(lines("a(int x)\r\nb(void)\rc(int y)\r"), abc);
        assert_eq!(lines("a(int x)\r"), [("a".to_owned(), 1)]);
        assert_eq!(
            lines("# x\r\r\na(void)\n\rb(void)\r\n"),
            [("a".to_owned(), 3), ("b".to_owned(), 5)]
        );
        let fault = |text: &[u8]| match TraceEvents::parse("t", text) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{text:?} parsed"),
        };
        assert_eq!(
            fault(b"a(void)\rb(void)"),
            "t:2: the last line does not end with a newline"
        );
        assert_eq!(
            fault(b"a(void)\r\rfoo c(void)\n"),
            "t:3: unknown property 'foo' (known: disable, vcpu, tcg)"
        );
        assert_eq!(
            fault(b"a(void)\r\r\nb(int \xff)\n"),
            "t:3: the trace-events file is not UTF-8 text"
        );
        assert_eq!(
            fault(b"a(void)\r\xff\n"),
            "t:2: the trace-events file is not UTF-8 text"
        );
    }

    /// A file of more than [`MAX_EVENTS`] events, or of more than
    /// [`MAX_FILE_FORMAT_PIECES`] format pieces, is refused at the line that
    /// goes past the bound (a `tcg` declaration counts two events).
    #[test]
    fn files_past_the_event_and_piece_bounds_are_refused() {
        let full = "a(void)\n".repeat(MAX_EVENTS);
        assert_eq!(parse(&full).unwrap().len(), MAX_EVENTS);
        let e = parse(&format!("{full}b(void)\n")).unwrap_err();
        assert_eq!(
            (e.line as usize, e.kind.clone()),
            (MAX_EVENTS + 1, EventsErrorKind::TooManyEvents)
        );
        assert_eq!(
            e.to_string(),
            "t:32769: more than 32768 events declared (QEMU's trace-events-all has about \
             6,000): is it a trace-events file?"
        );
        let nearly = "a(void)\n".repeat(MAX_EVENTS - 1);
        let e = parse(&format!("{nearly}tcg t(int x) \"a\", \"b\"\n")).unwrap_err();
        assert_eq!(
            (e.line as usize, e.kind.clone()),
            (MAX_EVENTS, EventsErrorKind::TooManyEvents)
        );
        let line = format!("a(void) {}\n", "\"\"".repeat(MAX_FORMAT_PIECES));
        let lines = MAX_FILE_FORMAT_PIECES / MAX_FORMAT_PIECES;
        let full = line.repeat(lines);
        assert_eq!(parse(&full).unwrap().len(), lines);
        let e = parse(&format!("{full}b(void) \"\"\n")).unwrap_err();
        assert_eq!(
            (e.line as usize, e.kind.clone()),
            (lines + 1, EventsErrorKind::TooManyFormatPieces)
        );
    }

    /// Refused at the eleventh argument, with the count of all of them; the
    /// rest is counted, not collected (tests/memory.rs measures 8 million).
    #[test]
    fn too_many_arguments_are_counted_not_collected() {
        let list = (0..40)
            .map(|i| format!("int a{i}, void"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(
            kind_of(&format!("a({list})\n")),
            EventsErrorKind::TooManyArguments(40)
        );
        let e = parse(&format!("a({list})\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t:1: 40 arguments declared, at most 10 are allowed"
        );
    }

    /// A huge offending token is quoted as a short excerpt.
    #[test]
    fn messages_quote_a_short_excerpt() {
        let long = "p".repeat(5_000_000);
        let e = parse(&format!("{long} a(int x)\n")).unwrap_err();
        let message = e.to_string();
        assert_eq!(
            message,
            format!(
                "t:1: unknown property '{}...' (5000000 bytes) (known: disable, vcpu, tcg)",
                "p".repeat(80)
            )
        );
        for text in [
            format!("a(int {long}-x)\n"),
            format!("a({long} x)\n"),
            format!("a({long})\n"),
        ] {
            let message = parse(&text).unwrap_err().to_string();
            assert!(message.len() < 300, "{}", &message[..300]);
        }
    }
}
