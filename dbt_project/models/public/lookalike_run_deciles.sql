{{ config(lookalike_keep=true) }}
{#- One row per run, split and score decile (0 = lowest scores, 9 = highest). -#}
{{ lookalike.lookalike_decile_table(ref('lookalike_training_predictions'), group_by=['run_id', 'split'], id_column='example_id') }}
