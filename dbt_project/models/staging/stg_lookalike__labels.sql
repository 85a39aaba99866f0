{#- One row per input label row, typed leniently, so that one bad row never stops the build:
    label     1 or 0; any other value (2, 0.7, 'yes') is kept as read (null when not an integer)
              and the row is invalid;
    weight    null means 1.0; a value that is not a finite number in (0, 1e9] (unreadable, <= 0,
              NaN, infinite, 1e308) makes the row invalid;
    label_timestamp  in UTC (macros/sql/lookalike_utc_timestamp.sql); a value given but not
              readable as a date-time makes the row invalid.
    invalid_reason names the first rule a row breaks (null = valid); such rows are excluded from
    training and counted per run in lookalike_input_label_summary. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_labels', 'lookalike_demo_labels') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_labels', ['run_id', 'user_id', 'label']) }}
{%- set columns = lookalike.lookalike_input_columns(source_relation) -%}
{%- set label_column = lookalike.lookalike_quote_identifier(columns['label'].name if 'label' in columns else 'label') -%}
{%- set timestamp_raw = lookalike.lookalike_optional_column(source_relation, 'label_timestamp', 'null', columns) -%}
{%- set weight_raw = lookalike.lookalike_optional_column(source_relation, 'weight', 'null', columns) %}
{{- lookalike.lookalike_warn_unknown_columns(source_relation, 'lookalike_labels', 'labels', ['run_id', 'user_id', 'label', 'label_timestamp', 'weight'], columns) }}

with typed as (
    select
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        {{ lookalike.lookalike_try_cast(label_column, 'double') }} as label_number,
        {{ lookalike.lookalike_utc_timestamp(source_relation, 'label_timestamp') }} as label_timestamp,
        {{ timestamp_raw }} is not null as has_label_timestamp,
        {{ lookalike.lookalike_try_cast(weight_raw, 'double') }} as weight_number,
        {{ weight_raw }} is not null as has_weight
    from {{ source_relation }}
)

select
    run_id,
    user_id,
    case when label_number = floor(label_number) and abs(label_number) < 2147483648
         then cast(label_number as integer) end as label,
    label_timestamp,
    case when has_weight then weight_number else 1.0 end as weight,
    case
        when run_id is null then 'missing_run_id'
        when user_id is null then 'missing_user_id'
        when label_number is null or label_number not in (0, 1) then 'label_not_0_or_1'
        {#- NaN compares above every number and fails "<= 1e9", as do infinities. #}
        when has_weight and not coalesce(weight_number > 0 and weight_number <= 1e9, false) then 'invalid_weight'
        when has_label_timestamp and label_timestamp is null then 'invalid_label_timestamp'
    end as invalid_reason
from typed
