"""Spark (dbt-spark): small inputs collected as Arrow, the population processed on the executors.

dbt-spark's ``dbt.ref`` gives a Spark DataFrame (classic or Spark Connect) and writes only Spark
or pandas DataFrames, so every entry point's Arrow result becomes a Spark DataFrame
(:meth:`SparkEngine.output`). pyspark is imported only when a Spark object is seen, so the package
imports without it.

Spark timestamps come back from ``toArrow`` with time zone UTC; :meth:`SparkEngine.read_own`
strips it (same instant, naive UTC), which is what DuckDB gives for its ``TIMESTAMP`` columns, so
the library sees the same Arrow types whatever the engine. Going the other way, naive Arrow
timestamps are UTC and become Spark ``TIMESTAMP`` values of that instant (:func:`to_spark`),
whatever the session's time zone.

Population scoring and per-user reasons (decision 0016) run on the executors; the population never
comes to the driver. The result is a lazy Spark DataFrame that dbt-spark writes with
``saveAsTable``; its rows and columns are those of the DuckDB path
(:data:`~lookalike_udf.outputs.SCORE_SCHEMA`, dictionary columns as strings, ``scored_at`` as
``TIMESTAMP``). Scoring methods (var ``lookalike_scoring_engine``):

- ``python`` (the default): ``mapInArrow``. Each task loads every run's stored model from its JSON
  (the same JSON-only format as everywhere, never pickle) once and scores its Arrow batches with
  :func:`lookalike_udf.batch_scoring.scored_batches`, the function the DuckDB path runs. A run whose
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

This module depends only on the seam (:mod:`lookalike_udf.engines`), the output schemas
(:mod:`lookalike_udf.outputs`) and the Arrow scoring (:mod:`lookalike_udf.batch_scoring`).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc

from . import Engine

__all__ = [
    "SparkEngine",
    "ENGINE",
    "is_spark",
    "is_spark_session",
    "spark_session_of",
    "quote_identifier",
    "relation_name",
    "to_spark",
    "spark_schema",
    "spark_ready",
    "spark_ready_schema",
    "ensure_worker_python",
    "map_in_arrow",
    "spread",
    "INPUT_VIEW",
]

#: Temp view the ``sql`` scoring method registers the population under (the compiled SQL's relation).
INPUT_VIEW = "lookalike_input"

_EPOCH = dt.datetime(1970, 1, 1)


def is_spark(obj) -> bool:
    """True for a Spark DataFrame (classic or Spark Connect), without importing pyspark."""
    return type(obj).__module__.startswith("pyspark.") and hasattr(obj, "mapInArrow") and hasattr(obj, "toArrow")


def is_spark_session(obj) -> bool:
    """True for a SparkSession (classic or Spark Connect), without importing pyspark."""
    return type(obj).__module__.startswith("pyspark.") and hasattr(obj, "createDataFrame") and hasattr(obj, "catalog")


def spark_session_of(*objs):
    """The SparkSession of the first Spark DataFrame or session among ``objs`` (None when there is none)."""
    for obj in objs:
        if is_spark(obj):
            return obj.sparkSession
        if is_spark_session(obj):
            return obj
    return None


def quote_identifier(name) -> str:
    """``name`` as a Spark SQL identifier (backticks, embedded backticks doubled)."""
    return "`" + str(name).replace("`", "``") + "`"


def relation_name(this) -> str:
    """Spark SQL name of dbt-spark's ``this``: `schema`.`identifier`, each part in backticks with
    embedded backticks doubled.

    dbt-spark relations have no database (dbt renders it as the text 'None' in ``dbt.this``), so
    only ``schema`` and ``identifier`` are used.
    """
    schema, identifier = getattr(this, "schema", None), getattr(this, "identifier", None)
    if not identifier:
        raise ValueError(f"dbt.this has no identifier: {this!r}")
    parts = [p for p in (schema, identifier) if p and p != "None"]
    return ".".join(quote_identifier(p) for p in parts)


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps with a time zone as naive UTC timestamps of the same instant."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = pa.timestamp(field.type.unit)
            column = pa.chunked_array([chunk.view(naive) for chunk in table.column(i).chunks], type=naive)
            table = table.set_column(i, pa.field(field.name, naive, field.nullable), column)
    return table


# --- Arrow to Spark ---------------------------------------------------------------------------


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")
    return t


def spark_ready_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as Spark takes Arrow data: no dictionaries, timestamps in microseconds with time
    zone UTC (Spark ``TIMESTAMP``)."""
    return pa.schema([pa.field(f.name, _plain_type(f.type), f.nullable) for f in schema])


