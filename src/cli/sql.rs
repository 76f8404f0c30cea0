//! `simpletrace sql QUERY TRACE_EVENTS TRACE...` (the `sql` feature): the
//! traces as the tables of docs/sql.md, one read-only query on Apache
//! DataFusion, its result as a table, CSV, JSON Lines or Parquet.

use std::cell::Cell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use datafusion::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Int64Type, Schema, SchemaRef, UInt64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{
    Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;

use super::error::{Error, Failure, Resynced};
use super::run::{file_writer, put_in_place};
use crate::analyzers::json::{write_exact_i64, write_exact_u64};
use crate::analyzers::listing::{TableStyle, TextTable};
use crate::input::{self, FileId, InputError, TraceData, TraceInput};
use crate::output::OutputFile;
use crate::sql::views::{Engine, dataset_views};
use crate::sql::{Registered, SqlError, TraceFault, TraceTables, register_dataset};

pub(super) const EXAMPLES: &str = "\
Examples:
  simpletrace sql 'SELECT event, count(*) AS n FROM records GROUP BY event ORDER BY n DESC' \\
      trace-events-all trace-12345
      How often each event happened.
  simpletrace sql 'SELECT pid, avg(bytes) FROM blk_co_pwritev GROUP BY pid' trace-events-all trace-12345
      One event's table: its arguments are columns.
  simpletrace sql --format csv -o flushes.csv \\
      'SELECT trace, ts_ns, ret FROM bdrv_co_flush_entry' trace-events-all trace-1 trace-2
      Several traces at once; the trace column names each row's file.
  simpletrace sql --dataset dataset --views duckdb -o views.sql
      Every table of a dataset written by `simpletrace parquet`, for DuckDB
      (duckdb -init views.sql); --views spark for PySpark.

Tables (docs/sql.md): records (every record), dropped (lost-events records),
events (the declarations), and one per event, named after it.";

/// What `sql` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum SqlFormat {
    /// A text table (the whole result is held to lay it out).
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// A Parquet file (needs -o).
    Parquet,
}

/// An engine `--views` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ViewsEngine {
    /// DuckDB: CREATE OR REPLACE VIEW statements.
    Duckdb,
    /// Apache Spark: Python registering temporary views in `spark`.
    Spark,
}

