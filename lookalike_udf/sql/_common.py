"""Building blocks shared by the model compilers: literals, dialect-aware tests, sums, links.

Everything here builds sqlglot expressions; nothing is spliced into SQL text. Floating-point
literals are written so that every supported engine reads them as the exact double the model
holds (shortest round-trip digits, always with an exponent so DuckDB, Spark and Snowflake type
them as DOUBLE rather than DECIMAL; PostgreSQL reads them as NUMERIC and converts exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlglot import exp

#: Dialects the compiler renders for. SQLite is here because the tests run it as a second engine.
DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark", "databricks", "sqlite")

#: Functions DuckDB has (or spells its own way) that the other supported dialects lack; none may
#: appear in SQL rendered for them. ISNAN is DuckDB's and Spark's spelling (BigQuery: IS_NAN;
#: PostgreSQL and Snowflake have none), so it is checked per dialect by the tests.
DUCKDB_ONLY_FUNCTIONS = frozenset(
    {
        "ISINF",
        "ISFINITE",
        "LIST_VALUE",
        "LIST_CONTAINS",
        "LIST_EXTRACT",
        "LIST_POSITION",
        "ARRAY_EXTRACT",
        "STRUCT_PACK",
        "STRUCT_EXTRACT",
        "GET_BIT",
        "XOR",
        "DIVIDE",
        "FDIV",
        "FMOD",
        "NULLIF_NAN",
        "REGEXP_MATCHES",
        "STRING_SPLIT",
        "EPOCH_MS",
        "LIST_TRANSFORM",
        "LIST_REDUCE",
        "ARRAY_POSITION",
        "IFNULL",
        "SUFFIX",
        "PREFIX",
        "ISNAN",
    }
)

#: Largest finite double; ``x > DBL_MAX`` is the portable test for +infinity.
DBL_MAX = float(np.finfo(np.float64).max)
FLT_MAX = float(np.finfo(np.float32).max)

#: The logistic link clamps its input to this range so that EXP never overflows or underflows
#: (PostgreSQL raises on both). 1/(1+exp(-700)) == 1.0 in doubles and expit(-700) < 1e-304, so
#: the clamp changes no score by more than 1e-300.
LINK_CLAMP = 700.0


def payload_float(value) -> float:
    """A number of a stored payload: JSON numbers, or the strings 'nan', 'inf', '-inf' that the
    estimators write for non-finite values."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, found {value!r}")
    return float(value)


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r} is not supported; use one of {', '.join(DIALECTS)}")
    return dialect


