"""Peak memory of the scoring stream alone, without dbt and without writing: flat in the population size?

``lookalike_udf.dbt_models.score_population`` over a seeded 10M-row table of 30 numeric features
(created on the first call), read with ``limit N``, with one model fitted on 3,000 seeded rows.
DuckDB is capped at 512 MB, so its cache cannot hide growth on the Python side. Run one process
per size (peak RSS is a high-water mark); the first call creates the table:

    python bench/scoring_memory.py 0 /tmp/scoring-memory.duckdb
    python bench/scoring_memory.py 1000000 /tmp/scoring-memory.duckdb
    python bench/scoring_memory.py 10000000 /tmp/scoring-memory.duckdb
"""

from __future__ import annotations

import json
import resource
import sys
import time

import duckdb
import numpy as np
import pyarrow as pa

import lookalike_udf.dbt_models as lookalike
from lookalike_udf.training import fit_run_model

N_FEATURES = 30
TABLE_ROWS = 10_000_000


def _peak_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _model_rows() -> pa.Table:
    rng = np.random.default_rng(0)
    m = 3000
    features = {f"f{j}": rng.random(m) for j in range(N_FEATURES)}
    label = (features["f0"] + rng.normal(0, 0.3, m) > 0.6).astype(np.int32)
    examples = pa.table(
        {
            "example_id": [str(i) for i in range(m)],
            "run_id": ["r"] * m,
            "user_id": [str(i) for i in range(m)],
            "label": label,
            "weight": np.ones(m),
            "example_source": ["label"] * m,
            "split": np.where(np.arange(m) % 4 == 0, "test", "train"),
            **features,
        }
    )
    model = fit_run_model("r", examples, random_seed=1)
    return pa.table(
        {"run_id": ["r"], "model_status": ["TRAINED"], "model_json": [model.to_json()], "training_fingerprint": ["x"]}
    )


def main(n: int, db: str) -> dict:
    con = duckdb.connect(db)
    con.execute("set memory_limit = '512MB'")
    exists = con.execute("select count(*) from duckdb_tables() where table_name = 'pop'").fetchall()[0][0]
    if not exists:
        columns = ", ".join(f"(hash(i, {j}) % 1000) / 1000.0 as f{j}" for j in range(N_FEATURES))
        con.execute(
            f"create table pop as select lpad(cast(i as varchar), 9, '0') as user_id, {columns} "
            f"from range({TABLE_ROWS}) t(i)"
        )
    models = _model_rows()
    before = _peak_mib()
    started = time.perf_counter()
    rows = 0
    for batch in lookalike.score_population(models=models, population=con.sql(f"select * from pop limit {int(n)}")):
        rows += batch.num_rows
    return {
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_before_mib": before,
        "peak_rss_mib": _peak_mib(),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
