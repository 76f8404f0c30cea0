//! Records into Arrow record batches: the columns a scan asks for, built a
//! batch of [`BATCH_ROWS`] rows at a time from one partition's chunks.
//!
//! A partition reads its chunks one after the other; between batches it
//! holds no borrow of the trace, only the reader's state
//! ([`ReaderState`]), from which the next batch's reader resumes
//! ([`TraceReader::resume_within`]). Every row's arguments are decoded
//! and checked (a corrupt record is the same fault whatever the query
//! asks for), but only the projected columns are built: a string that no
//! column shows is never checked for UTF-8, a JSON object that no column
//! shows is never written.

use std::ops::RangeInclusive;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryBuilder, BooleanBuilder, DictionaryArray, Int32Array, NullBufferBuilder,
    PrimitiveArray, RecordBatch, RecordBatchOptions, StringArray, StringBuilder,
};
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::error::{DataFusionError, Result};

use super::schema::{Column, Layout, TableKind};
use super::{ChunkPlan, Shared};
use crate::analyzers::Event;
use crate::analyzers::json::{ArgsFrames, is_utf8, write_args, write_raw_strings};
use crate::format::{ArgKind, ArgValue, ReaderState, Record, Skips, TraceReader, pyfmt};

/// Rows per record batch (DataFusion's default batch size).
pub const BATCH_ROWS: usize = 8192;

/// The records a scan keeps, by timestamp and pid: what the pushed-down
/// filters allow (a superset of what they keep; DataFusion filters
/// again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) ts_ns: RangeInclusive<u64>,
    pub(crate) pid: RangeInclusive<u32>,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            ts_ns: 0..=u64::MAX,
            pid: 0..=u32::MAX,
        }
    }
}

impl Bounds {
    #[inline]
    fn admits(&self, rec: &Record<'_>) -> bool {
        self.ts_ns.contains(&rec.timestamp_ns) && self.pid.contains(&rec.pid)
    }

    /// Whether no record can pass.
    pub(crate) fn is_empty(&self) -> bool {
        self.ts_ns.is_empty() || self.pid.is_empty()
    }
}

/// One column's values as they are appended. Integers go into plain
/// vectors, handed to Arrow whole: an Arrow builder's append was a call
/// into another crate per value (5% of the export's instructions without
/// LTO, measured with callgrind).
enum Builder {
    /// Dictionary keys (`trace`, `event`).
    Keys(Vec<i32>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    /// `delta_ns`: null when the difference does not fit.
    OptI64(Vec<i64>, NullBufferBuilder),
    Bool(BooleanBuilder),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    /// Text written in place (`args`' JSON, string arguments): the
    /// values' bytes and where each ends, made into a string array, its
    /// UTF-8 checked once per batch rather than once per value
    /// ([`text_array`]).
    Text {
        values: Vec<u8>,
        offsets: Vec<i32>,
    },
}

impl Builder {
    fn of(column: Column, kind: TableKind, shared: &Shared) -> Builder {
        match column {
            Column::Trace | Column::Event => Builder::Keys(Vec::with_capacity(BATCH_ROWS)),
            Column::Pid => Builder::U32(Vec::with_capacity(BATCH_ROWS)),
            Column::Id
            | Column::TsNs
            | Column::Record
            | Column::FileOffset
            | Column::NumDropped => Builder::U64(Vec::with_capacity(BATCH_ROWS)),
            Column::DeltaNs => Builder::OptI64(
                Vec::with_capacity(BATCH_ROWS),
                NullBufferBuilder::new(BATCH_ROWS),
            ),
            Column::Args => Builder::Text {
                values: Vec::new(),
                offsets: vec![0],
            },
            Column::Raw => Builder::Utf8(StringBuilder::new()),
            Column::ArgRaw(_) => Builder::Binary(BinaryBuilder::new()),
            Column::Arg(i) => {
                let arg_kind = match kind {
                    TableKind::Event(position) => shared
                        .events
                        .get(position)
                        .and_then(|d| d.args.get(i))
                        .map(|a| a.kind),
                    TableKind::Records | TableKind::Dropped => None,
                };
                match arg_kind {
                    Some(ArgKind::String) | None => Builder::Text {
                        values: Vec::new(),
                        offsets: vec![0],
                    },
                    Some(ArgKind::Pointer) => Builder::U64(Vec::with_capacity(BATCH_ROWS)),
                    Some(ArgKind::Bool) => Builder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
                    Some(ArgKind::Int { signed, bits }) => match (signed, bits) {
                        (true, 8) => Builder::I8(Vec::with_capacity(BATCH_ROWS)),
                        (true, 16) => Builder::I16(Vec::with_capacity(BATCH_ROWS)),
                        (true, 32) => Builder::I32(Vec::with_capacity(BATCH_ROWS)),
                        (true, _) => Builder::I64(Vec::with_capacity(BATCH_ROWS)),
                        (false, 8) => Builder::U8(Vec::with_capacity(BATCH_ROWS)),
                        (false, 16) => Builder::U16(Vec::with_capacity(BATCH_ROWS)),
                        (false, 32) => Builder::U32(Vec::with_capacity(BATCH_ROWS)),
                        (false, _) => Builder::U64(Vec::with_capacity(BATCH_ROWS)),
                    },
                }
            }
        }
    }

