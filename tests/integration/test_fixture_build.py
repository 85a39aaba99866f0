"""`dbt build` on small hand-made inputs whose answers were worked out by hand (see fixtures.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score, roc_curve

from conftest import query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS
from integration.quality_checks import (
    assert_calibrated_scores,
    assert_evaluation_matches_sklearn,
    assert_seed_recall_matches_numpy,
    assert_threshold_metrics_match_sklearn,
    assert_user_reasons_are_exact,
)
from lookalike_udf.estimators import hgb
from lookalike_udf.reasons import format_value
from lookalike_udf.scoring import LookalikeModel

pytestmark = pytest.mark.integration
T = dt.datetime


@pytest.fixture(scope="module")
def db(tmp_path_factory, fixture_build):
    # The session's fixture build (integration/conftest.py), read only here: no copy needed.
    db_path, proc = fixture_build
    assert "ERROR=0" in proc.stdout
    # Failed runs surface as a warning from the data test, not as a failed build.
    assert "WARN 2 assert_no_failed_runs" in proc.stdout
    return db_path


def pit(db, run_id, user_id):
    return query_dicts(db, f"select * from lookalike_pit_labels where run_id = '{run_id}' and user_id = '{user_id}'")


@pytest.mark.parametrize(
    "user_id, label_timestamp, snapshot_at",
    [
        ("0016", T(2026, 2, 1), T(2026, 2, 1)),  # equal to a snapshot: inclusive
        ("0017", T(2026, 2, 15, 8, 30), T(2026, 2, 1)),  # between snapshots: the earlier one
        ("0020", T(2026, 1, 31, 23, 59, 59, 999999), T(2026, 1, 1)),  # a microsecond before a snapshot
        ("0018", T(2025, 12, 31, 23, 59, 59), None),  # before the first snapshot
        ("0051", T(2026, 2, 15), None),  # before this user's first snapshot
        ("0019", None, T(2026, 3, 1)),  # no timestamp: latest before as_of
    ],
)
def test_point_in_time_matches(db, user_id, label_timestamp, snapshot_at):
    rows = pit(db, "pit", user_id)
    assert len(rows) == 1
    row = rows[0]
    assert row["label_timestamp"] == label_timestamp
    assert row["snapshot_at"] == snapshot_at
    assert row["is_matched"] is (snapshot_at is not None)
    assert row["is_training_example"] is (snapshot_at is not None)
    if label_timestamp is None:
        assert row["as_of_at"] == T(2026, 6, 1)


def test_training_features_come_from_the_matched_snapshot(db):
    # score_signal = 10 (users 1..30) + (i % 7) * 0.5 + month index (0 for Jan, 1 for Feb, 2 for Mar).
    rows = dict(
        query(
            db,
            "select user_id, score_signal from int_lookalike__training_examples "
            "where run_id = 'pit' and user_id in ('0016', '0017', '0019', '0020')",
        )
    )
    assert rows == {
        "0016": 10 + 2 * 0.5 + 1,
        "0017": 10 + 3 * 0.5 + 1,
        "0019": 10 + 5 * 0.5 + 2,
        "0020": 10 + 6 * 0.5 + 0,
    }


def test_conflicting_labels_are_excluded_and_counted(db):
    rows = pit(db, "pit", "0021")
    assert len(rows) == 2 and all(r["is_conflicting"] and not r["is_training_example"] for r in rows)
    assert query(
        db, "select count(*) from int_lookalike__training_examples where run_id = 'pit' and user_id = '0021'"
    ) == [(0,)]


def test_input_label_summary(db):
    row = query_dicts(db, "select * from lookalike_input_label_summary where run_id = 'pit'")[0]
    assert (row["n_input_labels"], row["n_input_users"], row["n_matched_labels"], row["n_training_users"]) == (
        38,
        37,
        36,
        34,
    )
    assert (row["n_conflicting_labels"], row["n_labels_without_timestamp"]) == (2, 1)


def test_label_monthly_and_weight_counts(db):
    monthly = query(
        db,
        "select label_month, n_labels, positive_rate from lookalike_label_monthly "
        "where run_id = 'pit' order by label_month nulls last",
    )
    assert monthly == [
        (dt.date(2025, 12, 1), 1, 1.0),
        (dt.date(2026, 1, 1), 1, 1.0),
        (dt.date(2026, 2, 1), 35, pytest.approx(19 / 35)),
        (None, 1, 1.0),
    ]
    weights = query(
        db,
        "select label_value, weight_value, n_labels from lookalike_label_weight_counts "
        "where run_id = 'pit' order by 1, 2",
    )
    assert weights == [(0, 1.0, 1), (0, 2.0, 15), (1, 1.0, 22)]


def test_run_statuses_and_messages(db):
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    assert set(runs) == {"pit", "single", "few_negatives", "ghost"}
    assert runs["pit"]["status"] == "FINISHED" and runs["single"]["status"] == "FINISHED"
    assert runs["few_negatives"]["status"] == "FAILED"
    assert runs["few_negatives"]["status_message"].startswith(
        "run 'few_negatives': negative_label_users has 7 distinct users; at least 10 are required."
    )
    assert runs["ghost"]["status"] == "FAILED"
    assert (
        "labels use run_id 'ghost', which is not in the runs input (var lookalike_runs)"
        in runs["ghost"]["status_message"]
    )
    assert (
        "2 label(s) excluded: the same user has both a positive and a negative label" in runs["pit"]["status_message"]
    )
    assert "2 of 38 labels matched no snapshot" in runs["pit"]["status_message"]
    assert runs["single"]["engagement_type"] == "SINGLE_ENGAGE"
    assert runs["few_negatives"]["engagement_type"] == "MULTI_ENGAGE"  # null means the default
    for failed in ("few_negatives", "ghost"):
        assert runs[failed]["test_auc"] is None and runs[failed]["n_scored_users"] == 0
    # 34 users with a training example, each in one split (the split is per user).
    assert runs["pit"]["n_train_users"] + runs["pit"]["n_test_users"] == 34
    assert (runs["pit"]["n_train_users"], runs["pit"]["n_test_users"]) == tuple(
        query(
            db,
            "select count(distinct case when split = 'train' then user_id end), "
            "count(distinct case when split = 'test' then user_id end) "
            "from lookalike_training_predictions where run_id = 'pit'",
        )[0]
    )
    assert runs["pit"]["n_scored_users"] == 60


def test_leakage_flag_and_tuning_settings(db):
    # score_signal is 10+ for users 1..30 (the positives of 'pit') and at most 5 for 31..60 (its
    # negatives): alone it separates the classes perfectly, which is what leakage looks like.
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    params = json.loads(runs["pit"]["model_params"])
    assert params["suspected_leakage"] == [{"feature": "score_signal", "auc": 1.0}]
    assert (
        "run 'pit': suspected label leakage: score_signal (AUC 1.000) alone separate(s) the classes almost perfectly"
    ) in runs["pit"]["status_message"]
    single = json.loads(runs["single"]["model_params"])
    assert isinstance(single["suspected_leakage"], list)
    assert ("suspected label leakage" in (runs["single"]["status_message"] or "")) == bool(single["suspected_leakage"])
    for rid in ("pit", "single", "few_negatives"):  # the variables' defaults
        assert (runs[rid]["tune_model"], runs[rid]["auto_tune"], runs[rid]["tune_time_budget_seconds"]) == (
            False,
            False,
            60.0,
        )
    assert "tuning" not in params and "feature_selection" not in params


def test_single_engage_excludes_seed_users(db):
    users = [
        u for (u,) in query(db, "select user_id from lookalike_user_scores where run_id = 'single' order by user_id")
    ]
    assert users == [f"{i:04d}" for i in range(13, 61)]
    assert query(db, "select count(*) from lookalike_user_scores where run_id = 'single' and is_seed_user") == [(0,)]


def test_multi_engage_scores_everyone_and_flags_seeds(db):
    rows = query_dicts(db, "select * from lookalike_user_scores where run_id = 'pit' order by score_rank")
    assert len(rows) == 60
    assert [r["score_rank"] for r in rows] == list(range(1, 61))
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)
    assert all(rows[i]["score"] >= rows[i + 1]["score"] for i in range(59))
    assert sum(r["is_labeled_user"] for r in rows) == 37  # users 1..21, 31..45 and 51 have labels
    # Seeds are the positives only: 1..21 (21 also has a conflicting negative) and 51; 31..45 are negatives.
    assert sorted(r["user_id"] for r in rows if r["is_seed_user"]) == [f"{i:04d}" for i in (*range(1, 22), 51)]
    assert all(r["snapshot_at"] == T(2026, 3, 1) for r in rows)
    deciles = [r["score_decile"] for r in rows]
    assert deciles == sorted(deciles, reverse=True) and deciles[0] == 9 and deciles[-1] == 0
    assert [deciles.count(d) for d in range(10)] == [6] * 10
    # The planted signal: users 1..30 look like the positives.
    top = {r["user_id"] for r in rows[:30]}
    assert len(top & {f"{i:04d}" for i in range(1, 31)}) >= 27


def test_user_ids_keep_leading_zeros(db):
    for table in ("lookalike_pit_labels", "lookalike_user_scores", "lookalike_training_predictions"):
        bad = query(db, f"select count(*) from {table} where not regexp_full_match(user_id, '[0-9]{{4}}')")
        assert bad == [(0,)], table


def _sklearn_metrics(db, run_id, split):
    rows = query(
        db,
        "select label, score, weight from lookalike_training_predictions where run_id = ? and split = ?",
        [run_id, split],
    )
    y, s, w = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
    return roc_auc_score(y, s, sample_weight=w), float(np.max(tpr - fpr)), len(rows)


def test_sql_metrics_match_sklearn(db):
    metrics = query_dicts(db, "select * from lookalike_run_metrics where run_id in ('pit', 'single')")
    assert len(metrics) == 4
    for m in metrics:
        auc, ks, n = _sklearn_metrics(db, m["run_id"], m["split"])
        assert m["n_examples"] == n
        assert m["auc"] == pytest.approx(auc, abs=1e-9)
        assert m["ks"] == pytest.approx(ks, abs=1e-9)


def test_seed_recall_by_hand(db):
    """Held-out seeds in the top 10 % / 20 %: 'pit' ranks its 60 users with the seeds (cut-offs at
    ranks ceil(6.0) = 6 and 12); 'single' (SINGLE_ENGAGE) ranks the 48 users without a label
    (ranks ceil(4.8) = 5 and ceil(9.6) = 10) and its seeds are scored only in
    int_lookalike__population_scores."""
    # 'pit' has negatives, so its population is scored by a model refitted on every label, which saw
    # its held-out seeds: no recall (decision 0032). Before that change its row was checked here too.
    [pit] = query_dicts(db, "select * from lookalike_run_metrics where run_id = 'pit' and split = 'test'")
    assert (pit["n_held_out_seed_users"], pit["recall_top_10pct"], pit["recall_top_20pct"]) == (None, None, None)
    assert pit["auc"] is not None  # the split model's held-out AUC is still there
    for run_id, n_scored, ranks in (("single", 48, (5, 10)),):
        scores = [
            s
            for (s,) in query(
                db, f"select score from lookalike_user_scores where run_id = '{run_id}' order by score_rank"
            )
        ]
        assert len(scores) == n_scored
        seeds = query(
            db,
            f"select distinct p.user_id, s.score, u.user_id is not null from lookalike_training_predictions p "
            f"join int_lookalike__population_scores s using (run_id, user_id) "
            f"left join lookalike_user_scores u using (run_id, user_id) "
            f"where p.run_id = '{run_id}' and p.split = 'test' and p.label = 1",
        )
        assert len(seeds) == {"pit": 4, "single": 2}[run_id]
        assert all(in_scores == (run_id == "pit") for _, _, in_scores in seeds)

        # A seed above the cut-off c = scores[k - 1] counts 1; one tied with it counts (k - a) / t,
        # a = users above c, t = users at c (the fixture has ties at its cut-offs).
        def credit(score, k):
            c = scores[k - 1]
            above, tied = sum(s > c for s in scores), sum(s == c for s in scores)
            return 1.0 if score > c else (k - above) / tied if score == c else 0.0

        expected = [sum(credit(score, rank) for _, score, _ in seeds) / len(seeds) for rank in ranks]
        [row] = query_dicts(db, f"select * from lookalike_run_metrics where run_id = '{run_id}' and split = 'test'")
        assert (row["n_held_out_seed_users"], row["recall_top_10pct"], row["recall_top_20pct"]) == (
            len(seeds),
            *expected,
        )
    assert assert_seed_recall_matches_numpy(db) == 1  # 'single'; null on the train split and for 'pit'


def test_refit_on_all_labels(db):
    """'pit' (with negatives) is scored by the split model's choices refitted on its train and test
    examples; every metric comes from the split model. 'single' (positives only) is not refitted."""
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    models = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_run_models")}
    assert (runs["pit"]["refit_on_all_labels"], runs["pit"]["is_refitted"]) == (True, True)
    assert (runs["single"]["refit_on_all_labels"], runs["single"]["is_refitted"]) == (True, False)
    assert runs["few_negatives"]["is_refitted"] is None  # FAILED: no model
    pit, single = models["pit"], models["single"]
    assert single["split_model_json"] is None and single["split_model_sha256"] is None
    assert json.loads(single["model_params"])["refit"]["applied"] is False
    assert pit["split_model_sha256"] == hashlib.sha256(pit["split_model_json"].encode()).hexdigest()
    scoring, split = LookalikeModel.from_json(pit["model_json"]), LookalikeModel.from_json(pit["split_model_json"])
    n_train, n_test = pit["n_train_examples"], pit["n_test_examples"]
    assert (n_train, n_test) == (runs["pit"]["n_train_examples"], runs["pit"]["n_test_examples"]) and n_test > 0
    assert scoring.params["refit"] == {
        "applied": True,
        "n_rows": n_train + n_test,
        "n_train_rows": n_train,
        "n_test_rows": n_test,
        "split_model_n_train_rows": n_train,
    }
    assert (scoring.params["n_train_rows"], split.params["n_train_rows"]) == (n_train + n_test, n_train)
    assert scoring.params["model_type"] == split.params["model_type"] == pit["model_type"]
    assert scoring.feature_names == split.feature_names
    # Training predictions (so every metric) are the split model's scores; population scores the refit's.
    examples = query_dicts(
        db, "select * from int_lookalike__training_examples where run_id = 'pit' order by example_id"
    )
    table = pa.Table.from_pylist(examples)
    predicted = dict(query(db, "select example_id, score from lookalike_training_predictions where run_id = 'pit'"))
    expected = split.predict(table)
    assert [predicted[e["example_id"]] for e in examples] == pytest.approx(expected.tolist(), abs=1e-12)
    assert not np.allclose(expected, scoring.predict(table))  # the two models differ
    population = pa.Table.from_pylist(query_dicts(db, "select * from lookalike_inference_features order by user_id"))
    scored = dict(query(db, "select user_id, score from lookalike_user_scores where run_id = 'pit'"))
    users = population.column("user_id").to_pylist()
    assert [scored[u] for u in users] == pytest.approx(scoring.predict(population).tolist(), abs=1e-12)


def test_calibrated_scores(db):
    constants = assert_calibrated_scores(db)
    assert set(constants) == {"pit", "single"} and constants["pit"] is None
    # 'single' holds 2 seeds in its test split (test_seed_recall_by_hand): c is their mean score.
    held_out = query(
        db,
        "select score from lookalike_training_predictions where run_id = 'single' and split = 'test' and label = 1",
    )
    assert len(held_out) == 2
    assert constants["single"] == pytest.approx((held_out[0][0] + held_out[1][0]) / 2, rel=1e-12)


def test_user_reasons_of_the_audience_are_exact(db):
    # The audiences are the top 5 %: ceil(60 * 0.05) = 3 users of 'pit' and ceil(48 * 0.05) = 3 of 'single'.
    assert assert_user_reasons_are_exact(db) == 6
    assert query(db, "select distinct run_id, raw_score_space from lookalike_user_reasons order by 1") == [
        ("pit", "log_odds"),
        ("single", "log_odds"),
    ]
    # The fixture's planted signal is score_signal: every audience user's first reason.
    values = dict(query(db, "select user_id, score_signal from lookalike_inference_features"))
    rows = query(db, "select user_id, reason_1_feature, reason_1_value from lookalike_user_reasons")
    assert all(feature == "score_signal" and value == format_value(values[u]) for u, feature, value in rows)


def test_deciles_and_cumulative_rates_cover_every_row(db):
    for run_id, split, n in query(
        db, "select run_id, split, count(*) from lookalike_training_predictions group by 1, 2"
    ):
        assert query(
            db, "select sum(n_users) from lookalike_run_deciles where run_id = ? and split = ?", [run_id, split]
        ) == [(n,)]
        cumulative = query(
            db,
            "select direction, fraction, n_users from lookalike_run_cumulative_positive_rates "
            "where run_id = ? and split = ? order by direction, fraction",
            [run_id, split],
        )
        assert len(cumulative) == 20
        for _direction, fraction, covered in cumulative:
            assert covered == -(-round(fraction * 10) * n // 10)  # ceil(fraction * n)


def test_evaluation_relations_match_sklearn(db):
    """Log loss, accuracy / precision / recall / f1 at the top_pct threshold and the confusion
    matrix (weighted: the fixture's negatives of 'pit' weigh 2; ties: 'pit' has 2 distinct scores
    per split) equal scikit-learn on the same rows (docs/evaluation.md)."""
    assert assert_evaluation_matches_sklearn(db) == 4
    assert query(db, "select count(distinct score) from lookalike_training_predictions where run_id = 'pit'") == [(2,)]


def test_feature_info_matches_pandas(db):
    """lookalike_feature_info equals pandas on the same rows of lookalike_pit_features."""
    frame = pd.DataFrame(query_dicts(db, "select * from lookalike_pit_features"))
    rows = query_dicts(db, "select * from lookalike_feature_info order by run_id, feature")
    kinds = {"score_signal": "numeric", "segment": "categorical", "is_active": "boolean"}
    assert {(r["run_id"], r["feature"]) for r in rows} == {
        (run_id, f) for run_id in frame.run_id.unique() for f in kinds
    }
    for r in rows:
        values = frame.loc[frame.run_id == r["run_id"], r["feature"]]
        assert r["feature_kind"] == kinds[r["feature"]]
        assert r["n_examples"] == len(values)
        assert r["null_count"] == int(values.isna().sum())
        if r["feature_kind"] == "categorical":
            assert r["category_count"] == values.nunique()
            assert r["mean_value"] is None and r["min_value"] is None
            continue
        numbers = values.astype("float64")
        assert r["category_count"] is None
        assert r["min_value"] == numbers.min() and r["max_value"] == numbers.max()
        assert r["mean_value"] == pytest.approx(numbers.mean(), abs=1e-12)
        assert r["median_value"] == pytest.approx(numbers.median(), abs=1e-12)
        assert r["stddev_value"] == pytest.approx(numbers.std(), abs=1e-12)


def test_training_log_matches_the_stored_models(db):
    """lookalike_run_training_log: one row per boosting iteration of every member (n_iter of
    model_params), and for 'pit' (one hgb model, no early stopping below 200 rows) every
    iteration's train_loss equals sklearn.metrics.log_loss of the stored trees' staged predictions
    on the train split's rows, the last one that of lookalike_training_predictions."""
    models = {
        r["run_id"]: r for r in query_dicts(db, "select * from lookalike_run_models where model_status = 'TRAINED'")
    }
    log = query_dicts(db, "select * from lookalike_run_training_log order by run_id, member, iteration")
    assert {r["run_id"] for r in log} == set(models) == {"pit", "single"}
    # The log is the split model's, the one the metrics describe: 'pit' (with negatives) is refitted
    # on every label and keeps its split model in split_model_json (decision 0032).
    assert models["pit"]["split_model_json"] is not None and models["single"]["split_model_json"] is None
    for run_id, row in models.items():
        split_json = row["split_model_json"] or row["model_json"]
        split_sha = row["split_model_sha256"] or row["model_sha256"]
        n_iter = LookalikeModel.from_json(split_json).params["n_iter"]
        per_member = n_iter if isinstance(n_iter, list) else [n_iter]
        for member, n in enumerate(per_member):
            mine = [r for r in log if r["run_id"] == run_id and r["member"] == member]
            assert [r["iteration"] for r in mine] == list(range(1, n + 1))
            assert all(r["validation_loss"] is None and r["model_sha256"] == split_sha for r in mine)
        assert {r["member"] for r in log if r["run_id"] == run_id} == set(range(len(per_member)))
    model = LookalikeModel.from_json(models["pit"]["split_model_json"])
    train = query_dicts(
        db,
        "select e.*, p.score from int_lookalike__training_examples e join lookalike_training_predictions p "
        "using (run_id, example_id) where e.run_id = 'pit' and e.split = 'train'",
    )
    table = pa.Table.from_pylist(train)
    y = np.array([r["label"] for r in train])
    w = np.array([1.0 if r["weight"] is None else r["weight"] for r in train])
    scorer = hgb.load(model.estimator_payload, engine="numpy")
    prepared = scorer._prepare(model.encoder.transform(table))
    raw = np.full(len(y), scorer.baseline)
    expected = []
    for tree in scorer.trees:
        raw = raw + scorer._predict_tree_numpy(tree, prepared)
        expected.append(log_loss(y, expit(raw), sample_weight=w, labels=[0, 1]))
    pit = [r["train_loss"] for r in log if r["run_id"] == "pit"]
    np.testing.assert_allclose(pit, expected, rtol=1e-9, atol=1e-12)
    scores = np.array([r["score"] for r in train])
    assert pit[-1] == pytest.approx(log_loss(y, scores, sample_weight=w, labels=[0, 1]), rel=1e-9)
    assert pit[-1] < pit[0]


