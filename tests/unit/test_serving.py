"""lookalike_udf.serving.publish without dbt: where the serving file goes, what it holds, and that a
failed publication leaves the previous file (and no temp file) in place."""

from __future__ import annotations

import duckdb
import pytest

from lookalike_udf.serving import MANIFEST_TABLE, publish, published_build_id


@pytest.fixture
def warehouse(tmp_path):
    (tmp_path / "wh").mkdir()
    con = duckdb.connect(str(tmp_path / "wh" / "w.duckdb"))
    con.execute("create table runs as select 'r' || range as run_id from range(3)")
    con.execute("create table scores as select 'r1' as run_id, range as user_id from range(5)")
    yield con, tmp_path
    con.close()


def test_relative_path_goes_next_to_the_warehouse_file(warehouse):
    con, tmp = warehouse
    cur = con.cursor()
    manifest = publish(cur, {"lookalike_runs": cur.query("select * from runs"),
                             "lookalike_user_scores": cur.query("select * from scores")}, "serving/lookalike.duckdb")
    target = tmp / "wh" / "serving" / "lookalike.duckdb"
    assert manifest.column("n_rows").to_pylist() == [3, 5]
    assert manifest.column("serving_file").to_pylist() == [str(target)] * 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["lookalike.duckdb"]
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("select count(*) from lookalike_user_scores").fetchone() == (5,)
        assert reader.execute(f"select count(distinct build_id), count(*) from {MANIFEST_TABLE}").fetchone() == (1, 2)
    assert "lookalike_serving" not in str(con.execute("select list(database_name) from duckdb_databases()").fetchone())


def test_failed_publication_keeps_the_previous_file(warehouse):
    con, tmp = warehouse
    cur = con.cursor()
    publish(cur, {"lookalike_runs": cur.query("select * from runs")}, str(tmp / "out.duckdb"))
    with pytest.raises(duckdb.Error, match="boom"):
        publish(cur, {"lookalike_runs": cur.query("select * from runs"),
                      "broken": cur.query("select error('boom') as x from runs")}, str(tmp / "out.duckdb"))
    assert sorted(p.name for p in tmp.iterdir() if p.is_file()) == ["out.duckdb"]
    with duckdb.connect(str(tmp / "out.duckdb"), read_only=True) as reader:
        assert reader.execute(f"select list(table_name) from {MANIFEST_TABLE}").fetchone() == (["lookalike_runs"],)


def test_in_memory_warehouse_needs_an_absolute_path():
    con = duckdb.connect()
    with pytest.raises(ValueError, match="absolute lookalike_serving_path"):
        publish(con, {"t": con.query("select 1 as x")}, "serving/lookalike.duckdb")


def test_published_build_id_names_the_file_a_build_would_keep(warehouse):
    """What lookalike_serving_build_id() tells the materialization: the build id of a complete
    serving file at the resolved path, else None (decision 0019)."""
    con, tmp = warehouse
    cur = con.cursor()
    db_path = str(tmp / "wh" / "w.duckdb")
    assert published_build_id("serving/lookalike.duckdb", db_path) is None  # no file yet
    publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "serving/lookalike.duckdb", build_id="b1")
    assert published_build_id("serving/lookalike.duckdb", db_path) == "b1"
    assert published_build_id(str(tmp / "wh" / "serving" / "lookalike.duckdb"), None) == "b1"  # absolute
    # Relative to another build database: no file there. In memory: no folder at all.
    assert published_build_id("serving/lookalike.duckdb", str(tmp / "w2.duckdb")) is None
    assert published_build_id("serving/lookalike.duckdb", ":memory:") is None
    assert published_build_id(None, db_path) is None
    # A reader holding the file does not stop the check.
    with duckdb.connect(str(tmp / "wh" / "serving" / "lookalike.duckdb"), read_only=True):
        assert published_build_id("serving/lookalike.duckdb", db_path) == "b1"
    # Not a serving file: a DuckDB file without the manifest, and a file that is not DuckDB.
    duckdb.connect(str(tmp / "other.duckdb")).execute("create table t as select 1 as x").close()
    assert published_build_id(str(tmp / "other.duckdb"), None) is None
    (tmp / "junk.duckdb").write_bytes(b"not a database")
    assert published_build_id(str(tmp / "junk.duckdb"), None) is None
