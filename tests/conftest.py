"""Shared helpers: run the real dbt CLI against a real DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]


def dbt_bin() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: list[str],
    db_path: Path,
    work: Path,
    vars: dict | None = None,
    project_dir: Path = REPO,
    profiles_dir: Path = REPO,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run `dbt <args>` in a subprocess with its own DuckDB file, target and log folders."""
    env = dict(os.environ, LOOKALIKE_DUCKDB_PATH=str(db_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [
        dbt_bin(),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        "--log-path",
        str(work / "logs"),
    ]
    if args[0] != "deps":
        cmd += ["--target-path", str(work / "target")]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    proc = subprocess.run(cmd, cwd=str(project_dir), env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def query(db_path: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def query_dicts(db_path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def build_state(db_path: Path) -> dict[str, dict]:
    """table name -> the latest row of lookalike_build_state for it (decision 0025): invocation_id,
    action ('built' / 'kept' / 'appended' / 'updated'), inputs_key (None: built again next time), rows_checksum."""
    rows = query_dicts(
        db_path,
        """
        select string_split(relation_name, '.')[-1] as table_name, invocation_id, action, inputs_key, rows_checksum
        from (select *, row_number() over (partition by relation_name order by recorded_at desc) as n
              from lookalike_build_state) where n = 1""",
    )
    return {r.pop("table_name"): r for r in rows}


def kept_by_last_build(db_path: Path) -> set[str]:
    """The tables the most recent build kept as they were (action 'kept' in lookalike_build_state)."""
    last = query(db_path, "select invocation_id from lookalike_build_state order by recorded_at desc limit 1")
    if not last:
        return set()
    return {
        name
        for name, row in build_state(db_path).items()
        if row["invocation_id"] == last[0][0] and row["action"] == "kept"
    }


#: Test modules that take longest (setup and calls together, from the CI log's durations), longest
#: first. They are collected first, so that with ``--dist loadfile --no-loadscope-reorder`` (the
#: pytest options in pyproject.toml) the two workers start on them and the short modules fill the
#: end, instead of one long Spark module running alone at the end (decision 0042). Order only:
#: every test still runs, and a module missing here keeps its collection order after these.
SLOW_MODULES_FIRST = (
    "tests/integration/test_spark_parity.py",
    "tests/integration/test_snapshot_append.py",
    "tests/integration/test_spark_hostile_names.py",
    "tests/bench/test_bench.py",
    "tests/integration/test_input_shapes.py",
    "tests/integration/test_partial_scoring.py",
    "tests/integration/test_tampered_models.py",
    "tests/integration/test_reuse.py",
    "tests/integration/test_feature_reuse.py",
    "tests/integration/test_bi_serving.py",
    "tests/integration/test_event_features.py",
    "tests/integration/test_drift_and_audiences.py",
    "tests/integration/test_failure_policy.py",
    "tests/integration/test_run_history.py",
    "tests/integration/test_time_matching.py",
    "tests/integration/test_sql_scoring.py",
    "tests/integration/test_time_zones.py",
    "tests/integration/test_holdout.py",
)


def module_rank(nodeid: str) -> int:
    """Where a test's module comes in :data:`SLOW_MODULES_FIRST` (the modules not listed after)."""
    module = nodeid.split("::", 1)[0]
    try:
        return SLOW_MODULES_FIRST.index(module)
    except ValueError:
        return len(SLOW_MODULES_FIRST)


def pytest_collection_modifyitems(config, items):
    # A stable sort: the tests of one module keep their order (module-scoped builds rely on it).
    items.sort(key=lambda item: module_rank(item.nodeid))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Seconds per test module (setup, call and teardown summed), to keep SLOW_MODULES_FIRST true."""
    totals: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid, duration = getattr(report, "nodeid", None), getattr(report, "duration", None)
            if nodeid and duration is not None:
                module = nodeid.split("::", 1)[0]
                totals[module] = totals.get(module, 0.0) + duration
    if not totals:
        return
    terminalreporter.write_sep("=", "slowest 25 test modules (seconds, setup + call + teardown)")
    for module, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:25]:
        terminalreporter.write_line(f"{seconds:9.1f}s  {module}")
