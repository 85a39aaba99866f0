"""The documented contract matches the code: every dbt variable is in the table of docs/variables.md, every
public model and column is documented in YAML, and the YAML matches the built tables."""

from __future__ import annotations

import re

import yaml

from conftest import REPO

MARTS = REPO / "dbt_project" / "models" / "public"


def mart_models() -> list[dict]:
    """Every model documented in the YAML files of the marts folder (the public relations)."""
    models = []
    for path in sorted(MARTS.glob("*.yml")):
        models += yaml.safe_load(path.read_text()).get("models", [])
    return models


def project_vars() -> set[str]:
    return set(yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"])


def documented_variable_rows() -> set[str]:
    text = (REPO / "docs" / "variables.md").read_text()
    section = text.split("# Variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(lookalike_[a-z_]+)` \|", section, flags=re.M))


def test_every_variable_is_in_the_variables_table():
    assert project_vars() == documented_variable_rows()
    # The README points at the table.
    assert "](docs/variables.md)" in (REPO / "README.md").read_text()


def test_every_variable_used_in_sql_is_declared():
    used = set()
    for path in (
        list((REPO / "macros").rglob("*.sql"))
        + list((REPO / "dbt_project").rglob("*.sql"))
        + [REPO / "dbt_project.yml"]
    ):
        used |= set(re.findall(r"var\(\s*['\"](lookalike_[a-z_]+)['\"]", path.read_text()))
    for path in (REPO / "dbt_project" / "models").rglob("*.yml"):
        used |= set(re.findall(r"var\(\s*['\"](lookalike_[a-z_]+)['\"]", path.read_text()))
    assert used <= project_vars(), used - project_vars()


def test_every_public_model_and_column_is_documented():
    models = mart_models()
    files = {p.stem for p in MARTS.iterdir() if p.suffix in (".sql", ".py")}
    assert {m["name"] for m in models} == files
    for model in models:
        assert "grain" in model["description"].lower(), model["name"]
        for column in model["columns"]:
            assert column.get("description", "").strip(), f"{model['name']}.{column['name']}"


def test_every_variable_has_a_validation_spec():
    """macros/jinja_helpers/lookalike_var.sql validates exactly the variables of dbt_project.yml."""
    text = (REPO / "macros" / "jinja_helpers" / "lookalike_var.sql").read_text()
    specs = text.split("{% macro lookalike_var_specs() %}", 1)[1].split("{% endmacro %}", 1)[0]
    assert set(re.findall(r"^\s*'(lookalike_[a-z_]+)': \{", specs, flags=re.M)) == project_vars()
    # Each spec's default (used by macros called from a host project's models, which do not see the
    # package's vars) is the dbt_project.yml value.
    declared = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    jinja = {"none": None, "true": True, "false": False}
    found = re.findall(r"^\s*'(lookalike_[a-z_]+)': \{.*'default': (.*)\},$", specs, flags=re.M)
    assert len(found) == len(declared)
    for name, default in found:
        value = jinja[default] if default in jinja else yaml.safe_load(default)
        assert value == declared[name], name


def test_readme_packages_yml_snippets_are_valid():
    """Every packages.yml example in the README passes dbt's own schema (a `local:` entry takes no
    `revision:`), and both install forms are shown."""
    from dbt.contracts.project import PackageConfig

    text = (REPO / "README.md").read_text()
    blocks = [
        yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("packages:")
    ]
    kinds = set()
    for block in blocks:
        PackageConfig.validate(block)
        for entry in block["packages"]:
            kinds |= set(entry) & {"git", "local"}
            if "git" in entry:
                assert "revision" in entry, entry
    assert kinds == {"git", "local"}


#: The history relations (decision 0029) change in every build by design; publishing them would
#: republish the whole serving file (lookalike_user_scores included) on every build, unchanged or not.
HISTORY = {"lookalike_run_history", "lookalike_feature_drift_history", "lookalike_audience_history"}


def test_serving_publishes_every_public_mart():
    """dbt_project/models/serving/lookalike_serving.py refs (and so publishes) exactly the public marts,
    except the history relations."""
    code = (REPO / "dbt_project" / "models" / "serving" / "lookalike_serving.py").read_text()
    published = set(re.findall(r'"(lookalike_[a-z_]+)": dbt\.ref\("\1"\)', code))
    marts = {p.stem for p in MARTS.iterdir() if p.suffix in (".sql", ".py")}
    assert HISTORY <= marts
    assert published == marts - HISTORY
    assert len(re.findall(r"dbt\.ref\(", code)) == len(published)
