"""BI readers and builds never block each other (issue 14, finding 6; decision 0014).

Two reader processes keep reading the serving file while `dbt build` runs: one opens a fresh
read-only connection per query (as a BI tool with a connection per query does), the other holds one
connection open for the whole build. The build must succeed, the reader must never fail, and every answer must
be one complete build: the runs a build scored are exactly the runs lookalike_runs says FINISHED,
and the published row counts match the tables.

Builds (one fixture database, reused): 1. runs pit and single are scored; 2. lookalike_min_seed_users
13 fails run single (12 positive users) and drops its scores, with the reader running throughout;
3. a data test on lookalike_runs errors, so nothing is published and build 2 stays served;
4.-5. build 2's settings twice: the second time nothing changed, so the serving file is kept as it
is; 6. the serving file is deleted, and the same build publishes it again, removing the temp file
(and its WAL) that a killed publication left beside it (issue 25 item 6).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid

import duckdb
import pytest

from conftest import REPO, query, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration

#: A serving path with quotes and a statement in it: it reaches SQL in publish's ATTACH and in the
#: keep check of the serving table (builds 5 and 6), both of which must quote it.
SERVING_PATH = "serv'ing; select 1; --/look\"alike.duckdb"
VARS = {**FIXTURE_VARS, "lookalike_on_run_failure": "drop", "lookalike_serving_path": SERVING_PATH}
#: The history relations are not published (decision 0029: they change in every build).
HISTORY = {"lookalike_run_history", "lookalike_feature_drift_history", "lookalike_audience_history"}
PUBLIC_MARTS = {
    p.stem for p in (REPO / "dbt_project" / "models" / "public").iterdir() if p.suffix in (".sql", ".py")
} - HISTORY

READER = textwrap.dedent("""
    import json, sys, time, os
    import duckdb
    serving, out, stop, kind = sys.argv[1:5]
    SQL = '''
        select (select list(distinct build_id) from lookalike_serving_build),
               (select list(run_id order by run_id) from lookalike_runs where status = 'FINISHED'),
               (select list(distinct run_id order by run_id) from lookalike_user_scores),
               (select count(*) from lookalike_user_scores),
               (select max(n_rows) filter (where table_name = 'lookalike_user_scores') from lookalike_serving_build),
               (select count(*) from lookalike_runs),
               (select max(n_rows) filter (where table_name = 'lookalike_runs') from lookalike_serving_build)
    '''
    # 'held': one connection open for the whole build. 'fresh': a new connection per query. (Two
    # processes: DuckDB shares one database instance between the connections of a process, so a
    # held connection would make every new connection of its process read the old file too.)
    held = duckdb.connect(serving, read_only=True) if kind == 'held' else None
    with open(out, 'w') as f:
        while True:
            stopping = os.path.exists(stop)
            try:
                if held is None:
                    with duckdb.connect(serving, read_only=True) as con:
                        row = con.execute(SQL).fetchone()
                else:
                    row = held.execute(SQL).fetchone()
                f.write(json.dumps({'kind': kind, 't': time.time(), 'row': row}) + '\\n')
            except Exception as exc:
                f.write(json.dumps({'kind': kind, 't': time.time(), 'error': repr(exc)}) + '\\n')
            f.flush()
            if stopping:
                break
            time.sleep(0.1)