def test_threshold_metrics_match_sklearn(db):
    # pit and single, train and test: a top_pct row each, and a max_ks row where both classes are present.
    assert assert_threshold_metrics_match_sklearn(db) == 8
    assert set(query(db, "select distinct run_id from lookalike_run_threshold_metrics")) == {("pit",), ("single",)}


def test_feature_importance_of_the_fixture(db):
    rows = query_dicts(db, "select * from lookalike_feature_importance order by run_id, rank")
    assert {r["run_id"] for r in rows} == {"pit", "single"}  # FAILED runs get no rows
    for run_id in ("pit", "single"):
        ranked = [r for r in rows if r["run_id"] == run_id]
        n_ranked = sum(1 for r in ranked if r["importance"] > 1e-9)  # importance 0 or below: no rank
        assert [r["rank"] for r in ranked] == list(range(1, n_ranked + 1)) + [None] * (len(ranked) - n_ranked)
        assert ranked[0]["feature"] == "score_signal"  # users 1..30 (the positives) have score_signal >= 10
        # 'single' has 12 test rows (2 positives): 3 shuffles there give 0.23 (5 gave more than 0.3).
        assert ranked[0]["importance"] > (0.3 if run_id == "pit" else 0.15)
        # 'single' trains against unlabeled users, half of whom look like positives: a weaker correlation.
        assert ranked[0]["correlation"] > (0.8 if run_id == "pit" else 0.4)
    # Population prevalence of score_signal = its mean over the scored population, computed in SQL.
    population_mean = query(db, "select avg(score_signal) from lookalike_inference_features")[0][0]
    pit = {r["feature"]: r for r in rows if r["run_id"] == "pit"}
    assert pit["score_signal"]["prevalence_population"] == pytest.approx(population_mean, abs=1e-9)
    target = query(
        db,
        "select sum(weight * score_signal) / sum(weight) from int_lookalike__training_examples "
        "where run_id = 'pit' and label = 1 and score_signal is not null",
    )[0][0]
    assert pit["score_signal"]["prevalence_target"] == pytest.approx(target, abs=1e-9)
    # score_signal is numeric: prevalence is its mean, and no lift is computed from means (issue 25)
    assert pit["score_signal"]["prevalence_kind"] == "mean" and pit["score_signal"]["lift"] is None


