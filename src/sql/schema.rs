//! The relational model of a trace (docs/sql.md, schema version
//! [`SCHEMA_VERSION`]): which tables there are, their columns, and each
//! column's Arrow type, from the trace-events declarations alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::format::{ArgKind, EventDecl, TraceEvents};

/// The version of the model docs/sql.md describes. A change to a table's
/// name, a column's name or type, or what a column holds, is a new
/// version; a new table or column is not.
pub const SCHEMA_VERSION: u32 = 1;

/// The key under which every table's Arrow schema carries
/// [`SCHEMA_VERSION`] (and a Parquet file's metadata will).
pub const SCHEMA_VERSION_KEY: &str = "simpletrace.schema_version";

/// The table of every record.
pub const RECORDS: &str = "records";
/// The table of dropped-events records.
pub const DROPPED: &str = "dropped";
/// The table of the declarations.
pub const EVENTS: &str = "events";

/// The columns every per-event table starts with, in order: an argument
/// with one of these names gets `_arg` appended to its column's name.
pub const EVENT_TABLE_COLUMNS: [&str; 5] = ["trace", "ts_ns", "pid", "record", "file_offset"];

/// What a column of a record table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    /// The trace's name (its file name).
    Trace,
    /// The event's name (`records`).
    Event,
    /// The event id the record carries (`records`).
    Id,
    /// The timestamp.
    TsNs,
    /// The difference from the previous record's timestamp (`records`).
    DeltaNs,
    /// The pid.
    Pid,
    /// The record's number (mapping records counted).
    Record,
    /// The record's byte offset.
    FileOffset,
    /// The arguments as a JSON object (`records`).
    Args,
    /// The exact bytes of non-UTF-8 strings, as JSON (`records`).
    Raw,
    /// A dropped-events record's count (`dropped`).
    NumDropped,
    /// The argument at this position (per-event tables).
    Arg(usize),
    /// The exact bytes of the string argument at this position, when they
    /// are not UTF-8 (per-event tables).
    ArgRaw(usize),
}

/// Which records a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    /// The records of the declaration at this position.
    Event(usize),
    /// Every record.
    Records,
    /// Dropped-events records.
    Dropped,
}

/// A record table's columns, and its Arrow schema (field `i` is
/// `columns[i]`).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) kind: TableKind,
    pub(crate) columns: Vec<Column>,
    pub(crate) schema: SchemaRef,
}

/// The dictionary type of the `trace` and `event` columns.
pub(crate) fn name_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The schema metadata every table carries.
fn metadata() -> HashMap<String, String> {
    HashMap::from([(SCHEMA_VERSION_KEY.to_owned(), SCHEMA_VERSION.to_string())])
}

fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(fields, metadata()))
}

/// The Arrow type of an argument's column.
pub(crate) fn arg_type(kind: ArgKind) -> DataType {
    match kind {
        ArgKind::String => DataType::Utf8,
        ArgKind::Pointer => DataType::UInt64,
        ArgKind::Bool => DataType::Boolean,
        ArgKind::Int { signed, bits } => match (signed, bits) {
            (true, 8) => DataType::Int8,
            (true, 16) => DataType::Int16,
            (true, 32) => DataType::Int32,
            (true, _) => DataType::Int64,
            (false, 8) => DataType::UInt8,
            (false, 16) => DataType::UInt16,
            (false, 32) => DataType::UInt32,
            (false, _) => DataType::UInt64,
        },
    }
}

