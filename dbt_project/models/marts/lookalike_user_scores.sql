{#- One row per run and scored user, scored on the user's latest snapshot at or before the scoring
    time. SINGLE_ENGAGE runs leave out every user with a label in the run (a seed); MULTI_ENGAGE
    runs rank seeds along with everyone else. -#}

with raw_scores as (
    select * from {{ ref('int_lookalike__population_scores') }}
),

{#- A run whose scoring failed part-way has a marker row (scoring_action = 'failed'): none of its
    rows are published, and lookalike_runs reports it FAILED with the marker's message. #}
scores as (
    select *
    from raw_scores
    where run_id not in (select run_id from raw_scores where scoring_action = 'failed')
),

runs as (
    select run_id, engagement_type from {{ ref('int_lookalike__runs') }}
),

seeds as (
    select distinct run_id, user_id
    from {{ ref('lookalike_pit_labels') }}
    where is_valid
),

kept as (
    select
        scores.run_id,
        scores.user_id,
        scores.score,
        scores.scored_at,
        seeds.user_id is not null as is_seed_user
    from scores
    inner join runs
        on scores.run_id = runs.run_id
    left join seeds
        on scores.run_id = seeds.run_id
       and scores.user_id = seeds.user_id
    where not (runs.engagement_type = 'SINGLE_ENGAGE' and seeds.user_id is not null)
)

select
    kept.run_id,
    kept.user_id,
    kept.score,
    row_number() over (partition by kept.run_id order by kept.score desc, kept.user_id) as score_rank,
    percent_rank() over (partition by kept.run_id order by kept.score) as score_percentile,
    10 - ntile(10) over (partition by kept.run_id order by kept.score desc, kept.user_id) as score_decile,
    kept.is_seed_user,
    population.snapshot_at,
    kept.scored_at
from kept
inner join {{ ref('int_lookalike__inference_snapshots') }} as population
    on kept.user_id = population.user_id
