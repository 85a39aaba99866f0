"""Turn an Arrow table of snapshot features into the numeric matrix the classifier sees.

Numeric and boolean columns become float64 (booleans 0/1); text columns become integer category
codes (most frequent first, capped at ``max_categories``; every other value, including values
first seen at scoring time, maps to one shared "other" code). Nulls stay NaN, which
HistGradientBoostingClassifier routes natively. The fitted encoder is plain JSON.

Example
-------
>>> import pyarrow as pa
>>> t = pa.table({"plan": ["pro", "free", None], "visits": [3, 1, None]})
>>> enc = FeatureEncoder().fit(t, ["plan", "visits"])
>>> enc.transform(t).tolist()
[[1.0, 3.0], [0.0, 1.0], [nan, nan]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NUMERIC = "numeric"
BOOLEAN = "boolean"
CATEGORICAL = "categorical"

#: HistGradientBoosting accepts category codes 0 .. max_bins - 1 (254 by default).
MAX_CATEGORIES = 254


def feature_kind(arrow_type: pa.DataType) -> str | None:
    """The encoder kind of an Arrow type, or None when the type is not usable as a feature."""
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return NUMERIC
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return CATEGORICAL
    if pa.types.is_dictionary(arrow_type):
        return feature_kind(arrow_type.value_type)
    return None


@dataclass
class FeatureSpec:
    name: str
    kind: str
    categories: list[str] | None = None

    @property
    def other_code(self) -> int:
        return len(self.categories or [])


@dataclass
class FeatureEncoder:
    """Fit on training rows, then encode any table with the same columns.

    Attributes ending in ``_`` exist after :meth:`fit`.
    """

    max_categories: int = MAX_CATEGORIES
    specs_: list[FeatureSpec] = field(default_factory=list)
    dropped_: dict[str, str] = field(default_factory=dict)

    def fit(self, table: pa.Table, feature_names: list[str]) -> FeatureEncoder:
        """Choose usable features and learn category vocabularies from ``table``.

        Columns of unsupported types, columns that are entirely null, and columns with a single
        distinct value are dropped; ``dropped_`` records why.
        """
        self.specs_, self.dropped_ = [], {}
        for name in feature_names:
            column = table.column(name)
            kind = feature_kind(column.type)
            if kind is None:
                self.dropped_[name] = f"type {column.type} is not numeric, boolean or text"
                continue
            if column.null_count == len(column):
                self.dropped_[name] = "all values are null"
                continue
            counts = pc.value_counts(
                column.drop_null() if kind != CATEGORICAL else pc.cast(column, pa.string()).drop_null()
            )
            if len(counts) < 2 and column.null_count == 0:
                self.dropped_[name] = "a single distinct value"
                continue
            categories = None
            if kind == CATEGORICAL:
                values = counts.field("values").to_pylist()
                freq = counts.field("counts").to_pylist()
                ordered = sorted(zip(values, freq, strict=True), key=lambda vf: (-vf[1], vf[0]))
                categories = [v for v, _ in ordered[: self.max_categories]]
            self.specs_.append(FeatureSpec(name=name, kind=kind, categories=categories))
        return self

    @property
    def feature_names_(self) -> list[str]:
        return [s.name for s in self.specs_]

    @property
    def categorical_mask_(self) -> np.ndarray:
        return np.array([s.kind == CATEGORICAL for s in self.specs_], dtype=bool)

    def transform(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """Encode ``table`` into a float64 matrix with one column per kept feature."""
        out = np.empty((table.num_rows, len(self.specs_)), dtype=np.float64)
        for j, spec in enumerate(self.specs_):
            column = table.column(spec.name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            if spec.kind == CATEGORICAL:
                text = pc.cast(column, pa.string())
                codes = pc.index_in(text, value_set=pa.array(spec.categories, type=pa.string()))
                codes = pc.if_else(pc.and_(pc.is_null(codes), pc.is_valid(text)), spec.other_code, codes)
                out[:, j] = pc.cast(codes, pa.float64()).to_numpy(zero_copy_only=False)
            else:
                out[:, j] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return out

    def to_dict(self) -> dict:
        return {
            "max_categories": self.max_categories,
            "features": [{"name": s.name, "kind": s.kind, "categories": s.categories} for s in self.specs_],
            "dropped": dict(self.dropped_),
        }

    @classmethod
    def from_dict(cls, payload: dict) -> FeatureEncoder:
        from .errors import LookalikeError

        try:
            enc = cls(max_categories=int(payload["max_categories"]))
            for item in payload["features"]:
                kind = str(item["kind"])
                if kind not in (NUMERIC, BOOLEAN, CATEGORICAL):
                    raise ValueError(f"unknown feature kind {kind!r}")
                categories = item.get("categories")
                if kind == CATEGORICAL and not isinstance(categories, list):
                    raise ValueError(f"categorical feature {item['name']!r} has no category list")
                enc.specs_.append(
                    FeatureSpec(
                        name=str(item["name"]),
                        kind=kind,
                        categories=[str(c) for c in categories] if categories is not None else None,
                    )
                )
            enc.dropped_ = {str(k): str(v) for k, v in payload.get("dropped", {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise LookalikeError(f"stored feature encoder is malformed: {exc}") from exc
        return enc