    /// The values so far as an array; the builder is empty after, with
    /// room for a whole batch again. (A finished arrow builder starts over
    /// from no room and grows by reallocation, copying and faulting in new
    /// pages every batch: a tenth of the export's time.)
    fn finish(&mut self) -> Result<ArrayRef> {
        fn renew<B>(b: &mut B, fresh: B, finish: impl FnOnce(&mut B) -> ArrayRef) -> ArrayRef {
            let array = finish(b);
            *b = fresh;
            array
        }
        const N: usize = BATCH_ROWS;
        Ok(match self {
            Builder::Keys(v) | Builder::I32(v) => take::<Int32Type>(v)?,
            Builder::U8(v) => take::<UInt8Type>(v)?,
            Builder::U16(v) => take::<UInt16Type>(v)?,
            Builder::U32(v) => take::<UInt32Type>(v)?,
            Builder::U64(v) => take::<UInt64Type>(v)?,
            Builder::I8(v) => take::<Int8Type>(v)?,
            Builder::I16(v) => take::<Int16Type>(v)?,
            Builder::I64(v) => take::<Int64Type>(v)?,
            Builder::OptI64(v, nulls) => {
                let values = core::mem::replace(v, Vec::with_capacity(N));
                Arc::new(PrimitiveArray::<Int64Type>::try_new(
                    ScalarBuffer::from(values),
                    nulls.finish(),
                )?)
            }
            Builder::Bool(b) => renew(b, BooleanBuilder::with_capacity(N), |b| {
                Arc::new(b.finish())
            }),
            // Strings: as many bytes as the last batch had.
            Builder::Utf8(b) => {
                let bytes = b.values_slice().len();
                renew(b, StringBuilder::with_capacity(N, bytes), |b| {
                    Arc::new(b.finish())
                })
            }
            Builder::Binary(b) => {
                let bytes = b.values_slice().len();
                renew(b, BinaryBuilder::with_capacity(N, bytes), |b| {
                    Arc::new(b.finish())
                })
            }
            Builder::Text { values, offsets } => {
                let bytes = values.len();
                let values = core::mem::replace(values, Vec::with_capacity(bytes));
                let mut fresh = Vec::with_capacity(N + 1);
                fresh.push(0);
                let offsets = core::mem::replace(offsets, fresh);
                Arc::new(text_array(offsets, values)?)
            }
        })
    }

