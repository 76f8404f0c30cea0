//! SQL over traces (the `sql` feature): the tables of docs/sql.md as
//! Apache DataFusion table providers, read straight from mapped trace
//! files.
//!
//! ```no_run
//! use datafusion::prelude::SessionContext;
//! use simpletrace::{input, sql::TraceTables};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let events = input::read_trace_events("trace-events-all")?;
//! let mut tables = TraceTables::new(events);
//! tables.add("trace-12345", input::TraceData::open("trace-12345")?, false)?;
//! let ctx = SessionContext::new();
//! tables.register(&ctx)?;
//! let counts = ctx
//!     .sql("SELECT event, count(*) AS n FROM records GROUP BY event ORDER BY n DESC")
//!     .await?
//!     .collect()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! API structure:
//! - [`TraceTables`]: the traces and their declarations, registered as
//!   tables in a DataFusion `SessionContext`.
//! - [`schema`]: the model: table and column names, Arrow types,
//!   [`schema::SCHEMA_VERSION`].
//! - [`SqlError`]: what setting the tables up fails with; [`TraceFault`]:
//!   a bad record met by a query (inside DataFusion's error).
//! - [`export`]: the Parquet dataset; [`register_dataset`]: its tables in
//!   a `SessionContext`; [`views`]: scripts that give DuckDB or Spark
//!   every table of it.
//!
//! Each table's scan has one partition per DataFusion target partition
//! (by default one per core), which take the traces' chunks one at a time
//! as each is free, the chunks cut as they are first asked for
//! (`ChunkSource`); only the projected columns are built, and
//! filters on `ts_ns` and `pid` (comparisons with constants, `BETWEEN`,
//! `IN`) skip records before their arguments are decoded.

mod batches;
mod dataset;
pub mod export;
mod provider;
mod runs;
pub mod schema;
pub mod views;

use core::fmt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Int32Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::datatypes::Int32Type;
use datafusion::catalog::MemTable;
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

pub use batches::BATCH_ROWS;
pub use dataset::register_dataset;

use crate::format::chunks::{Chunks, ChunksState};
use crate::format::{self, Item, ReaderState, Skips, TraceReader, Version};
use crate::format::{EventDecl, TraceEvents};
use crate::input::{Shrink, TraceData};

/// What setting up the tables failed with.
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlError {
    /// A trace's header is not a simple trace's.
    Header {
        /// The trace's name.
        trace: String,
        /// What the reader found.
        error: format::Error,
    },
    /// Two traces have the same name (the `trace` column could not tell
    /// them apart).
    DuplicateName(String),
    /// DataFusion refused to register a table.
    Register(DataFusionError),
    /// A dataset directory is not one `simpletrace parquet` writes.
    Dataset(String),
    /// A path another engine's script ([`views`]) cannot name.
    UnscriptablePath {
        /// The path.
        path: std::path::PathBuf,
        /// The character the engines would read as part of a pattern or
        /// that would end a line of the script; none: not UTF-8.
        found: Option<char>,
    },
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlError::Header { trace, error } => write!(f, "{trace}: {error}"),
            SqlError::DuplicateName(name) => write!(
                f,
                "two traces are named '{name}': the trace column could not tell them apart"
            ),
            SqlError::Register(e) => write!(f, "registering the tables failed: {e}"),
            SqlError::Dataset(e) => f.write_str(e),
            SqlError::UnscriptablePath { path, found } => {
                let why = match found {
                    None => "is not UTF-8".to_owned(),
                    Some(c) if c.is_control() => {
                        "has a control character, which would end a line of the script".to_owned()
                    }
                    Some(c) => format!("has '{c}', which the engine would read as a pattern"),
                };
                // Escaped when a control character is in it: one line.
                let shown = match found {
                    Some(c) if c.is_control() => format!("{path:?}"),
                    _ => path.display().to_string(),
                };
                write!(
                    f,
                    "{shown}: the path {why}; move the dataset, or link it under a plainer \
                     path and give that"
                )
            }
        }
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SqlError::Header { error, .. } => Some(error),
            SqlError::DuplicateName(_)
            | SqlError::Dataset(_)
            | SqlError::UnscriptablePath { .. } => None,
            SqlError::Register(e) => Some(e),
        }
    }
}

