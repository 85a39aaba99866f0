{{ config(severity=var('lookalike_failed_run_severity', 'warn')) }}
{#- Reports every FAILED run with its message. Severity: var lookalike_failed_run_severity
    (warn by default, so one bad run never fails a scheduled build; set error to make it fail). -#}
select run_id, status, status_message
from {{ ref('lookalike_runs') }}
where status = 'FAILED'
