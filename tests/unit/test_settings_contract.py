"""One declaration per bound (decision 0021): the run settings of lookalike_udf.settings agree with
the start-of-build specs (macros/jinja_helpers/lookalike_var.sql), the defaults of dbt_project.yml
and the setting list of stg_lookalike__runs; and the Python checks use those bounds."""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from conftest import REPO
from lookalike_udf import estimators
from lookalike_udf.errors import RunValidationError
from lookalike_udf.settings import SETTINGS, bounds_text, run_setting_error, violation
from lookalike_udf.training import fit_run_model
from lookalike_udf.validation import check_run

#: Python kind -> the kind of the variable's start-of-build spec. Text choices are 'string' there:
#: model_type's choices come from the estimator registry, which Jinja cannot see, so the three text
#: choices are checked per run only (decision 0021, "What is not covered").
JINJA_KIND = {"int": "int", "number": "number", "bool": "bool", "choice": "string", "text": "string"}


def jinja_specs() -> dict[str, dict]:
    """lookalike_var_specs() of lookalike_var.sql, read as a Python literal."""
    text = (REPO / "macros" / "jinja_helpers" / "lookalike_var.sql").read_text()
    body = text.split("{% macro lookalike_var_specs() %}", 1)[1].split("{% endmacro %}", 1)[0]
    literal = body.split("return(", 1)[1].rsplit(")", 1)[0]
    # true / false / none outside quotes -> Python (every quoted piece is kept as it is)
    pieces = re.split(r"('[^']*')", literal)
    words = {"true": "True", "false": "False", "none": "None"}
    python = "".join(
        p if p.startswith("'") else re.sub(r"\b(true|false|none)\b", lambda m: words[m[1]], p) for p in pieces
    )
    return ast.literal_eval(python)


def project_defaults() -> dict:
    return yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]


def test_specs_are_read():
    specs = jinja_specs()
    assert specs["lookalike_pu_bags"] == {"kind": "int", "min": 1, "max": 50, "default": 20}
    assert len(specs) == len(project_defaults())


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_start_of_build_spec_and_default_agree_with_the_declaration(name):
    setting = SETTINGS[name]
    spec = jinja_specs()[setting.var]
    assert spec["kind"] == JINJA_KIND[setting.kind], name
    for key in ("min", "max"):
        assert spec.get(key) == getattr(setting, key), (name, key, spec.get(key), getattr(setting, key))
    for key in ("min_open", "max_open"):
        assert bool(spec.get(key, False)) == getattr(setting, key), (name, key)
    # A 'string' spec always takes null (lookalike_check_var); the others only when nullable.
    nullable = spec["kind"] == "string" or bool(spec.get("nullable", False))
    assert nullable == setting.nullable or setting.kind == "choice", name
    assert spec["default"] == setting.default, (name, spec["default"], setting.default)
    assert type(spec["default"]) is type(setting.default) or setting.kind == "number", name
    assert project_defaults()[setting.var] == setting.default, name


def test_every_run_setting_of_the_staging_model_is_declared():
    """The settings stg_lookalike__runs resolves are the declared ones (min_seed_users is a build-wide
    variable: int_lookalike__runs adds it to every run)."""
    text = (REPO / "dbt_project" / "models" / "staging" / "stg_lookalike__runs.sql").read_text()
    listed = set(re.findall(r"^\s*\('([a-z_]+)', [^,]+, '[^']+'\)[,\]]", text, flags=re.M))
    assert listed == set(SETTINGS) - {"min_seed_users"}


def test_choices_and_defaults_used_by_python_are_the_declared_ones():
    assert SETTINGS["model_type"].default == estimators.DEFAULT_MODEL_TYPE
    assert SETTINGS["model_type"].default in estimators.model_types()
    assert SETTINGS["pu_method"].default in SETTINGS["pu_method"].choices
    assert SETTINGS["engagement_type"].default in SETTINGS["engagement_type"].choices


