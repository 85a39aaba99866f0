"""Issue 28: positive-only (bagging PU) runs against the notebook anchors, with held-out-seed
recall@10 % beside AUC, for three parameter sets of the hgb members.

Every positive-only run here is fitted through :func:`lookalike_udf.training.fit_run_model` (the
code path of lookalike_run_models: default ``model_type``, which fits the 20-member hgb bagging
ensemble for a run without negatives) and scored with the stored JSON model, as dbt does. The
run's examples carry a test split as the library's do: a fifth of the seeds (and of the unlabeled
sample) are held out of the fit.

Member parameter sets (``--variants``; each replaces the members' hgb defaults for the whole run,
nothing else changes):

- ``today``: :func:`lookalike_udf.estimators.hgb.default_params` (``min_samples_leaf`` 5 % of
  the member's rows within 5..200, L2 10);
- ``leaf20``: ``min_samples_leaf`` 20 and no L2 (scikit-learn's values; +0.0046 mean AUC for
  supervised hgb on the 14 data sets, ``results_hgb_defaults.json``);
- ``leaf1pct``: ``min_samples_leaf`` 1 % of the member's rows within 5..50, L2 1 (in between).

and, for information (another member type, not member parameters): ``logistic_members`` and
``rf_members``, the same runs with ``model_type`` logistic or rf (bagging PU of that type), and
``plain_logistic_run``: the library's logistic with ``pu_method: plain`` (one model, the train
seeds against every train unlabeled row: the package's version of the logistic anchor).

The notebook anchors (positive-only): the scikit-learn pipelines of ``run_tabular.plain_pipeline``
(logistic, hgb with native categories, rf with 100 trees; no package code) fitted on the same rows
as the run, the train split's seeds (1) against its unlabeled users (0): what a careful notebook
does with a seed list and a sample of other users.

Figures, per data set and split (or generator seed):

- ``auc``: AUC against the true labels: the tabular sets' held-out 30 % of rows (never in the
  run), the generator's unlabeled users (hidden positives among them);
- ``recall10``: held-out-seed recall@10 %, as ``lookalike_run_metrics.recall_top_10pct``: the
  share of the held-out seeds whose score is at least the score at rank ceil(0.10 n) of the scored
  population (ties count in), the population being every user but the train split's seeds
  (unlabeled users, the held-out seeds, and on the tabular sets the held-out rows). A random
  ranking gives about 0.10.
- ``recall10_shared``: as ``recall10``, the users tied at the cut sharing its remaining places
  (only the plain rf anchor has such ties). ``results_pu_members.json`` was written before this
  field was added; its other figures are equal to a re-run's (``results_pu_member_types.json``
  repeats ``today`` and the anchors).

What the run itself sees (every variant row; ``results_pu_choice*.json``):

- ``test_auc``: the split model's AUC of the run's held-out seeds against its held-out unlabeled
  sample (its test split), ``n_test_pos`` / ``n_test_neg``; ``test_auc_diff_se``: DeLong's paired
  SE of (this variant's test_auc - the first variant's) on the same rows;
- with ``--oof-folds k``: ``oof_auc``, the AUC of k-fold out-of-fold scores on the run's train
  split (train seeds against train unlabeled, each fold scored by a fit on the others), and
  ``oof_auc_diff_se`` (as above).

    python bench/quality/run_pu_members.py --variants today leaf20 leaf1pct \
        --out bench/quality/results_pu_members.json
    python bench/quality/run_pu_members.py --variants today logistic_members rf_members \
        --out bench/quality/results_pu_member_types.json
    python bench/quality/run_pu_members.py --variants today plain_logistic_run --generator-users \
        --out bench/quality/results_pu_plain_logistic.json
    python bench/quality/run_pu_members.py --variants today logistic_members rf_members plain_logistic_run \
        --no-anchors --tabular-first --out bench/quality/results_pu_choice.json
    python bench/quality/run_pu_members.py --variants today logistic_members rf_members plain_logistic_run \
        --no-anchors --tabular-first --oof-folds 5 --out bench/quality/results_pu_choice_oof.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import lookalike_udf.estimators.hgb as hgb_module  # noqa: E402
from generate import STANDARD, make_examples, make_population  # noqa: E402
from lookalike_udf import __version__  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from lookalike_udf.training import fit_run_model  # noqa: E402
from run_tabular import DATASETS, examples, feature_table, load_dataset, plain_frame, plain_pipeline  # noqa: E402

VARIANTS = ("today", "leaf20", "leaf1pct", "logistic_members", "rf_members", "plain_logistic_run")
#: Other member types (information for what comes next; not member parameters of hgb).
MEMBER_TYPES = {"logistic_members": "logistic", "rf_members": "rf", "plain_logistic_run": "logistic"}
#: Variants fitted with ``pu_method: plain`` (one model, positives against unlabeled; no bagging).
PLAIN_PU = ("plain_logistic_run",)
PLAIN = ("plain_logistic", "plain_hgb", "plain_rf")
TODAY = hgb_module.default_params
HELD_OUT = 0.2  # the run's test_fraction (the library's default)
OOF_FOLDS = 0  # --oof-folds: out-of-fold figures on the train split (0: none)
ANCHORS = True  # --no-anchors: the variants only (the anchors are in results_pu_members.json)


def member_params(variant: str):
    """hgb defaults of the members for ``variant`` (see the module docstring)."""

    def params(n_train: int, random_seed: int) -> dict:
        p = TODAY(n_train, random_seed)
        if variant == "leaf20":
            p.update(min_samples_leaf=20, l2_regularization=0.0)
        elif variant == "leaf1pct":
            p.update(min_samples_leaf=int(np.clip(n_train // 100, 5, 50)), l2_regularization=1.0)
        elif variant != "today" and variant not in MEMBER_TYPES:
            raise ValueError(variant)
        return p

    return params


def recall_at(scores: np.ndarray, held_out: np.ndarray, share: float = 0.10) -> float:
    """Share of the ``held_out`` rows scoring at least the score at rank ceil(share * n)."""
    k = max(1, math.ceil(share * len(scores)))
    cut = np.sort(scores)[::-1][k - 1]
    return float((scores[held_out] >= cut).sum() / max(1, held_out.sum()))


def recall_shared(scores: np.ndarray, held_out: np.ndarray, share: float = 0.10) -> float:
    """As :func:`recall_at`, but the users tied at the cut share its remaining places (the expected
    recall of a random tie break): a model with many tied scores (a forest of 100 trees) gets no
    credit for ties that put more than 10 % of the population at or above the cut."""
    k = max(1, math.ceil(share * len(scores)))
    cut = np.sort(scores)[::-1][k - 1]
    above, tied = scores > cut, scores == cut
    places = (k - above.sum()) / tied.sum()
    return float(((scores[held_out] > cut).sum() + places * tied[held_out].sum()) / max(1, held_out.sum()))


def fit_variant(train: pa.Table, variant: str) -> tuple[LookalikeModel, float]:
    hgb_module.default_params = member_params(variant)
    try:
        started = time.perf_counter()
        model = fit_run_model(
            "bench",
            train,
            42,
            model_type=MEMBER_TYPES.get(variant, "hgb_logistic_or_rf"),
            pu_method="plain" if variant in PLAIN_PU else "bagging",
        )
        seconds = time.perf_counter() - started
    finally:
        hgb_module.default_params = TODAY
    expected = "pu_plain" if variant in PLAIN_PU else "pu_bagging"
    assert model.params["training_method"] == expected, model.params["training_method"]
    return LookalikeModel.from_json(model.to_json()), seconds  # score the stored model, as dbt does


def in_run_test(model: LookalikeModel, run: pa.Table) -> tuple[dict, np.ndarray, np.ndarray]:
    """What the run itself sees on its test split: AUC of the held-out seeds (label 1) against the
    held-out unlabeled sample (label 0), as lookalike_run_metrics computes it from the split model,
    with the counts behind it; and (label, scores) for :func:`delong_diff_se`."""
    test = run.filter(pc.equal(run.column("split"), "test"))
    label = test.column("label").to_numpy(zero_copy_only=False).astype(int)
    scores = np.asarray(model.predict(test), dtype=float)
    figures = {
        "test_auc": round(float(roc_auc_score(label, scores)), 4),
        "n_test_pos": int(label.sum()),
        "n_test_neg": int((label == 0).sum()),
    }
    return figures, label, scores


def oof_test(run: pa.Table, variant: str, folds: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Out-of-fold figure on the run's train split (what a run could compute without the test
    split): ``folds`` stratified folds of the train rows (train seeds and train unlabeled sample);
    each fold scored by the variant fitted through fit_run_model on the other folds; ``oof_auc`` =
    AUC of the pooled out-of-fold scores, train seeds (1) against train unlabeled (0)."""
    from sklearn.model_selection import StratifiedKFold

    split = np.array(run.column("split").to_pylist())
    train_at = np.flatnonzero(split == "train")
    label = run.column("label").to_numpy(zero_copy_only=False).astype(int)[train_at]
    scores = np.zeros(len(train_at))
    for _, score_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(train_at, label):
        fold_split = split.copy()
        fold_split[train_at[score_idx]] = "test"
        fold = run.set_column(run.column_names.index("split"), "split", pa.array(fold_split.tolist()))
        model, _ = fit_variant(fold, variant)
        scores[score_idx] = model.predict(run.take(pa.array(train_at[score_idx])))
    return {"oof_auc": round(float(roc_auc_score(label, scores)), 4), "n_oof_pos": int(label.sum())}, label, scores


