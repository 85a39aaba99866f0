{{ config(lookalike_keep=true) }}
{#- Confusion counts and per-class precision / recall / f1 per run, split and cutoff (grain: run_id,
    split, cutoff): at the threshold maximising KS and at the top lookalike_threshold_top_pct % of
    scores. See macros/lookalike_threshold_metrics.sql. -#}
{{ lookalike.lookalike_threshold_metrics(ref('lookalike_training_predictions'), group_by=['run_id', 'split'],
                                         top_pct=lookalike.lookalike_var('lookalike_threshold_top_pct')) }}
