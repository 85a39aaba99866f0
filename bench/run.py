"""Benchmark runner: the package's `dbt build` against the notebook baseline, on the same data.

For each repetition, on fresh copies of the same generated DuckDB file:

1. ours, first build: ``dbt build`` under ``/usr/bin/time -v`` (wall time, peak RSS of the dbt
   process, which holds DuckDB and the Python models), per-model times from
   ``target/run_results.json``;
2. ours, rebuild with no input changed;
3. ours, rebuild after the features of 1 % of users changed (step ``delta``, issue 27 part 3): a
   new snapshot, later than every other and before the scoring time, for each user with
   ``hash(user_id) % 100 = 1``, one feature changed; the models are unchanged, so only those users
   are scored (``int_lookalike__population_scores.scoring_action``, counted);
4. ours, rebuild after one run's labels changed (a weight on 1 % of ``r_negatives``' labels):
   ``lookalike_runs.training_action`` / ``scoring_action`` must show that only that run was refit
   and rescored;
5. the baseline (``bench/baseline.py``) under ``/usr/bin/time -v``;
6. the scoring floor: every run's stored model's ``predict_proba`` on the population's feature
   matrix already in memory (read and encoded beforehand, not timed);
7. the same-job check: AUC of each run's population scores against the generator's true labels
   (``inputs.truth.y_true``), ours and the baseline's.

Results go to ``<workdir>/results-<scale>.json`` (every repetition) and a markdown summary
(min / median / max) is printed.

    python bench/run.py --scale S --repeat 3 --workdir /tmp/bench-run
    python bench/run.py --scale M --repeat 1 --workdir /tmp/bench-run
    python bench/run.py --scale L --repeat 1 --workdir /tmp/bench-run --skip-baseline
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from generate import AS_OF, LAST_SNAPSHOT, SCALES, dbt_vars, generate  # noqa: E402

#: dbt models by stage (everything else is "reports": metrics, deciles, summaries, runs, tests).
STAGES = {
    "features": (
        "stg_lookalike__",
        "int_lookalike__user_snapshots",
        "int_lookalike__snapshot_keys",
        "int_lookalike__event_series",
        "int_lookalike__training_points",
        "int_lookalike__training_examples",
        "int_lookalike__inference_snapshots",
        "lookalike_pit_labels",
        "lookalike_pit_features",
        "lookalike_inference_features",
    ),
    "training": ("int_lookalike__run_fingerprints", "lookalike_run_models", "lookalike_training_predictions"),
    "scoring": ("int_lookalike__population_scores", "lookalike_user_scores"),
}


def bench_vars(scale: str) -> dict:
    """dbt vars for a scale: the generated inputs, and settings matching the baseline's."""
    out = dbt_vars(scale)
    out["lookalike_unlabeled_sample_size"] = SCALES[scale]["labels"]
    out["lookalike_event_top_types"] = 6  # the generator has six types; 'purchase' carries the signal
    return out


def timed(cmd: list[str], env: dict, log: Path) -> dict:
    """Run ``cmd`` under /usr/bin/time -v; wall seconds, peak RSS (MiB), stdout. Raises on failure."""
    stats = log.with_suffix(".time")
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", str(stats), *cmd], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    wall = time.perf_counter() - started
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}); see {log}:\n{text[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stats.read_text())
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(int(rss.group(1)) / 1024, 1) if rss else None,
        "stdout": text,
    }


