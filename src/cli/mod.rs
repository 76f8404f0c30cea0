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
//! user typed; [`Config`] is what they mean, with the files opened and
//! parsed. Commands take a `Config` only.

mod alloc;
mod error;
mod generate;
mod hints;
mod term;

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::analyzers::chrome::{ChromeTrace, SpanSpec};
use crate::analyzers::json::JsonLines;
use crate::analyzers::locks::{LocksAnalyzer, SortBy};
use crate::analyzers::log::LogPrinter;
use crate::analyzers::print::{Buffering, Parallelism, PrintAnalyzer};
use crate::analyzers::select::{Selection, TimeBound};
use crate::analyzers::stats::{StatsAnalyzer, StatsSort};
use crate::analyzers::subset::SubsetWriter;
use crate::analyzers::{AnalyzerEntry, Driver, Report, RunOptions, registry};
use crate::format::excerpt::Excerpt;
use crate::format::{TraceEvents, TraceKind, TraceReader};
use crate::input::{self, Compression, FileId, TraceData, TraceInput, TraceStream};
use crate::output::{ClosedStreams, OutputFile};
use crate::pattern::EventPatterns;
use error::{Error, Failure};

mod hist;

const EXAMPLES: &str = "\
Examples:
  simpletrace trace-events-all trace-12345
      Print every event, exactly as QEMU's simpletrace.py does.
  simpletrace --no-header trace-events-all trace-12345
      Read a trace written without the file header.
  simpletrace trace-events-all - < trace-12345
      Read the trace from standard input.
  simpletrace stats trace-events-all trace-12345
      What happened how often; events lost.
  simpletrace hist --begin thread_pool_submit_aio:req --end thread_pool_complete_aio trace-events-all trace-12345
      How long thread-pool requests took.
  simpletrace alloc trace-events-all trace-12345
      What leaked.
  simpletrace run --plugin locks --plugin ./libcount.so trace-events-all trace-12345
      Several analyzers, built in or loaded from shared libraries, in one pass.
  simpletrace --events 'bdrv_*,-bdrv_co_*' --pid 4242 --start 1.5s --end 2s trace-events-all trace-12345
      Only some records: the filters work with every command.

Exit status:
  0  success; also when the output pipe closes early (| head), and for a trace
     cut off in the middle of a record (a warning says where)
  1  a bad or missing trace or trace-events file, a failed analyzer, or output
     that cannot be written (a full disk, a closed standard output)
  2  a usage error
  3  --resync skipped corrupt data (each skipped byte range is listed)
  4  the trace file shrank while it was read (another program truncated it);
     every record before the cut was read";

const PRINT_EXAMPLES: &str = "\
Examples:
  simpletrace print trace-events-all trace-12345
      Every record exactly as QEMU's simpletrace.py prints it.
  simpletrace print --format log trace-events-all trace-12345
      Every record as QEMU's log backend would print it, through the event's
      own C format string: 'blk_root_attach child 0x5643596a5990 blk 0x5643596bb9d0 ...'.
  simpletrace print --format log --timestamps --events 'qemu_vfree' trace-events-all trace-12345
      Only one event, each line with QEMU's PID@SECONDS.MICROS: prefix.";

const STATS_EXAMPLES: &str = "\
Examples:
  simpletrace stats trace-events-all trace-12345
      Every event with its count, share, rate and time span; lost events.
  simpletrace stats --sort name --by-pid trace-events-all trace-12345
      One row per event and pid, by name.
  simpletrace stats --events 'bdrv_*' --start 10s --end 20s trace-events-all trace-12345
      Only the block-layer events of ten seconds.
  simpletrace stats --json trace-events-all trace-12345 | jq '.events[] | select(.count > 1000) | .event'
      The same as JSON.";

const LOCKS_EXAMPLES: &str = "\
Examples:
  simpletrace locks trace-events-all trace-12345
      Every mutex, most waited-for first.
  simpletrace locks --sort hold --top 10 trace-events-all trace-12345
      The ten mutexes held longest in total.
  simpletrace locks --json trace-events-all trace-12345 | jq '.mutexes[0]'
      The same as JSON.";

const JSON_EXAMPLES: &str = "\
Examples:
  simpletrace json trace-events-all trace-12345 | jq -c 'select(.event == \"qemu_vfree\")'
      JSON Lines, one object per record.
  simpletrace json --format chrome trace-events-all trace-12345 > trace.json
      Open trace.json in https://ui.perfetto.dev or chrome://tracing.
  simpletrace json --format chrome --span thread_pool_submit_aio:req,thread_pool_complete_aio:req \\
      trace-events-all trace-12345 > pool.json
      Each thread-pool request as a bar with its duration.";

const FILTER_EXAMPLES: &str = "\
Examples:
  simpletrace filter --events 'qemu_mutex_*' -o mutex.trace trace-events-all trace-12345
      Keep only the mutex events.
  simpletrace filter --pid 4242 --start 10s --end 12s -o slice.trace trace-events-all trace-12345
      Two seconds of one process.
  simpletrace filter --events '-qemu_co_*' -o - trace-events-all trace-12345 | gzip > small.trace.gz
      Everything but the coroutine events, to standard output.";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  simpletrace completions bash > ~/.local/share/bash-completion/completions/simpletrace
  simpletrace completions zsh > ~/.zfunc/_simpletrace
  simpletrace completions fish > ~/.config/fish/completions/simpletrace.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  simpletrace man | man -l -
      Read the manual now.
  simpletrace man --dir /usr/local/share/man/man1
      Install a page for simpletrace and one for each command.";

const RUN_EXAMPLES: &str = "\
Examples:
  simpletrace run --plugin locks trace-events-all trace-12345
      A built-in analyzer by name.
  simpletrace run --plugin ./libio_sizes.so trace-events-all trace-12345
      An analyzer loaded from a shared library (see docs/plugins.md).
  simpletrace run --plugin locks --plugin ./libcount.so --json trace-events-all trace-12345
      Both in one pass over the trace; the results as one JSON object.";

