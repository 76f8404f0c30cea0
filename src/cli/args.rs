//! The command line as the user types it: clap's structures, validated
//! only (no file is opened here), and the command they make, with the
//! analyzers of [`main_with`](super::main_with) added.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use super::{alloc, hist, term};
use crate::analyzers::chrome::SpanSpec;
use crate::analyzers::perfetto::CounterSpec;
use crate::analyzers::select::TimeBound;
use crate::analyzers::{AnalyzerEntry, registry};

pub(super) const EXAMPLES: &str = "\
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
      Only some records: the filters work with every command, before or
      after its name.

Exit status:
  0  success; also when the output pipe closes early (| head), and for a trace
     cut off in the middle of a record (a warning says where)
  1  a bad or missing trace or trace-events file, a failed analyzer, or output
     that cannot be written (a full disk, a closed standard output)
  2  a usage error (a mistyped command or option, options that do not go
     together, a malformed value, binary output to a terminal)
  3  --resync skipped corrupt data (each skipped byte range is listed)
  4  the trace file shrank while it was read (another program truncated it);
     every record before the cut was read";

pub(super) const PRINT_EXAMPLES: &str = "\
Examples:
  simpletrace print trace-events-all trace-12345
      Every record exactly as QEMU's simpletrace.py prints it.
  simpletrace print --format log trace-events-all trace-12345
      Every record as QEMU's log backend would print it, through the event's
      own C format string: 'blk_root_attach child 0x5643596a5990 blk 0x5643596bb9d0 ...'.
  simpletrace print --format log --timestamps --events 'qemu_vfree' trace-events-all trace-12345
      Only one event, each line with QEMU's PID@SECONDS.MICROS: prefix.";

pub(super) const STATS_EXAMPLES: &str = "\
Examples:
  simpletrace stats trace-events-all trace-12345
      Every event with its count, share, rate and time span; lost events.
  simpletrace stats --sort name --by-pid trace-events-all trace-12345
      One row per event and pid, by name.
  simpletrace stats --events 'bdrv_*' --start 10s --end 20s trace-events-all trace-12345
      Only the block-layer events of ten seconds.
  simpletrace stats --json trace-events-all trace-12345 | jq '.events[] | select(.count > 1000) | .event'
      The same as JSON.";

pub(super) const LOCKS_EXAMPLES: &str = "\
Examples:
  simpletrace locks trace-events-all trace-12345
      Every mutex, most waited-for first.
  simpletrace locks --sort hold --top 10 trace-events-all trace-12345
      The ten mutexes held longest in total.
  simpletrace locks --json trace-events-all trace-12345 | jq '.mutexes[0]'
      The same as JSON.";

pub(super) const JSON_EXAMPLES: &str = "\
Examples:
  simpletrace json trace-events-all trace-12345 | jq -c 'select(.event == \"qemu_vfree\")'
      JSON Lines, one object per record.
  simpletrace json --format chrome trace-events-all trace-12345 > trace.json
      Open trace.json in https://ui.perfetto.dev or chrome://tracing.
  simpletrace json --format chrome --span thread_pool_submit_aio:req,thread_pool_complete_aio:req \\
      trace-events-all trace-12345 > pool.json
      Each thread-pool request as a bar with its duration.
  simpletrace json --format perfetto --span thread_pool_submit_aio:req,thread_pool_complete_aio:req \\
      -o trace.pftrace trace-events-all trace-12345
      Perfetto's own protobuf format: smaller, and whole traces load in ui.perfetto.dev.
  simpletrace json --format perfetto --counter qemu_memalign:size -o trace.pftrace \\
      trace-events-all trace-12345
      With a counter track plotting an argument over time.";

pub(super) const FILTER_EXAMPLES: &str = "\
Examples:
  simpletrace filter --events 'qemu_mutex_*' -o mutex.trace trace-events-all trace-12345
      Keep only the mutex events.
  simpletrace filter --pid 4242 --start 10s --end 12s -o slice.trace trace-events-all trace-12345
      Two seconds of one process.
  simpletrace filter --events '-qemu_co_*' -o - trace-events-all trace-12345 | gzip > small.trace.gz
      Everything but the coroutine events, to standard output.";