/// The column names of a declaration's arguments: for each argument, its
/// value column and, for a string, the column of its exact bytes. An
/// argument's column is its name, with `_arg` appended while that is
/// taken (by a column every table starts with, or an earlier argument);
/// a string's bytes column is its column's name with `_raw` appended,
/// again while taken.
pub fn argument_columns(decl: &EventDecl) -> Vec<(String, Option<String>)> {
    let mut taken: HashSet<String> = EVENT_TABLE_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let mut values = Vec::with_capacity(decl.args.len());
    for arg in &decl.args {
        let mut name = arg.name.clone();
        while taken.contains(&name) {
            name.push_str("_arg");
        }
        taken.insert(name.clone());
        values.push(name);
    }
    values
        .into_iter()
        .zip(&decl.args)
        .map(|(name, arg)| {
            let raw = (arg.kind == ArgKind::String).then(|| {
                let mut raw = format!("{name}_raw");
                while taken.contains(&raw) {
                    raw.push_str("_raw");
                }
                taken.insert(raw.clone());
                raw
            });
            (name, raw)
        })
        .collect()
}

impl Layout {
    /// The table of one declaration's records.
    pub(crate) fn event(decl: &EventDecl) -> Layout {
        let mut columns = vec![
            Column::Trace,
            Column::TsNs,
            Column::Pid,
            Column::Record,
            Column::FileOffset,
        ];
        let mut fields = vec![
            Field::new("trace", name_type(), false),
            Field::new("ts_ns", DataType::UInt64, false),
            Field::new("pid", DataType::UInt32, false),
            Field::new("record", DataType::UInt64, false),
            Field::new("file_offset", DataType::UInt64, false),
        ];
        let mut raws = Vec::new();
        for (i, ((name, raw), arg)) in argument_columns(decl)
            .into_iter()
            .zip(&decl.args)
            .enumerate()
        {
            columns.push(Column::Arg(i));
            fields.push(Field::new(name, arg_type(arg.kind), false));
            if let Some(raw) = raw {
                raws.push((i, raw));
            }
        }
        // The bytes columns after every argument: `SELECT *` shows the
        // arguments in declaration order, as `simpletrace json` does.
        for (i, raw) in raws {
            columns.push(Column::ArgRaw(i));
            fields.push(Field::new(raw, DataType::Binary, true));
        }
        Layout {
            kind: TableKind::Event(decl.position),
            columns,
            schema: schema(fields),
        }
    }

    /// The `records` table.
    pub(crate) fn records() -> Layout {
        let columns = vec![
            (Column::Trace, Field::new("trace", name_type(), false)),
            (Column::Event, Field::new("event", name_type(), false)),
            (Column::Id, Field::new("id", DataType::UInt64, false)),
            (Column::TsNs, Field::new("ts_ns", DataType::UInt64, false)),
            (
                Column::DeltaNs,
                Field::new("delta_ns", DataType::Int64, true),
            ),
            (Column::Pid, Field::new("pid", DataType::UInt32, false)),
            (
                Column::Record,
                Field::new("record", DataType::UInt64, false),
            ),
            (
                Column::FileOffset,
                Field::new("file_offset", DataType::UInt64, false),
            ),
            (Column::Args, Field::new("args", DataType::Utf8, false)),
            (Column::Raw, Field::new("raw", DataType::Utf8, true)),
        ];
        Self::of(TableKind::Records, columns)
    }

    /// The `dropped` table.
    pub(crate) fn dropped() -> Layout {
        let columns = vec![
            (Column::Trace, Field::new("trace", name_type(), false)),
            (Column::TsNs, Field::new("ts_ns", DataType::UInt64, false)),
            (Column::Pid, Field::new("pid", DataType::UInt32, false)),
            (
                Column::Record,
                Field::new("record", DataType::UInt64, false),
            ),
            (
                Column::FileOffset,
                Field::new("file_offset", DataType::UInt64, false),
            ),
            (
                Column::NumDropped,
                Field::new("num_events_dropped", DataType::UInt64, false),
            ),
        ];
        Self::of(TableKind::Dropped, columns)
    }

    fn of(kind: TableKind, columns: Vec<(Column, Field)>) -> Layout {
        let (columns, fields) = columns.into_iter().unzip();
        Layout {
            kind,
            columns,
            schema: schema(fields),
        }
    }

