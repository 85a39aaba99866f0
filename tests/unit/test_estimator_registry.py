"""The estimator registry (lookalike_udf.estimators): a new model type is one module plus a registry
entry; models stored before the registry load and score identically; scoring imports no fitting code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import lookalike_udf
from lookalike_udf import dbt_models, estimators
from lookalike_udf.errors import RunValidationError
from lookalike_udf.estimators import EstimatorType, ModelFormatError
from lookalike_udf.estimators.base import _n_features
from lookalike_udf.scoring import LookalikeModel
from lookalike_udf.training import fit_run_model
from lookalike_udf.validation import check_run
from test_model_types import examples
from test_pu import pu_examples
from test_tuning import run_row, summary_for

STORED = Path(__file__).parent / "data" / "stored_models.json"
BUILT_IN_FORMATS = "'lookalike-hgb/1', 'lookalike-rf/1', 'lookalike-logistic/1', 'lookalike-bagging/1'"


# --- A tiny extra model type, written as a type's module would be ------------------------------

PRIOR_FORMAT = "lookalike-test-prior/1"


def prior_default_params(random_seed: int) -> dict:
    return {"shrink": 0.0}


PRIOR_GRID = {"shrink": [0.0, 0.5]}


def prior_fit(X, y, w, mask, random_seed, overrides=None) -> tuple[dict, dict]:
    """Every row gets the weighted positive rate of the training rows, shrunk towards 0.5."""
    params = {**prior_default_params(random_seed), **(overrides or {})}
    rate = float(np.sum(w * (y == 1)) / np.sum(w))
    prior = rate * (1.0 - params["shrink"]) + 0.5 * params["shrink"]
    return {"format": PRIOR_FORMAT, "n_features": int(X.shape[1]), "prior": prior}, params


class PriorScorer:
    engine = "numpy"

    def __init__(self, payload: dict, engine: str = "auto"):
        self.n_features = _n_features(payload)
        prior = payload.get("prior")
        if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not 0.0 <= prior <= 1.0:
            raise ModelFormatError("prior must be a probability in 0..1")
        self.prior = float(prior)

    def predict_proba_positive(self, X) -> np.ndarray:
        return np.full(np.asarray(X).shape[0], self.prior)


def prior_load(payload: dict, engine: str = "auto") -> PriorScorer:
    return PriorScorer(payload, engine=engine)


def prior_to_sql(payload: dict, features: list):
    """A constant probability: no terms, identity link."""
    from lookalike_udf.sql import Member

    return Member(terms=[], link="identity", intercept=prior_load(payload).prior)


PRIOR = EstimatorType(
    name="prior",
    format=PRIOR_FORMAT,
    estimator="ConstantPrior",
    fit=prior_fit,
    load=prior_load,
    grid=PRIOR_GRID,
    in_auto=False,
    to_sql=prior_to_sql,
)


@pytest.fixture
def prior_type():
    estimators.register(PRIOR)
    try:
        yield PRIOR
    finally:
        estimators.unregister("prior")


def weighted_rate(t: pa.Table) -> float:
    train = t.filter(pc.equal(t.column("split"), "train"))
    y, w = train.column("label").to_numpy(), train.column("weight").to_numpy()
    return float(np.sum(w * (y == 1)) / np.sum(w))


def test_a_registered_type_trains_stores_loads_and_scores_through_the_public_path(prior_type):
    assert estimators.model_types() == (
        "hgb",
        "rf",
        "logistic",
        "prior",
        "auto",
        "hgb_or_logistic",
        "hgb_logistic_or_rf",
    )
    assert "prior" not in estimators.auto_types()
    run = {"run_id": "r", "engagement_type": "MULTI_ENGAGE", "test_fraction": 0.2, "model_type": "prior"}
    assert not [e for e in check_run(run, {"n_input_labels": 1}).errors if "model_type" in e]
    t = examples()
    model = fit_run_model("r", t, 3, model_type="prior")
    assert model.params["model_type"] == "prior" and model.params["estimator"] == "ConstantPrior"
    assert model.params["shrink"] == 0.0
    text = model.to_json()
    stored = json.loads(text)["estimator"]
    assert stored == {"format": PRIOR_FORMAT, "n_features": 3, "prior": pytest.approx(weighted_rate(t), rel=1e-12)}
    scores = LookalikeModel.from_json(text).predict(t)
    np.testing.assert_array_equal(scores, np.full(t.num_rows, stored["prior"]))
    bad = json.loads(text)
    bad["estimator"]["prior"] = 1.5
    with pytest.raises(ModelFormatError, match="prior must be a probability"):
        LookalikeModel.from_json(json.dumps(bad))


def test_a_registered_type_is_tuned_on_its_grid_and_bagged(prior_type):
    t = examples()
    tuned = fit_run_model("r", t, 3, model_type="prior", tune_model=True)
    tuning = tuned.params["tuning"]
    assert tuning["grid"] == PRIOR_GRID and [c["params"] for c in tuning["candidates"]] == [{}, {"shrink": 0.5}]
    positives_only, _ = pu_examples()
    bagged = fit_run_model("pu", positives_only, 3, model_type="prior", pu_bags=3)
    payload = json.loads(bagged.to_json())["estimator"]
    assert bagged.is_bagging and [m["format"] for m in payload["members"]] == [PRIOR_FORMAT] * 3
    again = LookalikeModel.from_json(bagged.to_json())
    assert again.predict_training(positives_only).shape == (positives_only.num_rows,)


def test_a_registered_type_goes_through_the_dbt_entry_points(prior_type):
    t = examples()
    runs = pa.Table.from_pylist([run_row(model_type="prior", sample_size=None, extra_attention=False)])
    summary = summary_for(t)
    models = dbt_models.train_models(runs, summary, t)
    row = models.to_pylist()[0]
    assert row["model_status"] == "TRAINED" and row["model_type"] == "prior"
    scores = pa.Table.from_batches(list(dbt_models.score_population(models, t, batch_size=100)))
    assert scores.num_rows == t.num_rows and set(scores.column("scoring_action").to_pylist()) == {"scored"}
    assert set(scores.column("score").to_pylist()) == {json.loads(row["model_json"])["estimator"]["prior"]}


def test_a_registered_type_with_to_sql_scores_in_the_warehouse(prior_type):
    """The same module's to_sql makes the type compile to SQL, alone and inside a bagging ensemble."""
    import duckdb

    from lookalike_udf.sql import to_sql

    t = examples()
    positives_only, _ = pu_examples()
    for model, rows in (
        (fit_run_model("r", t, 3, model_type="prior"), t),
        (fit_run_model("pu", positives_only, 3, model_type="prior", pu_bags=3), positives_only),
    ):
        con = duckdb.connect()
        con.register("rows", rows.append_column("row_id", pa.array(range(rows.num_rows))))
        sql = to_sql(model.to_json(), "rows", id_columns=("row_id",))
        got = [score for _, score in con.execute(f"select * from ({sql}) order by row_id").fetchall()]
        np.testing.assert_allclose(got, model.predict(rows), rtol=0, atol=1e-12)


