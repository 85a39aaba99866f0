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
from lookalike_udf.estimators.base import _encode_float
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
    monkeypatch.setattr(kernels, "score_members", broken)  # categorical depth-3 trees: fused (0046)
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
    # one kernel call per block for all members, categorical splits included (decision 0046)
    assert kernel._fused is not None and kernel._fused.n_members == 20 and kernel._fused.has_cat.any()
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


# --- Every tree padded and numeric: kernels.score_members (one comparison per split) -------------

_EDGE_VALUES = np.array(
    [np.nan, -np.inf, np.inf, -1.0, -0.0, 0.0, 1.0, 2.5, 5e-324, -5e-324, 1.7976931348623157e308, -1e308]
)


def test_compare_form_sends_every_value_where_predict_proba_does():
    """One comparison on the missing-as--inf, missing-as-+inf or missing-indicator column equals
    predict_proba's rule (right when x > threshold, or x missing and missing goes right) for every
    value and threshold, infinities and NaN included (needs no numba)."""
    thresholds = np.r_[_EDGE_VALUES, np.nextafter(2.5, 3.0), np.nextafter(2.5, 2.0)]
    t, m = np.meshgrid(thresholds, [0, 1])
    side, compared = kernels.compare_form(t, m)
    assert set(np.unique(side).tolist()) == {kernels.SIDE_LEFT, kernels.SIDE_RIGHT, kernels.SIDE_MISSING}
    for x in np.r_[_EDGE_VALUES, np.nextafter(2.5, 3.0), np.nextafter(2.5, 2.0)]:
        nan = np.isnan(x)
        column = {
            kernels.SIDE_LEFT: -np.inf if nan else x,
            kernels.SIDE_RIGHT: np.inf if nan else x,
            kernels.SIDE_MISSING: 1.0 if nan else 0.0,
        }
        values = np.vectorize(column.__getitem__)(side)
        got = values > compared
        with np.errstate(invalid="ignore"):
            expected = (x > t) | (nan & (m == 1))
        np.testing.assert_array_equal(got, expected, err_msg=f"x={x!r}")


