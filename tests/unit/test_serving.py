"""lookalike_udf.serving.publish without dbt: where the serving file goes, what it holds, and that a
failed publication leaves the previous file (and no temp file) in place."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import duckdb
import pytest

from lookalike_udf.serving import (
    MANIFEST_TABLE,
    ServingPathError,
    publish,
    published_build_id,
)


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
    manifest = publish(
        cur,
        {"lookalike_runs": cur.query("select * from runs"), "lookalike_user_scores": cur.query("select * from scores")},
        "serving/lookalike.duckdb",
    )
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
        publish(
            cur,
            {
                "lookalike_runs": cur.query("select * from runs"),
                "broken": cur.query("select error('boom') as x from runs"),
            },
            str(tmp / "out.duckdb"),
        )
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


FIX = (
    "Set var lookalike_serving_path to a file of its own, e.g. serving/lookalike.duckdb (the default: next to the "
    "build's database), or turn publishing off with lookalike_serving: false."
)


@pytest.mark.parametrize("form", ["absolute", "relative", "dotdot", "symlink", "symlinked_folder", "hard_link", "wal"])
def test_the_build_database_is_refused_before_anything_is_copied(warehouse, form):
    """Issue 25 item 6: a serving path that is the build's own database file (in any spelling, or its
    WAL) used to be replaced by the serving copy. It is refused, and the database keeps its tables."""
    con, tmp = warehouse
    db = tmp / "wh" / "w.duckdb"
    (tmp / "wh" / "x").mkdir()
    if form == "symlink":
        (tmp / "link.duckdb").symlink_to(db)
    if form == "symlinked_folder":
        (tmp / "alias").symlink_to(tmp / "wh", target_is_directory=True)
    if form == "hard_link":
        os.link(db, tmp / "hard.duckdb")
    serving_path = {
        "absolute": str(db),
        "relative": "w.duckdb",
        "dotdot": "./x/../w.duckdb",
        "symlink": str(tmp / "link.duckdb"),
        "symlinked_folder": "../alias/w.duckdb",
        "hard_link": str(tmp / "hard.duckdb"),
        "wal": "w.duckdb.wal",
    }[form]
    before = sorted(p.name for p in (tmp / "wh").iterdir())
    cur = con.cursor()
    with pytest.raises(ServingPathError) as raised:
        publish(cur, {"lookalike_runs": cur.query("select * from runs")}, serving_path)
    message = str(raised.value)
    assert message.startswith(f"lookalike serving: var lookalike_serving_path ('{serving_path}') resolves to ")
    assert f"which is the build's own DuckDB database {db}" in message
    assert ("(or its write-ahead log)" in message) == (form == "wal")
    assert message.endswith(
        "publishing there would replace the build's tables with the serving copy. Nothing was "
        f"published and the build's database is unchanged. {FIX}"
    )
    assert sorted(p.name for p in (tmp / "wh").iterdir()) == before  # no temp file, nothing renamed
    assert con.execute("select count(*) from runs").fetchall() == [(3,)]
    assert con.execute("select list(table_name order by table_name) from duckdb_tables()").fetchall() == [
        (["runs", "scores"],)
    ]
    assert not [
        d
        for (d,) in con.execute("select database_name from duckdb_databases()").fetchall()
        if d.startswith("lookalike_serving")
    ]


def test_a_folder_or_a_name_without_extension_is_refused(warehouse):
    con, tmp = warehouse
    cur = con.cursor()
    (tmp / "wh" / "serving.duckdb").mkdir()
    with pytest.raises(ServingPathError) as raised:
        publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "serving.duckdb")
    assert str(raised.value) == (
        f"lookalike serving: var lookalike_serving_path ('serving.duckdb') names the folder {tmp / 'wh' / 'serving.duckdb'}; "
        f"it must name a file in a folder, e.g. 'serving.duckdb/lookalike.duckdb'. Nothing was published. {FIX}"
    )
    with pytest.raises(
        ServingPathError, match=r"\('serving'\) must name a DuckDB file with an extension other than .wal"
    ):
        publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "serving")
    (tmp / "wh" / "afile").write_text("")
    with pytest.raises(ServingPathError, match=r"\('afile/s.duckdb'\) names .*, whose folder cannot be created"):
        publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "afile/s.duckdb")
    assert sorted(p.name for p in (tmp / "wh").iterdir() if not p.name.startswith("w.duckdb")) == [
        "afile",
        "serving.duckdb",
    ]
    assert not list((tmp / "wh" / "serving.duckdb").iterdir())  # nothing written into the folder


HOLDER = """
import sys, time, duckdb
con = duckdb.connect()
con.execute("attach '" + sys.argv[1].replace("'", "''") + "' as held")
con.execute("create table held.t as select range as x from range(10)")
print("ready", flush=True)
sys.stdin.read()
"""


def test_publish_removes_temp_files_that_killed_publications_left(warehouse):
    """Issue 25 item 6: a publication killed before its rename leaves a full-size hidden temp file.
    The next publication removes every file of the package's temp pattern for this serving file that
    no process holds (DuckDB locks the files it has open); the temp file of a publication still
    running elsewhere, and files of any other name, stay."""
    con, tmp = warehouse
    serving = tmp / "wh" / "serving"
    serving.mkdir()
    orphan = serving / f".lookalike.duckdb.{uuid.uuid4().hex}.tmp"
    duckdb.connect(str(orphan)).execute("create table t as select range as x from range(100000)").close()
    assert orphan.stat().st_size > 0
    orphan_wal = orphan.with_name(orphan.name + ".wal")
    orphan_wal.write_bytes(b"x" * 100)
    lone_wal = serving / f".lookalike.duckdb.{uuid.uuid4().hex}.tmp.wal"  # its .tmp already gone
    lone_wal.write_bytes(b"x")
    others = [
        serving / f".lookalike.duckdb.{'z' * 32}.tmp",
        serving / f".other.duckdb.{uuid.uuid4().hex}.tmp",
        serving / "notes.tmp",
        serving / f"lookalike.duckdb.{uuid.uuid4().hex}.tmp",
    ]
    for path in others:
        path.write_text("not ours")
    running = serving / f".lookalike.duckdb.{uuid.uuid4().hex}.tmp"  # another process is writing it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(running)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        cur = con.cursor()
        publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "serving/lookalike.duckdb")
        left = sorted(p.name for p in serving.iterdir())
        running_wal = [running.name + ".wal"] if (serving / (running.name + ".wal")).exists() else []
        assert left == sorted(["lookalike.duckdb", running.name, *running_wal, *(p.name for p in others)])
        assert not orphan.exists() and not orphan_wal.exists() and not lone_wal.exists()
    finally:
        holder.communicate("", timeout=30)
    # Once its process is gone the file is an orphan too: the next publication removes it.
    cur = con.cursor()
    publish(cur, {"lookalike_runs": cur.query("select * from runs")}, "serving/lookalike.duckdb")
    assert sorted(p.name for p in serving.iterdir()) == sorted(["lookalike.duckdb", *(p.name for p in others)])
    with duckdb.connect(str(serving / "lookalike.duckdb"), read_only=True) as reader:
        assert reader.execute("select count(*) from lookalike_runs").fetchall() == [(3,)]
