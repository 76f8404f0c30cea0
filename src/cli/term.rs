//! Terminal manners: when to colour, the progress bar, and colouring what
//! goes to a terminal.
//!
//! Colour and the progress bar are for people watching a terminal; pipes
//! and files get plain bytes (the drop-in output must stay byte-identical to
//! `simpletrace.py`'s).

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::render::{Paint, Plain, Style};

/// `--color` / `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(super) enum When {
    /// When it goes to a terminal (colour: and `NO_COLOR` is not set).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The terminal options every trace command takes.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Terminal")]
pub(super) struct TermArgs {
    /// Colour event names, headings and warnings: auto (when standard
    /// output is a terminal and NO_COLOR is not set), always, never.
    /// Messages on standard error are coloured when it is a terminal.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = When::Auto)]
    color: When,
    /// A progress bar on standard error, which must be a terminal: auto
    /// (for runs longer than a second, when standard output is not a
    /// terminal), always (from the start, whatever standard output is),
    /// never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = When::Auto)]
    progress: When,
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, per
/// no-color.org).
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether standard error gets colour under `--color when`.
pub(super) fn color_stderr(when: When) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => !no_color_env() && std::io::stderr().is_terminal(),
    }
}

/// Whether standard error gets colour, from parsed arguments (the
/// command's `--color`, or auto when it has none).
pub(super) fn color_stderr_of(matches: &clap::ArgMatches) -> bool {
    let args = matches.subcommand().map_or(matches, |(_, m)| m);
    let when = args
        .try_get_one::<When>("color")
        .ok()
        .flatten()
        .copied()
        .unwrap_or_default();
    color_stderr(when)
}

impl TermArgs {
    /// Whether standard output gets colour.
    pub(super) fn color_stdout(&self) -> bool {
        match self.color {
            When::Always => true,
            When::Never => false,
            When::Auto => !no_color_env() && std::io::stdout().is_terminal(),
        }
    }

    /// Whether standard error gets colour.
    pub(super) fn color_stderr(&self) -> bool {
        color_stderr(self.color)
    }

    /// The progress bar for a run over `total` bytes of trace (`None`
    /// when not known), or `None` when there is to be none.
    pub(super) fn progress(&self, total: Option<u64>) -> Option<Progress> {
        let show = match self.progress {
            When::Never => return None,
            When::Always => true,
            When::Auto => {
                if !std::io::stderr().is_terminal() || std::io::stdout().is_terminal() {
                    return None;
                }
                false
            }
        };
        Some(Progress::new(total, show))
    }
}

/// ANSI styles (SGR sequences).
pub(super) mod style {
    /// Headings.
    pub const BOLD: &str = "\x1b[1m";
    /// Warnings.
    pub const WARN: &str = "\x1b[1;33m";
    /// Errors.
    pub const ERROR: &str = "\x1b[1;31m";
    /// Histogram bars.
    pub const BAR: &str = "\x1b[32m";
    /// Back to plain.
    pub const RESET: &str = "\x1b[0m";
}

/// `text` in `style`.
pub(super) fn paint(style: &str, text: &str) -> String {
    format!("{style}{text}{}", style::RESET)
}

/// The render layer's styles as terminal escapes: headings bold, warnings
/// yellow, histogram bars green (see [`crate::report::render::Paint`]).
/// What is coloured is decided by the kind of block, never by its words.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ansi;

impl Paint for Ansi {
    fn paint(&self, style: Style, text: &str, out: &mut dyn Write) -> io::Result<()> {
        let sgr = match style {
            Style::Heading => style::BOLD,
            Style::Warning => style::WARN,
            Style::Bar => style::BAR,
        };
        write!(out, "{sgr}{text}{}", style::RESET)
    }
}

/// The paint for text to an output that gets colour when `color`.
pub(super) fn painter(color: bool) -> &'static dyn Paint {
    if color { &Ansi } else { &Plain }
}

/// LEGACY, for the reports not yet converted to a
/// [`Document`](crate::report::Document) (`hist`, `alloc`, plugins'
/// reports): colours a report's text for a terminal by matching its
/// words: `== name ==` headings bold, lines that warn in yellow, histogram
/// bars in green. A converted report is painted by block kind through
/// [`Ansi`] instead; once every report is converted this goes.
pub(super) fn paint_report(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let trimmed = body.trim_start();
        if trimmed.starts_with("== ") && trimmed.ends_with(" ==") {
            out.push_str(&paint(style::BOLD, body));
        } else if trimmed.starts_with("WARNING")
            || trimmed.starts_with("Events were lost")
            || trimmed.contains(" LOST ")
        {
            out.push_str(&paint(style::WARN, body));
        } else if let Some((head, rest)) = body.split_once(" |@")
            && let Some(bar_end) = rest.find('|')
        {
            // `[4KiB, 8KiB)   12 |@@@@@   |`: the @ run in colour.
            let (bar, tail) = rest.split_at(bar_end);
            let ats = bar.trim_end_matches(' ');
            let spaces = &bar[ats.len()..];
            out.push_str(head);
            out.push_str(" |");
            out.push_str(&paint(style::BAR, &format!("@{ats}")));
            out.push_str(spaces);
            out.push_str(tail);
        } else {
            out.push_str(body);
        }
        out.push_str(newline);
    }
    out
}

