//! Terminal manners: when to colour, the progress bar, and colouring what
//! goes to a terminal.
//!
//! Colour and the progress bar are for people watching a terminal; pipes
//! and files get plain bytes (the drop-in output must stay byte-identical to
//! `simpletrace.py`'s).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::render::{Ansi, Paint, Plain, Style};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(super) enum When {
    /// Colour what goes to a terminal, unless `NO_COLOR` is set
    #[default]
    Auto,
    /// Colour, wherever the output goes
    Always,
    /// No colour
    Never,
}

/// `--progress` (its own values: what `auto` means differs from
/// `--color`'s, and `--help` lists each value's meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(super) enum ProgressWhen {
    /// A bar once a run has taken a second, when standard output is not a
    /// terminal
    #[default]
    Auto,
    /// A bar from the start, whatever standard output is
    Always,
    /// No bar
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
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ProgressWhen::Auto)]
    progress: ProgressWhen,
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
            ProgressWhen::Never => return None,
            ProgressWhen::Always => true,
            ProgressWhen::Auto => {
                if !std::io::stderr().is_terminal() || std::io::stdout().is_terminal() {
                    return None;
                }
                false
            }
        };
        Some(Progress::new(total, show))
    }
}

/// ANSI styles (SGR sequences) of messages on standard error, from the
/// render layer's one palette ([`Ansi`]).
pub(super) mod style {
    use super::{Ansi, Style};

    /// Warnings.
    pub const WARN: &str = Ansi::sgr(Style::Warning);
    /// Errors.
    pub const ERROR: &str = "\x1b[1;31m";
    /// Back to plain.
    pub const RESET: &str = Ansi::RESET;
}

/// `text` in `style`.
pub(super) fn paint(style: &str, text: &str) -> String {
    format!("{style}{text}{}", style::RESET)
}

/// The paint for text to an output that gets colour when `color`.
pub(super) fn painter(color: bool) -> &'static dyn Paint {
    if color { &Ansi } else { &Plain }
}

/// How long a run goes before `--progress auto` shows the bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How often a shown bar is redrawn when no byte arrives (a slow pipe):
/// the spinner turns and the time goes on.
const TICK: Duration = Duration::from_millis(200);

/// The progress bar of one run: hidden until the run has taken a second
/// (short runs never flash one), then the bytes read, rate and, when the
/// total is known, a bar and the time left.
///
/// Every command shows it the same way, from where the trace's bytes come
/// from: a memory-mapped trace by the offset the driver has reached (its
/// total is the file's size), a stream by the bytes read from its source
/// ([`crate::input::TraceStream::on_progress`]): of a compressed file the
/// compressed bytes, whose total is the file's size; of a pipe, whose size
/// is not known, the bytes so far (a spinner). Clones share the one bar.
#[derive(Clone)]
pub(super) struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: Arc<AtomicBool>,
}

impl Progress {
    fn new(total: Option<u64>, show_now: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(Self::template(total)) {
            bar.set_style(style.progress_chars("=> "));
        }
        let p = Progress {
            bar,
            started: Instant::now(),
            shown: Arc::new(AtomicBool::new(false)),
        };
        if show_now {
            p.show();
        }
        p
    }

    /// What the bar shows: with a known total, how much of it is done and
    /// the time left; without, the bytes so far and the rate.
    fn template(total: Option<u64>) -> &'static str {
        if total.is_some() {
            "{spinner} {elapsed:>4} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta} left"
        } else {
            "{spinner} {elapsed:>4} {bytes} read, {bytes_per_sec}"
        }
    }

    fn show(&self) {
        if !self.shown.swap(true, Ordering::Relaxed) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(TICK);
        }
    }

    /// The trace has been read up to byte `offset` (of the source's bytes:
    /// compressed ones, for a compressed trace).
    pub(super) fn set(&self, offset: u64) {
        if !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.show();
        }
        self.bar.set_position(offset);
    }

    /// Removes the bar (before messages and reports are written). A shown
    /// bar is drawn once more first, with where the run ended: redraws are
    /// limited to a few a second, and a short run would otherwise leave its
    /// first state as the last one drawn (what a recording of the terminal
    /// keeps, and the tests look for).
    pub(super) fn finish(&self) {
        if self.shown.load(Ordering::Relaxed) {
            self.bar.force_draw();
        }
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_never_and_always() {
        let args = TermArgs {
            color: When::Never,
            progress: ProgressWhen::Never,
        };
        assert!(!args.color_stdout() && !args.color_stderr());
        assert!(args.progress(Some(10)).is_none());
        let args = TermArgs {
            color: When::Always,
            progress: ProgressWhen::Always,
        };
        assert!(args.color_stdout() && args.color_stderr());
        let p = args.progress(None).unwrap();
        p.set(5);
        p.finish();
    }
}
