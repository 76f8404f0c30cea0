//! The Parquet export (docs/sql.md, "The Parquet dataset"): the tables of
//! one trace written as `DIR/TABLE/trace=NAME/part-N.parquet`, staged in a
//! hidden directory inside `DIR` and renamed into place when complete.
//!
//! The trace is read once: each of its chunks is decoded by one of a few
//! threads, which builds the rows of every table at once. A thread works
//! on a stretch of the trace at a time ([`super::runs`]) and writes each
//! stretch's rows into files of its own, named after the stretch's place
//! in the trace when all are written (`part-N`, the N-th stretch). Memory
//! stays about the row groups being written (at most [`ROW_GROUP_BYTES`]
//! each, and [`BUFFERED_BYTES`] in all per thread) and a batch per table.

use core::fmt;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use super::batches::{ExportLayouts, ExportTable, export_chunks};
use super::runs::Runs;
use super::schema::{self, SCHEMA_VERSION, SCHEMA_VERSION_KEY};
use super::{CHUNK_BYTES, ChunkPlan, ChunkSource, Shared, SqlError, TraceFault, TraceTables};
use crate::format::{Skips, TraceEvents};
use crate::input::TraceData;

/// Rows of a row group at most: a scan's unit (about a million, as
/// DataFusion, DuckDB and Spark write them).
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Bytes a row group holds at most before it is written (its encoded,
/// compressed size as it grows).
pub const ROW_GROUP_BYTES: usize = 128 << 20;

/// Bytes of unwritten row groups a thread holds at most, all tables
/// together: beyond it, its largest is written early.
pub const BUFFERED_BYTES: usize = 256 << 20;

/// The name of the partition column, and of the directories' key.
pub const PARTITION_COLUMN: &str = "trace";

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Threads that decode and write (at least 1).
    pub threads: usize,
    /// Replace a trace of the same name already in the dataset (else that
    /// is an error).
    pub replace: bool,
    /// Step over corrupt regions instead of failing at the first corrupt
    /// record (`--resync`); [`Exported::skips`] tells what was skipped.
    pub resync: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// Records written to `records`.
    pub records: u64,
    /// Tables that got a partition.
    pub tables: usize,
    /// Parquet files written.
    pub files: usize,
    /// What the trace's reading found that did not stop it (a last record
    /// cut off).
    pub warnings: Vec<String>,
    /// The corrupt regions stepped over (with [`ExportOptions::resync`]),
    /// in file order; their bytes are in no table.
    pub skips: Skips,
}