/// A bad record that a query met: the trace's name and the reader's
/// fault. DataFusion carries it as `DataFusionError::External`.
#[derive(Debug)]
pub struct TraceFault {
    /// The trace's name.
    pub trace: String,
    /// What the reader found.
    pub error: format::Error,
    /// How the trace file shrank while it was read, when that is what
    /// stopped the reader there ([`Shrink::explains`]): the record is not
    /// the file's fault, the file was cut short (another program
    /// truncated or rewrote it).
    pub shrink: Option<Shrink>,
}

impl fmt::Display for TraceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.trace, self.error)?;
        if let Some(shrink) = &self.shrink {
            write!(f, " ({shrink})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TraceFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Where a chunk starts (the reader's state there), where it ends, and
/// the timestamp of the record before it.
#[derive(Debug, Clone)]
pub(crate) struct ChunkPlan {
    /// The chunk's position among its trace's chunks.
    pub(crate) index: usize,
    pub(crate) state: ReaderState,
    pub(crate) end: usize,
    pub(crate) prev_timestamp_ns: Option<u64>,
}

/// Bytes of a chunk, about: a scan's partitions take chunks one at a time
/// (the export's threads, a stretch of them at a time: [`runs`]), so the
/// first is read while the pass that finds record boundaries goes on, and
/// no one works on alone long at the end.
pub(crate) const CHUNK_BYTES: usize = 8 << 20;

/// How far a trace has been cut into chunks: by whichever scan first needs
/// the next chunk, once, for every scan after it.
#[derive(Debug, Default)]
struct Cuts {
    plans: Vec<ChunkPlan>,
    /// Where the pass stands (none before it starts).
    walk: Option<ChunksState>,
    done: bool,
}

/// The chunks of every trace, in order, for one execution of a scan: its
/// partitions take the next one as each is free.
#[derive(Debug, Default)]
pub(crate) struct ChunkSource {
    /// The next chunk: trace index, chunk index.
    next: Mutex<(usize, usize)>,
}

impl ChunkSource {
    /// The next chunk (trace index, chunk), cut now if no scan has yet.
    pub(crate) fn next(
        &self,
        shared: &Shared,
    ) -> Result<Option<(usize, ChunkPlan)>, DataFusionError> {
        let mut at = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (trace, index) = *at;
            let Some(loaded) = shared.traces.get(trace) else {
                return Ok(None);
            };
            match loaded
                .chunk(&shared.events, index, CHUNK_BYTES)
                .map_err(|e| loaded.fault(e))?
            {
                Some(plan) => {
                    *at = (trace, index + 1);
                    return Ok(Some((trace, plan)));
                }
                None => *at = (trace + 1, 0),
            }
        }
    }
}

/// One trace, its bytes and how it is cut into chunks (once, by the first
/// scan).
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) data: TraceData,
    no_header: bool,
    /// Whether corrupt regions are stepped over ([`TraceReader::with_resync`]).
    resync: bool,
    cuts: Mutex<Cuts>,
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("name", &self.name)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

impl Loaded {
    /// A reader of the whole trace, from its first record.
    fn reader<'a>(&'a self, events: &'a TraceEvents) -> format::Result<TraceReader<'a>> {
        let reader = if self.no_header {
            TraceReader::headerless(&self.data, events)
        } else {
            TraceReader::new(&self.data, events)?
        };
        Ok(self.data.guard(reader).with_resync(self.resync))
    }

    /// Chunk `index` of the trace (about `chunk_bytes` each, as the first
    /// call said: [`CHUNK_BYTES`]), cut now if no scan has yet; none past
    /// the last. A chunk that meets a record the
    /// pass cannot step over runs to the end of the data (its reader
    /// reports the fault) and is the last.
    fn chunk(
        &self,
        events: &TraceEvents,
        index: usize,
        chunk_bytes: usize,
    ) -> format::Result<Option<ChunkPlan>> {
        let mut cuts = self.cuts.lock().unwrap_or_else(PoisonError::into_inner);
        if cuts.plans.len() <= index && !cuts.done {
            // The pass goes on from where the last call left it.
            let walk = cuts.walk.take();
            let mut chunks = match &walk {
                Some(state) => {
                    let reader = TraceReader::resume_within(&self.data, events, state.reader());
                    let reader = self.data.guard(reader).with_resync(self.resync);
                    Chunks::resume(reader, chunk_bytes, state)
                }
                None => Chunks::new(self.reader(events)?, chunk_bytes),
            };
            while cuts.plans.len() <= index {
                let Some(chunk) = chunks.next() else {
                    cuts.done = true;
                    break;
                };
                cuts.plans.push(ChunkPlan {
                    index: chunk.index,
                    state: chunk.reader.suspend(),
                    end: chunk.range.end,
                    prev_timestamp_ns: chunk.prev_timestamp_ns,
                });
            }
            cuts.walk = Some(chunks.suspend());
        }
        Ok(cuts.plans.get(index).cloned())
    }

