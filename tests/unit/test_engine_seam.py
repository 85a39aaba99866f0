"""One engine seam (decision 0024): engine-specific code lives in lookalike_udf/engines/ only, the
library's imports have no cycle, and every engine's methods give the same rows on real DuckDB
relations, Arrow tables and Spark DataFrames, hostile identifiers included.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lookalike_udf import engines
from lookalike_udf.engines import engine_for, engine_of
from lookalike_udf.engines.arrow import ArrowEngine
from lookalike_udf.engines.duckdb import DuckDBEngine
from lookalike_udf.engines.spark import SparkEngine
from spark_session import spark  # noqa: F401 - the shared SparkSession fixture

PACKAGE = Path(__file__).resolve().parents[2] / "lookalike_udf"

#: Modules allowed to import duckdb / pyspark besides lookalike_udf.engines.*: engine entry points
#: by nature. duckdb_plugin registers SQL functions on a DuckDB connection (dbt-duckdb's plugin
#: interface); spark_dbt adds a submission method to dbt-spark and starts Python models in the
#: active SparkSession. Neither is reached from an entry point of the dbt models.
ENGINE_ENTRY_POINTS = {"lookalike_udf.duckdb_plugin", "lookalike_udf.spark_dbt"}
ENGINE_LIBRARIES = ("duckdb", "pyspark")
ENGINE_SWITCHES = {"is_spark", "is_spark_session", "spark_session_of"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) of every import statement of module ``name``
    (module level and inside functions), relative imports resolved."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], node.lineno))
    return out


def _internal_edges(name: str) -> set[str]:
    """The library modules that module ``name`` imports (``from . import x`` counts as module x
    when x is one, else as the package)."""
    edges = set()
    for target, names, _line in _imports(name):
        if not target.startswith("lookalike_udf"):
            continue
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        edges.update(submodules)
        if len(submodules) < len(names) or not names:
            module = target
            while module not in MODULES and "." in module:
                module = module.rpartition(".")[0]
            edges.add(module)
    edges.discard(name)
    return edges


def _exempt(name: str) -> bool:
    return name == "lookalike_udf.engines" or name.startswith("lookalike_udf.engines.") or name in ENGINE_ENTRY_POINTS


def test_only_the_engine_modules_import_duckdb_or_pyspark_or_switch_on_the_engine():
    found = []
    for name, path in MODULES.items():
        if _exempt(name):
            continue
        for target, _names, line in _imports(name):
            if target.split(".")[0] in ENGINE_LIBRARIES:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = (
                    func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                )
                if called in ENGINE_SWITCHES:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: calls {called}()")
    assert not found, "engine-specific code outside lookalike_udf/engines/:\n" + "\n".join(found)


def test_the_scan_sees_what_it_should():
    """The checks above are not vacuous: the engines import their libraries, the old entry points
    go through engine_for, and the Spark backend imports only the seam and pure helpers."""
    assert any(t == "duckdb" for t, _n, _l in _imports("lookalike_udf.engines.duckdb"))
    assert "lookalike_udf.engines" in _internal_edges("lookalike_udf.dbt_models")
    spark_deps = _internal_edges("lookalike_udf.engines.spark")
    assert spark_deps <= {
        "lookalike_udf.engines",
        "lookalike_udf.engines.arrow",
        "lookalike_udf.outputs",
        "lookalike_udf.batch_scoring",
        "lookalike_udf.scoring",
        "lookalike_udf.sql",
        "lookalike_udf.vocabulary",
        "lookalike_udf.engines.spark",
    }, spark_deps
    assert not any(m in MODULES for m in ("lookalike_udf.spark_scoring",))


#: Function-level import cycles inside the estimator registry, older than the engine seam and outside
#: it: the bagging ensemble dispatches its members through the registry that lists it, and hgb /
#: fitting share thread helpers. Any other cycle fails.
KNOWN_CYCLES = {
    frozenset({"lookalike_udf.estimators", "lookalike_udf.estimators.bagging"}),
    frozenset({"lookalike_udf.estimators.fitting", "lookalike_udf.estimators.hgb"}),
}


def test_the_library_has_no_import_cycle():
    graph = {name: _internal_edges(name) for name in MODULES}
    # The engines package finds its engine modules at run time (pkgutil), which this static graph does
    # not see; the engine modules import the package, never the other way round.
    assert not (
        graph.get("lookalike_udf.engines", set()) & {m for m in MODULES if m.startswith("lookalike_udf.engines.")}
    )
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    new = [c for c in cycles if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(" -> ".join(c) for c in new)
    assert {frozenset(c) for c in cycles} == KNOWN_CYCLES  # shrink the list when one is removed


def test_adding_an_engine_is_one_module():
    """Engines are found, not listed: every module of lookalike_udf/engines/ that defines ENGINE."""
    found = [e.name for e in engines.engines()]
    modules = {p.stem for p in (PACKAGE / "engines").glob("*.py") if p.stem != "__init__"}
    assert set(found) == modules >= {"arrow", "duckdb", "spark"}
    assert found.index("spark") < found.index("duckdb") and found[-1] == "arrow"  # by priority, Arrow last
    assert [e.name for e in engines.engines() if e.fallback] == ["arrow"]


#: A third engine, whole: frames that are lists of row dicts. Dropped into the engines package as
#: one module, it is found and used by the entry points with no other change.
TOY_ENGINE = """
import pyarrow as pa

