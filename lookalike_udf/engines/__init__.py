"""The engine seam: everything that depends on where the data lives (DuckDB, Spark, plain Arrow).

The dbt Python models hand the library DuckDB relations (dbt-duckdb), Spark DataFrames (dbt-spark)
or, in tests, Arrow tables. Each entry point picks its :class:`Engine` once, with
:func:`engine_for` over its inputs, and does every engine-specific thing through it: reading
inputs as Arrow (:meth:`Engine.to_arrow`, :meth:`Engine.batches`), filtering before reading
(:meth:`Engine.where_in`), small aggregates (:meth:`Engine.column_stats`,
:meth:`Engine.distinct_rows`), the previous build's table (:meth:`Engine.previous_table`),
identifier quoting, population scoring and reasons (:meth:`Engine.population_scores`,
:meth:`Engine.user_reasons`) and what the model returns to dbt (:meth:`Engine.output`).

No other library module imports duckdb or pyspark (``tests/unit/test_engine_seam.py``).

Engines are the modules of this package, found when first asked for: adding one is one module
that defines ``ENGINE``, a subclass of :class:`Engine` (plus its ``dispatch`` macros on the SQL
side). :func:`engine_for` tries them by ``priority`` (lowest first); plain Arrow (:mod:`.arrow`)
takes what no other engine claims.

An input of another engine than the entry point's (an Arrow table passed with Spark DataFrames,
as the tests do) is read by its own engine: :meth:`Engine.to_arrow` and :meth:`Engine.batches`
hand it over.
"""

from __future__ import annotations

import importlib
import pkgutil

import pyarrow as pa

__all__ = ["Engine", "engine_for", "engine_of", "engines"]