    /// Ends a value of [`Builder::Text`] at the text written so far (a
    /// batch holds up to 2 GiB of it).
    fn end_text(values: &[u8], offsets: &mut Vec<i32>) -> Result<()> {
        let end = i32::try_from(values.len()).map_err(|_| {
            DataFusionError::Execution(
                "a batch's arguments are more than 2 GiB of JSON text".to_owned(),
            )
        })?;
        offsets.push(end);
        Ok(())
    }
}

/// The values of `v` as an array; `v` is empty after, with room for a
/// whole batch.
fn take<T: ArrowPrimitiveType>(v: &mut Vec<T::Native>) -> Result<ArrayRef> {
    let values = core::mem::replace(v, Vec::with_capacity(BATCH_ROWS));
    Ok(Arc::new(PrimitiveArray::<T>::try_new(
        ScalarBuffer::from(values),
        None,
    )?))
}

/// Whether a string argument's bytes are not UTF-8.
fn bad_utf8(value: ArgValue<'_>) -> bool {
    matches!(value, ArgValue::Str(s) if !is_utf8(s))
}

/// Builds the batches of one table's projected columns.
struct BatchMaker {
    layout: Layout,
    builders: Vec<Builder>,
    rows: usize,
    /// Scratch for JSON and hex text.
    text: Vec<u8>,
    /// The JSON text of each declaration's arguments' names.
    frames: ArgsFrames,
}

impl BatchMaker {
    fn new(layout: Layout, shared: &Shared) -> BatchMaker {
        let builders = layout
            .columns
            .iter()
            .map(|&c| Builder::of(c, layout.kind, shared))
            .collect();
        BatchMaker {
            layout,
            builders,
            rows: 0,
            text: Vec::new(),
            frames: ArgsFrames::default(),
        }
    }