pub(super) const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  simpletrace completions bash > ~/.local/share/bash-completion/completions/simpletrace
  simpletrace completions zsh > ~/.zfunc/_simpletrace
  simpletrace completions fish > ~/.config/fish/completions/simpletrace.fish";

pub(super) const MAN_EXAMPLES: &str = "\
Examples:
  simpletrace man | man -l -
      Read the manual now.
  simpletrace man --dir /usr/local/share/man/man1
      Install a page for simpletrace and one for each command.";

pub(super) const RUN_EXAMPLES: &str = "\
Examples:
  simpletrace run --plugin locks trace-events-all trace-12345
      A built-in analyzer by name.
  simpletrace run --plugin ./libio_sizes.so trace-events-all trace-12345
      An analyzer loaded from a shared library (see docs/plugins.md).
  simpletrace run --plugin locks --plugin ./libcount.so --json trace-events-all trace-12345
      Both in one pass over the trace; the results as one JSON object.
  simpletrace run --plugin print --plugin stats trace-events-all trace-12345
      The records, then the statistics under an '== stats ==' heading.
  simpletrace run --plugin chrome --plugin stats --output chrome=trace.json trace-events-all trace-12345
      Perfetto's file and the statistics in one pass: a format for other
      programs (json, chrome) shares standard output with nothing, so all
      but one go to files. So do records (print, log) with --json.";

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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Command>,
    #[command(flatten)]
    pub(super) print: PrintArgs,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
        live: LiveArgs,
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
        /// Show only the first N mutexes, and at most N lines of the lists of
        /// mutexes still held and requests still waited for.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        live: LiveArgs,
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
    #[command(after_help = alloc::after_help())]
    Alloc(alloc::AllocArgs),
    /// Export the records as JSON: JSON Lines (one object per record), or
    /// the Chrome trace-event format that Perfetto UI and chrome://tracing
    /// open; or as Perfetto's own protobuf trace format.
    #[command(after_help = JSON_EXAMPLES)]
    Json {
        /// Output format.
        #[arg(long, value_enum, default_value_t = JsonFormat::Lines)]
        format: JsonFormat,
        /// With --format chrome or perfetto: make a span (an async
        /// begin/end pair with an id of its own, or a slice, which viewers
        /// draw as a bar) of each begin record and the next end record
        /// whose KEY arguments are equal. Repeatable.
        #[arg(long = "span", value_name = "BEGIN[:KEY],END[:KEY]")]
        spans: Vec<SpanSpec>,
        /// With --format perfetto: a counter track per pid plotting the
        /// integer argument ARG of EVENT's records over time. Repeatable.
        #[arg(long = "counter", value_name = "EVENT:ARG")]
        counters: Vec<CounterSpec>,
        /// With --format perfetto: a counter track per pid of the bytes
        /// held live by QEMU's allocator events, as `simpletrace alloc`
        /// counts them (its built-in rules).
        #[arg(long)]
        alloc_counter: bool,
        /// Write to FILE instead of standard output (put in place once the
        /// run has succeeded, as filter -o writes).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        follow: FollowArgs,
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
        follow: FollowArgs,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Run analyzers in one pass: built-in ones by name, or plugins loaded
    /// from shared libraries.
    ///
    /// Standard output gets the records the streaming analyzers write
    /// (print, log), then each report under an '== KEY ==' heading (KEY:
    /// the analyzer's name, NAME#2 for the second of a name); a single
    /// analyzer writes what its own command writes. With --json it gets one
    /// JSON object keyed by KEY. Formats that cannot share standard output
    /// are refused before the trace is read: a format for other programs
    /// (json, chrome) with anything else, or records with --json; send all
    /// but one to files with --output KEY=FILE.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// An analyzer: a built-in name or the path of a plugin library (a
        /// name with a '/'). Repeat for several. (The help shown is
        /// [`plugin_help`]'s, with the names of the registry.)
        #[arg(long = "plugin", value_name = "NAME|PATH", required = true)]
        plugins: Vec<String>,
        /// Send one analyzer's records and report to FILE instead of
        /// standard output. KEY is its name (NAME#2 for the second of that
        /// name; - as FILE keeps it on standard output). FILE is written as
        /// filter -o writes: never over an input, in place once the run
        /// has succeeded. Repeatable.
        #[arg(long = "output", value_name = "KEY=FILE", value_parser = parse_output_to)]
        outputs: Vec<OutputTo>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        trace: TraceArgs,
    },
    /// Query traces with SQL: a table of every record, of lost events, of
    /// the declarations, and one per event with its arguments as columns
    /// (docs/sql.md).
    #[cfg(feature = "sql")]
    #[command(after_help = super::sql::EXAMPLES)]
    Sql(super::sql::SqlArgs),
    /// Export traces as a Parquet dataset (Hive-partitioned by trace) that
    /// DuckDB, Spark or `sql --dataset` query (docs/sql.md).
    #[cfg(feature = "sql")]
    #[command(after_help = super::parquet::EXAMPLES)]
    Parquet(super::parquet::ParquetArgs),
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
pub(super) enum JsonFormat {
    /// One JSON object per record, one per line.
    Lines,
    /// Chrome trace-event JSON (Perfetto UI, chrome://tracing).
    Chrome,
    /// Perfetto's protobuf trace format (binary; ui.perfetto.dev).
    Perfetto,
}

