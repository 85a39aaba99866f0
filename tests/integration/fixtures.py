"""Small hand-made inputs whose point-in-time answers are worked out by hand.

Population: users '0001'..'0060' (text ids with leading zeros), snapshots on 2026-01-01,
2026-02-01 and 2026-03-01 (users '0051'..'0060' only from 2026-03-01). Scoring time
(lookalike_as_of) 2026-06-01, so the latest snapshot is 2026-03-01 for everyone.

Features: score_signal (double; high for users 1..30 in every month), segment (text), is_active
(boolean). Users 1..30 look like the positives, 31..60 like the negatives.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

AS_OF = "2026-06-01 00:00:00"
SNAPSHOT_TIMES = ["2026-01-01 00:00:00", "2026-02-01 00:00:00", "2026-03-01 00:00:00"]


def uid(i: int) -> str:
    return f"{i:04d}"


def build_fixture_db(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("create schema if not exists inputs")
    rows = []
    for i in range(1, 61):
        for m, ts in enumerate(SNAPSHOT_TIMES):
            if i > 50 and m < 2:
                continue  # late joiners: first snapshot 2026-03-01
            signal = (10.0 if i <= 30 else 0.0) + (i % 7) * 0.5 + m
            rows.append((uid(i), ts, signal, "a" if i % 3 else "b", i % 2 == 0))
    con.execute(
        "create or replace table inputs.snapshots (user_id varchar, snapshot_at timestamp, "
        "score_signal double, segment varchar, is_active boolean)"
    )
    con.executemany("insert into inputs.snapshots values (?, ?, ?, ?, ?)", rows)

    labels = []
    # Run 'pit': MULTI_ENGAGE with negatives. Positives 1..15, negatives 31..45.
    for i in range(1, 16):
        labels.append(("pit", uid(i), 1, "2026-02-20 12:00:00", None))
    for i in range(31, 46):
        labels.append(("pit", uid(i), 0, "2026-02-20 12:00:00", 2.0))
    # Point-in-time edges (users 16..19 and 51, all positives of run 'pit'):
    labels += [
        ("pit", uid(16), 1, "2026-02-01 00:00:00", None),  # equal to a snapshot -> 2026-02-01
        ("pit", uid(17), 1, "2026-02-15 08:30:00", None),  # between snapshots -> 2026-02-01
        ("pit", uid(18), 1, "2025-12-31 23:59:59", None),  # before the first snapshot -> unmatched
        ("pit", uid(19), 1, None, None),  # no timestamp -> latest (2026-03-01)
        ("pit", uid(51), 1, "2026-02-15 00:00:00", None),  # before this user's first snapshot -> unmatched
        ("pit", uid(20), 1, "2026-01-31 23:59:59.999999", None),  # just before -> 2026-01-01
    ]
    # A conflict: user 21 positive and negative at the same timestamp -> both excluded.
    labels += [("pit", uid(21), 1, "2026-02-10 00:00:00", None), ("pit", uid(21), 0, "2026-02-10 00:00:00", None)]
    # Run 'single': SINGLE_ENGAGE, positives only (users 1..12).
    for i in range(1, 13):
        labels.append(("single", uid(i), 1, "2026-03-05 00:00:00", None))
    # Run 'few_negatives': 12 positives, 7 negatives -> FAILED.
    for i in range(1, 13):
        labels.append(("few_negatives", uid(i), 1, "2026-03-05 00:00:00", None))
    for i in range(31, 38):
        labels.append(("few_negatives", uid(i), 0, "2026-03-05 00:00:00", None))
    # Labels for a run that the runs input does not declare.
    for i in range(1, 11):
        labels.append(("ghost", uid(i), 1, None, None))
    con.execute(
        "create or replace table inputs.labels (run_id varchar, user_id varchar, label integer, "
        "label_timestamp timestamp, weight double)"
    )
    con.executemany("insert into inputs.labels values (?, ?, ?, ?, ?)", labels)

    con.execute(
        "create or replace table inputs.runs (run_id varchar, run_description varchar, "
        "engagement_type varchar, build_only boolean)"
    )
    con.executemany(
        "insert into inputs.runs values (?, ?, ?, ?)",
        [
            ("pit", "point-in-time edges", "MULTI_ENGAGE", False),
            ("single", "new users only", "SINGLE_ENGAGE", None),
            ("few_negatives", "too few negatives", None, False),
        ],
    )
    con.close()


FIXTURE_VARS = {
    "lookalike_user_snapshots": "inputs.snapshots",
    "lookalike_labels": "inputs.labels",
    "lookalike_runs": "inputs.runs",
    "lookalike_as_of": AS_OF,
    "lookalike_demo": False,
    # Set as a list on purpose (the default, null, is the demo's): the list form reaches the
    # Python model through dbt's config rendering. Other dialects: tests/unit/test_sql_compile.py.
    "lookalike_scoring_sql_dialects": ["duckdb"],
}


# --- Events and items, for the event feature layer -------------------------------------------
# Top event types by volume: view (16 events) > purchase (9) > 'Weird Type!' (2). With
# lookalike_event_top_types = 2, 'Weird Type!' is a type the layer does not name.
EVENTS = [
    # User 0016, label (run 'pit') at 2026-02-01 00:00:00:
    ("0016", "2026-01-02 00:00:00", "purchase", "item_a", 10.0),  # exactly 30 days before: inside 30d
    ("0016", "2026-01-01 23:59:59", "purchase", "item_b", 20.0),  # one second outside 30d, inside 90d
    ("0016", "2026-02-01 00:00:00", "purchase", "item_a", 100.0),  # at the label time: excluded
    ("0016", "2026-01-25 12:00:00", "purchase", None, 5.0),  # 6.5 days before: inside 7d
    ("0016", "2026-01-20 10:00:00", "view", "item_a", None),
    # User 0017, label at 2026-02-15 08:30: only events of a type outside the top 2.
    ("0017", "2026-01-10 00:00:00", "Weird Type!", "item_c", None),
    ("0017", "2026-02-10 00:00:00", "Weird Type!", "item_c", None),
]
EVENTS += [(uid(i), "2026-01-10 00:00:00", "view", "item_b", None) for i in range(1, 16)]
EVENTS += [(uid(i), "2026-01-15 00:00:00", "purchase", None, None) for i in range(31, 36)]
ITEMS = [("item_a", "Outdoor Gear"), ("item_b", "books")]  # item_c has no category row

EVENT_VARS = {
    **FIXTURE_VARS,
    "lookalike_events": "inputs.events",
    "lookalike_items": "inputs.items",
    "lookalike_event_top_types": 2,
    "lookalike_affinity_top_categories": 2,
}


def add_events(db_path: Path, events=EVENTS) -> None:
    con = duckdb.connect(str(db_path))
    con.execute(
        "create or replace table inputs.events (user_id varchar, event_at timestamp, event_type varchar, "
        "item_id varchar, value double)"
    )
    con.executemany("insert into inputs.events values (?, ?, ?, ?, ?)", events)
    con.execute("create or replace table inputs.items (item_id varchar, category varchar)")
    con.executemany("insert into inputs.items values (?, ?)", ITEMS)
    con.close()


# --- Outcomes, for lookalike_audience_lift ---------------------------------------------------
# Times far from any build: 2099 is after every publication (counts), 2001 before (does not).
OUTCOMES = [("pit", uid(i), "2099-01-02 00:00:00", float(i)) for i in range(3, 61, 3)]  # pit only
OUTCOMES += [(None, uid(i), "2099-01-03 12:00:00", None) for i in range(4, 61, 4)]  # every run, no value
OUTCOMES += [("pit", uid(i), "2001-01-01 00:00:00", 100.0) for i in range(5, 61, 5)]  # before publication
OUTCOMES += [
    (None, None, "2099-01-02 00:00:00", 1.0),  # no user: invalid
    ("single", uid(2), "2099-01-02 00:00:00", float("inf")),  # not a finite value: invalid
    ("single", uid(7), "2099-01-02 00:00:00", 2.5),
    ("no_such_run", uid(7), "2099-01-02 00:00:00", 9.0),
]


def add_outcomes(db_path: Path, outcomes=OUTCOMES) -> None:
    con = duckdb.connect(str(db_path))
    con.execute(
        "create or replace table inputs.outcomes (run_id varchar, user_id varchar, outcome_at timestamp, value double)"
    )
    con.executemany("insert into inputs.outcomes values (?, ?, ?, ?)", outcomes)
    con.close()


def add_scd2_snapshots(db_path: Path, deleted_user: str | None = None, deleted_at: str | None = None) -> None:
    """inputs.snapshots_scd2: the periodic snapshots as a dbt snapshot (one version per snapshot,
    valid until the user's next one). Optionally the last version of one user ends (a deletion)."""
    con = duckdb.connect(str(db_path))
    con.execute("""
        create or replace table inputs.snapshots_scd2 as
        select user_id, score_signal, segment, is_active,
               md5(user_id || cast(snapshot_at as varchar)) as dbt_scd_id,
               snapshot_at as dbt_updated_at,
               snapshot_at as dbt_valid_from,
               lead(snapshot_at) over (partition by user_id order by snapshot_at) as dbt_valid_to
        from inputs.snapshots""")
    if deleted_user:
        con.execute(
            "update inputs.snapshots_scd2 set dbt_valid_to = ? where user_id = ? and dbt_valid_to is null",
            [deleted_at, deleted_user],
        )
    con.close()
