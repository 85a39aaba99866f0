"""The dbt entry points on Spark DataFrames (dbt-spark's dbt.ref) against a real local SparkSession:
each returns a Spark DataFrame whose rows equal the Arrow / DuckDB path's rows on the same inputs.

Population scoring runs on the executors: ``engine="python"`` with ``mapInArrow``, ``engine="sql"``
with the model compiled for Spark SQL. Both score the edge rows of the SQL parity tests (nulls,
NaN, +/-inf, values on split thresholds, unseen categories, decimals, an odd column name) like the
Python scorer, to 1e-9.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

# The README's test install has the spark extra and a Java runtime: a missing one fails, never skips.
try:
    import dbt.adapters.spark  # noqa: F401
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover
    pytest.fail(f"the Spark tests need the spark extra: pip install -e '.[test,spark]' ({exc})", pytrace=False)
if shutil.which("java") is None:  # pragma: no cover
    pytest.fail("the Spark tests need a Java 17+ runtime (Debian package openjdk-17-jre-headless)", pytrace=False)

from lookalike_udf import dbt_models, frames, quality, reuse, serving  # noqa: E402
from spark_session import spark  # noqa: E402, F401 - the shared SparkSession fixture
from sql_parity import scoring_rows, training_examples  # noqa: E402

pytestmark = pytest.mark.spark

#: Columns that hold the time of the call: they differ between two calls on any engine.
CLOCKS = {"training_started_at", "training_finished_at", "scored_at", "compiled_at", "published_at"}


# --- Inputs: three runs (hgb, bagging PU, one whose feature the population lacks) -------------

RUNS = {
    "hgb": dict(model_type="hgb"),
    "bag": dict(model_type="hgb", pu_method="bagging", pu_bags=2),
    "bad": dict(model_type="hgb"),
}
#: Examples per run: under 200 training rows an hgb model has 100 trees (no early stopping), which
#: keeps Spark's planning of the compiled SQL short (bench/SPARK_SCORING.md).
N_EXAMPLES = 220


def _run_examples() -> pa.Table:
    parts = []
    for k, rid in enumerate(RUNS):
        t = training_examples(n=N_EXAMPLES, seed=k, negatives=rid != "bag", run_id=rid)
        extra = np.random.default_rng(k).normal(size=t.num_rows) + (t.column("label").to_numpy() if rid == "bad" else 0)
        parts.append(t.append_column("extra", pa.array(extra if rid == "bad" else [None] * t.num_rows, pa.float64())))
    return pa.concat_tables(parts)


def _runs() -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "run_id": rid,
                "is_declared": True,
                "n_declared": 1,
                "engagement_type": "MULTI_ENGAGE",
                "min_seed_users": 10,
                "test_fraction": 0.2,
                "unlabeled_sample_size": 5000,
                "random_seed": 7,
                "build_only": False,
                "model_type": kw["model_type"],
                "pu_method": kw.get("pu_method", "plain"),
                "pu_bags": kw.get("pu_bags", 10),
            }
            for rid, kw in RUNS.items()
        ]
    )


def _summary(examples: pa.Table) -> pa.Table:
    rows = []
    for rid in RUNS:
        t = examples.filter(pc.equal(examples.column("run_id"), rid))
        y = t.column("label").to_numpy()
        n_pos, n_neg = int(y.sum()), int((y == 0).sum()) if rid != "bag" else 0
        rows.append(
            {
                "run_id": rid,
                "n_input_labels": n_pos + n_neg,
                "n_positive_users": n_pos,
                "n_negative_users": n_neg,
                "n_positive_labels": n_pos,
                "n_negative_labels": n_neg,
                "n_matched_labels": n_pos + n_neg,
                "n_matched_positive_labels": n_pos,
                "n_matched_negative_labels": n_neg,
            }
        )
    return pa.Table.from_pylist(rows)


def _fingerprints() -> pa.Table:
    return pa.table(
        {
            "run_id": list(RUNS),
            "training_checksum": [f"t-{r}" for r in RUNS],
            "population_checksum": [f"p-{r}" for r in RUNS],
        }
    )


@pytest.fixture(scope="module")
def inputs():
    examples = _run_examples()
    runs, summary, fingerprints = _runs(), _summary(examples), _fingerprints()
    models = dbt_models.train_models(runs, summary, examples, fingerprints=fingerprints)
    assert models.column("model_status").to_pylist() == ["TRAINED"] * 3, models.column("status_message").to_pylist()
    hgb = models.filter(pc.equal(models.column("run_id"), "hgb")).column("model_json")[0].as_py()
    edge = scoring_rows(hgb, n_random=200)
    population = edge.append_column("user_id", pc.cast(edge.column("row_id"), pa.string())).drop_columns(["row_id"])
    # A run whose stored model was edited after training: it fails verification before scoring.
    tampered = models.filter(pc.equal(models.column("run_id"), "hgb")).to_pylist()[0]
    tampered.update(run_id="tampered", model_json=tampered["model_json"].replace('"value":[', '"value":[0.5,', 1))
    with_tampered = pa.concat_tables([models, pa.Table.from_pylist([tampered], schema=models.schema)])
    return {
        "examples": examples,
        "runs": runs,
        "summary": summary,
        "fingerprints": fingerprints,
        "models": models,
        "models_tampered": with_tampered,
        "population": population,
    }


def _spark(spark, table: pa.Table):
    return frames.to_spark(spark, table)


def _rows(result, drop=CLOCKS, key=("run_id",)) -> list[dict]:
    """Rows of an Arrow table / stream or a Spark DataFrame as plain dicts, without the clock
    columns, sorted by ``key``."""
    if frames.is_spark(result):
        table = frames.to_arrow(result)
    elif isinstance(result, pa.RecordBatchReader):
        table = result.read_all()
    else:
        table = result
    table = pa.table(
        {
            f.name: (
                table.column(f.name).cast(f.type.value_type) if pa.types.is_dictionary(f.type) else table.column(f.name)
            )
            for f in table.schema
            if f.name not in drop
        }
    )
    return sorted(table.to_pylist(), key=lambda r: tuple("" if r[k] is None else str(r[k]) for k in key))


def _assert_rows_close(got: list[dict], expected: list[dict], atol: float = 1e-9):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.keys() == e.keys()
        for name in e:
            if isinstance(e[name], float) and isinstance(g[name], float):
                assert (math.isnan(e[name]) and math.isnan(g[name])) or abs(g[name] - e[name]) <= atol, (name, g, e)
            else:
                assert g[name] == e[name], (name, g, e)


# --- Tests -------------------------------------------------------------------------------------


def test_the_spark_extra_installs_a_pandas_pyspark_supports(spark):
    """pyspark 4.0-4.3 warns on every pandas conversion under pandas >= 3; the spark extra pins
    pandas below 3, so the package's own pins give no version warning (issue 29)."""
    import warnings

    import pandas as pd
    from pyspark.sql.pandas.utils import require_minimum_pandas_version

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        require_minimum_pandas_version()
        back = spark.createDataFrame(pd.DataFrame({"a": [1, 2]})).toPandas()
    assert back["a"].tolist() == [1, 2]
    assert [str(w.message) for w in caught if "pandas" in str(w.message).lower()] == []


