"""The compiled scoring kernel (lookalike_udf.kernels, issue 27 part 1, decision 0027) scores stored
hgb models and bagging ensembles exactly as the previous path (scikit-learn's tree predictors, the
same arithmetic as ``predict_proba``): max |difference| 0 on the SQL compiler's edge rows, a
20-member bagged ensemble with categorical and numeric features, one- and 300-feature models, zero
rows and generated matrices. Without numba (an optional extra) the kernel tests are skipped and the
rest checks that scoring works as before; ``LOOKALIKE_SCORING_KERNEL=off`` turns the kernel off.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.ensemble import HistGradientBoostingClassifier

from lookalike_udf import kernels
from lookalike_udf.estimators import bagging
from lookalike_udf.estimators.hgb import dump as dump_hgb
from lookalike_udf.estimators.hgb import load as load_hgb
from lookalike_udf.training import LookalikeModel, fit_run_model
from sql_parity import as_sqlite_sees_it, scoring_rows, training_examples

NEEDS_NUMBA = "the compiled kernel needs numba (the 'fast' extra: pip install -e '.[fast]')"


def _numba():
    return pytest.importorskip("numba", reason=NEEDS_NUMBA)


def _payload(clf) -> dict:
    return json.loads(json.dumps(dump_hgb(clf), allow_nan=False))


def _fit(X, y, categorical=None, **kw) -> HistGradientBoostingClassifier:
    params = dict(max_iter=30, max_depth=3, max_leaf_nodes=8, min_samples_leaf=5, random_state=0)
    params.update(kw)
    return HistGradientBoostingClassifier(categorical_features=categorical, **params).fit(X, y)


def _mixed_data(n: int, seed: int):
    """Two categorical columns (codes 0..7 and 0..2, some missing) and three numeric ones."""
    rng = np.random.default_rng(seed)
    X = np.c_[
        rng.normal(size=n),
        rng.integers(0, 8, n).astype(float),
        rng.lognormal(size=n),
        rng.integers(0, 3, n).astype(float),
        rng.integers(0, 2, n).astype(float),
    ]
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    logit = 1.2 * np.nan_to_num(X[:, 0]) + np.isin(X[:, 1], [1, 4, 6]) - 0.8 * (X[:, 3] == 2) + 0.3 * X[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


MIXED_MASK = [False, True, False, True, False]


def _sklearn_rows(clf, E: np.ndarray) -> np.ndarray:
    """Rows scikit-learn itself accepts: its categorical encoder refuses infinities (the library's
    scorer treats them as unknown categories, compared with its previous path instead)."""
    mask = getattr(clf, "is_categorical_", None)
    if mask is None or not np.any(mask):
        return np.ones(len(E), dtype=bool)
    return ~np.isinf(E[:, np.asarray(mask, dtype=bool)]).any(axis=1)


def _edge_matrix(X: np.ndarray, clf) -> np.ndarray:
    """Rows of X with edge values: NaN, +/-inf, every threshold and its neighbours, unknown,
    negative, fractional and >= 256 category codes, a whole column missing."""
    rows = [X[:200].copy()]
    payload = dump_hgb(clf)
    order = payload["column_order"]
    thresholds = {}
    for tree in payload["trees"]:
        nodes = tree["nodes"]
        for i, leaf in enumerate(nodes["is_leaf"]):
            if not leaf and not nodes["is_categorical"][i]:
                thresholds.setdefault(order[nodes["feature_idx"][i]], set()).add(float(nodes["num_threshold"][i]))
    cats = set(payload["categories"])
    for j in range(X.shape[1]):
        values = [np.nan, np.inf, -np.inf, 0.0, -0.0]
        for t in thresholds.get(j, ()):
            values += [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
        if str(j) in cats:
            values += [-1.0, 9.0, 255.0, 256.0, 300.0, 1.5, 1e9, -1e9]
        block = np.repeat(X[200:201], len(values), axis=0)
        block[:, j] = values
        rows.append(block)
        missing = X[:20].copy()
        missing[:, j] = np.nan  # the column all missing
        rows.append(missing)
    return np.vstack(rows)


@pytest.fixture(autouse=True)
def _fresh_kernel_state(monkeypatch):
    """Each test starts with the kernel on and no recorded failure."""
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    saved = dict(kernels._state)
    kernels._state["failed"] = None
    yield
    kernels._state.update(failed=saved["failed"])


# --- Without numba too -------------------------------------------------------------------------


def test_environment_variable_turns_the_kernel_off(monkeypatch):
    X, y = _mixed_data(400, 1)
    payload = _payload(_fit(X, y, MIXED_MASK))
    for value in ("off", "0", "false", "NO"):
        monkeypatch.setenv(kernels.ENV_VAR, value)
        assert not kernels.kernel_requested() and not kernels.kernel_available()
        assert load_hgb(payload).engine == "sklearn"
    monkeypatch.setenv(kernels.ENV_VAR, "on")
    assert kernels.kernel_requested()
    expected = "kernel" if kernels.numba_installed() else "sklearn"
    assert load_hgb(payload).engine == expected


def test_flattening_keeps_every_tree_in_order():
    """Node arrays of every tree back to back (needs no numba): a padded tree's 8 leaves hold the
    tree's leaf values, each tree's root points at its first node."""
    X, y = _mixed_data(600, 2)
    clf = _fit(X, y, MIXED_MASK)
    scorer = load_hgb(_payload(clf), engine="sklearn")
    flat = kernels.flatten_hgb(scorer.trees, scorer.baseline, scorer.known_cat_bitsets, scorer.f_idx_map)
    assert flat.n_trees == len(scorer.trees) == clf.n_iter_
    sizes = [len(t.nodes["value"]) for t in scorer.trees]
    np.testing.assert_array_equal(flat.root, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    assert set(np.unique(flat.kind)) <= {1, 2} and (flat.kind == 2).any()  # depth 3: all padded
    for t, tree in enumerate(scorer.trees):
        leaves = set(tree.nodes["value"][tree.nodes["is_leaf"] != 0].tolist())
        assert set(flat.pad_value[flat.pad[t]].tolist()) <= leaves


def test_importing_and_loading_do_not_import_numba():
    """numba is imported on the first scored block, never when the library or a model loads."""
    code = (
        "import sys, json, numpy as np\n"
        "from sklearn.ensemble import HistGradientBoostingClassifier\n"
        "import lookalike_udf, lookalike_udf.scoring, lookalike_udf.kernels\n"
        "from lookalike_udf.estimators.hgb import dump, load\n"
        "X = np.arange(80.0).reshape(40, 2); y = np.arange(40) % 2\n"
        "scorer = load(json.loads(json.dumps(dump(HistGradientBoostingClassifier(max_iter=3).fit(X, y)))))\n"
        "assert 'numba' not in sys.modules, 'numba imported before scoring'\n"
        "print(scorer.engine, lookalike_udf.kernels.numba_installed())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() in (["kernel", "True"], ["sklearn", "False"])


# --- The kernel (skipped without numba) --------------------------------------------------------


def test_a_failing_kernel_falls_back_and_warns(monkeypatch, caplog):
    _numba()
    X, y = _mixed_data(400, 3)
    clf = _fit(X, y, MIXED_MASK)
    scorer = load_hgb(_payload(clf))
    assert scorer.engine == "kernel"

    def broken(*args, **kwargs):
        raise RuntimeError("simulated numba failure")

    monkeypatch.setattr(kernels, "score_raw", broken)
    with caplog.at_level(logging.WARNING, logger="lookalike_udf.kernels"):
        scores = scorer.predict_proba_positive(X)
    np.testing.assert_array_equal(scores, clf.predict_proba(X)[:, 1])
    assert scorer.engine == "sklearn" and "simulated numba failure" in caplog.text
    assert not kernels.kernel_available()  # the rest of the process keeps the previous path
    assert load_hgb(_payload(clf)).engine == "sklearn"


@pytest.mark.parametrize("mask", [MIXED_MASK, None], ids=["categorical", "numeric"])
@pytest.mark.parametrize("depth", [2, 3, 5, None])
def test_edge_matrix_is_bit_identical(mask, depth):
    """Every way through a tree: padded numeric (depth <= 3), padded with categorical routing
    tables, and the node walk (deeper trees), on NaN, infinities, thresholds and their neighbours,
    unknown / negative / fractional / >= 256 codes and all-missing columns."""
    _numba()
    X, y = _mixed_data(1500, 4)
    clf = _fit(X, y, mask, max_depth=depth, max_leaf_nodes=8 if depth else 31, max_iter=40)
    kernel = load_hgb(_payload(clf), engine="kernel")
    reference = load_hgb(_payload(clf), engine="sklearn")
    kinds = set(np.unique(kernel._flat.kind).tolist())
    assert kinds <= {1, 2} if depth is not None and depth <= 3 else 0 in kinds
    E = _edge_matrix(X, clf)
    np.testing.assert_array_equal(kernel.predict_raw(E), reference.predict_raw(E))
    ok = _sklearn_rows(clf, E)
    assert ok.mean() > 0.9
    np.testing.assert_array_equal(kernel.predict_raw(E[ok]), clf._raw_predict(E[ok])[:, 0])
    np.testing.assert_array_equal(kernel.predict_proba_positive(E[ok]), clf.predict_proba(E[ok])[:, 1])


@pytest.fixture(scope="module")
def stored_models() -> dict[str, str]:
    out = {}
    for name, kw in {
        "hgb_supervised": dict(model_type="hgb"),
        "hgb_pu_bagging": dict(model_type="hgb", negatives=False, pu_method="bagging", pu_bags=4),
    }.items():
        kw = dict(kw)
        examples = training_examples(negatives=kw.pop("negatives", True))
        out[name] = fit_run_model("r", examples, random_seed=7, **kw).to_json()
    return out


@pytest.mark.parametrize("case", ["hgb_supervised", "hgb_pu_bagging"])
def test_sql_parity_edge_rows_score_the_same(stored_models, case, monkeypatch):
    """The SQL compiler's edge rows (tests/unit/sql_parity.py: nulls, NaN, +/-inf, every split
    threshold and its neighbouring doubles, every category, unseen categories, the empty string),
    as DuckDB and SQLite see them, score to the last bit as before the kernel."""
    _numba()
    model_json = stored_models[case]
    for rows in (scoring_rows(model_json), as_sqlite_sees_it(scoring_rows(model_json))):
        monkeypatch.setenv(kernels.ENV_VAR, "off")
        previous = LookalikeModel.from_json(model_json)
        assert previous._scorer.engine == "sklearn"
        expected = previous.predict(rows)
        monkeypatch.setenv(kernels.ENV_VAR, "auto")
        model = LookalikeModel.from_json(model_json)
        assert model._scorer.engine == "kernel"
        np.testing.assert_array_equal(model.predict(rows), expected)


def test_bagged_ensemble_of_20_members_is_bit_identical():
    """20 hgb members fitted by the bagging PU code on categorical and numeric features: the fused
    kernel (members sharing one prepared block) equals the mean of the members' predict_proba."""
    _numba()
    X, y = _mixed_data(1200, 5)
    mask = np.array(MIXED_MASK)
    ids = [f"u{i}" for i in range(len(y))]
    payload, _ = bagging.fit(X, y, np.ones(len(y)), ids, mask, random_seed=3, n_bags=20)
    payload = json.loads(json.dumps(payload, allow_nan=False))
    kernel = bagging.load(payload, engine="kernel")
    reference = bagging.load(payload, engine="sklearn")
    assert len(kernel.members) == 20 and kernel.engine == "kernel"
    E = _edge_matrix(X, _fit(X, y, MIXED_MASK))
    big = np.vstack([E, np.tile(X, (15, 1))])  # > 16,384 rows: several blocks
    for n_threads in (1, 2):
        got = kernel.predict_proba_positive(big, n_threads=n_threads)
        np.testing.assert_array_equal(got, reference.predict_proba_positive(big, n_threads=n_threads))
    np.testing.assert_array_equal(got, reference.predict_members(big).mean(axis=0))


