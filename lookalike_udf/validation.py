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
from .settings import SETTINGS, closest, run_setting_error

ENGAGEMENT_TYPES = SETTINGS["engagement_type"].choices
PU_METHODS = SETTINGS["pu_method"].choices
UNLABELED_AS_OF = SETTINGS["unlabeled_as_of"].choices

#: The int / number / bool run settings, checked against their declared bounds in declaration
#: order (lookalike_udf.settings): a new one is checked without an edit here.
BOUNDED_SETTINGS = tuple(name for name, s in SETTINGS.items() if s.kind in ("int", "number", "bool"))


def choice_error(run_id: str, name: str, value, choices) -> str:
    """A run's error for a text setting that is not one of ``choices``, with a did-you-mean."""
    suggestion = closest(value, choices)
    hint = f"Did you mean {suggestion!r}? " if suggestion else ""
    return (
        f"run '{run_id}': {name} {value!r} is not one of {', '.join(choices)}. {hint}"
        f"Fix the runs input column or var lookalike_{name} (null means the variable)."
    )


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
    min_users = int(run.get("min_seed_users") or SETTINGS["min_seed_users"].default)

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
    pu_method = run.get("pu_method")
    if "pu_method" in run and pu_method not in PU_METHODS:
        check.errors.append(choice_error(rid, "pu_method", pu_method, PU_METHODS))
    unlabeled_as_of = run.get("unlabeled_as_of")
    if "unlabeled_as_of" in run and unlabeled_as_of not in UNLABELED_AS_OF:
        check.errors.append(choice_error(rid, "unlabeled_as_of", unlabeled_as_of, UNLABELED_AS_OF))
    model_type = run.get("model_type")
    if "model_type" in run and model_type not in estimators.model_types():
        check.errors.append(choice_error(rid, "model_type", model_type, estimators.model_types()))
    for name in BOUNDED_SETTINGS:
        # A column missing from ``run`` (an older runs relation) is not checked; test_fraction has no default here.
        present = name in run or name == "test_fraction"
        error = run_setting_error(rid, name, run.get(name)) if present else None
        if error:
            check.errors.append(error)
    path = run.get("audience_export_path")
    if path is not None and not str(path).lower().endswith((".parquet", ".csv")):
        check.errors.append(
            f"{prefix} audience_export_path {path!r} must end in .parquet or .csv (null = no export). "
            "Fix the runs input column or var lookalike_audience_export_path."
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
        return _cause_first(check, summary, prefix)
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
    return _cause_first(check, summary, prefix)


#: What lookalike_utc_timestamp reads as a label_timestamp (docs/inputs.md).
ACCEPTED_TIMESTAMPS = (
    "a DATE or TIMESTAMP column, or text such as '2026-06-01', '2026-06-01 12:00:00' or "
    "'2026-06-01T12:00:00+09:00' (an offset or Z is converted to UTC)"
)


def _cause_first(check: RunCheck, summary: dict | None, prefix: str) -> RunCheck:
    """A run that fails while labels were excluded for an unreadable label_timestamp: that cause
    leads its messages, with the accepted formats, before the consequence (too few users, no
    positive label left)."""
    n_bad = _n(summary, "n_invalid_timestamps")
    if check.errors and n_bad:
        check.errors.insert(
            0,
            (
                f"{prefix} {n_bad} of its {_n(summary, 'n_input_labels')} labels have a label_timestamp that cannot be "
                f"read as a date-time, so they were left out (the errors that follow are the consequence). Accepted: "
                f"{ACCEPTED_TIMESTAMPS}; null = the scoring time. Fix label_timestamp in the labels input (var lookalike_labels)."
            ),
        )
    return check
