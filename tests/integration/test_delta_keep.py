"""On a day when only the population changed, the Python models that read only the models and the
training inputs are kept, and the ones that read the population carry every run over (issue 27
part 3, decision 0047): real `dbt build`s of the hand-made fixture (fixtures.py).

- lookalike_run_models names int_lookalike__run_fingerprints by its training columns only, so new
  snapshots for three users (after every label) keep it, and with it lookalike_training_predictions,
  lookalike_run_scoring_sql and lookalike_run_training_log: their Python never runs (dbt's debug
  log writes no runtime Python for them) and lookalike_build_state records them 'kept'.
- lookalike_feature_importance reads the population, so it is built, and carries every run over
  although the kept models table still says training_action 'trained' (the build that trained
  them): lookalike_build_state says lookalike_run_models was last built before it. A second day
  with a marker planted in the importance table's previous rows shows the rows carried, not
  recomputed.
- Every derived table equals a forced full rebuild (var lookalike_force_retrain) of the same day,
  and lookalike_runs reports training_action 'reused' for the kept models.
"""

from __future__ import annotations

import re
import shutil

import duckdb
import pytest

from conftest import build_state, query, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration

VARS = {**FIXTURE_VARS, "lookalike_labels": "inputs.labels_timed"}
FORCED = {**VARS, "lookalike_force_retrain": True}
# New snapshots for three users, after the latest snapshot (2026-03-01) and every label, before the
# scoring time: the population changes, the training examples do not.
DAY_ONE = [
    "insert into inputs.snapshots values ('0001', '2026-04-01 00:00:00', 99.0, 'b', false)",
    "insert into inputs.snapshots values ('0002', '2026-04-01 00:00:00', -1.0, 'a', true)",
    "insert into inputs.snapshots values ('0060', '2026-04-01 00:00:00', 3.0, 'c', true)",
]
DAY_TWO = ["insert into inputs.snapshots values ('0003', '2026-04-02 00:00:00', 12.0, 'a', false)"]

MODELS = "lookalike_run_models"
KEPT = (
    "lookalike_run_models",
    "lookalike_training_predictions",
    "lookalike_run_scoring_sql",
    "lookalike_run_training_log",
)
PYTHON = (*KEPT, "lookalike_feature_importance", "int_lookalike__population_scores", "lookalike_user_reasons")
#: The derived tables compared with a forced full rebuild (columns that hold a build time left out).
DERIVED = {
    MODELS: "select run_id, model_status, model_json, model_sha256, training_fingerprint, split_model_json, "
    "split_model_sha256, status_message from lookalike_run_models",
    "lookalike_training_predictions": "select * exclude (score), round(score, 12) from lookalike_training_predictions",
    "lookalike_feature_importance": "select run_id, feature, feature_kind, reference_value, round(importance, 12), "
    "round(importance_std, 12), round(correlation, 12), round(prevalence_target, 12), "
    "round(prevalence_population, 12), prevalence_kind, round(lift, 12), rank, training_fingerprint "
    "from lookalike_feature_importance",
    "lookalike_run_scoring_sql": "select run_id, dialect, sql_text, sql_sha256, model_sha256, training_fingerprint "
    "from lookalike_run_scoring_sql",
    "lookalike_run_training_log": "select * from lookalike_run_training_log",
    "lookalike_user_scores": "select run_id, user_id, round(score, 12), score_rank from lookalike_user_scores",
    "lookalike_audiences": "select run_id, user_id, round(score, 12), score_rank, is_seed_user from lookalike_audiences",
    "lookalike_run_metrics": "select * exclude (auc, ks), round(auc, 12), round(ks, 12) from lookalike_run_metrics",
}


def execute(db, statements) -> None:
    con = duckdb.connect(str(db))
    for statement in statements:
        con.execute(statement)
    con.close()


def derived(db) -> dict:
    return {name: query(db, f"{sql} order by all") for name, sql in DERIVED.items()}


def python_ran(work) -> set[str]:
    """The package's Python models whose code this build ran (dbt's debug log: 'Writing runtime python')."""
    log = (work / "logs" / "dbt.log").read_text()
    return set(re.findall(r'Writing runtime python for node "model\.lookalike\.(\w+)"', log))