    /// A record fault of this trace, as DataFusion carries it.
    pub(crate) fn fault(&self, error: format::Error) -> DataFusionError {
        let shrink = self.data.shrink().filter(|s| s.explains(Some(&error)));
        DataFusionError::External(Box::new(TraceFault {
            trace: self.name.clone(),
            error,
            shrink,
        }))
    }

    /// The id each declaration has in this trace: from the mapping records
    /// before the first event record (version 4), or its position (older
    /// versions and headerless traces, whose ids are positions).
    fn ids(&self, events: &TraceEvents) -> Vec<Option<u64>> {
        let mut ids = vec![None; events.len()];
        let Ok(mut reader) = self.reader(events) else {
            return ids;
        };
        if reader.kind().version != Version::V4 || self.no_header {
            return (0..events.len() as u64).map(Some).collect();
        }
        while let Some(Ok(Item::Mapping(m))) = reader.next_item() {
            if let Some(decl) = m.decl
                && let Some(slot) = ids.get_mut(decl.position)
            {
                *slot = Some(m.id.0);
            }
        }
        ids
    }
}

/// What every table of one [`TraceTables`] reads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) events: TraceEvents,
    pub(crate) traces: Vec<Loaded>,
    /// Each trace's name, as the one value of its `trace` dictionary.
    pub(crate) trace_names: Vec<ArrayRef>,
    /// Every declaration's name by position, then `Dropped_Event`: the
    /// values of the `event` dictionary.
    pub(crate) event_names: ArrayRef,
    /// What scans found that did not stop them, each said once.
    warnings: Mutex<Vec<String>>,
    /// The corrupt regions resyncing scans stepped over, by trace and
    /// chunk (each chunk's once, however many scans read it).
    skips: Mutex<BTreeMap<(usize, usize), Skips>>,
}

impl Shared {
    /// Notes a warning, unless it was noted already (every scan of a trace
    /// meets the same cut-off record).
    pub(crate) fn warn(&self, warning: String) {
        if let Ok(mut warnings) = self.warnings.lock()
            && !warnings.contains(&warning)
        {
            warnings.push(warning);
        }
    }

    /// Notes the corrupt regions a scan stepped over in chunk `chunk` of
    /// trace `trace`, read whole; a chunk read before keeps its regions
    /// (another scan of it found the same).
    pub(crate) fn note_skips(&self, trace: usize, chunk: usize, skips: Skips) {
        if let Ok(mut noted) = self.skips.lock() {
            noted.entry((trace, chunk)).or_insert(skips);
        }
    }

    /// Each trace's corrupt regions stepped over, in file order, for the
    /// traces that had any: (name, regions).
    pub(crate) fn skips(&self) -> Vec<(String, Skips)> {
        let Ok(noted) = self.skips.lock() else {
            return Vec::new();
        };
        let mut by_trace: Vec<(String, Skips)> = Vec::new();
        for (&(trace, _), skips) in noted.iter().filter(|(_, s)| !s.is_empty()) {
            let Some(loaded) = self.traces.get(trace) else {
                continue;
            };
            match by_trace.last_mut() {
                Some((name, all)) if *name == loaded.name => all.append(skips.clone()),
                _ => by_trace.push((loaded.name.clone(), skips.clone())),
            }
        }
        by_trace
    }

    /// Every trace's chunks (trace index, chunk), in order.
    #[cfg(test)]
    pub(crate) fn chunks(&self) -> Result<Vec<(usize, ChunkPlan)>, DataFusionError> {
        let source = ChunkSource::default();
        let mut all = Vec::new();
        while let Some(chunk) = source.next(self)? {
            all.push(chunk);
        }
        Ok(all)
    }
}

