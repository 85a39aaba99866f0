"""Entry points for the package's Python dbt models: one call per model.

Each function takes the model's inputs as DuckDB relations (anything with ``to_arrow_table()`` /
``to_arrow_reader()``), Arrow tables, or Spark DataFrames (dbt-spark), does the work in the library,
and returns what dbt writes back: an Arrow table or stream, or a Spark DataFrame when the inputs
are Spark DataFrames. Each entry point picks its engine once from its inputs
(:func:`lookalike_udf.engines.engine_for`) and reads, filters and returns through it; population
scoring and reasons run where the engine runs them (:mod:`lookalike_udf.engines.spark`: on the
executors). Output schemas and failure markers: :mod:`lookalike_udf.outputs`. A failure in one run
is caught and reported in that run's row, so the other runs and the build go on.
"""

from __future__ import annotations

import json
import traceback

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sklearn

from . import __version__
from .batch_scoring import ScoringRequest
from .batch_scoring import reason_batches as reason_batches  # old import path
from .batch_scoring import scored_batches as scored_batches  # old import path
from .engines import engine_for
from .errors import LookalikeError, RunValidationError
from .integrity import (
    StoredModelError,
    load_verified_models,
    model_sha256,
    retrained_warning,
    verify_split_model,
    verify_stored_model,
    without_retrained_warnings,
)
from .outputs import PREDICTION_SCHEMA, RUN_MODEL_SCHEMA, SCORING_SQL_SCHEMA
from .outputs import REASON_SCHEMA as REASON_SCHEMA  # old import path
from .outputs import SCORE_SCHEMA as SCORE_SCHEMA  # old import path
from .outputs import failure_marker as failure_marker  # old import path
from .outputs import now as _now
from .reuse import (
    REUSED,
    carry_over,
    reused_model_fingerprints,
    score_fingerprint,
    scorer_fingerprint,
    training_fingerprint,
)
from .reuse import TRAINED as ACTION_TRAINED
from .reuse import models_unchanged_since as models_unchanged_since  # re-exported: the dbt Python models call it
from .reuse import previous_table as previous_table  # re-exported: the dbt Python models call it
from .scoring import MODEL_FORMAT
from .training import fit_run_models
from .tuning import leakage_sentence
from .validation import check_run
from .vocabulary import ModelStatus, ScoringAction

# model_status values (lookalike_udf.vocabulary.ModelStatus), kept under their old names.
TRAINED = ModelStatus.TRAINED
FAILED = ModelStatus.FAILED


def _rows(engine, relation) -> list[dict]:
    return engine.to_arrow(relation).to_pylist()


def _for_run(table: pa.Table, run_id: str) -> pa.Table:
    """The run's rows in example_id order: a warehouse returns rows in no fixed order, and the fit
    (bins, bags, early-stopping split) depends on it, so the same examples must give the same model."""
    rows = table.filter(pc.equal(table.column("run_id"), run_id))
    return rows.sort_by("example_id") if "example_id" in rows.column_names else rows


def _training_settings(run: dict) -> dict:
    """The run's model settings (int_lookalike__runs columns) as fit_run_model keyword arguments.

    A column missing from ``run`` (an older runs relation) keeps fit_run_model's default.
    """
    settings = {}
    for name in (
        "pu_method",
        "pu_bags",
        "model_type",
        "sample_size",
        "extra_attention",
        "tune_model",
        "tune_time_budget_seconds",
        "auto_tune",
        "refit_on_all_labels",
    ):
        if run.get(name) is not None:
            settings[name] = run[name]
    return settings


def _checksums(engine, fingerprints) -> dict[str, dict]:
    if fingerprints is None:
        return {}
    return {row["run_id"]: row for row in _rows(engine, fingerprints)}


