{{ config(severity='warn') }}
{#- Warns about every run that trained but is not healthy (lookalike_runs.health unhealthy:
    suspected leakage; or warning: too few seeds, test AUC near 0.5, overfitting, many unmatched
    labels, drift, a scoring time long after the data), and prints each run's health_messages.
    FAILED runs are left to assert_no_failed_runs. Always a warning. -#}
{%- set failing %}
select run_id, status, health_messages,
    'run ''' || run_id || ''' (' || status || ') is ' || case when health = 'unhealthy' then 'unhealthy' else 'healthy with warnings' end
        || ': ' || replace(health_messages, 'run ''' || run_id || ''': ', '') as message
from {{ ref('lookalike_runs') }}
where health <> 'healthy'
  and status <> '{{ lookalike.lookalike_vocabulary()['run_status']['FAILED'] }}'
{%- endset %}
{{- lookalike.lookalike_log_test_rows('assert_no_unhealthy_runs', failing, ref('lookalike_runs')) }}
{{ failing }}
