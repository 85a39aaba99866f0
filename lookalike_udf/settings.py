"""Every run setting declared once: name, type, bounds, null meaning, default and a doc line.

A run setting is a column of the runs input (var ``lookalike_runs``) whose null means the
variable ``lookalike_<name>`` (the default of ``dbt_project.yml``). Its value is checked twice:
at the start of a build, on the variable (``macros/jinja_helpers/lookalike_var.sql``,
``lookalike_var_specs``), and per run, on the resolved value (:func:`lookalike_udf.validation.check_run`
and again in :func:`lookalike_udf.training.fit_run_model`). Both use the bounds below: the Python
checks read them from here, and ``tests/unit/test_settings_contract.py`` fails when a spec in
``lookalike_var.sql`` or a default in ``dbt_project.yml`` differs. So a variable value passes the
start-of-build check exactly when every run that takes it passes the run check.

Decision 0021. A new run setting is one :class:`Setting` here, its spec in ``lookalike_var.sql``,
its default in ``dbt_project.yml`` (the contract test names each one missing) and its use.

>>> violation("pu_bags", 100)
'between 1 and 50'
>>> violation("audience_top_pct", 0), violation("audience_top_pct", None)
('above 0 and at most 100', None)
>>> SETTINGS["pu_bags"].default
20
"""

from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass

__all__ = ["SETTINGS", "Setting", "as_bool", "bounds_text", "closest", "run_setting_error", "violation"]


@dataclass(frozen=True)
class Setting:
    """One run setting.

    A setting is a column of the runs input, except ``min_seed_users`` (the variable only, added
    to every run by int_lookalike__runs).

    kind     int | number (``min``/``max``; ``min_open``/``max_open`` exclude the bound itself),
             bool, choice (``choices``; ``model_type`` takes its choices from the estimator
             registry, which the start-of-build check cannot see: it checks them per run), text.
    nullable null is a value, meaning ``null_means`` (e.g. no limit); otherwise null is refused.
    """

    name: str
    kind: str
    default: object
    doc: str
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    nullable: bool = False
    null_means: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def var(self) -> str:
        return f"lookalike_{self.name}"


