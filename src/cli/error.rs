//! What a command fails with: a typed [`Error`] (its causes reachable
//! through [`std::error::Error::source`], its message made once, when it is
//! printed) inside a [`Failure`], which says the exit status. Closed pipes
//! are recognised here and nowhere else ([`Failure::is_broken_pipe`]).

use core::fmt;
use std::error::Error as StdError;
use std::io;

use crate::analyzers::{AnalyzerError, RunError, StreamError};
use crate::format;
use crate::format::Skips;
use crate::input::{InputError, Shrink};
use crate::output::OutputError;
use crate::pattern::PatternError;

/// Why a command stopped, typed. `Display` writes the whole message (each
/// error's text includes its cause's, as the library's errors do);
/// `source()` gives the cause.
#[derive(Debug)]
pub(crate) enum Error {
    /// Writing the results failed (a closed pipe, a full disk).
    Output(io::Error),
    /// An input file could not be opened or read.
    Input(InputError),
    /// An output file could not be created, written or put in place.
    OutputFile(OutputError),
    /// An analyzer failed.
    Analyzer(AnalyzerError),
    /// The trace's bytes are not what they should be.
    Format(format::Error),
    /// A trace read as a stream could not be read on.
    Stream(StreamError),
    /// A list of event patterns did not parse.
    Pattern(PatternError),
    /// A file that should be text is not UTF-8.
    NotUtf8(core::str::Utf8Error),
    /// A histogram's specification does not fit the trace-events file
    /// (an event or argument it names is not declared, say).
    Hist(crate::analyzers::hist::HistError),
    /// A plugin library could not be loaded.
    #[cfg(feature = "plugins")]
    Plugin(crate::analyzers::plugin::PluginError),
    /// Arguments clap accepted but could not turn into their types.
    Args(clap::Error),
    /// `sql`'s tables could not be set up, or its query failed.
    #[cfg(feature = "sql")]
    Sql(super::sql::SqlFailure),
    /// A file-system operation failed.
    Io(io::Error),
    /// Arguments that do not fit together or with the files: the CLI's own
    /// checks, which have no cause beyond what the user typed.
    Invalid(String),
    /// The trace file shrank while it was read, and that ended the run:
    /// how it shrank, the fault where reading stopped (if the reader
    /// stopped at one), and what failed then (if anything did).
    Shrank {
        /// How the file changed.
        shrink: Shrink,
        /// Where reading stopped, and what the reader found there.
        fault: Option<format::Error>,
        /// What failed because of it.
        then: Option<Box<Error>>,
    },
    /// An error with what it is about before it (`PATH: `, `--events: `)
    /// and a note after it (a hint, what the offsets of a compressed trace
    /// count).
    Context {
        /// Written before the error.
        before: String,
        /// The error.
        error: Box<Error>,
        /// Written after it.
        after: String,
    },
}

impl Error {
    /// `self` with `before` written before it and `after` after it.
    pub(crate) fn context(self, before: impl Into<String>, after: impl Into<String>) -> Error {
        Error::Context {
            before: before.into(),
            error: Box::new(self),
            after: after.into(),
        }
    }

    /// Whether an analyzer refused, at the start of the run, a request
    /// that is wrong whatever the files hold (`hist`'s and `alloc`'s
    /// errors say which of theirs are).
    fn is_usage(&self) -> bool {
        let Error::Analyzer(e) = self else {
            return false;
        };
        let source = e.source();
        e.is_setup()
            && (source
                .and_then(|s| s.downcast_ref::<crate::analyzers::hist::HistError>())
                .is_some_and(|h| h.is_usage())
                || source
                    .and_then(|s| s.downcast_ref::<crate::analyzers::alloc::RuleError>())
                    .is_some_and(|r| r.is_usage()))
    }

