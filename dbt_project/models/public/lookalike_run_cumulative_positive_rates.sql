{{ config(lookalike_keep=true) }}
{#- One row per run, split, direction (ascending, descending) and fraction (0.1 .. 1.0). -#}
{{ lookalike.lookalike_cumulative_positive_rates(ref('lookalike_training_predictions'), group_by=['run_id', 'split'], id_column='example_id') }}