/// `simpletrace sql`'s arguments.
#[derive(Debug, Clone, Args)]
pub(super) struct SqlArgs {
    /// The query: one SELECT (or WITH ... SELECT, EXPLAIN, SHOW); nothing
    /// that creates, changes or writes anything.
    #[arg(value_name = "QUERY", required_unless_present = "views")]
    query: Option<String>,
    /// The trace-events-all file of the QEMU build that wrote the traces.
    #[arg(value_name = "TRACE_EVENTS", required_unless_present = "dataset")]
    trace_events: Option<PathBuf>,
    /// The trace files (regular files: they are read in place, not
    /// streamed); each row's `trace` column is its file's name.
    #[arg(value_name = "TRACE", required_unless_present = "dataset")]
    traces: Vec<PathBuf>,
    /// Query a Parquet dataset written by `simpletrace parquet` instead of
    /// trace files (no TRACE_EVENTS or TRACE then).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["trace_events", "traces", "no_header", "resync"])]
    dataset: Option<PathBuf>,
    /// Instead of a query, write the views that give ENGINE every table
    /// of the --dataset, empty ones included (docs/sql.md): `duckdb` (SQL
    /// for its shell: duckdb -init FILE) or `spark` (Python for a PySpark
    /// session). Write them again once an export adds a table.
    #[arg(long, value_enum, value_name = "ENGINE", requires = "dataset", conflicts_with_all = ["query", "format"])]
    views: Option<ViewsEngine>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    format: SqlFormat,
    /// Write the result to FILE instead of standard output (- for
    /// standard output); never over an input, and in place only once the
    /// query has succeeded.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// The traces have no file header (see the main command's --no-header).
    #[arg(long)]
    no_header: bool,
    /// On a corrupt record, skip to the next plausible one instead of
    /// stopping (as the main command's --resync): each skipped byte range
    /// that the query read is listed on standard error, and the exit
    /// status is 3 if anything was skipped.
    #[arg(long)]
    resync: bool,
    /// Threads to work with (default: one per CPU).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

/// Runs the query and writes its result.
pub(super) fn run(args: &SqlArgs) -> Result<Vec<String>, Failure> {
    let output = args.output.as_ref().filter(|p| p.as_os_str() != "-");
    if args.format == SqlFormat::Parquet && output.is_none() {
        return Err(usage("--format parquet needs -o FILE".into()));
    }
    if let (Some(dir), Some(path)) = (&args.dataset, output)
        && let Some(table) = table_holding(dir, path)
    {
        return Err(usage(format!(
            "{}: inside the dataset's table '{table}', whose readers would take it for \
             part of the table; write it elsewhere (or beside the tables, in {})",
            path.display(),
            dir.display()
        )));
    }
    let threads = match args.threads {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // information_schema: `SHOW TABLES`, `SHOW COLUMNS FROM t`, and the
    // catalog as tables.
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    // A worker thread per partition: DataFusion runs each partition of a
    // plan (a trace's scan decoding its chunks, the grouping, joining and
    // Parquet decoding above it) as a task of its own, which a runtime of
    // one thread would run one at a time (docs/performance.md: 35-45% off
    // queries on a dataset, 10-20% off a trace's).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("simpletrace-sql")
        .build()
        .map_err(|e| Failure::Error(Error::Io(e)))?;
    if let (Some(engine), Some(dir)) = (args.views, &args.dataset) {
        return write_views(&runtime, dir, engine, output);
    }
    let Some(query) = &args.query else {
        return Err(usage("no QUERY".into()));
    };
    let (registered, inputs, spooled) = match (&args.dataset, &args.trace_events) {
        (Some(dir), _) => {
            runtime
                .block_on(register_dataset(&ctx, dir))
                .map_err(sql_setup)?;
            (None, dataset_files(dir), Vec::new())
        }
        (None, Some(trace_events)) => {
            let (registered, inputs, spooled) = register_traces(&ctx, trace_events, args)?;
            (Some(registered), inputs, spooled)
        }
        (None, None) => return Err(usage("no TRACE_EVENTS and TRACE, nor --dataset".into())),
    };
    // How the query ends once its rows are out: its warnings, or with
    // --resync the regions it stepped over (exit status 3).
    let warnings = move || {
        let mut warnings = spooled;
        warnings.extend(
            registered
                .as_ref()
                .map(Registered::warnings)
                .unwrap_or_default(),
        );
        let skipped = registered
            .as_ref()
            .map(Registered::skips)
            .unwrap_or_default();
        Resynced::outcome(skipped, Vec::new(), warnings)
    };
    let result = runtime.block_on(async {
        // Read-only: no CREATE, INSERT, COPY TO or SET, which could write
        // files (over an input, even) or change the session.
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = ctx
            .sql_with_options(query, options)
            .await
            .map_err(planning)?;
        let stream = frame.execute_stream().await.map_err(planning)?;
        match output {
            None => {
                let mut out = io::BufWriter::new(io::stdout());
                write_result(args.format, stream, &mut out).await?;
                out.flush().map_err(Failure::output)?;
                warnings()
            }
            Some(path) => {
                let file = OutputFile::create(path, &inputs)?;
                let written = async {
                    let mut out = io::BufWriter::with_capacity(1 << 20, file_writer(&file)?);
                    write_result(args.format, stream, &mut out).await?;
                    out.flush().map_err(Failure::output)?;
                    warnings()
                }
                .await;
                put_in_place(file, written)
            }
        }
    });
    // Tasks still under way (another partition's scan after a LIMIT was
    // met, an error, a closed pipe) are not waited for: each stops at its
    // next chunk, and the process is ending.
    runtime.shutdown_background();
    result
}

/// Writes `--views`: to `output` (in place once complete, never over a
/// file of the dataset) or standard output.
fn write_views(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    engine: ViewsEngine,
    output: Option<&PathBuf>,
) -> Result<Vec<String>, Failure> {
    let engine = match engine {
        ViewsEngine::Duckdb => Engine::DuckDb,
        ViewsEngine::Spark => Engine::Spark,
    };
    let script = runtime
        .block_on(dataset_views(dir, engine))
        .map_err(sql_setup)?;
    match output {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(script.as_bytes())
                .and_then(|()| out.flush())
                .map_err(Failure::output)?;
            Ok(Vec::new())
        }
        Some(path) => {
            let file = OutputFile::create(path, &dataset_files(dir))?;
            let written = file_writer(&file).and_then(|mut out| {
                out.write_all(script.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(Failure::output)?;
                Ok(Vec::new())
            });
            put_in_place(file, written)
        }
    }
}

/// The table of the dataset `dir` whose directory `output` would be in
/// (engines read every file under a table's directory as part of it),
/// if any: a directory of `dir` not starting with `.` or `_`.
fn table_holding(dir: &Path, output: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The output's directory exists, or the output cannot be written.
    let parent = std::fs::canonicalize(parent).ok()?;
    let table = parent.strip_prefix(&dir).ok()?.components().next()?;
    let name = table.as_os_str().to_string_lossy().into_owned();
    (!name.starts_with(['.', '_'])).then_some(name)
}

/// The Parquet files of a dataset (inputs that an output must not
/// replace).
fn dataset_files(dir: &std::path::Path) -> Vec<FileId> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(entry.path()),
                Ok(_) => files.extend(FileId::of_path(entry.path())),
                Err(_) => {}
            }
        }
    }
    files
}

