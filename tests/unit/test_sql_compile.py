"""Compiled SQL scores equal the Python scorer's to 1e-9 on two real engines (DuckDB, SQLite),
renders for every supported dialect without DuckDB-only functions, and stays within DuckDB's
expression depth for a 20 x 300-tree bagging ensemble (issue 13, decision 0012)."""

from __future__ import annotations

import copy
import json
import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from lookalike_udf.sql import DIALECTS, DUCKDB_ONLY_FUNCTIONS, compile_model, float32_le_bound, to_sql
from lookalike_udf.training import LookalikeModel, fit_run_model
from sql_parity import WEIRD, as_sqlite_sees_it, duckdb_scores, scoring_rows, sqlite_scores, training_examples

CASES = {
    "hgb_supervised": dict(model_type="hgb"),
    "rf_supervised": dict(model_type="rf"),
    "logistic_supervised": dict(model_type="logistic"),
    "hgb_pu_bagging": dict(model_type="hgb", negatives=False, pu_method="bagging", pu_bags=4),
    "hgb_pu_plain": dict(model_type="hgb", negatives=False, pu_method="plain"),
    "rf_pu_bagging": dict(model_type="rf", negatives=False, pu_method="bagging", pu_bags=3),
    "logistic_pu_bagging": dict(model_type="logistic", negatives=False, pu_method="bagging", pu_bags=3),
}


@pytest.fixture(scope="module")
def models() -> dict[str, str]:
    out = {}
    for name, kw in CASES.items():
        kw = dict(kw)
        examples = training_examples(negatives=kw.pop("negatives", True))
        out[name] = fit_run_model("r", examples, random_seed=7, **kw).to_json()
    return out


def python_scores(model_json: str, rows: pa.Table) -> np.ndarray:
    return LookalikeModel.from_json(model_json).predict(rows)


