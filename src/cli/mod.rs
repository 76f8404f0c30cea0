//! The command line, as a library: `src/bin/simpletrace.rs` is
//! `simpletrace::cli::main()`, and a crate with analyzers of its own gets
//! the whole command line with them added as subcommands:
//!
//! ```no_run
//! use simpletrace::analyzers::AnalyzerEntry;
//! # use simpletrace::analyzers::{Analyzer, AnalyzerError, Handlers, Report, TraceInfo};
//! # #[derive(Default)] struct MyAnalyzer;
//! # impl Analyzer for MyAnalyzer {
//! #     fn name(&self) -> &str { "mine" }
//! #     fn handlers(&self) -> Handlers<Self> { Handlers::new() }
//! #     fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> { Ok(Report::none()) }
//! # }
//!
//! fn main() -> std::process::ExitCode {
//!     simpletrace::cli::main_with(vec![AnalyzerEntry::sequential(
//!         "mine",
//!         "what my analyzer reports",
//!         MyAnalyzer::default,
//!     )])
//! }
//! ```
//!
//! Arguments are parsed in two stages: the clap structures hold what the
//! user typed; `Config` is what they mean, with the files opened and
//! parsed. Commands take a `Config` only.
//!
//! Layout: `args` (clap's structures, what the user typed), `config`
//! (what they mean: the files opened), `argv` (options before the
//! command, mistyped commands), `run` (each command: its analyzers,
//! the run, what its end means), `report` (writing reports),
//! `destinations` (where each analyzer of `run` writes, and what may share
//! standard output), `error` (typed errors and their exit statuses),
//! `term` (colour, progress), `generate` (completions, manual pages),
//! `hints` (what a bad file probably is), `hist` and `alloc` (those
//! commands' arguments); this file is the entry point, printing what a run
//! ended with.

mod alloc;
mod args;
mod argv;
mod config;
mod destinations;
mod error;
mod generate;
mod hints;
mod hist;
mod malloc;
#[cfg(feature = "sql")]
mod parquet;
mod report;
mod run;
#[cfg(feature = "sql")]
mod sql;
mod term;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ArgMatches;

use crate::analyzers::AnalyzerEntry;
use crate::output::ClosedStreams;
pub use args::command;
// What the hist and alloc commands take from their parent.
#[cfg(test)]
use args::{Cli, Command};
use args::{EndArg, OutputArgs, TraceArgs};
use config::Config;
use error::{Failure, ResyncLine};
use run::{Reports, analyze, file_writer, put_in_place};

/// The exit status when the trace file shrank while it was read (another
/// program truncated or rewrote it): every record before the cut was read
/// and the results cover them, but not the whole trace as it was. Distinct
/// from 1 (a bad trace) because reading it again may well succeed.
pub const EXIT_CHANGED: u8 = 4;

/// The exit status of a usage error (clap's, and ours).
pub const EXIT_USAGE: u8 = 2;

/// The exit status when `--resync` skipped corrupt data: everything
/// outside the reported byte ranges was read, but not the whole trace.
/// Distinct from 1 (a fault stopped the run, or no trace at all) so that
/// scripts can accept a partial result knowingly.
pub const EXIT_RESYNCED: u8 = 3;

/// The `simpletrace` command with only the built-in analyzers.
pub fn main() -> ExitCode {
    main_with(Vec::new())
}

/// The `simpletrace` command with `extras` added as subcommands (and
/// available to `run --plugin NAME`). Prints results to standard output
/// and messages to standard error; exit status 0 on success (also when the
/// output pipe closes early, and for a trace cut off mid-record, with a
/// warning), 1 for a bad trace or trace-events file or a failed analyzer,
/// 2 for a usage error, [`EXIT_RESYNCED`] (3) when `--resync` skipped
/// corrupt data.
pub fn main_with(extras: Vec<AnalyzerEntry>) -> ExitCode {
    malloc::tune();
    // Before any file is opened, so that none gets a standard stream's
    // number.
    let closed = crate::output::claim_standard_streams();
    let args: Vec<OsString> = std::env::args_os().collect();
    let matches = match parse(&command(&extras), &args) {
        Ok(m) => m,
        Err(Parsed::Clap(e)) => return clap_exit(&e, closed),
        Err(Parsed::Usage(message)) => return report(Err(Failure::invalid(message)), false),
    };
    let result = if closed.stdout && writes_to_stdout(&matches) {
        Err(Failure::output(stdout_closed()))
    } else {
        run::run(&matches, &extras)
    };
    report(result, term::color_stderr_of(&matches))
}

/// Why the command line was not parsed.
enum Parsed {
    /// Clap's error (or `--help`, `--version`).
    Clap(clap::Error),
    /// A mistyped or unknown command ([`argv`]).
    Usage(String),
}