from lookalike_udf.engines import Engine


class Rows(list):
    \"\"\"A frame of this engine: a list of row dicts.\"\"\"

    @property
    def columns(self):
        return list(self[0]) if self else []


class RowsEngine(Engine):
    name = "rows"
    priority = 30

    @classmethod
    def owns(cls, obj):
        return isinstance(obj, Rows)

    def read_own(self, obj):
        return pa.Table.from_pylist(list(obj))

    def column_stats(self, obj, stats):
        out = []
        for stat in stats:
            values = [r[stat[1]] for r in obj if r[stat[1]] is not None]
            if stat[0] == "share":
                out.append(sum(str(v) == stat[2] for v in values) / len(values) if values else None)
            else:
                out.append(sum(float(v) for v in values) / len(values) if values else None)
        return out

    def output(self, table):
        return Rows(table.to_pylist())


ENGINE = RowsEngine
"""


def test_a_third_engine_is_one_module(tmp_path, monkeypatch):
    from lookalike_udf import export, quality, reuse

    folder = tmp_path / "engines"
    folder.mkdir()
    (folder / "rows.py").write_text(TOY_ENGINE, encoding="utf-8")
    monkeypatch.setattr(engines, "__path__", [*engines.__path__, str(folder)])
    monkeypatch.setattr(engines, "_ENGINES", None)
    try:
        assert [e.name for e in engines.engines()] == ["spark", "duckdb", "rows", "arrow"]
        rows_module = __import__("lookalike_udf.engines.rows", fromlist=["Rows"])
        table = _table()
        frame = rows_module.Rows(table.to_pylist())
        assert engine_for(None, frame).name == "rows"
        got = quality.population_prevalence(frame, [(HOSTILE[0], "numeric", None), (HOSTILE[1], "categorical", "x")])
        assert got == pytest.approx({(HOSTILE[0], "numeric", None): 25.5 / 6, (HOSTILE[1], "categorical", "x"): 4 / 6})
        previous = rows_module.Rows([{"run_id": "r", "training_fingerprint": "f", "model_json": "{}"}])
        carried = reuse.carry_over(
            engine_for(previous), previous, "training_fingerprint", {"r": "f"}, required=("model_json",)
        )
        assert carried.runs == {"r": "f"} and carried.rows.to_pylist() == list(previous)
        result = export.export_audiences(
            rows_module.Rows([{"run_id": "r", "score_rank": 1}]),
            rows_module.Rows([{"run_id": "r", "audience_export_path": None}]),
        )
        assert isinstance(result, rows_module.Rows) and list(result) == []
    finally:
        monkeypatch.setattr(engines, "_ENGINES", None)
        import sys

        sys.modules.pop("lookalike_udf.engines.rows", None)


# --- Behaviour on real frames --------------------------------------------------------------------

#: Column names no engine may mangle: quotes, backticks, a newline, a dot, unicode, SQL.
HOSTILE = ['a"b', "c`d", "new\nline", "x.y", "ünï ñame", "'; drop table t; --"]


def _table() -> pa.Table:
    n = 7
    data = {
        "run_id": pa.array(["r1", "r2", "r1", "r3", "r2", "r1", "r3"]),
        "user_id": pa.array([f"u{i}" for i in range(n)]),
        HOSTILE[0]: pa.array([1.0, 2.0, None, 4.0, 5.0, 6.0, 7.5]),
        HOSTILE[1]: pa.array(["x", "y", "x", None, "x", "z", "x"]),
        HOSTILE[2]: pa.array([True, False, True, None, True, False, True]),
        HOSTILE[3]: pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
        HOSTILE[4]: pa.array(["é", "é", "ü", "é", None, "ü", "é"]),
        HOSTILE[5]: pa.array([0.5] * n),
    }
    return pa.table(data)


STATS = [
    ("mean", HOSTILE[0]),
    ("share", HOSTILE[1], "x"),
    ("mean", HOSTILE[2]),
    ("mean", HOSTILE[3]),
    ("share", HOSTILE[4], "é"),
    ("share", HOSTILE[4], "it's"),
    ("mean", HOSTILE[5]),
]
EXPECTED_STATS = [25.5 / 6, 4 / 6, 4 / 6, 4.0, 4 / 6, 0.0, 0.5]


def _sorted_rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r["user_id"])


def _frames(kind: str, table: pa.Table, request):
    if kind == "arrow":
        return table, ArrowEngine
    if kind == "duckdb":
        con = duckdb.connect()
        return con.from_arrow(table), DuckDBEngine
    session = request.getfixturevalue("spark")
    from lookalike_udf.engines.spark import to_spark

    return to_spark(session, table), SparkEngine


KINDS = ["arrow", "duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_engine_reads_filters_and_aggregates_the_same_rows(kind, request):
    table = _table()
    frame, expected_engine = _frames(kind, table, request)
    engine = engine_for(None, table, frame)  # the first input that is not plain Arrow decides
    assert type(engine) is expected_engine and type(engine_of(frame)) is expected_engine
    assert engine.columns(frame) == table.column_names
    assert _sorted_rows(engine.to_arrow(frame)) == _sorted_rows(table)
    assert engine.count(frame) == table.num_rows
    batches = list(engine.batches(frame, 3))
    assert all(b.num_rows <= 3 for b in batches)
    assert _sorted_rows(pa.Table.from_batches(batches)) == _sorted_rows(table)
    # where_in filters or leaves the filtering to the caller; either way the caller's filter gives the rows.
    kept = engine.to_arrow(engine.where_in(frame, "run_id", ["r1", "r3"]))
    kept = kept.filter(pa.compute.is_in(kept.column("run_id"), pa.array(["r1", "r3"])))
    assert _sorted_rows(kept) == [r for r in _sorted_rows(table) if r["run_id"] in ("r1", "r3")]
    distinct = engine.distinct_rows(frame, ["run_id", HOSTILE[1]])
    assert all(pa.types.is_string(f.type) for f in distinct.schema)
    assert sorted(map(tuple, (r.values() for r in distinct.to_pylist())), key=str) == sorted(
        {(r["run_id"], r[HOSTILE[1]]) for r in table.to_pylist()}, key=str
    )
    got = engine.column_stats(frame, STATS)
    assert [round(v, 12) for v in got] == [round(v, 12) for v in EXPECTED_STATS]
    assert engine.column_stats(frame, []) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_engine_returns_the_result_dbt_writes(kind, request):
    table = _table()
    frame, _engine = _frames(kind, table, request)
    engine = engine_for(frame)
    out = engine.output(table)
    if kind == "spark":
        assert type(out).__module__.startswith("pyspark.")
        assert _sorted_rows(engine.to_arrow(out)) == _sorted_rows(table)
        empty = engine.output(table.slice(0, 0))
        assert empty.columns == table.column_names and empty.count() == 0
    else:
        assert out is table


@pytest.mark.parametrize("name", ["plain", *HOSTILE])
def test_duckdb_quoting_survives_hostile_identifiers(name):
    q = DuckDBEngine.quote_identifier
    con = duckdb.connect()
    con.execute(f"create schema {q(name)}")
    con.execute(f"create table {q(name)}.{q(name)} ({q(name)} integer)")
    con.execute(f"insert into {q(name)}.{q(name)} values (42)")

    class This:
        database = "memory"
        schema = name
        identifier = name

    previous = engine_for(con).previous_table(con, This())
    assert previous is not None and previous.columns == [name] and previous.fetchall() == [(42,)]
    This.identifier = name + " missing"
    assert engine_for(con).previous_table(con, This()) is None
    relation = con.from_arrow(pa.table({name: [1, 2]}))
    assert relation.project(q(name)).fetchall() == [(1,), (2,)]


@pytest.mark.spark
@pytest.mark.parametrize("name", ["plain", *HOSTILE])
def test_spark_quoting_survives_hostile_identifiers(name, spark):
    q = SparkEngine.quote_identifier
    df = spark.createDataFrame([(1,), (2,)], [name])
    assert [r[0] for r in df.select(q(name)).collect()] == [1, 2]
    df.createOrReplaceTempView("seam_hostile")
    try:
        assert [r[0] for r in spark.sql(f"select {q(name)} from seam_hostile").collect()] == [1, 2]
    finally:
        spark.catalog.dropTempView("seam_hostile")

    class This:
        database = "None"
        schema = "default"
        identifier = name

    assert SparkEngine().relation_name(This()) == f"`default`.{q(name)}"
    assert engine_for(spark).previous_table(spark, This()) is None  # never built


def test_arrow_engine_takes_pandas_and_hands_other_engines_their_frames():
    pandas = pytest.importorskip("pandas")
    table = _table()
    df = table.to_pandas()
    assert type(engine_for(df)) is ArrowEngine and isinstance(df, pandas.DataFrame)
    assert _sorted_rows(ArrowEngine().to_arrow(df)) == _sorted_rows(table)
    relation = duckdb.connect().from_arrow(table)
    assert _sorted_rows(ArrowEngine().to_arrow(relation)) == _sorted_rows(table)  # read by DuckDB
    assert sum(b.num_rows for b in ArrowEngine().batches(relation, 2)) == table.num_rows
    assert engine_for().name == "arrow" and engine_for(None, table).name == "arrow"


def test_column_stats_agree_with_nan_and_missing_values():
    table = pa.table({"v": pa.array([1.0, math.nan, None]), "c": pa.array([None, None, None], pa.string())})
    for frame in (table, duckdb.connect().from_arrow(table)):
        mean, share = engine_for(frame).column_stats(frame, [("mean", "v"), ("share", "c", "x")])
        assert math.isnan(mean) and share is None
