"""Time-matched positive-only runs (issue 28 part 3, decision 0035): the as-of time of each sampled
unlabeled example under the run setting unlabeled_as_of, worked out by hand on a small fixture.

Population and snapshots: fixtures.build_fixture_db (users 0001..0060, snapshots on the first of
January, February and March 2026; users 0051..0060 only from 2026-03-01). Two positive-only runs
on the same seeds (users 0001..0012), unlabeled_sample_size 1000 (every other user is sampled):

- 'tm': seeds 0001..0006 labelled at T1 = 2026-02-10 10:00, 0007..0012 at T2 = 2026-02-20 12:00,
  each exactly at one of its own 'rate' events (a first rating of a genre) -> auto = user_events.
- 'tm_cal': the same seeds labelled at 2026-02-11 00:00, where none of them has an event -> auto =
  label_times: every unlabeled example sits at 2026-02-11 00:00, as before decision 0035.
- 'tm_forced': as 'tm', with the runs input column unlabeled_as_of = 'User_Events ' (both builds).
- 'tm_half': seeds 0001..0006 at T1 (at their events), 0007..0012 at 2026-02-20 00:00 (not): exactly
  half, not more -> auto = label_times.
- 'tm_bad': as 'tm', with unlabeled_as_of = 'Events': FAILED, with a message naming run, input and fix.
- 'tm_late': seeds 0001..0006 at T1, 0007..0012 at T3 = 2026-03-05 12:00 (each at a 'rate' event
  there) -> auto = user_events, seeds' range T1 .. T3. Late joiner 0052 (first snapshot 2026-03-01)
  has one event in it, 2026-03-03: under label_times it is drawn at T1 and dropped (no snapshot
  yet); under user_events it sits at its event and is kept.

Two builds of the same inputs: the first with var lookalike_unlabeled_as_of = label_times (the
behaviour before decision 0035: each sampled user gets a drawn label time, T1 or T2, in a seeded
order), the second with the default, auto. The drawn time of a user does not depend on the rule, so
the first build's as-of time is the time a user without an event in the seeds' time range keeps in
the second. Users with one event time in that range (T1 .. T2, and at or after their first
snapshot) sit at it, whatever was drawn: the hand-made table EXPECTED. A user with two event times
there (0016) sits at one of them, picked in the run's seeded order.
"""

from __future__ import annotations

import duckdb
import pytest

from conftest import query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db, uid

pytestmark = pytest.mark.integration

T1 = "2026-02-10 10:00:00"
T2 = "2026-02-20 12:00:00"
CAL = "2026-02-11 00:00:00"
CAL2 = "2026-02-20 00:00:00"  # not at any event
T3 = "2026-03-05 12:00:00"  # tm_late's second seed time

SEEDS_T1 = [uid(i) for i in range(1, 7)]
SEEDS_T2 = [uid(i) for i in range(7, 13)]

# Each seed: a 'view' one hour before its label time (the session), the 'rate' event at it.
SEED_EVENTS = []
for _u in SEEDS_T1:
    SEED_EVENTS += [(_u, "2026-02-10 09:00:00", "view"), (_u, T1, "rate")]
for _u in SEEDS_T2:
    SEED_EVENTS += [(_u, "2026-02-20 11:00:00", "view"), (_u, T2, "rate"), (_u, T3, "rate")]

# Unlabeled users with events (every other sampled user has none and keeps its drawn time).
UNLABELED_EVENTS = [
    ("0013", "2026-02-09 09:00:00", "view"),  # before T1: outside the seeds' range, but a feature
    ("0013", "2026-02-12 09:00:00", "rate"),  # the one event time between T1 and T2
    ("0013", "2026-02-25 00:00:00", "rate"),  # after T2: outside
    ("0014", "2026-02-01 00:00:00", "view"),  # before the first seed time T1: outside
    ("0015", T1, "rate"),  # exactly at T1: inside (inclusive)
    ("0016", "2026-02-15 00:00:00", "view"),  # two event times inside
    ("0016", T2, "rate"),  # exactly at T2: inside (inclusive)
    ("0017", "2026-03-10 00:00:00", "rate"),  # after every seed time: outside
    ("0018", "2026-02-14 00:00:00", "view"),  # two events at one time
    ("0018", "2026-02-14 00:00:00", "rate"),
    ("0051", "2026-02-15 00:00:00", "rate"),  # before the user's first snapshot (2026-03-01): outside
    ("0052", "2026-03-03 00:00:00", "view"),  # after T2 (outside for tm); inside tm_late's T1 .. T3
]