/// Parses `args` (the program name first): as typed; failing that, with
/// the options given before the command moved after it (`simpletrace -j1
/// stats ...`). A first word that is neither a command nor a file, close
/// to a command's name, is a mistyped command whatever follows it.
fn parse(cmd: &clap::Command, args: &[OsString]) -> Result<ArgMatches, Parsed> {
    if let Some(message) = argv::mistyped_command(cmd, args) {
        return Err(Parsed::Usage(message));
    }
    let error = match cmd.clone().try_get_matches_from(args) {
        Ok(m) => return Ok(m),
        Err(e) if !e.use_stderr() => return Err(Parsed::Clap(e)),
        Err(e) => e,
    };
    if let Some(moved) = argv::options_after_command(cmd, args) {
        return cmd
            .clone()
            .try_get_matches_from(moved)
            .map_err(Parsed::Clap);
    }
    // Clap's word for a third positional argument after the two files:
    // "the subcommand '...' cannot be used with".
    let third_word = error.kind() == clap::error::ErrorKind::ArgumentConflict;
    let explained = argv::unknown_command(cmd, args).or_else(|| argv::extra_argument(cmd, args));
    match explained.filter(|_| third_word) {
        // With the usage lines, as clap's own message has them.
        Some(message) => Err(Parsed::Usage(format!(
            "{message}\n\n{}\n\nFor more information, try '--help'.",
            cmd.clone().render_usage()
        ))),
        None => Err(Parsed::Clap(error)),
    }
}

/// Prints what a run ended with on standard error, and gives its exit
/// status. An error is written once, here, from its typed form, after the
/// prefix `simpletrace:` (scripts parse it: coloured on a terminal, the
/// same text otherwise).
fn report(result: Result<Vec<String>, Failure>, color: bool) -> ExitCode {
    let (error, warning) = if color {
        (
            term::paint(term::style::ERROR, "simpletrace:"),
            term::paint(term::style::WARN, "simpletrace: warning:"),
        )
    } else {
        (
            "simpletrace:".to_owned(),
            "simpletrace: warning:".to_owned(),
        )
    };
    let mut stderr = io::stderr().lock();
    let failure = match result {
        Ok(warnings) => {
            for w in warnings {
                let _ = writeln!(stderr, "{warning} {w}");
            }
            return ExitCode::SUCCESS;
        }
        Err(failure) => failure,
    };
    if failure.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    let status = match &failure {
        Failure::Error(_) | Failure::Fault(_) => ExitCode::FAILURE,
        Failure::Usage(_) => ExitCode::from(EXIT_USAGE),
        Failure::Changed(_) => ExitCode::from(EXIT_CHANGED),
        Failure::Resynced(resynced) => {
            for line in resynced.lines() {
                let _ = match line {
                    ResyncLine::Warning(w) => writeln!(stderr, "{warning} {w}"),
                    ResyncLine::Note(n) => writeln!(stderr, "simpletrace: {n}"),
                };
            }
            return ExitCode::from(EXIT_RESYNCED);
        }
    };
    let _ = writeln!(stderr, "{error} {failure}");
    status
}

/// What clap stopped with: a usage error on standard error (exit status
/// 2), or `--help` or `--version` on standard output (0), which, like any
/// output, fails with status 1 when it cannot be written (a closed
/// standard output, a full disk).
fn clap_exit(e: &clap::Error, closed: ClosedStreams) -> ExitCode {
    let printed = if e.use_stderr() {
        let _ = e.print();
        Ok(())
    } else if closed.stdout {
        Err(stdout_closed())
    } else {
        e.print().and_then(|()| io::stdout().flush())
    };
    match printed {
        Ok(()) => ExitCode::from(e.exit_code().clamp(0, 255) as u8),
        // As for every other command (a reader that stopped early is a
        // success); no --color was parsed.
        Err(err) => report(Err(Failure::output(err)), false),
    }
}

/// Whether the command writes to standard output: every one but
/// `filter -o FILE`, whose summary goes to standard error, `sql -o
/// FILE` and `parquet`.
fn writes_to_stdout(matches: &ArgMatches) -> bool {
    match matches.subcommand() {
        Some(("filter", sub)) => sub
            .get_one::<PathBuf>("output")
            .is_none_or(|p| p.as_os_str() == "-"),
        Some(("parquet", _)) => false,
        Some(("sql", sub)) => sub
            .get_one::<PathBuf>("output")
            .is_none_or(|p| p.as_os_str() == "-"),
        _ => true,
    }
}

/// The error of a standard output that was closed when the process
/// started: the results would go nowhere.
fn stdout_closed() -> io::Error {
    io::Error::other(
        "standard output is closed (redirect it to a file, or to /dev/null to discard the results)",
    )
}
