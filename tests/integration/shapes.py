"""Input shapes real users have, generated: the kinds of feature columns (only numeric, only boolean,
only text, one feature, hundreds), ids (integer, text, zero-padded text), time columns (date or
timestamp), with and without events and items.

`SHAPES` lists one spec per kind, chosen so that together they cover every id style, both time
types and events with and without items (a build costs ~30 s, so each axis value appears once
rather than in every combination; hypothesis's first example is always the simplest one, so it
would cover none of them). `write_shape(db_path, spec)` writes the inputs (schema `inputs`:
snapshots, labels, runs, and events/items when the spec has them) and returns the dbt vars that
point the package at them. Values (numbers, categories, nulls, event times, which users are seeds)
are drawn by a numpy generator seeded by the spec, so one spec always writes the same rows.

Every shape has two runs: `supervised` (MULTI_ENGAGE, 40 positives and 40 negatives) and `positive_only`
(SINGLE_ENGAGE, 30 positives). Users 1..N/2 lean positive: every feature kind carries some signal, so
each run can train.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np

AS_OF = "2026-06-01 00:00:00"
SNAPSHOT_DAYS = [dt.date(2026, 1, 1), dt.date(2026, 3, 1)]
KINDS = ("numeric", "boolean", "text", "one", "many")


@dataclasses.dataclass(frozen=True)
class ShapeSpec:
    kind: str  # which feature columns (KINDS)
    n_features: int  # columns besides user_id / snapshot_at
    id_style: str  # integer | text | zero_padded
    time_type: str  # date | timestamp (snapshot_at and label_timestamp)
    with_events: bool  # an events input (and items, when with_items)
    with_items: bool
    null_share: float  # share of null feature values
    n_users: int
    seed: int
    label_time_column: str = "label_timestamp"  # another name: a labels input whose time column is misnamed


SHAPES = [
    ShapeSpec(
        "numeric", 7, "integer", "date", with_events=False, with_items=False, null_share=0.05, n_users=220, seed=11
    ),
    ShapeSpec(
        "boolean",
        5,
        "zero_padded",
        "timestamp",
        with_events=True,
        with_items=True,
        null_share=0.0,
        n_users=200,
        seed=12,
    ),
    ShapeSpec("text", 3, "text", "timestamp", with_events=True, with_items=False, null_share=0.3, n_users=240, seed=13),
    ShapeSpec(
        "one",
        1,
        "zero_padded",
        "date",
        with_events=False,
        with_items=False,
        null_share=0.0,
        n_users=180,
        seed=14,
        label_time_column="label_timestmp",
    ),
    ShapeSpec(
        "many", 300, "integer", "timestamp", with_events=True, with_items=True, null_share=0.05, n_users=200, seed=15
    ),
]


def _kinds(spec: ShapeSpec) -> list[str]:
    if spec.kind in ("numeric", "boolean", "text"):
        return [spec.kind] * spec.n_features
    if spec.kind == "one":
        return ["numeric"]
    return [("numeric", "boolean", "text")[i % 3] for i in range(spec.n_features)]


def user_key(spec: ShapeSpec, i: int):
    return {"integer": i, "text": f"u{i}", "zero_padded": f"{i:06d}"}[spec.id_style]


def write_shape(db_path: Path, spec: ShapeSpec) -> dict:
    rng = np.random.default_rng(spec.seed)
    kinds = _kinds(spec)
    names = [f"f{j}_{k}" for j, k in enumerate(kinds)]
    id_type = "bigint" if spec.id_style == "integer" else "varchar"
    time_type = "date" if spec.time_type == "date" else "timestamp"
    con = duckdb.connect(str(db_path))
    con.execute("create schema if not exists inputs")
    sql_types = {"numeric": "double", "boolean": "boolean", "text": "varchar"}
    cols = ", ".join(f'"{n}" {sql_types[k]}' for n, k in zip(names, kinds, strict=True))
    con.execute(f"create or replace table inputs.snapshots (user_id {id_type}, snapshot_at {time_type}, {cols})")
    half = spec.n_users // 2
    rows = []
    for i in range(1, spec.n_users + 1):
        lean = 1.0 if i <= half else 0.0
        for day in SNAPSHOT_DAYS:
            values = []
            for k in kinds:
                if spec.null_share and rng.random() < spec.null_share:
                    values.append(None)
                elif k == "numeric":
                    values.append(float(np.round(rng.normal(lean * 1.5, 1.0), 3)))
                elif k == "boolean":
                    values.append(bool(rng.random() < 0.25 + 0.5 * lean))
                else:
                    values.append(
                        str(rng.choice(["alpha", "beta", "gamma"], p=[0.6, 0.3, 0.1] if lean else [0.1, 0.3, 0.6]))
                    )
            stamp = day if time_type == "date" else dt.datetime.combine(day, dt.time(6, 30))
            rows.append((user_key(spec, i), stamp, *values))
    con.executemany(f"insert into inputs.snapshots values ({', '.join('?' * (2 + len(kinds)))})", rows)

    label_day = dt.date(2026, 3, 15)
    label_stamp = label_day if time_type == "date" else dt.datetime(2026, 3, 15, 12, 0)
    labels = []
    positives = rng.choice(np.arange(1, half + 1), size=70, replace=False)
    negatives = rng.choice(np.arange(half + 1, spec.n_users + 1), size=40, replace=False)
    for i in positives[:40]:
        labels.append(("supervised", user_key(spec, int(i)), 1, label_stamp, None))
    for i in negatives:
        labels.append(("supervised", user_key(spec, int(i)), 0, label_stamp, 1.5))
    for i in positives[40:]:
        labels.append(("positive_only", user_key(spec, int(i)), 1, None, None))
    con.execute(
        f"create or replace table inputs.labels (run_id varchar, user_id {id_type}, label integer, "
        f"{spec.label_time_column} {time_type}, weight double)"
    )
    con.executemany("insert into inputs.labels values (?, ?, ?, ?, ?)", labels)
    con.execute(
        "create or replace table inputs.runs (run_id varchar, engagement_type varchar, unlabeled_sample_size integer)"
    )
    con.executemany(
        "insert into inputs.runs values (?, ?, ?)",
        [("supervised", "MULTI_ENGAGE", None), ("positive_only", "SINGLE_ENGAGE", 100)],
    )
    vars = {
        "lookalike_user_snapshots": "inputs.snapshots",
        "lookalike_labels": "inputs.labels",
        "lookalike_runs": "inputs.runs",
        "lookalike_as_of": AS_OF,
    }
    if spec.with_events:
        events = []
        for i in range(1, spec.n_users + 1):
            for _ in range(int(rng.integers(0, 4)) + (2 if i <= half else 0)):
                at = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=int(rng.integers(0, 140 * 24 * 60)))
                events.append(
                    (user_key(spec, i), at, str(rng.choice(["view", "buy"])), f"item{int(rng.integers(0, 6))}")
                )
        con.execute(
            f"create or replace table inputs.events (user_id {id_type}, event_at timestamp, event_type varchar, item_id varchar)"
        )
        con.executemany("insert into inputs.events values (?, ?, ?, ?)", events)
        vars["lookalike_events"] = "inputs.events"
        if spec.with_items:
            con.execute(
                "create or replace table inputs.items as "
                "select 'item' || i as item_id, case when i % 2 = 0 then 'even' else 'odd' end as category "
                "from range(6) t(i)"
            )
            vars["lookalike_items"] = "inputs.items"
    con.close()
    return vars


def feature_names(spec: ShapeSpec) -> list[str]:
    return [f"f{j}_{k}" for j, k in enumerate(_kinds(spec))]