#: user -> as-of time under user_events, worked out by hand: the user's one event time between T1
#: and T2 (the run's first and last seed times) and at or after the user's first snapshot.
EXPECTED = {"0013": "2026-02-12 09:00:00", "0015": T1, "0018": "2026-02-14 00:00:00"}
#: 0016: one of its two event times in the range.
EXPECTED_ONE_OF = {"0016": {"2026-02-15 00:00:00", T2}}


def build_inputs(db_path) -> None:
    build_fixture_db(db_path)
    con = duckdb.connect(str(db_path))
    labels = [("tm", u, 1, T1) for u in SEEDS_T1] + [("tm", u, 1, T2) for u in SEEDS_T2]
    labels += [("tm_cal", u, 1, CAL) for u in SEEDS_T1 + SEEDS_T2]
    labels += [("tm_forced", u, 1, T1) for u in SEEDS_T1] + [("tm_forced", u, 1, T2) for u in SEEDS_T2]
    labels += [("tm_half", u, 1, T1) for u in SEEDS_T1] + [("tm_half", u, 1, CAL2) for u in SEEDS_T2]
    labels += [("tm_bad", u, 1, T1) for u in SEEDS_T1] + [("tm_bad", u, 1, T2) for u in SEEDS_T2]
    labels += [("tm_late", u, 1, T1) for u in SEEDS_T1] + [("tm_late", u, 1, T3) for u in SEEDS_T2]
    con.execute(
        "create or replace table inputs.labels (run_id varchar, user_id varchar, label integer, label_timestamp timestamp)"
    )
    con.executemany("insert into inputs.labels values (?, ?, ?, ?)", labels)
    con.execute(
        "create or replace table inputs.runs (run_id varchar, engagement_type varchar, unlabeled_sample_size bigint, "
        "unlabeled_as_of varchar)"
    )
    con.executemany(
        "insert into inputs.runs values (?, ?, ?, ?)",
        [
            ("tm", "MULTI_ENGAGE", 1000, None),
            ("tm_cal", "MULTI_ENGAGE", 1000, None),
            ("tm_forced", "MULTI_ENGAGE", 1000, "User_Events "),
            ("tm_half", "MULTI_ENGAGE", 1000, None),
            ("tm_bad", "MULTI_ENGAGE", 1000, "Events"),
            ("tm_late", "MULTI_ENGAGE", 1000, None),
        ],
    )
    con.execute("create or replace table inputs.events (user_id varchar, event_at timestamp, event_type varchar)")
    con.executemany("insert into inputs.events values (?, ?, ?)", SEED_EVENTS + UNLABELED_EVENTS)
    con.close()


VARS = {**FIXTURE_VARS, "lookalike_events": "inputs.events", "lookalike_event_windows": [7, 30]}

POINTS = """
    select run_id, user_id, cast(as_of_at as varchar) as as_of_at, cast(snapshot_at as varchar) as snapshot_at, split
    from int_lookalike__training_points
    where example_source = 'unlabeled_sample'
    order by run_id, user_id
"""


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("time_matching")
    db = work / "tm.duckdb"
    build_inputs(db)
    run_dbt(["build"], db, work, vars={**VARS, "lookalike_unlabeled_as_of": "label_times"})
    old = query_dicts(db, POINTS)
    old_runs = query_dicts(
        db, "select run_id, status, unlabeled_as_of, training_action from lookalike_runs order by run_id"
    )
    run_dbt(["build"], db, work, vars=VARS)
    new = query_dicts(db, POINTS)
    return db, old, old_runs, new


def _by_user(rows, run_id):
    return {r["user_id"]: r for r in rows if r["run_id"] == run_id}


