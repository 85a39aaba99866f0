"""Decision 0040: can today's stored-model machinery score a bagging PU bag whose members are of
different types? No library change: one credit_data split (run_pu_members.py's split 0), the hgb,
logistic and rf bags of fit_run_model, and a ``lookalike-bagging/1`` payload whose member t is
member t of the hgb, logistic or rf bag for t mod 3 = 0, 1, 2 (the bags share the membership
recipe and the encoder, asserted). Prints the Python scorer's and DuckDB SQL's distance from the
mean of those members' probabilities, and the ``raw_space`` the scorer reports.

    PYTHONPATH=$PWD python bench/quality/check_mixed_bag.py
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "quality"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

import run_pu_members as m  # noqa: E402
from lookalike_udf.scoring import LookalikeModel  # noqa: E402
from sql_parity import duckdb_scores  # noqa: E402

BAGS = {"h": "today", "l": "logistic_members", "r": "rf_members"}
PATTERN = "hlr"


def main() -> None:
    split = m.tabular_split("credit_data", 0)
    models = {k: m.fit_variant(split.run, v)[0] for k, v in BAGS.items()}
    stored = {k: json.loads(model.to_json()) for k, model in models.items()}
    assert stored["h"]["encoder"] == stored["l"]["encoder"] == stored["r"]["encoder"]
    assert (
        stored["h"]["estimator"]["bagging"]
        == stored["l"]["estimator"]["bagging"]
        == stored["r"]["estimator"]["bagging"]
    )
    n = len(stored["h"]["estimator"]["members"])
    mixed = json.loads(json.dumps(stored["h"]))
    mixed["estimator"]["members"] = [stored[PATTERN[t % 3]]["estimator"]["members"][t] for t in range(n)]
    model = LookalikeModel.from_json(json.dumps(mixed))
    table = split.tables["population"]
    per_member = {k: mm._scorer.predict_members(mm.encoder.transform(table)) for k, mm in models.items()}
    expected = np.vstack([per_member[PATTERN[t % 3]][t] for t in range(n)]).mean(axis=0)
    started = time.perf_counter()
    got = model.predict(table)
    seconds = time.perf_counter() - started
    print(f"python scorer: max |diff| {np.abs(got - expected).max():.2e} on {table.num_rows} rows ({seconds:.3f} s)")
    rows = table.append_column("row_id", pa.array(np.arange(table.num_rows)))
    print(f"duckdb SQL:    max |diff| {np.abs(duckdb_scores(json.dumps(mixed), rows) - expected).max():.2e}")
    spaces = sorted({member.raw_space for member in model._scorer.members})
    print(f"raw_space reported: {model.raw_space}; the members': {spaces}")


if __name__ == "__main__":
    main()
