"""Bagging PU learning for runs given positives only (Mordelet & Vert, 2014).

A run without negatives is trained against a sample of unlabeled users, some of whom are in fact
lookalikes. Bagging PU trains ``n_bags`` base classifiers, each on the train split's positives
against a fresh random subsample of its unlabeled examples of the same size as the positive set,
and averages their probabilities. An unlabeled user is scored out of bag: by the average of the
classifiers whose subsample did not contain it, so its score never comes from a model that was
told it is a negative. Everyone else (positives, test examples, the scored population) gets the
average of all classifiers.

Bag membership is a pure function of the example_id, the run's seed and a per-bag threshold
stored with the model (an example is in bag ``t`` when its 64-bit hash for ``t`` is at most the
bag's threshold), so out-of-bag scores can be recomputed from the stored JSON alone. The
subsamples are drawn without replacement (the size-K bootstrap of the paper, without duplicate
rows).

>>> import numpy as np
>>> ids = np.array([f"u{i}" for i in range(100)], dtype=object)
>>> thresholds = bag_thresholds(ids, n_bags=3, bag_size=10, seed=1)
>>> in_bag = bag_membership(ids, thresholds, seed=1)
>>> in_bag.shape, in_bag.sum(axis=1).tolist()
((3, 100), [10, 10, 10])
"""

from __future__ import annotations

import hashlib

import numpy as np

from .settings import SETTINGS

#: The PU methods (var lookalike_pu_method). The bounds of pu_bags are declared with it in
#: lookalike_udf.settings: each bag is one more base model to fit and to evaluate at scoring time.
PU_METHODS = SETTINGS["pu_method"].choices


def _hash(seed: int, bag: int, example_id: str) -> int:
    digest = hashlib.blake2b(f"{int(seed)}|{int(bag)}|{example_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def bag_hashes(example_ids, n_bags: int, seed: int) -> np.ndarray:
    """(n_bags, n) array of the 64-bit hashes deciding bag membership."""
    ids = [str(e) for e in example_ids]
    return np.array([[_hash(seed, t, e) for e in ids] for t in range(n_bags)], dtype=np.uint64).reshape(
        n_bags, len(ids)
    )


def bag_thresholds(example_ids, n_bags: int, bag_size: int, seed: int) -> list[int]:
    """Per-bag thresholds such that each bag holds the ``bag_size`` examples with the smallest hashes."""
    hashes = bag_hashes(example_ids, n_bags, seed)
    k = int(min(max(bag_size, 1), hashes.shape[1]))
    return [int(np.sort(row)[k - 1]) for row in hashes]


def bag_membership(example_ids, thresholds: list[int], seed: int) -> np.ndarray:
    """Boolean (n_bags, n): True where the example is in the bag (was trained on as a negative)."""
    hashes = bag_hashes(example_ids, len(thresholds), seed)
    return hashes <= np.array(thresholds, dtype=np.uint64)[:, None]


def out_of_bag_average(member_scores: np.ndarray, in_bag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average of each column of ``member_scores`` over the bags that did not train on it.

    Returns the scores and the number of bags each was averaged over; a row that was in every bag
    (only possible when bags cover the whole unlabeled sample) gets the plain average and 0.
    """
    out_mask = ~in_bag
    n_out = out_mask.sum(axis=0)
    sums = np.where(out_mask, member_scores, 0.0).sum(axis=0)
    full = member_scores.mean(axis=0)
    scores = np.where(n_out > 0, sums / np.maximum(n_out, 1), full)
    return scores, n_out
