"""Population scoring and per-user reasons on Spark's executors (dbt-spark, decision 0016).

:func:`lookalike_udf.dbt_models.score_population` and :func:`~lookalike_udf.dbt_models.user_reasons`
call this module when their large input is a Spark DataFrame; the population never comes to the
driver. The result is a lazy Spark DataFrame that dbt-spark writes with ``saveAsTable``; its rows
and columns are those of the DuckDB path (:data:`~lookalike_udf.dbt_models.SCORE_SCHEMA`, dictionary
columns as strings, ``scored_at`` as ``TIMESTAMP``).

Engines (var ``lookalike_scoring_engine``):

- ``python`` (the default): ``mapInArrow``. Each task loads every run's stored model from its JSON
  (the same JSON-only format as everywhere, never pickle) once and scores its Arrow batches with
  :func:`lookalike_udf.dbt_models.scored_batches`, the function the DuckDB path runs. A run whose
  scoring raises in a task gets a marker row from that task and no more rows from it; other tasks
  and runs go on. Downstream models treat a run with any marker row as failed (as on DuckDB, where
  the rows scored before the failure are written too).
- ``sql``: each run's model compiled for Spark (:func:`lookalike_udf.sql.to_sql`,
  ``dialect="spark"``) and run with ``spark.sql`` over the population registered as the temp view
  ``lookalike_input``. Each run's scores are materialised on the executors
  (``localCheckpoint``) inside its own ``try``, so a run whose query fails, at analysis or while
  running, gets its marker row and the others are written.

Rows carried over from the previous build (runs whose ``score_fingerprint`` is unchanged) are
filtered from the previous table by Spark and materialised on the executors with
``localCheckpoint(eager=True)`` before the result is returned: Spark refuses to overwrite a table
that the written DataFrame still reads (``UNSUPPORTED_OVERWRITE.TABLE``), and the reused scores are
population-sized, too large to route through the driver as Arrow.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from . import frames

#: Temp view the ``sql`` engine registers the population under (the compiled SQL's relation).
INPUT_VIEW = "lookalike_input"

_EPOCH = dt.datetime(1970, 1, 1)


def _timestamp(value: dt.datetime):
    """A Spark ``TIMESTAMP`` literal of a naive UTC datetime, whatever the session time zone."""
    from pyspark.sql import functions as F

    return F.timestamp_micros(F.lit((value - _EPOCH) // dt.timedelta(microseconds=1)))


def _short(exc: BaseException) -> str:
    """The first line of an error (Spark's analysis errors append the whole query plan)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return first[:2000]


def spread(df, session):
    """``df`` with at least one partition per core of the session (a small table is often one
    file, so one task, so one core)."""
    try:
        partitions = df.rdd.getNumPartitions()
        cores = session.sparkContext.defaultParallelism
    except Exception:  # Spark Connect: no RDDs; leave the layout to Spark
        return df
    return df.repartition(cores) if partitions < cores else df


def _select(df, names):
    return df.select(*[frames.quote_spark(n) for n in names])


def map_in_arrow(df, function, schema):
    """``df.mapInArrow(function, schema)`` for any column names.

    pyspark resolves the input columns with ``df[name]``, which rejects names with backticks and
    misreads names with dots, so the columns travel under positional names and ``function`` sees
    batches with the original names again.
    """
    from pyspark.sql import functions as F

    names = list(df.columns)
    safe = [f"lookalike__c{i}" for i in range(len(names))]

    def with_names(batches):
        return function(pa.RecordBatch.from_arrays(batch.columns, names=names) for batch in batches)

    return df.select(*[F.col(frames.quote_spark(n)).alias(s) for n, s in zip(names, safe, strict=True)]).mapInArrow(with_names, schema)


def _score_partitions(model_jsons: dict[str, str], wanted: dict, scored_at: dt.datetime):
    """The ``mapInArrow`` function of the ``python`` engine (pickled to the executors: only JSON
    text and plain values travel with it)."""

    def score(batches):
        from lookalike_udf import dbt_models, frames
        from lookalike_udf.scoring import LookalikeModel

        ready = frames.spark_ready_schema(dbt_models.SCORE_SCHEMA)
        models = {}
        for rid, text in sorted(model_jsons.items()):
            try:
                models[rid] = LookalikeModel.from_json(text)
            except Exception as exc:  # verified on the driver, so unexpected: that run fails alone
                message = f"run '{rid}': scoring failed: {type(exc).__name__}: {exc}"
                yield frames.spark_ready(dbt_models.failure_marker(rid, message, scored_at, wanted.get(rid)), ready)
        for batch in dbt_models.scored_batches(batches, models, wanted, scored_at):
            yield frames.spark_ready(batch, ready)

    return score


def _python_scores(population, model_jsons: dict[str, str], wanted: dict, scored_at: dt.datetime, schema):
    return map_in_arrow(population, _score_partitions(model_jsons, wanted, scored_at), schema)


def _sql_scores(population, session, model_jsons: dict[str, str], wanted: dict, scored_at: dt.datetime):
    """(DataFrames of scored runs, marker batches of failed runs)."""
    from pyspark.sql import functions as F

    from .dbt_models import failure_marker
    from .reuse import SCORED
    from .sql import to_sql

    types = dict(population.dtypes)
    parts, markers = [], []
    population.createOrReplaceTempView(INPUT_VIEW)
    try:
        for rid, text in sorted(model_jsons.items()):
            try:
                sql = to_sql(text, INPUT_VIEW, dialect="spark", id_columns=("user_id",), column_types=types)
                scores = session.sql(sql).select(
                    F.lit(rid).alias("run_id"),
                    F.col("user_id").cast("string").alias("user_id"),
                    F.col("score").cast("double").alias("score"),
                    _timestamp(scored_at).alias("scored_at"),
                    F.lit(wanted.get(rid)).cast("string").alias("score_fingerprint"),
                    F.lit(SCORED).alias("scoring_action"),
                    F.lit(None).cast("string").alias("scoring_message"),
                )
                parts.append(scores.localCheckpoint(eager=True))  # runs now: its failure stays its own
            except Exception as exc:  # reported as FAILED downstream, with this message
                markers.append(failure_marker(rid, f"run '{rid}': scoring failed (lookalike_scoring_engine: sql): "
                                                   f"{type(exc).__name__}: {_short(exc)}", scored_at, wanted.get(rid)))
    finally:
        session.catalog.dropTempView(INPUT_VIEW)
    return parts, markers


def _reused_scores(previous, reused: dict[str, str]):
    """The previous build's rows of the reused runs, materialised on the executors."""
    from pyspark.sql import functions as F

    from .reuse import REUSED

    run_id, fingerprint = F.col("run_id").cast("string"), F.col("score_fingerprint").cast("string")
    keep = None
    for rid, fp in sorted(reused.items()):
        match = (run_id == F.lit(rid)) & (fingerprint == F.lit(fp))
        keep = match if keep is None else keep | match
    rows = previous.filter(keep).select(
        run_id.alias("run_id"),
        F.col("user_id").cast("string").alias("user_id"),
        F.col("score").cast("double").alias("score"),
        F.col("scored_at").cast("timestamp").alias("scored_at"),
        fingerprint.alias("score_fingerprint"),
        F.lit(REUSED).alias("scoring_action"),
        F.lit(None).cast("string").alias("scoring_message"),
    )
    return rows.localCheckpoint(eager=True)


def spark_population_scores(population, engine: str, model_jsons: dict[str, str], wanted: dict, previous,
                            reused: dict[str, str], failures: dict, batch_size: int, features=None):
    """The population scores as a Spark DataFrame (see the module docstring).

    ``model_jsons``: run_id -> verified model JSON of the runs to score; ``wanted``: run_id ->
    score fingerprint; ``reused``: run_id -> fingerprint of the runs whose previous rows are carried
    over; ``failures``: run_id -> message of the runs whose stored model failed verification;
    ``features``: the feature columns the models read (the population is narrowed to them and
    ``user_id`` before scoring). ``batch_size`` is unused: Spark sizes its Arrow batches
    (``spark.sql.execution.arrow.maxRecordsPerBatch``).
    """
    from .dbt_models import SCORE_SCHEMA, _markers_and_reused_rows, _now
    from .reuse import previous_score_batches

    session = population.sparkSession
    schema = frames.spark_schema(SCORE_SCHEMA)
    scored_at = _now()
    spark_previous = frames.is_spark(previous)
    # Markers of runs whose stored model failed verification, and reused rows of an Arrow / DuckDB
    # previous table (tests; dbt-spark gives a Spark one): small, built on the driver.
    driver_rows = list(_markers_and_reused_rows(
        () if spark_previous or not reused else previous_score_batches(previous, reused, batch_size), failures))
    parts = []
    if spark_previous and reused:
        parts.append(_reused_scores(previous, reused))
    if model_jsons:
        if features is not None:
            present = set(population.columns)
            population = _select(population, ["user_id"] + [f for f in sorted(features) if f in present and f != "user_id"])
        population = spread(population, session)
        if engine == "sql":
            scored, markers = _sql_scores(population, session, model_jsons, wanted, scored_at)
            parts += scored
            driver_rows += markers
        else:
            frames.ensure_worker_python(session)
            parts.append(_python_scores(population, model_jsons, wanted, scored_at, schema))
    result = frames.to_spark(session, pa.Table.from_batches(driver_rows, schema=SCORE_SCHEMA))
    for part in parts:
        result = result.unionByName(part)
    return result


def _reason_partitions(model_jsons: dict[str, str], digests: dict[str, str]):
    """The ``mapInArrow`` function of :func:`spark_user_reasons`."""

    def reasons(batches):
        from lookalike_udf import dbt_models, frames
        from lookalike_udf.scoring import LookalikeModel

        ready = frames.spark_ready_schema(dbt_models.REASON_SCHEMA)
        usable = {}
        for rid, text in model_jsons.items():
            try:
                usable[rid] = LookalikeModel.from_json(text)
            except Exception:  # that run gets no rows, as when its reasons raise
                continue
        for batch in dbt_models.reason_batches(batches, usable, digests):
            yield frames.spark_ready(batch, ready)

    return reasons


def spark_user_reasons(audience, model_jsons: dict[str, str], digests: dict[str, str]):
    """lookalike_user_reasons of a Spark ``audience`` (int_lookalike__reason_inputs), computed on the
    executors by :func:`lookalike_udf.dbt_models.reason_batches`."""
    from .dbt_models import REASON_SCHEMA

    session = audience.sparkSession
    schema = frames.spark_schema(REASON_SCHEMA)
    if not model_jsons:
        return frames.to_spark(session, REASON_SCHEMA.empty_table())
    frames.ensure_worker_python(session)
    return map_in_arrow(audience, _reason_partitions(model_jsons, digests), schema)
