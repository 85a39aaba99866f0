"""The holdout bucket formula (decision 0028) in Python equals the same formula in DuckDB SQL, for
any run and user id (quotes, separators, unicode), and spreads users evenly."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from lookalike_udf.holdout import holdout_bucket, is_holdout

#: The SQL the macro lookalike_holdout_bucket compiles to on DuckDB (macros/lookalike_holdout.sql).
SQL = (
    "select (cast(('0x' || substr(md5(cast(length(r) as varchar) || ':' || cast(r as varchar) || "
    "cast(u as varchar)), 1, 8)) as bigint) % 10000) from (select ? as r, ? as u)"
)

ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(run_id=ids, user_id=ids)
def test_python_equals_duckdb(run_id, user_id):
    with duckdb.connect() as con:
        assert con.execute(SQL, [run_id, user_id]).fetchall() == [(holdout_bucket(run_id, user_id),)]


def test_the_run_id_is_a_salt_and_the_length_prefix_separates_ids():
    assert holdout_bucket("a:b", "c") != holdout_bucket("a", ":bc")
    users = [f"{i:05d}" for i in range(2000)]
    a = {u for u in users if is_holdout("run_a", u, 30)}
    b = {u for u in users if is_holdout("run_b", u, 30)}
    assert 0.25 < len(a) / 2000 < 0.35 and 0.25 < len(b) / 2000 < 0.35
    assert len(a & b) < 0.5 * len(a)  # independent splits, not the same users in every run


def test_edges():
    assert not is_holdout("r", "u", 0)
    assert all(is_holdout("r", str(i), 99.99) or holdout_bucket("r", str(i)) == 9999 for i in range(500))
