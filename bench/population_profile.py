"""Time and profile population scoring outside dbt (issue 27, decision 0046): every trained run's
stored model (``lookalike_run_models.model_json``) scores the built population
(``lookalike_inference_features``) in Arrow batches of 100,000 rows, as
:func:`lookalike_udf.batch_scoring.scored_batches` does inside the build, on the library found on
``PYTHONPATH``. Prints one JSON line: seconds per run, the seconds cProfile puts in the bagging
scorer, whether the members were fused, the load average (cProfile sees the calling thread only:
the blocks scored on worker threads are inside ``predict_proba_positive``). ``--check-rows`` also
compares the scores with scikit-learn's predictors.

    cp <build>/ours-0.duckdb /tmp/copy.duckdb   # a finished build's file (read only here)
    for lib in /work/main $PWD /work/main $PWD; do
        PYTHONPATH=$lib nice -n 10 python bench/population_profile.py /tmp/copy.duckdb
    done
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument(
        "--check-rows",
        type=int,
        default=0,
        help="also score this many rows with scikit-learn's predictors (engine 'sklearn', the members' "
        "mean for bagging) and report the max |difference| per run",
    )
    args = parser.parse_args(argv)
    import duckdb

    import lookalike_udf
    from lookalike_udf.scoring import LookalikeModel

    with duckdb.connect(args.database, read_only=True) as con:
        models = con.sql(
            "select run_id, model_json from lookalike_run_models where model_status = 'TRAINED' order by run_id"
        ).fetchall()
        table = con.sql("select * from lookalike_inference_features").to_arrow_table()
    batches = table.to_batches(max_chunksize=args.batch_rows)
    result = {"lib": os.path.dirname(lookalike_udf.__file__), "rows": table.num_rows, "load_before": os.getloadavg()}
    loaded = {rid: LookalikeModel.from_json(text) for rid, text in models}
    for model in loaded.values():  # compile the kernels outside the timing
        model.predict(batches[0].slice(0, 1000))
    profile = cProfile.Profile()
    runs = {}
    started_all = time.perf_counter()
    profile.enable()
    for rid, model in loaded.items():
        started = time.perf_counter()
        for batch in batches:
            model.predict(batch)
        runs[rid] = {
            "seconds": round(time.perf_counter() - started, 3),
            "scorer": type(model._scorer).__name__,
            "fused": getattr(model._scorer, "_fused", None) is not None,
        }
    profile.disable()
    result["seconds"] = round(time.perf_counter() - started_all, 3)
    result["runs"] = runs
    stats = pstats.Stats(profile)
    cumulative = {}
    for (path, _, name), (_, _, _, ct, _) in stats.stats.items():
        if name in ("predict_proba_positive", "score_members", "score_raw", "transform", "_prepare"):
            key = f"{os.path.basename(path)}:{name}"
            cumulative[key] = round(cumulative.get(key, 0.0) + ct, 3)
    result["cumulative_seconds"] = cumulative
    if args.check_rows:
        import numpy as np

        from lookalike_udf.estimators import load as load_estimator

        rows = table.slice(0, args.check_rows)
        for rid, model in loaded.items():
            reference = load_estimator(model.estimator_payload, engine="sklearn")
            X = model.encoder.transform(rows)
            expected = reference.predict_members(X).mean(axis=0) if hasattr(reference, "predict_members") else None
            if expected is None:
                expected = reference.predict_proba_positive(X)
            runs[rid]["check_rows"] = rows.num_rows
            runs[rid]["max_abs_diff"] = float(np.max(np.abs(model.predict(rows) - expected)))
    result["load_after"] = os.getloadavg()
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
