"""Can the out-of-fold figures choose between single types AND their averages? (issue 28; bench only)

Offline measurement, not a product feature. For each data set of ``run_tabular.py`` and each of
``--splits`` seeded 70/30 splits (the same splits as every table of "Honest choice" and
"Supervised defaults"), the train split is encoded as :func:`lookalike_udf.training.fit_run_model`
encodes it, then

- :func:`lookalike_udf.tuning.oof_scores` (the product's own call: 1 x 5 folds, seed 42, each type
  with its supervised parameters, hgb with ``hgb.supervised_params``) gives the out-of-fold
  predictions of logistic, rf and hgb on the train split;
- each type is fitted on the whole train split (``estimators.fit(..., supervised=True)``, what
  ``fit_run_model`` fits after choosing) and scores the held-out rows through the stored JSON
  model (``LookalikeModel``, as dbt scores).

Candidates: the three types, the mean of the three probabilities (``mean3``), the mean of each pair
(``mean_hl``, ``mean_hr``, ``mean_lr``) and, for the record only (never chosen: a rank depends on
the population scored), the mean of the three ranks (``rank3``). A candidate's out-of-fold figures
are those of its averaged out-of-fold predictions: pooled AUC and the AUC of each of the 5 folds
(for the standard errors); its held-out AUC is that of its averaged held-out probabilities.

Rules, scored offline from these figures (:func:`choose`):

- ``today``: the product's ``oof_rule`` over the three types (hgb unless the best other type is
  ahead by > 1 SE of the paired fold differences); asserted equal to :func:`lookalike_udf.tuning.oof_rule`;
- ``best OOF``: the candidate with the best pooled out-of-fold AUC;
- ``hgb, > k SE``: hgb unless the candidate (any of the 7) with the best pooled out-of-fold AUC is
  ahead of hgb by more than k SE (the rule of ``oof_rule``, more candidates), k in 0, 0.5, 1;
- ``today, > k SE``: today's choice unless the best other candidate is ahead of it by > k SE;
- the same rules with the types and ``mean3`` only (no pairs): added after splits 0-2 were seen,
  so splits 3-9 (``results_blend_choice_confirm.json``) are their honest test.

The plain scikit-learn anchors' held-out AUCs on splits 0-2 are read from
``results_supervised_defaults.json`` (``--recorded``), not refitted; ``--plain`` fits them
(``run_tabular.plain_pipeline``) for the other splits of ``--out`` and stores them in each row.

    nice -n 15 python bench/quality/run_blend_choice.py --splits 3 --out bench/quality/results_blend_choice.json
    nice -n 15 python bench/quality/run_blend_choice.py --first-split 3 --splits 3 \
        --out bench/quality/results_blend_choice_confirm.json   # new splits; no plain anchors recorded
    nice -n 15 python bench/quality/run_blend_choice.py --append --first-split 6 --splits 4 \
        --out bench/quality/results_blend_choice_confirm.json
    nice -n 15 python bench/quality/run_blend_choice.py --plain --out bench/quality/results_blend_choice_confirm.json
    python bench/quality/run_blend_choice.py --summarize --out bench/quality/results_blend_choice_confirm.json
    python bench/quality/run_blend_choice.py --summarize --out bench/quality/results_blend_choice.json \
        --with bench/quality/results_blend_choice_confirm.json   # all 10 splits
    python bench/quality/run_blend_choice.py --summarize --out bench/quality/results_blend_choice.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from lookalike_udf import estimators  # noqa: E402
from lookalike_udf.estimators.fitting import map_side_by_side  # noqa: E402
from lookalike_udf.features import FeatureEncoder  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import feature_columns  # noqa: E402
from lookalike_udf.tuning import OOF_CANDIDATES, oof_rule, oof_scores  # noqa: E402
from run_tabular import (  # noqa: E402
    DATASETS,
    PLAIN,
    examples,
    feature_table,
    held_out_split,
    load_dataset,
    plain_frame,
    plain_pipeline,
)

SEED = 42
TYPES = ("hgb", "logistic", "rf")
assert OOF_CANDIDATES == TYPES
#: Averages of probabilities: name -> the types averaged. Chosen by the rules, after the types.
MEANS = {
    "mean3": ("hgb", "logistic", "rf"),
    "mean_hl": ("hgb", "logistic"),
    "mean_hr": ("hgb", "rf"),
    "mean_lr": ("logistic", "rf"),
}
CANDIDATES = (*TYPES, *MEANS)  # tie-break order: hgb first, as in the product
RECORD_ONLY = ("rank3",)
CODE = {
    "hgb": "H",
    "logistic": "L",
    "rf": "R",
    "mean3": "M",
    "mean_hl": "hl",
    "mean_hr": "hr",
    "mean_lr": "lr",
}


def blends(p: dict, rank_within: list | None = None) -> dict:
    """Every candidate's scores from the three types' scores ``p`` (rank3: ranks within each index
    set of ``rank_within``, e.g. the folds, so that ranks never mix two fold models)."""
    out = {t: p[t] for t in TYPES}
    for name, types in MEANS.items():
        out[name] = np.mean([p[t] for t in types], axis=0)
    r = np.zeros_like(p["hgb"])
    for idx in rank_within or [np.arange(len(r))]:
        r[idx] = np.mean([rankdata(p[t][idx]) / len(idx) for t in TYPES], axis=0)
    out["rank3"] = r
    return out


def evaluate(name: str, split_seed: int, store: dict | None = None) -> dict:
    X, y = load_dataset(name)
    features = feature_table(X)
    train_idx, test_idx = held_out_split(y, split_seed)
    test = examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test")
    train = examples(features, train_idx, y[train_idx], np.full(len(train_idx), "label"), "train")
    truth = y[test_idx]
    # The encoding of fit_run_model (train rows in example_id order, as they are here).
    encoder = FeatureEncoder().fit(train, feature_columns(train))
    Xt = encoder.transform(train)
    mask = encoder.categorical_mask_
    yt = train.column("label").to_numpy().astype(np.int64)
    w = np.ones(len(yt))
    groups = train.column("user_id").to_pylist()
    started = time.perf_counter()
    folds, oof = oof_scores(Xt, yt, w, mask, groups, SEED, TYPES, supervised=True)
    oof_seconds = time.perf_counter() - started

    def heldout(model_type):
        payload, params = estimators.fit(model_type, Xt, yt, w, mask, SEED, supervised=True)
        model = LookalikeModel.from_json(
            LookalikeModel(encoder=encoder, estimator_payload=payload, params=params).to_json()
        )
        return model.predict(test)

    started = time.perf_counter()
    test_scores = dict(zip(TYPES, map_side_by_side(heldout, TYPES, len(yt)), strict=True))
    fit_seconds = time.perf_counter() - started
    valid = [v for _, v in folds]
    seen = np.sort(np.concatenate(valid))
    cand_oof = blends(oof, valid)
    cand_test = blends(test_scores)
    out = {
        "dataset": name,
        "split_seed": split_seed,
        "n_train": int(len(yt)),
        "n_folds": len(folds),
        "oof_auc": {k: round(float(roc_auc_score(yt[seen], s[seen])), 6) for k, s in cand_oof.items()},
        "fold_auc": {k: [round(float(roc_auc_score(yt[v], s[v])), 6) for v in valid] for k, s in cand_oof.items()},
        "heldout": {k: round(float(roc_auc_score(truth, s)), 4) for k, s in cand_test.items()},
        "seconds": {"oof_fits": round(oof_seconds, 1), "train_fits": round(fit_seconds, 1)},
    }
    if store is not None:  # raw predictions, for re-analysis (not committed)
        for t in TYPES:
            store[f"{name}/{split_seed}/oof/{t}"] = oof[t]
            store[f"{name}/{split_seed}/test/{t}"] = test_scores[t]
        store[f"{name}/{split_seed}/y_train"] = yt
        store[f"{name}/{split_seed}/y_test"] = truth
    return out


def margin_choice(row: dict, anchor: str, candidates, k: float) -> str:
    """``anchor`` unless the best other candidate (pooled out-of-fold AUC; ties to the earlier one)
    is ahead of it: pooled AUC above the anchor's and mean paired fold difference > 0 and > k SE."""
    oof, fold = row["oof_auc"], row["fold_auc"]
    others = [c for c in candidates if c != anchor]
    best = max(others, key=lambda c: (oof[c], -others.index(c)))
    d = np.subtract(fold[best], fold[anchor])
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    return best if (oof[best] > oof[anchor] and mean > 0 and mean > k * se) else anchor