/// The traces to query and their declarations: the tables of docs/sql.md.
///
/// A scan's partitions decode on the runtime threads that poll them, so
/// they read in parallel on a multi-thread tokio runtime (a worker per
/// partition, as `simpletrace sql` runs them) and one after the other on
/// a current-thread one.
#[derive(Debug)]
pub struct TraceTables {
    events: TraceEvents,
    traces: Vec<Loaded>,
    resync: bool,
}

impl TraceTables {
    /// No traces yet; `events` declares the events of all of them.
    pub fn new(events: TraceEvents) -> TraceTables {
        TraceTables {
            events,
            traces: Vec::new(),
            resync: false,
        }
    }

    /// Whether the traces added from now on are read stepping over
    /// corrupt regions (as `--resync` reads them: see
    /// [`TraceReader::with_resync`]) instead of stopping at the first
    /// corrupt record; [`Registered::skips`] tells what was stepped over.
    pub fn resync(&mut self, on: bool) {
        self.resync = on;
    }

    /// Adds a trace named `name` (the value of its `trace` column; names
    /// must differ); `no_header` for a trace written without the file
    /// header. The header is checked now.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        data: TraceData,
        no_header: bool,
    ) -> Result<(), SqlError> {
        let name = name.into();
        if self.traces.iter().any(|t| t.name == name) {
            return Err(SqlError::DuplicateName(name));
        }
        let loaded = Loaded {
            name,
            data,
            no_header,
            resync: self.resync,
            cuts: Mutex::default(),
        };
        if let Err(error) = loaded.reader(&self.events) {
            return Err(SqlError::Header {
                trace: loaded.name,
                error,
            });
        }
        self.traces.push(loaded);
        Ok(())
    }

    /// The names of the tables [`TraceTables::register`] registers: the
    /// fixed ones, then one per declaration.
    pub fn table_names(&self) -> Vec<String> {
        [schema::RECORDS, schema::DROPPED, schema::EVENTS]
            .into_iter()
            .map(str::to_owned)
            .chain(
                schema::event_tables(&self.events)
                    .iter()
                    .map(|d| d.name.clone()),
            )
            .collect()
    }

    /// Registers every table in `ctx`'s default schema, under its exact
    /// name (a query names an event with capitals in double quotes).
    /// The result tells what the queries found that did not stop them.
    pub fn register(self, ctx: &SessionContext) -> Result<Registered, SqlError> {
        let (shared, events_batch) = self.into_shared().map_err(SqlError::Register)?;
        let register = |name: &str, table: Arc<dyn datafusion::catalog::TableProvider>| {
            ctx.register_table(TableReference::bare(name), table)
                .map(|_| ())
                .map_err(SqlError::Register)
        };
        register(
            schema::RECORDS,
            Arc::new(provider::TraceTable::new(
                &shared,
                schema::Layout::records(),
            )),
        )?;
        register(
            schema::DROPPED,
            Arc::new(provider::TraceTable::new(
                &shared,
                schema::Layout::dropped(),
            )),
        )?;
        let events_table = MemTable::try_new(schema::events_schema(), vec![vec![events_batch]])
            .map_err(SqlError::Register)?;
        register(schema::EVENTS, Arc::new(events_table))?;
        for decl in schema::event_tables(&shared.events) {
            let layout = schema::Layout::event(decl);
            register(
                &decl.name,
                Arc::new(provider::TraceTable::new(&shared, layout)),
            )?;
        }
        Ok(Registered { shared })
    }
}

impl TraceTables {
    /// What every table reads, and the `events` table's rows.
    pub(crate) fn into_shared(self) -> Result<(Arc<Shared>, RecordBatch), DataFusionError> {
        let mut names: Vec<&str> = self.events.iter().map(|d| d.name.as_str()).collect();
        names.push(self.events.dropped().name.as_str());
        let event_names: ArrayRef = Arc::new(StringArray::from(names));
        let trace_names = self
            .traces
            .iter()
            .map(|t| Arc::new(StringArray::from(vec![t.name.as_str()])) as ArrayRef)
            .collect();
        let events_batch = events_batch(&self.events, &self.traces)?;
        let shared = Arc::new(Shared {
            events: self.events,
            traces: self.traces,
            trace_names,
            event_names,
            warnings: Mutex::new(Vec::new()),
            skips: Mutex::new(BTreeMap::new()),
        });
        Ok((shared, events_batch))
    }
}

/// The tables of a [`TraceTables`], registered: what queries over them
/// found that did not stop them.
#[derive(Debug)]
pub struct Registered {
    shared: Arc<Shared>,
}

