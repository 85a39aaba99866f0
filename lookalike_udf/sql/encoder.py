"""The encoder as SQL: one expression per feature, equal to :class:`lookalike_udf.features.FeatureEncoder`.

The Python encoder turns a row into float64 values: numbers as they are (null -> NaN), booleans
as 0/1, text as its position in the category vocabulary (null -> NaN, any other value -> the
shared "other" code, ``len(categories)``). In SQL, missing is NULL rather than NaN: NaN never
compares like a missing value does (DuckDB orders NaN above +inf), so NaN inputs become NULL here
and every split tests NULL. Infinities stay infinities.

Decimals. The Python side reads DECIMAL columns as Arrow decimals and pyarrow converts them to
double as ``unscaled * 10**-scale`` (not correctly rounded: DECIMAL(10,2) 23.33 becomes
23.330000000000002), and models learn thresholds on those values. A plain
``CAST(x AS DOUBLE)`` rounds correctly, so a decimal lying on a split threshold can go the other
way. When the column's type is given (``column_types``), DECIMAL(p, s) columns are converted the
way pyarrow does: ``sign * CAST(|x| * 10^s AS DOUBLE) * 1e-s`` while the unscaled value fits in
53 bits, and the whole part plus the scaled fraction above that (exact for s <= 15).

Only the encoder's JSON (``FeatureEncoder.to_dict()``) is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ._common import case, integer, is_nan, is_null, number

NUMERIC, BOOLEAN, CATEGORICAL = "numeric", "boolean", "categorical"


@dataclass
class EncodedFeature:
    """A feature of the stored encoder: its input column name, kind, vocabulary (categorical)."""

    name: str
    kind: str
    categories: list[str] | None = None

    @property
    def other_code(self) -> int:
        return len(self.categories or [])


def parse_encoder(payload: dict) -> list[EncodedFeature]:
    try:
        features = []
        for item in payload["features"]:
            kind = str(item["kind"])
            if kind not in (NUMERIC, BOOLEAN, CATEGORICAL):
                raise ValueError(f"unknown feature kind {kind!r}")
            categories = item.get("categories")
            if kind == CATEGORICAL:
                if not isinstance(categories, list):
                    raise ValueError(f"categorical feature {item['name']!r} has no category list")
                categories = [str(c) for c in categories]
            features.append(EncodedFeature(str(item["name"]), kind, categories if kind == CATEGORICAL else None))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"stored feature encoder is malformed: {exc}") from exc
    return features


def column(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference; the name is an identifier, whatever characters it holds."""
    return exp.Column(
        this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(table, quoted=True) if table else None
    )


#: Largest unscaled decimal pyarrow converts in one multiplication (RealTraits<double>::kMaxPreciseInteger).
_MAX_PRECISE_INTEGER = 2**53 - 1


def decimal_scale(type_text: str | None, dialect: str) -> tuple[int, int] | None:
    """(precision, scale) when ``type_text`` is a DECIMAL/NUMERIC type with a positive scale."""
    if not type_text:
        return None
    try:
        dtype = exp.DataType.build(type_text, dialect=dialect)
    except Exception:  # an engine-specific type sqlglot cannot read is simply not a decimal here
        return None
    if dtype.this not in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL) or len(dtype.expressions) != 2:
        return None
    precision, scale = (int(e.this.this if isinstance(e, exp.DataTypeParam) else e.this) for e in dtype.expressions)
    return (precision, scale) if scale > 0 else None


def _arrow_decimal_to_double(col: exp.Expression, precision: int, scale: int) -> exp.Expression:
    """pyarrow's Decimal128 -> double for DECIMAL(precision, scale), from exact pieces:
    W = double(floor(|x|)) and F = double(fraction digits as an integer), both exact below 2^53.
    Unscaled values up to 2^53 - 1: (W * 10^s + F) * 1e-s (= double(unscaled) * 1e-s); above:
    W + F * 1e-s (pyarrow's whole + fraction). No intermediate decimal grows past the input's
    precision plus ``scale`` digits, so no engine overflows."""
    double = exp.DataType.build("double")
    magnitude = exp.Abs(this=col.copy())
    whole = exp.Floor(this=magnitude.copy())
    w = exp.cast(whole.copy(), double)
    f = exp.cast(
        exp.Mul(
            this=exp.Paren(this=exp.Sub(this=magnitude.copy(), expression=whole.copy())),
            expression=exp.Literal(this=str(10**scale), is_string=False),
        ),
        double,
    )
    inverse = number(float(f"1e-{scale}"))
    small = exp.Mul(
        this=exp.Paren(
            this=exp.Add(this=exp.Mul(this=w.copy(), expression=number(float(10**scale))), expression=f.copy())
        ),
        expression=inverse.copy(),
    )
    positive = small
    if 10**precision - 1 > _MAX_PRECISE_INTEGER:
        big = exp.Add(this=w.copy(), expression=exp.Mul(this=f.copy(), expression=inverse.copy()))
        limit = f"{_MAX_PRECISE_INTEGER // 10**scale}.{_MAX_PRECISE_INTEGER % 10**scale:0{scale}d}"
        positive = case(exp.LTE(this=magnitude.copy(), expression=exp.Literal(this=limit, is_string=False)), small, big)
    return case(exp.LT(this=col.copy(), expression=integer(0)), exp.Neg(this=exp.Paren(this=positive.copy())), positive)


def encode_feature(feature: EncodedFeature, dialect: str, type_text: str | None = None) -> exp.Expression:
    """The SQL value the trees and coefficients see for ``feature``: DOUBLE (or integer code), NULL when missing.

    ``type_text`` is the input column's SQL type when known (it matters for DECIMAL columns only).
    """
    col = column(feature.name)
    if feature.kind == NUMERIC:
        decimal = decimal_scale(type_text, dialect)
        if decimal is not None:
            return _arrow_decimal_to_double(col, *decimal)  # a decimal is never NaN
        value = exp.cast(col, exp.DataType.build("double"))
        nan = is_nan(value.copy(), dialect)
        return value if nan is None else case(nan, exp.Null(), value)
    if feature.kind == BOOLEAN:
        # CASE rather than CAST: PostgreSQL and BigQuery cannot cast BOOLEAN to a float type.
        return exp.Case(
            ifs=[exp.If(this=col, true=number(1.0)), exp.If(this=exp.Not(this=col.copy()), true=number(0.0))]
        )
    text = exp.cast(col.copy(), exp.DataType.build("text"))
    lookup = exp.Case(
        this=text,
        ifs=[exp.If(this=exp.Literal.string(c), true=integer(i)) for i, c in enumerate(feature.categories)],
        default=integer(feature.other_code),
    )
    if not feature.categories:
        lookup = integer(feature.other_code)
    return case(is_null(col), exp.Null(), lookup)
