{{ config(lookalike_keep=true) }}
{#- Point-in-time training examples with every feature: int_lookalike__training_points joined to
    lookalike_pit_features. One row per run and example (grain: run_id, example_id). This is the
    relation the Python training model reads. -#}
{%- set features = lookalike.lookalike_staged_features(ref('lookalike_pit_features')) | reject('in', ['example_id', 'run_id', 'as_of_at']) | list %}

select
    points.example_id,
    points.run_id,
    points.user_id,
    points.label,
    points.weight,
    points.as_of_at,
    points.snapshot_at,
    points.example_source,
    points.split
    {%- for f in features %},
    features.{{ lookalike.lookalike_quote_identifier(f) }}
    {%- endfor %}
from {{ ref('int_lookalike__training_points') }} as points
inner join {{ ref('lookalike_pit_features') }} as features
    on points.run_id = features.run_id
   and points.example_id = features.example_id
