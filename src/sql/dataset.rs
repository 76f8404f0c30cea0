//! An exported dataset's tables ([`super::export`]) registered as
//! DataFusion listing tables, `trace` from the partition directories, the
//! columns in the order of the tables read straight from traces.

use std::path::Path;
use std::sync::Arc;

use datafusion::common::{Column, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{Expr, SessionContext};

use super::SqlError;
use super::export::PARTITION_COLUMN;
use super::schema::{SCHEMA_VERSION, SCHEMA_VERSION_KEY, name_type};

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
        let url = ListingTableUrl::parse(format!("{}/", path.display()))
            .map_err(SqlError::Register)?;
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
    Ok(names)
}
