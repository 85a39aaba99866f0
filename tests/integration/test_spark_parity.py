"""The same package, the same inputs, two engines: DuckDB (dbt-duckdb) and a real local Spark
(dbt-spark ``method: session`` through ``lookalike-dbt``, ``--target spark``).

The hand-made fixture inputs (fixtures.py, with events) are built once with ``dbt build`` on
DuckDB and once on Spark, from Spark tables loaded with the same rows (the variables point at the
user's own tables on both). Every public table is then compared row for row:

- the point-in-time labels and training examples are identical;
- both engines train the same model from the same examples (same model_sha256), so the scores,
  metrics, deciles and cumulative rates are equal to 1e-9;
- the failed run ('few_negatives'), the undeclared run ('ghost') and every status message are the
  same: failure isolation and validation behave alike.

Run alone with ``python -m pytest -m spark``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import duckdb
import pytest

from conftest import REPO, dbt_bin, query, run_dbt
from integration import spark_io
from integration.fixtures import EVENT_VARS, FIXTURE_VARS, add_events, add_outcomes, build_fixture_db
from integration.parity import differences

# The README's test install has the spark extra and a Java runtime: a missing one fails, never skips.
try:
    import dbt.adapters.spark  # noqa: F401
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover
    pytest.fail(f"the Spark tests need the spark extra: pip install -e '.[test,spark]' ({exc})", pytrace=False)
if shutil.which("java") is None:  # pragma: no cover
    pytest.fail("the Spark tests need a Java 17+ runtime (Debian package openjdk-17-jre-headless)", pytrace=False)

pytestmark = [pytest.mark.spark, pytest.mark.integration]

#: The fixture with events, and a holdout share so that lookalike_audiences.is_holdout (an md5 and a
#: hex-to-integer step per engine, decision 0028) is compared across engines too; outcomes, half of
#: each run in the audience and intervals from 2 users, so that lookalike_audience_lift has real
#: groups and intervals on both engines (decision 0030).
PARITY_VARS = {
    **EVENT_VARS,
    "lookalike_audience_holdout_pct": 40,
    "lookalike_audience_top_pct": 50,
    "lookalike_outcomes": "inputs.outcomes",
    "lookalike_lift_min_group_users": 2,
}
INPUTS = ["inputs.snapshots", "inputs.labels", "inputs.runs", "inputs.events", "inputs.items", "inputs.outcomes"]
SCHEMA = "lookalike_parity"

#: Every public relation that holds rows on both engines. (lookalike_serving is off by default on
#: Spark, which has no serving file, decision 0016; tests/unit/test_spark_frames.py covers its
#: manifest on Spark.)
PUBLIC = [
    "lookalike_pit_labels",
    "lookalike_pit_features",
    "lookalike_input_label_summary",
    "lookalike_label_monthly",
    "lookalike_label_weight_counts",
    "lookalike_input_issues",
    "lookalike_run_metrics",
    "lookalike_run_deciles",
    "lookalike_run_cumulative_positive_rates",
    "lookalike_run_threshold_metrics",
    "lookalike_run_confusion_matrix",
    "lookalike_feature_info",
    "lookalike_run_training_log",
    "lookalike_user_scores",
    "lookalike_audiences",
    "lookalike_audience_lift",
    "lookalike_training_predictions",
    "lookalike_feature_importance",
    "lookalike_user_reasons",
    "lookalike_feature_drift",
    "lookalike_inference_features",
    "lookalike_runs",
    # The history relations (decision 0029): one build on each engine (build ids and times are
    # left out of the comparison, parity.CLOCK_COLUMNS).
    "lookalike_run_history",
    "lookalike_feature_drift_history",
    "lookalike_audience_history",
]
#: Kept by an unchanged rebuild: reports over lookalike_pit_labels only (config lookalike_keep).
LABEL_REPORTS = ["lookalike_input_label_summary", "lookalike_label_monthly", "lookalike_label_weight_counts"]
HISTORY = ["lookalike_run_history", "lookalike_feature_drift_history", "lookalike_audience_history"]
INTERNAL = ["int_lookalike__training_examples", "lookalike_run_models"]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """(duckdb file built by dbt-duckdb, duckdb file holding the Spark build's tables)."""
    work = tmp_path_factory.mktemp("spark_parity")
    duck = work / "duck.duckdb"
    build_fixture_db(duck)
    add_events(duck)
    add_outcomes(duck)
    proc = run_dbt(["build"], duck, work / "duck", vars=PARITY_VARS)
    assert "ERROR=0" in proc.stdout

    spark_dir = work / "spark"
    spark_io.run("load", spark_dir, duck, [t for t in INPUTS if t != "inputs.events"])
    # The events reach Spark as the README says inputs should (docs/spark.md "Loading your inputs"):
    # Parquet files registered as an external table by `lookalike_register_files`, not dbt seeds.
    events_files = work / "events_files"
    events_files.mkdir()
    with duckdb.connect(str(duck), read_only=True) as con:
        n_events = con.execute("select count(*) from inputs.events").fetchone()[0]
        con.execute(f"copy inputs.events to '{events_files}/part-0.parquet' (format parquet)")
    register = {"name": "inputs.events", "path": str(events_files), "format": "parquet"}
    proc = spark_io.lookalike_dbt(
        ["run-operation", "lookalike_register_files", "--args", json.dumps(register)], spark_dir, work / "reg", {}
    )
    assert f"lookalike: registered inputs.events over {events_files} (parquet, {n_events} rows)" in proc.stdout
    proc = spark_io.lookalike_dbt(["build"], spark_dir, work / "spark_run", PARITY_VARS)
    assert "ERROR=0" in proc.stdout, proc.stdout[-6000:]
    # Failed runs surface as a warning from the data test on both engines, not as a failed build.
    assert "WARN 2 assert_no_failed_runs" in proc.stdout

    copied = work / "spark.duckdb"
    spark_io.run("dump", spark_dir, copied, [f"{SCHEMA}.{t}" for t in PUBLIC + INTERNAL])
    # The plan of every SQL model, as compiled for this build, against its tables (no second build).
    plans = spark_io.explain(spark_dir, work / "plans.json", work / "spark_run" / "target" / "manifest.json", SCHEMA)
    return {"duck": duck, "spark": copied, "spark_dir": spark_dir, "work": work, "plans": plans}


def spark_name(table: str) -> str:
    return f"{SCHEMA}.{table}"


def test_point_in_time_labels_are_identical(engines):
    assert (
        differences(
            engines["duck"], engines["spark"], "lookalike_pit_labels", spark_name("lookalike_pit_labels"), tol=0.0
        )
        == []
    )
    # and they are the hand-worked answers, not two equal wrong ones
    rows = dict(
        query(
            engines["spark"],
            f"select user_id, snapshot_at from {spark_name('lookalike_pit_labels')} "
            "where run_id = 'pit' and user_id in ('0016', '0017', '0018', '0020')",
        )
    )
    import datetime as dt

    assert rows == {
        "0016": dt.datetime(2026, 2, 1),
        "0017": dt.datetime(2026, 2, 1),
        "0018": None,
        "0020": dt.datetime(2026, 1, 1),
    }


def test_training_examples_and_event_windows_are_identical(engines):
    assert (
        differences(
            engines["duck"],
            engines["spark"],
            "int_lookalike__training_examples",
            spark_name("int_lookalike__training_examples"),
        )
        == []
    )
    # user 0016's purchases: 30d window inclusive of exactly 30 days, the event at the label time excluded
    row = query(
        engines["spark"],
        f"select evt_purchase_cnt_30d, evt_purchase_cnt_90d, evt_purchase_value_90d "
        f"from {spark_name('int_lookalike__training_examples')} "
        "where run_id = 'pit' and user_id = '0016'",
    )
    assert row == [(2.0, 3.0, 35.0)]


def test_both_engines_train_the_same_model(engines):
    sql = "select run_id, model_status, model_sha256, feature_names from {} order by run_id"
    duck = query(engines["duck"], sql.format("lookalike_run_models"))
    spark = query(engines["spark"], sql.format(spark_name("lookalike_run_models")))
    assert duck == spark
    assert {r[0]: r[1] for r in duck} == {
        "few_negatives": "FAILED",
        "ghost": "FAILED",
        "pit": "TRAINED",
        "single": "TRAINED",
    }
    assert all(r[2] for r in duck if r[1] == "TRAINED")


@pytest.mark.parametrize("table", [t for t in PUBLIC if t != "lookalike_pit_labels"])
def test_public_tables_are_equal(engines, table):
    assert differences(engines["duck"], engines["spark"], table, spark_name(table)) == []


def test_scores_and_metrics_are_real(engines):
    # parity of two empty tables would prove nothing
    counts = dict(
        query(engines["spark"], f"select run_id, count(*) from {spark_name('lookalike_user_scores')} group by run_id")
    )
    assert counts == {"pit": 60, "single": 48}
    auc = query(
        engines["spark"],
        f"select auc from {spark_name('lookalike_run_metrics')} where run_id = 'pit' and split = 'test'",
    )
    assert auc and 0.5 < auc[0][0] <= 1.0


def test_lift_is_real_on_both_engines(engines):
    """Parity of two empty or all-null lift tables would prove nothing: the groups, conversions and
    intervals are there (the figures themselves are compared by test_public_tables_are_equal)."""
    rows = query(
        engines["spark"],
        f"select run_id, lift_group, n_users, n_converted_users, rate_difference_ci_low "
        f"from {spark_name('lookalike_audience_lift')} order by run_id, lift_group",
    )
    assert [(r[0], r[1]) for r in rows] == [
        (run, g) for run in ("pit", "single") for g in ("holdout", "rest", "target")
    ]
    pit = {r[1]: r for r in rows if r[0] == "pit"}
    assert sum(pit[g][2] for g in pit) == 60 and pit["holdout"][2] >= 2
    # 20 pit-only users (i % 3 == 0) and 15 every-run users (i % 4 == 0), 5 of them both
    assert sum(pit[g][3] for g in pit) == 30
    assert pit["holdout"][4] is not None and pit["rest"][4] is not None


# --- Plans that scale (issue 29, decision 0033) ------------------------------------------------

#: Physical operators of a join without an equality: every row of one side against every row of
#: the other (Spark's plan for a range join or a cross join).
NESTED_LOOP = ("BroadcastNestedLoopJoin", "CartesianProduct")

#: The models whose plan may hold one, and why its size is bounded by something other than users
#: times snapshots or events.
BOUNDED = {
    "int_lookalike__training_points": "runs given no negatives cross join the distinct users: the sampling "
    "frame of the unlabeled sample, one row per such run and user (a handful of runs)",
    "int_lookalike__run_fingerprints": "cross join with the population checksum, one row",
    "lookalike_runs": "cross join with the input issue counts, one row",
    "lookalike_feature_drift": "the population's long rows (at most 50,000 users x features, unpivoted by "
    "stack on Spark) cross join the trained runs (a handful), to bin them by each run's deciles",
    "lookalike_run_cumulative_positive_rates": "the ten fractions 0.1 ... 1.0 against the ranked test "
    "examples of each run (rows = 10 x examples, bounded by the labels and the unlabeled sample)",
    "lookalike_run_confusion_matrix": "each run's cut-offs (one row per split and cut-off) against the 2 x 2 "
    "actual / predicted labels, so every cell has a row",
    "lookalike_audience_lift": "the published audience builds of each run (one row each, after grouping) "
    "against the three group names target / holdout / rest, so every group has a row",
}


def nested_loops(plan: str) -> list[str]:
    physical = plan.split("== Physical Plan ==")[-1]
    return [op for op in NESTED_LOOP if op in physical]


def test_no_model_plans_an_unbounded_nested_loop_join(engines):
    """EXPLAIN of every SQL model of the Spark build: no BroadcastNestedLoopJoin or CartesianProduct
    outside BOUNDED, whose entries must each still hold one (a stale reason is a finding too)."""
    plans = dict(engines["plans"])
    # the check sees a nested loop where there is one: a range join without an equality
    assert nested_loops(plans.pop("__control__")) == ["BroadcastNestedLoopJoin"]
    assert {"lookalike_pit_labels", "int_lookalike__training_points", "lookalike_pit_features"} <= set(plans)
    assert len(plans) >= 25 and all("== Physical Plan ==" in p for p in plans.values())
    found = {model: nested_loops(plan) for model, plan in plans.items() if nested_loops(plan)}
    unexplained = {model: ops for model, ops in found.items() if model not in BOUNDED}
    assert unexplained == {}, "\n\n".join(f"{m}: {ops}\n{plans[m]}" for m, ops in unexplained.items())
    assert sorted(set(BOUNDED) - set(found)) == []
    # the population's event pass reads and shuffles the events once: its distinct counts are
    # size(collect_set(...)) on Spark, not count(distinct ...), which copies every row per count
    population = plans["lookalike_inference_features"].split("== Physical Plan ==")[-1]
    assert "collect_set" in population and "Expand" not in population
    # feature info and drift unpivot the features with one stack generator on Spark (issue 29, "the
    # fixed cost at S"), not a cross join with a union of one-row selects (one task per feature)
    for model in ("lookalike_feature_info", "lookalike_feature_drift"):
        physical = plans[model].split("== Physical Plan ==")[-1]
        assert "Generate stack(" in physical and "OneRowRelation" not in physical, model


def test_failure_isolation_and_messages_match(engines):
    sql = "select run_id, status, status_message from {} order by run_id"
    duck = query(engines["duck"], sql.format("lookalike_runs"))
    spark = query(engines["spark"], sql.format(spark_name("lookalike_runs")))
    assert duck == spark
    status = {r[0]: r[1] for r in spark}
    assert status["few_negatives"] == "FAILED" and status["pit"] == "FINISHED" and status["single"] == "FINISHED"
    message = {r[0]: r[2] for r in spark}["few_negatives"]
    assert "few_negatives" in message and "negative" in message


# --- Bad input: the same validation on both engines -------------------------------------------


@pytest.fixture(scope="module")
def bad_engines(tmp_path_factory):
    """The bad-input fixture of test_bad_input.py (text labels, unreadable values, bad settings,
    rows no run can use), built on both engines."""
    from integration.test_bad_input import write_bad_inputs

    work = tmp_path_factory.mktemp("spark_parity_bad")
    duck = work / "duck.duckdb"
    build_fixture_db(duck)
    write_bad_inputs(duck)
    with duckdb.connect(str(duck)) as con:
        con.execute("create table inputs.labels_no_user as select run_id, label from inputs.labels_text")
    vars = {**BAD_VARS}
    proc = run_dbt(["build"], duck, work / "duck", vars=vars)
    assert "WARN 3 assert_no_failed_runs" in proc.stdout

    spark_dir = work / "spark"
    spark_io.run(
        "load",
        spark_dir,
        duck,
        ["inputs.labels_text", "inputs.runs_settings", "inputs.snapshots_text", "inputs.labels_no_user"],
    )
    proc = spark_io.lookalike_dbt(["build"], spark_dir, work / "spark_run", vars)
    assert "WARN 3 assert_no_failed_runs" in proc.stdout and "WARN 3 assert_no_input_issues" in proc.stdout

    # A required column missing: the build stops naming the input, the earlier tables stay.
    missing = spark_io.lookalike_dbt(
        ["build"], spark_dir, work / "spark_run", {**vars, "lookalike_labels": "inputs.labels_no_user"}, check=False
    )
    copied = work / "spark.duckdb"
    spark_io.run(
        "dump",
        spark_dir,
        copied,
        [
            f"{SCHEMA}.{t}"
            for t in ("lookalike_runs", "lookalike_input_issues", "lookalike_pit_labels", "lookalike_user_scores")
        ],
    )
    return {"duck": duck, "spark": copied, "missing": missing}


BAD_VARS = {
    **FIXTURE_VARS,
    "lookalike_labels": "inputs.labels_text",
    "lookalike_runs": "inputs.runs_settings",
    "lookalike_user_snapshots": "inputs.snapshots_text",
}


@pytest.mark.parametrize(
    "table", ["lookalike_runs", "lookalike_input_issues", "lookalike_pit_labels", "lookalike_user_scores"]
)
def test_bad_input_is_reported_alike(bad_engines, table):
    # input_relation is the input's name as each adapter renders it ("db"."inputs"."labels_text" on
    # DuckDB, inputs.labels_text on Spark); every count, message and row must agree.
    assert (
        differences(bad_engines["duck"], bad_engines["spark"], table, spark_name(table), skip=("input_relation",)) == []
    )


def test_bad_input_statuses_on_spark(bad_engines):
    status = dict(query(bad_engines["spark"], f"select run_id, status from {spark_name('lookalike_runs')}"))
    assert status == {
        "ok": "FINISHED",
        "bad_type": "FAILED",
        "bad_fraction": "FAILED",
        "bad_rows": "FINISHED",
        "train_only": "FINISHED_TRAINING",
        "bad_setting": "FAILED",
    }
    message = dict(query(bad_engines["spark"], f"select run_id, status_message from {spark_name('lookalike_runs')}"))
    # Spark's try_cast reads the text labels, weights and times as DuckDB's does
    assert message["bad_rows"].startswith(
        "run 'bad_rows': 9 label(s) excluded (1 without user_id, 3 with a label other than 0 or 1, 4 with a "
        "weight that is not a finite number in (0, 1e9], 1 with an unreadable label_timestamp)"
    )
    assert message["bad_setting"].startswith(
        "run 'bad_setting': the runs input (var lookalike_runs) holds setting value(s) that cannot be read: "
        "pu_bags = 'twenty' (not an integer)."
    )


def test_missing_required_column_on_spark_names_the_input_and_keeps_the_tables(bad_engines):
    proc = bad_engines["missing"]
    assert proc.returncode != 0
    assert "lookalike: input 'lookalike_labels' (" in proc.stdout and "lacks required column(s) user_id" in proc.stdout
    # the tables of the good build are still there, with their rows
    assert query(bad_engines["spark"], f"select count(*) from {spark_name('lookalike_user_scores')}")[0][0] > 0


def test_an_unchanged_rebuild_keeps_the_tables_on_spark(engines):
    """The keep short cut (decision 0025) on Spark: the same inputs keep the SQL feature tables, the
    labels and the Python model lookalike_run_models as they are (no copy, no rebuild; the Python
    model's key has the library version lookalike-dbt passes), and the build state records it."""
    proc = spark_io.lookalike_dbt(
        ["run", "-s", "+lookalike_run_models", *LABEL_REPORTS],
        engines["spark_dir"],
        engines["work"] / "spark_rerun",
        PARITY_VARS,
    )
    kept = set(re.findall(r"lookalike: (\w+) kept: its inputs are unchanged", proc.stdout))
    assert kept == {
        *LABEL_REPORTS,
        "int_lookalike__runs",
        "int_lookalike__run_fingerprints",
        "int_lookalike__user_snapshots",
        "int_lookalike__inference_snapshots",
        "int_lookalike__event_series",
        "int_lookalike__training_points",
        "int_lookalike__training_examples",
        "lookalike_inference_features",
        "lookalike_pit_features",
        "lookalike_pit_labels",
        "lookalike_run_models",
    }, sorted(kept)
    assert "is built every time" not in proc.stdout


def test_a_leftover_new_table_is_dropped_before_the_model_is_built(engines):
    """lookalike_table builds `<model>__lookalike_new` and renames it into place; a build that
    stopped in between leaves it. The next build of that model drops it (dbt's relation cache says
    it is there; no `drop table if exists` runs for a model without one) and builds the model."""
    work = engines["work"] / "leftover"
    work.mkdir()
    leftover = work / "leftover.duckdb"
    with duckdb.connect(str(leftover)) as con:
        con.execute(f"create schema {SCHEMA}")
        con.execute(f"create table {SCHEMA}.lookalike_label_monthly__lookalike_new as select 1 as stray")
    spark_io.run("load", engines["spark_dir"], leftover, [f"{SCHEMA}.lookalike_label_monthly__lookalike_new"])
    before = query(engines["spark"], f"select * from {spark_name('lookalike_label_monthly')} order by all")
    proc = spark_io.lookalike_dbt(
        ["run", "-s", "lookalike_label_monthly", "lookalike_label_weight_counts", "--full-refresh"],
        engines["spark_dir"],
        work,
        PARITY_VARS,
    )
    # (the PASS count includes the on-run-start hooks)
    assert "ERROR=0" in proc.stdout, proc.stdout[-3000:]
    for model in ("lookalike_label_monthly", "lookalike_label_weight_counts"):
        assert f"OK created sql lookalike_table model {SCHEMA}.{model}" in proc.stdout, proc.stdout[-3000:]
    log = (work / "logs" / "dbt.log").read_text()
    drops = [d.replace("`", "").split(".")[-1] for d in re.findall(r"drop table if exists (\S+)", log)]
    assert [d for d in drops if d.endswith("__lookalike_new")] == ["lookalike_label_monthly__lookalike_new"], drops
    found = spark_io.tables(engines["spark_dir"], work / "tables.json")
    assert (SCHEMA, "lookalike_label_monthly__lookalike_new") not in found
    assert (SCHEMA, "lookalike_label_monthly") in found
    dumped = work / "dumped.duckdb"
    spark_io.run("dump", engines["spark_dir"], dumped, [f"{SCHEMA}.lookalike_label_monthly"])
    assert query(dumped, f"select * from {spark_name('lookalike_label_monthly')} order by all") == before


def test_plain_dbt_on_spark_stops_at_the_start_naming_lookalike_dbt(tmp_path):
    """The dbt habit (issue 29 part 3): `dbt build --target spark` stops in on-run-start with one line
    that names lookalike-dbt, instead of building the SQL models and failing every Python model with
    dbt-spark's "Databricks cluster_id is required"; nothing is built."""
    spark_dir = tmp_path / "spark"
    env = dict(
        os.environ,
        LOOKALIKE_SPARK_DIR=str(spark_dir),
        LOOKALIKE_SPARK_SCHEMA="plain_dbt",
        LOOKALIKE_SPARK_MASTER="local[1]",
        LOOKALIKE_SPARK_DRIVER_MEMORY="1g",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    env.pop("LOOKALIKE_DBT", None)
    cmd = [
        dbt_bin(),
        "build",
        "--target",
        "spark",
        "--project-dir",
        str(REPO),
        "--profiles-dir",
        str(REPO),
        "--log-path",
        str(tmp_path / "logs"),
        "--target-path",
        str(tmp_path / "target"),
        "--vars",
        json.dumps(FIXTURE_VARS),
    ]
    proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "lookalike: plain `dbt` cannot run this package's Python models on open-source Spark (target 'spark', "
        "no Databricks cluster or endpoint): dbt-spark submits Python models only to Databricks. Run `lookalike-dbt build "
        "--target spark` instead"
    ) in out, out[-3000:]
    assert "cluster_id" not in out
    schema_dir = spark_dir / "warehouse" / "plain_dbt.db"  # dbt creates the schema before the hooks run
    assert not schema_dir.exists() or not any(schema_dir.iterdir())  # but no table: no model ran


@pytest.fixture(scope="module")
def spark_history(engines):
    """A second Spark build of the history relations alone, after rows of an older build (a copy of
    the first build's rows, 100 days earlier, build id 'old') were added to each: the parquet
    retention rewrite (spark__lookalike_prune_history) must drop exactly those, and the append keep
    the first build's rows."""
    work = engines["work"]
    staged = work / "spark_history_in.duckdb"
    times = {"lookalike_run_history": "built_at", "lookalike_feature_drift_history": "built_at"}
    times["lookalike_audience_history"] = "published_at"
    with duckdb.connect(str(staged)) as con:
        con.execute(f"attach '{engines['spark']}' as dumped (read_only)")
        con.execute(f"create schema {SCHEMA}")
        for table, column in times.items():
            con.execute(
                f"create table {SCHEMA}.{table} as select * from dumped.{SCHEMA}.{table} union all "
                f"select * replace ('old' as build_id, {column} - interval 100 day as {column}) "
                f"from dumped.{SCHEMA}.{table}"
            )
    spark_io.run("load", engines["spark_dir"], staged, [spark_name(t) for t in HISTORY])
    proc = spark_io.lookalike_dbt(
        ["build", "-s", *HISTORY], engines["spark_dir"], work / "spark_history_run", PARITY_VARS
    )
    assert "ERROR=0" in proc.stdout, proc.stdout[-6000:]
    after = work / "spark_history_out.duckdb"
    spark_io.run("dump", engines["spark_dir"], after, [spark_name(t) for t in HISTORY])
    return {"first": engines["spark"], "after": after, "proc": proc}


def test_spark_history_retention_and_append(spark_history):
    first, after = spark_history["first"], spark_history["after"]
    first_build = query(first, f"select distinct build_id from {spark_name('lookalike_run_history')}")
    assert len(first_build) == 1
    for table in HISTORY:
        builds = dict(query(after, f"select build_id, count(*) from {spark_name(table)} group by build_id"))
        assert "old" not in builds, table  # the back-dated rows are gone
        assert len(builds) == 2 and builds[first_build[0][0]] > 0, (table, builds)
        before_rows = sorted(query(first, f"select * from {spark_name(table)}"), key=repr)
        kept = sorted(
            query(after, f"select * from {spark_name(table)} where build_id = ?", [first_build[0][0]]), key=repr
        )
        assert kept == before_rows, table  # the first build's rows, value for value
    # The second build logged the same audience again (lookalike_audiences was not rebuilt): no churn.
    rows = query(
        after,
        f"select run_id, n_audience_entered, n_audience_left, n_audience_stayed, n_previous_audience_users "
        f"from {spark_name('lookalike_run_history')} where build_id <> ? and audience_logged order by run_id",
        [first_build[0][0]],
    )
    sizes = dict(query(first, f"select run_id, count(*) from {spark_name('lookalike_audiences')} group by run_id"))
    assert rows == [(run, 0, 0, sizes[run], sizes[run]) for run in ("pit", "single")]
    assert "audience vs build" in spark_history["proc"].stdout
