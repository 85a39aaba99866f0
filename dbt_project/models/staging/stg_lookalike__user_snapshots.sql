{#- One row per input snapshot row: user_id as text, snapshot_at as timestamp, valid_to, and the
    selected feature columns cast to double / boolean / text. Rows without user_id or snapshot_at
    are dropped.
    var lookalike_snapshot_format says what the input is:
      periodic  one row per user and snapshot time (column snapshot_at); valid_to is null, so a
                snapshot stays current until the user's next one.
      scd2      a dbt snapshot (type-2 history): one row per version, valid from dbt_valid_from
                (inclusive) to dbt_valid_to (exclusive; null = current). snapshot_at is
                dbt_valid_from; dbt_* columns are not features. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
{%- set snapshot_format = var('lookalike_snapshot_format', 'periodic') | string | lower | trim -%}
{%- if snapshot_format == 'scd2' -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_user_snapshots', ['user_id', 'dbt_valid_from', 'dbt_valid_to']) }}
{%- elif snapshot_format == 'periodic' -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_user_snapshots', ['user_id', 'snapshot_at']) }}
{%- else -%}
{{ exceptions.raise_compiler_error("lookalike: var lookalike_snapshot_format is '" ~ snapshot_format
    ~ "'; use 'periodic' (one row per user and snapshot_at) or 'scd2' (a dbt snapshot with dbt_valid_from / dbt_valid_to).") }}
{%- endif -%}
{%- set features = lookalike.lookalike_feature_columns(source_relation) %}

select
    cast(user_id as {{ dbt.type_string() }}) as user_id,
{%- if snapshot_format == 'scd2' %}
    cast(dbt_valid_from as {{ dbt.type_timestamp() }}) as snapshot_at,
    cast(dbt_valid_to as {{ dbt.type_timestamp() }}) as valid_to{{ ',' if features }}
{%- else %}
    cast(snapshot_at as {{ dbt.type_timestamp() }}) as snapshot_at,
    cast(null as {{ dbt.type_timestamp() }}) as valid_to{{ ',' if features }}
{%- endif %}
    {{ lookalike.lookalike_feature_select(features) }}
from {{ source_relation }}
where user_id is not null
  and {{ 'dbt_valid_from' if snapshot_format == 'scd2' else 'snapshot_at' }} is not null
