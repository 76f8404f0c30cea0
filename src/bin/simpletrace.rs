//! The `simpletrace` command: a drop-in for QEMU's `scripts/simpletrace.py`.
//!
//! This file only parses arguments, opens inputs, and turns results into
//! messages and exit codes; the work is in the library.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use simpletrace::analyzers::print::{Buffering, Parallelism, PrintError, print_trace};
use simpletrace::format::{TraceEvents, TraceReader};
use simpletrace::input::{self, InputError, TraceData};

const EXAMPLES: &str = "\
Examples:
  simpletrace trace-events-all trace-12345
      Print every event, exactly as QEMU's simpletrace.py does.
  simpletrace --no-header trace-events-all trace-12345
      Read a trace written without the file header.
  simpletrace trace-events-all - < trace-12345
      Read the trace from standard input.";

/// Decode QEMU simple-backend trace files.
///
/// With two file arguments and no command, prints the trace exactly like
/// QEMU's scripts/simpletrace.py (the same as `simpletrace print`).
#[derive(Debug, Parser)]
#[command(
    name = "simpletrace",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    print: PrintArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every event record, one line each, exactly like simpletrace.py
    /// (the default command).
    #[command(after_help = EXAMPLES)]
    Print(PrintArgs),
}

/// The drop-in command line: `[--no-header] TRACE_EVENTS TRACE_FILE`.
#[derive(Debug, Args)]
struct PrintArgs {
    /// The trace has no file header: records start at byte 0, and event ids
    /// without a mapping record are positions in TRACE_EVENTS.
    #[arg(long)]
    no_header: bool,
    /// The trace-events-all file of the QEMU build that wrote the trace.
    #[arg(value_name = "TRACE_EVENTS", required = true)]
    trace_events: Option<PathBuf>,
    /// The binary trace file (trace-<pid>), or - for standard input.
    #[arg(value_name = "TRACE_FILE", required = true)]
    trace_file: Option<PathBuf>,
    /// Threads to format with (default: one per CPU). The output is the
    /// same for any number.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Bytes of trace per parallel work unit (for tuning and tests).
    #[arg(long, hide = true, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..=1 << 30))]
    chunk_size: Option<u64>,
}

/// What a run ended with, beyond success.
enum Failure {
    /// Output could not be written; a closed pipe ends the run quietly.
    Output(io::Error),
    /// Bad input: the message to print, exit status 1.
    Input(String),
}

/// Messages for the user that do not change the exit status.
struct Warnings(Vec<String>);

/// Everything a command needs, opened and parsed (the high-level form of
/// the arguments).
struct Config {
    events: TraceEvents,
    trace: TraceData,
    trace_path: PathBuf,
    no_header: bool,
    parallelism: Parallelism,
}

impl Config {
    fn from_args(args: PrintArgs) -> Result<Config, Failure> {
        let (Some(events_path), Some(trace_path)) = (args.trace_events, args.trace_file) else {
            return Err(Failure::Input("missing TRACE_EVENTS or TRACE_FILE".into()));
        };
        let events = input::read_trace_events(&events_path).map_err(input_failure)?;
        let trace = TraceData::open(&trace_path).map_err(input_failure)?;
        let threads = match args.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut parallelism = Parallelism::threads(threads);
        if let Some(bytes) = args.chunk_size {
            parallelism.chunk_bytes = bytes as usize;
        }
        Ok(Config {
            events,
            trace,
            trace_path,
            no_header: args.no_header,
            parallelism,
        })
    }

    fn reader(&self) -> Result<TraceReader<'_>, Failure> {
        if self.no_header {
            Ok(TraceReader::headerless(&self.trace, &self.events))
        } else {
            TraceReader::new(&self.trace, &self.events).map_err(|e| self.trace_failure(e))
        }
    }

    fn trace_failure(&self, e: impl std::fmt::Display) -> Failure {
        Failure::Input(format!("{}: {e}", self.trace_path.display()))
    }
}

fn input_failure(e: InputError) -> Failure {
    Failure::Input(e.to_string())
}

fn print(config: &Config) -> Result<Warnings, Failure> {
    let reader = config.reader()?;
    let stdout = io::stdout();
    let buffering = if stdout.is_terminal() {
        Buffering::Line
    } else {
        Buffering::Block
    };
    simpletrace::output::enlarge_stdout_pipe();
    let mut out = stdout.lock();
    let mut release = |offset| config.trace.release_before(offset);
    match print_trace(
        reader,
        &mut out,
        buffering,
        config.parallelism,
        &mut release,
    ) {
        Ok(_) => Ok(Warnings(Vec::new())),
        Err(PrintError::Io(e)) => Err(Failure::Output(e)),
        Err(PrintError::Trace(e)) if e.is_truncation() => Ok(Warnings(vec![format!(
            "{}: {e}",
            config.trace_path.display()
        )])),
        Err(PrintError::Trace(e)) => Err(config.trace_failure(e)),
    }
}

fn run(cli: Cli) -> Result<Warnings, Failure> {
    let args = match cli.command {
        Some(Command::Print(args)) => args,
        None => cli.print,
    };
    let config = Config::from_args(args)?;
    print(&config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stderr = io::stderr().lock();
    match run(cli) {
        Ok(Warnings(warnings)) => {
            for w in warnings {
                let _ = writeln!(stderr, "simpletrace: warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            let _ = writeln!(stderr, "simpletrace: writing the output failed: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Input(message)) => {
            let _ = writeln!(stderr, "simpletrace: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("simpletrace").chain(args.iter().copied()))
    }

    #[test]
    fn bare_two_arguments_is_print() {
        let cli = parse(&["te", "trace"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.print.trace_events, Some("te".into()));
        assert_eq!(cli.print.trace_file, Some("trace".into()));
        assert!(!cli.print.no_header);
    }

    #[test]
    fn no_header_anywhere() {
        for args in [["--no-header", "te", "t"], ["te", "--no-header", "t"]] {
            let cli = parse(&args).unwrap();
            assert!(cli.print.no_header);
        }
    }

    #[test]
    fn print_subcommand() {
        let cli = parse(&["print", "--no-header", "te", "trace"]).unwrap();
        match cli.command {
            Some(Command::Print(p)) => {
                assert!(p.no_header);
                assert_eq!(p.trace_file, Some("trace".into()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["te"]).is_err());
        assert!(parse(&["te", "t", "extra"]).is_err());
        assert!(parse(&["print", "te"]).is_err());
        assert!(parse(&["--bogus", "te", "t"]).is_err());
    }
}
