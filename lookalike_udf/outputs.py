"""The tables the Python dbt models write, and the rows that mark a failure.

Output schemas (one per Python model) and the failure marker of population scoring, in one module
that depends on nothing but pyarrow and the vocabulary, so that every engine
(:mod:`lookalike_udf.engines`) and every entry point builds the same rows. The old names remain
importable from :mod:`lookalike_udf.dbt_models`, :mod:`lookalike_udf.quality` and
:mod:`lookalike_udf.export`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from .vocabulary import ScoringAction

__all__ = [
    "RUN_MODEL_SCHEMA",
    "PREDICTION_SCHEMA",
    "SCORE_SCHEMA",
    "DELTA_SCORE_SCHEMA",
    "FEATURE_HASH",
    "SCORING_SQL_SCHEMA",
    "REASON_SCHEMA",
    "FEATURE_REPORT_SCHEMA",
    "EXPORT_SCHEMA",
    "TRAINING_LOG_SCHEMA",
    "constant",
    "now",
    "failure_marker",
    "scoring_failed_message",
    "markers_and_reused_rows",
    "with_delta_columns",
    "delta_markers_and_reused_rows",
    "carried_rows",
]

# --- lookalike_run_models ----------------------------------------------------------------------
RUN_MODEL_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("model_status", pa.string()),
        ("status_message", pa.string()),
        ("model_format", pa.string()),
        ("model_json", pa.string()),
        ("model_sha256", pa.string()),
        ("feature_names", pa.string()),
        ("n_features", pa.int64()),
        ("model_params", pa.string()),
        ("training_method", pa.string()),
        ("model_type", pa.string()),
        ("n_train_users", pa.int64()),
        ("n_test_users", pa.int64()),
        ("n_train_examples", pa.int64()),
        ("n_test_examples", pa.int64()),
        ("training_started_at", pa.timestamp("us")),
        ("training_finished_at", pa.timestamp("us")),
        ("sklearn_version", pa.string()),
        ("library_version", pa.string()),
        ("training_fingerprint", pa.string()),
        ("training_action", pa.string()),
        # The model fitted on the train split, when the run was refitted on every label (decision
        # 0032): every metric describes it; model_json (the refit) scores the population. Null
        # when model_json is itself the split model.
        ("split_model_json", pa.string()),
        ("split_model_sha256", pa.string()),
    ]
)

# --- lookalike_training_predictions ------------------------------------------------------------
PREDICTION_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("example_id", pa.string()),
        ("user_id", pa.string()),
        ("split", pa.string()),
        ("example_source", pa.string()),
        ("label", pa.int32()),
        ("weight", pa.float64()),
        ("score", pa.float64()),
        ("training_fingerprint", pa.string()),
    ]
)

# --- lookalike_run_training_log ----------------------------------------------------------------
TRAINING_LOG_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("model_type", pa.string()),
        ("member", pa.int64()),
        ("iteration", pa.int64()),
        ("train_loss", pa.float64()),
        ("validation_loss", pa.float64()),
        ("model_sha256", pa.string()),
    ]
)

# --- int_lookalike__population_scores ----------------------------------------------------------
#: Per-run constants are dictionary-encoded (written as VARCHAR): a 64-character fingerprint per
#: row would otherwise cost more memory than the scores themselves at 10M users.
_DICT = pa.dictionary(pa.int32(), pa.string())
SCORE_SCHEMA = pa.schema(
    [
        ("run_id", _DICT),
        ("user_id", pa.string()),
        ("score", pa.float64()),
        ("scored_at", pa.timestamp("us")),
        ("score_fingerprint", _DICT),
        ("scoring_action", _DICT),
        ("scoring_message", _DICT),
    ]
)
#: What DuckDB (and plain Arrow) write (decision 0036): SCORE_SCHEMA plus the run's scorer
#: fingerprint (:func:`lookalike_udf.reuse.scorer_fingerprint`) and the user's feature hash
#: (``int_lookalike__population_feature_hashes``) when the row was scored, so that the next build
#: rescores only the users whose features changed. Spark writes SCORE_SCHEMA.
DELTA_SCORE_SCHEMA = pa.schema(list(SCORE_SCHEMA) + [("scorer_fingerprint", _DICT), ("feature_hash", pa.string())])
#: The column a population batch carries its users' feature hashes in (the SQL that joins
#: ``int_lookalike__population_feature_hashes`` names it so; not a reserved feature name: a
#: snapshot column of this name would be shadowed, which is why it is this long).
FEATURE_HASH = "lookalike_feature_hash"

# --- lookalike_run_scoring_sql -----------------------------------------------------------------
SCORING_SQL_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("dialect", pa.string()),
        ("sql_text", pa.string()),
        ("sql_bytes", pa.int64()),
        ("sql_sha256", pa.string()),
        ("feature_names", pa.string()),
        ("model_sha256", pa.string()),
        ("training_fingerprint", pa.string()),
        ("library_version", pa.string()),
        ("compiled_at", pa.timestamp("us")),
        ("compile_action", pa.string()),
        ("compile_error", pa.string()),
        ("compile_message", pa.string()),
    ]
)

# --- lookalike_user_reasons --------------------------------------------------------------------
REASON_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("user_id", pa.string()),
        ("score_rank", pa.int64()),
        ("score", pa.float64()),
        ("raw_score", pa.float64()),
        ("raw_score_space", pa.string()),
        ("bias", pa.float64()),
        *[
            (f"reason_{r}_{part}", kind)
            for r in range(1, 4)
            for part, kind in (("feature", pa.string()), ("value", pa.string()), ("contribution", pa.float64()))
        ],
        ("other_contribution", pa.float64()),
        ("model_sha256", pa.string()),
    ]
)

# --- lookalike_feature_importance (lookalike_udf.quality) --------------------------------------
FEATURE_REPORT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("feature", pa.string()),
        ("feature_kind", pa.string()),
        ("reference_value", pa.string()),
        ("importance", pa.float64()),
        ("importance_std", pa.float64()),
        ("correlation", pa.float64()),
        ("prevalence_target", pa.float64()),
        ("prevalence_population", pa.float64()),
        ("prevalence_kind", pa.string()),
        ("lift", pa.float64()),
        ("rank", pa.int64()),
        ("training_fingerprint", pa.string()),
    ]
)

# --- lookalike_audience_exports (lookalike_udf.export) -----------------------------------------
EXPORT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("audience_export_path", pa.string()),
        ("file_path", pa.string()),
        ("file_format", pa.string()),
        ("n_rows", pa.int64()),
        ("export_status", pa.string()),
        ("export_message", pa.string()),
        ("exported_at", pa.timestamp("us")),
    ]
)


# --- rows ----------------------------------------------------------------------------------------


def constant(value: str | None, n: int) -> pa.DictionaryArray:
    """``n`` copies of ``value`` (or nulls) as a dictionary array of one entry."""
    if value is None:
        return pa.DictionaryArray.from_arrays(pa.nulls(n, type=pa.int32()), pa.array([], type=pa.string()))
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], type=pa.string()))


def now() -> dt.datetime:
    """The current time as a naive UTC datetime (what the ``*_at`` columns hold)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def scoring_failed_message(rid: str, exc: BaseException, method: str | None = None, text: str | None = None) -> str:
    """scoring_message of a run whose scoring raised ``exc`` (``method``: the scoring method named
    when it is not the default; ``text``: the error's text when not ``str(exc)``)."""
    how = f" (lookalike_scoring_engine: {method})" if method else ""
    return f"run '{rid}': scoring failed{how}: {type(exc).__name__}: {exc if text is None else text}"


