"""Issue 28: can a rule on a positive-only run's own figures pick its member type?

Offline on ``results_pu_choice.json`` (``run_pu_members.py --variants today logistic_members
rf_members plain_logistic_run --no-anchors``): per split, each candidate's in-run figures are what
the run itself sees, never the true labels:

- ``test_auc``: AUC of the held-out seeds (a fifth of the seeds, label 1) against the held-out
  unlabeled sample (label 0), scored by the split model; a margin is in units of
  ``test_auc_diff_se``, DeLong's paired standard error of (candidate - hgb members) on those rows;
- ``recall10``: held-out-seed recall@10 % over every user but the train seeds
  (``lookalike_run_metrics.recall_top_10pct``), SE sqrt(r (1 - r) / n held-out seeds).

A rule picks one candidate per split; its true AUC (the held-out 30 % of rows / the generator's
unlabeled users) is then compared, as a mean over the splits, with the best notebook anchor of
``results_pu_members.json`` (same splits, same rows) and with today's default (hgb members).

    python bench/quality/eval_pu_choice.py
    python bench/quality/eval_pu_choice.py --results results_pu_choice_oof.json results_pu_choice_oof_b.json

``results_pu_choice_oof.json`` (``--oof-folds 5``) adds ``oof_auc``: 5-fold out-of-fold AUC on the
run's train split (train seeds against train unlabeled; four times the test split's seeds), with
``oof_auc_diff_se`` (DeLong, paired, vs hgb members).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HGB, LOG_M, RF_M, PLAIN_LOG = "today", "logistic_members", "rf_members", "plain_logistic_run"
ANCHORS = ("plain_logistic", "plain_hgb", "plain_rf")
SHORT = {HGB: "hgb", LOG_M: "logm", RF_M: "rfm", PLAIN_LOG: "plainlog"}


def recall_se(r: float, n: int) -> float:
    """Binomial SE of hgb members' held-out-seed recall (unpaired; floored so 0 or 1 is not certain)."""
    return math.sqrt(max(r * (1 - r), 0.25 / n) / n)


def signal(rows: dict, kind: str, key: str) -> tuple[float, float]:
    """(figure, SE of the figure's difference from hgb members')."""
    row = rows[kind]
    if key in ("test_auc", "oof_auc"):
        return row[key], row[f"{key}_diff_se"]
    return row["recall10"], recall_se(rows[HGB]["recall10"], row["n_held_out_seeds"])


def keep_hgb_unless(key: str, margin: float, candidates):
    """hgb unless another candidate's in-run figure is ahead of hgb's by more than ``margin`` SE
    of the difference; then, of those ahead by that much, the highest figure."""

    def rule(rows: dict) -> str:
        base = rows[HGB][key]
        ahead = [
            k for k in candidates if k != HGB and signal(rows, k, key)[0] > base + margin * signal(rows, k, key)[1]
        ]
        return max(ahead, key=lambda k: rows[k][key]) if ahead else HGB

    return rule


def combined(candidates):
    """hgb unless another candidate is ahead on both test_auc and recall10 (any margin)."""

    def rule(rows: dict) -> str:
        a, r = rows[HGB]["test_auc"], rows[HGB]["recall10"]
        ahead = [k for k in candidates if k != HGB and rows[k]["test_auc"] > a and rows[k]["recall10"] > r]
        return max(ahead, key=lambda k: rows[k]["test_auc"]) if ahead else HGB

    return rule


