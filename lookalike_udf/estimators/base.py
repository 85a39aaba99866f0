"""What every model type provides (:class:`EstimatorType`), the scorer protocol, and the payload
helpers the formats share (numbers that JSON cannot hold, validated integer and float lists).

Nothing here imports scikit-learn: loading and scoring a stored model must not need fitting code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import LookalikeError


class ModelFormatError(LookalikeError):
    """A stored model payload is malformed or was written by an incompatible format."""


class Scorer(Protocol):
    """A validated payload, ready to score: what :func:`lookalike_udf.estimators.load` returns."""

    n_features: int
    engine: str

    def predict_proba_positive(self, X) -> np.ndarray:
        """Probability of the positive class for each row of the float64 matrix ``X``."""

    # Optional, for per-user reasons (lookalike_udf.reasons): a type without them scores, but its
    # runs get no rows in lookalike_user_reasons.
    #   raw_space: "log_odds" or "probability", the space of predict_raw and contributions;
    #   predict_raw(X): the raw score of each row;
    #   contributions(X) -> (bias, contributions): (n,) and (n, n_features) arrays with
    #     bias + contributions.sum(axis=1) == predict_raw(X) (to rounding).


#: ``fit(X, y, w, mask, random_seed, overrides)`` -> ``(payload, params)``: the JSON payload and the
#: parameters to record. ``mask`` marks categorical columns; ``overrides`` replace default
#: parameters (tuned values, or the :attr:`EstimatorType.bagging_overrides` of an ensemble member).
FitFunction = Callable[..., "tuple[dict, dict]"]


def _no_overrides(n_bags: int) -> dict:
    return {}


@dataclass(frozen=True)
class EstimatorType:
    """One model type (a value of the run setting ``model_type``), as its module declares it.

    A module per type (:mod:`~lookalike_udf.estimators.hgb`, ``rf``, ``logistic``) holds its
    defaults, ``GRID``, ``fit``, ``dump`` (to JSON), its scorer and ``load`` (from JSON, with
    validation), and ends with ``TYPE = EstimatorType(...)``; the registry in
    :mod:`lookalike_udf.estimators` lists it. Fit-only imports (scikit-learn estimators) stay inside
    ``fit`` so that ``load`` and scoring never import them.

    Attributes
    ----------
    name : the ``model_type`` setting value (``"hgb"``).
    format : the payload's ``format`` tag (``"lookalike-hgb/1"``); :func:`~lookalike_udf.estimators.load`
        dispatches on it. A changed payload layout gets a new tag, and the old tag keeps loading.
    estimator : the name recorded as ``model_params.estimator``.
    fit : see :data:`FitFunction`. Must be deterministic for a given ``random_seed``.
    load : ``load(payload, engine="auto")`` -> :class:`Scorer`; raises :class:`ModelFormatError`
        on any malformed payload (payloads come back from the warehouse: validate every index).
    grid : the ``tune_model`` search grid (:mod:`lookalike_udf.tuning`): axis -> values, the
        default first on each axis; a dict value sets several parameters at once. ``{}``: no search.
    bagging_overrides : parameters for one member of an ``n_bags`` bagging PU ensemble (rf: fewer
        trees per member); tuned overrides still win.
    supervised_params : ``supervised_params(n_train)`` -> parameters that replace the type's
        defaults when the run has negatives (every fit of a supervised run: the model choice's
        out-of-fold fits, ``auto``, ``tune_model``, ``auto_tune``, the split model and its refit);
        runs without negatives (bagging PU members, plain PU) keep the defaults. Tuned overrides
        still win. Decision 0037.
    in_auto : whether ``model_type = auto`` tries this type (in registry order, ties to the earlier).

    to_sql : ``to_sql(payload, features)`` -> :class:`lookalike_udf.sql.Member`: the payload as
        SQL over the encoded feature expressions ``features`` (sqlglot), after ``load`` has
        validated it. :func:`lookalike_udf.sql.compile_model` calls it through the registry, so a
        type with ``to_sql`` is scored in the warehouse with no other change (decision 0012).
    """

    name: str
    format: str
    estimator: str
    fit: FitFunction
    load: Callable[..., Scorer]
    grid: dict = field(default_factory=dict)
    bagging_overrides: Callable[[int], dict] = _no_overrides
    supervised_params: Callable[[int], dict] = _no_overrides
    in_auto: bool = True
    to_sql: Callable[[dict, list], object] | None = None


# --- Payload helpers --------------------------------------------------------------------------


def _encode_float(value: float):
    """JSON has no NaN or infinity: encode them as strings."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _decode_float(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ModelFormatError(f"{where}: expected a number, found {type(value).__name__}")
    if isinstance(value, str):
        if value not in ("nan", "inf", "-inf"):
            raise ModelFormatError(f"{where}: expected a number, found the string {value!r}")
        return float(value)
    return float(value)


def _n_features(payload: dict) -> int:
    """The payload's ``n_features``, a positive integer."""
    n_features = payload.get("n_features")
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise ModelFormatError("n_features must be a positive integer")
    return n_features


def _uint_list(values, where: str, n: int | None = None, upper: int | None = None) -> np.ndarray:
    if not isinstance(values, list) or (n is not None and len(values) != n):
        raise ModelFormatError(f"{where}: expected a list" + (f" of {n} values" if n is not None else ""))
    if any(
        isinstance(v, bool) or not isinstance(v, int) or v < 0 or (upper is not None and v >= upper) for v in values
    ):
        raise ModelFormatError(f"{where}: expected integers in 0..{'' if upper is None else upper - 1}")
    return np.array(values, dtype=np.int64)


def _float_list(values, where: str, n: int | None = None, finite: bool = True) -> np.ndarray:
    if not isinstance(values, list) or (n is not None and len(values) != n):
        raise ModelFormatError(f"{where}: expected a list" + (f" of {n} numbers" if n is not None else ""))
    out = np.array([_decode_float(v, where) for v in values], dtype=np.float64)
    if finite and not np.all(np.isfinite(out)):
        raise ModelFormatError(f"{where}: expected finite numbers")
    return out