@pytest.mark.parametrize("n_features", [1, 300])
def test_one_and_300_feature_models(n_features):
    _numba()
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(2000, n_features))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, :5]).sum(axis=1) + rng.normal(size=2000) > 0).astype(int)
    clf = _fit(X, y, max_iter=50)
    kernel = load_hgb(_payload(clf), engine="kernel")
    E = np.vstack([X, np.full((3, n_features), np.nan), np.full((3, n_features), np.inf)])
    np.testing.assert_array_equal(kernel.predict_raw(E), clf._raw_predict(E)[:, 0])


def test_zero_rows():
    _numba()
    X, y = _mixed_data(400, 6)
    kernel = load_hgb(_payload(_fit(X, y, MIXED_MASK)), engine="kernel")
    assert kernel.predict_raw(np.empty((0, 5))).shape == (0,)
    assert kernel.predict_proba_positive(np.empty((0, 5))).shape == (0,)
    flat = kernel._flat
    assert kernels.score_raw(flat, np.empty((0, 5), order="F")).shape == (0,)


@pytest.fixture(scope="module")
def generated_model():
    X, y = _mixed_data(1500, 7)
    clf = _fit(X, y, MIXED_MASK, max_iter=25)
    scorer = load_hgb(_payload(clf), engine="sklearn")
    flat = kernels.flatten_hgb(scorer.trees, scorer.baseline, scorer.known_cat_bitsets, scorer.f_idx_map)
    return clf, scorer, flat


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1.0, 2.0, 7.0, 8.0, 255.0, 256.0]),
    st.integers(-3, 12).map(float),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 40), st.just(5)), elements=_VALUES))