/// Decode and analyse QEMU simple-backend trace files.
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
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    print: PrintArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every event record, one line each, exactly like simpletrace.py
    /// (the default command).
    #[command(after_help = PRINT_EXAMPLES)]
    Print(PrintArgs),
    /// Counts, shares, rates and time spans per event and per pid; mapping
    /// and dropped-events records, events lost; timestamps stepping back.
    #[command(after_help = STATS_EXAMPLES)]
    Stats {
        /// Order of the event table.
        #[arg(long, value_enum, default_value_t = StatsSortArg::Count)]
        sort: StatsSortArg,
        /// Show only the first N rows of the event table.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// One row per event and pid instead of one per event.
        #[arg(long)]
        by_pid: bool,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Mutex contention from qemu_mutex_lock/locked/unlock events: wait and
    /// hold times per mutex, and locks still held or waited for at the end.
    #[command(after_help = LOCKS_EXAMPLES)]
    Locks {
        /// Order of the table.
        #[arg(long, value_enum, default_value_t = LockSort::Wait)]
        sort: LockSort,
        /// Show only the first N mutexes.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Histograms of an argument's values, of latencies between paired
    /// events, or of the time between records of an event; bpftrace-style
    /// bars, a table, JSON or an SVG plot.
    #[command(after_help = hist::EXAMPLES)]
    Hist(Box<hist::HistArgs>),
    /// Allocations matched to frees by pointer (QEMU's allocator events, or
    /// rules of your own): leaks, unknown and double frees, free(NULL),
    /// live bytes over time, lifetime and size histograms.
    #[command(after_help = alloc::ALLOC_EXAMPLES)]
    Alloc(alloc::AllocArgs),
    /// Export the records as JSON: JSON Lines (one object per record), or
    /// the Chrome trace-event format that Perfetto UI and chrome://tracing
    /// open.
    #[command(after_help = JSON_EXAMPLES)]
    Json {
        /// Output format.
        #[arg(long, value_enum, default_value_t = JsonFormat::Lines)]
        format: JsonFormat,
        /// With --format chrome: make a span (a complete event with a
        /// duration) of each begin record and the next end record whose KEY
        /// arguments are equal. Repeatable.
        #[arg(long = "span", value_name = "BEGIN[:KEY],END[:KEY]")]
        spans: Vec<SpanSpec>,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Write the records the filters keep to a new trace (same format
    /// version, with the mapping records they need).
    #[command(after_help = FILTER_EXAMPLES)]
    Filter {
        /// The new trace file (- for standard output). It must not be the
        /// input.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: PathBuf,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Run analyzers in one pass: built-in ones by name, or plugins loaded
    /// from shared libraries.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// An analyzer: a built-in name (print, log, json, chrome, stats, locks, alloc) or the path of a
        /// plugin library (a name with a '/'). Repeat for several.
        #[arg(long = "plugin", value_name = "NAME|PATH", required = true)]
        plugins: Vec<String>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish,
    /// powershell).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a
    /// directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// Write simpletrace.1 and simpletrace-COMMAND.1 into DIR (created
        /// if missing) instead of printing the main page.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// What `json` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JsonFormat {
    /// One JSON object per record, one per line.
    Lines,
    /// Chrome trace-event JSON (Perfetto UI, chrome://tracing).
    Chrome,
}

/// How `print` writes each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PrintFormat {
    /// Exactly as QEMU's simpletrace.py: NAME DELTA_US pid=PID ARG=VALUE...
    Python,
    /// As QEMU's log trace backend: NAME and the event's C format string
    /// rendered with its arguments.
    Log,
}

/// What `print` (and the bare two-argument form) takes.
#[derive(Debug, Clone, Args)]
pub struct PrintArgs {
    /// Line format.
    #[arg(long, value_enum, default_value_t = PrintFormat::Python)]
    format: PrintFormat,
    /// With --format log: start each line with PID@SECONDS.MICROS: (the
    /// record's pid and the trace clock's time), as QEMU's log backend does
    /// with -msg timestamp=on.
    #[arg(long)]
    timestamps: bool,
    #[command(flatten)]
    trace: TraceArgs,
}

/// How `stats` orders its event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatsSortArg {
    /// Most records first.
    Count,
    /// By event name.
    Name,
    /// Earliest first.
    First,
    /// Latest last record first.
    Last,
    /// As declared in TRACE_EVENTS.
    Declared,
}

/// How `locks` orders its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LockSort {
    /// Total time waited for the mutex.
    Wait,
    /// Total time the mutex was held.
    Hold,
    /// Number of acquisitions.
    Count,
}

/// How analyzer results are written.
#[derive(Debug, Clone, Args)]
struct OutputArgs {
    /// Write the results as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The trace to read: `[--no-header] [--resync] [-j N] TRACE_EVENTS TRACE_FILE`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// The trace has no file header: records start at byte 0, and event ids
    /// without a mapping record are positions in TRACE_EVENTS.
    #[arg(long)]
    no_header: bool,
    /// On a corrupt record, skip to the next plausible one instead of
    /// stopping: report each skipped byte range on standard error, read on,
    /// and exit with status 3 if anything was skipped. Every record is then
    /// checked in full, filtered out or not.
    #[arg(long)]
    resync: bool,
    /// The trace-events-all file of the QEMU build that wrote the trace.
    #[arg(value_name = "TRACE_EVENTS", required = true)]
    trace_events: Option<PathBuf>,
    /// The binary trace file (trace-PID), or - for standard input.
    #[arg(value_name = "TRACE_FILE", required = true)]
    trace_file: Option<PathBuf>,
    /// Threads to work with (default: one per CPU). The output is the same
    /// for any number.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Bytes of trace per parallel work unit, and per block of a trace
    /// read as a stream (for tuning and tests).
    #[arg(long, hide = true, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..=1 << 30))]
    chunk_size: Option<u64>,
    #[command(flatten)]
    filters: FilterArgs,
    #[command(flatten)]
    term: term::TermArgs,
}

/// The record filters every command takes.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Filters")]
struct FilterArgs {
    /// Only these events: comma-separated QEMU-style patterns ('*' and '?'
    /// globs, '-' to exclude, later ones win). Patterns that only exclude
    /// keep everything else. Repeatable.
    #[arg(long, value_name = "PATTERNS", allow_hyphen_values = true)]
    events: Vec<String>,
    /// Only the events of a QEMU events file: one pattern per line, '#'
    /// comments, '-' to exclude.
    #[arg(long, value_name = "FILE")]
    events_file: Option<PathBuf>,
    /// Only records of this pid. Repeatable.
    #[arg(long, value_name = "PID")]
    pid: Vec<u32>,
    /// Only records at or after this time: nanoseconds of the trace clock,
    /// or a time after the first record with a unit (1.5s, 200ms, 30us,
    /// +500ns).
    #[arg(long, value_name = "TIME")]
    start: Option<TimeBound>,
    /// Only records at or before this time (as --start). (With `hist
    /// --begin EVENT`, `--end EVENT[:ARG]` names the latency's end event
    /// instead; a time is still this filter.)
    #[arg(long, value_name = "TIME")]
    end: Vec<EndArg>,
}

/// What follows `--end`: a time (the filter), or an event name (the end
/// event of `hist --begin`): a word that starts with a letter or `_` is an
/// event name, anything else a time (times start with a digit, `.` or
/// `+`). QEMU's event names are C identifiers; a name that starts with a
/// digit, which tracetool lets through, cannot be an `--end` event.
#[derive(Debug, Clone, PartialEq)]
enum EndArg {
    Time(TimeBound),
    Event(String),
}

impl core::str::FromStr for EndArg {
    type Err = crate::analyzers::select::TimeBoundError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim_start().chars().next() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => Ok(EndArg::Event(s.to_owned())),
            _ => s.parse().map(EndArg::Time),
        }
    }
}

