"""One time rule (UTC) for labels, snapshots, events and lookalike_as_of: the same inputs built
under two host time zones give identical tables, and offsets are honoured, not dropped."""

from __future__ import annotations

import os

import duckdb
import pytest

from conftest import query, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db, uid

pytestmark = pytest.mark.integration

TABLES = {
    "lookalike_pit_labels": "select label_id, run_id, user_id, label_timestamp, as_of_at, snapshot_at, is_matched from lookalike_pit_labels order by label_id",
    "lookalike_pit_features": "select * exclude (example_id) from lookalike_pit_features order by all",
    "lookalike_user_scores": "select run_id, user_id, score, score_rank, snapshot_at from lookalike_user_scores order by run_id, user_id",
    "lookalike_run_metrics": "select * from lookalike_run_metrics order by all",
}


def write_zoned_inputs(db) -> None:
    """Snapshots as text with a +09:00 offset, labels as timestamp with time zone: the same
    instants as the fixture. One extra label at 2026-01-31 23:30 -01:00, which is 00:30 UTC on
    2026-02-01 and so matches the 2026-02-01 snapshot (dropping the offset would match January's)."""
    with duckdb.connect(str(db)) as con:
        con.execute("""
            create or replace table inputs.snapshots_zoned as
            select user_id,
                   strftime(snapshot_at + interval 9 hour, '%Y-%m-%dT%H:%M:%S') || '+09:00' as snapshot_at,
                   score_signal, segment, is_active
            from inputs.snapshots""")
        con.execute("""
            create or replace table inputs.labels_zoned as
            select run_id, user_id, label,
                   cast(cast(label_timestamp as varchar) || '+00' as timestamptz) as label_timestamp, weight
            from inputs.labels""")
        con.execute(
            "insert into inputs.labels_zoned values ('pit', ?, 1, '2026-01-31 23:30:00-01:00'::timestamptz, null)",
            [uid(22)],
        )


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for tz in ("Asia/Tokyo", "America/Los_Angeles"):
        work = tmp_path_factory.mktemp("tz_" + tz.split("/")[1].lower())
        db = work / "tz.duckdb"
        build_fixture_db(db)
        write_zoned_inputs(db)
        vars = {
            **FIXTURE_VARS,
            "lookalike_user_snapshots": "inputs.snapshots_zoned",
            "lookalike_labels": "inputs.labels_zoned",
            "lookalike_as_of": "2026-06-01T09:00:00+09:00",
        }
        old = os.environ.get("TZ")
        os.environ["TZ"] = tz
        try:
            run_dbt(["build"], db, work, vars=vars)
        finally:
            if old is None:
                os.environ.pop("TZ")
            else:
                os.environ["TZ"] = old
        out[tz] = db
    return out


@pytest.mark.parametrize("table", sorted(TABLES))
def test_same_tables_under_two_time_zones(builds, table):
    tokyo, los_angeles = builds.values()
    rows = query(tokyo, TABLES[table])
    assert rows, table
    assert rows == query(los_angeles, TABLES[table])


def test_offsets_are_converted_to_utc(builds):
    db = builds["Asia/Tokyo"]
    matched = dict(
        query(
            db,
            "select user_id, snapshot_at from lookalike_pit_labels where run_id = 'pit' "
            f"and user_id in ('{uid(16)}', '{uid(20)}', '{uid(22)}', '{uid(19)}')",
        )
    )
    ts = lambda text: query(db, f"select timestamp '{text}'")[0][0]  # noqa: E731
    assert matched == {
        uid(16): ts("2026-02-01 00:00:00"),  # equal to the snapshot (inclusive)
        uid(20): ts("2026-01-01 00:00:00"),  # one microsecond before it
        uid(22): ts("2026-02-01 00:00:00"),  # 23:30 at -01:00 is 00:30 UTC
        uid(19): ts("2026-03-01 00:00:00"),  # no timestamp: latest before the scoring time
    }
    assert query(
        db, f"select label_timestamp from lookalike_pit_labels where user_id = '{uid(22)}' and run_id = 'pit'"
    ) == [(ts("2026-02-01 00:30:00"),)]
    assert query(db, "select min(snapshot_at), max(snapshot_at) from int_lookalike__user_snapshots") == [
        (ts("2026-01-01 00:00:00"), ts("2026-03-01 00:00:00"))
    ]
    assert query(db, f"select as_of_at from lookalike_pit_labels where user_id = '{uid(19)}' and run_id = 'pit'") == [
        (ts("2026-06-01 00:00:00"),)
    ]
