"""Plain Arrow (and pandas): inputs already in this process, as the tests and notebooks pass them.

Tables are read as they are; what needs SQL (the compiled scoring SQL, aggregates) runs in an
in-memory DuckDB over the table (:class:`~lookalike_udf.engines.duckdb.DuckDBEngine`), which is
what the entry points did before the engine seam.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import Engine, engine_of
from .duckdb import DuckDBEngine

__all__ = ["ArrowEngine", "ENGINE"]


class ArrowEngine(Engine):
    name = "arrow"
    priority = 90
    fallback = True

    @classmethod
    def owns(cls, obj) -> bool:
        if isinstance(obj, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
            return True
        return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns")

    def read_own(self, obj) -> pa.Table:
        if isinstance(obj, pa.RecordBatch):
            return pa.Table.from_batches([obj])
        return pa.Table.from_pandas(obj, preserve_index=False)

    def to_arrow(self, obj) -> pa.Table:
        """As :meth:`Engine.to_arrow`; anything no engine claims is taken as a pandas DataFrame."""
        if isinstance(obj, (pa.Table, pa.RecordBatchReader)) or self.owns(obj):
            return super().to_arrow(obj)
        owner = engine_of(obj)
        if not owner.fallback:
            return owner.to_arrow(obj)
        return pa.Table.from_pandas(obj, preserve_index=False)

    def batches(self, obj, batch_size: int):
        if not isinstance(obj, (pa.Table, pa.RecordBatchReader)) and not self.owns(obj):
            owner = engine_of(obj)
            if not owner.fallback:
                yield from owner.batches(obj, batch_size)
                return
        if isinstance(obj, pa.RecordBatchReader):
            yield from obj
            return
        yield from self.to_arrow(obj).to_batches(max_chunksize=batch_size)

    def distinct_rows(self, obj, names: list[str]) -> pa.Table:
        table = self.to_arrow(obj)
        return (
            pa.table({name: pc.cast(table.column(name), pa.string()) for name in names}).group_by(names).aggregate([])
        )

    def column_stats(self, obj, stats: list[tuple]) -> list[float | None]:
        return DuckDBEngine().column_stats(self.to_arrow(obj), stats)

    def sql_score_batches(self, population, request):
        return DuckDBEngine().sql_score_batches(self.to_arrow(population), request)

    # Scoring only what changed (decision 0036): in an in-memory DuckDB over the Arrow inputs.
    partial_scoring = True

    def hashed_population(self, population, hashes):
        return DuckDBEngine().hashed_population(population, hashes)

    def changed_population(self, population, hashes, previous, run_id: str):
        return DuckDBEngine().changed_population(population, hashes, previous, run_id)

    def carried_in_part(self, previous, hashes, run_id: str, batch_size: int):
        return DuckDBEngine().carried_in_part(previous, hashes, run_id, batch_size)


ENGINE = ArrowEngine