def today(row: dict) -> str:
    chosen = margin_choice(row, "hgb", TYPES, 1.0)
    product, _ = oof_rule({t: row["oof_auc"][t] for t in TYPES}, {t: row["fold_auc"][t] for t in TYPES}, 1.0)
    assert chosen == product, (row["dataset"], row["split_seed"], chosen, product)
    return chosen


RULES = {
    "today (types, hgb > 1 SE)": today,
    "best OOF of all 7": lambda r: max(CANDIDATES, key=lambda c: (r["oof_auc"][c], -CANDIDATES.index(c))),
    "hgb, > 0 SE (all 7)": lambda r: margin_choice(r, "hgb", CANDIDATES, 0.0),
    "hgb, > 0.5 SE (all 7)": lambda r: margin_choice(r, "hgb", CANDIDATES, 0.5),
    "hgb, > 1 SE (all 7)": lambda r: margin_choice(r, "hgb", CANDIDATES, 1.0),
    "today's, > 0 SE (all 7)": lambda r: margin_choice(r, today(r), CANDIDATES, 0.0),
    "today's, > 0.5 SE (all 7)": lambda r: margin_choice(r, today(r), CANDIDATES, 0.5),
    "today's, > 1 SE (all 7)": lambda r: margin_choice(r, today(r), CANDIDATES, 1.0),
    "hgb, > 1 SE (types + mean3)": lambda r: margin_choice(r, "hgb", (*TYPES, "mean3"), 1.0),
    "today's, > 0 SE (types + mean3)": lambda r: margin_choice(r, today(r), (*TYPES, "mean3"), 0.0),
    "today's, > 1 SE (types + mean3)": lambda r: margin_choice(r, today(r), (*TYPES, "mean3"), 1.0),
    "best OOF of types + mean3": lambda r: max(
        (*TYPES, "mean3"), key=lambda c: (r["oof_auc"][c], -CANDIDATES.index(c))
    ),
}


