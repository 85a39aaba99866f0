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
