{{ config(materialized='view') }}
{#- What lookalike_user_reasons explains. One row per run and audience user (grain: run_id, user_id):
    the users of lookalike_audiences (not the stale rows kept from an earlier build: the run's
    current model did not score them), at most var lookalike_reasons_max_users per run by
    score_rank, each with the row of lookalike_inference_features that was scored. The join
    happens here, in the warehouse, so Python reads only the audience's feature rows. -#}
{%- set max_users = lookalike.lookalike_var('lookalike_reasons_max_users') %}

with audience as (
    select
        run_id,
        user_id,
        score,
        score_rank,
        row_number() over (partition by run_id order by score_rank) as audience_position
    from {{ ref('lookalike_audiences') }}
    where not coalesce(is_stale, false)
)

select
    features.*,
    audience.run_id,
    audience.score as audience_score,
    audience.score_rank as audience_score_rank
from audience
inner join {{ ref('lookalike_inference_features') }} as features
    on audience.user_id = features.user_id
{%- if max_users is not none %}
where audience.audience_position <= {{ max_users }}
{%- endif %}
