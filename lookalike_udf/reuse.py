"""Reuse of models and scores between builds (scheduled jobs where little changed).

A run's model is refitted only when what it was fitted on changed: its settings or any training
example (labels, weights, as-of times, splits and every feature value), the library, scikit-learn
or the model format. ``int_lookalike__run_fingerprints`` checksums the first two in SQL;
:func:`training_fingerprint` folds in the rest. Scores are recomputed only when the model or the
scored population changed (:func:`score_fingerprint`). The previous build's rows come from the
model's own table, which dbt-duckdb replaces only after the model succeeds.

The variable ``lookalike_force_retrain`` (the reference API's ``force``) refits and rescores
every run.
"""

from __future__ import annotations

import hashlib

import sklearn

from . import __version__
from .batch_scoring import previous_score_batches as _previous_score_batches
from .engines import engine_for
from .engines.duckdb import quote_identifier as quote_identifier  # old name: DuckDB quoting
from .engines.duckdb import relation_name as relation_name  # old name: dbt-duckdb's relation
from .engines.spark import relation_name as _spark_relation_name
from .vocabulary import ScoringAction, TrainingAction

# Aliases kept for the modules and tests that import them from here (values: lookalike_udf.vocabulary).
TRAINED = TrainingAction.TRAINED  # training_action 'trained', not model_status 'TRAINED'
REUSED = TrainingAction.REUSED  # also scoring_action 'reused' (ScoringAction.REUSED, the same string)
SCORED = ScoringAction.SCORED
#: scoring_action of the marker row a run gets when its scoring fails part-way (see score_population).
SCORING_FAILED = ScoringAction.FAILED
#: dbt-spark's relation name (old name; :func:`lookalike_udf.engines.spark.relation_name`).
spark_relation_name = _spark_relation_name

#: Bump when the meaning of a fingerprint changes, so that old tables are never reused.
FINGERPRINT_VERSION = "1"


def _digest(*parts) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def training_fingerprint(training_checksum: str | None, model_format: str) -> str | None:
    """What a run's fitted model depends on; None when there is nothing to fingerprint."""
    if not training_checksum:
        return None
    return _digest("training", FINGERPRINT_VERSION, __version__, sklearn.__version__, model_format, training_checksum)


def score_fingerprint(model_fingerprint: str | None, model_sha256: str, population_checksum: str | None) -> str | None:
    """What a run's population scores depend on: the model (its fingerprint and the SHA-256 of its
    JSON, :func:`lookalike_udf.integrity.model_sha256`, once verified) and the scored population."""
    if not model_fingerprint or not population_checksum:
        return None
    return _digest("scores", FINGERPRINT_VERSION, __version__, model_fingerprint, model_sha256, population_checksum)


def as_bool(value) -> bool:
    """A dbt config value as a boolean: dbt renders ``{{ var(...) }}`` to the strings
    'True' / 'False'."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("", "false", "0", "no", "off", "none", "null"):
            return False
        raise ValueError(f"expected a boolean for var lookalike_force_retrain, found {value!r}; use true or false")
    return bool(value)


def reused_model_fingerprints(model_rows, force=False) -> dict[str, str]:
    """run_id -> training_fingerprint of the runs whose model this build reused (rows of
    lookalike_run_models): the runs whose derived rows (training predictions, quality report) may
    be carried over from the previous build. Empty when ``force``."""
    if as_bool(force):
        return {}
    return {
        row["run_id"]: row["training_fingerprint"]
        for row in model_rows
        if row.get("training_action") == REUSED and row.get("training_fingerprint")
    }


def previous_table(session, this):
    """The model's table from the previous build, or None on the first build.

    ``this`` is dbt's ``dbt.this``; ``session`` the model's session, whose engine reads the table
    (:meth:`lookalike_udf.engines.Engine.previous_table`). Its ``repr`` is the relation name quoted
    without escaping, so the name is rebuilt from ``database`` / ``schema`` / ``identifier`` with
    each quote doubled (``repr`` only when those are missing). The table is read before dbt-duckdb
    replaces it, so a model can carry rows over.

    With a SparkSession (dbt-spark) it is a lazy Spark DataFrame of the table (:func:`spark_relation_name`),
    or None when the table does not exist. Spark refuses to overwrite a table that the written
    DataFrame still reads, so the entry points read what they carry over before returning.
    """
    if session is None or this is None:
        return None
    return engine_for(session).previous_table(session, this)


def previous_model_rows(previous, required: tuple[str, ...], engine=None) -> dict[str, dict]:
    """Rows of the previous lookalike_run_models by run_id; empty when there is no previous table
    or it predates a column in ``required`` (then everything is refitted). ``engine``: the entry
    point's (:func:`lookalike_udf.engines.engine_for`; by default ``previous``'s)."""
    if previous is None:
        return {}
    engine = engine or engine_for(previous)
    if not set(required) <= set(engine.columns(previous)):
        return {}
    return {row["run_id"]: row for row in engine.to_arrow(previous).to_pylist()}


def previous_score_batches(previous, run_fingerprints: dict[str, str], batch_size: int, engine=None):
    """Stream the previous build's score rows of the runs whose ``score_fingerprint`` is unchanged
    (:func:`lookalike_udf.batch_scoring.previous_score_batches`, read by ``engine``, by default
    ``previous``'s)."""
    if previous is None:
        return iter(())
    return _previous_score_batches(previous, run_fingerprints, batch_size, engine or engine_for(previous))


def reused_score_runs(previous, run_fingerprints: dict[str, str], engine=None) -> set[str]:
    """The runs whose previous scores carry the same fingerprint (so they can be reused).
    ``engine``: the entry point's (by default ``previous``'s)."""
    if previous is None or not run_fingerprints:
        return set()
    engine = engine or engine_for(previous)
    columns = engine.columns(previous)
    if "score_fingerprint" not in columns:
        return set()
    names = ["run_id", "score_fingerprint"] + (["scoring_action"] if "scoring_action" in columns else [])
    pairs = engine.distinct_rows(previous, names)  # a few rows per run, as text
    found, failed = {}, set()
    for row in pairs.to_pylist():
        found.setdefault(row["run_id"], set()).add(row["score_fingerprint"])
        if row.get("scoring_action") == SCORING_FAILED:
            failed.add(row["run_id"])  # a run whose scoring failed part-way is never reused
    return {rid for rid, fp in run_fingerprints.items() if found.get(rid) == {fp} and rid not in failed}
