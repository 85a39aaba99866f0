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
    for run_id in ("ok", "bad_type", "bad_fraction", "bad_rows", "train_only", "bad_setting"):
        labels += [(run_id, uid(i), "1", "2026-02-20 12:00:00", None) for i in range(1, 13)]
        labels += [(run_id, uid(i), "0", "2026-02-20 12:00:00", None) for i in range(31, 43)]
    labels += [
        ("bad_rows", uid(13), "2", "2026-02-20 12:00:00", None),  # label must be 0 or 1
        ("bad_rows", uid(14), "yes", "2026-02-20 12:00:00", None),  # unreadable label
        ("bad_rows", uid(15), "1", "2026-02-20 12:00:00", "-1"),  # weight must be > 0
        ("bad_rows", None, "1", "2026-02-20 12:00:00", None),  # no user
        ("bad_rows", uid(16), "0.7", "2026-02-20 12:00:00", None),  # a fraction is not 0 or 1 (no rounding)
        ("bad_rows", uid(17), "1", "2026-02-20 12:00:00", "NaN"),  # NaN passes "> 0" but is no weight
        ("bad_rows", uid(18), "1", "2026-02-20 12:00:00", "inf"),
        ("bad_rows", uid(19), "1", "2026-02-20 12:00:00", "1e308"),  # would overflow sums of weights
        ("bad_rows", uid(20), "1", "20th of February", None),  # unreadable timestamp
        (None, uid(1), "1", "2026-02-20 12:00:00", None),  # no run: belongs to no run
        (None, uid(2), "1", "2026-02-20 12:00:00", None),
        (None, uid(3), "0", None, None),
    ]
    con.execute(
        "create or replace table inputs.labels_text (run_id varchar, user_id varchar, label varchar, "
        "label_timestamp varchar, weight varchar)"
    )
    con.executemany("insert into inputs.labels_text values (?, ?, ?, ?, ?)", labels)
    con.execute(
        "create or replace table inputs.runs_settings (run_id varchar, run_description varchar, "
        "engagement_type varchar, build_only boolean, test_fraction double, pu_bags varchar)"
    )
    con.executemany(
        "insert into inputs.runs_settings values (?, ?, ?, ?, ?, ?)",
        [
            ("ok", "fine", "multi_engage ", False, None, None),  # case and spaces are forgiven
            ("bad_type", "typo", "BOTH", False, None, None),
            ("bad_fraction", "no test split", "MULTI_ENGAGE", False, 1.5, None),
            ("bad_rows", "some unusable rows", "MULTI_ENGAGE", False, None, None),
            ("train_only", "report only", "MULTI_ENGAGE", True, 0.25, "5"),
            ("bad_setting", "a setting that is not a number", "MULTI_ENGAGE", False, None, "twenty"),
        ],
    )
    # Snapshots with text times (as a CSV load gives them) and rows no run can use: 2 without a
    # user, 1 without a time, 1 with a time that is not one.
    con.execute(
        "create or replace table inputs.snapshots_text as "
        "select user_id, cast(snapshot_at as varchar) as snapshot_at, score_signal, segment, is_active "
        "from inputs.snapshots"
    )
    con.executemany(
        "insert into inputs.snapshots_text values (?, ?, ?, ?, ?)",
        [
            (None, "2026-01-01 00:00:00", 1.0, "a", True),
            (None, "2026-02-01 00:00:00", 1.0, "a", True),
            (uid(5), None, 1.0, "a", True),
            (uid(6), "the first of March", 1.0, "a", True),
        ],
    )
    con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad_input")
    db_path = work / "bad.duckdb"
    build_fixture_db(db_path)
    write_bad_inputs(db_path)
    vars = {
        **FIXTURE_VARS,
        "lookalike_labels": "inputs.labels_text",
        "lookalike_runs": "inputs.runs_settings",
        "lookalike_user_snapshots": "inputs.snapshots_text",
    }
    proc = run_dbt(["build"], db_path, work, vars=vars)
    assert "WARN 3 assert_no_failed_runs" in proc.stdout
    assert "WARN 3 assert_no_input_issues" in proc.stdout
    return db_path, work, vars


