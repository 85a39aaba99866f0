{#- Lower-cased column name -> Column of an input relation ({} while parsing). -#}
{% macro lookalike_input_columns(relation) %}
  {%- set columns = {} -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do columns.update({column.name | lower: column}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(columns) }}
{% endmacro %}


{#- Raise a clear error when an input lacks required columns. -#}
{% macro lookalike_require_columns(relation, var_name, required) %}
  {%- if execute -%}
    {%- set columns = lookalike.lookalike_input_columns(relation) -%}
    {%- set missing = [] -%}
    {%- for name in required -%}
      {%- if name not in columns -%}{%- do missing.append(name) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error(
          "lookalike: input '" ~ var_name ~ "' (" ~ relation ~ ") lacks required column(s) "
          ~ missing | join(', ') ~ "; it has " ~ columns.keys() | list | join(', ')
          ~ ". Rename the columns or point the variable at a view that provides them.") }}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}


{#- The column if the input has it, else the default SQL expression. -#}
{% macro lookalike_optional_column(relation, name, default_sql, columns=none) %}
  {#- columns: the relation's lookalike_input_columns, when the caller has them (one query fewer per call). -#}
  {%- set columns = columns if columns is not none else lookalike.lookalike_input_columns(relation) -%}
  {%- if name in columns -%}
    {{- return(lookalike.lookalike_quote_identifier(columns[name].name)) -}}
  {%- endif -%}
  {{- return(default_sql) -}}
{% endmacro %}
