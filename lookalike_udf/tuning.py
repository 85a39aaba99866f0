"""Hyperparameter search (``tune_model``), feature selection (``auto_tune``) and the leakage flag.

All three work on the encoded train split (:class:`lookalike_udf.features.FeatureEncoder`) and
use the same seeded cross-validation as ``model_type = auto``: folds stratified by label and
grouped by user (all examples of a user in one fold), AUC weighted by the example weights.

Model type choice (:func:`select_model_type`, ``model_type = auto``)
    Every registered type that takes part in ``auto`` (:func:`lookalike_udf.estimators.auto_types`)
    is fitted with its defaults on each fold; the best mean CV AUC wins.

hgb, logistic or rf (:func:`choose_hgb_logistic_or_rf`, ``model_type = hgb_logistic_or_rf``, the default)
    Only for supervised train splits of at most :data:`CHOICE_MAX_ROWS` rows (larger ones and
    positive-only runs keep hgb without any extra fit). The three types are fitted with their
    defaults on :data:`OOF_FOLDS` seeded folds and predict the fold they did not see
    (:func:`oof_scores`); the challenger with the better out-of-fold AUC replaces hgb when ahead by
    more than :data:`OOF_MARGIN_SE` standard error of the paired fold differences (:func:`oof_rule`).
    Decision 0034.

hgb or logistic (:func:`choose_hgb_or_logistic`, ``model_type = hgb_or_logistic``, the default until 0034)
    Only for supervised train splits of at most :data:`CHOICE_MAX_ROWS` rows (larger ones and
    positive-only runs keep hgb without any extra fit). Both types are fitted with their defaults on
    :data:`CHOICE_REPEATS` x :data:`CHOICE_FOLDS` folds (each repeat a new seeded split, stratified
    by label and grouped by user). Logistic is chosen only when the mean of its paired fold
    differences (logistic AUC - hgb AUC, weighted) exceeds one standard error of those differences;
    otherwise hgb is kept. Decision 0017.

Hyperparameter search (:func:`tune_params`)
    Candidates are the model type's defaults first, then up to ``MAX_CANDIDATES - 1`` points of
    the type's grid (``GRID`` in its module under :mod:`lookalike_udf.estimators`, also
    ``estimators.get(model_type).grid``) in an order drawn from the run's ``random_seed``. Each
    candidate is evaluated whole (all folds) and the time budget is checked only between
    candidates, so a run always evaluates at least the defaults and the result is the best
    candidate by mean CV AUC (ties go to the earlier candidate, the defaults first): never worse
    than the defaults by CV. Runs whose candidates all fit in the budget are reproducible; a
    budget that stops the search early can change the result (recorded as ``stopped_by_budget``).

Feature selection (:func:`select_features`)
    1. constant columns (one value, missing counted as a value);
    2. near-duplicates: numeric/boolean pairs with |Pearson r| > 0.99 (missing values filled with
       the column median) and the same missing pattern, and categorical pairs whose codes are a
       one-to-one relabelling; the first in input order is kept;
    3. features that add nothing: mean permutation importance (drop of CV AUC when the column is
       shuffled, one seeded shuffle per fold, model of the run's type with default parameters)
       <= 0 **and** a univariate AUC (max(auc, 1 - auc)) below 0.55. A feature that helps only
       through interactions has positive importance and is kept; a clearly informative feature
       is never dropped for a noisy importance estimate. At least one feature is always kept.

Leakage flag (:func:`suspected_leakage`)
    Every feature's univariate weighted AUC on the train split, max(auc, 1 - auc): numeric and
    boolean columns score by their value (missing values at the low end), categorical columns by
    their category's weighted positive rate, cross-fitted over two folds of alternate rows (so a
    column with one category per user is not "perfect" in-sample). Above 0.98 the feature is
    reported.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from . import estimators
from .estimators.fitting import map_side_by_side

LEAKAGE_AUC = 0.98
#: Univariate AUC below which a feature without permutation importance is dropped (auto_tune).
USELESS_UNIVARIATE_AUC = 0.55
NEAR_DUPLICATE_CORR = 0.99
MAX_CANDIDATES = 8
N_FOLDS = 3
#: hgb_or_logistic: largest train split (rows, after sample_size) that is cross-validated. Above it
#: hgb is kept with no extra fit: the gap to logistic shrinks with the rows (0.033 AUC at 1k rows,
#: 0.008 at 20k on a purely linear signal) while the 2 x 5 extra fits of each type grow with them.
CHOICE_MAX_ROWS = 20_000
#: hgb_or_logistic: folds per repeat and repeats (10 paired differences).
CHOICE_FOLDS = 5
CHOICE_REPEATS = 2


def grid_points(model_type: str) -> list[dict]:
    """Every point of the type's grid as a dict of parameter overrides, in grid order."""
    grid = estimators.get(model_type).grid
    points = []
    for combo in itertools.product(*grid.values()):
        point = {}
        for key, value in zip(grid.keys(), combo, strict=True):
            if isinstance(value, dict):
                point.update(value)
            else:
                point[key] = value
        points.append(point)
    return points


