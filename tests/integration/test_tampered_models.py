"""A corrupt or edited stored model is refitted on the next plain build, or fails only its run with a
message naming the run and the fix; it never scores (real `dbt build`s on the hand-made fixture).

Build sequence on one DuckDB file: a first build, then for each edit of run 'pit''s
lookalike_run_models.model_json (model_sha256 untouched) a plain rebuild:
1. the JSON cut in half (invalid JSON);
2. a split node pointing at a child outside its tree (bad node index);
3. the encoder missing a feature (wrong feature count);
4. every leaf value set to 1e6: a valid shape that would score every user 1.0.
Each rebuild must succeed, refit 'pit' to the first build's model (same examples) with a warning,
and leave 'single' reused and scored. Before the first rebuild, run 'single''s scoring SQL
(lookalike_run_scoring_sql.sql_text, sql_sha256 untouched) gets a planted `drop table ...; create
table ...`: macro lookalike.score refuses it (`dbt compile --inline`, no build), and the first rebuild
compiles the SQL anew (issue 25 item 7). Then the models downstream of lookalike_run_models are built
alone (`--select lookalike_run_models+ --exclude lookalike_run_models`) over edited models (both
model_json and split_model_json: 'pit' has negatives, so it is refitted on every label), as
they would read a model edited mid-build: 'pit' must fail alone, with the message naming the fix,
and the plain build that message recommends must recover it; that build's serving path names the
build's own database (through a symlinked folder and `..`), so only lookalike_serving fails, and the
database keeps every table (issue 25 item 6). Finally, the scoring entry point is called directly on
the built tables with an edited model.
"""

from __future__ import annotations

import json
import re

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from conftest import build_state, query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS
from lookalike_udf import dbt_models
from lookalike_udf.dbt_models import sql_recompiled_message, sql_sha256
from lookalike_udf.integrity import model_sha256
from lookalike_udf.scoring import LookalikeModel
from model_edits import EDITS, every_score_one

pytestmark = pytest.mark.integration

WARNING = (
    "run 'pit': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
    "corrupted since it was trained); it was retrained."
)
FAILURE = (
    "run 'pit': the stored model in lookalike_run_models did not match its checksum model_sha256 (edited or "
    "corrupted since it was trained), so it was not used. Run `dbt build` again to refit it (a stored model "
    "that fails this check is refitted), or refit every run with "
    "`dbt build --vars '{lookalike_force_retrain: true}'`."
)


#: Appended to run 'single''s stored scoring SQL: pasted into a host model by lookalike.score it would
#: drop a table and create another (issue 25 item 7).
PLANTED = "; drop table main.lookalike_runs; create table main.lookalike_planted as select 42 as x"
#: The serving path of the recovering build: the build's own database, through a symlinked folder and `..`.
SERVING_AT_BUILD_DB = "./alias/serving/../fixture.duckdb"
#: A host model's SQL scoring with both runs: 'pit' is intact (and verifies), 'single' is tampered.
SCORE_BOTH = (
    "select * from ({{ lookalike.score('pit', ref('lookalike_inference_features')) }}) as a union all "
    "select * from ({{ lookalike.score('single', ref('lookalike_inference_features')) }}) as b"
)


def tamper_scoring_sql(db, run_id: str) -> None:
    """Append PLANTED to the run's stored duckdb scoring SQL, sql_sha256 untouched."""
    con = duckdb.connect(str(db))
    con.execute(
        "update main.lookalike_run_scoring_sql set sql_text = sql_text || ? where run_id = ? and dialect = 'duckdb'",
        [PLANTED, run_id],
    )
    con.close()


def edit_pit(db, edit, columns=("model_json",)) -> None:
    """Replace run 'pit''s ``columns`` (model_json; split_model_json, the model of its metrics, since
    'pit' is refitted on every label: decision 0032) by ``edit`` of them, checksums untouched."""
    con = duckdb.connect(str(db))
    for column in columns:
        [(text,)] = con.execute(f"select {column} from main.lookalike_run_models where run_id = 'pit'").fetchall()
        con.execute(f"update main.lookalike_run_models set {column} = ? where run_id = 'pit'", [edit(text)])
    con.close()


