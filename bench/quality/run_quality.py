"""Quality benchmark: how close each model type gets to the oracle on positive-unlabeled data.

For each model type (hgb, rf, logistic, auto), with and without ``tune_model``, trains one
positive-only run through :func:`lookalike_udf.training.fit_run_model` (the code path of the dbt
model lookalike_run_models, default settings otherwise: bagging PU with 20 bags) on data from
:mod:`generate`, scores every unlabeled user with the stored model (as lookalike_user_scores
does) and reports, against the hidden true labels:

- ``auc``: AUC of the scores on the unlabeled users;
- ``recall_top10``: share of the hidden positives among the unlabeled users that rank in the top 10 %;
- ``oracle_auc``: AUC of the true probabilities on the same users, and ``ratio`` = auc / oracle_auc.

With ``--supervised N``, each run has negatives instead: N users drawn at random with their true
labels (a fifth of them held out as the run's test split), trained with each model type
(``--types``, e.g. the default ``hgb_or_logistic``) and scored on every other user.

Usage (the figures in RESULTS.md)::

    python bench/quality/run_quality.py --seeds 0 1 2 --out bench/quality/results.json
    python bench/quality/run_quality.py --seeds 0 1 2 --no-tune --supervised 5000 \
        --types hgb rf logistic hgb_or_logistic --out bench/quality/results_supervised.json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate import STANDARD, make_examples, make_population, make_supervised_examples  # noqa: E402
from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_model  # noqa: E402

CONFIGS = [(t, tune) for tune in (False, True) for t in ("hgb", "rf", "logistic", "auto")]


def recall_at(scores: np.ndarray, truth: np.ndarray, share: float = 0.10) -> float:
    k = int(round(share * len(scores)))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(truth[top].sum() / max(truth.sum(), 1))


def evaluate(
    seed: int, configs, n_users: int, budget: float, auto_tune: bool = False, supervised: int | None = None
) -> list[dict]:
    pop = make_population(seed=seed, n_users=n_users)
    if supervised:
        examples, drawn = make_supervised_examples(pop, seed=seed, n_examples=supervised)
        unl = np.ones(pop.table.num_rows, dtype=bool)
        unl[drawn] = False  # scored: every user that is not an example
    else:
        examples = make_examples(pop, seed=seed)
        unl = ~pop.labeled
    population = pop.table.filter(pa.array(unl))
    truth = pop.truth[unl]
    oracle = float(roc_auc_score(truth, pop.p[unl]))
    oracle_recall = recall_at(pop.p[unl], truth)
    out = []
    for model_type, tune in configs:
        started = time.perf_counter()
        model = fit_run_model(
            "bench",
            examples,
            42,
            model_type=model_type,
            tune_model=tune,
            tune_time_budget_seconds=budget,
            auto_tune=auto_tune,
        )
        fit_seconds = time.perf_counter() - started
        model = LookalikeModel.from_json(model.to_json())  # score with the stored model, as dbt does
        scores = model.predict(population)
        auc = float(roc_auc_score(truth, scores))
        row = {
            "seed": seed,
            "model_type": model_type,
            "tune_model": tune,
            "auto_tune": auto_tune,
            "fitted_type": model.params["model_type"],
            "auc": round(auc, 4),
            "recall_top10": round(recall_at(scores, truth), 4),
            "oracle_auc": round(oracle, 4),
            "oracle_recall_top10": round(oracle_recall, 4),
            "ratio": round(auc / oracle, 4),
            "fit_seconds": round(fit_seconds, 1),
            "n_seeds": int(pop.labeled.sum()),
            "n_unlabeled": int(unl.sum()),
            "hidden_positive_share": round(float(truth.mean()), 4),
        }
        if supervised:
            row.update(n_seeds=None, n_examples=int(examples.num_rows), training_method=model.params["training_method"])
        if model_type == "hgb_or_logistic":
            row["model_selection"] = model.params["model_selection"]
        if tune:
            row["chosen"] = model.params["tuning"]["chosen"]
            row["stopped_by_budget"] = model.params["tuning"]["stopped_by_budget"]
        if auto_tune:
            row["dropped"] = [d["feature"] for d in model.params["feature_selection"]["dropped"]]
        if model_type == "auto":
            row["cv_auc"] = model.params["model_selection"]["cv_auc"]
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def summary(rows: list[dict]) -> str:
    lines = [
        "| model_type | tune_model | fitted (per seed) | AUC | recall top 10% | oracle AUC | ratio | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = []
    for r in rows:
        key = (r["model_type"], r["tune_model"], r["auto_tune"])
        if key not in keys:
            keys.append(key)
    for key in keys:
        group = [r for r in rows if (r["model_type"], r["tune_model"], r["auto_tune"]) == key]
        mean = lambda name: np.mean([r[name] for r in group])  # noqa: E731
        label = key[0] + (" + auto_tune" if key[2] else "")
        lines.append(
            f"| {label} | {key[1]} | {','.join(r['fitted_type'] for r in group)} | {mean('auc'):.4f} | "
            f"{mean('recall_top10'):.4f} | {mean('oracle_auc'):.4f} | {mean('ratio'):.4f} | {mean('fit_seconds'):.1f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="generator seeds")
    parser.add_argument("--n-users", type=int, default=STANDARD["n_users"])
    parser.add_argument("--budget", type=float, default=60.0, help="tune_time_budget_seconds")
    parser.add_argument("--types", nargs="+", default=["hgb", "rf", "logistic", "auto"])
    parser.add_argument("--no-tune", action="store_true", help="only the untuned configurations")
    parser.add_argument("--auto-tune", action="store_true", help="also run hgb with auto_tune (tuned and not)")
    parser.add_argument(
        "--supervised",
        type=int,
        metavar="N",
        help="runs with negatives: N users with their true labels (default: positive-only runs)",
    )
    parser.add_argument("--out", type=Path, help="write every row as JSON here")
    args = parser.parse_args(argv)
    configs = [(t, tune) for tune in ((False,) if args.no_tune else (False, True)) for t in args.types]
    started = time.perf_counter()
    rows = []
    for seed in args.seeds:
        rows += evaluate(seed, configs, args.n_users, args.budget, supervised=args.supervised)
        if args.auto_tune:
            rows += evaluate(seed, [("hgb", False), ("hgb", True)], args.n_users, args.budget, auto_tune=True)
    elapsed = time.perf_counter() - started
    print()
    print(summary(rows))
    print(
        f"\n{len(rows)} fits in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}, numpy {np.__version__}, pyarrow {pa.__version__}"
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