/// Registers the trace files' tables; the inputs, and the warnings of
/// compressed traces that ended early.
fn register_traces(
    ctx: &SessionContext,
    trace_events: &Path,
    args: &SqlArgs,
) -> Result<(Registered, Vec<FileId>, Vec<String>), Failure> {
    let events = input::read_trace_events(trace_events)?;
    let mut inputs: Vec<FileId> = FileId::of_path(trace_events).into_iter().collect();
    let mut tables = TraceTables::new(events);
    tables.resync(args.resync);
    let mut spooled = Vec::new();
    for path in &args.traces {
        let (data, cut) = open_in_place(path)?;
        spooled.extend(cut);
        inputs.extend(FileId::of_path(path));
        let name = match path.file_name() {
            Some(name) => name.to_string_lossy().into_owned(),
            None => path.display().to_string(),
        };
        tables.add(name, data, args.no_header).map_err(sql_setup)?;
    }
    let registered = tables.register(ctx).map_err(sql_setup)?;
    Ok((registered, inputs, spooled))
}

/// Opens a trace to be read in place: a regular file is mapped; a
/// compressed file or a pipe is decompressed into an unlinked temporary
/// file (in `TMPDIR`: as much disk as the trace, no memory) that is
/// mapped. With the warning to give when compressed data ended early (the
/// trace is cut off there, as for every command).
pub(crate) fn open_in_place(path: &Path) -> Result<(TraceData, Option<String>), Failure> {
    match TraceInput::open(path)? {
        TraceInput::Data(data) => Ok((data, None)),
        TraceInput::Stream(stream) => {
            let io_failure = |source: io::Error| {
                Failure::Error(Error::Input(InputError::Io {
                    path: path.to_owned(),
                    source: io::Error::new(
                        source.kind(),
                        format!("decompressing into a temporary file: {source}"),
                    ),
                }))
            };
            let file = tempfile::tempfile().map_err(io_failure)?;
            let (data, cut) = TraceData::spool(stream, file).map_err(io_failure)?;
            Ok((data, cut.map(|ends| format!("{}: {ends}", path.display()))))
        }
    }
}

/// A usage error (exit status 2).
fn usage(message: String) -> Failure {
    Failure::Usage(Error::Invalid(message))
}