def test_bounds_text_reads_like_the_start_of_build_message():
    assert [
        bounds_text(SETTINGS[n])
        for n in ("pu_bags", "test_fraction", "audience_top_pct", "expected_positive_share", "tune_time_budget_seconds")
    ] == [
        "between 1 and 50",
        "strictly between 0 and 1",
        "above 0 and at most 100",
        "at least 0 and below 1",
        "between 1 and 3600",
    ]


# The four mismatches of issue 26, as the run check sees them (the start-of-build side is
# tests/integration/test_settings_bounds.py).
MISMATCHES = [
    (
        "pu_bags",
        100,
        "run 'r': pu_bags 100 must be between 1 and 50. Fix the runs input column or var lookalike_pu_bags.",
    ),
    (
        "tune_time_budget_seconds",
        0.5,
        "run 'r': tune_time_budget_seconds 0.5 must be between 1 and 3600. "
        "Fix the runs input column or var lookalike_tune_time_budget_seconds.",
    ),
    (
        "tune_time_budget_seconds",
        3601,
        "run 'r': tune_time_budget_seconds 3601 must be between 1 and 3600. "
        "Fix the runs input column or var lookalike_tune_time_budget_seconds.",
    ),
    (
        "sample_size",
        19,
        "run 'r': sample_size 19 must be between 20 and 1000000000000 (null = no limit). "
        "Fix the runs input column or var lookalike_sample_size.",
    ),
    (
        "audience_top_pct",
        0,
        "run 'r': audience_top_pct 0 must be above 0 and at most 100 (null = no limit). "
        "Fix the runs input column or var lookalike_audience_top_pct.",
    ),
]


@pytest.mark.parametrize("name, value, message", MISMATCHES, ids=[f"{m[0]}={m[1]}" for m in MISMATCHES])
def test_run_check_names_the_declared_bound(name, value, message):
    run = {"run_id": "r", "engagement_type": "MULTI_ENGAGE", "test_fraction": 0.2, name: value}
    assert check_run(run, {"n_input_labels": 0}).errors[0] == message
    assert run_setting_error("r", name, value) == message


def test_training_refuses_what_the_run_check_refuses():
    import pyarrow as pa

    examples = pa.table(
        {
            "example_id": ["a"],
            "run_id": ["r"],
            "user_id": ["u"],
            "label": [1],
            "weight": [1.0],
            "split": ["train"],
            "x": [1.0],
        }
    )
    for kwargs, expected in [
        ({"pu_bags": 51}, "run 'r': pu_bags 51 must be between 1 and 50."),
        ({"sample_size": 19}, "run 'r': sample_size 19 must be between 20 and 1000000000000"),
        ({"tune_time_budget_seconds": 3600.5}, "run 'r': tune_time_budget_seconds 3600.5 must be between 1 and 3600."),
    ]:
        with pytest.raises(RunValidationError) as error:
            fit_run_model("r", examples, 1, **kwargs)
        assert str(error.value).startswith(expected)


def test_edges_of_every_bound():
    assert [violation("pu_bags", v) for v in (0, 1, 50, 51, 2.5, True, None)] == [
        "between 1 and 50",
        None,
        None,
        "between 1 and 50",
        "an integer between 1 and 50",
        "an integer between 1 and 50",
        "an integer between 1 and 50",
    ]
    assert [violation("test_fraction", v) for v in (0, 0.5, 1, float("nan"))] == [
        "strictly between 0 and 1",
        None,
        "strictly between 0 and 1",
        "a number strictly between 0 and 1",
    ]
    assert [violation("audience_top_pct", v) for v in (0, 1e-9, 100, 100.5, None)] == [
        "above 0 and at most 100",
        None,
        None,
        "above 0 and at most 100",
        None,
    ]
    assert [violation("sample_size", v) for v in (19, 20, None)] == ["between 20 and 1000000000000", None, None]
