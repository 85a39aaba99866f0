"""The SQL feature tables keep their previous table when nothing they read changed, and recompute
when anything did: real `dbt build`s on the hand-made fixture with events (fixtures.py).

Feature tables (lookalike_keep without a row checksum, decision 0025): int_lookalike__user_snapshots,
int_lookalike__event_series, int_lookalike__training_points, lookalike_pit_features,
lookalike_inference_features (macros/lookalike_reuse.sql).
"""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from conftest import build_state, kept_by_last_build, query, run_dbt
from integration.fixtures import EVENT_VARS, add_events, build_fixture_db

pytestmark = pytest.mark.integration

GUARDED = {
    "int_lookalike__user_snapshots",
    "int_lookalike__event_series",
    "int_lookalike__training_points",
    "lookalike_pit_features",
    "lookalike_inference_features",
}


def kept_in_log(proc) -> set[str]:
    return set(re.findall(r"lookalike: (\w+) kept: its inputs are unchanged", proc.stdout))


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
        kept = kept_by_last_build(db)
        assert kept_in_log(proc) == kept, name  # the console says what the build state records
        out[name] = {
            "reused": kept & GUARDED,
            "tables": tables(db),
            "purchases_30d_0016": query(
                db, "select evt_purchase_cnt_30d from lookalike_pit_features where run_id = 'pit' and user_id = '0016'"
            )[0][0],
            "state": build_state(db),
        }
        out[name]["keys"] = {t: row["inputs_key"] for t, row in out[name]["state"].items() if t in GUARDED}

    build("first")
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    out["keep_models"] = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("lookalike_keep")
    }
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
    # One row per lookalike_keep model (from dbt's manifest), all written by the same build.
    assert set(first["state"]) == builds["keep_models"] and len(builds["keep_models"]) >= 15
    assert len({row["invocation_id"] for row in first["state"].values()}) == 1
    for name in GUARDED:
        row = first["state"][name]
        # lookalike_inference_features (config lookalike_delta, decision 0041) also records the key
        # without its inference snapshots.
        shape = r"[0-9a-f]{32}/[0-9a-f]{32}" if name == "lookalike_inference_features" else r"[0-9a-f]{32}"
        assert row["action"] == "built" and re.fullmatch(shape, row["inputs_key"]), name
        assert row["rows_checksum"] is None, name  # named downstream by its key, not by a checksum


def test_unchanged_rebuild_keeps_every_feature_table_unchanged(builds):
    first, again = builds["first"], builds["again"]
    assert again["reused"] == GUARDED
    assert again["tables"] == first["tables"]
    assert again["keys"] == first["keys"]
    # The tables are kept as they are, not copied (lookalike_table, decision 0025).
    for name in GUARDED:
        assert again["state"][name]["action"] == "kept", name
        assert again["state"][name]["invocation_id"] != first["state"][name]["invocation_id"], name


def test_a_new_event_recomputes_what_reads_events_only(builds):
    before, after = builds["again"], builds["new_event"]
    # Labels and snapshots are unchanged. The training points read events too since decision 0035
    # (unlabeled_as_of: auto asks whether the seeds sit at one of their events, user_events places
    # unlabeled users at theirs), so they are recomputed, and come out the same rows here (the
    # fixture's runs stay on label_times).
    assert after["reused"] == {"int_lookalike__user_snapshots"}
    assert after["tables"]["int_lookalike__user_snapshots"] == before["tables"]["int_lookalike__user_snapshots"]
    assert after["tables"]["int_lookalike__training_points"] == before["tables"]["int_lookalike__training_points"]
    assert after["tables"]["lookalike_pit_features"] != before["tables"]["lookalike_pit_features"]
    assert after["tables"]["lookalike_inference_features"] != before["tables"]["lookalike_inference_features"]
    # 0016's purchases in the 30 days before its label (2026-02-01): 01-02 (exactly 30 days) and 01-25, then the new 01-30.
    assert (before["purchases_30d_0016"], after["purchases_30d_0016"]) == (2, 3)


def test_a_changed_variable_recomputes_the_features_that_use_it(builds):
    after = builds["other_windows"]
    # The event series does not depend on the windows; the feature tables do.
    assert after["reused"] == {
        "int_lookalike__user_snapshots",
        "int_lookalike__event_series",
        "int_lookalike__training_points",
    }
    assert after["tables"]["lookalike_pit_features"] != builds["new_event"]["tables"]["lookalike_pit_features"]


def test_full_refresh_and_force_recompute_everything(builds):
    assert builds["full_refresh"]["reused"] == set()
    assert builds["forced"]["reused"] == set()
    # Recomputing the same inputs gives the same tables and keys.
    assert builds["full_refresh"]["tables"] == builds["other_windows"]["tables"]
    assert builds["forced"]["keys"] == builds["other_windows"]["keys"]