/// What setting up the tables failed with: two traces of one name is a
/// usage error; a bad header, bad data.
fn sql_setup(e: SqlError) -> Failure {
    match e {
        SqlError::DuplicateName(_) => Failure::Usage(Error::Sql(SqlFailure::Setup(e))),
        e => Failure::Error(Error::Sql(SqlFailure::Setup(e))),
    }
}

/// What a query failed with while it was planned: a usage error (bad SQL,
/// an unknown table or column, a type that does not fit), unless the
/// trace's data is the cause.
fn planning(e: DataFusionError) -> Failure {
    if let Some(changed) = shrank(&e) {
        return changed;
    }
    let data = matches!(
        e.find_root(),
        DataFusionError::External(_)
            | DataFusionError::IoError(_)
            | DataFusionError::ArrowError(..)
            | DataFusionError::ResourcesExhausted(_)
            | DataFusionError::Execution(_)
    );
    if data {
        Failure::Error(Error::Sql(SqlFailure::Query(e)))
    } else {
        Failure::Usage(Error::Sql(SqlFailure::Query(e)))
    }
}

/// What a query failed with while it ran: bad data (exit status 1), or
/// output that could not be written.
fn running(e: DataFusionError) -> Failure {
    if let Some(changed) = shrank(&e) {
        return changed;
    }
    match e {
        DataFusionError::IoError(e) => Failure::output(e),
        DataFusionError::ArrowError(e, _) => arrow_failure(*e),
        DataFusionError::ParquetError(e) => parquet_failure(*e),
        e => Failure::Error(Error::Sql(SqlFailure::Query(e))),
    }
}

/// An output as Arrow's CSV writer sees it, keeping in `kept` the I/O
/// error the writer reports only as text ("Csv error: Broken pipe"): a
/// reader that went away (`| head`) is a quiet success, known by the
/// error's kind. (The writer cannot be taken apart after an error: it
/// flushes, and panics if that fails.)
struct KeepsIoError<'a> {
    out: &'a mut (dyn Write + Send),
    kept: &'a Cell<Option<io::Error>>,
}

impl KeepsIoError<'_> {
    /// Keeps `e`, handing the writer an error of the same kind and text
    /// (but for an interrupted call, which the writer tries again).
    fn keep(&self, e: io::Error) -> io::Error {
        let told = io::Error::new(e.kind(), e.to_string());
        if e.kind() != io::ErrorKind::Interrupted {
            self.kept.set(Some(e));
        }
        told
    }
}

impl Write for KeepsIoError<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().map_err(|e| self.keep(e))
    }
}

/// What the writer's error `e` is: the output's own I/O error if
/// [`KeepsIoError`] kept one.
fn kept_failure(kept: &Cell<Option<io::Error>>, e: ArrowError) -> Failure {
    match kept.take() {
        Some(io) => Failure::output(io),
        None => arrow_failure(e),
    }
}

fn arrow_failure(e: ArrowError) -> Failure {
    match e {
        ArrowError::IoError(_, e) => Failure::output(e),
        ArrowError::ExternalError(e) => match e.downcast::<io::Error>() {
            Ok(e) => Failure::output(*e),
            Err(e) => Failure::Error(Error::Sql(SqlFailure::Query(DataFusionError::ArrowError(
                Box::new(ArrowError::ExternalError(e)),
                None,
            )))),
        },
        e => Failure::Error(Error::Sql(SqlFailure::Query(DataFusionError::ArrowError(
            Box::new(e),
            None,
        )))),
    }
}

fn parquet_failure(e: ParquetError) -> Failure {
    match e {
        ParquetError::External(e) => match e.downcast::<io::Error>() {
            Ok(e) => Failure::output(*e),
            Err(e) => Failure::Error(Error::Sql(SqlFailure::Query(
                DataFusionError::ParquetError(Box::new(ParquetError::External(e))),
            ))),
        },
        e => Failure::Error(Error::Sql(SqlFailure::Query(
            DataFusionError::ParquetError(Box::new(e)),
        ))),
    }
}

