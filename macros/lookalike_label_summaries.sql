{#- Input-label summaries, in SQL, over a point-in-time label relation (lookalike_pit_labels):
    columns run_id, user_id, label, label_timestamp, weight, is_matched, is_valid, invalid_reason,
    is_conflicting, is_training_example. -#}

{#- One row per run: n_input_labels, n_input_users, n_matched_labels, n_training_users
    (distinct labeled users with at least one training example: matched, valid, declared run, no conflict), plus the counts behind the run's validation messages. -#}
{% macro lookalike_input_label_summary(pit_labels) %}
select
    run_id,
    count(*) as n_input_labels,
    count(distinct user_id) as n_input_users,
    cast(sum(case when is_matched then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_matched_labels,
    count(distinct case when is_training_example then user_id end) as n_training_users,
    count(distinct case when label = 1 then user_id end) as n_positive_users,
    count(distinct case when label = 0 then user_id end) as n_negative_users,
    cast(sum(case when label = 1 then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_positive_labels,
    cast(sum(case when label = 0 then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_negative_labels,
    cast(sum(case when label = 1 and is_training_example then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_matched_positive_labels,
    cast(sum(case when label = 0 and is_training_example then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_matched_negative_labels,
    cast(sum(case when is_conflicting then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_conflicting_labels,
    cast(sum(case when not is_valid then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_invalid_labels,
    cast(sum(case when invalid_reason = 'missing_user_id' then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_labels_without_user,
    cast(sum(case when invalid_reason = 'label_not_0_or_1' then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_invalid_label_values,
    cast(sum(case when invalid_reason = 'invalid_weight' then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_invalid_weights,
    cast(sum(case when invalid_reason = 'invalid_label_timestamp' then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_invalid_timestamps,
    cast(sum(case when label_timestamp is null and invalid_reason is distinct from 'invalid_label_timestamp' then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_labels_without_timestamp
from {{ pit_labels }}
{#- Labels without a run_id belong to no run: lookalike_input_issues counts and reports them. #}
where run_id is not null
group by run_id
{% endmacro %}

{#- One row per run and label month (month of label_timestamp; null for labels without one):
    n_labels and positive_rate (positive labels / labels, unweighted, as in the reference API). -#}
{% macro lookalike_label_monthly(pit_labels) %}
select
    run_id,
    cast({{ dbt.date_trunc('month', 'label_timestamp') }} as date) as label_month,
    count(*) as n_labels,
    cast(sum(case when label = 1 then 1 else 0 end) as {{ dbt.type_bigint() }}) as n_positive_labels,
    avg(case when label = 1 then cast(1 as double) when label = 0 then cast(0 as double) end) as positive_rate
from {{ pit_labels }}
where run_id is not null
group by 1, 2
{% endmacro %}

{#- One row per run, label value and weight value: n_labels. -#}
{% macro lookalike_label_weight_counts(pit_labels) %}
select
    run_id,
    label as label_value,
    weight as weight_value,
    count(*) as n_labels
from {{ pit_labels }}
where run_id is not null
group by 1, 2, 3
{% endmacro %}
