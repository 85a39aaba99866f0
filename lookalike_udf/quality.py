"""Per-feature quality report of a run: permutation importance, correlation, prevalence and lift.

One row per trained run and model feature (:func:`feature_report`), written by the Python dbt model
``lookalike_feature_importance``. Definitions (also in the model's YAML and
docs/decisions/0006-quality-report.md):

- ``importance``: permutation importance on the run's test split. The stored model fitted on the
  train split (``split_model_json`` of a run refitted on every label, else ``model_json``: never a
  model that saw the test rows; decision 0032) (:class:`~lookalike_udf.scoring.LookalikeModel`,
  loaded from JSON) scores the test rows; then one
  feature's Arrow column is shuffled (a seeded permutation of its values across rows, every other
  column untouched) and the rows are scored again by the stored model. The rows are encoded once
  and the encoded column is shuffled, which equals encoding a shuffled input column (the encoder
  works cell by cell); every shuffled copy is stacked and scored in one pass (each tree walks all
  copies in large blocks). ``importance`` is the mean drop in weighted ROC AUC over
  :data:`N_REPEATS` seeded shuffles (``importance_std`` their standard deviation), on at most
  :data:`MAX_IMPORTANCE_ROWS` test rows sampled deterministically; the work cap
  :data:`IMPORTANCE_BUDGET` (tree evaluations) lowers the rows for large models, never under
  :data:`MIN_IMPORTANCE_ROWS`, and measures a bagging ensemble too large for the cap on that many
  rows on its first members (its bags are exchangeable; :func:`importance_plan`). Null when the
  test split lacks a class.
- ``correlation``: weighted Pearson correlation between the feature and the label over the run's
  train and test examples (weights = example weights). Numeric features as they are, booleans as
  0/1, categorical features as the indicator "value = ``reference_value``". Rows where the feature is
  null are left out. Null when either side is constant.
- ``reference_value``: for a categorical feature, the category most frequent among the run's
  positives (by weight; ties by value); null for numeric and boolean features.
- ``prevalence_kind``: what the two prevalence columns measure, one statistic per feature kind
  (:data:`PREVALENCE_KIND`): ``mean`` (numeric: the mean value), ``share_true`` (boolean: the
  share true), ``top_category_share`` (categorical: the share of ``reference_value``).
- ``prevalence_target``: that statistic over the run's positive examples (train and test,
  weighted). Nulls are left out.
- ``prevalence_population``: the same statistic over the scored population (one row per user,
  lookalike_inference_features), unweighted, computed by one SQL aggregate in the warehouse (the
  population never enters Python).
- ``lift``: prevalence_target / prevalence_population for shares only (``share_true`` and
  ``top_category_share``), so it is at most 1 / prevalence_population; null for numeric features
  (a ratio of means depends on the feature's origin and scale: a mean near 0 gave lifts in the
  hundreds) and when the population share is below :data:`MIN_LIFT_SHARE` (lift <= 100).
- ``rank``: 1 = most important within the run, over the features whose importance is above
  :data:`IMPORTANCE_EPSILON` (importance descending; ties by |correlation| descending, then feature
  name). Null for a feature the model does not rely on (importance 0, negative or null).

Runs that are not TRAINED get no rows. A run whose stored model fails verification (its
``model_sha256`` checksum or loading, :func:`lookalike_udf.integrity.load_verified_models`) or whose
report fails gets no rows either; the other runs are unaffected.

A run whose model was reused (``training_action = 'reused'``) keeps its rows of the previous build
when they carry the same ``training_fingerprint``: the same model on the same examples gives the
same importance, correlation and target prevalence, so only the population prevalence and lift are
recomputed (the population may have changed). ``force`` (var ``lookalike_force_retrain``)
recomputes every run.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .engines import engine_for
from .estimators import hgb
from .features import BOOLEAN, CATEGORICAL, NUMERIC
from .integrity import load_verified_models
from .outputs import FEATURE_REPORT_SCHEMA
from .reuse import carry_over, reused_model_fingerprints
from .scoring import LookalikeModel
from .vocabulary import ModelStatus

__all__ = [
    "feature_report",
    "permutation_importance",
    "importance_plan",
    "weighted_auc",
    "weighted_correlation",
    "population_prevalence",
    "lift",
    "rank_features",
    "FEATURE_REPORT_SCHEMA",
    "N_REPEATS",
    "MAX_IMPORTANCE_ROWS",
    "IMPORTANCE_EPSILON",
    "MIN_LIFT_SHARE",
    "PREVALENCE_KIND",
]

#: Shuffles per feature for permutation importance.
N_REPEATS = 3
#: Test rows used for permutation importance (larger test splits are sampled down, seeded).
MAX_IMPORTANCE_ROWS = 2_000
#: Fewest rows the work cap brings a run down to; a bagging ensemble too large for the cap on this
#: many rows is measured on its first members instead.
MIN_IMPORTANCE_ROWS = 1_000
#: Work cap of the importance report per run, in tree evaluations: rows x (features x N_REPEATS + 1)
#: x trees of the members scored (a linear model counts as one tree). The hgb scorer takes 25-35 ns
#: per tree and row on one core, so the cap is 2-3 s a run: at 200k users (30 features, bench
#: scale P) a single 165-tree model gets 2,000 rows, a 20-member bagging run of 150-180-tree members
#: 1,000 rows of its first 5 members. (The cap was 2e6 rows x members, with one call per shuffle and
#: member: 37 s of work at that scale against 8 s now, issue 17; bench/RESULTS.md.)
IMPORTANCE_BUDGET = 80_000_000
#: Stacked shuffled rows scored per call: one block of the hgb scorer (hgb.BLOCK_ROWS), so each
#: call runs on one thread. The report runs beside population scoring; with two OpenMP threads per
#: tree on two busy cores the same copies took 370 ns per tree and row instead of 35 (measured at
#: 200k users, load average 4).
BLOCK_ROWS = hgb.BLOCK_ROWS
#: A feature whose importance is not above this gets no rank (shuffling it does not lower the AUC:
#: the model does not use it, or the drop is floating-point noise such as 3.7e-17).
IMPORTANCE_EPSILON = 1e-9
#: Lift is null when the population share is below this, so a reported lift is at most 100.
MIN_LIFT_SHARE = 0.01
#: What prevalence_target and prevalence_population measure, per feature kind.
PREVALENCE_KIND = {NUMERIC: "mean", BOOLEAN: "share_true", CATEGORICAL: "top_category_share"}


def _rows(engine, relation) -> list[dict]:
    return engine.to_arrow(relation).to_pylist()


def _numpy(column, dtype=np.float64) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=dtype)


def weighted_auc(y: np.ndarray, score: np.ndarray, w: np.ndarray) -> float:
    """Weighted ROC AUC of ``score`` for labels ``y`` (1 = positive), equal to scikit-learn's
    ``roc_auc_score(y, score, sample_weight=w)``: the weighted share of (positive, negative) pairs
    ranked correctly, tied scores counting one half (the trapezoids of the ROC curve). NaN when a
    class has no weight.

    The permutation importance computes one AUC per shuffled copy (about 90 per run on 2,000
    rows); scikit-learn's input checks cost 10 ms a call there, this costs well under 1 ms
    (issue 17: 1.9 of the report's 9.4 s at 200k users)."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    positive = y[order] == 1
    wp = np.where(positive, w[order], 0.0)
    wn = np.where(positive, 0.0, w[order])
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_score)) + 1)) if len(score) else np.empty(0, np.int64)
    if not len(starts):
        return float("nan")
    group_p = np.add.reduceat(wp, starts)
    group_n = np.add.reduceat(wn, starts)
    total_p, total_n = group_p.sum(), group_n.sum()
    if total_p <= 0 or total_n <= 0:
        return float("nan")
    below = np.cumsum(group_n) - group_n  # negative weight scored strictly lower than each group
    return float(np.sum(group_p * (below + 0.5 * group_n)) / (total_p * total_n))


