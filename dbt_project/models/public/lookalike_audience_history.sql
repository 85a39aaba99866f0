{#- Audience membership as published by each build (issue 30 part 4, decision 0029). One row per
    build, run and audience user (grain: build_id, run_id, user_id): the users of lookalike_audiences
    that this build selected (not is_stale: a FAILED run's kept audience was published by an
    earlier build and is not logged again). Append-only: a later build never rewrites these rows
    (incremental, full_refresh: false, so --full-refresh keeps them); rows older than var
    lookalike_history_retention_days are deleted at the start of the model. lookalike_run_history
    compares each run's membership with the run's previous logged build (entered, left, overlap).
    Cost: one read of lookalike_audiences (the audience, not the population) per build. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{{ lookalike.lookalike_prune_history(this, 'published_at') }}"
) }}

select
    {{ lookalike.lookalike_build_id() }} as build_id,
    {{ lookalike.lookalike_build_time() }} as published_at,
    run_id,
    user_id,
    score,
    score_rank,
    is_holdout
from {{ ref('lookalike_audiences') }}
where not is_stale
