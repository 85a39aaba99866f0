"""The DuckDB SQL functions through dbt: profiles.yml loads lookalike_udf.duckdb_plugin, so a query
run by dbt (here `dbt show --inline`) can score lookalike_inference_features with the stored models
and must give the scores the Python model int_lookalike__population_scores wrote."""

from __future__ import annotations

import json

import pytest

from conftest import query, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS

pytestmark = pytest.mark.integration

SCORE_BY_SQL = """
with m as materialized (
    select run_id, model_sha256, lookalike_load_model(model_json) as model_key
    from {{ ref('lookalike_run_models') }}
    where model_json is not null
)
select m.run_id,
       bool_and(m.model_key = m.model_sha256) as key_is_checksum,
       count(*) as n_scored,
       count(p.score) as n_matched,
       max(abs(lookalike_score(m.model_key, f) - p.score)) as max_abs_diff
from {{ ref('lookalike_inference_features') }} as f
cross join m
left join {{ ref('int_lookalike__population_scores') }} as p
    on p.run_id = m.run_id and p.user_id = f.user_id
group by m.run_id
order by m.run_id
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("duckdb_functions")
    db_path = copy_fixture_build(fixture_build, work)  # the session's fixture build (integration/conftest.py)
    return db_path, work


def show(built, sql: str, check: bool = True):
    db_path, work = built
    return run_dbt(
        ["show", "--inline", sql, "--limit", "-1", "--output", "json", "--quiet"],
        db_path,
        work,
        vars=FIXTURE_VARS,
        check=check,
    )


def test_lookalike_score_in_dbt_equals_the_population_scores(built):
    db_path, _ = built
    rows = json.loads(show(built, SCORE_BY_SQL).stdout)["show"]
    methods = query(
        db_path, "select run_id, training_method from lookalike_run_models where model_json is not null order by run_id"
    )
    assert methods == [("pit", "supervised"), ("single", "pu_bagging")]  # an HGB model and a bagging PU ensemble
    trained = [run_id for run_id, _ in methods]
    population = query(db_path, "select count(*) from lookalike_inference_features")[0][0]
    assert [r["run_id"] for r in rows] == trained
    for r in rows:
        assert r["key_is_checksum"] is True
        assert r["n_scored"] == r["n_matched"] == population == 60
        assert r["max_abs_diff"] <= 1e-9, r


def test_a_missing_feature_fails_the_dbt_query_with_the_message(built):
    proc = show(
        built,
        "select lookalike_score(model_json, {'score_signal': 1.0}) as s "
        "from {{ ref('lookalike_run_models') }} where run_id = 'pit'",
        check=False,
    )
    assert proc.returncode != 0
    assert "lookalike_score: the features argument has no fields 'segment', 'is_active'" in proc.stdout + proc.stderr
