{#- What each run's audience delivered, once outcomes arrive (issue 30, decision 0030). One row per
    run, audience build and group (grain: run_id, published_at, lift_group): target (the audience
    without its holdout), holdout (lookalike_audiences.is_holdout) and rest (the run's scored users
    outside the audience; known for the current scores only: the audiences of earlier builds, read
    from lookalike_audience_history, have a rest row with 0 users), with users, converted users, conversion rate and value counted from
    the outcomes input (var lookalike_outcomes) at or after the audience's publication
    (published_at = lookalike_user_scores.scored_at), within the run's lift_window_days; the
    holdout and rest rows hold the target's difference from them with 95 % intervals. Formulas:
    macros/lookalike_audience_lift.sql.
    Empty when no outcomes input is configured: nothing is read, nothing else changes. -#}
{%- set groups = lookalike.lookalike_vocabulary()['lift_group'] -%}
{%- set outcomes_input = lookalike.lookalike_optional_input_relation('lookalike_outcomes', none) -%}
-- depends_on: {{ ref('stg_lookalike__outcomes') }}
{%- if outcomes_input is not none %}
{%- set members -%}
(
    select
        scores.run_id,
        scores.scored_at as published_at,
        scores.user_id,
        case
            when audiences.user_id is null then {{ lookalike.lookalike_literal(groups['REST']) }}
            when audiences.is_holdout then {{ lookalike.lookalike_literal(groups['HOLDOUT']) }}
            else {{ lookalike.lookalike_literal(groups['TARGET']) }}
        end as lift_group,
        runs.lift_window_days
    from {{ ref('lookalike_user_scores') }} as scores
    left join {{ ref('lookalike_audiences') }} as audiences
        on scores.run_id = audiences.run_id
       and scores.user_id = audiences.user_id
    left join {{ ref('int_lookalike__runs') }} as runs
        on scores.run_id = runs.run_id
    union all
    {#- Audiences published by earlier builds (lookalike_audience_history), so that a job that
        rescores every day still measures each published audience over its own window. Only the
        builds before the one that produced the run's current scores: that build logged its
        history at its start, at or before scored_at, and builds do not overlap, so it is the
        run's latest history build at or before scored_at; it and the later builds that reused
        its scores publish the current audience, the rows above. The rest group of an earlier
        build is not known (the history logs the audience, not the population): 0 users. #}
    select
        history.run_id,
        history.published_at,
        history.user_id,
        case
            when history.is_holdout then {{ lookalike.lookalike_literal(groups['HOLDOUT']) }}
            else {{ lookalike.lookalike_literal(groups['TARGET']) }}
        end as lift_group,
        runs.lift_window_days
    from {{ ref('lookalike_audience_history') }} as history
    inner join (
        select
            logged.run_id,
            max(logged.published_at) as scoring_build_at
        from {{ ref('lookalike_audience_history') }} as logged
        inner join (
            select
                run_id,
                min(scored_at) as scored_at
            from {{ ref('lookalike_user_scores') }}
            group by run_id
        ) as scoring
            on logged.run_id = scoring.run_id
           and logged.published_at <= scoring.scored_at
        group by logged.run_id
    ) as current_build
        on history.run_id = current_build.run_id
       and history.published_at < current_build.scoring_build_at
    left join {{ ref('int_lookalike__runs') }} as runs
        on history.run_id = runs.run_id
)
{%- endset -%}
{%- set outcomes -%}
(
    select run_id, user_id, outcome_at, value
    from {{ ref('stg_lookalike__outcomes') }}
    where invalid_reason is null
)
{%- endset %}
{{ lookalike.lookalike_audience_lift_sql(members, outcomes, lookalike.lookalike_var('lookalike_lift_min_group_users')) }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as run_id,
    cast(null as {{ dbt.type_timestamp() }}) as published_at,
    cast(null as double) as lift_window_days,
    cast(null as {{ dbt.type_timestamp() }}) as window_end_at,
    cast(null as {{ dbt.type_string() }}) as lift_group,
    cast(null as {{ dbt.type_bigint() }}) as n_users,
    cast(null as {{ dbt.type_bigint() }}) as n_converted_users,
    cast(null as double) as conversion_rate,
    cast(null as double) as conversion_rate_ci_low,
    cast(null as double) as conversion_rate_ci_high,
    cast(null as double) as total_value,
    cast(null as double) as mean_value,
    cast(null as double) as value_stddev,
    cast(null as {{ dbt.type_bigint() }}) as n_target_users,
    cast(null as double) as rate_difference,
    cast(null as double) as rate_difference_ci_low,
    cast(null as double) as rate_difference_ci_high,
    cast(null as double) as mean_value_difference,
    cast(null as double) as mean_value_difference_ci_low,
    cast(null as double) as mean_value_difference_ci_high
where 1 = 0
{%- endif %}
