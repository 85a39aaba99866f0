"""The DuckDB SQL functions (lookalike_udf.duckdb_plugin) on a plain in-memory connection.

The stored models of tests/unit/data/stored_models.json (HGB, RF, logistic, a 4-member bagging PU
ensemble) come with their rows and the scores LookalikeModel.predict gives them."""

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sklearn

import lookalike_udf
from lookalike_udf import duckdb_plugin
from lookalike_udf.duckdb_plugin import ModelCache, register
from lookalike_udf.errors import LookalikeError
from lookalike_udf.integrity import model_sha256
from lookalike_udf.scoring import LookalikeModel

STORED = json.loads((Path(__file__).parent / "data" / "stored_models.json").read_text())
HGB_JSON = STORED["models"]["hgb"]["model_json"]


def rows_of(name: str) -> pa.Table:
    entry = STORED["models"][name]
    return pa.Table.from_pylist(
        [{k: float(v) if k == "noise" else v for k, v in r.items()} for r in STORED["rows"][entry["rows"]]]
    )


@pytest.fixture
def cache():
    return ModelCache()


@pytest.fixture
def con(cache):
    with duckdb.connect() as c:
        register(c, cache)
        yield c


def scores(con, sql: str, params=None) -> np.ndarray:
    return np.array([r[0] if r[0] is not None else np.nan for r in con.execute(sql, params or []).fetchall()])


def error_of(con, sql: str, params=None) -> str:
    with pytest.raises(duckdb.Error) as info:
        con.execute(sql, params or []).fetchall()
    return str(info.value)


@pytest.mark.parametrize("name", ["hgb", "rf", "logistic", "bagging"])
def test_scores_equal_the_python_scorer_for_every_model_type(con, name):
    entry = STORED["models"][name]
    con.register("t", rows_of(name))
    expected = np.array(entry["scores"])
    # The model's JSON itself, and the key lookalike_load_model returns (loaded in the same query).
    np.testing.assert_array_equal(
        scores(con, "select lookalike_score(?, t) from t order by example_id", [entry["model_json"]]),
        expected[np.argsort(rows_of(name)["example_id"].to_pylist())],
    )
    keyed = scores(
        con,
        """
        with m as materialized (select lookalike_load_model(?) as model_key)
        select lookalike_score(m.model_key, t) from t cross join m order by t.example_id""",
        [entry["model_json"]],
    )
    np.testing.assert_array_equal(keyed, expected[np.argsort(rows_of(name)["example_id"].to_pylist())])


def test_the_key_is_the_stored_checksum_and_must_be_loaded_first(con):
    assert con.execute("select lookalike_load_model(?), sha256(?)", [HGB_JSON, HGB_JSON]).fetchall() == [
        (model_sha256(HGB_JSON), model_sha256(HGB_JSON))
    ]
    key = "0" * 64
    message = error_of(
        duckdb_plugin.register(duckdb.connect(), ModelCache()), f"select lookalike_score('{key}', {{'signal': 1.0}})"
    )
    assert (
        f"lookalike_score: no model with key {key} is loaded in this process. Load it in the same query, "
        "before scoring: with m as materialized (select run_id, lookalike_load_model(model_json) as model_key "
        "from lookalike_run_models) select ..., lookalike_score(m.model_key, f) ..."
    ) in message


def test_a_null_model_gives_a_null_score_and_each_row_uses_its_own_model(con):
    t = rows_of("hgb")
    con.register("t", t)
    con.execute(
        "create table m as select * from (values ('hgb', ?), ('rf', ?), ('none', null)) v(name, model_json)",
        [HGB_JSON, STORED["models"]["rf"]["model_json"]],
    )
    got = con.execute("select m.name, t.example_id, lookalike_score(m.model_json, t) from t cross join m").fetchall()
    order = {e: i for i, e in enumerate(t["example_id"].to_pylist())}
    for name in ("hgb", "rf"):
        mine = sorted((order[e], s) for n, e, s in got if n == name)
        np.testing.assert_array_equal([s for _, s in mine], STORED["models"][name]["scores"])
    assert {s for n, _, s in got if n == "none"} == {None}
    assert con.execute("select lookalike_score(null, t) from t limit 1").fetchall() == [(None,)]


def test_missing_feature_names_the_feature_and_the_fix(con):
    message = error_of(con, "select lookalike_score(?, {'signal': 1.0, 'noise': 0.5})", [HGB_JSON])
    assert (
        "lookalike_score: the features argument has no field 'tier', which the model needs (it reads 3 "
        "features). Pass every feature by name: a row of lookalike_inference_features "
        "(lookalike_score(m.model_key, f) with f the table's alias) or struct_pack(...) of the columns listed "
        "by lookalike_model_features(model_json)."
    ) in message
    # duckdb 2.0: struct_pack(*) packs nothing (an empty struct), so every feature is missing.
    con.register("t", rows_of("hgb"))
    assert "has no fields 'signal', 'tier', 'noise'" in error_of(
        con, "select lookalike_score(?, struct_pack(*)) from t", [HGB_JSON]
    )


