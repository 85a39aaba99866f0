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


def run_dbt(args: list[str], db_path: Path, work: Path, vars: dict | None = None,
            project_dir: Path = REPO, profiles_dir: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """Run `dbt <args>` in a subprocess with its own DuckDB file, target and log folders."""
    env = dict(os.environ, LOOKALIKE_DUCKDB_PATH=str(db_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [dbt_bin(), *args, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
           "--log-path", str(work / "logs")]
    if args[0] != "deps":
        cmd += ["--target-path", str(work / "target")]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    proc = subprocess.run(cmd, cwd=str(project_dir), env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}")
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