def test_a_logistic_model_with_rare_categories_scores_the_same_in_sql():
    """60 examples: most tiers have fewer than 10 rows, so they get no one-hot column (decision 0034)
    and score like unseen tiers, in Python and in both engines."""
    model_json = fit_run_model("r", training_examples(60, seed=3), random_seed=7, model_type="logistic").to_json()
    payload = json.loads(model_json)
    tier = [f["name"] for f in payload["encoder"]["features"]].index("tier")
    est = payload["estimator"]
    kept = est["categories"][est["categorical_columns"].index(tier)]
    assert 1 <= len(kept) < len(payload["encoder"]["features"][tier]["categories"])
    rows = scoring_rows(model_json)
    expected = python_scores(model_json, rows)
    np.testing.assert_allclose(duckdb_scores(model_json, rows), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sqlite_scores(model_json, as_sqlite_sees_it(rows)), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_duckdb_and_sqlite_scores_equal_python(models, case):
    model_json = models[case]
    payload = json.loads(model_json)
    assert [f["name"] for f in payload["encoder"]["features"]] == ["signal", "visits", "amount", "flag", "tier", WEIRD]
    method = payload["params"]["training_method"]
    assert method == {
        "hgb_pu_bagging": "pu_bagging",
        "rf_pu_bagging": "pu_bagging",
        "logistic_pu_bagging": "pu_bagging",
        "hgb_pu_plain": "pu_plain",
    }.get(case, "supervised")
    rows = scoring_rows(model_json)
    assert rows.num_rows > 300
    expected = python_scores(model_json, rows)
    assert np.all((expected >= 0) & (expected <= 1)) and np.std(expected) > 0.01
    np.testing.assert_allclose(duckdb_scores(model_json, rows), expected, rtol=0, atol=1e-9)
    stored = as_sqlite_sees_it(rows)
    np.testing.assert_allclose(sqlite_scores(model_json, stored), python_scores(model_json, stored), rtol=0, atol=1e-9)


def test_edge_rows_hit_thresholds_and_every_missing_kind(models):
    rows = scoring_rows(models["hgb_supervised"])
    signal = rows.column("signal").to_numpy(zero_copy_only=False)
    assert np.isnan(signal).any() and np.isinf(signal).any() and rows.column("signal").null_count > 0
    thresholds = {
        t
        for tree in json.loads(models["hgb_supervised"])["estimator"]["trees"]
        for t, leaf in zip(tree["nodes"]["num_threshold"], tree["nodes"]["is_leaf"], strict=False)
        if not leaf
    }
    assert len(thresholds & set(signal.tolist())) > 0
    assert "unseen-tier" in rows.column("tier").to_pylist()


def test_tree_columns_layout_scores_the_same(models):
    model_json = models["hgb_pu_bagging"]
    rows = scoring_rows(model_json, n_random=50)
    np.testing.assert_allclose(
        duckdb_scores(model_json, rows, layout="tree_columns"), python_scores(model_json, rows), rtol=0, atol=1e-9
    )


def _functions(tree: exp.Expression, dialect: str) -> set[str]:
    """Names of the functions called in ``tree`` as rendered for ``dialect``."""
    names = set()
    for node in tree.find_all(exp.Func):
        if isinstance(node, (exp.Case, exp.If, exp.Cast, exp.Between)):
            continue
        text = node.sql(dialect=dialect)
        if "(" in text:
            names.add(text.split("(", 1)[0].strip().upper())
    return names


#: The NaN test each dialect must use (SQLite has no NaN).
NAN_TESTS = {
    "duckdb": "ISNAN(",
    "spark": "ISNAN(",
    "databricks": "ISNAN(",
    "bigquery": "IS_NAN(",
    "postgres": "= CAST('NaN' AS DOUBLE PRECISION)",
    "snowflake": "= CAST('NaN' AS DOUBLE)",
}


def trimmed(model_json: str, n_trees: int = 4) -> str:
    """The model with each (member) tree list cut to ``n_trees``: small SQL for parse-back tests."""
    payload = json.loads(model_json)
    estimator = payload["estimator"]
    for member in estimator.get("members", [estimator]):
        if "trees" in member:
            member["trees"] = member["trees"][:n_trees]
    return json.dumps(payload)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_renders_for_every_dialect_without_duckdb_only_functions(models, dialect):
    allowed = {"spark": {"ISNAN"}, "databricks": {"ISNAN"}}.get(dialect, set())
    for case in ("hgb_supervised", "rf_pu_bagging", "logistic_supervised"):
        sql = to_sql(
            trimmed(models[case]),
            "analytics.population",
            dialect=dialect,
            id_columns=("user_id",),
            column_types={"amount": "DECIMAL(10, 2)"},
        )
        parsed = sqlglot.parse_one(sql, read=dialect)
        assert isinstance(parsed, exp.Select)
        functions = _functions(parsed, dialect)
        assert functions, dialect
        if dialect != "duckdb":
            assert not functions & (DUCKDB_ONLY_FUNCTIONS - allowed), (dialect, functions)
        assert "TRY_CAST(" not in sql.upper()  # a failed cast must fail, not score a NULL
        if dialect == "sqlite":
            assert "NAN" not in sql.upper().replace("'", "")
        else:
            assert NAN_TESTS[dialect] in sql
        # Category literals keep their value (quote and backslash) through the dialect's escaping.
        literals = {lit.this for lit in parsed.find_all(exp.Literal) if lit.is_string}
        if case != "rf_pu_bagging":
            assert "it's \\ odd" in literals
        # Identifiers are quoted by the dialect's rules, whatever characters they hold.
        assert exp.to_identifier(WEIRD, quoted=True).sql(dialect=dialect) in sql


def _depth(node: exp.Expression) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in current.iter_expressions())
    return deepest


def big_bagging_model(model_json: str, n_members: int = 20, n_trees: int = 300) -> str:
    """A 20 x 300-tree bagging model made from a fitted one's trees (repeated, leaf values scaled
    per member so members differ); the Python scorer loads and validates it like any other."""
    payload = json.loads(model_json)
    trees = [t for m in payload["estimator"]["members"] for t in m["trees"]]
    members = []
    for k in range(n_members):
        member = copy.deepcopy(payload["estimator"]["members"][k % len(payload["estimator"]["members"])])
        member["trees"] = []
        for i in range(n_trees):
            tree = copy.deepcopy(trees[(i + k) % len(trees)])
            tree["nodes"]["value"] = [
                v * (0.2 + 0.01 * k) if isinstance(v, float) else v for v in tree["nodes"]["value"]
            ]
            member["trees"].append(tree)
        members.append(member)
    payload["estimator"]["members"] = members
    payload["estimator"]["bagging"]["thresholds"] = [0] * n_members
    return json.dumps(payload)


def test_20_by_300_tree_bagging_fits_duckdb_depth_limit(models):
    model_json = big_bagging_model(models["hgb_pu_bagging"])
    select = compile_model(model_json, "scoring_rows", id_columns=("row_id",))
    depth = _depth(select)
    assert depth < 80, depth  # tree depth + log2(6000) + a few layers, far from DuckDB's 1000
    rows = scoring_rows(models["hgb_pu_bagging"], n_random=40)
    with duckdb.connect() as con:
        assert con.execute("select current_setting('max_expression_depth')").fetchone()[0] == 1000
    np.testing.assert_allclose(duckdb_scores(model_json, rows), python_scores(model_json, rows), rtol=0, atol=1e-9)


