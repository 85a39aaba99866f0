{#- Cast that yields null instead of failing on bad input (DuckDB try_cast; dbt.safe_cast elsewhere). -#}
{% macro lookalike_try_cast(expression, data_type) %}
  {{ return(adapter.dispatch('lookalike_try_cast', 'lookalike')(expression, data_type)) }}
{% endmacro %}

{% macro default__lookalike_try_cast(expression, data_type) %}
  {{- dbt.safe_cast(expression, data_type) -}}
{% endmacro %}

{% macro duckdb__lookalike_try_cast(expression, data_type) %}
  {{- 'try_cast(' ~ expression ~ ' as ' ~ data_type ~ ')' -}}
{% endmacro %}

{% macro spark__lookalike_try_cast(expression, data_type) %}
  {#- Spark 3.2+: null on bad input, also under ANSI mode. -#}
  {{- 'try_cast(' ~ expression ~ ' as ' ~ data_type ~ ')' -}}
{% endmacro %}
