//! `simpletrace hist`: what the user typed ([`HistArgs`]), turned into a
//! [`HistSpec`] and run.

use core::fmt;
use core::str::FromStr;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};

use super::error::{Error, Failure};
use super::run::analyze_with;
use super::{Config, EndArg, OutputArgs, Reports, TraceArgs};
use crate::analyzers::hist::{
    GroupBy, Hist, HistError, HistSpec, LatencyPair, MAX_BY, Measure, Pairing, Style,
};
use crate::analyzers::histogram::{Scale, Unit};
use crate::analyzers::{Driver, Report};
use crate::format::excerpt::Excerpt;
use crate::output::{OutputError, OutputFile};
use crate::report::render::svg;

/// The `--help` examples.
pub(super) const EXAMPLES: &str = "\
Examples:
  simpletrace hist --event bdrv_co_pwritev_part --arg bytes trace-events-all trace-12345
      Sizes of block-layer writes, log2 buckets in bytes.
  simpletrace hist --event qemu_memalign --arg size --by pid --linear 64KiB trace-events-all trace-12345
      Allocation sizes per process, in 64 KiB buckets.
  simpletrace hist --latency thread_pool_submit_aio:req,thread_pool_complete_aio:req trace-events-all trace-12345
      Time from submitting each thread-pool request to its completion.
  simpletrace hist --begin thread_pool_submit_aio:req --end thread_pool_complete_aio trace-events-all trace-12345
      The same, spelled with --begin and --end.
  simpletrace hist --latency qemu_mutex_lock:mutex,qemu_mutex_unlock --by mutex --top 5 trace-events-all trace-12345
      Time from asking for each mutex to releasing it, for the five busiest mutexes.
  simpletrace hist --interval qemu_vfree --table trace-events-all trace-12345
      Time between frees, as a table of buckets.
  simpletrace hist --event bdrv_co_pwritev_part --arg bytes --json --svg writes.svg trace-events-all trace-12345
      The same as JSON, and a bar chart in writes.svg.";

/// What `hist` takes.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("measure").required(true).args(["event", "latency", "begin", "interval"])))]
#[command(group(ArgGroup::new("pair").args(["latency", "begin"])))]
pub(super) struct HistArgs {
    /// Value histogram: the event whose argument (--arg) to count.
    #[arg(
        long,
        value_name = "EVENT",
        requires = "arg",
        help_heading = "What to measure"
    )]
    event: Option<String>,
    /// With --event: the numeric argument.
    #[arg(
        long,
        value_name = "ARG",
        requires = "event",
        conflicts_with_all = ["latency", "interval"],
        help_heading = "What to measure"
    )]
    arg: Option<String>,
    /// Latency histogram: time from each BEGIN record to the END record it
    /// pairs with: the same pid and, with :ARG, the same value of ARG (one
    /// ARG names both sides' argument). Ends without a begin, and begins
    /// still open at the end, are counted.
    #[arg(
        long,
        value_name = "BEGIN[:ARG],END[:ARG]",
        help_heading = "What to measure"
    )]
    latency: Option<LatencyPair>,
    /// The same as --latency BEGIN[:ARG],END[:ARG], spelled
    /// --begin BEGIN[:ARG] --end END[:ARG] (an --end that names an event is
    /// the end event; an --end time is still the filter).
    #[arg(long, value_name = "BEGIN[:ARG]", help_heading = "What to measure")]
    begin: Option<String>,
    /// With --latency, when several begins of a key are open: an end takes
    /// the oldest (fifo: queues, contended locks) or the newest (lifo:
    /// nested begin/end); or (unique) a begin replaces an open begin of its
    /// key, which counts as unmatched (request pointers, reused once free,
    /// in a trace that lost records).
    #[arg(
        long,
        value_enum,
        requires = "pair",
        conflicts_with_all = ["event", "interval"],
        help_heading = "What to measure"
    )]
    pairing: Option<PairingArg>,
    /// Interval histogram: time between consecutive records of EVENT from
    /// the same pid.
    #[arg(long, value_name = "EVENT", help_heading = "What to measure")]
    interval: Option<String>,
    /// One histogram per distinct value of these, largest first: 'pid', or
    /// an argument (args.NAME for an argument called pid). For a latency,
    /// the begin event's argument, else the end event's. Comma-separated,
    /// at most 3.
    #[arg(long, value_name = "pid|ARG,...", value_delimiter = ',')]
    by: Vec<GroupBy>,
    /// Show only the N largest groups (every group is counted; only these
    /// N histograms are kept for the report).
    #[arg(long, value_name = "N")]
    top: Option<usize>,
    /// Linear buckets of STEP (like bpftrace's lhist) instead of powers of
    /// two: a number, or with a unit: 100us, 2ms, 4KiB, 1MiB.
    #[arg(long, value_name = "STEP")]
    linear: Option<Step>,
    /// The unit of the values [default: ns for --latency and --interval;
    /// for --event, bytes when ARG's last word is bytes, size, len, length,
    /// nbytes or sz, ns when it is ns or nsec, else count].
    #[arg(long, value_enum)]
    unit: Option<UnitArg>,
    /// Show each histogram as a table of its non-empty buckets (count, %,
    /// cumulative %) instead of bars.
    #[arg(long, conflicts_with = "json")]
    table: bool,
    /// Also write the histograms as an SVG bar chart to FILE (- for
    /// standard output; the text report then goes to standard error).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    live: super::args::LiveArgs,
    #[command(flatten)]
    pub(super) trace: TraceArgs,
}