def _numeric_missing_data(n: int, seed: int):
    """Numbers where a missing value says a lot (so trees split on missingness: threshold +inf,
    missing values right) and +/-inf appear in training."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[rng.random(n) < 0.2, 0] = np.nan
    X[rng.random(n) < 0.1, 1] = np.nan
    X[rng.random(n) < 0.02, 2] = np.inf
    X[rng.random(n) < 0.02, 3] = -np.inf
    logit = 2.0 * np.isnan(X[:, 0]) - 1.5 * np.isnan(X[:, 1]) + np.nan_to_num(X[:, 2], posinf=3) + 0.5 * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(logit, neginf=-3)))).astype(int)
    return X, y


def _bagged_numeric(n_bags: int, seed: int, depth: int = 3):
    X, y = _numeric_missing_data(1500, seed)
    ids = [f"u{i}" for i in range(len(y))]
    mask = np.zeros(X.shape[1], dtype=bool)
    overrides = {"max_depth": depth} if depth != 3 else None
    payload, _ = bagging.fit(X, y, np.ones(len(y)), ids, mask, random_seed=seed, n_bags=n_bags, overrides=overrides)
    return X, json.loads(json.dumps(payload, allow_nan=False))


def _numeric_edge_matrix(X: np.ndarray, payload: dict) -> np.ndarray:
    """Rows of X with every threshold of every member (and its neighbours), NaN, +/-inf, signed
    zeros, subnormals and the largest doubles in each column, and each column all missing."""
    rows = [X[:300].copy()]
    thresholds = {}
    for member in payload["members"]:
        for tree in member["trees"]:
            nodes = tree["nodes"]
            for i, leaf in enumerate(nodes["is_leaf"]):
                if not leaf:
                    t = float(nodes["num_threshold"][i])
                    thresholds.setdefault(nodes["feature_idx"][i], set()).add(t)
    for j in range(X.shape[1]):
        values = list(_EDGE_VALUES)
        for t in thresholds.get(j, ()):
            values += [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
        block = np.repeat(X[300:301], len(values), axis=0)
        block[:, j] = values
        rows.append(block)
        missing = X[:20].copy()
        missing[:, j] = np.nan
        rows.append(missing)
    return np.vstack(rows)


def test_fused_members_are_bit_identical_on_edge_rows():
    """Numeric members with padded trees only are scored in one kernel call per block
    (kernels.score_members), including splits on missingness (threshold +inf, missing right):
    equal to the last bit to the members' mean through the previous path, on edge rows and on
    more than one block of rows, on one and two threads."""
    _numba()
    X, payload = _bagged_numeric(8, 21)
    kernel = bagging.load(payload, engine="kernel")
    reference = bagging.load(payload, engine="sklearn")
    assert kernel._fused is not None and kernel._fused.n_members == 8
    assert (kernel._fused.side == kernels.SIDE_MISSING).any()  # a split on missingness is there
    assert (kernel._fused.side == kernels.SIDE_RIGHT).any() and (kernel._fused.side == kernels.SIDE_LEFT).any()
    E = _numeric_edge_matrix(X, payload)
    big = np.vstack([E, np.tile(X, (12, 1))])  # > 16,384 rows: several blocks, a partial last one
    for n_threads in (1, 2):
        got = kernel.predict_proba_positive(big, n_threads=n_threads)
        np.testing.assert_array_equal(got, reference.predict_proba_positive(big, n_threads=n_threads))
    np.testing.assert_array_equal(got, reference.predict_members(big).mean(axis=0))
    # each member alone (HGBScorer.raw_prepared through score_members) and scikit-learn itself
    for member_payload, member in zip(payload["members"], kernel.members, strict=True):
        assert member._padded is not None
        alone = load_hgb(member_payload, engine="sklearn")
        np.testing.assert_array_equal(member.predict_raw(E), alone.predict_raw(E))


def test_score_members_against_scikit_learn_on_edge_rows():
    """A numeric model's raw scores through kernels.score_members equal scikit-learn's own
    _raw_predict on the edge rows (NaN, +/-inf, thresholds hit exactly and their neighbours),
    for block sizes that split the rows unevenly."""
    _numba()
    X, y = _numeric_missing_data(2000, 22)
    clf = _fit(X, y, max_iter=60)
    scorer = load_hgb(_payload(clf), engine="kernel")
    assert scorer._padded is not None
    payload = bagging.dump([_payload(clf)], seed=0, thresholds=[0], bag_size=1)
    E = _numeric_edge_matrix(X, payload)
    expected = clf._raw_predict(E)[:, 0]
    prepared = scorer._prepare(E)
    for block_rows in (1, 7, 256, 5000):
        got = kernels.score_members(scorer._padded, prepared, block_rows=block_rows)
        assert got.shape == (1, len(E))
        np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(scorer.predict_proba_positive(E), clf.predict_proba(E)[:, 1])
    assert kernels.score_members(scorer._padded, np.empty((0, 4), order="F")).shape == (1, 0)


def test_pass_through_and_forced_missing_splits():
    """Hand-edited thresholds: a split with threshold +inf and missing values right (only missing
    rows go right), with threshold -inf (every number right) and a shallow tree (leaves above depth
    3 become pass-through splits) all score as the previous path does."""
    _numba()
    X, y = _numeric_missing_data(1500, 23)
    payload = _payload(_fit(X, y, max_iter=20, max_depth=2))
    nodes = payload["trees"][0]["nodes"]
    root_feature = nodes["feature_idx"][0]
    nodes["num_threshold"][0], nodes["missing_go_to_left"][0] = "inf", 0
    nodes2 = payload["trees"][1]["nodes"]
    nodes2["num_threshold"][0], nodes2["missing_go_to_left"][0] = "-inf", 1
    kernel = load_hgb(payload, engine="kernel")
    reference = load_hgb(payload, engine="numpy")
    assert kernel._padded is not None
    assert kernel._padded.side[0, 0] == kernels.SIDE_MISSING and kernel._padded.threshold[0, 0] == 0.5
    E = _numeric_edge_matrix(X, bagging.dump([payload], seed=0, thresholds=[0], bag_size=1))
    assert np.isnan(E[:, root_feature]).any() and np.isinf(E[:, root_feature]).any()
    np.testing.assert_array_equal(kernel.predict_raw(E), reference.predict_raw(E))


def test_members_not_all_padded_and_numeric_score_one_by_one():
    """A bagging payload mixing a numeric member with a categorical one (prepared differently), or
    with a deeper one, is not fused (each member through its own path: the categorical one through
    its own fused call, the deep one through the node walk): still bit-identical."""
    _numba()
    X, y = _mixed_data(1200, 24)
    numeric = _payload(_fit(X, y, max_iter=25))
    categorical = _payload(_fit(X, y, MIXED_MASK, max_iter=25))
    deep = _payload(_fit(X, y, max_iter=15, max_depth=6, max_leaf_nodes=31))
    E = _edge_matrix(X, _fit(X, y, MIXED_MASK))
    E = E[_sklearn_rows(_fit(X, y, MIXED_MASK), E)]
    for members in ([numeric, categorical, numeric], [numeric, deep], [numeric, numeric]):
        payload = bagging.dump(members, seed=0, thresholds=[0] * len(members), bag_size=1)
        kernel = bagging.load(payload, engine="kernel")
        assert (kernel._fused is not None) == (members == [numeric, numeric])
        reference = bagging.load(payload, engine="sklearn")
        got = kernel.predict_proba_positive(E, n_threads=1)
        np.testing.assert_array_equal(got, reference.predict_proba_positive(E, n_threads=1))
        np.testing.assert_array_equal(got, reference.predict_members(E).mean(axis=0))


def test_a_failing_fused_kernel_falls_back_and_warns(monkeypatch, caplog):
    _numba()
    X, payload = _bagged_numeric(3, 25)
    kernel = bagging.load(payload, engine="kernel")
    reference = bagging.load(payload, engine="sklearn")
    assert kernel._fused is not None and kernel.engine == "kernel"

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure of the fused kernel")

    monkeypatch.setattr(kernels, "score_members", broken)
    with caplog.at_level(logging.WARNING, logger="lookalike_udf.kernels"):
        got = kernel.predict_proba_positive(X, n_threads=1)
    np.testing.assert_array_equal(got, reference.predict_proba_positive(X, n_threads=1))
    assert "simulated failure of the fused kernel" in caplog.text
    assert kernel._fused is None and kernel.engine == "sklearn"
    assert all(m.engine == "sklearn" for m in kernel.members)
    assert not kernels.kernel_available()


# --- Categorical splits in the fused kernel (decision 0046) -----------------------------------

#: Category codes at the edges of scikit-learn's 32-bit and the kernel's 64-bit bitset words.
_BOUNDARY_CODES = [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 191, 192, 254, 255]
#: Values a categorical column of the prepared matrix may hold: codes, codes at word boundaries,
#: missing, negative, fractional, >= 256 and infinite values.
_CODE_VALUES = st.one_of(
    st.sampled_from(_BOUNDARY_CODES).map(float),
    st.sampled_from([np.nan, -1.0, -0.5, -0.0, 0.5, 31.9, 63.5, 255.99, 256.0, 300.0, np.inf, -np.inf]),
    st.integers(0, 255).map(float),
)
_N_CAT, _N_FEATURES = 2, 4  # features 0 and 1 categorical, 2 and 3 numeric


def _words32(codes) -> list[int]:
    words = [0] * 8
    for c in codes:
        words[c >> 5] |= 1 << (c & 31)
    return words


@st.composite
def _padded_tree(draw, known: list[set], left_within_known: bool):
    """A tree of depth <= 3 in scikit-learn's node layout (children after their parent), with
    numeric and categorical splits (left bitsets drawn from the known categories when
    ``left_within_known``, as scikit-learn builds them) and hand-picked edge thresholds."""
    fields = {k: [] for k in ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right")}
    fields.update(is_leaf=[], is_categorical=[], bitset_idx=[])
    bitsets = []
    threshold = st.one_of(
        st.sampled_from([-np.inf, np.inf, 0.0, -0.0, 0.5, 31.5, 63.0, 64.0, 254.5]),
        st.floats(-1e3, 1e3, allow_nan=False),
    )

    def node(depth: int) -> int:
        i = len(fields["value"])
        for name in fields:
            fields[name].append(0)
        fields["num_threshold"][i] = 0.0
        if depth == 3 or draw(st.integers(0, 4)) == 0:
            fields["is_leaf"][i] = 1
            fields["value"][i] = draw(st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=True))
            return i
        fields["missing_go_to_left"][i] = int(draw(st.booleans()))
        if draw(st.booleans()):
            f = draw(st.integers(0, _N_CAT - 1))
            pool = sorted(known[f]) if left_within_known else list(range(256))
            left = draw(st.sets(st.sampled_from(pool), max_size=len(pool)))
            fields["is_categorical"][i] = 1
            fields["bitset_idx"][i] = len(bitsets)
            bitsets.append(_words32(left))
        else:
            f = draw(st.integers(0, _N_FEATURES - 1))
            fields["num_threshold"][i] = draw(threshold)
        fields["feature_idx"][i] = f
        fields["left"][i] = node(depth + 1)
        fields["right"][i] = node(depth + 1)
        return i

    node(0)
    fields["num_threshold"] = [_encode_float(v) for v in fields["num_threshold"]]
    fields["value"] = [_encode_float(v) for v in fields["value"]]
    return {"nodes": fields, "raw_left_cat_bitsets": bitsets, "binned_left_cat_bitsets": bitsets}


@st.composite
def _categorical_payload(draw, left_within_known: bool = True):
    """A stored hgb payload with two categorical features whose known categories include codes at
    word boundaries (up to 255) and 1 to 6 padded trees mixing numeric and categorical splits."""
    known = [
        draw(st.sets(st.one_of(st.sampled_from(_BOUNDARY_CODES), st.integers(0, 255)), min_size=1, max_size=60))
        for _ in range(_N_CAT)
    ]
    trees = draw(st.lists(_padded_tree(known, left_within_known), min_size=1, max_size=6))
    return {
        "format": "lookalike-hgb/1",
        "n_features": _N_FEATURES,
        "column_order": list(range(_N_FEATURES)),
        "categories": {str(f): [float(v) for v in range(255)] for f in range(_N_CAT)},
        "baseline": _encode_float(draw(st.floats(-3.0, 3.0, allow_nan=False))),
        "known_cat_bitsets": [_words32(k) for k in known],
        "f_idx_map": [0, 1, 0, 0],
        "trees": trees,
    }


def _prepared_matrix(n: int = 0):
    cat = st.lists(_CODE_VALUES, min_size=_N_CAT, max_size=_N_CAT)
    num = st.lists(st.one_of(st.floats(width=64), st.sampled_from(_EDGE_VALUES.tolist())), min_size=2, max_size=2)
    return st.lists(st.tuples(cat, num).map(lambda r: r[0] + r[1]), min_size=n, max_size=40)


def _with_every_boundary(rows: list) -> np.ndarray:
    """The drawn rows plus, for each categorical column, every boundary code, missing and an
    out-of-range value (the other columns from the first row, or zeros)."""
    base = list(rows[0]) if rows else [0.0] * _N_FEATURES
    extra = []
    for f in range(_N_CAT):
        for v in _BOUNDARY_CODES + [np.nan, -1.0, 256.0]:
            row = list(base)
            row[f] = float(v)
            extra.append(row)
    return np.asfortranarray(np.array(list(rows) + extra, dtype=np.float64).reshape(-1, _N_FEATURES))


def _scikit_learn_defined(Xm: np.ndarray) -> np.ndarray:
    """Rows scikit-learn's predictor reads without an out-of-range cast (a categorical value >= 256
    is cast to uint8; the library treats it as missing)."""
    cats = Xm[:, :_N_CAT]
    return ~(cats >= 256).any(axis=1)


@settings(max_examples=150, deadline=None)
@given(_categorical_payload(), _prepared_matrix())
def test_generated_categorical_trees_score_as_scikit_learn(payload, rows):
    """Random depth <= 3 trees with numeric and categorical splits (known categories and left
    bitsets at 32- and 64-bit word boundaries up to code 255, thresholds at edge values) on random
    prepared rows (missing, unknown, negative, fractional and out-of-range codes): the fused kernel
    equals the NumPy walk and the padded walk to the last bit, and scikit-learn's own predictor
    on every row it defines."""
    _numba()
    payload = json.loads(json.dumps(payload, allow_nan=False))
    kernel = load_hgb(payload, engine="kernel")
    assert kernel._padded is not None  # every tree padded, every left bitset within the known
    Xm = _with_every_boundary(rows)
    got = kernel.raw_prepared(Xm)
    np.testing.assert_array_equal(got, load_hgb(payload, engine="numpy").raw_prepared(Xm))
    np.testing.assert_array_equal(got, kernels.score_raw(kernel._flat, Xm))
    for block_rows in (1, 3):
        np.testing.assert_array_equal(got, kernels.score_members(kernel._padded, Xm, block_rows=block_rows)[0])
    ok = _scikit_learn_defined(Xm)
    np.testing.assert_array_equal(got[ok], load_hgb(payload, engine="sklearn").raw_prepared(Xm[ok]))


@settings(max_examples=60, deadline=None)
@given(_categorical_payload(left_within_known=False), _prepared_matrix())
def test_left_categories_outside_the_known_ones(payload, rows):
    """Hand-made left bitsets holding unknown categories: scikit-learn sends such a code left,
    which the fused form cannot express when missing values go right. Those models keep the
    padded walk (stack_padded gives None); the others are fused. Both equal the NumPy walk."""
    _numba()
    payload = json.loads(json.dumps(payload, allow_nan=False))
    kernel = load_hgb(payload, engine="kernel")
    flat = kernel._flat
    expressible = True
    for p in range(len(flat.pad_route)):
        for k in np.flatnonzero(flat.pad_route[p]):
            f = flat.pad_feature[p, k]
            route = flat.routes[flat.pad_route[p, k]]
            unknown = ~kernels._bits(flat.known[flat.f_idx_map[f]])
            expressible &= bool(np.all(route[:256][unknown] == route[256]))
    assert (kernel._padded is not None) == expressible
    Xm = _with_every_boundary(rows)
    got = kernel.raw_prepared(Xm)
    np.testing.assert_array_equal(got, load_hgb(payload, engine="numpy").raw_prepared(Xm))
    ok = _scikit_learn_defined(Xm)
    np.testing.assert_array_equal(got[ok], load_hgb(payload, engine="sklearn").raw_prepared(Xm[ok]))


def test_members_that_know_different_categories_are_not_fused():
    """Two members prepared alike whose known categories of a feature differ cannot share the
    block's "treated as missing" column: not fused, each scored alone, still bit-identical."""
    _numba()
    X, y = _mixed_data(1200, 31)
    member = _payload(_fit(X, y, MIXED_MASK, max_iter=20))
    other = json.loads(json.dumps(member))
    other["known_cat_bitsets"][0][0] |= 1 << 20  # one more known category of the first one
    payload = bagging.dump([member, other], seed=0, thresholds=[0, 0], bag_size=1)
    kernel = bagging.load(payload, engine="kernel")
    assert kernel._fused is None and all(m._padded is not None for m in kernel.members)
    reference = bagging.load(payload, engine="sklearn")
    E = _edge_matrix(X, _fit(X, y, MIXED_MASK))
    np.testing.assert_array_equal(
        kernel.predict_proba_positive(E, n_threads=1), reference.predict_members(E).mean(axis=0)
    )