""")


def served_build(serving) -> str:
    [(build_id,)] = query(serving, "select distinct build_id from lookalike_serving_build")
    return build_id


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("bi_serving")
    db = work / "warehouse.duckdb"
    serving = work / SERVING_PATH
    build_fixture_db(db)

    first = run_dbt(["build"], db, work, vars=VARS)
    assert "ERROR=0" in first.stdout
    build1 = served_build(serving)

    (work / "reader.py").write_text(READER)
    stop = work / "stop"
    outs = {kind: work / f"reads_{kind}.jsonl" for kind in ("fresh", "held")}
    readers = [
        subprocess.Popen([sys.executable, str(work / "reader.py"), str(serving), str(out), str(stop), kind])
        for kind, out in outs.items()
    ]
    try:
        time.sleep(1.0)  # the reader holds its connection before the build starts
        started = time.perf_counter()
        second = run_dbt(["build"], db, work, vars={**VARS, "lookalike_min_seed_users": 13}, check=False)
        build_seconds = time.perf_counter() - started
        build_finished = time.time()
        time.sleep(1.0)  # let the reader see the new file
    finally:
        stop.write_text("")
        for reader in readers:
            reader.wait(timeout=60)
    reads = [json.loads(line) for out in outs.values() for line in out.read_text().splitlines()]
    build2 = served_build(serving)

    third = run_dbt(
        ["build"],
        db,
        work,
        vars={**VARS, "lookalike_min_seed_users": 13, "lookalike_failed_run_severity": "error"},
        check=False,
    )
    after_third = served_build(serving)
    with duckdb.connect(str(serving), read_only=True) as con:
        finished_after_third = con.execute(
            "select list(run_id order by run_id) from lookalike_runs where status = 'FINISHED'"
        ).fetchone()

    # 4. build 2's settings again: run 'pit' is now reused, not trained, so lookalike_runs differs
    # and the file is published. 5. The same again: every mart has the rows build 4 published and
    # the serving file is still build 4's, so nothing is copied (decision 0019). 6. The serving file
    # is deleted: the same build publishes it again.
    run_dbt(["build"], db, work, vars={**VARS, "lookalike_min_seed_users": 13})
    build4 = served_build(serving)
    mtime = serving.stat().st_mtime_ns
    fifth = run_dbt(["build"], db, work, vars={**VARS, "lookalike_min_seed_users": 13})
    kept = dict(
        build=served_build(serving),
        mtime=serving.stat().st_mtime_ns,
        stdout=fifth.stdout,
        table=query(db, "select distinct build_id from lookalike_serving"),
    )
    serving.unlink()
    # A publication killed before its rename leaves its full copy under the package's temp name.
    orphan = serving.with_name(f".{serving.name}.{uuid.uuid4().hex}.tmp")
    with duckdb.connect(str(orphan)) as con:
        con.execute("create table lookalike_user_scores as select range as x from range(50000)")
    orphan.with_name(orphan.name + ".wal").write_bytes(b"\0" * 1024)
    planted = sorted(p.name for p in serving.parent.iterdir())
    sixth = run_dbt(["build"], db, work, vars={**VARS, "lookalike_min_seed_users": 13})
    republished = dict(
        build=served_build(serving),
        stdout=sixth.stdout,
        table=query(db, "select distinct build_id from lookalike_serving"),
        planted=planted,
        left=sorted(p.name for p in serving.parent.iterdir()),
    )
    return dict(
        work=work,
        db=db,
        serving=serving,
        build1=build1,
        build2=build2,
        second=second,
        build_seconds=build_seconds,
        build_finished=build_finished,
        reads=reads,
        third=third,
        after_third=after_third,
        finished_after_third=finished_after_third,
        build4=build4,
        mtime=mtime,
        kept=kept,
        republished=republished,
    )


def test_first_build_publishes_every_public_mart(builds):
    serving, db = builds["serving"], builds["db"]
    # The last build published the file again; compare it with the manifest the build database keeps.
    published = dict(query(serving, "select table_name, n_rows from lookalike_serving_build"))
    assert set(published) == PUBLIC_MARTS
    assert dict(query(db, "select table_name, n_rows from lookalike_serving")) == published
    for table in ("lookalike_runs", "lookalike_pit_labels", "lookalike_run_models"):
        assert query(serving, f"select count(*) from {table}") == [(published[table],)]
    assert not [p.name for p in serving.parent.iterdir() if p.name != serving.name]  # no temp files left


def test_build_succeeds_while_a_reader_holds_the_serving_file(builds):
    second = builds["second"]
    assert second.returncode == 0, second.stdout[-4000:]
    assert "ERROR=0" in second.stdout
    assert builds["build2"] != builds["build1"]
    print(f"build with a reader open: {builds['build_seconds']:.1f}s; {len(builds['reads'])} reads")


def test_reader_never_fails_and_always_sees_one_complete_build(builds):
    reads = builds["reads"]
    assert len(reads) > 50
    assert not [r for r in reads if "error" in r], [r for r in reads if "error" in r][:3]
    expected = {builds["build1"]: ["pit", "single"], builds["build2"]: ["pit"]}
    for r in reads:
        build_ids, finished, scored, n_scores, published_scores, n_runs, published_runs = r["row"]
        assert len(build_ids) == 1 and build_ids[0] in expected, r
        assert finished == scored == expected[build_ids[0]], r  # runs and scores from the same build
        assert (n_scores, n_runs) == (published_scores, published_runs), r


def test_fresh_readers_see_the_new_build_and_held_connections_the_old_one(builds):
    reads = builds["reads"]
    fresh = [r["row"][0][0] for r in reads if r["kind"] == "fresh"]
    held = {r["row"][0][0] for r in reads if r["kind"] == "held"}
    assert fresh[0] == builds["build1"] and fresh[-1] == builds["build2"]
    # Once the new file is in place a new connection never goes back to the old build.
    switch = fresh.index(builds["build2"])
    assert set(fresh[switch:]) == {builds["build2"]}
    # A connection opened before the swap keeps reading the file it opened (documented: reconnect).
    assert held == {builds["build1"]}


def test_failed_build_keeps_the_last_complete_build_served(builds):
    third = builds["third"]
    assert third.returncode != 0
    assert "assert_no_failed_runs" in third.stdout and "SKIP" in third.stdout
    assert builds["after_third"] == builds["build2"]
    assert builds["finished_after_third"] == (["pit"],)


def test_unchanged_build_keeps_the_serving_file_and_a_deleted_one_is_published_again(builds):
    kept, republished = builds["kept"], builds["republished"]
    assert builds["build4"] not in (builds["build1"], builds["build2"])
    # Build 5 has build 4's marts, and the file is build 4's: it is kept, not copied again.
    assert "lookalike: lookalike_serving kept: its inputs are unchanged" in kept["stdout"]
    assert kept["build"] == builds["build4"] and kept["table"] == [(builds["build4"],)]
    assert kept["mtime"] == builds["mtime"]
    # Build 6 finds no serving file: it publishes one, with a new build id, that the table records.
    assert "lookalike_serving publishes again: the serving file is missing" in republished["stdout"]
    assert republished["build"] not in (builds["build1"], builds["build2"], builds["build4"])
    assert republished["table"] == [(republished["build"],)]
    # The killed publication's temp file and its WAL were there before, and this publication removed them.
    assert len(republished["planted"]) == 2 and all(n.endswith((".tmp", ".tmp.wal")) for n in republished["planted"])
    assert republished["left"] == [builds["serving"].name]
