"""Several input rows for one user and snapshot time: one is kept, deterministically (worked out by hand)."""

from __future__ import annotations

import duckdb
import pytest

from conftest import query, run_dbt

pytestmark = pytest.mark.integration


def test_duplicate_snapshot_rows_keep_the_first_in_feature_order(tmp_path):
    db = tmp_path / "dups.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema inputs")
        con.execute("""create table inputs.snaps as select * from (values
            ('007', timestamp '2026-01-01', 2.0, 'b'),
            ('007', timestamp '2026-01-01', 1.0, 'z'),   -- kept: smallest amount (first feature column)
            ('007', timestamp '2026-01-01', null, 'a'),  -- nulls sort last
            ('007', timestamp '2026-02-01', 5.0, 'q'),   -- another time: untouched
            ('008', timestamp '2026-01-01', 3.0, 'c'),
            ('008', timestamp '2026-01-01', 3.0, 'a'),   -- tie on amount: 'a' < 'c' on the next column
            ('009', timestamp '2026-01-01', 4.0, 'd')    -- no duplicate
        ) as t(user_id, snapshot_at, amount, tier)""")
    run_dbt(
        ["run", "--select", "stg_lookalike__user_snapshots", "int_lookalike__user_snapshots"],
        db,
        tmp_path,
        vars={"lookalike_demo": False, "lookalike_user_snapshots": "inputs.snaps"},
    )
    rows = query(
        db,
        "select user_id, strftime(snapshot_at, '%Y-%m-%d'), amount, tier from int_lookalike__user_snapshots order by 1, 2",
    )
    assert rows == [
        ("007", "2026-01-01", 1.0, "z"),
        ("007", "2026-02-01", 5.0, "q"),
        ("008", "2026-01-01", 3.0, "a"),
        ("009", "2026-01-01", 4.0, "d"),
    ]
