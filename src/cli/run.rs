//! Running a command: the analyzers it adds to a driver, the run over the
//! trace, and what its end means (warnings, a fault, a shrunk file, the
//! output file put in place).

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use clap::{ArgMatches, FromArgMatches};

use super::args::{
    Cli, Command, JsonFormat, LockSort, OutputArgs, OutputTo, PrintArgs, PrintFormat, StatsSortArg,
    TraceArgs, command,
};
use super::config::{Config, Trace};
use super::destinations::{self, Writer};
use super::error::{Error, Failure, Resynced};
use super::report::{report_keys, write_reports};
use super::{alloc, generate, hist};
use crate::analyzers::alloc::{AllocAnalyzer, AllocOptions};
use crate::analyzers::chrome::{ChromeTrace, SpanSpec};
use crate::analyzers::json::JsonLines;
use crate::analyzers::locks::{LocksAnalyzer, SortBy};
use crate::analyzers::log::LogPrinter;
use crate::analyzers::perfetto::{CounterSpec, PerfettoTrace};
use crate::analyzers::print::{Buffering, PrintAnalyzer};
use crate::analyzers::sink::{Stream, ToWriter};
use crate::analyzers::stats::{StatsAnalyzer, StatsSort};
use crate::analyzers::subset::SubsetWriter;
use crate::analyzers::{AnalyzerEntry, Driver, Report, RunOptions, registry};
use crate::format::excerpt::Excerpt;
use crate::format::{TraceKind, TraceReader};
use crate::input::{FollowedTrace, TraceStream};
use crate::output::{OutputError, OutputFile};

/// Where reports go.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reports<'f> {
    /// Text on standard output.
    Text,
    /// JSON on standard output.
    Json,
    /// Text on standard error (when standard output carries data).
    Stderr,
    /// `run`'s, on standard output: the reports of the analyzers that
    /// write there (the others' go to their `--output` files, written by
    /// `run`). Where several analyzers write, text reports go under
    /// headings; JSON is always an object keyed by report key (scripts
    /// need not care how many analyzers there are).
    Run {
        /// JSON rather than text.
        json: bool,
        /// Per analyzer, in the driver's order: whether it writes to
        /// standard output.
        on_stdout: &'f [bool],
    },
}

impl Reports<'static> {
    pub(super) fn json(json: bool) -> Reports<'static> {
        if json { Reports::Json } else { Reports::Text }
    }
}

/// How a followed trace's reports are shown as they stand
/// (`stats --follow`), and the last of them when the follow ends.
#[derive(Debug, Clone)]
struct LiveView {
    json: bool,
    terminal: bool,
    color: bool,
    keys: Vec<String>,
    started: std::time::Instant,
}

impl LiveView {
    /// Writes `reports` (the final ones when `last`): on a terminal the
    /// screen is cleared first, so that each replaces the one before;
    /// otherwise text comes under a `-- after SECONDS s --` line (`-- end
    /// --` for the last), and JSON is one document per line.
    fn show(&self, reports: &[Report], last: bool) -> io::Result<()> {
        use std::io::Write;
        let mut out = io::stdout().lock();
        let keyed: Vec<(&str, &Report)> =
            self.keys.iter().map(String::as_str).zip(reports).collect();
        if self.json {
            let shown: Vec<&(&str, &Report)> =
                keyed.iter().filter(|(_, r)| !r.is_empty()).collect();
            let doc = match shown.as_slice() {
                [] => return out.flush(),
                [(_, only)] => only.lazy_json().into_value(),
                many => serde_json::Value::Object(
                    many.iter()
                        .map(|(key, r)| ((*key).to_owned(), r.lazy_json().into_value()))
                        .collect(),
                ),
            };
            serde_json::to_writer(&mut out, &doc)?;
            out.write_all(b"\n")?;
            return out.flush();
        }
        if self.terminal {
            // Cursor home, then clear the screen.
            out.write_all(b"\x1b[H\x1b[2J")?;
        } else if last {
            out.write_all(b"-- end --\n")?;
        } else {
            writeln!(
                out,
                "-- after {:.1} s --",
                self.started.elapsed().as_secs_f64()
            )?;
        }
        write_reports(&mut out, &keyed, None, false, self.color)
    }
}

/// The file `run --output` gives an analyzer.
#[derive(Debug)]
struct RunFile {
    file: OutputFile,
    /// Whether its records go there too (its report then follows them
    /// only when it has one).
    streams: bool,
}

