"""Reruns reuse unchanged models and scores: real `dbt build`s on the hand-made fixture.

Build sequence on one DuckDB file (the fixture's runs 'pit' (with negatives) and 'single'
(positives only, SINGLE_ENGAGE) train; 'few_negatives' and 'ghost' fail):
1. first build: every trained run is fitted and scored;
2. the same build again (twice): every model and every score is reused, untouched: their tables
   are kept as they were (no statement rebuilds or copies them; decisions 0019, 0025);
3. one more label in run 'pit' (a labels table that differs in that run only): 'pit' is refitted
   and rescored, 'single' is reused; before it, 'single''s stored feature importance is marked
   (+100), so the build shows that it carried those rows over instead of recomputing them;
4. var lookalike_force_retrain: every run is refitted and rescored;
5. a new user in the population (latest snapshot only, no label): 'pit' keeps its model (none of
   its training examples changed) and scores only that user (decision 0036);
6. var lookalike_tune_model true: every run is refitted (the setting is part of the fingerprint);
7. a changed tune_time_budget_seconds and auto_tune: refitted again.
"""

from __future__ import annotations

import duckdb
import pytest

from conftest import kept_by_last_build, query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS

pytestmark = pytest.mark.integration

TRAINED_RUNS = ["pit", "single"]


def state(db) -> dict:
    runs = {
        r["run_id"]: r
        for r in query_dicts(db, "select run_id, status, training_action, scoring_action from lookalike_runs")
    }
    models = {
        r["run_id"]: r
        for r in query_dicts(
            db, "select run_id, model_json, training_fingerprint, training_started_at from lookalike_run_models"
        )
    }
    scores = {
        run: query(
            db, f"select user_id, score, scored_at from lookalike_user_scores where run_id = '{run}' order by user_id"
        )
        for run in TRAINED_RUNS
    }
    predictions = {
        run: query(
            db,
            f"select example_id, score from lookalike_training_predictions where run_id = '{run}' order by example_id",
        )
        for run in TRAINED_RUNS
    }
    importance = {
        run: query(
            db,
            "select feature, importance, prevalence_population, training_fingerprint "
            f"from lookalike_feature_importance where run_id = '{run}' order by feature",
        )
        for run in TRAINED_RUNS
    }
    leftovers = query(db, "select table_name from information_schema.tables where table_name like '%dbt_tmp%'")
    # Tables the last build kept as they were (lookalike_table; lookalike_build_state records it, decision 0025).
    kept = kept_by_last_build(db)
    return {
        "runs": runs,
        "models": models,
        "scores": scores,
        "predictions": predictions,
        "importance": importance,
        "leftovers": leftovers,
        "kept": kept,
    }


