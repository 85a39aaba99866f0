"""Reuse of models and scores between builds (scheduled jobs where little changed).

A run's model is refitted only when what it was fitted on changed: its settings or any training
example (labels, weights, as-of times, splits and every feature value), the library, scikit-learn
or the model format. ``int_lookalike__run_fingerprints`` checksums the first two in SQL;
:func:`training_fingerprint` folds in the rest. Scores are recomputed only when the model or the
scored population changed (:func:`score_fingerprint`); when only the population changed, only
the users whose features changed are rescored (:func:`scorer_fingerprint`, decision 0036). The previous build's rows come from the
model's own table, which dbt-duckdb replaces only after the model succeeds; one rule,
:func:`carry_over`, decides which of them every entry point carries over.

The variable ``lookalike_force_retrain`` (the reference API's ``force``) refits and rescores
every run.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import sklearn

from . import __version__
from .engines import engine_for, engine_of
from .engines.duckdb import quote_identifier as quote_identifier  # old name: DuckDB quoting
from .engines.duckdb import relation_name as relation_name  # old name: dbt-duckdb's relation
from .engines.spark import relation_name as _spark_relation_name
from .settings import as_bool as as_bool  # old name: the dbt config value parser lives with the settings
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

#: Bump when a default fit parameter changes (an estimator's ``default_params`` or
#: ``supervised_params``), so that runs that set nothing retrain with the new defaults on the next
#: build instead of reusing a model fitted with the old ones (the library version alone does not
#: move between releases). "2": supervised hgb with min_samples_leaf <= 20 and no L2 (decision 0037).
MODEL_DEFAULTS_VERSION = "2"


def _digest(*parts) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def training_fingerprint(training_checksum: str | None, model_format: str) -> str | None:
    """What a run's fitted model depends on; None when there is nothing to fingerprint."""
    if not training_checksum:
        return None
    return _digest(
        "training",
        FINGERPRINT_VERSION,
        MODEL_DEFAULTS_VERSION,
        __version__,
        sklearn.__version__,
        model_format,
        training_checksum,
    )


def score_fingerprint(model_fingerprint: str | None, model_sha256: str, population_checksum: str | None) -> str | None:
    """What a run's population scores depend on: the model (its fingerprint and the SHA-256 of its
    JSON, :func:`lookalike_udf.integrity.model_sha256`, once verified) and the scored population."""
    if not model_fingerprint or not population_checksum:
        return None
    return _digest("scores", FINGERPRINT_VERSION, __version__, model_fingerprint, model_sha256, population_checksum)


def scorer_fingerprint(model_fingerprint: str | None, model_sha256: str, method: str) -> str | None:
    """What one user's score depends on besides the user's feature values (decision 0036): the
    model (its fingerprint and the SHA-256 of its JSON), the scoring method (``python`` and ``sql``
    agree to 1e-9, not bit for bit) and the library version. A run whose previous rows all hold
    this key keeps the rows of users whose feature hash is unchanged; None: never carried in part."""
    if not model_fingerprint:
        return None
    return _digest("scorer", FINGERPRINT_VERSION, __version__, model_fingerprint, model_sha256, method)


def reused_model_fingerprints(model_rows, force=False, models_unchanged=False) -> dict[str, str]:
    """run_id -> training_fingerprint of the runs whose derived rows (training predictions, quality
    report) may be carried over from the previous build: the runs whose model is the one those rows
    were computed with. Empty when ``force``.

    A run qualifies when its row of lookalike_run_models says ``training_action`` 'reused' (this
    build carried the model over from the previous table), or, with ``models_unchanged``, whatever
    its action: lookalike_run_models was not written since the derived table was
    (:func:`models_unchanged_since`), so every model row is the one the derived table read, e.g. a
    table kept as it was since the build that trained its models (decision 0047). A run refitted
    by this build ('trained', the table written after the derived one), a stored model that failed
    its checksum and was refitted under the same fingerprint among them, never qualifies. The
    caller carries a run only when its previous rows hold this ``training_fingerprint``
    (:func:`carry_over`) and its model verifies."""
    if as_bool(force):
        return {}
    return {
        row["run_id"]: row["training_fingerprint"]
        for row in model_rows
        if row.get("training_fingerprint") and (models_unchanged or row.get("training_action") == REUSED)
    }


#: The models table the derived tables read (decision 0047).
MODELS_TABLE = "lookalike_run_models"


def models_unchanged_since(session, this, state_schema, models: str = MODELS_TABLE) -> bool:
    """True when the reuse layer's record (``lookalike_build_state`` in ``state_schema``, the
    target schema; decision 0025) says that ``models`` (lookalike_run_models, in ``this``'s schema)
    was last built before the table of ``this`` (a derived table) was last built: the derived
    table's previous rows were computed from the model rows as they are now, so a run whose
    fingerprint is unchanged may carry them whatever its ``training_action``
    (:func:`reused_model_fingerprints`, decision 0047). False whenever the record cannot tell (no
    record: first build, reuse off, no library version; another schema; Spark): the runs then
    carry only when 'reused'."""
    if session is None or this is None:
        return False
    return engine_for(session).built_before(session, this, state_schema, models)


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