ALL = (HGB, LOG_M, RF_M, PLAIN_LOG)
RULES = {
    "today (hgb members)": lambda rows: HGB,
    "best test_auc, 4 types": keep_hgb_unless("test_auc", 0.0, ALL),
    "test_auc, hgb unless > 0.25 SE": keep_hgb_unless("test_auc", 0.25, ALL),
    "test_auc, hgb unless > 0.5 SE": keep_hgb_unless("test_auc", 0.5, ALL),
    "test_auc, hgb unless > 1 SE": keep_hgb_unless("test_auc", 1.0, ALL),
    "test_auc, hgb unless > 2 SE": keep_hgb_unless("test_auc", 2.0, ALL),
    "best test_auc, hgb/plainlog": keep_hgb_unless("test_auc", 0.0, (HGB, PLAIN_LOG)),
    "test_auc hgb/plainlog > 0.5 SE": keep_hgb_unless("test_auc", 0.5, (HGB, PLAIN_LOG)),
    "best test_auc, hgb/rfm/plainlog": keep_hgb_unless("test_auc", 0.0, (HGB, RF_M, PLAIN_LOG)),
    "test_auc hgb/rfm/plainlog > 0.5 SE": keep_hgb_unless("test_auc", 0.5, (HGB, RF_M, PLAIN_LOG)),
    "best recall10, 4 types": keep_hgb_unless("recall10", 0.0, ALL),
    "recall10, hgb unless > 1 SE": keep_hgb_unless("recall10", 1.0, ALL),
    "ahead on test_auc and recall10": combined(ALL),
}
OOF_RULES = {
    "best oof_auc, 4 types": keep_hgb_unless("oof_auc", 0.0, ALL),
    "oof_auc, hgb unless > 0.5 SE": keep_hgb_unless("oof_auc", 0.5, ALL),
    "oof_auc, hgb unless > 1 SE": keep_hgb_unless("oof_auc", 1.0, ALL),
    "oof_auc, hgb unless > 2 SE": keep_hgb_unless("oof_auc", 2.0, ALL),
    "best oof_auc, hgb/plainlog": keep_hgb_unless("oof_auc", 0.0, (HGB, PLAIN_LOG)),
    "oof_auc hgb/plainlog > 1 SE": keep_hgb_unless("oof_auc", 1.0, (HGB, PLAIN_LOG)),
    "best oof_auc + test_auc, 4 types": lambda rows: max(ALL, key=lambda k: rows[k]["oof_auc"] + rows[k]["test_auc"]),
}


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", nargs="+", default=["results_pu_choice.json"])
    args = parser.parse_args(argv)
    rows = [r for name in args.results for r in json.loads((HERE / name).read_text())["rows"]]
    rules = dict(RULES)
    if any("oof_auc" in r for r in rows):
        rows = [r for r in rows if "oof_auc" in r]  # a partial run: splits with every figure
        rules.update(OOF_RULES)
    ref = json.loads((HERE / "results_pu_members.json").read_text())["rows"]
    splits = defaultdict(dict)
    for r in rows:
        splits[(r["dataset"], r["split_seed"])][r["kind"]] = r
    splits = {key: cand for key, cand in splits.items() if len(cand) == len(ALL)}
    count = Counter(n for n, _ in splits)  # complete data sets only: 5 splits (generator: 3 seeds)
    splits = {(n, i): c for (n, i), c in splits.items() if count[n] == (3 if n.startswith("generator") else 5)}
    anchor = defaultdict(lambda: defaultdict(list))  # over the same splits
    for r in ref:
        if r["kind"] in ANCHORS and (r["dataset"], r["split_seed"]) in splits:
            anchor[r["dataset"]][r["kind"]].append(r["auc"])
        if r["kind"] == HGB and (r["dataset"], r["split_seed"]) in splits:  # the same runs, re-run
            assert r["auc"] == splits[(r["dataset"], r["split_seed"])][HGB]["auc"], r
    datasets = list(dict.fromkeys(n for n, _ in splits))
    best_anchor = {d: max(float(np.mean(v)) for v in anchor[d].values()) for d in datasets}
    table = {}
    for name, rule in rules.items():
        per, picks = {}, Counter()
        for d in datasets:
            chosen = []
            for (n, _), cand in splits.items():
                if n != d:
                    continue
                k = rule(cand)
                picks[SHORT[k]] += 1
                chosen.append((cand[k]["auc"], cand[HGB]["auc"]))
            auc = float(np.mean([c for c, _ in chosen]))
            per[d] = (auc - best_anchor[d], auc - float(np.mean([h for _, h in chosen])))
        table[name] = (per, picks)
    # After the fact (not a rule): best type per data set on the true AUC.
    per = {}
    for d in datasets:
        means = {k: np.mean([c[k]["auc"] for (n, _), c in splits.items() if n == d]) for k in ALL}
        per[d] = (max(means.values()) - best_anchor[d], max(means.values()) - means[HGB])
    table["(after the fact: best type per data set)"] = (per, Counter())
    print(f"{len(datasets)} data sets: {', '.join(datasets)}\n")
    print(
        "| rule | mean vs best anchor | worst (data set) | at/above anchor | mean vs today | worst vs today (data set) | picks per split |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (per, picks) in table.items():
        va = {d: v[0] for d, v in per.items()}
        vt = {d: v[1] for d, v in per.items()}
        wa, wt = min(va, key=va.get), min(vt, key=vt.get)
        at = sum(round(v, 4) >= 0 for v in va.values())
        pk = " ".join(f"{k} {n}" for k, n in picks.most_common())
        print(
            f"| {name} | {np.mean(list(va.values())):+.4f} | {va[wa]:+.4f} ({wa}) | {at} of {len(va)} | "
            f"{np.mean(list(vt.values())):+.4f} | {vt[wt]:+.4f} ({wt}) | {pk} |"
        )
    print("\nPer data set, rule's true AUC - best anchor (and - today), first rules:\n")
    names = [
        "today (hgb members)",
        "best test_auc, 4 types",
        "test_auc, hgb unless > 0.5 SE",
        "test_auc, hgb unless > 1 SE",
        "test_auc, hgb unless > 2 SE",
    ] + [n for n in ("best oof_auc, 4 types", "oof_auc, hgb unless > 1 SE") if n in rules]
    print("| data | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for d in datasets:
        print(f"| {d} | " + " | ".join(f"{table[n][0][d][0]:+.4f} ({table[n][0][d][1]:+.4f})" for n in names) + " |")
    # How well does the in-run figure track the true AUC between candidates, per split?
    agree, total = 0, 0
    for cand in splits.values():
        if len(cand) < 4:
            continue
        total += 1
        agree += max(ALL, key=lambda k: cand[k]["test_auc"]) == max(ALL, key=lambda k: cand[k]["auc"])
    print(f"\nSplits where the best test_auc is also the best true AUC: {agree} of {total} (chance about {total // 4})")
    if "best oof_auc, 4 types" in rules:
        agree = sum(
            max(ALL, key=lambda k: c[k]["oof_auc"]) == max(ALL, key=lambda k: c[k]["auc"]) for c in splits.values()
        )
        print(f"Splits where the best oof_auc is also the best true AUC: {agree} of {len(splits)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
