"""Warm pyspark: per newly kept model, the build path (CTAS of its compiled SQL + drop/rename as lookalike_table does)
against the keep path (build-state read, row checksum of the table, insert into a build-state table), alternated.

Usage: python bench/spark_keep_paths.py <spark dir> <schema> <compiled models dir> <repetitions> <model> ...
(a copy of a built warehouse: the script writes a scratch database wt_s_scratch into it).
Raw results of issue 29 part 2: bench/results/spark-S-issue29-keep-warm.json.
"""

import glob
import json
import os
import sys
import time

from pyspark.sql import SparkSession

d, S, comp, reps_arg, *models = sys.argv[1:]
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.sql.warehouse.dir", d + "/warehouse")
    .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={d}/metastore_db;create=true")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.shuffle.partitions", "4")
    .config("spark.driver.memory", "4g")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .enableHiveSupport()
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
X = "wt_s_scratch"
spark.sql(f"create database if not exists {X}")
spark.sql(f"drop table if exists {X}.state")
spark.sql(f"create table {X}.state using parquet as select * from {S}.lookalike_build_state")
reps = int(reps_arg)


def compiled(m):
    f = glob.glob(f"{comp}/*/{m}.sql")[0]
    return "\n".join(line for line in open(f).read().splitlines() if not line.startswith("-- depends_on"))


def build(m):
    sql = compiled(m)
    spark.sql(f"drop table if exists {X}.{m}__lookalike_new")  # the statement dropped by this branch
    spark.sql(f"create table {X}.{m}__lookalike_new using parquet as {sql}")
    spark.sql(f"drop table if exists {X}.{m}")
    spark.sql(f"alter table {X}.{m}__lookalike_new rename to {X}.{m}")


VIEW_INPUTS = {"int_lookalike__runs": ["stg_lookalike__runs", "stg_lookalike__labels"]}


def checksum(t):
    cols = spark.table(t).dtypes
    shape = ", ".join(f"{c} {ty}" for c, ty in cols)
    h = ", ".join(f"`{c}`" for c, _ in cols)
    return spark.sql(
        f"select count(*) as n_rows, md5(cast(coalesce(sum(cast(xxhash64({h}) as decimal(38, 0))), 0) as string) || '|' || '{shape}') from {t}"
    ).collect()


def state_read():
    spark.sql(
        f"select relation_name, invocation_id, action, inputs_key, rows_checksum from (select s.*, row_number() over (partition by relation_name order by recorded_at desc) as lookalike_rank from {X}.state as s) as latest where lookalike_rank = 1"
    ).collect()


def record(m, rows):
    spark.sql(
        f"insert into {X}.state (relation_name, invocation_id, action, inputs_key, rows_checksum, recorded_at) select '{S}.{m}', 'x', 'kept', 'k', '{rows}', current_timestamp()"
    ).collect()


def key(m):
    for v in VIEW_INPUTS.get(m, []):
        checksum(f"{S}.{v}")


def kept_nocheck(m):
    state_read()
    key(m)
    record(m, None)


def built_nocheck(m):
    state_read()
    key(m)
    build(m)
    record(m, None)


def built_check(m):
    state_read()
    key(m)
    build(m)
    r = checksum(f"{X}.{m}")
    record(m, r[0][1])


def kept_check(m):
    state_read()
    key(m)
    r = checksum(f"{S}.{m}")
    record(m, r[0][1])


def drop_only(m):
    spark.sql(f"drop table if exists {X}.{m}__lookalike_new")


out = {}
for r in range(reps):
    for m in models:
        order = [
            ("main_built", build),
            ("built_check", built_check),
            ("built_nocheck", built_nocheck),
            ("kept_check", kept_check),
            ("kept_nocheck", kept_nocheck),
            ("drop_if_exists", drop_only),
        ]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t = time.time()
            fn(m)
            dt = time.time() - t
            out.setdefault(m, {}).setdefault(name, []).append(round(dt, 3))
    print(r, os.getloadavg()[0], json.dumps({m: {k: v[-1] for k, v in x.items()} for m, x in out.items()}), flush=True)
# rows: the table built here from the compiled SQL equals the warehouse's table
for m in models:
    a = sorted(map(tuple, spark.table(f"{S}.{m}").collect()), key=repr)
    b = sorted(map(tuple, spark.table(f"{X}.{m}").collect()), key=repr)
    print("same rows", m, a == b, len(a))
print("RESULT", json.dumps(out))