def spark_ready(data, schema: pa.Schema | None = None):
    """A record batch or table cast to :func:`spark_ready_schema` (naive timestamps read as UTC).

    ``mapInArrow`` functions must return such batches: Spark reads neither dictionary arrays nor
    naive timestamps as ``TIMESTAMP``.
    """
    target = schema or spark_ready_schema(data.schema)
    arrays = []
    for i, field in enumerate(target):
        column = data.column(i)
        source = data.schema.field(i).type
        if pa.types.is_dictionary(source):
            column = column.cast(source.value_type)
            source = source.value_type
        if pa.types.is_timestamp(source) and source.tz is None:
            column = column.cast(pa.timestamp("us")).cast(field.type)  # naive = UTC wall time
        elif column.type != field.type:
            column = column.cast(field.type)
        arrays.append(column)
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(arrays, schema=target)
    return pa.Table.from_arrays(arrays, schema=target)


def spark_schema(schema: pa.Schema):
    """The Spark ``StructType`` of an Arrow schema (dictionaries as their values, timestamps as
    ``TIMESTAMP``)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(spark_ready_schema(schema), prefer_timestamp_ntz=False)


def to_spark(session, table: pa.Table):
    """A Spark DataFrame of ``table`` with an explicit schema, so an empty table keeps its columns
    and types."""
    ready = spark_ready(table)
    return session.createDataFrame(ready, schema=spark_schema(ready.schema))


def ensure_worker_python(session=None) -> None:
    """Make Spark start its Python workers with this interpreter (the one that has this package)
    unless ``PYSPARK_PYTHON`` is set: its default is whatever ``python3`` is on the PATH.

    A running SparkContext read ``PYSPARK_PYTHON`` when it started (``sc.pythonExec``), so for a
    local master (executors on this machine) the live context is pointed at this interpreter too.
    A cluster's executors have their own paths: there only the variable is set.
    """
    if "PYSPARK_PYTHON" in os.environ:
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        context = session.sparkContext if session is not None else None
    except Exception:  # Spark Connect: no SparkContext in this process
        context = None
    if (
        context is not None
        and getattr(context, "pythonExec", None) == "python3"
        and str(context.master).startswith("local")
    ):
        context.pythonExec = sys.executable


# --- Executors ------------------------------------------------------------------------------------


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
    return df.select(*[quote_identifier(n) for n in names])


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

    return df.select(*[F.col(quote_identifier(n)).alias(s) for n, s in zip(names, safe, strict=True)]).mapInArrow(
        with_names, schema
    )


def _score_partitions(model_jsons: dict[str, str], wanted: dict, scored_at: dt.datetime):
    """The ``mapInArrow`` function of the ``python`` method (pickled to the executors: only JSON
    text and plain values travel with it)."""

    def score(batches):
        from lookalike_udf.batch_scoring import scored_batches
        from lookalike_udf.engines.spark import spark_ready, spark_ready_schema
        from lookalike_udf.outputs import SCORE_SCHEMA, failure_marker, scoring_failed_message
        from lookalike_udf.scoring import LookalikeModel

        ready = spark_ready_schema(SCORE_SCHEMA)
        models = {}
        for rid, text in sorted(model_jsons.items()):
            try:
                models[rid] = LookalikeModel.from_json(text)
            except Exception as exc:  # verified on the driver, so unexpected: that run fails alone
                yield spark_ready(
                    failure_marker(rid, scoring_failed_message(rid, exc), scored_at, wanted.get(rid)), ready
                )
        for batch in scored_batches(batches, models, wanted, scored_at):
            yield spark_ready(batch, ready)

    return score


def _sql_scores(population, session, model_jsons: dict[str, str], wanted: dict, scored_at: dt.datetime):
    """(DataFrames of scored runs, marker batches of failed runs)."""
    from pyspark.sql import functions as F

    from ..outputs import failure_marker, scoring_failed_message
    from ..sql import to_sql
    from ..vocabulary import ScoringAction

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
                    F.lit(ScoringAction.SCORED).alias("scoring_action"),
                    F.lit(None).cast("string").alias("scoring_message"),
                )
                parts.append(scores.localCheckpoint(eager=True))  # runs now: its failure stays its own
            except Exception as exc:  # reported as FAILED downstream, with this message
                markers.append(
                    failure_marker(
                        rid, scoring_failed_message(rid, exc, "sql", _short(exc)), scored_at, wanted.get(rid)
                    )
                )
    finally:
        session.catalog.dropTempView(INPUT_VIEW)
    return parts, markers


def _reused_scores(rows):
    """The previous build's rows of the reused runs (``previous`` narrowed to them), as score rows
    materialised on the executors."""
    from pyspark.sql import functions as F

    from ..vocabulary import ScoringAction

    rows = rows.select(
        F.col("run_id").cast("string").alias("run_id"),
        F.col("user_id").cast("string").alias("user_id"),
        F.col("score").cast("double").alias("score"),
        F.col("scored_at").cast("timestamp").alias("scored_at"),
        F.col("score_fingerprint").cast("string").alias("score_fingerprint"),
        F.lit(ScoringAction.REUSED).alias("scoring_action"),
        F.lit(None).cast("string").alias("scoring_message"),
    )
    return rows.localCheckpoint(eager=True)


def _reason_partitions(model_jsons: dict[str, str], digests: dict[str, str]):
    """The ``mapInArrow`` function of :meth:`SparkEngine.user_reasons`."""

    def reasons(batches):
        from lookalike_udf.batch_scoring import reason_batches
        from lookalike_udf.engines.spark import spark_ready, spark_ready_schema
        from lookalike_udf.outputs import REASON_SCHEMA
        from lookalike_udf.scoring import LookalikeModel

        ready = spark_ready_schema(REASON_SCHEMA)
        usable = {}
        for rid, text in model_jsons.items():
            try:
                usable[rid] = LookalikeModel.from_json(text)
            except Exception:  # that run gets no rows, as when its reasons raise
                continue
        for batch in reason_batches(batches, usable, digests):
            yield spark_ready(batch, ready)

    return reasons


class SparkEngine(Engine):
    name = "spark"
    priority = 10

    @classmethod
    def owns(cls, obj) -> bool:
        return is_spark(obj) or is_spark_session(obj)

    @classmethod
    def bind(cls, obj) -> SparkEngine:
        return cls(spark_session_of(obj))

    def read_own(self, obj) -> pa.Table:
        """Collected with ``toArrow()`` (never through pandas), timestamps as naive UTC. Also what
        :meth:`batches` cuts: Spark inputs that can be large are processed on the executors instead
        (:meth:`population_scores`, :meth:`user_reasons`), never through the driver."""
        return _naive_utc(obj.toArrow())

    def where_in(self, obj, column: str, values):
        """Filtered by Spark before it is read."""
        if not is_spark(obj):
            return obj
        from pyspark.sql import functions as F

        return obj.filter(F.col(quote_identifier(column)).cast("string").isin([str(v) for v in values]))

    def count(self, obj) -> int:
        return obj.count() if is_spark(obj) else super().count(obj)

    def distinct_rows(self, obj, names: list[str]) -> pa.Table:
        if not is_spark(obj):
            from .arrow import ArrowEngine

            return ArrowEngine().distinct_rows(obj, names)
        pairs = self.to_arrow(_select(obj, names).distinct())
        return pa.table({name: pc.cast(pairs.column(name), pa.string()) for name in names})

    def column_stats(self, obj, stats: list[tuple]) -> list[float | None]:
        """One ``agg`` run by Spark (one row comes back)."""
        if not stats:
            return []
        from pyspark.sql import functions as F

        expressions = []
        for i, stat in enumerate(stats):
            col = F.col(quote_identifier(stat[1]))
            if stat[0] == "share":
                hits = F.count(F.when(col.cast("string") == F.lit(stat[2]), F.lit(1)))
                count = F.count(col)
                expr = F.when(count > 0, hits.cast("double") / count)
            else:
                expr = F.avg(col.cast("double"))
            expressions.append(expr.alias(f"p{i}"))
        row = self.to_arrow(obj.agg(*expressions)).to_pylist()[0]
        return [row[f"p{i}"] for i in range(len(stats))]

    quote_identifier = staticmethod(quote_identifier)

    def relation_name(self, this) -> str:
        return relation_name(this)

    def previous_table(self, session, this):
        """A lazy Spark DataFrame of the table, or None when it does not exist. Spark refuses to
        overwrite a table that the written DataFrame still reads, so the entry points read what
        they carry over before returning."""
        try:
            name = relation_name(this)
            if not session.catalog.tableExists(name):
                return None
            return session.table(name)
        except Exception:  # no such schema, or a name Spark cannot read: a first build
            return None

    def output(self, table: pa.Table):
        return to_spark(self.session, table)

    def population_scores(self, population, request):
        """The population scores as a Spark DataFrame (see the module docstring). ``batch_size`` is
        unused: Spark sizes its Arrow batches (``spark.sql.execution.arrow.maxRecordsPerBatch``)."""
        from ..outputs import SCORE_SCHEMA, markers_and_reused_rows, now

        session = population.sparkSession
        schema = spark_schema(SCORE_SCHEMA)
        scored_at = now()
        previous, reused, model_jsons = request.previous, request.reused, request.model_jsons
        spark_previous = is_spark(previous)
        # Markers of runs whose stored model failed verification, and reused rows of an Arrow / DuckDB
        # previous table (tests; dbt-spark gives a Spark one): small, built on the driver. The reused
        # runs were decided by lookalike_udf.reuse.carry_over; a Spark previous stays on the executors.
        driver_rows = list(markers_and_reused_rows(() if spark_previous else request.reused_batches, request.failures))
        parts = []
        if spark_previous and reused:
            parts.append(_reused_scores(self.where_in(previous, "run_id", sorted(reused))))
        if model_jsons:
            present = set(population.columns)  # narrowed to user_id and the columns the models read
            population = _select(
                population, ["user_id"] + [f for f in sorted(request.features()) if f in present and f != "user_id"]
            )
            population = spread(population, session)
            if request.method == "sql":
                scored, markers = _sql_scores(population, session, model_jsons, request.wanted, scored_at)
                parts += scored
                driver_rows += markers
            else:
                ensure_worker_python(session)
                parts.append(
                    map_in_arrow(population, _score_partitions(model_jsons, request.wanted, scored_at), schema)
                )
        result = to_spark(session, pa.Table.from_batches(driver_rows, schema=SCORE_SCHEMA))
        for part in parts:
            result = result.unionByName(part)
        return result

    def user_reasons(
        self, audience, usable: dict, model_jsons: dict[str, str], digests: dict[str, str], batch_size: int
    ):
        """Computed on the executors by :func:`lookalike_udf.batch_scoring.reason_batches`."""
        if not is_spark(audience):
            return super().user_reasons(audience, usable, model_jsons, digests, batch_size)
        from ..outputs import REASON_SCHEMA

        session = audience.sparkSession
        schema = spark_schema(REASON_SCHEMA)
        if not model_jsons:
            return to_spark(session, REASON_SCHEMA.empty_table())
        ensure_worker_python(session)
        return map_in_arrow(audience, _reason_partitions(model_jsons, digests), schema)


ENGINE = SparkEngine