    /// Appends one row.
    fn push(&mut self, ev: &Event<'_>, delta: Option<i64>, event_key: i32) -> Result<()> {
        let rec = ev.record();
        // Whether a string argument is not UTF-8, once known (the JSON
        // writer finds out; `raw` needs to know).
        let mut bad_strings = None;
        for (column, builder) in self.layout.columns.iter().zip(&mut self.builders) {
            match (column, builder) {
                (Column::Trace, Builder::Keys(v)) => v.push(0),
                (Column::Event, Builder::Keys(v)) => v.push(event_key),
                (Column::Id, Builder::U64(v)) => v.push(rec.id.0),
                (Column::TsNs, Builder::U64(v)) => v.push(rec.timestamp_ns),
                (Column::DeltaNs, Builder::OptI64(v, nulls)) => {
                    v.push(delta.unwrap_or(0));
                    nulls.append(delta.is_some());
                }
                (Column::Pid, Builder::U32(v)) => v.push(rec.pid),
                (Column::Record, Builder::U64(v)) => v.push(rec.at.record.0),
                (Column::FileOffset, Builder::U64(v)) => v.push(rec.at.offset.0),
                (Column::NumDropped, Builder::U64(v)) => {
                    v.push(ev.arg(0).and_then(ArgValue::as_u64).unwrap_or(0))
                }
                (Column::Args, Builder::Text { values, offsets }) => {
                    // Straight into the column: write_args writes UTF-8
                    // (bad string bytes become U+FFFD), which finish
                    // checks.
                    bad_strings = Some(write_args(values, ev, self.frames.of(ev.decl())));
                    Builder::end_text(values, offsets)?;
                }
                (Column::Raw, Builder::Utf8(b)) => {
                    if bad_strings.unwrap_or_else(|| ev.args().any(bad_utf8)) {
                        self.text.clear();
                        write_raw_strings(&mut self.text, ev);
                        b.append_value(String::from_utf8_lossy(&self.text));
                    } else {
                        b.append_null();
                    }
                }
                (Column::ArgRaw(i), Builder::Binary(b)) => match ev.arg(*i) {
                    Some(ArgValue::Str(s)) if !is_utf8(s) => b.append_value(s),
                    _ => b.append_null(),
                },
                (Column::Arg(i), builder) => Self::push_arg(ev, *i, builder)?,
                // Builder::of made each column's builder; no other pairs.
                (_, builder) => push_default(builder),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends argument `i`: an integer as its C type reads it, a string as
    /// UTF-8 text (U+FFFD for each bad sequence, as `simpletrace json`).
    fn push_arg(ev: &Event<'_>, i: usize, builder: &mut Builder) -> Result<()> {
        // Event::decode decoded every declared argument.
        let value = ev.arg(i).unwrap_or(ArgValue::Int(0));
        let raw = value.as_u64().unwrap_or(0);
        match builder {
            Builder::Text { values, offsets } => {
                match value {
                    // Straight into the column, checked as UTF-8 once per
                    // batch ([`text_array`]).
                    ArgValue::Str(s) if is_utf8(s) => values.extend_from_slice(s),
                    ArgValue::Str(s) => {
                        values.extend_from_slice(String::from_utf8_lossy(s).as_bytes())
                    }
                    // A string argument of a trace without strings (version
                    // 0): the word, in hex, as `simpletrace json` writes it
                    // (write_hex writes the `0x`).
                    ArgValue::Int(v) => pyfmt::write_hex(values, v),
                }
                return Builder::end_text(values, offsets);
            }
            Builder::I8(v) => v.push(ev.i64_at(i).unwrap_or(0) as i8),
            Builder::I16(v) => v.push(ev.i64_at(i).unwrap_or(0) as i16),
            Builder::I32(v) => v.push(ev.i64_at(i).unwrap_or(0) as i32),
            Builder::I64(v) => v.push(ev.i64_at(i).unwrap_or(0)),
            // Unsigned narrower than 64 bits: the low bits, as C reads the
            // value (QEMU writes it zero-extended).
            Builder::U8(v) => v.push(raw as u8),
            Builder::U16(v) => v.push(raw as u16),
            Builder::U32(v) => v.push(raw as u32),
            Builder::U64(v) => v.push(raw),
            Builder::Bool(b) => b.append_value(raw != 0),
            other => push_default(other),
        }
        Ok(())
    }

    /// The rows so far as a batch of `trace_name`'s records; the maker is
    /// empty after.
    fn finish(&mut self, trace_name: &ArrayRef, event_names: &ArrayRef) -> Result<RecordBatch> {
        let rows = self.rows;
        self.rows = 0;
        let arrays = self
            .layout
            .columns
            .iter()
            .zip(&mut self.builders)
            .map(|(column, builder)| {
                let array = builder.finish()?;
                let values = match column {
                    Column::Trace => trace_name,
                    Column::Event => event_names,
                    _ => return Ok(array),
                };
                let keys = array
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .cloned()
                    .unwrap_or_else(|| Int32Array::from(vec![0; rows]));
                Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
                    keys,
                    Arc::clone(values),
                )?) as ArrayRef)
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.layout.schema),
            arrays,
            &options,
        )?)
    }
}

/// Appends a zero of the builder's type (never reached: see its callers).
fn push_default(builder: &mut Builder) {
    match builder {
        Builder::Keys(v) | Builder::I32(v) => v.push(0),
        Builder::U8(v) => v.push(0),
        Builder::U16(v) => v.push(0),
        Builder::U32(v) => v.push(0),
        Builder::U64(v) => v.push(0),
        Builder::I8(v) => v.push(0),
        Builder::I16(v) => v.push(0),
        Builder::I64(v) => v.push(0),
        Builder::OptI64(v, nulls) => {
            v.push(0);
            nulls.append_non_null();
        }
        Builder::Bool(b) => b.append_value(false),
        Builder::Utf8(b) => b.append_value(""),
        Builder::Binary(b) => b.append_value(b""),
        Builder::Text { values, offsets } => {
            let _ = Builder::end_text(values, offsets);
        }
    }
}

