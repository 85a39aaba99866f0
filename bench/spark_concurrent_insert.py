"""Two threads appending to one Parquet table in one SparkSession (decision 0043).

What dbt threads > 1 on the `spark` target would do: every model with config ``lookalike_keep``
ends with ``insert into lookalike_build_state ...`` (macros/lookalike_reuse.sql), and dbt-spark's
``method: session`` runs all dbt threads against the one SparkSession of the process. This runs the
same statement from ``--threads`` Python threads, ``--inserts`` times each, against a fresh embedded
Derby metastore and warehouse under ``--workdir``, on the profile's Spark settings (``local[2]``),
and counts failed inserts and the rows found afterwards. ``--commit-v2`` sets
``mapreduce.fileoutputcommitter.algorithm.version`` 2 and ``cleanup.skipped`` true (tasks move
their files straight into the table folder; no shared ``_temporary`` folder is merged or deleted).

    python bench/spark_concurrent_insert.py --workdir /tmp/sp_race --out bench/results/spark-concurrent-insert.json
    python bench/spark_concurrent_insert.py --workdir /tmp/sp_race_v2 --commit-v2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path


def attempt(workdir: Path, threads: int, inserts: int, commit_v2: bool) -> dict:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(workdir / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={workdir / 'metastore_db'};create=true",
        )
    )
    if commit_v2:
        builder = builder.config("spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version", "2").config(
            "spark.hadoop.mapreduce.fileoutputcommitter.cleanup.skipped", "true"
        )
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sql("create table if not exists state (relation_name string, k int) using parquet")
    errors: list[str] = []

    def work(name: str) -> None:
        for k in range(inserts):
            try:
                spark.sql(f"insert into state (relation_name, k) values ('{name}', {k})")
            except Exception as exc:  # the point of the exercise: count them
                errors.append(f"{name}#{k}: {str(exc).splitlines()[0][:200]}")

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(f"model_{j}",)) for j in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - started
    spark.catalog.refreshTable("state")
    rows = spark.sql("select count(*) from state").collect()[0][0]
    spark.stop()
    return {
        "threads": threads,
        "inserts_per_thread": inserts,
        "commit_v2": commit_v2,
        "expected_rows": threads * inserts,
        "rows_found": rows,
        "failed_inserts": len(errors),
        "errors": errors[:5],
        "seconds": round(seconds, 1),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="emptied first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inserts", type=int, default=15)
    parser.add_argument("--commit-v2", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="append the record to this JSON list")
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    record = attempt(args.workdir.resolve(), args.threads, args.inserts, args.commit_v2)
    print(json.dumps(record, indent=1))
    if args.out:
        records = json.loads(args.out.read_text()) if args.out.exists() else []
        args.out.write_text(json.dumps([*records, record], indent=1) + "\n")
    return 0 if record["failed_inserts"] == 0 and record["rows_found"] == record["expected_rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