/// `--pairing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PairingArg {
    /// The oldest open begin.
    Fifo,
    /// The newest open begin.
    Lifo,
    /// Only one open begin per key: the latest.
    Unique,
}

/// `--unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum UnitArg {
    /// Plain numbers.
    Count,
    /// Nanoseconds (shown as ns, us, ms, s).
    Ns,
    /// Bytes (shown as B, KiB, MiB, GiB).
    Bytes,
}

impl From<UnitArg> for Unit {
    fn from(u: UnitArg) -> Unit {
        match u {
            UnitArg::Count => Unit::Count,
            UnitArg::Ns => Unit::Nanoseconds,
            UnitArg::Bytes => Unit::Bytes,
        }
    }
}

/// A `--linear` step: a positive whole number of the base unit, maybe
/// written with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    /// In ns, bytes or plain numbers.
    value: u64,
    /// The unit its suffix names, if any.
    unit: Option<Unit>,
}

/// A `--linear` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepError(String);

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a bucket width: give a positive whole number, or one with a unit (ns, us, ms, s, B, KiB, MiB, GiB): 100us, 1.5ms, 4KiB",
            Excerpt::new(&self.0)
        )
    }
}

impl std::error::Error for StepError {}

impl FromStr for Step {
    type Err = StepError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || StepError(s.to_owned());
        let (value, table) =
            crate::syntax::quantity(s, &[crate::syntax::TIME_UNITS, crate::syntax::SIZE_UNITS])
                .ok_or_else(err)?;
        let unit = match table {
            None => None,
            Some(0) => Some(Unit::Nanoseconds),
            Some(_) => Some(Unit::Bytes),
        };
        if value == 0 {
            return Err(err());
        }
        Ok(Step { value, unit })
    }
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Count => "count",
        Unit::Nanoseconds => "ns",
        Unit::Bytes => "bytes",
    }
}

