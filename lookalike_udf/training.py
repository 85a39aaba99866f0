"""Fit one run's lookalike classifier and wrap it with its feature encoder.

The default model is scikit-learn's HistGradientBoostingClassifier, regularised for small seed
lists (shallow trees, a minimum leaf size that grows with the data, L2 on leaf values). It
handles categorical codes natively and routes missing values. The default ``model_type``,
``hgb_logistic_or_rf``, keeps it unless out-of-fold predictions on a small supervised train split
show that logistic regression or a random forest is clearly better (decision 0034; before it,
``hgb_or_logistic``, decision 0017, with logistic the only challenger). Every model type is
a module behind the registry :mod:`lookalike_udf.estimators`; the fitted model is stored as JSON
(:class:`lookalike_udf.scoring.LookalikeModel`), never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sklearn

from . import estimators
from .errors import RunValidationError
from .estimators import bagging
from .evaluation import complete_training_log
from .features import FeatureEncoder
from .pu import PU_METHODS, _hash
from .scoring import LookalikeModel
from .settings import SETTINGS, run_setting_error
from .tuning import (
    choose_hgb_logistic_or_rf,
    choose_hgb_or_logistic,
    select_features,
    select_model_type,
    suspected_leakage,
    tune_params,
)
from .validation import choice_error
from .vocabulary import RESERVED_COLUMNS, ExampleSource

__all__ = ["fit_run_model", "fit_run_models", "refit_model", "RunModels"]

#: Columns of the training-example relation that are not features: the package's reserved column
#: names (the same list SQL's lookalike_feature_columns skips).
EXAMPLE_COLUMNS = RESERVED_COLUMNS


def feature_columns(table: pa.Table) -> list[str]:
    return [name for name in table.column_names if name not in EXAMPLE_COLUMNS]


def is_positive_unlabeled(train: pa.Table) -> bool:
    """True when the train split's negatives are all sampled unlabeled users (a run without negatives)."""
    source = train.column("example_source")
    label = train.column("label")
    negatives = pc.equal(label, 0)
    n_unlabeled = pc.sum(pc.and_(negatives, pc.equal(source, ExampleSource.UNLABELED_SAMPLE))).as_py() or 0
    n_negative = pc.sum(negatives).as_py() or 0
    return n_unlabeled > 0 and n_unlabeled == n_negative


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


def validate_tuning_settings(run_id: str, tune_model, tune_time_budget_seconds, auto_tune) -> None:
    """Raise :class:`RunValidationError` naming the run, the setting and the fix."""
    for name, value in (
        ("tune_model", tune_model),
        ("auto_tune", auto_tune),
        ("tune_time_budget_seconds", tune_time_budget_seconds),
    ):
        error = run_setting_error(run_id, name, value)
        if error:
            raise RunValidationError(error)


