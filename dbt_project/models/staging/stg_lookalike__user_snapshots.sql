{#- One row per input snapshot row: user_id as text, snapshot_at as timestamp, and the selected
    feature columns cast to double / boolean / text. Rows without user_id or snapshot_at are dropped. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_user_snapshots', ['user_id', 'snapshot_at']) }}
{%- set features = lookalike.lookalike_feature_columns(source_relation) %}

select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(snapshot_at as {{ dbt.type_timestamp() }}) as snapshot_at{{ ',' if features }}
    {{ lookalike.lookalike_feature_select(features) }}
from {{ source_relation }}
where user_id is not null
  and snapshot_at is not null
