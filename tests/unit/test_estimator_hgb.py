"""Model type hgb (lookalike_udf.estimators.hgb): its JSON format must score exactly like scikit-learn
and refuse malformed payloads."""

import copy
import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from lookalike_udf.estimators import ModelFormatError
from lookalike_udf.estimators.hgb import BLOCK_ROWS, FORMAT, run_blocks
from lookalike_udf.estimators.hgb import dump as dump_hgb
from lookalike_udf.estimators.hgb import load as load_hgb


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    n = 3000
    X = np.c_[
        rng.normal(size=n),  # numeric with missing values
        rng.integers(0, 6, n).astype(float),  # categorical codes 0..5
        rng.normal(size=n),  # numeric
        rng.integers(0, 3, n).astype(float),  # categorical codes 0..2
        rng.integers(0, 2, n).astype(float),  # boolean as 0/1
    ]
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    logit = 1.5 * np.nan_to_num(X[:, 0]) + np.isin(X[:, 1], [1, 4]) * 1.2 - 0.8 * (X[:, 3] == 2) + 0.5 * X[:, 4]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    weights = rng.uniform(0.5, 2.0, n)
    clf = HistGradientBoostingClassifier(
        categorical_features=[False, True, False, True, False], max_iter=40, random_state=0
    ).fit(X, y, sample_weight=weights)
    # Scoring data has values never seen in training: unseen category 9, negative code, inf.
    X_new = X[:500].copy()
    X_new[:50, 1] = 9.0
    X_new[50:60, 3] = -1.0
    X_new[60:70, 2] = np.inf
    X_new[70:80, 0] = np.nan
    return clf, X_new


@pytest.mark.parametrize("engine", ["sklearn", "numpy"])
def test_parity_with_predict_proba(fitted, engine):
    clf, X = fitted
    payload = json.loads(json.dumps(dump_hgb(clf), allow_nan=False))
    scorer = load_hgb(payload, engine=engine)
    assert scorer.engine == engine
    expected = clf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(scorer.predict_proba_positive(X), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_blockwise_scoring_equals_predict_proba_across_block_edges(fitted, n_threads):
    """More rows than one block (16,384 rows each): every block, and the short last one, must
    score as scikit-learn does on the whole matrix, whatever the number of threads."""
    clf, X = fitted
    scorer = load_hgb(json.loads(json.dumps(dump_hgb(clf), allow_nan=False)), engine="sklearn")
    big = np.tile(X, (100, 1))[:40_001]  # blocks of 16,384, 16,384 and 7,233 rows
    assert BLOCK_ROWS == 16_384
    np.testing.assert_array_equal(scorer.predict_raw(big, n_threads=n_threads), clf._raw_predict(big)[:, 0])
    np.testing.assert_allclose(scorer.predict_proba_positive(big), clf.predict_proba(big)[:, 1], rtol=0, atol=1e-12)


def test_run_blocks_visits_every_row_once():
    seen = np.zeros(40_001, dtype=int)

    def work(start, stop):
        seen[start:stop] += 1

    run_blocks(len(seen), work, n_threads=2)
    assert seen.min() == 1 and seen.max() == 1
    spans = []
    run_blocks(10, lambda a, b: spans.append((a, b)), n_threads=1, block_rows=4)
    assert spans == [(0, 4), (4, 8), (8, 10)]
    run_blocks(0, lambda a, b: spans.append((a, b)))
    assert len(spans) == 3


def test_payload_is_plain_json_without_pickle(fitted):
    clf, _ = fitted
    text = json.dumps(dump_hgb(clf), allow_nan=False)
    payload = json.loads(text)
    assert payload["format"] == FORMAT
    assert payload["n_features"] == 5
    assert payload["column_order"] == [1, 3, 0, 2, 4]  # scikit-learn moves categoricals first
    assert payload["categories"] == {"1": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "3": [0.0, 1.0, 2.0]}
    assert len(payload["trees"]) == clf.n_iter_


def test_numeric_only_model(fitted):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    payload = dump_hgb(clf)
    assert payload["categories"] == {} and payload["known_cat_bitsets"] == []
    for engine in ("sklearn", "numpy"):
        np.testing.assert_allclose(
            load_hgb(payload, engine=engine).predict_proba_positive(X), clf.predict_proba(X)[:, 1], rtol=0, atol=1e-12
        )


def _mutated(payload, mutate):
    bad = copy.deepcopy(payload)
    mutate(bad)
    return bad


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(format="pickle"), "format 'pickle'"),
        (lambda p: p.update(n_features=0), "n_features"),
        (lambda p: p.update(column_order=[0, 0, 1, 2, 3]), "column_order"),
        (lambda p: p["trees"][0]["nodes"].pop("left"), "node fields missing: left"),
        (lambda p: p["trees"][0]["nodes"]["left"].__setitem__(0, 0), "invalid child"),
        (lambda p: p["trees"][0]["nodes"]["feature_idx"].__setitem__(0, 99), "feature index outside"),
        (lambda p: p["trees"][0]["nodes"]["value"].__setitem__(0, "boom"), "string 'boom'"),
        (lambda p: p["trees"][0]["nodes"]["value"].pop(), "one length"),
        (lambda p: p["trees"][0]["nodes"]["value"].__setitem__(0, True), "found bool"),
        (lambda p: p["trees"][0]["nodes"]["value"].__setitem__(0, None), "found NoneType"),
        (lambda p: p["trees"][0]["nodes"]["left"].__setitem__(1, True), "left: expected unsigned integers"),
        (lambda p: p["trees"][0]["nodes"]["left"].__setitem__(1, 1.0), "left: expected unsigned integers"),
        (lambda p: p["trees"][0]["nodes"]["right"].__setitem__(1, -1), "right: expected unsigned integers"),
        (lambda p: p["trees"][0]["nodes"]["count"].__setitem__(1, 2**32), "count: expected unsigned integers"),
        (lambda p: p.update(trees=[]), "non-empty"),
        (lambda p: p.update(known_cat_bitsets=[[1, 2, 3]]), "rows of 8"),
        (lambda p: p["categories"].update({"1": [2.0, 1.0]}), "sorted distinct"),
        (lambda p: p.update(f_idx_map=[0, 1]), "f_idx_map"),
    ],
)
def test_malformed_payloads_are_refused(fitted, mutate, message):
    clf, _ = fitted
    with pytest.raises(ModelFormatError, match=message):
        load_hgb(_mutated(dump_hgb(clf), mutate))


