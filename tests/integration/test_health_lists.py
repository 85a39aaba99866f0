"""A health line lists at most the 5 worst drifted features, then "and N more" (issue 25: up to 45
were listed). The macro lookalike_runs uses, run by one `dbt show --inline` on an empty DuckDB file."""

from __future__ import annotations

import json

import pytest

from conftest import run_dbt

pytestmark = pytest.mark.integration

# run r1: 45 features f01..f45 with PSI i/10, 43 of them above 0.25 (f03..f45); run r2: 3 above; run r3: none;
# run r4: b's PSI is a's plus 1e-14 (the same bins summed in another order, as on another engine), so
# they tie and go by name; c is 1e-6 lower, a real difference, and comes last.
RELATION = (
    "(select 'r1' as run_id, 'f' || lpad(cast(i as varchar), 2, '0') as feature, cast(i / 10.0 as double) as psi "
    "from range(1, 46) t(i) union all "
    "select 'r2', 'g' || i, 0.3 + i / 100.0 from range(3) t(i) union all select 'r3', 'h', 0.1 union all "
    "select 'r4', 'b', cast(0.5 as double) + cast(1e-14 as double) union all "
    "select 'r4', 'a', cast(0.5 as double) union all "
    "select 'r4', 'c', cast(0.5 as double) - cast(1e-6 as double))"
)


def test_drift_lists_the_five_worst_and_counts_the_rest(tmp_path):
    proc = run_dbt(
        [
            "show",
            "--inline",
            f'{{{{ lookalike.lookalike_worst_features("{RELATION}", 0.25) }}}}',
            "--output",
            "json",
            "--limit",
            "10",
        ],
        tmp_path / "empty.duckdb",
        tmp_path,
    )
    rows = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])["show"]
    assert sorted((r["run_id"], r["drifted_features"]) for r in rows) == [
        ("r1", "f45 (PSI 4.5), f44 (PSI 4.4), f43 (PSI 4.3), f42 (PSI 4.2), f41 (PSI 4.1) and 38 more"),
        ("r2", "g2 (PSI 0.32), g1 (PSI 0.31), g0 (PSI 0.3)"),
        ("r4", "a (PSI 0.5), b (PSI 0.5), c (PSI 0.5)"),
    ]