def test_statuses(built):
    db, _, _ = built
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    assert {k: v["status"] for k, v in runs.items()} == {
        "ok": "FINISHED",
        "bad_type": "FAILED",
        "bad_fraction": "FAILED",
        "bad_rows": "FINISHED",
        "train_only": "FINISHED_TRAINING",
        "bad_setting": "FAILED",
    }
    assert runs["ok"]["engagement_type"] == "MULTI_ENGAGE"
    assert runs["bad_type"]["status_message"].startswith(
        "run 'bad_type': engagement_type 'BOTH' in the runs input is not one of MULTI_ENGAGE, SINGLE_ENGAGE."
    )
    assert runs["bad_fraction"]["status_message"].startswith(
        "run 'bad_fraction': test_fraction 1.5 must be strictly between 0 and 1."
    )
    assert runs["bad_rows"]["status_message"].startswith(
        "run 'bad_rows': 9 label(s) excluded (1 without user_id, 3 with a label other than 0 or 1, 4 with a "
        "weight that is not a finite number in (0, 1e9], 1 with an unreadable label_timestamp): a label must be "
        "0 or 1, a weight a finite number in (0, 1e9] (null = 1), a label_timestamp a readable date-time (null = "
        "the scoring time), and user_id must be set. Fix those rows in the labels input (var lookalike_labels)."
    )
    assert runs["bad_setting"]["status_message"].startswith(
        "run 'bad_setting': the runs input (var lookalike_runs) holds setting value(s) that cannot be read: "
        "pu_bags = 'twenty' (not an integer). Fix them in the runs input (null means the variable of the same "
        "name, lookalike_<setting>)."
    )
    assert runs["train_only"]["test_fraction"] == 0.25
    assert runs["train_only"]["pu_bags"] == 5


def test_invalid_rows_are_counted_not_trained(built):
    db, _, _ = built
    assert query(
        db,
        "select n_input_labels, n_invalid_labels, n_labels_without_user, n_invalid_label_values, "
        "n_invalid_weights, n_invalid_timestamps from lookalike_input_label_summary "
        "where run_id = 'bad_rows'",
    ) == [(33, 9, 1, 3, 4, 1)]
    assert query(db, "select count(*) from lookalike_pit_labels where run_id = 'bad_rows' and is_training_example") == [
        (24,)
    ]
    reasons = dict(
        query(
            db,
            "select user_id, invalid_reason from lookalike_pit_labels "
            "where run_id = 'bad_rows' and not is_valid and user_id is not null",
        )
    )
    assert reasons == {
        uid(13): "label_not_0_or_1",
        uid(14): "label_not_0_or_1",
        uid(16): "label_not_0_or_1",
        uid(15): "invalid_weight",
        uid(17): "invalid_weight",
        uid(18): "invalid_weight",
        uid(19): "invalid_weight",
        uid(20): "invalid_label_timestamp",
    }
    # 0.7 is not rounded to 1: the label column keeps no integer for it.
    assert query(db, f"select label from lookalike_pit_labels where run_id = 'bad_rows' and user_id = '{uid(16)}'") == [
        (None,)
    ]


def test_rows_no_run_can_use_are_reported(built):
    db, _, _ = built
    issues = query(db, "select input_variable, issue, n_rows, message from lookalike_input_issues order by 1, 2")
    assert [row[:3] for row in issues] == [
        ("lookalike_labels", "missing_run_id", 3),
        ("lookalike_user_snapshots", "missing_snapshot_at", 2),
        ("lookalike_user_snapshots", "missing_user_id", 2),
    ]
    assert issues[0][3] == (
        "lookalike: 3 row(s) of the labels input (var lookalike_labels) have no run_id and belong "
        "to no run; they were ignored. Set run_id on those rows or remove them."
    )
    assert issues[1][3].startswith(
        "lookalike: 2 row(s) of the snapshot input (var lookalike_user_snapshots) have no "
        "readable snapshot_at (null or not a date-time) and were dropped."
    )
    # No summary row for a null run, and every run's message carries the input issues.
    assert query(db, "select count(*) from lookalike_input_label_summary where run_id is null") == [(0,)]
    ok_message = query(db, "select status_message from lookalike_runs where run_id = 'ok'")[0][0]
    assert all(message in ok_message for (_, _, _, message) in issues)
    # Text snapshot times are read: every good snapshot row is staged, the 4 bad ones are not.
    assert query(db, "select count(*) from int_lookalike__user_snapshots") == [(160,)]


def test_build_only_runs_are_reported_not_scored(built):
    db, _, _ = built
    assert query(db, "select count(*) from lookalike_user_scores where run_id = 'train_only'") == [(0,)]
    assert query(db, "select count(*) from lookalike_run_metrics where run_id = 'train_only'") == [(2,)]


def test_error_severity_fails_the_build_and_keeps_the_tables(built):
    db, work, vars = built
    before = query(db, "select run_id, status, status_message from lookalike_runs order by run_id")
    proc = run_dbt(["build"], db, work, vars={**vars, "lookalike_failed_run_severity": "error"}, check=False)
    assert proc.returncode == 1
    assert "FAIL 3 assert_no_failed_runs" in proc.stdout
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