/// Where a partition stands in the chunk it reads.
struct Cursor {
    trace: usize,
    /// The chunk's position among its trace's.
    chunk: usize,
    /// The corrupt regions stepped over in the chunk so far.
    skips: Skips,
    state: ReaderState,
    end: usize,
    last_ts: Option<u64>,
}

/// The batches of one partition: its chunks, in order, [`BATCH_ROWS`]
/// rows at a time (a batch ends with its chunk, so each holds one trace's
/// records). Ends after the first error.
pub(crate) struct PartitionBatches {
    shared: Arc<Shared>,
    maker: BatchMaker,
    bounds: Bounds,
    limit: Option<usize>,
    produced: usize,
    work: Arc<super::ChunkSource>,
    cursor: Option<Cursor>,
    done: bool,
}

impl PartitionBatches {
    /// The batches of `layout`'s columns over the chunks it takes from
    /// `work` (shared with the scan's other partitions), keeping records
    /// within `bounds`, at most `limit` rows.
    pub(crate) fn new(
        shared: Arc<Shared>,
        layout: Layout,
        bounds: Bounds,
        limit: Option<usize>,
        work: Arc<super::ChunkSource>,
    ) -> PartitionBatches {
        let maker = BatchMaker::new(layout, &shared);
        let done = bounds.is_empty() || limit == Some(0);
        PartitionBatches {
            shared,
            maker,
            bounds,
            limit,
            produced: 0,
            work,
            cursor: None,
            done,
        }
    }

    /// Reads on in the current chunk until a batch is full or the chunk
    /// ends; `Ok(true)` when the chunk ended.
    fn fill(&mut self, cursor: &mut Cursor) -> Result<bool> {
        let shared = Arc::clone(&self.shared);
        let Some(loaded) = shared.traces.get(cursor.trace) else {
            return Ok(true);
        };
        let events = &shared.events;
        let declared = events.len();
        let reader =
            TraceReader::resume_within(&loaded.data, events, &cursor.state).until(cursor.end);
        let mut reader = loaded.data.guard(reader);
        // One event, filled in place: building a record and copying it
        // into an event costs more than reading it (see Record::assign).
        let mut ev = Event::placeholder(events.dropped());
        let kind = self.maker.layout.kind;
        let mut last_ts = cursor.last_ts;
        let ended = loop {
            if self.maker.rows >= BATCH_ROWS {
                break false;
            }
            match reader.next_into(ev.record_mut()) {
                None => break true,
                // A trace cut off in the middle of its last record (its
                // writer was killed): the records before it stand, as for
                // every other command, with a warning.
                Some(Err(error)) if error.is_truncation() => {
                    shared.warn(format!("{}: {error}", loaded.name));
                    break true;
                }
                Some(Err(error)) => return Err(loaded.fault(error)),
                Some(Ok(())) => {}
            }
            let rec = ev.record();
            let ts = rec.timestamp_ns;
            let prev = last_ts.unwrap_or(ts);
            last_ts = Some(ts);
            let wanted = match kind {
                TableKind::Records => true,
                TableKind::Dropped => rec.is_dropped(),
                TableKind::Event(position) => rec.decl.position == position,
            };
            if !wanted || !self.bounds.admits(rec) {
                continue;
            }
            let key = if rec.is_dropped() {
                declared
            } else {
                rec.decl.position.min(declared)
            };
            ev.decode_current().map_err(|e| loaded.fault(e))?;
            let delta = i64::try_from(i128::from(ts) - i128::from(prev)).ok();
            self.maker
                .push(&ev, delta, i32::try_from(key).unwrap_or(i32::MAX))?;
        };
        cursor.last_ts = last_ts;
        cursor.skips.append(reader.take_skips());
        if ended {
            shared.note_skips(
                cursor.trace,
                cursor.chunk,
                core::mem::take(&mut cursor.skips),
            );
        } else {
            cursor.state = reader.suspend();
        }
        Ok(ended)
    }

