"""A run that succeeded before and fails now keeps its last good audience (var
lookalike_on_run_failure = keep_last_good, the default), marked stale; with drop it has none."""

from __future__ import annotations

import pytest

from conftest import kept_by_last_build, query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS

pytestmark = pytest.mark.integration

SCORES = "select user_id, score, score_rank, scored_at, model_fingerprint from lookalike_user_scores where run_id = '{}' order by user_id"


def kept(db, table: str) -> bool:
    """Whether the last build kept the table as it was (lookalike_build_state, decision 0025)."""
    return table in kept_by_last_build(db)


@pytest.fixture(scope="module")
def first_build(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("failure_policy")
    db = copy_fixture_build(fixture_build, work)  # the session's fixture build (integration/conftest.py)
    return db, work


def test_failed_run_keeps_its_last_good_audience_marked_stale(first_build):
    db, work = first_build
    before = query(db, SCORES.format("single"))
    assert len(before) == 48 and all(fp for *_, fp in before)
    assert query(db, "select count(*) from lookalike_user_scores where is_stale") == [(0,)]

    # 'single' has 12 positive users: requiring 13 fails it today; 'pit' still finishes.
    proc = run_dbt(["build"], db, work, vars={**FIXTURE_VARS, "lookalike_min_seed_users": 13})
    assert "WARN 3 assert_no_failed_runs" in proc.stdout
    assert query(db, SCORES.format("single")) == before
    assert query(db, "select distinct is_stale from lookalike_user_scores where run_id = 'single'") == [(True,)]
    assert query(db, "select distinct is_stale from lookalike_user_scores where run_id = 'pit'") == [(False,)]
    run = query_dicts(db, "select * from lookalike_runs where run_id = 'single'")[0]
    assert run["status"] == "FAILED"
    assert run["audience_state"] == "kept_last_good"
    assert run["n_scored_users"] == 0
    assert run["audience_scored_at"] == before[0][3]
    assert (
        "run 'single': lookalike_user_scores keeps the last good audience of this run (48 users scored at "
        in run["status_message"]
    )
    assert f"by model {before[0][4][:12]}, is_stale = true) until the run succeeds again" in run["status_message"]

    # Failing again keeps the same rows (still stale, same scored_at): nothing changed, so the
    # table is kept as it is (decision 0019).
    run_dbt(["build"], db, work, vars={**FIXTURE_VARS, "lookalike_min_seed_users": 13})
    assert query(db, SCORES.format("single")) == before
    assert kept(db, "lookalike_user_scores")

    # drop: the audience goes.
    run_dbt(
        ["build"], db, work, vars={**FIXTURE_VARS, "lookalike_min_seed_users": 13, "lookalike_on_run_failure": "drop"}
    )
    # The policy is part of the scores table's keep key, though its previous-rows part is not.
    assert not kept(db, "lookalike_user_scores")
    assert query(db, "select count(*) from lookalike_user_scores where run_id = 'single'") == [(0,)]
    assert query(db, "select audience_state from lookalike_runs where run_id = 'single'") == [("none",)]

    # Fixed inputs: a fresh audience, not stale.
    run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    fresh = query_dicts(db, "select * from lookalike_runs where run_id = 'single'")[0]
    assert fresh["status"] == "FINISHED" and fresh["audience_state"] == "current"
    assert query(db, "select count(*), bool_or(is_stale) from lookalike_user_scores where run_id = 'single'") == [
        (48, False)
    ]
