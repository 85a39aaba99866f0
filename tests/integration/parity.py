"""Compare one table built by two engines, row for row: text, integers, booleans and times
exactly, floating-point columns to an absolute tolerance."""

from __future__ import annotations

import math

import duckdb

#: Columns holding the time of the build (or derived from it): they differ between any two builds.
CLOCK_COLUMNS = {
    "training_started_at",
    "training_finished_at",
    "scored_at",
    "compiled_at",
    "published_at",
    "audience_scored_at",
    "built_at",
    "checked_at",
    "serving_file",
    "copied",
    "run_started_at",
    "run_finished_at",
    # the build's id (dbt's invocation_id) in the history relations (decision 0029)
    "build_id",
    "previous_build_id",
    "previous_built_at",
}
#: Reuse keys: a checksum of the inputs computed by each engine's own hash function (DuckDB hash,
#: Spark xxhash64), so the same rows give different keys on the two engines, by design.
ENGINE_KEYS = {"training_fingerprint", "model_fingerprint", "scoring_fingerprint", "inputs_checksum"}


def _columns(con, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe {table}").fetchall()]


def _quote(name: str) -> str:
    """A column name as a DuckDB identifier (the hostile-name tests have quotes in theirs)."""
    return '"' + name.replace('"', '""') + '"'


def table_rows(db_file, table: str, skip=()) -> tuple[list[str], list[tuple]]:
    """The table's rows (minus clock and ``skip`` columns), in a fixed order: sorted by every
    non-float column, then the floats."""
    with duckdb.connect(str(db_file), read_only=True) as con:
        cols = [
            (n, t) for n, t in _columns(con, table) if n not in CLOCK_COLUMNS and n not in ENGINE_KEYS and n not in skip
        ]
        names = [n for n, _ in cols]
        exact = [n for n, t in cols if t not in ("DOUBLE", "FLOAT")]
        floats = [n for n, t in cols if t in ("DOUBLE", "FLOAT")]
        order = ", ".join(f"{_quote(n)} nulls first" for n in exact + floats) or "1"
        select = ", ".join(_quote(n) for n in names)
        return names, con.execute(f"select {select} from {table} order by {order}").fetchall()


def differences(left_db, right_db, table: str, right_table: str | None = None, tol: float = 1e-9, skip=()) -> list[str]:
    """Human-readable differences between ``table`` in two DuckDB files (empty when equal)."""
    names_l, rows_l = table_rows(left_db, table, skip)
    names_r, rows_r = table_rows(right_db, right_table or table, skip)
    if names_l != names_r:
        return [f"{table}: columns differ: {names_l} != {names_r}"]
    if len(rows_l) != len(rows_r):
        return [f"{table}: {len(rows_l)} rows != {len(rows_r)} rows"]
    out = []
    for i, (a, b) in enumerate(zip(rows_l, rows_r, strict=True)):
        for name, x, y in zip(names_l, a, b, strict=False):
            if isinstance(x, float) and isinstance(y, float):
                if x == y or (math.isnan(x) and math.isnan(y)):  # equal, including +/-inf, or both NaN
                    continue
                if not abs(x - y) <= tol:
                    out.append(f"{table} row {i} {name}: {x!r} != {y!r}")
            elif x != y:
                out.append(f"{table} row {i} {name}: {x!r} != {y!r}")
        if len(out) > 20:
            break
    return out
