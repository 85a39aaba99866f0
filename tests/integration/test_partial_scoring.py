"""A scheduled build scores only the users whose features changed (issue 27 part 3, decision 0036):
real `dbt build`s of the hand-made fixture with events (fixtures.py), scoring method python and sql.

Sequence on one DuckDB file:
1. first build: runs 'pit' (with negatives) and 'single' (positives only) are fitted and scored;
2. the population changes: user 0055 gets a new snapshot (another score_signal), user 0048 a new
   event (its event features change), user 0061 arrives, user 0058 leaves; and run 'single' gets
   one more label (its model is refitted). 'pit''s model is unchanged, so only 0055, 0048 and 0061
   are scored for it, its other rows are carried; 'single' is rescored whole;
3. the same changes on a copy of build 1, built with var lookalike_force_retrain: every score and
   every audience equals the partial build's;
4. (scoring method python only) a failure marker planted in 'pit''s previous rows, one more snapshot: 'pit' is rescored whole;
5. the scoring time one day later (labels without a timestamp left out, since they take the
   scoring time and would refit 'pit'), then one more day: the users whose event features move
   with the time ("days since", windows) are rescored, exactly those whose feature row changed;
   the others are carried.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import EVENT_VARS, add_events, build_fixture_db

pytestmark = pytest.mark.integration

SCORES = "int_lookalike__population_scores"
CHANGED = {"0055", "0048"}
ADDED, REMOVED = "0061", "0058"


def scores(db, run: str) -> dict:
    return {
        r["user_id"]: r
        for r in query_dicts(
            db,
            "select user_id, score, scored_at, scoring_action, score_fingerprint, scorer_fingerprint, feature_hash "
            f"from {SCORES} where run_id = '{run}' and user_id is not null",
        )
    }


def actions(db) -> dict:
    return {r[0]: (r[1], r[2]) for r in query(db, "select run_id, training_action, scoring_action from lookalike_runs")}


def audiences(db) -> list[tuple]:
    return query(
        db,
        "select run_id, user_id, score, score_rank, score_percentile, is_seed_user, is_stale "
        "from lookalike_audiences order by run_id, user_id",
    )


def features(db) -> dict:
    """user_id -> the user's row of lookalike_inference_features without as_of_at."""
    return {r["user_id"]: r for r in query_dicts(db, "select * exclude (as_of_at) from lookalike_inference_features")}


def change_population(db) -> None:
    con = duckdb.connect(str(db))
    con.execute("insert into inputs.snapshots values ('0055', '2026-04-01 00:00:00', 42.5, 'b', false)")
    con.execute("insert into inputs.events values ('0048', '2026-05-01 00:00:00', 'view', null, null)")
    con.execute("insert into inputs.snapshots values ('0061', '2026-03-01 00:00:00', 3.0, 'a', true)")
    con.execute("delete from inputs.snapshots where user_id = '0058'")
    con.execute("create or replace table inputs.labels_more as select * from inputs.labels")
    con.execute("insert into inputs.labels_more values ('single', '0013', 1, '2026-03-05 00:00:00', null)")
    con.close()


@pytest.fixture(scope="module", params=["python", "sql"])
def builds(request, tmp_path_factory):
    method = request.param
    work = tmp_path_factory.mktemp(f"partial_{method}")
    db = work / "events.duckdb"
    build_fixture_db(db)
    add_events(db)
    base = {**EVENT_VARS, "lookalike_scoring_engine": method}
    run_dbt(["build"], db, work, vars=base)
    out = {"method": method, "first": {run: scores(db, run) for run in ("pit", "single")}}

    forced_work = work / "forced"
    forced_work.mkdir()
    forced_db = forced_work / "events.duckdb"
    shutil.copy2(db, forced_db)

    more = {**base, "lookalike_labels": "inputs.labels_more"}
    change_population(db)
    run_dbt(["build"], db, work, vars=more)
    out["delta"] = {run: scores(db, run) for run in ("pit", "single")}
    out["delta_actions"] = actions(db)
    out["delta_audiences"] = audiences(db)
    out["n_population"] = query(db, "select count(*) from lookalike_inference_features")[0][0]
    out["hash_grain"] = query(
        db,
        "select count(*), count(distinct user_id), count(feature_hash) from int_lookalike__population_feature_hashes",
    )[0]

    change_population(forced_db)
    run_dbt(["build"], forced_db, forced_work, vars={**more, "lookalike_force_retrain": True})
    out["forced"] = {run: scores(forced_db, run) for run in ("pit", "single")}
    out["forced_actions"] = actions(forced_db)
    out["forced_audiences"] = audiences(forced_db)
    if method == "sql":
        return out  # steps 4 and 5 are the scoring method's own bookkeeping: python only (3 builds less)

    # A failure marker in 'pit''s previous rows (as a failed scoring leaves it) and one more change.
    con = duckdb.connect(str(db))
    con.execute(
        f"insert into {SCORES} select run_id, null, null, scored_at, score_fingerprint, 'failed', "
        f"'run ''pit'': scoring failed', scorer_fingerprint, null from {SCORES} where run_id = 'pit' limit 1"
    )
    con.execute("insert into inputs.snapshots values ('0056', '2026-04-01 00:00:00', 1.5, 'a', true)")
    con.close()
    run_dbt(["build"], db, work, vars=more)
    out["after_failure"] = {run: scores(db, run) for run in ("pit",)}
    out["after_failure_actions"] = actions(db)

    # The scoring time one day later, then one more: nothing else changes. Labels without a
    # timestamp take the scoring time (their training examples would change), so they are left out
    # from here, and the measured step is the second move.
    con = duckdb.connect(str(db))
    con.execute(
        "create or replace table inputs.labels_timed as select * from inputs.labels_more where label_timestamp is not null"
    )
    con.close()
    timed = {**more, "lookalike_labels": "inputs.labels_timed"}
    run_dbt(["build"], db, work, vars={**timed, "lookalike_as_of": "2026-06-02 00:00:00"})
    out["before_later"] = {"pit": scores(db, "pit")}
    out["features_before_later"] = features(db)
    run_dbt(["build"], db, work, vars={**timed, "lookalike_as_of": "2026-06-03 00:00:00"})
    out["later"] = {"pit": scores(db, "pit")}
    out["later_actions"] = actions(db)
    out["features_later"] = features(db)
    return out


