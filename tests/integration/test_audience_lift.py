"""lookalike_audience_lift on the fixture (issue 30 part 3, decision 0030): real `dbt build`s of the
lift model alone (with the audience it reads) on a copy of the session's fixture build
(integration/conftest.py), with an outcomes input written around the build's publication time.
Every figure is compared with a count made here from the built audience and the outcome rows, and
the intervals with the closed-form reference of test_lift_statistics.py.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from conftest import query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS, uid
from integration.test_lift_statistics import newcombe, wilson

pytestmark = pytest.mark.integration

HOSTILE_RUN = "pit'; drop table main.sentinel_keep; --"
LIFT_MODELS = [
    "stg_lookalike__runs",
    "int_lookalike__runs",
    "lookalike_audiences",
    "stg_lookalike__outcomes",
    "lookalike_audience_lift",
]
VARS = {
    **FIXTURE_VARS,
    "lookalike_audience_top_pct": 50,
    "lookalike_audience_holdout_pct": 40,
    "lookalike_lift_min_group_users": 2,
    "lookalike_outcomes": "inputs.outcomes",
}


def outcome_rows(published: dt.datetime) -> list[tuple]:
    """(run_id, user_id, outcome_at as text, value as text): times with a +02:00 offset, so the
    staging model's conversion to UTC is exercised, and the rules each row tests."""

    def at(delta: dt.timedelta) -> str:
        local = published + delta + dt.timedelta(hours=2)
        return local.isoformat(sep=" ") + "+02:00"

    rows = []
    for i in range(1, 61):
        u = uid(i)
        if i % 3 == 0:
            rows.append(("pit", u, at(dt.timedelta(days=1)), str(i)))  # pit only
        if i % 4 == 0:
            rows.append((None, u, at(dt.timedelta(hours=2)), "1.5"))  # every run
        if i % 5 == 0:
            rows.append(("pit", u, at(-dt.timedelta(seconds=1)), "100"))  # before publication
        if i % 7 == 0:
            rows.append(("single", u, at(dt.timedelta(days=40)), "3"))  # outside a 30-day window
        if i % 11 == 0:
            rows.append((HOSTILE_RUN, u, at(dt.timedelta(days=1)), "9"))  # a run that does not exist
    rows += [
        ("pit", uid(2), "2026-13-45 25:00", "1"),  # unreadable time: left out
        ("pit", uid(2), at(dt.timedelta(days=1)), "n/a"),  # unreadable value: left out
        ("pit", None, at(dt.timedelta(days=1)), "1"),  # no user: left out
        ("pit", uid(1), at(dt.timedelta(days=1)), None),  # null value: converted, adds 0
    ]
    return rows


def expected_lift(db, rows, window_days=None) -> dict:
    """Per (run, group): (n_users, set of converted users, total value), counted by hand."""
    members = query_dicts(
        db,
        "select s.run_id, s.user_id, s.scored_at, case when a.user_id is null then 'rest' "
        "when a.is_holdout then 'holdout' else 'target' end as lift_group "
        "from lookalike_user_scores s left join lookalike_audiences a using (run_id, user_id)",
    )
    out = {}
    for m in members:
        key = (m["run_id"], m["lift_group"])
        n, converted, total = out.get(key, (0, set(), 0.0))
        for run_id, user_id, outcome_at, value in rows:
            if user_id != m["user_id"] or run_id not in (None, m["run_id"]):
                continue
            try:
                utc = dt.datetime.fromisoformat(outcome_at).astimezone(dt.UTC).replace(tzinfo=None)
                number = None if value is None else float(value)
            except ValueError:
                continue
            end = None if window_days is None else m["scored_at"] + dt.timedelta(days=window_days)
            if utc >= m["scored_at"] and (end is None or utc < end):
                converted.add(m["user_id"])
                total += number or 0.0
        out[key] = (n + 1, converted, total)
    return out


