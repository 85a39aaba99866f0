"""Model types behind one registry: one module per type, looked up by name or by payload format.

- :mod:`.hgb`: ``model_type: hgb``, payload ``lookalike-hgb/1``, HistGradientBoostingClassifier
  (the default);
- :mod:`.rf`: ``rf``, ``lookalike-rf/1``, RandomForestClassifier;
- :mod:`.logistic`: ``logistic``, ``lookalike-logistic/1``, one-hot + standardise + LogisticRegression;
- :mod:`.bagging`: payload ``lookalike-bagging/1`` only, the bagging PU ensemble of members of
  any registered type.

``auto`` is not a type: it picks the best of the registered types by cross-validated AUC
(:func:`lookalike_udf.tuning.select_model_type`). A stored run model (``lookalike-model/1``, the
encoder plus one of these payloads) is :class:`lookalike_udf.scoring.LookalikeModel`.

Adding a model type
    Write one module like :mod:`.rf`: ``default_params``, ``GRID``, ``fit`` (imports of fitting
    code inside it), ``dump``, a scorer with ``n_features``, ``engine`` and
    ``predict_proba_positive(X)``, ``load`` validating every field, and
    ``TYPE = EstimatorType(...)`` (:class:`~lookalike_udf.estimators.base.EstimatorType`). Then
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
('hgb', 'rf', 'logistic', 'auto')
>>> get("rf").format
'lookalike-rf/1'
"""

from __future__ import annotations

from . import bagging, hgb, logistic, rf
from .base import EstimatorType, ModelFormatError, Scorer

__all__ = ["AUTO", "REGISTRY", "EstimatorType", "ModelFormatError", "Scorer", "auto_types", "fit", "get", "load",
           "model_types", "register", "unregister"]

#: The ``model_type`` value that chooses among the registered types (lookalike_udf.tuning).
AUTO = "auto"

#: Registered model types by name, in the order ``auto`` tries them (ties go to the earlier).
REGISTRY: dict[str, EstimatorType] = {}


def register(estimator_type: EstimatorType) -> None:
    """Add a model type. Its name and format must be new (``auto`` and the bagging format are taken)."""
    taken_formats = {t.format for t in REGISTRY.values()} | {bagging.FORMAT}
    if estimator_type.name in REGISTRY or estimator_type.name == AUTO:
        raise ValueError(f"model type {estimator_type.name!r} is already registered")
    if estimator_type.format in taken_formats:
        raise ValueError(f"payload format {estimator_type.format!r} is already registered")
    REGISTRY[estimator_type.name] = estimator_type


def unregister(name: str) -> EstimatorType:
    """Remove a registered model type and return it (tests register temporary types)."""
    return REGISTRY.pop(name)


def get(name: str) -> EstimatorType:
    """The registered type called ``name``; ValueError for any other name (``auto`` included)."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model type {name!r}") from None


def model_types() -> tuple[str, ...]:
    """Every value the ``model_type`` setting accepts: the registered types, then ``auto``."""
    return (*REGISTRY, AUTO)


def auto_types() -> tuple[str, ...]:
    """The types ``model_type = auto`` compares, in registry order."""
    return tuple(name for name, t in REGISTRY.items() if t.in_auto)


def fit(model_type: str, X, y, w, mask, random_seed, *, overrides: dict | None = None) -> tuple[dict, dict]:
    """Fit one model of a registered type; ``overrides`` replace default parameters (the result of
    ``tune_model``, :mod:`lookalike_udf.tuning`). Returns the JSON payload and the parameters."""
    return get(model_type).fit(X, y, w, mask, random_seed, overrides)


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
