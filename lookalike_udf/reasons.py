"""Per-user reasons: the features that push a user's score up, read from the stored model alone.

A model's raw score splits exactly into a bias (the same for every row) plus one contribution per
input feature (:meth:`lookalike_udf.scoring.LookalikeModel.contributions`):

- ``hgb`` (log-odds): path contributions (Saabas). Split nodes get the row-count-weighted mean of
  their leaves; each step of a row's path from the root to its leaf adds the change in node value
  to the split feature. Bias = baseline + every tree's root value; raw score = the log-odds, so
  the score is its sigmoid.
- ``rf`` (probability): the same walk over each tree's stored positive shares, averaged over the
  trees. Bias = the mean root share; raw score = the score.
- ``logistic`` (log-odds): coefficient x design value (standardised number, standardised missing
  indicator, one-hot 0/1), summed back to the input feature. Bias = the intercept.
- bagging ensembles: the members' contributions and biases averaged in the members' space. The
  raw score is *defined* as the mean of the members' raw scores: the score itself for forests,
  the mean of the members' log-odds for boosting and logistic members (the score is the mean of
  their probabilities, which is not the sigmoid of that mean, but ranks users almost alike).

In every case ``bias + sum of contributions over all features == raw_score`` up to floating-point
rounding (tests/unit/test_reasons.py checks 1e-9). A reason is a feature with a positive
contribution; :func:`top_reasons` lists at most ``k`` of them per row, largest first, and the rest
(the other features, negative ones included) goes into ``other_contribution``, so
``bias + reason contributions + other_contribution == raw_score`` holds per row of the table too."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pyarrow as pa

from .scoring import LookalikeModel

__all__ = ["N_REASONS", "VALUE_DIGITS", "format_value", "top_reasons"]

#: Reasons per user in lookalike_user_reasons.
N_REASONS = 3


#: Significant digits of a number in a reason value (integer digits are always kept).
VALUE_DIGITS = 4


def _round_text(value: float | Decimal) -> str:
    """``value`` rounded to :data:`VALUE_DIGITS` significant digits, as plain decimals, keeping every
    integer digit (``1234567.8`` -> ``1234568``); exponent form below 1e-4 and from 1e15 on."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude < Decimal("1e-4") or magnitude >= Decimal("1e15"):
        return format(value, f".{VALUE_DIGITS}g")
    decimals = max(0, VALUE_DIGITS - 1 - math.floor(math.log10(magnitude)))
    text = format(value, f".{decimals}f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_value(value) -> str | None:
    """A feature value as text: numbers rounded to 4 significant digits, integer digits kept
    (``0.1235``, ``12.5``, ``3``, ``1235``, ``1234568``; ``1.235e-05`` and ``1e+20`` at the
    extremes), integers as they are, booleans ``true`` / ``false``, text as it is, null as null.

    >>> [format_value(v) for v in (0.123456789, 2.0 / 3, 1234.5678, 7.0, -0.00045678, 1e20)]
    ['0.1235', '0.6667', '1235', '7', '-0.0004568', '1e+20']
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return _round_text(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return _round_text(value)
    return str(value)


def top_reasons(model: LookalikeModel, table: pa.Table | pa.RecordBatch, k: int = N_REASONS) -> dict:
    """The ``k`` features that push each row's score up most, with the bias and raw score.

    ``table`` holds the model's feature columns (any others are ignored). Returns a dict of
    columns, one entry per row: ``raw_score`` (:meth:`LookalikeModel.predict_raw`), ``bias``,
    ``other_contribution`` (every feature not listed), and for ``r`` in 1..k
    ``reason_<r>_feature``, ``reason_<r>_value`` (the row's value as text, :func:`format_value`)
    and ``reason_<r>_contribution``. Only features with a positive contribution are reasons
    (largest first, ties by name); a row with fewer has nulls in the later ranks.
    """
    n = table.num_rows
    names = model.feature_names
    if n == 0:
        empty = {"raw_score": np.empty(0), "bias": np.empty(0), "other_contribution": np.empty(0)}
        for r in range(1, k + 1):
            empty.update({f"reason_{r}_feature": [], f"reason_{r}_value": [], f"reason_{r}_contribution": np.empty(0)})
        return empty
    bias, contrib = model.contributions(table)
    raw = model.predict_raw(table)
    by_name = np.argsort(np.array(names, dtype=object), kind="stable")
    order = by_name[np.argsort(-contrib[:, by_name], axis=1, kind="stable")[:, :k]]
    picked = np.take_along_axis(contrib, order, axis=1)
    is_reason = picked > 0
    listed = np.where(is_reason, picked, 0.0).sum(axis=1)
    out = {"raw_score": raw, "bias": bias, "other_contribution": contrib.sum(axis=1) - listed}
    for r in range(min(k, order.shape[1])):
        features: list[str | None] = [None] * n
        values: list[str | None] = [None] * n
        for j in np.unique(order[is_reason[:, r], r]):
            rows = np.flatnonzero(is_reason[:, r] & (order[:, r] == j))
            column = table.column(names[j]).take(pa.array(rows))
            for row, value in zip(rows.tolist(), column.to_pylist(), strict=True):
                features[row] = names[j]
                values[row] = format_value(value)
        out[f"reason_{r + 1}_feature"] = features
        out[f"reason_{r + 1}_value"] = values
        out[f"reason_{r + 1}_contribution"] = np.where(is_reason[:, r], picked[:, r], np.nan)
    for r in range(order.shape[1], k):  # a model with fewer than k features
        out[f"reason_{r + 1}_feature"] = [None] * n
        out[f"reason_{r + 1}_value"] = [None] * n
        out[f"reason_{r + 1}_contribution"] = np.full(n, np.nan)
    return out
