{#- One row per input label row, typed: label and weight are parsed leniently (unparseable values
    become null and the row is flagged invalid downstream); a null weight means 1.0. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_labels', 'lookalike_demo_labels') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_labels', ['run_id', 'user_id', 'label']) }}
{%- set label_timestamp = lookalike.lookalike_optional_column(source_relation, 'label_timestamp', 'null') -%}
{%- set weight = lookalike.lookalike_optional_column(source_relation, 'weight', 'null') %}

select
    cast(run_id as {{ dbt.type_string() }}) as run_id,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    {{ lookalike.lookalike_try_cast(lookalike.lookalike_try_cast('label', 'double'), 'integer') }} as label,
    cast({{ label_timestamp }} as {{ dbt.type_timestamp() }}) as label_timestamp,
    coalesce({{ lookalike.lookalike_try_cast(weight, 'double') }}, 1.0) as weight
from {{ source_relation }}
