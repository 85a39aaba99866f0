{#- The scoring time as a SQL timestamp literal: var lookalike_as_of; when it is null, the
    invocation start (UTC), except for the bundled demo (demo on and no snapshot input given),
    whose data ends in September 2026 and which is scored as of 2026-10-01 00:00:00 so that recent
    event windows are not empty at scoring time. -#}
{% macro lookalike_as_of() %}
  {%- set value = var('lookalike_as_of', none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- set snapshots = var('lookalike_user_snapshots', none) -%}
    {%- if lookalike.lookalike_demo_enabled() and (snapshots is none or (snapshots | string | trim) == '') -%}
      {%- set value = '2026-10-01 00:00:00' -%}
    {%- else -%}
      {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- endif -%}
  {%- endif -%}
  {{- return("cast('" ~ (value | string | trim) ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}