    /// Reads on up to the end of one chunk or a full batch, whichever
    /// comes first.
    fn step(&mut self) -> Result<Step> {
        let mut cursor = match self.cursor.take() {
            Some(c) => c,
            None => match self.work.next(&self.shared)? {
                Some((trace, plan)) => Cursor {
                    trace,
                    chunk: plan.index,
                    skips: Skips::default(),
                    state: plan.state,
                    end: plan.end,
                    last_ts: plan.prev_timestamp_ns,
                },
                None => return Ok(Step::End),
            },
        };
        let ended = self.fill(&mut cursor)?;
        let trace = cursor.trace;
        if !ended {
            self.cursor = Some(cursor);
        }
        if self.maker.rows == 0 || (!ended && self.maker.rows < BATCH_ROWS) {
            return Ok(Step::Read);
        }
        let shared = Arc::clone(&self.shared);
        let trace_name = shared
            .trace_names
            .get(trace)
            .ok_or_else(|| DataFusionError::Internal(format!("no trace {trace}")))?;
        let mut batch = self.maker.finish(trace_name, &shared.event_names)?;
        if let Some(limit) = self.limit {
            let left = limit.saturating_sub(self.produced);
            if batch.num_rows() >= left {
                batch = batch.slice(0, left);
                self.cursor = None;
                self.done = true;
            }
        }
        self.produced += batch.num_rows();
        Ok(Step::Batch(batch))
    }

    /// The next step: a batch, a chunk read that made none (a rare
    /// event's table, a narrow `ts_ns` range), or the end (for good after
    /// an error too).
    pub(crate) fn next_step(&mut self) -> Result<Step> {
        if self.done {
            return Ok(Step::End);
        }
        let step = self.step();
        if matches!(step, Ok(Step::End) | Err(_)) {
            self.done = true;
        }
        step
    }
}

/// What one [`PartitionBatches::next_step`] came to.
pub(crate) enum Step {
    Batch(RecordBatch),
    /// A chunk, or the rest of one, read without filling a batch.
    Read,
    End,
}

/// A table of the Parquet export ([`super::export`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ExportTable {
    /// `records`.
    Records,
    /// `dropped`.
    Dropped,
    /// The table of the declaration at this position.
    Event(usize),
}

/// The layouts of the export's tables: every table's columns but
/// `trace`, which the export's directories hold.
#[derive(Debug, Clone)]
pub(crate) struct ExportLayouts {
    pub(crate) records: Layout,
    pub(crate) dropped: Layout,
    /// By declaration position; `None` for a declaration without a table.
    pub(crate) events: Vec<Option<Layout>>,
}

impl ExportLayouts {
    pub(crate) fn new(shared: &Shared) -> Result<ExportLayouts> {
        let mut events = vec![None; shared.events.len()];
        for decl in super::schema::event_tables(&shared.events) {
            if let Some(slot) = events.get_mut(decl.position) {
                *slot = Some(without_trace(&Layout::event(decl))?);
            }
        }
        Ok(ExportLayouts {
            records: without_trace(&Layout::records())?,
            dropped: without_trace(&Layout::dropped())?,
            events,
        })
    }

    /// The layout of `table`.
    pub(crate) fn get(&self, table: ExportTable) -> Option<&Layout> {
        match table {
            ExportTable::Records => Some(&self.records),
            ExportTable::Dropped => Some(&self.dropped),
            ExportTable::Event(position) => self.events.get(position)?.as_ref(),
        }
    }
}

/// `layout` without its `trace` column.
fn without_trace(layout: &Layout) -> Result<Layout> {
    let keep: Vec<usize> = (0..layout.columns.len())
        .filter(|&i| layout.columns.get(i) != Some(&Column::Trace))
        .collect();
    layout.project(Some(&keep))
}

