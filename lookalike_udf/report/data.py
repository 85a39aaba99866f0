"""Everything the report shows, read from the public marts into plain Python structures.

:func:`load_report_data` returns a dict: ``runs`` (a list, one dict per run, in run_id order,
with the run's rows of every mart), ``has_drift`` and ``has_lift`` (lookalike_audience_lift has
rows: an outcomes input is configured). The builders in :mod:`.svg` and the
template only read these dicts, so they can be tested on hand-made rows.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..vocabulary import LiftGroup
from .reader import MartReader

#: Bins of the score histogram over 0..1 (computed in SQL).
HISTOGRAM_BINS = 20
#: The ROC curve drawn keeps a point whenever FPR or TPR moved by this much since the last one
#: kept (all points are used for the AUC check), so a curve has at most about 2 / step + 1 points.
ROC_STEP = 0.02


def roc_points(rows: list[dict[str, Any]]) -> tuple[list[tuple[float, float]], float | None]:
    """ROC curve from per-score weight sums, rows ordered by score descending.

    Each row has ``w_pos`` and ``w_neg`` (weights of positives and negatives at that score).
    Returns the points (FPR, TPR) from (0, 0) to (1, 1), one per distinct score, and the
    trapezoidal AUC over them (ties count one half: equal to the weighted AUC of
    lookalike_run_metrics). ``None`` when a class is missing.

    >>> roc_points([{"w_pos": 1, "w_neg": 0}, {"w_pos": 1, "w_neg": 1}, {"w_pos": 0, "w_neg": 1}])
    ([(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)], 0.875)
    """
    pos = np.array([float(r["w_pos"] or 0.0) for r in rows])
    neg = np.array([float(r["w_neg"] or 0.0) for r in rows])
    if pos.sum() <= 0 or neg.sum() <= 0:
        return [], None
    tpr = np.concatenate([[0.0], np.cumsum(pos) / pos.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(neg) / neg.sum()])
    tpr[-1] = fpr[-1] = 1.0
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return [(float(x), float(y)) for x, y in zip(fpr, tpr, strict=True)], auc


def thin_curve(points: list[tuple[float, float]], step: float = ROC_STEP) -> list[tuple[float, float]]:
    """Keep the first and last point and every point at least ``step`` (in x or y) from the last kept.

    >>> thin_curve([(0, 0), (0.001, 0.001), (0.5, 0.5), (0.501, 0.65), (1, 1)], step=0.1)
    [(0, 0), (0.5, 0.5), (0.501, 0.65), (1, 1)]
    """
    if len(points) <= 2:
        return list(points)
    kept = [points[0]]
    for x, y in points[1:-1]:
        lx, ly = kept[-1]
        if abs(x - lx) >= step or abs(y - ly) >= step:
            kept.append((x, y))
    kept.append(points[-1])
    return kept


#: Columns the report shows, per mart. Rows get None for any that is absent (hand-made rows in
#: tests, or a build from an older release), so the template never meets an undefined name.
COLUMNS = {
    "runs": (
        "run_id",
        "run_description",
        "engagement_type",
        "status",
        "status_message",
        "n_train_users",
        "n_test_users",
        "n_scored_users",
        "audience_state",
        "audience_scored_at",
        "as_of_at",
        "newest_input_at",
        "train_auc",
        "train_ks",
        "test_auc",
        "test_ks",
        "test_auc_corrected",
        "label_positive_rate",
        "training_method",
        "training_action",
        "scoring_action",
        "model_type",
        "run_started_at",
        "run_finished_at",
        "health",
        "health_messages",
        "quality_band",
    ),
    "summary": ("n_input_labels", "n_matched_labels", "n_positive_users", "n_negative_users"),
    "thresholds": (
        "split",
        "cutoff",
        "top_pct",
        "threshold",
        "n_predicted_positive",
        "true_positive",
        "false_positive",
        "true_negative",
        "false_negative",
        "precision_positive",
        "recall_positive",
        "f1_positive",
    ),
    "importance": (
        "feature",
        "feature_kind",
        "reference_value",
        "importance",
        "correlation",
        "prevalence_target",
        "prevalence_population",
        "prevalence_kind",
        "lift",
        "rank",
    ),
    "monthly": ("label_month", "n_labels", "n_positive_labels", "positive_rate"),
    "drift": (
        "feature",
        "feature_kind",
        "psi",
        "drift_level",
        "train_mean",
        "population_mean",
        "train_null_share",
        "population_null_share",
    ),
    "lift": (
        "published_at",
        "lift_window_days",
        "window_end_at",
        "lift_group",
        "n_users",
        "n_converted_users",
        "conversion_rate",
        "conversion_rate_ci_low",
        "conversion_rate_ci_high",
        "total_value",
        "mean_value",
        "n_target_users",
        "rate_difference",
        "rate_difference_ci_low",
        "rate_difference_ci_high",
        "mean_value_difference",
        "mean_value_difference_ci_low",
        "mean_value_difference_ci_high",
    ),
}

#: The order of the lift table's rows.
LIFT_GROUPS = (LiftGroup.TARGET, LiftGroup.HOLDOUT, LiftGroup.REST)


def with_defaults(row: dict[str, Any], kind: str) -> dict[str, Any]:
    """``row`` with None for every column of ``COLUMNS[kind]`` it lacks."""
    return {**dict.fromkeys(COLUMNS[kind]), **row}


def normalise_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run dict as the template expects it: every key present (idempotent).

    Lets tests and callers pass hand-made runs with only the fields they care about.
    """
    run = with_defaults(run, "runs")
    run["summary"] = with_defaults(run.get("summary") or {}, "summary")
    run.setdefault("status_messages", _split_messages(run.get("status_message")))
    run.setdefault("health_message_list", _split_messages(run.get("health_messages")))
    for kind in ("thresholds", "importance", "monthly", "drift", "lift"):
        run[kind] = [with_defaults(r, kind) for r in run.get(kind) or []]
    run.setdefault("lift_builds", len({r["published_at"] for r in run["lift"]}))
    run["lift"] = latest_lift(run["lift"])
    run["lift_holdout"] = next((r for r in run["lift"] if r["lift_group"] == LiftGroup.HOLDOUT), None)
    for key in ("deciles", "gains", "calibration"):
        run[key] = list(run.get(key) or [])
    run["metrics"] = dict(run.get("metrics") or {})
    run["roc"] = dict(run.get("roc") or {})
    hist = dict(run.get("histogram") or {})
    bins = int(hist.get("bins") or HISTOGRAM_BINS)
    run["histogram"] = {
        "bins": bins,
        "population": list(hist.get("population") or [0] * bins),
        "seeds": list(hist.get("seeds") or [0] * bins),
        "n_stale": int(hist.get("n_stale") or 0),
    }
    return run