# The rows the package built before decision 0035 (commit e981c68, the same inputs): users drawn at
# T2 (the others at T1) and users in the test split. Users 0013..0050 are sampled; 0051..0060 have
# no snapshot before March and are dropped.
MAIN_DRAWN_T2 = {
    "tm": [
        "0013",
        "0015",
        "0018",
        "0019",
        "0025",
        "0027",
        "0028",
        "0029",
        "0031",
        "0033",
        "0034",
        "0036",
        "0037",
        "0039",
        "0042",
        "0044",
        "0045",
        "0047",
        "0048",
    ],
    "tm_cal": [],
}
MAIN_TEST_SPLIT = {
    "tm": ["0017", "0020", "0025", "0030", "0042", "0043", "0048", "0050"],
    "tm_cal": ["0013", "0021", "0022", "0024", "0037", "0043", "0048", "0050"],
}


def test_label_times_gives_the_rows_built_before_decision_0035(builds):
    _, old, old_runs, _ = builds
    assert [(r["run_id"], r["status"], r["unlabeled_as_of"]) for r in old_runs] == [
        ("tm", "FINISHED", "label_times"),
        ("tm_bad", "FAILED", "events"),
        ("tm_cal", "FINISHED", "label_times"),
        ("tm_forced", "FINISHED", "user_events"),
        ("tm_half", "FINISHED", "label_times"),
        ("tm_late", "FINISHED", "label_times"),
    ]
    for run_id, first in (("tm", T1), ("tm_cal", CAL)):
        rows = _by_user(old, run_id)
        assert sorted(rows) == [uid(i) for i in range(13, 51)]
        assert {u: r["as_of_at"] for u, r in rows.items()} == {
            u: T2 if u in MAIN_DRAWN_T2[run_id] else first for u in rows
        }
        assert sorted(u for u, r in rows.items() if r["split"] == "test") == MAIN_TEST_SPLIT[run_id]
        assert {r["snapshot_at"] for r in rows.values()} == {"2026-02-01 00:00:00"}


def test_user_events_moves_each_unlabeled_example_to_the_hand_computed_event(builds):
    _, old, _, new = builds
    before, after = _by_user(old, "tm"), _by_user(new, "tm")
    assert sorted(after) == sorted(before)  # the same users: the rule moves times, it drops no one here
    for user, row in after.items():
        if user in EXPECTED_ONE_OF:
            assert row["as_of_at"] in EXPECTED_ONE_OF[user], user
        else:
            # No event in the range (0014, 0017, and users without events): the drawn time.
            assert row["as_of_at"] == EXPECTED.get(user, before[user]["as_of_at"]), (user, row["as_of_at"])
        assert row["split"] == before[user]["split"]  # the split is per user and unchanged
    moved = sorted(u for u in after if after[u]["as_of_at"] != before[u]["as_of_at"])
    assert set(moved) <= {"0013", "0015", "0016", "0018"} and {"0013", "0018"} <= set(moved)


def test_auto_keeps_label_times_unless_most_seeds_are_labelled_at_their_events(builds):
    db, old, _, new = builds
    assert _by_user(new, "tm_cal") == _by_user(old, "tm_cal")
    assert _by_user(new, "tm_half") == _by_user(old, "tm_half")
    half = _by_user(new, "tm_half")
    assert {r["as_of_at"] for r in half.values()} == {T1, CAL2}
    # user_events would have moved 0013 and 0018 to their events (in the range T1 .. CAL2).
    assert half["0013"]["as_of_at"] in (T1, CAL2) and half["0018"]["as_of_at"] in (T1, CAL2)
    assert query(db, "select run_id, status, unlabeled_as_of from lookalike_runs order by run_id") == [
        ("tm", "FINISHED", "auto"),
        ("tm_bad", "FAILED", "events"),
        ("tm_cal", "FINISHED", "auto"),
        ("tm_forced", "FINISHED", "user_events"),
        ("tm_half", "FINISHED", "auto"),
        ("tm_late", "FINISHED", "auto"),
    ]