def test_run_health_of_the_fixture(db):
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    for run_id in ("few_negatives", "ghost"):
        assert runs[run_id]["health"] == "unhealthy" and runs[run_id]["quality_band"] is None
        assert f"run '{run_id}': the run FAILED" in runs[run_id]["health_messages"]
    # Every run has fewer than 50 distinct positive users.
    assert "run 'single': only 12 distinct positive users (fewer than 50" in runs["single"]["health_messages"]
    assert runs["single"]["health"] == "warning" and runs["single"]["quality_band"] is not None
    # 'pit' separates perfectly on score_signal by design (see test above): the leakage flag makes it
    # unhealthy, and names the feature; 'single' has no such feature.
    assert (
        "suspected label leakage" in runs["pit"]["health_messages"] and "score_signal" in runs["pit"]["health_messages"]
    )
    assert runs["pit"]["health"] == "unhealthy" and runs["pit"]["quality_band"] is None
    assert "suspected label leakage" not in runs["single"]["health_messages"]
    # 'pit': 2 of 38 labels unmatched (5%): not reported.
    assert "matched no snapshot" not in runs["pit"]["health_messages"]


@pytest.mark.parametrize(
    "model, bad_vars, message",
    [
        (
            "lookalike_run_threshold_metrics",
            {"lookalike_threshold_top_pct": 0},
            "lookalike_threshold_metrics: top_pct must be a number in (0, 100], got 0. Fix var lookalike_threshold_top_pct.",
        ),
        (
            "lookalike_run_threshold_metrics",
            {"lookalike_threshold_top_pct": "ten"},
            "lookalike: variable 'lookalike_threshold_top_pct' is \"ten\"; it must be a number between 0 and 100.",
        ),
        (
            "lookalike_runs",
            {"lookalike_quality_band_cutoffs": [0.8, 0.7, 0.9]},
            "lookalike: variable 'lookalike_quality_band_cutoffs' is [0.8, 0.7, 0.9]; it must be three increasing AUC values",
        ),
        (
            "lookalike_runs",
            {"lookalike_quality_band_cutoffs": [0.6, 0.7]},
            "lookalike: variable 'lookalike_quality_band_cutoffs' is [0.6, 0.7]; it must be three increasing AUC values",
        ),
    ],
)
def test_invalid_quality_variables_fail_with_the_fix(db, tmp_path, model, bad_vars, message):
    proc = run_dbt(["compile", "--select", model], db, tmp_path, vars={**FIXTURE_VARS, **bad_vars}, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout
