"""SQL-native scoring inside dbt build: var lookalike_scoring_engine = sql computes the population
scores with each run's compiled SQL in DuckDB; they equal the Python engine's to 1e-9, and the
compiled SQL of lookalike_run_scoring_sql scores any relation with the feature columns."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for engine in ("python", "sql"):
        work = tmp_path_factory.mktemp(f"engine_{engine}")
        db = work / "engine.duckdb"
        build_fixture_db(db)
        run_dbt(["build"], db, work, vars={**FIXTURE_VARS, "lookalike_scoring_engine": engine})
        out[engine] = db
    return out


def scores(db, run_id):
    return dict(
        query(
            db,
            "select user_id, score from int_lookalike__population_scores "
            f"where run_id = '{run_id}' and user_id is not null",
        )
    )


@pytest.mark.parametrize("run_id", ["pit", "single"])
def test_sql_engine_equals_python_engine(builds, run_id):
    python, sql = scores(builds["python"], run_id), scores(builds["sql"], run_id)
    assert len(python) == 60 and python.keys() == sql.keys()
    users = sorted(python)
    np.testing.assert_allclose([sql[u] for u in users], [python[u] for u in users], rtol=0, atol=1e-9)
    # Same models, so the published audiences rank the same.
    ranks = "select user_id, score_rank from lookalike_user_scores where run_id = '{}' order by user_id"
    assert query(builds["sql"], ranks.format(run_id)) == query(builds["python"], ranks.format(run_id))


def test_statuses_do_not_depend_on_the_engine(builds):
    statuses = "select run_id, status, scoring_action from lookalike_runs order by run_id"
    assert query(builds["sql"], statuses) == query(builds["python"], statuses)


def test_compiled_sql_scores_the_inference_features(builds):
    db = builds["python"]
    rows = query_dicts(db, "select * from lookalike_run_scoring_sql order by run_id")
    assert [(r["run_id"], r["dialect"], r["compile_action"], r["compile_error"]) for r in rows] == [
        ("pit", "duckdb", "compiled", None),
        ("single", "duckdb", "compiled", None),
    ]
    for row in rows:
        assert row["sql_bytes"] == len(row["sql_text"].encode()) and row["sql_text"].lower().startswith("select")
        got = dict(query(db, "with lookalike_input as (select * from lookalike_inference_features) " + row["sql_text"]))
        expected = scores(db, row["run_id"])
        np.testing.assert_allclose(
            [got[u] for u in sorted(expected)], [expected[u] for u in sorted(expected)], rtol=0, atol=1e-9
        )


def test_unchanged_models_reuse_their_sql(builds, tmp_path):
    db = builds["python"]
    before = query(db, "select run_id, sql_text, compiled_at from lookalike_run_scoring_sql order by run_id")
    run_dbt(["build", "--select", "lookalike_run_scoring_sql"], db, tmp_path, vars=FIXTURE_VARS)
    after = query_dicts(
        db, "select run_id, sql_text, compiled_at, compile_action from lookalike_run_scoring_sql order by run_id"
    )
    assert [(r["run_id"], r["sql_text"], r["compiled_at"]) for r in after] == before
    assert {r["compile_action"] for r in after} == {"reused"}