impl FilterArgs {
    /// The one `--end` time, if any; an event name is refused (`hist`
    /// takes it out first).
    fn end_time(&self) -> Result<Option<TimeBound>, Failure> {
        let mut time = None;
        for end in &self.end {
            match end {
                EndArg::Time(t) if time.is_none() => time = Some(*t),
                EndArg::Time(_) => {
                    return Err(Failure::invalid("--end TIME is given twice".into()));
                }
                EndArg::Event(name) => {
                    return Err(Failure::invalid(format!(
                        "--end {}: --end takes a time (nanoseconds, or 1.5s, 200ms, +30us); \
                         an event name only in hist --begin EVENT --end EVENT",
                        Excerpt::new(name)
                    )));
                }
            }
        }
        Ok(time)
    }

    /// The selection these arguments describe (reads the events file).
    fn selection(&self) -> Result<Selection, Failure> {
        let mut patterns: Option<EventPatterns> = None;
        if let Some(path) = &self.events_file {
            let text = input::read_text(path)?;
            let on_path = |e: Error| e.context(format!("{}: ", path.display()), "");
            let text = core::str::from_utf8(&text).map_err(|e| on_path(Error::NotUtf8(e)))?;
            let p = EventPatterns::parse_file(text).map_err(|e| on_path(Error::Pattern(e)))?;
            patterns
                .get_or_insert_with(EventPatterns::default)
                .extend(p);
        }
        for list in &self.events {
            let p = EventPatterns::parse_list(list)
                .map_err(|e| Error::Pattern(e).context("--events: ", ""))?;
            patterns
                .get_or_insert_with(EventPatterns::default)
                .extend(p);
        }
        Ok(Selection {
            events: patterns,
            pids: self.pid.clone(),
            start: self.start,
            end: self.end_time()?,
        })
    }
}

/// How far before the new end of a shrunk trace a faulty record may start
/// and still be the cut's doing (its bytes past the end read as zeros):
/// QEMU's records are a few KiB at most.
const NEAR_THE_CUT: u64 = 64 << 10;

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

/// The trace as opened.
#[derive(Debug)]
enum Trace {
    /// Memory-mapped.
    Data(TraceData),
    /// Read front to back, by the one run that takes it.
    Stream(RefCell<Option<TraceStream>>),
}

/// The opened inputs and settings every command works from.
#[derive(Debug)]
pub struct Config {
    events: TraceEvents,
    trace: Trace,
    trace_path: PathBuf,
    /// How the trace is compressed (then it is a stream).
    compression: Option<Compression>,
    no_header: bool,
    resync: bool,
    parallelism: Parallelism,
    /// `--chunk-size`, which also sets the block size of a stream.
    stream_block: Option<usize>,
    selection: Selection,
    term: term::TermArgs,
    /// The files this run reads (trace, trace-events file, events file),
    /// which no output may overwrite. (Commands with plugins write no
    /// files.)
    inputs: Vec<FileId>,
}

impl Config {
    fn from_args(args: &TraceArgs) -> Result<Config, Failure> {
        let (Some(events_path), Some(trace_path)) = (&args.trace_events, &args.trace_file) else {
            return Err(Failure::invalid(
                "missing TRACE_EVENTS or TRACE_FILE".into(),
            ));
        };
        let selection = args.filters.selection()?;
        let events = input::read_trace_events(events_path).map_err(|e| {
            match hints::events_file_hint(events_path, trace_path) {
                Some(hint) => Error::Input(e).context("", format!("; {hint}")),
                None => Error::Input(e),
            }
        })?;
        let mut inputs = vec![FileId::of_path(events_path)];
        inputs.extend(args.filters.events_file.iter().map(FileId::of_path));
        inputs.push(if trace_path.as_os_str() == "-" {
            FileId::of_stdin()
        } else {
            FileId::of_path(trace_path)
        });
        // Read already, so they exist; an identity that cannot be known
        // cannot be matched either.
        let inputs = inputs.into_iter().flatten().collect();
        let (trace, compression) = match TraceInput::open(trace_path)? {
            TraceInput::Data(data) => (Trace::Data(data), None),
            TraceInput::Stream(stream) => {
                let compression = stream.compression();
                (Trace::Stream(RefCell::new(Some(stream))), compression)
            }
        };
        let threads = match args.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut parallelism = Parallelism::threads(threads);
        let stream_block = args.chunk_size.map(|bytes| bytes as usize);
        if let Some(bytes) = stream_block {
            parallelism.chunk_bytes = bytes;
        }
        Ok(Config {
            events,
            trace,
            trace_path: trace_path.clone(),
            compression,
            no_header: args.no_header,
            resync: args.resync,
            parallelism,
            stream_block,
            selection,
            term: args.term.clone(),
            inputs,
        })
    }