def fit_run_model(
    run_id: str,
    examples: pa.Table,
    random_seed: int,
    *,
    pu_method: str = "bagging",
    pu_bags: int = SETTINGS["pu_bags"].default,
    model_type: str = estimators.DEFAULT_MODEL_TYPE,
    sample_size: int | None = None,
    extra_attention: bool = False,
    tune_model: bool = False,
    tune_time_budget_seconds: float = SETTINGS["tune_time_budget_seconds"].default,
    auto_tune: bool = False,
) -> LookalikeModel:
    """Fit the classifier on the examples whose ``split`` is ``train``.

    ``model_type`` is a registered type (``hgb``, ``rf``, ``logistic``), ``auto``,
    ``hgb_or_logistic`` or ``hgb_logistic_or_rf`` (the default; :mod:`lookalike_udf.estimators`).
    The last two fit hgb for runs without negatives and for train splits above
    :data:`lookalike_udf.tuning.CHOICE_MAX_ROWS` rows, and otherwise the type chosen by
    :func:`lookalike_udf.tuning.choose_hgb_or_logistic` or
    :func:`lookalike_udf.tuning.choose_hgb_logistic_or_rf` (recorded in ``params["model_selection"]``).
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
        raise RunValidationError(choice_error(run_id, "pu_method", pu_method, PU_METHODS))
    if model_type not in estimators.model_types():
        raise RunValidationError(choice_error(run_id, "model_type", model_type, estimators.model_types()))
    for name, value in (("pu_bags", pu_bags), ("sample_size", sample_size), ("extra_attention", extra_attention)):
        error = run_setting_error(run_id, name, value)
        if error:
            raise RunValidationError(error)
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
        reasons = (
            "; ".join(f"{k}: {v}" for k, v in encoder.dropped_.items()) or "the snapshot input has no feature columns"
        )
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
        kept, dropped = select_features(
            "hgb" if model_type in estimators.CHOICES else model_type,
            X,
            labels,
            weights,
            mask,
            encoder.feature_names_,
            groups,
            int(random_seed),
            supervised=not pu,
        )
        encoder.specs_ = [encoder.specs_[j] for j in kept]  # the encoder ignores dropped columns
        X, mask = X[:, kept], mask[kept]
        feature_selection = {"dropped": dropped, "kept": len(kept)}
    selection = None
    fitted_type = model_type
    if model_type == estimators.AUTO:
        fitted_type, selection = select_model_type(
            X, labels, weights, mask, groups, int(random_seed), supervised=not pu
        )
    elif model_type in (estimators.HGB_OR_LOGISTIC, estimators.HGB_LOGISTIC_OR_RF):
        if pu:  # positives against unlabeled users: bagging PU of hgb, unchanged (decisions 0017, 0034)
            fitted_type = "hgb"
            selection = {
                "method": model_type,
                "chosen": "hgb",
                "reason": "run without negatives: hgb kept without cross-validation",
            }
        else:
            choose = choose_hgb_or_logistic if model_type == estimators.HGB_OR_LOGISTIC else choose_hgb_logistic_or_rf
            fitted_type, selection = choose(X, labels, weights, mask, groups, int(random_seed))
    overrides, tuning = None, None
    if tune_model:
        # For bagging PU this tunes positives against all unlabeled rows; every member gets the result.
        overrides, tuning = tune_params(
            fitted_type,
            X,
            labels,
            weights,
            mask,
            groups,
            int(random_seed),
            float(tune_time_budget_seconds),
            supervised=not pu,
        )
    payload, params = _fit_estimator(
        method, train, X, labels, weights, mask, random_seed, pu_bags, fitted_type, overrides
    )
    # The per-iteration log goes into the model JSON beside params, not into model_params (one per member).
    ids = train.column("example_id").to_pylist() if "example_id" in train.column_names else None
    training_log = complete_training_log(
        payload, params.pop("training_log", None), X, labels, weights, ids, params.get("n_iter")
    )
    params = {
        **params,
        "model_type": fitted_type,
        "model_type_requested": model_type,
        "estimator": estimators.get(fitted_type).estimator,
        "sklearn_version": sklearn.__version__,
        "training_method": method,
        "extra_attention": bool(extra_attention),
        "n_train_rows": int(train.num_rows),
        "tune_model": bool(tune_model),
        "auto_tune": bool(auto_tune),
        "suspected_leakage": leakage,
    }
    if tuning is not None:
        params["tuning"] = tuning
    if feature_selection is not None:
        params["feature_selection"] = feature_selection
    if train.num_rows < n_before:
        params["sampled_from_rows"] = int(n_before)
    if selection is not None:
        params["model_selection"] = selection
    return LookalikeModel(encoder=encoder, estimator_payload=payload, params=params, training_log=training_log)


def _fit_estimator(method, rows, X, labels, weights, mask, random_seed, pu_bags, fitted_type, overrides):
    """(payload, params) of a bagging PU ensemble (``method`` ``pu_bagging``, members keyed by
    ``rows``' example_id) or of one estimator of ``fitted_type``, with the type's supervised
    parameters when ``method`` is ``supervised`` (decision 0037): the one fit shared by
    :func:`fit_run_model` and :func:`refit_model`."""
    if method == "pu_bagging":
        return bagging.fit(
            X,
            labels,
            weights,
            rows.column("example_id").to_pylist(),
            mask,
            int(random_seed),
            int(pu_bags),
            fitted_type,
            overrides,
        )
    return estimators.fit(
        fitted_type, X, labels, weights, mask, int(random_seed), overrides=overrides, supervised=method == "supervised"
    )


#: model_params.refit.reason of a positive-only run (decision 0032).
PU_NOT_REFITTED = (
    "run without negatives: the split model scores the population, so the held-out seeds behind "
    "recall_top_10pct / recall_top_20pct and calibrated_score were never seen by it"
)
#: model_params.refit.reason of a run whose test split is empty.
NO_TEST_ROWS = "the test split holds no examples: the split model already saw every label"


def labelled_rows(examples: pa.Table) -> pa.Table:
    """The examples of the train and test splits, in example_id order."""
    rows = examples.filter(pc.is_in(examples.column("split"), value_set=pa.array(["train", "test"])))
    return rows.sort_by("example_id") if "example_id" in rows.column_names else rows


def refit_model(
    run_id: str,
    examples: pa.Table,
    split_model: LookalikeModel,
    random_seed: int,
    *,
    pu_bags: int = SETTINGS["pu_bags"].default,
    sample_size: int | None = None,
    extra_attention: bool = False,
) -> LookalikeModel:
    """Fit ``split_model``'s choices again on every example of the train and test splits.

    What the split model chose on the train split is kept, not chosen again: its fitted type
    (``hgb_logistic_or_rf``, ``hgb_or_logistic``, ``auto``), its tuned parameters (``tune_model``), its features (after
    ``auto_tune``) and its training method (bagging PU or one estimator). The encoder learns its
    category vocabularies from all rows. ``sample_size`` and ``extra_attention`` apply as in
    :func:`fit_run_model`. The returned model's ``params`` are the split model's, with the refit's
    own estimator parameters, ``n_train_rows`` (all rows fitted) and ``refit`` (applied, rows per
    split). Deterministic for a seed, whatever order the rows arrive in.
    """
    rows = labelled_rows(examples)
    n_before = rows.num_rows
    weights = rows.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    if sample_size is not None and rows.num_rows > int(sample_size):
        rows, weights = sample_down(rows, int(sample_size), int(random_seed))
    labels = rows.column("label").to_numpy(zero_copy_only=False).astype(np.int64)
    split = rows.column("split").to_numpy(zero_copy_only=False)
    encoder = FeatureEncoder().fit(rows, split_model.feature_names)
    if encoder.feature_names_ != split_model.feature_names:  # cannot happen: all rows include the train split
        raise RunValidationError(f"run '{run_id}': the refit on all labels lost features of the split model")
    encoder.dropped_ = dict(split_model.encoder.dropped_)  # what the split model left out, and why
    X = encoder.transform(rows)
    if extra_attention:
        weights = balance_weights(labels, weights)
    mask = encoder.categorical_mask_
    params = split_model.params
    fitted_type = params["model_type"]
    overrides = (params.get("tuning") or {}).get("chosen") or None
    payload, fitted = _fit_estimator(
        params.get("training_method"),
        rows,
        X,
        labels,
        weights,
        mask,
        random_seed,
        pu_bags,
        fitted_type,
        overrides,
    )
    refit = {
        "applied": True,
        "n_rows": int(rows.num_rows),
        "n_train_rows": int((split == "train").sum()),
        "n_test_rows": int((split == "test").sum()),
        "split_model_n_train_rows": int(params["n_train_rows"]),
    }
    out = {**params, **fitted, "n_train_rows": int(rows.num_rows), "refit": refit}
    out.pop("sampled_from_rows", None)
    if rows.num_rows < n_before:
        out["sampled_from_rows"] = int(n_before)
    return LookalikeModel(encoder=encoder, estimator_payload=payload, params=out)


@dataclass
class RunModels:
    """A run's two models: ``split`` was fitted on the train split and describes every metric
    (training predictions, AUC, KS, importance, recall of held-out seeds, the calibration
    constant); ``scoring`` scores the population (lookalike_run_models.model_json). They are the
    same object when the run was not refitted."""

    scoring: LookalikeModel
    split: LookalikeModel

    @property
    def refitted(self) -> bool:
        return self.scoring is not self.split


def fit_run_models(
    run_id: str,
    examples: pa.Table,
    random_seed: int,
    *,
    refit_on_all_labels: bool = SETTINGS["refit_on_all_labels"].default,
    **settings,
) -> RunModels:
    """:func:`fit_run_model` on the train split, then, when ``refit_on_all_labels``, the same
    choices fitted again on the train and test splits (:func:`refit_model`) for scoring.

    Runs without negatives are not refitted (decision 0032): their population scores carry two
    figures measured on the held-out seeds, ``recall_top_10pct`` / ``recall_top_20pct`` and the
    calibration constant of ``calibrated_score``, which a model that saw those seeds would
    inflate. Neither is a run whose test split is empty. ``model_params.refit`` says which.
    """
    error = run_setting_error(run_id, "refit_on_all_labels", refit_on_all_labels)
    if error:
        raise RunValidationError(error)
    split_model = fit_run_model(run_id, examples, random_seed, **settings)
    if not refit_on_all_labels:
        return RunModels(scoring=split_model, split=split_model)
    reason = None
    if split_model.params["training_method"] != "supervised":
        reason = PU_NOT_REFITTED
    elif not pc.any(pc.equal(examples.column("split"), "test")).as_py():
        reason = NO_TEST_ROWS
    if reason is not None:
        split_model.params["refit"] = {"applied": False, "reason": reason}
        return RunModels(scoring=split_model, split=split_model)
    scoring = refit_model(
        run_id,
        examples,
        split_model,
        random_seed,
        **{k: settings[k] for k in ("pu_bags", "sample_size", "extra_attention") if k in settings},
    )
    return RunModels(scoring=scoring, split=split_model)
