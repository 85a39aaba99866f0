{#- The feature columns of the snapshot input: every numeric, boolean or text column other than
    user_id / snapshot_at (and dbt snapshot columns dbt_*), narrowed by vars lookalike_feature_include / lookalike_feature_exclude.
    Returns a list of {name, kind} where kind is numeric, boolean or categorical. Columns of other
    types (dates, timestamps, nested) and names reserved by the pipeline are skipped with a log line. -#}
{% macro lookalike_feature_columns(relation) %}
  {%- set reserved = ['user_id', 'snapshot_at', 'valid_to', 'run_id', 'label', 'label_id', 'label_timestamp', 'weight',
                      'example_id', 'example_source', 'split', 'as_of_at', 'score'] -%}
  {%- set dbt_snapshot_columns = ['dbt_scd_id', 'dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to', 'dbt_is_deleted'] -%}
  {%- set include = var('lookalike_feature_include', []) | map('lower') | list -%}
  {%- set exclude = var('lookalike_feature_exclude', []) | map('lower') | list -%}
  {%- set features = [] -%}
  {%- for key, column in lookalike.lookalike_input_columns(relation).items() -%}
    {%- set dtype = column.dtype | lower -%}
    {%- if key in ['user_id', 'snapshot_at'] or key in dbt_snapshot_columns -%}
    {%- elif key in reserved -%}
      {%- do log("lookalike: snapshot column '" ~ column.name ~ "' has a reserved name and is not used as a feature; rename it to use it.", info=true) -%}
    {%- elif include and key not in include -%}
    {%- elif key in exclude -%}
    {%- elif dtype in ['boolean', 'bool'] -%}
      {%- do features.append({'name': column.name, 'kind': 'boolean'}) -%}
    {%- elif column.is_number() or dtype in ['tinyint', 'smallint', 'integer', 'bigint', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'float', 'double', 'real'] or dtype.startswith('decimal') -%}
      {%- do features.append({'name': column.name, 'kind': 'numeric'}) -%}
    {%- elif column.is_string() or dtype in ['varchar', 'text', 'string'] or dtype.startswith('enum') -%}
      {%- do features.append({'name': column.name, 'kind': 'categorical'}) -%}
    {%- else -%}
      {%- do log("lookalike: snapshot column '" ~ column.name ~ "' has type " ~ column.dtype ~ ", which is not a supported feature type (numeric, boolean, text); skipped.", info=true) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(features) }}
{% endmacro %}


{#- Select list casting each feature to its canonical type (double, boolean, varchar). Names are
    quoted with lookalike_quote_identifier: a column name may hold any character. -#}
{% macro lookalike_feature_select(features, prefix='') %}
  {%- for feature in features -%}
    {%- set quoted = lookalike.lookalike_quote_identifier(feature.name) -%}
    {%- set col = prefix ~ quoted -%}
    {%- if feature.kind == 'numeric' -%}
    cast({{ col }} as double) as {{ quoted }}
    {%- elif feature.kind == 'boolean' -%}
    cast({{ col }} as boolean) as {{ quoted }}
    {%- else -%}
    cast({{ col }} as {{ dbt.type_string() }}) as {{ quoted }}
    {%- endif -%}
    {{ ',' if not loop.last }}
  {% endfor -%}
{% endmacro %}


{#- Fail clearly when an event feature name collides with a snapshot column. -#}
{% macro lookalike_check_feature_names(snapshot_features, event_features) %}
  {%- set snapshot_names = snapshot_features | map('lower') | list -%}
  {%- set clashes = [] -%}
  {%- for name in event_features -%}
    {%- if name | lower in snapshot_names -%}{%- do clashes.append(name) -%}{%- endif -%}
  {%- endfor -%}
  {%- if clashes -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: snapshot input (var lookalike_user_snapshots) has column(s) " ~ clashes | join(', ')
        ~ ", which the event feature layer also produces. Rename them in the snapshot input or drop them with var lookalike_feature_exclude.") }}
  {%- endif -%}
{% endmacro %}
