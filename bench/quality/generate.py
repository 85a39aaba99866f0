"""Seeded positive-unlabeled data with a known true probability for every user.

Every user has a true probability ``p`` of being a lookalike (a positive), a true label drawn from
it, and features of mixed types: numbers (one with missing values, one heavy-tailed), categories,
a boolean, and pure-noise columns of each type. The log-odds are nonlinear: a threshold, a
saturating curve, an interaction between a number and the boolean, and per-category effects.

Positive-unlabeled: a share ``label_share`` of the true positives is labeled (selected completely
at random, SCAR); every other user is unlabeled, so the unlabeled users hide the remaining
positives. Training examples follow the dbt pipeline (int_lookalike__training_points): users are
split train/test by ``test_fraction``; the labeled positives plus a seeded sample of
``unlabeled_sample_size`` unlabeled users become the examples (label 0, source
``unlabeled_sample``).

>>> pop = make_population(seed=1, n_users=2000)
>>> pop.table.num_rows, round(float(pop.truth.mean()), 2) > 0
(2000, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

#: The standard generator settings (bench/quality/RESULTS.md reports these).
STANDARD = {"n_users": 40_000, "label_share": 0.2, "test_fraction": 0.2, "unlabeled_sample_size": 5000}

PLANS = ["free", "basic", "pro", "team"]
PLAN_EFFECT = {"free": -0.6, "basic": 0.0, "pro": 0.7, "team": 1.1}
COUNTRIES = ["us", "de", "fr", "br", "in", "jp"]
COUNTRY_EFFECT = {"us": 0.3, "de": 0.0, "fr": -0.2, "br": 0.4, "in": -0.5, "jp": 0.1}
INTERCEPT = -3.3


@dataclass
class Population:
    table: pa.Table  # user_id and feature columns
    p: np.ndarray  # true probability of being a positive
    truth: np.ndarray  # true label (0/1) drawn from p
    labeled: np.ndarray  # True for positives given as seeds


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_population(
    seed: int = 0, n_users: int = STANDARD["n_users"], label_share: float = STANDARD["label_share"]
) -> Population:
    rng = np.random.default_rng(seed)
    n = n_users
    engagement = rng.normal(size=n)
    recency_days = rng.exponential(30.0, size=n)
    spend = rng.lognormal(mean=3.0, sigma=1.0, size=n)
    spend_missing = rng.random(n) < 0.15
    sessions = rng.poisson(np.exp(1.0 + 0.4 * engagement)).astype(float)
    subscribed = rng.random(n) < 0.35
    tenure = rng.uniform(0, 1000, size=n)
    plan = rng.choice(PLANS, size=n, p=[0.45, 0.3, 0.2, 0.05])
    country = rng.choice(COUNTRIES, size=n)

    logit = (
        INTERCEPT
        + 1.0 * engagement
        + 1.2 * (recency_days < 7)  # threshold
        + 0.8
        * np.tanh(np.log(spend) - 3.0)  # saturating; missing spend = no effect
        * ~spend_missing
        + 0.9 * subscribed * (tenure > 365)  # interaction
        + 0.15 * np.sqrt(sessions)
        + np.vectorize(PLAN_EFFECT.get)(plan)
        + np.vectorize(COUNTRY_EFFECT.get)(country)
    )
    p = _sigmoid(logit)
    truth = (rng.random(n) < p).astype(np.int32)
    labeled = (truth == 1) & (rng.random(n) < label_share)

    table = pa.table(
        {
            "user_id": [f"u{i:06d}" for i in range(n)],
            "engagement": engagement,
            "recency_days": recency_days,
            "spend": pa.array(np.where(spend_missing, np.nan, spend), from_pandas=True),
            "sessions": sessions,
            "is_subscribed": pa.array(subscribed),
            "tenure_days": tenure,
            "plan": plan.tolist(),
            "country": country.tolist(),
            "noise_num": rng.normal(size=n),
            "noise_cat": rng.choice(["a", "b", "c"], size=n).tolist(),
            "noise_flag": pa.array(rng.random(n) < 0.5),
        }
    )
    return Population(table=table, p=p, truth=truth, labeled=labeled)


def make_examples(
    pop: Population,
    seed: int = 0,
    test_fraction: float = STANDARD["test_fraction"],
    unlabeled_sample_size: int = STANDARD["unlabeled_sample_size"],
) -> pa.Table:
    """Training examples of one positive-only run, shaped like int_lookalike__training_examples."""
    rng = np.random.default_rng(seed + 1)
    n = pop.table.num_rows
    split = np.where(rng.random(n) < test_fraction, "test", "train")
    unlabeled = np.flatnonzero(~pop.labeled)
    sample = np.sort(rng.choice(unlabeled, size=min(unlabeled_sample_size, len(unlabeled)), replace=False))
    rows = np.concatenate([np.flatnonzero(pop.labeled), sample])
    k = len(rows)
    label = pop.labeled[rows].astype(np.int32)
    meta = pa.table(
        {
            "example_id": [f"e{r}" for r in rows],
            "run_id": ["bench"] * k,
            "user_id": pop.table.column("user_id").take(pa.array(rows)),
            "label": pa.array(label),
            "weight": np.ones(k),
            "as_of_at": pa.array([None] * k, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * k, type=pa.timestamp("us")),
            "example_source": np.where(label == 1, "label", "unlabeled_sample").tolist(),
            "split": split[rows].tolist(),
        }
    )
    features = pop.table.drop_columns(["user_id"]).take(pa.array(rows))
    for name in features.column_names:
        meta = meta.append_column(name, features.column(name))
    return meta


def make_supervised_examples(
    pop: Population,
    seed: int = 0,
    n_examples: int = STANDARD["unlabeled_sample_size"],
    test_fraction: float = STANDARD["test_fraction"],
) -> tuple[pa.Table, np.ndarray]:
    """Training examples of one run with negatives: ``n_examples`` users drawn at random, each with
    its true label (positives and negatives), split by ``test_fraction``. Returns the examples and
    the indices of the users drawn (the rest of the population is scored against the truth)."""
    rng = np.random.default_rng(seed + 2)
    n = pop.table.num_rows
    rows = np.sort(rng.choice(n, size=min(n_examples, n), replace=False))
    k = len(rows)
    label = pop.truth[rows].astype(np.int32)
    split = np.where(rng.random(k) < test_fraction, "test", "train")
    meta = pa.table(
        {
            "example_id": [f"e{r}" for r in rows],
            "run_id": ["bench"] * k,
            "user_id": pop.table.column("user_id").take(pa.array(rows)),
            "label": pa.array(label),
            "weight": np.ones(k),
            "as_of_at": pa.array([None] * k, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * k, type=pa.timestamp("us")),
            "example_source": ["label"] * k,
            "split": split.tolist(),
        }
    )
    features = pop.table.drop_columns(["user_id"]).take(pa.array(rows))
    for name in features.column_names:
        meta = meta.append_column(name, features.column(name))
    return meta, rows
