"""Fit one run's lookalike classifier and wrap it with its feature encoder.

The default model is scikit-learn's HistGradientBoostingClassifier, regularised for small seed
lists (shallow trees, a minimum leaf size that grows with the data, L2 on leaf values). It
handles categorical codes natively and routes missing values. The fitted model is stored as JSON
(:mod:`lookalike_udf.model_io`), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sklearn

from .errors import LookalikeError, RunValidationError
from .features import FeatureEncoder
from .model_io import BaggingScorer, dump_bagging, load_estimator
from .models import ESTIMATOR_NAMES, MODEL_TYPES, default_hgb_params, fit_estimator, select_model_type
from .pu import MAX_BAGS, MIN_BAGS, PU_METHODS, _hash, bag_membership, bag_thresholds, out_of_bag_average
from .tuning import MAX_BUDGET, MIN_BUDGET, select_features, suspected_leakage, tune_params

__all__ = ["LookalikeModel", "fit_run_model", "default_hgb_params", "MODEL_FORMAT"]

MODEL_FORMAT = "lookalike-model/1"

#: Columns of the training-example relation that are not features.
EXAMPLE_COLUMNS = ("example_id", "run_id", "user_id", "label", "weight", "as_of_at", "snapshot_at",
                   "example_source", "split")

#: Smallest allowed sample_size (training examples kept after sampling down).
MIN_SAMPLE_SIZE = 20


@dataclass
class LookalikeModel:
    """A fitted encoder plus classifier; :meth:`predict` maps Arrow rows to scores in 0..1."""

    encoder: FeatureEncoder
    estimator_payload: dict
    params: dict

    def __post_init__(self):
        self._scorer = load_estimator(self.estimator_payload)
        if self._scorer.n_features != len(self.encoder.specs_):
            raise LookalikeError(
                f"stored model expects {self._scorer.n_features} features but its encoder has "
                f"{len(self.encoder.specs_)}; the stored model is inconsistent, retrain it."
            )

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.feature_names_

    def predict(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        if table.num_rows == 0:
            return np.empty(0, dtype=np.float64)
        return self._scorer.predict_proba_positive(self.encoder.transform(table))

    @property
    def is_bagging(self) -> bool:
        return isinstance(self._scorer, BaggingScorer)

    def predict_training(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """Scores for the run's own training examples, as the metrics should see them.

        Equal to :meth:`predict`, except for a bagging PU model: unlabeled examples of the train
        split (``example_source = 'unlabeled_sample'``) get their out-of-bag score, the average of
        the members that did not train on them.
        """
        if table.num_rows == 0:
            return np.empty(0, dtype=np.float64)
        if not self.is_bagging:
            return self.predict(table)
        members = self._scorer.predict_members(self.encoder.transform(table))
        scores = members.mean(axis=0)
        oob = np.asarray(pc.and_(pc.equal(table.column("split"), "train"),
                                 pc.equal(table.column("example_source"), "unlabeled_sample"))
                         .to_numpy(zero_copy_only=False), dtype=bool)
        oob &= ~np.asarray(pc.is_null(table.column("example_id")).to_numpy(zero_copy_only=False), dtype=bool)
        if oob.any():
            ids = np.asarray(table.column("example_id").to_pylist(), dtype=object)[oob]
            in_bag = bag_membership(ids, self._scorer.thresholds, self._scorer.seed)
            scores[oob], _ = out_of_bag_average(members[:, oob], in_bag)
        return scores

    def to_json(self) -> str:
        return json.dumps({
            "format": MODEL_FORMAT,
            "params": self.params,
            "encoder": self.encoder.to_dict(),
            "estimator": self.estimator_payload,
        }, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "LookalikeModel":
        """Load a model stored by :meth:`to_json`. Plain JSON: no code is executed."""
        try:
            payload = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise LookalikeError(f"stored model is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise LookalikeError(f"stored model has format {found!r}; this library reads {MODEL_FORMAT!r}.")
        return cls(encoder=FeatureEncoder.from_dict(payload["encoder"]),
                   estimator_payload=payload["estimator"], params=payload.get("params", {}))


def feature_columns(table: pa.Table) -> list[str]:
    return [name for name in table.column_names if name not in EXAMPLE_COLUMNS]


def is_positive_unlabeled(train: pa.Table) -> bool:
    """True when the train split's negatives are all sampled unlabeled users (a run without negatives)."""
    source = train.column("example_source")
    label = train.column("label")
    negatives = pc.equal(label, 0)
    n_unlabeled = pc.sum(pc.and_(negatives, pc.equal(source, "unlabeled_sample"))).as_py() or 0
    n_negative = pc.sum(negatives).as_py() or 0
    return n_unlabeled > 0 and n_unlabeled == n_negative


