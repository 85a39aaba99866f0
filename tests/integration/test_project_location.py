"""Where dbt runs from does not move the DuckDB file (issue 14, finding 5).

The repository root is the dbt project; `dbt_project/` is a folder of models. dbt finds the project
by walking up from the current folder, but reads `profiles.yml` from the current folder (or
--profiles-dir / DBT_PROFILES_DIR). profiles.yml resolves the DuckDB path against its own folder,
so running from a subfolder with the profiles dir pointing at the root writes to the root's file,
not to a second one in the subfolder. `dbt debug` opens the file (its connection test) in ~3 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import REPO, dbt_bin

pytestmark = pytest.mark.integration

SUBFOLDER = REPO / "dbt_project"


def debug_from_subfolder(work, profiles_dir, duckdb_path=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LOOKALIKE_DUCKDB_PATH", "DBT_PROJECT_DIR")}
    env.update(DBT_PROFILES_DIR=str(profiles_dir), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    if duckdb_path is not None:
        env["LOOKALIKE_DUCKDB_PATH"] = duckdb_path
    # No --project-dir: dbt finds dbt_project.yml one folder up, as it does for a user who cd'ed in.
    return subprocess.run(
        [dbt_bin(), "debug", "--log-path", str(work / "logs")],
        cwd=str(SUBFOLDER),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def duckdb_files(folder):
    return sorted(p.name for p in folder.iterdir() if ".duckdb" in p.name)


def test_default_file_sits_next_to_profiles_yml_not_in_the_current_folder(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copy(REPO / "profiles.yml", profiles / "profiles.yml")
    before = duckdb_files(SUBFOLDER)
    proc = debug_from_subfolder(tmp_path, profiles)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"Using dbt_project.yml file at {REPO / 'dbt_project.yml'}" in proc.stdout
    assert (profiles / "lookalike.duckdb").exists()
    assert duckdb_files(SUBFOLDER) == before  # no second lookalike.duckdb in the current folder


def test_relative_env_path_resolves_against_the_profiles_folder(tmp_path):
    target = tmp_path / "elsewhere" / "mine.duckdb"
    target.parent.mkdir()
    relative = os.path.relpath(target, REPO)  # relative to the root, where profiles.yml is
    before = duckdb_files(SUBFOLDER)
    proc = debug_from_subfolder(tmp_path, REPO, duckdb_path=relative)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert target.exists()
    assert duckdb_files(SUBFOLDER) == before


def test_subfolder_explains_itself():
    """dbt_project/ carries a README saying it is not a dbt project and how to run from it."""
    text = (SUBFOLDER / "README.md").read_text()
    assert "--project-dir .." in text and "--profiles-dir .." in text