/// Why an export failed. Nothing of the trace is in place then, except
/// after [`ExportError::Commit`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// The trace's name cannot be a partition directory's value
    /// ([`check_name`]).
    BadName(String),
    /// The dataset has a trace of this name already (and replacing was
    /// not asked for).
    Exists(String),
    /// The trace could not be set up (a bad header).
    Setup(SqlError),
    /// A bad record in the trace.
    Fault(TraceFault),
    /// A file or directory could not be made, written or renamed.
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
    /// The Parquet writer or Arrow failed.
    Write(String),
    /// Another export of a trace of this name into the dataset is running
    /// (it holds the name's lock, [`lock_name`]).
    Busy(String),
    /// Renaming the staged partitions into place failed part way: some of
    /// the trace's tables are in place, others are not.
    Commit {
        /// The trace's name.
        trace: String,
        /// The rename that failed.
        source: Box<ExportError>,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::BadName(name) => write!(
                f,
                "'{name}' cannot name a partition (trace=NAME): a name has letters, digits and \
                 . _ - + @ , ~ only, and does not start with . or _ (rename the file)"
            ),
            ExportError::Exists(name) => write!(
                f,
                "the dataset has a trace named '{name}' already (--replace replaces it)"
            ),
            ExportError::Busy(name) => write!(
                f,
                "another export of a trace named '{name}' into this dataset is running; \
                 try again when it has finished"
            ),
            ExportError::Setup(e) => e.fmt(f),
            ExportError::Fault(e) => e.fmt(f),
            ExportError::Io {
                path,
                doing,
                source,
            } => write!(f, "{}: {doing}: {source}", path.display()),
            ExportError::Write(e) => write!(f, "writing Parquet failed: {e}"),
            ExportError::Commit { trace, source } => write!(
                f,
                "{source}; the trace '{trace}' is in place only in part: export it again \
                 with --replace"
            ),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Setup(e) => Some(e),
            ExportError::Fault(e) => Some(e),
            ExportError::Io { source, .. } => Some(source),
            ExportError::Commit { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl ExportError {
    fn io(path: &Path, doing: &'static str) -> impl FnOnce(io::Error) -> ExportError {
        let path = path.to_path_buf();
        move |source| ExportError::Io {
            path,
            doing,
            source,
        }
    }

    /// A DataFusion error from the scan: the trace's fault when that is
    /// its cause.
    fn from_scan(e: DataFusionError) -> ExportError {
        match e {
            DataFusionError::External(inner) => match inner.downcast::<TraceFault>() {
                Ok(fault) => ExportError::Fault(*fault),
                Err(inner) => ExportError::Write(inner.to_string()),
            },
            DataFusionError::ParquetError(e) => ExportError::from(*e),
            e => ExportError::Write(e.to_string()),
        }
    }
}

impl From<ParquetError> for ExportError {
    fn from(e: ParquetError) -> ExportError {
        ExportError::Write(e.to_string())
    }
}

impl From<ArrowError> for ExportError {
    fn from(e: ArrowError) -> ExportError {
        ExportError::Write(e.to_string())
    }
}

/// Checks that `name` can be a partition's value as it is, without the
/// escapes engines disagree on: ASCII letters, digits and `._-+@,~`, not
/// starting with `.` or `_` (engines skip such directories as hidden).
pub fn check_name(name: &str) -> Result<(), ExportError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-+@,~".contains(c);
    if name.is_empty() || name.starts_with(['.', '_']) || !name.chars().all(allowed) {
        return Err(ExportError::BadName(name.to_owned()));
    }
    Ok(())
}

/// The directory of `trace`'s partition of `table` in `dir`.
pub fn partition_dir(dir: &Path, table: &str, trace: &str) -> PathBuf {
    dir.join(table).join(format!("{PARTITION_COLUMN}={trace}"))
}

/// The tables of `dir` that have a partition of `trace`.
fn existing_partitions(dir: &Path, trace: &str) -> Result<Vec<PathBuf>, ExportError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(ExportError::io(dir, "reading the dataset's directory")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(ExportError::io(dir, "reading the dataset's directory"))?;
        let table = entry.file_name();
        let Some(table) = table.to_str() else {
            continue;
        };
        if table.starts_with(['.', '_']) {
            continue;
        }
        let partition = partition_dir(dir, table, trace);
        if partition.symlink_metadata().is_ok() {
            found.push(partition);
        }
    }
    Ok(found)
}

/// Columns whose every value is new (a record's timestamp, number and
/// offset, its delta): dictionary encoding would hash each value only to
/// give up after the first page, so they are written plain. (`raw`, the
/// hex of strings that are not UTF-8, is nearly always null.)
const UNIQUE_COLUMNS: [&str; 5] = ["ts_ns", "record", "file_offset", "delta_ns", "raw"];

/// The dictionary of `records`' `args` may grow to this many bytes in a
/// row group before the writer falls back to plain values (the default
/// is 1 MiB). A trace repeats few argument lists many times (the same
/// mutex locked at the same line: QEMU's `medium-rand.bin` has 15,236
/// distinct JSON texts among 268,176 records, `dropped.bin` 50,811 among
/// 467,570); a dictionary of them makes each row a few bits instead of
/// 60 bytes for ZSTD to compress, which is faster to write and no
/// larger (docs/performance.md). A trace whose lists never repeat pays
/// for hashing its rows until this much is collected in each row group,
/// then is written plain (2% more instructions for its whole export).
pub const ARGS_DICTIONARY_BYTES: usize = 8 << 20;

