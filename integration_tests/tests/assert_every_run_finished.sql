{#- Both runs of this project must train and score: any other status fails the build. -#}
select run_id, status, status_message
from {{ ref('lookalike', 'lookalike_runs') }}
where status <> '{{ lookalike.lookalike_vocabulary()['run_status']['FINISHED'] }}'
