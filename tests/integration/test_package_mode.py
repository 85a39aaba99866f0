"""The repository installed as a dbt package into a host project through `packages.yml` (local:).

The host gets the models and macros, no demo seeds, reads its own tables through the variables,
and can call the metric macros on its own relations.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from conftest import REPO, query, query_dicts, run_dbt
from integration.fixtures import FIXTURE_VARS, build_fixture_db

pytestmark = pytest.mark.integration

# Hand-made rows for the metric macros: ties across classes and weights.
# Group 'a' by hand: weighted AUC = 17.5 / 20 = 0.875; KS = 0.6 (at score >= 0.3: TPR 1, FPR 2/5).
METRIC_ROWS = [
    ("a", "id1", 0.9, 1, 1.0), ("a", "id2", 0.8, 0, 1.0), ("a", "id3", 0.8, 1, 2.0),
    ("a", "id4", 0.3, 0, 1.0), ("a", "id5", 0.1, 0, 3.0), ("a", "id6", 0.3, 1, 1.0),
    ("b", "id7", 0.5, 1, 1.0), ("b", "id8", 0.4, 1, 1.0),  # one class only: AUC and KS are null
]


def write_host(root, repo):
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(textwrap.dedent("""
        name: host
        version: "1.0.0"
        config-version: 2
        profile: host
        model-paths: ["models"]
    """))
    (root / "packages.yml").write_text(f"packages:\n  - local: {repo}\n")
    (root / "profiles.yml").write_text(textwrap.dedent("""
        host:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('LOOKALIKE_DUCKDB_PATH') }}"
              threads: 2
    """))
    values = ",\n".join(f"('{g}', '{i}', {s}, {l}, {w})" for g, i, s, l, w in METRIC_ROWS)
    (root / "models" / "metric_rows.sql").write_text(
        f"select * from (values\n{values}\n) as t(grp, example_id, score, label, weight)\n")
    (root / "models" / "metric_check.sql").write_text(
        "{{ lookalike.lookalike_binary_metrics(ref('metric_rows'), group_by=['grp']) }}\n")
    (root / "models" / "cumulative_check.sql").write_text(
        "{{ lookalike.lookalike_cumulative_positive_rates(ref('metric_rows'), group_by=['grp']) }}\n")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    work = tmp_path_factory.mktemp("package_mode")
    root = work / "host"
    write_host(root, REPO)
    db_path = work / "host.duckdb"
    build_fixture_db(db_path)
    run_dbt(["deps"], db_path, work, project_dir=root, profiles_dir=root)
    return root, db_path, work


@pytest.fixture(scope="module")
def built(host):
    root, db_path, work = host
    vars = {k: v for k, v in FIXTURE_VARS.items() if k != "lookalike_demo"}  # the host leaves the demo unset
    proc = run_dbt(["build"], db_path, work, vars=vars, project_dir=root, profiles_dir=root)
    assert "ERROR=0" in proc.stdout
    return db_path


def test_host_gets_models_but_no_demo(built):
    tables = {t for (t,) in query(built, "select table_name from information_schema.tables")}
    assert {"lookalike_runs", "lookalike_user_scores", "lookalike_pit_labels", "lookalike_run_deciles"} <= tables
    assert not {t for t in tables if t.startswith("lookalike_demo")}
    statuses = dict(query(built, "select run_id, status from lookalike_runs"))
    assert statuses == {"pit": "FINISHED", "single": "FINISHED", "few_negatives": "FAILED", "ghost": "FAILED"}


def test_metric_macro_on_hand_made_rows(built):
    rows = {r["grp"]: r for r in query_dicts(built, "select * from metric_check")}
    assert rows["a"]["auc"] == pytest.approx(0.875, abs=1e-12)
    assert rows["a"]["ks"] == pytest.approx(0.6, abs=1e-12)
    assert rows["a"]["sum_weight"] == 9.0 and rows["a"]["n_positive"] == 3
    assert rows["b"]["auc"] is None and rows["b"]["ks"] is None
    a = [r for r in METRIC_ROWS if r[0] == "a"]
    y, s, w = np.array([r[3] for r in a]), np.array([r[2] for r in a]), np.array([r[4] for r in a])
    fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
    assert rows["a"]["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-9)
    assert rows["a"]["ks"] == pytest.approx(np.max(tpr - fpr), abs=1e-9)


def test_cumulative_macro_on_hand_made_rows(built):
    got = {(d, f): (n, r) for d, f, n, r in query(
        built, "select direction, fraction, n_users, positive_rate from cumulative_check where grp = 'a'")}
    # Descending (score desc, id asc): id1, id2, id3, id4, id6, id5. Ascending: id5, id4, id6, id2, id3, id1.
    assert got[("descending", 0.1)] == (1, 1.0)
    assert got[("descending", 0.5)] == (3, pytest.approx(3 / 4))
    assert got[("descending", 1.0)] == (6, pytest.approx(4 / 9))
    assert got[("ascending", 0.5)] == (3, pytest.approx(1 / 5))
    assert got[("ascending", 1.0)] == (6, pytest.approx(4 / 9))


def test_unset_input_variable_fails_with_the_fix(host):
    root, db_path, work = host
    vars = {k: v for k, v in FIXTURE_VARS.items() if k not in ("lookalike_demo", "lookalike_labels")}
    proc = run_dbt(["build", "--select", "lookalike"], db_path, work, vars=vars, project_dir=root,
                   profiles_dir=root, check=False)
    assert proc.returncode != 0
    assert "lookalike: variable 'lookalike_labels' is not set" in proc.stdout
    assert "--vars '{lookalike_labels: my_schema.my_table}'" in proc.stdout


def test_missing_input_table_fails_with_the_fix(host):
    root, db_path, work = host
    vars = {**FIXTURE_VARS, "lookalike_runs": "inputs.no_such_runs"}
    proc = run_dbt(["build", "--select", "lookalike"], db_path, work, vars=vars, project_dir=root,
                   profiles_dir=root, check=False)
    assert proc.returncode != 0
    assert "lookalike: variable 'lookalike_runs' points at" in proc.stdout and "which does not exist" in proc.stdout
