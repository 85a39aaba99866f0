"""Benchmark of the package's build on local Spark (and, measured the same way, on DuckDB).

For a scale of ``bench/generate.py`` (seed 7):

1. generate the inputs into ``<workdir>/<scale>-inputs.duckdb`` (kept, reused with ``--reuse-data``);
2. Spark: copy the input tables into the Spark warehouse ``<workdir>/spark`` through Parquet (a
   separate Python process with its own SparkSession, which exits before dbt starts: the embedded
   Derby metastore admits one process at a time), as database ``inputs``, so the dbt vars of
   ``bench/run.py``'s ``bench_vars(scale)`` (``inputs.snapshots``, ...) name the Spark tables;
3. per repetition k: a first build into a fresh output schema ``bench_<scale>_<k>``
   (``LOOKALIKE_SPARK_SCHEMA``), then (step ``unchanged``) a rebuild with nothing changed.
   Spark: ``python -m lookalike_udf.spark_dbt build --target spark``; DuckDB (``--engine duckdb``):
   ``dbt build`` on a fresh copy of the generated file, as ``bench/run.py`` does.

Each build runs under ``/usr/bin/time -v`` (wall time; "Maximum resident set size" is the largest
single process among the ones it waited for) and a sampler that reads ``/proc`` once a second and
records the peak of the summed RSS of the whole process tree (dbt's Python process, Spark's JVM,
which is a child of it, and Spark's Python workers) and the peak of its largest process. Per-model
times come from ``target/run_results.json``; if a build is stopped by ``--timeout`` (dbt writes that
file only at the end) they come from the console lines ``N of M OK created ... [OK in X s]`` of the log.
Results go to ``bench/results/<engine>-<scale>.json`` (``--out`` to change).

    python bench/spark_run.py --scale S --repeat 2 --workdir /tmp/spark-S
    python bench/spark_run.py --scale S --repeat 2 --workdir /tmp/duck-S --engine duckdb
    python bench/spark_run.py --scale M --repeat 1 --workdir /tmp/spark-M --steps first --timeout 4500

Run it from the checkout being measured with ``PYTHONPATH=<checkout>``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from generate import SCALES, generate  # noqa: E402
from run import STAGES, bench_vars  # noqa: E402

INPUT_TABLES = ("snapshots", "labels", "runs", "events", "items")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------------------------- load
def load_into_spark(spark_dir: Path, db_file: Path, tables: list[str], master: str) -> None:
    """Copy DuckDB tables ``inputs.<t>`` into Spark tables ``inputs.<t>`` (Parquet); runs in a child process."""
    import tempfile

    import duckdb
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("lookalike-bench-load")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.warehouse.dir", f"{spark_dir}/warehouse")
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={spark_dir}/metastore_db;create=true",
        )
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sql("create database if not exists inputs")
    with tempfile.TemporaryDirectory(dir=spark_dir) as tmp, duckdb.connect(str(db_file), read_only=True) as con:
        for table in tables:
            path = f"{tmp}/{table}.parquet"
            con.execute(f"copy (select * from inputs.{table}) to '{path}' (format parquet)")
            spark.read.parquet(path).write.mode("overwrite").format("parquet").saveAsTable(f"inputs.{table}")
            print(table, spark.table(f"inputs.{table}").count(), flush=True)
    spark.stop()


# ------------------------------------------------------------------------------------------ measure
class TreeSampler(threading.Thread):
    """Once a second: RSS of every descendant of ``pid`` (from /proc); keeps the peaks and load average."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_tree_kib = self.peak_proc_kib = 0
        self.peak_proc_name = None
        self.load_max = 0.0
        self._halt = threading.Event()

    def _tree(self) -> list[tuple[int, str, int]]:
        children: dict[int, list[int]] = {}
        names = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
            names[int(entry)] = name
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            try:
                rss = int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE // 1024
            except (OSError, IndexError):
                rss = 0
            out.append((p, names.get(p, "?"), rss))
            todo.extend(children.get(p, []))
        return out

    def run(self) -> None:
        while not self._halt.is_set():
            tree = self._tree()
            self.peak_tree_kib = max(self.peak_tree_kib, sum(r for _, _, r in tree))
            biggest = max(tree, key=lambda t: t[2])
            if biggest[2] > self.peak_proc_kib:
                self.peak_proc_kib, self.peak_proc_name = biggest[2], biggest[1]
            self.load_max = max(self.load_max, os.getloadavg()[0])
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


