"""The run setting unlabeled_as_of (decision 0035): declared once, checked per run with a message
naming the run, the setting, the value and the fix."""

from __future__ import annotations

from lookalike_udf.settings import SETTINGS
from lookalike_udf.validation import check_run

RUN = {"run_id": "x", "engagement_type": "MULTI_ENGAGE", "test_fraction": 0.2}


def test_declaration():
    setting = SETTINGS["unlabeled_as_of"]
    assert (setting.kind, setting.default, setting.choices) == (
        "choice",
        "auto",
        ("auto", "label_times", "user_events"),
    )
    assert setting.var == "lookalike_unlabeled_as_of"


def test_every_choice_passes_the_run_check():
    for value in ("auto", "label_times", "user_events"):
        assert check_run({**RUN, "unlabeled_as_of": value}, {"n_input_labels": 0}).errors == [
            "run 'x': has no labels in the labels input (var lookalike_labels). Add labels for this "
            "run_id or remove the run from the runs input."
        ]


def test_a_bad_value_is_refused_with_the_closest_choice():
    errors = check_run({**RUN, "unlabeled_as_of": "events"}, {"n_input_labels": 5}).errors
    assert errors[0] == (
        "run 'x': unlabeled_as_of 'events' is not one of auto, label_times, user_events. Did you mean "
        "'user_events'? Fix the runs input column or var lookalike_unlabeled_as_of (null means the variable)."
    )
    # Nothing close: no suggestion; null (a relation whose variable resolved to nothing) is refused too.
    assert check_run({**RUN, "unlabeled_as_of": "zzz"}, {"n_input_labels": 5}).errors[0] == (
        "run 'x': unlabeled_as_of 'zzz' is not one of auto, label_times, user_events. "
        "Fix the runs input column or var lookalike_unlabeled_as_of (null means the variable)."
    )
    assert (
        check_run({**RUN, "unlabeled_as_of": None}, {"n_input_labels": 5})
        .errors[0]
        .startswith("run 'x': unlabeled_as_of None is not one of auto, label_times, user_events.")
    )


def test_an_older_runs_relation_without_the_column_is_not_checked():
    assert check_run(RUN, {"n_input_labels": 0}).errors == [
        "run 'x': has no labels in the labels input (var lookalike_labels). Add labels for this "
        "run_id or remove the run from the runs input."
    ]
