"""Every variable that reaches SQL is validated (type and range, a message naming the variable)
or rendered as a safely quoted literal; a bad value stops the build before anything is built."""

from __future__ import annotations

import json

import duckdb
import pytest
import yaml

from conftest import REPO, query, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS

pytestmark = pytest.mark.integration

HOSTILE = "2026-01-01' as timestamp); drop table main.sentinel_keep; --"
FIX = ". Fix it in --vars or in the vars of dbt_project.yml (docs/variables.md)."
ISO = (
    "null, latest, or an ISO date-time such as '2026-06-01', '2026-06-01 12:00:00' or '2026-06-01T12:00:00+09:00' "
    "(offsets are converted to UTC)"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("variables")
    db = copy_fixture_build(fixture_build, work)  # the session's fixture build (integration/conftest.py)
    with duckdb.connect(str(db)) as con:
        con.execute("create table main.sentinel_keep as select 1 as x")
    return db, work


def var_errors(db, work, values: dict) -> str:
    """Every variable error for ``values`` (the macro prints one per line and does not stop)."""
    proc = run_dbt(
        ["run-operation", "lookalike_print_var_errors", "--args", json.dumps({"values": values})],
        db,
        work,
        vars=FIXTURE_VARS,
    )
    return " ".join(proc.stdout.split())


CASES = [
    ("lookalike_min_seed_users", "ten", 'is "ten"; it must be an integer between 1 and 1000000000'),
    (
        "lookalike_as_of",
        HOSTILE,
        'is "2026-01-01\' as timestamp); drop table main.sentinel_keep; --"; it must be ' + ISO,
    ),
    ("lookalike_pu_bags", 2.5, "is 2.5; it must be an integer between 1 and 50"),
    ("lookalike_event_windows", [7, "x"], 'is [7, "x"]; it must be a list of integers between 1 and 36500'),
    (
        "lookalike_quality_band_cutoffs",
        [0.8, 0.7, 0.6],
        "is [0.8, 0.7, 0.6]; it must be three increasing AUC values [poor_below, fair_below, good_below]",
    ),
    ("lookalike_on_run_failure", "keep", 'is "keep"; it must be one of keep_last_good, drop'),
    ("lookalike_build_only", "maybe", 'is "maybe"; it must be true or false'),
    ("lookalike_feature_include", "score_signal", 'is "score_signal"; it must be a list, e.g. [name_a, name_b]'),
    ("lookalike_health_min_test_auc", 1.5, "is 1.5; it must be a number between 0 and 1"),
    ("lookalike_test_fraction", None, "is null; it must be set (it has no null meaning)"),
]
MORE_CASES = [
    ("lookalike_min_seed_users", 0, "is 0; it must be an integer between 1 and 1000000000"),
    ("lookalike_as_of", "2026-02-30", 'is "2026-02-30"; it must be ' + ISO),
]


@pytest.mark.parametrize("cases", [CASES, MORE_CASES], ids=["cases", "more_cases"])
def test_bad_variables_are_named_with_the_fix(built, cases):
    db, work = built
    out = var_errors(db, work, {name: value for name, value, _ in cases})
    for name, _, expected in cases:
        assert f"lookalike: variable '{name}' {expected}{FIX}" in out, (name, out[-3000:])
    assert out.count("lookalike: variable '") == len(cases)


def test_every_variable_refuses_a_hostile_value(built):
    """Each variable set to SQL: text kinds take it (they reach SQL only as literals, see below);
    every other kind names the variable."""
    db, work = built
    names = sorted(yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"])
    text_kinds = {
        "lookalike_item_category_column",
        "lookalike_audience_export_path",
        "lookalike_engagement_type",
        "lookalike_pu_method",
        "lookalike_unlabeled_as_of",
        "lookalike_model_type",
        "lookalike_user_snapshots",
        "lookalike_labels",
        "lookalike_runs",
        "lookalike_events",
        "lookalike_items",
        "lookalike_outcomes",
        "lookalike_serving_path",
    }
    out = var_errors(db, work, {name: HOSTILE for name in names})
    for name in names:
        assert (f"lookalike: variable '{name}' is \"{HOSTILE}\"" in out) == (name not in text_kinds), name
    assert query(db, "select count(*) from main.sentinel_keep") == [(1,)]


def test_bad_variable_stops_the_build_before_any_model_and_keeps_the_tables(built):
    db, work = built
    before = query(db, "select run_id, status, status_message, run_finished_at from lookalike_runs order by run_id")
    proc = run_dbt(["build"], db, work, vars={**FIXTURE_VARS, "lookalike_min_seed_users": "ten"}, check=False)
    assert proc.returncode != 0
    assert "lookalike: variable 'lookalike_min_seed_users' is \"ten\"" in proc.stdout
    assert "START sql" not in proc.stdout  # no model started
    assert (
        query(db, "select run_id, status, status_message, run_finished_at from lookalike_runs order by run_id")
        == before
    )


def test_text_variables_reach_sql_only_as_literals(built):
    db, work = built
    hostile = "MULTI_ENGAGE'); drop table main.sentinel_keep; --"
    run_dbt(
        ["build"],
        db,
        work,
        vars={
            **FIXTURE_VARS,
            "lookalike_engagement_type": hostile,
            "lookalike_model_type": "hgb' || (select 'x') || '",
        },
    )
    assert query(db, "select count(*) from main.sentinel_keep") == [(1,)]
    # 'few_negatives' has a null engagement_type, so it takes the (hostile) default, unchanged.
    message = query(db, "select status_message from lookalike_runs where run_id = 'few_negatives'")[0][0]
    assert message.startswith(
        f"run 'few_negatives': engagement_type {hostile.upper()!r} in the runs input is not one of"
    )
    model_message = query(db, "select status_message from lookalike_runs where run_id = 'pit'")[0][0]
    assert "model_type \"hgb' || (select 'x') || '\" is not one of" in model_message


def test_as_of_with_an_offset_is_converted_to_utc(built):
    db, work = built
    run_dbt(["build"], db, work, vars={**FIXTURE_VARS, "lookalike_as_of": "2026-06-01T09:00:00+09:00"})
    # Label of user 0019 in run 'pit' has no timestamp: it is matched as of the scoring time, in UTC.
    assert query(
        db, "select distinct as_of_at from lookalike_pit_labels where label_timestamp is null and run_id = 'pit'"
    ) == query(db, "select timestamp '2026-06-01 00:00:00'")
