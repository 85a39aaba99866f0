"""Time-matched positive-only runs (issue 28 part 3, decision 0035): seeds labelled at one of their
own events, trained against unlabeled users at seed label times (``unlabeled_as_of: label_times``,
the behaviour before 0035) or at one of their own events (``user_events``), through a real
``dbt build`` of the package on generated dated inputs.

The generated case (``make_case``), as in the issue (a first rating of a genre):

- users join over four years before the scoring date S = 2026-06-01 (a quarter in the last year);
  a hidden trait (20 % of users) raises the share of their ratings in genre G (6 % against 0.4 %)
  and in a related genre R (35 % against 12 %); activity (sessions a month) varies by user and does
  not depend on the trait; a session is 1 + Poisson(3) ratings a few minutes apart;
- monthly snapshots: tenure_days, plan, profile_signal (the trait plus noise, weak);
- seeds: every user whose first rating of genre G falls in the year before S, labelled at that
  rating (so by construction in the middle of a session, and often a new member);
- events after S are not given to the package; they define the truth: among users without a G
  rating before S (the users a campaign can still convert), ``future_auc`` is the AUC of the
  population scores (at S) for "first rating of G in the 180 days after S", ``trait_auc`` the AUC
  for the hidden trait.

Both runs share the seeds (same labels under two run_ids), the random seed and every other setting
(MULTI_ENGAGE, default bagging PU); ``recall_top_10pct`` is the package's held-out-seed recall
(lookalike_run_metrics, test split). A third run, ``negatives_at_events``, is the issue's fix as a
reference: the same seeds and 2,000 explicit negatives (users without a G rating before S), each
labelled at a random one of its own events in the seeds' year.
``when_share`` is the share of the summed positive permutation importance
(lookalike_feature_importance) held by the "when" features: days since the last event, 7-day
counts and values, 30-day active days, tenure. The training means compare seeds and unlabeled
examples as the issue did.

Usage (the figures in RESULTS.md)::

    python bench/quality/run_time_matching.py --seeds 0 1 2 --out bench/quality/results_time_matching.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[2]
S = pd.Timestamp("2026-06-01")
DAY = pd.Timedelta(days=1)
CATEGORIES = ["G", "R", "c1", "c2", "c3", "c4", "c5"]
RUNS = ("label_times", "user_events")
#: The issue's fix, as a reference: explicit negatives (users without a G rating before S), each
#: labelled at a random one of its own events in the seeds' year.
ANCHOR = "negatives_at_events"


def make_case(seed: int, n_users: int = 2500):
    """Snapshots, events (before S), items, seed labels and the truth tables of one generated case."""
    rng = np.random.default_rng(seed)
    start = S - 4 * 365 * DAY
    new = rng.random(n_users) < 0.25
    join_days = np.where(new, rng.uniform(4 * 365 - 365, 4 * 365 - 14, n_users), rng.uniform(0, 3 * 365, n_users))
    join = start + pd.to_timedelta(join_days, unit="D")
    trait = rng.random(n_users) < 0.20
    sessions_per_month = np.exp(rng.normal(np.log(1.2), 0.8, n_users))
    plan = np.where(rng.random(n_users) < 0.3 + 0.2 * (sessions_per_month > 1.5), "paid", "free")
    profile = 0.5 * trait + rng.normal(0, 1, n_users)
    users = [f"u{i:05d}" for i in range(n_users)]
    p_g = np.where(trait, 0.06, 0.004)
    p_r = np.where(trait, 0.35, 0.12)

    ev_user, ev_at, ev_cat = [], [], []
    end = S + 180 * DAY
    for i in range(n_users):
        span_days = (end - join[i]) / DAY
        n_sessions = rng.poisson(sessions_per_month[i] * span_days / 30.0)
        if n_sessions == 0:
            continue
        starts = join[i] + pd.to_timedelta(np.sort(rng.uniform(0, span_days, n_sessions)), unit="D")
        sizes = 1 + rng.poisson(3, n_sessions)
        offsets = np.concatenate([np.cumsum(rng.uniform(1, 8, k)) - 1 for k in sizes])  # minutes
        at = np.repeat(starts.values, sizes) + pd.to_timedelta(offsets, unit="m").values
        u = rng.random(len(at))
        cat = np.where(u < p_g[i], 0, np.where(u < p_g[i] + p_r[i], 1, 2 + rng.integers(0, 5, len(at))))
        ev_user.append(np.full(len(at), i))
        ev_at.append(at)
        ev_cat.append(cat)
    ev = pd.DataFrame(
        {"user": np.concatenate(ev_user), "event_at": np.concatenate(ev_at), "cat": np.concatenate(ev_cat)}
    )
    ev["event_at"] = ev["event_at"].dt.floor("s")
    ev = (
        ev.sort_values(["user", "event_at"], kind="stable").drop_duplicates(["user", "event_at"]).reset_index(drop=True)
    )
    ev["user_id"] = [users[i] for i in ev["user"]]
    ev["item_id"] = [f"{CATEGORIES[c]}_{k}" for c, k in zip(ev["cat"], rng.integers(0, 40, len(ev)), strict=True)]
    ev["event_type"] = np.where(rng.random(len(ev)) < 0.6, "rate", "view")
    ev["value"] = np.where(ev["event_type"] == "rate", rng.integers(1, 6, len(ev)).astype(float), np.nan)

    first_g = ev[ev["cat"] == 0].groupby("user")["event_at"].min()
    seeds = first_g[(first_g >= S - 365 * DAY) & (first_g < S)]
    labels = pd.DataFrame({"user_id": [users[i] for i in seeds.index], "label_timestamp": seeds.values})

    past = ev[ev["event_at"] < S]
    snap_rows = []
    months = pd.date_range(start, S, freq="MS")
    for i in range(n_users):
        for m in months[months >= join[i]]:
            snap_rows.append((users[i], m, int((m - join[i]) / DAY), plan[i], float(profile[i])))
    snapshots = pd.DataFrame(snap_rows, columns=["user_id", "snapshot_at", "tenure_days", "plan", "profile_signal"])
    items = pd.DataFrame(
        {"item_id": [f"{c}_{k}" for c in CATEGORIES for k in range(40)], "category": np.repeat(CATEGORIES, 40)}
    )
    g_before = np.zeros(n_users, dtype=bool)
    g_before[first_g[first_g < S].index] = True
    g_future = np.zeros(n_users, dtype=bool)
    g_future[first_g[(first_g >= S) & (first_g < S + 180 * DAY)].index] = True
    exists = np.asarray(join < S)
    truth = pd.DataFrame(
        {"user_id": users, "trait": trait, "g_before": g_before, "g_future": g_future, "exists": exists}
    )
    events = past[["user_id", "event_at", "event_type", "item_id", "value"]]
    window = past[(past["event_at"] >= S - 365 * DAY) & ~past["user"].isin(first_g[first_g < S].index)]
    picked = window.groupby("user").sample(n=1, random_state=seed)
    picked = picked.sample(n=min(2000, len(picked)), random_state=seed)
    negatives = pd.DataFrame({"user_id": picked["user_id"].values, "label_timestamp": picked["event_at"].values})
    return snapshots, events, items, labels, negatives, truth


def build(seed: int, work: Path) -> Path:
    snapshots, events, items, labels, negatives, truth = make_case(seed)
    db = work / f"tm_{seed}.duckdb"
    if db.exists():
        db.unlink()
    con = duckdb.connect(str(db))
    con.execute("create schema inputs")
    for name, frame in (("snapshots", snapshots), ("events", events), ("items", items), ("truth", truth)):
        con.register("frame", frame)
        con.execute(f"create table inputs.{name} as select * from frame")
        con.unregister("frame")
    rows = [
        (run, u, 1, t)
        for run in RUNS + (ANCHOR,)
        for u, t in zip(labels["user_id"], labels["label_timestamp"], strict=True)
    ]
    rows += [(ANCHOR, u, 0, t) for u, t in zip(negatives["user_id"], negatives["label_timestamp"], strict=True)]
    con.execute(
        "create table inputs.labels (run_id varchar, user_id varchar, label integer, label_timestamp timestamp)"
    )
    con.executemany("insert into inputs.labels values (?, ?, ?, ?)", rows)
    con.execute(
        "create table inputs.runs (run_id varchar, engagement_type varchar, unlabeled_sample_size bigint, "
        "unlabeled_as_of varchar)"
    )
    con.executemany(
        "insert into inputs.runs values (?, 'MULTI_ENGAGE', 2000, ?)", [(r, r) for r in RUNS] + [(ANCHOR, None)]
    )
    con.close()
    vars_ = {
        "lookalike_user_snapshots": "inputs.snapshots",
        "lookalike_labels": "inputs.labels",
        "lookalike_runs": "inputs.runs",
        "lookalike_events": "inputs.events",
        "lookalike_items": "inputs.items",
        "lookalike_as_of": str(S),
        "lookalike_demo": False,
        "lookalike_random_seed": 42,
    }
    env = dict(os.environ, LOOKALIKE_DUCKDB_PATH=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    dbt = str(Path(sys.executable).with_name("dbt"))
    cmd = [dbt, "build", "--project-dir", str(REPO), "--profiles-dir", str(REPO), "--vars", json.dumps(vars_)]
    cmd += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0 and "ERROR=0" not in proc.stdout:
        raise RuntimeError(proc.stdout[-4000:])
    return db


WHEN = ("days_since_last", "_cnt_7d", "_value_7d", "active_days_30d", "tenure_days")


def measure(seed: int, db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    out = []
    for run in RUNS + (ANCHOR,):
        scored = con.execute(
            """
            select t.*, s.score from inputs.truth as t
            inner join lookalike_user_scores as s on s.user_id = t.user_id and s.run_id = ?
            where t.user_id not in (select user_id from inputs.labels where label = 1)
            """,
            [run],
        ).df()
        candidates = scored[~scored["g_before"]]
        runs = con.execute(
            "select r.status, r.test_auc, r.n_train_examples, r.n_test_examples, m.recall_top_10pct "
            "from lookalike_runs as r left join lookalike_run_metrics as m on m.run_id = r.run_id and m.split = 'test' "
            "where r.run_id = ?",
            [run],
        ).fetchone()
        importance = con.execute(
            "select feature, greatest(importance, 0) as importance from lookalike_feature_importance where run_id = ?",
            [run],
        ).df()
        total = importance["importance"].sum()
        when = importance[importance["feature"].str.contains("|".join(WHEN))]["importance"].sum()
        top = importance.sort_values("importance", ascending=False).head(3)["feature"].tolist()
        means = con.execute(
            """
            select label, count(*) as n, avg(tenure_days) as tenure_days, avg(evt_rate_cnt_7d) as rate_cnt_7d,
                   avg(evt_rate_days_since_last) as rate_days_since_last,
                   avg(evt_view_days_since_last) as view_days_since_last
            from int_lookalike__training_examples where run_id = ? group by label order by label
            """,
            [run],
        ).df()
        sampled = con.execute(
            "select count(*) from int_lookalike__training_points where run_id = ? and example_source = 'unlabeled_sample'",
            [run],
        ).fetchone()[0]
        row = {
            "seed": seed,
            "unlabeled_as_of": run if run != ANCHOR else None,
            "run": run,
            "status": runs[0],
            "n_seeds": int(means.loc[means["label"] == 1, "n"].iloc[0]),
            "n_negatives": int(means.loc[means["label"] == 0, "n"].iloc[0]) if run == ANCHOR else 0,
            "n_unlabeled_kept": int(sampled),
            "test_auc": round(float(runs[1]), 4),
            "recall_top_10pct": None if runs[4] is None else round(float(runs[4]), 4),
            "future_auc": round(float(roc_auc_score(candidates["g_future"], candidates["score"])), 4),
            "n_future_positive": int(candidates["g_future"].sum()),
            "trait_auc": round(float(roc_auc_score(candidates["trait"], candidates["score"])), 4),
            "when_share": round(float(when / total), 3) if total > 0 else None,
            "top3_features": top,
            "means": {
                str(int(r["label"])): {k: None if pd.isna(r[k]) else round(float(r[k]), 2) for k in means.columns[2:]}
                for _, r in means.iterrows()
            },
        }
        print(json.dumps(row), flush=True)
        out.append(row)
    con.close()
    return out


def summary(rows: list[dict]) -> str:
    lines = [
        "| run | test AUC (seeds vs unlabeled) | held-out-seed recall@10 % | future AUC | trait AUC | "
        "when-feature share of importance | unlabeled kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in RUNS + (ANCHOR,):
        group = [r for r in rows if r["run"] == run]

        def fmt(key, digits=3, group=group):
            values = [r[key] for r in group]
            if any(v is None for v in values):
                return "n/a"
            return f"{np.mean(values):.{digits}f} ({' '.join(f'{v:.{digits}f}' for v in values)})"

        kept = np.mean([r["n_unlabeled_kept"] for r in group])
        lines.append(
            f"| {run} | {fmt('test_auc')} | {fmt('recall_top_10pct')} | {fmt('future_auc')} | {fmt('trait_auc')} | "
            f"{fmt('when_share', 2)} | {kept:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="folder for the DuckDB files (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="time_matching_"))
    work.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    for seed in args.seeds:
        rows += measure(seed, build(seed, work))
    print(summary(rows))
    if args.out:
        meta = {
            "python": platform.python_version(),
            "seconds": round(time.perf_counter() - started, 1),
            "load_average": os.getloadavg(),
        }
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
