"""Stored models as portable SQL (issue 13, decision 0012).

:func:`compile_model` turns a ``lookalike-model/1`` JSON model into a sqlglot SELECT that scores
every row of a relation inside the warehouse; :func:`to_sql` renders it for a dialect
(duckdb, postgres, snowflake, bigquery, spark, databricks, sqlite). The compiler reads only the
JSON (encoder plus estimator payload); it imports no scorer.

The per-estimator functions (:func:`hgb_member`, :func:`rf_member`, :func:`logistic_member`,
:func:`estimator_members`) return :class:`Member` objects over given encoded-feature expressions,
for estimator modules that compile their own payload.
"""

from ._common import DIALECTS, DUCKDB_ONLY_FUNCTIONS, Member, float32_le_bound
from .compiler import LAYOUTS, compile_model, estimator_members, to_sql
from .encoder import encode_feature, parse_encoder
from .linear import logistic_member
from .trees import hgb_member, rf_member

__all__ = [
    "compile_model",
    "to_sql",
    "estimator_members",
    "hgb_member",
    "rf_member",
    "logistic_member",
    "encode_feature",
    "parse_encoder",
    "Member",
    "float32_le_bound",
    "DIALECTS",
    "DUCKDB_ONLY_FUNCTIONS",
    "LAYOUTS",
]
