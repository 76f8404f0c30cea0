//! The DataFusion table provider over a mapped trace: a scan is a
//! `StreamingTableExec` of partitions, each taking the traces' chunks one
//! at a time from the scan's `ChunkSource` and decoding them into
//! batches of the projected columns ([`super::batches`]), skipping records
//! outside the `ts_ns` and `pid` ranges the filters allow.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::Stream;

use super::batches::{Bounds, PartitionBatches, Step};
use super::schema::Layout;
use super::{ChunkSource, Shared};

/// One record table (`records`, `dropped`, or an event's) over every
/// trace.
#[derive(Debug)]
pub(crate) struct TraceTable {
    shared: Arc<Shared>,
    layout: Layout,
}

impl TraceTable {
    pub(crate) fn new(shared: &Arc<Shared>, layout: Layout) -> TraceTable {
        TraceTable {
            shared: Arc::clone(shared),
            layout,
        }
    }
}

#[async_trait]
impl TableProvider for TraceTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.layout.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                let mut bounds = Bounds::default();
                if narrow(&mut bounds, f) {
                    // DataFusion filters the rows again: the bounds only
                    // skip records that cannot pass.
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let layout = self.layout.project(projection)?;
        let mut bounds = Bounds::default();
        for f in filters {
            narrow(&mut bounds, f);
        }
        // A limit counts rows that pass every filter; with filters the
        // scan cannot know which do.
        let limit = if filters.is_empty() { limit } else { None };
        let partitions = state.config().target_partitions().max(1);
        // The partitions take the traces' chunks one at a time as each is
        // free (cut as they are first asked for, while the first ones are
        // read): all of them busy to the end, whatever filters skip.
        let work = Arc::new(ScanWork::default());
        let streams: Vec<Arc<dyn PartitionStream>> = (0..partitions)
            .map(|_| {
                let work = Arc::clone(&work);
                Arc::new(Partition {
                    shared: Arc::clone(&self.shared),
                    layout: layout.clone(),
                    bounds: bounds.clone(),
                    limit,
                    work,
                    executions: AtomicUsize::new(0),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        let exec = StreamingTableExec::try_new(
            Arc::clone(&layout.schema),
            streams,
            None,
            Vec::<LexOrdering>::new(),
            false,
            limit,
        )?;
        Ok(Arc::new(exec))
    }
}

/// One partition of a scan: its chunks, the columns, the bounds.
struct Partition {
    shared: Arc<Shared>,
    layout: Layout,
    bounds: Bounds,
    limit: Option<usize>,
    work: Arc<ScanWork>,
    /// How many times this partition has been executed.
    executions: AtomicUsize,
}

/// The chunks of one scan's executions: the partitions' n-th executions
/// share the n-th source, so that each execution of the plan reads every
/// chunk once.
#[derive(Debug, Default)]
struct ScanWork {
    rounds: Mutex<Vec<Arc<ChunkSource>>>,
}

impl ScanWork {
    fn round(&self, n: usize) -> Arc<ChunkSource> {
        let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
        while rounds.len() <= n {
            rounds.push(Arc::default());
        }
        rounds.get(n).map(Arc::clone).unwrap_or_default()
    }
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition")
            .field("table", &self.layout.kind)
            .field("columns", &self.layout.columns.len())
            .field("bounds", &self.bounds)
            .finish()
    }
}

impl PartitionStream for Partition {
    fn schema(&self) -> &SchemaRef {
        &self.layout.schema
    }

    /// Decodes the partition's chunks as the query asks for each batch,
    /// on the runtime thread that polls it: the command's runtime has a
    /// worker per thread (`--threads`) and DataFusion polls each partition
    /// from a task of its own, so the partitions decode in parallel and the
    /// operators above them (grouping, joins) run beside them, with no
    /// thread of their own and nothing decoded ahead of the query. (On a
    /// runtime of one thread the partitions decode in turn.)
    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches = PartitionBatches::new(
            Arc::clone(&self.shared),
            self.layout.clone(),
            self.bounds.clone(),
            self.limit,
            self.work
                .round(self.executions.fetch_add(1, Ordering::Relaxed)),
        );
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.layout.schema),
            Decoding(batches),
        ))
    }
}

/// A partition's batches, decoded on the thread that polls for them.
/// After a chunk that made no batch (a rare event's table, a narrow
/// `ts_ns` range: many chunks for one batch) the task hands its thread
/// back and is woken again at once, so that a query that is over (a
/// `LIMIT` met, an error, a closed pipe) stops it within a chunk rather
/// than after the whole scan: a runtime's shutdown waits for the polls
/// under way, and its other tasks for the thread.
struct Decoding(PartitionBatches);

