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

use std::collections::HashMap;
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
struct DatasetTable {
    /// The table's name.
    name: String,
    /// Its columns, `trace` first (as `simpletrace sql --dataset` has them).
    schema: SchemaRef,
    /// Whether it has a directory of files (else no trace has rows of it).
    has_files: bool,
}

/// The views of every table of the dataset `dir` for `engine`: a script
/// to run in that engine. The script names the dataset by its absolute
/// path (symbolic links kept as given).
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
    let absolute = std::path::absolute(dir)
        .map_err(|e| SqlError::Dataset(format!("{}: {e}", dir.display())))?;
    let root = script_path(&absolute)?;
    let ctx = SessionContext::new();
    let names = register_dataset(&ctx, dir).await?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let provider = ctx
            .table_provider(TableReference::bare(name.as_str()))
            .await
            .map_err(SqlError::Register)?;
        // A directory itself, as register_dataset takes one (not a link).
        let has_files = std::fs::symlink_metadata(dir.join(&name)).is_ok_and(|m| m.is_dir());
        tables.push(DatasetTable {
            has_files,
            schema: provider.schema(),
            name,
        });
    }
    render(root, &tables, engine)
}

/// `path` as a script can name it: UTF-8, without a character the
/// engines would read as a pattern (they escape none) or a control
/// character (a line break would end the script's comment and start code).
fn script_path(path: &Path) -> Result<&str, SqlError> {
    let unscriptable = |found| SqlError::UnscriptablePath {
        path: path.to_owned(),
        found,
    };
    let text = path.to_str().ok_or_else(|| unscriptable(None))?;
    match text
        .chars()
        .find(|&c| "*?[]{}\\".contains(c) || c.is_control())
    {
        Some(c) => Err(unscriptable(Some(c))),
        None => Ok(text),
    }
}

/// The script of [`dataset_views`] for `tables` of the dataset at `root`.
fn render(root: &str, tables: &[DatasetTable], engine: Engine) -> Result<String, SqlError> {
    // Both engines' names ignore case, so tables whose names differ only
    // in case get one view: the one whose name is in lower case if there
    // is one (what an unquoted name reaches in `simpletrace sql`, and
    // every fixed table's), else the first.
    let mut chosen: HashMap<String, usize> = HashMap::new();
    for (i, table) in tables.iter().enumerate() {
        let lower = table.name.to_lowercase();
        let replaces = chosen
            .get(&lower)
            .and_then(|&j| tables.get(j))
            .is_some_and(|kept| kept.name != lower && table.name == lower);
        if replaces || !chosen.contains_key(&lower) {
            chosen.insert(lower, i);
        }
    }
    let (kept, shadowed): (Vec<_>, Vec<_>) = tables
        .iter()
        .enumerate()
        .partition(|(i, t)| chosen.get(&t.name.to_lowercase()) == Some(i));
    let kept: Vec<&DatasetTable> = kept.into_iter().map(|(_, t)| t).collect();
    for table in kept.iter().filter(|t| t.has_files) {
        // Its directory goes into a path the engine expands.
        script_path(Path::new(&table.name))?;
    }
    let mut out = String::new();
    let comment = match engine {
        Engine::DuckDb => {
            duckdb(&mut out, root, &kept)?;
            "--"
        }
        Engine::Spark => {
            spark(&mut out, root, &kept)?;
            "#"
        }
    };
    for (_, table) in shadowed {
        out.push_str(&format!(
            "{comment} No view of {:?}: the engine does not tell it from {:?}.\n",
            table.name,
            tables
                .get(chosen.get(&table.name.to_lowercase()).copied().unwrap_or(0))
                .map_or("", |t| t.name.as_str()),
        ));
    }
    Ok(out)
}

