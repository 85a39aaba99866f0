"""Where a first `dbt build`'s memory peak falls: a timeline of the process tree's RSS against dbt's
model timings.

Generates a scale's inputs (``bench/generate.py``, as ``bench/run.py`` does), runs one first
``dbt build`` on a copy, samples the summed RSS of dbt and every child every ``--interval`` seconds
(``/proc``, as ``bench/spark_run.py``'s sampler), then joins the samples with
``run_results.json``'s execute timings: per model, the highest RSS seen while it ran and the RSS when
it started; the peak itself and which models were running then. ``/usr/bin/time -v``'s maximum
resident set (the figure ``bench/run.py`` reports) is printed beside it.

Usage (figures in bench/RESULTS.md)::

    python bench/memory_timeline.py --scale T200K --workdir /tmp/mem200 --out bench/results/memory-T200K.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402
from run import bench_vars  # noqa: E402
from spark_run import TreeSampler  # noqa: E402


class TimelineSampler(TreeSampler):
    """TreeSampler that also keeps every sample: (epoch seconds, summed tree RSS in KiB)."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(pid, interval)
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        while not self._halt.is_set():
            total = sum(r for _, _, r in self._tree())
            self.samples.append((time.time(), total))
            self._halt.wait(self.interval)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def windows(run_results: dict) -> dict[str, tuple[float, float]]:
    """Model name -> (start, end) epoch seconds of its execute phase."""
    out = {}
    for r in run_results["results"]:
        if not r["unique_id"].startswith("model."):
            continue
        for t in r.get("timing", []):
            if t["name"] == "execute" and t.get("started_at") and t.get("completed_at"):
                out[r["unique_id"].split(".")[-1]] = (_epoch(t["started_at"]), _epoch(t["completed_at"]))
    return out


def attribute(samples: list[tuple[float, int]], spans: dict[str, tuple[float, float]]) -> dict:
    """Per model: highest RSS while it ran, RSS at its start, its seconds; and the peak sample."""
    mib = 1024.0
    per_model = {}
    for name, (start, end) in spans.items():
        inside = [kib for t, kib in samples if start <= t <= end]
        before = [kib for t, kib in samples if t <= start]
        per_model[name] = {
            "seconds": round(end - start, 2),
            "rss_at_start_mib": round(before[-1] / mib, 1) if before else None,
            "max_rss_during_mib": round(max(inside) / mib, 1) if inside else None,
        }
    t_peak, kib_peak = max(samples, key=lambda s: s[1])
    running = sorted(name for name, (start, end) in spans.items() if start <= t_peak <= end)
    t0 = samples[0][0]
    return {
        "peak_tree_rss_mib": round(kib_peak / mib, 1),
        "peak_at_s": round(t_peak - t0, 2),
        "running_at_peak": running,
        "models": dict(sorted(per_model.items(), key=lambda kv: -(kv[1]["max_rss_during_mib"] or 0))),
        "timeline": [(round(t - t0, 2), round(kib / mib, 1)) for t, kib in samples],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--vars", default="{}", help="extra dbt vars (JSON), merged over the scale's")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pristine = args.workdir / f"{args.scale}-inputs.duckdb"
    if not pristine.exists():
        generate(pristine, args.scale, args.seed)
    db = args.workdir / "build.duckdb"
    shutil.copy(pristine, db)
    target, stats = args.workdir / "target", args.workdir / "dbt.time"
    env = {**os.environ, "LOOKALIKE_DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [
        *("/usr/bin/time", "-v", "-o", str(stats)),
        str(Path(sys.executable).parent / "dbt"),
        "build",
        *("--project-dir", str(ROOT), "--profiles-dir", str(ROOT)),
        *("--target-path", str(target), "--log-path", str(args.workdir / "logs")),
        *("--vars", json.dumps({**bench_vars(args.scale), **json.loads(args.vars)})),
    ]
    load_start = os.getloadavg()
    started = time.perf_counter()
    with open(args.workdir / "dbt.log", "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        sampler = TimelineSampler(proc.pid, args.interval)
        sampler.start()
        proc.wait()
        sampler.stop()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed (exit {proc.returncode}); see {args.workdir / 'dbt.log'}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stats.read_text())
    run_results = json.loads((target / "run_results.json").read_text())
    result = {
        "scale": args.scale,
        "wall_s": round(wall, 2),
        "time_v_max_rss_mib": round(int(rss.group(1)) / 1024, 1) if rss else None,
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "interval_s": args.interval,
        **attribute(sampler.samples, windows(run_results)),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print(f"wall {result['wall_s']} s; time -v max RSS {result['time_v_max_rss_mib']} MiB; ", end="")
    print(
        f"tree peak {result['peak_tree_rss_mib']} MiB at {result['peak_at_s']} s; running: {result['running_at_peak']}"
    )
    print("| model | s | RSS at start MiB | max RSS during MiB |\n|---|---|---|---|")
    for name, m in list(result["models"].items())[:12]:
        print(f"| {name} | {m['seconds']} | {m['rss_at_start_mib']} | {m['max_rss_during_mib']} |")
    return result


if __name__ == "__main__":
    main()
