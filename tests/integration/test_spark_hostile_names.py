"""Hostile names on Spark (issue 29 part 5): the inputs of test_hostile_names.py (feature columns,
an event type, item categories and the item category column named to break out of quotes,
comments, backticks and Jinja; a sentinel table the payload tries to drop) loaded into a real
local Spark and built with ``lookalike-dbt build --target spark``. Nothing runs that the names
say, every hostile feature reaches the model, and the tables that carry feature names equal the
DuckDB build of the same inputs row for row (parity.differences, floats to 1e-9).

Run alone with ``python -m pytest -m spark``.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import query, query_dicts, run_dbt
from integration import spark_io
from integration.fixtures import build_fixture_db
from integration.hostile import (
    CATEGORY_COLUMN,
    HOSTILE_CATEGORY,
    HOSTILE_CATEGORY_SLUG,
    HOSTILE_COLUMNS,
    HOSTILE_TYPE_SLUG,
    JINJA,
    NEWLINE,
    PAYLOAD,
    QUOTE,
    SEMICOLON,
    UNICODE,
    VARS,
    add_hostile_inputs,
)
from integration.parity import differences

pytestmark = [pytest.mark.spark, pytest.mark.integration]

SCHEMA = "lookalike_hostile"
INPUTS = ["inputs.snapshots", "inputs.labels", "inputs.runs", "inputs.events", "inputs.items", "main.sentinel_keep"]
#: Every public table whose columns or rows carry a feature name, an event type or a category, and
#: the run outcome.
COMPARED = [
    "lookalike_pit_features",
    "lookalike_inference_features",
    "lookalike_feature_importance",
    "lookalike_feature_drift",
    "lookalike_feature_info",
    "lookalike_user_scores",
    "lookalike_user_reasons",
    "lookalike_input_issues",
    "lookalike_runs",
]


@pytest.fixture(scope="module")
def hostile_engines(tmp_path_factory):
    """(duckdb file built by dbt-duckdb, duckdb file holding the Spark build's tables, Spark's
    table list, the Spark build's output)."""
    work = tmp_path_factory.mktemp("spark_hostile")
    duck = work / "duck.duckdb"
    build_fixture_db(duck)
    add_hostile_inputs(duck)
    pristine = work / "pristine.duckdb"
    shutil.copy(duck, pristine)
    proc = run_dbt(["build"], duck, work / "duck", vars=VARS)
    assert "ERROR=0" in proc.stdout, proc.stdout[-4000:]

    spark_dir = work / "spark"
    spark_io.run("load", spark_dir, pristine, INPUTS)
    proc = spark_io.lookalike_dbt(["build"], spark_dir, work / "spark_run", VARS, schema=SCHEMA)
    copied = work / "spark.duckdb"
    spark_io.run(
        "dump",
        spark_dir,
        copied,
        [f"{SCHEMA}.{t}" for t in [*COMPARED, "lookalike_run_models", "stg_lookalike__items"]] + ["main.sentinel_keep"],
    )
    found = spark_io.tables(spark_dir, work / "tables.json")
    return {"duck": duck, "spark": copied, "tables": found, "stdout": proc.stdout}


def spark_name(table: str) -> str:
    return f"{SCHEMA}.{table}"


def test_the_spark_build_succeeds_and_nothing_runs(hostile_engines):
    assert "ERROR=0" in hostile_engines["stdout"], hostile_engines["stdout"][-6000:]
    assert query(hostile_engines["spark"], "select kept from main.sentinel_keep") == [(42,)]
    names = {table for _, table in hostile_engines["tables"]}
    assert "sentinel_keep" in names  # the listing is real: it sees the table the payload aims at
    assert not names & {"pwned", "visits_dup"}, sorted(names)
    # the build itself is listed, so an empty listing cannot pass
    assert (SCHEMA, "lookalike_runs") in hostile_engines["tables"]


def test_hostile_columns_are_features_with_their_values_on_spark(hostile_engines):
    spark = hostile_engines["spark"]
    row = query_dicts(spark, f"select * from {spark_name('lookalike_inference_features')} where user_id = '0012'")[0]
    # The same hand-computed values as on DuckDB (test_hostile_names): user 0012, latest snapshot.
    assert row[PAYLOAD] == pytest.approx((10.0 + (12 % 7) * 0.5 + 2) * 2 + 1)
    assert row[QUOTE] == 2.0 and row[SEMICOLON] == "even" and row[NEWLINE] is True
    assert row[JINJA] == 0.0 and row[UNICODE] == pytest.approx(1.2)
    evt = f"evt_{HOSTILE_TYPE_SLUG}"
    assert row[f"{evt}_cnt_365d"] is not None and f"aff_{HOSTILE_CATEGORY_SLUG}_share_365d" in row
    assert query(spark, f"select item_id, category from {spark_name('stg_lookalike__items')} order by item_id") == [
        ("item_a", HOSTILE_CATEGORY),
        ("item_b", "007"),
    ]
    assert CATEGORY_COLUMN not in row


def test_runs_finish_on_spark_and_use_every_hostile_feature(hostile_engines):
    spark = hostile_engines["spark"]
    runs = dict(query(spark, f"select run_id, status from {spark_name('lookalike_runs')}"))
    assert runs["pit"] == "FINISHED" and runs["single"] == "FINISHED", runs
    for run_id in ("pit", "single"):
        (names,) = query(
            spark, f"select feature_names from {spark_name('lookalike_run_models')} where run_id = ?", [run_id]
        )[0]
        assert [n for n in HOSTILE_COLUMNS if n not in json.loads(names)] == []
    same = query(
        hostile_engines["duck"],
        "select run_id, model_sha256 from lookalike_run_models where model_sha256 is not null order by run_id",
    )
    assert (
        same
        and query(
            spark,
            f"select run_id, model_sha256 from {spark_name('lookalike_run_models')} "
            "where model_sha256 is not null order by run_id",
        )
        == same
    )


@pytest.mark.parametrize("table", COMPARED)
def test_tables_equal_the_duckdb_build(hostile_engines, table):
    assert query(hostile_engines["duck"], f"select count(*) from {table}")[0][0] > 0
    assert differences(hostile_engines["duck"], hostile_engines["spark"], table, spark_name(table)) == []
