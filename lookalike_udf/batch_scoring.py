"""Population scores and user reasons over Arrow batches: the computation every engine runs.

DuckDB and plain Arrow run it in the dbt process over streamed batches; Spark runs the same
functions on its executors (``mapInArrow``, :mod:`lookalike_udf.engines.spark`). Nothing here
knows which engine it runs in: the engine is a parameter where one is needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .outputs import (
    FEATURE_HASH,
    REASON_SCHEMA,
    SCORE_SCHEMA,
    carried_rows,
    constant,
    delta_markers_and_reused_rows,
    failure_marker,
    now,
    scoring_failed_message,
    with_delta_columns,
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

    Decision 0036: ``scorers``: run_id -> scorer fingerprint of every scorable run
    (:func:`lookalike_udf.reuse.scorer_fingerprint`); ``partial``: the runs of ``models`` whose
    model is unchanged but whose population changed, carried in part (only on an engine with
    :attr:`~lookalike_udf.engines.Engine.partial_scoring`): their previous rows whose user's
    feature hash is unchanged are carried, the other users scored; ``hashes``: the population's
    feature hashes (``int_lookalike__population_feature_hashes``) or None.
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
    scorers: dict = field(default_factory=dict)
    partial: dict = field(default_factory=dict)
    hashes: object = None

    def features(self) -> set[str]:
        """The feature columns the models to score read."""
        return {f for m in self.models.values() for f in m.feature_names}


def scored_batches(
    population_batches, to_score: dict, wanted: dict, scored_at: dt.datetime, scorers: dict | None = None
):
    """Each Arrow batch of the population scored by each model of ``to_score`` (run_id -> model),
    as :data:`SCORE_SCHEMA` batches. A run whose scoring raises gets a marker row
    (:func:`~lookalike_udf.outputs.failure_marker`) and no more batches; the other runs go on.

    With ``scorers`` (run_id -> scorer fingerprint) the batches are
    :data:`~lookalike_udf.outputs.DELTA_SCORE_SCHEMA`, feature_hash taken from the population
    batch's :data:`~lookalike_udf.outputs.FEATURE_HASH` column (null when it has none)."""
    failed: set[str] = set()
    for batch in population_batches:
        n = batch.num_rows
        user_ids = batch.column(batch.schema.get_field_index("user_id")).cast(pa.string())
        hashes = batch.column(FEATURE_HASH) if FEATURE_HASH in batch.schema.names else None
        stamp = pa.array(np.full(n, np.datetime64(scored_at, "us")), type=pa.timestamp("us"))
        for rid, model in to_score.items():
            if rid in failed:
                continue
            try:
                scores = model.predict(batch)
            except Exception as exc:  # reported as FAILED downstream, with this message
                failed.add(rid)
                marker = failure_marker(rid, scoring_failed_message(rid, exc), scored_at, wanted.get(rid))
                yield marker if scorers is None else with_delta_columns(marker, scorers.get(rid))
                continue
            out = pa.record_batch(
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
            yield out if scorers is None else with_delta_columns(out, scorers.get(rid), hashes)


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
    """The batches of the ``python`` scoring method in this process, as
    :data:`~lookalike_udf.outputs.DELTA_SCORE_SCHEMA`: a marker per run whose stored model failed
    verification, reused rows, then each run carried in part (``request.partial``: its previous
    rows whose user's features are unchanged, then its changed users scored, decision 0036), then
    each population batch scored by the other runs."""
    batch_size = int(request.batch_size)
    yield from delta_markers_and_reused_rows(request.reused_batches, request.failures)
    if not request.models:
        return
    for rid in sorted(r for r in request.partial if r in request.models):
        for batch in engine.carried_in_part(request.previous, request.hashes, rid, batch_size):
            yield carried_rows(batch, request.wanted.get(rid))
        changed = engine.changed_population(population, request.hashes, request.previous, rid)
        yield from scored_batches(
            engine.batches(changed, batch_size), {rid: request.models[rid]}, request.wanted, now(), request.scorers
        )
    whole = {rid: m for rid, m in request.models.items() if rid not in request.partial}
    if whole:
        source = engine.hashed_population(population, request.hashes)
        yield from scored_batches(engine.batches(source, batch_size), whole, request.wanted, now(), request.scorers)


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