/// Columns that grow within a file (rows are in file order; timestamps
/// nearly always), and `delta_ns`, the step between two timestamps:
/// delta encoding stores each value as a few bits of difference,
/// cheaper for ZSTD than plain values (for `delta_ns`, 4% of the
/// export's instructions fewer, for a dataset 7% larger); DuckDB, Spark
/// (3.3 and later) and pyarrow read it.
const DELTA_COLUMNS: [&str; 4] = ["ts_ns", "record", "file_offset", "delta_ns"];

/// Columns that hold one value for long runs of rows (a trace has a
/// few writers): plain values, which ZSTD reduces to next to nothing,
/// cost less than hashing every value into a dictionary (the dictionary
/// encoders' hashing was a tenth of the export's time).
const SINGLE_VALUED_COLUMNS: [&str; 1] = ["pid"];

/// Columns without minimum and maximum statistics: JSON text (`args`,
/// `raw`) prunes nothing, nor does `records`' `event` and `id` (every
/// row group holds most events); each would cost a comparison of every
/// value, a string comparison for `event`.
const UNPRUNED_COLUMNS: [&str; 4] = ["args", "raw", "event", "id"];

/// The Parquet files' writer properties: ZSTD, row groups of
/// [`ROW_GROUP_ROWS`] or [`ROW_GROUP_BYTES`], page statistics (min/max per page and row group)
/// for every column but [`UNPRUNED_COLUMNS`], `ts_ns` said explicitly,
/// the schema version in the file's key-value metadata; no dictionary for
/// [`UNIQUE_COLUMNS`] and [`SINGLE_VALUED_COLUMNS`], a larger dictionary
/// for `args` ([`ARGS_DICTIONARY_BYTES`]), delta encoding for
/// [`DELTA_COLUMNS`].
fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_statistics_enabled(ColumnPath::from("ts_ns"), EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SCHEMA_VERSION_KEY.to_owned(),
            SCHEMA_VERSION.to_string(),
        )]))
        .set_created_by(format!("simpletrace {}", env!("CARGO_PKG_VERSION")))
        // A batch's rows at once (the default, 1024, splits each batch
        // into eight rounds through every column's encoder).
        .set_write_batch_size(super::batches::BATCH_ROWS);
    for column in UNIQUE_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    builder = builder
        .set_column_dictionary_page_size_limit(ColumnPath::from("args"), ARGS_DICTIONARY_BYTES);
    for column in SINGLE_VALUED_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in UNPRUNED_COLUMNS {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    for column in DELTA_COLUMNS {
        builder =
            builder.set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
    }
    builder.build()
}

/// The staged file of run `run` of a table, until it is named after its
/// place in the trace.
fn run_file(run: usize) -> String {
    format!("run-{run}.parquet")
}

/// The open files of a run (super::runs): a writer per table it met rows
/// of.
struct RunWriters<'a> {
    staging: &'a Path,
    /// The run.
    run: usize,
    layouts: &'a ExportLayouts,
    props: WriterProperties,
    writers: HashMap<ExportTable, (String, ArrowWriter<File>)>,
    names: &'a HashMap<ExportTable, String>,
}