def failure_marker(rid: str, message: str, scored_at: dt.datetime, fingerprint: str | None) -> pa.RecordBatch:
    """The one row that marks a run whose scoring failed (``user_id`` and ``score`` null,
    ``scoring_action`` 'failed', the message in ``scoring_message``; see
    :func:`lookalike_udf.dbt_models.score_population`)."""
    return pa.record_batch(
        {
            "run_id": constant(rid, 1),
            "user_id": pa.nulls(1, pa.string()),
            "score": pa.nulls(1, pa.float64()),
            "scored_at": pa.array([scored_at], type=pa.timestamp("us")),
            "score_fingerprint": constant(fingerprint, 1),
            "scoring_action": constant(ScoringAction.FAILED, 1),
            "scoring_message": constant(message, 1),
        },
        schema=SCORE_SCHEMA,
    )


def markers_and_reused_rows(reused_batches, failures: dict | None):
    """First batches of every engine's population scores: a marker per run whose stored model failed
    verification, then the rows carried over from the previous build (as :data:`SCORE_SCHEMA`)."""
    for rid, message in sorted((failures or {}).items()):
        yield failure_marker(rid, message, now(), None)
    for batch in reused_batches:
        n = batch.num_rows
        yield pa.record_batch(
            {
                "run_id": batch.column("run_id").cast(pa.string()).dictionary_encode(),
                "user_id": batch.column("user_id").cast(pa.string()),
                "score": batch.column("score").cast(pa.float64()),
                "scored_at": batch.column("scored_at").cast(pa.timestamp("us")),
                "score_fingerprint": batch.column("score_fingerprint").cast(pa.string()).dictionary_encode(),
                "scoring_action": constant(ScoringAction.REUSED, n),
                "scoring_message": constant(None, n),
            },
            schema=SCORE_SCHEMA,
        )


