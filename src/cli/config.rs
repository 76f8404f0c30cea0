//! What the arguments mean: the files opened and parsed ([`Config`]), the
//! record selection, and how a failure reading the trace is worded.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::args::{EndArg, FilterArgs, FollowArgs, LiveArgs, TraceArgs};
use super::error::{Error, Failure};
use super::{hints, term};
use crate::analyzers::print::Parallelism;
use crate::analyzers::select::{self, Selection, TimeBound};
use crate::format::excerpt::Excerpt;
use crate::format::{TraceEvents, TraceKind, TraceReader};
use crate::input::{self, Compression, FileId, TraceData, TraceInput, TraceStream};
use crate::output::OutputFile;
use crate::pattern::EventPatterns;

impl FilterArgs {
    /// The one `--end` time, if any; an event name is refused (`hist`
    /// takes it out first).
    pub(super) fn end_time(&self) -> Result<Option<TimeBound>, Failure> {
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

    /// The selection these arguments describe (reads the events file),
    /// and the pattern lists it was made of, each with the option that
    /// gave it (for warnings about patterns that match nothing).
    pub(super) fn selection(&self) -> Result<(Selection, Vec<(String, EventPatterns)>), Failure> {
        let mut patterns: Option<EventPatterns> = None;
        let mut given = Vec::new();
        if let Some(path) = &self.events_file {
            let text = input::read_text(path)?;
            let on_path = |e: Error| e.context(format!("{}: ", path.display()), "");
            let text = core::str::from_utf8(&text).map_err(|e| on_path(Error::NotUtf8(e)))?;
            let p = EventPatterns::parse_file(text).map_err(|e| on_path(Error::Pattern(e)))?;
            given.push((format!("--events-file {}", path.display()), p.clone()));
            patterns
                .get_or_insert_with(EventPatterns::default)
                .extend(p);
        }
        for list in &self.events {
            let p = EventPatterns::parse_list(list)
                .map_err(|e| Failure::Usage(Error::Pattern(e).context("--events: ", "")))?;
            given.push(("--events".to_owned(), p.clone()));
            patterns
                .get_or_insert_with(EventPatterns::default)
                .extend(p);
        }
        let end = self.end_time()?;
        check_window(self.start, end)?;
        let selection = Selection {
            events: patterns,
            pids: self.pid.clone(),
            start: self.start,
            end,
        };
        Ok((selection, given))
    }
}

/// Refuses `-` (standard input) for more than one of the files a run
/// reads (a usage error): the first would read it to its end, and the
/// others would find it empty.
fn check_one_stdin(events: &Path, events_file: Option<&Path>, trace: &Path) -> Result<(), Failure> {
    let given: Vec<&str> = [
        ("TRACE_EVENTS", Some(events)),
        ("--events-file", events_file),
        ("TRACE_FILE", Some(trace)),
    ]
    .into_iter()
    .filter(|(_, p)| p.is_some_and(|p| p.as_os_str() == "-"))
    .map(|(name, _)| name)
    .collect();
    if given.len() < 2 {
        return Ok(());
    }
    Err(Failure::Usage(Error::Invalid(format!(
        "{} are {} '-': standard input can be only one of them (give the others as files; \
         a shell's <(...) works too)",
        given.join(" and "),
        if given.len() == 2 { "both" } else { "all" }
    ))))
}

/// Refuses a window that ends before it starts (a usage error): it would
/// keep nothing, silently. Both bounds must be of one kind to compare
/// before the trace is read; equal bounds keep the records of that one
/// instant.
fn check_window(start: Option<TimeBound>, end: Option<TimeBound>) -> Result<(), Failure> {
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(());
    };
    let inverted = match (start, end) {
        (TimeBound::Absolute(s), TimeBound::Absolute(e))
        | (TimeBound::Relative(s), TimeBound::Relative(e)) => s > e,
        _ => false,
    };
    if !inverted {
        return Ok(());
    }
    let show = |b: TimeBound| match b {
        TimeBound::Absolute(t) => format!("{t} ns of the trace clock"),
        TimeBound::Relative(d) => format!(
            "{} after the first record",
            crate::analyzers::human::human(
                i128::from(d),
                crate::analyzers::histogram::Unit::Nanoseconds
            )
        ),
    };
    Err(Failure::Usage(Error::Invalid(format!(
        "--start ({}) is after --end ({}): the window keeps no record",
        show(start),
        show(end)
    ))))
}

