{{ config(severity='warn') }}
{#- Warns about every run that trained but is unhealthy (lookalike_runs.health: too few seeds, test
    AUC near 0.5, overfitting, suspected leakage, many unmatched labels), and prints each run's
    health_messages. FAILED runs are left to assert_no_failed_runs. Always a warning. -#}
{%- set failing %}
select run_id, status, health_messages,
    'run ''' || run_id || ''' (' || status || ') is unhealthy: ' || replace(health_messages, 'run ''' || run_id || ''': ', '') as message
from {{ ref('lookalike_runs') }}
where health = 'unhealthy'
  and status <> 'FAILED'
{%- endset %}
{{- lookalike.lookalike_log_test_rows('assert_no_unhealthy_runs', failing, ref('lookalike_runs')) }}
{{ failing }}
