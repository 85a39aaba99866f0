"""Measure compiled SQL scoring (decision 0012): SQL size, compile + render time and DuckDB
execution time on 100k rows, for a 300-tree HGB, a 100-tree RF, a logistic model and a 20 x 300
bagging ensemble, in two layouts (``inline``: one balanced sum of per-tree CASEs per member;
``tree_columns``: every tree a column of a subquery, then summed). Python scoring time is given
for reference. Run: PYTHONPATH=. python bench/sql_scoring.py [--rows 100000] [--only hgb,rf]
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np
import pyarrow as pa

from lookalike_udf import estimators
from lookalike_udf.estimators.bagging import dump as dump_bagging
from lookalike_udf.features import FeatureEncoder
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.sql import compile_model


def make_rows(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.int64)
    cols = {"user_id": np.arange(n, dtype=np.int64)}
    for j in range(8):
        x = rng.normal(size=n) + (0.3 + 0.1 * j) * label
        x[rng.random(n) < 0.05] = np.nan
        cols[f"num_{j}"] = x
    cols["visits"] = rng.poisson(3 + label)
    cols["flag"] = rng.random(n) < 0.4 + 0.2 * label
    cols["plan"] = rng.choice(["free", "pro", "team", "enterprise", "edu"], size=n).astype(object)
    return pa.table(cols), label


def fit(kind: str, train: pa.Table, y: np.ndarray, members: int = 1) -> str:
    names = [c for c in train.column_names if c != "user_id"]
    encoder = FeatureEncoder().fit(train, names)
    X = encoder.transform(train)
    mask = encoder.categorical_mask_
    w = np.ones(len(y))
    overrides = {"hgb": {"max_iter": 300, "early_stopping": False}}.get(kind)
    payloads = []
    for k in range(members):
        rows = np.random.default_rng(k).choice(len(y), size=len(y) // (2 if members > 1 else 1), replace=False)
        payload, _ = estimators.fit(kind, X[rows], y[rows], w[rows], mask, 11 + k, overrides=overrides)
        payloads.append(payload)
    payload = payloads[0] if members == 1 else dump_bagging(payloads, 11, [0] * members, len(y) // 2)
    return LookalikeModel(encoder=encoder, estimator_payload=payload, params={}).to_json()


def measure(name: str, model_json: str, con, rows: pa.Table) -> list[dict]:
    model = LookalikeModel.from_json(model_json)
    t = time.perf_counter()
    expected = model.predict(rows)
    python_s = time.perf_counter() - t
    out = []
    for layout in ("inline", "tree_columns"):
        t = time.perf_counter()
        sql = compile_model(model_json, "population", layout=layout).sql(dialect="duckdb")
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        con.execute(f"create or replace table scored as {sql}")
        duckdb_s = time.perf_counter() - t
        got = np.array([r[0] for r in con.execute("select score from scored order by user_id").fetchall()])
        out.append(
            {
                "model": name,
                "layout": layout,
                "sql_kib": len(sql) / 1024,
                "compile_s": compile_s,
                "duckdb_s": duckdb_s,
                "python_s": python_s,
                "max_abs_diff": float(np.max(np.abs(got - expected))),
            }
        )
        print(out[-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--only", default="hgb300,rf100,logistic,bagging20x300")
    args = parser.parse_args()
    train, y = make_rows(5_000, 1)
    rows, _ = make_rows(args.rows, 2)
    con = duckdb.connect()
    con.execute("create table population as select * from rows")
    specs = {"hgb300": ("hgb", 1), "rf100": ("rf", 1), "logistic": ("logistic", 1), "bagging20x300": ("hgb", 20)}
    results = []
    for name in args.only.split(","):
        kind, members = specs[name]
        results += measure(name, fit(kind, train, y, members), con, rows)
    print("| model | layout | SQL (KiB) | compile+render (s) | DuckDB (s) | Python predict (s) | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['layout']} | {r['sql_kib']:.0f} | {r['compile_s']:.2f} | {r['duckdb_s']:.2f} | "
            f"{r['python_s']:.2f} | {r['max_abs_diff']:.1e} |"
        )


if __name__ == "__main__":
    main()
