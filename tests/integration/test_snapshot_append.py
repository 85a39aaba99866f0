"""A day of new snapshots costs what changed on the snapshot side (issue 27 part 3, decision 0039):
real `dbt` builds of the hand-made fixture (fixtures.py), each compared with a build from scratch.

- int_lookalike__user_snapshots (config lookalike_append) inserts its SQL over the input's new rows
  when the input only gained rows after the table's latest snapshot_at; any other change (an old
  row changed, deleted or duplicated, a snapshot arriving late with a past date) builds it whole.
- int_lookalike__training_points names the snapshot keys by their part it can read (the users
  with their first snapshot, the keys up to the latest positive label time): new snapshots after
  every positive label keep it; a new user rebuilds it. lookalike_pit_labels likewise (the
  labelled users' keys up to the latest label time): an unlabelled user's late snapshot keeps it.
- The inference side (decision 0041, config lookalike_delta): int_lookalike__inference_snapshots
  replaces only the users with snapshot rows after its latest snapshot_at (when the snapshots only
  gained such rows), lookalike_inference_features only the users whose inference snapshot row
  changed (when the events before the scoring time, the items and its code are unchanged), the
  feature hashes only the users whose feature row's row_hash changed. Events added before the
  scoring time and a moved scoring time rebuild the feature table whole; events after the scoring
  time keep it.
In every case the six tables equal a --full-refresh of them on a copy of the same warehouse, and after
the scheduled day every public table compared equals a full build from scratch.

The labels are the fixture's without the ones with no timestamp (those take the scoring time, which
is after the new snapshots): the latest positive label time is 2026-03-05.
"""

from __future__ import annotations

import re
import shutil

import duckdb
import pytest

from conftest import build_state, query, run_dbt
from integration.fixtures import FIXTURE_VARS, add_events, build_fixture_db

pytestmark = pytest.mark.integration

SNAPSHOTS, POINTS, LABELS = "int_lookalike__user_snapshots", "int_lookalike__training_points", "lookalike_pit_labels"
INF_SNAPSHOTS, FEATURES = "int_lookalike__inference_snapshots", "lookalike_inference_features"
HASHES = "int_lookalike__population_feature_hashes"
INFERENCE = (INF_SNAPSHOTS, FEATURES, HASHES)
TABLES = (SNAPSHOTS, POINTS, LABELS, *INFERENCE)
VARS = {**FIXTURE_VARS, "lookalike_labels": "inputs.labels_timed"}
EVENT_VARS = {
    **VARS,
    "lookalike_events": "inputs.events",
    "lookalike_items": "inputs.items",
    "lookalike_event_top_types": 2,
    "lookalike_affinity_top_categories": 2,
}
UPSTREAM = ["--select", f"+{POINTS}", f"+{HASHES}"]
PUBLIC = {
    "lookalike_inference_features": "select * exclude (as_of_at) from lookalike_inference_features",
    "lookalike_pit_features": "select * from lookalike_pit_features",
    "int_lookalike__training_examples": "select * from int_lookalike__training_examples",
    "lookalike_user_scores": "select run_id, user_id, round(score, 12), score_rank from lookalike_user_scores",
    "lookalike_audiences": "select run_id, user_id, round(score, 12), score_rank, is_seed_user from lookalike_audiences",
}

