"""Edits of a stored model's JSON (lookalike_run_models.model_json), as corruption or tampering would
make them. Used by the unit and integration tests of lookalike_udf.integrity."""

from __future__ import annotations

import json


def _dump(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _trees(payload: dict) -> list[dict]:
    """Every tree of the stored estimator (a single model or a bagging ensemble's members)."""
    estimator = payload["estimator"]
    members = estimator.get("members") or [estimator]
    return [tree for member in members for tree in member["trees"]]


def invalid_json(text: str) -> str:
    """The JSON cut in half."""
    return text[: len(text) // 2]


def bad_node_index(text: str) -> str:
    """The first split node of the first tree points its left child far outside the tree."""
    payload = json.loads(text)
    nodes = _trees(payload)[0]["nodes"]
    split = nodes["is_leaf"].index(0)
    nodes["left"][split] = 1_000_000
    return _dump(payload)


def wrong_feature_count(text: str) -> str:
    """The encoder loses its last feature: the trees expect one feature more than it produces."""
    payload = json.loads(text)
    payload["encoder"]["features"].pop()
    return _dump(payload)


def every_score_one(text: str) -> str:
    """A valid-shape edit: every node value of every tree becomes 1e6, so a boosted model scores
    every row 1.0."""
    payload = json.loads(text)
    for tree in _trees(payload):
        tree["nodes"]["value"] = [1e6] * len(tree["nodes"]["value"])
    return _dump(payload)


EDITS = {
    "invalid_json": invalid_json,
    "bad_node_index": bad_node_index,
    "wrong_feature_count": wrong_feature_count,
    "every_score_one": every_score_one,
}
