"""The repository installed as a dbt package into a host project through `packages.yml` (local:).

The host gets the models and macros, no demo seeds, reads its own tables through the variables,
and can call the metric macros on its own relations. Its profile is named `lookalike`, like this
repository's own profile: the demo switch keys on the root project's name, not the profile's.
"""

from __future__ import annotations

import json
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
    ("a", "id1", 0.9, 1, 1.0),
    ("a", "id2", 0.8, 0, 1.0),
    ("a", "id3", 0.8, 1, 2.0),
    ("a", "id4", 0.3, 0, 1.0),
    ("a", "id5", 0.1, 0, 3.0),
    ("a", "id6", 0.3, 1, 1.0),
    ("b", "id7", 0.5, 1, 1.0),
    ("b", "id8", 0.4, 1, 1.0),  # one class only: AUC and KS are null
]


# Hand-made inputs of the health macro: one row per run, one or more checks firing per row.
HEALTH_COLUMNS = [
    "run_id",
    "status",
    "train_auc",
    "test_auc",
    "test_auc_corrected",
    "model_params",
    "n_positive_users",
    "n_input_labels",
    "n_matched_labels",
]
HEALTH_ROWS = [
    ("ok", "FINISHED", 0.85, 0.82, None, '{"model_type": "hgb"}', 200, 300, 290),  # no suspected_leakage key
    ("empty_leak", "FINISHED", 0.75, 0.72, None, '{"suspected_leakage": []}', 50, 100, 80),  # 20% unmatched: not more
    (
        "leak",
        "FINISHED",
        0.99,
        0.99,
        None,
        '{"suspected_leakage": [{"feature": "refund_flag", "auc": 0.995}, {"feature": "order_id", "auc": 0.99}]}',
        100,
        100,
        100,
    ),
    ("weak", "FINISHED", 0.62, 0.55, None, None, 30, 100, 70),
    ("overfit", "FINISHED", 0.95, 0.65, None, "{}", 80, 100, 100),
    ("pu_corrected", "FINISHED", 0.66, 0.58, 0.64, "{}", 80, 100, 100),
    ("failed", "FAILED", None, None, None, None, 5, 10, 0),
]


def write_host(root, repo):
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        textwrap.dedent("""
        name: host
        version: "1.0.0"
        config-version: 2
        profile: lookalike
        model-paths: ["models"]
    """)
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {repo}\n")
    # Named like this repository's own profile on purpose: a host profile called `lookalike` must not
    # turn the demo on.
    (root / "profiles.yml").write_text(
        textwrap.dedent("""
        lookalike:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('LOOKALIKE_DUCKDB_PATH') }}"
              threads: 2
    """)
    )
    # The fixture's input tables as a dbt source: the runs input is read as source:inputs.runs.
    (root / "models" / "sources.yml").write_text(
        textwrap.dedent("""
        sources:
          - name: inputs
            schema: inputs
            tables: [{name: runs}, {name: labels}, {name: snapshots}]
    """)
    )
    values = ",\n".join(f"('{g}', '{i}', {s}, {lab}, {w})" for g, i, s, lab, w in METRIC_ROWS)
    (root / "models" / "metric_rows.sql").write_text(
        f"select * from (values\n{values}\n) as t(grp, example_id, score, label, weight)\n"
    )
    (root / "models" / "metric_check.sql").write_text(
        "{{ lookalike.lookalike_binary_metrics(ref('metric_rows'), group_by=['grp']) }}\n"
    )
    (root / "models" / "cumulative_check.sql").write_text(
        "{{ lookalike.lookalike_cumulative_positive_rates(ref('metric_rows'), group_by=['grp']) }}\n"
    )
    (root / "models" / "threshold_check.sql").write_text(
        "{{ lookalike.lookalike_threshold_metrics(ref('metric_rows'), group_by=['grp'], top_pct=10) }}\n"
    )
    values = ",\n".join(
        "(" + ", ".join("null" if v is None else repr(v) if isinstance(v, str) else str(v) for v in row) + ")"
        for row in HEALTH_ROWS
    )
    (root / "models" / "health_rows.sql").write_text(
        f"select * from (values\n{values}\n) as t({', '.join(HEALTH_COLUMNS)})\n"
    )
    (root / "models" / "health_check.sql").write_text("{{ lookalike.lookalike_run_health(ref('health_rows')) }}\n")
    # The host's own relation of new users (id column customer_id), scored by its own SQL model with
    # the package's compiled SQL: no Python at query time.
    (root / "models" / "new_users.sql").write_text(
        "select user_id as customer_id, * exclude (user_id), 'x' as unrelated "
        "from {{ ref('lookalike', 'lookalike_inference_features') }}\n"
    )
    (root / "models" / "new_user_scores.sql").write_text(
        "select 'pit' as run_id, * from ({{ lookalike.score('pit', ref('new_users'), id_column='customer_id') }}) as s\n"
        "union all\n"
        "select 'single' as run_id, * from ({{ lookalike.score('single', ref('new_users'), id_column='customer_id') }}) as s\n"
    )


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
    vars["lookalike_runs"] = "source:inputs.runs"
    proc = run_dbt(["build"], db_path, work, vars=vars, project_dir=root, profiles_dir=root)
    assert "ERROR=0" in proc.stdout
    return db_path


