"""One engine seam, macro side (decision 0024, "Amendment: macros"): SQL that only DuckDB runs sits
in a `duckdb__` dispatch macro or the DuckDB materialization, and no macro branches on the adapter
inline (`adapter.type() == ...`, `target.type in ...`): an engine is added by its own
`<adapter>__` macros, not by editing the shared ones."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

MACROS = REPO / "macros"

#: SQL that DuckDB runs and Spark (and most engines) do not, or runs differently.
DUCKDB_ONLY = {
    "duckdb_*() catalog functions": r"\bduckdb_\w+\s*\(",
    "ASOF join": r"\basof\s+(?:left\s+|inner\s+)?join\b",
    "USING SAMPLE": r"\busing\s+sample\b",
    "SELECT * EXCLUDE": r"\bexclude\s*\(",
    "QUALIFY": r"\bqualify\b",
    ":: cast": r"\w::\w",
    "quantile_cont": r"\bquantile_cont\s*\(",
    "DuckDB JSON functions": r"\bjson_(?:extract|extract_string|array_length)\s*\(",
    "list / struct functions": r"\b(?:list|struct)_\w+\s*\(|\barray_to_string\s*\(",
    "hash(row)": r"(?<![\w.])hash\s*\(",
    "sha256()": r"(?<![\w.])sha256\s*\(",
    "regexp_matches": r"\bregexp_matches\s*\(",
    "timezone()": r"(?<![\w.])timezone\s*\(",
    "epoch_ms / strptime / SQL strftime": r"\bepoch_ms\s*\(|(?<![\w.])(?:strptime|strftime)\s*\(",
    "the DuckDB plugin's lookalike_serving_build_id()": r"\blookalike_serving_build_id\s*\(",
}
ADAPTER_BRANCH = re.compile(r"\b(?:adapter\.type\(\)|target\.type)\s*(?:==|!=|\bin\b|\bnot\s+in\b)")

_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_OPEN = re.compile(r"\{%-?\s*(macro|materialization)\s+(\w+)([^%]*)%\}")
_CLOSE = re.compile(r"\{%-?\s*end(?:macro|materialization)\s*-?%\}")


def _duckdb_only_context(kind: str, name: str, rest: str) -> bool:
    if kind == "macro":
        return name.startswith("duckdb__")
    return re.search(r"adapter\s*=\s*['\"]duckdb['\"]", rest) is not None


def findings(text: str, label: str = "") -> list[str]:
    """'<label>:<line> <macro>: <what>' for DuckDB-only SQL outside a duckdb__ macro (or the DuckDB
    materialization) and for inline adapter branches, Jinja comments left out."""
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    context = None  # (name, DuckDB-only?) of the macro the line is in
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _OPEN.search(line)
        if opened:
            context = (opened.group(2), _duckdb_only_context(opened.group(1), opened.group(2), opened.group(3)))
        name, duckdb_only = context or ("(outside a macro)", False)
        if not duckdb_only:
            for what, pattern in DUCKDB_ONLY.items():
                if re.search(pattern, line, re.IGNORECASE):
                    found.append(f"{label}:{number} {name}: {what}")
        if ADAPTER_BRANCH.search(line):
            found.append(f"{label}:{number} {name}: branches on the adapter inline")
        if _CLOSE.search(line):
            context = None
    return found


def test_duckdb_only_sql_sits_in_duckdb_macros_and_no_macro_branches_on_the_adapter():
    paths = sorted(MACROS.rglob("*.sql"))
    assert len(paths) > 30
    found = [item for path in paths for item in findings(path.read_text(), str(path.relative_to(REPO)))]
    assert found == [], (
        "give these a duckdb__ implementation behind adapter.dispatch (default__ raising a compiler "
        "error that names the macro):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% macro m() %}\nselect * from duckdb_tables()\n{% endmacro %}", ["t:2 m: duckdb_*() catalog functions"]),
        ("{% macro default__m() %}\n  asof left join s\n{% endmacro %}", ["t:2 default__m: ASOF join"]),
        ("{% macro duckdb__m() %}\nselect hash(r), x::int from t qualify 1\n{% endmacro %}", []),
        ("{% materialization t, adapter='duckdb' %}\nduckdb_databases()\n{% endmaterialization %}", []),
        (
            "{% materialization t, adapter='spark' %}\nduckdb_databases()\n{% endmaterialization %}",
            ["t:2 t: duckdb_*() catalog functions"],
        ),
        (
            "{% macro m() %}\n{%- if adapter.type() == 'duckdb' -%}{%- endif -%}\n{% endmacro %}",
            ["t:2 m: branches on the adapter inline"],
        ),
        (
            "{% macro m() %}\n{{ 'a' if target.type in ('spark', 'duckdb') }}\n{% endmacro %}",
            ["t:2 m: branches on the adapter inline"],
        ),
        # A comment, dbt.hash and an error message naming the adapter are not findings.
        (
            "{% macro m() %}\n{#- uses duckdb_tables() -#}\n{{ dbt.hash('x') }} {{ adapter.type() ~ '__m' }}\n{% endmacro %}",
            [],
        ),
    ],
)
def test_the_scan_sees_what_it_should(text, expected):
    assert findings(text, "t") == expected
