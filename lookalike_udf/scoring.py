"""A stored run model (``lookalike-model/1``): the feature encoder plus an estimator payload.

:class:`LookalikeModel` is what scoring uses: :meth:`LookalikeModel.from_json` reads a row of
``lookalike_run_models.model_json`` (plain JSON, validated; no code is executed) and
:meth:`LookalikeModel.predict` maps Arrow rows to scores in 0..1. Importing this module and
scoring with it imports no fitting code (:mod:`lookalike_udf.training`, :mod:`lookalike_udf.tuning`,
scikit-learn estimators for fitting); the estimator payloads are read by
:func:`lookalike_udf.estimators.load`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import LookalikeError
from .estimators import load as load_estimator
from .estimators.bagging import BaggingScorer
from .features import FeatureEncoder
from .vocabulary import ExampleSource

__all__ = ["LookalikeModel", "MODEL_FORMAT"]

MODEL_FORMAT = "lookalike-model/1"


@dataclass
class LookalikeModel:
    """A fitted encoder plus classifier; :meth:`predict` maps Arrow rows to scores in 0..1."""

    encoder: FeatureEncoder
    estimator_payload: dict
    params: dict
    #: Per member of the estimator (one, or one per bagging member), the fit's log: ``iteration``,
    #: ``train_loss``, ``validation_loss`` lists (lookalike_udf.evaluation.training_log_rows). Stored
    #: beside ``params`` in the model JSON; None for models stored before it existed. Not used to score.
    training_log: list | None = None

    def __post_init__(self):
        self._scorer = load_estimator(self.estimator_payload)
        if self._scorer.n_features != len(self.encoder.specs_):
            raise LookalikeError(
                f"stored model expects {self._scorer.n_features} features but its encoder has "
                f"{len(self.encoder.specs_)}; the stored model is inconsistent, retrain it."
            )

    @property
    def feature_names(self) -> list[str]:
        return self.encoder.feature_names_

    def predict(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        if table.num_rows == 0:
            return np.empty(0, dtype=np.float64)
        return self._scorer.predict_proba_positive(self.encoder.transform(table))

    @property
    def raw_space(self) -> str | None:
        """``log_odds`` or ``probability``: the space of :meth:`predict_raw` and
        :meth:`contributions`; None for a model type that does not provide them."""
        return getattr(self._scorer, "raw_space", None)

    def predict_raw(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """The model's raw score of each row (log-odds for hgb and logistic, the probability for rf,
        the mean of the members' raw scores for a bagging ensemble; see lookalike_udf.reasons)."""
        return self._scorer.predict_raw(self.encoder.transform(table))

    def contributions(self, table: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
        """``(bias, contributions)``: arrays of shape (rows,) and (rows, features), features in
        :attr:`feature_names` order, with ``bias + contributions.sum(axis=1)`` equal to
        :meth:`predict_raw` (to rounding). Raises LookalikeError for a model type without them."""
        if not hasattr(self._scorer, "contributions"):
            raise LookalikeError(
                f"model payload {self.estimator_payload.get('format')!r} has no per-feature "
                "contributions, so it cannot give reasons"
            )
        return self._scorer.contributions(self.encoder.transform(table))

    @property
    def is_bagging(self) -> bool:
        return isinstance(self._scorer, BaggingScorer)

    def predict_training(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """Scores for the run's own training examples, as the metrics should see them.

        Equal to :meth:`predict`, except for a bagging PU model: unlabeled examples of the train
        split (``example_source = 'unlabeled_sample'``) get their out-of-bag score, the average of
        the members that did not train on them.
        """
        if table.num_rows == 0:
            return np.empty(0, dtype=np.float64)
        if not self.is_bagging:
            return self.predict(table)
        from .pu import bag_membership, out_of_bag_average  # only for training examples

        members = self._scorer.predict_members(self.encoder.transform(table))
        scores = members.mean(axis=0)
        oob = np.asarray(
            pc.and_(
                pc.equal(table.column("split"), "train"),
                pc.equal(table.column("example_source"), ExampleSource.UNLABELED_SAMPLE),
            ).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        oob &= ~np.asarray(pc.is_null(table.column("example_id")).to_numpy(zero_copy_only=False), dtype=bool)
        if oob.any():
            ids = np.asarray(table.column("example_id").to_pylist(), dtype=object)[oob]
            in_bag = bag_membership(ids, self._scorer.thresholds, self._scorer.seed)
            scores[oob], _ = out_of_bag_average(members[:, oob], in_bag)
        return scores

    def to_json(self) -> str:
        document = {
            "format": MODEL_FORMAT,
            "params": self.params,
            "encoder": self.encoder.to_dict(),
            "estimator": self.estimator_payload,
        }
        if self.training_log is not None:
            document["training_log"] = self.training_log
        return json.dumps(document, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LookalikeModel:
        """Load a model stored by :meth:`to_json`. Plain JSON: no code is executed."""
        try:
            payload = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise LookalikeError(f"stored model is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise LookalikeError(f"stored model has format {found!r}; this library reads {MODEL_FORMAT!r}.")
        missing = [key for key in ("encoder", "estimator") if not isinstance(payload.get(key), dict)]
        if missing:
            found = ", ".join(sorted(payload)) or "nothing"
            raise LookalikeError(
                f"stored model is malformed: it has no {' and no '.join(repr(k) for k in missing)} "
                f"object (found: {found}); the stored model is inconsistent, retrain it."
            )
        return cls(
            encoder=FeatureEncoder.from_dict(payload["encoder"]),
            estimator_payload=payload["estimator"],
            params=payload.get("params", {}),
            training_log=payload.get("training_log"),
        )
