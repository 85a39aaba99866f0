{#- The scoring time as a SQL timestamp literal: var lookalike_as_of, or the invocation start (UTC). -#}
{% macro lookalike_as_of() %}
  {%- set value = var('lookalike_as_of', none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
  {%- endif -%}
  {{- return("cast('" ~ (value | string | trim) ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}
