"""One vocabulary (decision 0023): the statuses, actions, example sources and reserved column names
of lookalike_udf.vocabulary agree with the SQL macro lookalike_vocabulary(), and no other library
module spells "TRAINED" or "unlabeled_sample" itself."""

from __future__ import annotations

import ast

import pyarrow as pa
import pytest

from conftest import REPO
from lookalike_udf import dbt_models, integrity, reuse, training, vocabulary
from lookalike_udf.vocabulary import (
    RESERVED_COLUMNS,
    ExampleSource,
    ModelStatus,
    RunStatus,
    ScoringAction,
    TrainingAction,
)

MACRO = REPO / "macros" / "jinja_helpers" / "lookalike_vocabulary.sql"


def jinja_vocabulary() -> dict:
    """lookalike_vocabulary() of lookalike_vocabulary.sql, read as a Python literal."""
    body = MACRO.read_text().split("{% macro lookalike_vocabulary() %}", 1)[1].split("{% endmacro %}", 1)[0]
    return ast.literal_eval(body.split("return(", 1)[1].rsplit(")", 1)[0])


def test_the_sql_macro_and_python_agree():
    assert jinja_vocabulary() == vocabulary.as_dict()


def test_the_values_written_to_tables_are_unchanged():
    assert ModelStatus.values() == {"TRAINED": "TRAINED", "FAILED": "FAILED"}
    assert RunStatus.values() == {"FINISHED": "FINISHED", "FINISHED_TRAINING": "FINISHED_TRAINING", "FAILED": "FAILED"}
    assert TrainingAction.values() == {"TRAINED": "trained", "REUSED": "reused"}
    assert ScoringAction.values() == {"SCORED": "scored", "REUSED": "reused", "FAILED": "failed"}
    assert ExampleSource.values() == {"LABEL": "label", "UNLABELED_SAMPLE": "unlabeled_sample"}
    # plain str: formatting and Arrow arrays see the bare value
    assert type(ModelStatus.TRAINED) is str and f"{ModelStatus.TRAINED}" == "TRAINED"
    assert pa.array([TrainingAction.TRAINED]).to_pylist() == ["trained"]


def test_the_two_trained_constants_keep_their_old_names_and_values():
    assert dbt_models.TRAINED == integrity.TRAINED == ModelStatus.TRAINED == "TRAINED"
    assert dbt_models.FAILED == ModelStatus.FAILED == "FAILED"
    assert reuse.TRAINED == dbt_models.ACTION_TRAINED == TrainingAction.TRAINED == "trained"
    assert reuse.REUSED == TrainingAction.REUSED == ScoringAction.REUSED
    assert reuse.SCORED == ScoringAction.SCORED and reuse.SCORING_FAILED == ScoringAction.FAILED


def test_reserved_columns_are_the_union_and_python_leaves_them_out_of_features():
    old_python = {
        "example_id",
        "run_id",
        "user_id",
        "label",
        "weight",
        "as_of_at",
        "snapshot_at",
        "example_source",
        "split",
    }
    assert old_python < set(RESERVED_COLUMNS) and len(set(RESERVED_COLUMNS)) == len(RESERVED_COLUMNS) == 13
    table = pa.table({name: [1] for name in (*RESERVED_COLUMNS, "age", "evt_click_7d")})
    assert training.feature_columns(table) == ["age", "evt_click_7d"]


def _string_constants(path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


@pytest.mark.parametrize("word", ["TRAINED", "unlabeled_sample"])
def test_no_other_library_module_spells_the_vocabulary(word):
    """A string literal equal to the word (docstrings and longer names such as
    unlabeled_sample_size do not count) lives in vocabulary.py only."""
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted((REPO / "lookalike_udf").rglob("*.py"))
        if path.name != "vocabulary.py"
        for line, value in _string_constants(path)
        if value == word
    ]
    assert found == []
