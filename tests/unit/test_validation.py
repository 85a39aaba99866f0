import pytest

from lookalike_udf.validation import check_run

RUN = {
    "run_id": "r1",
    "is_declared": True,
    "n_declared": 1,
    "engagement_type": "MULTI_ENGAGE",
    "min_seed_users": 10,
    "test_fraction": 0.2,
    "unlabeled_sample_size": 5000,
}
SUMMARY = {
    "n_input_labels": 40,
    "n_positive_users": 20,
    "n_negative_users": 20,
    "n_positive_labels": 20,
    "n_negative_labels": 20,
    "n_matched_labels": 40,
    "n_matched_positive_labels": 20,
    "n_matched_negative_labels": 20,
    "n_conflicting_labels": 0,
    "n_invalid_labels": 0,
}


def check(run=None, **summary):
    return check_run({**RUN, **(run or {})}, {**SUMMARY, **summary})


def test_clean_run_passes():
    result = check()
    assert result.ok and result.errors == [] and result.warnings == []


@pytest.mark.parametrize(
    "run, summary, message",
    [
        (
            {},
            {"n_positive_users": 9},
            "run 'r1': positive_label_users has 9 distinct users; at least 10 are required. Add positive labels (label = 1).",
        ),
        (
            {},
            {"n_negative_users": 7},
            "run 'r1': negative_label_users has 7 distinct users; at least 10 are required. Add negatives or drop them all",
        ),
        ({"min_seed_users": 25}, {}, "run 'r1': positive_label_users has 20 distinct users; at least 25 are required."),
        (
            {"is_declared": False},
            {},
            "run 'r1': labels use run_id 'r1', which is not in the runs input (var lookalike_runs).",
        ),
        (
            {"engagement_type": "BOTH"},
            {},
            "run 'r1': engagement_type 'BOTH' in the runs input is not one of MULTI_ENGAGE, SINGLE_ENGAGE.",
        ),
        ({"test_fraction": 1.0}, {}, "run 'r1': test_fraction 1.0 must be strictly between 0 and 1."),
        ({"unlabeled_sample_size": 0}, {}, "run 'r1': unlabeled_sample_size 0 must be between 1 and 1000000000."),
        ({}, {"n_input_labels": 0}, "run 'r1': has no labels in the labels input (var lookalike_labels)."),
        ({}, {"n_matched_labels": 0}, "run 'r1': none of its 40 labels matched a snapshot at or before its timestamp."),
        (
            {},
            {"n_matched_negative_labels": 0},
            "run 'r1': after point-in-time matching no negative label remains, so there is a single class.",
        ),
    ],
)
def test_errors_name_run_input_and_fix(run, summary, message):
    result = check(run, **summary)
    assert not result.ok
    assert any(e.startswith(message) for e in result.errors), result.errors


def test_negatives_are_optional():
    result = check(n_negative_users=0, n_negative_labels=0, n_matched_negative_labels=0)
    assert result.ok


def test_positives_only_run_with_no_matched_positive_fails():
    result = check(
        n_negative_users=0,
        n_negative_labels=0,
        n_matched_negative_labels=0,
        n_matched_positive_labels=0,
        n_matched_labels=0,
    )
    assert result.errors[0].startswith("run 'r1': none of its 40 labels matched")


def test_warnings_do_not_fail_the_run():
    result = check({"n_declared": 2}, n_conflicting_labels=2, n_matched_labels=37, n_invalid_labels=1)
    assert result.ok
    prefixes = [
        "run 'r1': the runs input declares this run_id 2 times",
        "run 'r1': 1 label(s) excluded: a label must be 0 or 1",
        "run 'r1': 2 label(s) excluded: the same user has both a positive and a negative label",
        "run 'r1': 3 of 40 labels matched no snapshot",
    ]
    assert len(result.warnings) == len(prefixes)
    for warning, prefix in zip(result.warnings, prefixes, strict=True):
        assert warning.startswith(prefix), warning


def test_missing_summary_means_no_labels():
    result = check_run(RUN, None)
    assert result.errors == [
        "run 'r1': has no labels in the labels input (var lookalike_labels). "
        "Add labels for this run_id or remove the run from the runs input."
    ]


def test_excluded_labels_are_counted_by_reason():
    result = check(
        n_invalid_labels=5,
        n_labels_without_user=1,
        n_invalid_label_values=2,
        n_invalid_weights=1,
        n_invalid_timestamps=1,
    )
    assert result.ok
    assert result.warnings == [
        "run 'r1': 5 label(s) excluded (1 without user_id, 2 with a label other than 0 or 1, 1 with a weight "
        "that is not a finite number in (0, 1e9], 1 with an unreadable label_timestamp): a label must be 0 or 1, "
        "a weight a finite number in (0, 1e9] (null = 1), a label_timestamp a readable date-time (null = the "
        "scoring time), and user_id must be set. Fix those rows in the labels input (var lookalike_labels)."
    ]


def test_unreadable_settings_fail_only_that_run_and_name_the_value():
    result = check({"invalid_settings": "pu_bags = 'twenty' (not an integer)"})
    assert result.errors == [
        "run 'r1': the runs input (var lookalike_runs) holds setting value(s) that cannot be read: "
        "pu_bags = 'twenty' (not an integer). Fix them in the runs input (null means the variable of the "
        "same name, lookalike_<setting>)."
    ]


def test_unreadable_timestamps_lead_with_the_cause_and_the_accepted_formats():
    """issue 25: every positive label had an unreadable label_timestamp; the message led with "no
    positive label remains" and named no accepted format."""
    result = check(
        n_input_labels=12,
        n_invalid_labels=12,
        n_invalid_timestamps=12,
        n_positive_users=0,
        n_matched_labels=0,
        n_matched_positive_labels=0,
    )
    assert result.errors[0] == (
        "run 'r1': 12 of its 12 labels have a label_timestamp that cannot be read as a date-time, so they were "
        "left out (the errors that follow are the consequence). Accepted: a DATE or TIMESTAMP column, or text such "
        "as '2026-06-01', '2026-06-01 12:00:00' or '2026-06-01T12:00:00+09:00' (an offset or Z is converted to "
        "UTC); null = the scoring time. Fix label_timestamp in the labels input (var lookalike_labels)."
    )
    assert result.errors[1].startswith("run 'r1': positive_label_users has 0 distinct users")
    # A run that trains despite a few unreadable timestamps keeps the single counting warning.
    ok = check(n_invalid_labels=1, n_invalid_timestamps=1)
    assert ok.ok and len(ok.warnings) == 1 and "1 with an unreadable label_timestamp" in ok.warnings[0]
