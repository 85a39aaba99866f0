"""dbt's own floor for a DAG the size of this package's: a throwaway dbt-duckdb project with as many
table models and data tests as the package has, each model one row, each test trivial, timed with
`dbt build` (after one untimed build, so partial parsing and the tables are there, as in a
no-change rebuild). Whatever a no-change rebuild of the package costs beyond this is the package's.

    python bench/dbt_floor.py --models 36 --tests 66 --threads 2 --repeat 3 [--materialized view]

It writes nothing outside --workdir (default: a new temporary folder) and prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_project(root: Path, n_models: int, n_tests: int, threads: int, materialized: str = "table") -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        f"name: floor\nversion: '1.0'\nprofile: floor\nmodels:\n  floor:\n    +materialized: {materialized}\n"
    )
    (root / "profiles.yml").write_text(
        f"floor:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'floor.duckdb'}\n      threads: {threads}\n"
    )
    names = [f"m{i:03d}" for i in range(n_models)]
    width = 4  # four chains, so the two threads always have work, like the package's wide DAG
    for i, name in enumerate(names):
        sql = "select 1 as id" if i < width else f"select * from {{{{ ref('{names[i - width]}') }}}}"
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
    lines, left = ["version: 2", "models:"], n_tests
    for i, name in enumerate(names):
        k = min(2, left) if left > (n_models - 1 - i) else min(1, left)
        tests = ["not_null", "unique"][:k]
        left -= len(tests)
        lines += [f"  - name: {name}", "    columns:", "      - name: id"]
        if tests:
            lines += ["        data_tests:"] + [f"          - {t}" for t in tests]
    (root / "models" / "schema.yml").write_text("\n".join(lines) + "\n")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=36)
    parser.add_argument("--tests", type=int, default=66)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--materialized", default="table", help="table or view (a view runs fewer statements)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dbt-floor-"))
    write_project(root, args.models, args.tests, args.threads, args.materialized)
    dbt = str(Path(sys.executable).parent / "dbt")
    cmd = [dbt, "build", "--project-dir", str(root), "--profiles-dir", str(root)]
    walls, summary = [], ""
    for k in range(args.repeat + 1):
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-3000:])
        summary = next((line for line in proc.stdout.splitlines() if "Done. PASS=" in line), "")
        if k:  # the first build parses from scratch and creates the tables: not timed
            walls.append(round(wall, 2))
    out = {
        "models": args.models,
        "tests": args.tests,
        "threads": args.threads,
        "materialized": args.materialized,
        "wall_s": walls,
        "dbt": summary.split("Done. ")[-1],
        "workdir": str(root),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
