"""Bad input: every run-level validation ends in a FAILED run or a warning naming the run, the
input and the fix, while the other runs finish; a failing build leaves earlier tables intact."""

from __future__ import annotations

import duckdb
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db, uid

pytestmark = pytest.mark.integration


def write_bad_inputs(db_path):
    """Labels as text (so unreadable values can occur) and runs with a settings column."""
    con = duckdb.connect(str(db_path))
    labels = []
    for run_id in ("ok", "bad_type", "bad_fraction", "bad_rows", "train_only"):
        labels += [(run_id, uid(i), "1", "2026-02-20 12:00:00", None) for i in range(1, 13)]
        labels += [(run_id, uid(i), "0", "2026-02-20 12:00:00", None) for i in range(31, 43)]
    labels += [
        ("bad_rows", uid(13), "2", "2026-02-20 12:00:00", None),     # label must be 0 or 1
        ("bad_rows", uid(14), "yes", "2026-02-20 12:00:00", None),   # unreadable label
        ("bad_rows", uid(15), "1", "2026-02-20 12:00:00", "-1"),     # weight must be > 0
        ("bad_rows", None, "1", "2026-02-20 12:00:00", None),        # no user
    ]
    con.execute("create or replace table inputs.labels_text (run_id varchar, user_id varchar, label varchar, "
                "label_timestamp timestamp, weight varchar)")
    con.executemany("insert into inputs.labels_text values (?, ?, ?, ?, ?)", labels)
    con.execute("create or replace table inputs.runs_settings (run_id varchar, run_description varchar, "
                "engagement_type varchar, build_only boolean, test_fraction double)")
    con.executemany("insert into inputs.runs_settings values (?, ?, ?, ?, ?)", [
        ("ok", "fine", "multi_engage ", False, None),  # case and spaces are forgiven
        ("bad_type", "typo", "BOTH", False, None),
        ("bad_fraction", "no test split", "MULTI_ENGAGE", False, 1.5),
        ("bad_rows", "some unusable rows", "MULTI_ENGAGE", False, None),
        ("train_only", "report only", "MULTI_ENGAGE", True, 0.25),
    ])
    con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad_input")
    db_path = work / "bad.duckdb"
    build_fixture_db(db_path)
    write_bad_inputs(db_path)
    vars = {**FIXTURE_VARS, "lookalike_labels": "inputs.labels_text", "lookalike_runs": "inputs.runs_settings"}
    proc = run_dbt(["build"], db_path, work, vars=vars)
    assert "WARN 2 assert_no_failed_runs" in proc.stdout
    return db_path, work, vars


def test_statuses(built):
    db, _, _ = built
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    assert {k: v["status"] for k, v in runs.items()} == {
        "ok": "FINISHED", "bad_type": "FAILED", "bad_fraction": "FAILED", "bad_rows": "FINISHED",
        "train_only": "FINISHED_TRAINING"}
    assert runs["ok"]["engagement_type"] == "MULTI_ENGAGE"
    assert runs["bad_type"]["status_message"].startswith(
        "run 'bad_type': engagement_type 'BOTH' in the runs input is not one of MULTI_ENGAGE, SINGLE_ENGAGE.")
    assert runs["bad_fraction"]["status_message"].startswith(
        "run 'bad_fraction': test_fraction 1.5 must be strictly between 0 and 1.")
    assert runs["bad_rows"]["status_message"].startswith(
        "run 'bad_rows': 4 label(s) excluded: label must be 0 or 1, weight must be > 0 and user_id must be set.")
    assert runs["train_only"]["test_fraction"] == 0.25


def test_invalid_rows_are_counted_not_trained(built):
    db, _, _ = built
    assert query(db, "select num_input_labels, num_invalid_labels from lookalike_input_label_summary "
                     "where run_id = 'bad_rows'") == [(28, 4)]
    assert query(db, "select count(*) from lookalike_pit_labels where run_id = 'bad_rows' and is_training_example") == [(24,)]


def test_build_only_runs_are_reported_not_scored(built):
    db, _, _ = built
    assert query(db, "select count(*) from lookalike_user_scores where run_id = 'train_only'") == [(0,)]
    assert query(db, "select count(*) from lookalike_run_metrics where run_id = 'train_only'") == [(2,)]


def test_error_severity_fails_the_build_and_keeps_the_tables(built):
    db, work, vars = built
    before = query(db, "select run_id, status, status_message from lookalike_runs order by run_id")
    proc = run_dbt(["build"], db, work, vars={**vars, "lookalike_failed_run_severity": "error"}, check=False)
    assert proc.returncode == 1
    assert "FAIL 2 assert_no_failed_runs" in proc.stdout
    assert query(db, "select run_id, status, status_message from lookalike_runs order by run_id") == before


def test_missing_required_column_names_the_input_and_keeps_earlier_tables(built):
    db, work, vars = built
    con = duckdb.connect(str(db))
    con.execute("create or replace table inputs.labels_no_user as select run_id, label from inputs.labels_text")
    con.close()
    before = query(db, "select count(*) from lookalike_user_scores")
    proc = run_dbt(["build"], db, work, vars={**vars, "lookalike_labels": "inputs.labels_no_user"}, check=False)
    assert proc.returncode != 0
    assert "lookalike: input 'lookalike_labels' (" in proc.stdout and "lacks required column(s) user_id" in proc.stdout
    assert query(db, "select count(*) from lookalike_user_scores") == before