impl RunWriters<'_> {
    fn writer(&mut self, table: ExportTable) -> Result<&mut ArrowWriter<File>, ExportError> {
        if !self.writers.contains_key(&table) {
            let name = self
                .names
                .get(&table)
                .ok_or_else(|| ExportError::Write(format!("no table for {table:?}")))?;
            let layout = self
                .layouts
                .get(table)
                .ok_or_else(|| ExportError::Write(format!("no table for {table:?}")))?;
            let dir = self.staging.join(name);
            fs::create_dir_all(&dir).map_err(ExportError::io(&dir, "creating a table"))?;
            let path = dir.join(run_file(self.run));
            let file = File::create_new(&path).map_err(ExportError::io(&path, "creating"))?;
            let writer =
                ArrowWriter::try_new(file, Arc::clone(&layout.schema), Some(self.props.clone()))?;
            self.writers.insert(table, (name.clone(), writer));
        }
        self.writers
            .get_mut(&table)
            .map(|(_, w)| w)
            .ok_or_else(|| ExportError::Write("a writer vanished".into()))
    }

    fn write(&mut self, table: ExportTable, batch: &RecordBatch) -> Result<(), ExportError> {
        let writer = self.writer(table)?;
        writer.write(batch)?;
        let buffered: usize = self
            .writers
            .values()
            .map(|(_, w)| w.in_progress_size())
            .sum();
        if buffered > BUFFERED_BYTES
            && let Some((_, largest)) = self
                .writers
                .values_mut()
                .max_by_key(|(_, w)| w.in_progress_size())
        {
            largest.flush()?;
        }
        Ok(())
    }

    /// Closes every file and syncs it to disk; the tables they are of.
    fn close(self) -> Result<Vec<String>, ExportError> {
        let mut tables = Vec::new();
        for (name, writer) in self.writers.into_values() {
            let file = writer.into_inner()?;
            let path = self.staging.join(&name).join(run_file(self.run));
            file.sync_all()
                .map_err(ExportError::io(&path, "syncing a file"))?;
            tables.push(name);
        }
        Ok(tables)
    }
}

