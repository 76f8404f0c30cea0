//! Input quoted in error messages, cut to a short excerpt.
//!
//! An error names the text it could not use, but the text can be anything a
//! file or a command line holds: one 90 MB token must not become one 90 MB
//! line on standard error (nor a 90 MB copy kept in the error). An
//! [`Excerpt`] keeps at most [`EXCERPT_CHARS`] characters of it and its full
//! length, and displays it quoted: whole when it is short, else its start, an
//! ellipsis, and the length in bytes. Nor must the text reach a terminal as
//! it stands: control characters (an escape sequence, a carriage return that
//! rewrites the line) and the characters that reorder bidirectional text are
//! shown escaped, and so are the quote and the backslash, so that the quoted
//! text reads back unambiguously.
//!
//! ```
//! use simpletrace::format::excerpt::Excerpt;
//!
//! assert_eq!(Excerpt::new("foo").to_string(), "'foo'");
//! assert_eq!(Excerpt::new("it's\x1b[2J").to_string(), r"'it\'s\x1b[2J'");
//! let long = "x".repeat(1_000_000);
//! assert_eq!(
//!     Excerpt::new(&long).to_string(),
//!     format!("'{}...' (1000000 bytes)", "x".repeat(80))
//! );
//! ```

use core::fmt;

/// The most characters of the input an [`Excerpt`] shows.
pub const EXCERPT_CHARS: usize = 80;

/// A piece of input for an error message: its first [`EXCERPT_CHARS`]
/// characters (cut on a character boundary) and its full length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The start of the text, at most [`EXCERPT_CHARS`] characters.
    shown: String,
    /// The length of the whole text, in bytes.
    len: usize,
}

impl Excerpt {
    /// The excerpt of `text`; copies at most [`EXCERPT_CHARS`] characters.
    pub fn new(text: &str) -> Excerpt {
        let end = text
            .char_indices()
            .nth(EXCERPT_CHARS)
            .map_or(text.len(), |(i, _)| i);
        Excerpt {
            shown: text[..end].to_owned(),
            len: text.len(),
        }
    }

    /// The text shown, as it stands (not escaped): all of it, or its first
    /// [`EXCERPT_CHARS`] characters when [`Excerpt::is_cut`].
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// The length of the whole text, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the whole text was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the text is longer than what is shown.
    pub fn is_cut(&self) -> bool {
        self.shown.len() < self.len
    }
}

impl From<&str> for Excerpt {
    fn from(text: &str) -> Excerpt {
        Excerpt::new(text)
    }
}

impl PartialEq<str> for Excerpt {
    /// Whether this is the excerpt of `text` (the whole of it, when short).
    fn eq(&self, text: &str) -> bool {
        !self.is_cut() && self.shown == text
    }
}

impl PartialEq<&str> for Excerpt {
    fn eq(&self, text: &&str) -> bool {
        *self == **text
    }
}

impl fmt::Display for Excerpt {
    /// `'TEXT'`, or `'START...' (N bytes)` when the text is longer than
    /// [`EXCERPT_CHARS`] characters; the text escaped (see the module doc).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = Escaped(&self.shown);
        if self.is_cut() {
            write!(f, "'{shown}...' ({} bytes)", self.len)
        } else {
            write!(f, "'{shown}'")
        }
    }
}

/// Text displayed with `\` and `'` escaped by a backslash, `\n`, `\r` and
/// `\t` so, other control characters as `\xNN` (below 0x80) or `\u{NN}`,
/// and the characters that reorder bidirectional text as `\u{NNNN}`.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\'' => f.write_str("\\'")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_ascii_control() => write!(f, "\\x{:02x}", u32::from(c))?,
                c if c.is_control() || is_bidi_control(c) => {
                    write!(f, "\\u{{{:x}}}", u32::from(c))?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The characters that change the direction of the text after them
/// (Unicode's bidirectional formatting characters).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_whole_long_text_is_cut_on_a_char_boundary() {
        assert_eq!(Excerpt::new("").to_string(), "''");
        let eighty = "é".repeat(EXCERPT_CHARS);
        let e = Excerpt::new(&eighty);
        assert!(!e.is_cut());
        assert_eq!(e.to_string(), format!("'{eighty}'"));
        let more = format!("{eighty}ü and more");
        let e = Excerpt::new(&more);
        assert!(e.is_cut());
        assert_eq!(e.as_str(), eighty);
        assert_eq!(e.len(), more.len());
        assert_eq!(
            e.to_string(),
            format!("'{eighty}...' ({} bytes)", more.len())
        );
        assert!(Excerpt::new("abc") == "abc");
        assert!(e != more.as_str());
    }

    /// Control characters never reach the terminal as they stand, the
    /// quoting is unambiguous, and the cut still counts the text's own
    /// characters.
    #[test]
    fn control_characters_quotes_and_backslashes_are_escaped() {
        for (text, shown) in [
            ("\x1b[31mred\x1b[0m", r"'\x1b[31mred\x1b[0m'"),
            ("a\rb\nc\td\0e\x7f", r"'a\rb\nc\td\x00e\x7f'"),
            ("c1 \u{9b}2J", r"'c1 \u{9b}2J'"),
            ("rtl \u{202e}txt.exe", r"'rtl \u{202e}txt.exe'"),
            ("it's", r"'it\'s'"),
            ("x' y='", r"'x\' y=\''"),
            (r"back\slash", r"'back\\slash'"),
            ("é ü \u{1f600}", "'é ü \u{1f600}'"),
        ] {
            let e = Excerpt::new(text);
            assert_eq!(e.to_string(), shown, "{text:?}");
            assert!(e == text, "{text:?}");
        }
        // Cut at 80 characters of the text, escapes shown whole.
        let text = format!(
            "{}\x1b\x1b{}",
            "é".repeat(EXCERPT_CHARS - 1),
            "z".repeat(10)
        );
        let e = Excerpt::new(&text);
        assert_eq!(
            e.to_string(),
            format!(
                "'{}\\x1b...' ({} bytes)",
                "é".repeat(EXCERPT_CHARS - 1),
                text.len()
            )
        );
        assert_eq!(e.as_str().chars().count(), EXCERPT_CHARS);
    }
}
