"""Move tables between a DuckDB file and the ``spark`` target's warehouse, one Spark JVM per call.

The ``spark`` target keeps its catalog in an embedded Derby metastore, which one process at a time
can open; so the tests never hold a SparkSession while ``lookalike-dbt`` runs. Each call here runs
in its own Python process (``python -m integration.spark_io ...`` with ``tests/`` on the path) with
the same settings as ``profiles.yml``'s spark target, and exits, which releases the metastore.

    load <spark_dir> <duckdb_file> <schema.table>...    copy DuckDB tables into Spark tables
    dump <spark_dir> <duckdb_file> <schema.table>...    copy Spark tables into the DuckDB file
                                                        (as the same schema.table)
    tables <spark_dir> <out.json>                       every (database, table) of the metastore
    explain <spark_dir> <out.json> <manifest.json> <schema>
                                                        the physical plan (EXPLAIN) of every SQL
                                                        model's compiled SQL in the manifest, against
                                                        the tables of that build

``lookalike_dbt`` runs ``lookalike-dbt <args> --target spark`` the same way, in a subprocess.

Tables go through Parquet files written by one engine and read by the other; timestamps are
naive UTC on both sides (the target's session time zone is UTC).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


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


#: A range join without an equality: the plan every model is checked against must show it as a
#: nested loop, or the check would pass whatever the models do (test_spark_parity).
CONTROL_SQL = "select a.id, b.id from range(100) as a inner join range(100) as b on a.id < b.id"


def _explain(spark_dir: Path, out_file: Path, manifest: str, schema: str) -> None:
    nodes = json.loads(Path(manifest).read_text())["nodes"].values()
    models = {
        n["name"]: n["compiled_code"]
        for n in nodes
        if n["resource_type"] == "model" and n["language"] == "sql" and n.get("compiled_code")
    }
    session = spark_session(spark_dir)
    session.sql(f"use {schema}")
    plans = {"__control__": session.sql(f"explain {CONTROL_SQL}").collect()[0][0]}
    for name, sql in sorted(models.items()):
        plans[name] = session.sql(f"explain {sql}").collect()[0][0]
    session.stop()
    Path(out_file).write_text(json.dumps(plans, indent=1))


def explain(spark_dir: Path, out_file: Path, manifest: Path, schema: str) -> dict[str, str]:
    """{model name: its physical plan} for every SQL model of the build whose ``manifest.json`` is
    given (compiled SQL as dbt ran it), planned by Spark against the same metastore; plus
    ``__control__``, the plan of CONTROL_SQL."""
    _subprocess("explain", spark_dir, out_file, [str(manifest), schema])
    return json.loads(Path(out_file).read_text())


def lookalike_dbt(
    args, spark_dir: Path, work: Path, vars: dict, check=True, schema: str = "lookalike_parity"
) -> subprocess.CompletedProcess:
    """`lookalike-dbt <args> --target spark` in a subprocess with its own metastore and warehouse,
    building into ``schema``."""
    env = dict(
        os.environ,
        LOOKALIKE_SPARK_DIR=str(spark_dir),
        LOOKALIKE_SPARK_SCHEMA=schema,
        LOOKALIKE_SPARK_MASTER="local[2]",
        LOOKALIKE_SPARK_DRIVER_MEMORY="2g",
        PYSPARK_PYTHON=sys.executable,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    cmd = [
        sys.executable,
        "-m",
        "lookalike_udf.spark_dbt",
        *args,
        "--target",
        "spark",
        "--project-dir",
        str(REPO),
        "--profiles-dir",
        str(REPO),
        "--log-path",
        str(work / "logs"),
        "--target-path",
        str(work / "target"),
        "--vars",
        json.dumps(vars),
    ]
    proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"lookalike-dbt {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _tables(spark_dir: Path, out_file: Path) -> None:
    session = spark_session(spark_dir)
    found = []
    for (database,) in session.sql("show databases").collect():
        found += [[database, r.tableName] for r in session.sql(f"show tables in `{database}`").collect()]
    session.stop()
    Path(out_file).write_text(json.dumps(sorted(found)))


def tables(spark_dir: Path, out_file: Path) -> set[tuple[str, str]]:
    """Every (database, table) of the metastore in ``spark_dir``."""
    _subprocess("tables", spark_dir, out_file, [])
    return {tuple(t) for t in json.loads(Path(out_file).read_text())}


def run(command: str, spark_dir: Path, db_file: Path, tables: list[str]) -> None:
    """Run ``command`` (load / dump) in a fresh Python process; raise with its output on failure."""
    _subprocess(command, spark_dir, db_file, tables)


def _subprocess(command: str, spark_dir: Path, path: Path, args: list[str]) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        PYSPARK_PYTHON=sys.executable,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "integration.spark_io", command, str(spark_dir), str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(f"spark_io {command} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")


if __name__ == "__main__":
    cmd, spark_dir, db_file, *names = sys.argv[1:]
    if cmd == "explain":
        _explain(Path(spark_dir), Path(db_file), *names)
    elif cmd == "tables":
        _tables(Path(spark_dir), Path(db_file))
    else:
        {"load": _load, "dump": _dump}[cmd](Path(spark_dir), Path(db_file), names)