/// The trace as opened.
#[derive(Debug)]
pub(super) enum Trace {
    /// Memory-mapped.
    Data(TraceData),
    /// Read front to back, by the one run that takes it.
    Stream(RefCell<Option<TraceStream>>),
    /// Followed as it grows (`--follow`), by the one run that takes it.
    Follow(RefCell<Option<Box<input::FollowedTrace>>>),
}

/// The opened inputs and settings every command works from.
#[derive(Debug)]
pub(crate) struct Config {
    pub(super) events: TraceEvents,
    pub(super) trace: Trace,
    pub(super) trace_path: PathBuf,
    /// The trace-events file.
    pub(super) events_path: PathBuf,
    /// How the trace is compressed (then it is a stream).
    pub(super) compression: Option<Compression>,
    pub(super) no_header: bool,
    pub(super) resync: bool,
    pub(super) parallelism: Parallelism,
    /// `--chunk-size`, which also sets the block size of a stream.
    pub(super) stream_block: Option<usize>,
    pub(super) selection: Selection,
    pub(super) term: term::TermArgs,
    /// The files this run reads (trace, trace-events file, events file),
    /// which no output may overwrite. (Commands with plugins write no
    /// files.)
    pub(super) inputs: Vec<FileId>,
    /// What the arguments warn about before the trace is read (event
    /// patterns that match no declared event), written with the run's
    /// other warnings.
    pub(super) warnings: Vec<String>,
    /// How often a followed trace's report is shown as it stands
    /// (`stats --follow --refresh`).
    pub(super) live: Option<std::time::Duration>,
}

impl Config {
    pub(super) fn from_args(args: &TraceArgs) -> Result<Config, Failure> {
        Self::from_args_following(args, &FollowArgs::default())
    }

    /// [`Config::from_args`], following the trace as it grows when
    /// `follow.follow` (`--follow`): the file is opened and its header
    /// waited for, and the trace is read by the one run that takes it.
    pub(super) fn from_args_following(
        args: &TraceArgs,
        follow: &FollowArgs,
    ) -> Result<Config, Failure> {
        let (Some(events_path), Some(trace_path)) = (&args.trace_events, &args.trace_file) else {
            return Err(Failure::invalid(
                "missing TRACE_EVENTS or TRACE_FILE".into(),
            ));
        };
        check_one_stdin(events_path, args.filters.events_file.as_deref(), trace_path)?;
        let (selection, patterns) = args.filters.selection()?;
        let events = input::read_trace_events(events_path).map_err(|e| {
            match hints::events_file_hint(events_path, trace_path) {
                Some(hint) => Error::Input(e).context("", format!("; {hint}")),
                None => Error::Input(e),
            }
        })?;
        let warnings = patterns
            .iter()
            .flat_map(|(option, p)| {
                select::unmatched(p, &events).into_iter().map(move |u| {
                    let hint = u
                        .similar
                        .map_or(String::new(), |s| format!(" (did you mean '{s}'?)"));
                    format!(
                        "{option}: '{}' matches no event declared in {}{hint}",
                        u.pattern,
                        events_path.display()
                    )
                })
            })
            .collect();
        let id = |path: &Path| {
            if path.as_os_str() == "-" {
                FileId::of_stdin()
            } else {
                FileId::of_path(path)
            }
        };
        let mut inputs = vec![id(events_path)];
        inputs.extend(args.filters.events_file.as_deref().map(id));
        inputs.push(id(trace_path));
        // Read already, so they exist; an identity that cannot be known
        // cannot be matched either.
        let inputs = inputs.into_iter().flatten().collect();
        let (trace, compression) = if follow.follow {
            (Self::follow(args, follow, trace_path, &events)?, None)
        } else {
            match TraceInput::open(trace_path)? {
                TraceInput::Data(data) => (Trace::Data(data), None),
                TraceInput::Stream(stream) => {
                    let compression = stream.compression();
                    (Trace::Stream(RefCell::new(Some(stream))), compression)
                }
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
            events_path: events_path.clone(),
            compression,
            no_header: args.no_header,
            resync: args.resync,
            parallelism,
            stream_block,
            selection,
            term: args.term.clone(),
            inputs,
            warnings,
            live: None,
        })
    }

