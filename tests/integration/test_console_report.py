"""What a build prints: failures, unhealthy runs and typos must be visible in the console, not only
in the tables.

One build of the hand-made fixture (tests/integration/fixtures.py) plus a run 'late' with 9 of 21
labels before the first snapshot (42.9 % unmatched), a runs column misspelt `pu_bag`, and
misspelt variables in --vars. Its stdout must show:
- one on-run-end line per run (status, test AUC, health, first message);
- the FAILED runs by name and cause, from the failed-runs test;
- a warning per unhealthy run, and one for the run with too many unmatched labels;
- a warning with a did-you-mean for each unknown lookalike_* variable and runs column.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db, uid

pytestmark = pytest.mark.integration

TYPO_VARS = {"lookalike_test_fraktion": 0.3, "lookalike_event": "inputs.events", "lookalike_colour": "blue"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("console_report")
    db_path = work / "console.duckdb"
    build_fixture_db(db_path)
    with duckdb.connect(str(db_path)) as con:
        con.execute("alter table inputs.runs add column pu_bag integer")
        con.execute(
            "insert into inputs.runs values ('late', 'labels partly before the snapshots', 'MULTI_ENGAGE', false, 3)"
        )
        labels = [("late", uid(i), 1, "2026-03-05 00:00:00", None) for i in range(1, 13)]
        labels += [("late", uid(i), 1, "2025-06-01 00:00:00", None) for i in range(40, 49)]  # before any snapshot
        con.executemany("insert into inputs.labels values (?, ?, ?, ?, ?)", labels)
    proc = run_dbt(["build"], db_path, work, vars={**FIXTURE_VARS, **TYPO_VARS})
    assert "ERROR=0" in proc.stdout
    return db_path, work, " ".join(proc.stdout.split())


def test_run_summary_prints_one_line_per_run(built):
    _, _, out = built
    assert (
        'lookalike: 5 run(s) in "console"."main"."lookalike_runs": 3 FINISHED, 2 FAILED; 3 unhealthy; 2 with health warnings'
        in out
    )
    assert (
        "lookalike: run 'few_negatives' FAILED test AUC - unhealthy negative_label_users has 7 distinct users; "
        "at least 10 are required. Add negatives or drop them all to train against the unlabeled population."
    ) in out
    assert (
        "lookalike: run 'ghost' FAILED test AUC - unhealthy labels use run_id 'ghost', which is not in the runs "
        "input (var lookalike_runs)."
    ) in out
    assert re.search(
        r"lookalike: run 'late' FINISHED test AUC 0\.\d{3} warning only 21 distinct positive users "
        r"\(fewer than 50, var lookalike_health_min_positive_users\): scores and metrics are noisy\. "
        r"Add seed users\. \(\+2 more\)",
        out,
    )
    assert re.search(r"lookalike: run 'single' FINISHED test AUC 0\.\d{3} warning only 12 distinct positive users", out)
    assert (
        "lookalike: full messages: select run_id, status_message, health_messages from "
        '"console"."main"."lookalike_runs"'
    ) in out
    # The summary comes after every node and before dbt's own "Completed with 3 warnings".
    assert out.index("lookalike: 5 run(s) in") > out.index("WARN 3 assert_no_unhealthy_runs")
    assert out.index("lookalike: 5 run(s) in") < out.index("Completed with 3 warnings")


def test_failed_runs_test_names_each_run_and_its_cause(built):
    _, _, out = built
    assert (
        "lookalike: assert_no_failed_runs: run 'few_negatives' FAILED: negative_label_users has 7 distinct users; "
        "at least 10 are required."
    ) in out
    assert (
        "lookalike: assert_no_failed_runs: run 'ghost' FAILED: labels use run_id 'ghost', which is not in the runs "
        "input (var lookalike_runs). Add a row for it to the runs input or correct the labels' run_id."
    ) in out
    assert "WARN 2 assert_no_failed_runs" in out
    # The lines come right before dbt's WARN line of the test.
    assert out.index("lookalike: assert_no_failed_runs: run 'ghost'") < out.index("WARN 2 assert_no_failed_runs")


def test_unhealthy_runs_warn_with_their_health_messages(built):
    _, _, out = built
    assert "WARN 3 assert_no_unhealthy_runs" in out  # late, pit, single; the FAILED runs are the test above's
    assert (
        "lookalike: assert_no_unhealthy_runs: run 'single' (FINISHED) is healthy with warnings: only 12 distinct positive users "
        "(fewer than 50, var lookalike_health_min_positive_users)"
    ) in out
    assert re.search(
        r"lookalike: assert_no_unhealthy_runs: run 'pit' \(FINISHED\) is unhealthy: .*suspected label "
        r"leakage: score_signal",
        out,
    )
    assert "assert_no_unhealthy_runs: run 'ghost'" not in out


def test_many_unmatched_labels_warn(built):
    _, _, out = built
    assert "WARN 1 assert_labels_match_snapshots" in out  # only 'late'; 'pit' has 2 of 38 unmatched
    assert (
        "lookalike: assert_labels_match_snapshots: run 'late': 9 of 21 input labels (42.9%) matched no snapshot "
        "(more than 20.0%, var lookalike_health_max_unmatched_share). Check label_timestamp against the snapshot "
        "times and the user ids."
    ) in out


def test_unknown_variables_warn_with_the_closest_name(built):
    _, _, out = built
    tail = " is not a variable of the lookalike package, so it is ignored. "
    assert (
        "lookalike: variable 'lookalike_test_fraktion' (set in --vars)"
        + tail
        + "Did you mean 'lookalike_test_fraction'? The package's variables are listed in docs/variables.md."
    ) in out
    assert "lookalike: variable 'lookalike_event' (set in --vars)" + tail + "Did you mean 'lookalike_events'?" in out
    # No plausible name: no suggestion.
    assert (
        "lookalike: variable 'lookalike_colour' (set in --vars)"
        + tail
        + "The package's variables are listed in docs/variables.md."
    ) in out
    # Known variables are not reported, neither from --vars nor from the package's dbt_project.yml.
    assert out.count("is not a variable of the lookalike package") == 3


def test_unknown_runs_column_warns_with_the_closest_setting(built):
    _, _, out = built
    assert (
        'lookalike: the runs input (var lookalike_runs, "console"."inputs"."runs") has a column \'pu_bag\', '
        "which is not a run setting, so it is ignored. Did you mean 'pu_bags'? Known columns: run_id, "
        "run_description, engagement_type, build_only, test_fraction"
    ) in out
    assert out.count("which is not a run setting") == 1  # run_description, engagement_type, build_only are known


def test_no_summary_when_lookalike_runs_is_not_built(built):
    db_path, work, _ = built
    proc = run_dbt(["build", "--select", "stg_lookalike__runs"], db_path, work, vars=FIXTURE_VARS)
    assert "PASS=" in proc.stdout
    assert "run(s) in" not in proc.stdout and "lookalike: run '" not in proc.stdout
