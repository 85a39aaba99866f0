"""Positive-only quality and cost against the number of bagging PU members (``pu_bags``).

Issue 17 asks whether fewer members lose anything: each member is scored over the whole
population, so the members are most of a positive-only run's cost. For each ``--bags`` value this
fits the default positive-only run (:func:`lookalike_udf.training.fit_run_model`, model type
default, bagging PU) and scores with the stored JSON model, as the dbt models do, on

- the PU generator (``generate.py``, standard settings, ``--seeds``): AUC of every unlabeled
  user's score against the hidden true labels, and its ratio to the oracle's AUC;
- the public tabular datasets of ``run_tabular.py`` (``--splits`` seeded 70/30 splits; 30 % of
  the train positives are seeds, every other train row unlabeled, at most 5,000): held-out AUC.

It records the fit seconds, the trees the population pays for (sum over members) and the AUC.

    python bench/quality/run_bags.py --bags 20 10 5 --out bench/quality/results_bags.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate import STANDARD, make_examples, make_population  # noqa: E402
from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_model  # noqa: E402
from run_tabular import DATASETS, examples, feature_table, load_dataset  # noqa: E402


def fit_score(train, test, bags: int, seed: int = 42) -> tuple[np.ndarray, float, int]:
    started = time.perf_counter()
    model = fit_run_model("bench", train, seed, pu_bags=bags)
    seconds = time.perf_counter() - started
    model = LookalikeModel.from_json(model.to_json())  # score with the stored model, as dbt does
    members = getattr(model._scorer, "members", [model._scorer])
    trees = sum(len(getattr(m, "trees", [])) for m in members)
    return model.predict(test), seconds, trees


def generator_rows(seed: int, bags_list) -> list[dict]:
    pop = make_population(seed=seed, n_users=STANDARD["n_users"])
    train = make_examples(pop, seed=seed)
    unl = ~pop.labeled
    population, truth = pop.table.filter(pa.array(unl)), pop.truth[unl]
    oracle = float(roc_auc_score(truth, pop.p[unl]))
    out = []
    for bags in bags_list:
        scores, seconds, trees = fit_score(train, population, bags)
        auc = float(roc_auc_score(truth, scores))
        out.append(
            {
                "data": "generator",
                "seed": seed,
                "bags": bags,
                "auc": round(auc, 4),
                "ratio": round(auc / oracle, 4),
                "fit_seconds": round(seconds, 2),
                "trees": trees,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def tabular_rows(name: str, split_seed: int, bags_list, label_share: float = 0.3, sample: int = 5000) -> list[dict]:
    """The positive-only setting of run_tabular.evaluate, for each number of members."""
    X, y = load_dataset(name)
    features = feature_table(X)
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=0.3, stratify=y, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    test = examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    rng = np.random.default_rng(split_seed + 1000)
    pos = train_idx[y[train_idx] == 1]
    seeds = np.sort(rng.choice(pos, size=max(10, int(round(label_share * len(pos)))), replace=False))
    unlabeled = np.setdiff1d(train_idx, seeds)
    if len(unlabeled) > sample:
        unlabeled = np.sort(rng.choice(unlabeled, size=sample, replace=False))
    rows = np.concatenate([seeds, unlabeled])
    label = np.r_[np.ones(len(seeds)), np.zeros(len(unlabeled))]
    train = examples(features, rows, label, np.where(label == 1, "label", "unlabeled_sample"), "train")
    out = []
    for bags in bags_list:
        scores, seconds, trees = fit_score(train, test, bags)
        out.append(
            {
                "data": name,
                "seed": split_seed,
                "bags": bags,
                "auc": round(float(roc_auc_score(y[test_idx], scores)), 4),
                "fit_seconds": round(seconds, 2),
                "trees": trees,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def summary(rows: list[dict], bags_list) -> str:
    data = list(dict.fromkeys(r["data"] for r in rows))
    head = (
        "| data | "
        + " | ".join(f"AUC, {b} members" for b in bags_list)
        + " | "
        + " | ".join(f"trees, {b}" for b in bags_list)
        + " | "
        + " | ".join(f"fit s, {b}" for b in bags_list)
        + " |"
    )
    lines = [head, "|---" * (1 + 3 * len(bags_list)) + "|"]
    for d in data:

        def mean(b, key):
            return float(np.mean([r[key] for r in rows if r["data"] == d and r["bags"] == b]))

        lines.append(
            f"| {d} | "
            + " | ".join(f"{mean(b, 'auc'):.4f}" for b in bags_list)
            + " | "
            + " | ".join(f"{mean(b, 'trees'):.0f}" for b in bags_list)
            + " | "
            + " | ".join(f"{mean(b, 'fit_seconds'):.1f}" for b in bags_list)
            + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bags", type=int, nargs="+", default=[20, 10, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="generator seeds")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    for seed in args.seeds:
        rows += generator_rows(seed, args.bags)
    for name in args.datasets:
        for split_seed in range(args.splits):
            rows += tabular_rows(name, split_seed, args.bags)
    elapsed = time.perf_counter() - started
    print()
    print(summary(rows, args.bags))
    print(
        f"\n{len(rows)} fits in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}"
    )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "elapsed_seconds": round(elapsed, 1),
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
