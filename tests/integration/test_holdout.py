"""Holdout groups (issue 30 part 2, decision 0028): a share of each run's audience is flagged
is_holdout by a hash of (run_id, user_id), stable across builds, and left out of exports unless
asked. Real `dbt build`s on a copy of the session's fixture build (integration/conftest.py).
"""

from __future__ import annotations

import csv
import math

import pytest

from conftest import query, query_dicts, run_dbt
from integration.conftest import copy_fixture_build
from integration.fixtures import FIXTURE_VARS
from lookalike_udf.holdout import is_holdout

pytestmark = pytest.mark.integration

HOLDOUT = 40.0


def audience(db) -> list[dict]:
    return query_dicts(
        db,
        "select run_id, user_id, score, audience_holdout_pct, is_holdout from lookalike_audiences "
        "order by run_id, user_id",
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory, fixture_build):
    work = tmp_path_factory.mktemp("holdout")
    db = copy_fixture_build(fixture_build, work)
    exports = work / "exports"
    vars = {
        **FIXTURE_VARS,
        "lookalike_audience_holdout_pct": HOLDOUT,
        "lookalike_audience_top_pct": 100,
        "lookalike_audience_export_path": str(exports / "{run_id}.csv"),
    }
    out = {"exports": exports}
    run_dbt(["build"], db, work, vars=vars)
    out["first"] = audience(db)
    out["first_exports"] = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_audience_exports")}
    out["first_files"] = {p.stem: list(csv.DictReader(p.open())) for p in exports.glob("*.csv")}
    # Other scores (another seed refits every run): the groups must not move.
    run_dbt(["build"], db, work, vars={**vars, "lookalike_random_seed": 7})
    out["reseeded"] = audience(db)
    run_dbt(
        ["build", "-s", "lookalike_audience_exports"],
        db,
        work,
        vars={**vars, "lookalike_random_seed": 7, "lookalike_audience_export_holdout": True},
    )
    out["with_holdout_exports"] = {r["run_id"]: r for r in query_dicts(db, "select * from lookalike_audience_exports")}
    return out


def test_every_flag_is_the_documented_hash(builds):
    rows = builds["first"]
    assert len(rows) > 50
    for r in rows:
        assert r["audience_holdout_pct"] == HOLDOUT
        assert r["is_holdout"] == is_holdout(r["run_id"], r["user_id"], HOLDOUT), r


def test_the_share_is_within_binomial_tolerance(builds):
    rows = builds["first"]
    n, k = len(rows), sum(r["is_holdout"] for r in rows)
    p = HOLDOUT / 100
    assert abs(k / n - p) <= 4 * math.sqrt(p * (1 - p) / n), (k, n)
    assert 0 < k < n


def test_groups_do_not_move_when_scores_do(builds):
    first = {(r["run_id"], r["user_id"]): r for r in builds["first"]}
    again = {(r["run_id"], r["user_id"]): r for r in builds["reseeded"]}
    common = first.keys() & again.keys()
    assert len(common) > 50
    assert any(first[k]["score"] != again[k]["score"] for k in common)  # the scores did change
    assert all(first[k]["is_holdout"] == again[k]["is_holdout"] for k in common)


def test_exports_leave_the_holdout_out_unless_asked(builds):
    rows = builds["first"]
    for run_id, export in builds["first_exports"].items():
        target = [r["user_id"] for r in rows if r["run_id"] == run_id and not r["is_holdout"]]
        assert export["export_status"] == "exported", export
        assert export["n_rows"] == len(target)
        assert sorted(r["user_id"] for r in builds["first_files"][run_id]) == sorted(target)
    for run_id, export in builds["with_holdout_exports"].items():
        everyone = [r for r in builds["reseeded"] if r["run_id"] == run_id]
        held_out = sum(r["is_holdout"] for r in everyone)
        assert export["n_rows"] == len(everyone) == builds["first_exports"][run_id]["n_rows"] + held_out
    # The runs that trained have holdout users, so the variable did change the files.
    assert {run_id for run_id, e in builds["with_holdout_exports"].items() if e["n_rows"]} == {"pit", "single"}
    assert all(any(r["is_holdout"] for r in builds["reseeded"] if r["run_id"] == run) for run in ("pit", "single"))


def test_no_holdout_by_default(fixture_build):
    db, _ = fixture_build
    assert query(
        db,
        "select count(*), count(*) filter (where is_holdout), min(audience_holdout_pct), "
        "max(audience_holdout_pct) from lookalike_audiences",
    )[0][1:] == (0, 0.0, 0.0)
