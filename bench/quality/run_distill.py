"""Issue 27 part 4: can a cheaper positive-only model replace the 20-member bagging ensemble?

The population pays for every member: 20 members x ~250 depth-3 trees per user. Two cheaper
candidates, measured against the default (20 members, ``fit_run_model`` as the dbt models run it,
scored with the stored JSON model):

- **fewer members** (``pu_bags`` 10 and 5), now also at large N: the generator with 200,000 users
  and ``unlabeled_sample_size`` 20,000, where each member sees more unlabeled rows;
- **distillation**: one HistGradientBoostingRegressor (depth 3, 8 leaves, as the members) fitted
  to the ensemble's log-odds on a transfer set (the generator: the training examples plus up to
  20,000 other users of the population; the tabular sets: every train row), so the population would
  pay for one model.

Each candidate is judged by the issue's rule: no run loses more than 0.002 AUC against the default,
and the recall of held-out positives in the top 10 % stays within 0.01. AUC is against the hidden
truth (generator: every unlabeled user; tabular: the held-out rows); recall@10 % is the share of the
held-out positives ranked in the top 10 % of the held-out rows (tabular) or of the unlabeled users
(generator, the true positives among them).

    python bench/quality/run_distill.py --out bench/quality/results_distill.json
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
from scipy.special import logit
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate import STANDARD, make_examples, make_population  # noqa: E402
from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_model  # noqa: E402
from run_tabular import DATASETS, examples, feature_table, load_dataset  # noqa: E402

TRANSFER_MAX = 20_000


def recall_top(truth: np.ndarray, scores: np.ndarray, share: float = 0.10) -> float:
    """Share of the positives among the top ``share`` of rows by score (ties broken by position)."""
    k = max(1, int(round(share * len(scores))))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(truth[top].sum() / max(1, truth.sum()))


def teacher(train: pa.Table, bags: int, seed: int = 42) -> tuple[LookalikeModel, float]:
    started = time.perf_counter()
    model = fit_run_model("bench", train, seed, pu_bags=bags)
    return LookalikeModel.from_json(model.to_json()), time.perf_counter() - started


def student(model: LookalikeModel, transfer: pa.Table, seed: int = 42):
    """One regressor on the ensemble's log-odds over the transfer rows (the members' tree shape,
    learning rate 0.2, at most 500 iterations, early stopping on 10 % of the rows)."""
    X = model.encoder.transform(transfer)
    target = logit(np.clip(model.predict(transfer), 1e-9, 1 - 1e-9))
    mask = np.asarray(model.encoder.categorical_mask_, dtype=bool)
    reg = HistGradientBoostingRegressor(
        max_depth=3,
        max_leaf_nodes=8,
        learning_rate=0.2,
        max_iter=500,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        categorical_features=mask if mask.any() else None,
        random_state=seed,
    ).fit(X, target)
    return reg


def evaluate(name, seed, train, transfer, test, truth, rows, bags_list=(20, 10, 5)):
    out = {}
    for bags in bags_list:
        model, seconds = teacher(train, bags)
        scores = model.predict(test)
        members = getattr(model._scorer, "members", [model._scorer])
        out[f"bags_{bags}"] = {
            "auc": float(roc_auc_score(truth, scores)),
            "recall10": recall_top(truth, scores),
            "trees": int(sum(len(getattr(m, "trees", [])) for m in members)),
            "fit_seconds": round(seconds, 1),
        }
        if bags == 20:
            started = time.perf_counter()
            reg = student(model, transfer)
            d_scores = reg.predict(model.encoder.transform(test))
            out["distilled"] = {
                "auc": float(roc_auc_score(truth, d_scores)),
                "recall10": recall_top(truth, d_scores),
                "trees": int(reg.n_iter_),
                "fit_seconds": round(time.perf_counter() - started, 1),
                "fidelity_spearman": float(
                    np.corrcoef(np.argsort(np.argsort(d_scores)), np.argsort(np.argsort(scores)))[0, 1]
                ),
            }
    row = {"data": name, "seed": seed, **out}
    rows.append(row)
    print(json.dumps(row), flush=True)


def generator_case(seed: int, n_users: int, sample: int, rows: list):
    pop = make_population(seed=seed, n_users=n_users)
    train = make_examples(pop, seed=seed, unlabeled_sample_size=sample) if sample else make_examples(pop, seed=seed)
    unl = np.flatnonzero(~pop.labeled)
    population, truth = pop.table.take(pa.array(unl)), pop.truth[unl]
    rng = np.random.default_rng(seed + 7)
    extra = np.sort(rng.choice(len(unl), size=min(TRANSFER_MAX, len(unl)), replace=False))
    transfer = pa.concat_tables([train.select(population.column_names), population.take(pa.array(extra))])
    evaluate(f"generator_{n_users // 1000}k", seed, train, transfer, population, truth, rows)


def tabular_case(name: str, split_seed: int, rows: list, label_share: float = 0.3, sample: int = 5000):
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
    picked = np.concatenate([seeds, unlabeled])
    label = np.r_[np.ones(len(seeds)), np.zeros(len(unlabeled))]
    train = examples(features, picked, label, np.where(label == 1, "label", "unlabeled_sample"), "train")
    transfer = examples(features, train_idx, y[train_idx], np.full(len(train_idx), "label"), "train")
    evaluate(name, split_seed, train, transfer, test, y[test_idx], rows)


def summary(rows: list[dict]) -> str:
    kinds = ["bags_20", "bags_10", "bags_5", "distilled"]
    lines = [
        "| data | runs | "
        + " | ".join(f"AUC {k}" for k in kinds)
        + " | "
        + " | ".join(f"R@10 {k}" for k in kinds)
        + " | worst ΔAUC 10 / 5 / distilled | worst ΔR@10 10 / 5 / distilled | trees 20 / distilled |",
        "|---" * (3 + 2 * len(kinds) + 2) + "|",
    ]
    for d in dict.fromkeys(r["data"] for r in rows):
        rs = [r for r in rows if r["data"] == d]

        def mean(k, m, rs=rs):
            return float(np.mean([r[k][m] for r in rs]))

        def worst(k, m, rs=rs):
            return min(r[k][m] - r["bags_20"][m] for r in rs)

        lines.append(
            f"| {d} | {len(rs)} | "
            + " | ".join(f"{mean(k, 'auc'):.4f}" for k in kinds)
            + " | "
            + " | ".join(f"{mean(k, 'recall10'):.3f}" for k in kinds)
            + " | "
            + " / ".join(f"{worst(k, 'auc'):+.4f}" for k in kinds[1:])
            + " | "
            + " / ".join(f"{worst(k, 'recall10'):+.3f}" for k in kinds[1:])
            + f" | {mean('bags_20', 'trees'):.0f} / {mean('distilled', 'trees'):.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="generator seeds")
    parser.add_argument("--large-users", type=int, default=200_000)
    parser.add_argument("--large-sample", type=int, default=20_000)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[dict] = []
    for seed in args.seeds:
        generator_case(seed, STANDARD["n_users"], 0, rows)
    for seed in args.seeds:
        generator_case(seed, args.large_users, args.large_sample, rows)
    for name in args.datasets:
        for split_seed in range(args.splits):
            tabular_case(name, split_seed, rows)
    elapsed = time.perf_counter() - started
    print()
    print(summary(rows))
    print(
        f"\n{len(rows)} cases in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}"
    )
    if args.out:
        args.out.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
