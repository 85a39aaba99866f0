{#- Per-feature statistics of a relation, in long form (what BigQuery ML's ML.FEATURE_INFO reports),
    in SQL: one row per group and feature.
    relation: one row per example, with the group columns and the feature columns.
    features: a list of {name, kind}, kind numeric, boolean or categorical (lookalike_feature_columns
      returns that shape).
    Emits the group columns, feature, feature_kind, n_examples, null_count, min_value, max_value,
    mean_value, median_value, stddev_value (numeric and boolean features; booleans as 0/1, so
    mean_value is the share of true; null for categorical ones) and category_count (distinct
    non-null values of a categorical feature; null for the others). Nulls are skipped as pandas
    skips them: mean_value equals Series.mean(), stddev_value Series.std() (sample, ddof = 1; null
    below two values), median_value Series.median() (interpolated), min / max Series.min() / max(),
    category_count Series.nunique(). -#}
{% macro lookalike_feature_info(relation, features, group_by=['run_id']) %}
  {{ return(adapter.dispatch('lookalike_feature_info', 'lookalike')(relation, features, group_by)) }}
{% endmacro %}

{% macro default__lookalike_feature_info(relation, features, group_by) %}
  {%- set text = dbt.type_string() -%}
with lookalike_features as (
    {%- for f in features %}
    select cast({{ lookalike.lookalike_literal(f.name) }} as {{ text }}) as feature,
        cast({{ lookalike.lookalike_literal(f.kind) }} as {{ text }}) as feature_kind
    {{- ' union all' if not loop.last }}
    {%- endfor %}
),
lookalike_long as (
    {%- set carry = [] -%}
    {%- for c in group_by -%}{%- do carry.append('examples.' ~ c) -%}{%- endfor -%}
    {{ lookalike.lookalike_feature_long(features, relation, 'examples', carry, boolean_case=true) }}
)
select {% for c in group_by %}{{ c }}, {% endfor %}
    feature,
    feature_kind,
    cast(count(*) as {{ dbt.type_bigint() }}) as n_examples,
    cast(sum(case when num_value is null and cat_value is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as null_count,
    min(num_value) as min_value,
    max(num_value) as max_value,
    avg(num_value) as mean_value,
    cast({{ lookalike.lookalike_quantile('num_value', 0.5) }} as double) as median_value,
    stddev_samp(num_value) as stddev_value,
    cast(case when feature_kind = 'categorical' then count(distinct cat_value) end as {{ dbt.type_bigint() }}) as category_count
from lookalike_long
group by {% for c in group_by %}{{ c }}, {% endfor %}feature, feature_kind
{% endmacro %}