def _tree_count(scorer) -> int:
    """Trees a scorer evaluates per row (a linear model counts as one): the unit of the work cap."""
    return max(1, len(getattr(scorer, "trees", None) or ()))


def importance_plan(
    model: LookalikeModel, n_rows: int, n_repeats: int = N_REPEATS, max_rows: int = MAX_IMPORTANCE_ROWS
) -> tuple[int, int]:
    """(rows, members) the report measures for ``model`` on a test split of ``n_rows`` rows.

    The work is rows x (features x repeats + 1) x trees of the members scored, capped by
    :data:`IMPORTANCE_BUDGET`. Rows come first down to :data:`MIN_IMPORTANCE_ROWS`; below that a
    bagging ensemble is measured on its first members (its bags are exchangeable), at least one.
    """
    copies = len(model.feature_names) * n_repeats + 1
    members = list(getattr(model._scorer, "members", None) or [model._scorer])
    trees = [_tree_count(m) for m in members]
    floor = min(n_rows, max_rows, MIN_IMPORTANCE_ROWS)
    used = len(members)
    while used > 1 and floor * copies * sum(trees[:used]) > IMPORTANCE_BUDGET:
        used -= 1
    rows = min(n_rows, max_rows, max(floor, IMPORTANCE_BUDGET // (copies * sum(trees[:used]))))
    return int(rows), used


def permutation_importance(
    model: LookalikeModel, rows: pa.Table, seed: int, n_repeats: int = N_REPEATS, max_rows: int = MAX_IMPORTANCE_ROWS
) -> dict[str, tuple[float | None, float | None]]:
    """Mean and standard deviation of the weighted-AUC drop when each feature's column is shuffled.

    ``rows`` are labelled examples (columns ``label``, ``weight`` and the model's features). Every
    feature gets its own seeded generator (``seed``, feature position), so a feature's figure does
    not depend on the others. One pass: the rows are encoded once, every shuffled copy (features x
    ``n_repeats``) is stacked under the unshuffled rows, and the model scores the stack in blocks
    (:data:`BLOCK_ROWS`), so each tree walks every copy once instead of being called once per
    shuffle. Rows and ensemble members are bounded by :func:`importance_plan`. Returns
    ``{feature: (mean, std)}``; (None, None) for every feature when ``rows`` lacks a class.
    """
    names = model.feature_names
    n_rows, n_members = importance_plan(model, rows.num_rows, n_repeats, max_rows)
    members = list(getattr(model._scorer, "members", None) or [])
    if members:
        members = members[:n_members]

        def score(matrix):
            return np.mean([member.predict_proba_positive(matrix) for member in members], axis=0)
    else:
        score = model._scorer.predict_proba_positive
    if rows.num_rows > n_rows:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(rows.num_rows, size=n_rows, replace=False))
        rows = rows.take(pa.array(keep))
    y = _numpy(rows.column("label")).astype(np.int64) if rows.num_rows else np.empty(0, dtype=np.int64)
    if len(np.unique(y)) < 2:
        return {name: (None, None) for name in names}
    w = np.nan_to_num(_numpy(rows.column("weight")), nan=1.0)
    # The encoder works row by row and column by column, so shuffling encoded column j is the same
    # as encoding a shuffled input column: encode once, then only the model runs on the copies.
    X = model.encoder.transform(rows)
    n = X.shape[0]
    copies = [(j, np.random.default_rng([seed, 2, j])) for j in range(len(names))]
    jobs = [(j, rng.permutation(n)) for j, rng in copies for _ in range(n_repeats)]
    per_block = max(1, BLOCK_ROWS // n)
    base = weighted_auc(y, score(X), w)
    drops = np.empty(len(jobs))
    for start in range(0, len(jobs), per_block):
        block = jobs[start : start + per_block]
        stacked = np.tile(X, (len(block), 1))
        for k, (j, order) in enumerate(block):
            stacked[k * n : (k + 1) * n, j] = X[order, j]
        scores = score(stacked)
        for k in range(len(block)):
            drops[start + k] = base - weighted_auc(y, scores[k * n : (k + 1) * n], w)
    drops = drops.reshape(len(names), n_repeats)
    return {name: (float(drops[j].mean()), float(drops[j].std())) for j, name in enumerate(names)}


def weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float | None:
    """Weighted Pearson correlation of ``x`` and ``y``; rows with a non-finite ``x`` are left out.

    None when fewer than two rows remain or either side has zero weighted variance.
    """
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    if len(x) < 2:
        return None
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cov = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if vx <= 1e-300 or vy <= 1e-300:
        return None
    return float(np.clip(cov / math.sqrt(vx * vy), -1.0, 1.0))


def _feature_values(column, kind: str, reference: str | None) -> np.ndarray:
    """The feature as float64 for correlation and prevalence (NaN = null)."""
    if kind == CATEGORICAL:
        text = pc.cast(column, pa.string())
        if reference is None:
            return np.full(len(text), np.nan)
        return _numpy(pc.cast(pc.equal(text, reference), pa.float64()))
    return _numpy(column)


def _reference_value(column, weights: np.ndarray) -> str | None:
    """The category with the largest total weight among ``column``'s rows (ties: smallest value)."""
    values = pc.cast(column, pa.string()).to_pylist()
    totals: dict[str, float] = {}
    for value, weight in zip(values, weights, strict=False):
        if value is not None:
            totals[value] = totals.get(value, 0.0) + float(weight)
    if not totals:
        return None
    return min(totals, key=lambda v: (-totals[v], v))


def population_prevalence(
    population, wanted: list[tuple[str, str, str | None]], engine=None
) -> dict[tuple, float | None]:
    """Prevalence of each (feature, kind, reference_value) over ``population``, in one SQL aggregate.

    ``population`` is a DuckDB relation (dbt.ref of lookalike_inference_features), a Spark
    DataFrame or an Arrow table; the aggregate runs in its engine (:meth:`~lookalike_udf.engines.Engine.column_stats`:
    DuckDB, in-memory DuckDB for Arrow, Spark), so only one row of results comes back. Numeric:
    ``avg``; boolean: share true; categorical: share equal to the reference value; nulls left out.
    A feature missing from the population gets None. ``engine``: the entry point's (by default the
    population's).
    """
    engine = engine or engine_for(population)
    columns = set(engine.columns(population))
    keys = [
        key for key in dict.fromkeys(wanted) if key[0] in columns and not (key[1] == CATEGORICAL and key[2] is None)
    ]
    out: dict[tuple, float | None] = {key: None for key in wanted}
    if not keys:
        return out
    stats = [("share", name, reference) if kind == CATEGORICAL else ("mean", name) for name, kind, reference in keys]
    for key, value in zip(keys, engine.column_stats(population, stats), strict=True):
        out[key] = float(value) if value is not None and math.isfinite(value) else None
    return out


def _run_report(run_id: str, model: LookalikeModel, examples: pa.Table, seed: int) -> list[dict]:
    """Rows of one run, prevalence_population still missing (filled in by the caller)."""
    labels = _numpy(examples.column("label"))
    weights = np.nan_to_num(_numpy(examples.column("weight")), nan=1.0)
    positive = labels == 1
    test = examples.filter(pc.equal(examples.column("split"), "test"))
    importance = permutation_importance(model, test, seed)
    rows = []
    for spec in model.encoder.specs_:
        column = examples.column(spec.name)
        reference = None
        if spec.kind == CATEGORICAL:
            reference = _reference_value(column.filter(pa.array(positive)), weights[positive])
        values = _feature_values(column, spec.kind, reference)
        known = positive & np.isfinite(values)
        target = (
            float(np.average(values[known], weights=weights[known]))
            if known.any() and weights[known].sum() > 0
            else None
        )
        mean, std = importance[spec.name]
        rows.append(
            {
                "run_id": run_id,
                "feature": spec.name,
                "feature_kind": spec.kind,
                "reference_value": reference,
                "importance": mean,
                "importance_std": std,
                "correlation": weighted_correlation(values, labels, weights),
                "prevalence_target": target,
                "prevalence_population": None,
                "prevalence_kind": PREVALENCE_KIND.get(spec.kind),
                "lift": None,
                "rank": None,
            }
        )
    return rank_features(rows)


def rank_features(rows: list[dict]) -> list[dict]:
    """One run's rows ordered by importance descending (ties by |correlation| descending, then name;
    null importance last), with ``rank`` 1, 2, ... set on the rows whose importance is above
    :data:`IMPORTANCE_EPSILON` and None on the others (the model does not rely on them)."""
    order = sorted(
        rows,
        key=lambda r: (r["importance"] is None, -(r["importance"] or 0.0), -abs(r["correlation"] or 0.0), r["feature"]),
    )
    position = 0
    for row in order:
        if row["importance"] is not None and row["importance"] > IMPORTANCE_EPSILON:
            position += 1
            row["rank"] = position
        else:
            row["rank"] = None
    return order


def lift(kind: str | None, target: float | None, population: float | None) -> float | None:
    """prevalence_target / prevalence_population for a share (boolean, categorical); None for a
    numeric feature's means, and when the population share is below :data:`MIN_LIFT_SHARE`.

    >>> lift("boolean", 0.5, 0.25), lift("numeric", 7.84, 0.01), lift("categorical", 0.3, 0.005)
    (2.0, None, None)
    """
    if kind not in (BOOLEAN, CATEGORICAL) or target is None or population is None:
        return None
    if not population >= MIN_LIFT_SHARE:
        return None
    return target / population


def feature_report(
    models, examples, population, runs=None, previous=None, force=False, models_unchanged=False
) -> pa.Table:
    """The quality report of every TRAINED run: one row per run and model feature.

    ``models`` is lookalike_run_models, ``examples`` int_lookalike__training_examples (features,
    label, weight, split), ``population`` lookalike_inference_features (aggregated in SQL),
    ``runs`` int_lookalike__runs (for each run's ``random_seed``; 0 when absent), ``previous`` this
    table from the previous build (or None); ``models_unchanged``: ``models`` was not written since
    ``previous`` was (:func:`lookalike_udf.reuse.models_unchanged_since`), so every run whose
    fingerprint is unchanged keeps its previous rows, not only the 'reused' ones (decision 0047). Returns rows of :data:`FEATURE_REPORT_SCHEMA` (a Spark
    DataFrame when the inputs are Spark DataFrames; the population aggregate then runs in Spark).
    """
    engine = engine_for(models, examples, population, runs, previous)
    seeds = {}
    if runs is not None:
        seeds = {r["run_id"]: int(r.get("random_seed") or 0) for r in _rows(engine, runs)}
    model_rows = [r for r in _rows(engine, models) if r.get("model_status") == ModelStatus.TRAINED]
    # The split model: importance is measured on the test split, which a refitted model has seen.
    loaded, _failures = load_verified_models(model_rows, split_models=True)  # a failing run gets no rows
    model_rows = sorted((r for r in model_rows if r["run_id"] in loaded), key=lambda r: r["run_id"])
    # The previous rows of the runs whose model is the one they were computed with (reused, or the
    # models table unchanged since this table was built: decision 0047), population prevalence and lift cleared
    # (set again below from this build's population).
    previous_rows = carry_over(
        engine,
        previous,
        "training_fingerprint",
        reused_model_fingerprints(model_rows, force, models_unchanged),
        required=("training_fingerprint",),
    ).rows
    carried: dict[str, list[dict]] = {}
    for row in previous_rows.to_pylist():
        carried.setdefault(row["run_id"], []).append(
            {name: row.get(name) for name in FEATURE_REPORT_SCHEMA.names}
            | {"prevalence_population": None, "lift": None}
        )
    example_table = None
    rows = []
    for model_row in model_rows:
        rid = model_row["run_id"]
        if rid in carried:
            rows += carried[rid]
            continue
        if example_table is None:  # only the runs that are computed again are read
            example_table = engine.to_arrow(
                engine.where_in(examples, "run_id", [r["run_id"] for r in model_rows if r["run_id"] not in carried])
            )
        try:
            model = loaded[rid]
            run_examples = example_table.filter(pc.equal(example_table.column("run_id"), rid))
            # The warehouse returns rows in no fixed order: sort so the seeded shuffles are reproducible.
            run_examples = run_examples.sort_by("example_id")
            run_rows = _run_report(rid, model, run_examples, seeds.get(rid, 0))
        except Exception:  # one run's report must not stop the others: that run gets no rows
            continue
        for row in run_rows:
            row["training_fingerprint"] = model_row.get("training_fingerprint")
        rows += run_rows
    # Carried rows may come from an older release (other rank rule, no prevalence_kind): the rank and
    # prevalence_kind follow from the carried importance and kind, so they are set again.
    by_run: dict[str, list[dict]] = {}
    for row in rows:
        row["prevalence_kind"] = PREVALENCE_KIND.get(row["feature_kind"])
        by_run.setdefault(row["run_id"], []).append(row)
    rows = [row for run_rows in by_run.values() for row in rank_features(run_rows)]
    prevalence = population_prevalence(
        population, [(r["feature"], r["feature_kind"], r["reference_value"]) for r in rows], engine
    )
    for row in rows:
        pop = prevalence.get((row["feature"], row["feature_kind"], row["reference_value"]))
        row["prevalence_population"] = pop
        row["lift"] = lift(row["feature_kind"], row["prevalence_target"], pop)
    return engine.output(pa.Table.from_pylist(rows, schema=FEATURE_REPORT_SCHEMA))
