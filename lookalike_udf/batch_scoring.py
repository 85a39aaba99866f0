"""Population scores and user reasons over Arrow batches: the computation every engine runs.

DuckDB and plain Arrow run it in the dbt process over streamed batches; Spark runs the same
functions on its executors (``mapInArrow``, :mod:`lookalike_udf.engines.spark`). Nothing here
knows which engine it runs in: the engine is a parameter where one is needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .outputs import (
    REASON_SCHEMA,
    SCORE_SCHEMA,
    constant,
    failure_marker,
    markers_and_reused_rows,
    now,
    scoring_failed_message,
)
from .vocabulary import ScoringAction

__all__ = [
    "ScoringRequest",
    "scored_batches",
    "sql_scored_batch",
    "reason_batches",
    "driver_score_batches",
]


@dataclass
class ScoringRequest:
    """What :func:`lookalike_udf.dbt_models.score_population` asks an engine to compute.

    ``method``: var lookalike_scoring_engine (``python`` or ``sql``); ``models``: run_id -> loaded
    model of the runs to score; ``model_jsons``: their verified JSON; ``wanted``: run_id -> score
    fingerprint of every scorable run; ``reused``: run_id -> fingerprint of the runs whose previous
    rows are carried over from ``previous`` (decided by :func:`lookalike_udf.reuse.carry_over`);
    ``reused_batches``: those rows as Arrow batches, read only when iterated (an engine that keeps
    them where they are, Spark, narrows ``previous`` to ``reused`` instead); ``failures``:
    run_id -> message of the runs whose stored model failed verification.
    """

    method: str
    models: dict
    model_jsons: dict[str, str]
    wanted: dict
    reused: dict[str, str]
    failures: dict
    previous: object = None
    batch_size: int = 100_000
    reused_batches: object = ()

    def features(self) -> set[str]:
        """The feature columns the models to score read."""
        return {f for m in self.models.values() for f in m.feature_names}


def scored_batches(population_batches, to_score: dict, wanted: dict, scored_at: dt.datetime):
    """Each Arrow batch of the population scored by each model of ``to_score`` (run_id -> model),
    as :data:`SCORE_SCHEMA` batches. A run whose scoring raises gets a marker row
    (:func:`~lookalike_udf.outputs.failure_marker`) and no more batches; the other runs go on."""
    failed: set[str] = set()
    for batch in population_batches:
        n = batch.num_rows
        user_ids = batch.column(batch.schema.get_field_index("user_id")).cast(pa.string())
        stamp = pa.array(np.full(n, np.datetime64(scored_at, "us")), type=pa.timestamp("us"))
        for rid, model in to_score.items():
            if rid in failed:
                continue
            try:
                scores = model.predict(batch)
            except Exception as exc:  # reported as FAILED downstream, with this message
                failed.add(rid)
                yield failure_marker(rid, scoring_failed_message(rid, exc), scored_at, wanted.get(rid))
                continue
            yield pa.record_batch(
                {
                    "run_id": constant(rid, n),
                    "user_id": user_ids,
                    "score": pa.array(scores, type=pa.float64()),
                    "scored_at": stamp,
                    "score_fingerprint": constant(wanted.get(rid), n),
                    "scoring_action": constant(ScoringAction.SCORED, n),
                    "scoring_message": constant(None, n),
                },
                schema=SCORE_SCHEMA,
            )


def sql_scored_batch(
    rid: str, batch: pa.RecordBatch, scored_at: dt.datetime, fingerprint: str | None
) -> pa.RecordBatch:
    """A :data:`SCORE_SCHEMA` batch of a run's compiled SQL result (columns user_id, score)."""
    n = batch.num_rows
    return pa.record_batch(
        {
            "run_id": constant(rid, n),
            "user_id": batch.column(0).cast(pa.string()),
            "score": batch.column(1).cast(pa.float64()),
            "scored_at": pa.array(np.full(n, np.datetime64(scored_at, "us")), type=pa.timestamp("us")),
            "score_fingerprint": constant(fingerprint, n),
            "scoring_action": constant(ScoringAction.SCORED, n),
            "scoring_message": constant(None, n),
        },
        schema=SCORE_SCHEMA,
    )


def driver_score_batches(engine, population, request: ScoringRequest):
    """The batches of the ``python`` scoring method in this process: a marker per run whose stored
    model failed verification, reused rows, then each population batch scored."""
    yield from markers_and_reused_rows(request.reused_batches, request.failures)
    if not request.models:
        return
    yield from scored_batches(
        engine.batches(population, int(request.batch_size)), request.models, request.wanted, now()
    )


def reason_batches(audience_batches, usable: dict, digests: dict):
    """:data:`REASON_SCHEMA` batches of the audience's Arrow batches: ``usable`` maps run_id to its
    model, ``digests`` run_id to its ``model_sha256``. A run whose reasons raise gets no more rows."""
    from .reasons import N_REASONS, top_reasons

    failed: set[str] = set()
    for batch in audience_batches:
        run_ids = batch.column(batch.schema.get_field_index("run_id")).cast(pa.string())
        for rid in sorted(r for r in pc.unique(run_ids).to_pylist() if r in usable and r not in failed):
            rows = batch.filter(pc.equal(run_ids, rid))
            model = usable[rid]
            try:
                reasons = top_reasons(model, rows, N_REASONS)
            except Exception:  # one run's failure stays in that run: it has no rows
                failed.add(rid)
                continue
            n = rows.num_rows
            columns = {
                "run_id": pa.array([rid] * n, pa.string()),
                "user_id": rows.column(rows.schema.get_field_index("user_id")).cast(pa.string()),
                "score_rank": rows.column(rows.schema.get_field_index("audience_score_rank")).cast(pa.int64()),
                "score": rows.column(rows.schema.get_field_index("audience_score")).cast(pa.float64()),
                "raw_score_space": pa.array([model.raw_space] * n, pa.string()),
                "model_sha256": pa.array([digests[rid]] * n, pa.string()),
            }
            for name in REASON_SCHEMA.names:
                if name not in columns:
                    columns[name] = pa.array(reasons[name], type=REASON_SCHEMA.field(name).type, from_pandas=True)
            yield pa.record_batch([columns[name] for name in REASON_SCHEMA.names], schema=REASON_SCHEMA)