def build(db, folder, vars=VARS):
    """A `dbt build` with its own log folder (so its debug log is this build's alone)."""
    folder.mkdir()
    proc = run_dbt(["build"], db, folder, vars=vars)
    return {
        "state": build_state(db),
        "ran": python_ran(folder),
        "derived": derived(db),
        "runs": {
            r[0]: r[1:] for r in query(db, "select run_id, status, training_action, scoring_action from lookalike_runs")
        },
        "model_actions": dict(query(db, "select run_id, training_action from lookalike_run_models")),
        "log": proc.stdout,
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("delta_keep")
    db = work / "warehouse.duckdb"
    build_fixture_db(db)
    execute(db, ["create table inputs.labels_timed as select * from inputs.labels where label_timestamp is not null"])
    out = {"first": build(db, work / "first")}

    execute(db, DAY_ONE)
    forced = work / "forced.duckdb"
    shutil.copy2(db, forced)
    out["day_one"] = build(db, work / "day_one")
    out["day_one_forced"] = build(forced, work / "day_one_forced", FORCED)

    # A marker in the previous importance rows: a run carried over keeps it, a recomputed one loses it.
    execute(db, ["update lookalike_feature_importance set importance_std = -1"])
    execute(db, DAY_TWO)
    out["day_two"] = build(db, work / "day_two")
    out["marker"] = query(
        db,
        "select run_id, count(*), count(*) filter (where importance_std = -1) from lookalike_feature_importance "
        "group by run_id order by run_id",
    )
    return out


def test_a_first_build_runs_every_python_model(builds):
    first = builds["first"]
    assert set(PYTHON) <= first["ran"]
    assert {first["state"][name]["action"] for name in PYTHON} == {"built"}
    assert set(first["model_actions"].values()) == {"trained", None} and "trained" in first["model_actions"].values()


def test_a_population_day_keeps_the_models_and_what_reads_only_them(builds):
    day, first = builds["day_one"], builds["first"]
    for name in KEPT:
        assert day["state"][name]["action"] == "kept", name
        assert f"lookalike: {name} kept: its inputs are unchanged" in day["log"], name
    # Their Python did not run; the models that read the population did.
    assert not (set(KEPT) & day["ran"]), day["ran"]
    assert {"lookalike_feature_importance", "int_lookalike__population_scores"} <= day["ran"]
    assert day["state"]["lookalike_feature_importance"]["action"] == "built"
    # The kept table is the first build's, so its rows still say 'trained' (the build that fitted them);
    # lookalike_runs reports this build's action: the models were reused.
    assert day["model_actions"] == first["model_actions"]
    assert day["derived"][MODELS] == first["derived"][MODELS]
    finished = {run: row for run, row in day["runs"].items() if row[0] == "FINISHED"}
    assert finished and {row[1] for row in finished.values()} == {"reused"}
    # The scores were carried in part (three users changed), the runs' scores were not all reused.
    assert {row[2] for row in finished.values()} == {"partly reused"}


def test_a_population_day_equals_a_forced_full_rebuild(builds):
    day, forced = builds["day_one"], builds["day_one_forced"]
    # The forced build refitted and rescored everything.
    assert set(PYTHON) <= forced["ran"]
    assert {row[1] for row in forced["runs"].values() if row[0] == "FINISHED"} == {"trained"}
    for name in DERIVED:
        assert day["derived"][name] == forced["derived"][name], name
    assert len(day["derived"]["lookalike_feature_importance"]) > 0
    # The population changed: prevalence_population differs from the first build somewhere.
    assert day["derived"]["lookalike_feature_importance"] != builds["first"]["derived"]["lookalike_feature_importance"]


def test_the_population_models_carry_every_run_of_a_kept_models_table(builds):
    day = builds["day_two"]
    assert not (set(KEPT) & day["ran"]), day["ran"]
    assert day["state"]["lookalike_feature_importance"]["action"] == "built"
    # Every run's rows came from the previous table (the planted importance_std survived); prevalence
    # and lift were computed again from this build's population.
    marker = builds["marker"]
    assert marker and all(n == planted for _, n, planted in marker), marker
