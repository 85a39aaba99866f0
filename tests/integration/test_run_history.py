"""Run history across builds and audience churn (issue 30 parts 1 and 4, decision 0029).

Three real `dbt build`s on one database: A is the session's fixture build (copied,
integration/conftest.py); B rebuilds the copy with `--full-refresh`, a larger audience (top 30 %)
and another random seed, plus a run with a hostile id; before C, build A's history rows are moved
100 days back (retention 90 days must delete exactly them) and B's top drift PSI of run 'pit' is
set to 0 (so the drift check, over 2 builds, has a known answer); C selects the top 20 % and raises
lookalike_min_seed_users to 13, which fails run 'single' (12 seeds), whose last good audience is
kept. Every expected figure is recounted in Python from the tables each build left.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from conftest import query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS, uid

pytestmark = pytest.mark.integration

HOSTILE_RUN = "si'ngle\"; drop table main.sentinel_keep; --{{ 1 }}\n€"
HISTORY = {
    "lookalike_run_history": "built_at",
    "lookalike_feature_drift_history": "built_at",
    "lookalike_audience_history": "published_at",
}
VARS_B = {**FIXTURE_VARS, "lookalike_audience_top_pct": 30, "lookalike_random_seed": 7}
VARS_C = {
    **VARS_B,
    "lookalike_audience_top_pct": 20,
    "lookalike_min_seed_users": 13,
    "lookalike_history_retention_days": 90,
    "lookalike_history_drift_rising_builds": 2,
    "lookalike_history_min_audience_overlap": 0.99,
}


def rows(db, table) -> list[tuple]:
    return sorted(query(db, f"select * from {table}"), key=repr)


def history_rows(db) -> dict[str, list[tuple]]:
    return {table: rows(db, table) for table in HISTORY}


def by_build(db, build_id) -> dict[str, dict]:
    return {
        r["run_id"]: r
        for r in query_dicts(db, f"select * from lookalike_run_history where build_id = '{build_id}' order by run_id")
    }


def audiences(db) -> dict[str, set[str]]:
    """The audience each run published in the last build (rows not kept from an earlier build)."""
    out: dict[str, set[str]] = {}
    for run_id, user_id in query(db, "select run_id, user_id from lookalike_audiences where not is_stale"):
        out.setdefault(run_id, set()).add(user_id)
    return out


def last_build_id(db) -> str:
    return query(db, "select build_id from lookalike_run_history order by built_at desc limit 1")[0][0]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("run_history")
    db = copy_fixture_build(fixture_build, work)
    out = {"db": db}
    out["A"] = last_build_id(db)
    out["history_A"] = history_rows(db)
    out["audiences_A"] = audiences(db)
    out["runs_A"] = by_build(db, out["A"])

    con = duckdb.connect(str(db))
    con.execute("create table main.sentinel_keep as select 42 as kept")
    con.execute("insert into inputs.runs values (?, 'hostile id', 'SINGLE_ENGAGE', false)", [HOSTILE_RUN])
    con.executemany(
        "insert into inputs.labels values (?, ?, 1, '2026-03-05 00:00:00', null)",
        [(HOSTILE_RUN, uid(i)) for i in range(1, 16)],
    )
    con.close()
    out["proc_B"] = run_dbt(["build", "--full-refresh"], db, work, vars=VARS_B)
    out["B"] = last_build_id(db)
    out["history_B"] = history_rows(db)
    out["audiences_B"] = audiences(db)
    out["runs_B"] = by_build(db, out["B"])
    out["counts_B"] = dict(query(db, "select run_id, count(*) from lookalike_run_history group by run_id"))

    con = duckdb.connect(str(db))
    for table, column in HISTORY.items():
        con.execute(
            f"update {table} set {column} = {column} - interval 100 day where build_id = ?",
            [out["A"]],
        )
    con.execute(
        "update lookalike_run_history set top_drift_psi = 0.0 where build_id = ? and run_id = 'pit'", [out["B"]]
    )
    con.close()
    out["history_before_C"] = history_rows(db)
    out["proc_C"] = run_dbt(["build"], db, work, vars=VARS_C)
    out["C"] = last_build_id(db)
    out["history_C"] = history_rows(db)
    out["audiences_C"] = audiences(db)
    out["runs_C"] = by_build(db, out["C"])
    out["stale_C"] = query(db, "select distinct run_id from lookalike_audiences where is_stale")
    # D: the history alone (lookalike_audiences is not rebuilt): the same audiences again.
    out["proc_D"] = run_dbt(
        ["build", "-s", "lookalike_audience_history", "lookalike_run_history"], db, work, vars=VARS_C
    )
    out["D"] = last_build_id(db)
    out["runs_D"] = by_build(db, out["D"])
    return out


def test_each_build_adds_one_row_per_run_and_keeps_the_earlier_ones(builds):
    runs_A = set(builds["runs_A"])
    assert runs_A == {"pit", "single", "few_negatives", "ghost"}  # FAILED runs get a row too
    assert builds["runs_A"]["few_negatives"]["status"] == "FAILED"
    # After B (a --full-refresh build): two rows per run, the new run one, and every row of A
    # unchanged, value for value, in all three relations.
    assert builds["counts_B"] == {**dict.fromkeys(runs_A, 2), HOSTILE_RUN: 1}
    for table in HISTORY:
        first = builds["history_A"][table]
        assert first, table
        assert [r for r in builds["history_B"][table] if r[0] == builds["A"]] == first, table
    assert builds["A"] != builds["B"]
    # One build id and one build time per build.
    assert len({(r["build_id"], r["built_at"]) for r in builds["runs_B"].values()}) == 1
    assert {r["built_at"] for r in builds["runs_B"].values()} != {r["built_at"] for r in builds["runs_A"].values()}


def test_history_rows_equal_the_tables_of_their_build(builds):
    db = builds["db"]
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    for run_id, row in builds["runs_C"].items():
        for column in ("status", "health", "quality_band", "audience_state", "training_action", "test_auc"):
            assert row[column] == runs[run_id][column], (run_id, column)
    audience = dict(query(db, "select run_id, count(*) from lookalike_audiences group by run_id"))
    cutoff = dict(query(db, "select run_id, min(cutoff_score) from lookalike_audiences group by run_id"))
    for run_id, row in builds["runs_C"].items():
        assert row["n_audience_users"] == audience.get(run_id, 0)
        assert row["audience_cutoff_score"] == cutoff.get(run_id)
    recall = dict(query(db, "select run_id, recall_top_10pct from lookalike_run_metrics where split = 'test'"))
    assert builds["runs_C"]["pit"]["recall_top_10pct"] == recall["pit"]
    top = query(
        db,
        "select feature, psi from lookalike_feature_drift where run_id = 'pit' and not is_time_relative "
        "order by psi desc, feature limit 1",
    )[0]
    assert (builds["runs_C"]["pit"]["top_drift_feature"], builds["runs_C"]["pit"]["top_drift_psi"]) == top
    drift = query(db, "select count(*) from lookalike_feature_drift")[0][0]
    assert query(db, "select count(*) from lookalike_feature_drift_history where build_id = ?", [builds["C"]]) == [
        (drift,)
    ]


def churn(previous: set[str], current: set[str]) -> dict:
    return {
        "n_audience_entered": len(current - previous),
        "n_audience_left": len(previous - current),
        "n_audience_stayed": len(current & previous),
        "n_previous_audience_users": len(previous),
        "audience_overlap_share": len(current & previous) / len(previous),
    }


@pytest.mark.parametrize("pair", [("A", "B"), ("B", "C")])
def test_churn_is_the_recount_of_the_two_audiences(builds, pair):
    before, after = pair
    previous, current = builds[f"audiences_{before}"], builds[f"audiences_{after}"]
    compared = 0
    for run_id, row in builds[f"runs_{after}"].items():
        if run_id in previous and run_id in current:
            expected = churn(previous[run_id], current[run_id])
            assert {k: row[k] for k in expected} == expected, run_id
            assert row["previous_build_id"] == builds[before]
            assert row["audience_logged"] is True
            compared += 1
        else:
            assert row["n_audience_entered"] is None and row["previous_build_id"] is None, run_id
    assert compared >= 2 if pair == ("B", "C") else compared == 2
    # The fixture moves the audience for real: B grows it (top 5 % -> 30 %), C shrinks it.
    moved = "n_audience_entered" if pair == ("A", "B") else "n_audience_left"
    assert all(builds[f"runs_{after}"][run][moved] > 0 for run in ("pit",))


def test_the_logged_audience_is_the_published_one(builds):
    db = builds["db"]
    logged = query(
        db,
        "select run_id, user_id, score, score_rank, is_holdout from lookalike_audience_history "
        "where build_id = ? order by run_id, user_id",
        [builds["C"]],
    )
    published = query(
        db,
        "select run_id, user_id, score, score_rank, is_holdout from lookalike_audiences where not is_stale "
        "order by run_id, user_id",
    )
    assert logged == published and len(logged) > 10


def test_a_failed_run_keeps_its_row_and_shows_no_churn(builds):
    row = builds["runs_C"]["single"]
    assert row["status"] == "FAILED"
    assert row["audience_state"] == "kept_last_good"
    assert ("single",) in builds["stale_C"]  # its last good audience is still in lookalike_audiences
    assert row["n_audience_users"] > 0
    assert row["audience_logged"] is False
    assert [
        row[k] for k in ("previous_build_id", "n_audience_entered", "n_audience_left", "audience_overlap_share")
    ] == [None] * 4
    assert query(
        builds["db"],
        "select count(*) from lookalike_audience_history where build_id = ? and run_id = 'single'",
        [builds["C"]],
    ) == [(0,)]


def test_an_audience_not_rebuilt_shows_no_churn(builds):
    """Build D rebuilt only the history: every run that published an audience in C publishes the
    same one again (0 entered, 0 left); the FAILED run with its kept audience is still not compared."""
    compared = {run: row for run, row in builds["runs_D"].items() if row["previous_build_id"] is not None}
    assert set(compared) == {"pit", HOSTILE_RUN}
    for run_id, row in compared.items():
        size = len(builds["audiences_C"][run_id])
        assert row["previous_build_id"] == builds["C"]
        assert (row["n_audience_entered"], row["n_audience_left"], row["n_audience_stayed"]) == (0, 0, size), run_id
        assert row["audience_overlap_share"] == 1.0
    assert builds["runs_D"]["single"]["audience_logged"] is False
    assert builds["runs_D"]["single"]["n_audience_entered"] is None
    assert "audience vs build" in builds["proc_D"].stdout


def test_retention_deletes_exactly_the_old_rows(builds):
    before, after = builds["history_before_C"], builds["history_C"]
    for table in HISTORY:
        old = [r for r in before[table] if r[0] == builds["A"]]
        kept = [r for r in before[table] if r[0] != builds["A"]]
        assert old and kept, table
        assert [r for r in after[table] if r[0] != builds["C"]] == kept, table
        assert {r[0] for r in after[table]} == {builds["B"], builds["C"]}, table


def test_auc_drop_warning(builds):
    fired = 0
    for run_id, row in builds["runs_B"].items():
        previous = builds["runs_A"].get(run_id, {}).get("test_auc")
        message = row["history_warnings"] or ""
        drop = previous - row["test_auc"] if previous is not None and row["test_auc"] is not None else None
        assert row["previous_test_auc"] == previous
        if drop is not None and drop > 0.05:
            fired += 1
            assert (
                f"run '{run_id}': test AUC {round(row['test_auc'], 3)} is {round(drop, 3)} below the previous "
                f"build's {round(previous, 3)} (build {builds['A']}; more than var lookalike_history_max_auc_drop, 0.05)"
            ) in message
        else:
            assert "test AUC" not in message, run_id
    assert fired >= 1  # the other seed changes single's test AUC by more than 0.05 on this fixture


def test_overlap_and_rising_drift_warnings(builds):
    for run_id, row in builds["runs_C"].items():
        message = row["history_warnings"] or ""
        share = row["audience_overlap_share"]
        if share is not None and share < 0.99:
            assert (
                f"run '{run_id}': only {row['n_audience_stayed']} of the previous build's "
                f"{row['n_previous_audience_users']} audience users are still in it ({row['n_audience_entered']} entered, "
                f"{row['n_audience_left']} left; below var lookalike_history_min_audience_overlap, 0.99)"
            ) in message
        else:
            assert "audience users are still in it" not in message, run_id
        previous = builds["runs_B"].get(run_id, {}).get("top_drift_psi")
        if run_id == "pit":
            previous = 0.0  # set before C
        rising = previous is not None and row["top_drift_psi"] is not None and row["top_drift_psi"] > previous
        assert ("the top drift PSI rose in each of the last 2 builds" in message) == rising, run_id
    pit = builds["runs_C"]["pit"]
    assert pit["audience_overlap_share"] < 0.99
    assert (
        f"rose in each of the last 2 builds, from 0.0 to {round(pit['top_drift_psi'], 3)} (now {pit['top_drift_feature']}"
        in pit["history_warnings"]
    )


def test_console_shows_churn_and_history_warnings(builds):
    out = builds["proc_C"].stdout
    pit = builds["runs_C"]["pit"]
    assert (
        f"audience vs build {builds['B'][:8]}…: {pit['n_audience_entered']} entered, {pit['n_audience_left']} left, "
        f"{pit['n_audience_stayed']} of {pit['n_previous_audience_users']} stayed "
        f"({100 * pit['audience_overlap_share']:.0f} %)"
    ) in out
    assert "lookalike: run 'pit'" in out and "history: only " in out and "history: the top drift PSI rose" in out
    # The FAILED run with its last good audience kept: no churn line.
    assert not [line for line in out.splitlines() if "run 'single'" in line and "audience vs" in line]


def test_hostile_run_id(builds):
    db = builds["db"]
    assert query(db, "select kept from main.sentinel_keep") == [(42,)]
    row = builds["runs_C"][HOSTILE_RUN]
    assert row["status"] == "FINISHED" and row["audience_logged"] is True
    expected = churn(builds["audiences_B"][HOSTILE_RUN], builds["audiences_C"][HOSTILE_RUN])
    assert {k: row[k] for k in expected} == expected
    assert row["history_warnings"].startswith(f"run '{HOSTILE_RUN}': only ")
    assert query(
        db, "select count(distinct build_id) from lookalike_audience_history where run_id = ?", [HOSTILE_RUN]
    ) == [(3,)]  # B, C and D (the history alone)
    assert f"audience vs build {builds['B'][:8]}" in builds["proc_C"].stdout


FIX = ". Fix it in --vars or in the vars of dbt_project.yml (docs/variables.md)."
VAR_CASES = [
    ("lookalike_history_retention_days", 0, "is 0; it must be an integer between 1 and 36500"),
    ("lookalike_history_retention_days", 1, None),
    ("lookalike_history_retention_days", 36501, "is 36501; it must be an integer between 1 and 36500"),
    ("lookalike_history_retention_days", 2.5, "is 2.5; it must be an integer between 1 and 36500"),
    ("lookalike_history_retention_days", None, "is null; it must be set (it has no null meaning)"),
    ("lookalike_history_max_auc_drop", -0.01, "is -0.01; it must be a number between 0 and 1"),
    ("lookalike_history_max_auc_drop", 0, None),
    ("lookalike_history_max_auc_drop", 1.5, "is 1.5; it must be a number between 0 and 1"),
    ("lookalike_history_min_audience_overlap", 1, None),
    ("lookalike_history_min_audience_overlap", "half", 'is "half"; it must be a number between 0 and 1'),
    ("lookalike_history_drift_rising_builds", 1, "is 1; it must be an integer between 2 and 1000"),
    ("lookalike_history_drift_rising_builds", 2, None),
    ("lookalike_history_drift_rising_builds", 1001, "is 1001; it must be an integer between 2 and 1000"),
]


def test_history_variables_are_validated(tmp_path):
    proc = run_dbt(
        [
            "run-operation",
            "lookalike_print_var_checks",
            "--args",
            json.dumps({"pairs": [[var, value] for var, value, _ in VAR_CASES]}),
        ],
        tmp_path / "empty.duckdb",
        tmp_path,
    )
    errors = [json.loads(line)["error"] for line in proc.stdout.splitlines() if line.startswith('{"check"')]
    assert errors == [f"lookalike: variable '{var}' {e}{FIX}" if e else None for var, _, e in VAR_CASES]