/// Reads the chunks `work` (trace index, chunk) as it yields them, building
/// the rows of every table at once (each record decoded once); calls
/// `emit` with each batch of [`BATCH_ROWS`] rows of a table, and at the
/// end with what is left of each. Stops at the first error, `emit`'s or
/// the trace's.
pub(crate) fn export_chunks(
    shared: &Shared,
    layouts: &ExportLayouts,
    work: impl IntoIterator<Item = (usize, ChunkPlan)>,
    mut emit: impl FnMut(ExportTable, RecordBatch) -> Result<()>,
) -> Result<()> {
    let events = &shared.events;
    let declared = events.len();
    let mut records = BatchMaker::new(layouts.records.clone(), shared);
    let mut dropped = BatchMaker::new(layouts.dropped.clone(), shared);
    let mut per_event: Vec<Option<BatchMaker>> = (0..declared).map(|_| None).collect();
    let mut trace_name = None;
    for (trace, plan) in work {
        let Some(loaded) = shared.traces.get(trace) else {
            continue;
        };
        let name = shared
            .trace_names
            .get(trace)
            .ok_or_else(|| DataFusionError::Internal(format!("no trace {trace}")))?;
        // A batch holds one trace's rows: finish the last trace's first.
        if let Some(old) = trace_name
            .filter(|&t| t != trace)
            .and_then(|t| shared.trace_names.get(t))
        {
            flush_all(
                shared,
                old,
                &mut records,
                &mut dropped,
                &mut per_event,
                &mut emit,
            )?;
        }
        trace_name = Some(trace);
        let reader = TraceReader::resume_within(&loaded.data, events, &plan.state).until(plan.end);
        let mut reader = loaded.data.guard(reader);
        let mut ev = Event::placeholder(events.dropped());
        let mut last_ts = plan.prev_timestamp_ns;
        loop {
            match reader.next_into(ev.record_mut()) {
                None => break,
                // Cut off in its last record: the records before it stand,
                // with a warning (as for queries).
                Some(Err(error)) if error.is_truncation() => {
                    shared.warn(format!("{}: {error}", loaded.name));
                    break;
                }
                Some(Err(error)) => return Err(loaded.fault(error)),
                Some(Ok(())) => {}
            }
            let rec = ev.record();
            let ts = rec.timestamp_ns;
            let prev = last_ts.unwrap_or(ts);
            last_ts = Some(ts);
            let position = rec.decl.position;
            let dropped_record = rec.is_dropped();
            let key = if dropped_record {
                declared
            } else {
                position.min(declared)
            };
            ev.decode_current().map_err(|e| loaded.fault(e))?;
            let delta = i64::try_from(i128::from(ts) - i128::from(prev)).ok();
            let key = i32::try_from(key).unwrap_or(i32::MAX);
            records.push(&ev, delta, key)?;
            if records.rows >= BATCH_ROWS {
                emit(
                    ExportTable::Records,
                    records.finish(name, &shared.event_names)?,
                )?;
            }
            let (table, maker) = if dropped_record {
                (ExportTable::Dropped, &mut dropped)
            } else {
                let Some(slot) = per_event.get_mut(position) else {
                    continue;
                };
                let Some(layout) = layouts.events.get(position).and_then(Option::as_ref) else {
                    continue;
                };
                let maker = slot.get_or_insert_with(|| BatchMaker::new(layout.clone(), shared));
                (ExportTable::Event(position), maker)
            };
            maker.push(&ev, delta, key)?;
            if maker.rows >= BATCH_ROWS {
                emit(table, maker.finish(name, &shared.event_names)?)?;
            }
        }
        shared.note_skips(trace, plan.index, reader.take_skips());
    }
    if let Some(name) = trace_name.and_then(|t| shared.trace_names.get(t)) {
        flush_all(
            shared,
            name,
            &mut records,
            &mut dropped,
            &mut per_event,
            &mut emit,
        )?;
    }
    Ok(())
}

