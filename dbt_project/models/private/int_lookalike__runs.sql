{{ config(lookalike_keep=true) }}
{#- One row per run_id: every run declared in the runs input, plus every run_id that appears only
    in the labels (is_declared = false, so it can be reported as FAILED). Settings are resolved;
    n_declared counts duplicate declarations (only the first, by description, is kept). -#}

with declared as (
    select
        *,
        count(*) over (partition by run_id) as n_declared,
        row_number() over (partition by run_id order by run_description nulls last, engagement_type) as declaration_index
    from {{ ref('stg_lookalike__runs') }}
    where run_id is not null
),

label_only_runs as (
    select distinct labels.run_id
    from {{ ref('stg_lookalike__labels') }} as labels
    where labels.run_id is not null
      and labels.run_id not in (select declared.run_id from declared)
)

select
    run_id,
    run_description,
    engagement_type,
    build_only,
    test_fraction,
    unlabeled_sample_size,
    random_seed,
    pu_method,
    unlabeled_as_of,
    pu_bags,
    model_type,
    sample_size,
    extra_attention,
    expected_positive_share,
    tune_model,
    tune_time_budget_seconds,
    auto_tune,
    refit_on_all_labels,
    audience_top_n,
    audience_top_pct,
    audience_min_score,
    audience_holdout_pct,
    lift_window_days,
    audience_export_path,
    invalid_settings,
    true as is_declared,
    n_declared,
    {{ lookalike.lookalike_var_sql('lookalike_min_seed_users') }} as min_seed_users
from declared
where declaration_index = 1

union all

select
    run_id,
    cast(null as {{ dbt.type_string() }}) as run_description,
    upper(cast({{ lookalike.lookalike_var_sql('lookalike_engagement_type') }} as {{ dbt.type_string() }})) as engagement_type,
    cast({{ lookalike.lookalike_var_sql('lookalike_build_only') }} as boolean) as build_only,
    cast({{ lookalike.lookalike_var_sql('lookalike_test_fraction') }} as double) as test_fraction,
    cast({{ lookalike.lookalike_var_sql('lookalike_unlabeled_sample_size') }} as bigint) as unlabeled_sample_size,
    cast({{ lookalike.lookalike_var_sql('lookalike_random_seed') }} as bigint) as random_seed,
    lower(cast({{ lookalike.lookalike_var_sql('lookalike_pu_method') }} as {{ dbt.type_string() }})) as pu_method,
    lower(cast({{ lookalike.lookalike_var_sql('lookalike_unlabeled_as_of') }} as {{ dbt.type_string() }})) as unlabeled_as_of,
    cast({{ lookalike.lookalike_var_sql('lookalike_pu_bags') }} as bigint) as pu_bags,
    lower(cast({{ lookalike.lookalike_var_sql('lookalike_model_type') }} as {{ dbt.type_string() }})) as model_type,
    cast({{ lookalike.lookalike_var_sql('lookalike_sample_size') }} as bigint) as sample_size,
    cast({{ lookalike.lookalike_var_sql('lookalike_extra_attention') }} as boolean) as extra_attention,
    cast({{ lookalike.lookalike_var_sql('lookalike_expected_positive_share') }} as double) as expected_positive_share,
    cast({{ lookalike.lookalike_var_sql('lookalike_tune_model') }} as boolean) as tune_model,
    cast({{ lookalike.lookalike_var_sql('lookalike_tune_time_budget_seconds') }} as double) as tune_time_budget_seconds,
    cast({{ lookalike.lookalike_var_sql('lookalike_auto_tune') }} as boolean) as auto_tune,
    cast({{ lookalike.lookalike_var_sql('lookalike_refit_on_all_labels') }} as boolean) as refit_on_all_labels,
    cast({{ lookalike.lookalike_var_sql('lookalike_audience_top_n') }} as bigint) as audience_top_n,
    cast({{ lookalike.lookalike_var_sql('lookalike_audience_top_pct') }} as double) as audience_top_pct,
    cast({{ lookalike.lookalike_var_sql('lookalike_audience_min_score') }} as double) as audience_min_score,
    cast({{ lookalike.lookalike_var_sql('lookalike_audience_holdout_pct') }} as double) as audience_holdout_pct,
    cast({{ lookalike.lookalike_var_sql('lookalike_lift_window_days') }} as double) as lift_window_days,
    cast({{ lookalike.lookalike_var_sql('lookalike_audience_export_path') }} as {{ dbt.type_string() }}) as audience_export_path,
    cast(null as {{ dbt.type_string() }}) as invalid_settings,
    false as is_declared,
    0 as n_declared,
    {{ lookalike.lookalike_var_sql('lookalike_min_seed_users') }} as min_seed_users
from label_only_runs