#: The tables an unchanged rebuild keeps without running a statement: the models with config
#: lookalike_keep (Python models, drift, scores, labels, training examples), and the feature tables
#: (lookalike_keep without a row checksum; before decision 0025 they copied themselves).
KEEP_MODELS = {
    "lookalike_run_models",
    "lookalike_training_predictions",
    "int_lookalike__population_scores",
    "lookalike_feature_importance",
    "lookalike_run_scoring_sql",
    "lookalike_user_reasons",
    "lookalike_feature_drift",
    "lookalike_feature_info",
    "lookalike_pit_labels",
    "int_lookalike__training_examples",
}
GUARDED_FEATURE_TABLES = {
    "int_lookalike__user_snapshots",
    "int_lookalike__training_points",
    "lookalike_inference_features",
}
#: Kept by the same key, but read only the population's snapshots, not the labels.
POPULATION_TABLES = {"int_lookalike__inference_snapshots"}
#: Reports over the training predictions (and, for the metrics, the scores) and over the labels:
#: lookalike_keep with a row checksum (issue 29: on Spark each costs a table build).
EVALUATION_TABLES = {
    "lookalike_run_metrics",
    "lookalike_run_threshold_metrics",
    "lookalike_run_cumulative_positive_rates",
    "lookalike_run_confusion_matrix",
    "lookalike_run_deciles",
}
LABEL_REPORTS = {"lookalike_input_label_summary", "lookalike_label_monthly", "lookalike_label_weight_counts"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("reuse")
    db = copy_fixture_build(fixture_build, work)  # the first build: the session's (integration/conftest.py)
    out = {}
    out["first"] = state(db)
    run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    out["again"] = state(db)
    run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    out["third"] = state(db)

    con = duckdb.connect(str(db))
    con.execute("update main.lookalike_feature_importance set importance = importance + 100 where run_id = 'single'")
    con.execute("create or replace table inputs.labels_more as select * from inputs.labels")
    con.execute("insert into inputs.labels_more values ('pit', '0046', 0, '2026-02-20 12:00:00', 1.0)")
    con.close()
    more = {**FIXTURE_VARS, "lookalike_labels": "inputs.labels_more"}
    run_dbt(["build"], db, work, vars=more)
    out["one_run_changed"] = state(db)

    run_dbt(["build"], db, work, vars={**more, "lookalike_force_retrain": True})
    out["forced"] = state(db)

    con = duckdb.connect(str(db))
    con.execute("insert into inputs.snapshots values ('0061', '2026-03-01 00:00:00', 3.0, 'a', true)")
    con.close()
    run_dbt(["build"], db, work, vars=more)
    out["new_user"] = state(db)

    run_dbt(["build"], db, work, vars={**more, "lookalike_tune_model": True})
    out["tuned"] = state(db)
    run_dbt(
        ["build"],
        db,
        work,
        vars={
            **more,
            "lookalike_tune_model": True,
            "lookalike_auto_tune": True,
            "lookalike_tune_time_budget_seconds": 30,
        },
    )
    out["auto_tuned"] = state(db)
    return out


def actions(s, run):
    return s["runs"][run]["training_action"], s["runs"][run]["scoring_action"]


def test_first_build_fits_and_scores_every_run(builds):
    first = builds["first"]
    for run in TRAINED_RUNS:
        assert first["runs"][run]["status"] == "FINISHED"
        assert actions(first, run) == ("trained", "scored")
        assert len(first["models"][run]["training_fingerprint"]) == 64
    # Failed runs neither train nor score.
    assert actions(first, "few_negatives") == (None, None)


def test_unchanged_rebuild_reuses_every_model_and_score(builds):
    first, again = builds["first"], builds["again"]
    assert first["kept"] == set()
    # Nothing changed: every model and guarded feature table is kept as it was, not rebuilt or copied.
    assert again["kept"] >= KEEP_MODELS | GUARDED_FEATURE_TABLES | POPULATION_TABLES
    # lookalike_user_scores reads its previous table (the last good audience of a failed run) once
    # one exists; that part of its SQL is left out of its key, so it is kept from the second build on.
    assert again["kept"] >= KEEP_MODELS | GUARDED_FEATURE_TABLES | POPULATION_TABLES | {"lookalike_user_scores"}
    assert again["kept"] >= EVALUATION_TABLES | LABEL_REPORTS
    # The serving file is kept from the third build: the second one's lookalike_runs says reused,
    # not trained, so it is published once more.
    assert "lookalike_serving" not in again["kept"]
    assert builds["third"]["kept"] == again["kept"] | {"lookalike_serving"}
    assert builds["third"]["scores"] == first["scores"] and builds["third"]["runs"] == again["runs"]
    for run in TRAINED_RUNS:
        assert actions(again, run) == ("reused", "reused")
        assert again["models"][run] == first["models"][run]  # same JSON, fingerprint and original fit time
        assert again["scores"][run] == first["scores"][run]  # same scores and original scored_at
        assert again["predictions"][run] == first["predictions"][run]
        assert len(again["scores"][run]) > 0


def test_changing_one_runs_labels_refits_only_that_run(builds):
    before, after = builds["again"], builds["one_run_changed"]
    assert actions(after, "pit") == ("trained", "scored")
    # The labels changed: the models table is rebuilt (run 'single' reused inside it), and so is
    # everything downstream of it; the population's features are kept.
    assert not after["kept"] & (KEEP_MODELS | EVALUATION_TABLES | LABEL_REPORTS)
    assert {"lookalike_inference_features", "int_lookalike__inference_snapshots"} <= after["kept"]
    assert after["models"]["pit"]["training_fingerprint"] != before["models"]["pit"]["training_fingerprint"]
    assert len(after["predictions"]["pit"]) == len(before["predictions"]["pit"]) + 1
    assert actions(after, "single") == ("reused", "reused")
    assert after["models"]["single"] == before["models"]["single"]
    assert after["scores"]["single"] == before["scores"]["single"]


def test_force_refits_and_rescores_every_run_with_the_same_result(builds):
    before, forced = builds["one_run_changed"], builds["forced"]
    assert forced["kept"] == set()
    for run in TRAINED_RUNS:
        assert actions(forced, run) == ("trained", "scored")
        assert forced["models"][run]["training_started_at"] > before["models"][run]["training_started_at"]
        # Same inputs and seed: the refit is identical, so reuse never changes a result.
        assert forced["models"][run]["model_json"] == before["models"][run]["model_json"]
        assert [r[:2] for r in forced["scores"][run]] == [r[:2] for r in before["scores"][run]]
        assert forced["scores"][run][0][2] > before["scores"][run][0][2]  # newly scored_at


def test_a_population_change_rescores_with_the_kept_model(builds):
    before, after = builds["forced"], builds["new_user"]
    # Only the new user is scored; the others' rows are carried with their scored_at (decision 0036).
    assert actions(after, "pit") == ("reused", "partly reused")
    assert [r for r in after["scores"]["pit"] if r[0] != "0061"] == before["scores"]["pit"]
    # A new snapshot: no table is kept but the labels (0061 has none, and lookalike_pit_labels reads
    # only the labelled users' snapshots, decision 0039). The models table is rebuilt too (it reads
    # int_lookalike__run_fingerprints, which holds the population's checksum), and reuses 'pit''s
    # model inside.
    assert after["kept"] & (KEEP_MODELS | GUARDED_FEATURE_TABLES | POPULATION_TABLES) == {"lookalike_pit_labels"}
    # The reports over the labels read only lookalike_pit_labels: kept with it.
    assert LABEL_REPORTS <= after["kept"]
    assert after["models"]["pit"] == before["models"]["pit"]
    assert len(after["scores"]["pit"]) == len(before["scores"]["pit"]) + 1
    assert "0061" in [r[0] for r in after["scores"]["pit"]]


def test_tuning_settings_are_part_of_the_training_fingerprint(builds):
    before, tuned, auto_tuned = builds["new_user"], builds["tuned"], builds["auto_tuned"]
    assert "lookalike_run_models" not in tuned["kept"] | auto_tuned["kept"]
    for run in TRAINED_RUNS:
        assert actions(tuned, run)[0] == "trained" and actions(auto_tuned, run)[0] == "trained"
        fingerprints = {s["models"][run]["training_fingerprint"] for s in (before, tuned, auto_tuned)}
        assert len(fingerprints) == 3
        assert "tuning" in tuned["models"][run]["model_json"]
        assert '"feature_selection"' in auto_tuned["models"][run]["model_json"]
        assert '"budget_seconds":30.0' in auto_tuned["models"][run]["model_json"]


def test_feature_importance_is_carried_over_for_reused_models_only(builds):
    first, again, changed, forced, new_user = (
        builds[k] for k in ("first", "again", "one_run_changed", "forced", "new_user")
    )
    for run in TRAINED_RUNS:
        assert len(first["importance"][run]) >= 3
        assert {r[3] for r in first["importance"][run]} == {first["models"][run]["training_fingerprint"]}
        assert again["importance"][run] == first["importance"][run]
    # 'single' was reused: its (marked) rows were carried over, not recomputed.
    assert [r[1] for r in changed["importance"]["single"]] == [r[1] + 100 for r in first["importance"]["single"]]
    # 'pit' was refitted: a fresh report under the new fingerprint, no mark.
    assert {r[3] for r in changed["importance"]["pit"]} == {changed["models"]["pit"]["training_fingerprint"]}
    assert all(r[1] < 50 for r in changed["importance"]["pit"])
    # Forcing recomputes: the mark is gone and the values are the first build's again.
    assert [r[:2] for r in forced["importance"]["single"]] == [r[:2] for r in first["importance"]["single"]]
    # A new user changes the population: 'pit' keeps importance but its population prevalence is recomputed.
    assert [r[:2] for r in new_user["importance"]["pit"]] == [r[:2] for r in forced["importance"]["pit"]]
    assert [r[2] for r in new_user["importance"]["pit"]] != [r[2] for r in forced["importance"]["pit"]]


def test_no_temporary_tables_are_left_behind(builds):
    for name, s in builds.items():
        assert s["leftovers"] == [], name