def train_models(runs, label_summary, examples, fingerprints=None, previous=None, force=False) -> pa.Table:
    """Validate and train every run. One row per run of ``runs`` (int_lookalike__runs).

    ``label_summary`` is lookalike_input_label_summary; ``examples`` is
    int_lookalike__training_examples. ``fingerprints`` (int_lookalike__run_fingerprints) and
    ``previous`` (this table from the previous build, or None) let a run whose settings and
    training examples are unchanged keep its model: its previous row is carried over with
    ``training_action`` 'reused', once its model passes :func:`verify_stored_model` (its
    ``model_sha256`` checksum and a load); a model that fails is refitted, with a warning in the
    run's ``status_message``. ``force`` (var lookalike_force_retrain) refits every run.
    Returns rows of :data:`RUN_MODEL_SCHEMA` (a Spark DataFrame when the inputs are).
    """
    engine = engine_for(runs, label_summary, examples, fingerprints, previous)
    summaries = {row["run_id"]: row for row in _rows(engine, label_summary)}
    checksums = _checksums(engine, fingerprints)
    run_rows = sorted(_rows(engine, runs), key=lambda r: r["run_id"])
    wanted = {
        run["run_id"]: training_fingerprint((checksums.get(run["run_id"]) or {}).get("training_checksum"), MODEL_FORMAT)
        for run in run_rows
    }
    carried = carry_over(
        engine, previous, "training_fingerprint", wanted, required=("training_fingerprint", "model_json"), force=force
    )
    earlier = {row["run_id"]: row for row in carried.rows.to_pylist()}  # runs whose fingerprint is unchanged
    example_table = engine.to_arrow(examples)
    out = []
    for run in run_rows:
        started = _now()
        rid = run["run_id"]
        check = check_run(run, summaries.get(rid))
        fingerprint = wanted[rid]
        before = earlier.get(rid)
        integrity_warning = None
        if check.ok and fingerprint and before and before.get("model_status") == TRAINED:
            try:
                verify_stored_model(before)
                verify_split_model(before)  # the model of the metrics, when the run was refitted
            except StoredModelError as exc:  # edited or corrupted since it was stored: refit
                integrity_warning = retrained_warning(rid, exc.cause)
            else:
                row = {name: before.get(name) for name in RUN_MODEL_SCHEMA.names}
                # A table from before model_sha256 existed: the model loaded, so record its checksum now.
                row["model_sha256"] = model_sha256(before["model_json"])
                if before.get("split_model_json"):
                    row["split_model_sha256"] = model_sha256(before["split_model_json"])
                row["status_message"] = without_retrained_warnings(before.get("status_message"))
                row["training_action"] = REUSED
                out.append(row)
                continue
        row = {name: None for name in RUN_MODEL_SCHEMA.names}
        row.update(
            run_id=rid, training_started_at=started, sklearn_version=sklearn.__version__, library_version=__version__
        )
        run_examples = _for_run(example_table, rid)
        split = run_examples.column("split").to_numpy(zero_copy_only=False) if run_examples.num_rows else np.array([])
        row["n_train_examples"] = int((split == "train").sum())
        row["n_test_examples"] = int((split == "test").sum())
        users = run_examples.column("user_id").to_numpy(zero_copy_only=False) if run_examples.num_rows else np.array([])
        row["n_train_users"] = len(set(users[split == "train"]))
        row["n_test_users"] = len(set(users[split == "test"]))
        messages = list(check.errors) + list(check.warnings)
        if integrity_warning:
            messages.append(integrity_warning)
        if check.ok:
            try:
                fitted = fit_run_models(rid, run_examples, int(run.get("random_seed") or 0), **_training_settings(run))
                model = fitted.scoring  # scores the population; fitted.split describes the metrics
                model_json = model.to_json()
                if fitted.refitted:
                    split_json = fitted.split.to_json()
                    row.update(split_model_json=split_json, split_model_sha256=model_sha256(split_json))
                row.update(
                    model_status=TRAINED,
                    model_format=MODEL_FORMAT,
                    model_json=model_json,
                    model_sha256=model_sha256(model_json),
                    feature_names=json.dumps(model.feature_names),
                    n_features=len(model.feature_names),
                    model_params=json.dumps(model.params, sort_keys=True),
                    training_method=model.params.get("training_method"),
                    model_type=model.params.get("model_type"),
                    training_fingerprint=fingerprint,
                    training_action=ACTION_TRAINED,
                )
                dropped = fitted.split.encoder.dropped_  # the refit is fitted on the split model's features only
                if dropped:
                    messages.append(
                        f"run '{rid}': features not used: "
                        + "; ".join(f"{k} ({v})" for k, v in sorted(dropped.items()))
                    )
                selected = model.params.get("feature_selection")
                if selected and selected["dropped"]:
                    messages.append(
                        f"run '{rid}': auto_tune dropped {len(selected['dropped'])} feature(s): "
                        + ", ".join(d["feature"] for d in selected["dropped"])
                        + " (reasons in model_params.feature_selection)"
                    )
                if model.params.get("suspected_leakage"):
                    messages.append(leakage_sentence(rid, model.params["suspected_leakage"]))
            except RunValidationError as exc:
                row["model_status"] = FAILED
                messages.insert(0, str(exc))
            except Exception as exc:  # one run's crash must not stop the others
                row["model_status"] = FAILED
                last = traceback.format_exception_only(type(exc), exc)[-1].strip()
                messages.insert(0, f"run '{rid}': training failed: {last}")
        else:
            row["model_status"] = FAILED
        row["status_message"] = " | ".join(messages) if messages else None
        row["training_finished_at"] = _now()
        out.append(row)
    return engine.output(pa.Table.from_pylist(out, schema=RUN_MODEL_SCHEMA))