/// Why `sql` failed, typed: the message is DataFusion's (or the trace
/// reader's, for a bad record) when printed.
#[derive(Debug)]
pub(crate) enum SqlFailure {
    /// The tables could not be set up.
    Setup(SqlError),
    /// The query could not be planned or run.
    Query(DataFusionError),
    /// `simpletrace parquet` failed (boxed: a trace fault with its shrink
    /// is large, and every command's error holds this).
    Export(Box<crate::sql::export::ExportError>),
}

impl core::fmt::Display for SqlFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SqlFailure::Setup(e) => e.fmt(f),
            SqlFailure::Export(e) => e.fmt(f),
            SqlFailure::Query(e) => match trace_fault(e) {
                // `TRACE: record N at byte offset ...: what`, as every
                // other command says a bad record.
                Some(fault) => fault.fmt(f),
                None => e.fmt(f),
            },
        }
    }
}

impl std::error::Error for SqlFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SqlFailure::Setup(e) => Some(e),
            SqlFailure::Query(e) => Some(e),
            SqlFailure::Export(e) => Some(e.as_ref()),
        }
    }
}

/// The failure of a query that a trace's shrinking stopped (another
/// program truncated or rewrote the file while it was read): exit status
/// 4 and the message of every command ([`Error::Shrank`]), not the record
/// fault the reader stopped at.
pub(super) fn shrank(e: &DataFusionError) -> Option<Failure> {
    trace_fault(e).and_then(changed)
}

/// [`shrank`] for a fault taken out of DataFusion's error.
pub(super) fn changed(fault: &TraceFault) -> Option<Failure> {
    let shrink = fault.shrink?;
    let error = Error::Shrank {
        shrink,
        fault: Some(fault.error.clone()),
        then: None,
    };
    Some(Failure::Changed(
        error.context(format!("{}: ", fault.trace), ""),
    ))
}

/// The bad record under a query's error, if that is its cause.
fn trace_fault(e: &DataFusionError) -> Option<&TraceFault> {
    match e.find_root() {
        DataFusionError::External(inner) => inner.downcast_ref::<TraceFault>(),
        _ => None,
    }
}

/// Writes the rows of `stream` to `out` in `format`.
async fn write_result(
    format: SqlFormat,
    mut stream: SendableRecordBatchStream,
    out: &mut (dyn Write + Send),
) -> Result<(), Failure> {
    let schema = stream.schema();
    match format {
        SqlFormat::Table => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch.map_err(running)?);
            }
            write_table(&schema, &batches, out)
        }
        SqlFormat::Csv => {
            let plain = plain_schema(&schema);
            let kept = Cell::new(None);
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(KeepsIoError { out, kept: &kept });
            writer
                .write(&RecordBatch::new_empty(Arc::clone(&plain)))
                .map_err(|e| kept_failure(&kept, e))?;
            while let Some(batch) = stream.next().await {
                let batch = plain_batch(&plain, &batch.map_err(running)?)?;
                writer.write(&batch).map_err(|e| kept_failure(&kept, e))?;
            }
            Ok(())
        }
        SqlFormat::Jsonl => {
            let plain = plain_schema(&schema);
            // Integers past ±(2^53 - 1) as strings of their digits, as
            // every JSON of simpletrace writes them (docs/cli.md).
            let mut writer = datafusion::arrow::json::WriterBuilder::new()
                .with_encoder_factory(Arc::new(ExactIntegers))
                .build::<_, LineDelimited>(out);
            while let Some(batch) = stream.next().await {
                let batch = plain_batch(&plain, &batch.map_err(running)?)?;
                writer.write(&batch).map_err(arrow_failure)?;
            }
            writer.finish().map_err(arrow_failure)
        }
        SqlFormat::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build();
            let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props))
                .map_err(parquet_failure)?;
            while let Some(batch) = stream.next().await {
                writer
                    .write(&batch.map_err(running)?)
                    .map_err(parquet_failure)?;
            }
            writer.close().map_err(parquet_failure)?;
            Ok(())
        }
    }
}

