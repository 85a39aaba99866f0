{{ config(lookalike_keep=true) }}
{#- One row per run, label value and weight value. -#}
{{ lookalike.lookalike_label_weight_counts(ref('lookalike_pit_labels')) }}