def candidate_order(model_type: str, random_seed: int, defaults_differ: bool = False) -> list[dict]:
    """Defaults (``{}``) first, then up to MAX_CANDIDATES - 1 grid points in a seeded order.

    Every grid lists the type's default value first on each axis, so its first point is what
    ``{}`` fits and is left out. ``defaults_differ``: ``{}`` fits something else (a supervised run
    whose type replaces some of the defaults, :attr:`~lookalike_udf.estimators.base.EstimatorType.supervised_params`),
    so the first point is a candidate like any other.
    """
    points = grid_points(model_type)
    rest = points if defaults_differ else points[1:]
    rng = np.random.default_rng(int(random_seed) % (2**32))
    order = rng.permutation(len(rest))
    return [{}] + [rest[i] for i in order[: MAX_CANDIDATES - 1]]


def _split(n_splits: int, random_seed: int, y: np.ndarray, groups):
    """Seeded (train, valid) index pairs stratified by label and grouped by user. When every user
    has one example the grouping is void and scikit-learn's StratifiedKFold gives such folds
    directly: StratifiedGroupKFold assigns groups one by one in Python, 10.4 s of the 19 s model
    choice at 8,000 examples (issue 17)."""
    seed = int(random_seed) % (2**32)
    groups = np.asarray(groups, dtype=object)
    X = np.zeros(len(y))
    if len(set(groups.tolist())) == len(groups):
        return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y)
    return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y, groups)


