{#- One row per customer in the top score decile of a run, who is not a seed user: what a host
    project builds on the package's scores. -#}
select
    run_id,
    user_id as customer_id,
    score,
    score_rank
from {{ ref('lookalike', 'lookalike_user_scores') }}
where score_decile = 9
  and not is_seed_user
