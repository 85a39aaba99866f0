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
    con.execute("create or replace table inputs.snapshots (user_id varchar, snapshot_at timestamp, "
                "score_signal double, segment varchar, is_active boolean)")
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
        ("pit", uid(19), 1, None, None),                   # no timestamp -> latest (2026-03-01)
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
    con.execute("create or replace table inputs.labels (run_id varchar, user_id varchar, label integer, "
                "label_timestamp timestamp, weight double)")
    con.executemany("insert into inputs.labels values (?, ?, ?, ?, ?)", labels)

    con.execute("create or replace table inputs.runs (run_id varchar, run_description varchar, "
                "engagement_type varchar, build_only boolean)")
    con.executemany("insert into inputs.runs values (?, ?, ?, ?)", [
        ("pit", "point-in-time edges", "MULTI_ENGAGE", False),
        ("single", "new users only", "SINGLE_ENGAGE", None),
        ("few_negatives", "too few negatives", None, False),
    ])
    con.close()


FIXTURE_VARS = {
    "lookalike_user_snapshots": "inputs.snapshots",
    "lookalike_labels": "inputs.labels",
    "lookalike_runs": "inputs.runs",
    "lookalike_as_of": AS_OF,
    "lookalike_demo": False,
}
