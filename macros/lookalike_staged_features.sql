{#- Feature column names of an already-staged snapshot relation (every column but user_id,
    snapshot_at and valid_to), in the relation's column order. Empty while parsing. -#}
{% macro lookalike_staged_features(relation) %}
  {%- set names = [] -%}
  {%- for key, column in lookalike.lookalike_input_columns(relation).items() -%}
    {%- if key not in ['user_id', 'snapshot_at', 'valid_to'] -%}{%- do names.append(column.name) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(names) }}
{% endmacro %}
