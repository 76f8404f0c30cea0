//! Views that give another engine an exported dataset's tables
//! (docs/sql.md, "The same queries in DuckDB and Spark"): every table that
//! `simpletrace sql --dataset` knows, those no trace has rows of too.
//!
//! DuckDB and Spark read a table's files by a path pattern, and a pattern
//! that matches nothing is an error: a table without a directory (no
//! exported trace recorded its event) cannot be read that way. The views
//! read each table that has files from its directory (new traces' files
//! included, whenever they are added), with `trace` first and a string as
//! on the traces, and make each table without files an empty one of the
//! columns and types the engine gives that table when it has files. Only
//! which tables have files is fixed when the views are written: after an
//! export adds a table's first rows, write them again.

use std::path::Path;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;

use super::SqlError;
use super::dataset::register_dataset;

/// An engine [`dataset_views`] writes views for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Engine {
    /// DuckDB: SQL `CREATE OR REPLACE VIEW` statements, for its shell
    /// (`duckdb -init FILE`, `.read FILE`) or `duckdb.sql(...)`.
    DuckDb,
    /// Apache Spark: Python that registers temporary views in the PySpark
    /// session `spark`.
    Spark,
}

/// One table of a dataset, as the views describe it.
#[derive(Debug, Clone)]
pub struct DatasetTable {
    /// The table's name.
    pub name: String,
    /// Its columns, `trace` first (as `simpletrace sql --dataset` has them).
    pub schema: SchemaRef,
    /// Whether it has a directory of files (else no trace has rows of it).
    pub has_files: bool,
}

/// The views of every table of the dataset `dir` for `engine`: a script
/// to run in that engine.
///
/// ```no_run
/// use simpletrace::sql::views::{Engine, dataset_views};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let script = dataset_views("dataset".as_ref(), Engine::DuckDb).await?;
/// std::fs::write("views.sql", script)?;
/// # Ok(())
/// # }
/// ```
pub async fn dataset_views(dir: &Path, engine: Engine) -> Result<String, SqlError> {
    let ctx = SessionContext::new();
    let names = register_dataset(&ctx, dir).await?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let provider = ctx
            .table_provider(TableReference::bare(name.as_str()))
            .await
            .map_err(SqlError::Register)?;
        tables.push(DatasetTable {
            has_files: dir.join(&name).is_dir(),
            schema: provider.schema(),
            name,
        });
    }
    let root = std::fs::canonicalize(dir)
        .map_err(|e| SqlError::Dataset(format!("{}: {e}", dir.display())))?;
    render(&root, &tables, engine)
}

/// The script of [`dataset_views`] for `tables` of the dataset at `root`
/// (the absolute path written into it).
pub fn render(root: &Path, tables: &[DatasetTable], engine: Engine) -> Result<String, SqlError> {
    let root = root.to_str().ok_or_else(|| {
        SqlError::Dataset(format!(
            "{}: the path is not UTF-8, which an engine's script cannot name",
            root.display()
        ))
    })?;
    // The engines expand these in a path (glob patterns); none escapes them.
    if let Some(c) = root.chars().find(|c| "*?[]{}\\".contains(*c)) {
        return Err(SqlError::Dataset(format!(
            "{root}: '{c}' in the path would be read as a pattern by the engine; \
             move the dataset or link it under a plainer path"
        )));
    }
    // A line break would end the script's comment that names the dataset.
    if root.chars().any(char::is_control) {
        return Err(SqlError::Dataset(format!(
            "{root:?}: a control character in the path; move the dataset or link it \
             under a plainer path"
        )));
    }
    // Both engines' names ignore case: of tables whose names differ only
    // in case, the first is the one (a later view would replace it).
    let mut seen = std::collections::HashSet::new();
    let (tables, shadowed): (Vec<&DatasetTable>, Vec<&DatasetTable>) = tables
        .iter()
        .partition(|t| seen.insert(t.name.to_lowercase()));
    let mut out = String::new();
    let comment = match engine {
        Engine::DuckDb => {
            duckdb(&mut out, root, &tables);
            "--"
        }
        Engine::Spark => {
            spark(&mut out, root, &tables);
            "#"
        }
    };
    for table in shadowed {
        out.push_str(&format!(
            "{comment} No view of {:?}: the engine does not tell it from a table whose \
             name differs only in case.\n",
            table.name
        ));
    }
    Ok(out)
}