def _placements(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per positive, the share of negatives it beats (ties half),
    per negative, the share of positives beating it."""
    from scipy.stats import rankdata

    both = np.r_[pos, neg]
    r_all, r_pos, r_neg = rankdata(both), rankdata(pos), rankdata(neg)
    v10 = (r_all[: len(pos)] - r_pos) / len(neg)
    v01 = 1 - (r_all[len(pos) :] - r_neg) / len(pos)
    return v10, v01


def delong_diff_se(label: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong (1988) standard error of AUC(a) - AUC(b), the two scored on the same rows (paired)."""
    pos, neg = label == 1, label == 0
    if pos.sum() < 2 or neg.sum() < 2:
        return float("nan")
    a10, a01 = _placements(a[pos], a[neg])
    b10, b01 = _placements(b[pos], b[neg])
    var = np.var(a10 - b10, ddof=1) / pos.sum() + np.var(a01 - b01, ddof=1) / neg.sum()
    return float(np.sqrt(max(var, 0.0)))


def add_paired_se(out: list[dict], tests: dict, key: str = "test_auc_diff_se") -> None:
    """``key``: DeLong SE of (this variant's AUC - the first variant's) on the same rows."""
    if not tests:
        return
    first = next(iter(tests))
    label, base = tests[first]
    for row in out:
        if row["kind"] in tests:
            row[key] = round(delong_diff_se(label, tests[row["kind"]][1], base), 5)


def with_oof(out: list[dict], run: pa.Table, variants) -> None:
    """Adds ``oof_auc`` and ``oof_auc_diff_se`` to the variants' rows (``--oof-folds``)."""
    if not OOF_FOLDS:
        return
    oofs = {}
    for row in out:
        if row["kind"] in variants:
            figures, label, scores = oof_test(run, row["kind"], OOF_FOLDS)
            row.update(figures)
            oofs[row["kind"]] = (label, scores)
    add_paired_se(out, oofs, "oof_auc_diff_se")
    for row in out:
        print(
            json.dumps({k: row[k] for k in ("dataset", "split_seed", "kind", "oof_auc", "oof_auc_diff_se")}), flush=True
        )


def anchor_scores(kind: str, frame: pd.DataFrame, train_rows: np.ndarray, train_label: np.ndarray, score_rows):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # 2 shared cores: OpenMP on both was 5-20x slower here
        pipeline = plain_pipeline(kind, frame).fit(frame.iloc[train_rows], train_label)
        return [pipeline.predict_proba(frame.iloc[rows])[:, 1] for rows in score_rows]


def _row(data, split, kind, auc, ranked, seconds, **extra):
    """One result row; ``ranked`` is (population scores, held-out-seed mask)."""
    row = {
        "dataset": data,
        "split_seed": split,
        "kind": kind,
        "auc": round(float(auc), 4),
        "recall10": round(recall_at(*ranked), 4),
        "recall10_shared": round(recall_shared(*ranked), 4),
        "seconds": round(seconds, 2),
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row


@dataclass
class Split:
    """One data set split (or generator seed): the run's examples and what its scores are judged on."""

    dataset: str
    seed: int
    run: pa.Table  # the run's examples: train and test splits
    tables: dict  # "population" (every user but the train seeds) and, tabular, "evaluation" (true labels)
    held: np.ndarray  # population rows that are held-out seeds (recall@10 %)
    truth: np.ndarray  # true labels of the evaluation rows, or of the population rows in ``on_truth``
    on_truth: np.ndarray | None  # generator: population rows with a true label (its unlabeled users)
    extra: dict  # fields of every row
    frame: Callable[[], pd.DataFrame]  # the anchors' feature frame
    fit_rows: np.ndarray  # the anchors' fit: frame rows of the run's train split ...
    fit_label: np.ndarray  # ... and their labels (train seeds 1)
    anchor_rows: dict  # frame rows of each of ``tables``

    def figures(self, scores: dict) -> tuple[float, tuple]:
        """(AUC against the truth, (population scores, held-out-seed mask)) from scores per table."""
        population = scores["population"]
        judged = population[self.on_truth] if self.on_truth is not None else scores["evaluation"]
        return float(roc_auc_score(self.truth, judged)), (population, self.held)


def tabular_split(name: str, split_seed: int, pu_label_share=0.3, unlabeled_sample_size=5000) -> Split:
    X, y = load_dataset(name)
    features = feature_table(X)
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=0.3, stratify=y, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    # The seeds and unlabeled users of run_tabular.py's positive-only rows ...
    rng = np.random.default_rng(split_seed + 1000)
    pos = train_idx[y[train_idx] == 1]
    seeds = np.sort(rng.choice(pos, size=max(10, int(round(pu_label_share * len(pos)))), replace=False))
    unlabeled = np.setdiff1d(train_idx, seeds)
    if len(unlabeled) > unlabeled_sample_size:
        unlabeled = np.sort(rng.choice(unlabeled, size=unlabeled_sample_size, replace=False))
    # ... and a fifth of each held out as the run's test split.
    rng = np.random.default_rng(split_seed + 2000)
    test_seeds = np.sort(rng.choice(seeds, size=max(1, int(round(HELD_OUT * len(seeds)))), replace=False))
    test_unl = np.sort(rng.choice(unlabeled, size=int(round(HELD_OUT * len(unlabeled))), replace=False))
    rows = np.concatenate([seeds, unlabeled])
    label = np.r_[np.ones(len(seeds)), np.zeros(len(unlabeled))]
    source = np.where(label == 1, "label", "unlabeled_sample")
    run = examples(features, rows, label, source, "train")
    split = np.where(np.isin(rows, test_seeds) | np.isin(rows, test_unl), "test", "train")
    run = run.set_column(run.column_names.index("split"), "split", pa.array(split.tolist()))
    train_seeds = np.setdiff1d(seeds, test_seeds)
    population = np.setdiff1d(idx, train_seeds)  # every user but the train split's seeds
    fit_rows = rows[split == "train"]
    return Split(
        dataset=name,
        seed=split_seed,
        run=run,
        tables={
            "evaluation": examples(features, test_idx, y[test_idx], np.full(len(test_idx), "label"), "test"),
            "population": examples(features, population, y[population], np.full(len(population), "label"), "test"),
        },
        held=np.isin(population, test_seeds),
        truth=y[test_idx],
        on_truth=None,
        extra={
            "n_seeds": int(len(seeds)),
            "n_held_out_seeds": int(len(test_seeds)),
            "n_unlabeled": int(len(unlabeled)),
        },
        frame=lambda: plain_frame(X),
        fit_rows=fit_rows,
        fit_label=np.isin(fit_rows, seeds).astype(int),
        anchor_rows={"evaluation": test_idx, "population": population},
    )


def generator_split(seed: int, n_users: int) -> Split:
    pop = make_population(seed=seed, n_users=n_users)
    run = make_examples(pop, seed=seed)
    ids = pop.table.column("user_id").to_pylist()
    index = {u: i for i, u in enumerate(ids)}
    run_rows = np.array([index[u] for u in run.column("user_id").to_pylist()])
    run_split = np.array(run.column("split").to_pylist())
    run_label = run.column("label").to_numpy()
    test_seeds = run_rows[(run_label == 1) & (run_split == "test")]
    train_seeds = run_rows[(run_label == 1) & (run_split == "train")]
    unl = ~pop.labeled
    population = np.setdiff1d(np.arange(len(ids)), train_seeds)  # unlabeled users and held-out seeds
    on_unl = np.isin(population, np.flatnonzero(unl))
    return Split(
        dataset=f"generator {n_users // 1000}k",
        seed=seed,
        run=run,
        tables={"population": pop.table.take(pa.array(population))},
        held=np.isin(population, test_seeds),
        truth=pop.truth[population[on_unl]],
        on_truth=on_unl,
        extra={
            "n_seeds": int(pop.labeled.sum()),
            "n_held_out_seeds": int(len(test_seeds)),
            "oracle_auc": round(float(roc_auc_score(pop.truth[population[on_unl]], pop.p[population[on_unl]])), 4),
        },
        frame=lambda: plain_frame(pop.table.drop_columns(["user_id"]).to_pandas()),
        fit_rows=run_rows[run_split == "train"],
        fit_label=run_label[run_split == "train"].astype(int),
        anchor_rows={"population": population},
    )


def evaluate(split: Split, variants) -> list[dict]:
    """Every variant's row for ``split`` (with the in-run figures), then the anchors' (``ANCHORS``)."""
    out, tests = [], {}
    for variant in variants:
        model, seconds = fit_variant(split.run, variant)
        auc, ranked = split.figures({k: model.predict(t) for k, t in split.tables.items()})
        trees = np.sum(model.params.get("n_iter") or 0)
        figures, label, scores = in_run_test(model, split.run)
        tests[variant] = (label, scores)
        out.append(
            _row(split.dataset, split.seed, variant, auc, ranked, seconds, trees=int(trees), **figures, **split.extra)
        )
    add_paired_se(out, tests)
    with_oof(out, split.run, variants)
    return out + anchor_rows(split) if ANCHORS else out


def anchor_rows(split: Split) -> list[dict]:
    """The notebook anchors' rows for ``split`` (:data:`PLAIN`, fitted on the run's train rows)."""
    out, frame = [], split.frame()
    for kind in PLAIN:
        started = time.perf_counter()
        scores = anchor_scores(kind, frame, split.fit_rows, split.fit_label, list(split.anchor_rows.values()))
        auc, ranked = split.figures(dict(zip(split.anchor_rows, scores, strict=True)))
        out.append(_row(split.dataset, split.seed, kind, auc, ranked, time.perf_counter() - started, **split.extra))
    return out


def evaluate_tabular(name: str, split_seed: int, variants, pu_label_share=0.3, unlabeled_sample_size=5000):
    return evaluate(tabular_split(name, split_seed, pu_label_share, unlabeled_sample_size), variants)


def evaluate_generator(seed: int, n_users: int, variants):
    return evaluate(generator_split(seed, n_users), variants)


def summary(rows: list[dict], variants) -> str:
    kinds = (*variants, *PLAIN)
    head = " | ".join(f"AUC {k}" for k in kinds) + " | " + " | ".join(f"R@10 {k}" for k in kinds)
    lines = [
        f"| data | {head} | best anchor | {variants[0]} - best anchor | worst ΔAUC vs {variants[0]} | worst ΔR@10 vs {variants[0]} |",
        "|---|" + "---|" * (2 * len(kinds) + 4),
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]

        def mean(kind, key, group=group):
            return float(np.mean([r[key] for r in group if r["kind"] == kind]))

        best = max(PLAIN, key=lambda k: mean(k, "auc"))
        splits = sorted({r["split_seed"] for r in group})

        def worst(kind, key, group=group, splits=splits):
            per = {(r["kind"], r["split_seed"]): r[key] for r in group}
            return min(per[(kind, s)] - per[(variants[0], s)] for s in splits)

        wa = " / ".join(f"{worst(v, 'auc'):+.4f}" for v in variants[1:])
        wr = " / ".join(f"{worst(v, 'recall10'):+.3f}" for v in variants[1:])
        lines.append(
            f"| {name} | "
            + " | ".join(f"{mean(k, 'auc'):.4f}" for k in kinds)
            + " | "
            + " | ".join(f"{mean(k, 'recall10'):.3f}" for k in kinds)
            + f" | {best} | {mean(variants[0], 'auc') - mean(best, 'auc'):+.4f} | {wa} | {wr} |"
        )
    return "\n".join(lines)


def split_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options that say which splits run (shared with run_pu_mix.py)."""
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument(
        "--first-split", type=int, default=0, help="split seeds first-split .. first-split + splits - 1"
    )
    parser.add_argument("--generator-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--generator-users", type=int, nargs="*", default=[STANDARD["n_users"], 10_000])
    return parser


def split_jobs(args, tabular_first: bool = False) -> list:
    """(split maker, its arguments) for every split the options ask for, generator first by default."""
    generator = [(generator_split, (seed, n)) for n in args.generator_users for seed in args.generator_seeds]
    tabular = [
        (tabular_split, (name, split))
        for name in args.datasets
        for split in range(args.first_split, args.first_split + args.splits)
    ]
    return tabular + generator if tabular_first else generator + tabular


def main(argv=None) -> int:
    parser = split_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--oof-folds", type=int, default=0, help="out-of-fold figures on the train split")
    parser.add_argument("--no-anchors", action="store_true", help="skip the notebook anchors")
    parser.add_argument("--tabular-first", action="store_true", help="real data sets before the generator")
    args = parser.parse_args(argv)
    global ANCHORS, OOF_FOLDS
    ANCHORS = not args.no_anchors
    OOF_FOLDS = args.oof_folds
    started = time.perf_counter()
    rows = []
    for make, job_args in split_jobs(args, args.tabular_first):
        rows += evaluate(make(*job_args), args.variants)
        if args.out:  # partial results survive an interrupted run
            write(args, rows, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    print()
    if ANCHORS:
        print(summary(rows, args.variants))
    print(
        f"\n{len(rows)} rows in {elapsed:.0f} s; python {platform.python_version()}, scikit-learn "
        f"{sklearn.__version__}, lookalike_udf {__version__}, numpy {np.__version__}, pandas {pd.__version__}"
    )
    if args.out:
        write(args, rows, elapsed)
    return 0


def write(args, rows, elapsed):
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


if __name__ == "__main__":
    raise SystemExit(main())
