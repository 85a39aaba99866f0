"""Read the package's public marts through any DB-API 2.0 connection.

The report never touches private models: everything it shows comes from the public marts
(``_public.yml``). :class:`MartReader` is the only place that talks to the warehouse. It needs a
connection with ``cursor()``, and cursors with ``execute(sql)``, ``description`` and
``fetchall()`` (PEP 249), so the report works on a DuckDB file (:meth:`MartReader.duckdb`) and,
later, on any warehouse whose Python driver follows PEP 249 (psycopg, snowflake-connector,
databricks-sql, ...):

>>> import duckdb
>>> reader = MartReader(duckdb.connect())          # any PEP 249 connection
>>> reader.exists("lookalike_runs")
False

No query takes bind parameters (paramstyles differ between drivers): the statements are fixed
text, with table names from this package and an optional schema quoted as an identifier. Every
query is bounded by the runs' training sets or aggregated in SQL (the score histogram), so the
scored population is never pulled into Python.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

#: The public marts the report reads; the optional ones may be missing (older builds lack them).
REQUIRED_MARTS = (
    "lookalike_runs",
    "lookalike_run_metrics",
    "lookalike_run_deciles",
    "lookalike_run_cumulative_positive_rates",
    "lookalike_run_threshold_metrics",
    "lookalike_feature_importance",
    "lookalike_label_monthly",
    "lookalike_input_label_summary",
    "lookalike_user_scores",
    "lookalike_training_predictions",
)
OPTIONAL_MARTS = ("lookalike_feature_drift", "lookalike_audience_lift")


class ReportInputError(RuntimeError):
    """The database cannot be read as a lookalike build (missing file or marts, lock)."""


class ReportOutputError(ReportInputError):
    """The report cannot be written to ``--out`` (a folder, under a file, not writable)."""


def _open_hint(error: str) -> str:
    """What to do about DuckDB's error on opening a file (only a lock means another process)."""
    if "not a valid DuckDB database file" in error:
        return (
            "It is not a DuckDB database file. Point --duckdb at the file dbt build wrote "
            "(LOOKALIKE_DUCKDB_PATH, default lookalike.duckdb)."
        )
    if "lock" in error.lower():
        return "Another process (a running dbt build?) holds it; try again when it has finished."
    return "Check that it is the DuckDB file dbt build wrote and that this DuckDB version can read it."


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _plain(value: Any) -> Any:
    # DECIMAL / HUGEINT from some drivers: the report only needs floats and ints.
    if isinstance(value, Decimal):
        return float(value)
    return value


class MartReader:
    """Runs the report's queries on a DB-API connection.

    ``schema``: where the marts are (``None``: the connection's default schema). ``close``: close
    the connection in :meth:`close` (set by :meth:`duckdb`, which opens its own).
    """

    def __init__(self, connection: Any, schema: str | None = None, close: bool = False):
        self.connection = connection
        self.schema = schema
        self._close = close
        self._tables: set[str] | None = None

    @classmethod
    def duckdb(cls, path: str | Path, schema: str | None = None) -> MartReader:
        """Open a DuckDB file read-only (it must not be open for writing, e.g. by ``dbt build``)."""
        from ..engines.duckdb import Error as DuckDBError
        from ..engines.duckdb import connect_read_only

        path = Path(path)
        if not path.exists():
            raise ReportInputError(
                f"lookalike report: no DuckDB file at {path}. Run `dbt build` first "
                "(LOOKALIKE_DUCKDB_PATH sets where it writes)."
            )
        if path.is_dir():
            raise ReportInputError(
                f"lookalike report: --duckdb {path} is a folder, not a DuckDB file. Point --duckdb "
                "at the file dbt build wrote (LOOKALIKE_DUCKDB_PATH, default lookalike.duckdb)."
            )
        try:
            con = connect_read_only(str(path))
        except DuckDBError as exc:
            raise ReportInputError(f"lookalike report: cannot open {path} ({exc}). {_open_hint(str(exc))}") from exc
        return cls(con, schema=schema, close=True)

    def close(self) -> None:
        if self._close:
            self.connection.close()

    def __enter__(self) -> MartReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def relation(self, name: str) -> str:
        """The quoted, schema-qualified name of a mart."""
        return f"{_quote(self.schema)}.{_quote(name)}" if self.schema else _quote(name)

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run one statement; rows as dicts keyed by lower-case column name (fetched in full)."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            names = [d[0].lower() for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            close = getattr(cursor, "close", None)
            if close:
                close()
        return [{n: _plain(v) for n, v in zip(names, row, strict=False)} for row in rows]

    def tables(self) -> set[str]:
        """Lower-case names of the tables and views in the schema (information_schema; without a
        schema, the connection's ``current_schema()``)."""
        if self._tables is None:
            schema = "'" + self.schema.replace("'", "''") + "'" if self.schema else "current_schema()"
            where = f"where lower(table_schema) = lower({schema})"
            rows = self.query(f"select table_name from information_schema.tables {where}")
            self._tables = {str(r["table_name"]).lower() for r in rows}
        return self._tables

    def exists(self, name: str) -> bool:
        return name.lower() in self.tables()

    def check(self) -> None:
        """Raise :class:`ReportInputError` naming the marts that are missing."""
        missing = [m for m in REQUIRED_MARTS if not self.exists(m)]
        if missing:
            raise ReportInputError(
                "lookalike report: the database has no "
                + ", ".join(missing)
                + ". Point --duckdb at the file a lookalike `dbt build` wrote (and --schema at its schema)."
            )