def test_user_events_set_on_the_run_applies_whatever_the_variable(builds):
    _, old, _, new = builds
    forced = _by_user(old, "tm_forced")
    assert _by_user(new, "tm_forced") == forced
    assert sorted(forced) == [uid(i) for i in range(13, 51)]
    for user, expected in EXPECTED.items():
        assert forced[user]["as_of_at"] == expected, user
    assert forced["0016"]["as_of_at"] in EXPECTED_ONE_OF["0016"]
    # Every other user has no event in the range: its own seeded draw, T1 or T2.
    assert {r["as_of_at"] for u, r in forced.items() if u not in EXPECTED and u != "0016"} == {T1, T2}


def test_a_bad_value_fails_the_run_with_a_message_naming_run_input_and_fix(builds):
    db, _, _, _ = builds
    [(message,)] = query(db, "select status_message from lookalike_runs where run_id = 'tm_bad'")
    assert (
        "run 'tm_bad': unlabeled_as_of 'events' is not one of auto, label_times, user_events. "
        "Did you mean 'user_events'? Fix the runs input column or var lookalike_unlabeled_as_of "
        "(null means the variable)."
    ) in message


def test_the_setting_is_in_the_fingerprint_so_a_change_retrains(builds):
    db, _, old_runs, _ = builds
    assert [(r["run_id"], r["training_action"]) for r in old_runs if r["run_id"] != "tm_bad"] == [
        ("tm", "trained"),
        ("tm_cal", "trained"),
        ("tm_forced", "trained"),
        ("tm_half", "trained"),
        ("tm_late", "trained"),
    ]
    # The variable went from label_times to auto: the runs that take it are refitted (for tm_cal
    # and tm_half only the setting changed, not an example); tm_forced sets its own value: reused.
    assert query(db, "select run_id, training_action from lookalike_runs where run_id <> 'tm_bad' order by run_id") == [
        ("tm", "trained"),
        ("tm_cal", "trained"),
        ("tm_forced", "reused"),
        ("tm_half", "trained"),
        ("tm_late", "trained"),
    ]


def test_event_features_are_strictly_before_the_matched_event(builds):
    db, _, _, _ = builds
    # 0013 sits at its own 'rate' event of 2026-02-12 09:00: that event is not counted, the view
    # 3 days before (outside the seeds' range, but before the as-of time) is.
    row = query_dicts(
        db,
        "select cast(as_of_at as varchar) as as_of_at, evt_rate_cnt_7d, evt_view_cnt_7d, evt_rate_days_since_last, "
        "evt_view_days_since_last from int_lookalike__training_examples where run_id = 'tm' and user_id = '0013'",
    )[0]
    assert row == {
        "as_of_at": "2026-02-12 09:00:00",
        "evt_rate_cnt_7d": 0,
        "evt_view_cnt_7d": 1,
        "evt_rate_days_since_last": None,
        "evt_view_days_since_last": 3.0,
    }
    # A seed at its label event, alike: the session's view one hour before counts, the rating does not.
    seed = query_dicts(
        db,
        "select evt_rate_cnt_7d, evt_view_cnt_7d, evt_view_days_since_last from int_lookalike__training_examples "
        "where run_id = 'tm' and user_id = '0007'",
    )[0]
    assert seed == {"evt_rate_cnt_7d": 0, "evt_view_cnt_7d": 1, "evt_view_days_since_last": pytest.approx(1 / 24)}


def test_a_late_joiner_sits_at_its_event_instead_of_being_dropped(builds):
    _, old, _, new = builds
    before, after = _by_user(old, "tm_late"), _by_user(new, "tm_late")
    # label_times: 0052 was drawn at T1, before its first snapshot (2026-03-01): dropped. The late
    # joiners drawn at T3 are kept there.
    assert "0052" not in before
    assert {before[u]["as_of_at"] for u in before if u >= "0051"} == {T3}
    # user_events: 0052 sits at its one event in T1 .. T3, with the snapshot of 2026-03-01.
    assert (after["0052"]["as_of_at"], after["0052"]["snapshot_at"]) == ("2026-03-03 00:00:00", "2026-03-01 00:00:00")
    assert sorted(after) == sorted([*before, "0052"])
