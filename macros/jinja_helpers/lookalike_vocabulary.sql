{#- The package's vocabulary for SQL: statuses, actions, example sources and reserved column names.
    The same values as lookalike_udf/vocabulary.py (as_dict()); tests/unit/test_vocabulary.py reads
    this literal and fails when the two disagree. See docs/decisions/0023-one-vocabulary.md.
    Use: lookalike.lookalike_vocabulary()['model_status']['TRAINED'] -> 'TRAINED'. -#}
{% macro lookalike_vocabulary() %}
  {{ return({
    'model_status': {'TRAINED': 'TRAINED', 'FAILED': 'FAILED'},
    'run_status': {'FINISHED': 'FINISHED', 'FINISHED_TRAINING': 'FINISHED_TRAINING', 'FAILED': 'FAILED'},
    'training_action': {'TRAINED': 'trained', 'REUSED': 'reused'},
    'scoring_action': {'SCORED': 'scored', 'REUSED': 'reused', 'FAILED': 'failed', 'PARTLY_REUSED': 'partly reused'},
    'example_source': {'LABEL': 'label', 'UNLABELED_SAMPLE': 'unlabeled_sample'},
    'lift_group': {'TARGET': 'target', 'HOLDOUT': 'holdout', 'REST': 'rest'},
    'reserved_columns': ['user_id', 'snapshot_at', 'valid_to', 'run_id', 'label', 'label_id', 'label_timestamp', 'weight',
                         'example_id', 'example_source', 'split', 'as_of_at', 'score']
  }) }}
{% endmacro %}
