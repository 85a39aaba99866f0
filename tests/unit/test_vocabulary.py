"""One vocabulary (decision 0023): the statuses, actions, example sources and reserved column names
of lookalike_udf.vocabulary agree with the SQL macro lookalike_vocabulary(), and no other library
module spells "TRAINED" or "unlabeled_sample" itself."""

from __future__ import annotations

import ast
import re

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
    # PARTLY_REUSED: added by decision 0036 (lookalike_runs.scoring_action of a run carried in part).
    assert ScoringAction.values() == {
        "SCORED": "scored",
        "REUSED": "reused",
        "FAILED": "failed",
        "PARTLY_REUSED": "partly reused",
    }
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


# --- SQL: the statuses and actions are written by lookalike_vocabulary() only -----------------

#: What a quoted SQL or Jinja literal may not spell outside the vocabulary macro: the run and model
#: statuses, and the training and scoring actions. The example sources ('label',
#: 'unlabeled_sample') are not scanned: the same words are column, argument and CTE names
#: (label='label', lookalike_pit_join('unlabeled_sample', ...)); the two places that write them as
#: values (int_lookalike__training_points) use the macro. Health ('healthy' / 'warning' /
#: 'unhealthy'), quality bands, audience_state and export_status are other vocabularies, not part of
#: lookalike_vocabulary(), and are not scanned either.
SCANNED_WORDS = sorted(
    {
        *RunStatus.values().values(),
        *ModelStatus.values().values(),
        *TrainingAction.values().values(),
        *ScoringAction.values().values(),
    }
)

#: (file, text of the line): literals that spell a scanned word but mean something else.
NOT_THE_VOCABULARY = {
    # lookalike_audience_exports.export_status ('exported' / 'failed'): whether an audience file
    # was written, a column of the export model, not a scoring action.
    ("macros/lookalike_run_summary.sql", "~ \" where export_status = 'failed' order by run_id\") -%}"),
}

SQL_FILES = (
    "dbt_project/models/**/*.sql",
    "dbt_project/tests/**/*.sql",
    "macros/**/*.sql",
    "integration_tests/models/**/*.sql",
    "integration_tests/tests/**/*.sql",
)

_QUOTED = re.compile(r"""(['"])(""" + "|".join(re.escape(word) for word in SCANNED_WORDS) + r""")\1""")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def _quoted_vocabulary(path) -> list[tuple[int, str, str]]:
    """(line number, literal, line) of each quoted scanned word outside Jinja comments. A key of
    the vocabulary (the subscript in vocab['run_status']['FAILED']) is a name, not a value: a
    literal between [ and ] does not count."""
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text())
    return [
        (number, match.group(0), line)
        for number, line in enumerate(text.splitlines(), start=1)
        for match in _QUOTED.finditer(line)
        if not (line[match.start() - 1 : match.start()] == "[" and line[match.end() : match.end() + 1] == "]")
    ]


def test_the_scan_finds_the_vocabulary_where_it_is_written(tmp_path):
    """The scan itself works: the macro spells every scanned word; a literal is found with its line,
    in SQL and in Jinja; comments and the vocabulary's keys do not count."""
    assert {literal.strip("'") for _, literal, _ in _quoted_vocabulary(MACRO)} == set(SCANNED_WORDS)
    sample = tmp_path / "model.sql"
    sample.write_text(
        "{#- a FAILED run ('FAILED') in a comment\n    still the comment ('trained') -#}\n"
        "select * from runs where status = 'FAILED'\n"
        "{%- if row['status'] == \"FINISHED\" %} '{{ vocab['run_status']['FINISHED_TRAINING'] }}' {% endif %}\n"
        "select 'reused' as training_action, 'not_failed' as other\n"
    )
    assert [(number, literal) for number, literal, _ in _quoted_vocabulary(sample)] == [
        (3, "'FAILED'"),
        (4, '"FINISHED"'),
        (5, "'reused'"),
    ]


def test_no_sql_file_spells_a_status_or_action():
    """Every run or model status and every training or scoring action in the models, data tests
    and macros comes from lookalike_vocabulary() (e.g. '{{ vocab['run_status']['FAILED'] }}'), so
    the values are written once for SQL; tests/unit/test_vocabulary.py keeps them equal to Python's."""
    paths = sorted({path for pattern in SQL_FILES for path in REPO.glob(pattern)})
    assert len(paths) > 40
    found = [
        f"{path.relative_to(REPO)}:{number}: {literal}"
        for path in paths
        if path != MACRO
        for number, literal, line in _quoted_vocabulary(path)
        if (str(path.relative_to(REPO)), line.strip()) not in NOT_THE_VOCABULARY
    ]
    assert found == [], "write these as lookalike.lookalike_vocabulary()[...] values:\n" + "\n".join(found)


def test_the_allow_list_is_still_needed():
    """Each allowed line still exists (a stale entry would allow the literal anywhere else)."""
    for relative, line in NOT_THE_VOCABULARY:
        assert line in (stripped.strip() for stripped in (REPO / relative).read_text().splitlines()), relative