@pytest.fixture(scope="module")
def lift(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("lift")
    db = copy_fixture_build(fixture_build, work)
    published = query(db, "select max(scored_at) from lookalike_user_scores")[0][0]
    rows = outcome_rows(published)
    with duckdb.connect(str(db)) as con:
        con.execute("create table main.sentinel_keep as select 1 as x")
        con.execute(
            "create table inputs.outcomes (run_id varchar, user_id varchar, outcome_at varchar, value varchar, "
            "channel varchar)"
        )
        con.executemany("insert into inputs.outcomes values (?, ?, ?, ?, 'email')", rows)
    out = {"db": db, "work": work, "rows": rows, "published": published}
    out["proc"] = run_dbt(["build", "-s", *LIFT_MODELS, "assert_no_invalid_outcomes"], db, work, vars=VARS)
    out["lift"] = query_dicts(db, "select * from lookalike_audience_lift order by run_id, lift_group")
    out["expected"] = expected_lift(db, rows)
    run_dbt(["build", "-s", *LIFT_MODELS], db, work, vars={**VARS, "lookalike_lift_window_days": 30})
    out["windowed"] = query_dicts(db, "select * from lookalike_audience_lift order by run_id, lift_group")
    out["expected_windowed"] = expected_lift(db, rows, window_days=30)
    return out


def check(rows, expected):
    assert {(r["run_id"], r["lift_group"]) for r in rows} == set(expected)
    by = {(r["run_id"], r["lift_group"]): r for r in rows}
    for (run_id, group), (n, converted, total) in expected.items():
        row = by[(run_id, group)]
        assert (row["n_users"], row["n_converted_users"]) == (n, len(converted)), (run_id, group)
        assert row["total_value"] == pytest.approx(total, abs=1e-12)
        assert row["conversion_rate"] == pytest.approx(len(converted) / n)
        assert (row["conversion_rate_ci_low"], row["conversion_rate_ci_high"]) == pytest.approx(
            wilson(len(converted), n), abs=1e-12
        )
        t_n, t_converted, _ = expected[(run_id, "target")]
        assert row["n_target_users"] == t_n
        if group == "target":
            assert row["rate_difference"] is None
        else:
            d, low, high = newcombe(len(t_converted), t_n, len(converted), n)
            assert (row["rate_difference"], row["rate_difference_ci_low"], row["rate_difference_ci_high"]) == (
                pytest.approx((d, low, high), abs=1e-12)
            )
            assert row["mean_value_difference_ci_low"] < row["mean_value_difference"]


def test_every_figure_is_the_hand_count(lift):
    rows = lift["lift"]
    assert {r["run_id"] for r in rows} == {"pit", "single"}  # the runs with an audience; not the hostile id
    assert all(r["published_at"] == lift["published"] and r["lift_window_days"] is None for r in rows)
    check(rows, lift["expected"])
    by = {(r["run_id"], r["lift_group"]): r for r in rows}
    # Real groups: the audience is half of each run, 40 % of it held out.
    assert by[("pit", "target")]["n_users"] + by[("pit", "holdout")]["n_users"] == 30
    assert by[("pit", "holdout")]["n_users"] > 5
    # Conversions in every group of pit, and the 'every run' outcomes reach single too.
    assert all(by[("pit", g)]["n_converted_users"] > 0 for g in ("target", "holdout", "rest"))
    assert sum(by[("single", g)]["n_converted_users"] for g in ("target", "holdout", "rest")) > 0


def test_outcomes_before_publication_and_of_other_runs_do_not_count(lift):
    # Users 5, 10, ... have a 100-value outcome one second before publication: if it counted, the
    # totals would hold a 100. 'single' outcomes (users 7, 14, ...) at 40 days count only there.
    by = {(r["run_id"], r["lift_group"]): r for r in lift["lift"]}
    pit_total = sum(by[("pit", g)]["total_value"] for g in ("target", "holdout", "rest"))
    assert pit_total == sum(i for i in range(3, 61, 3)) + 1.5 * 15
    single_total = sum(by[("single", g)]["total_value"] for g in ("target", "holdout", "rest"))
    single_users = {
        r[0] for r in query(lift["db"], "select user_id from lookalike_user_scores where run_id = 'single'")
    }
    assert single_total == pytest.approx(
        1.5 * sum(1 for i in range(4, 61, 4) if uid(i) in single_users)
        + 3 * sum(1 for i in range(7, 61, 7) if uid(i) in single_users)
    )
    assert query(lift["db"], "select count(*) from main.sentinel_keep") == [(1,)]


def test_the_window_leaves_later_outcomes_out(lift):
    check(lift["windowed"], lift["expected_windowed"])
    by = {(r["run_id"], r["lift_group"]): r for r in lift["windowed"]}
    assert all(r["lift_window_days"] == 30 for r in lift["windowed"])
    assert all(r["window_end_at"] == lift["published"] + dt.timedelta(days=30) for r in lift["windowed"])
    # the 40-day 'single' outcomes are gone
    before = {(r["run_id"], r["lift_group"]): r for r in lift["lift"]}
    assert sum(by[("single", g)]["total_value"] for g in ("target", "holdout", "rest")) < sum(
        before[("single", g)]["total_value"] for g in ("target", "holdout", "rest")
    )


def test_bad_outcome_rows_are_left_out_with_a_warning(lift):
    invalid = dict(
        query(
            lift["db"], "select invalid_reason, count(*) from stg_lookalike__outcomes group by 1 order by 1 nulls first"
        )
    )
    assert {k: v for k, v in invalid.items() if k} == {
        "invalid_outcome_at": 1,
        "invalid_value": 1,
        "missing_user_id": 1,
    }
    out = lift["proc"].stdout
    assert "WARN 3 assert_no_invalid_outcomes" in " ".join(out.split())
    assert "has a column 'channel', which the package does not read" in " ".join(out.split())


def test_a_missing_outcome_at_column_stops_with_the_fix(lift):
    db, work = lift["db"], lift["work"]
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create table inputs.outcomes_misnamed as select user_id, outcome_at as purchased_at from inputs.outcomes"
        )
    before = query(db, "select count(*) from lookalike_audience_lift")
    proc = run_dbt(
        ["build", "-s", "stg_lookalike__outcomes", "lookalike_audience_lift"],
        db,
        work,
        vars={**VARS, "lookalike_outcomes": "inputs.outcomes_misnamed"},
        check=False,
    )
    text = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "lookalike: input 'lookalike_outcomes' (" in text and "lacks the required column outcome_at" in text
    assert "Is it purchased_at?" in text and "Rename the column or point the variable at a view" in text
    assert query(db, "select count(*) from lookalike_audience_lift") == before  # the previous table is kept


