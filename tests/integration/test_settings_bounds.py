"""The start-of-build check rejects exactly the run-setting values the runs reject (decision 0021):
every bound of lookalike_udf.settings is tried on both sides of each edge, through the real
macro (one `dbt run-operation` on an empty DuckDB file, no build), and compared with the run check."""

from __future__ import annotations

import json

import pytest

from conftest import run_dbt
from lookalike_udf.settings import SETTINGS, violation

pytestmark = pytest.mark.integration

FIX = ". Fix it in --vars or in the vars of dbt_project.yml (docs/variables.md)."


def edge_values(setting) -> list:
    """Values at, just inside and just outside each bound, a non-number and null."""
    step = 1 if setting.kind == "int" else 1e-6
    values = [
        setting.min - step,
        setting.min,
        setting.min + step,
        setting.max - step,
        setting.max,
        setting.max + step,
        None,
    ]
    return values + ([2.5] if setting.kind == "int" else [])


#: The mismatches of issue 26 (each passed the start-of-build check and failed every run), and the
#: two open bounds found with them (test_fraction 1, expected_positive_share 1).
MISMATCHES = [
    ("lookalike_pu_bags", 100, "is 100; it must be an integer between 1 and 50"),
    ("lookalike_tune_time_budget_seconds", 0, "is 0; it must be a number between 1 and 3600"),
    ("lookalike_tune_time_budget_seconds", 3601, "is 3601; it must be a number between 1 and 3600"),
    ("lookalike_sample_size", 1, "is 1; it must be an integer between 20 and 1000000000000"),
    ("lookalike_audience_top_pct", 0, "is 0; it must be a number above 0 and at most 100"),
    ("lookalike_test_fraction", 1, "is 1; it must be a number strictly between 0 and 1"),
    ("lookalike_expected_positive_share", 1, "is 1; it must be a number at least 0 and below 1"),
]
PAIRS = [(s.var, value, s.name) for s in SETTINGS.values() if s.kind in ("int", "number") for value in edge_values(s)]
PAIRS += [(var, value, var.removeprefix("lookalike_")) for var, value, _ in MISMATCHES]


@pytest.fixture(scope="module")
def start_errors(tmp_path_factory):
    """lookalike_check_var's error (or None) for every pair, in order."""
    work = tmp_path_factory.mktemp("settings_bounds")
    proc = run_dbt(
        [
            "run-operation",
            "lookalike_print_var_checks",
            "--args",
            json.dumps({"pairs": [[var, value] for var, value, _ in PAIRS]}),
        ],
        work / "empty.duckdb",
        work,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"check"')]
    assert [line["check"] for line in lines] == list(range(len(PAIRS)))
    return [line["error"] for line in lines]


def test_start_of_build_rejects_exactly_what_the_runs_reject(start_errors):
    disagree = [
        (var, value, error, violation(name, value))
        for (var, value, name), error in zip(PAIRS, start_errors, strict=True)
        if (error is None) != (violation(name, value) is None)
    ]
    assert disagree == []
    assert sum(error is not None for error in start_errors) > len(PAIRS) // 3  # the edges are tried


@pytest.mark.parametrize("case", range(len(MISMATCHES)), ids=[f"{m[0]}={m[1]}" for m in MISMATCHES])
def test_the_mismatches_of_issue_26_stop_the_build_with_the_bound(start_errors, case):
    var, value, expected = MISMATCHES[case]
    assert start_errors[len(PAIRS) - len(MISMATCHES) + case] == f"lookalike: variable '{var}' {expected}{FIX}"
