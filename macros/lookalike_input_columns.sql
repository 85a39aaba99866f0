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


{#- Warn about every column of an input that the package does not read, with the closest known name
    (a typo such as label_timestmp would otherwise leave the column unread in silence: here, every
    label matched at the scoring time). known: the lower-case names the input's staging model reads;
    columns: its lookalike_input_columns. -#}
{% macro lookalike_warn_unknown_columns(relation, var_name, input_label, known, columns, what='which the package does not read') %}
  {%- if execute -%}
    {%- for key, column in columns.items() if key not in known -%}
      {%- set suggestion = lookalike.lookalike_closest_name(key, known) -%}
      {%- do exceptions.warn("lookalike: the " ~ input_label ~ " input (var " ~ var_name ~ ", " ~ relation ~ ") has a column '"
            ~ column.name ~ "', " ~ what ~ ", so it is ignored. "
            ~ ("Did you mean '" ~ suggestion ~ "'? " if suggestion else "")
            ~ "Known columns: " ~ known | join(', ') ~ " (docs/inputs.md).") -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}


{#- Columns of an input, other than `known`, whose name looks like a time (…_at, …time…, …date…,
    …stamp…, …_ts): candidates for a misspelt or misnamed timestamp column. -#}
{% macro lookalike_time_like_columns(columns, known) %}
  {%- set found = [] -%}
  {%- for key, column in columns.items() if key not in known
        and (modules.re.search('(_at$|_ts$|^ts$|time|date|stamp|_dt$)', key)) -%}
    {%- do found.append(column.name) -%}
  {%- endfor -%}
  {{ return(found) }}
{% endmacro %}