def with_delta_columns(batch: pa.RecordBatch, scorer: str | None, hashes=None) -> pa.RecordBatch:
    """A :data:`SCORE_SCHEMA` batch as :data:`DELTA_SCORE_SCHEMA`: ``scorer`` on every row and
    ``hashes`` (an array of the batch's length) as feature_hash, or nulls."""
    n = batch.num_rows
    feature_hash = pa.nulls(n, pa.string()) if hashes is None else hashes.cast(pa.string())
    return pa.RecordBatch.from_arrays(
        [*batch.columns, constant(scorer, n), feature_hash],
        schema=DELTA_SCORE_SCHEMA,
    )


def carried_rows(batch, fingerprint: str | None = None) -> pa.RecordBatch:
    """A previous build's rows carried over as :data:`DELTA_SCORE_SCHEMA` (scoring_action
    'reused', score and scored_at as they were). ``fingerprint``: the score_fingerprint they get
    (a run carried in part takes this build's; by default the stored one). A table from before
    decision 0036 has no scorer_fingerprint / feature_hash: null."""
    n = batch.num_rows
    names = batch.schema.names

    def stored(name):
        if name not in names:
            return pa.nulls(n, pa.string())
        return batch.column(name).cast(pa.string())

    return pa.record_batch(
        {
            "run_id": batch.column("run_id").cast(pa.string()).dictionary_encode(),
            "user_id": batch.column("user_id").cast(pa.string()),
            "score": batch.column("score").cast(pa.float64()),
            "scored_at": batch.column("scored_at").cast(pa.timestamp("us")),
            "score_fingerprint": (
                constant(fingerprint, n) if fingerprint else stored("score_fingerprint").dictionary_encode()
            ),
            "scoring_action": constant(ScoringAction.REUSED, n),
            "scoring_message": constant(None, n),
            "scorer_fingerprint": stored("scorer_fingerprint").dictionary_encode(),
            "feature_hash": stored("feature_hash"),
        },
        schema=DELTA_SCORE_SCHEMA,
    )


def delta_markers_and_reused_rows(reused_batches, failures: dict | None):
    """:func:`markers_and_reused_rows` as :data:`DELTA_SCORE_SCHEMA` (what DuckDB writes)."""
    for rid, message in sorted((failures or {}).items()):
        yield with_delta_columns(failure_marker(rid, message, now(), None), None)
    for batch in reused_batches:
        yield carried_rows(batch)