    /// Starts writing the output file `path` (never one of the inputs).
    fn create_output(&self, path: &Path) -> Result<OutputFile, Failure> {
        Ok(OutputFile::create(path, &self.inputs)?)
    }

    fn reader<'c>(&'c self, data: &'c TraceData) -> Result<TraceReader<'c>, Failure> {
        let reader = if self.no_header {
            TraceReader::headerless(data, &self.events)
        } else {
            TraceReader::new(data, &self.events).map_err(|e| match self.cut_short(None) {
                Some(shrink) => self.changed(shrink, None, Some(Error::Format(e))),
                None => self.header_failure(e),
            })?
        };
        Ok(data.guard(reader).with_resync(self.resync))
    }

    /// The kind of a streamed trace, from its first bytes.
    fn stream_kind(&self, stream: &TraceStream) -> Result<TraceKind, Failure> {
        if self.no_header {
            Ok(TraceKind::headerless())
        } else {
            TraceKind::detect(stream.head()).map_err(|e| self.header_failure(e))
        }
    }

    /// A bad header; when the name says the file is compressed and its
    /// first bytes say otherwise, that is the likelier story.
    fn header_failure(&self, e: crate::format::Error) -> Failure {
        match Compression::from_extension(&self.trace_path) {
            Some(c) if self.compression.is_none() => Failure::Error(Error::Format(e).context(
                format!("{}: ", self.trace_path.display()),
                format!(" (the name says {c}, but the data does not start as {c} data does)"),
            )),
            _ => {
                let hint = hints::trace_file_hint(&self.trace_path);
                let e =
                    Error::Format(e).context("", hint.map_or(String::new(), |h| format!("; {h}")));
                Failure::Error(self.on_trace(e))
            }
        }
    }

    /// How the mapped trace shrank while it was read, if it did.
    fn shrink(&self) -> Option<input::Shrink> {
        match &self.trace {
            Trace::Data(data) => data.shrink(),
            Trace::Stream(_) => None,
        }
    }

    /// How the mapped trace shrank while it was read, if the run's end is
    /// the shrink's doing: a read of a vanished page was caught, or the run
    /// stopped at a record the cut reaches (the [`Error::Cut`] itself, or a
    /// fault at a record starting within [`NEAR_THE_CUT`] of the new end:
    /// the zeros after it). A fault well inside what is left of the file
    /// is the file's own, shrink or not.
    ///
    /// [`Error::Cut`]: crate::format::Error::Cut
    fn cut_short(&self, fault: Option<&crate::format::Error>) -> Option<input::Shrink> {
        let shrink = self.shrink()?;
        let reaches = match fault {
            None => false,
            Some(crate::format::Error::Cut { .. }) => true,
            Some(e) => match (e.at(), shrink.now) {
                (Some(at), Some(now)) => at.offset.0.saturating_add(NEAR_THE_CUT) > now,
                _ => true,
            },
        };
        (shrink.caught() || reaches).then_some(shrink)
    }

    /// The failure of a run that the trace's shrinking stopped: how the
    /// file changed, and where reading stopped (with what the reader found
    /// there, when it was not the cut itself), or what failed then.
    fn changed(
        &self,
        shrink: input::Shrink,
        fault: Option<crate::format::Error>,
        then: Option<Error>,
    ) -> Failure {
        Failure::Changed(self.on_trace(Error::Shrank {
            shrink,
            fault,
            then: then.map(Box::new),
        }))
    }

    /// `e` with a note, when the file shrank meanwhile, that it did.
    fn with_shrink_note(&self, e: Error) -> Error {
        match self.shrink() {
            Some(shrink) => e.context("", format!(" (meanwhile {shrink})")),
            None => e,
        }
    }

    /// `e` about the trace: `PATH: e`; for a compressed trace, with a word
    /// on what its offsets count.
    fn on_trace(&self, e: Error) -> Error {
        let (before, after) = self.trace_context();
        e.context(before, after)
    }

    /// A warning about the trace, as [`Config::on_trace`] words an error.
    fn trace_warning(&self, warning: impl std::fmt::Display) -> String {
        let (before, after) = self.trace_context();
        format!("{before}{warning}{after}")
    }

    /// What goes before and after a message about the trace: `PATH: `,
    /// and for a compressed trace a word on what its offsets count.
    fn trace_context(&self) -> (String, String) {
        let path = format!("{}: ", self.trace_path.display());
        (
            path,
            self.compression.map_or(String::new(), |c| c.offsets_note()),
        )
    }
}

/// Where reports go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reports {
    /// Text on standard output.
    Text,
    /// JSON on standard output.
    Json,
    /// JSON on standard output, always an object keyed by analyzer name
    /// (`run`: scripts need not care how many analyzers there are).
    JsonByName,
    /// Text on standard error (when standard output carries data).
    Stderr,
}

impl Reports {
    fn json(json: bool) -> Reports {
        if json { Reports::Json } else { Reports::Text }
    }
}

/// Runs the analyzers of `driver` over the trace of `config`:
/// streams what they write to standard output, then their reports.
/// Returns warnings for standard error.
fn analyze<'c>(
    config: &'c Config,
    reports: Reports,
    mut driver: Driver<'c>,
) -> Result<Vec<String>, Failure> {
    enum Source<'c> {
        Data(TraceReader<'c>),
        Stream(TraceStream, TraceKind),
    }
    // The header is checked before anything is written.
    let source = match &config.trace {
        Trace::Data(data) => Source::Data(config.reader(data)?),
        Trace::Stream(cell) => {
            let taken = cell.borrow_mut().take();
            let stream = taken.ok_or_else(|| {
                config.on_trace(Error::Invalid("the trace was read already".into()))
            })?;
            let kind = config.stream_kind(&stream)?;
            Source::Stream(stream, kind)
        }
    };
    driver.select(config.selection.clone());
    // The driver tells how far it has read whenever it lets go of the
    // input: the memory map's cue, and the progress bar's (whose total is
    // unknown for a stream).
    let mapped = match &config.trace {
        Trace::Data(data) => Some(data),
        Trace::Stream(_) => None,
    };
    let progress = std::rc::Rc::new(RefCell::new(
        config.term.progress(mapped.map(|data| data.len() as u64)),
    ));
    let bar = std::rc::Rc::clone(&progress);
    driver.release_with(move |offset| {
        if let Some(data) = mapped {
            data.release_before(offset);
        }
        if let Some(p) = bar.borrow_mut().as_mut() {
            p.set(offset as u64);
        }
    });
    if let Some(bytes) = config.stream_block {
        driver.stream_block(bytes);
    }
    driver.stream_resync(config.resync);
    let stdout = io::stdout();
    let buffering = if stdout.is_terminal() {
        Buffering::Line
    } else {
        Buffering::Block
    };
    crate::output::enlarge_stdout_pipe();
    let mut out = stdout.lock();
    let options = RunOptions {
        parallelism: config.parallelism,
        buffering,
    };
    let outcome = match source {
        Source::Data(reader) => driver.run(reader, &mut out, options),
        Source::Stream(mut stream, kind) => {
            driver.run_stream(&mut stream, kind, &config.events, &mut out, options)
        }
    };
    if let Some(p) = progress.borrow().as_ref() {
        p.finish();
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // A failure after a read of a vanished page is the cut's doing
        // (reported with the failure's own words).
        Err(e) => {
            let failure = Failure::from(e);
            if failure.is_broken_pipe() {
                return Err(failure);
            }
            let Failure::Error(e) = failure else {
                unreachable!("a run error is a Failure::Error")
            };
            return Err(match (config.cut_short(None), e) {
                (Some(shrink), e) => config.changed(shrink, None, Some(e)),
                (None, e @ Error::Output(_)) => Failure::Error(e),
                (None, e) => Failure::Error(config.with_shrink_note(e)),
            });
        }
    };
    let (keys, renamed) = report_keys(driver.names());
    match reports {
        Reports::Stderr => {
            drop(out);
            let mut err = io::stderr().lock();
            let color = config.term.color_stderr();
            write_reports(&mut err, &outcome.reports, &keys, None, color)
                .map_err(Failure::output)?;
        }
        _ => write_reports(
            &mut out,
            &outcome.reports,
            &keys,
            match reports {
                Reports::Json => Some(false),
                Reports::JsonByName => Some(true),
                _ => None,
            },
            config.term.color_stdout(),
        )
        .map_err(Failure::output)?,
    }
    let path = config.trace_path.display();
    let mut warnings = renamed;
    if let Some(shrink) = config.cut_short(outcome.fault.as_ref()) {
        return Err(config.changed(shrink, outcome.fault, None));
    }
    match outcome.fault {
        None => {
            if let Some(shrink) = config.shrink() {
                // Every page read was the file's: the results stand.
                warnings.push(config.trace_warning(format!(
                    "{shrink}, after the records this command needed had been read"
                )));
            }
        }
        Some(e) if e.is_truncation() => {
            let e = config.with_shrink_note(Error::Format(e));
            warnings.push(config.trace_warning(e));
        }
        Some(e) => {
            let e = config.with_shrink_note(Error::Format(e));
            return Err(Failure::Fault(config.on_trace(e)));
        }
    }
    if let Some(e) = outcome.stream_error {
        return Err(Failure::Fault(config.on_trace(Error::Stream(e))));
    }
    let skips = &outcome.skips;
    if skips.is_empty() {
        return Ok(warnings);
    }
    let mut messages: Vec<String> = skips
        .listed()
        .iter()
        .map(|s| format!("{path}: {s}"))
        .collect();
    let unlisted = skips.count() - skips.listed().len() as u64;
    if unlisted > 0 {
        let listed_bytes: u64 = skips.listed().iter().map(|s| s.len()).sum();
        messages.push(format!(
            "{path}: {unlisted} more skipped ranges ({} bytes) are not listed",
            skips.bytes() - listed_bytes
        ));
    }
    messages.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
    let regions = match skips.count() {
        1 => "1 corrupt region".to_owned(),
        n => format!("{n} corrupt regions"),
    };
    messages.push(format!(
        "{path}: --resync skipped {regions} ({} bytes in all); every record outside them was read",
        skips.bytes()
    ));
    Err(Failure::Resynced(messages))
}

/// The keys of the reports (JSON keys, text headings): the analyzers'
/// names, where two analyzers share a name (a plugin called like a
/// built-in, two plugins of one name) the later ones numbered `NAME#2`,
/// `NAME#3`... so that no report hides another. Also says which were
/// renamed.
fn report_keys(names: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut keys: Vec<String> = Vec::with_capacity(names.len());
    let mut renamed = Vec::new();
    for name in names {
        let mut key = name.clone();
        let mut n = 1;
        while keys.contains(&key) {
            n += 1;
            key = format!("{name}#{n}");
        }
        if key != name {
            renamed.push(format!(
                "two analyzers are called '{name}': the report of the one given later is '{key}'"
            ));
        }
        keys.push(key);
    }
    (keys, renamed)
}

