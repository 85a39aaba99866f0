"""Benchmark population scoring on Spark: ``engine="python"`` (``mapInArrow`` with the stored model on
the executors) against ``engine="sql"`` (the model compiled for Spark SQL, run by ``spark.sql``),
both through :func:`lookalike_udf.dbt_models.score_population` as the dbt model calls it.

Run::

    PYTHONPATH=. python bench/spark_scoring.py --rows 200000 --workdir /tmp/spbench      # ~10-20 min
    PYTHONPATH=. python bench/spark_scoring.py --rows 20000 --repeat 1 --workdir /tmp/spsmall   # small mode

Data: :func:`bench.scoring_engines.make_rows` with 30 features (20 numbers, 5 text columns with
unseen values, 5 booleans; NULLs, NaN), written by pyarrow as 4 Parquet files (what a dbt-spark
table with ``spark.sql.shuffle.partitions=4``, the profile's default, looks like). Models, fitted with
:func:`lookalike_udf.training.fit_run_model` on 4,000 training rows: ``hgb`` (library defaults,
supervised) and ``bagging20`` (bagging PU, 20 hgb members).

Each (model, engine) runs in its own subprocess (``_worker``) with its own ``local[2]`` SparkSession
(session start not timed) and repeats the measurement ``--repeat`` times in that session:
repetition 1 has a cold JVM (JIT, Spark's analyzer and code generation), later ones are warm.
Timed: the ``score_population`` call (for ``sql`` this already runs the query: each run's scores
are materialised with ``localCheckpoint`` so a failing run stays alone) plus writing the result
as Parquet (``df.write.parquet``, what dbt-spark's ``saveAsTable`` does). The first repetition's
scores are compared with the Python scorer run in this process on the Arrow table (the DuckDB
path's scorer, one process; its time is reported too): max |difference| joined on ``user_id``.
Results: ``<workdir>/results.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import scoring_engines as data  # noqa: E402  (the data generator of bench/scoring_engines.py)

data.N_NUMERIC, data.N_CATEGORICAL, data.N_BOOLEAN = 20, 5, 5  # 30 features
MODELS = ("hgb", "bagging20")
ENGINES = ("python", "sql")
FILES = 4
SEED = 13


def _load() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def prepare(workdir: Path, rows: int, models: list[str]) -> dict:
    from lookalike_udf.integrity import model_sha256
    from lookalike_udf.training import fit_run_model

    pop_dir = workdir / f"population-{rows}"
    if not pop_dir.exists():
        pop_dir.mkdir(parents=True)
        per_file = -(-rows // FILES)
        for k, start in enumerate(range(0, rows, per_file)):
            chunk, _ = data.make_rows(min(per_file, rows - start), SEED, start)
            chunk = chunk.set_column(0, "user_id", pc.cast(chunk.column("user_id"), pa.string()))
            pq.write_table(chunk, pop_dir / f"part-{k:05d}.parquet")
    info = {}
    for name in models:
        path = workdir / f"{name}.json"
        t = time.perf_counter()
        if not path.exists():
            if name == "bagging20":
                model = fit_run_model(
                    name,
                    data.training_examples(positive_unlabeled=True),
                    SEED,
                    pu_method="bagging",
                    pu_bags=20,
                    model_type="hgb",
                )
            else:
                model = fit_run_model(name, data.training_examples(), SEED, pu_method="plain", model_type="hgb")
            path.write_text(model.to_json())
        text = path.read_text()
        payload = json.loads(text)["estimator"]
        members = payload.get("members", [payload])
        info[name] = {
            "members": len(members),
            "trees": sum(len(m.get("trees", [])) for m in members),
            "model_sha256": model_sha256(text),
            "fit_or_load_s": round(time.perf_counter() - t, 2),
        }
    return info


def _model_rows(name: str, text: str) -> pa.Table:
    from lookalike_udf.integrity import model_sha256

    return pa.Table.from_pylist(
        [
            {
                "run_id": name,
                "model_status": "TRAINED",
                "model_json": text,
                "model_sha256": model_sha256(text),
                "training_fingerprint": None,
            }
        ]
    )


def worker(model: str, engine: str, workdir: Path, rows: int, repeat: int) -> None:
    """One (model, engine): its own SparkSession, ``repeat`` timed repetitions; prints one JSON line."""
    from pyspark.sql import SparkSession

    from lookalike_udf import dbt_models, frames

    frames.ensure_worker_python()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName(f"bench-{model}-{engine}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.warehouse.dir", str(workdir / "warehouse"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    population = spark.read.parquet(str(workdir / f"population-{rows}"))
    models = frames.to_spark(spark, _model_rows(model, (workdir / f"{model}.json").read_text()))
    out = []
    for rep in range(repeat):
        load = _load()
        target = workdir / f"scores-{model}-{engine}-{rep}"
        t0 = time.perf_counter()
        df = dbt_models.score_population(models, population, engine=engine)
        t1 = time.perf_counter()
        df.write.mode("overwrite").parquet(str(target))
        t2 = time.perf_counter()
        actions = {r[0]: r[1] for r in spark.read.parquet(str(target)).groupBy("scoring_action").count().collect()}
        out.append(
            {
                "rep": rep + 1,
                "call_s": round(t1 - t0, 2),
                "write_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2),
                "load": load,
                "actions": actions,
                "partitions": population.rdd.getNumPartitions(),
            }
        )
        print(f"  {model} {engine} rep {rep + 1}: {out[-1]}", file=sys.stderr, flush=True)
    result = {"model": model, "engine": engine, "reps": out}
    if engine == "sql":
        # How much of it is Spark parsing and analysing the statement (spark.sql is eager), warm.
        from lookalike_udf.sql import to_sql

        population.createOrReplaceTempView("lookalike_input")
        text = to_sql(
            (workdir / f"{model}.json").read_text(),
            "lookalike_input",
            dialect="spark",
            id_columns=("user_id",),
            column_types=dict(population.dtypes),
        )
        t = time.perf_counter()
        spark.sql(text)
        result["parse_analyze_warm_s"] = round(time.perf_counter() - t, 2)
        result["sql_kib"] = round(len(text.encode()) / 1024)
    spark.stop()
    print(json.dumps(result))


def reference(workdir: Path, rows: int, model: str) -> tuple[pa.Table, float]:
    """The Python scorer in this process on the Arrow table (the DuckDB path's scorer)."""
    from lookalike_udf.scoring import LookalikeModel

    table = pq.read_table(workdir / f"population-{rows}")
    m = LookalikeModel.from_json((workdir / f"{model}.json").read_text())
    m.predict(table.slice(0, 1))  # lazy imports
    t = time.perf_counter()
    scores = np.concatenate([m.predict(b) for b in table.to_batches(max_chunksize=100_000)])
    return pa.table({"user_id": table.column("user_id"), "ref": scores}), time.perf_counter() - t


def max_diff(ref: pa.Table, scores_dir: Path) -> float | None:
    if not scores_dir.exists():
        return None
    got = pq.read_table(scores_dir, columns=["user_id", "score", "scoring_action"])
    got = got.filter(pc.equal(got.column("scoring_action"), "scored"))
    joined = ref.join(got.select(["user_id", "score"]), "user_id")
    if joined.num_rows != ref.num_rows:
        return float("inf")
    return float(np.max(np.abs(joined.column("ref").to_numpy() - joined.column("score").to_numpy())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workdir", default="/tmp/spark_scoring_bench")
    parser.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    models, engines = args.models.split(","), args.engines.split(",")
    info = prepare(workdir, args.rows, models)
    print(f"models: {info}", file=sys.stderr, flush=True)
    results = {"rows": args.rows, "features": 30, "models": info, "runs": [], "reference": {}}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    for model in models:
        ref, ref_s = reference(workdir, args.rows, model)
        results["reference"][model] = {"python_in_process_s": round(ref_s, 2)}
        for engine in engines:
            cmd = [sys.executable, __file__, "_worker", model, engine, str(workdir), str(args.rows), str(args.repeat)]
            try:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                run = (
                    json.loads(lines[-1]) if lines else {"model": model, "engine": engine, "error": proc.stderr[-3000:]}
                )
            except subprocess.TimeoutExpired:
                run = {"model": model, "engine": engine, "error": f"timeout after {args.timeout} s"}
            run["max_abs_diff_vs_python"] = max_diff(ref, workdir / f"scores-{model}-{engine}-0")
            results["runs"].append(run)
            print(f"{model} {engine}: {json.dumps(run)[:600]}", file=sys.stderr, flush=True)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{args.rows:,} rows x 30 features, local[2]\n")
    print(
        "| model | engine | rep 1 (cold JVM) total s | later reps total s | call s / write s (rep 1) | max abs diff vs Python | load |"
    )
    print("|---|---|---|---|---|---|---|")
    for run in results["runs"]:
        if "reps" not in run:
            print(f"| {run['model']} | {run['engine']} | error | | | | |")
            continue
        reps = run["reps"]
        later = " / ".join(str(r["total_s"]) for r in reps[1:]) or "-"
        diff = run["max_abs_diff_vs_python"]
        print(
            f"| {run['model']} | {run['engine']} | {reps[0]['total_s']} | {later} | {reps[0]['call_s']} / {reps[0]['write_s']} "
            f"| {diff:.1e} | {', '.join(r['load'] for r in reps)} |"
        )
    for run in results["runs"]:
        if "parse_analyze_warm_s" in run:
            print(
                f"\n{run['model']} sql: {run['sql_kib']} KiB of Spark SQL; spark.sql (parse + analysis only), warm: "
                f"{run['parse_analyze_warm_s']} s"
            )
    for model, ref in results["reference"].items():
        print(f"\nPython scorer in one process on Arrow ({model}): {ref['python_in_process_s']} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