class Engine:
    """What the library needs from the engine that holds a build's relations.

    The defaults run on this process over Arrow; an engine overrides what it does itself.
    ``session`` is the engine's connection (DuckDB connection, SparkSession), when it has one.
    """

    #: Name of the engine (the dbt adapter type where there is one).
    name = "engine"
    #: Order in which :func:`engine_for` asks the engines (lowest first).
    priority = 50
    #: True when the build's database is a single-writer file that BI tools cannot read while a build
    #: runs, so :func:`lookalike_udf.serving.publish` copies the marts into a serving file (DuckDB).
    serving_file = False
    #: True only for plain Arrow: the engine of what no other engine claims.
    fallback = False

    def __init__(self, session=None):
        self.session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} engine>"

    # --- recognising the engine's objects ----------------------------------------------------

    @classmethod
    def owns(cls, obj) -> bool:
        """True when ``obj`` is a relation, frame or session of this engine."""
        return False

    @classmethod
    def bind(cls, obj) -> Engine:
        """The engine for ``obj`` (one this engine :meth:`owns`), bound to its session."""
        return cls()

    # --- reading --------------------------------------------------------------------------------

    def read_own(self, obj) -> pa.Table:
        """One of this engine's frames read whole as an Arrow table."""
        raise NotImplementedError(f"{self!r} cannot read {type(obj).__name__}")

    def to_arrow(self, obj) -> pa.Table:
        """``obj`` as an Arrow table, read whole: only for small inputs and training samples.

        Arrow tables are returned as they are, Arrow streams read to the end; a frame of another
        engine is read by that engine.
        """
        if isinstance(obj, pa.Table):
            return obj
        if isinstance(obj, pa.RecordBatchReader):
            return obj.read_all()
        if self.owns(obj):
            return self.read_own(obj)
        return engine_of(obj).to_arrow(obj)

    def batches(self, obj, batch_size: int):
        """Arrow record batches of at most ``batch_size`` rows of ``obj`` (by default read whole,
        then cut; an engine that can stream overrides it)."""
        if isinstance(obj, pa.RecordBatchReader):
            yield from obj
            return
        if not isinstance(obj, pa.Table) and not self.owns(obj):
            yield from engine_of(obj).batches(obj, batch_size)
            return
        yield from self.to_arrow(obj).to_batches(max_chunksize=batch_size)

    def columns(self, obj) -> list[str]:
        """Column names of ``obj``."""
        if isinstance(obj, (pa.Table, pa.RecordBatch)):
            return obj.column_names
        return [str(c) for c in getattr(obj, "columns", [])]

    def where_in(self, obj, column: str, values):
        """``obj``'s rows whose ``column`` is in ``values`` when the engine filters before reading;
        by default ``obj`` unchanged (the caller filters the Arrow rows). A frame of another engine
        is filtered by that engine."""
        if self.owns(obj) or isinstance(obj, (pa.Table, pa.RecordBatchReader)):
            return obj
        return engine_of(obj).where_in(obj, column, values)

    def count(self, obj) -> int:
        """Number of rows of ``obj``."""
        return self.to_arrow(obj).num_rows

    def distinct_rows(self, obj, names: list[str]) -> pa.Table:
        """The distinct rows of ``obj``'s columns ``names`` as text (string columns of an Arrow table;
        for small results: a few rows per run)."""
        raise NotImplementedError(f"{self!r} has no distinct_rows")

    def column_stats(self, obj, stats: list[tuple]) -> list[float | None]:
        """Aggregates of ``obj`` in one pass, computed where the data is (one row comes back).

        Each entry of ``stats`` is ``("mean", column)`` (the mean of the column cast to double,
        nulls left out) or ``("share", column, value)`` (the share of the column's non-null values
        whose text equals ``value``; None when there are none). Returns one value per entry.
        """
        raise NotImplementedError(f"{self!r} has no column_stats")

    # --- names and the previous build ---------------------------------------------------------

    @staticmethod
    def quote_identifier(name) -> str:
        """``name`` as a quoted SQL identifier of this engine (embedded quotes escaped)."""
        return '"' + str(name).replace('"', '""') + '"'

    def relation_name(self, this) -> str:
        """SQL name of dbt's ``this`` (database.schema.identifier, each part quoted)."""
        parts = [getattr(this, attr, None) for attr in ("database", "schema", "identifier")]
        if not parts[2]:
            return repr(this)
        return ".".join(self.quote_identifier(p) for p in parts if p)

    def previous_table(self, session, this):
        """The model's table from the previous build (dbt's ``this``), or None on a first build."""
        return None

    def built_before(self, session, this, state_schema, earlier: str) -> bool:
        """True when the reuse layer's record (``lookalike_build_state`` in ``state_schema``, decision
        0025) says that the table ``earlier`` (an identifier in ``this``'s schema) was last built
        before ``this``'s table was last built: ``this``'s rows were then computed from ``earlier``'s
        rows as they are now (decision 0047). False whenever it cannot tell; by default (Spark,
        plain Arrow) the record is not read."""
        return False

    # --- results --------------------------------------------------------------------------------

    def output(self, table: pa.Table):
        """What an entry point returns to dbt for the Arrow result ``table`` (default: the table)."""
        return table

    def population_scores(self, population, request):
        """The population scores (:class:`lookalike_udf.batch_scoring.ScoringRequest`): by default
        a stream of Arrow batches scored in this process (dbt-duckdb writes it batch by batch), as
        :data:`~lookalike_udf.outputs.DELTA_SCORE_SCHEMA` (with the scorer fingerprint and the
        users' feature hashes, decision 0036)."""
        from ..batch_scoring import driver_score_batches
        from ..outputs import DELTA_SCORE_SCHEMA

        if request.method == "sql":
            batches = self.sql_score_batches(population, request)
        else:
            batches = driver_score_batches(self, population, request)
        return pa.RecordBatchReader.from_batches(DELTA_SCORE_SCHEMA, batches)

    # --- scoring only what changed (decision 0036) ----------------------------------------------

    #: True when the engine can score only the users whose feature hash changed
    #: (:meth:`changed_population`, :meth:`carried_in_part`); otherwise a run whose population
    #: changed is rescored whole (Spark).
    partial_scoring = False

    def hashed_population(self, population, hashes):
        """The population with its users' feature hashes in the column
        :data:`~lookalike_udf.outputs.FEATURE_HASH`; by default the population as it is (the
        scores then store no hash)."""
        return population

    def changed_population(self, population, hashes, previous, run_id: str):
        """The users of the population whose feature hash differs from ``previous``'s row of run
        ``run_id`` (or who have none), with their hashes (:attr:`partial_scoring` engines only)."""
        raise NotImplementedError(f"{self!r} cannot score part of a run")

    def carried_in_part(self, previous, hashes, run_id: str, batch_size: int):
        """Arrow batches of ``previous``'s rows of run ``run_id`` whose user's feature hash is
        unchanged (:attr:`partial_scoring` engines only)."""
        raise NotImplementedError(f"{self!r} cannot score part of a run")

    def sql_score_batches(self, population, request):
        """Score batches of the ``sql`` scoring method (each run's compiled SQL run by the engine)."""
        raise NotImplementedError(f"{self!r} cannot run the compiled scoring SQL")

    def user_reasons(
        self, audience, usable: dict, model_jsons: dict[str, str], digests: dict[str, str], batch_size: int
    ):
        """lookalike_user_reasons of ``audience`` (a stream of Arrow batches computed here by default)."""
        from ..batch_scoring import reason_batches
        from ..outputs import REASON_SCHEMA

        return pa.RecordBatchReader.from_batches(
            REASON_SCHEMA, reason_batches(self.batches(audience, int(batch_size)), usable, digests)
        )


_ENGINES: list[type[Engine]] | None = None


def engines() -> list[type[Engine]]:
    """The engine classes (every module of this package that defines ``ENGINE``), by priority."""
    global _ENGINES
    if _ENGINES is None:
        found = []
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            engine = getattr(module, "ENGINE", None)
            if isinstance(engine, type) and issubclass(engine, Engine):
                found.append(engine)
        _ENGINES = sorted(found, key=lambda e: (e.priority, e.name))
    return _ENGINES


def engine_of(obj) -> Engine:
    """The engine that owns ``obj`` (plain Arrow for anything no engine claims)."""
    for engine in engines():
        if engine.owns(obj):
            return engine.bind(obj)
    return _fallback()()


def engine_for(*objs) -> Engine:
    """The engine of an entry point: that of the first of ``objs`` that belongs to an engine other
    than plain Arrow (None and Arrow inputs are skipped); plain Arrow when there is none."""
    for obj in objs:
        if obj is None:
            continue
        engine = engine_of(obj)
        if not engine.fallback:
            return engine
    return _fallback()()


def _fallback() -> type[Engine]:
    """The engine of what no other engine claims (plain Arrow, :mod:`.arrow`)."""
    return next(engine for engine in engines() if engine.fallback)
