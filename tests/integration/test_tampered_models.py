"""A corrupt or edited stored model is refitted on the next plain build, or fails only its run with a
message naming the run and the fix; it never scores (real `dbt build`s on the hand-made fixture).

Build sequence on one DuckDB file: a first build, then for each edit of run 'pit''s
lookalike_run_models.model_json (model_sha256 untouched) a plain rebuild:
1. the JSON cut in half (invalid JSON);
2. a split node pointing at a child outside its tree (bad node index);
3. the encoder missing a feature (wrong feature count);
4. every leaf value set to 1e6: a valid shape that would score every user 1.0.
Each rebuild must succeed, refit 'pit' to the first build's model (same examples) with a warning,
and leave 'single' reused and scored. Then the models downstream of lookalike_run_models are built
alone (`--select lookalike_run_models+ --exclude lookalike_run_models`) over an edited model, as
they would read a model edited mid-build: 'pit' must fail alone, with the message naming the fix,
and the plain build that message recommends must recover it. Finally, the scoring entry point is
called directly on the built tables with an edited model.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db
from lookalike_udf import dbt_models
from lookalike_udf.integrity import model_sha256
from lookalike_udf.scoring import LookalikeModel
from model_edits import EDITS, every_score_one

pytestmark = pytest.mark.integration

WARNING = ("run 'pit': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
           "corrupted since it was trained); it was retrained.")
FAILURE = ("run 'pit': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
           "corrupted since it was trained), so it was not used. Run `dbt build` again to refit it (a stored model "
           "that fails this check is refitted), or refit every run with "
           "`dbt build --vars '{lookalike_force_retrain: true}'`.")


def edit_pit(db, edit) -> None:
    """Replace run 'pit''s model_json by ``edit`` of it, model_sha256 untouched."""
    con = duckdb.connect(str(db))
    [(text,)] = con.execute("select model_json from main.lookalike_run_models where run_id = 'pit'").fetchall()
    con.execute("update main.lookalike_run_models set model_json = ? where run_id = 'pit'", [edit(text)])
    con.close()


def state(db) -> dict:
    runs = {r["run_id"]: r for r in query_dicts(
        db, "select run_id, status, status_message, training_action, scoring_action from lookalike_runs")}
    models = {r["run_id"]: r for r in query_dicts(
        db, "select run_id, model_json, model_sha256, training_fingerprint from lookalike_run_models "
            "where model_status = 'TRAINED'")}
    scores = {run: query(db, "select user_id, score from lookalike_user_scores "
                             f"where run_id = '{run}' and not is_stale order by user_id") for run in ("pit", "single")}
    stale = {run: query(db, "select user_id, score from lookalike_user_scores "
                            f"where run_id = '{run}' and is_stale order by user_id") for run in ("pit", "single")}
    n_predictions = dict(query(db, "select run_id, count(*) from lookalike_training_predictions group by run_id"))
    importance = dict(query(db, "select run_id, count(*) from lookalike_feature_importance group by run_id"))
    [(scores_comment,)] = query(db, "select comment from duckdb_tables() where table_name = 'int_lookalike__population_scores'")
    return {"runs": runs, "models": models, "scores": scores, "stale": stale, "n_predictions": n_predictions,
            "importance": importance, "scores_comment": scores_comment}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("tampered")
    db = work / "fixture.duckdb"
    build_fixture_db(db)
    run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    out = {"db": db, "first": state(db)}
    for case, edit in EDITS.items():
        edit_pit(db, edit)
        run_dbt(["build"], db, work, vars=FIXTURE_VARS)  # a plain rebuild; raises unless dbt exits 0
        out[case] = state(db)

    edit_pit(db, every_score_one)
    run_dbt(["build", "--select", "lookalike_run_models+", "--exclude", "lookalike_run_models"], db, work,
            vars=FIXTURE_VARS)
    out["downstream_only"] = state(db)
    run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    out["recovered"] = state(db)
    return out


def test_first_build_stores_the_checksum_of_every_model(builds):
    first = builds["first"]
    assert set(first["models"]) == {"pit", "single"}
    for row in first["models"].values():
        assert row["model_sha256"] == model_sha256(row["model_json"])
    assert first["runs"]["pit"]["status"] == first["runs"]["single"]["status"] == "FINISHED"