def test_wrong_kind_of_value_is_an_error_numbers_for_flags_are_not(con):
    message = error_of(con, "select lookalike_score(?, {'signal': 1.0, 'tier': 3, 'noise': 0.5})", [HGB_JSON])
    assert (
        "lookalike_score: feature 'tier' is text (categorical) in the model, but the features argument holds it "
        "as int32. Cast it to VARCHAR in the struct (or pass the column of lookalike_inference_features it was "
        "trained on)."
    ) in message
    assert (
        "feature 'noise' is numeric in the model, but the features argument holds it as string. Cast it to DOUBLE"
        in error_of(con, "select lookalike_score(?, {'signal': 1.0, 'tier': 'pro', 'noise': '0.5'})", [HGB_JSON])
    )
    # Integers, decimals, booleans and untyped NULLs are numbers to the encoder, as in the Python path.
    model = LookalikeModel.from_json(HGB_JSON)
    table = pa.table({"signal": pa.array([1], pa.int32()), "tier": ["pro"], "noise": pa.array([True])})
    got = scores(con, "select lookalike_score(?, {'signal': 1::integer, 'tier': 'pro', 'noise': true})", [HGB_JSON])
    np.testing.assert_array_equal(got, model.predict(table))
    assert scores(
        con, "select lookalike_score(?, {'signal': null, 'tier': null, 'noise': null})", [HGB_JSON]
    ).shape == (1,)


def test_extra_fields_and_field_order_do_not_matter(con):
    con.register("t", rows_of("hgb"))
    by_alias = scores(con, "select lookalike_score(?, t) from t order by example_id", [HGB_JSON])
    packed = scores(
        con,
        "select lookalike_score(?, struct_pack(noise, extra := 42, tier, signal, x := 'y')) from t order by example_id",
        [HGB_JSON],
    )
    np.testing.assert_array_equal(by_alias, packed)


def test_unseen_and_null_categories_score_as_in_python(con):
    t = rows_of("hgb")
    model = LookalikeModel.from_json(HGB_JSON)
    assert "never-seen" not in model.encoder.specs_[model.feature_names.index("tier")].categories
    n = t.num_rows
    tiers = pa.array(["never-seen", None, "another-new"] * (n // 3) + ["never-seen"] * (n % 3))
    t = t.set_column(t.schema.get_field_index("tier"), "tier", tiers)
    con.register("t", t)
    got = scores(con, "select lookalike_score(?, t) from t", [HGB_JSON])
    np.testing.assert_array_equal(got, model.predict(t))
    unseen = tiers.to_numpy(zero_copy_only=False)
    a, b = (
        got[unseen == "never-seen"],
        model.predict(t.set_column(t.schema.get_field_index("tier"), "tier", pa.array(["another-new"] * n)))[
            unseen == "never-seen"
        ],
    )
    np.testing.assert_array_equal(a, b)  # every unseen value is the one "other" category


def test_many_batches_on_several_threads_parse_each_model_once(con, cache):
    t = rows_of("bagging")
    big = pa.concat_tables([t] * 250)  # 10,000 rows: 5 batches of up to 2,048
    con.register("t", big)
    con.execute("set threads = 2")
    model_json = STORED["models"]["bagging"]["model_json"]
    got = scores(con, "select lookalike_score(?, t) from t", [model_json])
    np.testing.assert_allclose(
        np.sort(got), np.sort(np.tile(STORED["models"]["bagging"]["scores"], 250)), rtol=0, atol=0
    )
    assert cache.parses == 1


def test_model_features_and_bad_json(con):
    assert con.execute("select lookalike_model_features(?)", [HGB_JSON]).fetchall() == [(["signal", "tier", "noise"],)]
    assert con.execute("select lookalike_model_features(null)").fetchall() == [(None,)]
    assert "stored model is not valid JSON" in error_of(con, "select lookalike_load_model('{not json')")


def test_register_twice_and_the_dbt_plugin_register_the_same_functions():
    with duckdb.connect() as c:
        register(c)
        register(c)
        duckdb_plugin.Plugin(name="lookalike", plugin_config={}).configure_connection(c)
        names = {
            r[0]
            for r in c.execute(
                "select function_name from duckdb_functions() where function_name like 'lookalike_%'"
            ).fetchall()
        }
        assert names == set(duckdb_plugin.FUNCTIONS)
        version = c.execute("select lookalike_library_version()").fetchone()[0]
        assert version == f"lookalike_udf {lookalike_udf.__version__}; scikit-learn {sklearn.__version__}"
        # NULL arguments, or no serving file at the path: NULL (the serving table is published again).
        assert c.execute(
            "select lookalike_serving_build_id(null, null), "
            "lookalike_serving_build_id('/nonexistent/lookalike.duckdb', null)"
        ).fetchone() == (None, None)


def test_a_model_without_encoder_or_estimator_is_refused_like_other_malformed_models(con):
    """issue 25: a JSON object missing 'encoder' raised KeyError; it is the library's validation error now."""
    payload = json.loads(HGB_JSON)
    del payload["encoder"]
    error = error_of(con, "select lookalike_load_model(?)", [json.dumps(payload)])
    assert "KeyError" not in error
    assert error.endswith(
        "stored model is malformed: it has no 'encoder' object (found: estimator, format, params); "
        "the stored model is inconsistent, retrain it."
    )
    del payload["estimator"]
    with pytest.raises(LookalikeError) as info:
        LookalikeModel.from_json(json.dumps(payload))
    assert str(info.value) == (
        "stored model is malformed: it has no 'encoder' and no 'estimator' object (found: format, "
        "params); the stored model is inconsistent, retrain it."
    )