def predict_training_examples(models, examples, previous=None, force=False, models_unchanged=False) -> pa.Table:
    """Score every training example of every trained run with the stored model (train and test).

    The model is the one fitted on the train split (``split_model_json`` when the run was refitted
    on every label, else ``model_json``), so the test split's scores are held-out scores.

    For a bagging PU model, the unlabeled examples of the train split get out-of-bag scores
    (:meth:`LookalikeModel.predict_training`), so train metrics do not reward memorised negatives.
    A run whose model was reused keeps its rows of ``previous`` (this table from the previous
    build) when they carry the same ``training_fingerprint``: same model, same examples. With
    ``models_unchanged`` (:func:`~lookalike_udf.reuse.models_unchanged_since`: ``models`` was not
    written since ``previous`` was) every run whose fingerprint is unchanged keeps them, whatever
    its ``training_action`` (decision 0047).
    A run whose stored model fails :func:`load_verified_models` gets no rows (so no metrics).
    """
    engine = engine_for(models, examples, previous)
    example_table = engine.to_arrow(examples)
    model_rows = {row["run_id"]: row for row in _rows(engine, models)}
    # The split model (fitted on the train split) of a run refitted on every label: these rows feed
    # the metrics, so they must come from the model that never saw the test split (decision 0032).
    loaded, _failures = load_verified_models(model_rows.values(), split_models=True)
    carried = carry_over(
        engine,
        previous,
        "training_fingerprint",
        reused_model_fingerprints([model_rows[rid] for rid in loaded], force, models_unchanged),
        required=("training_fingerprint",),
    )
    parts = []
    found = set(carried.runs)
    if carried.rows.num_rows:
        parts.append(carried.rows.select(PREDICTION_SCHEMA.names).cast(PREDICTION_SCHEMA))
    for rid, model in sorted(loaded.items()):
        if rid in found:
            continue
        run_examples = _for_run(example_table, rid)
        scores = model.predict_training(run_examples)  # out-of-bag for bagging PU's unlabeled train rows
        parts.append(
            pa.table(
                {
                    "run_id": run_examples.column("run_id").cast(pa.string()),
                    "example_id": run_examples.column("example_id").cast(pa.string()),
                    "user_id": run_examples.column("user_id").cast(pa.string()),
                    "split": run_examples.column("split").cast(pa.string()),
                    "example_source": run_examples.column("example_source").cast(pa.string()),
                    "label": run_examples.column("label").cast(pa.int32()),
                    "weight": run_examples.column("weight").cast(pa.float64()),
                    "score": pa.array(scores, type=pa.float64()),
                    "training_fingerprint": pa.array(
                        [model_rows[rid].get("training_fingerprint")] * run_examples.num_rows, type=pa.string()
                    ),
                },
                schema=PREDICTION_SCHEMA,
            )
        )
    out = pa.concat_tables(parts) if parts else PREDICTION_SCHEMA.empty_table()
    return engine.output(out)