def test_frames_roundtrip_keeps_types_and_empty_schemas(spark):
    table = pa.table(
        {
            "run_id": pa.array(["a", "b"]).dictionary_encode(),
            "n": pa.array([1, None], pa.int64()),
            "at": pa.array([np.datetime64("2024-01-01T12:00:00", "us")] * 2, pa.timestamp("us")),
        }
    )
    df = frames.to_output(table, like=(_spark(spark, table.slice(0, 0)),))
    assert frames.is_spark(df) and not frames.is_spark(table)
    back = frames.to_arrow(df)
    assert back.schema == pa.schema([("run_id", pa.string()), ("n", pa.int64()), ("at", pa.timestamp("us"))])
    assert back.to_pylist() == table.cast(back.schema).to_pylist()  # 12:00 UTC stays 12:00
    empty = frames.to_output(table.slice(0, 0), like=df)
    assert empty.count() == 0 and [f.name for f in empty.schema.fields] == ["run_id", "n", "at"]
    assert frames.to_output(table, like=(table,)) is table


def test_train_and_predict_on_spark_equal_the_arrow_path(spark, inputs):
    names = ("runs", "summary", "examples", "fingerprints")
    df = dbt_models.train_models(
        *(_spark(spark, inputs[n]) for n in names[:3]), fingerprints=_spark(spark, inputs["fingerprints"])
    )
    assert frames.is_spark(df)
    assert _rows(df) == _rows(inputs["models"])  # same model JSON to the byte
    preds = dbt_models.predict_training_examples(df, _spark(spark, inputs["examples"]))
    assert frames.is_spark(preds)
    expected = dbt_models.predict_training_examples(inputs["models"], inputs["examples"])
    assert _rows(preds, key=("run_id", "example_id")) == _rows(expected, key=("run_id", "example_id"))