/// Runs the analyzers of `driver` over the trace of `config`:
/// streams what they write to standard output, then their reports.
/// Returns warnings for standard error.
pub(super) fn analyze<'c>(
    config: &'c Config,
    reports: Reports<'_>,
    driver: Driver<'c>,
) -> Result<Vec<String>, Failure> {
    analyze_with(config, reports, driver, &mut |_| Ok(()))
}

/// [`analyze`], and `files` writes the files made from the reports (`hist
/// --svg`'s plot) once the run has made them, before the reports go to
/// standard output (a reader that stops early must not cost the file).
pub(super) fn analyze_with<'c>(
    config: &'c Config,
    reports: Reports<'_>,
    mut driver: Driver<'c>,
    files: &mut dyn FnMut(&[Report]) -> Result<(), Failure>,
) -> Result<Vec<String>, Failure> {
    enum Source<'c> {
        Data(TraceReader<'c>),
        Stream(TraceStream, TraceKind),
        Follow(Box<FollowedTrace>),
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
        Trace::Follow(cell) => {
            let taken = cell.borrow_mut().take();
            Source::Follow(taken.ok_or_else(|| {
                config.on_trace(Error::Invalid("the trace was read already".into()))
            })?)
        }
    };
    driver.select(config.selection.clone());
    // The progress bar counts the bytes of the source as they come: for a
    // memory map, the offset the driver has reached whenever it lets go of
    // the input (the map's cue as well); for a stream, the bytes read from
    // the pipe or compressed file, as they are read (the driver's offsets
    // come a block at a time, and count decompressed bytes).
    let mapped = match &config.trace {
        Trace::Data(data) => Some(data),
        Trace::Stream(_) | Trace::Follow(_) => None,
    };
    // A followed trace has no end to show progress towards.
    let progress = match &source {
        Source::Data(_) => config.term.progress(mapped.map(|data| data.len() as u64)),
        Source::Stream(stream, _) => config.term.progress(stream.source_len()),
        Source::Follow(_) => None,
    };
    if let (Some(p), Source::Stream(stream, _)) = (&progress, &source) {
        let p = p.clone();
        stream.on_progress(move |read| p.set(read));
    }
    let bar = progress.clone().filter(|_| mapped.is_some());
    driver.release_with(move |offset| {
        if let Some(data) = mapped {
            data.release_before(offset);
        }
        if let Some(p) = &bar {
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
    // A followed trace's reports as they stand (`stats --follow`): on a
    // terminal, redrawn in place; otherwise one after another.
    let live = match (config.live, reports) {
        (Some(_), Reports::Text | Reports::Json) => Some(LiveView {
            json: matches!(reports, Reports::Json),
            terminal: stdout.is_terminal(),
            color: config.term.color_stdout(),
            keys: report_keys(driver.names()).0,
            started: std::time::Instant::now(),
        }),
        _ => None,
    };
    if let (Some(every), Some(view)) = (config.live, live.clone()) {
        driver.live_reports(every, move |reports| view.show(reports, false));
    }
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
        Source::Follow(mut trace) => {
            driver.run_follow(&mut trace, &config.events, &mut out, options)
        }
    };
    if let Some(p) = &progress {
        p.finish();
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // A failure after a read of a vanished page is the cut's doing
        // (reported with the failure's own words).
        Err(e) => {
            let failure = Failure::from(e);
            if failure.is_broken_pipe() || matches!(failure, Failure::Usage(_)) {
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
    files(&outcome.reports)?;
    let (keys, renamed) = report_keys(driver.names());
    let keyed: Vec<(&str, &crate::analyzers::Report)> = keys
        .iter()
        .map(String::as_str)
        .zip(&outcome.reports)
        .collect();
    match reports {
        Reports::Stderr => {
            drop(out);
            let mut err = io::stderr().lock();
            let color = config.term.color_stderr();
            write_reports(&mut err, &keyed, None, false, color).map_err(Failure::output)?;
        }
        Reports::Text | Reports::Json if live.is_some() => {
            drop(out);
            if let Some(view) = &live {
                view.show(&outcome.reports, true).map_err(Failure::output)?;
            }
        }
        Reports::Text | Reports::Json => write_reports(
            &mut out,
            &keyed,
            matches!(reports, Reports::Json).then_some(false),
            false,
            config.term.color_stdout(),
        )
        .map_err(Failure::output)?,
        Reports::Run { json, on_stdout } => {
            let here: Vec<(&str, &crate::analyzers::Report)> = keyed
                .iter()
                .zip(on_stdout)
                .filter_map(|(report, &here)| here.then_some(*report))
                .collect();
            // Nothing at all when every analyzer writes elsewhere.
            if !here.is_empty() {
                let several = here.len() > 1;
                let color = config.term.color_stdout();
                write_reports(&mut out, &here, json.then_some(true), several, color)
                    .map_err(Failure::output)?;
            }
        }
    }
    let path = config.trace_path.display();
    // What the analyzers warned about when the run started comes first.
    let setup: Vec<String> = (config.warnings.iter().cloned())
        .chain(outcome.warnings.iter().map(ToString::to_string))
        .collect();
    let mut warnings = renamed;
    warnings.extend(config.mismatch_warning(&outcome.length_mismatches));
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
            let hint = config.fault_hint(&e);
            let e = config.with_shrink_note(Error::Format(e).context("", hint));
            return Err(Failure::Fault(config.on_trace(e)));
        }
    }
    match outcome.stream_error {
        // Compressed data cut off: like a trace cut off mid-record.
        Some(e) if e.is_truncation() => warnings.push(config.trace_warning(e)),
        Some(e) => return Err(Failure::Fault(config.on_trace(Error::Stream(e)))),
        None => {}
    }
    Resynced::outcome(vec![(path.to_string(), outcome.skips)], setup, warnings)
}

/// Writes an analyzer's report into its `--output` file, after its
/// records if it streams: what `run` with that analyzer alone would have
/// written to standard output (never coloured).
fn write_report_to(
    to: &RunFile,
    report: (&str, &crate::analyzers::Report),
    json: bool,
) -> Result<(), Failure> {
    let mut w = file_writer(&to.file)?;
    // After records, an empty report adds nothing, in JSON as in text.
    let keyed = json.then_some(!to.streams);
    write_reports(&mut w, &[report], keyed, false, false).map_err(|source| {
        Failure::from(OutputError::Io {
            path: to.file.path().to_owned(),
            doing: "writing",
            source,
        })
    })
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

/// The analyzer a `--plugin` argument chose, ready to be added to a
/// driver: once to learn its name and what it streams before the trace is
/// opened, once more for the run.
enum Chosen<'e> {
    /// A built-in analyzer, or one of `main_with`'s.
    Entry(&'e AnalyzerEntry),
    /// A plugin library, loaded.
    #[cfg(feature = "plugins")]
    Library(std::sync::Arc<crate::analyzers::plugin::Plugin>),
}

impl Chosen<'_> {
    /// Adds a fresh instance; returns what it streams into the run's
    /// output.
    fn add(&self, driver: &mut Driver<'_>) -> Option<Stream> {
        match self {
            Chosen::Entry(entry) => entry.add_to(driver),
            #[cfg(feature = "plugins")]
            Chosen::Library(plugin) => {
                use crate::analyzers::Analyzer;
                let analyzer =
                    crate::analyzers::plugin::PluginAnalyzer::new(std::sync::Arc::clone(plugin));
                let stream = analyzer.stream();
                driver.add(analyzer);
                stream
            }
        }
    }

    /// Adds a fresh instance whose records go to `out`; false (nothing
    /// added) when its records cannot be sent elsewhere.
    fn add_writing_to(
        &self,
        driver: &mut Driver<'_>,
        out: Box<dyn io::Write + Send>,
        destination: String,
    ) -> bool {
        match self {
            Chosen::Entry(entry) => entry.add_writing_to(driver, out, destination),
            #[cfg(feature = "plugins")]
            Chosen::Library(_) => false,
        }
    }

    /// Whether `add_writing_to` can send its records elsewhere.
    fn can_write_to(&self) -> bool {
        match self {
            Chosen::Entry(entry) => entry.can_write_to(),
            #[cfg(feature = "plugins")]
            Chosen::Library(_) => false,
        }
    }
}

/// The analyzer called `name`, or the plugin at the path `name` (loaded).
fn choose<'e>(
    name: &str,
    builtins: &'e [AnalyzerEntry],
    extras: &'e [AnalyzerEntry],
) -> Result<(Chosen<'e>, Given), Failure> {
    let looks_like_path = name.contains('/') || name.contains(std::path::MAIN_SEPARATOR);
    if looks_like_path {
        return load_plugin(name);
    }
    match builtins.iter().chain(extras).find(|e| e.name == name) {
        Some(entry) => Ok((Chosen::Entry(entry), Given::Named(name.to_owned()))),
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
fn load_plugin<'e>(path: &str) -> Result<(Chosen<'e>, Given), Failure> {
    use crate::analyzers::plugin::Plugin;
    let plugin = Plugin::load(path)?;
    // Loaded, so it exists; its identity is read from the same path.
    let id = crate::input::FileId::of_path(path)
        .map_err(|e| Error::Io(e).context(format!("{path}: "), ""))?;
    Ok((
        Chosen::Library(std::sync::Arc::new(plugin)),
        Given::Library(id),
    ))
}

#[cfg(not(feature = "plugins"))]
fn load_plugin<'e>(path: &str) -> Result<(Chosen<'e>, Given), Failure> {
    Err(Failure::invalid(format!(
        "{path}: this simpletrace was built without plugin support (the 'plugins' feature)"
    )))
}

/// `simpletrace run`: the analyzers `--plugin` names, each writing to
/// standard output or to its `--output` file. Everything that can be
/// refused without the trace (an unknown analyzer, one given twice, an
/// unknown `--output` key, analyzers that cannot share standard output) is
/// refused before the trace is opened.
fn run_analyzers(
    plugins: &[String],
    outputs: &[OutputTo],
    json: bool,
    trace: &TraceArgs,
    extras: &[AnalyzerEntry],
) -> Result<Vec<String>, Failure> {
    let usage = |message: String| Failure::Usage(Error::Invalid(message));
    let builtins = registry();
    let mut chosen: Vec<Chosen<'_>> = Vec::new();
    let mut given: Vec<(Given, &String)> = Vec::new();
    for p in plugins {
        let (this, id) = choose(p, &builtins, extras)?;
        if let Some((_, first)) = given.iter().find(|(g, _)| *g == id) {
            return Err(usage(format!(
                "--plugin {p}: the same analyzer as --plugin {first}; each analyzer runs once \
                 in a pass"
            )));
        }
        given.push((id, p));
        chosen.push(this);
    }
    // What each is called and streams, from instances made only to ask.
    let mut probe = Driver::new();
    let streams: Vec<Option<Stream>> = chosen.iter().map(|c| c.add(&mut probe)).collect();
    let (keys, _) = report_keys(probe.names());
    drop(probe);
    let paths = destinations::assign(&keys, outputs).map_err(usage)?;
    let writers: Vec<Writer<'_>> = keys
        .iter()
        .zip(&streams)
        .map(|(key, &stream)| Writer { key, stream })
        .collect();
    for ((w, c), path) in writers.iter().zip(&chosen).zip(&paths) {
        if path.is_some() && w.streams() && !c.can_write_to() {
            return Err(usage(format!(
                "--output {}=...: {} writes its records into the run's output and cannot send \
                 them elsewhere (an analyzer added with AnalyzerEntry::sink can)",
                w.key, w.key
            )));
        }
    }
    let on_stdout: Vec<Writer<'_>> = writers
        .iter()
        .zip(&paths)
        .filter(|(_, p)| p.is_none())
        .map(|(w, _)| *w)
        .collect();
    destinations::check_shared(&on_stdout, json).map_err(usage)?;

    let config = Config::from_args(trace)?;
    let mut files: Vec<Option<RunFile>> = Vec::with_capacity(paths.len());
    for (path, w) in paths.iter().zip(&writers) {
        files.push(match path {
            Some(path) => Some(RunFile {
                file: config.create_output(path)?,
                streams: w.streams(),
            }),
            None => None,
        });
    }
    refuse_shared_files(&files, &keys).map_err(usage)?;
    let mut driver = Driver::new();
    for (c, to) in chosen.iter().zip(&files) {
        match to {
            Some(to) if to.streams => {
                let out = Box::new(file_writer(&to.file)?);
                let added =
                    c.add_writing_to(&mut driver, out, to.file.path().display().to_string());
                debug_assert!(added, "checked with can_write_to");
            }
            _ => {
                c.add(&mut driver);
            }
        }
    }
    let on_stdout: Vec<bool> = files.iter().map(Option::is_none).collect();
    let reports = Reports::Run {
        json,
        on_stdout: &on_stdout,
    };
    // The files get their reports once the run has reached its end, before
    // standard output gets its own.
    let mut finished = false;
    let result = analyze_with(&config, reports, driver, &mut |reports| {
        for ((report, to), key) in reports.iter().zip(&files).zip(&keys) {
            if let Some(to) = to {
                write_report_to(to, (key, report), json)?;
            }
        }
        finished = true;
        Ok(())
    });
    files
        .into_iter()
        .flatten()
        .fold(result, |result, to| match result {
            // Standard output closed before the run's end (| head): quiet
            // success, but a file without its end must not look finished; it
            // is removed.
            Err(failure) if failure.is_broken_pipe() && !finished => Err(failure),
            result => put_in_place(to.file, result),
        })
}

/// Two `--output`s that name one file (by its directory and name, symbolic
/// links followed) would each replace what the other wrote.
fn refuse_shared_files(files: &[Option<RunFile>], keys: &[String]) -> Result<(), String> {
    let place = |f: &OutputFile| {
        let path = f.path();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        (
            std::fs::canonicalize(dir).ok(),
            path.file_name().map(ToOwned::to_owned),
        )
    };
    let mut seen: Vec<(_, &str)> = Vec::new();
    for (to, key) in files.iter().zip(keys) {
        let Some(to) = to else { continue };
        let here = place(&to.file);
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == here) {
            return Err(format!(
                "--output {first}=... and --output {key}=... name the same file, {}: give each \
                 analyzer a file of its own",
                to.file.path().display()
            ));
        }
        seen.push((here, key));
    }
    Ok(())
}

pub(super) fn run(matches: &ArgMatches, extras: &[AnalyzerEntry]) -> Result<Vec<String>, Failure> {
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
        #[cfg(feature = "sql")]
        Some(Command::Sql(args)) => super::sql::run(&args),
        #[cfg(feature = "sql")]
        Some(Command::Parquet(args)) => super::parquet::run(&args),
        Some(Command::Completions { shell }) => {
            generate::completions(shell, command(extras), &mut io::stdout().lock())?;
            Ok(Vec::new())
        }
        Some(Command::Man { dir: Some(dir) }) if dir.as_os_str() == "-" => Err(Failure::invalid(
            "man --dir takes a directory to write the pages into; without --dir, the main page \
             goes to standard output"
                .into(),
        )),
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
            live,
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
            let config = Config::from_args_live(&trace, &live)?;
            analyze(&config, Reports::json(output.json), driver)
        }
        Some(Command::Locks {
            sort,
            top,
            output,
            live,
            trace,
        }) => {
            let sort = match sort {
                LockSort::Wait => SortBy::Wait,
                LockSort::Hold => SortBy::Hold,
                LockSort::Count => SortBy::Count,
            };
            let mut driver = Driver::new();
            driver.add(LocksAnalyzer::new(sort, top));
            let config = Config::from_args_live(&trace, &live)?;
            analyze(&config, Reports::json(output.json), driver)
        }
        Some(Command::Hist(args)) => hist::run(&args),
        Some(Command::Alloc(args)) => alloc::run(&args),
        Some(Command::Json {
            format,
            spans,
            counters,
            alloc_counter,
            output,
            follow,
            trace,
        }) => json(
            format,
            spans,
            counters,
            alloc_counter,
            output,
            &follow,
            &trace,
        ),
        Some(Command::Filter {
            output,
            follow,
            trace,
        }) => {
            let to_stdout = output.as_os_str() == "-";
            if to_stdout {
                destinations::refuse_binary_to_terminal("-o -", io::stdout().is_terminal())
                    .map_err(Failure::invalid)?;
            }
            let config = Config::from_args_following(&trace, &follow)?;
            let destination = output.display().to_string();
            let mut driver = Driver::new();
            if to_stdout {
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
            outputs,
            output,
            trace,
        }) => run_analyzers(&plugins, &outputs, output.json, &trace, extras),
    }
}