    /// [`Config::from_args_following`] for a report command, whose report
    /// is shown as it stands every `--refresh` while following.
    pub(super) fn from_args_live(args: &TraceArgs, live: &LiveArgs) -> Result<Config, Failure> {
        let mut config = Self::from_args_following(args, &live.follow)?;
        config.live = live.every();
        Ok(config)
    }

    /// Opens `path` to follow it (`--follow`): a regular file, not
    /// compressed; waits for its header.
    fn follow(
        args: &TraceArgs,
        follow: &FollowArgs,
        path: &Path,
        events: &TraceEvents,
    ) -> Result<Trace, Failure> {
        if path.as_os_str() == "-" {
            return Err(Failure::invalid(
                "--follow reads a file as it grows: give the trace's path, not - (a pipe is \
                 read to its end without --follow)"
                    .into(),
            ));
        }
        let meta = std::fs::metadata(path).map_err(|source| {
            Error::Input(input::InputError::Io {
                path: path.to_owned(),
                source,
            })
        })?;
        if !meta.is_file() {
            return Err(Failure::invalid(format!(
                "--follow: {} is not a regular file (a pipe or a device is read to its end \
                 without --follow)",
                path.display()
            )));
        }
        let mut head = [0u8; 8];
        let got = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .unwrap_or(0);
        if let Some(c) = head.get(..got).and_then(Compression::detect) {
            return Err(Failure::invalid(format!(
                "--follow: {} is {c} data: a compressed trace cannot be followed (read it \
                 without --follow)",
                path.display()
            )));
        }
        let start = match (follow.from_end, follow.last) {
            (_, Some(n)) => input::FollowStart::Last(n),
            (true, None) => input::FollowStart::End,
            (false, None) => input::FollowStart::Beginning,
        };
        // QEMU's own name for the trace, trace-PID, and that process
        // writing it: stop when it exits, as --pid-exit PID would.
        let pid_exit = follow.pid_exit.or_else(|| {
            let pid = input::trace_writer(path)?;
            eprintln!(
                "simpletrace: following {} until process {pid}, which writes it, exits",
                path.display()
            );
            Some(pid)
        });
        let options = input::FollowOptions {
            idle: follow.idle,
            pid_exit,
            start,
            no_header: args.no_header,
            block: args.chunk_size.map_or(0, |b| b as usize),
        };
        // Ctrl-C ends the follow, not the process (a second one does).
        let _ = input::stop_on_interrupt();
        let mut trace = input::FollowedTrace::open(path, events, options).map_err(|e| {
            let e = match e {
                input::FollowError::Io(source) => Error::Input(input::InputError::Io {
                    path: path.to_owned(),
                    source,
                }),
                input::FollowError::Header(e) => {
                    Error::Format(e).context(format!("{}: ", path.display()), "")
                }
            };
            Failure::Error(e)
        })?;
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() {
                trace.stop_when_closed(fd);
            }
        }
        trace.on_note(|note| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "simpletrace: {note}");
        });
        Ok(Trace::Follow(RefCell::new(Some(Box::new(trace)))))
    }

    /// Starts writing the output file `path` (never one of the inputs).
    pub(super) fn create_output(&self, path: &Path) -> Result<OutputFile, Failure> {
        Ok(OutputFile::create(path, &self.inputs)?)
    }

    pub(super) fn reader<'c>(&'c self, data: &'c TraceData) -> Result<TraceReader<'c>, Failure> {
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
    pub(super) fn stream_kind(&self, stream: &TraceStream) -> Result<TraceKind, Failure> {
        if self.no_header {
            Ok(TraceKind::headerless())
        } else {
            TraceKind::detect(stream.head()).map_err(|e| self.header_failure(e))
        }
    }

    /// A bad header; when the name says the file is compressed and its
    /// first bytes say otherwise, that is the likelier story.
    pub(super) fn header_failure(&self, e: crate::format::Error) -> Failure {
        match Compression::from_extension(&self.trace_path) {
            Some(c) if self.compression.is_none() => Failure::Error(Error::Format(e).context(
                format!("{}: ", self.trace_path.display()),
                format!(" (the name says {c}, but the data does not start as {c} data does)"),
            )),
            _ => {
                let hint = hints::trace_file_hint(&self.trace_path)
                    .or_else(|| hints::missing_header_hint(&e).map(str::to_owned));
                let e =
                    Error::Format(e).context("", hint.map_or(String::new(), |h| format!("; {h}")));
                Failure::Error(self.on_trace(e))
            }
        }
    }

    /// What to add to a fault the reader stopped at (`; HINT`), when the
    /// arguments explain it: `--no-header` given for a trace that has a
    /// header.
    pub(super) fn fault_hint(&self, e: &crate::format::Error) -> String {
        match hints::needless_no_header_hint(e) {
            Some(hint) if self.no_header => format!("; {hint}"),
            _ => String::new(),
        }
    }

    /// The warning about records longer than their declarations, if any
    /// were: once per run, with how many and the first of them.
    pub(super) fn mismatch_warning(
        &self,
        mismatches: &crate::analyzers::LengthMismatches,
    ) -> Option<String> {
        let first = mismatches.first.as_ref()?;
        let first = match first {
            crate::format::Error::TrailingBytes {
                at,
                event,
                len,
                used,
            } => format!("{at}, '{event}', is {len} bytes long; its declaration makes {used}"),
            other => other.to_string(),
        };
        let records = crate::analyzers::human::plural(mismatches.count, "record is", "records are");
        Some(self.trace_warning(format!(
            "{records} longer than {} declares (is it the trace-events file of the QEMU build \
             that wrote the trace?); they are decoded as declared, as simpletrace.py does; the \
             first, {first}",
            self.events_path.display()
        )))
    }

    /// How the mapped trace shrank while it was read, if it did.
    pub(super) fn shrink(&self) -> Option<input::Shrink> {
        match &self.trace {
            Trace::Data(data) => data.shrink(),
            Trace::Stream(_) | Trace::Follow(_) => None,
        }
    }

    /// How the mapped trace shrank while it was read, if the run's end is
    /// the shrink's doing ([`input::Shrink::explains`]).
    pub(super) fn cut_short(&self, fault: Option<&crate::format::Error>) -> Option<input::Shrink> {
        self.shrink().filter(|shrink| shrink.explains(fault))
    }

    /// The failure of a run that the trace's shrinking stopped: how the
    /// file changed, and where reading stopped (with what the reader found
    /// there, when it was not the cut itself), or what failed then.
    pub(super) fn changed(
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
    pub(super) fn with_shrink_note(&self, e: Error) -> Error {
        match self.shrink() {
            Some(shrink) => e.context("", format!(" (meanwhile {shrink})")),
            None => e,
        }
    }

    /// `e` about the trace: `PATH: e`; for a compressed trace, with a word
    /// on what its offsets count.
    pub(super) fn on_trace(&self, e: Error) -> Error {
        let (before, after) = self.trace_context();
        e.context(before, after)
    }

    /// A warning about the trace, as [`Config::on_trace`] words an error.
    pub(super) fn trace_warning(&self, warning: impl std::fmt::Display) -> String {
        let (before, after) = self.trace_context();
        format!("{before}{warning}{after}")
    }

    /// What goes before and after a message about the trace: `PATH: `,
    /// and for a compressed trace a word on what its offsets count.
    pub(super) fn trace_context(&self) -> (String, String) {
        let path = format!("{}: ", self.trace_path.display());
        (
            path,
            self.compression.map_or(String::new(), |c| c.offsets_note()),
        )
    }
}