@pytest.mark.parametrize("case", list(EDITS))
def test_a_tampered_model_is_retrained_on_a_plain_rebuild_and_the_other_run_is_untouched(builds, case):
    first, after = builds["first"], builds[case]
    pit = after["runs"]["pit"]
    assert pit["status"] == "FINISHED" and pit["training_action"] == "trained"
    assert WARNING in pit["status_message"]
    # The refit on the same examples is the first build's model, so its scores are the first build's.
    assert after["models"]["pit"]["model_json"] == first["models"]["pit"]["model_json"]
    assert after["models"]["pit"]["model_sha256"] == model_sha256(after["models"]["pit"]["model_json"])
    # Its score fingerprint is the first build's again, so the scores the first build made with this very
    # model are carried over; the tampered model scored nothing.
    assert pit["scoring_action"] == "reused"
    assert [u for u, _ in after["scores"]["pit"]] == [u for u, _ in first["scores"]["pit"]]
    np.testing.assert_allclose([s for _, s in after["scores"]["pit"]], [s for _, s in first["scores"]["pit"]],
                               rtol=0, atol=1e-9)
    assert len({s for _, s in after["scores"]["pit"]}) > 1 and max(s for _, s in after["scores"]["pit"]) < 1.0
    assert after["n_predictions"] == first["n_predictions"]
    single = after["runs"]["single"]
    assert single["status"] == "FINISHED" and (single["training_action"], single["scoring_action"]) == ("reused", "reused")
    assert after["models"]["single"] == first["models"]["single"]
    assert after["scores"]["single"] == first["scores"]["single"] and len(after["scores"]["single"]) > 0
    assert "lookalike_run_models" not in (single["status_message"] or "")


def test_models_reading_an_edited_model_fail_only_its_run_and_the_recommended_build_recovers(builds):
    first, failed, recovered = builds["first"], builds["downstream_only"], builds["recovered"]
    pit = failed["runs"]["pit"]
    assert pit["status"] == "FAILED" and pit["scoring_action"] is None
    assert pit["status_message"].startswith(FAILURE + " | ")
    assert failed["scores"]["pit"] == [] and "pit" not in failed["n_predictions"] and "pit" not in failed["importance"]
    # The failed run keeps its last good audience (var lookalike_on_run_failure = keep_last_good), marked stale.
    assert failed["stale"]["pit"] == first["scores"]["pit"] and first["stale"]["pit"] == []
    single = failed["runs"]["single"]
    assert single["status"] == "FINISHED" and failed["scores"]["single"] == first["scores"]["single"]
    assert failed["importance"]["single"] == first["importance"]["single"]
    # The scores table holds a failure marker, so it stores no key: the next build scores again
    # instead of keeping it (lookalike_keep_unless, decision 0019).
    assert first["scores_comment"].startswith("lookalike inputs key: ")
    assert not failed["scores_comment"]
    assert recovered["scores_comment"].startswith("lookalike inputs key: ")

    pit = recovered["runs"]["pit"]
    assert pit["status"] == "FINISHED" and (pit["training_action"], pit["scoring_action"]) == ("trained", "scored")
    assert WARNING in pit["status_message"] and FAILURE not in pit["status_message"]
    assert [u for u, _ in recovered["scores"]["pit"]] == [u for u, _ in first["scores"]["pit"]]
    np.testing.assert_allclose([s for _, s in recovered["scores"]["pit"]], [s for _, s in first["scores"]["pit"]],
                               rtol=0, atol=1e-9)
    assert recovered["n_predictions"] == first["n_predictions"] and recovered["importance"] == first["importance"]


def test_an_edited_model_read_mid_build_fails_only_its_run_in_scoring(builds):
    db = builds["db"]
    with duckdb.connect(str(db), read_only=True) as con:
        models = con.sql("select * from main.lookalike_run_models").to_arrow_table()
        population = con.sql("select * from main.lookalike_inference_features").to_arrow_table()
        runs = con.sql("select * from main.int_lookalike__runs").to_arrow_table()
        fingerprints = con.sql("select * from main.int_lookalike__run_fingerprints").to_arrow_table()
        previous = con.sql("select * from main.int_lookalike__population_scores").to_arrow_table()
    rows = models.to_pylist()
    for row in rows:
        if row["run_id"] == "pit":
            row["model_json"] = every_score_one(row["model_json"])  # model_sha256 left as it was
            # The edit is a valid model: used, it would score every user 1.0.
            assert set(LookalikeModel.from_json(row["model_json"]).predict(population).tolist()) == {1.0}
    edited = pa.Table.from_pylist(rows, schema=models.schema)

    for prev in (None, previous):
        scores = dbt_models.score_population(edited, population, batch_size=16, runs=runs,
                                             fingerprints=fingerprints, previous=prev).read_all().to_pylist()
        pit = [r for r in scores if r["run_id"] == "pit"]
        assert len(pit) == 1 and pit[0]["user_id"] is None and pit[0]["score"] is None
        assert pit[0]["scoring_action"] == "failed" and pit[0]["scoring_message"] == FAILURE
        single = [r for r in scores if r["run_id"] == "single"]
        assert len(single) == population.num_rows
        assert {r["scoring_action"] for r in single} == ({"scored"} if prev is None else {"reused"})
        built = dict(query(db, "select user_id, score from int_lookalike__population_scores where run_id = 'single'"))
        assert {r["user_id"]: r["score"] for r in single} == pytest.approx(built, abs=1e-12)
