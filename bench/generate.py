"""Deterministic benchmark data, written straight into a DuckDB file with SQL (no pandas frame).

Scales:
  S  10,000 users x 6 monthly snapshots, 200,000 events, 3 runs x 1,000 labels
  M  1,000,000 users x 12 monthly snapshots (12M rows) x 30 features, 20,000,000 events,
     3 runs x 50,000 labels
  L  10,000,000 users, latest snapshot only, no events, 1 run of 50,000 labels (for scoring)
  L1 L at 1,000,000 users (scoring memory at 1M vs 10M users, the same shape)
  P  200,000 users x 12 monthly snapshots x 30 features, no events, 3 runs x 10,000 labels (the
     fixed costs of a build at a moderate scale: the importance report, issue 17)

Every user has a known true probability (table inputs.truth: p_true, y_true). The signal lives in
a few numeric, categorical and boolean columns and in the rate of 'purchase' events. Runs:
  r_negatives  MULTI_ENGAGE, positives and negatives (half each)
  r_positives  MULTI_ENGAGE, positives only
  r_single     SINGLE_ENGAGE, positives only
(L has r_negatives only.) Values come from DuckDB's hash() of (seed, row, column), so the same seed
gives the same tables on any machine with the same DuckDB version.

    python bench/generate.py --scale S --db /tmp/bench-data/S.duckdb [--seed 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

SCALES = {
    "S": dict(users=10_000, snapshots=6, events=200_000, labels=1_000, runs=("r_negatives", "r_positives", "r_single")),
    "M": dict(
        users=1_000_000, snapshots=12, events=20_000_000, labels=50_000, runs=("r_negatives", "r_positives", "r_single")
    ),
    "L": dict(users=10_000_000, snapshots=1, events=0, labels=50_000, runs=("r_negatives",)),
    # L's shape at a tenth of the users: scoring memory at 1M vs 10M users, everything else equal.
    "L1": dict(users=1_000_000, snapshots=1, events=0, labels=50_000, runs=("r_negatives",)),
    "P": dict(users=200_000, snapshots=12, events=0, labels=10_000, runs=("r_negatives", "r_positives", "r_single")),
    # Issue 29's Spark plans before/after (decision 0033): M's shape (events, 12 snapshots) at 1/20 of the users.
    "E50K": dict(
        users=50_000, snapshots=12, events=1_000_000, labels=2_500, runs=("r_negatives", "r_positives", "r_single")
    ),
    # Issue 17's side-by-side shapes: no events, two runs (one with negatives, one positive-only).
    "T200K": dict(users=200_000, snapshots=12, events=0, labels=10_000, runs=("r_negatives", "r_positives")),
    "T1M": dict(users=1_000_000, snapshots=12, events=0, labels=50_000, runs=("r_negatives", "r_positives")),
}
#: Last snapshot month; scoring time (lookalike_as_of) is the first day after it.
LAST_SNAPSHOT = "2026-06-01"
AS_OF = "2026-07-01 00:00:00"
N_NUMERIC, N_CATEGORICAL, N_BOOLEAN = 20, 5, 5
EVENT_TYPES = ("view", "click", "search", "share", "cart")  # plus 'purchase'


def _u(seed: int, *keys) -> str:
    """SQL for a uniform number in [0, 1) from hash(seed, keys...)."""
    return f"((hash({seed}, {', '.join(str(k) for k in keys)}) % 1000003) / 1000003.0)"


def generate(db_path: Path, scale: str, seed: int = 7) -> dict:
    cfg = SCALES[scale]
    n, n_snap = cfg["users"], cfg["snapshots"]
    started = time.perf_counter()
    con = duckdb.connect(str(db_path))
    con.execute("set preserve_insertion_order = false")
    con.execute("create schema if not exists inputs")

    # Users: static traits and the true probability.
    nums = ",\n".join(f"{_u(seed, 'i', 100 + j)} * 2 - 1 as base_{j:02d}" for j in range(1, N_NUMERIC + 1))
    cats = ",\n".join(
        f"chr(97 + cast(floor({_u(seed, 'i', 200 + j)} * {3 + j}) as integer)) as cat_{j}"
        for j in range(1, N_CATEGORICAL + 1)
    )
    bools = ",\n".join(f"{_u(seed, 'i', 300 + j)} < 0.3 as flag_{j}" for j in range(1, N_BOOLEAN + 1))
    con.execute(f"""
        create or replace table inputs.users as
        with raw as (
            select i, {nums}, {cats}, {bools}
            from range({n}) t(i)
        )
        select *,
            1.0 / (1.0 + exp(-(-2.0 + 1.6 * base_01 - 1.2 * base_02 + 1.0 * (cat_1 = 'a')::int
                               + 0.8 * flag_1::int + 1.2 * base_03 * base_04 + 0.6 * abs(base_05)))) as p_true
        from raw""")
    con.execute(f"""
        create or replace table inputs.truth as
        select lpad(cast(i as varchar), 8, '0') as user_id, p_true, {_u(seed, "i", 999)} < p_true as y_true
        from inputs.users""")

    # Monthly snapshots: base traits plus monthly noise; 3 % missing numbers; users join over time.
    num_cols = ",\n".join(
        f"case when {_u(seed, 'i', 'm', 400 + j)} < 0.03 then null else "
        f"round(base_{j:02d} + 0.1 * ({_u(seed, 'i', 'm', 500 + j)} - 0.5), 4) end as num_{j:02d}"
        for j in range(1, N_NUMERIC + 1)
    )
    cat_cols = ", ".join(f"cat_{j}" for j in range(1, N_CATEGORICAL + 1))
    bool_cols = ", ".join(f"flag_{j}" for j in range(1, N_BOOLEAN + 1))
    con.execute(f"""
        create or replace table inputs.snapshots as
        select lpad(cast(i as varchar), 8, '0') as user_id,
               cast(date '{LAST_SNAPSHOT}' - to_months({n_snap - 1} - m) as timestamp) as snapshot_at,
               {num_cols}, {cat_cols}, {bool_cols}
        from inputs.users, range({n_snap}) s(m)
        where m >= cast(floor({_u(seed, "i", 600)} * {n_snap} * 0.3) as integer)""")

    # Events over the year before the scoring time; 'purchase' is likelier for likely users.
    con.execute(
        "create or replace table inputs.items as select 'item_' || cast(k as varchar) as item_id, "
        "'cat_' || cast(k % 12 as varchar) as category from range(2000) t(k)"
    )
    types = "[" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + "]"
    con.execute(f"""
        create or replace table inputs.events as
        with e as (
            select j, cast(floor({_u(seed, "j", 1)} * {n}) as bigint) as i
            from range({cfg["events"]}) t(j)
        )
        select lpad(cast(e.i as varchar), 8, '0') as user_id,
               timestamp '{AS_OF}' - to_seconds(cast(floor({_u(seed, "j", 2)} * 365 * 86400) as bigint) + 1) as event_at,
               case when {_u(seed, "j", 3)} < 0.05 + 0.25 * u.p_true then 'purchase'
                    else {types}[1 + cast(floor({_u(seed, "j", 4)} * {len(EVENT_TYPES)}) as integer)] end as event_type,
               'item_' || cast(cast(floor({_u(seed, "j", 5)} * 2000) as integer) as varchar) as item_id,
               case when {_u(seed, "j", 3)} < 0.05 + 0.25 * u.p_true then round({_u(seed, "j", 6)} * 100, 2) end as value
        from e
        inner join inputs.users as u on e.i = u.i""")

    # Labels: positives from y_true users, negatives from the others, timestamps in the snapshot range.
    parts = []
    for r, run in enumerate(cfg["runs"]):
        # With one snapshot (L) a label has no history to be matched in: no timestamp, so it takes
        # the latest snapshot; otherwise a time in the 150 days before the last snapshot.
        ts = (
            "cast(null as timestamp)"
            if n_snap == 1
            else f"timestamp '{LAST_SNAPSHOT}' - to_seconds(cast(floor({_u(seed, r, 'k', 12)} * 150 * 86400) as bigint))"
        )
        with_negatives = run == "r_negatives"
        parts.append(f"""
            select '{run}' as run_id, user_id, label,
                   {ts} as label_timestamp,
                   cast(null as double) as weight
            from (
                select user_id, cast(y_true as integer) as label,
                       row_number() over (partition by y_true order by hash({seed}, {r}, user_id)) as k
                from inputs.truth
                {"" if with_negatives else "where y_true"}
            )
            where k <= {cfg["labels"] // 2 if with_negatives else cfg["labels"]}""")
    con.execute("create or replace table inputs.labels as " + "\nunion all\n".join(parts))
    rows = [(run, run, "SINGLE_ENGAGE" if run == "r_single" else "MULTI_ENGAGE", False) for run in cfg["runs"]]
    con.execute(
        "create or replace table inputs.runs (run_id varchar, run_description varchar, engagement_type varchar, build_only boolean)"
    )
    con.executemany("insert into inputs.runs values (?, ?, ?, ?)", rows)
    con.execute("drop table inputs.users")
    counts = {
        t: con.execute(f"select count(*) from inputs.{t}").fetchone()[0]
        for t in ("snapshots", "events", "items", "labels", "runs", "truth")
    }
    con.execute("checkpoint")
    con.close()
    return {"scale": scale, "seed": seed, "seconds": round(time.perf_counter() - started, 1), "rows": counts}


def checksums(db_path: Path) -> dict:
    """Order-independent checksum of every input table (for the determinism test)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'inputs' order by 1"
            ).fetchall()
        ]
        return {t: con.execute(f"select count(*), sum(hash(x)) from inputs.{t} as x").fetchone() for t in tables}


DBT_VARS = {
    "lookalike_demo": False,
    "lookalike_user_snapshots": "inputs.snapshots",
    "lookalike_labels": "inputs.labels",
    "lookalike_runs": "inputs.runs",
    "lookalike_events": "inputs.events",
    "lookalike_items": "inputs.items",
    "lookalike_as_of": AS_OF,
}


def dbt_vars(scale: str) -> dict:
    out = dict(DBT_VARS)
    if SCALES[scale]["events"] == 0:
        out.pop("lookalike_events")
        out.pop("lookalike_items")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.db.exists():
        args.db.unlink()
    print(generate(args.db, args.scale, args.seed))
