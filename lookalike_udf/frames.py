"""The names of the partial engine seam that came before :mod:`lookalike_udf.engines`, kept for the
code that imports them (tests, bench). Nothing in the library uses this module: each entry point
picks its engine once (:func:`lookalike_udf.engines.engine_for`) and goes through it.
"""

from __future__ import annotations

import pyarrow as pa

from .engines import engine_for, engine_of
from .engines.spark import (
    ensure_worker_python,
    is_spark,
    is_spark_session,
    spark_ready,
    spark_ready_schema,
    spark_schema,
    spark_session_of,
    to_spark,
)
from .engines.spark import quote_identifier as quote_spark

__all__ = [
    "is_spark",
    "is_spark_session",
    "spark_session_of",
    "to_arrow",
    "batches",
    "columns",
    "where_in",
    "quote_spark",
    "to_output",
    "to_spark",
    "spark_schema",
    "spark_ready",
    "spark_ready_schema",
    "ensure_worker_python",
]


def to_arrow(obj) -> pa.Table:
    """``obj`` as an Arrow table, read whole by its engine."""
    return engine_of(obj).to_arrow(obj)


def batches(obj, batch_size: int):
    """Arrow record batches of at most ``batch_size`` rows of ``obj`` (streamed where the engine can)."""
    return engine_of(obj).batches(obj, batch_size)


def where_in(obj, column: str, values):
    """``obj``'s rows whose ``column`` is in ``values`` where its engine filters before reading."""
    return engine_of(obj).where_in(obj, column, values)


def columns(obj) -> list[str]:
    """Column names of an Arrow table, DuckDB relation or Spark / pandas DataFrame."""
    return engine_of(obj).columns(obj)


def to_output(table: pa.Table, like=()):
    """``table`` as the result of an entry point whose inputs are ``like``."""
    return engine_for(*(like if isinstance(like, (tuple, list)) else (like,))).output(table)