fn duckdb(out: &mut String, root: &str, tables: &[&DatasetTable]) -> Result<(), SqlError> {
    out.push_str(&format!(
        "-- The tables of the simpletrace dataset {root}, as DuckDB views\n\
         -- (simpletrace sql --dataset DIR --views duckdb). Tables without files\n\
         -- are empty views: write these again once an export adds rows to one.\n"
    ));
    for table in tables {
        let name = sql_ident(&table.name);
        if table.has_files {
            let pattern = sql_str(&format!("{root}/{}/trace=*/*.parquet", table.name));
            // union_by_name: traces exported with other declarations of
            // an event have other columns in its table.
            out.push_str(&format!(
                "CREATE OR REPLACE VIEW {name} AS SELECT trace, * EXCLUDE (trace) FROM \
                 read_parquet({pattern}, hive_partitioning = true, \
                 hive_types = {{'trace': VARCHAR}}, union_by_name = true);\n"
            ));
        } else {
            let columns = table
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let t = engine_type(Engine::DuckDb, &table.name, f.name(), f.data_type())?;
                    Ok(format!("CAST(NULL AS {t}) AS {}", sql_ident(f.name())))
                })
                .collect::<Result<Vec<_>, SqlError>>()?;
            out.push_str(&format!(
                "CREATE OR REPLACE VIEW {name} AS SELECT {} WHERE false;\n",
                columns.join(", ")
            ));
        }
    }
    Ok(())
}

fn spark(out: &mut String, root: &str, tables: &[&DatasetTable]) -> Result<(), SqlError> {
    out.push_str(&format!(
        "# The tables of the simpletrace dataset {root}, as temporary views of\n\
         # the PySpark session `spark` (simpletrace sql --dataset DIR --views spark).\n\
         # A view reads the files there when it is made: run this again after\n\
         # an export (tables without files are empty views until then).\n\
         from pyspark.sql import types as T\n\
         \n\
         # `trace` stays a string, as on the traces (Spark would make a name\n\
         # of digits a number).\n\
         spark.conf.set(\"spark.sql.sources.partitionColumnTypeInference.enabled\", \"false\")\n\
         \n\
         def _view(name):\n\
         \x20   # Quoted: an event may be named like a number or a keyword.\n\
         \x20   return \"`\" + name.replace(\"`\", \"``\") + \"`\"\n\
         \n\
         def _files(name, path):\n\
         \x20   # mergeSchema: traces exported with other declarations of an\n\
         \x20   # event have other columns in its table.\n\
         \x20   df = spark.read.option(\"mergeSchema\", \"true\").parquet(path)\n\
         \x20   df = df.select(\"trace\", *[c for c in df.columns if c != \"trace\"])\n\
         \x20   df.createOrReplaceTempView(_view(name))\n\
         \n\
         def _empty(name, fields):\n\
         \x20   spark.createDataFrame([], T.StructType(fields)).createOrReplaceTempView(_view(name))\n\
         \n"
    ));
    for table in tables {
        let name = py_str(&table.name);
        if table.has_files {
            let path = py_str(&format!("{root}/{}", table.name));
            out.push_str(&format!("_files({name}, {path})\n"));
        } else {
            // Nullable: Spark reads every column of Parquet files so.
            let fields = table
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let t = engine_type(Engine::Spark, &table.name, f.name(), f.data_type())?;
                    Ok(format!("T.StructField({}, {t}, True)", py_str(f.name())))
                })
                .collect::<Result<Vec<_>, SqlError>>()?;
            out.push_str(&format!("_empty({name}, [{}])\n", fields.join(", ")));
        }
    }
    Ok(())
}

