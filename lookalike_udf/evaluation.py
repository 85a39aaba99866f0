"""The per-iteration training log of every run's stored model (lookalike_run_training_log).

The log is stored in the model JSON beside ``params`` (``training_log``: one entry per member):
what scikit-learn recorded while early stopping (:func:`lookalike_udf.estimators.hgb.early_stopping_log`,
free), completed once for the stored model by :func:`complete_training_log`; the fitted model is
not changed. :func:`training_log` reads it back from ``lookalike_run_models`` as rows. Only models that pass :func:`lookalike_udf.integrity.load_verified_models`
(checksum and load) are read, and the log is plain JSON, validated here: nothing is unpickled.
The other evaluation relations (log loss, accuracy, the confusion matrix, feature info) are SQL
macros; see docs/evaluation.md.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from .engines import engine_for
from .estimators.base import ModelFormatError, _decode_float
from .integrity import load_verified_models
from .outputs import TRAINING_LOG_SCHEMA

__all__ = ["complete_training_log", "training_log", "training_log_rows"]


def weighted_log_loss(proba, y, w) -> float:
    """sklearn.metrics.log_loss(y, proba, sample_weight=w, labels=[0, 1]): probabilities clipped to
    [eps, 1 - eps], eps float64's machine epsilon."""
    eps = np.finfo(np.float64).eps
    proba = np.asarray(proba, dtype=np.float64)
    yf = np.asarray(y, dtype=np.float64)
    losses = -(yf * np.log(np.clip(proba, eps, 1 - eps)) + (1.0 - yf) * np.log(np.clip(1.0 - proba, eps, 1 - eps)))
    return float(np.average(losses, weights=np.asarray(w, dtype=np.float64)))


def _member_log(payload: dict, X, y, w, n_iter=None) -> dict:
    """The log of one fitted member on its fitted rows, from its stored payload: per tree for hgb
    (the staged log loss, as scikit-learn's ``staged_predict_proba`` gives it), else one entry,
    the final loss, at the last iteration (logistic: lbfgs keeps no per-iteration loss; rf: the tree
    count). No validation loss: only early stopping holds one out."""
    from .estimators import load
    from .estimators.hgb import HGBScorer

    scorer = load(payload)
    if isinstance(scorer, HGBScorer):
        losses = [weighted_log_loss(1.0 / (1.0 + np.exp(-raw)), y, w) for raw in scorer.staged_raw(X)]
        return {
            "iteration": list(range(1, len(losses) + 1)),
            "train_loss": losses,
            "validation_loss": None,
        }
    last = len(payload["trees"]) if isinstance(payload.get("trees"), list) else int(n_iter or 1)
    return {
        "iteration": [last],
        "train_loss": [weighted_log_loss(scorer.predict_proba_positive(X), y, w)],
        "validation_loss": None,
    }


def complete_training_log(payload: dict, logs, X, y, w, example_ids=None, n_iter=None) -> list[dict]:
    """The stored model's training log, one entry per member (a bagging PU payload: per bag, in
    member order; else one), at fit time. ``logs`` is what the fit recorded (a dict, a list with
    None for members without one, or None); a missing entry is computed here once, on the rows
    that member was fitted on (``X``, ``y``, ``w`` of the train split; a bag's rows from its stored
    membership recipe and ``example_ids``). ``n_iter`` is the fit's recorded iteration count (an
    int, or one per member), the iteration of a one-entry log."""
    from .estimators.bagging import FORMAT as BAGGING

    if payload.get("format") != BAGGING:
        log = logs[0] if isinstance(logs, list) else logs
        return [log if log is not None else _member_log(payload, X, y, w, n_iter)]
    from .pu import bag_membership

    members = payload["members"]
    logs = list(logs) if isinstance(logs, list) else [None] * len(members)
    pos, unl = np.flatnonzero(np.asarray(y) == 1), np.flatnonzero(np.asarray(y) == 0)
    in_bag = None
    out = []
    for t, member in enumerate(members):
        if logs[t] is not None:
            out.append(logs[t])
            continue
        if in_bag is None:
            ids = np.asarray(example_ids, dtype=object)[unl]
            in_bag = bag_membership(ids, payload["bagging"]["thresholds"], payload["bagging"]["seed"])
        rows = np.concatenate([pos, unl[in_bag[t]]])
        member_iter = n_iter[t] if isinstance(n_iter, list) and t < len(n_iter) else n_iter
        out.append(_member_log(member, X[rows], np.asarray(y)[rows], np.asarray(w)[rows], member_iter))
    return out


def _losses(value, n: int, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != n:
        raise ModelFormatError(f"{where}: expected a list of {n} numbers")
    out = [_decode_float(v, where) for v in value]
    if any(math.isnan(v) or v < 0 for v in out):
        raise ModelFormatError(f"{where}: expected losses of 0 or more")
    return out


def training_log_rows(log) -> list[dict]:
    """The rows (``member``, ``iteration``, ``train_loss``, ``validation_loss``) of a stored
    ``training_log``: a list with one object per member holding ``iteration`` (increasing positive
    integers), ``train_loss`` (one loss per iteration) and ``validation_loss`` (the same, or null).
    Raises :class:`ModelFormatError` on anything else."""
    if not isinstance(log, list) or not log:
        raise ModelFormatError("training_log: expected a non-empty list of members")
    rows = []
    for member, entry in enumerate(log):
        where = f"training_log[{member}]"
        if not isinstance(entry, dict):
            raise ModelFormatError(f"{where}: expected an object")
        iterations = entry.get("iteration")
        if (
            not isinstance(iterations, list)
            or not iterations
            or any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in iterations)
            or any(b <= a for a, b in zip(iterations, iterations[1:], strict=False))
        ):
            raise ModelFormatError(f"{where}.iteration: expected increasing positive integers")
        n = len(iterations)
        train = _losses(entry.get("train_loss"), n, f"{where}.train_loss")
        validation = entry.get("validation_loss")
        validation = [None] * n if validation is None else _losses(validation, n, f"{where}.validation_loss")
        rows += [
            {"member": member, "iteration": i, "train_loss": t, "validation_loss": v}
            for i, t, v in zip(iterations, train, validation, strict=True)
        ]
    return rows


def training_log(models):
    """One row per trained run, member and iteration of the fit of the model its metrics describe
    (lookalike_run_training_log): the split model (``split_model_json``) of a run refitted on every
    label, else the stored model.

    ``models`` is lookalike_run_models. A run whose model fails verification, or whose model was
    stored without a log (before this release) or with a malformed one, gets no rows; the other
    runs go on. Returns rows of :data:`~lookalike_udf.outputs.TRAINING_LOG_SCHEMA` (a Spark DataFrame
    when the input is one).
    """
    engine = engine_for(models)
    rows = {row["run_id"]: row for row in engine.to_arrow(models).to_pylist()}
    # The log of the model every metric describes: the split model of a run refitted on every
    # label (decision 0032), whose refit is fitted once, without a log.
    loaded, _failures = load_verified_models(rows.values(), split_models=True)
    out = []
    for rid in sorted(loaded):
        model = loaded[rid]
        if model.training_log is None:
            continue
        try:
            log_rows = training_log_rows(model.training_log)
        except ModelFormatError:
            continue
        for row in log_rows:
            out.append(
                {
                    "run_id": rid,
                    "model_type": rows[rid].get("model_type"),
                    "model_sha256": rows[rid].get("split_model_sha256") or rows[rid].get("model_sha256"),
                    **row,
                }
            )
    return engine.output(pa.Table.from_pylist(out, schema=TRAINING_LOG_SCHEMA))
