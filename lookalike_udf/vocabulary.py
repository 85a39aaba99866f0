"""The package's vocabulary: statuses, actions, example sources and reserved column names.

Written once here for Python and once in ``macros/jinja_helpers/lookalike_vocabulary.sql`` for
SQL; ``tests/unit/test_vocabulary.py`` checks that the two agree and that no other module of the
library spells "TRAINED" or "unlabeled_sample" itself (docs/decisions/0023-one-vocabulary.md).

The values are plain strings (namespaces of constants, not Enum members), so every value written
to a table, compared or formatted into a message is exactly the string it was before.

Two different things are called "trained": a model's status (:attr:`ModelStatus.TRAINED`,
``lookalike_run_models.model_status = 'TRAINED'``) and what a build did with it
(:attr:`TrainingAction.TRAINED`, ``training_action = 'trained'``, as opposed to ``'reused'``).
"""

from __future__ import annotations

__all__ = [
    "ModelStatus",
    "RunStatus",
    "TrainingAction",
    "ScoringAction",
    "ExampleSource",
    "LiftGroup",
    "RESERVED_COLUMNS",
    "as_dict",
]


class _Vocabulary:
    """A namespace of string constants; :meth:`values` lists them by name."""

    @classmethod
    def values(cls) -> dict[str, str]:
        return {name: value for name, value in vars(cls).items() if name.isupper() and isinstance(value, str)}


class ModelStatus(_Vocabulary):
    """``lookalike_run_models.model_status``: whether the run has a fitted model."""

    TRAINED = "TRAINED"
    FAILED = "FAILED"


class RunStatus(_Vocabulary):
    """``lookalike_runs.status``."""

    FINISHED = "FINISHED"
    FINISHED_TRAINING = "FINISHED_TRAINING"
    FAILED = "FAILED"


class TrainingAction(_Vocabulary):
    """``lookalike_run_models.training_action``: what this build did with the run's model."""

    TRAINED = "trained"
    REUSED = "reused"


class ScoringAction(_Vocabulary):
    """``lookalike_user_scores.scoring_action`` (and ``lookalike_runs.scoring_action``)."""

    SCORED = "scored"
    REUSED = "reused"
    #: The marker row a run gets when its scoring fails part-way (see dbt_models.score_population).
    FAILED = "failed"
    #: lookalike_runs only: the run's model was unchanged and only the users whose features
    #: changed were scored, the other rows carried over (decision 0036). Rows say scored / reused.
    PARTLY_REUSED = "partly reused"


class ExampleSource(_Vocabulary):
    """``example_source`` of a training example: a labelled user, or an unlabeled user sampled as a
    negative of a run without negatives."""

    LABEL = "label"
    UNLABELED_SAMPLE = "unlabeled_sample"


class LiftGroup(_Vocabulary):
    """``lookalike_audience_lift.lift_group``: the audience without its holdout (``target``), the
    holdout (``holdout``), and the run's scored users outside the audience (``rest``)."""

    TARGET = "target"
    HOLDOUT = "holdout"
    REST = "rest"


#: Column names the package adds to its own relations (snapshots, labels, training examples,
#: scores). A snapshot column with one of these names is never a feature: SQL skips it with a log
#: line (lookalike_feature_columns) and Python leaves it out of a model's features
#: (training.feature_columns). The union of the former SQL (13) and Python (9) lists.
RESERVED_COLUMNS = (
    "user_id",
    "snapshot_at",
    "valid_to",
    "run_id",
    "label",
    "label_id",
    "label_timestamp",
    "weight",
    "example_id",
    "example_source",
    "split",
    "as_of_at",
    "score",
)


def as_dict() -> dict:
    """The vocabulary in the shape of the SQL macro ``lookalike_vocabulary()``."""
    return {
        "model_status": ModelStatus.values(),
        "run_status": RunStatus.values(),
        "training_action": TrainingAction.values(),
        "scoring_action": ScoringAction.values(),
        "example_source": ExampleSource.values(),
        "lift_group": LiftGroup.values(),
        "reserved_columns": list(RESERVED_COLUMNS),
    }
