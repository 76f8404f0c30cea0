//! `simpletrace parquet -o DIR TRACE_EVENTS TRACE...` (the `sql` feature):
//! the traces' tables (docs/sql.md) as a Hive-partitioned Parquet dataset,
//! one trace after the other, each put in place whole
//! ([`crate::sql::export`]).

use std::path::PathBuf;

use clap::Args;

use super::error::{Error, Failure, Resynced};
use super::sql::{SqlFailure, changed};
use crate::input::{self, FileId};
use crate::sql::export::{self, ExportError, ExportOptions};

pub(super) const EXAMPLES: &str = "\
Examples:
  simpletrace parquet -o dataset trace-events-all trace-12345 trace-12346
      Two traces: dataset/records/trace=trace-12345/part-0.parquet, ...
  simpletrace parquet -o dataset trace-events-all trace-12347
      A third trace, added to the dataset.
  simpletrace sql --dataset dataset 'SELECT trace, count(*) FROM records GROUP BY trace'
      The same queries as on the trace files.
  duckdb -c \"SELECT trace, count(*) FROM read_parquet('dataset/records/*/*.parquet', \\
      hive_partitioning=true) GROUP BY trace\"
      Another engine (docs/sql.md).";

/// `simpletrace parquet`'s arguments.
#[derive(Debug, Clone, Args)]
pub(super) struct ParquetArgs {
    /// The dataset's directory (made if missing; traces already in it
    /// stay).
    #[arg(short = 'o', long = "output", value_name = "DIR", required = true)]
    output: PathBuf,
    /// The trace-events-all file of the QEMU build that wrote the traces.
    #[arg(value_name = "TRACE_EVENTS")]
    trace_events: PathBuf,
    /// The trace files (regular files, read in place); each trace's
    /// partition is named after its file's name.
    #[arg(value_name = "TRACE", required = true)]
    traces: Vec<PathBuf>,
    /// Replace the partitions of a trace of the same name already in the
    /// dataset (without it, that is an error).
    #[arg(long)]
    replace: bool,
    /// The traces have no file header (see the main command's --no-header).
    #[arg(long)]
    no_header: bool,
    /// On a corrupt record, skip to the next plausible one instead of
    /// stopping (as the main command's --resync): the skipped byte ranges
    /// are in no table and listed on standard error, the export completes,
    /// and the exit status is 3.
    #[arg(long)]
    resync: bool,
    /// Threads to work with (default: one per CPU).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

/// Exports the traces, one after the other; a summary line per trace on
/// standard error.
pub(super) fn run(args: &ParquetArgs) -> Result<Vec<String>, Failure> {
    let events = input::read_trace_events(&args.trace_events)?;
    let mut inputs: Vec<FileId> = FileId::of_path(&args.trace_events).into_iter().collect();
    let mut names = Vec::new();
    for path in &args.traces {
        inputs.extend(FileId::of_path(path));
        let name = match path.file_name() {
            Some(name) => name.to_string_lossy().into_owned(),
            None => path.display().to_string(),
        };
        export::check_name(&name).map_err(usage)?;
        if names.contains(&name) {
            return Err(Failure::Usage(Error::Invalid(format!(
                "two traces are named '{name}': their partitions would be one"
            ))));
        }
        names.push(name);
    }
    // Never over an input: the dataset's directory, or any file in it
    // (--replace removes partitions), is none of the inputs.
    let out = &args.output;
    if let Ok(id) = FileId::of_path(out)
        && inputs.contains(&id)
    {
        return Err(refused(format!(
            "{}: refusing to write over an input of this run (the same file, by device and inode)",
            out.display()
        )));
    }
    if out.exists() && !out.is_dir() {
        return Err(refused(format!(
            "{}: not a directory (the dataset is a directory)",
            out.display()
        )));
    }
    for path in &args.traces {
        if let (Ok(trace), Ok(dir)) = (path.canonicalize(), out.canonicalize())
            && trace.starts_with(&dir)
        {
            return Err(refused(format!(
                "{}: an input inside the dataset's directory {}: refusing to write there",
                path.display(),
                out.display()
            )));
        }
    }
    let options = ExportOptions {
        threads: match args.threads {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        replace: args.replace,
        resync: args.resync,
    };
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    for (path, name) in args.traces.iter().zip(&names) {
        let (data, cut) = super::sql::open_in_place(path)?;
        warnings.extend(cut);
        let exported = export::export_trace(out, &events, name, data, args.no_header, &options)
            .map_err(|e| match e {
                ExportError::Exists(_) | ExportError::BadName(_) => usage(e),
                // The file cut short while it was read: exit status 4.
                ExportError::Fault(fault) => {
                    changed(&fault).unwrap_or_else(|| failed(ExportError::Fault(fault)))
                }
                e => failed(e),
            })?;
        eprintln!(
            "{name}: {} records, {} tables, {} files in {}",
            exported.records,
            exported.tables,
            exported.files,
            out.display()
        );
        warnings.extend(exported.warnings);
        skipped.push((path.display().to_string(), exported.skips));
    }
    // Exported, but without the corrupt regions: exit status 3.
    Resynced::outcome(skipped, Vec::new(), warnings)
}

/// An export that failed on the data or the output: exit status 1.
fn failed(e: ExportError) -> Failure {
    Failure::Error(Error::Sql(SqlFailure::Export(Box::new(e))))
}

fn usage(e: ExportError) -> Failure {
    Failure::Usage(Error::Sql(SqlFailure::Export(Box::new(e))))
}

/// An output the file system rules out (an input, or a file where the
/// dataset's directory goes): found by looking at the files, not wrong
/// whatever they hold, so exit status 1, as for every other output that
/// would go over an input.
fn refused(message: String) -> Failure {
    Failure::Error(Error::Invalid(message))
}