def plain_anchors(recorded: Path) -> dict:
    if not recorded.exists():
        return {}
    rows = json.loads(recorded.read_text())["rows"]
    return {(r["dataset"], r["split_seed"]): {k: r["heldout"][k] for k in PLAIN} for r in rows}


def fit_plain(name: str, split_seed: int) -> dict:
    """Held-out AUC of the plain scikit-learn anchors (``run_tabular.plain_pipeline``) on one split."""
    X, y = load_dataset(name)
    train_idx, test_idx = held_out_split(y, split_seed)
    frame = plain_frame(X)
    out = {}
    for kind in PLAIN:
        pipeline = plain_pipeline(kind, frame).fit(frame.iloc[train_idx], y[train_idx])
        out[kind] = round(float(roc_auc_score(y[test_idx], pipeline.predict_proba(frame.iloc[test_idx])[:, 1])), 4)
    return out


def fmt(x: float, spec: str = "+.4f") -> str:
    """A figure, or a dash where the plain anchors were not recorded (splits after the first 3)."""
    return "—" if np.isnan(x) else format(x, spec)


def per_dataset(rows: list[dict], plain: dict, rule) -> tuple[list[str], list[float], list[float], list[str]]:
    lines, gaps, plain_gaps, names = [], [], [], []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        chosen = [rule(r) for r in group]
        auc = float(np.mean([r["heldout"][c] for r, c in zip(group, chosen, strict=True)]))
        best = max(float(np.mean([r["heldout"][t] for r in group])) for t in TYPES)
        anchors = [plain.get((r["dataset"], r["split_seed"])) for r in group]
        best_plain = max(float(np.mean([a[k] for a in anchors])) for k in PLAIN) if all(anchors) else float("nan")
        gaps.append(auc - best)
        plain_gaps.append(auc - best_plain)
        names.append(name)
        lines.append(
            f"| {name} | {best:.4f} | {fmt(best_plain, '.4f')} | **{auc:.4f}** ({'/'.join(CODE[c] for c in chosen)}) | "
            f"{gaps[-1]:+.4f} | {fmt(plain_gaps[-1])} |"
        )
    return lines, gaps, plain_gaps, names


