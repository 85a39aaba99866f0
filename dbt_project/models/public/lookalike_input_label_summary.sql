{{ config(lookalike_keep=true) }}
{#- One row per run that has labels. -#}
{{ lookalike.lookalike_input_label_summary(ref('lookalike_pit_labels')) }}
