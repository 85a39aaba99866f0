{#- Run health and quality band, in SQL. One row per row of `relation` (grain: run_id).
    relation: one row per run with run_id, status, train_auc, test_auc, test_auc_corrected,
    model_params (JSON text, may be null), n_positive_users, n_input_labels, n_matched_labels
    (lookalike_runs joins them from its own CTEs and lookalike_input_label_summary), and the
    optional columns named by drift_column (text: the drifted features, null = none) and
    staleness_column (days from the newest input data to the scoring time).
    Emits run_id, health, health_messages (the messages of the checks that fire, ' | '-joined;
    null when healthy) and quality_band. Checks (thresholds from the arguments, default the
    variables of the same name), in two levels:
      unhealthy (the run is not usable; no quality band):
      - the run FAILED;
      - suspected label leakage: model_params.suspected_leakage is a non-empty list of
        {"feature": name, "auc": x} (absent key = none): the AUC is not to be believed;
      warning (usable, with a caveat; the band still grades the AUC):
      - fewer than lookalike_health_min_positive_users (50) distinct positive users;
      - AUC (test_auc_corrected when set, else test_auc) below lookalike_health_min_test_auc (0.6);
      - train_auc - test_auc above lookalike_health_max_auc_gap (0.1);
      - more than lookalike_health_max_unmatched_share (0.2) of the input labels matched no snapshot;
      - drift_column is not null (features with PSI above lookalike_health_max_psi);
      - staleness_column above lookalike_health_max_days_after_data;
      - extra_warnings_column (text, optional): warnings computed by the caller, ' | '-joined
        (lookalike_runs: ties at the audience cut-off, collapsed scores, labels without a
        timestamp beside a time-like column).
    health: 'unhealthy', 'warning' or 'healthy'. quality_band grades the same AUC with cut-offs
    lookalike_quality_band_cutoffs [a, b, c] (default [0.6, 0.7, 0.8]): < a Poor, < b Fair,
    < c Good, else Excellent; null for unhealthy runs and runs without a test AUC, so a run is
    never 'Excellent' and 'unhealthy' at once. -#}
{% macro lookalike_run_health(relation, min_positive_users=none, min_test_auc=none, max_auc_gap=none, max_unmatched_share=none, band_cutoffs=none, drift_column=none, staleness_column=none, extra_warnings_column=none) %}
  {%- set min_positive_users = min_positive_users if min_positive_users is not none else lookalike.lookalike_var('lookalike_health_min_positive_users') -%}
  {%- set min_test_auc = min_test_auc if min_test_auc is not none else lookalike.lookalike_var('lookalike_health_min_test_auc') -%}
  {%- set max_auc_gap = max_auc_gap if max_auc_gap is not none else lookalike.lookalike_var('lookalike_health_max_auc_gap') -%}
  {%- set max_unmatched_share = max_unmatched_share if max_unmatched_share is not none else lookalike.lookalike_var('lookalike_health_max_unmatched_share') -%}
  {%- set band_cutoffs = band_cutoffs if band_cutoffs is not none else lookalike.lookalike_var('lookalike_quality_band_cutoffs') -%}
  {%- if band_cutoffs | length != 3 or band_cutoffs[0] > band_cutoffs[1] or band_cutoffs[1] > band_cutoffs[2] -%}
    {{ exceptions.raise_compiler_error("lookalike_run_health: lookalike_quality_band_cutoffs must be three increasing AUC values [poor_below, fair_below, good_below], got " ~ band_cutoffs) }}
  {%- endif -%}
  {{ return(adapter.dispatch('lookalike_run_health', 'lookalike')(relation, min_positive_users, min_test_auc, max_auc_gap, max_unmatched_share, band_cutoffs, drift_column, staleness_column, extra_warnings_column)) }}
{% endmacro %}

{% macro default__lookalike_run_health(relation, min_positive_users, min_test_auc, max_auc_gap, max_unmatched_share, band_cutoffs, drift_column=none, staleness_column=none, extra_warnings_column=none) %}
  {%- set text = dbt.type_string() -%}
select
    run_id,
    case
        when blocking_messages is not null then 'unhealthy'
        when warning_messages is not null then 'warning'
        else 'healthy'
    end as health,
    nullif(concat_ws(' | ', blocking_messages, warning_messages), '') as health_messages,
    case
        when blocking_messages is not null or band_auc is null then null
        when band_auc < {{ band_cutoffs[0] }} then 'Poor'
        when band_auc < {{ band_cutoffs[1] }} then 'Fair'
        when band_auc < {{ band_cutoffs[2] }} then 'Good'
        else 'Excellent'
    end as quality_band
from (
    select
        run_id,
        status,
        band_auc,
        nullif(concat_ws(' | ', failed_message, leakage_message), '') as blocking_messages,
        nullif(concat_ws(' | ', seeds_message, auc_message, gap_message, unmatched_message, drift_message, staleness_message, extra_warnings), '') as warning_messages
    from (
        select
            run_id,
            status,
            band_auc,
            case when status = '{{ lookalike.lookalike_vocabulary()['run_status']['FAILED'] }}' then
                'run ''' || run_id || ''': the run FAILED, so it has no usable model. See status_message for the cause and the fix.'
            end as failed_message,
            case when coalesce(n_positive_users, 0) < {{ min_positive_users }} then
                'run ''' || run_id || ''': only ' || cast(coalesce(n_positive_users, 0) as {{ text }})
                || ' distinct positive users (fewer than {{ min_positive_users }}, var lookalike_health_min_positive_users): '
                || 'scores and metrics are noisy. Add seed users.'
            end as seeds_message,
            case when band_auc < {{ min_test_auc }} then
                'run ''' || run_id || ''': test AUC ' || cast(round(band_auc, 3) as {{ text }})
                || ' is near 0.5 (below {{ min_test_auc }}, var lookalike_health_min_test_auc): the model barely separates '
                || 'positives from negatives. Check the labels and add informative features.'
            end as auc_message,
            case when train_auc - test_auc > {{ max_auc_gap }} then
                'run ''' || run_id || ''': train AUC ' || cast(round(train_auc, 3) as {{ text }}) || ' exceeds test AUC '
                || cast(round(test_auc, 3) as {{ text }}) || ' by ' || cast(round(train_auc - test_auc, 3) as {{ text }})
                || ' (more than {{ max_auc_gap }}, var lookalike_health_max_auc_gap): the model may be overfitting. '
                || 'Add labels, or set sample_size / model_type to a simpler model.'
            end as gap_message,
            case when leakage_features is not null then
                'run ''' || run_id || ''': suspected label leakage: ' || leakage_features
                || ' alone separate(s) the classes almost perfectly. Exclude such features (var lookalike_feature_exclude) '
                || 'unless they are known before the label.'
            end as leakage_message,
            case when n_input_labels > 0
                      and (n_input_labels - coalesce(n_matched_labels, 0)) > {{ max_unmatched_share }} * n_input_labels then
                'run ''' || run_id || ''': ' || cast(n_input_labels - coalesce(n_matched_labels, 0) as {{ text }})
                || ' of ' || cast(n_input_labels as {{ text }}) || ' input labels ('
                || cast(round(100.0 * (n_input_labels - coalesce(n_matched_labels, 0)) / n_input_labels, 1) as {{ text }})
                || '%) matched no snapshot (more than {{ max_unmatched_share * 100 }}%, var lookalike_health_max_unmatched_share). '
                || 'Check label_timestamp against the snapshot times and the user ids.'
            end as unmatched_message,
            {%- if drift_column %}
            case when drifted_features is not null then
                'run ''' || run_id || ''': the scored population differs from the training examples on '
                || drifted_features || ' (PSI above ' || '{{ lookalike.lookalike_var('lookalike_health_max_psi') }}'
                || ', var lookalike_health_max_psi; lookalike_feature_drift has every feature). Check lookalike_as_of '
                || 'and that the population is the one the seeds came from.'
            end as drift_message,
            {%- else %}
            cast(null as {{ text }}) as drift_message,
            {%- endif %}
            {%- if staleness_column %}
            case when as_of_days_after_data > {{ lookalike.lookalike_var('lookalike_health_max_days_after_data') }} then
                'run ''' || run_id || ''': the scoring time (var lookalike_as_of) is '
                || cast(round(as_of_days_after_data, 1) as {{ text }}) || ' days after the newest snapshot or event '
                || '(more than {{ lookalike.lookalike_var('lookalike_health_max_days_after_data') }}, var lookalike_health_max_days_after_data): '
                || 'recent-activity features of the population are empty. Set lookalike_as_of to latest or to a time within the data.'
            end as staleness_message,
            {%- else %}
            cast(null as {{ text }}) as staleness_message,
            {%- endif %}
            {{ extra_warnings_column if extra_warnings_column else 'cast(null as ' ~ text ~ ')' }} as extra_warnings
        from (
            select
                run_id,
                status,
                cast(train_auc as double) as train_auc,
                cast(test_auc as double) as test_auc,
                cast(coalesce(test_auc_corrected, test_auc) as double) as band_auc,
                n_positive_users,
                n_input_labels,
                n_matched_labels,
                {%- if drift_column %}
                {{ drift_column }} as drifted_features,
                {%- endif %}
                {%- if staleness_column %}
                cast({{ staleness_column }} as double) as as_of_days_after_data,
                {%- endif %}
                {%- if extra_warnings_column %}
                {{ extra_warnings_column }},
                {%- endif %}
                {{ lookalike.lookalike_leakage_features('model_params') }} as leakage_features
            from {{ relation }}
        ) as lookalike_health_inputs
    ) as lookalike_health_checks
) as lookalike_health_messages
{% endmacro %}

{#- The feature names of model_params.suspected_leakage (a JSON list of {"feature", "auc"} objects),
    ', '-joined; null when the key is absent, the list is empty or model_params is null. -#}
{% macro lookalike_leakage_features(model_params) %}
  {{ return(adapter.dispatch('lookalike_leakage_features', 'lookalike')(model_params)) }}
{% endmacro %}

{% macro default__lookalike_leakage_features(model_params) %}
  {{ exceptions.raise_compiler_error("lookalike_leakage_features has no implementation for the adapter '" ~ adapter.type() ~ "'. Add a "
      ~ adapter.type() ~ "__lookalike_leakage_features macro: SQL giving the ', '-joined feature names of the JSON list model_params.suspected_leakage ([{\"feature\": name, \"auc\": x}]), null when absent or empty.") }}
{% endmacro %}

{% macro duckdb__lookalike_leakage_features(model_params) %}
  {#- DuckDB's JSON functions. -#}
    case when coalesce(json_array_length(json_extract({{ model_params }}, '$.suspected_leakage')), 0) > 0
         then coalesce(nullif(array_to_string(json_extract_string({{ model_params }}, '$.suspected_leakage[*].feature'), ', '), ''),
                       '(feature names not recorded)')
    end
{% endmacro %}

{% macro spark__lookalike_leakage_features(model_params) %}
  {#- Spark SQL: get_json_object + from_json into an array of structs; other fields (auc) are ignored. -#}
    case when coalesce(size(from_json(get_json_object({{ model_params }}, '$.suspected_leakage'), 'array<struct<feature:string>>')), 0) > 0
         then coalesce(nullif(array_join(transform(from_json(get_json_object({{ model_params }}, '$.suspected_leakage'), 'array<struct<feature:string>>'), x -> x.feature), ', '), ''),
                       '(feature names not recorded)')
    end
{% endmacro %}
