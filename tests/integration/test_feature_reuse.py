"""The SQL feature tables keep their previous table when nothing they read changed, and recompute
when anything did: real `dbt build`s on the hand-made fixture with events (fixtures.py).

Guarded models: int_lookalike__user_snapshots, int_lookalike__event_series,
int_lookalike__training_points, lookalike_pit_features, lookalike_inference_features
(macros/lookalike_reuse.sql).
"""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import query, run_dbt
from integration.fixtures import EVENT_VARS, add_events, build_fixture_db

pytestmark = pytest.mark.integration

GUARDED = {"int_lookalike__user_snapshots", "int_lookalike__event_series", "int_lookalike__training_points",
           "lookalike_pit_features", "lookalike_inference_features"}


def reused(proc) -> set[str]:
    return set(re.findall(r"lookalike: (\w+) reused \(inputs unchanged", proc.stdout))


def tables(db) -> dict:
    return {name: query(db, f"select * from {name} order by all") for name in sorted(GUARDED)}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("feature_reuse")
    db = work / "events.duckdb"
    build_fixture_db(db)
    add_events(db)
    out = {}

    def build(name, vars=EVENT_VARS, extra=()):
        proc = run_dbt(["build", *extra], db, work, vars=vars)
        out[name] = {"reused": reused(proc), "tables": tables(db),
                     "purchases_30d_0016": query(db, "select evt_purchase_cnt_30d from lookalike_pit_features "
                                                     "where run_id = 'pit' and user_id = '0016'")[0][0],
                     "comments": dict(query(db, "select table_name, comment from duckdb_tables() where comment is not null"))}
        out[name]["keys"] = {t: c[len("lookalike inputs key: "):][:32] for t, c in out[name]["comments"].items() if t in GUARDED}

    build("first")
    build("again")
    con = duckdb.connect(str(db))
    # One more purchase of user 0016, before its label (2026-02-01): a training and an inference feature change.
    con.execute("insert into inputs.events values ('0016', '2026-01-30 00:00:00', 'purchase', 'item_b', 7.0)")
    con.close()
    build("new_event")
    build("other_windows", vars={**EVENT_VARS, "lookalike_event_windows": [7, 30]})
    build("full_refresh", vars={**EVENT_VARS, "lookalike_event_windows": [7, 30]}, extra=("--full-refresh",))
    build("forced", vars={**EVENT_VARS, "lookalike_event_windows": [7, 30], "lookalike_force_retrain": True})
    return out


def test_first_build_computes_and_records_its_keys(builds):
    first = builds["first"]
    assert first["reused"] == set()
    assert set(first["keys"]) == GUARDED
    assert all(re.fullmatch(r"lookalike inputs key: [0-9a-f]{32}", first["comments"][t]) for t in GUARDED)


def test_unchanged_rebuild_keeps_every_feature_table_unchanged(builds):
    first, again = builds["first"], builds["again"]
    assert again["reused"] == GUARDED
    assert again["tables"] == first["tables"]
    assert again["keys"] == first["keys"]
    # The tables are kept as they are, not copied (lookalike_table, decision 0019); the incremental
    # event series appends nothing.
    for name in GUARDED - {"int_lookalike__event_series"}:
        assert re.fullmatch(r"lookalike inputs key: [0-9a-f]{32}; kept by build [0-9a-f-]{36}", again["comments"][name]), name
    assert again["comments"]["int_lookalike__event_series"] == first["comments"]["int_lookalike__event_series"]


def test_a_new_event_recomputes_what_reads_events_only(builds):
    before, after = builds["again"], builds["new_event"]
    # Labels and snapshots are unchanged, so the training points (examples without features) are too.
    assert after["reused"] == {"int_lookalike__user_snapshots", "int_lookalike__training_points"}
    assert after["tables"]["int_lookalike__user_snapshots"] == before["tables"]["int_lookalike__user_snapshots"]
    assert after["tables"]["lookalike_pit_features"] != before["tables"]["lookalike_pit_features"]
    assert after["tables"]["lookalike_inference_features"] != before["tables"]["lookalike_inference_features"]
    # 0016's purchases in the 30 days before its label (2026-02-01): 01-02 (exactly 30 days) and 01-25, then the new 01-30.
    assert (before["purchases_30d_0016"], after["purchases_30d_0016"]) == (2, 3)


def test_a_changed_variable_recomputes_the_features_that_use_it(builds):
    after = builds["other_windows"]
    # The event series does not depend on the windows; the feature tables do.
    assert after["reused"] == {"int_lookalike__user_snapshots", "int_lookalike__event_series",
                               "int_lookalike__training_points"}
    assert after["tables"]["lookalike_pit_features"] != builds["new_event"]["tables"]["lookalike_pit_features"]


def test_full_refresh_and_force_recompute_everything(builds):
    assert builds["full_refresh"]["reused"] == set()
    assert builds["forced"]["reused"] == set()
    # Recomputing the same inputs gives the same tables and keys.
    assert builds["full_refresh"]["tables"] == builds["other_windows"]["tables"]
    assert builds["forced"]["keys"] == builds["other_windows"]["keys"]