def test_generated_matrices(generated_model, matrix):
    """Any float64 matrix (any NaN, infinity, subnormal or huge value, integral and fractional
    category codes) scores to the last bit as scikit-learn does."""
    _numba()
    clf, scorer, flat = generated_model
    got = kernels.score_raw(flat, scorer._prepare(matrix))
    if len(matrix):
        np.testing.assert_array_equal(got, scorer.predict_raw(matrix))
        ok = _sklearn_rows(clf, matrix)
        if ok.any():
            np.testing.assert_array_equal(got[ok], clf._raw_predict(matrix[ok])[:, 0])
    else:
        assert got.shape == (0,)


# --- Random forests (the node walk, kernels.flatten_walk) --------------------------------------


@pytest.fixture(scope="module")
def forest():
    """A 40-tree forest on numbers with missing values (deep trees: min_samples_leaf 2), stored and
    loaded as the library stores it."""
    from sklearn.ensemble import RandomForestClassifier

    from lookalike_udf.estimators import rf

    rng = np.random.default_rng(11)
    X = rng.normal(size=(1200, 6))
    X[rng.random(X.shape) < 0.12] = np.nan
    y = (np.nan_to_num(X[:, 0]) - np.isnan(X[:, 2]) + rng.normal(size=1200) > 0).astype(int)
    clf = RandomForestClassifier(n_estimators=40, min_samples_leaf=2, random_state=0, n_jobs=1).fit(X, y)
    payload = json.loads(json.dumps(rf.dump(clf), allow_nan=False))
    return clf, payload, rf