impl HistArgs {
    /// The request these arguments make (before it meets the
    /// declarations).
    fn spec(&self) -> Result<HistSpec, Failure> {
        let measure = match (&self.event, &self.arg, &self.latency, &self.interval) {
            (Some(event), Some(arg), None, None) => Measure::Value {
                event: event.clone(),
                arg: arg.clone(),
            },
            (None, None, Some(pair), None) => Measure::Latency {
                begin: pair.begin.clone(),
                end: pair.end.clone(),
                pairing: match self.pairing {
                    Some(PairingArg::Lifo) => Pairing::Lifo,
                    Some(PairingArg::Unique) => Pairing::Unique,
                    Some(PairingArg::Fifo) | None => Pairing::Fifo,
                },
            },
            (None, None, None, Some(event)) => Measure::Interval {
                event: event.clone(),
            },
            _ => {
                return Err(Failure::invalid(
                    "give one of --event EVENT --arg ARG, --latency BEGIN,END (or --begin BEGIN --end END) or --interval EVENT"
                        .into(),
                ));
            }
        };
        let step_unit = self.linear.and_then(|s| s.unit);
        let given = self.unit.map(Unit::from);
        let timed = !matches!(measure, Measure::Value { .. });
        let unit = match (given, step_unit) {
            (Some(u), Some(s)) if u != s => {
                return Err(Failure::invalid(format!(
                    "--linear is in {} but --unit is {}",
                    unit_name(s),
                    unit_name(u)
                )));
            }
            (None, Some(s)) if timed && s != Unit::Nanoseconds => {
                return Err(Failure::invalid(
                    "latencies and intervals are times: give --linear in ns, us, ms or s".into(),
                ));
            }
            (Some(Unit::Bytes), _) if timed => {
                return Err(Failure::invalid(
                    "latencies and intervals are times: --unit bytes does not fit them (give \
                     --unit ns, or count for plain numbers of nanoseconds)"
                        .into(),
                ));
            }
            (u, s) => u.or(s),
        };
        if self.by.len() > MAX_BY {
            return Err(Failure::invalid(
                HistError::TooManyGroupParts(self.by.len()).to_string(),
            ));
        }
        let mut spec = HistSpec::new(measure);
        spec.by = self.by.clone();
        spec.scale = match self.linear {
            Some(s) => Scale::Linear { step: s.value },
            None => Scale::Log2,
        };
        spec.unit = unit;
        spec.top = self.top;
        spec.style = if self.table {
            Style::Table
        } else {
            Style::Bars
        };
        Ok(spec)
    }
}

impl HistArgs {
    /// `--begin BEGIN --end END` turned into `--latency BEGIN,END`, the
    /// event out of the `--end` filter.
    fn with_latency_spelled_out(&self) -> Result<HistArgs, Failure> {
        let mut args = self.clone();
        let (events, times): (Vec<EndArg>, Vec<EndArg>) = args
            .trace
            .filters
            .end
            .drain(..)
            .partition(|e| matches!(e, EndArg::Event(_)));
        args.trace.filters.end = times;
        let ends: Vec<String> = events
            .into_iter()
            .filter_map(|e| match e {
                EndArg::Event(name) => Some(name),
                EndArg::Time(_) => None,
            })
            .collect();
        match (args.begin.take(), ends.as_slice()) {
            (None, []) => Ok(args),
            (Some(begin), [end]) => {
                let pair: LatencyPair = format!("{begin},{end}")
                    .parse()
                    .map_err(|e| Failure::invalid(format!("--begin/--end: {e}")))?;
                args.latency = Some(pair);
                Ok(args)
            }
            (Some(_), []) => Err(Failure::invalid(
                "--begin EVENT needs --end EVENT[:ARG], the event that ends each latency".into(),
            )),
            (_, [_, _, ..]) => Err(Failure::invalid("--end EVENT is given twice".into())),
            (None, [end]) => Err(Failure::invalid(format!(
                "--end {end}: an event name after --end needs --begin EVENT (--end as a \
                 filter takes a time: nanoseconds, or 1.5s, 200ms, +30us)"
            ))),
        }
    }
}

/// Runs `simpletrace hist`.
pub(super) fn run(args: &HistArgs) -> Result<Vec<String>, Failure> {
    let args = &args.with_latency_spelled_out()?;
    let spec = args.spec()?;
    // `-` is standard output, as everywhere.
    let plot_to_stdout = args.svg.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if plot_to_stdout && args.output.json {
        return Err(Failure::invalid(super::destinations::not_shared(
            "the --svg - plot",
            "the --json report",
            "write the plot to a file (--svg FILE), or leave out --json",
        )));
    }
    let config = Config::from_args_live(&args.trace, &args.live)?;
    // The analyzer checks the run's --events filter when the run starts.
    let hist = Hist::new(spec, &config.events).map_err(|e| {
        if e.is_usage() {
            Failure::Usage(Error::Hist(e))
        } else {
            Failure::Error(Error::Hist(e))
        }
    })?;
    let plot = match &args.svg {
        Some(path) if !plot_to_stdout => Some(config.create_output(path)?),
        _ => None,
    };
    let mut driver = Driver::new();
    hist.add_to(&mut driver);
    // The plot on standard output sends the text report to standard error,
    // as `filter -o -` does its summary.
    let reports = if plot_to_stdout {
        Reports::Stderr
    } else {
        Reports::json(args.output.json)
    };
    let result = analyze_with(&config, reports, driver, &mut |reports| match &plot {
        Some(file) => write_plot(file, reports),
        None if plot_to_stdout => write_plot_to_stdout(reports),
        None => Ok(()),
    });
    match plot {
        Some(file) => super::put_in_place(file, result),
        None => result,
    }
}