def test_a_linear_chain_of_additions_would_not_fit():
    """The reason for balanced sums: 1,500 chained additions exceed DuckDB's depth limit."""
    chain = " + ".join(["x"] * 1500)
    with duckdb.connect() as con, pytest.raises(duckdb.Error, match="depth"):
        con.execute(f"select {chain} from (select 1.0 as x)").fetchall()


def test_float32_bound_matches_sklearn_comparison():
    rng = np.random.default_rng(0)
    thresholds = np.concatenate(
        [
            rng.normal(size=300) * 10.0 ** rng.integers(-30, 30, size=300),
            [0.0, 0.5, 1.5, 3.4028234663852886e38, 3.5e38, -3.5e38, 1e-46, -1e-46, 2.5],
        ]
    )
    for thr in thresholds:
        t = float32_le_bound(float(thr))
        for x in (t, float(np.nextafter(t, np.inf)), float(np.nextafter(t, -np.inf)), float(thr)):
            with np.errstate(over="ignore"):
                expected = float(np.float32(x)) <= thr
            assert (x <= t) == expected, (thr, x, t)
    assert float32_le_bound(math.inf) == math.inf


def test_relation_may_be_a_query_and_names_are_quoted(models):
    rows = scoring_rows(models["logistic_supervised"], n_random=20)
    query = sqlglot.parse_one("select * from scoring_rows where row_id >= 0", read="duckdb")
    sql = to_sql(models["logistic_supervised"], query, id_columns=("row_id",), score_column="my score")
    with duckdb.connect() as con:
        con.register("scoring_rows", rows)
        result = con.sql(sql).to_arrow_table()
    assert result.column_names == ["row_id", "my score"]
    assert '"odd ""name"".x-y `z`"' in sql


def test_bad_arguments_are_refused(models):
    with pytest.raises(ValueError, match="dialect 'oracle' is not supported"):
        to_sql(models["hgb_supervised"], "t", dialect="oracle")
    with pytest.raises(ValueError, match="reserves"):
        to_sql(models["hgb_supervised"], "t", id_columns=("lookalike__f0",))
    with pytest.raises(ValueError, match="format 'pickle'"):
        to_sql(json.dumps({"format": "pickle"}), "t")
    bad = json.loads(models["hgb_supervised"])
    bad["estimator"]["format"] = "lookalike-svm/1"
    with pytest.raises(ValueError, match="lookalike-svm/1"):
        to_sql(bad, "t")


def test_compiler_imports_no_scorer():
    from pathlib import Path

    import lookalike_udf.sql as package

    for path in Path(package.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "model_io" not in text.replace("model_io.py", "") or path.name == "__init__.py", path
        assert "from ..models" not in text and "import models" not in text, path


def test_code_sets_are_ranges_and_short_in_lists_that_duckdb_keeps_in_the_projection():
    """A categorical split's code set: exact membership (NULL stays unknown) in DuckDB and SQLite,
    and no IN list long enough for DuckDB to turn it into a MARK join (20 s of set-up on a
    20-member ensemble, bench/SCORING.md)."""
    import sqlite3

    from lookalike_udf.sql._common import MAX_IN_LIST, in_codes

    rng = np.random.default_rng(3)
    x = exp.column("x")
    sets = [{0}, {0, 1}, {0, 1, 2}, {5, 7, 9, 11, 13, 15}, set(range(40)), {1, 2, 3, 7, 8, 20, 22, 24, 26, 28, 30}]
    sets += [set(rng.choice(41, size=int(rng.integers(1, 41)), replace=False).tolist()) for _ in range(30)]
    values = list(range(-1, 42)) + [None]
    with duckdb.connect() as con, sqlite3.connect(":memory:") as lite:
        con.execute("create table t as select unnest(?::integer[]) as x", [values])
        lite.execute("create table t (x integer)")
        lite.executemany("insert into t values (?)", [(v,) for v in values])
        for codes in sets:
            test = in_codes(x, codes)
            assert all(len(node.expressions) <= MAX_IN_LIST for node in test.find_all(exp.In))
            query = exp.select(
                x,
                exp.Case(ifs=[exp.If(this=test, true=exp.Literal.number(1))], default=exp.Literal.number(0)).as_("hit"),
            ).from_("t")
            plan = con.execute("explain " + query.sql("duckdb")).fetchall()[0][1]
            assert "JOIN" not in plan, codes
            for rows in (con.execute(query.sql("duckdb")).fetchall(), lite.execute(query.sql("sqlite")).fetchall()):
                assert {v: hit for v, hit in rows} == {v: int(v is not None and v in codes) for v in values}, codes


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (None, "duckdb", ["duckdb"]),  # the default: the building warehouse's dialect only
        (None, "spark", ["spark"]),
        ("null", "snowflake", ["snowflake"]),
        (None, "redshift", []),  # a warehouse without a dialect here: no rows
        (["Snowflake", "duckdb", "snowflake"], "spark", ["snowflake", "duckdb"]),
        ("['duckdb', 'bigquery']", "duckdb", ["duckdb", "bigquery"]),  # a list as dbt renders it in a config
        ([], "duckdb", []),
    ],
)
def test_scoring_sql_dialects_default_to_the_target(value, target, expected):
    from lookalike_udf.dbt_models import _dialect_list

    assert _dialect_list(value, target) == expected