@pytest.mark.parametrize("engine", ["python", "sql"])
def test_population_scores_on_spark_equal_the_duckdb_path(spark, inputs, engine):
    models, population = inputs["models_tampered"], inputs["population"]
    kwargs = dict(runs=inputs["runs"], fingerprints=inputs["fingerprints"], engine=engine)
    got = dbt_models.score_population(_spark(spark, models), _spark(spark, population), **kwargs)
    assert frames.is_spark(got)
    assert [(f.name, f.dataType.simpleString()) for f in got.schema.fields] == [
        ("run_id", "string"),
        ("user_id", "string"),
        ("score", "double"),
        ("scored_at", "timestamp"),
        ("score_fingerprint", "string"),
        ("scoring_action", "string"),
        ("scoring_message", "string"),
    ]
    got_rows = _rows(got, key=("run_id", "user_id"))
    # The reference: the Python scorer on Arrow (DuckDB's own SQL engine is compared in test_sql_compile).
    # Spark writes no scorer_fingerprint / feature_hash (it rescores a changed run whole, decision 0036).
    expected = _rows(
        dbt_models.score_population(models, population, **{**kwargs, "engine": "python"}),
        drop=CLOCKS | {"scorer_fingerprint", "feature_hash"},
        key=("run_id", "user_id"),
    )
    scored = [r for r in expected if r["scoring_action"] == "scored"]
    assert {r["run_id"] for r in scored} == {"hgb", "bag"} and len(scored) == 2 * population.num_rows
    _assert_rows_close([r for r in got_rows if r["scoring_action"] == "scored"], scored)
    markers = {r["run_id"]: r for r in got_rows if r["scoring_action"] == "failed"}
    assert set(markers) == {"bad", "tampered"}  # each run fails alone, the others are scored
    assert all(r["user_id"] is None and r["score"] is None for r in markers.values())
    expected_markers = {r["run_id"]: r for r in expected if r["scoring_action"] == "failed"}
    assert markers["tampered"] == expected_markers["tampered"]
    if engine == "python":
        assert markers["bad"] == expected_markers["bad"]
    else:
        assert markers["bad"]["scoring_message"].startswith(
            "run 'bad': scoring failed (lookalike_scoring_engine: sql): "
        )
        assert "extra" in markers["bad"]["scoring_message"] and "\n" not in markers["bad"]["scoring_message"]


def test_reused_scores_and_models_overwrite_their_own_table(spark, inputs):
    """dbt-spark writes the result over the table previous_table read: Spark refuses that while the
    result still reads the table, so what is carried over must be materialised first."""

    class This:
        database, schema, identifier = "None", "default", "scores_reuse"

    class ModelsThis:
        database, schema, identifier = "None", "default", "models_reuse"

    assert reuse.previous_table(spark, This()) is None  # first build
    models_df, population = _spark(spark, inputs["models"]), _spark(spark, inputs["population"])
    kwargs = dict(runs=_spark(spark, inputs["runs"]), fingerprints=_spark(spark, inputs["fingerprints"]))
    first = dbt_models.score_population(models_df, population, **kwargs)
    first.write.mode("overwrite").format("parquet").saveAsTable("default.scores_reuse")
    previous = reuse.previous_table(spark, This())
    assert frames.is_spark(previous) and previous.count() == 2 * inputs["population"].num_rows + 1
    for engine in ("python", "sql"):
        again = dbt_models.score_population(
            models_df, population, previous=reuse.previous_table(spark, This()), engine=engine, **kwargs
        )
        again.write.mode("overwrite").format("parquet").saveAsTable("default.scores_reuse")
        actions = {
            (r["run_id"], r["scoring_action"]): r["n"]
            for r in spark.sql(
                "select run_id, scoring_action, count(*) as n from default.scores_reuse group by 1, 2"
            ).collect()
        }
        n = inputs["population"].num_rows
        assert actions == {("hgb", "reused"): n, ("bag", "reused"): n, ("bad", "failed"): 1}, engine
    # Models: the second build reuses every model and is written over the first.
    runs, summary, examples = (_spark(spark, inputs[n]) for n in ("runs", "summary", "examples"))
    dbt_models.train_models(runs, summary, examples, fingerprints=kwargs["fingerprints"]).write.mode(
        "overwrite"
    ).format("parquet").saveAsTable("default.models_reuse")
    again = dbt_models.train_models(
        runs, summary, examples, fingerprints=kwargs["fingerprints"], previous=reuse.previous_table(spark, ModelsThis())
    )
    again.write.mode("overwrite").format("parquet").saveAsTable("default.models_reuse")
    rows = spark.table("default.models_reuse").toArrow()
    assert rows.column("training_action").to_pylist() == ["reused"] * 3


