{#- One row per row of the outcomes input (var lookalike_outcomes), typed leniently so that one bad
    row never stops the build (issue 30, decision 0030):
    run_id      text; null (or no run_id column) = the outcome counts for every run;
    user_id     text;
    outcome_at  in UTC (macros/sql/lookalike_utc_timestamp.sql);
    value       a finite number; null (or no value column) adds 0 to the value figures.
    invalid_reason names the first rule a row breaks (null = valid): missing_user_id,
    invalid_outcome_at (null or not readable as a date-time), invalid_value (given but not a finite
    number). Invalid rows are left out of lookalike_audience_lift; the data test
    assert_no_invalid_outcomes prints their counts as a warning.
    Empty when no outcomes input is configured (the demo has none); lookalike_audience_lift is then
    empty too. -#}
{%- set source_relation = lookalike.lookalike_optional_input_relation('lookalike_outcomes', none) -%}
{%- set text = dbt.type_string() -%}
{%- if source_relation is not none -%}
{%- set columns = lookalike.lookalike_input_columns(source_relation) -%}
{%- set known = ['user_id', 'run_id', 'outcome_at', 'value'] -%}
{%- if execute and 'outcome_at' not in columns -%}
  {%- set candidates = lookalike.lookalike_time_like_columns(columns, known) -%}
  {{ exceptions.raise_compiler_error(
      "lookalike: input 'lookalike_outcomes' (" ~ source_relation ~ ") lacks the required column outcome_at "
      ~ "(when the outcome happened: a timestamp, a date or text such as '2026-03-01 09:00:00+01:00'); it has "
      ~ columns.keys() | list | join(', ') ~ ". "
      ~ ("Is it " ~ candidates | join(' or ') ~ "? " if candidates else "")
      ~ "Rename the column or point the variable at a view that provides it (docs/inputs.md).") }}
{%- endif -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_outcomes', ['user_id', 'outcome_at']) }}
{{ lookalike.lookalike_warn_unknown_columns(source_relation, 'lookalike_outcomes', 'outcomes', known, columns) }}
{%- set outcome_at_raw = lookalike.lookalike_optional_column(source_relation, 'outcome_at', 'null', columns) -%}
{%- set value_raw = lookalike.lookalike_optional_column(source_relation, 'value', 'null', columns) %}

with typed as (
    select
        cast({{ lookalike.lookalike_optional_column(source_relation, 'run_id', 'null', columns) }} as {{ text }}) as run_id,
        cast({{ lookalike.lookalike_optional_column(source_relation, 'user_id', 'null', columns) }} as {{ text }}) as user_id,
        {{ lookalike.lookalike_utc_timestamp(source_relation, 'outcome_at') }} as outcome_at,
        {{ lookalike.lookalike_try_cast(value_raw, 'double') }} as value_number,
        {{ value_raw }} is not null as has_value
    from {{ source_relation }}
)

select
    run_id,
    user_id,
    outcome_at,
    case when has_value then value_number end as value,
    case
        when user_id is null then 'missing_user_id'
        when outcome_at is null then 'invalid_outcome_at'
        {#- NaN compares above every number, as do infinities: both fail the bound. #}
        when has_value and not coalesce(value_number > -1e300 and value_number < 1e300, false) then 'invalid_value'
    end as invalid_reason
from typed
{%- else %}
select
    cast(null as {{ text }}) as run_id,
    cast(null as {{ text }}) as user_id,
    cast(null as {{ dbt.type_timestamp() }}) as outcome_at,
    cast(null as double) as value,
    cast(null as {{ text }}) as invalid_reason
where 1 = 0
{%- endif %}