/// Emits the rows every maker holds.
fn flush_all(
    shared: &Shared,
    name: &ArrayRef,
    records: &mut BatchMaker,
    dropped: &mut BatchMaker,
    per_event: &mut [Option<BatchMaker>],
    emit: &mut impl FnMut(ExportTable, RecordBatch) -> Result<()>,
) -> Result<()> {
    let fixed = [
        (ExportTable::Records, records),
        (ExportTable::Dropped, dropped),
    ];
    for (table, maker) in fixed {
        if maker.rows > 0 {
            emit(table, maker.finish(name, &shared.event_names)?)?;
        }
    }
    for (position, maker) in per_event.iter_mut().enumerate() {
        if let Some(maker) = maker
            && maker.rows > 0
        {
            emit(
                ExportTable::Event(position),
                maker.finish(name, &shared.event_names)?,
            )?;
        }
    }
    Ok(())
}

/// A string array of the texts `values` split at `offsets`, after
/// checking everything [`StringArray::try_new`] checks: the offsets
/// ascend from 0 to the text's end, each falls on a character boundary,
/// and the text is UTF-8. The UTF-8 check is `simdutf8`'s, with SIMD
/// (`args` is a row's worth of JSON text for every record, more bytes
/// than the trace).
fn text_array(offsets: Vec<i32>, values: Vec<u8>) -> Result<StringArray> {
    let invalid = |what: &str| DataFusionError::Internal(format!("a batch's text column {what}"));
    let text = simdutf8::basic::from_utf8(&values).map_err(|_| invalid("is not UTF-8"))?;
    let last = offsets.last().and_then(|&o| usize::try_from(o).ok());
    if offsets.first() != Some(&0) || last != Some(text.len()) {
        return Err(invalid("has offsets that do not span it"));
    }
    let mut previous = 0;
    for &offset in &offsets {
        let at = usize::try_from(offset).map_err(|_| invalid("has a negative offset"))?;
        if offset < previous || !text.is_char_boundary(at) {
            return Err(invalid("has an offset out of order or inside a character"));
        }
        previous = offset;
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let values = Buffer::from_vec(values);
    #[allow(unsafe_code)]
    // SAFETY: checked above, as `try_new` would: the offsets start at 0,
    // ascend, end at the text's end and fall on character boundaries, and
    // the text is UTF-8, so every value is UTF-8; there are no nulls.
    let array = unsafe { StringArray::new_unchecked(offsets, values, None) };
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(parts: &[&str]) -> (Vec<i32>, Vec<u8>) {
        let mut offsets = vec![0];
        let mut values = Vec::new();
        for part in parts {
            values.extend_from_slice(part.as_bytes());
            offsets.push(values.len() as i32);
        }
        (offsets, values)
    }

    #[test]
    fn text_array_keeps_every_text() {
        let parts = ["{}", r#"{"name":"é—ü"}"#, "", r#"{"a":1}"#];
        let (offsets, values) = texts(&parts);
        let array = text_array(offsets, values).unwrap();
        let got: Vec<&str> = array.iter().map(Option::unwrap).collect();
        assert_eq!(got, parts);
    }

    #[test]
    fn text_array_refuses_what_try_new_refuses() {
        // Not UTF-8.
        let (offsets, mut values) = texts(&["{\"a\":\"x\"}"]);
        values[6] = 0xff;
        assert!(text_array(offsets, values).is_err());
        // An offset inside a character (é is two bytes).
        let (_, values) = texts(&["é"]);
        assert!(text_array(vec![0, 1, 2], values).is_err());
        // Offsets that do not end at the text's end, or start past 0.
        let (_, values) = texts(&["{}{}"]);
        assert!(text_array(vec![0, 2], values.clone()).is_err());
        assert!(text_array(vec![1, 4], values.clone()).is_err());
        // Out of order, or negative.
        assert!(text_array(vec![0, 3, 2, 4], values.clone()).is_err());
        assert!(text_array(vec![0, -1, 4], values).is_err());
    }
}
