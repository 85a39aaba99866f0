"""Unit tests of the reuse decisions (lookalike_udf.reuse and the dbt_models entry points)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from lookalike_udf import dbt_models, reuse
from lookalike_udf.engines import engine_for
from lookalike_udf.integrity import model_sha256
from lookalike_udf.vocabulary import ScoringAction


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


def test_a_change_of_default_fit_parameters_changes_the_training_fingerprint(monkeypatch):
    """Runs that set nothing retrain after the defaults change (decision 0037): the fingerprint that
    decides whether a stored model is reused names MODEL_DEFAULTS_VERSION."""
    before = reuse.training_fingerprint("abc", "fmt/1")
    monkeypatch.setattr(reuse, "MODEL_DEFAULTS_VERSION", "previous")
    assert reuse.training_fingerprint("abc", "fmt/1") != before


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


# --- carry_over: the one carry-over rule, on Arrow tables and DuckDB relations ----------------------

#: Run ids no engine may mangle: quotes, SQL, unicode, the old key separator, a newline.
HOSTILE_RUNS = ["it's", 'a"b', "'; drop table prev; --", "ünï ñame ✓", "x\x1fy", "new\nline"]


def _scores(rows):
    return pa.Table.from_pylist(rows, schema=dbt_models.SCORE_SCHEMA)


def _score_rows(run_id, fingerprint, n=2, action="scored", first_user=0):
    return [
        {
            "run_id": run_id,
            "user_id": str(first_user + i),
            "score": 0.5,
            "score_fingerprint": fingerprint,
            "scoring_action": action,
        }
        for i in range(n)
    ]


@pytest.fixture(params=["arrow", "duckdb"])
def as_previous(request):
    """Turns an Arrow table into the previous table of the parametrised engine: the table itself,
    or a relation over a real table in an in-memory DuckDB (what dbt-duckdb's previous_table gives)."""
    con = duckdb.connect()

    def make(table: pa.Table):
        if request.param == "arrow":
            return engine_for(table), table
        con.register("source", table)
        con.execute("create or replace table prev as select * from source")
        con.unregister("source")
        previous = con.sql("select * from prev")
        return engine_for(previous), previous

    make.con = con
    make.kind = request.param
    yield make
    con.close()


def _read(carried, batch_size):
    """The carried rows as an Arrow table, whichever way carry_over gave them."""
    if batch_size is None:
        return carried.rows
    batches = list(carried.rows)
    assert all(b.num_rows <= batch_size for b in batches)
    return pa.Table.from_batches(batches) if batches else None


def _keys(table):
    if table is None:
        return []
    return sorted(zip(table.column("run_id").to_pylist(), table.column("user_id").to_pylist(), strict=True))


@pytest.mark.parametrize("batch_size", [None, 1, 1000])
def test_only_runs_whose_every_row_holds_the_wanted_key_are_carried(as_previous, batch_size):
    prev = _scores(
        _score_rows("a", "fa", 3)  # unchanged: carried, every row
        + _score_rows("b", "fb")  # fingerprint changed: not carried
        + _score_rows("c", "old", 1)
        + _score_rows("c", "fc", 1, first_user=5)  # mixed fingerprints: not carried (rescored whole)
        + _score_rows("e", None)  # no stored key: never equal
        + _score_rows("z", "fz")  # not wanted this build: not carried
    )
    engine, previous = as_previous(prev)
    wanted = {"a": "fa", "b": "changed", "c": "fc", "d": "fd", "e": "fe", "z": None}
    carried = reuse.carry_over(engine, previous, "score_fingerprint", wanted, batch_size=batch_size)
    assert carried.runs == {"a": "fa"}
    rows = _read(carried, batch_size)
    assert _keys(rows) == [("a", "0"), ("a", "1"), ("a", "2")]
    assert set(rows.column_names) >= set(dbt_models.SCORE_SCHEMA.names)  # every column of previous
    assert set(rows.column("score_fingerprint").to_pylist()) == {"fa"}


@pytest.mark.parametrize("batch_size", [None, 2])
def test_a_run_with_a_failed_marker_is_never_carried(as_previous, batch_size):
    prev = _scores(
        _score_rows("ok", "f1", 3)
        + _score_rows("broken", "f2", 2)
        + _score_rows("broken", "f2", 1, action="failed", first_user=9)  # same fingerprint, failed part-way
    )
    engine, previous = as_previous(prev)
    wanted = {"ok": "f1", "broken": "f2"}
    marker = ("scoring_action", ScoringAction.FAILED)
    carried = reuse.carry_over(engine, previous, "score_fingerprint", wanted, failed=marker, batch_size=batch_size)
    assert carried.runs == {"ok": "f1"}
    assert [k[0] for k in _keys(_read(carried, batch_size))] == ["ok"] * 3
    # Without the marker rule the same rows would be carried: the marker is what stops them.
    unmarked = reuse.carry_over(engine, previous, "score_fingerprint", wanted, batch_size=batch_size)
    assert unmarked.runs == {"ok": "f1", "broken": "f2"}
    # A table from before the marker column existed has no failed rows.
    engine, older = as_previous(prev.drop_columns(["scoring_action"]))
    assert reuse.carry_over(engine, older, "score_fingerprint", wanted, failed=marker).runs == wanted


@pytest.mark.parametrize("batch_size", [None, 10])
def test_a_table_without_a_key_or_required_column_carries_nothing(as_previous, batch_size):
    models = pa.table({"run_id": ["r"], "model_json": ["{}"], "training_fingerprint": ["f"]})
    for older, required in [
        (models.drop_columns(["training_fingerprint"]), ()),  # no key column
        (models.drop_columns(["model_json"]), ("model_json",)),  # no required column
        (models.drop_columns(["run_id"]), ()),  # no run column
    ]:
        engine, previous = as_previous(older)
        carried = reuse.carry_over(
            engine, previous, "training_fingerprint", {"r": "f"}, required=required, batch_size=batch_size
        )
        rows = _read(carried, batch_size)
        assert carried.runs == {} and (rows is None or rows.num_rows == 0)
    engine, previous = as_previous(models)
    carried = reuse.carry_over(engine, previous, "training_fingerprint", {"r": "f"}, required=("model_json",))
    assert carried.runs == {"r": "f"} and carried.rows.to_pylist() == models.to_pylist()


@pytest.mark.parametrize("force", [True, "True", "true"])
def test_force_carries_nothing(as_previous, force):
    engine, previous = as_previous(_scores(_score_rows("a", "fa")))
    carried = reuse.carry_over(engine, previous, "score_fingerprint", {"a": "fa"}, force=force)
    assert carried.runs == {} and carried.rows.num_rows == 0
    streamed = reuse.carry_over(engine, previous, "score_fingerprint", {"a": "fa"}, force=force, batch_size=5)
    assert streamed.runs == {} and list(streamed.rows) == []
    assert reuse.carry_over(engine, previous, "score_fingerprint", {"a": "fa"}, force="False").runs == {"a": "fa"}
    with pytest.raises(ValueError, match="lookalike_force_retrain"):
        reuse.carry_over(engine, previous, "score_fingerprint", {"a": "fa"}, force="sometimes")


def test_no_previous_table_or_nothing_wanted_carries_nothing():
    engine = engine_for(None)
    for carried in (
        reuse.carry_over(engine, None, "score_fingerprint", {"a": "fa"}),
        reuse.carry_over(engine, _scores(_score_rows("a", "fa")), "score_fingerprint", {}),
        reuse.carry_over(engine, _scores(_score_rows("a", "fa")), "score_fingerprint", {"a": None}),
    ):
        assert carried.runs == {} and carried.rows.num_rows == 0
    assert list(reuse.carry_over(engine, None, "score_fingerprint", {"a": "fa"}, batch_size=3).rows) == []


@pytest.mark.parametrize("batch_size", [None, 1])
def test_hostile_run_ids_are_carried_exactly(as_previous, batch_size):
    rows = []
    for i, rid in enumerate(HOSTILE_RUNS):
        rows += _score_rows(rid, f"fp{i}", 2)
    rows += _score_rows("it''s", "fp0", 1)  # the SQL-escaped form of "it's" is another run
    rows += _score_rows('a""b', "fp1", 1)
    engine, previous = as_previous(_scores(rows))
    wanted = {rid: f"fp{i}" for i, rid in enumerate(HOSTILE_RUNS)}
    wanted["ünï ñame ✓"] = "changed"  # a changed key is not carried, whatever the name
    carried = reuse.carry_over(engine, previous, "score_fingerprint", wanted, batch_size=batch_size)
    expected = {rid: fp for rid, fp in wanted.items() if rid != "ünï ñame ✓"}
    assert carried.runs == expected
    assert _keys(_read(carried, batch_size)) == sorted((rid, u) for rid in expected for u in ("0", "1"))
    if as_previous.kind == "duckdb":  # nothing was executed as SQL
        assert as_previous.con.execute("select count(*) from prev").fetchone()[0] == len(rows)


def test_a_key_of_several_columns_must_match_in_every_column(as_previous):
    prev = pa.table(
        {
            "run_id": ["r1", "r1", "r2", "r3"],
            "dialect": ["duckdb", "spark", "duckdb", "duckdb"],
            "model_sha256": ["m1", "m1", "m2", "m3"],
            "library_version": ["1.0", "1.0", "0.9", None],
        }
    )
    engine, previous = as_previous(prev)
    wanted = {"r1": ("m1", "1.0"), "r2": ("m2", "1.0"), "r3": ("m3", "1.0"), "r4": ("m4", None)}
    carried = reuse.carry_over(engine, previous, ("model_sha256", "library_version"), wanted)
    assert carried.runs == {"r1": ("m1", "1.0")}  # r2: older library; r3: no stored version; r4: no key
    assert sorted(carried.rows.column("dialect").to_pylist()) == ["duckdb", "spark"]
    with pytest.raises(ValueError, match="needs 2 values"):
        reuse.carry_over(engine, previous, ("model_sha256", "library_version"), {"r1": ("m1",)})


def test_rows_read_now_outlive_the_table_they_came_from():
    """What is carried without batch_size is read before carry_over returns: the model may then
    replace its table (Spark refuses to overwrite a table its result still reads)."""
    con = duckdb.connect()
    con.execute("create table prev as select 'a' as run_id, 'fa' as score_fingerprint, 0.5 as score")
    previous = con.sql("select * from prev")
    carried = reuse.carry_over(engine_for(previous), previous, "score_fingerprint", {"a": "fa"})
    con.execute("drop table prev")
    assert carried.runs == {"a": "fa"} and carried.rows.to_pylist() == [
        {"run_id": "a", "score_fingerprint": "fa", "score": 0.5}
    ]


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


# --- decision 0047: which runs' derived rows may be carried ---------------------------------------


def test_reused_model_fingerprints_take_every_unchanged_model_only_when_the_models_table_is_unchanged():
    rows = [
        {"run_id": "kept", "training_fingerprint": "f1", "training_action": "reused"},
        {"run_id": "fitted", "training_fingerprint": "f2", "training_action": "trained"},
        {"run_id": "failed", "training_fingerprint": None, "training_action": None},
    ]
    # A models table written by this build: only the runs it carried over ('reused'); a run refitted
    # under an unchanged fingerprint (a tampered model) says 'trained' and is left out.
    assert reuse.reused_model_fingerprints(rows) == {"kept": "f1"}
    # Not written since the derived table was: every model row is the one the derived rows came from.
    assert reuse.reused_model_fingerprints(rows, models_unchanged=True) == {"kept": "f1", "fitted": "f2"}
    for force in (True, "true"):
        assert reuse.reused_model_fingerprints(rows, force, models_unchanged=True) == {}


class _This:
    database = "memory"
    schema = "main"

    def __init__(self, identifier):
        self.identifier = identifier


def _state(con, rows, schema="main"):
    con.execute(
        f"create or replace table {schema}.lookalike_build_state (relation_name varchar, invocation_id varchar, "
        "action varchar, inputs_key varchar, rows_checksum varchar, recorded_at timestamp)"
    )
    for name, action, at in rows:
        con.execute(
            f"insert into {schema}.lookalike_build_state values (?, 'i', ?, 'k', null, timestamp '2026-12-01' + to_seconds(?))",
            [name, action, at],
        )


def test_models_unchanged_since_reads_the_latest_built_rows_of_the_build_state():
    con = duckdb.connect()
    this = _This("lookalike_feature_importance")
    importance, models = "memory.main.lookalike_feature_importance", "memory.main.lookalike_run_models"
    # No record at all (reuse layer off): cannot tell.
    assert reuse.models_unchanged_since(con, this, "main") is False
    _state(con, [(models, "built", 1), (importance, "built", 2)])
    assert reuse.models_unchanged_since(con, this, "main") is True
    # Kept afterwards (a delta day): still the rows the derived table read.
    _state(con, [(models, "built", 1), (importance, "built", 2), (models, "kept", 3), (importance, "kept", 4)])
    assert reuse.models_unchanged_since(con, this, "main") is True
    # The models table written again after the derived table (a refit, a tampered model): not unchanged.
    _state(con, [(models, "built", 1), (importance, "built", 2), (models, "built", 3)])
    assert reuse.models_unchanged_since(con, this, "main") is False
    # The derived table never built, or the models table never built: cannot tell.
    _state(con, [(models, "built", 1)])
    assert reuse.models_unchanged_since(con, this, "main") is False
    _state(con, [(importance, "built", 2), (models, "kept", 3)])
    assert reuse.models_unchanged_since(con, this, "main") is False
    # Names without the database (an adapter whose relations have none) are read too.
    _state(con, [("main.lookalike_run_models", "built", 1), ("main.lookalike_feature_importance", "built", 2)])
    assert reuse.models_unchanged_since(con, this, "main") is True
    # Rows of another schema's tables, a missing state schema or config, no session: False.
    _state(
        con,
        [("memory.other.lookalike_run_models", "built", 1), ("memory.other.lookalike_feature_importance", "built", 2)],
    )
    assert reuse.models_unchanged_since(con, this, "main") is False
    assert reuse.models_unchanged_since(con, this, "nowhere") is False
    assert reuse.models_unchanged_since(con, this, None) is False
    assert reuse.models_unchanged_since(None, this, "main") is False


def test_models_unchanged_since_quotes_hostile_schema_names():
    con = duckdb.connect()
    con.execute("create table sentinel_keep as select 1 as x")
    hostile = 'st"; drop table sentinel_keep; --'
    con.execute(f'create schema "{hostile.replace(chr(34), chr(34) * 2)}"')
    con.execute(
        f'create table "{hostile.replace(chr(34), chr(34) * 2)}".lookalike_build_state (relation_name varchar, '
        "invocation_id varchar, action varchar, inputs_key varchar, rows_checksum varchar, recorded_at timestamp)"
    )
    this = _This("it's")
    assert reuse.models_unchanged_since(con, this, hostile) is False
    assert con.execute("select * from sentinel_keep").fetchall() == [(1,)]