# The scheduled day: a new snapshot for 0001..0003 (features changed), two rows with the same key
# for 0004 (the usual duplicate rule applies), all after the latest snapshot (2026-03-01) and the
# latest positive label time (2026-03-05), before the scoring time (2026-06-01).
NEW_DAY = [
    "insert into inputs.snapshots values ('0001', '2026-04-01 00:00:00', 99.0, 'b', false)",
    "insert into inputs.snapshots values ('0002', '2026-04-01 00:00:00', -1.0, 'a', true)",
    "insert into inputs.snapshots values ('0003', '2026-04-01 00:00:00', null, null, null)",
    "insert into inputs.snapshots values ('0004', '2026-04-01 00:00:00', 7.0, 'b', true)",
    "insert into inputs.snapshots values ('0004', '2026-04-01 00:00:00', 6.0, 'c', true)",
]
# Then one change per step, each on top of the previous ones: (name, statements, appended, points
# kept, labels kept). Labelled users: 0001..0021, 0031..0045, 0051 (labels up to 2026-03-05).
STEPS = [
    (
        "new_user",
        ["insert into inputs.snapshots values ('0070', '2026-04-02 00:00:00', 5.0, 'a', true)"],
        True,
        False,
        True,
    ),
    (
        "next_day",
        ["insert into inputs.snapshots values ('0005', '2026-04-03 00:00:00', 1.0, 'a', true)"],
        True,
        True,
        True,
    ),
    (
        "changed_old_row",
        ["update inputs.snapshots set score_signal = 123.0 where user_id = '0040' and snapshot_at = '2026-02-01'"],
        False,
        True,
        True,
    ),
    (
        "deleted_row",
        ["delete from inputs.snapshots where user_id = '0041' and snapshot_at = '2026-01-01'"],
        False,
        False,
        False,
    ),
    (
        "late_past_snapshot",
        ["insert into inputs.snapshots values ('0042', '2026-02-15 00:00:00', 2.0, 'a', true)"],
        False,
        False,
        False,
    ),
    (
        "unlabelled_user_late_past_snapshot",
        ["insert into inputs.snapshots values ('0050', '2026-02-15 00:00:00', 2.0, 'a', true)"],
        False,
        False,
        True,
    ),
    (
        "duplicated_old_key",
        [
            "insert into inputs.snapshots select * from inputs.snapshots where user_id = '0043' and snapshot_at = '2026-03-01'"
        ],
        False,
        True,
        True,
    ),
    (
        "new_row_at_the_latest_time",
        ["insert into inputs.snapshots values ('0044', '2026-04-03 00:00:00', 8.0, 'b', false)"],
        False,
        True,
        True,
    ),
]


# Then the inference side with events (decision 0041), each on top of the previous ones: (name,
# statements or a callable given the warehouse, vars, expected actions of the three inference tables,
# users updated by the hash table, or None when it is built).
# Fixture events: users 0001..0017 and 0031..0035, January-February 2026; the scoring time is
# 2026-06-01.
INFERENCE_STEPS = [
    # A new events input: the feature plan (in the compiled code) gains columns: built whole.
    ("events_input", add_events, EVENT_VARS, ("kept", "built", "built"), None),
    # Events for two users without events, before the scoring time, of the top type 'view' and no
    # item (the plan is unchanged): the events a feature can read changed, so the feature table is
    # built whole; only those two users' feature rows changed, so only they are hashed again.
    (
        "events_before_the_scoring_time",
        [
            "insert into inputs.events values ('0020', '2026-05-01 00:00:00', 'view', null, null)",
            "insert into inputs.events values ('0021', '2026-05-20 00:00:00', 'view', null, null)",
        ],
        EVENT_VARS,
        ("kept", "built", "updated"),
        2,
    ),
    # An event after the scoring time reaches no feature: everything is kept.
    (
        "events_after_the_scoring_time",
        ["insert into inputs.events values ('0022', '2026-07-01 00:00:00', 'view', null, null)"],
        EVENT_VARS,
        ("kept", "kept", "kept"),
        0,
    ),
    # The scoring time moves by a day: both tables that read it are built whole (it is in their
    # compiled code); the hashes change for exactly the users whose time-dependent features changed.
    (
        "scoring_time_moved",
        [],
        {**EVENT_VARS, "lookalike_as_of": "2026-06-02 00:00:00"},
        ("built", "built", "updated"),
        "changed",
    ),
]


def execute(db, statements) -> None:
    con = duckdb.connect(str(db))
    for statement in statements:
        con.execute(statement)
    con.close()


def table(db, name: str) -> list[tuple]:
    return query(db, f"select * from {name} order by all")


