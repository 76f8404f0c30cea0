//! Input quoted in error messages, cut to a short excerpt.
//!
//! An error names the text it could not use, but the text can be anything a
//! file or a command line holds: one 90 MB token must not become one 90 MB
//! line on standard error (nor a 90 MB copy kept in the error). An
//! [`Excerpt`] keeps at most [`EXCERPT_CHARS`] characters of it and its full
//! length, and displays it quoted: whole when it is short, else its start, an
//! ellipsis, and the length in bytes.
//!
//! ```
//! use simpletrace::format::excerpt::Excerpt;
//!
//! assert_eq!(Excerpt::new("foo").to_string(), "'foo'");
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

    /// The text shown: all of it, or its first [`EXCERPT_CHARS`]
    /// characters when [`Excerpt::is_cut`].
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
    /// [`EXCERPT_CHARS`] characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cut() {
            write!(f, "'{}...' ({} bytes)", self.shown, self.len)
        } else {
            write!(f, "'{}'", self.shown)
        }
    }
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
}