def latest_lift(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the latest audience build (largest published_at), target, holdout, rest.

    >>> [r["lift_group"] for r in latest_lift([{"published_at": 2, "lift_group": "rest"},
    ...     {"published_at": 1, "lift_group": "target"}, {"published_at": 2, "lift_group": "target"}])]
    ['target', 'rest']
    """
    if not rows:
        return []
    latest = (
        max(r["published_at"] for r in rows if r["published_at"] is not None)
        if any(r["published_at"] is not None for r in rows)
        else None
    )
    order = {g: i for i, g in enumerate(LIFT_GROUPS)}
    kept = [r for r in rows if r["published_at"] == latest]
    return sorted(kept, key=lambda r: order.get(r["lift_group"], len(order)))


def _by_run(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["run_id"]].append(row)
    return grouped


def _split_messages(text: Any) -> list[str]:
    if not text:
        return []
    return [part.strip() for part in str(text).split(" | ") if part.strip()]


def load_report_data(reader: MartReader) -> dict[str, Any]:
    """Query the marts (a dozen bounded statements) and group the rows by run."""
    reader.check()
    rel = reader.relation
    runs = reader.query(f"select * from {rel('lookalike_runs')} order by run_id")
    summary = {r["run_id"]: r for r in reader.query(f"select * from {rel('lookalike_input_label_summary')}")}
    metrics = _by_run(reader.query(f"select * from {rel('lookalike_run_metrics')} order by run_id, split"))
    deciles = _by_run(reader.query(f"select * from {rel('lookalike_run_deciles')} order by run_id, split, decile"))
    gains = _by_run(
        reader.query(
            f"select * from {rel('lookalike_run_cumulative_positive_rates')} "
            "where direction = 'descending' order by run_id, split, fraction"
        )
    )
    thresholds = _by_run(
        reader.query(f"select * from {rel('lookalike_run_threshold_metrics')} order by run_id, split, cutoff")
    )
    importance = _by_run(
        reader.query(
            f"select * from {rel('lookalike_feature_importance')} "
            "order by run_id, rank nulls last, importance desc nulls last, feature"
        )
    )
    monthly = _by_run(
        reader.query(f"select * from {rel('lookalike_label_monthly')} order by run_id, label_month nulls last")
    )
    has_drift = reader.exists("lookalike_feature_drift")
    drift = (
        _by_run(
            reader.query(
                f"select * from {rel('lookalike_feature_drift')} order by run_id, psi desc nulls last, feature"
            )
        )
        if has_drift
        else {}
    )
    lift_rows = (
        reader.query(f"select * from {rel('lookalike_audience_lift')} order by run_id, published_at, lift_group")
        if reader.exists("lookalike_audience_lift")
        else []
    )
    lift = _by_run(lift_rows)
    # ROC: one row per run, split and distinct score (bounded by the training set).
    roc_rows = _by_run(
        reader.query(f"""
        select run_id, split, score,
               sum(case when label = 1 then coalesce(cast(weight as double), 1.0) else 0.0 end) as w_pos,
               sum(case when label = 0 then coalesce(cast(weight as double), 1.0) else 0.0 end) as w_neg
        from {rel("lookalike_training_predictions")}
        where score is not null and label in (0, 1)
        group by run_id, split, score
        order by run_id, split, score desc""")
    )
    # Calibration: weighted mean score per decile, deciles assigned as lookalike_run_deciles does.
    calibration = _by_run(
        reader.query(f"""
        with ranked as (
            select run_id, split, cast(score as double) as score, cast(label as double) as label,
                   coalesce(cast(weight as double), 1.0) as weight,
                   10 - ntile(10) over (partition by run_id, split order by score desc, example_id) as decile
            from {rel("lookalike_training_predictions")}
            where score is not null and label in (0, 1)
        )
        select run_id, split, decile, count(*) as n_users,
               sum(weight * score) / sum(weight) as mean_score,
               sum(weight * label) / sum(weight) as positive_rate
        from ranked
        group by run_id, split, decile
        order by run_id, split, decile""")
    )
    # Score histogram of the scored population, binned in SQL (never one row per user).
    histogram = _by_run(
        reader.query(f"""
        select run_id, coalesce(is_seed_user, false) as is_seed_user,
               least(cast(floor(score * {HISTOGRAM_BINS}) as integer), {HISTOGRAM_BINS - 1}) as bin,
               count(*) as n_users,
               sum(case when is_stale then 1 else 0 end) as n_stale
        from {rel("lookalike_user_scores")}
        where score is not null
        group by run_id, coalesce(is_seed_user, false),
                 least(cast(floor(score * {HISTOGRAM_BINS}) as integer), {HISTOGRAM_BINS - 1})
        order by run_id, 2, 3""")
    )

    out = []
    for run in runs:
        run_id = run["run_id"]
        run = dict(run)
        run["summary"] = summary.get(run_id, {})
        run["metrics"] = {m["split"]: m for m in metrics.get(run_id, [])}
        run["deciles"] = deciles.get(run_id, [])
        run["gains"] = gains.get(run_id, [])
        for kind, rows in (
            ("thresholds", thresholds),
            ("importance", importance),
            ("monthly", monthly),
            ("drift", drift),
            ("lift", lift),
        ):
            run[kind] = rows.get(run_id, [])
        run["calibration"] = calibration.get(run_id, [])
        roc = {}
        for split in ("train", "test"):
            points, auc = roc_points([r for r in roc_rows.get(run_id, []) if r["split"] == split])
            if points:
                roc[split] = {"points": thin_curve(points), "n_all_points": len(points), "auc": auc}
        run["roc"] = roc
        hist = histogram.get(run_id, [])
        run["histogram"] = {
            "bins": HISTOGRAM_BINS,
            "population": [0] * HISTOGRAM_BINS,
            "seeds": [0] * HISTOGRAM_BINS,
            "n_stale": sum(int(h["n_stale"] or 0) for h in hist),
        }
        for h in hist:
            key = "seeds" if h["is_seed_user"] else "population"
            run["histogram"][key][int(h["bin"])] += int(h["n_users"])
        out.append(normalise_run(run))
    return {"runs": out, "has_drift": has_drift, "has_lift": bool(lift_rows)}