/// Writes the reports: their texts one after the other (under a heading
/// each when there are several), or with `json` = `Some(keyed)` one JSON
/// value (an object keyed by analyzer name when there are several, or
/// always when `keyed`). A streamed report ([`Report::streamed`]) is written
/// as it is rendered, through a buffer.
fn write_reports(
    out: &mut dyn Write,
    reports: &[Report],
    names: &[String],
    json: Option<bool>,
    color: bool,
) -> io::Result<()> {
    let shown: Vec<(&String, &Report)> = names
        .iter()
        .zip(reports)
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let mut buffered = io::BufWriter::with_capacity(64 << 10, &mut *out);
    if let Some(keyed) = json {
        match shown.as_slice() {
            [] if !keyed => {}
            [(_, r)] if !keyed => {
                r.write_json(&mut buffered, 0)?;
                writeln!(buffered)?;
            }
            many => {
                write_keyed_json(&mut buffered, many)?;
                writeln!(buffered)?;
            }
        }
    } else {
        let headings = shown.len() > 1;
        let mut painted = term::PaintLines::new(&mut buffered, color);
        for (i, (name, r)) in shown.iter().enumerate() {
            if headings {
                if i > 0 {
                    painted.write_all(b"\n")?;
                }
                writeln!(painted, "== {name} ==")?;
            }
            r.write_text(&mut painted)?;
        }
        painted.finish()?;
    }
    buffered.flush()?;
    drop(buffered);
    out.flush()
}

/// Writes `{"name": report, ...}` as `serde_json::to_string_pretty`
/// writes the object of the reports' JSON values (keys in
/// `serde_json::Map`'s order, a name given twice keeping its last report):
/// one [`LazyJson`](crate::analyzers::listing::LazyJson) object of the
/// reports' JSON forms, each written as it goes out.
fn write_keyed_json(out: &mut dyn Write, shown: &[(&String, &Report)]) -> io::Result<()> {
    let fields = shown
        .iter()
        .map(|(name, r)| ((*name).clone(), r.lazy_json()))
        .collect();
    crate::analyzers::listing::LazyJson::Object(fields).write_pretty(out, 0)
}

/// Which analyzer a `--plugin` argument named: the same one twice is a
/// mistake; two that only share a name both run.
#[derive(Debug, PartialEq, Eq)]
enum Given {
    /// A built-in analyzer (or one of `main_with`'s), by name.
    Named(String),
    /// A plugin library, by file identity (whatever path led to it).
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    Library(crate::input::FileId),
}

/// Adds the analyzer called `name`, or the plugin at the path `name`.
fn add_named(
    driver: &mut Driver<'_>,
    name: &str,
    extras: &[AnalyzerEntry],
) -> Result<Given, Failure> {
    let looks_like_path = name.contains('/') || name.contains(std::path::MAIN_SEPARATOR);
    if looks_like_path {
        return add_plugin(driver, name);
    }
    let builtins = registry();
    match builtins.iter().chain(extras).find(|e| e.name == name) {
        Some(entry) => {
            entry.add_to(driver);
            Ok(Given::Named(name.to_owned()))
        }
        None => {
            let known: Vec<&str> = builtins
                .iter()
                .chain(extras)
                .map(|e| e.name.as_str())
                .collect();
            let name = Excerpt::new(name);
            let example = if name.is_cut() { "NAME" } else { name.as_str() };
            Err(Failure::invalid(format!(
                "no analyzer called {name} (built in: {}; a plugin library is given by its path, e.g. ./lib{example}.so)",
                known.join(", ")
            )))
        }
    }
}

#[cfg(feature = "plugins")]
fn add_plugin(driver: &mut Driver<'_>, path: &str) -> Result<Given, Failure> {
    use crate::analyzers::plugin::{Plugin, PluginAnalyzer};
    let plugin = Plugin::load(path)?;
    // Loaded, so it exists; its identity is read from the same path.
    let id = crate::input::FileId::of_path(path)
        .map_err(|e| Error::Io(e).context(format!("{path}: "), ""))?;
    driver.add(PluginAnalyzer::new(std::sync::Arc::new(plugin)));
    Ok(Given::Library(id))
}

#[cfg(not(feature = "plugins"))]
fn add_plugin(_driver: &mut Driver<'_>, path: &str) -> Result<Given, Failure> {
    Err(Failure::invalid(format!(
        "{path}: this simpletrace was built without plugin support (the 'plugins' feature)"
    )))
}

/// The full command definition, with `extras` as subcommands.
pub fn command(extras: &[AnalyzerEntry]) -> clap::Command {
    let mut cmd = Cli::command();
    for e in extras {
        let sub = clap::Command::new(e.name.clone())
            .about(e.about.clone())
            .after_help(format!(
                "Example:\n  simpletrace {} trace-events-all trace-12345\n      {}",
                e.name, e.about
            ));
        let sub = OutputArgs::augment_args(TraceArgs::augment_args(sub));
        cmd = cmd.subcommand(sub);
    }
    cmd
}

