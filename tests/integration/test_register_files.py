"""`dbt run-operation lookalike_register_files`: data files become a relation the input variables can
point at, without dbt seeds and without copying the data (DuckDB here; Spark in
test_spark_parity.py, whose build reads its events through such an external table)."""

from __future__ import annotations

import json

import duckdb
import pytest

from conftest import query, run_dbt

pytestmark = pytest.mark.integration


def register(db, work, check=True, **args):
    proc = run_dbt(["run-operation", "lookalike_register_files", "--args", json.dumps(args)], db, work, check=check)
    return proc, " ".join((proc.stdout + proc.stderr).split())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    work = tmp_path_factory.mktemp("register_files")
    db = work / "register.duckdb"
    data = work / "data"
    data.mkdir()
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"""copy (select 'u' || lpad(i::varchar, 3, '0') as user_id, timestamp '2026-01-01' as snapshot_at,
                       i as age from range(5) t(i)) to '{data}/part-0.parquet' (format parquet)"""
        )
        con.execute(f"copy (select 'u001' as user_id, 'click' as event_type) to '{data}/events.csv' (header)")
        con.execute("create schema inputs; create table inputs.kept as select 1 as x")
    return db, work, data


def test_parquet_files_become_a_view_read_at_query_time(files):
    db, work, data = files
    proc, out = register(db, work, name="inputs.snapshots", path=f"{data}/part-*.parquet")
    assert f'lookalike: registered "register"."inputs"."snapshots" over {data}/part-*.parquet (parquet, 5 rows)' in out
    assert query(db, "select count(*), min(user_id), max(age) from inputs.snapshots") == [(5, "u000", 4)]
    # A view, not a copy: a new file under the glob is read by the next query.
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"copy (select 'u900' as user_id, timestamp '2026-02-01' as snapshot_at, 90 as age) "
            f"to '{data}/part-1.parquet' (format parquet)"
        )
    assert query(db, "select count(*), max(age) from inputs.snapshots") == [(6, 90)]
    assert query(db, "select table_type from information_schema.tables where table_name = 'snapshots'") == [("VIEW",)]


def test_csv_and_replace_of_a_view(files):
    db, work, data = files
    register(db, work, name="inputs.events", path=f"{data}/events.csv", format="CSV")
    assert query(db, "select user_id, event_type from inputs.events") == [("u001", "click")]
    proc, out = register(db, work, check=False, name="inputs.events", path=f"{data}/part-0.parquet")
    assert proc.returncode != 0 and "already exists; pass replace: true" in out
    register(db, work, name="inputs.events", path=f"{data}/part-0.parquet", replace=True)
    assert query(db, "select count(*) from inputs.events") == [(5,)]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "snapshots", "path": "x.parquet"}, "name 'snapshots' is not schema.table with plain identifiers"),
        ({"name": "inputs.s;drop", "path": "x.parquet"}, "name 'inputs.s;drop' is not schema.table"),
        (
            {"name": "inputs.s", "path": "/tmp/a'); drop table inputs.kept; --"},
            "holds a quote, a backslash or a control",
        ),
        ({"name": "inputs.s", "path": "a\nb.parquet"}, "holds a quote, a backslash or a control"),
        (
            {"name": "inputs.s", "path": "x.xlsx", "format": "xlsx"},
            "format 'xlsx' is not one of parquet, csv, json on duckdb",
        ),
        (
            {"name": "inputs.kept", "path": "x.parquet", "replace": True},
            "is a table holding its own data; it is never replaced",
        ),
    ],
    ids=["no-schema", "punctuation", "quote-in-path", "newline-in-path", "format", "table-kept"],
)
def test_bad_arguments_fail_with_the_argument_and_the_fix(files, args, message):
    db, work, _ = files
    proc, out = register(db, work, check=False, **args)
    assert proc.returncode != 0
    assert message in out, out[-2000:]
    assert query(db, "select x from inputs.kept") == [(1,)]
