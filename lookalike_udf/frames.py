"""The model inputs and outputs of every engine, in one place: DuckDB relations, Arrow, pandas, Spark.

dbt-duckdb's ``dbt.ref`` gives a DuckDB relation (``to_arrow_table()``, ``to_arrow_reader()``),
tests pass Arrow tables, and dbt-spark's ``dbt.ref`` gives a Spark DataFrame. The entry points of
:mod:`lookalike_udf.dbt_models`, :mod:`lookalike_udf.quality` and :mod:`lookalike_udf.reuse` read
their small inputs here as Arrow (:func:`to_arrow`) and hand their result to :func:`to_output`,
which gives a Spark DataFrame back when the inputs were Spark DataFrames (dbt-spark writes only
Spark or pandas DataFrames) and the Arrow result unchanged otherwise.

pyspark is imported only when a Spark object is seen, so the package imports without it.

Spark timestamps come back from ``toArrow`` with time zone UTC; :func:`to_arrow` strips it (same
instant, naive UTC), which is what DuckDB gives for its ``TIMESTAMP`` columns, so the library sees
the same Arrow types whatever the engine. Going the other way, naive Arrow timestamps are UTC and
become Spark ``TIMESTAMP`` values of that instant (:func:`to_spark`), whatever the session's time
zone.
"""

from __future__ import annotations

import os
import sys

import pyarrow as pa

__all__ = ["is_spark", "is_spark_session", "spark_session_of", "to_arrow", "batches", "columns",
           "to_output", "to_spark", "spark_schema", "spark_ready", "ensure_worker_python"]


def is_spark(obj) -> bool:
    """True for a Spark DataFrame (classic or Spark Connect), without importing pyspark."""
    return (type(obj).__module__.startswith("pyspark.") and hasattr(obj, "mapInArrow")
            and hasattr(obj, "toArrow"))


def is_spark_session(obj) -> bool:
    """True for a SparkSession (classic or Spark Connect), without importing pyspark."""
    return (type(obj).__module__.startswith("pyspark.") and hasattr(obj, "createDataFrame")
            and hasattr(obj, "catalog"))


def spark_session_of(*objs):
    """The SparkSession of the first Spark DataFrame among ``objs`` (None when there is none)."""
    for obj in objs:
        if is_spark(obj):
            return obj.sparkSession
        if is_spark_session(obj):
            return obj
    return None


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps with a time zone as naive UTC timestamps of the same instant."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = pa.timestamp(field.type.unit)
            column = pa.chunked_array([chunk.view(naive) for chunk in table.column(i).chunks], type=naive)
            table = table.set_column(i, pa.field(field.name, naive, field.nullable), column)
    return table


def to_arrow(obj) -> pa.Table:
    """``obj`` as an Arrow table: read whole, so only for small inputs and training samples.

    Arrow tables are returned as they are; Spark DataFrames are collected with ``toArrow()``
    (never through pandas); DuckDB relations with ``to_arrow_table()``; Arrow streams are read to
    the end; anything else is taken as a pandas DataFrame.
    """
    if isinstance(obj, pa.Table):
        return obj
    if is_spark(obj):
        return _naive_utc(obj.toArrow())
    if hasattr(obj, "to_arrow_table"):
        return obj.to_arrow_table()
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    return pa.Table.from_pandas(obj, preserve_index=False)


def batches(obj, batch_size: int):
    """Arrow record batches of at most ``batch_size`` rows of ``obj``.

    DuckDB relations are streamed (one batch in memory at a time); a Spark DataFrame is collected
    to the driver first (:func:`to_arrow`): Spark inputs that can be large are processed on the
    executors instead (``mapInArrow``), never through here.
    """
    if isinstance(obj, pa.RecordBatchReader):
        yield from obj
        return
    if not isinstance(obj, pa.Table) and not is_spark(obj) and hasattr(obj, "to_arrow_reader"):
        yield from obj.to_arrow_reader(batch_size)
        return
    yield from to_arrow(obj).to_batches(max_chunksize=batch_size)


def quote_spark(name: str) -> str:
    """``name`` as a Spark SQL identifier (backticks, embedded backticks doubled)."""
    return "`" + str(name).replace("`", "``") + "`"


def where_in(obj, column: str, values):
    """A Spark DataFrame's rows whose ``column`` is in ``values``, filtered by Spark before it is
    read; any other input is returned unchanged (the caller filters the Arrow rows)."""
    if not is_spark(obj):
        return obj
    from pyspark.sql import functions as F

    return obj.filter(F.col(quote_spark(column)).cast("string").isin([str(v) for v in values]))


def columns(obj) -> list[str]:
    """Column names of an Arrow table, DuckDB relation or Spark / pandas DataFrame."""
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return obj.column_names
    return [str(c) for c in getattr(obj, "columns", [])]


# --- Spark output ----------------------------------------------------------------------------

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


def to_output(table: pa.Table, like=()):
    """``table`` as the entry point's result: a Spark DataFrame when one of ``like`` (the entry
    point's inputs) is a Spark DataFrame or session, else ``table`` itself."""
    session = spark_session_of(*(like if isinstance(like, (tuple, list)) else (like,)))
    if session is None:
        return table
    return to_spark(session, table)


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
    if (context is not None and getattr(context, "pythonExec", None) == "python3"
            and str(context.master).startswith("local")):
        context.pythonExec = sys.executable
