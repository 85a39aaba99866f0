{#- One row per input event: user_id as text, event_at as timestamp, event_type as text, optional
    item_id (text) and value (double). Rows without user_id, a readable event_at (UTC, see
    macros/sql/lookalike_utc_timestamp.sql) or event_type are dropped and counted in
    lookalike_input_issues.
    Empty when no events input is configured (var lookalike_events) or var lookalike_event_features
    is false; the event feature layer then adds no columns. -#}
{%- set source_relation = lookalike.lookalike_optional_input_relation('lookalike_events', 'lookalike_demo_events') -%}
{%- if source_relation is not none and lookalike.lookalike_var('lookalike_event_features') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_events', ['user_id', 'event_at', 'event_type']) }}
{{ lookalike.lookalike_warn_unknown_columns(source_relation, 'lookalike_events', 'events', ['user_id', 'event_at', 'event_type', 'item_id', 'value'], lookalike.lookalike_input_columns(source_relation)) }}
select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    {{ lookalike.lookalike_utc_timestamp(source_relation, 'event_at') }} as event_at,
    cast(event_type as {{ dbt.type_string() }}) as event_type,
    cast({{ lookalike.lookalike_optional_column(source_relation, 'item_id', 'null') }} as {{ dbt.type_string() }}) as item_id,
    cast({{ lookalike.lookalike_optional_column(source_relation, 'value', 'null') }} as double) as value
from {{ source_relation }}
where user_id is not null
  and {{ lookalike.lookalike_utc_timestamp(source_relation, 'event_at') }} is not null
  and event_type is not null
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as user_id,
    cast(null as {{ dbt.type_timestamp() }}) as event_at,
    cast(null as {{ dbt.type_string() }}) as event_type,
    cast(null as {{ dbt.type_string() }}) as item_id,
    cast(null as double) as value
where 1 = 0
{%- endif %}