fn run(matches: &ArgMatches, extras: &[AnalyzerEntry]) -> Result<Vec<String>, Failure> {
    if let Some((name, sub)) = matches.subcommand()
        && let Some(entry) = extras.iter().find(|e| e.name == name)
    {
        let trace = TraceArgs::from_arg_matches(sub)?;
        let output = OutputArgs::from_arg_matches(sub)?;
        let mut driver = Driver::new();
        entry.add_to(&mut driver);
        let config = Config::from_args(&trace)?;
        return analyze(&config, Reports::json(output.json), driver);
    }
    let cli = Cli::from_arg_matches(matches)?;
    match cli.command {
        Some(Command::Completions { shell }) => {
            generate::completions(shell, command(extras), &mut io::stdout().lock())?;
            Ok(Vec::new())
        }
        Some(Command::Man { dir }) => {
            generate::man(command(extras), dir.as_deref(), &mut io::stdout().lock())?;
            Ok(Vec::new())
        }
        None => print(&cli.print),
        Some(Command::Print(args)) => print(&args),
        Some(Command::Stats {
            sort,
            top,
            by_pid,
            output,
            trace,
        }) => {
            let sort = match sort {
                StatsSortArg::Count => StatsSort::Count,
                StatsSortArg::Name => StatsSort::Name,
                StatsSortArg::First => StatsSort::First,
                StatsSortArg::Last => StatsSort::Last,
                StatsSortArg::Declared => StatsSort::Declared,
            };
            let mut driver = Driver::new();
            driver.add_parallel(StatsAnalyzer::new(sort, top, by_pid));
            let config = Config::from_args(&trace)?;
            analyze(&config, Reports::json(output.json), driver)
        }
        Some(Command::Locks {
            sort,
            top,
            output,
            trace,
        }) => {
            let sort = match sort {
                LockSort::Wait => SortBy::Wait,
                LockSort::Hold => SortBy::Hold,
                LockSort::Count => SortBy::Count,
            };
            let mut driver = Driver::new();
            driver.add(LocksAnalyzer::new(sort, top));
            let config = Config::from_args(&trace)?;
            analyze(&config, Reports::json(output.json), driver)
        }
        Some(Command::Hist(args)) => hist::run(&args),
        Some(Command::Alloc(args)) => alloc::run(&args),
        Some(Command::Json {
            format,
            spans,
            trace,
        }) => {
            let mut driver = Driver::new();
            match format {
                JsonFormat::Lines if !spans.is_empty() => {
                    return Err(Failure::invalid("--span needs --format chrome".into()));
                }
                JsonFormat::Lines => driver.add_parallel(JsonLines::new()),
                JsonFormat::Chrome if spans.is_empty() => {
                    driver.add_parallel(ChromeTrace::new(spans))
                }
                // Spans pair records across the trace: file order.
                JsonFormat::Chrome => driver.add(ChromeTrace::new(spans)),
            }
            let config = Config::from_args(&trace)?;
            analyze(&config, Reports::Text, driver)
        }
        Some(Command::Filter { output, trace }) => {
            let config = Config::from_args(&trace)?;
            let destination = output.display().to_string();
            let mut driver = Driver::new();
            if output.as_os_str() == "-" {
                let out = Box::new(io::BufWriter::new(io::stdout()));
                driver.add(SubsetWriter::new(out, destination));
                return analyze(&config, Reports::Stderr, driver);
            }
            let file = config.create_output(&output)?;
            let out = io::BufWriter::with_capacity(1 << 20, file_writer(&file)?);
            driver.add(SubsetWriter::new(Box::new(out), destination));
            let result = analyze(&config, Reports::Stderr, driver);
            put_in_place(file, result)
        }
        Some(Command::Run {
            plugins,
            output,
            trace,
        }) => {
            // Analyzers (and plugin libraries) are checked before any file
            // is opened.
            let mut driver = Driver::new();
            let mut given: Vec<(Given, &String)> = Vec::new();
            for p in &plugins {
                let this = add_named(&mut driver, p, extras)?;
                if let Some((_, first)) = given.iter().find(|(g, _)| *g == this) {
                    return Err(Failure::Usage(Error::Invalid(format!(
                        "--plugin {p}: the same analyzer as --plugin {first}; each analyzer \
                         runs once in a pass"
                    ))));
                }
                given.push((this, p));
            }
            let config = Config::from_args(&trace)?;
            let reports = if output.json {
                Reports::JsonByName
            } else {
                Reports::Text
            };
            analyze(&config, reports, driver)
        }
    }
}

fn print(args: &PrintArgs) -> Result<Vec<String>, Failure> {
    if args.format == PrintFormat::Python && args.timestamps {
        return Err(Failure::invalid("--timestamps needs --format log".into()));
    }
    let config = Config::from_args(&args.trace)?;
    let color = config.term.color_stdout();
    let mut driver = Driver::new();
    match args.format {
        PrintFormat::Python => driver.add_parallel(PrintAnalyzer::new().with_color(color)),
        PrintFormat::Log => {
            driver.add_parallel(LogPrinter::new(args.timestamps).with_color(color));
        }
    }
    analyze(&config, Reports::Text, driver)
}

/// A handle to write `file` through.
fn file_writer(file: &OutputFile) -> Result<std::fs::File, Failure> {
    Ok(file.writer()?)
}