def cv_folds(y: np.ndarray, groups, random_seed: int, n_folds: int = N_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded folds stratified by label and grouped by user; only folds with both classes on each side."""
    n_minor = int(min((y == 1).sum(), (y == 0).sum()))
    k = int(min(n_folds, n_minor))
    if k < 2:
        return []
    folds = []
    for train_idx, valid_idx in _split(k, random_seed, y, groups):
        if len(np.unique(y[valid_idx])) == 2 and len(np.unique(y[train_idx])) == 2:
            folds.append((train_idx, valid_idx))
    return folds


def _fit_predict(model_type, X, y, w, mask, train_idx, valid_idx, random_seed, overrides=None, supervised=False):
    payload, _ = estimators.fit(
        model_type,
        X[train_idx],
        y[train_idx],
        w[train_idx],
        mask,
        random_seed,
        overrides=overrides,
        supervised=supervised,
    )
    return estimators.load(payload)


def tune_params(
    model_type: str,
    X,
    y,
    w,
    mask,
    groups,
    random_seed: int,
    budget_seconds: float,
    clock=time.monotonic,
    supervised: bool = False,
) -> tuple[dict, dict]:
    """Search the grid of ``model_type``; returns the chosen overrides and the record for model_params.

    ``clock`` is injectable so tests can simulate a spent budget. ``supervised`` (a run with
    negatives): every candidate starts from the type's supervised parameters
    (:func:`lookalike_udf.estimators.fit`).
    """
    folds = cv_folds(y, groups, random_seed)
    record = {
        "model_type": model_type,
        "budget_seconds": float(budget_seconds),
        "n_folds": len(folds),
        "grid": {k: v for k, v in estimators.get(model_type).grid.items()},
        "candidates": [],
        "stopped_by_budget": False,
    }
    if not folds:
        record.update(chosen={}, note="too few examples of a class to cross-validate; defaults used")
        return {}, record
    started = clock()
    best, best_auc = {}, -np.inf
    first = grid_points(model_type)[0]
    replaced = estimators.get(model_type).supervised_params(len(y)) if supervised else {}
    defaults_differ = any(key in first and first[key] != value for key, value in replaced.items())
    for i, overrides in enumerate(candidate_order(model_type, random_seed, defaults_differ)):
        if i > 0 and clock() - started >= budget_seconds:
            record["stopped_by_budget"] = True
            break
        aucs = []
        for train_idx, valid_idx in folds:
            scorer = _fit_predict(
                model_type, X, y, w, mask, train_idx, valid_idx, random_seed, overrides, supervised=supervised
            )
            aucs.append(
                roc_auc_score(y[valid_idx], scorer.predict_proba_positive(X[valid_idx]), sample_weight=w[valid_idx])
            )
        auc = round(float(np.mean(aucs)), 6)
        record["candidates"].append({"params": overrides, "cv_auc": auc})
        if auc > best_auc:
            best, best_auc = overrides, auc
    record["chosen"] = best
    record["chosen_cv_auc"] = best_auc
    return best, record


def select_model_type(
    X, y, w, mask, groups, random_seed, n_folds: int = 3, supervised: bool = False
) -> tuple[str, dict]:
    """The fitted type with the best mean cross-validated AUC (weighted) on the given rows.

    Folds are stratified by label and grouped by user (all examples of a user in one fold), seeded.
    Candidates are :func:`lookalike_udf.estimators.auto_types` (``hgb``, ``rf``, ``logistic``);
    ties go to the earlier type; ``supervised``: each with its supervised parameters
    (:func:`lookalike_udf.estimators.fit`). Returns the type and a record
    ``{"cv_auc": {type: auc}, "n_folds": k, "chosen": type}``.
    """
    fitted_types = estimators.auto_types()
    n_minor = int(min((y == 1).sum(), (y == 0).sum()))
    folds = int(min(n_folds, n_minor))
    if folds < 2:
        return "hgb", {
            "cv_auc": {},
            "n_folds": 0,
            "chosen": "hgb",
            "note": "too few examples of a class to cross-validate; hgb used",
        }
    aucs = {t: [] for t in fitted_types}
    for train_idx, valid_idx in _split(folds, random_seed, y, groups):
        if len(np.unique(y[valid_idx])) < 2 or len(np.unique(y[train_idx])) < 2:
            continue
        for model_type in fitted_types:
            payload, _ = estimators.fit(
                model_type, X[train_idx], y[train_idx], w[train_idx], mask, random_seed, supervised=supervised
            )
            scores = estimators.load(payload).predict_proba_positive(X[valid_idx])
            aucs[model_type].append(roc_auc_score(y[valid_idx], scores, sample_weight=w[valid_idx]))
    means = {t: round(float(np.mean(v)), 6) for t, v in aucs.items() if v}
    if not means:
        return "hgb", {"cv_auc": {}, "n_folds": folds, "chosen": "hgb", "note": "no usable fold; hgb used"}
    chosen = max(fitted_types, key=lambda t: (means.get(t, -1.0), -fitted_types.index(t)))
    return chosen, {"cv_auc": means, "n_folds": folds, "chosen": chosen}


def choose_hgb_or_logistic(
    X,
    y,
    w,
    mask,
    groups,
    random_seed: int,
    *,
    max_rows: int | None = None,
    n_folds: int | None = None,
    n_repeats: int | None = None,
) -> tuple[str, dict]:
    """hgb, unless logistic regression wins by repeated cross-validation by more than the fold noise.

    A train split of more than ``max_rows`` rows (default :data:`CHOICE_MAX_ROWS`) keeps hgb without
    fitting anything; ``n_folds`` and ``n_repeats`` default to :data:`CHOICE_FOLDS` and
    :data:`CHOICE_REPEATS`. Otherwise both
    types are fitted with their defaults (and the weights ``w``) on ``n_repeats`` seeded splits into
    ``n_folds`` folds (:func:`cv_folds`: stratified by label, grouped by user) and scored by weighted
    AUC on the held-out fold. With ``d`` the paired differences (logistic - hgb, one per fold),
    logistic is chosen when ``mean(d) > std(d, ddof=1) / sqrt(len(d))``, one standard error (the
    folds of repeated CV overlap, so this error is an underestimate and the rule leans a little
    towards switching; decision 0017 measures it). Returns the chosen type and the record stored as ``model_params.model_selection``.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> choose_hgb_or_logistic(X, y, np.ones(300), np.zeros(3, bool), np.arange(300), 1, max_rows=100)[1]["reason"]
    'train split above 100 rows: hgb kept without cross-validation'
    """
    max_rows = CHOICE_MAX_ROWS if max_rows is None else int(max_rows)
    n_folds = CHOICE_FOLDS if n_folds is None else int(n_folds)
    n_repeats = CHOICE_REPEATS if n_repeats is None else int(n_repeats)
    y = np.asarray(y)
    record = {"method": "hgb_or_logistic", "n_train_rows": int(len(y)), "max_rows": int(max_rows)}
    if len(y) > max_rows:
        record.update(chosen="hgb", reason=f"train split above {max_rows} rows: hgb kept without cross-validation")
        return "hgb", record
    aucs = {"hgb": [], "logistic": []}
    n_used = 0
    jobs = []
    for r in range(n_repeats):
        folds = cv_folds(y, groups, int(random_seed) + 7919 * r, n_folds)
        n_used = max(n_used, len(folds))
        jobs += [(model_type, train_idx, valid_idx) for train_idx, valid_idx in folds for model_type in aucs]

    def fold_auc(job):
        model_type, train_idx, valid_idx = job
        scorer = _fit_predict(model_type, X, y, w, mask, train_idx, valid_idx, random_seed, supervised=True)
        return model_type, roc_auc_score(
            y[valid_idx], scorer.predict_proba_positive(X[valid_idx]), sample_weight=w[valid_idx]
        )

    # The fits are on at most max_rows rows: side by side when single-threaded, results in order.
    results = map_side_by_side(fold_auc, jobs, max_rows)
    for model_type, auc in results:
        aucs[model_type].append(auc)
    d = np.array(aucs["logistic"]) - np.array(aucs["hgb"])
    record.update(n_folds=int(n_used), n_repeats=int(n_repeats), n_differences=int(len(d)))
    if len(d) < 2:
        record.update(cv_auc={}, chosen="hgb", reason="too few examples of a class to cross-validate: hgb kept")
        return "hgb", record
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    chosen = "logistic" if mean > se else "hgb"
    record.update(
        cv_auc={t: round(float(np.mean(v)), 6) for t, v in aucs.items()},
        mean_difference=round(mean, 6),
        standard_error=round(se, 6),
        chosen=chosen,
        reason=(
            "logistic ahead by more than one standard error of the paired fold differences"
            if chosen == "logistic"
            else "logistic not ahead by more than one standard error: hgb kept"
        ),
    )
    return chosen, record


#: hgb_logistic_or_rf: the candidates, in tie-break order (hgb, the type kept without a choice, first).
OOF_CANDIDATES = ("hgb", "logistic", "rf")
#: hgb_logistic_or_rf: folds of the out-of-fold predictions (one seeded split: every row predicted once).
OOF_FOLDS = 5
#: hgb_logistic_or_rf: a challenger replaces hgb only when its out-of-fold AUC is ahead by more than
#: this many standard errors of the paired fold differences (challenger - hgb); decision 0034.
OOF_MARGIN_SE = 1.0


def oof_scores(
    X, y, w, mask, groups, random_seed: int, candidates=OOF_CANDIDATES, n_folds: int = OOF_FOLDS, supervised=True
):
    """Out-of-fold predictions of each candidate type (defaults, weights ``w``) on one seeded split
    into ``n_folds`` folds (:func:`cv_folds`: stratified by label, grouped by user). ``supervised``
    (the only runs that choose): each type with its supervised parameters (decision 0037).

    Returns ``(folds, predictions)``: the (train, valid) index pairs and, per type, a vector with the
    prediction of the fold model that did not see each row (NaN for rows in no usable fold).
    """
    y = np.asarray(y)
    folds = cv_folds(y, groups, int(random_seed), n_folds)
    jobs = [(model_type, i) for i in range(len(folds)) for model_type in candidates]

    def predict(job):
        model_type, i = job
        train_idx, valid_idx = folds[i]
        scorer = _fit_predict(model_type, X, y, w, mask, train_idx, valid_idx, random_seed, supervised=supervised)
        return model_type, i, scorer.predict_proba_positive(X[valid_idx])

    predictions = {t: np.full(len(y), np.nan) for t in candidates}
    for model_type, i, scores in map_side_by_side(predict, jobs, len(y)):
        predictions[model_type][folds[i][1]] = scores
    return folds, predictions


def oof_rule(oof_auc: dict, fold_auc: dict, margin_se: float = OOF_MARGIN_SE) -> tuple[str, dict]:
    """The choice of :func:`choose_hgb_logistic_or_rf` from its figures: the candidate with the best
    out-of-fold AUC replaces hgb when, over the folds, its paired AUC differences with hgb have a
    mean above ``margin_se`` standard errors (and above zero); otherwise hgb is kept.

    ``oof_auc``: type -> pooled out-of-fold AUC; ``fold_auc``: type -> per-fold AUCs, hgb included.
    Returns the type and the figures behind it.

    >>> oof_rule({"hgb": 0.80, "logistic": 0.83, "rf": 0.79},
    ...          {"hgb": [0.80, 0.79, 0.81], "logistic": [0.83, 0.82, 0.84], "rf": [0.79, 0.78, 0.80]})
    ('logistic', {'challenger': 'logistic', 'mean_difference': 0.03, 'standard_error': 0.0})
    """
    challengers = [t for t in oof_auc if t != "hgb"]
    if "hgb" not in oof_auc or not challengers:
        return max(oof_auc, key=oof_auc.get), {}
    best = max(challengers, key=lambda t: (oof_auc[t], -challengers.index(t)))
    d = np.asarray(fold_auc[best], dtype=np.float64) - np.asarray(fold_auc["hgb"], dtype=np.float64)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("inf")
    figures = {"challenger": best, "mean_difference": round(mean, 6), "standard_error": round(se, 6)}
    ahead = oof_auc[best] > oof_auc["hgb"] and mean > 0 and mean > margin_se * se
    return (best if ahead else "hgb"), figures


def choose_hgb_logistic_or_rf(
    X,
    y,
    w,
    mask,
    groups,
    random_seed: int,
    *,
    max_rows: int | None = None,
    n_folds: int | None = None,
    margin_se: float | None = None,
) -> tuple[str, dict]:
    """hgb, logistic or rf, chosen from out-of-fold predictions on the train split (decision 0034).

    A train split of more than ``max_rows`` rows (default :data:`CHOICE_MAX_ROWS`) keeps hgb without
    fitting anything. Otherwise each of :data:`OOF_CANDIDATES` is fitted with its defaults on
    ``n_folds`` (default :data:`OOF_FOLDS`) seeded folds and predicts the fold it did not see
    (:func:`oof_scores`); the weighted AUC of those pooled out-of-fold predictions ranks the types
    and :func:`oof_rule` decides (the best challenger replaces hgb only when ahead by more than
    ``margin_se`` standard errors of the paired fold differences, default :data:`OOF_MARGIN_SE`).
    Returns the chosen type and the record stored as ``model_params.model_selection``.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> choose_hgb_logistic_or_rf(X, y, np.ones(300), np.zeros(3, bool), np.arange(300), 1, max_rows=100)[1]["reason"]
    'train split above 100 rows: hgb kept without cross-validation'
    """
    max_rows = CHOICE_MAX_ROWS if max_rows is None else int(max_rows)
    n_folds = OOF_FOLDS if n_folds is None else int(n_folds)
    margin_se = OOF_MARGIN_SE if margin_se is None else float(margin_se)
    y = np.asarray(y)
    w = np.asarray(w, dtype=np.float64)
    record = {
        "method": "hgb_logistic_or_rf",
        "n_train_rows": int(len(y)),
        "max_rows": int(max_rows),
        "candidates": list(OOF_CANDIDATES),
    }
    if len(y) > max_rows:
        record.update(chosen="hgb", reason=f"train split above {max_rows} rows: hgb kept without cross-validation")
        return "hgb", record
    folds, predictions = oof_scores(X, y, w, mask, groups, random_seed, OOF_CANDIDATES, n_folds)
    record.update(n_folds=len(folds))
    if len(folds) < 2:
        record.update(chosen="hgb", reason="too few examples of a class to cross-validate: hgb kept")
        return "hgb", record
    seen = np.concatenate([v for _, v in folds])
    oof_auc = {t: float(roc_auc_score(y[seen], p[seen], sample_weight=w[seen])) for t, p in predictions.items()}
    fold_auc = {
        t: [float(roc_auc_score(y[v], p[v], sample_weight=w[v])) for _, v in folds] for t, p in predictions.items()
    }
    chosen, figures = oof_rule(oof_auc, fold_auc, margin_se)
    record.update(
        oof_auc={t: round(a, 6) for t, a in oof_auc.items()},
        fold_auc={t: [round(a, 6) for a in v] for t, v in fold_auc.items()},
        margin_se=margin_se,
        **figures,
        chosen=chosen,
        reason=(
            f"{chosen} ahead of hgb out of fold by more than {margin_se:g} standard error(s) of the paired fold differences"
            if chosen != "hgb"
            else f"no type ahead of hgb out of fold by more than {margin_se:g} standard error(s): hgb kept"
        ),
    )
    return chosen, record


# ---------------------------------------------------------------------------------------------
# Univariate AUC and leakage


def univariate_auc(x: np.ndarray, y: np.ndarray, w: np.ndarray, categorical: bool) -> float:
    """max(auc, 1 - auc) of one encoded column used alone as a score (weighted)."""
    x = np.asarray(x, dtype=np.float64)
    if categorical:
        # Category positive rates are cross-fitted over two folds (alternate rows): a rate learned on
        # the row itself would make any high-cardinality column (one user per category) look perfect.
        codes = np.where(np.isnan(x), -1.0, x)
        values, inverse = np.unique(codes, return_inverse=True)
        fold = np.arange(len(x)) % 2
        score = np.empty(len(x))
        for f in (0, 1):
            other = fold != f
            pos = np.bincount(inverse[other], weights=(w * (y == 1))[other], minlength=len(values))
            tot = np.bincount(inverse[other], weights=w[other], minlength=len(values))
            prior = pos.sum() / max(tot.sum(), 1e-300)
            rate = np.where(tot > 0, pos / np.maximum(tot, 1e-300), prior)
            score[~other] = rate[inverse[~other]]
    else:
        finite = x[np.isfinite(x)]
        low = (finite.min() - 1.0) if finite.size else 0.0
        score = np.where(np.isnan(x), low, x)
        score = np.clip(score, -1e300, 1e300)
    if len(np.unique(score)) < 2:
        return 0.5
    auc = float(roc_auc_score(y, score, sample_weight=w))
    return max(auc, 1.0 - auc)


def suspected_leakage(X, y, w, mask, names: list[str], threshold: float = LEAKAGE_AUC) -> list[dict]:
    """Features that alone separate the classes almost perfectly (univariate AUC > ``threshold``)."""
    out = []
    for j, name in enumerate(names):
        auc = univariate_auc(X[:, j], y, w, bool(mask[j]))
        if auc > threshold:
            out.append({"feature": name, "auc": round(auc, 6)})
    return out


def leakage_sentence(run_id: str, leaks: list[dict]) -> str:
    listed = ", ".join(f"{item['feature']} (AUC {item['auc']:.3f})" for item in leaks)
    return (
        f"run '{run_id}': suspected label leakage: {listed} alone separate(s) the classes almost "
        "perfectly (univariate AUC > 0.98); check the feature is not derived from the label or "
        "recorded after it, and exclude it (var lookalike_feature_exclude) if so."
    )


# ---------------------------------------------------------------------------------------------
# Feature selection


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.where(np.isnan(a), -1.0, a)
    b = np.where(np.isnan(b), -1.0, b)
    pairs = len(np.unique(np.c_[a, b], axis=0))
    return pairs == len(np.unique(a)) == len(np.unique(b))


def _near_duplicate_numeric(a: np.ndarray, b: np.ndarray) -> bool:
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    a, b = a[~na], b[~nb]
    a, b = np.clip(a, -1e150, 1e150), np.clip(b, -1e150, 1e150)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return False
    return abs(float(np.corrcoef(a, b)[0, 1])) > NEAR_DUPLICATE_CORR


def permutation_importance_cv(
    model_type: str, X, y, w, mask, groups, random_seed: int, columns: list[int], supervised: bool = False
) -> np.ndarray:
    """Mean over CV folds of the weighted AUC drop when each of ``columns`` is shuffled (one seeded
    shuffle per fold). Returns one value per column (NaN when no fold could be used)."""
    folds = cv_folds(y, groups, random_seed)
    if not folds:
        return np.full(len(columns), np.nan)
    rng = np.random.default_rng(int(random_seed) % (2**32) + 17)
    drops = np.zeros((len(folds), len(columns)))
    for f, (train_idx, valid_idx) in enumerate(folds):
        scorer = _fit_predict(model_type, X, y, w, mask, train_idx, valid_idx, random_seed, supervised=supervised)
        Xv, yv, wv = X[valid_idx], y[valid_idx], w[valid_idx]
        base = roc_auc_score(yv, scorer.predict_proba_positive(Xv), sample_weight=wv)
        for c, j in enumerate(columns):
            shuffled = Xv.copy()
            shuffled[:, j] = Xv[rng.permutation(len(valid_idx)), j]
            drops[f, c] = base - roc_auc_score(yv, scorer.predict_proba_positive(shuffled), sample_weight=wv)
    return drops.mean(axis=0)


def select_features(
    model_type: str, X, y, w, mask, names: list[str], groups, random_seed: int, supervised: bool = False
) -> tuple[list[int], list[dict]]:
    """Indices of the columns to keep and ``[{"feature", "reason"}]`` for the dropped ones
    (``supervised``: the importance model has the type's supervised parameters)."""
    n = X.shape[1]
    dropped: dict[int, str] = {}
    for j in range(n):
        col = np.where(np.isnan(X[:, j]), np.inf, X[:, j])
        if len(np.unique(col)) < 2:
            dropped[j] = "constant on the train split"
    for j in range(n):
        if j in dropped:
            continue
        for k in range(j):
            if k in dropped or bool(mask[j]) != bool(mask[k]):
                continue
            same = _same_partition(X[:, j], X[:, k]) if mask[j] else _near_duplicate_numeric(X[:, j], X[:, k])
            if same:
                dropped[j] = (
                    f"duplicate of {names[k]} (same categories)"
                    if mask[j]
                    else f"near-duplicate of {names[k]} (|correlation| > {NEAR_DUPLICATE_CORR})"
                )
                break
    remaining = [j for j in range(n) if j not in dropped]
    if len(remaining) > 1:
        Xr = X[:, remaining]
        importance = permutation_importance_cv(
            model_type,
            Xr,
            y,
            w,
            mask[remaining],
            groups,
            random_seed,
            list(range(len(remaining))),
            supervised=supervised,
        )
        useless = []
        for c, j in enumerate(remaining):
            uni = univariate_auc(X[:, j], y, w, bool(mask[j]))
            if np.isfinite(importance[c]) and importance[c] <= 0 and uni < USELESS_UNIVARIATE_AUC:
                useless.append((j, float(importance[c]), uni))
        if len(useless) == len(remaining):  # keep the best one
            useless = sorted(useless, key=lambda t: (-t[1], -t[2], t[0]))[1:]
        for j, imp, uni in useless:
            dropped[j] = (
                f"adds nothing (permutation importance {imp:.4f} <= 0 and univariate AUC "
                f"{uni:.3f} < {USELESS_UNIVARIATE_AUC})"
            )
    kept = [j for j in range(n) if j not in dropped]
    return kept, [{"feature": names[j], "reason": dropped[j]} for j in sorted(dropped)]
