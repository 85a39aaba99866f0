{#- One row per input snapshot row: user_id as text, snapshot_at as timestamp, valid_to, and the
    selected feature columns cast to double / boolean / text. Times are in UTC
    (macros/sql/lookalike_utc_timestamp.sql). Rows without user_id or a readable snapshot_at are
    dropped and counted in lookalike_input_issues.
    var lookalike_snapshot_format says what the input is:
      periodic  one row per user and snapshot time (column snapshot_at); valid_to is null, so a
                snapshot stays current until the user's next one.
      scd2      a dbt snapshot (type-2 history): one row per version, valid from dbt_valid_from
                (inclusive) to dbt_valid_to (exclusive; null = current). snapshot_at is
                dbt_valid_from; dbt_* columns are not features. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
{%- set snapshot_format = lookalike.lookalike_var('lookalike_snapshot_format') -%}
{%- if snapshot_format == 'scd2' -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_user_snapshots', ['user_id', 'dbt_valid_from', 'dbt_valid_to']) }}
{%- elif snapshot_format == 'periodic' -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_user_snapshots', ['user_id', 'snapshot_at']) }}
{%- else -%}
{{ exceptions.raise_compiler_error("lookalike: var lookalike_snapshot_format is '" ~ snapshot_format
    ~ "'; use 'periodic' (one row per user and snapshot_at) or 'scd2' (a dbt snapshot with dbt_valid_from / dbt_valid_to).") }}
{%- endif -%}
{%- set features = lookalike.lookalike_feature_columns(source_relation) %}

{%- set snapshot_time = lookalike.lookalike_utc_timestamp(source_relation, 'dbt_valid_from' if snapshot_format == 'scd2' else 'snapshot_at') %}

select * from (
    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        {{ snapshot_time }} as snapshot_at,
    {%- if snapshot_format == 'scd2' %}
        {{ lookalike.lookalike_utc_timestamp(source_relation, 'dbt_valid_to') }} as valid_to{{ ',' if features }}
    {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as valid_to{{ ',' if features }}
    {%- endif %}
        {{ lookalike.lookalike_feature_select(features) }}
    from {{ source_relation }}
) as typed
{#- Rows without a user or a readable snapshot time cannot be matched; lookalike_input_issues
    counts them (missing_user_id, missing_snapshot_at). #}
where user_id is not null
  and snapshot_at is not null