    /// Whether a closed pipe (the reader of standard output went away) is
    /// the cause, here or further down the chain.
    fn is_broken_pipe(&self) -> bool {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(self);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<io::Error>()
                && io.kind() == io::ErrorKind::BrokenPipe
            {
                return true;
            }
            cause = e.source();
        }
        false
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Output(e) => write!(f, "writing the output failed: {e}"),
            Error::Input(e) => e.fmt(f),
            Error::OutputFile(e) => e.fmt(f),
            // An analyzer's refusal at the start of the run is said in its
            // own words, as the command's (the analyzer is the command).
            Error::Analyzer(e) if e.is_setup() => f.write_str(&e.message),
            Error::Analyzer(e) => e.fmt(f),
            Error::Format(e) => e.fmt(f),
            Error::Stream(e) => e.fmt(f),
            Error::Pattern(e) => e.fmt(f),
            Error::NotUtf8(e) => write!(
                f,
                "not UTF-8 text (an invalid byte at offset {})",
                e.valid_up_to()
            ),
            Error::Hist(e) => e.fmt(f),
            #[cfg(feature = "plugins")]
            Error::Plugin(e) => e.fmt(f),
            Error::Args(e) => e.fmt(f),
            #[cfg(feature = "sql")]
            Error::Sql(e) => e.fmt(f),
            Error::Io(e) => e.fmt(f),
            Error::Invalid(message) => f.write_str(message),
            Error::Shrank {
                shrink,
                fault,
                then,
            } => {
                write!(f, "{shrink}")?;
                if let Some(e) = fault
                    && let Some(at) = e.at()
                {
                    write!(
                        f,
                        "; reading stopped at {at}, and every record before it was read"
                    )?;
                    if !matches!(e, format::Error::Cut { .. }) {
                        write!(f, " (the reader found there: {e})")?;
                    }
                }
                if let Some(then) = then {
                    write!(f, "; then: {then}")?;
                }
                Ok(())
            }
            Error::Context {
                before,
                error,
                after,
            } => write!(f, "{before}{error}{after}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Output(e) | Error::Io(e) => Some(e),
            Error::Input(e) => Some(e),
            Error::OutputFile(e) => Some(e),
            Error::Analyzer(e) => Some(e),
            Error::Format(e) => Some(e),
            Error::Stream(e) => Some(e),
            Error::Pattern(e) => Some(e),
            Error::NotUtf8(e) => Some(e),
            Error::Hist(e) => Some(e),
            #[cfg(feature = "plugins")]
            Error::Plugin(e) => Some(e),
            Error::Args(e) => Some(e),
            #[cfg(feature = "sql")]
            Error::Sql(e) => Some(e),
            Error::Invalid(_) => None,
            Error::Shrank { fault, then, .. } => match (then, fault) {
                (Some(then), _) => Some(&**then),
                (None, Some(fault)) => Some(fault),
                (None, None) => None,
            },
            Error::Context { error, .. } => Some(&**error),
        }
    }
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Error {
        match e {
            RunError::Io(e) => Error::Output(e),
            RunError::Analyzer(e) => Error::Analyzer(e),
        }
    }
}

macro_rules! from_errors {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Error {
                Error::$variant(e)
            }
        }
        impl From<$ty> for Failure {
            fn from(e: $ty) -> Failure {
                Failure::Error(Error::$variant(e))
            }
        }
    )*};
}

from_errors!(
    Input(InputError),
    OutputFile(OutputError),
    Analyzer(AnalyzerError),
    Pattern(PatternError),
);
impl From<clap::Error> for Failure {
    /// Arguments clap accepted but could not turn into their types: a
    /// usage error, as clap's own.
    fn from(e: clap::Error) -> Failure {
        Failure::Usage(Error::Args(e))
    }
}
#[cfg(feature = "plugins")]
from_errors!(Plugin(crate::analyzers::plugin::PluginError));