fn duckdb(out: &mut String, root: &str, tables: &[&DatasetTable]) {
    out.push_str(&format!(
        "-- The tables of the simpletrace dataset {root}, as DuckDB views\n\
         -- (simpletrace sql --dataset DIR --views duckdb). Tables without files\n\
         -- are empty views: print these again once an export adds rows to one.\n"
    ));
    for table in tables {
        let name = sql_ident(&table.name);
        if table.has_files {
            let pattern = sql_str(&format!("{root}/{}/*/*.parquet", table.name));
            out.push_str(&format!(
                "CREATE OR REPLACE VIEW {name} AS SELECT trace, * EXCLUDE (trace) FROM \
                 read_parquet({pattern}, hive_partitioning = true, \
                 hive_types = {{'trace': VARCHAR}});\n"
            ));
        } else {
            let columns: Vec<String> = table
                .schema
                .fields()
                .iter()
                .map(|f| {
                    format!(
                        "CAST(NULL AS {}) AS {}",
                        duckdb_type(f.data_type()),
                        sql_ident(f.name())
                    )
                })
                .collect();
            out.push_str(&format!(
                "CREATE OR REPLACE VIEW {name} AS SELECT {} WHERE false;\n",
                columns.join(", ")
            ));
        }
    }
}

fn spark(out: &mut String, root: &str, tables: &[&DatasetTable]) {
    out.push_str(&format!(
        "# The tables of the simpletrace dataset {root}, as temporary views of\n\
         # the PySpark session `spark` (simpletrace sql --dataset DIR --views spark).\n\
         # Tables without files are empty views: print these again once an\n\
         # export adds rows to one.\n\
         from pyspark.sql import types as T\n\
         \n\
         # `trace` stays a string, as on the traces (Spark would make a name\n\
         # of digits a number).\n\
         spark.conf.set(\"spark.sql.sources.partitionColumnTypeInference.enabled\", \"false\")\n\
         \n\
         def _files(name, path):\n\
         \x20   df = spark.read.parquet(path)\n\
         \x20   df.select(\"trace\", *[c for c in df.columns if c != \"trace\"]).createOrReplaceTempView(name)\n\
         \n\
         def _empty(name, fields):\n\
         \x20   spark.createDataFrame([], T.StructType(fields)).createOrReplaceTempView(name)\n\
         \n"
    ));
    for table in tables {
        let name = py_str(&table.name);
        if table.has_files {
            let path = py_str(&format!("{root}/{}", table.name));
            out.push_str(&format!("_files({name}, {path})\n"));
        } else {
            let fields: Vec<String> = table
                .schema
                .fields()
                .iter()
                // Nullable: Spark reads every column of Parquet files so.
                .map(|f| {
                    format!(
                        "T.StructField({}, {}, True)",
                        py_str(f.name()),
                        spark_type(f.data_type())
                    )
                })
                .collect();
            out.push_str(&format!("_empty({name}, [{}])\n", fields.join(", ")));
        }
    }
}

/// The DuckDB type of a column of this Arrow type in the Parquet files.
fn duckdb_type(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "BOOLEAN",
        DataType::Int8 => "TINYINT",
        DataType::Int16 => "SMALLINT",
        DataType::Int32 => "INTEGER",
        DataType::Int64 => "BIGINT",
        DataType::UInt8 => "UTINYINT",
        DataType::UInt16 => "USMALLINT",
        DataType::UInt32 => "UINTEGER",
        DataType::UInt64 => "UBIGINT",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BLOB",
        // Strings, and the dictionaries of strings (`trace`, `event`).
        _ => "VARCHAR",
    }
}