/// `json`: JSON Lines, Chrome JSON or a Perfetto trace, to standard
/// output or (`-o FILE`) a file put in place when the run succeeded.
fn json(
    format: JsonFormat,
    spans: Vec<SpanSpec>,
    counters: Vec<CounterSpec>,
    alloc_counter: bool,
    output: Option<PathBuf>,
    follow: &super::args::FollowArgs,
    trace: &TraceArgs,
) -> Result<Vec<String>, Failure> {
    if format == JsonFormat::Lines && !spans.is_empty() {
        return Err(Failure::invalid(
            "--span needs --format chrome or perfetto".into(),
        ));
    }
    if format != JsonFormat::Perfetto && !counters.is_empty() {
        return Err(Failure::invalid("--counter needs --format perfetto".into()));
    }
    if format != JsonFormat::Perfetto && alloc_counter {
        return Err(Failure::invalid(
            "--alloc-counter needs --format perfetto".into(),
        ));
    }
    // The live bytes as `alloc` counts them, with its built-in rules.
    let alloc = alloc_counter.then(|| AllocAnalyzer::new(AllocOptions::default()));
    let output = output.filter(|o| o.as_os_str() != "-");
    if format == JsonFormat::Perfetto && output.is_none() {
        destinations::refuse_binary_to_terminal(
            "json --format perfetto",
            io::stdout().is_terminal(),
        )
        .map_err(Failure::invalid)?;
    }
    // A Perfetto trace is one packet sequence written in file order: a
    // second thread would only decode ahead of the one writer, holding
    // what it hands over (130 MiB on a 537 MB trace where one thread
    // peaks at 15 MiB), and is no faster (docs/performance.md). One
    // thread, unless -j says otherwise.
    let one_thread;
    let trace = if format == JsonFormat::Perfetto && trace.threads.is_none() {
        one_thread = TraceArgs {
            threads: Some(1),
            ..trace.clone()
        };
        &one_thread
    } else {
        trace
    };
    let config = Config::from_args_following(trace, follow)?;
    let mut driver = Driver::new();
    let Some(path) = output else {
        add_json_sink(&mut driver, format, spans, counters, alloc, trace, None);
        return analyze(&config, Reports::Text, driver);
    };
    let file = config.create_output(&path)?;
    let out = Box::new(io::BufWriter::with_capacity(1 << 20, file_writer(&file)?));
    let to = Some((out as Box<dyn io::Write + Send>, path.display().to_string()));
    add_json_sink(&mut driver, format, spans, counters, alloc, trace, to);
    let result = analyze(&config, Reports::Text, driver);
    put_in_place(file, result)
}