def score_population(
    models,
    population,
    batch_size: int = 100_000,
    runs=None,
    fingerprints=None,
    previous=None,
    force=False,
    engine: str = "python",
    hashes=None,
) -> pa.RecordBatchReader:
    """Score the population (one row per user, latest snapshot) with every trained model.

    Returns a stream: dbt-duckdb writes it batch by batch through its own cursor while the
    population is read in Arrow batches of ``batch_size`` rows, so memory stays flat however large
    the population is. Only (run_id, user_id, score) and per-run constants are produced.
    ``runs`` (int_lookalike__runs), when given, leaves out build_only runs.

    A run whose scoring raises gets one marker row (``user_id`` and ``score`` null,
    ``scoring_action = 'failed'``, ``scoring_message`` naming the run and the error) and no more
    batches; lookalike_user_scores leaves that run out and lookalike_runs reports it FAILED with
    the message. The other runs go on. So does a run whose stored model fails
    :func:`load_verified_models` (checksum or load): it is neither scored nor carried over, and
    its marker says how to recover.

    ``engine`` (var lookalike_scoring_engine) says who computes the scores: ``python`` (the stored
    model's Python scorer over Arrow batches) or ``sql`` (the model compiled to SQL by
    :mod:`lookalike_udf.sql` and run by the warehouse over the population relation; the Python
    process only streams the result). Both give the same scores to 1e-9.

    Every row carries the run's ``score_fingerprint`` (its model's training fingerprint and
    verified ``model_sha256``, and the population's checksum from ``fingerprints``). A run whose
    fingerprint equals the one in ``previous`` (this table from the previous build) keeps its
    previous rows, ``scored_at`` included, unless ``force``.

    A run whose fingerprint changed but whose model did not (the population changed: new,
    changed or removed users) is carried in part (decision 0036) when ``hashes``
    (int_lookalike__population_feature_hashes: user_id, feature_hash) is given, the engine can
    (:attr:`lookalike_udf.engines.Engine.partial_scoring`: DuckDB, plain Arrow; not Spark), and
    every previous row of the run holds this build's :func:`~lookalike_udf.reuse.scorer_fingerprint`
    with no failure marker: the previous rows of users whose feature hash is unchanged are kept
    (``scoring_action`` 'reused', their ``scored_at`` kept, this build's ``score_fingerprint``),
    users no longer in the population are dropped, and only the others are scored. ``force``
    rescores every run whole.

    The work is done by the population's engine (:meth:`lookalike_udf.engines.Engine.population_scores`). When
    ``population`` is a Spark DataFrame the result is a Spark DataFrame computed on the executors
    (:mod:`lookalike_udf.engines.spark`): ``python`` scores with ``mapInArrow``, ``sql`` runs the
    Spark SQL compilation with ``spark.sql``.
    """
    backend = engine_for(population)  # the seam's engine; ``engine`` is the scoring method
    model_rows = {row["run_id"]: row for row in _rows(backend, models)}  # read once: what is verified is what scores
    loaded, failures = load_verified_models(model_rows.values())
    if runs is not None:
        build_only = {r["run_id"] for r in _rows(backend, runs) if r.get("build_only")}
        loaded = {rid: m for rid, m in loaded.items() if rid not in build_only}
        failures = {rid: m for rid, m in failures.items() if rid not in build_only}
    checksums = _checksums(backend, fingerprints)
    method = scoring_engine(engine)
    wanted, scorers = {}, {}
    for rid in loaded:
        row = model_rows[rid]
        digest = model_sha256(row["model_json"])
        fp = score_fingerprint(
            row.get("training_fingerprint"), digest, (checksums.get(rid) or {}).get("population_checksum")
        )
        if fp:
            wanted[rid] = fp
        scorer = scorer_fingerprint(row.get("training_fingerprint"), digest, method)
        if scorer:
            scorers[rid] = scorer
    # A run with a failure marker (scoring failed part-way) is never carried over.
    carried = carry_over(
        backend,
        previous,
        "score_fingerprint",
        wanted,
        failed=("scoring_action", ScoringAction.FAILED),
        force=force,
        batch_size=int(batch_size),
    )
    to_score = {rid: m for rid, m in sorted(loaded.items()) if rid not in carried.runs}
    # Decision 0036: a run whose model is unchanged (the same scorer) keeps the rows of users whose
    # features are unchanged; the same rule as above, on the scorer key, with every row hashed.
    partial = {}
    if backend.partial_scoring and hashes is not None:
        partial = carry_over(
            backend,
            previous,
            "scorer_fingerprint",
            {rid: scorers[rid] for rid in to_score if rid in scorers},
            required=("feature_hash", "user_id"),
            failed=("scoring_action", ScoringAction.FAILED),
            force=force,
            batch_size=int(batch_size),
        ).runs
    request = ScoringRequest(
        method=method,
        models=to_score,
        model_jsons={rid: model_rows[rid]["model_json"] for rid in to_score},
        wanted=wanted,
        reused=carried.runs,
        failures=failures,
        previous=previous,
        batch_size=int(batch_size),
        reused_batches=carried.rows,
        scorers=scorers,
        partial=partial,
        hashes=hashes if backend.partial_scoring else None,
    )
    return backend.population_scores(population, request)