def test_no_outcomes_input_leaves_the_relation_empty(fixture_build):
    """The default: the model reads nothing and has no rows (the session's build, without the variable)."""
    db, proc = fixture_build
    assert query(db, "select count(*) from lookalike_audience_lift") == [(0,)]
    assert query(db, "select count(*) from stg_lookalike__outcomes") == [(0,)]
    assert "assert_no_invalid_outcomes" in proc.stdout and "WARN" not in " ".join(
        line for line in proc.stdout.splitlines() if "assert_no_invalid_outcomes" in line
    )


def test_the_report_shows_the_lift_of_the_build(lift, tmp_path):
    """`lookalike report` on the built database: a Lift table per run with the relation's figures."""
    from lookalike_udf.report import MartReader, write_report

    rows = query_dicts(lift["db"], "select run_id, lift_group, n_users, n_converted_users from lookalike_audience_lift")
    html = write_report(MartReader.duckdb(lift["db"]), tmp_path / "report.html").read_text()
    assert html.count("<h3>Lift</h3>") == 4  # every run of the fixture; two have an audience
    for r in rows:
        table = re.search(rf'<table data-table="lift" data-run="{r["run_id"]}">.*?</table>', html, flags=re.S).group(0)
        row = re.search(rf'<tr data-group="{r["lift_group"]}">.*?</tr>', table, flags=re.S).group(0)
        assert f'data-field="n_users" data-value="{r["n_users"]}"' in row
        assert f'data-field="n_converted_users" data-value="{r["n_converted_users"]}"' in row
    assert html.count("No lift rows for this run") == 2  # the failed and the undeclared run


@pytest.fixture(scope="module")
def earlier_build(tmp_path_factory, fixture_build):
    """A copy of the fixture build whose history holds an audience of 'pit' published ten days
    before the current scores (users 1-6 target, 7-10 holdout), with outcomes around it."""
    work = tmp_path_factory.mktemp("lift_history")
    db = copy_fixture_build(fixture_build, work)
    scored = query(db, "select min(scored_at) from lookalike_user_scores where run_id = 'pit'")[0][0]
    logged = query(db, "select distinct published_at from lookalike_audience_history where run_id = 'pit'")
    past = scored - dt.timedelta(days=10)
    rows = [
        ("pit", uid(1), (past + dt.timedelta(days=1)).isoformat(sep=" "), "5"),  # target, counts
        ("pit", uid(2), (past - dt.timedelta(seconds=1)).isoformat(sep=" "), "7"),  # before it: no
        ("pit", uid(7), (past + dt.timedelta(days=2)).isoformat(sep=" "), "1"),  # holdout, counts
    ]
    with duckdb.connect(str(db)) as con:
        con.execute("create table inputs.outcomes (run_id varchar, user_id varchar, outcome_at varchar, value varchar)")
        con.executemany("insert into inputs.outcomes values (?, ?, ?, ?)", rows)
        con.executemany(
            "insert into lookalike_audience_history (build_id, published_at, run_id, user_id, score, score_rank, "
            "is_holdout) values ('earlier-build', ?, 'pit', ?, 0.5, ?, ?)",
            [(past, uid(i), i, i > 6) for i in range(1, 11)],
        )
    run_dbt(["build", "-s", *LIFT_MODELS], db, work, vars=VARS)
    lift = query_dicts(db, "select * from lookalike_audience_lift where run_id = 'pit' order by published_at")
    return {"lift": lift, "past": past, "scored": scored, "logged": [r[0] for r in logged]}


def test_an_audience_of_an_earlier_build_is_measured_over_its_own_window(earlier_build):
    lift, past = earlier_build["lift"], earlier_build["past"]
    # the fixture build logged its audience at its start, before it scored: that build is the
    # current one (its rows come from lookalike_audiences), never a second, earlier audience
    assert len(earlier_build["logged"]) == 1 and earlier_build["logged"][0] <= earlier_build["scored"]
    assert sorted({r["published_at"] for r in lift}) == [past, earlier_build["scored"]]
    by = {r["lift_group"]: r for r in lift if r["published_at"] == past}
    assert (by["target"]["n_users"], by["target"]["n_converted_users"], by["target"]["total_value"]) == (6, 1, 5.0)
    assert (by["holdout"]["n_users"], by["holdout"]["n_converted_users"], by["holdout"]["total_value"]) == (4, 1, 1.0)
    assert by["rest"]["n_users"] == 0 and by["rest"]["rate_difference"] is None
    assert by["holdout"]["rate_difference"] == pytest.approx(1 / 6 - 1 / 4)
