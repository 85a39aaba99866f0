{#- One row per input run row, with every per-run setting resolved: the column's value when the
    runs input has that column and it is not null, else the variable's default (a validated
    literal). A value that cannot be read as the setting's type (e.g. 'twenty' for pu_bags) does
    not stop the build: the setting becomes null and invalid_settings names it, so only that run
    FAILS, with a message naming the column, the value and the fix. -#}
{%- set source_relation = lookalike.lookalike_input_relation('lookalike_runs', 'lookalike_demo_runs') -%}
{{ lookalike.lookalike_require_columns(source_relation, 'lookalike_runs', ['run_id']) }}
{#- Read the input's columns once: every optional setting below looks them up. -#}
{%- set input_columns = lookalike.lookalike_input_columns(source_relation) -%}
{%- set text = dbt.type_string() -%}
{%- set settings = {} -%}
{%- set invalid = [] -%}
{%- for name, sql_type, kind in [
      ('engagement_type', text, 'text'),
      ('build_only', 'boolean', 'true or false'),
      ('test_fraction', 'double', 'a number'),
      ('unlabeled_sample_size', 'bigint', 'an integer'),
      ('random_seed', 'bigint', 'an integer'),
      ('pu_method', text, 'text'),
      ('unlabeled_as_of', text, 'text'),
      ('pu_bags', 'bigint', 'an integer'),
      ('model_type', text, 'text'),
      ('sample_size', 'bigint', 'an integer'),
      ('extra_attention', 'boolean', 'true or false'),
      ('expected_positive_share', 'double', 'a number'),
      ('tune_model', 'boolean', 'true or false'),
      ('tune_time_budget_seconds', 'double', 'a number'),
      ('auto_tune', 'boolean', 'true or false'),
      ('refit_on_all_labels', 'boolean', 'true or false'),
      ('audience_top_n', 'bigint', 'an integer'),
      ('audience_top_pct', 'double', 'a number'),
      ('audience_min_score', 'double', 'a number'),
      ('audience_holdout_pct', 'double', 'a number'),
      ('lift_window_days', 'double', 'a number'),
      ('audience_export_path', text, 'text')] -%}
  {%- set column = lookalike.lookalike_optional_column(source_relation, name, 'null', input_columns) -%}
  {%- set parsed = lookalike.lookalike_try_cast(column, sql_type) if column != 'null' else 'null' -%}
  {%- set default = lookalike.lookalike_var_sql('lookalike_' ~ name) -%}
  {%- do settings.update({name: 'coalesce(' ~ parsed ~ ', cast(' ~ default ~ ' as ' ~ sql_type ~ '))'}) -%}
  {%- if column != 'null' and sql_type != text -%}
    {%- do invalid.append("case when " ~ column ~ " is not null and " ~ parsed ~ " is null then "
          ~ lookalike.lookalike_literal(name ~ " = '") ~ " || cast(" ~ column ~ " as " ~ text ~ ") || "
          ~ lookalike.lookalike_literal("' (not " ~ kind ~ ")") ~ " end") -%}
  {%- endif -%}
{%- endfor %}
{#- Any other column is ignored: warn, with the closest known name (a typo such as pu_bag would
    otherwise leave the setting at its default in silence). #}
{{ lookalike.lookalike_warn_unknown_columns(source_relation, 'lookalike_runs', 'runs', ['run_id', 'run_description'] + settings.keys() | list, input_columns, 'which is not a run setting') }}

select
    cast(run_id as {{ text }}) as run_id,
    cast({{ lookalike.lookalike_optional_column(source_relation, 'run_description', 'null', input_columns) }} as {{ text }}) as run_description,
    upper(trim({{ settings['engagement_type'] }})) as engagement_type,
    {{ settings['build_only'] }} as build_only,
    {{ settings['test_fraction'] }} as test_fraction,
    {{ settings['unlabeled_sample_size'] }} as unlabeled_sample_size,
    {{ settings['random_seed'] }} as random_seed,
    lower(trim({{ settings['pu_method'] }})) as pu_method,
    lower(trim({{ settings['unlabeled_as_of'] }})) as unlabeled_as_of,
    {{ settings['pu_bags'] }} as pu_bags,
    lower(trim({{ settings['model_type'] }})) as model_type,
    {{ settings['sample_size'] }} as sample_size,
    {{ settings['extra_attention'] }} as extra_attention,
    {{ settings['expected_positive_share'] }} as expected_positive_share,
    {{ settings['tune_model'] }} as tune_model,
    {{ settings['tune_time_budget_seconds'] }} as tune_time_budget_seconds,
    {{ settings['auto_tune'] }} as auto_tune,
    {{ settings['refit_on_all_labels'] }} as refit_on_all_labels,
    {{ settings['audience_top_n'] }} as audience_top_n,
    {{ settings['audience_top_pct'] }} as audience_top_pct,
    {{ settings['audience_min_score'] }} as audience_min_score,
    {{ settings['audience_holdout_pct'] }} as audience_holdout_pct,
    {{ settings['lift_window_days'] }} as lift_window_days,
    {{ settings['audience_export_path'] }} as audience_export_path,
    {%- if invalid %}
    nullif(concat_ws('; ', {{ invalid | join(', ') }}), '') as invalid_settings
    {%- else %}
    cast(null as {{ text }}) as invalid_settings
    {%- endif %}
from {{ source_relation }}