/// What a command ended with, beyond success: the error, and by its
/// variant the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input, a failed analyzer, output that cannot be written: exit
    /// status 1 (0, quietly, for a closed pipe).
    Error(Error),
    /// The trace stopped being readable part way (a corrupt record, a
    /// failed read): every result covers the records before that point.
    /// Exit status 1.
    Fault(Error),
    /// The trace file was cut short while it was read (another program
    /// truncated or rewrote it): the results cover the records before the
    /// cut. Exit status [`EXIT_CHANGED`](super::EXIT_CHANGED).
    Changed(Error),
    /// Arguments that clap accepts but that make no sense together: exit
    /// status 2 like clap's own usage errors.
    Usage(Error),
    /// `--resync` stepped over corrupt regions and read on: what it
    /// skipped and what the run warned about, exit status
    /// [`EXIT_RESYNCED`](super::EXIT_RESYNCED).
    Resynced(Resynced),
}

impl Failure {
    /// A usage error found after clap: options that do not fit together,
    /// a malformed option value, anything wrong with the command line that
    /// is known without reading a file (exit status 2, as clap's own).
    pub(crate) fn invalid(message: String) -> Failure {
        Failure::Usage(Error::Invalid(message))
    }

    /// Writing the results failed (exit status 1, or 0 for a closed pipe).
    pub(crate) fn output(e: io::Error) -> Failure {
        Failure::Error(Error::Output(e))
    }

    /// The error, if the failure is one.
    pub(crate) fn error(&self) -> Option<&Error> {
        match self {
            Failure::Error(e) | Failure::Fault(e) | Failure::Changed(e) | Failure::Usage(e) => {
                Some(e)
            }
            Failure::Resynced(_) => None,
        }
    }

    /// Whether the run ended because the reader of its output went away
    /// (`| head`): that is a success, and nothing is printed. The one place
    /// that recognises a closed pipe.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.error().is_some_and(Error::is_broken_pipe)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Error(e)
    }
}

impl From<RunError> for Failure {
    /// A run's error; an analyzer's refusal at the start of the run that
    /// is a usage error (its request wrong whatever the files hold) is
    /// one here too.
    fn from(e: RunError) -> Failure {
        let e = Error::from(e);
        if e.is_usage() {
            Failure::Usage(e)
        } else {
            Failure::Error(e)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Resynced(resynced) => {
                for (i, line) in resynced.lines().iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{line}")?;
                }
                Ok(())
            }
            Failure::Error(e) | Failure::Fault(e) | Failure::Changed(e) | Failure::Usage(e) => {
                e.fmt(f)
            }
        }
    }
}

/// What a `--resync` run that skipped corrupt regions ends with: the
/// regions (kept as the reader logged them, not as text), and the
/// warnings of the run, said in [`Resynced::lines`]' order.
#[derive(Debug, Default)]
pub(crate) struct Resynced {
    /// Each trace that had regions skipped (as the messages name it), and
    /// its regions; in the order of the command line (`sql` and
    /// `parquet` read several traces).
    pub(crate) traces: Vec<(String, Skips)>,
    /// What the analyzers warned about when the run started.
    pub(crate) setup: Vec<String>,
    /// What the run warned about after reading.
    pub(crate) warnings: Vec<String>,
}

/// One line of what a resynchronised run says on standard error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResyncLine {
    /// A warning (written after `simpletrace: warning: `).
    Warning(String),
    /// A skipped region, the regions not listed, or the summary (written
    /// after `simpletrace: `).
    Note(String),
}

impl fmt::Display for ResyncLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncLine::Warning(w) => write!(f, "warning: {w}"),
            ResyncLine::Note(n) => f.write_str(n),
        }
    }
}

impl Resynced {
    /// How a run that read `traces` ends: its warnings (`setup`'s first)
    /// when no trace had a region skipped, else [`Failure::Resynced`]
    /// (exit status 3) listing the traces that had.
    pub(crate) fn outcome(
        traces: Vec<(String, Skips)>,
        setup: Vec<String>,
        warnings: Vec<String>,
    ) -> Result<Vec<String>, Failure> {
        let traces: Vec<(String, Skips)> =
            traces.into_iter().filter(|(_, s)| !s.is_empty()).collect();
        if traces.is_empty() {
            return Ok(setup.into_iter().chain(warnings).collect());
        }
        Err(Failure::Resynced(Resynced {
            traces,
            setup,
            warnings,
        }))
    }

