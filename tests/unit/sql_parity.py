"""Helpers for the SQL parity tests: training examples with every feature kind, scoring rows full
of edge cases (nulls, NaN, +/-inf, unseen categories, values on split thresholds), and two real
engines (DuckDB, SQLite via sqlite3) to run compiled SQL on."""

from __future__ import annotations

import json
import math
import sqlite3
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa

from lookalike_udf.sql import float32_le_bound, to_sql

WEIRD = 'odd "name".x-y `z`'
TIERS = ["free", "pro", "team", "it's \\ odd", "enterprise"]
DECIMAL = pa.decimal128(10, 2)
FEATURES = ["signal", "visits", "amount", "flag", "tier", WEIRD]


def training_examples(n: int = 400, seed: int = 0, negatives: bool = True, run_id: str = "r") -> pa.Table:
    """Examples shaped like the warehouse's training relation (see tests/unit/test_training.py)."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    signal = rng.normal(size=n) + 1.2 * label
    signal[rng.random(n) < 0.08] = np.nan  # NaN in training: the trees learn where missing values go
    visits = rng.poisson(3 + 2 * label).astype(np.int64)
    amount = np.round(rng.gamma(2.0, 20.0, size=n) + 15 * label, 2)
    flag = rng.random(n) < 0.4 + 0.3 * label
    tier = rng.choice(TIERS, size=n, p=[0.4, 0.25, 0.15, 0.1, 0.1])
    tier = np.where((label == 1) & (rng.random(n) < 0.4), "pro", tier)
    weird = rng.normal(size=n) - 0.8 * label

    def nulls(values, share, type=None):
        mask = rng.random(n) < share
        return pa.array([None if m else v for v, m in zip(values.tolist(), mask, strict=False)], type=type)

    return pa.table(
        {
            "example_id": [f"{run_id}-{i}" for i in range(n)],
            "run_id": [run_id] * n,
            "user_id": [f"{i:05d}" for i in range(n)],
            "label": pa.array(label),
            "weight": pa.array(np.where(label == 1, 2.0, 1.0)),
            "as_of_at": pa.array([None] * n, type=pa.timestamp("us")),
            "snapshot_at": pa.array([None] * n, type=pa.timestamp("us")),
            "example_source": ["label" if negatives or lab else "unlabeled_sample" for lab in label],
            "split": np.where(np.arange(n) % 5 == 0, "test", "train").tolist(),
            "signal": pa.array(signal),
            "visits": nulls(visits, 0.05, pa.int64()),
            "amount": pa.array(
                [
                    None if np.isnan(v) or m else Decimal(f"{v:.2f}")
                    for v, m in zip(amount, rng.random(n) < 0.05, strict=False)
                ],
                type=DECIMAL,
            ),
            "flag": nulls(flag, 0.05, pa.bool_()),
            "tier": nulls(tier, 0.05, pa.string()),
            WEIRD: pa.array(weird),
        }
    )


def split_thresholds(model_json: str) -> dict[str, set[float]]:
    """Every finite split threshold of the stored model per feature name, with the doubles on
    either side; for forests also the float32 bound the SQL compares with, and its neighbours."""
    payload = json.loads(model_json)
    names = [f["name"] for f in payload["encoder"]["features"]]
    out = {name: set() for name in names}
    estimator = payload["estimator"]
    members = estimator["members"] if estimator["format"] == "lookalike-bagging/1" else [estimator]
    for m in members:
        if m["format"] == "lookalike-hgb/1":
            for tree in m["trees"]:
                nd = tree["nodes"]
                for i, leaf in enumerate(nd["is_leaf"]):
                    if not leaf and not nd["is_categorical"][i] and isinstance(nd["num_threshold"][i], float):
                        out[names[m["column_order"][nd["feature_idx"][i]]]].add(nd["num_threshold"][i])
        elif m["format"] == "lookalike-rf/1":
            for tree in m["trees"]:
                for i, leaf in enumerate(tree["is_leaf"]):
                    thr = tree["threshold"][i]
                    if not leaf and isinstance(thr, float):
                        bound = float32_le_bound(thr)
                        out[names[tree["feature"][i]]].update({thr, bound, float(np.nextafter(bound, np.inf))})
        elif m["format"] == "lookalike-logistic/1":
            for p, col in enumerate(m["numeric_columns"]):
                out[names[col]].add(float(m["fill"][p]))
    for values in out.values():
        values.update({float(np.nextafter(v, s)) for v in list(values) for s in (np.inf, -np.inf)})
    return out


def scoring_rows(model_json: str, n_random: int = 300, seed: int = 1) -> pa.Table:
    """Random rows plus one row per (feature, edge value): null, NaN, +/-inf, every split threshold
    and its neighbouring doubles, every category, an unseen category, the empty string."""
    rng = np.random.default_rng(seed)
    base = training_examples(n_random, seed=seed + 100)
    cols = {name: base.column(name).to_pylist() for name in FEATURES}
    thresholds = split_thresholds(model_json)
    edges = {
        "signal": [None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]
        + sorted(thresholds.get("signal", [])),
        WEIRD: [None, math.nan, math.inf, -math.inf] + sorted(thresholds.get(WEIRD, [])),
        "visits": [None, 0, -1, 2**40]
        + sorted(
            {int(math.floor(t)) for t in thresholds.get("visits", []) if abs(t) < 1e15}
            | {int(math.ceil(t)) for t in thresholds.get("visits", []) if abs(t) < 1e15}
        ),
        "amount": [None, Decimal("0.00"), Decimal("-5.50"), Decimal("99999999.99")]
        + sorted({Decimal(f"{t:.2f}") for t in thresholds.get("amount", []) if abs(t) < 1e7}),
        "flag": [None, True, False],
        "tier": [None, "", "unseen-tier", "PRO", "pro "] + TIERS,
    }
    for name, values in edges.items():
        for value in values:
            for other in FEATURES:
                pick = int(rng.integers(len(cols[other])))
                cols[other].append(value if other == name else cols[other][pick])
    m = len(cols["signal"])
    types = {
        "signal": pa.float64(),
        WEIRD: pa.float64(),
        "visits": pa.int64(),
        "amount": DECIMAL,
        "flag": pa.bool_(),
        "tier": pa.string(),
    }
    table = {"row_id": pa.array(np.arange(m, dtype=np.int64))}
    table.update({name: pa.array(cols[name], type=types[name]) for name in FEATURES})
    return pa.table(table)


def duckdb_scores(model_json: str, rows: pa.Table, **kwargs) -> np.ndarray:
    """Score in DuckDB; the compiler is told the columns' types as DuckDB reports them (DECIMAL
    columns are then converted to double the way pyarrow converts them for the Python scorer)."""
    with duckdb.connect() as con:
        con.register("scoring_rows", rows)
        types = {name: dtype for name, dtype, *_ in con.execute("describe scoring_rows").fetchall()}
        kwargs.setdefault("column_types", types)
        sql = to_sql(model_json, "scoring_rows", dialect="duckdb", id_columns=("row_id",), **kwargs)
        result = con.execute(sql).fetchall()
    return _ordered(result, rows.num_rows)


def as_sqlite_sees_it(rows: pa.Table) -> pa.Table:
    """The rows as stored in SQLite: decimals become REAL (float(Decimal)), NaN becomes NULL."""
    out = {}
    for name in rows.column_names:
        col = rows.column(name)
        if pa.types.is_decimal(col.type):
            col = pa.array([None if v is None else float(v) for v in col.to_pylist()], type=pa.float64())
        elif pa.types.is_floating(col.type):
            col = pa.array([None if v is None or math.isnan(v) else v for v in col.to_pylist()], type=pa.float64())
        out[name] = col
    return pa.table(out)


def sqlite_scores(model_json: str, rows: pa.Table) -> np.ndarray:
    """Score ``rows`` in SQLite (no NaN there: NaN is stored as NULL; infinities stay; decimals
    are REAL): compare with the Python scores of :func:`as_sqlite_sees_it`."""
    sql = to_sql(model_json, "scoring_rows", dialect="sqlite", id_columns=("row_id",))
    con = sqlite3.connect(":memory:")
    try:
        kinds = {"row_id": "INTEGER", "visits": "INTEGER", "flag": "INTEGER", "tier": "TEXT"}
        quoted = [('"' + name.replace('"', '""') + '"') for name in rows.column_names]
        con.execute(
            f"CREATE TABLE scoring_rows ({', '.join(q + ' ' + kinds.get(n, 'REAL') for q, n in zip(quoted, rows.column_names, strict=True))})"
        )
        data = [[_sqlite_value(v) for v in row.values()] for row in rows.to_pylist()]
        con.executemany(f"INSERT INTO scoring_rows VALUES ({', '.join('?' * len(quoted))})", data)
        result = con.execute(sql).fetchall()
    finally:
        con.close()
    return _ordered(result, rows.num_rows)


def _sqlite_value(v):
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _ordered(result, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    for row_id, score in result:
        out[row_id] = score
    assert len(result) == n
    return out
