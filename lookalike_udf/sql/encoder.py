"""The encoder as SQL: one expression per feature, equal to :class:`lookalike_udf.features.FeatureEncoder`.

The Python encoder turns a row into float64 values: numbers as they are (null -> NaN), booleans
as 0/1, text as its position in the category vocabulary (null -> NaN, any other value -> the
shared "other" code, ``len(categories)``). In SQL, missing is NULL rather than NaN: NaN never
compares like a missing value does (DuckDB orders NaN above +inf), so NaN inputs become NULL here
and every split tests NULL. Infinities stay infinities.

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
    return exp.Column(this=exp.to_identifier(name, quoted=True),
                      table=exp.to_identifier(table, quoted=True) if table else None)


def encode_feature(feature: EncodedFeature, dialect: str) -> exp.Expression:
    """The SQL value the trees and coefficients see for ``feature``: DOUBLE (or integer code), NULL when missing."""
    col = column(feature.name)
    if feature.kind == NUMERIC:
        value = exp.cast(col, exp.DataType.build("double"))
        nan = is_nan(value.copy(), dialect)
        return value if nan is None else case(nan, exp.Null(), value)
    if feature.kind == BOOLEAN:
        # CASE rather than CAST: PostgreSQL and BigQuery cannot cast BOOLEAN to a float type.
        return exp.Case(ifs=[exp.If(this=col, true=number(1.0)),
                             exp.If(this=exp.Not(this=col.copy()), true=number(0.0))])
    text = exp.cast(col.copy(), exp.DataType.build("text"))
    lookup = exp.Case(this=text,
                      ifs=[exp.If(this=exp.Literal.string(c), true=integer(i)) for i, c in enumerate(feature.categories)],
                      default=integer(feature.other_code))
    if not feature.categories:
        lookup = integer(feature.other_code)
    return case(is_null(col), exp.Null(), lookup)