impl Stream for Decoding {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.next_step() {
            Ok(Step::Batch(batch)) => Poll::Ready(Some(Ok(batch))),
            Ok(Step::Read) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Ok(Step::End) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// Which bounded column an expression is: `ts_ns` or `pid`, maybe under
/// casts to integer types that hold every value of the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bounded {
    TsNs,
    Pid,
}

fn bounded_column(expr: &Expr) -> Option<Bounded> {
    match expr {
        Expr::Column(c) if c.name == "ts_ns" => Some(Bounded::TsNs),
        Expr::Column(c) if c.name == "pid" => Some(Bounded::Pid),
        Expr::Cast(cast) => {
            use datafusion::arrow::datatypes::DataType::*;
            let inner = bounded_column(&cast.expr)?;
            // A cast that keeps every value keeps the order too.
            let keeps = matches!(
                (inner, cast.field.data_type()),
                (Bounded::TsNs, UInt64 | Decimal128(_, 0) | Decimal256(_, 0))
                    | (
                        Bounded::Pid,
                        UInt32 | UInt64 | Int64 | Decimal128(_, 0) | Decimal256(_, 0)
                    )
            );
            keeps.then_some(inner)
        }
        _ => None,
    }
}

/// An integer constant, widened.
fn constant(expr: &Expr) -> Option<i128> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    Some(match value {
        ScalarValue::Int8(Some(v)) => i128::from(*v),
        ScalarValue::Int16(Some(v)) => i128::from(*v),
        ScalarValue::Int32(Some(v)) => i128::from(*v),
        ScalarValue::Int64(Some(v)) => i128::from(*v),
        ScalarValue::UInt8(Some(v)) => i128::from(*v),
        ScalarValue::UInt16(Some(v)) => i128::from(*v),
        ScalarValue::UInt32(Some(v)) => i128::from(*v),
        ScalarValue::UInt64(Some(v)) => i128::from(*v),
        ScalarValue::Decimal128(Some(v), _, 0) => *v,
        _ => return None,
    })
}

/// Narrows `bounds` to what `filter` allows, if it is a comparison of
/// `ts_ns` or `pid` with constants; says whether it was.
fn narrow(bounds: &mut Bounds, filter: &Expr) -> bool {
    let Some((column, lo, hi)) = range_of(filter) else {
        return false;
    };
    fn clip<T: TryFrom<i128> + Copy>(
        lo: i128,
        hi: i128,
        range: &mut std::ops::RangeInclusive<T>,
        min: T,
        max: T,
    ) where
        i128: From<T>,
    {
        let (old_lo, old_hi) = (i128::from(*range.start()), i128::from(*range.end()));
        let new_lo = lo.max(old_lo);
        let new_hi = hi.min(old_hi);
        *range = if new_lo > new_hi {
            // Nothing passes: an empty range.
            max..=min
        } else {
            T::try_from(new_lo).unwrap_or(min)..=T::try_from(new_hi).unwrap_or(max)
        };
    }
    match column {
        Bounded::TsNs => clip(lo, hi, &mut bounds.ts_ns, 0, u64::MAX),
        Bounded::Pid => clip(lo, hi, &mut bounds.pid, 0, u32::MAX),
    }
    true
}

/// The column and the closed range of values `filter` allows.
fn range_of(filter: &Expr) -> Option<(Bounded, i128, i128)> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, value, op) = match (bounded_column(left), constant(right)) {
                (Some(c), Some(v)) => (c, v, *op),
                _ => (bounded_column(right)?, constant(left)?, op.swap()?),
            };
            match op {
                Operator::Eq => Some((column, value, value)),
                Operator::Lt => Some((column, i128::MIN, value - 1)),
                Operator::LtEq => Some((column, i128::MIN, value)),
                Operator::Gt => Some((column, value + 1, i128::MAX)),
                Operator::GtEq => Some((column, value, i128::MAX)),
                _ => None,
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => Some((bounded_column(expr)?, constant(low)?, constant(high)?)),
        Expr::InList(list) if !list.negated && !list.list.is_empty() => {
            let column = bounded_column(&list.expr)?;
            let values: Option<Vec<i128>> = list.list.iter().map(constant).collect();
            let values = values?;
            Some((column, *values.iter().min()?, *values.iter().max()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn bounds(filters: &[Expr]) -> (Bounds, Vec<bool>) {
        let mut b = Bounds::default();
        let taken = filters.iter().map(|f| narrow(&mut b, f)).collect();
        (b, taken)
    }

    /// Comparisons, BETWEEN and IN of ts_ns and pid with constants narrow
    /// the ranges, whichever side the column is on; anything else is left
    /// to DataFusion.
    #[test]
    fn filters_become_ranges() {
        let (b, taken) = bounds(&[
            col("ts_ns").gt_eq(lit(100u64)),
            lit(500i64).gt(col("ts_ns")),
            col("pid").in_list(vec![lit(7i64), lit(3i64)], false),
            col("other").eq(lit(1)),
            col("pid").eq(lit(1)).or(col("pid").eq(lit(2))),
        ]);
        assert_eq!(b.ts_ns, 100..=499);
        assert_eq!(b.pid, 3..=7);
        assert_eq!(taken, [true, true, true, false, false]);
        let (b, _) = bounds(&[col("pid").between(lit(5), lit(9)), col("pid").lt(lit(2))]);
        assert!(b.is_empty());
        let (b, _) = bounds(&[col("pid").eq(lit(-1i64))]);
        assert!(b.is_empty());
        let (b, _) = bounds(&[col("ts_ns").lt_eq(lit(i64::MAX))]);
        assert_eq!(b.ts_ns, 0..=i64::MAX as u64);
    }
}