LINE = re.compile(
    r"(\d+) of (\d+) (OK|ERROR|PASS|WARN|FAIL|SKIP)\b(.*?)\s([\w.]+)\s+\.*\s*\[(\w+)(?: \d+)? in ([\d.]+)s\]"
)
START = re.compile(r"(\d+) of (\d+) START \S+ (?:sql |python )?\S+ model ([\w.]+)")


def parse_log(text: str) -> dict:
    """Per node seconds and status from dbt's console lines (for a build stopped before run_results.json)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # dbt colours its status words, in the log file too
    nodes, total, started = {}, None, []
    for m in LINE.finditer(text):
        total = int(m.group(2))
        if not m.group(5).split(".")[-1]:  # an on-run-start/end hook line
            continue
        nodes[m.group(5).split(".")[-1]] = {
            "status": m.group(6),
            "seconds": float(m.group(7)),
            "index": int(m.group(1)),
            "model": " model " in m.group(4) + " ",
        }
    for m in START.finditer(text):
        total = int(m.group(2))
        started.append(m.group(3).split(".")[-1])
    running = [n for n in started if n not in nodes]
    return {"nodes": nodes, "total_nodes": total, "finished_nodes": len(nodes), "running_at_end": running}


def stage_split(models: dict) -> dict:
    stages = {name: 0.0 for name in (*STAGES, "reports")}
    for name, seconds in models.items():
        stage = next((s for s, prefixes in STAGES.items() if name.startswith(prefixes)), "reports")
        stages[stage] += seconds
    return {k: round(v, 2) for k, v in stages.items()}


def build(engine: str, workdir: Path, scale: str, tag: str, env: dict, timeout: int | None) -> dict:
    target, log = workdir / f"target-{tag}", workdir / f"dbt-{tag}.log"
    stats = log.with_suffix(".time")
    if engine == "spark":
        cmd = [sys.executable, "-m", "lookalike_udf.spark_dbt", "build", "--target", "spark"]
    else:
        cmd = [str(Path(sys.executable).parent / "dbt"), "build"]
    cmd += [
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        str(ROOT),
        "--target-path",
        str(target),
        "--log-path",
        str(workdir / f"logs-{tag}"),
        "--vars",
        json.dumps(bench_vars(scale)),
    ]
    load_start = os.getloadavg()
    started = time.perf_counter()
    timed_out = False
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", str(stats), *cmd],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, 15)  # the group of this build only (its own session)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        sampler.stop()
    wall = time.perf_counter() - started
    text = log.read_text()
    result = {
        "command": " ".join(cmd[:6]),
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall, 2),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "load_1min_max_during": round(sampler.load_max, 2),
        "peak_tree_rss_mib": round(sampler.peak_tree_kib / 1024, 1),
        "peak_single_process_rss_mib_sampled": round(sampler.peak_proc_kib / 1024, 1),
        "peak_single_process": sampler.peak_proc_name,
    }
    if stats.exists():
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stats.read_text())
        result["time_v_max_rss_mib"] = round(int(rss.group(1)) / 1024, 1) if rss else None
    rr = target / "run_results.json"
    if rr.exists() and not timed_out:
        run_results = json.loads(rr.read_text())
        models = {
            r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
            for r in run_results["results"]
            if r["unique_id"].startswith("model.")
        }
        result.update(
            source="run_results.json",
            dbt_elapsed_s=round(run_results["elapsed_time"], 2),
            statuses={
                s: sum(1 for r in run_results["results"] if r["status"] == s)
                for s in {r["status"] for r in run_results["results"]}
            },
            tests_s=round(
                sum(r["execution_time"] for r in run_results["results"] if r["unique_id"].startswith("test.")), 2
            ),
            model_s=models,
        )
    else:
        parsed = parse_log(text)
        models = {k: v["seconds"] for k, v in parsed["nodes"].items() if v["model"]}
        result.update(source="console log (no run_results.json)", log_progress=parsed, model_s=models)
    result["stage_model_s"] = stage_split(result["model_s"])
    summary = re.search(r"Done\. PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+.*", text)
    result["dbt_summary"] = summary.group(0) if summary else None
    if proc.returncode != 0 and not timed_out:
        result["log_tail"] = text[-4000:]
    return result


def machine() -> dict:
    import dbt.version
    import duckdb
    import sklearn

    out = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1),
        "dbt_core": dbt.version.__version__,
        "duckdb": duckdb.__version__,
        "sklearn": sklearn.__version__,
    }
    try:
        import pyspark
        from dbt.adapters.spark.__version__ import version

        out.update(pyspark=pyspark.__version__, dbt_spark=str(version))
    except ImportError:
        pass
    try:
        from dbt.adapters.duckdb.__version__ import version as dv

        out["dbt_duckdb"] = str(dv)
    except ImportError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True)
    out["java"] = (java.stderr or java.stdout).splitlines()[0] if java.returncode == 0 else None
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--engine", choices=("spark", "duckdb"), default="spark")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steps", default="first,unchanged", help="first[,unchanged]")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per build; the build is stopped after")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default=None, help="LOOKALIKE_SPARK_DRIVER_MEMORY (profile default 4g)")
    parser.add_argument("--reuse-data", action="store_true", help="keep an existing generated file / loaded warehouse")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    out_file = args.out or HERE / "results" / f"{args.engine}-{args.scale}.json"
    steps = args.steps.split(",")

    results = {
        "engine": args.engine,
        "scale": args.scale,
        "scale_def": {k: v for k, v in SCALES[args.scale].items()},
        "machine": machine(),
        "steps": steps,
        "master": args.master if args.engine == "spark" else None,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "repetitions": [],
    }
    pristine = args.workdir / f"{args.scale}-inputs.duckdb"
    if not (args.reuse_data and pristine.exists()):
        if pristine.exists():
            pristine.unlink()
        results["generate"] = generate(pristine, args.scale, args.seed)
    tables = [t for t in INPUT_TABLES if SCALES[args.scale]["events"] or t not in ("events", "items")]

    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYSPARK_PYTHON": sys.executable}
    spark_dir = args.workdir / "spark"
    if args.engine == "spark":
        env.update(LOOKALIKE_SPARK_DIR=str(spark_dir), LOOKALIKE_SPARK_MASTER=args.master)
        if args.driver_memory:
            env["LOOKALIKE_SPARK_DRIVER_MEMORY"] = args.driver_memory
        results["spark_env"] = {k: env[k] for k in env if k.startswith("LOOKALIKE_SPARK")}
        if not (args.reuse_data and (spark_dir / "metastore_db").exists()):
            shutil.rmtree(spark_dir, ignore_errors=True)
            spark_dir.mkdir(parents=True)
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, "--_load", str(spark_dir), str(pristine), args.master, *tables],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(f"loading the inputs into Spark failed:\n{proc.stderr[-4000:]}")
            results["load_into_spark"] = {
                "seconds": round(time.perf_counter() - started, 1),
                "tables": tables,
                "rows": dict(line.split() for line in proc.stdout.split("\n") if line.strip()),
            }

    for k in range(args.repeat):
        rep = {}
        results["repetitions"].append(rep)
        if args.engine == "spark":
            env["LOOKALIKE_SPARK_SCHEMA"] = f"bench_{args.scale.lower()}_{k}"
        else:
            db = args.workdir / f"ours-{k}.duckdb"
            shutil.copy(pristine, db)
            env["LOOKALIKE_DUCKDB_PATH"] = str(db)
        for step in steps:
            rep[step] = build(args.engine, args.workdir, args.scale, f"{k}-{step}", env, args.timeout)
            print(
                f"rep {k} {step}: wall {rep[step]['wall_s']} s, exit {rep[step]['exit_code']}, "
                f"{rep[step]['dbt_summary']}",
                flush=True,
            )
            out_file.parent.mkdir(parents=True, exist_ok=True)
            out_file.write_text(json.dumps(results, indent=1, default=str))
            if rep[step]["exit_code"] != 0:
                print(f"build failed or stopped; see {args.workdir}/dbt-{k}-{step}.log", flush=True)
                return results
        if args.engine == "duckdb":
            (args.workdir / f"ours-{k}.duckdb").unlink()
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out_file.write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_load":
        spark_dir, db_file, master, *names = sys.argv[2:]
        load_into_spark(Path(spark_dir), Path(db_file), names, master)
    else:
        main()
