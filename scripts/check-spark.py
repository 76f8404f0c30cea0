#!/usr/bin/env python3
"""Spark reads the Parquet export (issue 17; docs/sql.md, "The same
queries in DuckDB and Spark"): runs docs/sql.md's worked examples in
Spark over an exported dataset and compares every row with
`simpletrace sql --dataset` on the same dataset.

    scripts/check-spark.py SIMPLETRACE DATASET_DIR

Needs Java and pyspark (`python3 -m venv v && v/bin/pip install pyspark`;
not part of the test suite: a JVM and 300 MB of Spark). The tables are
registered by the script `simpletrace sql --dataset DIR --views spark`
writes, so the queries run unchanged, tables without files included.
"""
import csv, io, os, re, subprocess, sys
from decimal import Decimal

from pyspark.sql import SparkSession

simpletrace, root = sys.argv[1], sys.argv[2]
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
sys.exit(1 if failed else 0)
