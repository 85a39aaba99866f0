"""``lookalike-logistic/1`` as SQL: median fill, missing indicators, standardisation, one-hot,
coefficients; as the Python scorer's ``design_matrix @ coef + intercept``.

Infinities count as missing (as in training and the scorer): a numeric value is used only when
it lies between -DBL_MAX and DBL_MAX, otherwise the median fill is used and the indicator is 1.
A categorical code contributes the coefficient of its one-hot column; a missing code matches the
NaN category when training had one; a code without a column (unseen) contributes nothing.
Constant parts (an indicator's standardised 0 or 1 times its coefficient) are computed in Python
with the same float64 operations the scorer performs.

Only the JSON payload is read.
"""

from __future__ import annotations

import math

from sqlglot import exp

from ._common import Member, case, integer, is_finite, is_null, number
from ._common import payload_float as _float

LOGISTIC_FORMAT = "lookalike-logistic/1"


def logistic_member(payload: dict, features: list[exp.Expression]) -> Member:
    """Log-odds of a ``lookalike-logistic/1`` payload over the encoded feature expressions."""
    if payload.get("format") != LOGISTIC_FORMAT:
        raise ValueError(f"expected a {LOGISTIC_FORMAT} payload, found {payload.get('format')!r}")
    n_features = int(payload["n_features"])
    if n_features != len(features):
        raise ValueError(f"the model expects {n_features} features but the encoder has {len(features)}")
    numeric = [int(c) for c in payload["numeric_columns"]]
    categorical = [int(c) for c in payload["categorical_columns"]]
    fill = [_float(v) for v in payload["fill"]]
    indicator = [int(i) for i in payload["indicator_columns"]]
    mean = [_float(v) for v in payload["mean"]]
    scale = [_float(v) for v in payload["scale"]]
    coef = [_float(v) for v in payload["coef"]]
    categories = [[_float(v) for v in cats] for cats in payload["categories"]]
    k = len(numeric)
    width = k + len(indicator) + sum(len(c) for c in categories)
    if len(coef) != width or len(mean) != k + len(indicator) or len(scale) != k + len(indicator) or len(fill) != k:
        raise ValueError("the logistic payload's fill, mean, scale and coef lengths disagree")
    terms = []
    for p, col in enumerate(numeric):
        x = features[col]
        value = case(is_finite(x.copy()), x.copy(), number(fill[p]))
        standardised = exp.Div(
            this=exp.Paren(this=exp.Sub(this=value, expression=number(mean[p]))), expression=number(scale[p])
        )
        terms.append(exp.Mul(this=number(coef[p]), expression=exp.Paren(this=standardised)))
    for q, p in enumerate(indicator):
        j = k + q
        present = coef[j] * ((0.0 - mean[j]) / scale[j])
        missing = coef[j] * ((1.0 - mean[j]) / scale[j])
        terms.append(case(is_finite(features[numeric[p]].copy()), number(present), number(missing)))
    offset = k + len(indicator)
    for col, cats in zip(categorical, categories, strict=False):
        x = features[col]
        ifs = []
        for c, value in enumerate(cats):
            weight = coef[offset + c]
            if math.isnan(value):
                ifs.append(exp.If(this=is_null(x.copy()), true=number(weight)))
            elif value == int(value) and value >= 0:
                ifs.append(exp.If(this=exp.EQ(this=x.copy(), expression=integer(int(value))), true=number(weight)))
        offset += len(cats)
        if ifs:
            terms.append(exp.Case(ifs=ifs, default=number(0.0)))
    if not terms:
        terms = [number(0.0)]
    return Member(terms=terms, intercept=_float(payload["intercept"]), link="logistic")