def test_non_finite_numbers_stored_as_strings_load(fitted):
    """JSON has no NaN or infinity: a threshold stored as "inf" or "-inf" loads as that number."""
    clf, _ = fitted
    payload = dump_hgb(clf)
    payload["trees"][0]["nodes"]["num_threshold"][0] = "inf"
    payload["trees"][0]["nodes"]["gain"][0] = "-inf"
    tree = load_hgb(payload).trees[0]
    assert tree.nodes["num_threshold"][0] == np.inf and tree.nodes["gain"][0] == -np.inf


def test_wrong_width_is_refused(fitted):
    clf, X = fitted
    with pytest.raises(Exception, match="5 feature columns"):
        load_hgb(dump_hgb(clf)).predict_proba_positive(X[:, :4])


def test_fused_bagging_scoring_equals_the_members_mean_to_the_last_bit(fitted):
    """A bagging ensemble of hgb members is scored block by block through every member (fused);
    the result must be the mean of scikit-learn's own predict_proba of each member, bit for bit,
    across block edges, and a matrix of the wrong width is refused."""
    from lookalike_udf.errors import LookalikeError
    from lookalike_udf.estimators import bagging

    clf, X = fitted
    rng = np.random.default_rng(3)
    y = (X[:, 0] + rng.normal(size=len(X)) > 0).astype(int)
    members = [
        HistGradientBoostingClassifier(
            max_iter=5 + 4 * k, max_depth=3, random_state=k, categorical_features=[1, 3]
        ).fit(X, y)
        for k in range(3)
    ]
    payload = json.loads(
        json.dumps(
            bagging.dump([dump_hgb(m) for m in members], seed=1, thresholds=[1, 2, 3], bag_size=10), allow_nan=False
        )
    )
    scorer = bagging.load(payload)
    big = np.tile(X, (100, 1))[:40_001]
    expected = np.vstack([m.predict_proba(big)[:, 1] for m in members]).mean(axis=0)
    np.testing.assert_array_equal(scorer.predict_proba_positive(big), expected)
    np.testing.assert_array_equal(scorer.predict_proba_positive(big), scorer.predict_members(big).mean(axis=0))
    with pytest.raises(LookalikeError, match="expected a matrix with 5 feature columns"):
        scorer.predict_proba_positive(big[:, :4])
