{{ config(lookalike_keep=true) }}
{#- What each run's model and scores depend on, as checksums (grain: run_id). The Python models
    compare them with the ones stored by the previous build to reuse unchanged models and scores:
    training_checksum covers the run's settings and every training example (labels, weights,
    as-of times, splits and all feature values); population_checksum covers every row of the
    population that gets scored. -#}

with settings as (
    {{ lookalike.lookalike_relation_checksum(ref('int_lookalike__runs'), group_by=['run_id'], exclude=['run_description', 'audience_top_n', 'audience_top_pct', 'audience_min_score', 'audience_holdout_pct', 'lift_window_days', 'audience_export_path']) }}
),

examples as (
    {{ lookalike.lookalike_relation_checksum(ref('int_lookalike__training_examples'), group_by=['run_id']) }}
),

population as (
    {{ lookalike.lookalike_relation_checksum(ref('lookalike_inference_features')) }}
)

select
    settings.run_id,
    md5(settings.checksum || '|' || coalesce(examples.checksum, 'no examples')) as training_checksum,
    coalesce(examples.n_rows, 0) as n_training_examples,
    population.checksum as population_checksum,
    population.n_rows as n_population
from settings
left join examples
    on settings.run_id = examples.run_id
cross join population