def dbt_build(
    db: Path, workdir: Path, scale: str, tag: str, command: tuple[str, ...] = ("build",), extra_vars: dict | None = None
) -> dict:
    env = {**os.environ, "LOOKALIKE_DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = workdir / "target"
    dbt = str(Path(sys.executable).parent / "dbt")
    result = timed(
        [
            dbt,
            *command,
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
            "--target-path",
            str(target),
            "--log-path",
            str(workdir / "logs"),
            "--vars",
            json.dumps({**bench_vars(scale), **(extra_vars or {})}),
        ],
        env,
        workdir / f"dbt-{tag}.log",
    )
    run_results = json.loads((target / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in run_results["results"]
        if r["unique_id"].startswith("model.")
    }
    tests = sum(r["execution_time"] for r in run_results["results"] if r["unique_id"].startswith("test."))
    stages = {name: 0.0 for name in (*STAGES, "reports")}
    for name, seconds in models.items():
        stage = next((s for s, prefixes in STAGES.items() if name.startswith(prefixes)), "reports")
        stages[stage] += seconds
    stages["tests"] = tests
    del result["stdout"]
    return {
        **result,
        "dbt_elapsed_s": round(run_results["elapsed_time"], 2),
        "stage_model_s": {k: round(v, 2) for k, v in stages.items()},
        "model_s": models,
    }


def run_actions(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            r[0]: {"status": r[1], "training_action": r[2], "scoring_action": r[3], "test_auc": r[4]}
            for r in con.execute(
                "select run_id, status, training_action, scoring_action, test_auc from lookalike_runs order by run_id"
            ).fetchall()
        }


def change_one_run(db: Path) -> None:
    """Give 1 % of r_negatives' labels weight 2: only that run's training examples change."""
    with duckdb.connect(str(db)) as con:
        con.execute("update inputs.labels set weight = 2.0 where run_id = 'r_negatives' and hash(user_id) % 100 = 0")


#: When the ``delta`` step's new snapshots are taken: after every generated snapshot, before the scoring time.
DELTA_SNAPSHOT_AT = "2026-06-15 00:00:00"


def change_one_percent_of_users(db: Path) -> int:
    """A new snapshot for 1 % of the users (``hash(user_id) % 100 = 1``): their latest one with
    num_01 changed, at DELTA_SNAPSHOT_AT. Labels are older than the last snapshot, so no training
    example changes. Returns the number of users changed."""
    assert LAST_SNAPSHOT < DELTA_SNAPSHOT_AT < AS_OF
    with duckdb.connect(str(db)) as con:
        con.execute(f"""
            insert into inputs.snapshots
            select * replace (timestamp '{DELTA_SNAPSHOT_AT}' as snapshot_at, coalesce(num_01, 0) + 1 as num_01)
            from inputs.snapshots
            where snapshot_at = (select max(snapshot_at) from inputs.snapshots) and hash(user_id) % 100 = 1""")
        return con.execute(
            f"select count(*) from inputs.snapshots where snapshot_at = timestamp '{DELTA_SNAPSHOT_AT}'"
        ).fetchone()[0]


def scoring_counts(db: Path) -> dict:
    """run_id -> {scoring_action: rows} of int_lookalike__population_scores."""
    out: dict = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for run, action, n in con.execute(
            "select run_id, scoring_action, count(*) from int_lookalike__population_scores group by all order by all"
        ).fetchall():
            out.setdefault(run, {})[action] = n
    return out


def true_auc(db: Path, table: str) -> dict:
    """Per run: AUC of the run's population scores against the generator's true labels."""
    from sklearn.metrics import roc_auc_score

    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        runs = [r[0] for r in con.execute(f"select distinct run_id from {table} order by 1").fetchall()]
        for run in runs:
            y, s = (
                con.execute(
                    f"""select t.y_true::int, s.score from {table} s
                                   join inputs.truth t using (user_id) where s.run_id = ?""",
                    [run],
                )
                .fetchnumpy()
                .values()
            )
            out[run] = round(float(roc_auc_score(y, s)), 4)
    return out


def scoring_floor(db: Path) -> dict:
    """Seconds of each run's predict_proba on its scored rows' feature matrix, already in memory."""
    from lookalike_udf.scoring import LookalikeModel

    with duckdb.connect(str(db), read_only=True) as con:
        models = con.execute("""select m.run_id, m.model_json, r.engagement_type from lookalike_run_models m
                                join lookalike_runs r using (run_id)
                                where m.model_status = 'TRAINED' and r.status = 'FINISHED'""").fetchall()
        table = con.sql("select * from lookalike_inference_features").to_arrow_table()
        seeds = {}
        for run_id, _, engagement in models:
            if engagement == "SINGLE_ENGAGE":
                seeds[run_id] = {
                    r[0]
                    for r in con.execute(
                        "select distinct user_id from lookalike_pit_labels where run_id = ?", [run_id]
                    ).fetchall()
                }
    out = {}
    for run_id, model_json, _ in models:
        model = LookalikeModel.from_json(model_json)
        rows = table
        if run_id in seeds:
            import pyarrow as pa
            import pyarrow.compute as pc

            rows = table.filter(
                pc.invert(
                    pc.is_in(
                        table.column("user_id").cast(pa.string()), pa.array(sorted(seeds[run_id]), type=pa.string())
                    )
                )
            )
        X = model.encoder.transform(rows)
        started = time.perf_counter()
        model._scorer.predict_proba_positive(X)
        out[run_id] = {"rows": rows.num_rows, "seconds": round(time.perf_counter() - started, 2)}
        del X
    return out


def baseline(db: Path, workdir: Path, scale: str, tag: str) -> dict:
    result = timed(
        [sys.executable, str(HERE / "baseline.py"), "--db", str(db), "--scale", scale],
        dict(os.environ),
        workdir / f"baseline-{tag}.log",
    )
    stages = json.loads(result.pop("stdout").strip().splitlines()[-1])
    return {**result, "stages": stages}


STEPS = ("first", "floor", "rescore", "unchanged", "steady", "delta", "changed", "baseline")


def repetition(
    pristine: Path, workdir: Path, scale: str, k: int, skip_baseline: bool, steps: tuple[str, ...] = STEPS
) -> dict:
    out = {}
    ours = workdir / f"ours-{k}.duckdb"
    shutil.copy(pristine, ours)
    out["first_build"] = dbt_build(ours, workdir, scale, f"{k}-first")
    out["first_actions"] = run_actions(ours)
    if "floor" in steps:
        out["floor"] = scoring_floor(ours)
    if "rescore" in steps:
        # The scoring model alone, forced to rescore: its own wall time and peak memory (1M vs 10M users).
        out["rescore_only"] = dbt_build(
            ours,
            workdir,
            scale,
            f"{k}-rescore",
            ("run", "--select", "int_lookalike__population_scores"),
            {"lookalike_force_retrain": True},
        )
    if "unchanged" in steps:
        out["rebuild_unchanged"] = dbt_build(ours, workdir, scale, f"{k}-unchanged")
        out["unchanged_actions"] = run_actions(ours)
    if "steady" in steps:
        # Once more, unchanged: what a scheduled job sees from then on. The second build's
        # lookalike_runs says reused instead of trained, so the serving file is published once
        # more there and kept from this build on.
        out["rebuild_steady"] = dbt_build(ours, workdir, scale, f"{k}-steady")
        out["steady_actions"] = run_actions(ours)
    out["true_auc_ours"] = true_auc(ours, "lookalike_user_scores")
    if "delta" in steps:
        # Issue 27 part 3: a scheduled day where 1 % of the users have a new snapshot.
        out["delta_users_changed"] = change_one_percent_of_users(ours)
        out["rebuild_delta"] = dbt_build(ours, workdir, scale, f"{k}-delta")
        out["delta_actions"] = run_actions(ours)
        out["delta_scoring_rows"] = scoring_counts(ours)
        out["true_auc_after_delta"] = true_auc(ours, "lookalike_user_scores")
    if "changed" in steps:
        change_one_run(ours)
        out["rebuild_one_run_changed"] = dbt_build(ours, workdir, scale, f"{k}-changed")
        out["changed_actions"] = run_actions(ours)
    ours.unlink()
    if not skip_baseline and "baseline" in steps:
        base = workdir / f"baseline-{k}.duckdb"
        shutil.copy(pristine, base)
        out["baseline"] = baseline(base, workdir, scale, str(k))
        out["true_auc_baseline"] = true_auc(base, "baseline_scores")
        base.unlink()
    return out


def _stats(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:g}"
    return f"{min(values):g} / {statistics.median(values):g} / {max(values):g}"


def summary(results: dict) -> str:
    reps = results["repetitions"]
    floor = lambda r: max(1e-9, sum(v["seconds"] for v in r["floor"].values()))  # noqa: E731
    measures = [
        ("ours: first `dbt build`, wall s", lambda r: r["first_build"]["wall_s"]),
        ("ours: first build, peak RSS MiB", lambda r: r["first_build"]["peak_rss_mib"]),
        ("ours: rebuild, nothing changed, wall s", lambda r: r["rebuild_unchanged"]["wall_s"]),
        (
            "ours: rebuild / first build (wall)",
            lambda r: round(r["rebuild_unchanged"]["wall_s"] / r["first_build"]["wall_s"], 3),
        ),
        (
            "ours: rebuild / first build (dbt elapsed)",
            lambda r: round(r["rebuild_unchanged"]["dbt_elapsed_s"] / r["first_build"]["dbt_elapsed_s"], 3),
        ),
        ("ours: rebuild again, nothing changed (steady state), wall s", lambda r: r["rebuild_steady"]["wall_s"]),
        (
            "ours: rebuild again / first build (wall)",
            lambda r: round(r["rebuild_steady"]["wall_s"] / r["first_build"]["wall_s"], 3),
        ),
        ("ours: rebuild, 1 % of users' features changed, wall s", lambda r: r["rebuild_delta"]["wall_s"]),
        (
            "ours: rebuild, 1 % changed / first build (wall)",
            lambda r: round(r["rebuild_delta"]["wall_s"] / r["first_build"]["wall_s"], 3),
        ),
        (
            "ours: rebuild, 1 % changed, population_scores model s",
            lambda r: r["rebuild_delta"]["model_s"]["int_lookalike__population_scores"],
        ),
        ("ours: rebuild, 1 % changed, users changed", lambda r: r["delta_users_changed"]),
        (
            "ours: rebuild, 1 % changed, rows scored (all runs)",
            lambda r: sum(v.get("scored", 0) for v in r["delta_scoring_rows"].values()),
        ),
        (
            "ours: rebuild, 1 % changed, rows carried (all runs)",
            lambda r: sum(v.get("reused", 0) for v in r["delta_scoring_rows"].values()),
        ),
        ("ours: rebuild, one run's labels changed, wall s", lambda r: r["rebuild_one_run_changed"]["wall_s"]),
        (
            "ours: importance report (model time) / first build (wall)",
            lambda r: round(
                r["first_build"]["model_s"]["lookalike_feature_importance"] / r["first_build"]["wall_s"], 3
            ),
        ),
        (
            "ours: scoring models (population_scores + user_scores), s",
            lambda r: r["first_build"]["stage_model_s"]["scoring"],
        ),
        ("floor: predict_proba in memory, all runs, s", lambda r: round(floor(r), 2)),
        ("ours: scoring model alone (forced rescore), wall s", lambda r: r["rescore_only"]["wall_s"]),
        (
            "ours: scoring model alone, model time s",
            lambda r: r["rescore_only"]["model_s"]["int_lookalike__population_scores"],
        ),
        ("ours: scoring model alone, peak RSS MiB", lambda r: r["rescore_only"]["peak_rss_mib"]),
        (
            "ours: scoring model alone / floor",
            lambda r: round(r["rescore_only"]["model_s"]["int_lookalike__population_scores"] / floor(r), 2),
        ),
        (
            "ours: population_scores / floor",
            lambda r: round(r["first_build"]["model_s"]["int_lookalike__population_scores"] / floor(r), 2),
        ),
    ]
    for stage in (*STAGES, "reports", "tests"):
        measures.append(
            (
                f"ours: first build, {stage} models (sum of model times), s",
                lambda r, stage=stage: r["first_build"]["stage_model_s"][stage],
            )
        )
    if any("baseline" in r for r in reps):
        measures += [
            ("baseline: wall s", lambda r: r["baseline"]["wall_s"]),
            ("baseline: peak RSS MiB", lambda r: r["baseline"]["peak_rss_mib"]),
            ("ours / baseline: wall", lambda r: round(r["first_build"]["wall_s"] / r["baseline"]["wall_s"], 3)),
            (
                "ours / baseline: peak RSS",
                lambda r: round(r["first_build"]["peak_rss_mib"] / r["baseline"]["peak_rss_mib"], 3),
            ),
        ]
        for stage in next(r for r in reps if "baseline" in r)["baseline"]["stages"]:
            if not stage.endswith("test_auc"):
                measures.append((f"baseline: {stage}, s", lambda r, stage=stage: r["baseline"]["stages"][stage]))

    def values(measure):
        out = []
        for r in reps:
            try:
                out.append(measure(r))
            except KeyError:  # a step that was not run (--steps)
                out.append(None)
        return out

    rows = [(name, values(measure)) for name, measure in measures]
    lines = [
        f"Scale {results['scale']}: {results['repetitions_n']} repetition(s); figures are min / median / max "
        "(a single figure when there is one repetition).",
        "",
        "| Measure | Value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_stats(values)} |" for name, values in rows]
    lines += [
        "",
        "| Run | true AUC ours | true AUC baseline | difference | retrained after one run changed | rescored |",
        "|---|---|---|---|---|---|",
    ]
    for run in sorted(reps[0]["true_auc_ours"]):
        ours_auc = [r["true_auc_ours"][run] for r in reps]
        base_auc = [r.get("true_auc_baseline", {}).get(run) for r in reps]
        diff = [round(a - b, 4) for a, b in zip(ours_auc, base_auc, strict=True) if b is not None]
        actions = reps[-1].get("changed_actions", {}).get(run, {})
        lines.append(
            f"| {run} | {_stats(ours_auc)} | {_stats(base_auc)} | {_stats(diff)} | "
            f"{actions.get('training_action')} | {actions.get('scoring_action')} |"
        )
    return "\n".join(lines)


def machine() -> dict:
    import dbt.version
    import pandas
    import sklearn

    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**20, 1),
        "dbt_core": dbt.version.__version__,
        "duckdb": duckdb.__version__,
        "sklearn": sklearn.__version__,
        "pandas": pandas.__version__,
        "load_avg_at_start": os.getloadavg(),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated steps after the first build: " + ", ".join(STEPS[1:]) + " (default: all)",
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pristine = args.workdir / f"{args.scale}-inputs.duckdb"
    if pristine.exists():
        pristine.unlink()
    unknown = set(args.steps.split(",")) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    results = {
        "scale": args.scale,
        "machine": machine(),
        "steps": args.steps,
        "generate": generate(pristine, args.scale, args.seed),
        "repetitions_n": args.repeat,
        "repetitions": [],
    }
    for k in range(args.repeat):
        results["repetitions"].append(
            repetition(pristine, args.workdir, args.scale, k, args.skip_baseline, tuple(args.steps.split(",")))
        )
        (args.workdir / f"results-{args.scale}.json").write_text(json.dumps(results, indent=1, default=str))
    pristine.unlink()
    print(summary(results))
    return results


if __name__ == "__main__":
    main()