/// Adds `json`'s sink, writing to the run's output or to `to`.
fn add_json_sink(
    driver: &mut Driver<'_>,
    format: JsonFormat,
    spans: Vec<SpanSpec>,
    counters: Vec<CounterSpec>,
    alloc: Option<AllocAnalyzer>,
    trace: &TraceArgs,
    to: Option<(Box<dyn io::Write + Send>, String)>,
) {
    match (format, to) {
        (JsonFormat::Lines, None) => driver.add_parallel(JsonLines::new()),
        (JsonFormat::Lines, Some((out, dest))) => {
            driver.add_parallel(ToWriter::new(JsonLines::new(), out, dest))
        }
        (JsonFormat::Chrome, to) if spans.is_empty() => {
            let sink = ChromeTrace::new(spans);
            match to {
                None => driver.add_parallel(sink),
                Some((out, dest)) => driver.add_parallel(ToWriter::new(sink, out, dest)),
            }
        }
        // Spans pair records across the trace: file order.
        (JsonFormat::Chrome, None) => driver.add(ChromeTrace::new(spans)),
        (JsonFormat::Chrome, Some((out, dest))) => {
            driver.add(ToWriter::new(ChromeTrace::new(spans), out, dest))
        }
        // One sequence of interned names: file order.
        (JsonFormat::Perfetto, to) => {
            let name = trace
                .trace_file
                .as_deref()
                .and_then(|p| p.file_name())
                .map_or_else(|| "trace".to_owned(), |n| n.to_string_lossy().into_owned());
            let mut sink = PerfettoTrace::new(name, spans, counters);
            if let Some(alloc) = alloc {
                sink = sink.with_alloc_counter(alloc);
            }
            match to {
                None => driver.add(sink),
                Some((out, dest)) => driver.add(ToWriter::new(sink, out, dest)),
            }
        }
    }
}

pub(super) fn print(args: &PrintArgs) -> Result<Vec<String>, Failure> {
    if args.format == PrintFormat::Python && args.timestamps {
        return Err(Failure::invalid("--timestamps needs --format log".into()));
    }
    let config = Config::from_args_following(&args.trace, &args.follow)?;
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
pub(super) fn file_writer(file: &OutputFile) -> Result<std::fs::File, Failure> {
    Ok(file.writer()?)
}

/// Puts an output file in place as the run that wrote it ended: renamed
/// over its target on success (also after `--resync` read on); after a
/// fault in the trace, what was written before it set apart as
/// `TARGET.partial` (it must not look like the whole result); after any
/// other failure (writing failed, an analyzer failed, nothing was
/// written) removed.
pub(super) fn put_in_place(
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