/// How `print` writes each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum PrintFormat {
    /// Exactly as QEMU's simpletrace.py: NAME DELTA_US pid=PID ARG=VALUE...
    Python,
    /// As QEMU's log trace backend: NAME and the event's C format string
    /// rendered with its arguments.
    Log,
}

/// What `print` (and the bare two-argument form) takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct PrintArgs {
    /// Line format.
    #[arg(long, value_enum, default_value_t = PrintFormat::Python)]
    pub(super) format: PrintFormat,
    /// With --format log: start each line with PID@SECONDS.MICROS: (the
    /// record's pid and the trace clock's time), as QEMU's log backend does
    /// with -msg timestamp=on.
    #[arg(long)]
    pub(super) timestamps: bool,
    #[command(flatten)]
    pub(super) follow: FollowArgs,
    #[command(flatten)]
    pub(super) trace: TraceArgs,
}

/// `--follow` and how it starts and stops (print, json, filter).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Following a live trace")]
pub(crate) struct FollowArgs {
    /// Keep reading as the trace grows (a trace QEMU is still writing),
    /// printing each record once it is whole; a truncated or replaced file
    /// is followed again from its new header. Stops on Ctrl-C, after
    /// --idle, or when --pid-exit's process exits; then the run ends as at
    /// the end of a trace (exit status 0).
    #[arg(long, short = 'f')]
    pub(super) follow: bool,
    /// With --follow: stop after DURATION without the trace growing
    /// (500ms, 2s, 1.5s).
    #[arg(long, value_name = "DURATION", requires = "follow", value_parser = parse_duration)]
    pub(super) idle: Option<std::time::Duration>,
    /// With --follow: stop when process PID (the QEMU writing the trace)
    /// has exited, after reading what it wrote.
    #[arg(long, value_name = "PID", requires = "follow")]
    pub(super) pid_exit: Option<u32>,
    /// With --follow: start after the records written so far.
    #[arg(long, requires = "follow", conflicts_with = "last")]
    pub(super) from_end: bool,
    /// With --follow: start with the last N records written so far.
    #[arg(short = 'n', long = "last", value_name = "N", requires = "follow")]
    pub(super) last: Option<u64>,
}

/// `--follow` on a report command (stats, locks, hist, alloc): the report
/// redrawn as records come.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct LiveArgs {
    #[command(flatten)]
    pub(super) follow: FollowArgs,
    /// With --follow: show the report as it stands this often, when
    /// records have come (on a terminal redrawn in place; otherwise one
    /// after another, text under a '-- after SECONDS s --' line, JSON one
    /// document per line) [default: 1s]. The final report is shown when
    /// the follow ends.
    #[arg(long, value_name = "DURATION", requires = "follow", value_parser = parse_duration)]
    pub(super) refresh: Option<std::time::Duration>,
}

impl LiveArgs {
    /// How often to show the report, when following.
    pub(super) fn every(&self) -> Option<std::time::Duration> {
        self.follow
            .follow
            .then(|| self.refresh.unwrap_or(std::time::Duration::from_secs(1)))
    }
}

/// Reads a duration with its unit (`500ms`, `2s`, `1.5s`, `us`, `ns`).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::syntax::duration(s).ok_or_else(|| {
        format!("'{s}' is not a duration: a number and a unit (500ms, 2s, 1.5s, 250us, ns)")
    })
}