def test_only_the_changed_and_new_users_are_scored_the_others_carried_as_they_were(builds):
    first, delta = builds["first"]["pit"], builds["delta"]["pit"]
    assert builds["delta_actions"]["pit"] == ("reused", "partly reused")
    assert set(delta) == (set(first) - {REMOVED}) | {ADDED}
    assert len(delta) == builds["n_population"] == 60  # 60 users, one left, one arrived
    assert builds["hash_grain"] == (60, 60, 60)  # one hash per population user (grain: user_id)
    assert {u for u, r in delta.items() if r["scoring_action"] == "scored"} == CHANGED | {ADDED}
    for user, row in delta.items():
        if user in CHANGED | {ADDED}:
            assert row["scored_at"] > max(r["scored_at"] for r in first.values())
            assert row["feature_hash"] != first.get(user, {}).get("feature_hash")
            continue
        assert row["scoring_action"] == "reused"
        # Bit-identical: the score as a double, when it was scored, its scorer and its feature hash.
        for column in ("score", "scored_at", "scorer_fingerprint", "feature_hash"):
            assert row[column] == first[user][column], (user, column)
    # Every row holds this build's score fingerprint: the next unchanged build carries the run whole.
    assert len({r["score_fingerprint"] for r in delta.values()}) == 1
    assert {r["score_fingerprint"] for r in delta.values()} != {r["score_fingerprint"] for r in first.values()}


def test_a_refitted_model_rescores_every_user(builds):
    assert builds["delta_actions"]["single"] == ("trained", "scored")
    single = builds["delta"]["single"]
    assert {r["scoring_action"] for r in single.values()} == {"scored"}
    assert {r["scorer_fingerprint"] for r in single.values()} != {
        r["scorer_fingerprint"] for r in builds["first"]["single"].values()
    }


def test_every_score_and_audience_equals_a_full_rescoring(builds):
    assert builds["forced_actions"] == {
        run: (("trained", "scored") if run in ("pit", "single") else acts)
        for run, acts in builds["delta_actions"].items()
    }
    for run in ("pit", "single"):
        delta, forced = builds["delta"][run], builds["forced"][run]
        assert set(delta) == set(forced)
        assert {r["scoring_action"] for r in forced.values()} == {"scored"}
        for user in forced:
            assert delta[user]["score"] == pytest.approx(forced[user]["score"], abs=1e-12, rel=0), (run, user)
            assert delta[user]["feature_hash"] == forced[user]["feature_hash"]
            assert delta[user]["scorer_fingerprint"] == forced[user]["scorer_fingerprint"]
    # Audiences, ranks and ties at the cut-off: the same rows.
    assert builds["delta_audiences"] and builds["delta_audiences"] == builds["forced_audiences"]


@pytest.mark.parametrize("builds", ["python"], indirect=True)
def test_a_run_whose_previous_scoring_failed_is_rescored_whole(builds):
    assert builds["after_failure_actions"]["pit"] == ("reused", "scored")
    after = builds["after_failure"]["pit"]
    assert {r["scoring_action"] for r in after.values()} == {"scored"} and "0056" in after


@pytest.mark.parametrize("builds", ["python"], indirect=True)
def test_a_later_scoring_time_rescores_the_users_whose_time_dependent_features_moved(builds):
    later, before = builds["later"]["pit"], builds["before_later"]["pit"]
    assert builds["later_actions"]["pit"] == ("reused", "partly reused")
    rescored = {u for u, r in later.items() if r["scoring_action"] == "scored"}
    # Event features over windows and "days since" move with the scoring time: exactly the users
    # whose feature row changed are rescored; users without events keep their rows.
    old, new = builds["features_before_later"], builds["features_later"]
    moved = {u for u in new if new[u] != old.get(u)}
    assert rescored == moved
    assert 0 < len(rescored) < len(later)
    print(f"scoring time moved by a day: {len(rescored)} of {len(later)} users rescored")
    for user in set(later) - rescored:
        assert later[user]["score"] == before[user]["score"] and later[user]["scored_at"] == before[user]["scored_at"]
