import math

import pyarrow as pa
import pytest

from lookalike_udf.errors import LookalikeError
from lookalike_udf.features import FeatureEncoder


def table():
    return pa.table(
        {
            "plan": ["pro", "free", "pro", None, "basic"],
            "visits": pa.array([3, 1, None, 4, 2], type=pa.int32()),
            "ratio": [0.5, None, 0.25, 1.0, 0.0],
            "active": [True, False, None, True, True],
            "constant": [7, 7, 7, 7, 7],
            "empty": pa.array([None] * 5, type=pa.float64()),
            "when": pa.array([1, 2, 3, 4, 5], type=pa.timestamp("s")),
        }
    )


def test_fit_keeps_usable_columns_and_says_why_others_are_dropped():
    enc = FeatureEncoder().fit(table(), ["plan", "visits", "ratio", "active", "constant", "empty", "when"])
    assert enc.feature_names_ == ["plan", "visits", "ratio", "active"]
    assert enc.categorical_mask_.tolist() == [True, False, False, False]
    assert enc.dropped_ == {
        "constant": "a single distinct value",
        "empty": "all values are null",
        "when": "type timestamp[s] is not numeric, boolean or text",
    }
    # Most frequent first, ties broken alphabetically.
    assert enc.specs_[0].categories == ["pro", "basic", "free"]


def test_transform_values_nulls_and_unseen_categories():
    enc = FeatureEncoder().fit(table(), ["plan", "visits", "active"])
    scoring = pa.table({"plan": ["free", "enterprise", None], "visits": [10, None, 0], "active": [False, True, None]})
    X = enc.transform(scoring)
    assert X[0].tolist() == [2.0, 10.0, 0.0]
    assert X[1, 0] == 3.0  # unseen value -> shared "other" code (after the 3 known categories)
    assert X[1, 2] == 1.0
    assert math.isnan(X[1, 1]) and math.isnan(X[2, 0]) and math.isnan(X[2, 2])


def test_category_cap_sends_rare_values_to_other():
    t = pa.table({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]})
    enc = FeatureEncoder(max_categories=2).fit(t, ["c"])
    assert enc.specs_[0].categories == ["a", "b"]
    assert enc.transform(t)[:, 0].tolist() == [0.0] * 5 + [1.0] * 3 + [2.0] * 3


def test_round_trip_through_dict():
    enc = FeatureEncoder().fit(table(), ["plan", "visits", "ratio", "active", "constant"])
    again = FeatureEncoder.from_dict(enc.to_dict())
    assert again.to_dict() == enc.to_dict()
    assert again.transform(table()).tolist().__repr__() == enc.transform(table()).tolist().__repr__()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"max_categories": 254, "features": [{"name": "x", "kind": "image"}]},
        {"max_categories": 254, "features": [{"name": "x", "kind": "categorical"}]},
    ],
)
def test_malformed_encoder_is_refused(payload):
    with pytest.raises(LookalikeError, match="stored feature encoder is malformed"):
        FeatureEncoder.from_dict(payload)
