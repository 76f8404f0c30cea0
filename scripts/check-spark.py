#!/usr/bin/env python3
"""Spark reads the Parquet export (issue 17; docs/sql.md, "The same
queries in DuckDB and Spark"): runs docs/sql.md's worked examples in
Spark over an exported dataset and compares every row with
`simpletrace sql --dataset` on the same dataset.

    scripts/check-spark.py SIMPLETRACE DATASET_DIR [TRACE_EVENTS]

With TRACE_EVENTS (the events file the dataset was exported with), it
also exports a trace with no records with it and checks that every
table that has files in DATASET_DIR, an empty view there, has the
columns and types Spark reads from those files.

Needs Java and pyspark (`python3 -m venv v && v/bin/pip install pyspark`;
not part of the test suite: a JVM and 300 MB of Spark). The tables are
registered by the script `simpletrace sql --dataset DIR --views spark`
writes, so the queries run unchanged, tables without files included.
"""
import csv, io, os, re, subprocess, sys, tempfile
from decimal import Decimal

from pyspark.sql import SparkSession

simpletrace, root = sys.argv[1], sys.argv[2]
trace_events = sys.argv[3] if len(sys.argv) > 3 else None
here = os.path.dirname(os.path.abspath(__file__))
doc = open(os.path.join(here, "..", "docs", "sql.md")).read()
section = doc[doc.index("### Worked examples across traces"):doc.index("### Checked against")]
queries = re.findall(r"```sql\n(.*?)```", section, re.S)
assert queries, "no worked examples found in docs/sql.md"

spark = (SparkSession.builder.master("local[2]").appName("simpletrace-check")
         .config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
views = subprocess.run([simpletrace, "sql", "--dataset", root, "--views", "spark"],
                       check=True, capture_output=True, text=True).stdout
exec(views, {"spark": spark})


def norm(v):
    """One spelling for a value from Spark or from CSV."""
    if v is None or v == "":
        return ""
    if isinstance(v, (int, Decimal)) or re.fullmatch(r"-?\d+", str(v)):
        return str(int(v))
    try:
        return repr(float(v))
    except ValueError:
        return str(v)


failed = 0
for q in queries:
    got = [tuple(norm(v) for v in r) for r in spark.sql(q).collect()]
    out = subprocess.run([simpletrace, "sql", "--format", "csv", "--dataset", root, q],
                         check=True, capture_output=True, text=True).stdout
    want = [tuple(norm(v) for v in r) for r in list(csv.reader(io.StringIO(out)))[1:]]
    status = "same" if got == want else "DIFFERENT"
    failed += got != want
    print(f"{status}: {len(got)} rows: {q.splitlines()[0]} ...")
    if got != want:
        print("  spark:      ", got[:5])
        print("  simpletrace:", want[:5])
print(f"Spark {spark.version}: {len(queries) - failed} of {len(queries)} queries give simpletrace's rows")

if trace_events:
    def columns(name):
        return [(f.name, f.dataType.simpleString()) for f in spark.table(name).schema.fields]

    with_files = [t for t in sorted(os.listdir(root)) if not t.startswith((".", "_"))]
    from_files = {t: columns(t) for t in with_files}
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.trace")
        with open(empty, "wb") as f:  # a version-4 file header, no records
            f.write((2**64 - 1).to_bytes(8, "little") + 0xf2b177cb0aa429b4.to_bytes(8, "little")
                    + (4).to_bytes(8, "little"))
        bare = os.path.join(tmp, "set")
        subprocess.run([simpletrace, "parquet", "-o", bare, trace_events, empty],
                       check=True, capture_output=True)
        views = subprocess.run([simpletrace, "sql", "--dataset", bare, "--views", "spark"],
                               check=True, capture_output=True, text=True).stdout
        exec(views, {"spark": spark})
        compared = [t for t in with_files if not os.path.isdir(os.path.join(bare, t))]
        differ = [t for t in compared if columns(t) != from_files[t]]
    for t in differ:
        print(f"DIFFERENT: {t}: empty view {columns(t)}, files {from_files[t]}")
    print(f"empty views: {len(compared) - len(differ)} of {len(compared)} have the columns and types of the files")
    failed += len(differ) + (not compared)

sys.exit(1 if failed else 0)