def test_source_input_is_a_parent_of_the_staging_model(built, host):
    work = host[2]
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    assert manifest["parent_map"]["model.lookalike.stg_lookalike__runs"] == ["source.host.inputs.runs"]


def test_host_gets_models_but_no_demo(built):
    tables = {t for (t,) in query(built, "select table_name from information_schema.tables")}
    assert {"lookalike_runs", "lookalike_user_scores", "lookalike_pit_labels", "lookalike_run_deciles"} <= tables
    assert not {t for t in tables if t.startswith("lookalike_demo")}
    # BI serving is off by default in a host project (var lookalike_serving, decision 0014).
    assert "lookalike_serving" not in tables and not (built.parent / "serving").exists()
    statuses = dict(query(built, "select run_id, status from lookalike_runs"))
    assert statuses == {"pit": "FINISHED", "single": "FINISHED", "few_negatives": "FAILED", "ghost": "FAILED"}


def test_host_can_turn_the_demo_seeds_on(host):
    root, db_path, work = host
    proc = run_dbt(
        ["ls", "--resource-type", "seed", "--output", "name"],
        db_path,
        work,
        vars={"lookalike_demo": True},
        project_dir=root,
        profiles_dir=root,
    )
    assert {line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("lookalike_demo_")} == {
        "lookalike_demo_user_snapshots",
        "lookalike_demo_labels",
        "lookalike_demo_runs",
        "lookalike_demo_events",
        "lookalike_demo_items",
    }


def test_host_sql_model_scores_its_own_relation_with_lookalike_score(built):
    """lookalike.score in a host model: the same scores as the package's population scoring, to 1e-9;
    the id column comes back under its own name (customer_id), not as user_id (issue 25)."""
    columns = [
        c
        for (c,) in query(
            built,
            "select column_name from information_schema.columns "
            "where table_name = 'new_user_scores' order by ordinal_position",
        )
    ]
    assert columns == ["run_id", "customer_id", "score"]
    for run_id in ("pit", "single"):
        got = dict(query(built, f"select customer_id, score from new_user_scores where run_id = '{run_id}'"))
        expected = dict(
            query(built, f"select user_id, score from int_lookalike__population_scores where run_id = '{run_id}'")
        )
        assert len(got) == 60 and got.keys() == expected.keys()
        np.testing.assert_allclose([got[u] for u in sorted(got)], [expected[u] for u in sorted(got)], rtol=0, atol=1e-9)


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
    got = {
        (d, f): (n, r)
        for d, f, n, r in query(
            built, "select direction, fraction, n_users, positive_rate from cumulative_check where grp = 'a'"
        )
    }
    # Descending (score desc, id asc): id1, id2, id3, id4, id6, id5. Ascending: id5, id4, id6, id2, id3, id1.
    assert got[("descending", 0.1)] == (1, 1.0)
    assert got[("descending", 0.5)] == (3, pytest.approx(3 / 4))
    assert got[("descending", 1.0)] == (6, pytest.approx(4 / 9))
    assert got[("ascending", 0.5)] == (3, pytest.approx(1 / 5))
    assert got[("ascending", 1.0)] == (6, pytest.approx(4 / 9))


def test_unset_input_variable_fails_with_the_fix(host):
    root, db_path, work = host
    vars = {k: v for k, v in FIXTURE_VARS.items() if k not in ("lookalike_demo", "lookalike_labels")}
    proc = run_dbt(
        ["build", "--select", "lookalike"], db_path, work, vars=vars, project_dir=root, profiles_dir=root, check=False
    )
    assert proc.returncode != 0
    # The other two required inputs are set: the inputs are a set, so the message names both sides.
    assert (
        "lookalike: variable 'lookalike_labels' is not set, but lookalike_user_snapshots and lookalike_runs are set. "
        "Your own inputs are read as a set and never mixed with the demo's: set lookalike_labels too"
    ) in " ".join(proc.stdout.split())