def rebuilt_from_scratch(db, work, name: str, args, vars=VARS) -> dict:
    """The tables (and, with a whole build, the public ones) of a --full-refresh on a copy of `db`."""
    copy_work = work / name
    copy_work.mkdir()
    copy = copy_work / "copy.duckdb"
    shutil.copy2(db, copy)
    run_dbt([*args, "--full-refresh"], copy, copy_work, vars=vars)
    return {"tables": {t: table(copy, t) for t in TABLES}, "public": public(copy)}


def updated(log: str, name: str) -> int | None:
    """How many keys the build's log says `name` replaced (action 'updated'), or None."""
    found = re.search(rf"lookalike: {name} updated: (\d+) user_id changed", log)
    return int(found.group(1)) if found else None


def public(db) -> dict:
    return {name: query(db, f"{sql} order by all") for name, sql in PUBLIC.items()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("snapshot_append")
    db = work / "warehouse.duckdb"
    build_fixture_db(db)
    execute(db, ["create table inputs.labels_timed as select * from inputs.labels where label_timestamp is not null"])
    out = {}
    run_dbt(["build"], db, work, vars=VARS)
    out["first"] = {"state": build_state(db), "points": table(db, POINTS)}

    execute(db, NEW_DAY)
    proc = run_dbt(["build"], db, work, vars=VARS)
    out["new_day"] = {
        "state": build_state(db),
        "log": proc.stdout,
        "tables": {t: table(db, t) for t in TABLES},
        "public": public(db),
        "new_day_users": query(
            db, "select user_id from lookalike_inference_features where snapshot_at = '2026-04-01' order by 1"
        ),
        "scratch": rebuilt_from_scratch(db, work, "new_day_scratch", ["build"]),
    }
    steps = [(name, statements, VARS) for name, statements, *_ in STEPS]
    steps += [(name, statements, vars) for name, statements, vars, *_ in INFERENCE_STEPS]
    for name, statements, vars in steps:
        before = build_state(db)
        hashes_before = table(db, HASHES)
        if callable(statements):
            statements(db)
        else:
            execute(db, statements)
        proc = run_dbt(["run", *UPSTREAM], db, work, vars=vars)
        out[name] = {
            "before": before,
            "state": build_state(db),
            "log": proc.stdout,
            "hashes_before": hashes_before,
            "tables": {t: table(db, t) for t in TABLES},
            "scratch": rebuilt_from_scratch(
                db, work, f"{name}_scratch", ["run", "--select", " ".join(TABLES)], vars=vars
            ),
        }
    return out


def test_a_scheduled_day_appends_the_new_snapshots_and_keeps_the_training_points(builds):
    day, first = builds["new_day"], builds["first"]
    assert day["state"][SNAPSHOTS]["action"] == "appended"
    assert f"lookalike: {SNAPSHOTS} appended: only rows newer than its latest snapshot_at" in day["log"]
    # The key recorded is the one a whole build records (the scratch build's own state is not read:
    # its key equals by construction; the rows are compared below).
    assert day["state"][SNAPSHOTS]["inputs_key"] != first["state"][SNAPSHOTS]["inputs_key"]
    assert day["state"][POINTS]["action"] == "kept"
    assert day["state"][LABELS]["action"] == "kept"
    # The inference side replaces the four users' rows only (decision 0041).
    for name in INFERENCE:
        assert day["state"][name]["action"] == "updated", name
        assert updated(day["log"], name) == 4, name
    assert day["tables"][POINTS] == first["points"]
    # 60 users x 3 months, 10 late joiners with one: 160 rows, then 4 new keys (0004's two rows are one key).
    assert len(day["tables"][SNAPSHOTS]) == 164
    assert [r[2:] for r in day["tables"][SNAPSHOTS] if r[0] == "0004" and str(r[1]).startswith("2026-04-01")] == [
        (None, 6.0, "c", True)
    ]


def test_the_scheduled_day_equals_a_build_from_scratch(builds):
    day = builds["new_day"]
    assert day["tables"] == day["scratch"]["tables"]
    assert day["public"] == day["scratch"]["public"]
    # The new snapshots reach the population: the four users' latest snapshot is the new day's.
    assert day["new_day_users"] == [("0001",), ("0002",), ("0003",), ("0004",)]


@pytest.mark.parametrize("name, statements, appended, points_kept, labels_kept", STEPS, ids=[s[0] for s in STEPS])
def test_each_change_gives_the_tables_of_a_build_from_scratch(
    builds, name, statements, appended, points_kept, labels_kept
):
    step = builds[name]
    assert step["tables"] == step["scratch"]["tables"], name
    assert step["state"][SNAPSHOTS]["action"] == ("appended" if appended else "built"), name
    assert step["state"][SNAPSHOTS]["invocation_id"] != step["before"][SNAPSHOTS]["invocation_id"], name
    assert step["state"][POINTS]["action"] == ("kept" if points_kept else "built"), name
    if points_kept:
        assert step["state"][POINTS]["inputs_key"] == step["before"][POINTS]["inputs_key"], name
    assert step["state"][LABELS]["action"] == ("kept" if labels_kept else "built"), name


@pytest.mark.parametrize("name, statements, appended, points_kept, labels_kept", STEPS, ids=[s[0] for s in STEPS])
def test_each_snapshot_change_updates_or_builds_the_inference_side(
    builds, name, statements, appended, points_kept, labels_kept
):
    """The snapshots only gained rows after the latest: the inference snapshots replace the users
    with such rows; any other change builds them whole. The feature table and the hashes never need
    a whole build here (their other inputs and code are unchanged): each replaces the users whose
    input row changed, or is kept when its input's rows are all unchanged."""
    step = builds[name]
    # A duplicated old key rebuilds the deduplicated snapshots with the rows they had: the inference
    # snapshots' input, cut at their latest, still has the recorded checksum, so they are updated
    # for no user.
    expected = "updated" if appended or name == "duplicated_old_key" else "built"
    assert step["state"][INF_SNAPSHOTS]["action"] == expected, name
    if name == "duplicated_old_key":
        assert updated(step["log"], INF_SNAPSHOTS) == 0
    for table_name in (FEATURES, HASHES):
        action = step["state"][table_name]["action"]
        assert action in ("updated", "kept"), (name, table_name)
        if action == "kept":
            assert step["state"][table_name]["inputs_key"] == step["before"][table_name]["inputs_key"], name
    # Exactly the users whose hash changed (or who are new) were hashed again.
    before = {user: feature_hash for user, feature_hash, _ in step["hashes_before"]}
    changed = sum(1 for user, feature_hash, _ in step["tables"][HASHES] if before.get(user) != feature_hash)
    if step["state"][HASHES]["action"] == "kept":
        assert changed == 0, name
    else:
        assert updated(step["log"], HASHES) == changed, name


@pytest.mark.parametrize(
    "name, statements, vars, actions, hashed", INFERENCE_STEPS, ids=[s[0] for s in INFERENCE_STEPS]
)
def test_the_inference_side_with_events_and_a_moving_scoring_time(builds, name, statements, vars, actions, hashed):
    step = builds[name]
    assert step["tables"] == step["scratch"]["tables"], name
    assert tuple(step["state"][t]["action"] for t in INFERENCE) == actions, name
    before = {user: feature_hash for user, feature_hash, _ in step["hashes_before"]}
    changed = sum(1 for user, feature_hash, _ in step["tables"][HASHES] if before.get(user) != feature_hash)
    if hashed == "changed":
        # The moved scoring time changes the days-since features of the users with events, not the
        # others': some users are hashed again, not all of them.
        assert 0 < changed < len(step["tables"][HASHES])
        assert updated(step["log"], HASHES) == changed
    elif hashed is not None:
        assert changed == hashed, name
        if actions[2] == "updated":
            assert updated(step["log"], HASHES) == hashed, name
