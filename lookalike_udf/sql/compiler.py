"""Compile a stored model (``lookalike-model/1`` JSON) into one SQL SELECT.

Layout (decision 0012)::

    SELECT ids, <average of link(member)> AS score          -- score layer
    FROM (SELECT ids, <member 0> AS lookalike__m0, ...        -- one column per member
          FROM (SELECT ids, <encoded feature 0> AS lookalike__f0, ...   -- encoder layer
                FROM <relation>) AS lookalike__encoded) AS lookalike__members

Each member column is its intercept plus a balanced sum of one CASE per tree (or one term per
logistic feature), so the expression depth is about tree depth + log2(number of trees), whatever
the ensemble's size. ``layout="tree_columns"`` puts every tree in its own column of an extra
subquery instead (the alternative measured in the decision record).
"""

from __future__ import annotations

import json

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from ._common import Member, balanced_sum, check_dialect, logistic, number, paren
from .encoder import column, encode_feature, parse_encoder

MODEL_FORMAT = "lookalike-model/1"
LAYOUTS = ("inline", "tree_columns")
#: Prefix of the compiler's own column and subquery names; no id or score column may start with it.
PREFIX = "lookalike__"


def estimator_members(payload: dict, features: list[exp.Expression]) -> list[Member]:
    """The members of an estimator payload (one, or a bagging ensemble's) as SQL over ``features``.

    Dispatches through the estimator registry (:mod:`lookalike_udf.estimators`): each type's
    module validates its payload and compiles it (``EstimatorType.to_sql``).
    """
    from ..estimators import REGISTRY, bagging

    if not isinstance(payload, dict):
        raise ValueError(f"estimator payload must be an object, found {type(payload).__name__}")
    fmt = payload.get("format")
    if fmt == bagging.FORMAT:
        return bagging.to_sql(payload, features)
    compilers = {t.format: t.to_sql for t in REGISTRY.values() if t.to_sql is not None}
    if fmt not in compilers:
        raise ValueError(
            f"estimator payload has format {fmt!r}; expected one of "
            f"{', '.join(repr(f) for f in (*compilers, bagging.FORMAT))}"
        )
    return [compilers[fmt](payload, features)]


def _load(model_json) -> dict:
    payload = json.loads(model_json) if isinstance(model_json, (str, bytes)) else model_json
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"stored model has format {found!r}; expected {MODEL_FORMAT!r}")
    return payload


def _source(relation, dialect: str) -> exp.Expression:
    if isinstance(relation, str):
        return exp.to_table(relation, dialect=dialect)
    if isinstance(relation, exp.Table):
        return relation.copy()
    if isinstance(relation, exp.Query):
        return exp.Subquery(this=relation.copy(), alias=exp.TableAlias(this=exp.to_identifier(PREFIX + "input")))
    if isinstance(relation, exp.Subquery):
        return relation.copy()
    raise TypeError(f"relation must be a table name or a sqlglot table/query, found {type(relation).__name__}")


def _select(
    ids: list[str], columns: list[tuple[exp.Expression, str]], source: exp.Expression, alias: str | None
) -> exp.Select:
    projections = [column(i) for i in ids]
    projections += [exp.Alias(this=e, alias=exp.to_identifier(name, quoted=True)) for e, name in columns]
    if alias is not None:
        source = exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    return exp.Select(expressions=projections).from_(source, copy=False)


def compile_model(
    model_json: str | dict,
    relation,
    *,
    dialect: str = "duckdb",
    id_columns=("user_id",),
    score_column: str = "score",
    layout: str = "inline",
    column_types: dict[str, str] | None = None,
) -> exp.Select:
    """A SELECT returning ``id_columns`` and ``score_column`` (0..1) for every row of ``relation``.

    ``relation`` is a table name (``table``, ``schema.table``, ...) or a sqlglot table or query
    whose columns are named like the model's features. Scores equal
    ``LookalikeModel.from_json(model_json).predict(rows)`` (see tests/unit/test_sql_compile.py).
    ``column_types`` maps input column names to their SQL types (as the warehouse reports them);
    it only matters for DECIMAL columns, which are then converted to double exactly as pyarrow
    converts them for the Python scorer (see :mod:`lookalike_udf.sql.encoder`).
    """
    check_dialect(dialect)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    ids = [str(c) for c in ([id_columns] if isinstance(id_columns, str) else id_columns)]
    for name in ids + [score_column]:
        if name.lower().startswith(PREFIX):
            raise ValueError(f"column {name!r} starts with {PREFIX!r}, which the compiler reserves")
    if score_column in ids:
        raise ValueError(f"score column {score_column!r} is also an id column")
    payload = _load(model_json)
    features = parse_encoder(payload["encoder"])
    types = column_types or {}
    encoded = [(encode_feature(f, dialect, types.get(f.name)), f"{PREFIX}f{j}") for j, f in enumerate(features)]
    query = _select(ids, encoded, _source(relation, dialect), None)
    members = estimator_members(payload["estimator"], [column(name) for _, name in encoded])
    if layout == "tree_columns":
        trees, refs = [], []
        for k, m in enumerate(members):
            names = [f"{PREFIX}t{k}_{i}" for i in range(len(m.terms))]
            trees += list(zip(m.terms, names, strict=True))
            refs.append([column(n) for n in names])
        query = _select(ids, trees, query, PREFIX + "encoded")
        raws = [(m.raw(r), f"{PREFIX}m{k}") for k, (m, r) in enumerate(zip(members, refs, strict=True))]
        query = _select(ids, raws, query, PREFIX + "trees")
    else:
        raws = [(m.raw(), f"{PREFIX}m{k}") for k, m in enumerate(members)]
        query = _select(ids, raws, query, PREFIX + "encoded")
    probabilities = [
        logistic(column(name)) if m.link == "logistic" else column(name)
        for m, (_, name) in zip(members, raws, strict=True)
    ]
    score = (
        probabilities[0]
        if len(probabilities) == 1
        else exp.Div(this=paren(balanced_sum(probabilities)), expression=number(float(len(probabilities))))
    )
    return _select(ids, [(score, score_column)], query, PREFIX + "members")


def to_sql(
    model_json: str | dict,
    relation,
    *,
    dialect: str = "duckdb",
    id_columns=("user_id",),
    score_column: str = "score",
    layout: str = "inline",
    column_types: dict[str, str] | None = None,
    pretty: bool = False,
) -> str:
    """:func:`compile_model` rendered for ``dialect``; sqlglot raises if the dialect cannot express a part."""
    select = compile_model(
        model_json,
        relation,
        dialect=dialect,
        id_columns=id_columns,
        score_column=score_column,
        layout=layout,
        column_types=column_types,
    )
    return select.sql(dialect=dialect, pretty=pretty, unsupported_level=ErrorLevel.RAISE)
