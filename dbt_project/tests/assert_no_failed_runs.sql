{{ config(severity=var('lookalike_failed_run_severity', 'warn')) }}
{#- Reports every FAILED run with its message, and prints one line per run (its status_message)
    before dbt's WARN / FAIL line. Severity: var lookalike_failed_run_severity (warn by default, so
    one bad run never fails a scheduled build; set error to make it fail). -#}
{%- set failing %}
select run_id, status, status_message,
    'run ''' || run_id || ''' FAILED: ' || coalesce(replace(status_message, 'run ''' || run_id || ''': ', ''), '(no message)') as message
from {{ ref('lookalike_runs') }}
where status = '{{ lookalike.lookalike_vocabulary()['run_status']['FAILED'] }}'
{%- endset %}
{{- lookalike.lookalike_log_test_rows('assert_no_failed_runs', failing, ref('lookalike_runs')) }}
{{ failing }}