def test_previous_table_on_spark(spark):
    class This:  # what dbt-spark's compiled Python model defines (py_script_postfix)
        database = "None"
        schema = "default"
        identifier = "never_built"

        def __repr__(self):
            return "`default`.`never_built`"

    assert reuse.previous_table(spark, This()) is None
    This.schema = "no_such_schema"
    assert reuse.previous_table(spark, This()) is None
    assert reuse.spark_relation_name(This()) == "`no_such_schema`.`never_built`"
    This.schema, This.identifier = "default", "built"
    spark.createDataFrame([("r",)], "run_id string").write.mode("overwrite").format("parquet").saveAsTable(
        "default.built"
    )
    assert [r.run_id for r in reuse.previous_table(spark, This()).collect()] == ["r"]


def test_scoring_sql_and_feature_report_on_spark_equal_the_arrow_path(spark, inputs):
    models = inputs["models_tampered"]
    got = dbt_models.scoring_sql(_spark(spark, models), dialects=["spark"])
    assert frames.is_spark(got)
    assert _rows(got, key=("run_id", "dialect")) == _rows(
        dbt_models.scoring_sql(models, dialects=["spark"]), key=("run_id", "dialect")
    )
    args = (inputs["models"], inputs["examples"], inputs["population"])
    report = quality.feature_report(*(_spark(spark, a) for a in args), runs=_spark(spark, inputs["runs"]))
    assert frames.is_spark(report)
    expected = _rows(quality.feature_report(*args, runs=inputs["runs"]), key=("run_id", "feature"))
    got_rows = _rows(report, key=("run_id", "feature"))
    _assert_rows_close(got_rows, expected)
    assert {r["feature"] for r in got_rows if r["run_id"] == "bad"} >= {"extra"}
    # NaN in `signal` makes its mean NaN (null) on both engines; the other features have one.
    # NaN in `signal` and the odd column makes their means NaN (null) on both engines.
    assert all(
        r["prevalence_population"] is not None for r in got_rows if r["feature"] in ("amount", "flag", "tier", "visits")
    )


def test_user_reasons_on_spark_equal_the_arrow_path(spark, inputs):
    population = inputs["population"].slice(0, 120)
    parts = []
    for rid in ("hgb", "bag", "bad"):
        n = population.num_rows
        parts.append(
            population.append_column("run_id", pa.array([rid] * n))
            .append_column("audience_score", pa.array(np.linspace(1, 0, n)))
            .append_column("audience_score_rank", pa.array(np.arange(1, n + 1), pa.int64()))
        )
    audience = pa.concat_tables(parts)
    models = inputs["models_tampered"]
    got = dbt_models.user_reasons(_spark(spark, models), _spark(spark, audience))
    assert frames.is_spark(got)
    expected = _rows(dbt_models.user_reasons(models, audience, batch_size=50), key=("run_id", "user_id"))
    # "bad" raises (its feature is missing): no rows, like on DuckDB; the others have one row per user.
    assert {r["run_id"] for r in expected} == {"hgb", "bag"} and len(expected) == 240
    _assert_rows_close(_rows(got, key=("run_id", "user_id")), expected)


def test_publish_on_spark_returns_a_manifest_and_copies_nothing(spark, tmp_path):
    marts = {"lookalike_runs": spark.range(3), "lookalike_user_scores": spark.range(5)}
    manifest = serving.publish(spark, marts, str(tmp_path / "serving" / "lookalike.duckdb"))
    assert frames.is_spark(manifest)
    rows = manifest.toArrow().to_pylist()
    assert [(r["table_name"], r["n_rows"], r["serving_file"], r["copied"]) for r in rows] == [
        ("lookalike_runs", 3, None, False),
        ("lookalike_user_scores", 5, None, False),
    ]
    assert len({r["build_id"] for r in rows}) == 1 and rows[0]["published_at"] is not None
    assert not (tmp_path / "serving").exists()
