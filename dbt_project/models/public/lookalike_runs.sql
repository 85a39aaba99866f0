{#- One row per run: every run of the runs input, plus any run_id found only in the labels
    (reported FAILED). Status follows the reference API: FINISHED (trained and scored),
    FINISHED_TRAINING (build_only runs: trained and reported, not scored), FAILED.
    health, health_messages and quality_band come from the lookalike_run_health macro. -#}
-- depends_on: {{ ref('lookalike_pit_labels') }}

{%- set newest = lookalike.lookalike_newest_input_time() -%}
{%- set newest_input = ("cast('" ~ newest.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") if newest is not none else none %}
{#- Columns of the labels input whose names look like times but are not label_timestamp (a typo
    such as label_timestmp): a run none of whose labels has a timestamp gets a warning naming them. #}
{%- set label_columns = lookalike.lookalike_input_columns(lookalike.lookalike_input_relation('lookalike_labels', 'lookalike_demo_labels')) -%}
{%- set time_like = lookalike.lookalike_time_like_columns(label_columns, ['label_timestamp']) -%}
{%- set max_tied_share = lookalike.lookalike_var_sql('lookalike_health_max_tied_share') -%}
{%- set vocab = lookalike.lookalike_vocabulary() -%}
{%- set text = dbt.type_string() %}

with runs as (
    select * from {{ ref('int_lookalike__runs') }}
),

models as (
    select * from {{ ref('lookalike_run_models') }}
),

calibration as (
    {{ lookalike.lookalike_calibration_constants(ref('lookalike_training_predictions'), ref('lookalike_run_models')) }}
),

metrics as (
    select
        run_id,
        max(case when split = 'train' then auc end) as train_auc,
        max(case when split = 'train' then ks end) as train_ks,
        max(case when split = 'test' then auc end) as test_auc,
        max(case when split = 'test' then ks end) as test_ks,
        sum(n_examples) as n_examples,
        sum(positive_rate * sum_weight) / nullif(sum(sum_weight), 0) as label_positive_rate
    from {{ ref('lookalike_run_metrics') }}
    group by run_id
),

{#- A run carried in part (decision 0036) has rows scored in this build and rows reused: 'partly reused'. #}
score_actions as (
    select
        run_id,
        case when count(distinct scoring_action) > 1 then '{{ vocab['scoring_action']['PARTLY_REUSED'] }}'
             else max(scoring_action) end as scoring_action
    from {{ ref('int_lookalike__population_scores') }}
    where scoring_action <> '{{ vocab['scoring_action']['FAILED'] }}'
    group by run_id
),

scored as (
    select
        scores.run_id,
        count(*) as n_scored_users,
        max(scores.scored_at) as scored_at,
        max(score_actions.scoring_action) as scoring_action
    from {{ ref('lookalike_user_scores') }} as scores
    left join score_actions
        on scores.run_id = score_actions.run_id
    where not scores.is_stale
    group by scores.run_id
),

{#- Audiences kept from an earlier build for runs that failed in this one (var lookalike_on_run_failure). #}
stale_audiences as (
    select
        run_id,
        count(*) as n_users,
        max(scored_at) as scored_at,
        max(model_fingerprint) as model_fingerprint
    from {{ ref('lookalike_user_scores') }}
    where is_stale
    group by run_id
),

{#- Features whose PSI exceeds var lookalike_health_max_psi (lookalike_feature_drift): the 5 worst,
    then "and N more". #}
drift as (
    {#- Time-relative features shift by construction between label time and scoring time
        (lookalike_feature_drift.is_time_relative): not judged, unless the scoring time is more
        than lookalike_health_max_days_after_data after the newest data, when their drift is
        staleness, not construction, and every feature is judged. #}
    {%- if newest_input is not none %}
    {%- set stale = '(cast(' ~ dbt.datediff(newest_input, lookalike.lookalike_as_of(), 'second') ~ ' as double) / 86400 > '
          ~ lookalike.lookalike_var_sql('lookalike_health_max_days_after_data') ~ ')' %}
    {%- else %}
    {%- set stale = 'false' %}
    {%- endif %}
    {{ lookalike.lookalike_worst_features('(select * from ' ~ ref('lookalike_feature_drift') ~ ' where not is_time_relative or ' ~ stale ~ ') as judged',
                                          lookalike.lookalike_var_sql('lookalike_health_max_psi')) }}
),

{#- Input rows no run could use (lookalike_input_issues): reported on every run. #}
input_issues as (
    {#- nullif: over no rows dbt-spark's listagg gives '' where DuckDB's gives null. #}
    select nullif({{ lookalike.lookalike_listagg('message', "' | '", 'order by input_variable, issue') }}, '') as messages
    from {{ ref('lookalike_input_issues') }}
),

{#- Ties (docs/serving.md, "Ties"): lookalike_audiences marks the users that the user_id tie-break, not the
    score, put in the audience (is_tied_at_cutoff); the check warns when they are more than
    lookalike_health_max_tied_share of the audience, or when the run's scores take fewer than 10
    distinct values. Rows kept from an earlier build (is_stale) are not judged. #}
score_spread as (
    select run_id, count(*) as n_scored, count(distinct score) as n_distinct_scores
    from {{ ref('lookalike_user_scores') }}
    where not is_stale
    group by run_id
),

audience_ties as (
    select
        run_id,
        count(*) as n_audience,
        sum(case when is_tied_at_cutoff then 1 else 0 end) as n_tied_in,
        max(n_users_at_cutoff_score) as n_tied
    from {{ ref('lookalike_audiences') }}
    where not is_stale
    group by run_id
),

tie_counts as (
    select
        score_spread.run_id,
        score_spread.n_scored,
        score_spread.n_distinct_scores,
        audience_ties.n_audience,
        coalesce(audience_ties.n_tied_in, 0) as n_tied_in,
        coalesce(audience_ties.n_tied, 0) as n_tied
    from score_spread
    left join audience_ties on score_spread.run_id = audience_ties.run_id
),

{#- label_times is read only when the labels input has a time-like column (below); its ref is
    declared at the top of the file, outside the branch, for dbt's parser. #}
{% if time_like -%}
label_times as (
    select run_id, count(label_timestamp) as n_labels_with_timestamp
    from {{ ref('lookalike_pit_labels') }}
    group by run_id
),

{% endif -%}
extra_warnings as (
    select
        runs.run_id,
        nullif(concat_ws(' | ',
            case when tie_counts.n_tied > tie_counts.n_tied_in
                      and tie_counts.n_tied_in > {{ max_tied_share }} * tie_counts.n_audience then
                'run ''' || runs.run_id || ''': ' || cast(tie_counts.n_tied_in as {{ text }}) || ' of the '
                || cast(tie_counts.n_audience as {{ text }}) || ' audience users share the cut-off score with '
                || cast(tie_counts.n_tied - tie_counts.n_tied_in as {{ text }}) || ' users left out, so the tie, not the score, chose them '
                || '(more than {{ lookalike.lookalike_var('lookalike_health_max_tied_share') }} of the audience, var lookalike_health_max_tied_share; '
                || 'lookalike_audiences.is_tied_at_cutoff marks them). Add informative features, or set audience_min_score above the cut-off.'
            end,
            case when tie_counts.n_scored >= 100 and tie_counts.n_distinct_scores < 10 then
                'run ''' || runs.run_id || ''': the ' || cast(tie_counts.n_scored as {{ text }}) || ' scores take only '
                || cast(tie_counts.n_distinct_scores as {{ text }}) || ' distinct values: the model hardly ranks the population. '
                || 'Add informative features or labels.'
            end
            {%- if time_like and 'label_timestamp' not in label_columns %},
            case when coalesce(label_times.n_labels_with_timestamp, 0) = 0 then
                'run ''' || runs.run_id || ''': no label has a label_timestamp, so every label is matched at the scoring time and its '
                || 'features may come from after the label; the labels input has {{ time_like | join(", ") | replace("'", "''") }}, which the package does not read. '
                || 'Rename the label''s time column to label_timestamp.'
            end
            {%- elif time_like %},
            case when coalesce(label_times.n_labels_with_timestamp, 0) = 0 then
                'run ''' || runs.run_id || ''': none of its labels has a label_timestamp, so every label is matched at the scoring time and its '
                || 'features may come from after the label; the labels input also has {{ time_like | join(", ") | replace("'", "''") }}, which the package does not read. '
                || 'Fill label_timestamp with the time each label was observed.'
            end
            {%- endif %}
        ), '') as extra_warnings
    from runs
    left join tie_counts on runs.run_id = tie_counts.run_id
    {%- if time_like %}
    left join label_times on runs.run_id = label_times.run_id
    {%- endif %}
),

scoring_failures as (
    select run_id, min(scoring_message) as scoring_failure
    from {{ ref('int_lookalike__population_scores') }}
    where scoring_action = '{{ vocab['scoring_action']['FAILED'] }}'
    group by run_id
),

statuses as (
    select
        runs.run_id,
        case
            when (models.model_status is distinct from '{{ vocab['model_status']['TRAINED'] }}') then '{{ vocab['run_status']['FAILED'] }}'
            when runs.build_only then '{{ vocab['run_status']['FINISHED_TRAINING'] }}'
            when coalesce(scored.n_scored_users, 0) = 0 then '{{ vocab['run_status']['FAILED'] }}'
            else '{{ vocab['run_status']['FINISHED'] }}'
        end as status,
        case
            when models.model_status = '{{ vocab['model_status']['TRAINED'] }}' and not runs.build_only
                 and coalesce(scored.n_scored_users, 0) = 0
            then coalesce(
                scoring_failures.scoring_failure,
                'run ''' || runs.run_id || ''': scoring produced no users. Check that the snapshot input has rows at or before the scoring time (var lookalike_as_of).')
        end as scoring_message
    from runs
    left join models on runs.run_id = models.run_id
    left join scored on runs.run_id = scored.run_id
    left join scoring_failures on runs.run_id = scoring_failures.run_id
),

health_inputs as (
    select
        runs.run_id,
        statuses.status,
        metrics.train_auc,
        metrics.test_auc,
        case
            when models.training_method in ('pu_bagging', 'pu_plain') and runs.expected_positive_share is not null
            then (metrics.test_auc - runs.expected_positive_share / 2) / (1 - runs.expected_positive_share)
        end as test_auc_corrected,
        models.model_params,
        label_summary.n_positive_users,
        label_summary.n_input_labels,
        label_summary.n_matched_labels,
        drift.drifted_features,
        extra_warnings.extra_warnings,
        {%- if newest_input is not none %}
        cast({{ dbt.datediff(newest_input, lookalike.lookalike_as_of(), 'second') }} as double) / 86400 as as_of_days_after_data
        {%- else %}
        cast(null as double) as as_of_days_after_data
        {%- endif %}
    from runs
    inner join statuses on runs.run_id = statuses.run_id
    left join models on runs.run_id = models.run_id
    left join metrics on runs.run_id = metrics.run_id
    left join {{ ref('lookalike_input_label_summary') }} as label_summary on runs.run_id = label_summary.run_id
    left join drift on runs.run_id = drift.run_id
    left join extra_warnings on runs.run_id = extra_warnings.run_id
),

health as (
    {{ lookalike.lookalike_run_health('health_inputs', drift_column='drifted_features', staleness_column='as_of_days_after_data', extra_warnings_column='extra_warnings') }}
)

select
    runs.run_id,
    runs.run_description,
    runs.engagement_type,
    statuses.status,
    nullif(concat_ws(' | ',
        statuses.scoring_message,
        models.status_message,
        case when stale_audiences.run_id is not null then
            'run ''' || runs.run_id || ''': lookalike_user_scores keeps the last good audience of this run ('
            || cast(stale_audiences.n_users as {{ dbt.type_string() }}) || ' users scored at '
            || cast(stale_audiences.scored_at as {{ dbt.type_string() }}) || ' UTC by model '
            || coalesce(substr(stale_audiences.model_fingerprint, 1, 12), 'unknown')
            || ', is_stale = true) until the run succeeds again (var lookalike_on_run_failure: keep_last_good; set drop to remove it).'
        end,
        input_issues.messages), '') as status_message,
    coalesce(models.n_train_users, 0) as n_train_users,
    coalesce(models.n_test_users, 0) as n_test_users,
    coalesce(scored.n_scored_users, 0) as n_scored_users,
    case
        when scored.run_id is not null then 'current'
        when stale_audiences.run_id is not null then 'kept_last_good'
        else 'none'
    end as audience_state,
    coalesce(scored.scored_at, stale_audiences.scored_at) as audience_scored_at,
    {{ lookalike.lookalike_as_of() }} as as_of_at,
    {{ newest_input if newest_input is not none else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' }} as newest_input_at,
    metrics.train_auc,
    metrics.train_ks,
    metrics.test_auc,
    metrics.test_ks,
    health_inputs.test_auc_corrected,
    metrics.label_positive_rate,
    runs.build_only,
    runs.test_fraction,
    runs.unlabeled_sample_size,
    runs.random_seed,
    runs.pu_method,
    runs.pu_bags,
    runs.unlabeled_as_of,
    models.training_method,
    {#- A models or scores table that this build kept as it was (lookalike_build_state, decision
        0025) still says 'trained' / 'scored' from the build that made it: this build reused them. #}
    case when models.training_action = '{{ vocab['training_action']['TRAINED'] }}' and {{ lookalike.lookalike_kept_in_this_build_sql(ref('lookalike_run_models')) }} > 0
         then '{{ vocab['training_action']['REUSED'] }}' else models.training_action end as training_action,
    case when statuses.status = '{{ vocab['run_status']['FINISHED'] }}' then
        case when scored.scoring_action in ('{{ vocab['scoring_action']['SCORED'] }}', '{{ vocab['scoring_action']['PARTLY_REUSED'] }}') and {{ lookalike.lookalike_kept_in_this_build_sql(ref('int_lookalike__population_scores')) }} > 0
             then '{{ vocab['scoring_action']['REUSED'] }}' else scored.scoring_action end
    end as scoring_action,
    models.model_type,
    models.model_params,
    runs.sample_size,
    runs.extra_attention,
    runs.expected_positive_share,
    runs.tune_model,
    runs.auto_tune,
    runs.tune_time_budget_seconds,
    models.n_train_examples,
    models.n_test_examples,
    models.n_features,
    models.training_started_at as run_started_at,
    case when statuses.status = '{{ vocab['run_status']['FINISHED'] }}' then scored.scored_at else models.training_finished_at end as run_finished_at,
    health.health,
    health.health_messages,
    health.quality_band,
    runs.refit_on_all_labels,
    case when models.model_status = '{{ vocab['model_status']['TRAINED'] }}' then models.split_model_json is not null end as is_refitted,
    calibration.calibration_constant
from runs
inner join statuses on runs.run_id = statuses.run_id
left join models on runs.run_id = models.run_id
left join metrics on runs.run_id = metrics.run_id
left join scored on runs.run_id = scored.run_id
left join health_inputs on runs.run_id = health_inputs.run_id
left join health on runs.run_id = health.run_id
left join stale_audiences on runs.run_id = stale_audiences.run_id
left join calibration on runs.run_id = calibration.run_id
cross join input_issues
