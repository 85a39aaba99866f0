{{ config(lookalike_keep=true) }}
{#- One row per run and label month (null month = labels without a timestamp). -#}
{{ lookalike.lookalike_label_monthly(ref('lookalike_pit_labels')) }}
