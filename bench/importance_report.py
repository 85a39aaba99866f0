"""Time the importance report alone (what the dbt model lookalike_feature_importance calls) on a
database that a `dbt build` has filled, in one process; print the seconds and each run's top
features. Run it with PYTHONPATH=<checkout> to time another version of the library on the same file.

    python bench/importance_report.py /tmp/pb/built.duckdb
"""

from __future__ import annotations

import json
import sys
import time

import duckdb

import lookalike_udf
import lookalike_udf.quality as quality


def main(argv=None) -> dict:
    db = (argv or sys.argv[1:])[0]
    con = duckdb.connect(db, read_only=True)
    models = con.sql("select * from main.lookalike_run_models").to_arrow_table()
    examples = con.sql("select * from main.int_lookalike__training_examples")
    population = con.sql("select * from main.lookalike_inference_features")
    runs = con.sql("select * from main.int_lookalike__runs").to_arrow_table()
    started = time.perf_counter()
    report = quality.feature_report(models, examples, population, runs=runs)
    seconds = time.perf_counter() - started
    rows = report.to_pylist()
    top = {
        rid: [
            (r["feature"], round(r["importance"], 4))
            for r in sorted((r for r in rows if r["run_id"] == rid), key=lambda r: r["rank"])[:4]
        ]
        for rid in sorted({r["run_id"] for r in rows})
    }
    out = {"library": lookalike_udf.__file__, "seconds": round(seconds, 2), "rows": len(rows), "top": top}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
