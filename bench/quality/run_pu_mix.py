"""Issue 28: a MIXED bagging PU ensemble, members of different types averaged in one bag, so that a
positive-only run needs no choice of member type.

Per split (``run_pu_members.py``'s data sets, splits, held-out seeds and figures), the hgb, logistic
and rf bags of today's ``fit_run_model`` (20 members each, ``model_type`` hgb / logistic / rf) and
the ``pu_method: plain`` logistic are fitted once; every variant is then computed offline from the
stored models' per-member probabilities:

- ``today``: the 20 hgb members (the library's positive-only run);
- ``alt_hl``: hgb members on the even bags, logistic members on the odd ones (10 + 10);
- ``alt_hlr``: bag t gets hgb, logistic, rf for t mod 3 = 0, 1, 2 (7 + 7 + 6);
- ``alt_hr``: hgb on even bags, rf on odd ones (10 + 10);
- ``hl40``: the 20 hgb and the 20 logistic members averaged (the mean of the two bags);
- ``hlr60``: the three bags of 20 averaged;
- added after the first run had shown the hgb-light mixes losing where hgb members are right
  (Caravan, mlc_churn, resume_names): ``alt_hlhr`` (bag t gets h, l, h, r for t mod 4: 10 hgb,
  5 logistic, 5 rf), ``alt_hhl`` (h, h, l for t mod 3: 14 hgb, 6 logistic) and ``hhlr60`` (the
  three bags averaged with weights 1/2, 1/4, 1/4);
- ``hl_rank`` (information: a rank needs the whole scored table, so a row cannot be scored alone):
  the mean of the hgb and logistic bags' ranks within each scored table;
- ``h_plainlog_rank`` (information, the same): the hgb bag's and the plain logistic's ranks.

Member t of every bag trains on the same rows (every train seed, bag t of the unlabeled sample: the
bag recipe depends on the run's seed and example ids, not on the type) with the same seed
(``random_seed + 7919 (t + 1)``) and its type's bagging parameters, so an alternating bag here is the
bag a mixed ``lookalike-bagging/1`` payload would hold, member for member.

Figures per row as ``run_pu_members.py``: ``auc`` (true labels), ``recall10`` (held-out-seed
recall@10 %), ``test_auc`` (the run's own test split); ``seconds`` is the fit time of the members the
variant uses (the bags' times shared pro rata). ``today`` must equal ``results_pu_members.json``'s
row (asserted); the anchors are that file's ``plain_*`` rows (same splits, same rows).

    python bench/quality/run_pu_mix.py --out bench/quality/results_pu_mix.json
    python bench/quality/run_pu_mix.py --summary bench/quality/results_pu_mix.json
    # confirmation on new splits (anchors fitted here: results_pu_members.json has splits 0-4 only)
    python bench/quality/run_pu_mix.py --first-split 5 --generator-seeds 3 4 5 --anchors \
        --out bench/quality/results_pu_mix_confirm.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import sklearn
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_pu_members as members  # noqa: E402

HERE = Path(__file__).resolve().parent
BAGS = {"h": "today", "l": "logistic_members", "r": "rf_members"}
#: Variants product-shaped (one score per row from the members alone): member type of bag t.
ALTERNATING = {"alt_hl": "hl", "alt_hlr": "hlr", "alt_hr": "hr", "alt_hlhr": "hlhr", "alt_hhl": "hhl"}
#: Whole bags averaged (the mean of 20 k members; a letter twice weighs its bag twice).
POOLED = {"hl40": "hl", "hlr60": "hlr", "hhlr60": "hhlr"}
INFO = ("hl_rank", "h_plainlog_rank")
VARIANTS = ("today", "logistic_members", "rf_members", *ALTERNATING, *POOLED, *INFO)
ANCHORS = ("plain_logistic", "plain_hgb", "plain_rf")
TABLES_TEST = "test"  # the run's own test split, beside the split's tables


def member_scores(split: members.Split) -> tuple[dict, dict, dict]:
    """Per bag letter, per table: (members, rows) probabilities; the plain logistic's scores per
    table; each fit's seconds. Tables: the split's and ``test`` (the run's test split)."""
    tables = {**split.tables, TABLES_TEST: split.run.filter(pc.equal(split.run.column("split"), "test"))}
    per_member, seconds = {}, {}
    for letter, kind in BAGS.items():
        model, seconds[letter] = members.fit_variant(split.run, kind)
        per_member[letter] = {}
        for name, table in tables.items():
            matrix = model._scorer.predict_members(model.encoder.transform(table))
            # the stored model's own score is the members' mean, to the last bit for hgb's fused scorer
            np.testing.assert_allclose(matrix.mean(axis=0), model.predict(table), rtol=0, atol=1e-12)
            per_member[letter][name] = matrix
    model, seconds["p"] = members.fit_variant(split.run, "plain_logistic_run")
    plain = {name: model.predict(table) for name, table in tables.items()}
    return per_member, plain, seconds


def _rank(scores: np.ndarray) -> np.ndarray:
    return rankdata(scores) / len(scores)


def variant_scores(variant: str, bags: dict, plain: dict, table: str) -> np.ndarray:
    """The variant's score of every row of ``table`` (see the module docstring)."""
    if variant in BAGS.values():
        letter = next(k for k, v in BAGS.items() if v == variant)
        return bags[letter][table].mean(axis=0)
    if variant in ALTERNATING:
        letters = ALTERNATING[variant]
        n = bags["h"][table].shape[0]
        return np.vstack([bags[letters[t % len(letters)]][table][t] for t in range(n)]).mean(axis=0)
    if variant in POOLED:
        return np.mean([bags[letter][table].mean(axis=0) for letter in POOLED[variant]], axis=0)
    if variant == "hl_rank":
        return (_rank(bags["h"][table].mean(axis=0)) + _rank(bags["l"][table].mean(axis=0))) / 2
    if variant == "h_plainlog_rank":
        return (_rank(bags["h"][table].mean(axis=0)) + _rank(plain[table])) / 2
    raise ValueError(variant)


def variant_seconds(variant: str, seconds: dict, n_bags: int = 20) -> float:
    """Fit seconds of the members the variant uses (a bag's time shared evenly by its members)."""
    if variant in BAGS.values():
        return seconds[next(k for k, v in BAGS.items() if v == variant)]
    if variant in ALTERNATING:
        letters = ALTERNATING[variant]
        return sum(seconds[letters[t % len(letters)]] / n_bags for t in range(n_bags))
    if variant in POOLED:
        return sum(seconds[letter] for letter in set(POOLED[variant]))
    return seconds["h"] + (seconds["l"] if variant == "hl_rank" else seconds["p"])


def evaluate(split: members.Split, anchors: bool = False) -> list[dict]:
    bags, plain, seconds = member_scores(split)
    test_label = split.run.filter(pc.equal(split.run.column("split"), "test")).column("label")
    test_label = test_label.to_numpy(zero_copy_only=False).astype(int)
    out = []
    for variant in VARIANTS:
        auc, ranked = split.figures({name: variant_scores(variant, bags, plain, name) for name in split.tables})
        test_auc = roc_auc_score(test_label, variant_scores(variant, bags, plain, TABLES_TEST))
        out.append(
            members._row(
                split.dataset,
                split.seed,
                variant,
                auc,
                ranked,
                variant_seconds(variant, seconds),
                test_auc=round(float(test_auc), 4),
                **split.extra,
            )
        )
    return out + members.anchor_rows(split) if anchors else out


def check_today(rows: list[dict], reference: Path = HERE / "results_pu_members.json") -> int:
    """Today's rows must equal the reference run's (same splits, deterministic fits)."""
    ref = {
        (r["dataset"], r["split_seed"]): r for r in json.loads(reference.read_text())["rows"] if r["kind"] == "today"
    }
    checked = 0
    for row in rows:
        if row["kind"] == "today" and (row["dataset"], row["split_seed"]) in ref:
            old = ref[(row["dataset"], row["split_seed"])]
            assert (row["auc"], row["recall10"]) == (old["auc"], old["recall10"]), (row, old)
            checked += 1
    return checked


# --------------------------------------------------------------------------------------------- summary


def load_rows(paths) -> tuple[list[dict], dict]:
    rows = [r for p in paths for r in json.loads(Path(p).read_text())["rows"]]
    ref = json.loads((HERE / "results_pu_members.json").read_text())["rows"]
    anchors = {(r["dataset"], r["split_seed"], r["kind"]): r for r in ref + rows if r["kind"] in ANCHORS}
    return rows, anchors


def summary(paths, variants=VARIANTS[1:]) -> str:
    """Markdown: per data set, today, each variant and the best anchor (AUC and R@10, means over the
    splits run); per variant, the decision-0038 rule and the anchor count."""
    rows, anchors = load_rows(paths)
    by = {(r["dataset"], r["split_seed"], r["kind"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    splits = {d: sorted({r["split_seed"] for r in rows if r["dataset"] == d}) for d in datasets}

    def mean(d, kind, key, source=by):
        return float(np.mean([source[(d, s, kind)][key] for s in splits[d]]))

    def best_anchor(d):
        kind = max(ANCHORS, key=lambda k: mean(d, k, "auc", anchors))
        return kind, mean(d, kind, "auc", anchors), mean(d, kind, "recall10", anchors)

    lines = [
        "| data | splits | today AUC / R@10 | " + " | ".join(variants) + " | best anchor AUC / R@10 | today − anchor |",
        "|---|---|---|" + "---|" * len(variants) + "---|---|",
    ]
    for d in datasets:
        kind, a_auc, a_r = best_anchor(d)
        cells = [f"{mean(d, v, 'auc'):.4f} / {mean(d, v, 'recall10'):.3f}" for v in variants]
        lines.append(
            f"| {d} | {len(splits[d])} | {mean(d, 'today', 'auc'):.4f} / {mean(d, 'today', 'recall10'):.3f} | "
            + " | ".join(cells)
            + f" | {kind.removeprefix('plain_')} {a_auc:.4f} / {a_r:.3f} | {mean(d, 'today', 'auc') - a_auc:+.4f} |"
        )
    lines += ["", "Δ vs today per data set, AUC mean (worst split) and R@10 mean:", ""]
    lines += ["| data | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for d in datasets:

        def delta(v, key, d=d):
            return [by[(d, s, v)][key] - by[(d, s, "today")][key] for s in splits[d]]

        cells = [
            f"{np.mean(delta(v, 'auc')):+.4f} ({min(delta(v, 'auc')):+.4f}) R {np.mean(delta(v, 'recall10')):+.3f}"
            for v in variants
        ]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| variant | mean AUC | Δ mean vs today | worst data set / generator seed ΔAUC | worst ΔR@10 "
        "| rule (0038) | at/above best anchor | mean vs best anchor | worst vs best anchor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in ("today", *variants):
        units = []  # (name, ΔAUC): real data sets' means, and each generator seed
        for d in datasets:
            if d.startswith("generator"):
                units += [(f"{d} seed {s}", by[(d, s, v)]["auc"] - by[(d, s, "today")]["auc"]) for s in splits[d]]
            else:
                units.append((d, mean(d, v, "auc") - mean(d, "today", "auc")))
        worst = min(units, key=lambda u: u[1])
        recall = [(d, mean(d, v, "recall10") - mean(d, "today", "recall10")) for d in datasets]
        worst_r = min(recall, key=lambda u: u[1])
        gap = [(d, mean(d, v, "auc") - best_anchor(d)[1]) for d in datasets]
        worst_gap = min(gap, key=lambda u: u[1])
        m = float(np.mean([mean(d, v, "auc") for d in datasets]))
        m0 = float(np.mean([mean(d, "today", "auc") for d in datasets]))
        passes = worst[1] >= -0.002 and worst_r[1] >= -0.01 and m > m0
        lines.append(
            f"| {v} | {m:.4f} | {m - m0:+.4f} | {worst[1]:+.4f} ({worst[0]}) | {worst_r[1]:+.3f} ({worst_r[0]}) | "
            f"{'passes' if passes else ('—' if v == 'today' else 'fails')} | "
            f"{sum(g >= 0 for _, g in gap)} of {len(gap)} | {np.mean([g for _, g in gap]):+.4f} | "
            f"{worst_gap[1]:+.4f} ({worst_gap[0]}) |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = members.split_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--anchors", action="store_true", help="fit the notebook anchors too (new splits)")
    parser.add_argument("--summary", nargs="+", type=Path, help="print the tables of these result files")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    started = time.perf_counter()
    rows = []
    for make, job_args in members.split_jobs(args, tabular_first=True):
        rows += evaluate(make(*job_args), args.anchors)
        checked = check_today(rows)
        if args.out:  # partial results survive an interrupted run
            members.write(args, rows, time.perf_counter() - started)
    print(f"\ntoday equal to results_pu_members.json on {checked} splits")
    print(
        f"{len(rows)} rows in {time.perf_counter() - started:.0f} s; python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    )
    if args.out:
        print(summary([args.out]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
