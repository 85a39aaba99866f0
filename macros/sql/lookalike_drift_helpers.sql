{#- Cross-database pieces of lookalike_feature_drift. -#}

{#- The q-quantile (0..1, interpolated) of expression, as an aggregate. -#}
{% macro lookalike_quantile(expression, q) %}
  {{ return(adapter.dispatch('lookalike_quantile', 'lookalike')(expression, q)) }}
{% endmacro %}

{% macro default__lookalike_quantile(expression, q) %}
  {{- 'percentile_cont(' ~ q ~ ') within group (order by ' ~ expression ~ ')' -}}
{% endmacro %}

{% macro duckdb__lookalike_quantile(expression, q) %}
  {{- 'quantile_cont(' ~ expression ~ ', ' ~ q ~ ')' -}}
{% endmacro %}

{% macro spark__lookalike_quantile(expression, q) %}
  {{- 'percentile(' ~ expression ~ ', ' ~ q ~ ')' -}}
{% endmacro %}

{#- The quantile qs[index] of expression, as an aggregate, where the caller asks for every quantile
    of qs (lookalike_feature_drift's deciles). Spark: one percentile aggregate over the array of
    all of them, indexed (Spark computes an aggregate written several times once, and its
    percentile keeps a buffer of every value per aggregate: one buffer instead of nine; the same
    values as nine percentile calls). Elsewhere lookalike_quantile(expression, qs[index]). -#}
{% macro lookalike_quantile_of_set(expression, qs, index) %}
  {{ return(adapter.dispatch('lookalike_quantile_of_set', 'lookalike')(expression, qs, index)) }}
{% endmacro %}

{% macro default__lookalike_quantile_of_set(expression, qs, index) %}
  {{- lookalike.lookalike_quantile(expression, qs[index]) -}}
{% endmacro %}

{% macro spark__lookalike_quantile_of_set(expression, qs, index) %}
  {{- 'percentile(' ~ expression ~ ', array(' ~ (qs | join(', ')) ~ '))[' ~ index ~ ']' -}}
{% endmacro %}


{#- A repeatable sample of at most n rows of relation, as a FROM item (the whole relation where the
    engine has no sampling clause). -#}
{% macro lookalike_sampled(relation, n) %}
  {{ return(adapter.dispatch('lookalike_sampled', 'lookalike')(relation, n)) }}
{% endmacro %}

{% macro default__lookalike_sampled(relation, n) %}
  {{- '(select * from ' ~ relation ~ ')' -}}
{% endmacro %}

{% macro duckdb__lookalike_sampled(relation, n) %}
  {{- '(select * from ' ~ relation ~ ' using sample reservoir(' ~ n ~ ' rows) repeatable (42))' -}}
{% endmacro %}


{#- The drift bin of a long row: its category, '<null>', or the count of training deciles below it. -#}
{%- macro lookalike_drift_bin(alias, n_edges) -%}
  {%- set text = dbt.type_string() -%}
    case
        when {{ alias }}.feature_kind = 'categorical' then coalesce({{ alias }}.cat_value, '<null>')
        when {{ alias }}.num_value is null then '<null>'
        else cast(0
            {%- for i in range(1, n_edges + 1) %} + case when {{ alias }}.num_value > edges.q{{ i }} then 1 else 0 end{% endfor %} as {{ text }})
    end
{%- endmacro %}


{#- Mean, null share and zero share per run and feature of a long relation. -#}
{%- macro lookalike_drift_stats(source, prefix) %}
    select
        run_id,
        feature,
        avg(num_value) as {{ prefix }}_mean,
        avg(case when num_value is null and cat_value is null then cast(1 as double) else cast(0 as double) end) as {{ prefix }}_null_share,
        avg(case when feature_kind <> 'categorical' then case when num_value = 0 then cast(1 as double) else cast(0 as double) end end) as {{ prefix }}_zero_share,
        count(*) as n_rows
    from {{ source }}
    group by run_id, feature
{%- endmacro %}
