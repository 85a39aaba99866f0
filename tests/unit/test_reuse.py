"""Unit tests of the reuse decisions (lookalike_udf.reuse and the dbt_models entry points)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from lookalike_udf import dbt_models, reuse
from lookalike_udf.integrity import model_sha256


def test_fingerprints_are_stable_and_sensitive():
    a = reuse.training_fingerprint("abc", "fmt/1")
    assert a == reuse.training_fingerprint("abc", "fmt/1") and len(a) == 64
    assert a != reuse.training_fingerprint("abd", "fmt/1")
    assert a != reuse.training_fingerprint("abc", "fmt/2")
    assert reuse.training_fingerprint(None, "fmt/1") is None
    m1, m2 = model_sha256('{"m": 1}'), model_sha256('{"m": 2}')
    s = reuse.score_fingerprint(a, m1, "pop")
    assert s != reuse.score_fingerprint(a, m2, "pop")
    assert s != reuse.score_fingerprint(a, m1, "pop2")
    assert reuse.score_fingerprint(a, m1, None) is None


@pytest.mark.parametrize(
    "value, expected",
    [("True", True), ("false", False), ("False", False), ("", False), (True, True), (None, False), ("1", True)],
)
def test_as_bool_reads_rendered_config(value, expected):
    assert reuse.as_bool(value) is expected


def test_as_bool_refuses_garbage_and_names_the_variable():
    with pytest.raises(ValueError, match="var lookalike_force_retrain, found 'sometimes'; use true or false"):
        reuse.as_bool("sometimes")


def test_previous_table_is_none_on_the_first_build():
    con = duckdb.connect()

    class This:
        def __repr__(self):
            return '"memory"."main"."lookalike_run_models"'

    assert reuse.previous_table(con, This()) is None
    con.execute("create table lookalike_run_models as select 'r' as run_id")
    assert reuse.previous_table(con, This()).fetchall() == [("r",)]


def test_an_older_table_without_fingerprints_is_not_reused():
    old = pa.table({"run_id": ["r"], "model_json": ["{}"]})
    assert reuse.previous_model_rows(old, ("training_fingerprint", "model_json")) == {}
    new = pa.table({"run_id": ["r"], "model_json": ["{}"], "training_fingerprint": ["f"]})
    assert reuse.previous_model_rows(new, ("training_fingerprint", "model_json"))["r"]["training_fingerprint"] == "f"


def _scores(rows):
    return pa.Table.from_pylist(rows, schema=dbt_models.SCORE_SCHEMA)


def test_only_runs_whose_whole_score_set_matches_are_reused():
    prev = _scores(
        [
            {"run_id": "a", "user_id": "1", "score": 0.1, "score_fingerprint": "fa", "scoring_action": "scored"},
            {"run_id": "a", "user_id": "2", "score": 0.2, "score_fingerprint": "fa", "scoring_action": "scored"},
            {"run_id": "b", "user_id": "1", "score": 0.3, "score_fingerprint": "fb", "scoring_action": "scored"},
            {"run_id": "c", "user_id": "1", "score": 0.4, "score_fingerprint": "old", "scoring_action": "scored"},
            {"run_id": "c", "user_id": "2", "score": 0.5, "score_fingerprint": "fc", "scoring_action": "scored"},
        ]
    )
    wanted = {"a": "fa", "b": "changed", "c": "fc", "d": "fd"}
    assert reuse.reused_score_runs(prev, wanted) == {"a"}  # c has mixed fingerprints: rescored
    kept = pa.Table.from_batches(list(reuse.previous_score_batches(prev, {"a": "fa"}, batch_size=1)))
    assert kept.column("user_id").to_pylist() == ["1", "2"]
    assert reuse.reused_score_runs(None, wanted) == set()


def test_previous_table_escapes_quotes_in_the_relation_name():
    con = duckdb.connect()
    con.execute("create table sentinel_keep as select 1 as x")

    class This:
        database = "memory"
        schema = "main"
        identifier = 'odd"; drop table sentinel_keep; --'

        def __repr__(self):  # what dbt renders: quoted, not escaped
            return f'"{self.database}"."{self.schema}"."{self.identifier}"'

    assert reuse.relation_name(This()) == '"memory"."main"."odd""; drop table sentinel_keep; --"'
    assert reuse.previous_table(con, This()) is None
    assert con.execute("select * from sentinel_keep").fetchall() == [(1,)]
    con.execute('create table "odd""; drop table sentinel_keep; --" as select \'r\' as run_id')
    assert reuse.previous_table(con, This()).fetchall() == [("r",)]
