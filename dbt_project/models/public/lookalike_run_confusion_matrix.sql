{{ config(lookalike_keep=true) }}
{#- The confusion matrix of every run and split at the cutoffs of lookalike_run_threshold_metrics
    (max_ks, top_pct), in long form: one row per run, split, cutoff, actual label and predicted label
    (grain: run_id, split, cutoff, actual_label, predicted_label), with the unweighted count of
    examples and the sum of their weights. See macros/lookalike_confusion_matrix.sql. -#}
{{ lookalike.lookalike_confusion_matrix(ref('lookalike_training_predictions'), ref('lookalike_run_threshold_metrics'),
                                         group_by=['run_id', 'split']) }}