def summarize(rows: list[dict], plain: dict) -> str:
    out = [
        f"{len(rows)} splits of {len({r['dataset'] for r in rows})} data sets. Codes: H hgb, L logistic, R rf, "
        "M mean of the 3, hl/hr/lr mean of a pair.",
        "",
        "Fixed candidates (no choice), held-out AUC minus the best single type (mean of the splits per data set):",
        "",
        "| data set | best type | " + " | ".join(c for c in (*CANDIDATES, *RECORD_ONLY)) + " |",
        "|---|---|" + "---|" * (len(CANDIDATES) + len(RECORD_ONLY)),
    ]
    fixed = {c: [] for c in (*CANDIDATES, *RECORD_ONLY)}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        mean = {c: float(np.mean([r["heldout"][c] for r in group])) for c in fixed}
        best = max(mean[t] for t in TYPES)
        for c in fixed:
            fixed[c].append(mean[c] - best)
        out.append(f"| {name} | {best:.4f} | " + " | ".join(f"{mean[c] - best:+.4f}" for c in fixed) + " |")
    n = len(fixed["hgb"])
    out.append("| mean | | " + " | ".join(f"{np.mean(v):+.4f}" for v in fixed.values()) + " |")
    out.append("| worst | | " + " | ".join(f"{np.min(v):+.4f}" for v in fixed.values()) + " |")
    out.append(
        "| within 0.005 | | "
        + " | ".join(f"{int((np.array(v) >= -0.005).sum())} of {n}" for v in fixed.values())
        + " |"
    )
    out += [
        "",
        "Rules (held-out AUC of the candidate each rule picks per split; minus the best single type of ours, "
        "and minus the best plain anchor):",
        "",
        "| rule | mean - best ours | worst - best ours | within 0.005 | mean - best plain | worst - best plain | within 0.005 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, rule in RULES.items():
        _, gaps, plain_gaps, names = per_dataset(rows, plain, rule)
        plain_figures = (
            "— | — | —"
            if any(np.isnan(plain_gaps))
            else f"{np.mean(plain_gaps):+.4f} | {min(plain_gaps):+.4f} ({names[int(np.argmin(plain_gaps))]}) | "
            f"{sum(g >= -0.005 for g in plain_gaps)} of {len(plain_gaps)}"
        )
        out.append(
            f"| {label} | {np.mean(gaps):+.4f} | {min(gaps):+.4f} ({names[int(np.argmin(gaps))]}) | "
            f"{sum(g >= -0.005 for g in gaps)} of {len(gaps)} | {plain_figures} |"
        )
    for label, rule in RULES.items():
        lines, gaps, plain_gaps, _ = per_dataset(rows, plain, rule)
        out += [
            "",
            f"Rule {label}:",
            "",
            "| data set | best of ours | best plain | rule (choices) | rule - best ours | rule - best plain |",
            "|---|---|---|---|---|---|",
            *lines,
            f"| mean | | | | {np.mean(gaps):+.4f} | {fmt(float(np.mean(plain_gaps)))} |",
        ]
    out += ["", "Out-of-fold AUC minus hgb's, mean of the splits (what the rules see):", ""]
    out.append("| data set | hgb OOF | " + " | ".join(c for c in CANDIDATES[1:]) + " |")
    out.append("|---|---|" + "---|" * (len(CANDIDATES) - 1))
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        h = float(np.mean([r["oof_auc"]["hgb"] for r in group]))
        out.append(
            f"| {name} | {h:.4f} | "
            + " | ".join(f"{float(np.mean([r['oof_auc'][c] for r in group])) - h:+.4f}" for c in CANDIDATES[1:])
            + " |"
        )
    fits = sum(r["seconds"]["oof_fits"] + r["seconds"]["train_fits"] for r in rows)
    out += ["", f"Fit seconds over all splits (15 fold fits + 3 train-split fits each): {fits:.0f} s"]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--first-split", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recorded", type=Path, default=HERE / "results_supervised_defaults.json")
    parser.add_argument("--predictions", type=Path, help="also write the raw predictions here (.npz)")
    parser.add_argument("--append", action="store_true", help="keep the splits already in --out")
    parser.add_argument("--summarize", action="store_true", help="only print the summary of --out")
    parser.add_argument("--plain", action="store_true", help="only fit the plain anchors of the splits in --out")
    parser.add_argument("--with", dest="more", nargs="+", type=Path, default=[], help="summarize these rows too")
    args = parser.parse_args(argv)
    plain = plain_anchors(args.recorded)
    if args.plain:  # the anchors of splits not in --recorded, stored in each row as "plain"
        data = json.loads(args.out.read_text())
        for r in data["rows"]:
            if "plain" not in r and (r["dataset"], r["split_seed"]) not in plain:
                r["plain"] = fit_plain(r["dataset"], r["split_seed"])
                print(json.dumps({k: r[k] for k in ("dataset", "split_seed", "plain")}), flush=True)
                args.out.write_text(json.dumps(data, indent=1) + "\n")
        return 0
    if args.summarize:
        rows = [r for path in (args.out, *args.more) for r in json.loads(path.read_text())["rows"]]
        plain.update({(r["dataset"], r["split_seed"]): r["plain"] for r in rows if "plain" in r})
        print(summarize(rows, plain))
        return 0
    started = time.perf_counter()
    rows = json.loads(args.out.read_text())["rows"] if args.append else []
    done = {(r["dataset"], r["split_seed"]) for r in rows}
    store = {} if args.predictions else None
    for name in args.datasets:
        for split_seed in range(args.first_split, args.first_split + args.splits):
            if (name, split_seed) in done:
                continue
            rows.append(evaluate(name, split_seed, store))
            r = rows[-1]
            print(json.dumps({k: r[k] for k in ("dataset", "split_seed", "oof_auc", "heldout", "seconds")}), flush=True)
            args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
            if store is not None:
                np.savez_compressed(args.predictions, **store)
    elapsed = time.perf_counter() - started
    args.out.write_text(
        json.dumps(
            {
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "elapsed_seconds": round(elapsed, 1),
                "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__},
                "rows": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(summarize(rows, plain))
    print(f"{len(rows)} splits in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
