{#- Run history across builds (issue 30 parts 1 and 4, decision 0029). One row per build and run
    (grain: build_id, run_id): every run of lookalike_runs as this build left it, FAILED runs
    included, with its headline figures (status, health, quality band, train/test AUC, recall of
    held-out seeds, audience size and cut-off, the top drifting feature), the audience's churn
    against the run's previous logged audience (lookalike_audience_history: users entered, left,
    stayed), and history_warnings, the checks that need earlier builds:
      - test AUC more than var lookalike_history_max_auc_drop below the run's previous build with
        a test AUC;
      - less than var lookalike_history_min_audience_overlap of the previous audience still in it;
      - the top drift PSI (features not is_time_relative) rising in each of the last
        var lookalike_history_drift_rising_builds builds.
    Append-only: a later build never rewrites these rows (incremental, full_refresh: false, so
    --full-refresh keeps them); rows older than var lookalike_history_retention_days are deleted at
    the start of the model. A run whose audience this build did not publish (FAILED, with or
    without its last good audience kept; build_only) has no churn: its churn columns are null and
    its next published audience is compared with the last one that was published.
    Cost: one pass over each of this build's small run tables and the audience, and over the
    history rows (runs x builds) and the previous build's audience rows; no population scan. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{{ lookalike.lookalike_prune_history(this, 'built_at') }}"
) }}
{%- set build_id = lookalike.lookalike_build_id() -%}
{%- set build_time = lookalike.lookalike_build_time() -%}
{%- set text = dbt.type_string() -%}
{%- set max_auc_drop = lookalike.lookalike_var('lookalike_history_max_auc_drop') -%}
{%- set min_overlap = lookalike.lookalike_var('lookalike_history_min_audience_overlap') -%}
{%- set rising_builds = lookalike.lookalike_var('lookalike_history_drift_rising_builds') %}

with runs as (
    select
        run_id, status, health, quality_band, audience_state, training_action, scoring_action,
        train_auc, test_auc, n_scored_users
    from {{ ref('lookalike_runs') }}
),

recall as (
    select run_id, recall_top_10pct, recall_top_20pct
    from {{ ref('lookalike_run_metrics') }}
    where split = 'test'
),

audience as (
    select
        run_id,
        count(*) as n_audience_users,
        sum(case when is_holdout then 1 else 0 end) as n_holdout_users,
        min(cutoff_score) as audience_cutoff_score
    from {{ ref('lookalike_audiences') }}
    group by run_id
),

drift_ranked as (
    select
        run_id,
        feature,
        psi,
        row_number() over (partition by run_id order by round(psi, 9) desc, feature asc) as drift_rank
    from {{ ref('lookalike_feature_drift') }}
    where not is_time_relative and psi is not null
),

top_drift as (
    select run_id, feature as top_drift_feature, psi as top_drift_psi
    from drift_ranked
    where drift_rank = 1
),