/// How `stats` orders its event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum StatsSortArg {
    /// Most records first.
    Count,
    /// By event name.
    Name,
    /// By first record, earliest first
    First,
    /// By last record, latest first
    Last,
    /// As declared in TRACE_EVENTS.
    Declared,
}

/// How `locks` orders its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LockSort {
    /// Total time waited for the mutex.
    Wait,
    /// Total time the mutex was held.
    Hold,
    /// Number of acquisitions.
    Count,
}

/// `run --output KEY=FILE`: where one analyzer's records and report go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutputTo {
    /// The analyzer's report key (its name, or `NAME#2`...).
    pub(super) key: String,
    /// The file (`-`: standard output).
    pub(super) path: PathBuf,
}

/// Reads `KEY=FILE` (split at the first `=`: a key has none, a path may).
fn parse_output_to(s: &str) -> Result<OutputTo, String> {
    match s.split_once('=') {
        Some((key, path)) if !key.is_empty() && !path.is_empty() => Ok(OutputTo {
            key: key.to_owned(),
            path: path.into(),
        }),
        _ => Err(
            "expected KEY=FILE: an analyzer's name (NAME#2 for the second of that \
                  name), '=', and the file its output goes to"
                .into(),
        ),
    }
}

/// How analyzer results are written.
#[derive(Debug, Clone, Args)]
pub(super) struct OutputArgs {
    /// Write the results as JSON instead of text.
    #[arg(long)]
    pub(super) json: bool,
}

/// The trace to read: `[--no-header] [--resync] [-j N] TRACE_EVENTS TRACE_FILE`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TraceArgs {
    /// The trace has no file header: records start at byte 0, and event ids
    /// without a mapping record are positions in TRACE_EVENTS.
    #[arg(long)]
    pub(super) no_header: bool,
    /// On a corrupt record, skip to the next plausible one instead of
    /// stopping: report each skipped byte range on standard error, read on,
    /// and exit with status 3 if anything was skipped. Every record is then
    /// checked in full, filtered out or not.
    #[arg(long)]
    pub(super) resync: bool,
    /// The trace-events-all file of the QEMU build that wrote the trace.
    #[arg(value_name = "TRACE_EVENTS", required = true)]
    pub(super) trace_events: Option<PathBuf>,
    /// The binary trace file (trace-PID), or - for standard input.
    #[arg(value_name = "TRACE_FILE", required = true)]
    pub(super) trace_file: Option<PathBuf>,
    /// Threads to work with (default: one per CPU). The output is the same
    /// for any number.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(super) threads: Option<u32>,
    /// Bytes of trace per parallel work unit, and per block of a trace
    /// read as a stream (for tuning and tests).
    #[arg(long, hide = true, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..=1 << 30))]
    pub(super) chunk_size: Option<u64>,
    #[command(flatten)]
    pub(super) filters: FilterArgs,
    #[command(flatten)]
    pub(super) term: term::TermArgs,
}

/// The record filters every command takes.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Filters")]
pub(super) struct FilterArgs {
    /// Only these events: comma-separated QEMU-style patterns ('*' and '?'
    /// globs, '-' to exclude, later ones win). Patterns that only exclude
    /// keep everything else. Repeatable.
    #[arg(long, value_name = "PATTERNS", allow_hyphen_values = true)]
    pub(super) events: Vec<String>,
    /// Only the events of a QEMU events file: one pattern per line, '#'
    /// comments, '-' to exclude.
    #[arg(long, value_name = "FILE")]
    pub(super) events_file: Option<PathBuf>,
    /// Only records of this pid. Repeatable.
    #[arg(long, value_name = "PID")]
    pub(super) pid: Vec<u32>,
    /// Only records at or after this time: nanoseconds of the trace clock,
    /// or a time after the first record with a unit (1.5s, 200ms, 30us,
    /// +500ns).
    #[arg(long, value_name = "TIME")]
    pub(super) start: Option<TimeBound>,
    /// Only records at or before this time (as --start). (With `hist
    /// --begin EVENT`, `--end EVENT[:ARG]` names the latency's end event
    /// instead; a time is still this filter.)
    #[arg(long, value_name = "TIME")]
    pub(super) end: Vec<EndArg>,
}