def test_an_unregistered_type_is_refused_by_name_and_by_format():
    assert "prior" not in estimators.REGISTRY
    with pytest.raises(RunValidationError, match="model_type 'prior' is not one of hgb, rf, logistic, auto"):
        fit_run_model("r", examples(), 1, model_type="prior")
    with pytest.raises(ModelFormatError) as error:
        estimators.load({"format": PRIOR_FORMAT, "n_features": 3, "prior": 0.5})
    assert str(error.value) == f"model payload has format {PRIOR_FORMAT!r}; expected one of {BUILT_IN_FORMATS}"


def test_registry_refuses_taken_names_and_formats_and_unknown_lookups():
    with pytest.raises(ValueError, match="model type 'hgb' is already registered"):
        estimators.register(EstimatorType(name="hgb", format="x/1", estimator="X", fit=prior_fit, load=prior_load))
    with pytest.raises(ValueError, match="model type 'auto' is already registered"):
        estimators.register(EstimatorType(name="auto", format="x/1", estimator="X", fit=prior_fit, load=prior_load))
    for fmt in ("lookalike-rf/1", "lookalike-bagging/1"):
        with pytest.raises(ValueError, match="is already registered"):
            estimators.register(EstimatorType(name="x", format=fmt, estimator="X", fit=prior_fit, load=prior_load))
    for name in ("auto", "xgb", None):
        with pytest.raises(ValueError, match="unknown model type"):
            estimators.get(name)
    for payload in ([], {"format": ["lookalike-hgb/1"]}):
        with pytest.raises(ModelFormatError):
            estimators.load(payload)
    assert estimators.model_types() == ("hgb", "rf", "logistic", "auto", "hgb_or_logistic", "hgb_logistic_or_rf")


