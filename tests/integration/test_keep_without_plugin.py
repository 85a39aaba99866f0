"""Without the package's dbt-duckdb plugin (a host profile that leaves it out), the keep-unchanged-
tables short cut of `lookalike_table` has no library version to fold into its key, so the models
with config lookalike_keep are built on every build, with a log line saying why (decision 0019);
the reuse inside the Python models still reports 'reused'. Real `dbt build`s on the hand-made
fixture, with a copy of the repository's profile minus its `plugins`.
"""

from __future__ import annotations

import pytest

from conftest import REPO, query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration

PYTHON_MODELS = {"lookalike_run_models", "lookalike_training_predictions", "int_lookalike__population_scores",
                 "lookalike_feature_importance", "lookalike_run_scoring_sql", "lookalike_user_reasons"}


def test_without_the_plugin_every_keep_model_is_rebuilt_and_says_why(tmp_path):
    profile = (REPO / "profiles.yml").read_text()
    plugins = "      plugins:\n        - module: lookalike_udf.duckdb_plugin\n"
    assert plugins in profile
    profiles_dir = tmp_path / "profile"
    profiles_dir.mkdir()
    (profiles_dir / "profiles.yml").write_text(profile.replace(plugins, ""))
    db = tmp_path / "fixture.duckdb"
    build_fixture_db(db)
    run_dbt(["build"], db, tmp_path, vars=FIXTURE_VARS, profiles_dir=profiles_dir)
    again = run_dbt(["build"], db, tmp_path, vars=FIXTURE_VARS, profiles_dir=profiles_dir)

    assert "lookalike: lookalike_run_models is built every time: the SQL function lookalike_library_version() is missing" in again.stdout
    comments = dict(query(db, "select table_name, comment from duckdb_tables()"))
    for name in PYTHON_MODELS | {"lookalike_feature_drift"}:
        assert not comments[name], name  # no key stored, nothing kept
    # The guarded feature tables do not need the plugin: they are kept as before.
    assert "; kept by build " in comments["int_lookalike__user_snapshots"]
    runs = {r["run_id"]: r for r in query_dicts(db, "select run_id, training_action, scoring_action from lookalike_runs")}
    assert (runs["pit"]["training_action"], runs["pit"]["scoring_action"]) == ("reused", "reused")