def number(value: float) -> exp.Expression:
    """An exact DOUBLE literal for a finite float (negative values as a negation)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no portable SQL literal; compare against DBL_MAX instead")
    text = repr(abs(value))
    if "e" not in text:
        text += "e0"
    literal = exp.Literal(this=text, is_string=False)
    return exp.Neg(this=literal) if math.copysign(1.0, value) < 0 and value != 0 else literal


def integer(value: int) -> exp.Expression:
    value = int(value)
    literal = exp.Literal(this=str(abs(value)), is_string=False)
    return exp.Neg(this=literal) if value < 0 else literal


def paren(e: exp.Expression) -> exp.Expression:
    return e if isinstance(e, (exp.Column, exp.Literal, exp.Paren, exp.Case)) else exp.Paren(this=e)


def balanced_sum(terms: list[exp.Expression]) -> exp.Expression:
    """``t0 + t1 + ...`` as a balanced tree of parenthesised additions: depth grows with
    log2(len(terms)), not with len(terms) (engines cap expression depth; DuckDB at 1000)."""
    if not terms:
        raise ValueError("nothing to sum")
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return exp.Add(this=paren(balanced_sum(terms[:mid])), expression=paren(balanced_sum(terms[mid:])))


def case(condition: exp.Expression, then: exp.Expression, otherwise: exp.Expression) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def is_null(e: exp.Expression) -> exp.Expression:
    return exp.Is(this=e, expression=exp.Null())


def is_nan(e: exp.Expression, dialect: str) -> exp.Expression | None:
    """A condition true exactly when ``e`` (a DOUBLE) is NaN, or None where NaN cannot exist.

    DuckDB, Spark/Databricks and BigQuery have a function (sqlglot's ``IsNan`` renders ISNAN /
    IS_NAN); PostgreSQL and Snowflake compare equal to the NaN value (both order NaN as equal to
    itself); SQLite stores NaN as NULL.
    """
    if dialect in ("duckdb", "spark", "databricks", "bigquery"):
        return exp.IsNan(this=e)
    if dialect in ("postgres", "snowflake"):
        return exp.EQ(this=e, expression=exp.cast(exp.Literal.string("NaN"), exp.DataType.build("double")))
    if dialect == "sqlite":
        return None
    raise ValueError(f"no NaN test for dialect {dialect!r}")


def is_finite(e: exp.Expression) -> exp.Expression:
    """``e`` BETWEEN -DBL_MAX AND DBL_MAX: false for +/-inf, NULL for NULL (e must not be NaN)."""
    return exp.Between(this=e, low=number(-DBL_MAX), high=number(DBL_MAX))


def le_threshold(
    x: exp.Expression, threshold: float, missing_go_to_left: bool, left: exp.Expression, right: exp.Expression
) -> exp.Expression:
    """A split ``x <= threshold`` (left) where NULL (missing) goes left when ``missing_go_to_left``.

    Infinite thresholds compare as IEEE doubles do: every non-missing value is <= +inf, and only
    -inf is <= -inf (that is, below -DBL_MAX).
    """
    if math.isnan(threshold):
        raise ValueError("a split threshold cannot be NaN")
    if threshold == math.inf:
        return left if missing_go_to_left else case(exp.Not(this=is_null(x)), left, right)
    if threshold == -math.inf:
        if missing_go_to_left:
            return case(exp.GTE(this=x, expression=number(-DBL_MAX)), right, left)
        return case(exp.LT(this=x, expression=number(-DBL_MAX)), left, right)
    # NULL > t and NULL <= t are both unknown, so a CASE sends NULL to its ELSE branch.
    if missing_go_to_left:
        return case(exp.GT(this=x, expression=number(threshold)), right, left)
    return case(exp.LTE(this=x, expression=number(threshold)), left, right)


#: Longest IN list written. DuckDB's optimizer rewrites an IN list of five or more constants
#: into a MARK join against a constant table (its ``in_clause`` rewriter); see :func:`in_codes`.
MAX_IN_LIST = 4


def in_codes(x: exp.Expression, codes) -> exp.Expression:
    """``x`` (an integer category code) is one of ``codes``; NULL when ``x`` is NULL.

    Runs of three or more consecutive codes become ``x BETWEEN a AND b``, the other codes
    ``x = c`` or ``x IN (...)`` lists of at most :data:`MAX_IN_LIST` codes, all joined by a
    balanced OR. Longer IN lists are avoided because DuckDB turns each into a MARK join: a
    20-member HGB ensemble holds about 2,000 such lists, and the joins cost DuckDB about 20 s of
    set-up before the first row (bench/SCORING.md). Short lists and ranges stay in the projection.
    """
    runs: list[list[int]] = []
    for c in sorted({int(c) for c in codes}):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    if not runs:
        raise ValueError("no codes to test")
    tests: list[exp.Expression] = []
    singles: list[int] = []
    for a, b in runs:
        if b - a >= 2:
            tests.append(exp.Between(this=x.copy(), low=integer(a), high=integer(b)))
        else:
            singles += list(range(a, b + 1))
    for i in range(0, len(singles), MAX_IN_LIST):
        chunk = singles[i : i + MAX_IN_LIST]
        tests.append(
            exp.EQ(this=x.copy(), expression=integer(chunk[0]))
            if len(chunk) == 1
            else exp.In(this=x.copy(), expressions=[integer(c) for c in chunk])
        )

    def any_of(items: list[exp.Expression]) -> exp.Expression:
        if len(items) == 1:
            return items[0]
        mid = len(items) // 2
        left, right = any_of(items[:mid]), any_of(items[mid:])
        return exp.Or(
            this=exp.Paren(this=left) if isinstance(left, exp.Or) else left,
            expression=exp.Paren(this=right) if isinstance(right, exp.Or) else right,
        )

    return any_of(tests)


def float32_le_bound(threshold: float) -> float:
    """The largest double ``t`` such that ``float32(x) <= threshold`` exactly when ``x <= t``.

    scikit-learn's trees compare float32 inputs with float64 thresholds; rounding to float32 is
    monotonic, so the set of doubles passing the test is a half-line and SQL can compare the
    double itself with ``t`` (SQLite and others have no 32-bit float type).
    """
    if threshold == math.inf:
        return math.inf

    def f32(v: float) -> float:
        with np.errstate(over="ignore"):
            return float(np.float64(v).astype(np.float32))

    def fits(v: float) -> bool:
        return f32(v) <= threshold

    f = f32(threshold)
    if f > threshold:
        f = float(np.nextafter(np.float32(f), np.float32(-np.inf)))
    if f == -math.inf:  # only values rounding to -inf pass
        t = -(FLT_MAX + 2.0**103)
    else:
        with np.errstate(over="ignore"):
            up = float(np.nextafter(np.float32(f), np.float32(np.inf)))
        t = f + 2.0**103 if up == math.inf else (f + up) / 2.0  # the rounding midpoint (exact)
    while not fits(t):
        t = float(np.nextafter(t, -np.inf))
    while t < math.inf and fits(float(np.nextafter(t, np.inf))):
        t = float(np.nextafter(t, np.inf))
    return t


def logistic(raw: exp.Expression) -> exp.Expression:
    """1 / (1 + exp(-raw)), as scipy's expit, with ``raw`` (a column reference) clamped to
    +/-:data:`LINK_CLAMP` so EXP stays in range on every engine."""
    clamped = exp.Case(
        ifs=[
            exp.If(this=exp.GT(this=raw.copy(), expression=number(LINK_CLAMP)), true=number(LINK_CLAMP)),
            exp.If(this=exp.LT(this=raw.copy(), expression=number(-LINK_CLAMP)), true=number(-LINK_CLAMP)),
        ],
        default=raw.copy(),
    )
    return exp.Div(
        this=number(1.0),
        expression=exp.Paren(this=exp.Add(this=number(1.0), expression=exp.Exp(this=exp.Neg(this=clamped)))),
    )


@dataclass
class Member:
    """One model before averaging, as SQL over the encoded feature columns.

    Its value is ``link((intercept + sum(terms)) / divisor)``: ``terms`` are per-tree CASEs or
    per-feature logistic terms, ``link`` is ``"logistic"`` (the value is log-odds) or
    ``"identity"`` (it is already a probability). How the terms are laid out (inline in one
    balanced sum, or as columns of a subquery) is the compiler's choice.
    """

    terms: list
    link: str
    intercept: float = 0.0
    divisor: float = 1.0

    def raw(self, terms: list | None = None) -> exp.Expression:
        """``(intercept + sum) / divisor`` over ``terms`` (default: the member's own)."""
        terms = list(self.terms if terms is None else terms)
        if not terms:  # a constant model: the intercept alone
            total = number(self.intercept)
        else:
            total = balanced_sum(terms)
        if terms and self.intercept != 0.0:
            total = exp.Add(this=number(self.intercept), expression=paren(total))
        if self.divisor != 1.0:
            total = exp.Div(this=paren(total), expression=number(self.divisor))
        return total
