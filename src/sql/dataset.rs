//! An exported dataset's tables ([`super::export`]) registered as
//! DataFusion listing tables, `trace` from the partition directories, the
//! columns in the order of the tables read straight from traces.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::catalog::MemTable;
use datafusion::common::{Column, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{Expr, SessionContext};

use super::SqlError;
use super::export::PARTITION_COLUMN;
use super::schema::{self, Layout, SCHEMA_VERSION, SCHEMA_VERSION_KEY, name_type};
use crate::format::TraceEvents;

/// Registers every table of the dataset `dir` in `ctx`: each directory
/// of `dir` whose name does not start with `.` or `_` is a table whose
/// partitions are its `trace=NAME` directories. The tables' names, sorted.
pub async fn register_dataset(ctx: &SessionContext, dir: &Path) -> Result<Vec<String>, SqlError> {
    let io = |e: std::io::Error| SqlError::Dataset(format!("{}: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.file_type().map_err(io)?.is_dir() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(['.', '_']) {
            continue;
        }
        names.push(name);
    }
    names.sort();
    if names.is_empty() {
        return Err(SqlError::Dataset(format!(
            "{}: no tables (not a dataset written by simpletrace parquet?)",
            dir.display()
        )));
    }
    let state = ctx.state();
    for name in &names {
        let path = dir.join(name);
        let url = directory_url(&path)?;
        let options = ListingOptions::new(Arc::new(
            // Keep the files' metadata: the schema version is there.
            // Strings as Utf8 and bytes as Binary, the types of the
            // tables read from traces (not DataFusion's default views).
            ParquetFormat::default()
                .with_skip_metadata(false)
                .with_force_view_types(false),
        ))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), name_type())]);
        let schema = options
            .infer_schema(&state, &url)
            .await
            .map_err(SqlError::Register)?;
        match schema.metadata().get(SCHEMA_VERSION_KEY) {
            Some(v) if *v == SCHEMA_VERSION.to_string() => {}
            found => {
                return Err(SqlError::Dataset(format!(
                    "{}: schema version {}, where this simpletrace reads version {SCHEMA_VERSION}",
                    path.display(),
                    found.map_or("none", String::as_str)
                )));
            }
        }
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::clone(&schema));
        let table = ListingTable::try_new(config).map_err(SqlError::Register)?;
        // `trace` first, as in the tables read from traces (a listing
        // table puts its partition columns last).
        let columns = std::iter::once(PARTITION_COLUMN)
            .chain(schema.fields().iter().map(|f| f.name().as_str()))
            .map(|c| Expr::Column(Column::new_unqualified(c)));
        let view = ctx
            .read_table(Arc::new(table))
            .and_then(|df| df.select(columns.collect::<Vec<_>>()))
            .map_err(SqlError::Register)?
            .into_view();
        ctx.register_table(TableReference::bare(name.as_str()), view)
            .map_err(SqlError::Register)?;
    }
    let declared = declared_only(ctx, &names).await?;
    names.extend(declared);
    names.sort();
    Ok(names)
}

/// A table directory as DataFusion lists it: a `file://` URL, so that a
/// `*`, `?` or `[` in the path is a character (a plain path would be a
/// glob pattern there), every byte but unreserved ones percent-encoded.
fn directory_url(dir: &Path) -> Result<ListingTableUrl, SqlError> {
    let absolute = std::fs::canonicalize(dir)
        .map_err(|e| SqlError::Dataset(format!("{}: {e}", dir.display())))?;
    // DataFusion's object store names files in UTF-8.
    let text = absolute.to_str().ok_or_else(|| {
        SqlError::Dataset(format!("{}: the path is not UTF-8", absolute.display()))
    })?;
    let mut url = String::from("file://");
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push('/');
    ListingTableUrl::parse(url).map_err(SqlError::Register)
}

/// Registers an empty table for each event the dataset's `events` table
/// declares but that has no directory (no trace recorded it), so that a
/// query naming it runs as on the trace files; their names.
async fn declared_only(ctx: &SessionContext, have: &[String]) -> Result<Vec<String>, SqlError> {
    if !have.iter().any(|n| n == schema::EVENTS) {
        return Ok(Vec::new());
    }
    let batches = ctx
        .sql("SELECT name, arguments, format FROM events")
        .await
        .map_err(SqlError::Register)?
        .collect()
        .await
        .map_err(SqlError::Register)?;
    // The declarations again, as a trace-events file would write them.
    let mut text = String::new();
    let mut seen: Vec<&str> = have.iter().map(String::as_str).collect();
    for batch in &batches {
        let (Some(names), Some(args), Some(formats)) = (
            batch.column(0).as_string_opt::<i32>(),
            batch.column(1).as_string_opt::<i32>(),
            batch.column(2).as_string_opt::<i32>(),
        ) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            let name = names.value(row);
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let args = match args.value(row) {
                "" => "void",
                a => a,
            };
            let format = if formats.is_null(row) {
                "\"\""
            } else {
                formats.value(row)
            };
            text.push_str(&format!("{name}({args}) {format}\n"));
        }
    }
    let events = TraceEvents::parse("events", text.as_bytes())
        .map_err(|e| SqlError::Dataset(format!("the dataset's events table: {e}")))?;
    let mut added = Vec::new();
    for decl in schema::event_tables(&events) {
        let layout = Layout::event(decl);
        let table = MemTable::try_new(Arc::clone(&layout.schema), vec![vec![]])
            .map_err(SqlError::Register)?;
        ctx.register_table(TableReference::bare(decl.name.as_str()), Arc::new(table))
            .map_err(SqlError::Register)?;
        added.push(decl.name.clone());
    }
    Ok(added)
}