def _declare(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


SETTINGS: dict[str, Setting] = _declare(
    Setting(
        "engagement_type",
        "choice",
        "MULTI_ENGAGE",
        "how positives relate to the engagement (reference API)",
        choices=("MULTI_ENGAGE", "SINGLE_ENGAGE"),
    ),
    Setting("build_only", "bool", False, "validate and build the examples, train nothing"),
    Setting(
        "test_fraction",
        "number",
        0.2,
        "share of labelled users held out for the test split",
        min=0,
        max=1,
        min_open=True,
        max_open=True,
    ),
    Setting(
        "unlabeled_sample_size",
        "int",
        5000,
        "unlabeled users sampled as negatives of a run without negatives",
        min=1,
        max=1_000_000_000,
    ),
    Setting("random_seed", "int", 42, "seed of splits, samples and fits", min=0, max=4_294_967_295),
    Setting(
        "min_seed_users",
        "int",
        10,
        "distinct users required in the positive (and negative) list",
        min=1,
        max=1_000_000_000,
    ),
    Setting(
        "pu_method",
        "choice",
        "bagging",
        "runs without negatives: bagging PU or plain positives-vs-unlabeled",
        choices=("bagging", "plain"),
    ),
    Setting(
        "unlabeled_as_of",
        "choice",
        "auto",
        "runs without negatives: as-of time of each unlabeled example (decision 0035): label_times (a seed's"
        " label time), user_events (one of the user's own events in the seeds' time range) or auto (user_events when"
        " most seeds are labelled at one of their own events)",
        choices=("auto", "label_times", "user_events"),
    ),
    # Each bag is one more base model to fit and to evaluate at scoring time.
    Setting("pu_bags", "int", 20, "bags of bagging PU", min=1, max=50),
    Setting("model_type", "choice", "hgb_logistic_or_rf", "the model type (lookalike_udf.estimators)"),
    Setting(
        "sample_size",
        "int",
        None,
        "most train examples kept after sampling down",
        min=20,
        max=1_000_000_000_000,
        nullable=True,
        null_means="no limit",
    ),
    Setting("extra_attention", "bool", False, "balanced class weights"),
    Setting(
        "expected_positive_share",
        "number",
        None,
        "expected share of lookalikes among unlabeled users",
        min=0,
        max=1,
        max_open=True,
        nullable=True,
        null_means="no corrected AUC",
    ),
    Setting("tune_model", "bool", False, "hyperparameter search by cross-validation"),
    Setting("auto_tune", "bool", False, "feature selection before fitting"),
    # Checked between whole candidates, so a run can overrun it by one candidate.
    Setting("tune_time_budget_seconds", "number", 60, "time budget of tune_model, in seconds", min=1, max=3600),
    Setting(
        "refit_on_all_labels",
        "bool",
        True,
        "refit the population's model on the train and test splits (runs with negatives; decision 0032)",
    ),
    Setting(
        "audience_top_n",
        "int",
        None,
        "the audience's top N users",
        min=1,
        max=1_000_000_000_000,
        nullable=True,
        null_means="no limit",
    ),
    Setting(
        "audience_top_pct",
        "number",
        5,
        "the audience's top x % of users by score",
        min=0,
        max=100,
        min_open=True,
        nullable=True,
        null_means="no limit",
    ),
    Setting(
        "audience_min_score",
        "number",
        None,
        "the audience's minimum score",
        min=0,
        max=1,
        nullable=True,
        null_means="no limit",
    ),
    Setting(
        "audience_holdout_pct",
        "number",
        0,
        "share of the audience held out (is_holdout: not exported, kept to measure lift), in %",
        min=0,
        max=100,
        max_open=True,
    ),
    Setting(
        "lift_window_days",
        "number",
        None,
        "days after the audience's publication in which outcomes count toward its lift",
        min=0,
        max=36500,
        min_open=True,
        nullable=True,
        null_means="no end",
    ),
    Setting(
        "audience_export_path",
        "text",
        None,
        "file the audience is exported to (.parquet or .csv)",
        nullable=True,
        null_means="no export",
    ),
)


def _number_text(value: float) -> str:
    """1 -> '1', 3600.0 -> '3600', 0.5 -> '0.5' (as Jinja prints the spec's literals)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def bounds_text(setting: Setting) -> str:
    """'between 1 and 50', 'strictly between 0 and 1', 'above 0 and at most 100', 'at least 0 and
    below 1': the same words as the start-of-build check (``_lookalike_bounds_text``)."""
    low, high = _number_text(setting.min), _number_text(setting.max)
    if setting.min_open and setting.max_open:
        return f"strictly between {low} and {high}"
    if setting.min_open:
        return f"above {low} and at most {high}"
    if setting.max_open:
        return f"at least {low} and below {high}"
    return f"between {low} and {high}"


def _is_number(value, integer: bool) -> bool:
    """A finite int or float (numpy's too), integral when ``integer``; never a bool or text."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    number = float(value)
    return math.isfinite(number) and (number.is_integer() or not integer)


def violation(name: str, value) -> str | None:
    """What ``value`` of the int/number/bool setting ``name`` breaks ('between 1 and 50', 'true or
    false', ...), or None when it is allowed."""
    setting = SETTINGS[name]
    if value is None and setting.nullable:
        return None
    if setting.kind == "bool":
        return None if isinstance(value, bool) or type(value).__name__ == "bool_" else "true or false"
    if setting.kind in ("int", "number"):
        if not _is_number(value, setting.kind == "int"):
            return ("an integer " if setting.kind == "int" else "a number ") + bounds_text(setting)
        number = float(value)
        below = number < setting.min or (setting.min_open and number == setting.min)
        above = number > setting.max or (setting.max_open and number == setting.max)
        return bounds_text(setting) if below or above else None
    raise ValueError(f"setting {name!r} is a {setting.kind} setting; check it against its choices")


def run_setting_error(run_id: str, name: str, value) -> str | None:
    """The run's error for a bad int/number/bool ``value`` of setting ``name`` (naming the run,
    the setting, the value, the bounds and the fix), or None."""
    broken = violation(name, value)
    if broken is None:
        return None
    setting = SETTINGS[name]
    null = f" (null = {setting.null_means})" if setting.nullable else ""
    return f"run '{run_id}': {name} {value!r} must be {broken}{null}. Fix the runs input column or var {setting.var}."


def closest(value, choices) -> str | None:
    """The choice closest to a misspelt ``value`` (difflib, cut-off 0.6), or None."""
    if not isinstance(value, str):
        return None
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(value.strip().lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def as_bool(value, var: str = "lookalike_force_retrain") -> bool:
    """A dbt config value as a boolean: dbt renders ``{{ var(...) }}`` to the strings
    'True' / 'False'. ``var`` names the variable in the error."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("", "false", "0", "no", "off", "none", "null"):
            return False
        raise ValueError(f"expected a boolean for var {var}, found {value!r}; use true or false")
    return bool(value)
