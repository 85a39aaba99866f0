"""Hostile names (issue 12, "Injection"): column names, event types, item categories, the item
category column and input relation names taken from user data must never run SQL nor break the
build. One `dbt build` on the hand-made fixtures, with feature columns, an event type and item
categories named to break out of quotes, comments and Jinja; plus failing compiles for input
relation variables that try the same."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import build_fixture_db
from integration.hostile import (
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
    UNKNOWN,
    VARS,
    add_hostile_inputs,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile_names")
    db_path = work / "hostile.duckdb"
    build_fixture_db(db_path)
    add_hostile_inputs(db_path)
    pristine = work / "pristine.duckdb"
    shutil.copy(db_path, pristine)
    proc = run_dbt(["build"], db_path, work, vars=VARS)
    return db_path, pristine, work, proc


def columns(db, table):
    return [
        c
        for (c,) in query(
            db,
            "select column_name from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        )
    ]


def assert_no_injection(db):
    assert query(db, "select kept from main.sentinel_keep") == [(42,)]
    assert query(db, "select count(*) from duckdb_tables() where table_name in ('pwned', 'visits_dup')") == [(0,)]


def test_build_succeeds_and_nothing_runs(built):
    db, _, _, proc = built
    assert proc.returncode == 0
    assert_no_injection(db)


def test_hostile_columns_are_features_unchanged(built):
    db, _, _, _ = built
    for table in (
        "stg_lookalike__user_snapshots",
        "int_lookalike__user_snapshots",
        "lookalike_pit_features",
        "lookalike_inference_features",
        "int_lookalike__training_examples",
    ):
        names = columns(db, table)
        missing = [n for n in HOSTILE_COLUMNS if n not in names]
        assert not missing, (table, missing, names)
    # Values come through with their types (user 0012, latest snapshot 2026-03-01).
    row = query_dicts(db, "select * from lookalike_inference_features where user_id = '0012'")[0]
    assert row[PAYLOAD] == pytest.approx((10.0 + (12 % 7) * 0.5 + 2) * 2 + 1)
    assert row[QUOTE] == 2.0 and row[SEMICOLON] == "even" and row[NEWLINE] is True
    assert row[JINJA] == 0.0 and row[UNICODE] == pytest.approx(1.2)


def test_runs_finish_and_use_every_hostile_feature(built):
    db, _, _, _ = built
    runs = {r["run_id"]: r for r in query_dicts(db, "select run_id, status, status_message from lookalike_runs")}
    assert runs["pit"]["status"] == "FINISHED", runs["pit"]
    assert runs["single"]["status"] == "FINISHED", runs["single"]
    models = {r["run_id"]: r for r in query_dicts(db, "select run_id, feature_names from lookalike_run_models")}
    for run_id in ("pit", "single"):
        names = json.loads(models[run_id]["feature_names"])
        assert [n for n in HOSTILE_COLUMNS if n not in names] == [], names
        features = {
            f for (f,) in query(db, "select feature from lookalike_feature_importance where run_id = ?", [run_id])
        }
        assert [n for n in HOSTILE_COLUMNS if n not in features] == [], features
        assert query(db, "select count(*) from lookalike_user_scores where run_id = ?", [run_id])[0][0] > 0
    # The informative hostile column carries the signal.
    corr = query(
        db, "select correlation from lookalike_feature_importance where run_id = 'pit' and feature = ?", [PAYLOAD]
    )
    assert corr[0][0] > 0.5


def test_hostile_event_type_and_categories(built):
    db, _, _, _ = built
    names = columns(db, "lookalike_pit_features")
    evt = f"evt_{HOSTILE_TYPE_SLUG}"
    aff = f"aff_{HOSTILE_CATEGORY_SLUG}_share_365d"
    for name in (f"{evt}_cnt_30d", f"{evt}_value_30d", f"{evt}_days_since_last", aff, "aff_007_share_365d"):
        assert name in names and name in columns(db, "lookalike_inference_features"), (name, names)
    # The same answers as for 'purchase' in test_event_features: the literals match the data.
    f = query_dicts(db, "select * from lookalike_pit_features where run_id = 'pit' and user_id = '0016'")[0]
    assert (f[f"{evt}_cnt_7d"], f[f"{evt}_cnt_30d"], f[f"{evt}_cnt_90d"]) == (1, 2, 3)
    assert (f[f"{evt}_value_30d"], f[f"{evt}_value_90d"]) == (15.0, 35.0)
    assert f[aff] == pytest.approx(2 / 4) and f["aff_007_share_365d"] == pytest.approx(1 / 4)
    g = query_dicts(db, "select * from lookalike_inference_features where user_id = '0016'")[0]
    assert g[f"{evt}_cnt_365d"] == 4 and g[f"{evt}_value_365d"] == 135.0


def test_hostile_item_category_column(built):
    db, _, _, _ = built
    assert query(db, "select item_id, category from stg_lookalike__items order by item_id") == [
        ("item_a", HOSTILE_CATEGORY),
        ("item_b", "007"),
    ]
    assert_no_injection(db)


def test_unknown_feature_names_warn_once(built):
    db, _, _, proc = built
    out = proc.stdout
    # ...and are reported as one input issue, which every run's status_message carries.
    issue = query(
        db,
        "select n_rows, message from lookalike_input_issues where issue = 'unknown_feature_name' "
        "and input_variable = 'lookalike_feature_exclude'",
    )
    assert issue == [
        (
            len(UNKNOWN),
            f"lookalike: var lookalike_feature_exclude names {len(UNKNOWN)} feature(s) that are "
            "neither a column of the snapshot input (var lookalike_user_snapshots) nor an event feature: "
            + ", ".join(f"'{name}'" for name in UNKNOWN)
            + "; they are ignored. Check the spelling (the build log lists the known names).",
        )
    ]
    assert issue[0][1] in query(db, "select status_message from lookalike_runs where run_id = 'pit'")[0][0]
    for name in UNKNOWN:
        message = (
            f"lookalike: var lookalike_feature_exclude names '{name}', which is neither a column of the "
            "snapshot input (var lookalike_user_snapshots) nor an event feature; it is ignored. "
            "Check the spelling (columns: user_id, snapshot_at, score_signal"
        )
        assert out.count(message) == 1, out[-6000:]
    # Known names (a hostile column, an event feature) are not reported.
    assert "names 'o'brien_score'" not in out and "names 'evt_" not in out


@pytest.mark.parametrize(
    "var_name, value",
    [
        ("lookalike_user_snapshots", 'inputs.snapshots"; drop table main.sentinel_keep; --'),
        ("lookalike_events", 'inputs."events"'),
        ("lookalike_labels", "inputs.labels; drop table main.sentinel_keep"),
    ],
)
def test_input_relation_injection_is_refused(built, tmp_path, var_name, value):
    _, pristine, _, _ = built
    db_path = tmp_path / "refused.duckdb"
    shutil.copy(pristine, db_path)
    proc = run_dbt(["build"], db_path, tmp_path, vars={**VARS, var_name: value}, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"lookalike: variable '{var_name}' = '{value}' is not a relation name" in out, out[-4000:]
    assert "create a view with a plain name over it and point the variable at the view" in out
    assert_no_injection(db_path)
    # Nothing was built.
    assert query(db_path, "select count(*) from duckdb_tables() where table_name like 'lookalike_%'") == [(0,)]
