"""Integrity of the models stored in lookalike_run_models.

Every trained row carries ``model_sha256``: the SHA-256 (hex) of its ``model_json`` as written.
Before a stored model is reused (:func:`lookalike_udf.dbt_models.train_models`) or used to score
(training predictions, the population, the quality report), :func:`verify_stored_model` checks
that the JSON still has that checksum and that it loads (:meth:`LookalikeModel.from_json`
validates every index and the feature count). A model that fails is never used:

- ``train_models`` refits the run and says so in its ``status_message``
  (:func:`retrained_warning`);
- the models that use a stored model (:func:`load_verified_models`) leave that run out and get a
  message naming the run, lookalike_run_models, the cause and the fix (:func:`failure_message`);
  the population scores turn it into the run's failure marker, so lookalike_runs reports it FAILED.

A table written before ``model_sha256`` existed has no such column: its models are only checked
to load (the checksum is unknown, not wrong), and the next fit or reuse writes the checksum.

A run refitted on every label (decision 0032) has a second model, ``split_model_json`` with
``split_model_sha256``: the model fitted on the train split, which every metric describes.
:func:`split_model_row` presents it as a row of its own, so it is verified the same way
(``load_verified_models(..., split_models=True)``: training predictions, the quality report).

The checksum detects corruption and edits of ``model_json`` alone. It is not a signature: whoever
can rewrite both columns can replace a model.
"""

from __future__ import annotations

import hashlib

from .engines import engine_of
from .errors import LookalikeError
from .scoring import LookalikeModel
from .vocabulary import ModelStatus

__all__ = [
    "MODEL_RELATION",
    "CHECKSUM_MISMATCH",
    "StoredModelError",
    "model_sha256",
    "verify_stored_model",
    "load_verified_models",
    "split_model_row",
    "verify_split_model",
    "failure_message",
    "retrained_warning",
    "without_retrained_warnings",
]

#: The relation the stored models live in, named in every message.
MODEL_RELATION = "lookalike_run_models"
#: model_status of a row with a model.
TRAINED = ModelStatus.TRAINED
#: What a retrained warning says after the run's name (used to drop it from a reused row).
_RETRAINED_TAIL = "; it was retrained."
_SUBJECT = f"the stored model in {MODEL_RELATION}"

CHECKSUM_MISMATCH = "did not match its checksum model_sha256 (edited or corrupted since it was trained)"


class StoredModelError(Exception):
    """A stored model failed verification; ``cause`` completes "the stored model in
    lookalike_run_models ..." (e.g. "did not match its checksum ...")."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def model_sha256(model_json: str) -> str:
    """SHA-256 (hex) of the model JSON's UTF-8 bytes, as stored in ``model_sha256``."""
    return hashlib.sha256(model_json.encode("utf-8")).hexdigest()


def verify_stored_model(row: dict) -> LookalikeModel:
    """Check a lookalike_run_models row's model against its checksum and load it.

    ``row`` without a ``model_sha256`` key (a table from before the column existed) is only
    loaded; a key holding null or another digest is a mismatch. Raises :class:`StoredModelError`.
    """
    text = row.get("model_json")
    if not isinstance(text, str) or not text:
        raise StoredModelError("is missing (model_json is empty)")
    if "model_sha256" in row and row["model_sha256"] != model_sha256(text):
        raise StoredModelError(CHECKSUM_MISMATCH)
    try:
        return LookalikeModel.from_json(text)
    except LookalikeError as exc:  # the loader's own checks: their message says what is wrong
        raise StoredModelError(f"could not be loaded ({exc})") from exc
    except Exception as exc:  # anything read back from the warehouse may be malformed in any way
        raise StoredModelError(f"could not be loaded ({type(exc).__name__}: {exc})") from exc


def failure_message(run_id: str, cause: str) -> str:
    """The message of a run whose stored model failed verification when it was about to be used."""
    return (
        f"run '{run_id}': {_SUBJECT} {cause}, so it was not used. Run `dbt build` again to refit it "
        f"(a stored model that fails this check is refitted), or refit every run with "
        f"`dbt build --vars '{{lookalike_force_retrain: true}}'`."
    )


def retrained_warning(run_id: str, cause: str) -> str:
    """The status_message warning of a run refitted because its stored model failed verification."""
    return f"run '{run_id}': {_SUBJECT} {cause}{_RETRAINED_TAIL}"


def without_retrained_warnings(status_message: str | None) -> str | None:
    """``status_message`` without the retrained warnings of an earlier build (for a reused row:
    that warning was news of the build that refitted it)."""
    if not status_message:
        return status_message
    kept = [m for m in status_message.split(" | ") if not (f"': {_SUBJECT} " in m and m.endswith(_RETRAINED_TAIL))]
    return " | ".join(kept) or None


def _row_dicts(model_rows) -> list[dict]:
    engine = engine_of(model_rows)
    if not engine.fallback:  # a relation or DataFrame of an engine: read it as Arrow
        model_rows = engine.to_arrow(model_rows)
    if hasattr(model_rows, "to_pylist"):
        return model_rows.to_pylist()
    return list(model_rows)


def split_model_row(row: dict) -> dict:
    """The row with the model every metric describes in ``model_json`` / ``model_sha256``: the
    split model (``split_model_json`` / ``split_model_sha256``) of a run refitted on every label,
    else the row itself (its model_json is the split model). A row of a table without
    ``split_model_sha256`` is only loaded, as for ``model_sha256``."""
    if not row.get("split_model_json"):
        return row
    out = {key: value for key, value in row.items() if key != "model_sha256"}
    out["model_json"] = row["split_model_json"]
    if "split_model_sha256" in row:
        out["model_sha256"] = row["split_model_sha256"]
    return out


def verify_split_model(row: dict) -> LookalikeModel | None:
    """:func:`verify_stored_model` on the row's split model (``split_model_json``), None when the
    row has none. The cause of a :class:`StoredModelError` names the split model's columns."""
    if not row.get("split_model_json"):
        return None
    try:
        return verify_stored_model(split_model_row(row))
    except StoredModelError as exc:
        cause = exc.cause.replace("model_sha256", "split_model_sha256").replace("model_json", "split_model_json")
        raise StoredModelError(cause) from exc


def load_verified_models(model_rows, split_models: bool = False) -> tuple[dict[str, LookalikeModel], dict[str, str]]:
    """Verify and load the model of every TRAINED row of lookalike_run_models.

    ``model_rows`` are its rows (dicts, an Arrow table, or a relation or DataFrame of an engine). Returns
    ``(models, failures)``: run_id -> loaded model for the runs that pass, run_id ->
    :func:`failure_message` for those that do not. One run's failure never stops the others.
    ``split_models``: load the model the metrics describe (:func:`split_model_row`) instead of
    the one that scores the population.
    """
    models, failures = {}, {}
    for row in _row_dicts(model_rows):
        if row.get("model_status") != TRAINED:
            continue
        rid = row["run_id"]
        try:
            split = verify_split_model(row) if split_models else None
            models[rid] = split if split is not None else verify_stored_model(row)
        except StoredModelError as exc:
            failures[rid] = failure_message(rid, exc.cause)
    return models, failures
