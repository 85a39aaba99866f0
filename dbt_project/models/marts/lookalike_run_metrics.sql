{#- One row per run and split (train, test): weighted AUC and KS, example counts, positive rate. -#}
{{ lookalike.lookalike_binary_metrics(ref('lookalike_training_predictions'), group_by=['run_id', 'split']) }}
