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


{#- lookalike_feature_drift: each feature's value as one row per example (num_value for numbers and
    booleans, cat_value for text). -#}
{%- macro lookalike_drift_long_select(features, alias, run_column) %}
  {%- set text = dbt.type_string() %}
    select
        {{ run_column }} as run_id,
        lookalike_features.feature,
        lookalike_features.feature_kind,
        {#- A CASE needs at least one WHEN: with no feature of a kind (all-numeric or all-text
            inputs), that value column is a typed null. #}
        {%- set numeric = features | rejectattr('kind', 'equalto', 'categorical') | list %}
        {%- set categorical = features | selectattr('kind', 'equalto', 'categorical') | list %}
        {%- if numeric %}
        case lookalike_features.feature
        {%- for f in numeric %}
            when {{ lookalike.lookalike_literal(f.name) }} then cast({{ alias }}.{{ lookalike.lookalike_quote_identifier(f.name) }} as double)
        {%- endfor %}
        end as num_value,
        {%- else %}
        cast(null as double) as num_value,
        {%- endif %}
        {%- if categorical %}
        case lookalike_features.feature
        {%- for f in categorical %}
            when {{ lookalike.lookalike_literal(f.name) }} then cast({{ alias }}.{{ lookalike.lookalike_quote_identifier(f.name) }} as {{ text }})
        {%- endfor %}
        end as cat_value
        {%- else %}
        cast(null as {{ text }}) as cat_value
        {%- endif %}
{%- endmacro %}


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