/// What follows `--end`: a time (the filter), or an event name (the end
/// event of `hist --begin`): a word that starts with a letter or `_` is an
/// event name, anything else a time (times start with a digit, `.` or
/// `+`). QEMU's event names are C identifiers; a name that starts with a
/// digit, which tracetool lets through, cannot be an `--end` event.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EndArg {
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

/// The help of `run --plugin`: the names it takes, from the registry
/// (and `extras`), the one list of analyzers.
fn plugin_help(extras: &[AnalyzerEntry]) -> String {
    let builtins = registry();
    let names: Vec<&str> = builtins
        .iter()
        .chain(extras)
        .map(|e| e.name.as_str())
        .collect();
    format!(
        "An analyzer: a built-in name ({}) or the path of a plugin library (a name with a '/'). Repeat for several",
        names.join(", ")
    )
}

/// The full command definition, with `extras` as subcommands.
pub fn command(extras: &[AnalyzerEntry]) -> clap::Command {
    let help = plugin_help(extras);
    let mut cmd = Cli::command().mut_subcommand("run", |run| {
        run.mut_arg("plugins", |arg| arg.help(help.clone()).long_help(help))
    });
    for e in extras {
        let sub = clap::Command::new(e.name.clone());
        // The argument groups first: `augment_args` sets the command's
        // `about` to their struct's doc comment, which the analyzer's own
        // description must replace, not the other way round.
        let sub = OutputArgs::augment_args(TraceArgs::augment_args(sub))
            .about(e.about.clone())
            .long_about(e.about.clone())
            .after_help(format!(
                "Example:\n  simpletrace {} trace-events-all trace-12345\n      {}",
                e.name, e.about
            ));
        cmd = cmd.subcommand(sub);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::print::PrintAnalyzer;
    use clap::FromArgMatches;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("simpletrace").chain(args.iter().copied()))
    }

    /// An analyzer added by a program is described by its own `about`,
    /// in the command list and in its `--help`, not by a doc comment of
    /// the argument groups it takes.
    #[test]
    fn extra_analyzers_keep_their_own_description() {
        let extra = AnalyzerEntry::parallel("rate", "events per pid, how fast", PrintAnalyzer::new);
        let mut cmd = command(&[extra]);
        let help = cmd.render_long_help().to_string();
        assert!(
            help.contains("rate         events per pid, how fast"),
            "{help}"
        );
        let sub = cmd.find_subcommand_mut("rate").unwrap();
        let help = sub.render_long_help().to_string();
        assert!(help.starts_with("events per pid, how fast\n"), "{help}");
        assert!(!help.contains("How analyzer results are written"), "{help}");
    }

    /// `--color` and `--progress` describe their own values, and `stats
    /// --sort`'s say what they sort by.
    #[test]
    fn value_descriptions_are_each_options_own() {
        let mut cmd = command(&[]);
        let stats = cmd.find_subcommand_mut("stats").unwrap();
        let help = stats.render_long_help().to_string();
        assert!(
            help.contains("auto:   Colour what goes to a terminal"),
            "{help}"
        );
        assert!(
            help.contains("auto:   A bar once a run has taken a second"),
            "{help}"
        );
        assert!(
            help.contains("last:     By last record, latest first"),
            "{help}"
        );
        assert!(!help.contains("(colour:"), "{help}");
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
        let cli = parse(&[
            "run",
            "--plugin",
            "json",
            "--output",
            "json=a=b.json",
            "--output",
            "stats#2=-",
            "te",
            "t",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Run { outputs, .. }) => assert_eq!(
                outputs,
                [
                    OutputTo {
                        key: "json".into(),
                        path: "a=b.json".into()
                    },
                    OutputTo {
                        key: "stats#2".into(),
                        path: "-".into()
                    }
                ]
            ),
            other => panic!("{other:?}"),
        }
        for bad in ["json", "=f", "json=", ""] {
            let e = parse(&["run", "--plugin", "json", "--output", bad, "te", "t"]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad:?}");
            assert!(e.to_string().contains("expected KEY=FILE"), "{bad:?}: {e}");
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
        // `run --plugin`'s help names them too, after the registry's.
        let mut cmd = command(&extras);
        let run = cmd.find_subcommand_mut("run").unwrap();
        let help = run.render_long_help().to_string();
        assert!(
            help.contains("(print, log, json, chrome, stats, locks, alloc, mine)"),
            "{help}"
        );
    }
}
