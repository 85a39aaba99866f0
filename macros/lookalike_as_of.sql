{#- The scoring time as a SQL timestamp literal: var lookalike_as_of; when it is null, the
    invocation start (UTC), except for the bundled demo (demo on and no snapshot input given),
    whose data ends in September 2026 and which is scored as of 2026-10-01 00:00:00 so that recent
    event windows are not empty at scoring time. -#}
{% macro lookalike_as_of() %}
  {%- set value = lookalike.lookalike_var('lookalike_as_of') -%}
  {%- if value is none -%}
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
