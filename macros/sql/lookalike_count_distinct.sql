{#- count(distinct expression), nulls left out, 0 for a group without values. Spark plans several
    count(distinct ...) of one select by copying every input row once per distinct expression
    (Expand) and shuffling the copies; size(collect_set(...)) is an ordinary aggregate there, so
    the rows are read and shuffled once (decision 0033). -#}
{% macro lookalike_count_distinct(expression) %}
  {{ return(adapter.dispatch('lookalike_count_distinct', 'lookalike')(expression)) }}
{% endmacro %}

{% macro default__lookalike_count_distinct(expression) -%}
count(distinct {{ expression }})
{%- endmacro %}

{% macro spark__lookalike_count_distinct(expression) -%}
size(collect_set({{ expression }}))
{%- endmacro %}
