{#- One row per item: item_id and its category (the column named by var lookalike_item_category_column,
    default 'category'). An item listed several times keeps its smallest category. Empty when no
    items input is configured (var lookalike_items); affinity features are then left out. -#}
{%- set source_relation = lookalike.lookalike_optional_input_relation('lookalike_items', 'lookalike_demo_items') -%}
{%- set category = var('lookalike_item_category_column', 'category') -%}
{%- if source_relation is not none and var('lookalike_event_features', true) -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_items', ['item_id', category | lower]) }}
{{ lookalike.lookalike_warn_unknown_columns(source_relation, 'lookalike_items', 'items', ['item_id', category | lower], lookalike.lookalike_input_columns(source_relation)) }}
select
    cast(item_id as {{ dbt.type_string() }}) as item_id,
    min(cast({{ lookalike.lookalike_optional_column(source_relation, category | lower, lookalike.lookalike_quote_identifier(category)) }} as {{ dbt.type_string() }})) as category
from {{ source_relation }}
where item_id is not null
group by 1
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as item_id,
    cast(null as {{ dbt.type_string() }}) as category
where 1 = 0
{%- endif %}