def test_every_grid_lists_the_defaults_first():
    """tuning.candidate_order takes the first point of a grid to be the defaults."""
    from lookalike_udf.estimators import hgb, logistic, rf

    X, y, w = np.zeros((400, 2)), np.r_[np.zeros(200), np.ones(200)], np.ones(400)
    for module in (hgb, rf, logistic):
        first = {}
        for key, values in module.GRID.items():
            first.update(values[0] if isinstance(values[0], dict) else {key: values[0]})
        _, params = module.fit(X, y, w, np.zeros(2, dtype=bool), 1)
        assert {k: params[k] for k in first} == first, module.NAME


# --- Models stored before the registry ------------------------------------------------------


def stored_rows(entry: dict, data: dict) -> pa.Table:
    rows = [{k: float(v) if k == "noise" else v for k, v in r.items()} for r in data["rows"][entry["rows"]]]
    return pa.Table.from_pylist(rows)


@pytest.mark.parametrize("name", ["hgb", "rf", "logistic", "bagging"])
def test_models_stored_before_the_registry_load_and_score_identically(name):
    """tests/unit/data/stored_models.json was written by commit 3bf22a6 (lookalike_udf.model_io):
    its model_json must load, score to the same bits and serialise to the same bytes."""
    data = json.loads(STORED.read_text())
    entry = data["models"][name]
    model = LookalikeModel.from_json(entry["model_json"])
    rows = stored_rows(entry, data)
    np.testing.assert_array_equal(model.predict(rows), np.array(entry["scores"]))
    np.testing.assert_array_equal(model.predict_training(rows), np.array(entry["training_scores"]))
    assert model.to_json() == entry["model_json"]


# --- Scoring imports no fitting code --------------------------------------------------------

#: Modules that only fitting needs. None may be imported by loading a stored model and predicting.
FIT_ONLY_MODULES = (
    "lookalike_udf.training",
    "lookalike_udf.tuning",
    "lookalike_udf.pu",
    "lookalike_udf.estimators.fitting",
    "lookalike_udf.dbt_models",
    "lookalike_udf.validation",
    "lookalike_udf.quality",
)

SCORE_IN_A_FRESH_INTERPRETER = """
import json, sys
import pyarrow as pa
from lookalike_udf.scoring import LookalikeModel

data = json.load(open(sys.argv[1]))
entry = data["models"][sys.argv[2]]
rows = [{k: float(v) if k == "noise" else v for k, v in r.items()} for r in data["rows"][entry["rows"]]]
scores = LookalikeModel.from_json(entry["model_json"]).predict(pa.Table.from_pylist(rows))
assert scores.tolist() == entry["scores"]
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("name", ["hgb", "rf", "logistic", "bagging"])
def test_loading_and_scoring_import_no_fitting_code(name):
    root = Path(lookalike_udf.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(
        [sys.executable, "-c", SCORE_IN_A_FRESH_INTERPRETER, str(STORED), name],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert "lookalike_udf.scoring" in modules
    assert not modules & set(FIT_ONLY_MODULES)
    if name == "hgb":
        # The hgb scorer runs scikit-learn's compiled tree predictor (same bits as predict_proba);
        # importing it loads the sklearn package, not any of our fitting code.
        assert "sklearn.ensemble._hist_gradient_boosting.predictor" in modules
    else:  # rf, logistic and this rf ensemble score with NumPy alone
        assert not {m for m in modules if m.split(".")[0] in ("sklearn", "threadpoolctl")}