impl Registered {
    /// The warnings so far, each once: a trace cut off in the middle of
    /// its last record (`NAME: what the reader found`), whose records
    /// before it were read.
    pub fn warnings(&self) -> Vec<String> {
        self.shared
            .warnings
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// The corrupt regions the queries stepped over, for each trace that
    /// had any, in file order (with [`TraceTables::resync`]; a region is
    /// known once a query has read the part of the trace that holds it).
    pub fn skips(&self) -> Vec<(String, Skips)> {
        self.shared.skips()
    }
}

/// A declaration's arguments as declared: `TYPE NAME, ...` (empty for
/// `void`).
fn declared_arguments(decl: &EventDecl) -> String {
    let args: Vec<String> = decl
        .args
        .iter()
        .map(|a| {
            if a.ty.ends_with('*') {
                format!("{}{}", a.ty, a.name)
            } else {
                format!("{} {}", a.ty, a.name)
            }
        })
        .collect();
    args.join(", ")
}

/// The `events` table: one row per trace and declaration.
fn events_batch(events: &TraceEvents, traces: &[Loaded]) -> Result<RecordBatch, DataFusionError> {
    let per_trace = events.len();
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for (t, trace) in traces.iter().enumerate() {
        keys.extend(std::iter::repeat_n(t as i32, per_trace));
        ids.extend(trace.ids(events));
    }
    // Arrow's builders want iterators of known length.
    let decls: Vec<&EventDecl> = traces.iter().flat_map(|_| events.iter()).collect();
    let all = || decls.iter().copied();
    let names: Vec<&str> = traces.iter().map(|t| t.name.as_str()).collect();
    let trace = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(keys),
        Arc::new(StringArray::from(names)),
    )?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(trace),
        Arc::new(StringArray::from_iter_values(
            all().map(|d| d.name.as_str()),
        )),
        Arc::new(UInt64Array::from(ids)),
        Arc::new(UInt32Array::from_iter_values(
            all().map(|d| u32::try_from(d.position).unwrap_or(u32::MAX)),
        )),
        Arc::new(UInt32Array::from_iter_values(all().map(|d| d.line))),
        Arc::new(BooleanArray::from_iter(
            all().map(|d| Some(d.is_disabled())),
        )),
        Arc::new(BooleanArray::from_iter(
            all().map(|d| Some(d.properties.vcpu)),
        )),
        Arc::new(StringArray::from_iter_values(all().map(declared_arguments))),
        Arc::new(StringArray::from_iter_values(all().map(|d| {
            let layout = schema::Layout::event(d);
            let fields = layout.schema.fields().iter();
            let columns: Vec<&str> = fields
                .skip(schema::EVENT_TABLE_COLUMNS.len())
                .map(|f| f.name().as_str())
                .collect();
            columns.join(", ")
        }))),
        Arc::new(StringArray::from_iter(
            all().map(|d| d.format.as_ref().map(|f| f.raw.as_str())),
        )),
    ];
    Ok(RecordBatch::try_new(schema::events_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ArgValue, encode};
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{Int64Type, UInt64Type};
    use datafusion::prelude::SessionConfig;

    const EVENTS: &[u8] = b"a(int x, const char *s)\nb(uint64_t n)\n";

    /// A trace of `n` records, `a` and `b` in turn, timestamps stepping
    /// back now and then, a dropped-events record in the middle.
    fn trace(n: u64) -> Vec<u8> {
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"a");
        encode::mapping(&mut t, 1, b"b");
        for i in 0..n {
            let ts = 1_000 + i * 10 - (i % 7) * 3;
            if i % 2 == 0 {
                let s = format!("s{i}");
                encode::event(
                    &mut t,
                    0,
                    ts,
                    (i % 3) as u32,
                    &[
                        ArgValue::Int(-(i as i64) as u64),
                        ArgValue::Str(s.as_bytes()),
                    ],
                );
            } else {
                encode::event(&mut t, 1, ts, (i % 3) as u32, &[ArgValue::Int(i)]);
            }
            if i == n / 2 {
                encode::dropped(&mut t, ts, 1, 42);
            }
        }
        t
    }

    fn session(
        data: Vec<u8>,
        partitions: usize,
    ) -> (tokio::runtime::Runtime, SessionContext, Registered) {
        let events = TraceEvents::parse("te", EVENTS).unwrap();
        let mut tables = TraceTables::new(events);
        tables.add("t", TraceData::Owned(data), false).unwrap();
        let ctx = SessionContext::new_with_config(
            SessionConfig::new().with_target_partitions(partitions),
        );
        let registered = tables.register(&ctx).unwrap();
        // As the command's: a worker per partition.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(partitions.max(1))
            .build()
            .unwrap();
        (rt, ctx, registered)
    }

    fn query(rt: &tokio::runtime::Runtime, ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
        rt.block_on(async { ctx.sql(sql).await?.collect().await })
            .unwrap()
    }

    fn u64s(batches: &[RecordBatch], column: usize) -> Vec<u64> {
        batches
            .iter()
            .flat_map(|b| {
                b.column(column)
                    .as_primitive::<UInt64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    /// A trace cut into many chunks over several partitions reads as one
    /// sequential pass does: every record once, deltas across chunk
    /// boundaries, in batches of at most BATCH_ROWS rows.
    #[test]
    fn chunks_and_partitions_read_every_record_once() {
        let n = 120_000;
        let data = trace(n);
        assert!(data.len() > 4 << 20);
        let events = TraceEvents::parse("te", EVENTS).unwrap();
        let mut want = Vec::new();
        let mut prev = None;
        for r in TraceReader::new(&data, &events).unwrap() {
            let r = r.unwrap();
            let p = prev.unwrap_or(r.timestamp_ns);
            want.push((r.at.record.0, r.timestamp_ns as i64 - p as i64));
            prev = Some(r.timestamp_ns);
        }
        for partitions in [1, 3, 4] {
            let (rt, ctx, _) = session(data.clone(), partitions);
            let batches = query(
                &rt,
                &ctx,
                "SELECT record, delta_ns FROM records ORDER BY record",
            );
            let got: Vec<(u64, i64)> = batches
                .iter()
                .flat_map(|b| {
                    let r = b.column(0).as_primitive::<UInt64Type>().values().to_vec();
                    let d = b.column(1).as_primitive::<Int64Type>().values().to_vec();
                    r.into_iter().zip(d)
                })
                .collect();
            assert_eq!(got, want, "{partitions} partitions");
            let plan = query(&rt, &ctx, "SELECT count(*) FROM records");
            assert_eq!(
                plan[0].column(0).as_primitive::<Int64Type>().value(0),
                want.len() as i64
            );
            let chunks = rt.block_on(async {
                let df = ctx.table("b").await.unwrap();
                df.execute_stream_partitioned().await.unwrap().len()
            });
            assert_eq!(chunks, partitions.max(1), "partitions");
        }
        let (rt, ctx, registered) = session(data, 4);
        let b = query(&rt, &ctx, "SELECT n FROM b");
        assert!(b.iter().all(|b| b.num_rows() <= BATCH_ROWS));
        let mut ns = u64s(&b, 0);
        ns.sort_unstable();
        assert_eq!(ns, (1..n).step_by(2).collect::<Vec<_>>());
        let a = query(&rt, &ctx, "SELECT sum(x), count(s), max(length(s)) FROM a");
        let want_sum: i64 = (0..n as i64).step_by(2).map(|i| -i).sum();
        assert_eq!(
            a[0].column(0).as_primitive::<Int64Type>().value(0),
            want_sum
        );
        let d = query(&rt, &ctx, "SELECT num_events_dropped, pid FROM dropped");
        assert_eq!(u64s(&d, 0), [42]);
        assert!(registered.warnings().is_empty());
    }

    /// Filters on ts_ns and pid skip records in the scan; the rows are
    /// those DataFusion's own filter keeps. A LIMIT without filters stops
    /// the scan early.
    #[test]
    fn pushed_down_filters_and_limits() {
        let data = trace(20_000);
        let (rt, ctx, _) = session(data, 2);
        let all = query(&rt, &ctx, "SELECT ts_ns, pid FROM a");
        let rows: Vec<(u64, u64)> = all
            .iter()
            .flat_map(|b| {
                let t = b.column(0).as_primitive::<UInt64Type>().values().to_vec();
                let p = b
                    .column(1)
                    .as_primitive::<datafusion::arrow::datatypes::UInt32Type>()
                    .values()
                    .to_vec();
                t.into_iter().zip(p.into_iter().map(u64::from))
            })
            .collect();
        let count = |sql: &str| {
            let b = query(&rt, &ctx, sql);
            b[0].column(0).as_primitive::<Int64Type>().value(0) as usize
        };
        let want = rows
            .iter()
            .filter(|(t, p)| (50_000..=90_000).contains(t) && *p == 1)
            .count();
        assert!(want > 0);
        assert_eq!(
            count("SELECT count(*) FROM a WHERE ts_ns BETWEEN 50000 AND 90000 AND pid = 1"),
            want
        );
        assert_eq!(count("SELECT count(*) FROM a WHERE pid IN (7, 9)"), 0);
        let limited = query(&rt, &ctx, "SELECT s FROM a LIMIT 5");
        assert_eq!(limited.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    }

    /// A record outside a pushed-down time range is never decoded: its
    /// bad arguments go unnoticed, where a scan without the filter fails
    /// on them.
    #[test]
    fn records_outside_the_bounds_are_not_decoded() {
        let mut data = trace(100);
        // `a` declares a string after the int; this record has none.
        encode::event(&mut data, 0, 1 << 40, 1, &[ArgValue::Int(1)]);
        let (rt, ctx, _) = session(data, 2);
        let count = rt.block_on(async {
            ctx.sql("SELECT count(*) FROM a WHERE ts_ns < 1000000")
                .await?
                .collect()
                .await
        });
        assert_eq!(
            count.unwrap()[0]
                .column(0)
                .as_primitive::<Int64Type>()
                .value(0),
            50
        );
        let all = rt.block_on(async { ctx.sql("SELECT count(*) FROM a").await?.collect().await });
        match all {
            Err(e) => assert!(e.to_string().contains("t: record 103"), "{e}"),
            Ok(b) => panic!("{b:?}"),
        }
    }

    /// Two traces of one name are refused; a bad header is refused when
    /// the trace is added.
    #[test]
    fn names_and_headers_checked_when_added() {
        let events = TraceEvents::parse("te", EVENTS).unwrap();
        let mut tables = TraceTables::new(events);
        tables.add("t", TraceData::Owned(trace(3)), false).unwrap();
        match tables.add("t", TraceData::Owned(trace(3)), false) {
            Err(SqlError::DuplicateName(n)) => assert_eq!(n, "t"),
            otherwise => panic!("{otherwise:?}"),
        }
        match tables.add("u", TraceData::Owned(vec![1, 2, 3]), false) {
            Err(SqlError::Header { trace, .. }) => assert_eq!(trace, "u"),
            otherwise => panic!("{otherwise:?}"),
        }
        let names = tables.table_names();
        assert_eq!(names, ["records", "dropped", "events", "a", "b"]);
    }

    /// A trace cut chunk by chunk, on demand, gives every record once and
    /// in order, each chunk knowing the timestamp before it and the id
    /// table where it starts (an id changes meaning halfway); a corrupt
    /// record ends the chunks, in the one that reports it.
    #[test]
    fn chunks_cut_on_demand_equal_one_pass() {
        let events = TraceEvents::parse("te", b"a(uint64_t n)\nb(uint64_t n)\n").unwrap();
        let mut trace = Vec::new();
        encode::header(&mut trace, 4);
        encode::mapping(&mut trace, 0, b"a");
        for n in 0..2000u64 {
            if n == 1000 {
                encode::mapping(&mut trace, 0, b"b");
            }
            encode::event(&mut trace, 0, 5000 - n, 1, &[ArgValue::Int(n)]);
        }
        let good = trace.len();
        let summary = |r: TraceReader<'_>| -> Vec<(String, u64)> {
            r.map_while(|x| x.ok())
                .map(|x| (x.name().to_owned(), x.timestamp_ns))
                .collect()
        };
        let whole = summary(TraceReader::new(&trace, &events).unwrap());
        // Then a record whose length cannot be.
        trace.extend_from_slice(&1u64.to_le_bytes());
        trace.extend_from_slice(&[0; 16]);
        trace.extend_from_slice(&3u32.to_le_bytes());
        trace.extend_from_slice(&0u32.to_le_bytes());
        let mut tables = TraceTables::new(events.clone());
        tables
            .add("t", TraceData::from_reader(&trace[..]).unwrap(), false)
            .unwrap();
        let (shared, _) = tables.into_shared().unwrap();
        let loaded = &shared.traces[0];
        let mut joined = Vec::new();
        let mut prev_ts = None;
        let mut start = 24;
        let mut index = 0;
        while let Some(plan) = loaded.chunk(&events, index, 1000).unwrap() {
            assert_eq!(plan.index, index);
            assert_eq!(plan.prev_timestamp_ns, prev_ts);
            let at = TraceReader::resume_within(&loaded.data, &events, &plan.state);
            assert_eq!(at.data_position(), start);
            let reader =
                TraceReader::resume_within(&loaded.data, &events, &plan.state).until(plan.end);
            let part = summary(reader);
            prev_ts = part.last().map(|p| p.1).or(prev_ts);
            joined.extend(part);
            start = plan.end;
            index += 1;
        }
        assert!(index > 40);
        assert_eq!(joined, whole);
        // The last chunk holds the corrupt record and runs to the end.
        let last = loaded.chunk(&events, index - 1, 1000).unwrap().unwrap();
        assert_eq!(last.end, trace.len());
        let at = TraceReader::resume_within(&loaded.data, &events, &last.state);
        assert!(at.data_position() <= good);
        let mut reader = TraceReader::resume_within(&loaded.data, &events, &last.state);
        assert!(reader.any(|r| r.is_err()));
    }

    /// Each source (one execution of a scan) takes every trace's chunks,
    /// in order, once; the traces are cut once for all of them.
    #[test]
    fn every_source_gets_every_chunk() {
        let events = TraceEvents::parse("te", EVENTS).unwrap();
        let mut tables = TraceTables::new(events);
        for name in ["one", "two"] {
            tables
                .add(name, TraceData::from_reader(&trace(50)[..]).unwrap(), false)
                .unwrap();
        }
        let (shared, _) = tables.into_shared().unwrap();
        let all = shared.chunks().unwrap();
        assert_eq!(
            all.iter().map(|(t, p)| (*t, p.index)).collect::<Vec<_>>(),
            [(0, 0), (1, 0)]
        );
        for _ in 0..2 {
            let source = ChunkSource::default();
            let mut got = Vec::new();
            while let Some((trace, plan)) = source.next(&shared).unwrap() {
                got.push((trace, plan.index, plan.end));
            }
            let want: Vec<_> = all.iter().map(|(t, p)| (*t, p.index, p.end)).collect();
            assert_eq!(got, want);
        }
    }

    /// A scan hands its thread back after a chunk that made no rows, and
    /// is woken at once: a query that is over (a LIMIT met elsewhere, an
    /// error, a closed pipe) stops it within a chunk, and a runtime's
    /// shutdown does not wait for the rest of the scan. The `dropped`
    /// table of three traces (a chunk each), only the last with a
    /// dropped-events record, on one partition.
    #[test]
    fn a_scan_yields_after_a_chunk_without_rows() {
        use futures::StreamExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::{Context, Poll, Wake, Waker};

        struct Wakes(AtomicUsize);
        impl Wake for Wakes {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }

        let mut quiet = Vec::new();
        encode::header(&mut quiet, 4);
        encode::mapping(&mut quiet, 1, b"b");
        for i in 0..10 {
            encode::event(&mut quiet, 1, 100 + i, 1, &[ArgValue::Int(i)]);
        }
        let mut tables = TraceTables::new(TraceEvents::parse("te", EVENTS).unwrap());
        for (name, data) in [("q1", &quiet), ("q2", &quiet), ("t", &trace(20))] {
            tables
                .add(name, TraceData::from_reader(&data[..]).unwrap(), false)
                .unwrap();
        }
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        tables.register(&ctx).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let plan = rt
            .block_on(async {
                ctx.sql("SELECT num_events_dropped FROM dropped")
                    .await?
                    .create_physical_plan()
                    .await
            })
            .unwrap();
        assert_eq!(plan.properties().output_partitioning().partition_count(), 1);
        let mut stream = plan.execute(0, ctx.task_ctx()).unwrap();
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mut polls = Vec::new();
        let _entered = rt.enter();
        loop {
            match stream.poll_next_unpin(&mut cx) {
                Poll::Pending => polls.push(None),
                Poll::Ready(Some(batch)) => polls.push(Some(batch.unwrap().num_rows())),
                Poll::Ready(None) => break,
            }
        }
        assert_eq!(polls, [None, None, Some(1)]);
        assert_eq!(wakes.0.load(Ordering::Relaxed), 2);
    }
}