    /// The lines, in order: the start-up warnings, each listed region,
    /// how many more were not listed, the run's warnings, the summary.
    pub(crate) fn lines(&self) -> Vec<ResyncLine> {
        let mut lines: Vec<ResyncLine> = self
            .setup
            .iter()
            .map(|w| ResyncLine::Warning(w.clone()))
            .collect();
        for (trace, skips) in &self.traces {
            lines.extend(
                skips
                    .listed()
                    .iter()
                    .map(|s| ResyncLine::Note(format!("{trace}: {s}"))),
            );
            let unlisted = skips.count() - skips.listed().len() as u64;
            if unlisted > 0 {
                let listed_bytes: u64 = skips.listed().iter().map(|s| s.len()).sum();
                lines.push(ResyncLine::Note(format!(
                    "{trace}: {unlisted} more skipped ranges ({} bytes) are not listed",
                    skips.bytes() - listed_bytes
                )));
            }
        }
        lines.extend(self.warnings.iter().map(|w| ResyncLine::Warning(w.clone())));
        for (trace, skips) in &self.traces {
            let regions = match skips.count() {
                1 => "1 corrupt region".to_owned(),
                n => format!("{n} corrupt regions"),
            };
            lines.push(ResyncLine::Note(format!(
                "{trace}: --resync skipped {regions} ({} bytes in all); every record outside them was read",
                skips.bytes()
            )));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resynchronised run says its start-up warnings, then the regions,
    /// then the run's warnings, then the summary, whatever order they
    /// were found in.
    #[test]
    fn resynced_lines_come_in_order() {
        let resynced = Resynced {
            traces: vec![("t".into(), Skips::default())],
            setup: vec!["at start".into()],
            warnings: vec!["after".into()],
        };
        let lines: Vec<String> = resynced.lines().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "warning: at start",
                "warning: after",
                "t: --resync skipped 0 corrupt regions (0 bytes in all); every record outside them was read",
            ]
        );
        assert_eq!(Failure::Resynced(resynced).to_string(), lines.join("\n"));
    }

    fn pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    /// A closed pipe is found wherever it is in the chain: written
    /// directly, under an analyzer that wrote a trace, under context; any
    /// other write error is not one.
    #[test]
    fn broken_pipe_anywhere_in_the_chain() {
        assert!(Failure::output(pipe()).is_broken_pipe());
        let analyzer =
            AnalyzerError::caused_by("filter", "-", crate::format::writer::WriteError::Io(pipe()));
        let failure = Failure::from(RunError::Analyzer(analyzer));
        assert!(failure.is_broken_pipe());
        assert_eq!(
            failure.to_string(),
            "analyzer 'filter': -: writing the trace failed: broken pipe"
        );
        let wrapped = Error::Output(pipe()).context("x: ", "");
        assert!(Failure::Changed(wrapped).is_broken_pipe());
        assert!(!Failure::output(io::Error::from(io::ErrorKind::StorageFull)).is_broken_pipe());
        assert!(!Failure::invalid("broken pipe".into()).is_broken_pipe());
        assert!(!Failure::Resynced(Resynced::default()).is_broken_pipe());
    }

    /// The message is the error's with its context, made when printed; the
    /// cause stays reachable.
    #[test]
    fn context_keeps_the_cause() {
        let pattern = crate::pattern::EventPatterns::parse_list("a b").unwrap_err();
        let e = Error::Pattern(pattern.clone()).context("--events: ", "");
        assert_eq!(e.to_string(), format!("--events: {pattern}"));
        let source = e.source().and_then(|s| s.source()).unwrap();
        assert!(source.downcast_ref::<PatternError>().is_some());
    }
}
