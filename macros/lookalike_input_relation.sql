{#- Resolve an input variable to a relation.
    var_name:  the variable holding "table", "schema.table" or "database.schema.table".
    demo_seed: the demo seed used when the variable is null and the demo is enabled.
    Fails with a message naming the variable and the fix when it cannot resolve. -#}
{% macro lookalike_input_relation(var_name, demo_seed) %}
  {%- set value = var(var_name, none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- if lookalike.lookalike_demo_enabled() -%}
      {{ return(ref(demo_seed)) }}
    {%- endif -%}
    {%- if execute -%}
      {{ exceptions.raise_compiler_error(
          "lookalike: variable '" ~ var_name ~ "' is not set. Set it to your relation, e.g. "
          ~ "`dbt build --vars '{" ~ var_name ~ ": my_schema.my_table}'`, or set lookalike_demo: true "
          ~ "to build the bundled demo.") }}
    {%- endif -%}
    {{ return(api.Relation.create(identifier='lookalike_input_not_configured')) }}
  {%- endif -%}
  {%- set parts = (value | string | trim).split('.') -%}
  {#- dbt renders relation names inside quotes without escaping them, so a name holding a quote
      would end the identifier and run the rest as SQL: accept plain names only. -#}
  {%- set bad_parts = [] -%}
  {%- for part in parts if not modules.re.match('^[^\\W\\d][\\w$-]*$', part) -%}{%- do bad_parts.append(part) -%}{%- endfor -%}
  {%- if bad_parts or parts | length > 3 -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: variable '" ~ var_name ~ "' = " ~ "'" ~ value ~ "'" ~ " is not a relation name; "
        ~ "use table, schema.table or database.schema.table, each part a plain identifier (letters, digits, "
        ~ "_, $ or -, not starting with a digit; no quotes, spaces, semicolons or other punctuation). "
        ~ "For a relation with another name, create a view with a plain name over it and point the variable at the view.") }}
  {%- endif -%}
  {%- if parts | length == 1 -%}
    {%- set relation = api.Relation.create(database=target.database, schema=target.schema, identifier=parts[0]) -%}
  {%- elif parts | length == 2 -%}
    {%- set relation = api.Relation.create(database=target.database, schema=parts[0], identifier=parts[1]) -%}
  {%- elif parts | length == 3 -%}
    {%- set relation = api.Relation.create(database=parts[0], schema=parts[1], identifier=parts[2]) -%}
  {%- else -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: variable '" ~ var_name ~ "' = '" ~ value ~ "' is not a relation name; "
        ~ "use table, schema.table or database.schema.table.") }}
  {%- endif -%}
  {%- if execute -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if found is none -%}
      {{ exceptions.raise_compiler_error(
          "lookalike: variable '" ~ var_name ~ "' points at " ~ relation ~ ", which does not exist. "
          ~ "Create it or point the variable at an existing table or view.") }}
    {%- endif -%}
    {{ return(found) }}
  {%- endif -%}
  {{ return(relation) }}
{% endmacro %}


{#- Like lookalike_input_relation, for optional inputs (events, items): returns none when the
    variable is null and the demo is off (or the demo has no such seed), instead of failing. -#}
{% macro lookalike_optional_input_relation(var_name, demo_seed) %}
  {%- set value = var(var_name, none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- if demo_seed and lookalike.lookalike_demo_enabled() -%}
      {{ return(ref(demo_seed)) }}
    {%- endif -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(lookalike.lookalike_input_relation(var_name, demo_seed)) }}
{% endmacro %}
