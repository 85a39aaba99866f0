{#- The lift an audience delivered (issue 30, decision 0030), as one SQL statement.

    members   a relation, or a parenthesised query, with one row per run, audience build and user:
                run_id, published_at (when the audience was published), user_id,
                lift_group ('target', 'holdout' or 'rest': lookalike_vocabulary()['lift_group']),
                lift_window_days (days after published_at in which outcomes count; null = no end).
              lookalike_audience_lift reads lookalike_user_scores and lookalike_audiences; a
              per-build membership log can be passed instead.
    outcomes  a relation, or a parenthesised query, of valid outcomes: run_id (null = the outcome
              counts for every run), user_id, outcome_at, value (null = 0).
    min_group_users  the fewest users a group needs for its intervals (and the target's).

    One row per run, audience build (published_at) and group (grain: run_id, published_at,
    lift_group); every group is there, with n_users = 0 when empty.

    An outcome counts for a member when the user matches, the run matches (or the outcome's run_id
    is null) and published_at <= outcome_at < published_at + lift_window_days. Per user:
    converted = at least one counted outcome; value = the sum of the counted outcomes' values.
    Per group of n users, x converted, values v_i (0 for users without outcomes), z = 1.959963984540054
    (the 97.5 % normal quantile):
      conversion_rate p = x / n, with its Wilson score interval
        (p + z^2/2n  -/+  z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n), kept within [0, 1]
        (rounding only);
      mean_value m = sum(v_i) / n, value_stddev s = the sample standard deviation of v_i (n - 1).
    The holdout and rest rows compare the target group (t) with the row's group (g):
      rate_difference d = p_t - p_g, 95 % interval by Newcombe's hybrid score method (method 10 of
        Newcombe 1998) from the two Wilson intervals (l, u):
        [d - sqrt((p_t - l_t)^2 + (u_g - p_g)^2),  d + sqrt((u_t - p_t)^2 + (p_g - l_g)^2)];
      mean_value_difference e = m_t - m_g, 95 % Welch normal interval e -/+ z sqrt(s_t^2/n_t + s_g^2/n_g).
    Differences are null when either group is empty; every interval is null when a group behind it
    has fewer than min_group_users users (or fewer than 2). The target row holds no differences. -#}
{% macro lookalike_audience_lift_sql(members, outcomes, min_group_users) %}
  {%- set groups = lookalike.lookalike_vocabulary()['lift_group'] -%}
  {%- set min_users = [min_group_users | int, 2] | max -%}
  {%- set z = 'cast(1.959963984540054 as double)' -%}
  {%- set text = dbt.type_string() %}
with lift_members as (
    select
        run_id,
        published_at,
        user_id,
        lift_group,
        lift_window_days,
        case when lift_window_days is not null
             then {{ lookalike.lookalike_add_days('published_at', 'lift_window_days') }} end as window_end_at
    from {{ members }} as lift_source
),

lift_outcomes as (
    select run_id, user_id, outcome_at, value
    from {{ outcomes }} as lift_outcome_source
),

{#- Outcomes of one run join on (run_id, user_id), outcomes for every run on user_id alone: two
    equi-joins instead of one join with an "or". #}
lift_counted as (
    select lift_members.run_id, lift_members.published_at, lift_members.user_id, lift_outcomes.value
    from lift_members
    inner join lift_outcomes
        on lift_outcomes.run_id = lift_members.run_id
       and lift_outcomes.user_id = lift_members.user_id
    where lift_outcomes.outcome_at >= lift_members.published_at
      and (lift_members.window_end_at is null or lift_outcomes.outcome_at < lift_members.window_end_at)
    union all
    select lift_members.run_id, lift_members.published_at, lift_members.user_id, lift_outcomes.value
    from lift_members
    inner join lift_outcomes
        on lift_outcomes.user_id = lift_members.user_id
    where lift_outcomes.run_id is null
      and lift_outcomes.outcome_at >= lift_members.published_at
      and (lift_members.window_end_at is null or lift_outcomes.outcome_at < lift_members.window_end_at)
),

lift_user_outcomes as (
    select run_id, published_at, user_id, sum(coalesce(value, 0)) as user_value
    from lift_counted
    group by run_id, published_at, user_id
),

lift_users as (
    select
        lift_members.run_id,
        lift_members.published_at,
        lift_members.lift_group,
        case when lift_user_outcomes.user_id is null then 0 else 1 end as is_converted,
        cast(coalesce(lift_user_outcomes.user_value, 0) as double) as user_value
    from lift_members
    left join lift_user_outcomes
        on lift_members.run_id = lift_user_outcomes.run_id
       and lift_members.published_at = lift_user_outcomes.published_at
       and lift_members.user_id = lift_user_outcomes.user_id
),

lift_group_stats as (
    select
        run_id,
        published_at,
        lift_group,
        count(*) as n_users,
        sum(is_converted) as n_converted_users,
        sum(user_value) as total_value,
        var_samp(user_value) as value_variance
    from lift_users
    group by run_id, published_at, lift_group
),

lift_builds as (
    select run_id, published_at, max(lift_window_days) as lift_window_days, max(window_end_at) as window_end_at
    from lift_members
    group by run_id, published_at
),

lift_group_names as (
    select cast({{ lookalike.lookalike_literal(groups['TARGET']) }} as {{ text }}) as lift_group, 1 as group_order
    union all
    select cast({{ lookalike.lookalike_literal(groups['HOLDOUT']) }} as {{ text }}), 2
    union all
    select cast({{ lookalike.lookalike_literal(groups['REST']) }} as {{ text }}), 3
),

{#- Every group of every build, with its figures and Wilson bounds (w_low, w_high). #}
lift_groups as (
    select
        lift_builds.run_id,
        lift_builds.published_at,
        lift_builds.lift_window_days,
        lift_builds.window_end_at,
        lift_group_names.lift_group,
        lift_group_names.group_order,
        cast(coalesce(lift_group_stats.n_users, 0) as {{ dbt.type_bigint() }}) as n_users,
        cast(coalesce(lift_group_stats.n_converted_users, 0) as {{ dbt.type_bigint() }}) as n_converted_users,
        cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users as conversion_rate,
        cast(coalesce(lift_group_stats.total_value, 0) as double) as total_value,
        lift_group_stats.total_value / lift_group_stats.n_users as mean_value,
        lift_group_stats.value_variance,
        case when lift_group_stats.n_users >= {{ min_users }} then greatest(0.0,
            ((cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users
              + {{ z }} * {{ z }} / (2.0 * lift_group_stats.n_users))
             - {{ z }} * sqrt((cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users)
                              * (1 - cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users)
                              / lift_group_stats.n_users
                              + {{ z }} * {{ z }} / (4.0 * lift_group_stats.n_users * lift_group_stats.n_users)))
            / (1 + {{ z }} * {{ z }} / lift_group_stats.n_users))
        end as w_low,
        case when lift_group_stats.n_users >= {{ min_users }} then least(1.0,
            ((cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users
              + {{ z }} * {{ z }} / (2.0 * lift_group_stats.n_users))
             + {{ z }} * sqrt((cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users)
                              * (1 - cast(lift_group_stats.n_converted_users as double) / lift_group_stats.n_users)
                              / lift_group_stats.n_users
                              + {{ z }} * {{ z }} / (4.0 * lift_group_stats.n_users * lift_group_stats.n_users)))
            / (1 + {{ z }} * {{ z }} / lift_group_stats.n_users))
        end as w_high
    from lift_builds
    cross join lift_group_names
    left join lift_group_stats
        on lift_builds.run_id = lift_group_stats.run_id
       and lift_builds.published_at = lift_group_stats.published_at
       and lift_group_names.lift_group = lift_group_stats.lift_group
),

lift_compared as (
    select
        lift_groups.*,
        target.n_users as n_target_users,
        case when lift_groups.lift_group <> target.lift_group
             then target.conversion_rate - lift_groups.conversion_rate end as rate_difference,
        case when lift_groups.lift_group <> target.lift_group
             then target.mean_value - lift_groups.mean_value end as mean_value_difference,
        case when lift_groups.lift_group <> target.lift_group
             then target.conversion_rate end as t_rate,
        case when lift_groups.lift_group <> target.lift_group then target.w_low end as t_low,
        case when lift_groups.lift_group <> target.lift_group then target.w_high end as t_high,
        case when lift_groups.lift_group <> target.lift_group and lift_groups.n_users >= {{ min_users }}
                  and target.n_users >= {{ min_users }}
             then {{ z }} * sqrt(target.value_variance / target.n_users + lift_groups.value_variance / lift_groups.n_users)
        end as value_half_width
    from lift_groups
    inner join lift_groups as target
        on lift_groups.run_id = target.run_id
       and lift_groups.published_at = target.published_at
       and target.lift_group = {{ lookalike.lookalike_literal(groups['TARGET']) }}
)

select
    run_id,
    published_at,
    lift_window_days,
    window_end_at,
    lift_group,
    n_users,
    n_converted_users,
    conversion_rate,
    w_low as conversion_rate_ci_low,
    w_high as conversion_rate_ci_high,
    total_value,
    mean_value,
    sqrt(value_variance) as value_stddev,
    n_target_users,
    rate_difference,
    rate_difference - sqrt((t_rate - t_low) * (t_rate - t_low) + (w_high - conversion_rate) * (w_high - conversion_rate))
        as rate_difference_ci_low,
    rate_difference + sqrt((t_high - t_rate) * (t_high - t_rate) + (conversion_rate - w_low) * (conversion_rate - w_low))
        as rate_difference_ci_high,
    mean_value_difference,
    mean_value_difference - value_half_width as mean_value_difference_ci_low,
    mean_value_difference + value_half_width as mean_value_difference_ci_high
from lift_compared
{%- endmacro %}


{#- A timestamp plus a number of days (fractional days to the microsecond). -#}
{% macro lookalike_add_days(timestamp, days) %}
  {{- return(adapter.dispatch('lookalike_add_days', 'lookalike')(timestamp, days)) -}}
{% endmacro %}

{% macro default__lookalike_add_days(timestamp, days) %}
  {{- dbt.dateadd('second', 'cast(round((' ~ days ~ ') * 86400) as ' ~ dbt.type_bigint() ~ ')', timestamp) -}}
{% endmacro %}

{% macro duckdb__lookalike_add_days(timestamp, days) %}
  {{- '(' ~ timestamp ~ ' + to_microseconds(cast(round((' ~ days ~ ') * 86400000000) as bigint)))' -}}
{% endmacro %}

{% macro spark__lookalike_add_days(timestamp, days) %}
  {{- 'timestamp_micros(unix_micros(' ~ timestamp ~ ') + cast(round((' ~ days ~ ') * 86400000000) as bigint))' -}}
{% endmacro %}