/// LEGACY, like [`paint_report`]: a writer that colours what passes
/// through it line by line, as [`paint_report`] colours a whole text (or
/// passes it on untouched when `color` is off): for the reports not yet
/// converted to a [`Document`](crate::report::Document), written as they
/// are rendered.
pub(super) struct PaintLines<'w> {
    out: &'w mut dyn Write,
    color: bool,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
}

impl<'w> PaintLines<'w> {
    pub(super) fn new(out: &'w mut dyn Write, color: bool) -> Self {
        PaintLines {
            out,
            color,
            partial: Vec::new(),
        }
    }

    /// Writes out a last line without a newline.
    pub(super) fn finish(mut self) -> io::Result<()> {
        let rest = std::mem::take(&mut self.partial);
        if !rest.is_empty() {
            let text = String::from_utf8_lossy(&rest);
            self.out.write_all(paint_report(&text).as_bytes())?;
        }
        Ok(())
    }
}

impl Write for PaintLines<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.color {
            return self.out.write(buf);
        }
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end + 1);
            self.partial.extend_from_slice(line);
            let text = String::from_utf8_lossy(&self.partial);
            self.out.write_all(paint_report(&text).as_bytes())?;
            self.partial.clear();
            rest = after;
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// How long a run goes before `--progress auto` shows the bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The progress bar of one run: hidden until the run has taken a second
/// (short runs never flash one), then bytes of trace done, rate and time
/// left.
pub(super) struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
}

impl Progress {
    fn new(total: Option<u64>, show_now: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let template = if total.is_some() {
            "{spinner} {elapsed:>4} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left"
        } else {
            "{spinner} {elapsed:>4} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let mut p = Progress {
            bar,
            started: Instant::now(),
            shown: false,
        };
        if show_now {
            p.show();
        }
        p
    }

    fn show(&mut self) {
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.shown = true;
    }

    /// The trace has been read up to byte `offset`.
    pub(super) fn set(&mut self, offset: u64) {
        if !self.shown && self.started.elapsed() >= SHOW_AFTER {
            self.show();
        }
        self.bar.set_position(offset);
    }

    /// Removes the bar (before messages and reports are written).
    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_painted_for_a_terminal() {
        let text = "== stats ==\nplain line\nWARNING: EVENTS WERE LOST\n\
                    [4KiB, 8KiB)       12 |@@@@@     |\n[0]        0 |          |\n";
        let painted = paint_report(text);
        assert_eq!(
            painted,
            format!(
                "{b}== stats =={r}\nplain line\n{w}WARNING: EVENTS WERE LOST{r}\n\
                 [4KiB, 8KiB)       12 |{g}@@@@@{r}     |\n[0]        0 |          |\n",
                b = style::BOLD,
                w = style::WARN,
                g = style::BAR,
                r = style::RESET
            )
        );
        // Without escapes it is the same text.
        let plain: String = painted
            .replace(style::BOLD, "")
            .replace(style::WARN, "")
            .replace(style::BAR, "")
            .replace(style::RESET, "");
        assert_eq!(plain, text);
        assert_eq!(paint_report("no newline"), "no newline");
    }

    /// Written through [`PaintLines`] a byte at a time (every line split
    /// across writes, a multi-byte character too, and the last line
    /// without a newline), a report comes out as [`paint_report`] paints
    /// it whole; without colour, untouched.
    #[test]
    fn lines_painted_as_they_pass_whatever_the_writes() {
        let text = "== alloc ==\nplain µs line\nWARNING: EVENTS WERE LOST\n\
                    [4KiB, 8KiB)       12 |@@@@@     |\n\nEvents were lost: 3\n\
                    [0]        1 |@         |";
        for color in [true, false] {
            let mut out = Vec::new();
            let mut painted = PaintLines::new(&mut out, color);
            for byte in text.as_bytes() {
                painted.write_all(std::slice::from_ref(byte)).unwrap();
            }
            painted.finish().unwrap();
            let want = if color {
                paint_report(text)
            } else {
                text.to_owned()
            };
            assert_eq!(String::from_utf8(out).unwrap(), want, "colour {color}");
        }
        // Lines of any length split anywhere, the whole buffer at once too.
        for split in [1, 2, 7, 40, text.len()] {
            let mut out = Vec::new();
            let mut painted = PaintLines::new(&mut out, true);
            for piece in text.as_bytes().chunks(split) {
                painted.write_all(piece).unwrap();
            }
            painted.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), paint_report(text));
        }
    }

    #[test]
    fn when_never_and_always() {
        let args = TermArgs {
            color: When::Never,
            progress: When::Never,
        };
        assert!(!args.color_stdout() && !args.color_stderr());
        assert!(args.progress(Some(10)).is_none());
        let args = TermArgs {
            color: When::Always,
            progress: When::Always,
        };
        assert!(args.color_stdout() && args.color_stderr());
        let mut p = args.progress(None).unwrap();
        p.set(5);
        p.finish();
    }
}
