{#- One row per input run row, with every per-run setting resolved: the column's value when the
    runs input has that column and it is not null, else the variable's default. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_runs', 'lookalike_demo_runs') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_runs', ['run_id']) }}
{%- set settings = {} -%}
{%- for name, sql_type, default in [
      ('engagement_type', dbt.type_string(), "'" ~ var('lookalike_engagement_type') ~ "'"),
      ('build_only', 'boolean', var('lookalike_build_only')),
      ('test_fraction', 'double', var('lookalike_test_fraction')),
      ('unlabeled_sample_size', 'bigint', var('lookalike_unlabeled_sample_size')),
      ('random_seed', 'bigint', var('lookalike_random_seed')),
      ('pu_method', dbt.type_string(), "'" ~ var('lookalike_pu_method') ~ "'"),
      ('pu_bags', 'bigint', var('lookalike_pu_bags')),
      ('model_type', dbt.type_string(), "'" ~ var('lookalike_model_type') ~ "'"),
      ('sample_size', 'bigint', var('lookalike_sample_size') if var('lookalike_sample_size') is not none else 'null'),
      ('extra_attention', 'boolean', var('lookalike_extra_attention')),
      ('expected_positive_share', 'double', var('lookalike_expected_positive_share') if var('lookalike_expected_positive_share') is not none else 'null'),
      ('tune_model', 'boolean', var('lookalike_tune_model')),
      ('tune_time_budget_seconds', 'double', var('lookalike_tune_time_budget_seconds')),
      ('auto_tune', 'boolean', var('lookalike_auto_tune'))] -%}
  {%- do settings.update({name: 'coalesce(cast(' ~ lookalike.lookalike_optional_column(source_relation, name, 'null')
        ~ ' as ' ~ sql_type ~ '), cast(' ~ default ~ ' as ' ~ sql_type ~ '))'}) -%}
{%- endfor %}

select
    cast(run_id as {{ dbt.type_string() }}) as run_id,
    cast({{ lookalike.lookalike_optional_column(source_relation, 'run_description', 'null') }} as {{ dbt.type_string() }}) as run_description,
    upper(trim({{ settings['engagement_type'] }})) as engagement_type,
    {{ settings['build_only'] }} as build_only,
    {{ settings['test_fraction'] }} as test_fraction,
    {{ settings['unlabeled_sample_size'] }} as unlabeled_sample_size,
    {{ settings['random_seed'] }} as random_seed,
    lower(trim({{ settings['pu_method'] }})) as pu_method,
    {{ settings['pu_bags'] }} as pu_bags,
    lower(trim({{ settings['model_type'] }})) as model_type,
    {{ settings['sample_size'] }} as sample_size,
    {{ settings['extra_attention'] }} as extra_attention,
    {{ settings['expected_positive_share'] }} as expected_positive_share,
    {{ settings['tune_model'] }} as tune_model,
    {{ settings['tune_time_budget_seconds'] }} as tune_time_budget_seconds,
    {{ settings['auto_tune'] }} as auto_tune
from {{ source_relation }}
