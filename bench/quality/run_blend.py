"""Would an average of the model types beat the honest choice? (issue 28 part 2, decision 0034)

Offline measurement, not a product feature. For the data sets and splits of
``results_choice.json`` (written by ``run_tabular.py --splits 3``), refits logistic, rf and hgb
through :func:`lookalike_udf.training.fit_run_model` exactly as ``run_tabular.py`` does (same
split, same seed, so the same models) and scores the held-out rows with three averages: the mean
of the three probabilities, the mean of their ranks, and the mean of the two types with the best
out-of-fold AUC recorded in that split's ``hgb_logistic_or_rf`` row. Prints each against the best
single type and the default, and writes every split's AUCs.

Usage (the figures in RESULTS.md, "Honest choice")::

    python bench/quality/run_blend.py --out bench/quality/results_blend.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_tabular as rt  # noqa: E402

TYPES = ("logistic", "rf", "hgb")
COLUMNS = ("default", "mean3", "rank3", "mean_top2")


def evaluate(name: str, split_seed: int, recorded: list[dict]) -> dict:
    X, y = rt.load_dataset(name)
    features = rt.feature_table(X)
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    train = rt.examples(features, train_idx, y[train_idx], np.full(len(train_idx), "label"), "train")
    test = rt.examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    scores = {t: rt.fit_and_score(train, test, t, 42)[0] for t in TYPES}
    default = next(
        r
        for r in recorded
        if r["dataset"] == name
        and r["split_seed"] == split_seed
        and r["setting"] == "supervised"
        and r["model_type"] == "hgb_logistic_or_rf"
    )
    oof = default["selection"]["oof_auc"]
    top2 = sorted(oof, key=oof.get, reverse=True)[:2]
    truth = y[test_idx]
    auc = {t: roc_auc_score(truth, s) for t, s in scores.items()}
    auc["default"] = default["auc"]
    auc["mean3"] = roc_auc_score(truth, np.mean([scores[t] for t in TYPES], axis=0))
    auc["rank3"] = roc_auc_score(truth, np.mean([rankdata(scores[t]) for t in TYPES], axis=0))
    auc["mean_top2"] = roc_auc_score(truth, np.mean([scores[t] for t in top2], axis=0))
    return {"dataset": name, "split_seed": split_seed, "top2": top2, **{k: round(float(v), 4) for k, v in auc.items()}}


def summary(rows: list[dict]) -> str:
    lines = [
        "| dataset | best type | default - best | mean of 3 - best | rank mean of 3 - best | mean of OOF top 2 - best |",
        "|---|---|---|---|---|---|",
    ]
    gaps = {k: [] for k in COLUMNS}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        mean = {k: float(np.mean([r[k] for r in group])) for k in (*TYPES, *COLUMNS)}
        best = max(mean[t] for t in TYPES)
        for k in COLUMNS:
            gaps[k].append(mean[k] - best)
        lines.append(f"| {name} | {best:.4f} | " + " | ".join(f"{mean[k] - best:+.4f}" for k in COLUMNS) + " |")
    lines.append("| mean | | " + " | ".join(f"{np.mean(v):+.4f}" for v in gaps.values()) + " |")
    lines.append("| worst | | " + " | ".join(f"{np.min(v):+.4f}" for v in gaps.values()) + " |")
    n = len(gaps["default"])
    lines.append(
        "| within 0.005 | | " + " | ".join(f"{int((np.array(v) >= -0.005).sum())} of {n}" for v in gaps.values()) + " |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recorded", type=Path, default=HERE / "results_choice.json")
    parser.add_argument("--out", type=Path, help="write every row as JSON here")
    args = parser.parse_args(argv)
    recorded = json.loads(args.recorded.read_text())["rows"]
    splits = dict.fromkeys((r["dataset"], r["split_seed"]) for r in recorded if r["model_type"] == "hgb_logistic_or_rf")
    rows = []
    for name, split_seed in splits:
        rows.append(evaluate(name, split_seed, recorded))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print(summary(rows))
    if args.out:
        args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
