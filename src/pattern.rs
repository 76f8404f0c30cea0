//! Event-name patterns as QEMU takes them (`-trace enable=PATTERN`,
//! `-trace events=FILE`): globs with `*` (any run of characters) and `?`
//! (one character), a leading `-` to turn matching events off, later
//! patterns overriding earlier ones.
//!
//! ```
//! use simpletrace::pattern::{EventPatterns, glob_match};
//!
//! assert!(glob_match("bdrv_co_*", "bdrv_co_preadv"));
//! let patterns = EventPatterns::parse_list("bdrv_*,-bdrv_co_*")?;
//! assert_eq!(patterns.decide("bdrv_open"), Some(true));
//! assert_eq!(patterns.decide("bdrv_co_pwritev"), Some(false));
//! assert_eq!(patterns.decide("qemu_vfree"), None);
//! # Ok::<(), simpletrace::pattern::PatternError>(())
//! ```

use core::fmt;

use crate::format::excerpt::Excerpt;

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one
/// character; everything else literal).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and the name position it is matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// One pattern of a list: a glob, switching matching events on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern {
    /// The glob.
    pub glob: String,
    /// `true` to turn matching events on, `false` (a leading `-`) off.
    pub enable: bool,
}

/// A pattern list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The 1-based line (0 for a comma-separated list).
    pub line: u32,
    /// The offending text (an excerpt of it, when it is long).
    pub text: Excerpt,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(
            f,
            "{} is not an event pattern (letters, digits, '_', '*', '?', and a leading '-')",
            self.text
        )
    }
}

impl std::error::Error for PatternError {}

/// An ordered list of patterns; the last one that matches a name decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPatterns {
    /// The patterns in order.
    pub patterns: Vec<EventPattern>,
}

fn parse_one(text: &str, line: u32) -> Result<EventPattern, PatternError> {
    let (enable, glob) = match text.strip_prefix('-') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let valid = !glob.is_empty()
        && glob
            .bytes()
            .all(|b| crate::syntax::is_ident_byte(b) || matches!(b, b'*' | b'?'));
    if !valid {
        return Err(PatternError {
            line,
            text: Excerpt::new(text),
        });
    }
    Ok(EventPattern {
        glob: glob.to_owned(),
        enable,
    })
}

impl EventPatterns {
    /// Parses a comma-separated list (`bdrv_*,-bdrv_co_*`); spaces around
    /// items are ignored.
    pub fn parse_list(list: &str) -> Result<Self, PatternError> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_one(s, 0))
            .collect::<Result<_, _>>()?;
        Ok(EventPatterns { patterns })
    }

    /// Parses QEMU's events-file format: one pattern per line, blank lines
    /// and `#` comments skipped.
    pub fn parse_file(text: &str) -> Result<Self, PatternError> {
        let mut patterns = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            patterns.push(parse_one(line, u32::try_from(i + 1).unwrap_or(u32::MAX))?);
        }
        Ok(EventPatterns { patterns })
    }

    /// Appends the patterns of `other` (they win over these).
    pub fn extend(&mut self, other: EventPatterns) {
        self.patterns.extend(other.patterns);
    }

    /// What the list says about `name`: on, off, or nothing (no pattern
    /// matches).
    pub fn decide(&self, name: &str) -> Option<bool> {
        self.patterns
            .iter()
            .rev()
            .find(|p| glob_match(&p.glob, name))
            .map(|p| p.enable)
    }

    /// Whether the list has no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, m) in [
            ("*", "", true),
            ("*", "anything", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*_lock", "qemu_mutex_lock", true),
            ("*_lock", "qemu_mutex_locked", false),
            ("qemu_*_lock*", "qemu_mutex_locked", true),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("", "", true),
            ("", "a", false),
        ] {
            assert_eq!(glob_match(p, n), m, "{p} vs {n}");
        }
    }

    #[test]
    fn later_patterns_win() {
        let p = EventPatterns::parse_list("qemu_*, -qemu_mutex_*, qemu_mutex_lock").unwrap();
        assert_eq!(p.decide("qemu_vfree"), Some(true));
        assert_eq!(p.decide("qemu_mutex_unlock"), Some(false));
        assert_eq!(p.decide("qemu_mutex_lock"), Some(true));
        assert_eq!(p.decide("bdrv_open"), None);
    }

    #[test]
    fn events_file() {
        let p = EventPatterns::parse_file("# block layer\n\nbdrv_*\n  -bdrv_co_*  \n").unwrap();
        assert_eq!(p.patterns.len(), 2);
        assert_eq!(p.decide("bdrv_co_preadv"), Some(false));
        let e = EventPatterns::parse_file("ok\nnot ok\n").unwrap_err();
        assert_eq!((e.line, e.text.as_str()), (2, "not ok"));
        assert_eq!(
            e.to_string(),
            "line 2: 'not ok' is not an event pattern (letters, digits, '_', '*', '?', and a leading '-')"
        );
        assert!(EventPatterns::parse_list("a,-").is_err());
        assert!(EventPatterns::parse_list("a.b").is_err());
    }
}