/// Puts an output file in place as the run that wrote it ended: renamed
/// over its target on success (also after `--resync` read on); after a
/// fault in the trace, what was written before it set apart as
/// `TARGET.partial` (it must not look like the whole result); after any
/// other failure (writing failed, an analyzer failed, nothing was
/// written) removed.
fn put_in_place(
    file: OutputFile,
    result: Result<Vec<String>, Failure>,
) -> Result<Vec<String>, Failure> {
    match result {
        Ok(warnings) => {
            file.commit()?;
            Ok(warnings)
        }
        Err(failure @ Failure::Resynced(_)) => {
            file.commit()?;
            Err(failure)
        }
        // Standard output closed early (| head) counts as success, and so
        // does the file the run wrote meanwhile.
        Err(failure) if failure.is_broken_pipe() => {
            file.commit()?;
            Err(failure)
        }
        Err(failure @ (Failure::Fault(_) | Failure::Changed(_)))
            if file.written().unwrap_or(0) > 0 =>
        {
            let target = file.path().display().to_string();
            let kept = match file.keep_partial() {
                Ok(partial) => format!("is in {}, not in {target}", partial.display()),
                Err(e) => format!("could not be kept ({e})"),
            };
            let note = |e: Error| e.context("", format!("; what was written before that {kept}"));
            Err(match failure {
                Failure::Changed(e) => Failure::Changed(note(e)),
                Failure::Fault(e) => Failure::Fault(note(e)),
                other => other,
            })
        }
        Err(e) => Err(e),
    }
}

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
    // Before any file is opened, so that none gets a standard stream's
    // number.
    let closed = crate::output::claim_standard_streams();
    let matches = match command(&extras).try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(&e, closed),
    };
    let result = if closed.stdout && writes_to_stdout(&matches) {
        Err(Failure::output(stdout_closed()))
    } else {
        run(&matches, &extras)
    };
    report(result, term::color_stderr_of(&matches))
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
        Failure::Resynced(messages) => {
            for m in messages {
                let _ = writeln!(stderr, "simpletrace: {m}");
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
/// `filter -o FILE`, whose summary goes to standard error.
fn writes_to_stdout(matches: &ArgMatches) -> bool {
    match matches.subcommand() {
        Some(("filter", sub)) => sub
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("simpletrace").chain(args.iter().copied()))
    }

    /// A streamed report of a few rows, for the writers.
    struct Rows(u32);

    impl crate::analyzers::ReportBody for Rows {
        fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "{} rows", self.0)
        }

        fn json(&self) -> crate::analyzers::listing::LazyJson<'_> {
            use crate::analyzers::listing::LazyJson;
            let rows = (0..self.0).map(|i| LazyJson::Value(serde_json::json!({ "i": i })));
            LazyJson::Object(vec![
                ("rows".into(), LazyJson::Array(Box::new(rows))),
                ("n".into(), LazyJson::Value(serde_json::json!(self.0))),
            ])
        }
    }

    /// Reports keyed by name are written as serde_json writes the object
    /// of their JSON values: keys in its order, a name given twice
    /// keeping its last report, streamed and in-memory reports alike.
    #[test]
    fn keyed_json_is_serde_jsons_object() {
        let reports = [
            Report::new("", serde_json::json!({"z": [1, {"a": null}], "b": "x"})),
            Report::streamed(Rows(3)),
            Report::new("", serde_json::json!(7)),
            Report::streamed(Rows(0)),
        ];
        let names: Vec<String> = ["zeta", "alpha", "zeta", "mid"].map(String::from).to_vec();
        let shown: Vec<(&String, &Report)> = names.iter().zip(&reports).collect();
        let mut out = Vec::new();
        write_keyed_json(&mut out, &shown).unwrap();
        let object: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|(n, r)| ((*n).clone(), (*r).clone().complete().json))
            .collect();
        assert_eq!(object["zeta"], 7);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&object).unwrap()
        );
        let mut out = Vec::new();
        write_keyed_json(&mut out, &[]).unwrap();
        assert_eq!(out, b"{}");
    }

    #[test]
    fn bare_two_arguments_is_print() {
        let cli = parse(&["te", "trace"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.print.trace.trace_events, Some("te".into()));
        assert_eq!(cli.print.trace.trace_file, Some("trace".into()));
        assert!(!cli.print.trace.no_header);
    }

    #[test]
    fn no_header_anywhere() {
        for args in [["--no-header", "te", "t"], ["te", "--no-header", "t"]] {
            let cli = parse(&args).unwrap();
            assert!(cli.print.trace.no_header);
        }
    }

    #[test]
    fn resync_on_every_command() {
        assert!(!parse(&["te", "t"]).unwrap().print.trace.resync);
        assert!(parse(&["te", "--resync", "t"]).unwrap().print.trace.resync);
        for command in [
            &["stats"][..],
            &["locks"],
            &["json"],
            &["filter", "-o", "out"],
            &["run", "--plugin", "stats"],
            &["hist", "--event", "e", "--arg", "a"],
            &["alloc"],
        ] {
            let args: Vec<&str> = command
                .iter()
                .copied()
                .chain(["--resync", "te", "t"])
                .collect();
            let trace = match parse(&args).unwrap().command {
                Some(
                    Command::Stats { trace, .. }
                    | Command::Locks { trace, .. }
                    | Command::Json { trace, .. }
                    | Command::Filter { trace, .. }
                    | Command::Run { trace, .. },
                ) => trace,
                Some(Command::Hist(h)) => h.trace.clone(),
                Some(Command::Alloc(a)) => a.trace.clone(),
                other => panic!("{command:?}: {other:?}"),
            };
            assert!(trace.resync, "{command:?}");
        }
    }

    #[test]
    fn print_subcommand() {
        let cli = parse(&["print", "--no-header", "te", "trace"]).unwrap();
        match cli.command {
            Some(Command::Print(p)) => {
                assert!(p.trace.no_header);
                assert_eq!(p.trace.trace_file, Some("trace".into()));
                assert_eq!((p.format, p.timestamps), (PrintFormat::Python, false));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn log_format() {
        for args in [
            &["print", "--format", "log", "--timestamps", "te", "t"][..],
            &["--format", "log", "--timestamps", "te", "t"][..],
        ] {
            let cli = parse(args).unwrap();
            let p = match cli.command {
                Some(Command::Print(p)) => p,
                None => cli.print,
                other => panic!("{other:?}"),
            };
            assert_eq!((p.format, p.timestamps), (PrintFormat::Log, true));
            assert_eq!(p.trace.trace_file, Some("t".into()));
        }
        assert!(parse(&["--format", "xml", "te", "t"]).is_err());
    }

    #[test]
    fn locks_and_run() {
        let cli = parse(&["locks", "--sort", "hold", "--top", "3", "--json", "te", "t"]).unwrap();
        match cli.command {
            Some(Command::Locks {
                sort, top, output, ..
            }) => {
                assert_eq!((sort, top, output.json), (LockSort::Hold, Some(3), true));
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&[
            "run", "--plugin", "locks", "--plugin", "./x.so", "-j", "2", "te", "t",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Run { plugins, trace, .. }) => {
                assert_eq!(plugins, ["locks", "./x.so"]);
                assert_eq!(trace.threads, Some(2));
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
        assert!(parse(&["run", "te", "t"]).is_err(), "run needs --plugin");
        assert!(parse(&["locks", "--sort", "nope", "te", "t"]).is_err());
        assert!(parse(&["-j", "0", "te", "t"]).is_err());
    }

    #[test]
    fn extras_become_subcommands() {
        let extras = vec![AnalyzerEntry::parallel(
            "mine",
            "my analyzer",
            PrintAnalyzer::new,
        )];
        let m = command(&extras)
            .try_get_matches_from(["simpletrace", "mine", "--json", "te", "t"])
            .unwrap();
        let (name, sub) = m.subcommand().unwrap();
        assert_eq!(name, "mine");
        assert!(OutputArgs::from_arg_matches(sub).unwrap().json);
        assert_eq!(
            TraceArgs::from_arg_matches(sub).unwrap().trace_file,
            Some("t".into())
        );
    }
}