/// Exports one trace, named `name`, into the dataset `dir` (made if
/// missing): every table with rows gets a partition
/// `DIR/TABLE/trace=NAME/`; `records`, `dropped` and `events` always do.
///
/// The partitions are written into a hidden staging directory inside
/// `dir` (removed on failure), then renamed into place one table after
/// the other, `records` last: a trace's `records` partition is in place
/// only when all its tables are.
pub fn export_trace(
    dir: &Path,
    events: &TraceEvents,
    name: &str,
    data: TraceData,
    no_header: bool,
    options: &ExportOptions,
) -> Result<Exported, ExportError> {
    check_name(name)?;
    let existing = existing_partitions(dir, name)?;
    if !existing.is_empty() && !options.replace {
        return Err(ExportError::Exists(name.to_owned()));
    }
    let mut tables = TraceTables::new(events.clone());
    tables.resync(options.resync);
    tables
        .add(name, data, no_header)
        .map_err(ExportError::Setup)?;
    let (shared, events_batch) = tables.into_shared().map_err(ExportError::from_scan)?;
    let layouts = ExportLayouts::new(&shared).map_err(ExportError::from_scan)?;
    let mut table_names: HashMap<ExportTable, String> = HashMap::new();
    table_names.insert(ExportTable::Records, schema::RECORDS.to_owned());
    table_names.insert(ExportTable::Dropped, schema::DROPPED.to_owned());
    for decl in schema::event_tables(&shared.events) {
        table_names.insert(ExportTable::Event(decl.position), decl.name.clone());
    }

    fs::create_dir_all(dir).map_err(ExportError::io(dir, "creating the dataset"))?;
    // One export of a name at a time, until its partitions are in place;
    // then whether the name is taken again (one may have just finished).
    let _lock = lock_name(dir, name)?;
    let existing = existing_partitions(dir, name)?;
    if !existing.is_empty() && !options.replace {
        return Err(ExportError::Exists(name.to_owned()));
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!(".staging-{name}-"))
        .tempdir_in(dir)
        .map_err(ExportError::io(dir, "creating a staging directory"))?;

    // This thread cuts the trace into chunks while the others read them,
    // a run of the trace each, then splitting others' runs when theirs is
    // done (super::runs): each file's rows are a stretch of the trace in
    // file order, so its row groups' ts_ns ranges are narrow (pruning).
    // One trace (added above); a thread per chunk at most, so that run 0
    // (which starts the trace) has rows when there are any.
    let len = shared.traces.first().map_or(0, |t| t.data.len());
    let threads = options.threads.clamp(1, len / CHUNK_BYTES + 1);
    let runs = Runs::new(len, threads, CHUNK_BYTES);
    let props = writer_properties();
    let work = RunWork {
        shared: &shared,
        layouts: &layouts,
        names: &table_names,
        staging: staging.path(),
        props: &props,
        runs: &runs,
    };
    let (cut, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|first| {
                let work = &work;
                scope.spawn(move || {
                    // A failure (or a panic) stops the others and the cut.
                    let guard = work.runs.abandon_unless_done();
                    let result = work.export_runs(first);
                    if result.is_ok() {
                        guard.disarm();
                    }
                    result
                })
            })
            .collect();
        let guard = runs.abandon_unless_done();
        let cut = cut_chunks(&shared, &runs);
        if cut.is_ok() {
            guard.disarm();
            runs.cut_done();
        }
        let results: Vec<Result<RunsWritten, ExportError>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ExportError::Write("a writer thread panicked".into())))
            })
            .collect();
        (cut, results)
    });
    cut?;
    let mut exported = Exported::default();
    let mut tables_of_run = HashMap::new();
    for result in results {
        let written = result?;
        exported.records += written.records;
        for (run, tables) in written.runs {
            exported.files += tables.len();
            tables_of_run.insert(run, tables);
        }
    }
    // Each run's files take their place in file order: part-N of every
    // table is the same stretch of the trace.
    let in_order = runs
        .in_file_order()
        .into_iter()
        .filter_map(|run| Some((run, tables_of_run.remove(&run)?)))
        .filter(|(_, tables)| !tables.is_empty());
    for (part, (run, tables)) in in_order.enumerate() {
        for table in tables {
            let dir = staging.path().join(table);
            let staged = dir.join(run_file(run));
            let path = dir.join(format!("part-{part}.parquet"));
            fs::rename(&staged, &path).map_err(ExportError::io(&staged, "renaming"))?;
        }
    }
    write_events(staging.path(), &events_batch, &props)?;
    exported.files += 1;
    exported.skips = shared
        .skips()
        .into_iter()
        .next()
        .map(|(_, skips)| skips)
        .unwrap_or_default();
    exported.warnings = shared
        .warnings
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();

    // In place: the old partitions out (--replace), then the new ones in,
    // records last.
    for old in &existing {
        fs::remove_dir_all(old).map_err(|e| ExportError::Commit {
            trace: name.to_owned(),
            source: Box::new(ExportError::io(old, "removing the old partition")(e)),
        })?;
    }
    let mut staged: Vec<String> = fs::read_dir(staging.path())
        .map_err(ExportError::io(staging.path(), "listing the staged tables"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    staged.sort_by_key(|t| (t == schema::RECORDS, t.clone()));
    exported.tables = staged.len();
    for table in &staged {
        let commit = |e: ExportError| ExportError::Commit {
            trace: name.to_owned(),
            source: Box::new(e),
        };
        let table_dir = dir.join(table);
        fs::create_dir_all(&table_dir)
            .map_err(ExportError::io(&table_dir, "creating a table"))
            .map_err(commit)?;
        let target = partition_dir(dir, table, name);
        fs::rename(staging.path().join(table), &target)
            .map_err(ExportError::io(
                &target,
                "renaming the partition into place",
            ))
            .map_err(commit)?;
    }
    if let Ok(d) = File::open(dir) {
        // The renames, on disk (best effort: not every system syncs a
        // directory).
        let _ = d.sync_all();
    }
    Ok(exported)
}

/// Cuts the trace (the export's one) into chunks for `runs`, in file
/// order, until the last or the export is abandoned.
fn cut_chunks(shared: &Shared, runs: &Runs<(usize, ChunkPlan)>) -> Result<(), ExportError> {
    let source = ChunkSource::default();
    while let Some((trace, chunk)) = source.next(shared).map_err(ExportError::from_scan)? {
        // The runs are byte ranges of one trace.
        if trace != 0 {
            return Err(ExportError::Write(
                "an export writes one trace at a time".to_owned(),
            ));
        }
        if !runs.push(chunk.end, (trace, chunk)) {
            break;
        }
    }
    Ok(())
}

/// What the export's threads share.
struct RunWork<'a> {
    shared: &'a Shared,
    layouts: &'a ExportLayouts,
    names: &'a HashMap<ExportTable, String>,
    staging: &'a Path,
    props: &'a WriterProperties,
    runs: &'a Runs<(usize, ChunkPlan)>,
}