def test_scoring_sql_dialects_refuse_unknown_names():
    from lookalike_udf.dbt_models import _dialect_list
    from lookalike_udf.errors import LookalikeError

    with pytest.raises(LookalikeError, match="names 'oracle'; the dialects are duckdb"):
        _dialect_list(["duckdb", "oracle"], "duckdb")


PLANTED = "; drop table lookalike_runs; create table lookalike_planted as select 1 as x"


def test_scoring_sql_reuses_only_text_that_matches_its_checksum(models):
    """Issue 25 item 7: a previous build's sql_text is carried over only while it matches sql_sha256;
    an edited text (here with a planted statement) is compiled again, equal to the original, and the
    row says why. DuckDB's sha256() agrees with the stored digest, as macro lookalike.score checks it."""
    from lookalike_udf.dbt_models import scoring_sql, sql_recompiled_message, sql_sha256
    from lookalike_udf.integrity import model_sha256

    model_json = models["logistic_supervised"]
    stored = pa.Table.from_pylist(
        [
            {
                "run_id": "r",
                "model_status": "TRAINED",
                "model_json": model_json,
                "model_sha256": model_sha256(model_json),
                "training_fingerprint": "fp",
            }
        ]
    )
    first = scoring_sql(stored, dialects=["duckdb", "sqlite"]).to_pylist()
    assert [(r["dialect"], r["compile_action"], r["compile_message"]) for r in first] == [
        ("duckdb", "compiled", None),
        ("sqlite", "compiled", None),
    ]
    for row in first:
        assert row["sql_sha256"] == sql_sha256(row["sql_text"]) and len(row["sql_sha256"]) == 64
        assert duckdb.execute("select sha256(?)", [row["sql_text"]]).fetchall() == [(row["sql_sha256"],)]

    again = scoring_sql(stored, dialects=["duckdb", "sqlite"], previous=pa.Table.from_pylist(first)).to_pylist()
    assert [(r["compile_action"], r["compile_message"], r["sql_text"]) for r in again] == [
        ("reused", None, r["sql_text"]) for r in first
    ]

    tampered = [dict(r) for r in first]
    tampered[0]["sql_text"] += PLANTED  # sql_sha256 left as it was
    redone = scoring_sql(stored, dialects=["duckdb", "sqlite"], previous=pa.Table.from_pylist(tampered)).to_pylist()
    assert (redone[0]["compile_action"], redone[0]["sql_text"], redone[0]["sql_sha256"]) == (
        "compiled",
        first[0]["sql_text"],
        first[0]["sql_sha256"],
    )
    assert (
        redone[0]["compile_message"]
        == sql_recompiled_message("r", "duckdb")
        == (
            "run 'r': the stored duckdb SQL in lookalike_run_scoring_sql did not match its checksum sql_sha256 (edited "
            "or corrupted since it was compiled), so it was not reused; it was compiled again from the run's stored model."
        )
    )
    assert (redone[1]["compile_action"], redone[1]["compile_message"]) == ("reused", None)  # the intact dialect

    # A null or missing checksum (a row edited to drop it) is a mismatch too; a reused row drops the
    # message of the build that compiled it.
    tampered[0]["sql_text"], tampered[0]["sql_sha256"] = first[0]["sql_text"], None
    assert scoring_sql(stored, dialects=["duckdb"], previous=pa.Table.from_pylist(tampered)).to_pylist()[0][
        "compile_message"
    ] == sql_recompiled_message("r", "duckdb")
    latest = scoring_sql(stored, dialects=["duckdb"], previous=pa.Table.from_pylist(redone)).to_pylist()[0]
    assert (latest["compile_action"], latest["compile_message"], latest["sql_text"]) == (
        "reused",
        None,
        first[0]["sql_text"],
    )
