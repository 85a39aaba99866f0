"""Builds shared between test modules (issue 26: the suite's budget).

Seven modules start from the same `dbt build` of the hand-made fixture (fixtures.FIXTURE_VARS).
`fixture_build` runs it once per session into a pristine folder; `copy_fixture_build(fixture_build,
folder)` gives a module its own copy of the built database (and the serving file), under the same
file name, `fixture.duckdb`, so the catalog name and therefore every compiled relation name, and the
keep keys that hold them (decision 0019), are the same as in the pristine build: a rebuild of a copy
behaves exactly as a rebuild of the original. Modules that change the database work on their copy;
nothing writes to the pristine folder after the session build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

FIXTURE_DB_NAME = "fixture.duckdb"


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory):
    """(database path, CompletedProcess) of one `dbt build` of the fixture with FIXTURE_VARS."""
    work = tmp_path_factory.mktemp("fixture_build_pristine")
    db = work / FIXTURE_DB_NAME
    build_fixture_db(db)
    proc = run_dbt(["build"], db, work, vars=FIXTURE_VARS)
    return db, proc


def copy_fixture_build(fixture_build, folder: Path) -> Path:
    """A copy of the session's fixture build in ``folder``; returns the copy's database path."""
    source, _ = fixture_build
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / FIXTURE_DB_NAME
    shutil.copy2(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, target.with_name(target.name + ".wal"))
    serving = source.parent / "serving"
    if serving.is_dir():
        shutil.copytree(serving, folder / "serving", dirs_exist_ok=True)
    return target
