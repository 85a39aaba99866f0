"""DuckDB (dbt-duckdb): relations are streamed to Arrow, SQL runs in the build's DuckDB.

dbt-duckdb's ``dbt.ref`` gives a ``DuckDBPyRelation`` (``to_arrow_table()``, ``to_arrow_reader()``)
and its Python models get the build's ``DuckDBPyConnection`` as ``session``. Population scores are
a stream of Arrow batches that dbt-duckdb writes batch by batch, so memory stays flat however large
the population is.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from . import Engine

__all__ = ["DuckDBEngine", "ENGINE", "Error", "connect_read_only", "quote_identifier", "relation_name"]

#: The DuckDB error every failure of a query is an instance of.
Error = duckdb.Error


def connect_read_only(path: str):
    """A read-only connection to the DuckDB file at ``path`` (BI readers open the serving file so)."""
    return duckdb.connect(str(path), read_only=True)


def sql_literal(value: str) -> str:
    """``value`` as a DuckDB string literal (embedded single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"
    priority = 20
    serving_file = True

    @classmethod
    def owns(cls, obj) -> bool:
        if isinstance(obj, (duckdb.DuckDBPyRelation, duckdb.DuckDBPyConnection)):
            return True
        # Anything else with DuckDB's Arrow methods (a wrapped relation) is read as one.
        return hasattr(obj, "to_arrow_table")

    @classmethod
    def bind(cls, obj) -> DuckDBEngine:
        return cls(obj if isinstance(obj, duckdb.DuckDBPyConnection) else None)

    def read_own(self, obj) -> pa.Table:
        return obj.to_arrow_table()

    def batches(self, obj, batch_size: int):
        """Relations are streamed (one batch in memory at a time)."""
        if self.owns(obj) and hasattr(obj, "to_arrow_reader"):
            yield from obj.to_arrow_reader(batch_size)
            return
        yield from super().batches(obj, batch_size)

    @staticmethod
    def quote_identifier(name) -> str:
        """``name`` as a DuckDB quoted identifier, any embedded double quote doubled."""
        return '"' + str(name).replace('"', '""') + '"'

    def previous_table(self, session, this):
        """``select * from`` the model's relation (:meth:`relation_name`: ``repr(this)`` quotes
        without escaping), or None when it does not exist. Read before dbt-duckdb replaces it."""
        try:
            return session.sql(f"select * from {self.relation_name(this)}")
        except Exception:  # duckdb.CatalogException: no previous table
            return None

    def relation(self, obj):
        """``obj`` as a DuckDB relation (a relation already, or an Arrow table in a new in-memory DuckDB)."""
        if isinstance(obj, duckdb.DuckDBPyRelation) or (
            hasattr(obj, "query") and hasattr(obj, "to_arrow_reader") and hasattr(obj, "aggregate")
        ):
            return obj
        return duckdb.connect().from_arrow(self.to_arrow(obj))

    def distinct_rows(self, obj, names: list[str]) -> pa.Table:
        quoted = [self.quote_identifier(n) for n in names]
        return (
            self.relation(obj)
            .project(", ".join(f"cast({q} as varchar) as {q}" for q in quoted))
            .distinct()
            .to_arrow_table()
        )

    def column_stats(self, obj, stats: list[tuple]) -> list[float | None]:
        if not stats:
            return []
        expressions = []
        for i, stat in enumerate(stats):
            col = self.quote_identifier(stat[1])
            if stat[0] == "share":
                expr = (
                    f"cast(count(*) filter (where cast({col} as varchar) = {sql_literal(stat[2])}) as double)"
                    f" / nullif(count({col}), 0)"
                )
            else:
                expr = f"avg(cast({col} as double))"
            expressions.append(f"{expr} as p{i}")
        row = self.relation(obj).aggregate(", ".join(expressions)).to_arrow_table().to_pylist()[0]
        return [row[f"p{i}"] for i in range(len(stats))]

    def sql_score_batches(self, population, request):
        """Each run's scores computed by its compiled SQL in DuckDB: the population relation is bound
        as ``lookalike_input`` and the result streamed in Arrow batches (one in memory at a time)."""
        from ..batch_scoring import sql_scored_batch
        from ..outputs import failure_marker, markers_and_reused_rows, now, scoring_failed_message
        from ..sql import to_sql

        batch_size = int(request.batch_size)
        yield from markers_and_reused_rows(request.reused_batches, request.failures)
        if not request.model_jsons:
            return
        relation = self.relation(population)
        for rid, model_json in sorted(request.model_jsons.items()):
            scored_at = now()
            try:
                sql = to_sql(model_json, "lookalike_input", dialect="duckdb", id_columns=("user_id",))
                for batch in relation.query("lookalike_input", sql).to_arrow_reader(batch_size):
                    yield sql_scored_batch(rid, batch, scored_at, request.wanted.get(rid))
            except Exception as exc:  # reported as FAILED downstream, with this message
                yield failure_marker(rid, scoring_failed_message(rid, exc, "sql"), scored_at, request.wanted.get(rid))


ENGINE = DuckDBEngine

#: One quoting and one relation name for DuckDB SQL (also :mod:`lookalike_udf.reuse`'s old names).
quote_identifier = DuckDBEngine.quote_identifier


def relation_name(this) -> str:
    """SQL name of dbt-duckdb's ``this`` (database.schema.identifier, each part quoted and escaped)."""
    return DuckDBEngine().relation_name(this)
