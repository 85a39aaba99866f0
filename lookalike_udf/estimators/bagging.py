"""The bagging PU ensemble (``lookalike-bagging/1``): ``pu_bags`` members of any registered model
type, fitted on every positive against a different subsample of the unlabeled rows, averaged.

It is a payload format, not a ``model_type``: a run without negatives and ``pu_method: bagging``
wraps members of its model type in it (:func:`fit`). The bag-membership recipe (seed, per-bag
hash thresholds, bag size; :mod:`lookalike_udf.pu`) is stored with the members, so out-of-bag
scores can be recomputed from the JSON alone. :func:`load` validates it and each member through
the registry; :class:`BaggingScorer` averages the members. Only :func:`fit` imports fitting code.
"""

from __future__ import annotations

import numpy as np

from ..errors import LookalikeError
from .base import ModelFormatError

FORMAT = "lookalike-bagging/1"


def dump(members: list[dict], seed: int, thresholds: list[int], bag_size: int) -> dict:
    """Payload of a bagging PU ensemble: the members' payloads and the bag-membership recipe."""
    return {
        "format": FORMAT,
        "members": members,
        "bagging": {"seed": int(seed), "thresholds": [int(t) for t in thresholds], "bag_size": int(bag_size)},
    }


class BaggingScorer:
    """Averages the positive-class probabilities of its members. Build it with :func:`load`."""

    def __init__(self, payload: dict, engine: str = "auto"):
        from . import load as load_estimator  # the registry's dispatch (it imports this module)

        members = payload.get("members")
        if not isinstance(members, list) or not members:
            raise ModelFormatError("members must be a non-empty list")
        for i, member in enumerate(members):
            if isinstance(member, dict) and member.get("format") == FORMAT:
                raise ModelFormatError(f"members[{i}]: an ensemble cannot contain an ensemble")
        self.members = [load_estimator(m, engine=engine) for m in members]
        widths = {m.n_features for m in self.members}
        if len(widths) != 1:
            raise ModelFormatError(f"members disagree on the number of features: {sorted(widths)}")
        self.n_features = widths.pop()
        bagging = payload.get("bagging")
        if not isinstance(bagging, dict):
            raise ModelFormatError("bagging must be an object with seed, thresholds and bag_size")
        seed, thresholds, bag_size = bagging.get("seed"), bagging.get("thresholds"), bagging.get("bag_size")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ModelFormatError("bagging.seed must be an integer")
        if (
            not isinstance(thresholds, list)
            or len(thresholds) != len(self.members)
            or any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < 2**64 for t in thresholds)
        ):
            raise ModelFormatError("bagging.thresholds must hold one unsigned 64-bit integer per member")
        if isinstance(bag_size, bool) or not isinstance(bag_size, int) or bag_size < 1:
            raise ModelFormatError("bagging.bag_size must be a positive integer")
        self.seed, self.thresholds, self.bag_size = seed, thresholds, bag_size
        self.engine = self.members[0].engine
        # Every member an hgb model with padded trees only (depth <= 3, numeric or categorical
        # splits), prepared alike: all members' trees in one kernel call per block
        # (lookalike_udf.kernels.score_members; decisions 0044, 0046).
        self._fused = None
        padded = [getattr(m, "_padded", None) for m in self.members]
        keys = {getattr(m, "prepare_key", None) for m in self.members}
        if all(p is not None for p in padded) and len(keys) == 1:
            from .. import kernels

            self._fused = kernels.stack_padded([m._flat for m in self.members])

    def predict_members(self, X) -> np.ndarray:
        """(n_members, n_rows) positive-class probabilities of each member."""
        return np.vstack([m.predict_proba_positive(X) for m in self.members])

    def predict_proba_positive(self, X, n_threads: int | None = None) -> np.ndarray:
        """The mean of the members' probabilities. Members with a one-thread block scorer (hgb) are
        fused: each block of rows goes through every member before the next block, on
        :func:`~lookalike_udf.estimators.hgb.run_blocks`' threads (``n_threads``, default the
        scoring threads), so the block stays in cache and no (members x rows) matrix is built.
        Consecutive members prepared alike (same column order and categories) share one prepared
        block, and hgb members score it with the compiled kernel when it is on
        (:mod:`lookalike_udf.kernels`); when every member's trees are padded (depth at most 3),
        one kernel call scores the block for every member (:func:`~lookalike_udf.kernels.score_members`).
        Same additions in the same order as ``predict_members(X).mean(axis=0)``, so the same
        result to the last bit."""
        if not all(hasattr(m, "raw_block") for m in self.members):
            return self.predict_members(X).mean(axis=0)
        from scipy.special import expit

        from .. import kernels
        from .hgb import run_blocks

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise LookalikeError(f"expected a matrix with {self.n_features} feature columns, got shape {X.shape}")
        out = np.empty(X.shape[0], dtype=np.float64)

        def work(start, stop):
            block = X[start:stop]
            total = np.zeros(stop - start, dtype=np.float64)
            fused = self._fused
            if fused is not None:
                try:
                    raw = kernels.score_members(fused, self.members[0]._prepare(block))
                except Exception as error:  # never let the optional kernel fail scoring
                    kernels.disable(error)
                    self._drop_kernel()
                else:
                    for m in range(len(self.members)):
                        total += expit(raw[m])
                    out[start:stop] = total / len(self.members)
                    return
            key, prepared = None, None
            for member in self.members:
                member_key = getattr(member, "prepare_key", None)
                if member_key is None:
                    raw = member.raw_block(block)
                else:
                    if member_key != key:
                        key, prepared = member_key, member._prepare(block)
                    raw = member.raw_prepared(prepared)
                total += expit(raw)
            out[start:stop] = total / len(self.members)

        run_blocks(X.shape[0], work, n_threads)
        return out

    def _drop_kernel(self) -> None:
        """Score every member with its previous path from now on (after the kernel failed)."""
        self._fused = None
        for member in self.members:
            if hasattr(member, "drop_kernel"):
                member.drop_kernel()
        self.engine = self.members[0].engine

    @property
    def raw_space(self) -> str:
        """The members' raw space (they are of one type): ``log_odds`` or ``probability``."""
        return self.members[0].raw_space

    def contributions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The members' path or linear contributions averaged, in the members' raw space.

        The ensemble's raw score is defined as the mean of the members' raw scores, so
        ``bias + contributions.sum(axis=1)`` equals it exactly. For forests that is the ensemble's
        probability (the score); for boosting and logistic members it is the mean of the members'
        log-odds, which is not the logit of the score (the mean of their probabilities).
        """
        bias, contrib = None, None
        for member in self.members:
            b, c = member.contributions(X)
            bias, contrib = (b, c) if bias is None else (bias + b, contrib + c)
        k = len(self.members)
        return bias / k, contrib / k

    def predict_raw(self, X) -> np.ndarray:
        """The mean of the members' raw scores (see :meth:`contributions`)."""
        return np.mean([m.predict_raw(X) for m in self.members], axis=0)


