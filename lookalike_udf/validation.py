"""Per-run input checks. Each message names the run, the input at fault and the fix.

A run with any error is FAILED and is not trained; warnings are reported in its status message
and do not stop it. Checks work on one row of ``int_lookalike__runs`` joined with the run's row of
``lookalike_input_label_summary`` (both plain dicts), so they are cheap and unit-testable.

Example
-------
>>> run = {"run_id": "x", "is_declared": True, "n_declared": 1, "engagement_type": "MULTI_ENGAGE",
...        "min_seed_users": 10, "test_fraction": 0.2}
>>> summary = {"n_input_labels": 17, "n_positive_users": 10, "n_negative_users": 7,
...            "n_negative_labels": 7, "n_matched_labels": 17}
>>> check_run(run, summary).errors
["run 'x': negative_label_users has 7 distinct users; at least 10 are required. Add negatives or drop them all to train against the unlabeled population."]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import estimators
from .pu import MAX_BAGS, MIN_BAGS, PU_METHODS
from .tuning import MAX_BUDGET, MIN_BUDGET

#: Smallest allowed sample_size (the same bound as lookalike_udf.training.MIN_SAMPLE_SIZE).
MIN_SAMPLE_SIZE = 20

ENGAGEMENT_TYPES = ("MULTI_ENGAGE", "SINGLE_ENGAGE")

#: lookalike_input_label_summary count -> how the message names the reason (one reason per row,
#: the first that applies, in this order; stg_lookalike__labels sets it). Weights above 1e9, NaN
#: and infinities are excluded like a weight of -1, so sums of weights cannot overflow.
INVALID_LABEL_REASONS = (
    ("n_labels_without_user", "without user_id"),
    ("n_invalid_label_values", "with a label other than 0 or 1"),
    ("n_invalid_weights", "with a weight that is not a finite number in (0, 1e9]"),
    ("n_invalid_timestamps", "with an unreadable label_timestamp"),
)


@dataclass
class RunCheck:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _n(summary: dict | None, key: str) -> int:
    if not summary:
        return 0
    value = summary.get(key)
    return int(value) if value is not None else 0


def check_run(run: dict, summary: dict | None) -> RunCheck:
    """Validate one run's settings and labels before training."""
    rid = run["run_id"]
    prefix = f"run '{rid}':"
    check = RunCheck()
    min_users = int(run.get("min_seed_users") or 10)

    if not run.get("is_declared", True):
        check.errors.append(
            f"{prefix} labels use run_id '{rid}', which is not in the runs input (var lookalike_runs). "
            "Add a row for it to the runs input or correct the labels' run_id."
        )
        return check
    if int(run.get("n_declared") or 1) > 1:
        check.warnings.append(
            f"{prefix} the runs input declares this run_id {int(run['n_declared'])} times; the first "
            "(by run_description) is used. Make run_id unique in the runs input."
        )
    invalid_settings = run.get("invalid_settings")
    if invalid_settings:
        check.errors.append(
            f"{prefix} the runs input (var lookalike_runs) holds setting value(s) that cannot be read: "
            f"{invalid_settings}. Fix them in the runs input (null means the variable of the same name, "
            "lookalike_<setting>)."
        )
        return check
    engagement = run.get("engagement_type")
    if engagement not in ENGAGEMENT_TYPES:
        check.errors.append(
            f"{prefix} engagement_type {engagement!r} in the runs input is not one of "
            f"{', '.join(ENGAGEMENT_TYPES)}. Fix the value (null means MULTI_ENGAGE)."
        )
    test_fraction = run.get("test_fraction")
    if test_fraction is None or not (0.0 < float(test_fraction) < 1.0):
        check.errors.append(
            f"{prefix} test_fraction {test_fraction!r} must be strictly between 0 and 1. "
            "Fix the runs input column or var lookalike_test_fraction."
        )
    sample_size = run.get("unlabeled_sample_size")
    if sample_size is not None and int(sample_size) < 1:
        check.errors.append(
            f"{prefix} unlabeled_sample_size {sample_size!r} must be at least 1. "
            "Fix the runs input column or var lookalike_unlabeled_sample_size."
        )
    pu_method = run.get("pu_method")
    if "pu_method" in run and pu_method not in PU_METHODS:
        check.errors.append(
            f"{prefix} pu_method {pu_method!r} is not one of {', '.join(PU_METHODS)}. "
            "Fix the runs input column or var lookalike_pu_method (null means the variable)."
        )
    pu_bags = run.get("pu_bags")
    if "pu_bags" in run and (pu_bags is None or not MIN_BAGS <= int(pu_bags) <= MAX_BAGS):
        check.errors.append(
            f"{prefix} pu_bags {pu_bags!r} must be between {MIN_BAGS} and {MAX_BAGS}. "
            "Fix the runs input column or var lookalike_pu_bags."
        )
    model_type = run.get("model_type")
    if "model_type" in run and model_type not in estimators.model_types():
        check.errors.append(
            f"{prefix} model_type {model_type!r} is not one of {', '.join(estimators.model_types())}. "
            "Fix the runs input column or var lookalike_model_type (null means the variable)."
        )
    sample_size = run.get("sample_size")
    if sample_size is not None and int(sample_size) < MIN_SAMPLE_SIZE:
        check.errors.append(
            f"{prefix} sample_size {sample_size!r} must be at least {MIN_SAMPLE_SIZE} (null = no limit). "
            "Fix the runs input column or var lookalike_sample_size."
        )
    for name in ("tune_model", "auto_tune"):
        value = run.get(name)
        if name in run and not isinstance(value, bool):
            check.errors.append(
                f"{prefix} {name} {value!r} must be true or false. "
                f"Fix the runs input column or var lookalike_{name}."
            )
    budget = run.get("tune_time_budget_seconds")
    if "tune_time_budget_seconds" in run and (
            budget is None or isinstance(budget, bool) or not isinstance(budget, (int, float))
            or not MIN_BUDGET <= float(budget) <= MAX_BUDGET):
        check.errors.append(
            f"{prefix} tune_time_budget_seconds {budget!r} must be a number of seconds between "
            f"{MIN_BUDGET:g} and {MAX_BUDGET:g}. Fix the runs input column or var lookalike_tune_time_budget_seconds."
        )
    top_n = run.get("audience_top_n")
    if top_n is not None and int(top_n) < 1:
        check.errors.append(
            f"{prefix} audience_top_n {top_n!r} must be at least 1 (null = no limit). "
            "Fix the runs input column or var lookalike_audience_top_n."
        )
    top_pct = run.get("audience_top_pct")
    if top_pct is not None and not (0.0 < float(top_pct) <= 100.0):
        check.errors.append(
            f"{prefix} audience_top_pct {top_pct!r} must be above 0 and at most 100 (null = no limit). "
            "Fix the runs input column or var lookalike_audience_top_pct."
        )
    min_score = run.get("audience_min_score")
    if min_score is not None and not (0.0 <= float(min_score) <= 1.0):
        check.errors.append(
            f"{prefix} audience_min_score {min_score!r} must be between 0 and 1 (null = no limit). "
            "Fix the runs input column or var lookalike_audience_min_score."
        )
    path = run.get("audience_export_path")
    if path is not None and not str(path).lower().endswith((".parquet", ".csv")):
        check.errors.append(
            f"{prefix} audience_export_path {path!r} must end in .parquet or .csv (null = no export). "
            "Fix the runs input column or var lookalike_audience_export_path."
        )
    share = run.get("expected_positive_share")
    if share is not None and not (0.0 <= float(share) < 1.0):
        check.errors.append(
            f"{prefix} expected_positive_share {share!r} must be at least 0 and below 1 (the expected share "
            "of lookalikes among unlabeled users; null = no corrected AUC). Fix the runs input column or "
            "var lookalike_expected_positive_share."
        )

    if _n(summary, "n_input_labels") == 0:
        check.errors.append(
            f"{prefix} has no labels in the labels input (var lookalike_labels). Add labels for this "
            "run_id or remove the run from the runs input."
        )
        return check

    n_invalid = _n(summary, "n_invalid_labels")
    if n_invalid:
        reasons = [(_n(summary, key), text) for key, text in INVALID_LABEL_REASONS]
        detail = ", ".join(f"{n} {text}" for n, text in reasons if n)
        check.warnings.append(
            f"{prefix} {n_invalid} label(s) excluded{f' ({detail})' if detail else ''}: a label must be 0 or 1, "
            "a weight a finite number in (0, 1e9] (null = 1), a label_timestamp a readable date-time "
            "(null = the scoring time), and user_id must be set. Fix those rows in the labels input "
            "(var lookalike_labels)."
        )
    n_pos = _n(summary, "n_positive_users")
    n_neg = _n(summary, "n_negative_users")
    if n_pos < min_users:
        check.errors.append(
            f"{prefix} positive_label_users has {n_pos} distinct users; at least {min_users} are required. "
            "Add positive labels (label = 1)."
        )
    if _n(summary, "n_negative_labels") > 0 and n_neg < min_users:
        check.errors.append(
            f"{prefix} negative_label_users has {n_neg} distinct users; at least {min_users} are required. "
            "Add negatives or drop them all to train against the unlabeled population."
        )
    n_conflicting = _n(summary, "n_conflicting_labels")
    if n_conflicting:
        check.warnings.append(
            f"{prefix} {n_conflicting} label(s) excluded: the same user has both a positive and a negative "
            "label at the same timestamp. Keep one label per user and timestamp."
        )
    n_labels = _n(summary, "n_input_labels")
    n_matched = _n(summary, "n_matched_labels")
    if n_matched == 0:
        check.errors.append(
            f"{prefix} none of its {n_labels} labels matched a snapshot at or before its timestamp. "
            "Check that user_id values match the snapshot input (var lookalike_user_snapshots), "
            "and that label timestamps are not before the first snapshot."
        )
    elif n_matched < n_labels:
        check.warnings.append(
            f"{prefix} {n_labels - n_matched} of {n_labels} labels matched no snapshot at or before their "
            "timestamp and were left out. A label dated before the user's first snapshot, or for a user "
            "missing from the snapshot input, cannot be matched; check label_timestamp and user_id."
        )
    if check.errors:
        return check
    if _n(summary, "n_negative_labels") > 0:
        if _n(summary, "n_matched_positive_labels") == 0 or _n(summary, "n_matched_negative_labels") == 0:
            missing = "positive" if _n(summary, "n_matched_positive_labels") == 0 else "negative"
            check.errors.append(
                f"{prefix} after point-in-time matching no {missing} label remains, so there is a single "
                f"class. Check the {missing} labels' user_id and timestamps against the snapshot input."
            )
    elif _n(summary, "n_matched_positive_labels") == 0:
        check.errors.append(
            f"{prefix} after point-in-time matching no positive label remains. Check the positive "
            "labels' user_id and timestamps against the snapshot input."
        )
    return check
