{#- The feature columns of the snapshot input: every numeric, boolean or text column other than
    user_id / snapshot_at (and dbt snapshot columns dbt_*), narrowed by vars lookalike_feature_include / lookalike_feature_exclude.
    Returns a list of {name, kind} where kind is numeric, boolean or categorical. Columns of other
    types (dates, timestamps, nested) and names reserved by the pipeline are skipped with a log line. -#}
{% macro lookalike_feature_columns(relation) %}
  {#- The package's reserved column names, shared with Python (lookalike_udf/vocabulary.py RESERVED_COLUMNS). -#}
  {%- set reserved = lookalike.lookalike_vocabulary()['reserved_columns'] -%}
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
    {%- elif column.is_number() or dtype in ['tinyint', 'smallint', 'int', 'integer', 'bigint', 'long', 'short', 'byte', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'float', 'double', 'real'] or dtype.startswith('decimal') -%}
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


{#- The names in vars lookalike_feature_include / lookalike_feature_exclude that match no column
    of the snapshot input (var lookalike_user_snapshots) and no event feature: a list of
    (variable, name) pairs, in the variables' order. Such names are ignored by the feature
    selection. `spec` is the event spec (lookalike_event_spec) when the caller already has it.
    Empty while parsing. -#}
{% macro lookalike_unknown_feature_names(spec=none) %}
  {{ return(lookalike.lookalike_unknown_feature_report(spec)['unknown']) }}
{% endmacro %}


{#- The unknown names (see lookalike_unknown_feature_names) with the known snapshot columns and
    event feature names: {unknown: [(variable, name)], columns: [...], event_features: [...]}. -#}
{% macro lookalike_unknown_feature_report(spec=none) %}
  {%- set report = {'unknown': [], 'columns': [], 'event_features': []} -%}
  {%- set include = var('lookalike_feature_include', []) or [] -%}
  {%- set exclude = var('lookalike_feature_exclude', []) or [] -%}
  {%- if not include and not exclude -%}{{ return(report) }}{%- endif -%}
  {#- Resolved while parsing too, so dbt records the reference to the demo seed when there is one. #}
  {%- set relation = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
  {%- set spec = spec if spec is not none else lookalike.lookalike_event_spec() -%}
  {%- if not execute -%}{{ return(report) }}{%- endif -%}
  {%- set columns = lookalike.lookalike_input_columns(relation) -%}
  {%- for key, column in columns.items() -%}{%- do report['columns'].append(column.name) -%}{%- endfor -%}
  {%- do report['event_features'].extend(spec.get('candidate_names', [])) -%}
  {%- set event_names = report['event_features'] | map('lower') | list -%}
  {%- for var_name, names in [('lookalike_feature_include', include), ('lookalike_feature_exclude', exclude)] -%}
    {%- for name in names -%}
      {%- set key = name | string | lower -%}
      {%- if key not in columns and key not in event_names -%}
        {%- do report['unknown'].append((var_name, name | string)) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(report) }}
{% endmacro %}


{#- One dbt warning per unknown name in lookalike_feature_include / lookalike_feature_exclude.
    Called by one model (lookalike_pit_features), so each build warns once. -#}
{% macro lookalike_warn_unknown_feature_names(spec=none) %}
  {%- set report = lookalike.lookalike_unknown_feature_report(spec) -%}
  {%- for var_name, name in report['unknown'] -%}
    {%- set columns = report['columns'] -%}
    {%- set events = report['event_features'] -%}
    {%- do exceptions.warn(
        "lookalike: var " ~ var_name ~ " names '" ~ name ~ "', which is neither a column of the snapshot input "
        ~ "(var lookalike_user_snapshots) nor an event feature; it is ignored. Check the spelling (columns: "
        ~ (columns[:30] | join(', ')) ~ (', ...' if columns | length > 30 else '')
        ~ "; event features: " ~ ((events[:30] | join(', ')) if events else 'none')
        ~ (', ...' if events | length > 30 else '') ~ ").") -%}
  {%- endfor -%}
{% endmacro %}