SCORING_ENGINES = ("python", "sql")


def scoring_engine(value) -> str:
    """The var lookalike_scoring_engine as one of :data:`SCORING_ENGINES` (None means python)."""
    engine = "python" if value is None else str(value).strip().lower()
    if engine not in SCORING_ENGINES:
        raise LookalikeError(f"var lookalike_scoring_engine is {value!r}; use python or sql")
    return engine


def sql_sha256(sql_text: str) -> str:
    """SHA-256 (hex) of a scoring SQL text's UTF-8 bytes, as stored in lookalike_run_scoring_sql.sql_sha256
    (DuckDB's ``sha256(sql_text)`` and Spark's ``sha2(sql_text, 256)`` give the same digest)."""
    return model_sha256(sql_text)


def sql_recompiled_message(run_id: str, dialect: str) -> str:
    """compile_message of a row compiled again because the previous build's SQL text failed its checksum."""
    return (
        f"run '{run_id}': the stored {dialect} SQL in lookalike_run_scoring_sql did not match its checksum "
        "sql_sha256 (edited or corrupted since it was compiled), so it was not reused; it was compiled again "
        "from the run's stored model."
    )


def _dialect_list(value, target_dialect: str | None = None) -> list[str]:
    """var lookalike_scoring_sql_dialects as a list (dbt renders a list variable in a config as text).

    Null (the default) means the dialect of the warehouse the package builds in (``target.type``),
    the one macro ``lookalike.score`` reads; none when that warehouse has no sqlglot dialect here.
    Compiling a 20-member ensemble for each of six dialects took 61 s of a 180 s first build at
    200k users, most of it beside population scoring (issue 17), for SQL most projects never run.
    """
    from .sql import DIALECTS

    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        target = str(target_dialect or "").strip().lower()
        return [target] if target in DIALECTS else []
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text.replace("'", '"')) if text.startswith("[") else [text]
        except ValueError:
            raise LookalikeError(
                f"var lookalike_scoring_sql_dialects is {value!r}; use a list such as [duckdb, snowflake]"
            ) from None
    names = [str(v).strip().lower() for v in value]
    unknown = [n for n in names if n not in DIALECTS]
    if unknown:
        raise LookalikeError(
            f"var lookalike_scoring_sql_dialects names {', '.join(map(repr, unknown))}; "
            f"the dialects are {', '.join(DIALECTS)}"
        )
    return list(dict.fromkeys(names))


