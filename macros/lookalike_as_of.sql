{#- The scoring time as a SQL timestamp literal (UTC), from var lookalike_as_of:
      null     the invocation start (UTC), except for the bundled demo (demo on and no snapshot input
               given), whose data ends in September 2026 and which is scored as of 2026-10-01;
      latest   midnight (UTC) after the newest snapshot_at or event_at of the inputs, so every
               snapshot and event is at or before it (events strictly before it);
      a date-time, validated and converted to UTC by lookalike_var. -#}
{% macro lookalike_as_of() %}
  {%- set value = lookalike.lookalike_var('lookalike_as_of') -%}
  {%- if value == 'latest' -%}
    {%- set newest = lookalike.lookalike_newest_input_time() -%}
    {%- set value = (newest.replace(hour=0, minute=0, second=0, microsecond=0) + modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d %H:%M:%S.%f') if newest is not none else run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
  {%- elif value is none -%}
    {%- set snapshots = lookalike.lookalike_var('lookalike_user_snapshots') -%}
    {%- if lookalike.lookalike_demo_enabled() and snapshots is none -%}
      {%- set value = '2026-10-01 00:00:00' -%}
    {%- else -%}
      {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- endif -%}
  {%- endif -%}
  {#- lookalike_var has validated the value and converted any UTC offset: it is plain
      'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC. -#}
  {{- return("cast(" ~ lookalike.lookalike_literal(value) ~ " as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}


{#- The newest snapshot time (snapshot_at, or dbt_valid_from for scd2) or event time of the inputs,
    in UTC, as a Python datetime; none while parsing or when the inputs are empty. Read with one
    query per call (a max over each input). -#}
{% macro lookalike_newest_input_time() %}
  {%- set snapshots = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
  {%- set events = lookalike.lookalike_optional_input_relation('lookalike_events', 'lookalike_demo_events') if lookalike.lookalike_var('lookalike_event_features') else none -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set scd2 = lookalike.lookalike_var('lookalike_snapshot_format') == 'scd2' -%}
  {%- set sql -%}
    select max(newest) from (
        select max({{ lookalike.lookalike_utc_timestamp(snapshots, 'dbt_valid_from' if scd2 else 'snapshot_at') }}) as newest from {{ snapshots }}
        {%- if events is not none %}
        union all
        select max({{ lookalike.lookalike_utc_timestamp(events, 'event_at') }}) as newest from {{ events }}
        {%- endif %}
    ) as lookalike_newest
  {%- endset -%}
  {%- set found = run_query(sql) -%}
  {{ return(found.rows[0][0] if found.rows | length else none) }}
{% endmacro %}


{#- The oldest event time (UTC) of the events input, as a Python datetime: where the event history
    starts. none while parsing, without an events input, or when it is empty. One query. -#}
{% macro lookalike_oldest_event_time() %}
  {%- set events = lookalike.lookalike_optional_input_relation('lookalike_events', 'lookalike_demo_events') if lookalike.lookalike_var('lookalike_event_features') else none -%}
  {%- if not execute or events is none -%}{{ return(none) }}{%- endif -%}
  {%- set found = run_query("select min(" ~ lookalike.lookalike_utc_timestamp(events, 'event_at') ~ ") from " ~ events) -%}
  {{ return(found.rows[0][0] if found.rows | length else none) }}
{% endmacro %}