/// JSON Lines' 64-bit integers by the exact-integer rule
/// ([`crate::analyzers::json::is_exact_in_json`]): a JSON number within
/// ±(2^53 - 1), a string of its digits past it, value by value (a column
/// can hold both). Narrower integers always fit; Arrow's own encoder
/// writes every other type.
#[derive(Debug)]
struct ExactIntegers;

impl EncoderFactory for ExactIntegers {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        let encoder: Box<dyn Encoder + 'a> = match array.data_type() {
            DataType::Int64 => Box::new(ExactI64(array.as_primitive::<Int64Type>())),
            DataType::UInt64 => Box::new(ExactU64(array.as_primitive::<UInt64Type>())),
            _ => return Ok(None),
        };
        Ok(Some(NullableEncoder::new(encoder, array.nulls().cloned())))
    }
}

/// An Int64 column's values by the exact-integer rule.
struct ExactI64<'a>(&'a PrimitiveArray<Int64Type>);

impl Encoder for ExactI64<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        write_exact_i64(out, self.0.value(idx));
    }
}

/// A UInt64 column's values by the exact-integer rule.
struct ExactU64<'a>(&'a PrimitiveArray<UInt64Type>);

impl Encoder for ExactU64<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        write_exact_u64(out, self.0.value(idx));
    }
}

/// `schema` with dictionary columns as their values' type, and binary
/// columns as hex text: what CSV and JSON can hold.
fn plain_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, values) => f.as_ref().clone().with_data_type(*values.clone()),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` in `plain`'s types ([`plain_schema`]).
fn plain_batch(plain: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch, Failure> {
    let columns = batch
        .columns()
        .iter()
        .zip(plain.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(Arc::clone(column));
            }
            match column.data_type() {
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                    hex_column(column)
                }
                _ => cast(column, field.data_type()),
            }
        })
        .collect::<Result<Vec<_>, ArrowError>>()
        .map_err(arrow_failure)?;
    RecordBatch::try_new(Arc::clone(plain), columns).map_err(arrow_failure)
}

/// A binary column as lowercase hex text (NULL stays NULL).
fn hex_column(column: &Arc<dyn Array>) -> Result<Arc<dyn Array>, ArrowError> {
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
    let values: Vec<Option<String>> = (0..column.len())
        .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
        .collect();
    Ok(Arc::new(datafusion::arrow::array::StringArray::from(
        values,
    )))
}

/// The rows as a text table: numbers right-aligned, NULL as `NULL`,
/// control characters escaped (a cell is one line).
fn write_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut table = TextTable::new(
        TableStyle::Plain,
        schema.fields().iter().map(|f| f.name().clone()),
    );
    for (i, field) in schema.fields().iter().enumerate() {
        if field.data_type().is_numeric() {
            table.align_right(i);
        }
    }
    let options = FormatOptions::default().with_null("NULL");
    let formatters: Vec<Vec<ArrayFormatter<'_>>> = batches
        .iter()
        .map(|b| {
            b.columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(arrow_failure)?;
    let rows = || {
        batches
            .iter()
            .zip(&formatters)
            .flat_map(|(batch, formatters)| {
                (0..batch.num_rows()).map(move |row| {
                    formatters
                        .iter()
                        .map(|f| one_line(&f.value(row).to_string()))
                        .collect::<Vec<String>>()
                })
            })
    };
    table.write(out, rows).map_err(Failure::output)?;
    Ok(())
}

/// `cell` with control characters escaped as Rust writes them (`\n`,
/// `\t`, `\u{1b}`).
fn one_line(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_owned();
    }
    cell.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell stays on one line.
    #[test]
    fn cells_are_one_line() {
        assert_eq!(one_line("a\tb\nc\u{1b}"), "a\\tb\\nc\\u{1b}");
        assert_eq!(one_line("é plain"), "é plain");
    }
}