class CarryOver(NamedTuple):
    """What :func:`carry_over` returns. ``runs``: run_id -> wanted key of each run carried over (in
    run order); ``rows``: the previous rows of those runs, every column of ``previous``: an Arrow
    table read before :func:`carry_over` returned or, with ``batch_size``, Arrow batches read
    only when iterated."""

    runs: dict
    rows: object


def carry_over(
    engine,
    previous,
    key_column: str | tuple[str, ...],
    wanted: dict,
    *,
    run_column: str = "run_id",
    required: tuple[str, ...] = (),
    failed: tuple[str, str] | None = None,
    force=False,
    batch_size: int | None = None,
) -> CarryOver:
    """The previous build's rows of the runs whose stored key equals the wanted one: the one
    carry-over rule of every entry point (decision 0004).

    ``previous`` is the model's table from the previous build (:func:`previous_table`) or None;
    ``engine`` the entry point's (:func:`lookalike_udf.engines.engine_for`), which reads it.
    ``wanted`` maps run_id to the key this build would write: one value, or with several
    ``key_column`` names a tuple of one value per column; a run whose wanted key is None is never
    carried. Keys are compared as text.

    A run is carried when ``previous`` has rows for it, **every** one of them holds the wanted key,
    and none is marked failed (``failed``: (column, value), e.g. ``("scoring_action", "failed")``;
    ignored when ``previous`` lacks the column). Nothing is carried when ``previous`` is None,
    ``force`` is true (var lookalike_force_retrain, as rendered by dbt), ``wanted`` is empty, or
    ``previous`` lacks ``run_column``, a key column or a column of ``required`` (a table from an
    older release). Per-row checks that decide more than the key (a stored model's checksum, a SQL
    text's checksum) stay with the entry point.

    Without ``batch_size`` the rows are read now, as one Arrow table: Spark refuses to overwrite a
    table that the written DataFrame still reads, so nothing carried may stay lazy. With
    ``batch_size`` (population-sized rows) the runs are decided now from the distinct (run, key,
    marker) values, computed by the engine, and ``rows`` streams Arrow batches of at most
    ``batch_size`` rows when iterated (DuckDB: while dbt writes the new table, before the swap).
    A Spark engine keeps such rows on the executors instead: it narrows ``previous`` to
    ``runs`` (:meth:`~lookalike_udf.engines.Engine.where_in`) and materialises them itself.
    """
    keys = (key_column,) if isinstance(key_column, str) else tuple(key_column)
    text = {str(rid): _as_text(key, len(keys)) for rid, key in (wanted or {}).items()}
    wanted = {str(rid): key for rid, key in (wanted or {}).items() if text[str(rid)] is not None}
    text = {rid: key for rid, key in text.items() if key is not None}
    nothing = CarryOver({}, iter(()) if batch_size else pa.table({}))
    if as_bool(force) or previous is None or not text:
        return nothing
    columns = set(engine.columns(previous))
    if not {run_column, *keys, *required} <= columns:
        return nothing
    marker = failed if failed and failed[0] in columns else None
    names = [run_column, *keys] + ([marker[0]] if marker else [])
    narrowed = engine.where_in(previous, run_column, sorted(text))
    if batch_size is None:
        table = engine.to_arrow(narrowed)
        runs = _carried_runs(engine_of(table).distinct_rows(table, names), names, text, marker)
        return CarryOver({rid: wanted[rid] for rid in runs}, table.filter(_of_runs(table, run_column, runs)))
    runs = _carried_runs(engine.distinct_rows(narrowed, names), names, text, marker)
    return CarryOver({rid: wanted[rid] for rid in runs}, _streamed(engine, narrowed, run_column, runs, int(batch_size)))


def _as_text(key, n: int) -> tuple | None:
    """A wanted key as a tuple of ``n`` texts; None (never carried) when a value is None."""
    values = tuple(key) if n > 1 and key is not None else (key,)
    if len(values) != n:
        raise ValueError(f"a wanted key needs {n} values, found {key!r}")
    return None if any(v is None for v in values) else tuple(str(v) for v in values)


def _carried_runs(distinct: pa.Table, names: list[str], wanted: dict[str, tuple], marker) -> list[str]:
    """The runs of ``wanted`` whose distinct (run, key..., marker) rows hold only the wanted key and
    no failed marker, in run order."""
    run_column, keys = names[0], names[1 : len(names) - (1 if marker else 0)]
    found: dict[str, set] = {}
    failed = set()
    for row in distinct.to_pylist():
        rid = row[run_column]
        found.setdefault(rid, set()).add(tuple(None if row[k] is None else str(row[k]) for k in keys))
        if marker and row[marker[0]] is not None and str(row[marker[0]]) == str(marker[1]):
            failed.add(rid)
    return sorted(rid for rid, key in wanted.items() if found.get(rid) == {key} and rid not in failed)


def _of_runs(batch, run_column: str, runs):
    """Mask of ``batch``'s rows whose run (as text) is one of ``runs``."""
    return pc.is_in(pc.cast(batch.column(run_column), pa.string()), value_set=pa.array(list(runs), pa.string()))


def _streamed(engine, relation, run_column: str, runs: list[str], batch_size: int):
    """The rows of ``runs`` in ``relation``, read in Arrow batches only when iterated."""
    if not runs:
        return
    for batch in engine.batches(relation, batch_size):
        kept = batch.filter(_of_runs(batch, run_column, runs))
        if kept.num_rows:
            yield kept