    /// This layout with only the columns at `projection` (all without one).
    pub(crate) fn project(
        &self,
        projection: Option<&Vec<usize>>,
    ) -> datafusion::error::Result<Layout> {
        let Some(projection) = projection else {
            return Ok(self.clone());
        };
        let columns = projection
            .iter()
            .map(|&i| {
                self.columns.get(i).copied().ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal(format!(
                        "column {i} of a table of {} columns",
                        self.columns.len()
                    ))
                })
            })
            .collect::<datafusion::error::Result<_>>()?;
        Ok(Layout {
            kind: self.kind,
            columns,
            schema: Arc::new(self.schema.project(projection)?),
        })
    }
}

/// The `events` table's schema: one row per trace and declaration.
pub(crate) fn events_schema() -> SchemaRef {
    schema(vec![
        Field::new("trace", name_type(), false),
        Field::new("name", DataType::Utf8, false),
        Field::new("id", DataType::UInt64, true),
        Field::new("position", DataType::UInt32, false),
        Field::new("line", DataType::UInt32, false),
        Field::new("disabled", DataType::Boolean, false),
        Field::new("vcpu", DataType::Boolean, false),
        Field::new("arguments", DataType::Utf8, false),
        Field::new("columns", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, true),
    ])
}

/// The per-event tables: each declaration that gets one, by table name
/// (the event's name). A declaration whose name is one of the fixed
/// tables', or repeats an earlier declaration's, gets none.
pub(crate) fn event_tables(events: &TraceEvents) -> Vec<&EventDecl> {
    let mut seen: HashSet<&str> = [RECORDS, DROPPED, EVENTS].into_iter().collect();
    events
        .iter()
        .filter(|decl| seen.insert(decl.name.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(text: &str) -> EventDecl {
        TraceEvents::parse("te", text.as_bytes())
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .clone()
    }

    /// Argument columns keep their names unless a fixed column or an
    /// earlier column has it; strings get a bytes column after all of
    /// them.
    #[test]
    fn argument_names_never_collide() {
        let d =
            decl("ev(int offset, const char *name, uint64_t pid, int name_raw, int offset_arg)\n");
        let cols = argument_columns(&d);
        assert_eq!(
            cols,
            [
                ("offset".to_owned(), None),
                ("name".to_owned(), Some("name_raw_raw".to_owned())),
                ("pid_arg".to_owned(), None),
                ("name_raw".to_owned(), None),
                ("offset_arg".to_owned(), None),
            ]
        );
        let layout = Layout::event(&d);
        let names: Vec<&str> = layout
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            names,
            [
                "trace",
                "ts_ns",
                "pid",
                "record",
                "file_offset",
                "offset",
                "name",
                "pid_arg",
                "name_raw",
                "offset_arg",
                "name_raw_raw"
            ]
        );
        assert_eq!(
            layout
                .schema
                .metadata()
                .get(SCHEMA_VERSION_KEY)
                .map(String::as_str),
            Some("1")
        );
    }

    /// Each C type gets the Arrow type of its width and sign.
    #[test]
    fn argument_types_follow_c_types() {
        let d = decl(
            "ev(int8_t a, unsigned short b, int c, uint32_t d, long e, size_t f, void *g, bool h, const char *i, char j)\n",
        );
        let types: Vec<DataType> = d.args.iter().map(|a| arg_type(a.kind)).collect();
        assert_eq!(
            types,
            [
                DataType::Int8,
                DataType::UInt16,
                DataType::Int32,
                DataType::UInt32,
                DataType::Int64,
                DataType::UInt64,
                DataType::UInt64,
                DataType::Boolean,
                DataType::Utf8,
                DataType::Int8,
            ]
        );
    }

    /// The fixed tables' names are not taken by events.
    #[test]
    fn fixed_tables_win() {
        let events = TraceEvents::parse("te", b"records(int x)\na(void)\na(int y)\n").unwrap();
        let names: Vec<&str> = event_tables(&events)
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["a"]);
    }
}