def scoring_sql(models, dialects=None, previous=None, force=False, target_dialect: str | None = "duckdb") -> pa.Table:
    """The SQL that scores new rows with each run's stored model, per dialect (lookalike_run_scoring_sql).

    One row per trained run and dialect. ``sql_text`` is one SELECT returning ``user_id`` and
    ``score`` (0..1) for every row of a relation named ``lookalike_input`` that has ``user_id`` and
    the model's ``feature_names`` as columns: prefix it with ``with lookalike_input as (...)``
    (macro ``lookalike.score`` does). It equals the Python scorer to 1e-9. A row whose
    ``model_sha256`` and ``library_version`` equal the previous build's is carried over
    (``compile_action`` 'reused') only when its ``sql_text`` still matches its ``sql_sha256``; a text
    that does not (edited in the table since it was compiled) is never carried over: the SQL is
    compiled again from the stored model and ``compile_message`` says so. A run whose stored model
    fails verification gets rows with a null ``sql_text`` and the reason in ``compile_error``.
    ``dialects`` None means ``[target_dialect]`` (:func:`_dialect_list`).
    """
    from .sql import to_sql

    engine = engine_for(models, previous)
    names = _dialect_list(dialects, target_dialect)
    model_rows = {row["run_id"]: row for row in _rows(engine, models)}
    loaded, failures = load_verified_models(model_rows.values())
    digests = {rid: model_sha256(model_rows[rid]["model_json"]) for rid in loaded}
    # Runs whose model and library are unchanged; each of their rows is checked below.
    carried = carry_over(
        engine,
        previous,
        ("model_sha256", "library_version"),
        {rid: (digest, __version__) for rid, digest in digests.items()},
        required=tuple(SCORING_SQL_SCHEMA.names),
        force=force,
    )
    before = {}
    if carried.runs:
        for row in carried.rows.select(SCORING_SQL_SCHEMA.names).to_pylist():
            before[(row["run_id"], row["dialect"])] = row
    out = []
    for rid in sorted(set(loaded) | set(failures)):
        row = model_rows[rid]
        digest = digests[rid] if rid in loaded else row.get("model_sha256")
        for dialect in names:
            earlier = before.get((rid, dialect))
            message = None
            if (
                rid in loaded
                and earlier
                and earlier["model_sha256"] == digest
                and earlier["compile_error"] is None
                and earlier["library_version"] == __version__
                and earlier["sql_text"]
            ):
                if earlier["sql_sha256"] == sql_sha256(earlier["sql_text"]):
                    out.append({**earlier, "compile_action": REUSED, "compile_message": None})
                    continue
                message = sql_recompiled_message(rid, dialect)
            text, error = None, failures.get(rid)
            if rid in loaded:
                try:
                    text = to_sql(row["model_json"], "lookalike_input", dialect=dialect, id_columns=("user_id",))
                except Exception as exc:  # one run or dialect that cannot be expressed stays one row
                    error = (
                        f"run '{rid}': the model could not be compiled to {dialect} SQL: {type(exc).__name__}: {exc}"
                    )
            out.append(
                {
                    "run_id": rid,
                    "dialect": dialect,
                    "sql_text": text,
                    "sql_bytes": len(text.encode("utf-8")) if text else None,
                    "sql_sha256": sql_sha256(text) if text else None,
                    "feature_names": json.dumps(loaded[rid].feature_names)
                    if rid in loaded
                    else row.get("feature_names"),
                    "model_sha256": digest,
                    "training_fingerprint": row.get("training_fingerprint"),
                    "library_version": __version__,
                    "compiled_at": _now(),
                    "compile_action": "compiled",
                    "compile_error": error,
                    "compile_message": message,
                }
            )
    return engine.output(pa.Table.from_pylist(out, schema=SCORING_SQL_SCHEMA))


def user_reasons(models, audience_features, batch_size: int = 100_000) -> pa.RecordBatchReader:
    """The top 3 reasons of every audience user (lookalike_user_reasons), from the stored models.

    ``audience_features`` (int_lookalike__reason_inputs) holds one row per run and audience user:
    ``run_id``, ``audience_score``, ``audience_score_rank`` and the user's row of
    lookalike_inference_features. It is read in Arrow batches of ``batch_size`` rows, so the cost
    follows the audience, not the population. Each run's model is verified as for scoring
    (:func:`load_verified_models`); a run whose model fails, whose model type gives no
    contributions, or whose reasons raise, gets no rows (the other runs go on).
    Definitions: :mod:`lookalike_udf.reasons`. A Spark DataFrame ``audience_features`` is processed
    on the executors (``mapInArrow``) and gives a Spark DataFrame.
    """
    engine = engine_for(audience_features)
    model_rows = {row["run_id"]: row for row in _rows(engine, models)}
    loaded, _failures = load_verified_models(model_rows.values())
    usable = {rid: m for rid, m in loaded.items() if m.raw_space is not None}
    digests = {rid: model_sha256(model_rows[rid]["model_json"]) for rid in usable}
    return engine.user_reasons(
        audience_features, usable, {rid: model_rows[rid]["model_json"] for rid in usable}, digests, int(batch_size)
    )