def load(payload: dict, engine: str = "auto") -> BaggingScorer:
    """Validate a payload written by :func:`dump` (and each member) and return a scorer for it."""
    return BaggingScorer(payload, engine=engine)


def to_sql(payload: dict, features: list) -> list:
    """Every member of a validated bagging payload as SQL (one :class:`lookalike_udf.sql.Member`
    each, through its type's ``to_sql``); the score is their average of probabilities."""
    from . import REGISTRY

    load(payload, engine="numpy")
    compilers = {t.format: t.to_sql for t in REGISTRY.values() if t.to_sql is not None}
    out = []
    for i, member in enumerate(payload["members"]):
        if member.get("format") not in compilers:
            raise ModelFormatError(f"members[{i}]: model type with format {member.get('format')!r} has no to_sql")
        out.append(compilers[member["format"]](member, features))
    return out


def fit(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    example_ids,
    mask: np.ndarray,
    random_seed: int,
    n_bags: int,
    model_type: str = "hgb",
    overrides: dict | None = None,
) -> tuple[dict, dict]:
    """Bagging PU (Mordelet & Vert 2014) on a train split of positives (1) and unlabeled users (0).

    Each of ``n_bags`` members of ``model_type`` is fitted on every positive against a subsample
    of the unlabeled rows as large as the positive set (see :mod:`lookalike_udf.pu`), with the
    type's :attr:`~lookalike_udf.estimators.base.EstimatorType.bagging_overrides`. ``overrides``
    (tuned parameters) apply to every member. Returns the ensemble payload and its parameters.
    """
    from ..pu import bag_membership, bag_thresholds
    from . import fit as fit_estimator
    from . import get
    from .fitting import map_side_by_side

    member_overrides = {**get(model_type).bagging_overrides(n_bags), **(overrides or {})}
    pos = np.flatnonzero(y == 1)
    unl = np.flatnonzero(y == 0)
    bag_size = int(min(len(pos), len(unl)))
    ids = np.asarray(example_ids, dtype=object)[unl]
    thresholds = bag_thresholds(ids, n_bags, bag_size, random_seed)
    in_bag = bag_membership(ids, thresholds, random_seed)

    def fit_member(t):
        rows = np.concatenate([pos, unl[in_bag[t]]])
        return fit_estimator(
            model_type, X[rows], y[rows], w[rows], mask, random_seed + 7919 * (t + 1), overrides=member_overrides
        )

    # The first member alone (it applies any one-time set-up), then the others side by side.
    fitted = [fit_member(0)]
    fitted += map_side_by_side(fit_member, range(1, n_bags), len(pos) + bag_size)
    members = [payload for payload, _ in fitted]
    member_params = fitted[-1][1]
    # Boosting and logistic record iterations; forests do not.
    iterations = [params["n_iter"] for _, params in fitted if "n_iter" in params]
    params = {k: v for k, v in member_params.items() if k not in ("n_iter", "random_state", "training_log")}
    params.update(n_bags=n_bags, bag_size=bag_size)
    if iterations:
        params["n_iter"] = iterations
    # One training log per member, in member order, None where the fit recorded none
    # (lookalike_udf.evaluation.complete_training_log fills them in).
    params["training_log"] = [p.get("training_log") for _, p in fitted]
    return dump(members, random_seed, thresholds, bag_size), params
