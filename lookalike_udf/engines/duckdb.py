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

    def built_before(self, session, this, state_schema, earlier: str) -> bool:
        """DuckDB: compares the latest ``built`` rows of ``lookalike_build_state`` of ``this`` and of
        ``earlier`` (named ``database.schema.identifier`` or ``schema.identifier``, as the reuse layer
        records them). False when the record, either row or the schema is missing."""
        database, schema, identifier = (getattr(this, attr, None) for attr in ("database", "schema", "identifier"))
        if session is None or not state_schema or not schema or not identifier or not earlier:
            return False

        def names(table):
            out = [f"{schema}.{table}"]
            if database:
                out.append(f"{database}.{schema}.{table}")
            return out

        state = ".".join(self.quote_identifier(p) for p in (database, state_schema, "lookalike_build_state") if p)
        mine, theirs = names(identifier), names(earlier)
        try:
            found = session.execute(
                "select max(recorded_at) filter (where relation_name in (?, ?)), "
                "max(recorded_at) filter (where relation_name in (?, ?)) "
                f"from {state} where action = 'built'",
                [*(mine * 2)[:2], *(theirs * 2)[:2]],
            ).fetchall()
        except Exception:  # duckdb.CatalogException: no record (reuse layer off, another schema)
            return False
        built, earlier_built = found[0]
        return built is not None and earlier_built is not None and earlier_built < built

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
        """Each run's scores computed by its compiled SQL in DuckDB: the population relation (with
        its users' feature hashes, :meth:`hashed_population`) is bound as ``lookalike_input`` and the
        result streamed in Arrow batches (one in memory at a time). A run carried in part
        (``request.partial``, decision 0036) streams its carried rows (:meth:`carried_in_part`),
        then runs its SQL over the changed users only (:meth:`changed_population`)."""
        from ..batch_scoring import sql_scored_batch
        from ..outputs import (
            FEATURE_HASH,
            carried_rows,
            delta_markers_and_reused_rows,
            failure_marker,
            now,
            scoring_failed_message,
            with_delta_columns,
        )
        from ..sql import to_sql

        batch_size = int(request.batch_size)
        yield from delta_markers_and_reused_rows(request.reused_batches, request.failures)
        if not request.model_jsons:
            return
        for rid, model_json in sorted(request.model_jsons.items()):
            scorer = request.scorers.get(rid)
            if rid in request.partial:
                for batch in self.carried_in_part(request.previous, request.hashes, rid, batch_size):
                    yield carried_rows(batch, request.wanted.get(rid))
                source = self.changed_population(population, request.hashes, request.previous, rid)
            else:
                source = self.hashed_population(population, request.hashes)
            scored_at = now()
            try:
                sql = to_sql(model_json, "lookalike_input", dialect="duckdb", id_columns=("user_id", FEATURE_HASH))
                for batch in source.query("lookalike_input", sql).to_arrow_reader(batch_size):
                    scores = pa.RecordBatch.from_arrays([batch.column(0), batch.column(2)], names=["user_id", "score"])
                    yield with_delta_columns(
                        sql_scored_batch(rid, scores, scored_at, request.wanted.get(rid)), scorer, batch.column(1)
                    )
            except Exception as exc:  # reported as FAILED downstream, with this message
                marker = failure_marker(
                    rid, scoring_failed_message(rid, exc, "sql"), scored_at, request.wanted.get(rid)
                )
                yield with_delta_columns(marker, scorer)

    # --- scoring only what changed (decision 0036) ----------------------------------------------

    #: DuckDB scores only the users whose features changed (:meth:`changed_population`).
    partial_scoring = True

    def _over(self, sql: str, **inputs):
        """A relation of ``sql`` over the named ``inputs`` (the first is the one ``sql`` reads by its
        name). Relations of the build's DuckDB run there, the others inlined as CTEs from their SQL
        text (``sql_query``), so nothing is read into this process; Arrow inputs (tests) are
        registered in a new in-memory DuckDB."""
        names = list(inputs)
        if all(isinstance(inputs[n], duckdb.DuckDBPyRelation) for n in names):
            ctes = ", ".join(f"{n} as ({inputs[n].sql_query()})" for n in names[1:])
            return inputs[names[0]].query(names[0], f"with {ctes} {sql}" if ctes else sql)
        con = duckdb.connect()
        for n in names:
            con.register(n, self.to_arrow(inputs[n]))
        return con.sql(sql)

    def hashed_population(self, population, hashes):
        """The population with its users' feature hashes (``int_lookalike__population_feature_hashes``)
        in the column :data:`~lookalike_udf.outputs.FEATURE_HASH` (null without ``hashes``)."""
        from ..outputs import FEATURE_HASH

        if hashes is None:
            return self._over(
                f"select *, cast(null as varchar) as {FEATURE_HASH} from lookalike_population",
                lookalike_population=population,
            )
        return self._over(
            f"select p.*, h.feature_hash as {FEATURE_HASH} from lookalike_population as p "
            "left join lookalike_hashes as h on p.user_id = h.user_id",
            lookalike_population=population,
            lookalike_hashes=hashes,
        )

    def changed_population(self, population, hashes, previous, run_id: str):
        """The users of :meth:`hashed_population` that ``previous`` (this table from the last build)
        has no row of run ``run_id`` with the same feature hash for: new users and users whose
        features changed (an anti-join run by DuckDB, so only they reach the scorer)."""
        from ..outputs import FEATURE_HASH

        return self._over(
            f"select p.*, h.feature_hash as {FEATURE_HASH} from lookalike_population as p "
            "left join lookalike_hashes as h on p.user_id = h.user_id "
            "where not exists (select 1 from lookalike_previous as q "
            f"where q.run_id = {sql_literal(run_id)} and q.user_id = cast(p.user_id as varchar) "
            "and q.feature_hash = h.feature_hash)",
            lookalike_population=population,
            lookalike_hashes=hashes,
            lookalike_previous=previous,
        )

    def carried_in_part(self, previous, hashes, run_id: str, batch_size: int):
        """Arrow batches of ``previous``'s rows of run ``run_id`` whose user is still in the population
        with the same feature hash (read when iterated); users no longer there are left out."""
        relation = self._over(
            "select q.* from lookalike_previous as q "
            "inner join lookalike_hashes as h on q.user_id = cast(h.user_id as varchar) "
            "and q.feature_hash = h.feature_hash "
            f"where q.run_id = {sql_literal(run_id)} and q.user_id is not null",
            lookalike_previous=previous,
            lookalike_hashes=hashes,
        )
        yield from relation.to_arrow_reader(batch_size)


ENGINE = DuckDBEngine

#: One quoting and one relation name for DuckDB SQL (also :mod:`lookalike_udf.reuse`'s old names).
quote_identifier = DuckDBEngine.quote_identifier


def relation_name(this) -> str:
    """SQL name of dbt-duckdb's ``this`` (database.schema.identifier, each part quoted and escaped)."""
    return DuckDBEngine().relation_name(this)
