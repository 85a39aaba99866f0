"""Model types behind one registry: one module per type, looked up by name or by payload format.

- :mod:`.hgb`: ``model_type: hgb``, payload ``lookalike-hgb/1``, HistGradientBoostingClassifier
  (the type the default choice keeps unless another is clearly better);
- :mod:`.rf`: ``rf``, ``lookalike-rf/1``, RandomForestClassifier;
- :mod:`.logistic`: ``logistic``, ``lookalike-logistic/1``, one-hot + standardise + LogisticRegression;
- :mod:`.bagging`: payload ``lookalike-bagging/1`` only, the bagging PU ensemble of members of
  any registered type.

Three ``model_type`` values are choices, not types:

- ``hgb_logistic_or_rf`` (the default, decision 0034): hgb, unless the run has negatives, at most
  :data:`lookalike_udf.tuning.CHOICE_MAX_ROWS` train rows, and logistic or rf beats hgb out of fold
  by more than the fold noise (:func:`lookalike_udf.tuning.choose_hgb_logistic_or_rf`);
- ``hgb_or_logistic`` (the default until decision 0034; decision 0017): the same with logistic the
  only challenger, by repeated cross-validation (:func:`lookalike_udf.tuning.choose_hgb_or_logistic`);
- ``auto``: the best of the registered types by cross-validated AUC
  (:func:`lookalike_udf.tuning.select_model_type`).

A stored run model (``lookalike-model/1``, the encoder plus one of these payloads) is
:class:`lookalike_udf.scoring.LookalikeModel`.

Adding a model type
    Write one module like :mod:`.rf`: ``default_params``, ``GRID``, ``fit`` (imports of fitting
    code inside it), ``dump``, a scorer with ``n_features``, ``engine`` and
    ``predict_proba_positive(X)``, ``load`` validating every field, and
    ``TYPE = EstimatorType(...)`` (:class:`~lookalike_udf.estimators.base.EstimatorType`; a type
    whose runs with negatives need other parameters than its positive-only members declares
    ``supervised_params``, as :mod:`.hgb` does, decision 0037). Then
    register it below. Nothing else changes: training, tuning, ``auto``, bagging PU, validation of
    the ``model_type`` setting and loading read the registry. For per-user reasons
    (lookalike_user_reasons) the scorer also needs ``raw_space``, ``predict_raw`` and
    ``contributions`` (see :class:`~lookalike_udf.estimators.base.Scorer`); without them the
    type's runs have no reasons. Add parity tests against the
    estimator's ``predict_proba`` and malformed-payload tests (tests/unit/test_estimator_hgb.py,
    test_model_types.py).

Loading and scoring import no fitting code (tests/unit/test_estimator_registry.py checks it in a
fresh interpreter).

>>> model_types()
('hgb', 'rf', 'logistic', 'auto', 'hgb_or_logistic', 'hgb_logistic_or_rf')
>>> get("rf").format
'lookalike-rf/1'
"""

from __future__ import annotations

from . import bagging, hgb, logistic, rf
from .base import EstimatorType, ModelFormatError, Scorer

__all__ = [
    "AUTO",
    "CHOICES",
    "DEFAULT_MODEL_TYPE",
    "HGB_LOGISTIC_OR_RF",
    "HGB_OR_LOGISTIC",
    "REGISTRY",
    "EstimatorType",
    "ModelFormatError",
    "Scorer",
    "auto_types",
    "fit",
    "get",
    "load",
    "model_types",
    "register",
    "unregister",
]

#: The ``model_type`` value that chooses among the registered types (lookalike_udf.tuning).
AUTO = "auto"

#: The ``model_type`` value that keeps hgb unless logistic clearly wins on a small supervised
#: train split (lookalike_udf.tuning.choose_hgb_or_logistic; decision 0017).
HGB_OR_LOGISTIC = "hgb_or_logistic"

#: The ``model_type`` value that chooses hgb, logistic or rf from out-of-fold predictions on a
#: supervised train split (lookalike_udf.tuning.choose_hgb_logistic_or_rf; decision 0034).
HGB_LOGISTIC_OR_RF = "hgb_logistic_or_rf"

#: ``model_type`` values that choose a registered type when the run is fitted.
CHOICES = (AUTO, HGB_OR_LOGISTIC, HGB_LOGISTIC_OR_RF)

#: The default ``model_type`` (var lookalike_model_type, :func:`lookalike_udf.training.fit_run_model`).
DEFAULT_MODEL_TYPE = HGB_LOGISTIC_OR_RF

#: Registered model types by name, in the order ``auto`` tries them (ties go to the earlier).
REGISTRY: dict[str, EstimatorType] = {}


def register(estimator_type: EstimatorType) -> None:
    """Add a model type. Its name and format must be new (the :data:`CHOICES` and the bagging format
    are taken)."""
    taken_formats = {t.format for t in REGISTRY.values()} | {bagging.FORMAT}
    if estimator_type.name in REGISTRY or estimator_type.name in CHOICES:
        raise ValueError(f"model type {estimator_type.name!r} is already registered")
    if estimator_type.format in taken_formats:
        raise ValueError(f"payload format {estimator_type.format!r} is already registered")
    REGISTRY[estimator_type.name] = estimator_type


def unregister(name: str) -> EstimatorType:
    """Remove a registered model type and return it (tests register temporary types)."""
    return REGISTRY.pop(name)


def get(name: str) -> EstimatorType:
    """The registered type called ``name``; ValueError for any other name (the :data:`CHOICES` included)."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model type {name!r}") from None


def model_types() -> tuple[str, ...]:
    """Every value the ``model_type`` setting accepts: the registered types, then the :data:`CHOICES`."""
    return (*REGISTRY, *CHOICES)


def auto_types() -> tuple[str, ...]:
    """The types ``model_type = auto`` compares, in registry order."""
    return tuple(name for name, t in REGISTRY.items() if t.in_auto)


def fit(
    model_type: str, X, y, w, mask, random_seed, *, overrides: dict | None = None, supervised: bool = False
) -> tuple[dict, dict]:
    """Fit one model of a registered type; ``overrides`` replace default parameters (the result of
    ``tune_model``, :mod:`lookalike_udf.tuning`). ``supervised`` (a run with negatives) starts from
    the type's :attr:`~lookalike_udf.estimators.base.EstimatorType.supervised_params` instead of its
    defaults where they differ (overrides still win). Returns the JSON payload and the parameters."""
    estimator_type = get(model_type)
    if supervised:
        overrides = {**estimator_type.supervised_params(len(y)), **(overrides or {})} or None
    return estimator_type.fit(X, y, w, mask, random_seed, overrides)


def load(payload: dict, engine: str = "auto") -> Scorer:
    """Validate any stored estimator payload (dispatching on its ``format``) and return its scorer.

    Every scorer has ``n_features``, ``engine`` and ``predict_proba_positive(X)``.
    """
    if not isinstance(payload, dict):
        raise ModelFormatError(f"model payload must be an object, found {type(payload).__name__}")
    fmt = payload.get("format")
    loaders = {t.format: t.load for t in REGISTRY.values()}
    loaders[bagging.FORMAT] = bagging.load
    if isinstance(fmt, str) and fmt in loaders:
        return loaders[fmt](payload, engine=engine)
    raise ModelFormatError(f"model payload has format {fmt!r}; expected one of {', '.join(repr(f) for f in loaders)}")


for _type in (hgb.TYPE, rf.TYPE, logistic.TYPE):
    register(_type)
del _type
