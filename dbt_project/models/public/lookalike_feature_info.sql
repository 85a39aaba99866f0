{{ config(lookalike_keep=true) }}
{#- What each feature looked like in a run's training examples (BigQuery ML's ML.FEATURE_INFO): one
    row per run and feature (grain: run_id, feature), over every training example of the run in
    lookalike_pit_features (both splits, unweighted; labelled examples and, in runs without
    negatives, the sampled unlabeled users). Every run with training examples has rows, failed runs
    too. See macros/lookalike_feature_info.sql. -#}
-- depends_on: {{ ref('lookalike_pit_features') }}
{%- set skip = lookalike.lookalike_vocabulary()['reserved_columns'] -%}
{%- set features = [] -%}
{%- for key, column in lookalike.lookalike_input_columns(ref('lookalike_pit_features')).items() -%}
  {%- if key not in skip -%}
    {%- set dtype = column.dtype | lower -%}
    {%- do features.append({'name': column.name, 'kind': 'boolean' if dtype in ['boolean', 'bool'] else ('categorical' if (column.is_string() or dtype in ['varchar', 'text', 'string']) else 'numeric')}) -%}
  {%- endif -%}
{%- endfor -%}
{%- set text = dbt.type_string() -%}
{%- if features | length == 0 %}
select
    cast(null as {{ text }}) as run_id, cast(null as {{ text }}) as feature, cast(null as {{ text }}) as feature_kind,
    cast(null as {{ dbt.type_bigint() }}) as n_examples, cast(null as {{ dbt.type_bigint() }}) as null_count,
    cast(null as double) as min_value, cast(null as double) as max_value, cast(null as double) as mean_value,
    cast(null as double) as median_value, cast(null as double) as stddev_value,
    cast(null as {{ dbt.type_bigint() }}) as category_count
where 1 = 0
{%- else %}
{{ lookalike.lookalike_feature_info(ref('lookalike_pit_features'), features, group_by=['run_id']) }}
{%- endif %}
