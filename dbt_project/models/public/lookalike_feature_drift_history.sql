{#- Per-feature drift of every build (issue 30 part 1, decision 0029). One row per build, run and
    feature (grain: build_id, run_id, feature): lookalike_feature_drift as this build left it.
    Append-only: a later build never rewrites these rows (incremental, full_refresh: false, so
    --full-refresh keeps them); rows older than var lookalike_history_retention_days are deleted at
    the start of the model. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{{ lookalike.lookalike_prune_history(this, 'built_at') }}"
) }}

select
    {{ lookalike.lookalike_build_id() }} as build_id,
    {{ lookalike.lookalike_build_time() }} as built_at,
    run_id,
    feature,
    feature_kind,
    psi,
    drift_level,
    train_mean,
    population_mean,
    is_time_relative
from {{ ref('lookalike_feature_drift') }}