def _many_categories_data(n: int, seed: int):
    """A categorical column with 255 categories (codes up to 254: four 64-bit words), one with 5,
    and two numbers; some values missing."""
    rng = np.random.default_rng(seed)
    X = np.c_[
        rng.integers(0, 255, n).astype(float),
        rng.integers(0, 5, n).astype(float),
        rng.normal(size=n),
        rng.lognormal(size=n),
    ]
    X[rng.random(n) < 0.05, 0] = np.nan
    X[rng.random(n) < 0.05, 1] = np.nan
    X[rng.random(n) < 0.05, 2] = np.nan
    logit = 1.5 * (np.nan_to_num(X[:, 0]) % 3 == 0) - (X[:, 1] == 2) + 0.5 * np.nan_to_num(X[:, 2])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_255_categories_fused_on_edge_rows_and_several_blocks():
    """scikit-learn's widest categorical feature (255 categories: codes 0..254, every mask word used),
    a narrow one and numbers in depth-3 trees, 20 bagging members: fused, and bit-identical to the
    members' mean predict_proba and to the previous path on the edge rows (missing categories,
    categories never seen in training, codes 0, 31, 32, 63, 64, 254), over several blocks on one
    and two threads."""
    _numba()
    X, y = _many_categories_data(6000, 32)
    mask = [True, True, False, False]
    ids = [f"u{i}" for i in range(len(y))]
    payload, _ = bagging.fit(X, y, np.ones(len(y)), ids, np.array(mask), random_seed=4, n_bags=20)
    payload = json.loads(json.dumps(payload, allow_nan=False))
    kernel = bagging.load(payload, engine="kernel")
    reference = bagging.load(payload, engine="sklearn")
    assert kernel._fused is not None  # every bag saw every category: members prepared alike
    assert kernel._fused.n_words == 4 and kernel._fused.has_cat.any()
    clf = _fit(X, y, mask, max_iter=60)
    E = _edge_matrix(X, clf)
    boundary = np.repeat(X[:1], 8, axis=0)
    boundary[:, 0] = [0, 31, 32, 63, 64, 254, 255, np.nan]  # 255: never seen in training (unknown)
    big = np.vstack([E, boundary, np.tile(X, (3, 1))])  # > 16,384 rows
    for n_threads in (1, 2):
        got = kernel.predict_proba_positive(big, n_threads=n_threads)
        np.testing.assert_array_equal(got, reference.predict_proba_positive(big, n_threads=n_threads))
    ok = _sklearn_rows(clf, big)
    means = np.mean([load_hgb(m, engine="sklearn").predict_proba_positive(big[ok]) for m in payload["members"]], axis=0)
    np.testing.assert_array_equal(got[ok], means)
    single = load_hgb(_payload(clf), engine="kernel")
    assert single._padded is not None and single._padded.n_words == 4
    np.testing.assert_array_equal(
        single.predict_proba_positive(E[_sklearn_rows(clf, E)]), clf.predict_proba(E[_sklearn_rows(clf, E)])[:, 1]
    )