def test_missing_input_table_fails_with_the_fix(host):
    root, db_path, work = host
    vars = {**FIXTURE_VARS, "lookalike_runs": "inputs.no_such_runs"}
    proc = run_dbt(
        ["build", "--select", "lookalike"], db_path, work, vars=vars, project_dir=root, profiles_dir=root, check=False
    )
    assert proc.returncode != 0
    assert "lookalike: variable 'lookalike_runs' points at" in proc.stdout and "which does not exist" in proc.stdout


def test_threshold_macro_on_hand_made_rows(built):
    got = {(r["grp"], r["cutoff"]): r for r in query_dicts(built, "select * from threshold_check")}
    assert set(got) == {("a", "max_ks"), ("a", "top_pct"), ("b", "top_pct")}  # b has one class: no KS cutoff
    # Group a: KS is largest at score >= 0.3 (TPR 1, FPR 2/5): TP 1+2+1, FP 1+1, TN 3, FN 0 (weights).
    ks = got[("a", "max_ks")]
    assert (ks["threshold"], ks["true_positive"], ks["false_positive"], ks["true_negative"], ks["false_negative"]) == (
        0.3,
        4,
        2,
        3,
        0,
    )
    assert ks["n_predicted_positive"] == 5 and ks["top_pct"] is None  # id1, id2, id3, id4, id6
    assert (
        ks["precision_positive"] == pytest.approx(4 / 6)
        and ks["recall_positive"] == 1.0
        and ks["f1_positive"] == pytest.approx(0.8)
    )
    assert (
        ks["precision_negative"] == 1.0
        and ks["recall_negative"] == pytest.approx(0.6)
        and ks["f1_negative"] == pytest.approx(0.75)
    )
    # Top 10% of 6 rows = the first row (ceil(0.6) = 1): threshold 0.9.
    top = got[("a", "top_pct")]
    assert (
        top["threshold"],
        top["top_pct"],
        top["true_positive"],
        top["false_positive"],
        top["true_negative"],
        top["false_negative"],
    ) == (0.9, 10.0, 1, 0, 5, 3)
    assert top["f1_positive"] == pytest.approx(0.4) and top["f1_negative"] == pytest.approx(10 / 13)
    # Group b (positives only): nothing is predicted negative, so recall_negative is undefined (null).
    b = got[("b", "top_pct")]
    assert (b["threshold"], b["true_positive"], b["false_negative"]) == (0.5, 1, 1)
    assert b["precision_negative"] == 0.0 and b["recall_negative"] is None and b["f1_negative"] == 0.0


def test_health_macro_on_hand_made_rows(built):
    got = {r["run_id"]: r for r in query_dicts(built, "select * from health_check")}
    assert {k: (v["health"], v["quality_band"]) for k, v in got.items()} == {
        # Leakage and FAILED make a run unhealthy and leave it ungraded; the other checks warn.
        "ok": ("healthy", "Excellent"),
        "empty_leak": ("healthy", "Good"),
        "leak": ("unhealthy", None),
        "weak": ("warning", "Poor"),
        "overfit": ("warning", "Fair"),
        "pu_corrected": ("healthy", "Fair"),
        "failed": ("unhealthy", None),
    }
    assert got["ok"]["health_messages"] is None and got["pu_corrected"]["health_messages"] is None
    assert got["leak"]["health_messages"] == (
        "run 'leak': suspected label leakage: refund_flag, order_id alone separate(s) the classes almost perfectly. "
        "Exclude such features (var lookalike_feature_exclude) unless they are known before the label."
    )
    weak = got["weak"]["health_messages"].split(" | ")
    assert len(weak) == 3
    assert weak[0].startswith(
        "run 'weak': only 30 distinct positive users (fewer than 50, var lookalike_health_min_positive_users)"
    )
    assert weak[1].startswith("run 'weak': test AUC 0.55 is near 0.5 (below 0.6, var lookalike_health_min_test_auc)")
    assert weak[2].startswith("run 'weak': 30 of 100 input labels (30.0%) matched no snapshot (more than 20.0%")
    assert got["overfit"]["health_messages"].startswith(
        "run 'overfit': train AUC 0.95 exceeds test AUC 0.65 by 0.3 (more than 0.1, var lookalike_health_max_auc_gap)"
    )
    failed = got["failed"]["health_messages"].split(" | ")
    assert [m.split(":")[1].strip()[:12] for m in failed] == ["the run FAIL", "only 5 disti", "10 of 10 inp"]


def test_host_runs_carry_health(built):
    runs = {
        r["run_id"]: r
        for r in query_dicts(built, "select run_id, health, health_messages, quality_band from lookalike_runs")
    }
    assert runs["few_negatives"]["health"] == "unhealthy" and runs["few_negatives"]["quality_band"] is None
    assert "the run FAILED" in runs["few_negatives"]["health_messages"]
    assert "run 'single': only 12 distinct positive users" in runs["single"]["health_messages"]