/// The Spark type of a column of this Arrow type in the Parquet files:
/// Spark has no unsigned types and widens them (UInt64 to a decimal).
fn spark_type(t: &DataType) -> &'static str {
    match t {
        DataType::Boolean => "T.BooleanType()",
        DataType::Int8 => "T.ByteType()",
        DataType::Int16 | DataType::UInt8 => "T.ShortType()",
        DataType::Int32 | DataType::UInt16 => "T.IntegerType()",
        DataType::Int64 | DataType::UInt32 => "T.LongType()",
        DataType::UInt64 => "T.DecimalType(20, 0)",
        DataType::Float32 => "T.FloatType()",
        DataType::Float64 => "T.DoubleType()",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "T.BinaryType()",
        _ => "T.StringType()",
    }
}

/// `s` as a double-quoted SQL identifier.
fn sql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `s` as a single-quoted SQL string.
fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `s` as a Python string literal (a JSON string is one).
fn py_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn tables() -> Vec<DatasetTable> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("trace", super::super::schema::name_type(), false),
            Field::new("ts_ns", DataType::UInt64, false),
            Field::new("size", DataType::UInt32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("name_raw", DataType::Binary, true),
        ]));
        vec![
            DatasetTable {
                name: "with_rows".into(),
                schema: Arc::clone(&schema),
                has_files: true,
            },
            DatasetTable {
                name: "no_rows".into(),
                schema,
                has_files: false,
            },
        ]
    }

    #[test]
    fn duckdb_reads_files_and_types_empty_tables() {
        let s = render(Path::new("/data/it's"), &tables(), Engine::DuckDb).unwrap();
        assert!(s.contains(
            "CREATE OR REPLACE VIEW \"with_rows\" AS SELECT trace, * EXCLUDE (trace) FROM \
             read_parquet('/data/it''s/with_rows/*/*.parquet', hive_partitioning = true, \
             hive_types = {'trace': VARCHAR});\n"
        ));
        assert!(s.contains(
            "CREATE OR REPLACE VIEW \"no_rows\" AS SELECT CAST(NULL AS VARCHAR) AS \"trace\", \
             CAST(NULL AS UBIGINT) AS \"ts_ns\", CAST(NULL AS UINTEGER) AS \"size\", \
             CAST(NULL AS VARCHAR) AS \"name\", CAST(NULL AS BLOB) AS \"name_raw\" WHERE false;\n"
        ));
    }

    #[test]
    fn spark_reads_files_and_types_empty_tables() {
        let s = render(Path::new("/data/x"), &tables(), Engine::Spark).unwrap();
        assert!(s.contains("_files(\"with_rows\", \"/data/x/with_rows\")\n"));
        assert!(s.contains(
            "_empty(\"no_rows\", [T.StructField(\"trace\", T.StringType(), True), \
             T.StructField(\"ts_ns\", T.DecimalType(20, 0), True), \
             T.StructField(\"size\", T.LongType(), True), \
             T.StructField(\"name\", T.StringType(), True), \
             T.StructField(\"name_raw\", T.BinaryType(), True)])\n"
        ));
    }

    #[test]
    fn names_that_differ_only_in_case_get_one_view() {
        let mut t = tables();
        t[1].name = "With_Rows".into();
        for engine in [Engine::DuckDb, Engine::Spark] {
            let s = render(Path::new("/d"), &t, engine).unwrap();
            assert!(s.contains("\"with_rows\""), "{s}");
            // Named once: in the comment, not in a view.
            assert_eq!(s.matches("\"With_Rows\"").count(), 1, "{s}");
            assert!(s.contains("No view of \"With_Rows\""), "{s}");
        }
    }

    #[test]
    fn paths_an_engine_would_expand_are_refused() {
        for bad in ["/data/a*b", "/data/[x]", "/data/{a,b}", "/data/q?"] {
            let e = render(Path::new(bad), &tables(), Engine::DuckDb).unwrap_err();
            assert!(e.to_string().contains("pattern"), "{bad}: {e}");
        }
        // Nor a line break, which would end a comment and start code.
        let e = render(
            Path::new("/data/x\nDROP VIEW t; --"),
            &tables(),
            Engine::Spark,
        )
        .unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }
}
