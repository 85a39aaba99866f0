{{ config(severity='warn') }}
{#- Prints the rows of the outcomes input (var lookalike_outcomes) that lookalike_audience_lift
    leaves out, counted by reason, with the fix. Always a warning: the lift of the valid rows still
    builds. -#}
select
    invalid_reason,
    count(*) as n_rows,
    'lookalike: ' || cast(count(*) as {{ dbt.type_string() }}) || ' row(s) of the outcomes input (var lookalike_outcomes) '
    || case invalid_reason
        when 'missing_user_id' then 'have no user_id'
        when 'invalid_outcome_at' then 'have no readable outcome_at (null or not a date-time, e.g. 2026-03-01 09:00:00)'
        else 'have a value that is not a finite number'
       end
    || ' and were left out of lookalike_audience_lift. Fix those rows or remove them (docs/inputs.md).' as message
from {{ ref('stg_lookalike__outcomes') }}
where invalid_reason is not null
group by invalid_reason