def fit_bagging_pu(X: np.ndarray, y: np.ndarray, w: np.ndarray, example_ids, mask: np.ndarray,
                   random_seed: int, n_bags: int, model_type: str = "hgb",
                   overrides: dict | None = None) -> tuple[dict, dict]:
    """Bagging PU (Mordelet & Vert 2014) on a train split of positives (1) and unlabeled users (0).

    Each of ``n_bags`` members is fitted on every positive against a subsample of the unlabeled
    rows as large as the positive set (see :mod:`lookalike_udf.pu`). ``overrides`` (tuned
    parameters) apply to every member. Returns the ensemble payload and its parameters.
    """
    pos = np.flatnonzero(y == 1)
    unl = np.flatnonzero(y == 0)
    bag_size = int(min(len(pos), len(unl)))
    ids = np.asarray(example_ids, dtype=object)[unl]
    thresholds = bag_thresholds(ids, n_bags, bag_size, random_seed)
    in_bag = bag_membership(ids, thresholds, random_seed)
    members, iterations = [], []
    member_params = None
    for t in range(n_bags):
        rows = np.concatenate([pos, unl[in_bag[t]]])
        payload, member_params = fit_estimator(model_type, X[rows], y[rows], w[rows], mask,
                                               random_seed + 7919 * (t + 1), rf_trees=max(10, 200 // n_bags),
                                               overrides=overrides)
        members.append(payload)
        if "n_iter" in member_params:  # boosting and logistic record iterations; forests do not
            iterations.append(member_params["n_iter"])
    params = {k: v for k, v in member_params.items() if k not in ("n_iter", "random_state")}
    params.update(n_bags=n_bags, bag_size=bag_size)
    if iterations:
        params["n_iter"] = iterations
    return dump_bagging(members, random_seed, thresholds, bag_size), params


def sample_down(train: pa.Table, sample_size: int, random_seed: int) -> tuple[pa.Table, np.ndarray]:
    """Keep at most ``sample_size`` rows of ``train``, deterministically, preserving class balance.

    Each class keeps a share of ``sample_size`` proportional to its row count (at least one row),
    chosen by the smallest hashes of (seed, example_id); kept rows are re-weighted so each class's
    total weight is unchanged (the reference API's ``collect``). Returns the rows and their weights.
    """
    labels = train.column("label").to_numpy(zero_copy_only=False).astype(np.int64)
    weights = train.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    ids = train.column("example_id").to_pylist()
    keep = []
    for cls in (0, 1):
        rows = np.flatnonzero(labels == cls)
        quota = max(1, int(round(sample_size * len(rows) / len(labels))))
        order = sorted(rows.tolist(), key=lambda i: (_hash(random_seed, -1, ids[i]), i))
        keep += order[:quota]
    keep = np.array(sorted(keep), dtype=np.int64)
    new_weights = weights.copy()
    for cls in (0, 1):
        in_class = labels == cls
        kept = np.zeros(len(labels), dtype=bool)
        kept[keep] = True
        total, kept_total = weights[in_class].sum(), weights[in_class & kept].sum()
        new_weights[in_class] *= total / kept_total
    return train.take(pa.array(keep)), new_weights[keep]


def balance_weights(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scale weights so both classes carry half of the total weight (extra_attention)."""
    out = weights.astype(np.float64).copy()
    total = out.sum()
    for cls in (0, 1):
        in_class = labels == cls
        out[in_class] *= total / (2.0 * out[in_class].sum())
    return out


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def validate_tuning_settings(run_id: str, tune_model, tune_time_budget_seconds, auto_tune) -> None:
    """Raise :class:`RunValidationError` naming the run, the setting and the fix."""
    for name, value in (("tune_model", tune_model), ("auto_tune", auto_tune)):
        if not _is_bool(value):
            raise RunValidationError(f"run '{run_id}': {name} {value!r} must be true or false. "
                                     f"Fix the runs input column or var lookalike_{name}.")
    budget = tune_time_budget_seconds
    ok = isinstance(budget, (int, float, np.integer, np.floating)) and not _is_bool(budget)
    if not ok or not (np.isfinite(float(budget)) and MIN_BUDGET <= float(budget) <= MAX_BUDGET):
        raise RunValidationError(
            f"run '{run_id}': tune_time_budget_seconds {budget!r} must be a number of seconds between "
            f"{MIN_BUDGET:g} and {MAX_BUDGET:g}. Fix the runs input column or var lookalike_tune_time_budget_seconds.")


def fit_run_model(run_id: str, examples: pa.Table, random_seed: int, *, pu_method: str = "bagging",
                  pu_bags: int = 20, model_type: str = "hgb", sample_size: int | None = None,
                  extra_attention: bool = False, tune_model: bool = False,
                  tune_time_budget_seconds: float = 60.0, auto_tune: bool = False) -> LookalikeModel:
    """Fit the classifier on the examples whose ``split`` is ``train``.

    ``model_type`` is ``hgb``, ``rf``, ``logistic`` or ``auto`` (:mod:`lookalike_udf.models`).
    A run whose negatives are all sampled unlabeled users is trained with bagging PU when
    ``pu_method`` is ``bagging`` (the default), or as plain positives against unlabeled
    (``plain``). ``sample_size`` caps the train rows (:func:`sample_down`); ``extra_attention``
    balances the classes' weights. ``auto_tune`` drops constant, duplicate and useless features
    before fitting; ``tune_model`` searches hyperparameters by cross-validation within
    ``tune_time_budget_seconds`` (:mod:`lookalike_udf.tuning`). Features that alone separate the
    classes are always recorded under ``params["suspected_leakage"]``. Raises :class:`RunValidationError` when a setting is invalid,
    no feature is usable or the train split lacks a class.
    """
    if pu_method not in PU_METHODS:
        raise RunValidationError(f"run '{run_id}': pu_method {pu_method!r} is not one of {', '.join(PU_METHODS)}. "
                                 "Fix the runs input column or var lookalike_pu_method.")
    if not MIN_BAGS <= int(pu_bags) <= MAX_BAGS:
        raise RunValidationError(f"run '{run_id}': pu_bags {pu_bags!r} must be between {MIN_BAGS} and {MAX_BAGS}. "
                                 "Fix the runs input column or var lookalike_pu_bags.")
    if model_type not in MODEL_TYPES:
        raise RunValidationError(f"run '{run_id}': model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}. "
                                 "Fix the runs input column or var lookalike_model_type.")
    if sample_size is not None and int(sample_size) < MIN_SAMPLE_SIZE:
        raise RunValidationError(f"run '{run_id}': sample_size {sample_size!r} must be at least {MIN_SAMPLE_SIZE}. "
                                 "Fix the runs input column or var lookalike_sample_size (null = no limit).")
    validate_tuning_settings(run_id, tune_model, tune_time_budget_seconds, auto_tune)
    train = examples.filter(pc.equal(examples.column("split"), "train"))
    if "example_id" in train.column_names:  # the fit must not depend on the order rows arrive in
        train = train.sort_by("example_id")
    labels = train.column("label").to_numpy(zero_copy_only=False).astype(np.int64)
    if len(np.unique(labels)) < 2:
        raise RunValidationError(
            f"run '{run_id}': the train split holds a single class ({len(labels)} examples). "
            "Add labels of the other class or lower test_fraction."
        )
    n_before = train.num_rows
    weights = train.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    if sample_size is not None and train.num_rows > int(sample_size):
        train, weights = sample_down(train, int(sample_size), int(random_seed))
        labels = train.column("label").to_numpy(zero_copy_only=False).astype(np.int64)
    encoder = FeatureEncoder().fit(train, feature_columns(train))
    if not encoder.specs_:
        reasons = "; ".join(f"{k}: {v}" for k, v in encoder.dropped_.items()) or "the snapshot input has no feature columns"
        raise RunValidationError(
            f"run '{run_id}': no usable feature columns ({reasons}). Add numeric, boolean or text "
            "columns to the snapshot input, or widen var lookalike_feature_include / lookalike_feature_exclude."
        )
    X = encoder.transform(train)
    if extra_attention:
        weights = balance_weights(labels, weights)
    mask = encoder.categorical_mask_
    groups = train.column("user_id").to_pylist()
    # Always computed: on the train split, before any feature selection.
    leakage = suspected_leakage(X, labels, weights, mask, encoder.feature_names_)
    pu = is_positive_unlabeled(train)
    method = ("pu_bagging" if pu_method == "bagging" else "pu_plain") if pu else "supervised"
    feature_selection = None
    if auto_tune:
        kept, dropped = select_features("hgb" if model_type == "auto" else model_type, X, labels, weights, mask,
                                        encoder.feature_names_, groups, int(random_seed))
        encoder.specs_ = [encoder.specs_[j] for j in kept]  # the encoder ignores dropped columns
        X, mask = X[:, kept], mask[kept]
        feature_selection = {"dropped": dropped, "kept": len(kept)}
    selection = None
    fitted_type = model_type
    if model_type == "auto":
        fitted_type, selection = select_model_type(X, labels, weights, mask, groups, int(random_seed))
    overrides, tuning = None, None
    if tune_model:
        # For bagging PU this tunes positives against all unlabeled rows; every member gets the result.
        overrides, tuning = tune_params(fitted_type, X, labels, weights, mask, groups, int(random_seed),
                                        float(tune_time_budget_seconds))
    if method == "pu_bagging":
        payload, params = fit_bagging_pu(X, labels, weights, train.column("example_id").to_pylist(), mask,
                                         int(random_seed), int(pu_bags), fitted_type, overrides)
    else:
        payload, params = fit_estimator(fitted_type, X, labels, weights, mask, int(random_seed), overrides=overrides)
    params = {**params, "model_type": fitted_type, "model_type_requested": model_type,
              "estimator": ESTIMATOR_NAMES[fitted_type], "sklearn_version": sklearn.__version__,
              "training_method": method, "extra_attention": bool(extra_attention),
              "n_train_rows": int(train.num_rows), "tune_model": bool(tune_model), "auto_tune": bool(auto_tune),
              "suspected_leakage": leakage}
    if tuning is not None:
        params["tuning"] = tuning
    if feature_selection is not None:
        params["feature_selection"] = feature_selection
    if train.num_rows < n_before:
        params["sampled_from_rows"] = int(n_before)
    if selection is not None:
        params["model_selection"] = selection
    return LookalikeModel(encoder=encoder, estimator_payload=payload, params=params)
