"""Out-of-distribution guards (lookalike_feature_drift, the scoring time against the newest data,
lookalike_as_of: latest) and the exported audience (lookalike_audiences)."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import numpy as np
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import EVENT_VARS, FIXTURE_VARS, add_events, build_fixture_db
from integration.quality_checks import assert_user_reasons_are_exact

pytestmark = pytest.mark.integration


def psi_by_hand(train: np.ndarray, population: np.ndarray) -> float:
    """Ten bins by the training deciles (linear interpolation), nulls apart, shares floored at 1e-4."""
    edges = np.quantile(train[~np.isnan(train)], [0.1 * k for k in range(1, 10)])

    def shares(values):
        bins = np.where(np.isnan(values), -1, (values[:, None] > edges[None, :]).sum(axis=1))
        return {b: np.mean(bins == b) for b in set(bins.tolist())}

    t, p = shares(train), shares(population)
    return sum(
        (max(p.get(b, 0), 1e-4) - max(t.get(b, 0), 1e-4)) * np.log(max(p.get(b, 0), 1e-4) / max(t.get(b, 0), 1e-4))
        for b in set(t) | set(p)
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("drift")
    db = work / "drift.duckdb"
    build_fixture_db(db)
    with duckdb.connect(str(db)) as con:
        # Two more runs with the labels of 'single' and exports that must fail, each alone: a run id
        # that would leave the export folder, and a folder under an existing file.
        con.execute(
            "insert into inputs.runs values ('../escaped', 'escapes', 'SINGLE_ENGAGE', null), "
            "('blocked', 'under a file', 'SINGLE_ENGAGE', null)"
        )
        con.execute(
            "insert into inputs.labels select r.run_id, l.user_id, l.label, l.label_timestamp, l.weight "
            "from inputs.labels l, (values ('../escaped'), ('blocked')) r(run_id) where l.run_id = 'single'"
        )
        con.execute(
            "create table inputs.runs_audience as select *, "
            "case run_id when 'pit' then 10 end as audience_top_n, "
            "case run_id when 'single' then 100.0 end as audience_top_pct, "
            "case run_id when 'single' then 0.5 end as audience_min_score, "
            f"case run_id when 'pit' then '{work}/audience_{{run_id}}.csv' "
            f"when 'single' then '{work}/new/folder/{{run_id}}.parquet' "
            f"when '../escaped' then '{work}/out/{{run_id}}.csv' "
            f"when 'blocked' then '{work}/drift.duckdb/{{run_id}}.csv' end as audience_export_path, "
            "case when run_id in ('../escaped', 'blocked') then 2 end as pu_bags "
            "from inputs.runs"
        )
    proc = run_dbt(
        ["build"],
        db,
        work,
        vars={**FIXTURE_VARS, "lookalike_runs": "inputs.runs_audience", "lookalike_reasons_max_users": 5},
    )
    return db, work, proc


def test_psi_equals_a_hand_computation(built):
    db = built[0]
    for run_id in ("pit", "single"):
        train = np.array(
            [v for (v,) in query(db, f"select score_signal from lookalike_pit_features where run_id = '{run_id}'")],
            dtype=float,
        )
        population = np.array(
            [v for (v,) in query(db, "select score_signal from lookalike_inference_features")], dtype=float
        )
        [(psi, n_train, n_population, train_mean)] = query(
            db,
            f"select psi, n_train_examples, n_population_users, train_mean from lookalike_feature_drift "
            f"where run_id = '{run_id}' and feature = 'score_signal'",
        )
        assert (n_train, n_population) == (len(train), 60)
        assert train_mean == pytest.approx(train.mean(), abs=1e-12)
        assert psi == pytest.approx(psi_by_hand(train, population), abs=1e-9)
    kinds = dict(query(db, "select feature, feature_kind from lookalike_feature_drift where run_id = 'pit'"))
    assert kinds == {"score_signal": "numeric", "segment": "categorical", "is_active": "boolean"}


def test_scoring_long_after_the_data_warns(built):
    db = built[0]
    runs = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_runs")}
    single = runs["single"]
    assert single["newest_input_at"] == dt.datetime(2026, 3, 1) and single["as_of_at"] == dt.datetime(2026, 6, 1)
    assert (
        "run 'single': the scoring time (var lookalike_as_of) is 92.0 days after the newest snapshot or event "
        "(more than 31, var lookalike_health_max_days_after_data)"
    ) in single["health_messages"]
    assert single["health"] == "warning" and single["quality_band"] is not None


def test_audiences_follow_each_runs_limits_and_export(built):
    db, work, _ = built
    # pit: top 10 (and the default top 5 % does not apply: the runs input sets audience_top_pct null,
    # so the variable's 5 % applies too: ceil(60 * 0.05) = 3 rows).
    pit = query(db, "select user_id, score_rank from lookalike_audiences where run_id = 'pit' order by score_rank")
    assert [r for _, r in pit] == [1, 2, 3]
    assert pit == query(
        db,
        "select user_id, score_rank from lookalike_user_scores where run_id = 'pit' and score_rank <= 3 order by score_rank",
    )
    # single: every rank (100 %), but only scores >= 0.5.
    single = query(db, "select min(score), count(*) from lookalike_audiences where run_id = 'single'")
    assert single == query(
        db, "select min(score), count(*) from lookalike_user_scores where run_id = 'single' and score >= 0.5"
    )
    with open(work / "audience_pit.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["user_id"], int(r["score_rank"])) for r in rows] == pit
    assert not (work / "audience_single.csv").exists()
    # A missing folder is created; the file holds the run's audience in rank order.
    single_rows = duckdb.sql(f"select user_id, score_rank from '{work}/new/folder/single.parquet'").fetchall()
    assert single_rows == query(
        db, "select user_id, score_rank from lookalike_audiences where run_id = 'single' order by score_rank"
    )
    assert not list(work.glob("**/.*.tmp"))


def test_one_runs_export_failure_stays_in_its_row(built):
    """A run id that would change the folder and a folder under a file fail their own export only:
    the build has no error, every run has its audience, and the console names both."""
    db, work, proc = built
    assert "ERROR=0" in proc.stdout
    exports = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_audience_exports")}
    assert set(exports) == {"pit", "single", "../escaped", "blocked"}
    assert [(exports[r]["export_status"], exports[r]["n_rows"]) for r in ("pit", "single")] == [
        ("exported", 3),
        ("exported", query(db, "select count(*) from lookalike_audiences where run_id = 'single'")[0][0]),
    ]
    assert exports["pit"]["file_path"] == f"{work}/audience_pit.csv" and exports["pit"]["file_format"] == "csv"
    escaped = exports["../escaped"]
    assert (escaped["export_status"], escaped["file_path"], escaped["n_rows"]) == ("failed", None, None)
    assert escaped["export_message"] == (
        f"run '../escaped': its run_id cannot be put into audience_export_path '{work}/out/{{run_id}}.csv': "
        "it contains '/', so it would change the folder the file is written to. Give the run an id without '/', "
        "'\\', '..' or a leading '~', or set an audience_export_path without {run_id} for it."
    )
    assert not (work / "escaped.csv").exists() and not (work / "out").exists()
    blocked = exports["blocked"]
    assert blocked["export_status"] == "failed"
    assert blocked["export_message"].startswith(
        f"run 'blocked': cannot create the folder '{work}/drift.duckdb' of audience_export_path '{work}/drift.duckdb/blocked.csv' ("
    )
    assert blocked["export_message"].endswith("). Point audience_export_path at a folder you can write to.")
    # Both runs still have their audience and FINISHED.
    assert query(
        db,
        "select run_id, count(*) from lookalike_audiences where run_id in ('../escaped', 'blocked') "
        "group by 1 order by 1",
    ) == [("../escaped", 3), ("blocked", 3)]
    assert (
        query(db, "select status from lookalike_runs where run_id in ('../escaped', 'blocked')") == [("FINISHED",)] * 2
    )
    assert (
        "lookalike: run '../escaped'  audience export failed: run '../escaped': its run_id cannot be put" in proc.stdout
    )
    assert "lookalike: run 'blocked'  audience export failed: run 'blocked': cannot create the folder" in proc.stdout


def test_user_reasons_explain_at_most_lookalike_reasons_max_users(built):
    db = built[0]
    n_single = query(db, "select count(*) from lookalike_audiences where run_id = 'single'")[0][0]
    assert n_single > 5
    assert assert_user_reasons_are_exact(db, max_users=5) == 3 + 5 + 3 + 3  # pit, single, ../escaped, blocked
    assert query(db, "select max(score_rank) from lookalike_user_reasons where run_id = 'single'") == [(5,)]


def test_latest_as_of_and_an_out_of_distribution_population(built, tmp_path):
    """Events end in February 2026; scored as of 2027 the population's event counts are all zero:
    drift and staleness both warn. With lookalike_as_of: latest neither does."""
    db = built[0]
    add_events(db)
    late = {**EVENT_VARS, "lookalike_as_of": "2027-06-01"}
    run_dbt(["build"], db, tmp_path, vars=late)
    # 'pit' (supervised; the bagging run 'single' has a known fit failure on these events, see the README)
    messages = query(db, "select health_messages from lookalike_runs where run_id = 'pit'")[0][0]
    assert (
        "run 'pit': the scored population differs from the training examples on aff_outdoor_gear_share_365d (PSI 6.23), "
        in messages
    )
    # The 5 worst are listed, then how many more (evt_view_cnt_365d, PSI 4.28, is among those): the
    # scoring time is stale, so time-relative features (days since, cut-short windows) are judged too.
    assert (
        "evt_view_days_since_first (PSI 6.15)" in messages
        and "aff_books_share_365d (PSI 5.86) and 8 more (PSI above" in messages
    )
    assert "days after the newest snapshot or event" in messages
    drifted = query(
        db,
        "select feature, drift_level, population_mean from lookalike_feature_drift "
        "where run_id = 'pit' and feature = 'evt_view_cnt_365d'",
    )
    assert drifted == [("evt_view_cnt_365d", "large", 0.0)]
    run_dbt(["build"], db, tmp_path, vars={**EVENT_VARS, "lookalike_as_of": "latest"})
    [(as_of, newest)] = query(db, "select distinct as_of_at, newest_input_at from lookalike_runs")
    assert newest == dt.datetime(2026, 3, 1) and as_of == dt.datetime(2026, 3, 2)
    messages = query(db, "select health_messages from lookalike_runs where run_id = 'pit'")[0][0] or ""
    assert "days after the newest snapshot or event" not in messages