/// What one thread wrote: each run's tables, and how many records.
#[derive(Debug, Default)]
struct RunsWritten {
    runs: Vec<(usize, Vec<String>)>,
    records: u64,
}

impl RunWork<'_> {
    /// One thread's share of the export: run `first`, then the second
    /// halves it splits off the others' runs, each run's rows in files of
    /// its own.
    fn export_runs(&self, first: usize) -> Result<RunsWritten, ExportError> {
        let mut written = RunsWritten::default();
        let mut run = Some(first);
        while let Some(current) = run {
            let mut writers = RunWriters {
                staging: self.staging,
                run: current,
                layouts: self.layouts,
                props: self.props.clone(),
                writers: HashMap::new(),
                names: self.names,
            };
            let mut failed = None;
            let chunks = std::iter::from_fn(|| self.runs.next(current));
            let scanned = export_chunks(self.shared, self.layouts, chunks, |table, batch| {
                if table == ExportTable::Records {
                    written.records += batch.num_rows() as u64;
                }
                writers.write(table, &batch).map_err(|e| {
                    let message = e.to_string();
                    failed = Some(e);
                    DataFusionError::Execution(message)
                })
            });
            if let Err(e) = scanned {
                return Err(failed.unwrap_or_else(|| ExportError::from_scan(e)));
            }
            // Every dataset has records and dropped, empty or not: run 0
            // starts the trace.
            if current == 0 {
                writers.writer(ExportTable::Records)?;
                writers.writer(ExportTable::Dropped)?;
            }
            written.runs.push((current, writers.close()?));
            run = self.runs.split();
        }
        Ok(written)
    }
}

/// The `events` table's rows of the trace, without `trace`.
fn write_events(
    staging: &Path,
    batch: &RecordBatch,
    props: &WriterProperties,
) -> Result<(), ExportError> {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| batch.schema().field(i).name() != PARTITION_COLUMN)
        .collect();
    let batch = batch.project(&keep)?;
    let dir = staging.join(schema::EVENTS);
    fs::create_dir_all(&dir).map_err(ExportError::io(&dir, "creating a table"))?;
    let path = dir.join("part-0.parquet");
    let file = File::create_new(&path).map_err(ExportError::io(&path, "creating"))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props.clone()))?;
    writer.write(&batch)?;
    let file = writer.into_inner()?;
    file.sync_all()
        .map_err(ExportError::io(&path, "syncing a file"))?;
    Ok(())
}

/// The lock of one trace name in a dataset, held while that name is
/// exported ([`lock_name`]); released when dropped, or when the process
/// ends however it ends.
#[derive(Debug)]
pub struct NameLock {
    _file: File,
}

/// Takes the lock of the trace name `name` in the dataset `dir`: an
/// exclusive advisory lock (`flock`) on `DIR/.lock-NAME`, so that two
/// exports of one name never race to rename their partitions into place;
/// the second is refused ([`ExportError::Busy`]) instead of waiting. The
/// file stays (hidden, starting with `.`, so no engine takes it for a
/// table): removing it could let a third export lock a new file while the
/// second holds the old. A lock file left by an export that was killed is
/// no obstacle: the system releases the lock with the process.
#[allow(clippy::incompatible_msrv)] // File::try_lock (1.89): the sql feature needs Rust 1.94
pub fn lock_name(dir: &Path, name: &str) -> Result<NameLock, ExportError> {
    let path = dir.join(format!(".lock-{name}"));
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(ExportError::io(&path, "opening the lock file"))?;
    match file.try_lock() {
        Ok(()) => Ok(NameLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(ExportError::Busy(name.to_owned())),
        Err(fs::TryLockError::Error(e)) => Err(ExportError::io(&path, "locking")(e)),
    }
}
