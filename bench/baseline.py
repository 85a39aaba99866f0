"""The notebook baseline: the same job done the way a capable data scientist would in pandas.

Reads the bench inputs from DuckDB into pandas, matches labels to snapshots with
``pandas.merge_asof`` (snapshot_at <= label time, inclusive; no timestamp = latest before the
scoring time), computes the same event features with merges and groupbys (events strictly before
the as-of time; counts, value sums, recency per top event type; distinct items; active days;
category shares), fits scikit-learn's HistGradientBoostingClassifier with the package's default
parameters (bagging PU with the same number of bags when a run has no negatives), scores the
population with ``predict_proba`` and writes the scores back to DuckDB (table
``baseline_scores``). Prints a JSON line of per-stage seconds.

    python bench/baseline.py --db /tmp/bench-data/S.duckdb --scale S
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import AS_OF, SCALES  # noqa: E402
from lookalike_udf.estimators.fitting import threads_for  # noqa: E402
from lookalike_udf.estimators.hgb import default_params as default_hgb_params  # noqa: E402

WINDOWS = (7, 30, 90, 365)
ACTIVE_WINDOWS = (30, 90)
TOP_TYPES = 6
TOP_CATEGORIES = 5
AFFINITY_WINDOW = 365
BAGS = 20
TEST_FRACTION = 0.2


def event_features(
    points: pd.DataFrame, events: pd.DataFrame, types: list[str], categories: list[str], has_value: set[str]
) -> pd.DataFrame:
    """One row per point (point_id, user_id, as_of) with the event features as of ``as_of``."""
    j = points[["point_id", "user_id", "as_of"]].merge(events, on="user_id", how="inner")
    j = j[j["event_at"] < j["as_of"]]
    j["age"] = (j["as_of"] - j["event_at"]).dt.total_seconds() / 86400.0
    out = pd.DataFrame(index=pd.Index(points["point_id"], name="point_id"))
    g = j.groupby("point_id")
    for t in types:
        jt = j[j["event_type"] == t]
        gt = jt.groupby("point_id")
        for w in WINDOWS:
            inside = jt[jt["age"] <= w].groupby("point_id")
            out[f"evt_{t}_cnt_{w}d"] = inside.size()
            if t in has_value:
                out[f"evt_{t}_value_{w}d"] = inside["value"].sum()
        out[f"evt_{t}_days_since_last"] = gt["age"].min()
        out[f"evt_{t}_days_since_first"] = gt["age"].max()
    out["evt_distinct_items"] = g["item_id"].nunique()
    for w in ACTIVE_WINDOWS:
        inside = j[j["age"] <= w]
        out[f"evt_active_days_{w}d"] = (
            inside.assign(day=inside["event_at"].dt.floor("D")).groupby("point_id")["day"].nunique()
        )
    inside = j[j["age"] <= AFFINITY_WINDOW]
    total = inside.groupby("point_id").size()
    for c in categories:
        out[f"aff_{c}_share_{AFFINITY_WINDOW}d"] = (
            inside[inside["category"] == c].groupby("point_id").size().reindex(total.index, fill_value=0) / total
        )
    counts = [c for c in out.columns if "_cnt_" in c or "_value_" in c or c.startswith(("evt_distinct", "evt_active"))]
    out[counts] = out[counts].fillna(0.0)
    return out.reset_index()


def _hash01(values: pd.Series, seed: int) -> np.ndarray:
    return (
        pd.util.hash_pandas_object(values.astype(str) + f"|{seed}", index=False).to_numpy() % 1_000_003
    ) / 1_000_003.0


def fit_predict(train_X, train_y, score_frames, seed: int, pu: bool):
    """Fit HGB (bagging PU when ``pu``) and return predict_proba for each frame in score_frames."""

    def one(X, y, s):
        est = HistGradientBoostingClassifier(categorical_features="from_dtype", **default_hgb_params(len(y), s))
        # The same thread policy as the package (one thread below 50,000 rows): on two busy cores
        # OpenMP start-up dominates small fits, and the baseline should not pay for that.
        with threads_for(len(y)):
            return est.fit(X, y)

    if not pu:
        model = one(train_X, train_y, seed)
        return [model.predict_proba(f)[:, 1] for f in score_frames]
    pos = np.flatnonzero(train_y == 1)
    unl = np.flatnonzero(train_y == 0)
    size = min(len(pos), len(unl))
    rng = np.random.default_rng(seed)
    sums = [np.zeros(len(f)) for f in score_frames]
    for b in range(BAGS):
        rows = np.concatenate([pos, rng.choice(unl, size=size, replace=False)])
        model = one(train_X.iloc[rows], train_y[rows], seed + b)
        for k, f in enumerate(score_frames):
            sums[k] += model.predict_proba(f)[:, 1]
    return [s / BAGS for s in sums]


def run(db: Path, scale: str, seed: int = 42) -> dict:
    stages = {}
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    snaps = con.sql("select * from inputs.snapshots").df()
    labels = con.sql("select * from inputs.labels").df()
    runs = con.sql("select * from inputs.runs").df()
    has_events = SCALES[scale]["events"] > 0
    if has_events:
        events = con.sql("select e.*, i.category from inputs.events e left join inputs.items i using (item_id)").df()
    stages["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    as_of = pd.Timestamp(AS_OF)
    features = [c for c in snaps.columns if c not in ("user_id", "snapshot_at")]
    for c in features:
        if snaps[c].dtype == object or str(snaps[c].dtype) in ("str", "string"):
            snaps[c] = snaps[c].astype("category")
        elif snaps[c].dtype == bool:
            snaps[c] = snaps[c].astype("float64")
    snaps = snaps.sort_values("snapshot_at")
    latest = snaps[snaps["snapshot_at"] <= as_of].drop_duplicates("user_id", keep="last").reset_index(drop=True)
    if has_events:
        counts = events["event_type"].value_counts()
        types = sorted(counts.index[:TOP_TYPES], key=lambda x: (-counts[x], x))
        has_value = set(events.loc[events["value"].notna(), "event_type"].unique())
        cat_counts = events["category"].value_counts()
        categories = list(cat_counts.index[:TOP_CATEGORIES])
    stages["prepare"] = time.perf_counter() - t

    # The population's features as of the scoring time, once for every run.
    t = time.perf_counter()
    pop = latest
    if has_events:
        pop_points = latest[["user_id"]].assign(as_of=as_of, point_id=np.arange(len(latest)))
        pop = latest.merge(
            event_features(pop_points, events, types, categories, has_value)
            .merge(pop_points[["point_id", "user_id"]], on="point_id")
            .drop(columns="point_id"),
            on="user_id",
            how="left",
        )
    stages["population_features"] = time.perf_counter() - t

    all_scores = []
    for run_id, engagement in runs[["run_id", "engagement_type"]].itertuples(index=False):
        t = time.perf_counter()
        lab = labels[labels["run_id"] == run_id].copy()
        lab["as_of"] = lab["label_timestamp"].fillna(as_of)
        lab["weight"] = lab["weight"].fillna(1.0)
        pu = not (lab["label"] == 0).any()
        if pu:
            positives = set(lab.loc[lab["label"] == 1, "user_id"])
            pool = latest.loc[~latest["user_id"].isin(positives), ["user_id"]]
            size = min(len(pool), SCALES[scale]["labels"])
            unl = pool.assign(h=_hash01(pool["user_id"], seed)).nsmallest(size, "h")[["user_id"]]
            times = lab["as_of"].to_numpy()
            unl["as_of"] = times[(_hash01(unl["user_id"], seed + 1) * len(times)).astype(int)]
            unl["label"], unl["weight"] = 0, 1.0
            lab = pd.concat([lab[["user_id", "as_of", "label", "weight"]], unl], ignore_index=True)
        lab = lab.sort_values("as_of").reset_index(drop=True)
        lab["point_id"] = np.arange(len(lab))
        matched = pd.merge_asof(
            lab,
            snaps,
            left_on="as_of",
            right_on="snapshot_at",
            by="user_id",
            direction="backward",
            allow_exact_matches=True,
        )
        matched = matched[matched["snapshot_at"].notna()].reset_index(drop=True)
        if has_events:
            ev = event_features(matched[["point_id", "user_id", "as_of"]], events, types, categories, has_value)
            matched = matched.merge(ev, on="point_id", how="left")
        cols = [
            c
            for c in matched.columns
            if c not in ("user_id", "as_of", "label", "weight", "point_id", "snapshot_at", "run_id", "label_timestamp")
        ]
        is_test = _hash01(matched["user_id"], seed + 2) < TEST_FRACTION
        train = matched[~is_test]
        stages[f"{run_id}:features"] = time.perf_counter() - t

        t = time.perf_counter()
        test_scores, pop_scores = fit_predict(
            train[cols], train["label"].to_numpy(), [matched.loc[is_test, cols], pop[cols]], seed, pu
        )
        stages[f"{run_id}:fit_and_score"] = time.perf_counter() - t
        from sklearn.metrics import roc_auc_score

        y_test = matched.loc[is_test, "label"].to_numpy()
        test_auc = float(roc_auc_score(y_test, test_scores)) if len(set(y_test)) == 2 else None
        frame = pd.DataFrame({"run_id": run_id, "user_id": pop["user_id"], "score": pop_scores})
        if engagement == "SINGLE_ENGAGE":
            frame = frame[~frame["user_id"].isin(set(labels.loc[labels["run_id"] == run_id, "user_id"]))]
        all_scores.append(frame)
        stages[f"{run_id}:test_auc"] = test_auc

    t = time.perf_counter()
    scores = pd.concat(all_scores, ignore_index=True)
    con.register("baseline_frame", scores)
    con.execute("create or replace table baseline_scores as select * from baseline_frame")
    con.close()
    stages["write"] = time.perf_counter() - t
    stages["total"] = time.perf_counter() - t0
    return stages


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    args = parser.parse_args()
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in run(args.db, args.scale).items()}))
