"""`dbt build` on the demo seeds, exactly as the README tells a new user to run it."""

from __future__ import annotations

import csv
import datetime as dt
import re
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from conftest import REPO, query, query_dicts, run_dbt
from integration.quality_checks import (
    assert_calibrated_scores,
    assert_evaluation_matches_sklearn,
    assert_seed_recall_matches_numpy,
    assert_threshold_metrics_match_sklearn,
    assert_user_reasons_are_exact,
)

pytestmark = pytest.mark.integration
SNAPSHOT_FEATURES = {
    "plan_tier",
    "country",
    "is_subscribed",
    "tenure_days",
    "sessions_30d",
    "avg_order_value",
    "support_tickets_90d",
    "pages_per_session",
    "email_open_rate",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo_build")
    db_path = work / "demo.duckdb"
    started = time.perf_counter()
    proc = run_dbt(["build"], db_path, work)
    elapsed = time.perf_counter() - started
    print(f"demo dbt build took {elapsed:.1f}s")  # recorded, not asserted: see bench/
    assert "ERROR=0" in proc.stdout
    # The only warning allowed is assert_no_unhealthy_runs, for the runs lookalike_runs.health does not
    # call healthy (on this demo: the two MULTI_ENGAGE runs warn, train-test AUC gap ~0.15 > 0.1;
    # test_run_health_and_quality_band checks the messages against the figures).
    [(unhealthy,)] = query(
        db_path, "select count(*) from lookalike_runs where health <> 'healthy' and status <> 'FAILED'"
    )
    assert (f"WARN {unhealthy} assert_no_unhealthy_runs" in proc.stdout) if unhealthy else True
    assert f"WARN={1 if unhealthy else 0} " in proc.stdout
    return db_path


def test_every_run_finishes(demo):
    runs = {r["run_id"]: r for r in query_dicts(demo, "select * from lookalike_runs")}
    assert {k: v["status"] for k, v in runs.items()} == {
        "demo_retarget": "FINISHED",
        "demo_new_users": "FINISHED",
        "demo_train_only": "FINISHED_TRAINING",
    }
    assert runs["demo_train_only"]["n_scored_users"] == 0
    assert query(demo, "select count(*) from lookalike_user_scores where run_id = 'demo_train_only'") == [(0,)]


def test_planted_signal_is_found(demo):
    # Positives are drawn with odds exp(1.6 z) on a hidden propensity z that drives the behaviour
    # columns; a model that reads them ranks held-out positives well above chance.
    aucs = dict(query(demo, "select run_id, test_auc from lookalike_runs"))
    assert aucs["demo_retarget"] > 0.75
    assert aucs["demo_new_users"] > 0.75
    assert aucs["demo_train_only"] > 0.65


def test_all_labels_are_accounted_for(demo):
    with open(REPO / "seeds" / "lookalike_demo_labels.csv") as f:
        n_labels = sum(1 for _ in csv.DictReader(f))
    assert query(demo, "select count(*) from lookalike_pit_labels") == [(n_labels,)]
    assert query(demo, "select sum(n_input_labels) from lookalike_input_label_summary") == [(n_labels,)]


def test_population_and_seed_exclusion(demo):
    n_users = query(demo, "select count(distinct user_id) from lookalike_demo_user_snapshots")[0][0]
    assert n_users == 4000
    counts = dict(query(demo, "select run_id, count(*) from lookalike_user_scores group by 1"))
    n_seeds = query(demo, "select count(distinct user_id) from lookalike_demo_labels where run_id = 'demo_new_users'")[
        0
    ][0]
    assert counts == {"demo_retarget": 4000, "demo_new_users": 4000 - n_seeds}
    assert query(
        demo,
        """
        select count(*) from lookalike_user_scores s
        join lookalike_demo_labels l on l.run_id = s.run_id and l.user_id = s.user_id
        where s.run_id = 'demo_new_users'""",
    ) == [(0,)]


def test_sql_metrics_match_sklearn_with_weights(demo):
    metrics = query_dicts(demo, "select * from lookalike_run_metrics order by run_id, split")
    assert len(metrics) == 6
    for m in metrics:
        rows = query(
            demo,
            "select label, score, weight from lookalike_training_predictions where run_id = ? and split = ?",
            [m["run_id"], m["split"]],
        )
        y, s, w = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
        fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
        assert m["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-9)
        assert m["ks"] == pytest.approx(float(np.max(tpr - fpr)), abs=1e-9)
    # demo_retarget carries weights of 2.0, so the weighted path is exercised.
    assert query(
        demo, "select count(*) from lookalike_training_predictions where run_id = 'demo_retarget' and weight = 2"
    ) != [(0,)]


def test_top_decile_beats_bottom_decile(demo):
    rates = dict(
        query(
            demo,
            "select decile, positive_rate from lookalike_run_deciles where run_id = 'demo_retarget' and split = 'test'",
        )
    )
    assert sorted(rates) == list(range(10))
    assert rates[9] > rates[0] + 0.3


def test_models_are_stored_as_json(demo):
    rows = query_dicts(demo, "select run_id, model_format, model_json from lookalike_run_models")
    assert {r["model_format"] for r in rows} == {"lookalike-model/1"}
    assert all(r["model_json"].startswith('{"format":"lookalike-model/1"') for r in rows)


def test_built_tables_match_their_yaml_columns(demo):
    from test_contract import mart_models

    for model in mart_models():
        built = [
            c
            for (c,) in query(
                demo,
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [model["name"]],
            )
        ]
        documented = [c["name"] for c in model["columns"]]
        if model.get("meta", {}).get("lookalike_dynamic_columns"):
            # Feature tables: the keys are documented; the rest are the inputs' feature columns.
            assert built[: len(documented)] == documented, model["name"]
            assert all(c in SNAPSHOT_FEATURES or c.startswith(("evt_", "aff_")) for c in built[len(documented) :])
        else:
            assert sorted(built) == sorted(documented), model["name"]


def test_leakage_flag_stays_quiet_on_the_demo(demo):
    import json

    rows = query_dicts(demo, "select run_id, model_params, status_message from lookalike_runs")
    assert len(rows) == 3
    for row in rows:
        assert json.loads(row["model_params"])["suspected_leakage"] == [], row["run_id"]
        assert "leakage" not in (row["status_message"] or ""), row["run_id"]


# scripts/make_demo_seeds.py: positives are drawn on z (snapshot columns below rise with it) and b
# (add_to_cart and purchase events, and the taste for 'outdoor' items, rise with it).
Z_COLUMNS = {"sessions_30d", "pages_per_session", "email_open_rate", "plan_tier", "is_subscribed"}
B_PREFIXES = ("evt_purchase_", "evt_add_to_cart_", "aff_outdoor_")
NOISE_COLUMNS = {"country", "support_tickets_90d", "avg_order_value"}


def is_signal(row) -> bool:
    return row["feature"] in Z_COLUMNS or row["feature"].startswith(B_PREFIXES)


def test_feature_importance_ranks_the_planted_signal_first(demo):
    rows = query_dicts(demo, "select * from lookalike_feature_importance order by run_id, rank")
    n_features = dict(query(demo, "select run_id, n_features from lookalike_run_models"))
    for run_id, n in n_features.items():
        ranked = [r for r in rows if r["run_id"] == run_id]
        print(run_id, [(r["feature"], round(r["importance"], 4)) for r in ranked[:5]])
        # Ranks 1..k for the features with importance above the epsilon; the others (0 or below) get none.
        n_ranked = sum(1 for r in ranked if r["importance"] > 1e-9)
        assert 0 < n_ranked <= n == len(ranked)
        assert [r["rank"] for r in ranked] == list(range(1, n_ranked + 1)) + [None] * (n - n_ranked)
        assert ranked[0]["feature"] in Z_COLUMNS
        # The two most important features carry the planted signal, and at least two of the top three.
        # (Training is not yet reproducible across builds, and the boosting model sometimes overfits
        # the 8-value 'country', which can then reach rank 3.)
        assert all(is_signal(r) for r in ranked[:2]), ranked[:2]
        assert sum(is_signal(r) for r in ranked[:3]) >= 2, ranked[:3]
        importance = {r["feature"]: r["importance"] for r in ranked}
        assert sum(importance.get(c, 0) for c in Z_COLUMNS) > 3 * sum(importance.get(c, 0) for c in NOISE_COLUMNS)
        assert ranked[0]["importance"] > 0.02
        sessions = next(r for r in ranked if r["feature"] == "sessions_30d")
        # sessions_30d is numeric: its prevalence is a mean, and a ratio of means is no lift (issue 25)
        assert sessions["prevalence_kind"] == "mean" and sessions["lift"] is None
        assert sessions["correlation"] > 0.2 and sessions["prevalence_target"] / sessions["prevalence_population"] > 1.3
        for r in ranked:
            assert (
                r["prevalence_kind"]
                == {"numeric": "mean", "boolean": "share_true", "categorical": "top_category_share"}[r["feature_kind"]]
            )
            assert (
                (r["lift"] is None)
                if r["feature_kind"] == "numeric" or (r["prevalence_population"] or 0) < 0.01
                else r["lift"] == pytest.approx(r["prevalence_target"] / r["prevalence_population"], abs=1e-12)
            )
        # Population prevalence is the mean over the scored population; target the weighted mean over positives.
        assert sessions["prevalence_population"] == pytest.approx(
            query(demo, "select avg(sessions_30d) from lookalike_inference_features")[0][0], abs=1e-9
        )
        assert sessions["prevalence_target"] == pytest.approx(
            query(
                demo,
                """
            select sum(weight * sessions_30d) / sum(weight) from int_lookalike__training_examples
            where run_id = ? and label = 1 and sessions_30d is not null""",
                [run_id],
            )[0][0],
            abs=1e-9,
        )
        tier = next(r for r in ranked if r["feature"] == "plan_tier")
        assert tier["feature_kind"] == "categorical" and tier["reference_value"] in {
            "free",
            "basic",
            "pro",
            "enterprise",
        }


def test_threshold_metrics_match_sklearn_on_the_demo(demo):
    assert assert_threshold_metrics_match_sklearn(demo) == 12  # 3 runs x 2 splits x 2 cutoffs


def test_evaluation_relations_match_sklearn_on_the_demo(demo):
    # log loss, accuracy / precision / recall / f1 at the top_pct threshold, the confusion matrix
    assert assert_evaluation_matches_sklearn(demo) == 6  # 3 runs x 2 splits


def test_seed_recall_matches_numpy_on_the_demo(demo):
    # demo_train_only is build_only, demo_retarget (with negatives) is scored by a model refitted on
    # every label, which saw its held-out seeds (decision 0032): both null. Before, demo_retarget counted.
    assert assert_seed_recall_matches_numpy(demo) == 1
    rows = {r["run_id"]: r for r in query_dicts(demo, "select * from lookalike_run_metrics where split = 'test'")}
    print({k: (r["n_held_out_seed_users"], r["recall_top_10pct"], r["recall_top_20pct"]) for k, r in rows.items()})
    assert rows["demo_train_only"]["recall_top_10pct"] is None
    # The planted signal: held-out seeds are far above the 0.10 / 0.20 of a random ranking, and in
    # demo_new_users (SINGLE_ENGAGE) they are not in lookalike_user_scores at all.
    assert query(
        demo,
        "select count(*) from lookalike_user_scores s join lookalike_training_predictions p "
        "using (run_id, user_id) where run_id = 'demo_new_users' and p.split = 'test' and p.label = 1",
    ) == [(0,)]
    for run_id in ("demo_new_users",):
        assert rows[run_id]["n_held_out_seed_users"] >= 20
        assert rows[run_id]["recall_top_10pct"] > 0.25 and rows[run_id]["recall_top_20pct"] > 0.4
    assert rows["demo_retarget"]["recall_top_10pct"] is None and rows["demo_retarget"]["auc"] > 0.6
    refitted = dict(query(demo, "select run_id, is_refitted from lookalike_runs"))
    assert refitted == {"demo_retarget": True, "demo_new_users": False, "demo_train_only": True}


def test_calibrated_scores_on_the_demo(demo):
    constants = assert_calibrated_scores(demo)
    assert constants["demo_retarget"] is None and 0 < constants["demo_new_users"] < 1


def test_user_reasons_on_the_demo(demo):
    n_audience = query(demo, "select count(*) from lookalike_audiences")[0][0]
    assert assert_user_reasons_are_exact(demo) == n_audience > 0
    rows = query_dicts(demo, "select * from lookalike_user_reasons")
    spaces = dict(query(demo, "select distinct run_id, raw_score_space from lookalike_user_reasons"))
    assert spaces == {"demo_retarget": "log_odds", "demo_new_users": "log_odds"}
    # The planted signal drives the audience: most first reasons are signal features.
    share = np.mean([is_signal({"feature": r["reason_1_feature"]}) for r in rows if r["reason_1_feature"]])
    print(f"first reason is a signal feature for {share:.0%} of {len(rows)} audience users")
    assert share > 0.7


def test_run_health_and_quality_band(demo):
    runs = query_dicts(
        demo,
        "select r.*, s.n_positive_users, s.n_input_labels, s.n_matched_labels, "
        "(select count(*) from lookalike_feature_drift d where d.run_id = r.run_id and d.psi > 0.25 "
        "and not d.is_time_relative) as n_drifted "
        "from lookalike_runs r join lookalike_input_label_summary s using (run_id)",
    )
    assert len(runs) == 3
    # Drift that time makes (recency, all-history counts, windows cut short by the event log's start on
    # 2026-03-02 at the earliest label time, 2026-04-01) is reported, not judged: demo_new_users is healthy.
    relative = dict(query(demo, "select feature, bool_and(is_time_relative) from lookalike_feature_drift group by 1"))
    assert (
        relative["evt_page_view_days_since_first"]
        and relative["evt_distinct_items"]
        and relative["evt_page_view_cnt_365d"]
    )
    assert not relative["evt_page_view_cnt_7d"] and not relative["tenure_days"] and not relative["plan_tier"]
    assert {r["run_id"]: r["health"] for r in runs}["demo_new_users"] == "healthy"
    for r in runs:
        print(r["run_id"], r["health"], r["quality_band"], r["health_messages"])
        expected = []
        if r["n_positive_users"] < 50:
            expected.append("distinct positive users")
        if r["test_auc"] < 0.6:
            expected.append("is near 0.5")
        if r["train_auc"] - r["test_auc"] > 0.1:
            expected.append("exceeds test AUC")
        if r["n_input_labels"] - r["n_matched_labels"] > 0.2 * r["n_input_labels"]:
            expected.append("matched no snapshot")
        if r["n_drifted"]:
            expected.append("the scored population differs from the training examples")
        # The demo is scored as of 2026-10-01, within a day of its newest event: no staleness warning.
        assert r["as_of_at"] == dt.datetime(2026, 10, 1) and (r["as_of_at"] - r["newest_input_at"]).days < 31
        messages = (r["health_messages"] or "").split(" | ") if r["health_messages"] else []
        assert len(messages) == len(expected), (r["run_id"], messages)
        assert all(e in m for e, m in zip(expected, messages, strict=True)), (r["run_id"], messages)
        for train, test in re.findall(r"train AUC ([0-9.]+) exceeds test AUC ([0-9.]+)", r["health_messages"] or ""):
            assert (float(train), float(test)) == (
                pytest.approx(r["train_auc"], abs=6e-4),
                pytest.approx(r["test_auc"], abs=6e-4),
            )
        assert r["health"] == ("warning" if expected else "healthy")
        assert "leakage" not in (r["health_messages"] or "")  # the leakage flag stays quiet on the demo
        band = (
            "Poor"
            if r["test_auc"] < 0.6
            else "Fair"
            if r["test_auc"] < 0.7
            else "Good"
            if r["test_auc"] < 0.8
            else "Excellent"
        )
        assert r["quality_band"] == band
        assert r["n_positive_users"] >= 100  # the demo's seed lists are large enough


def test_compiled_sql_of_the_warehouse_dialect_and_duckdb_parity_on_the_demo(demo):
    """lookalike_run_scoring_sql: by default only the building warehouse's dialect (duckdb) per
    trained run; the DuckDB SQL equals the Python scorer's population scores to 1e-9 on the demo.
    (Every other dialect is rendered and parsed back in tests/unit/test_sql_compile.py.)"""
    import sqlglot

    rows = query_dicts(demo, "select run_id, dialect, sql_text, compile_error from lookalike_run_scoring_sql")
    trained = {r for (r,) in query(demo, "select run_id from lookalike_run_models where model_status = 'TRAINED'")}
    assert {(r["run_id"], r["dialect"]) for r in rows} == {(run, "duckdb") for run in trained}
    assert all(r["compile_error"] is None and r["sql_text"] for r in rows)
    for row in rows:
        sqlglot.parse_one(row["sql_text"], read="duckdb")  # parses back in its dialect
        if row["run_id"] == "demo_train_only":
            continue
        got = dict(
            query(demo, "with lookalike_input as (select * from lookalike_inference_features) " + row["sql_text"])
        )
        expected = dict(
            query(
                demo,
                "select user_id, score from int_lookalike__population_scores "
                f"where run_id = '{row['run_id']}' and user_id is not null",
            )
        )
        assert len(expected) == 4000 and got.keys() == expected.keys()
        users = sorted(expected)
        np.testing.assert_allclose([got[u] for u in users], [expected[u] for u in users], rtol=0, atol=1e-9)