/// Writes the report's histograms as an SVG plot to standard output
/// (`--svg -`).
fn write_plot_to_stdout(reports: &[Report]) -> Result<(), Failure> {
    let Some(plot) = reports.iter().find_map(|r| r.as_document()?.plot()) else {
        return Ok(());
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    svg::write_svg(&plot, &mut out)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// Writes the report's histograms as an SVG plot (drawn by the render
/// layer, with the text's lost-events warning and note of the groups left
/// out) into `file`, which the command puts in place when the run ends.
fn write_plot(file: &OutputFile, reports: &[Report]) -> Result<(), Failure> {
    let Some(plot) = reports.iter().find_map(|r| r.as_document()?.plot()) else {
        return Ok(());
    };
    let mut out = io::BufWriter::new(super::file_writer(file)?);
    svg::write_svg(&plot, &mut out)
        .and_then(|()| out.flush())
        .map_err(|source| {
            Failure::from(OutputError::Io {
                path: file.path().to_owned(),
                doing: "writing",
                source,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::hist::Endpoint;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<HistArgs, clap::Error> {
        let cli = Cli::try_parse_from(
            ["simpletrace", "hist"]
                .into_iter()
                .chain(args.iter().copied())
                .chain(["te", "t"]),
        )?;
        match cli.command {
            Some(Command::Hist(h)) => Ok(*h),
            other => panic!("{other:?}"),
        }
    }

    fn spec(args: &[&str]) -> HistSpec {
        match parse(args).unwrap().spec() {
            Ok(s) => s,
            Err(f) => panic!("{f}"),
        }
    }

    fn spec_error(args: &[&str]) -> String {
        match parse(args).unwrap().spec() {
            Err(Failure::Usage(e)) => e.to_string(),
            Ok(s) => panic!("accepted {s:?}"),
            Err(f) => panic!("{f:?}"),
        }
    }

    #[test]
    fn steps() {
        let step = |s: &str| s.parse::<Step>().map(|s| (s.value, s.unit));
        assert_eq!(step("4096"), Ok((4096, None)));
        assert_eq!(step("4KiB"), Ok((4096, Some(Unit::Bytes))));
        assert_eq!(step("1.5ms"), Ok((1_500_000, Some(Unit::Nanoseconds))));
        assert_eq!(step("100us"), Ok((100_000, Some(Unit::Nanoseconds))));
        assert_eq!(step("0.5KiB"), Ok((512, Some(Unit::Bytes))));
        for bad in [
            "0",
            "",
            "1.5",
            "0.3ns",
            "4kb",
            "-1",
            "x",
            ".",
            "99999999999999999999999",
        ] {
            assert!(step(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_three_measures() {
        let s = spec(&["--event", "e", "--arg", "bytes", "--by", "pid,args.pid,x"]);
        assert_eq!(
            s.measure,
            Measure::Value {
                event: "e".into(),
                arg: "bytes".into()
            }
        );
        assert_eq!(
            s.by,
            [
                GroupBy::Pid,
                GroupBy::Arg("pid".into()),
                GroupBy::Arg("x".into())
            ]
        );
        assert_eq!((s.scale, s.unit, s.style), (Scale::Log2, None, Style::Bars));
        let s = spec(&[
            "--latency",
            "a:req,b",
            "--pairing",
            "lifo",
            "--linear",
            "10us",
            "--table",
        ]);
        match s.measure {
            Measure::Latency {
                begin,
                end,
                pairing,
            } => {
                assert_eq!((begin.key.as_deref(), end.key), (Some("req"), None));
                assert_eq!(pairing, Pairing::Lifo);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.scale, Scale::Linear { step: 10_000 });
        assert_eq!(s.unit, Some(Unit::Nanoseconds));
        assert_eq!(s.style, Style::Table);
        let s = spec(&["--interval", "e", "--top", "3", "--unit", "count"]);
        assert_eq!(s.measure, Measure::Interval { event: "e".into() });
        assert_eq!((s.top, s.unit), (Some(3), Some(Unit::Count)));
        // A step's unit is the unit, unless another is asked for.
        let s = spec(&["--event", "e", "--arg", "offset", "--linear", "1MiB"]);
        assert_eq!(s.unit, Some(Unit::Bytes));
        assert_eq!(
            spec_error(&[
                "--event", "e", "--arg", "a", "--linear", "1MiB", "--unit", "ns"
            ]),
            "--linear is in bytes but --unit is ns"
        );
        assert_eq!(
            spec_error(&["--latency", "a,b", "--linear", "4KiB"]),
            "latencies and intervals are times: give --linear in ns, us, ms or s"
        );
        // A time in bytes is refused; a value may be in any unit.
        for measure in [&["--latency", "a,b"][..], &["--interval", "e"]] {
            let args: Vec<&str> = measure.iter().copied().chain(["--unit", "bytes"]).collect();
            assert!(
                spec_error(&args).starts_with("latencies and intervals are times: --unit bytes"),
                "{args:?}"
            );
        }
        let s = spec(&["--event", "e", "--arg", "a", "--unit", "ns"]);
        assert_eq!(s.unit, Some(Unit::Nanoseconds));
        assert_eq!(
            spec_error(&["--interval", "e", "--by", "pid,a,b,c"]),
            "--by has 4 parts; at most 3 are supported"
        );
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&[]).is_err(), "a measure is required");
        assert!(parse(&["--event", "e"]).is_err(), "--event needs --arg");
        assert!(parse(&["--arg", "a", "--interval", "e"]).is_err());
        assert!(parse(&["--event", "e", "--arg", "a", "--interval", "e"]).is_err());
        assert!(parse(&["--interval", "e", "--pairing", "fifo"]).is_err());
        assert!(parse(&["--interval", "e", "--table", "--json"]).is_err());
        assert!(parse(&["--latency", "a"]).is_err());
        assert!(parse(&["--interval", "e", "--unit", "ms"]).is_err());
        assert!(parse(&["--interval", "e", "--by", "a b"]).is_err());
        // The time filters keep their names.
        let h = parse(&["--interval", "e", "--start", "1ms", "--end", "2ms"]).unwrap();
        assert!(h.trace.filters.start.is_some() && h.trace.filters.end.len() == 1);
    }

    #[test]
    fn begin_and_end_spell_a_latency() {
        let spelled = |args: &[&str]| -> Result<HistArgs, String> {
            parse(args)
                .map_err(|e| e.to_string())?
                .with_latency_spelled_out()
                .map_err(|e| e.to_string())
        };
        let a = spelled(&["--begin", "sub:req", "--end", "done:req", "--end", "+2ms"]).unwrap();
        let pair = a.latency.as_ref().unwrap();
        assert_eq!(
            (pair.begin.event.as_str(), pair.end.event.as_str()),
            ("sub", "done")
        );
        assert_eq!(
            (pair.begin.key.as_deref(), pair.end.key.as_deref()),
            (Some("req"), Some("req"))
        );
        // The time stays the filter.
        assert_eq!(a.trace.filters.end.len(), 1);
        assert!(matches!(a.trace.filters.end[0], EndArg::Time(_)));
        assert_eq!(
            spelled(&["--begin", "sub", "--end", "done", "--pairing", "lifo"])
                .unwrap()
                .spec()
                .map(|s| s.measure)
                .ok(),
            Some(Measure::Latency {
                begin: Endpoint::event("sub"),
                end: Endpoint::event("done"),
                pairing: Pairing::Lifo,
            })
        );
        let err = |args: &[&str]| spelled(args).unwrap_err();
        assert!(err(&["--begin", "sub"]).contains("--begin EVENT needs --end EVENT"));
        assert!(err(&["--begin", "sub", "--end", "a", "--end", "b"]).contains("given twice"));
        assert!(err(&["--interval", "e", "--end", "done"]).contains("needs --begin EVENT"));
        // Clap's part: --begin is a measure of its own.
        assert!(parse(&["--begin", "a", "--latency", "a,b", "--end", "b"]).is_err());
        assert!(parse(&["--begin", "a", "--interval", "b", "--end", "c"]).is_err());
    }
}