def state(db) -> dict:
    runs = {
        r["run_id"]: r
        for r in query_dicts(
            db, "select run_id, status, status_message, training_action, scoring_action from lookalike_runs"
        )
    }
    models = {
        r["run_id"]: r
        for r in query_dicts(
            db,
            "select run_id, model_json, model_sha256, training_fingerprint from lookalike_run_models "
            "where model_status = 'TRAINED'",
        )
    }
    scores = {
        run: query(
            db,
            "select user_id, score from lookalike_user_scores "
            f"where run_id = '{run}' and not is_stale order by user_id",
        )
        for run in ("pit", "single")
    }
    stale = {
        run: query(
            db, f"select user_id, score from lookalike_user_scores where run_id = '{run}' and is_stale order by user_id"
        )
        for run in ("pit", "single")
    }
    n_predictions = dict(query(db, "select run_id, count(*) from lookalike_training_predictions group by run_id"))
    importance = dict(query(db, "select run_id, count(*) from lookalike_feature_importance group by run_id"))
    scores_key = build_state(db)["int_lookalike__population_scores"]["inputs_key"]
    scoring_sql = {
        r["run_id"]: r
        for r in query_dicts(
            db,
            "select run_id, sql_text, sql_sha256, compile_action, compile_message from lookalike_run_scoring_sql "
            "where dialect = 'duckdb'",
        )
    }
    tables = {f"{schema}.{name}" for schema, name in query(db, "select schema_name, table_name from duckdb_tables()")}
    return {
        "runs": runs,
        "models": models,
        "scores": scores,
        "stale": stale,
        "n_predictions": n_predictions,
        "importance": importance,
        "scores_key": scores_key,
        "scoring_sql": scoring_sql,
        "tables": tables,
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("tampered")
    db = copy_fixture_build(fixture_build, work)  # the first build: the session's (integration/conftest.py)
    out = {"db": db, "work": work, "first": state(db)}
    serving = work / "serving" / "lookalike.duckdb"
    [(out["first_serving_build"],)] = query(serving, "select distinct build_id from lookalike_serving_build")
    tamper_scoring_sql(db, "single")
    out["tampered_sql"] = state(db)["scoring_sql"]["single"]["sql_text"]
    # A host model pasting the tampered SQL: refused at compile time (a compile only, no build).
    out["score_compile"] = run_dbt(["compile", "--inline", SCORE_BOTH], db, work, vars=FIXTURE_VARS, check=False)
    for case, edit in EDITS.items():
        edit_pit(db, edit)
        run_dbt(["build"], db, work, vars=FIXTURE_VARS)  # a plain rebuild; raises unless dbt exits 0
        out[case] = state(db)
    [(out["serving_sql"],)] = query(
        serving, "select sql_text from lookalike_run_scoring_sql where run_id = 'single' and dialect = 'duckdb'"
    )
    out["serving_tables"] = {name for (name,) in query(serving, "select table_name from duckdb_tables()")}

    # Both of pit's models: the scoring model (population) and the split model (predictions, importance).
    edit_pit(db, every_score_one, columns=("model_json", "split_model_json"))
    run_dbt(
        ["build", "--select", "lookalike_run_models+", "--exclude", "lookalike_run_models"], db, work, vars=FIXTURE_VARS
    )
    out["downstream_only"] = state(db)
    # The recovering plain build, with the serving path naming the build's own database: only the
    # serving model may fail (issue 25 item 6).
    (work / "alias").symlink_to(work, target_is_directory=True)
    recovering = run_dbt(
        ["build"], db, work, vars={**FIXTURE_VARS, "lookalike_serving_path": SERVING_AT_BUILD_DB}, check=False
    )
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    out["recovering"] = {
        "proc": recovering,
        "status": {r["unique_id"].split(".")[-1]: r["status"] for r in results},
        "serving_message": next(r["message"] for r in results if r["unique_id"].endswith(".lookalike_serving")),
    }
    out["recovered"] = state(db)
    [(out["last_serving_build"],)] = query(serving, "select distinct build_id from lookalike_serving_build")
    return out


def test_first_build_stores_the_checksum_of_every_model(builds):
    first = builds["first"]
    assert set(first["models"]) == {"pit", "single"}
    for row in first["models"].values():
        assert row["model_sha256"] == model_sha256(row["model_json"])
    assert first["runs"]["pit"]["status"] == first["runs"]["single"]["status"] == "FINISHED"


@pytest.mark.parametrize("case", list(EDITS))
def test_a_tampered_model_is_retrained_on_a_plain_rebuild_and_the_other_run_is_untouched(builds, case):
    first, after = builds["first"], builds[case]
    pit = after["runs"]["pit"]
    assert pit["status"] == "FINISHED" and pit["training_action"] == "trained"
    assert WARNING in pit["status_message"]
    # The refit on the same examples is the first build's model, so its scores are the first build's.
    assert after["models"]["pit"]["model_json"] == first["models"]["pit"]["model_json"]
    assert after["models"]["pit"]["model_sha256"] == model_sha256(after["models"]["pit"]["model_json"])
    # Its score fingerprint is the first build's again, so the scores the first build made with this very
    # model are carried over; the tampered model scored nothing.
    assert pit["scoring_action"] == "reused"
    assert [u for u, _ in after["scores"]["pit"]] == [u for u, _ in first["scores"]["pit"]]
    np.testing.assert_allclose(
        [s for _, s in after["scores"]["pit"]], [s for _, s in first["scores"]["pit"]], rtol=0, atol=1e-9
    )
    assert len({s for _, s in after["scores"]["pit"]}) > 1 and max(s for _, s in after["scores"]["pit"]) < 1.0
    assert after["n_predictions"] == first["n_predictions"]
    single = after["runs"]["single"]
    assert single["status"] == "FINISHED" and (single["training_action"], single["scoring_action"]) == (
        "reused",
        "reused",
    )
    assert after["models"]["single"] == first["models"]["single"]
    assert after["scores"]["single"] == first["scores"]["single"] and len(after["scores"]["single"]) > 0
    assert "lookalike_run_models" not in (single["status_message"] or "")


def test_models_reading_an_edited_model_fail_only_its_run_and_the_recommended_build_recovers(builds):
    first, failed, recovered = builds["first"], builds["downstream_only"], builds["recovered"]
    pit = failed["runs"]["pit"]
    assert pit["status"] == "FAILED" and pit["scoring_action"] is None
    assert pit["status_message"].startswith(FAILURE + " | ")
    assert failed["scores"]["pit"] == [] and "pit" not in failed["n_predictions"] and "pit" not in failed["importance"]
    # The failed run keeps its last good audience (var lookalike_on_run_failure = keep_last_good), marked stale.
    assert failed["stale"]["pit"] == first["scores"]["pit"] and first["stale"]["pit"] == []
    single = failed["runs"]["single"]
    assert single["status"] == "FINISHED" and failed["scores"]["single"] == first["scores"]["single"]
    assert failed["importance"]["single"] == first["importance"]["single"]
    # The scores table holds a failure marker, so it stores no key: the next build scores again
    # instead of keeping it (lookalike_keep_unless, decisions 0019 and 0025).
    assert re.fullmatch(r"[0-9a-f]{32}", first["scores_key"])
    assert failed["scores_key"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", recovered["scores_key"])

    pit = recovered["runs"]["pit"]
    assert pit["status"] == "FINISHED" and (pit["training_action"], pit["scoring_action"]) == ("trained", "scored")
    assert WARNING in pit["status_message"] and FAILURE not in pit["status_message"]
    assert [u for u, _ in recovered["scores"]["pit"]] == [u for u, _ in first["scores"]["pit"]]
    np.testing.assert_allclose(
        [s for _, s in recovered["scores"]["pit"]], [s for _, s in first["scores"]["pit"]], rtol=0, atol=1e-9
    )
    assert recovered["n_predictions"] == first["n_predictions"] and recovered["importance"] == first["importance"]


def test_an_edited_model_read_mid_build_fails_only_its_run_in_scoring(builds):
    db = builds["db"]
    with duckdb.connect(str(db), read_only=True) as con:
        models = con.sql("select * from main.lookalike_run_models").to_arrow_table()
        population = con.sql("select * from main.lookalike_inference_features").to_arrow_table()
        runs = con.sql("select * from main.int_lookalike__runs").to_arrow_table()
        fingerprints = con.sql("select * from main.int_lookalike__run_fingerprints").to_arrow_table()
        previous = con.sql("select * from main.int_lookalike__population_scores").to_arrow_table()
    rows = models.to_pylist()
    for row in rows:
        if row["run_id"] == "pit":
            row["model_json"] = every_score_one(row["model_json"])  # model_sha256 left as it was
            # The edit is a valid model: used, it would score every user 1.0.
            assert set(LookalikeModel.from_json(row["model_json"]).predict(population).tolist()) == {1.0}
    edited = pa.Table.from_pylist(rows, schema=models.schema)

    for prev in (None, previous):
        scores = (
            dbt_models.score_population(
                edited, population, batch_size=16, runs=runs, fingerprints=fingerprints, previous=prev
            )
            .read_all()
            .to_pylist()
        )
        pit = [r for r in scores if r["run_id"] == "pit"]
        assert len(pit) == 1 and pit[0]["user_id"] is None and pit[0]["score"] is None
        assert pit[0]["scoring_action"] == "failed" and pit[0]["scoring_message"] == FAILURE
        single = [r for r in scores if r["run_id"] == "single"]
        assert len(single) == population.num_rows
        assert {r["scoring_action"] for r in single} == ({"scored"} if prev is None else {"reused"})
        built = dict(query(db, "select user_id, score from int_lookalike__population_scores where run_id = 'single'"))
        assert {r["user_id"]: r["score"] for r in single} == pytest.approx(built, abs=1e-12)


def test_tampered_scoring_sql_is_refused_by_lookalike_score_and_compiled_anew_by_the_next_build(builds):
    """Issue 25 item 7: an edit to lookalike_run_scoring_sql.sql_text is neither pasted into a host
    model nor carried into later builds and the serving file; the planted statement never runs."""
    first = builds["first"]["scoring_sql"]
    for run_id, row in first.items():
        assert row["sql_sha256"] == sql_sha256(row["sql_text"]) and row["compile_message"] is None, run_id
    assert builds["tampered_sql"] == first["single"]["sql_text"] + PLANTED

    proc = builds["score_compile"]
    assert proc.returncode != 0
    # 'pit' comes first in the query and verifies; 'single' is refused with the run and the fix.
    assert (
        "lookalike.score: the duckdb SQL of run 'single' in lookalike_run_scoring_sql does not match its checksum "
        "sql_sha256 (edited or corrupted since it was compiled), so it is not used. Build the package's "
        "lookalike_run_scoring_sql again (dbt build --select lookalike_run_scoring_sql): it compiles the run's SQL "
        "anew from its stored model."
    ) in proc.stdout, proc.stdout[-3000:]
    assert "run 'pit'" not in proc.stdout and "drop table" not in proc.stdout

    rebuilt = builds[next(iter(EDITS))]["scoring_sql"]["single"]
    assert rebuilt["sql_text"] == first["single"]["sql_text"] and rebuilt["sql_sha256"] == first["single"]["sql_sha256"]
    assert (rebuilt["compile_action"], rebuilt["compile_message"]) == (
        "compiled",
        sql_recompiled_message("single", "duckdb"),
    )
    # The next build reuses the recompiled text and drops the message.
    later = builds[list(EDITS)[1]]["scoring_sql"]["single"]
    assert (later["compile_action"], later["compile_message"], later["sql_text"]) == (
        "reused",
        None,
        first["single"]["sql_text"],
    )
    assert builds["serving_sql"] == first["single"]["sql_text"]
    for name in ("first", *EDITS, "downstream_only", "recovered"):
        assert (
            "main.lookalike_runs" in builds[name]["tables"] and "main.lookalike_planted" not in builds[name]["tables"]
        )
    assert "lookalike_planted" not in builds["serving_tables"] and "lookalike_runs" in builds["serving_tables"]


def test_a_serving_path_naming_the_build_database_fails_only_the_serving_model(builds):
    """Issue 25 item 6: the serving copy used to replace the build's database (inputs and int_ tables
    gone, exit code 0). Now lookalike_serving fails before copying anything, with the path and the
    fix, every other model builds, and the database keeps every table it had."""
    recovering, db = builds["recovering"], builds["db"]
    assert recovering["proc"].returncode == 1
    assert recovering["status"]["lookalike_serving"] == "error"
    assert {name for name, status in recovering["status"].items() if status not in ("success", "pass", "warn")} == {
        "lookalike_serving"
    }
    for core in ("lookalike_runs", "lookalike_user_scores", "lookalike_audiences"):
        assert recovering["status"][core] == "success"
    message = recovering["serving_message"]
    assert (
        f"lookalike serving: var lookalike_serving_path ('{SERVING_AT_BUILD_DB}') resolves to {db}, which is "
        f"the build's own DuckDB database {db}: publishing there would replace the build's tables with the serving "
        "copy. Nothing was published and the build's database is unchanged. Set var lookalike_serving_path to a "
        "file of its own, e.g. serving/lookalike.duckdb"
    ) in message, message
    tables = builds["recovered"]["tables"]
    assert tables >= builds["downstream_only"]["tables"] - {"main.lookalike_serving"}
    assert {
        "inputs.snapshots",
        "inputs.labels",
        "inputs.runs",
        "main.int_lookalike__runs",
        "main.int_lookalike__population_scores",
        "main.lookalike_runs",
        "main.lookalike_user_scores",
        "main.lookalike_audiences",
        "main.lookalike_serving",
    } <= tables
    assert "main.lookalike_serving_build" not in tables  # no serving copy in the build's file
    runs = builds["recovered"]["runs"]
    assert runs["pit"]["status"] == runs["single"]["status"] == "FINISHED"
    assert query(db, "select count(*) > 0 from lookalike_user_scores where run_id = 'single'") == [(True,)]
    # The serving file readers open is the last one published before (not replaced, not removed).
    assert builds["last_serving_build"] != builds["first_serving_build"]
    assert builds["last_serving_build"] == query(db, "select distinct build_id from lookalike_serving")[0][0]
