//! Running a command: the analyzers it adds to a driver, the run over the
//! trace, and what its end means (warnings, a fault, a shrunk file, the
//! output file put in place).

use std::cell::RefCell;
use std::io::{self, IsTerminal};

use clap::{ArgMatches, FromArgMatches};

use super::args::{
    Cli, Command, JsonFormat, LockSort, OutputArgs, PrintArgs, PrintFormat, StatsSortArg,
    TraceArgs, command,
};
use super::config::{Config, Trace};
use super::error::{Error, Failure};
use super::report::{report_keys, write_reports};
use super::{alloc, generate, hist};
use crate::analyzers::chrome::ChromeTrace;
use crate::analyzers::json::JsonLines;
use crate::analyzers::locks::{LocksAnalyzer, SortBy};
use crate::analyzers::log::LogPrinter;
use crate::analyzers::print::{Buffering, PrintAnalyzer};
use crate::analyzers::stats::{StatsAnalyzer, StatsSort};
use crate::analyzers::subset::SubsetWriter;
use crate::analyzers::{AnalyzerEntry, Driver, Report, RunOptions, registry};
use crate::format::excerpt::Excerpt;
use crate::format::{TraceKind, TraceReader};
use crate::input::TraceStream;
use crate::output::OutputFile;

/// Where reports go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reports {
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
    pub(super) fn json(json: bool) -> Reports {
        if json { Reports::Json } else { Reports::Text }
    }
}

/// Runs the analyzers of `driver` over the trace of `config`:
/// streams what they write to standard output, then their reports.
/// Returns warnings for standard error.
pub(super) fn analyze<'c>(
    config: &'c Config,
    reports: Reports,
    driver: Driver<'c>,
) -> Result<Vec<String>, Failure> {
    analyze_with(config, reports, driver, &mut |_| Ok(()))
}

/// [`analyze`], and `files` writes the files made from the reports (`hist
/// --svg`'s plot) once the run has made them, before the reports go to
/// standard output (a reader that stops early must not cost the file).
pub(super) fn analyze_with<'c>(
    config: &'c Config,
    reports: Reports,
    mut driver: Driver<'c>,
    files: &mut dyn FnMut(&[Report]) -> Result<(), Failure>,
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
    files(&outcome.reports)?;
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
    // What the analyzers warned about when the run started comes first.
    let setup: Vec<String> = outcome.warnings.iter().map(ToString::to_string).collect();
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
        return Ok(setup.into_iter().chain(warnings).collect());
    }
    let mut messages: Vec<String> = setup
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .chain(skips.listed().iter().map(|s| format!("{path}: {s}")))
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

pub(super) fn print(args: &PrintArgs) -> Result<Vec<String>, Failure> {
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
