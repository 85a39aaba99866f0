"""Move tables between a DuckDB file and the ``spark`` target's warehouse, one Spark JVM per call.

The ``spark`` target keeps its catalog in an embedded Derby metastore, which one process at a time
can open; so the tests never hold a SparkSession while ``lookalike-dbt`` runs. Each call here runs
in its own Python process (``python -m integration.spark_io ...`` with ``tests/`` on the path) with
the same settings as ``profiles.yml``'s spark target, and exits, which releases the metastore.

    load <spark_dir> <duckdb_file> <schema.table>...    copy DuckDB tables into Spark tables
    dump <spark_dir> <duckdb_file> <schema.table>...    copy Spark tables into the DuckDB file
                                                        (as the same schema.table)

Tables go through Parquet files written by one engine and read by the other; timestamps are
naive UTC on both sides (the target's session time zone is UTC).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def spark_session(spark_dir: Path):
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("lookalike-tests-io")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", f"{spark_dir}/warehouse")
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={spark_dir}/metastore_db;create=true",
        )
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _load(spark_dir: Path, db_file: Path, tables: list[str]) -> None:
    import duckdb

    session = spark_session(spark_dir)
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(db_file), read_only=True) as con:
        for name in tables:
            schema, table = name.split(".")
            path = f"{tmp}/{schema}_{table}.parquet"
            con.execute(f"copy (select * from {schema}.{table}) to '{path}' (format parquet)")
            session.sql(f"create database if not exists {schema}")
            session.read.parquet(path).write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{table}")
    session.stop()


def _dump(spark_dir: Path, db_file: Path, tables: list[str]) -> None:
    import duckdb

    session = spark_session(spark_dir)
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(db_file)) as con:
        for name in tables:
            schema, table = name.split(".")
            path = f"{tmp}/{schema}_{table}"
            session.table(f"{schema}.{table}").coalesce(1).write.mode("overwrite").parquet(path)
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create or replace table {schema}.{table} as select * from read_parquet('{path}/*.parquet')")
    session.stop()


def run(command: str, spark_dir: Path, db_file: Path, tables: list[str]) -> None:
    """Run ``command`` (load / dump) in a fresh Python process; raise with its output on failure."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        PYSPARK_PYTHON=sys.executable,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "integration.spark_io", command, str(spark_dir), str(db_file), *tables],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(f"spark_io {command} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")


if __name__ == "__main__":
    cmd, spark_dir, db_file, *names = sys.argv[1:]
    {"load": _load, "dump": _dump}[cmd](Path(spark_dir), Path(db_file), names)