/// The type `engine` gives a column of this Arrow type read from the
/// Parquet files (Spark has no unsigned types and widens them, UInt64 to
/// a decimal); an error for a type the tables do not have.
fn engine_type(
    engine: Engine,
    table: &str,
    column: &str,
    t: &DataType,
) -> Result<&'static str, SqlError> {
    let is_string =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let (duckdb_type, spark_type) = match t {
        DataType::Boolean => ("BOOLEAN", "T.BooleanType()"),
        DataType::Int8 => ("TINYINT", "T.ByteType()"),
        DataType::Int16 => ("SMALLINT", "T.ShortType()"),
        DataType::Int32 => ("INTEGER", "T.IntegerType()"),
        DataType::Int64 => ("BIGINT", "T.LongType()"),
        DataType::UInt8 => ("UTINYINT", "T.ShortType()"),
        DataType::UInt16 => ("USMALLINT", "T.IntegerType()"),
        DataType::UInt32 => ("UINTEGER", "T.LongType()"),
        DataType::UInt64 => ("UBIGINT", "T.DecimalType(20, 0)"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            ("BLOB", "T.BinaryType()")
        }
        t if is_string(t) => ("VARCHAR", "T.StringType()"),
        // `trace` and `event`.
        DataType::Dictionary(_, values) if is_string(values) => ("VARCHAR", "T.StringType()"),
        other => {
            return Err(SqlError::Dataset(format!(
                "{table}.{column}: no view for a column of type {other}"
            )));
        }
    };
    Ok(match engine {
        Engine::DuckDb => duckdb_type,
        Engine::Spark => spark_type,
    })
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
        let s = render("/data/it's", &tables(), Engine::DuckDb).unwrap();
        assert!(s.contains(
            "CREATE OR REPLACE VIEW \"with_rows\" AS SELECT trace, * EXCLUDE (trace) FROM \
             read_parquet('/data/it''s/with_rows/trace=*/*.parquet', hive_partitioning = true, \
             hive_types = {'trace': VARCHAR}, union_by_name = true);\n"
        ));
        assert!(s.contains(
            "CREATE OR REPLACE VIEW \"no_rows\" AS SELECT CAST(NULL AS VARCHAR) AS \"trace\", \
             CAST(NULL AS UBIGINT) AS \"ts_ns\", CAST(NULL AS UINTEGER) AS \"size\", \
             CAST(NULL AS VARCHAR) AS \"name\", CAST(NULL AS BLOB) AS \"name_raw\" WHERE false;\n"
        ));
    }

    #[test]
    fn spark_reads_files_and_types_empty_tables() {
        let s = render("/data/x", &tables(), Engine::Spark).unwrap();
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
    fn a_column_of_another_type_is_an_error_not_a_string() {
        let mut t = tables();
        t[1].schema = Arc::new(Schema::new(vec![Field::new(
            "when",
            DataType::Date32,
            true,
        )]));
        for engine in [Engine::DuckDb, Engine::Spark] {
            let e = render("/d", &t, engine).unwrap_err();
            assert!(e.to_string().contains("no_rows.when"), "{e}");
        }
    }

    /// Of names that differ only in case, the one in lower case gets the
    /// view wherever it comes (in sorted order, upper case comes first),
    /// else the first; the others are named in a comment.
    #[test]
    fn names_that_differ_only_in_case_get_one_view() {
        let base = tables();
        let named = |names: &[&str]| -> Vec<DatasetTable> {
            names
                .iter()
                .map(|n| DatasetTable {
                    name: (*n).into(),
                    ..base[1].clone()
                })
                .collect()
        };
        for engine in [Engine::DuckDb, Engine::Spark] {
            let s = render("/d", &named(&["Records", "records", "x"]), engine).unwrap();
            // Named once: in the comment, not in a view.
            assert_eq!(s.matches("\"Records\"").count(), 1, "{s}");
            assert!(
                s.contains("No view of \"Records\": the engine does not tell it from \"records\""),
                "{s}"
            );
            assert!(s.matches("\"records\"").count() >= 2, "{s}");
            let s = render("/d", &named(&["Foo", "fOO"]), engine).unwrap();
            assert!(
                s.contains("No view of \"fOO\": the engine does not tell it from \"Foo\""),
                "{s}"
            );
        }
    }

    #[test]
    fn paths_an_engine_would_expand_are_refused() {
        for bad in [
            "/data/a*b",
            "/data/[x]",
            "/data/{a,b}",
            "/data/q?",
            "/data/x\nDROP VIEW t; --",
        ] {
            assert!(matches!(
                script_path(Path::new(bad)),
                Err(SqlError::UnscriptablePath { found: Some(_), .. })
            ));
        }
        assert_eq!(
            script_path(Path::new("/data/a b%20é")).unwrap(),
            "/data/a b%20é"
        );
        // A table with files whose name would be a pattern: refused too.
        let mut t = tables();
        t[0].name = "a*".into();
        assert!(render("/d", &t, Engine::DuckDb).is_err());
    }
}