{#- This build's logged audience (lookalike_audience_history, built just before). #}
current_members as (
    select run_id, user_id
    from {{ ref('lookalike_audience_history') }}
    where build_id = {{ build_id }}
),

logged as (
    select distinct run_id from current_members
),

{#- Earlier builds' rows of this relation (none on the first build). #}
earlier as (
    {%- if is_incremental() %}
    select run_id, build_id, built_at, test_auc, top_drift_psi, audience_logged
    from {{ this }}
    where build_id <> {{ build_id }}
    {%- else %}
    select
        cast(null as {{ text }}) as run_id,
        cast(null as {{ text }}) as build_id,
        cast(null as {{ dbt.type_timestamp() }}) as built_at,
        cast(null as double) as test_auc,
        cast(null as double) as top_drift_psi,
        cast(null as boolean) as audience_logged
    where 1 = 0
    {%- endif %}
),

previous_audience_build as (
    select run_id, build_id, built_at
    from (
        select run_id, build_id, built_at,
               row_number() over (partition by run_id order by built_at desc, build_id desc) as n
        from earlier
        where audience_logged
    ) as ranked
    where n = 1
),

previous_auc as (
    select run_id, build_id, test_auc
    from (
        select run_id, build_id, test_auc,
               row_number() over (partition by run_id order by built_at desc, build_id desc) as n
        from earlier
        where test_auc is not null
    ) as ranked
    where n = 1
),

previous_members as (
    select logged_audience.run_id, logged_audience.user_id
    from {{ ref('lookalike_audience_history') }} as logged_audience
    inner join previous_audience_build
        on logged_audience.run_id = previous_audience_build.run_id
       and logged_audience.build_id = previous_audience_build.build_id
    {#- only runs this build logged: the others are not compared #}
    inner join logged on logged_audience.run_id = logged.run_id
),

churn as (
    select
        coalesce(current_members.run_id, previous_members.run_id) as run_id,
        sum(case when previous_members.user_id is null then 1 else 0 end) as n_entered,
        sum(case when current_members.user_id is null then 1 else 0 end) as n_left,
        sum(case when current_members.user_id is not null and previous_members.user_id is not null then 1 else 0 end) as n_stayed
    from current_members
    full outer join previous_members
        on current_members.run_id = previous_members.run_id
       and current_members.user_id = previous_members.user_id
    group by coalesce(current_members.run_id, previous_members.run_id)
),

{#- The top drift PSI of the earlier builds and this one: strictly rising in each of the last
    rising_builds - 1 steps, i.e. over rising_builds consecutive builds. #}
drift_series as (
    select run_id, built_at, top_drift_psi from earlier
    union all
    select runs.run_id, {{ build_time }} as built_at, top_drift.top_drift_psi
    from runs
    left join top_drift on runs.run_id = top_drift.run_id
),

drift_steps as (
    select
        run_id,
        top_drift_psi,
        lag(top_drift_psi) over (partition by run_id order by built_at) as prior_psi,
        row_number() over (partition by run_id order by built_at desc) as steps_back
    from drift_series
),

drift_rising as (
    select
        run_id,
        sum(case when top_drift_psi > prior_psi then 1 else 0 end) as n_rising_steps,
        max(case when steps_back = {{ rising_builds - 1 }} then prior_psi end) as psi_from
    from drift_steps
    where steps_back <= {{ rising_builds - 1 }}
    group by run_id
),

joined as (
    select
        runs.*,
        recall.recall_top_10pct,
        recall.recall_top_20pct,
        audience.n_audience_users,
        audience.n_holdout_users,
        audience.audience_cutoff_score,
        top_drift.top_drift_feature,
        top_drift.top_drift_psi,
        logged.run_id is not null as audience_logged,
        case when churn.run_id is not null then previous_audience_build.build_id end as previous_build_id,
        case when churn.run_id is not null then previous_audience_build.built_at end as previous_built_at,
        case when churn.run_id is not null then churn.n_stayed + churn.n_left end as n_previous_audience_users,
        churn.n_entered,
        churn.n_left,
        churn.n_stayed,
        previous_auc.build_id as previous_auc_build_id,
        previous_auc.test_auc as previous_test_auc,
        drift_rising.n_rising_steps,
        drift_rising.psi_from
    from runs
    left join recall on runs.run_id = recall.run_id
    left join audience on runs.run_id = audience.run_id
    left join top_drift on runs.run_id = top_drift.run_id
    left join logged on runs.run_id = logged.run_id
    left join previous_audience_build on runs.run_id = previous_audience_build.run_id
    left join churn on runs.run_id = churn.run_id and previous_audience_build.run_id is not null
    left join previous_auc on runs.run_id = previous_auc.run_id
    left join drift_rising on runs.run_id = drift_rising.run_id
)

select
    {{ build_id }} as build_id,
    {{ build_time }} as built_at,
    run_id,
    status,
    health,
    quality_band,
    audience_state,
    training_action,
    scoring_action,
    train_auc,
    test_auc,
    recall_top_10pct,
    recall_top_20pct,
    cast(n_scored_users as {{ dbt.type_bigint() }}) as n_scored_users,
    cast(coalesce(n_audience_users, 0) as {{ dbt.type_bigint() }}) as n_audience_users,
    cast(coalesce(n_holdout_users, 0) as {{ dbt.type_bigint() }}) as n_holdout_users,
    audience_cutoff_score,
    top_drift_feature,
    top_drift_psi,
    audience_logged,
    previous_build_id,
    previous_built_at,
    cast(n_previous_audience_users as {{ dbt.type_bigint() }}) as n_previous_audience_users,
    cast(n_entered as {{ dbt.type_bigint() }}) as n_audience_entered,
    cast(n_left as {{ dbt.type_bigint() }}) as n_audience_left,
    cast(n_stayed as {{ dbt.type_bigint() }}) as n_audience_stayed,
    case when n_stayed + n_left > 0 then cast(n_stayed as double) / (n_stayed + n_left) end as audience_overlap_share,
    previous_test_auc,
    nullif(concat_ws(' | ',
        case when previous_test_auc - test_auc > {{ max_auc_drop }} then
            'run ''' || run_id || ''': test AUC ' || cast(round(test_auc, 3) as {{ text }}) || ' is '
            || cast(round(previous_test_auc - test_auc, 3) as {{ text }}) || ' below the previous build''s '
            || cast(round(previous_test_auc, 3) as {{ text }}) || ' (build ' || previous_auc_build_id
            || '; more than var lookalike_history_max_auc_drop, {{ max_auc_drop }}). Check what changed since: labels, inputs or settings '
            || '(lookalike_run_history, lookalike_feature_drift_history).'
        end,
        case when n_stayed + n_left > 0 and cast(n_stayed as double) / (n_stayed + n_left) < {{ min_overlap }} then
            'run ''' || run_id || ''': only ' || cast(n_stayed as {{ text }}) || ' of the previous build''s '
            || cast(n_stayed + n_left as {{ text }}) || ' audience users are still in it (' || cast(n_entered as {{ text }})
            || ' entered, ' || cast(n_left as {{ text }}) || ' left; below var lookalike_history_min_audience_overlap, {{ min_overlap }}). '
            || 'A campaign on this audience reaches other people than last time: check what changed (labels, inputs, audience settings).'
        end,
        case when n_rising_steps = {{ rising_builds - 1 }} then
            'run ''' || run_id || ''': the top drift PSI rose in each of the last {{ rising_builds }} builds, from '
            || cast(round(psi_from, 3) as {{ text }}) || ' to ' || cast(round(top_drift_psi, 3) as {{ text }})
            || ' (now ' || top_drift_feature || '; var lookalike_history_drift_rising_builds). The population is moving away from the '
            || 'training examples: see lookalike_feature_drift_history, and add recent labels.'
        end
    ), '') as history_warnings
from joined
