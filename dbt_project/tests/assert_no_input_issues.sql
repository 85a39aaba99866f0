{{ config(severity='warn') }}
{#- Prints every input issue (rows no run could use: labels without run_id, snapshot or event rows
    without a user or a readable time) with its message. Always a warning: the runs still build. -#}
select input_variable, issue, n_rows, message
from {{ ref('lookalike_input_issues') }}
