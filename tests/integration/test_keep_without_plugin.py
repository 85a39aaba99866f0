"""Without the package's dbt-duckdb plugin (a host profile that leaves it out), the keep-unchanged-
tables short cut of `lookalike_table` has no library version to fold into its key, so the Python
models with config lookalike_keep are built on every build, with a log line saying why; SQL models
need no library version and are kept (decision 0025). The reuse inside the Python models still
reports 'reused'. Real `dbt build`s on the hand-made
fixture, with a copy of the repository's profile minus its `plugins`.
"""

from __future__ import annotations

import pytest

from conftest import REPO, build_state, kept_by_last_build, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration

PYTHON_MODELS = {
    "lookalike_run_models",
    "lookalike_training_predictions",
    "int_lookalike__population_scores",
    "lookalike_feature_importance",
    "lookalike_run_scoring_sql",
    "lookalike_user_reasons",
}


def test_without_the_plugin_every_python_keep_model_is_rebuilt_and_says_why(tmp_path):
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

    assert (
        "lookalike: lookalike_run_models is built every time: the SQL function lookalike_library_version() is missing"
        in again.stdout
    )
    state, kept = build_state(db), kept_by_last_build(db)
    for name in PYTHON_MODELS:
        assert state[name]["action"] == "built" and state[name]["inputs_key"] is None, name  # no key, nothing kept
    # SQL models do not need the plugin: the feature tables and the labels are kept. (Drift reads
    # the models, written anew, so it is built again.)
    assert {
        "int_lookalike__user_snapshots",
        "lookalike_inference_features",
        "lookalike_pit_labels",
        "int_lookalike__training_examples",
    } <= kept
    assert not kept & PYTHON_MODELS
    runs = {
        r["run_id"]: r for r in query_dicts(db, "select run_id, training_action, scoring_action from lookalike_runs")
    }
    assert (runs["pit"]["training_action"], runs["pit"]["scoring_action"]) == ("reused", "reused")
