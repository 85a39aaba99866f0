{#- dbt.listagg in the given order on every engine. dbt-spark's listagg (collect_list + array_join)
    drops the order by; Spark 4's own listagg ... within group (order by ...) keeps it. -#}
{% macro lookalike_listagg(measure, delimiter_text, order_by_clause) %}
  {{ return(adapter.dispatch('lookalike_listagg', 'lookalike')(measure, delimiter_text, order_by_clause)) }}
{% endmacro %}

{% macro default__lookalike_listagg(measure, delimiter_text, order_by_clause) -%}
{{ dbt.listagg(measure, delimiter_text, order_by_clause) }}
{%- endmacro %}

{% macro spark__lookalike_listagg(measure, delimiter_text, order_by_clause) -%}
listagg({{ measure }}, {{ delimiter_text }}) within group ({{ order_by_clause }})
{%- endmacro %}