def test_forest_walk_is_flattened_tree_after_tree(forest):
    """Every tree's nodes back to back with their roots, leaves' values kept (needs no numba)."""
    _, payload, rf = forest
    scorer = rf.load(payload, engine="numpy")
    flat = kernels.flatten_walk(scorer.trees)
    sizes = [len(t["value"]) for t in scorer.trees]
    np.testing.assert_array_equal(flat.root, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    assert (flat.kind == 0).all() and flat.n_trees == 40 and len(flat.value) == sum(sizes)
    t = scorer.trees[7]
    span = slice(flat.root[7], flat.root[7] + sizes[7])
    np.testing.assert_array_equal(flat.value[span], t["value"])
    split = t["is_leaf"] == 0
    np.testing.assert_array_equal(flat.left[span][split], t["left"][split] + flat.root[7])
    assert scorer.engine == "numpy"


def test_forest_kernel_is_bit_identical_to_numpy_and_predict_proba(forest):
    _numba()
    clf, payload, rf = forest
    kernel, walk = rf.load(payload, engine="kernel"), rf.load(payload, engine="numpy")
    assert kernel.engine == "kernel" and walk.engine == "numpy"
    rng = np.random.default_rng(12)
    X = rng.normal(scale=2.0, size=(3000, 6))
    X[rng.random(X.shape) < 0.2] = np.nan
    E = np.vstack([X, np.full((2, 6), np.inf), np.full((2, 6), -np.inf), np.full((2, 6), np.nan)])
    got = kernel.predict_proba_positive(E)
    np.testing.assert_array_equal(got, walk.predict_proba_positive(E))
    # scikit-learn refuses infinities; the NaN rows and every finite row score as it scores them
    finite = ~np.isinf(E).any(axis=1)
    np.testing.assert_array_equal(got[finite], clf.predict_proba(E[finite])[:, 1])
    assert finite.sum() == len(E) - 4
    assert kernel.predict_proba_positive(np.empty((0, 6))).shape == (0,)


def test_forest_kernel_failure_falls_back_to_numpy(forest, monkeypatch, caplog):
    _numba()
    clf, payload, rf = forest
    scorer = rf.load(payload)
    assert scorer.engine == "kernel"

    def broken(*args, **kwargs):
        raise RuntimeError("simulated numba failure in a forest")

    monkeypatch.setattr(kernels, "score_raw", broken)
    X = np.random.default_rng(13).normal(size=(50, 6))
    with caplog.at_level(logging.WARNING, logger="lookalike_udf.kernels"):
        scores = scorer.predict_proba_positive(X)
    np.testing.assert_array_equal(scores, clf.predict_proba(X)[:, 1])
    assert scorer.engine == "numpy" and "simulated numba failure in a forest" in caplog.text
