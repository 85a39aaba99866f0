{#- Resolve an input variable to a relation.
    var_name:  the variable holding one of
                 "ref:model"                           a model, seed or snapshot of the root project,
                 "ref:package.model"                   or of any package, read through ref();
                 "source:source_name.table_name"       a source, read through source();
                 "table", "schema.table" or "database.schema.table"   a relation by name.
               ref() and source() are called while parsing too, so dbt records the edge: the host
               model is built before the package's staging model that reads it.
    demo_seed: the demo seed used when the variable is null and the demo is enabled.
    Fails with a message naming the variable and the fix when it cannot resolve. -#}
{% macro lookalike_input_relation(var_name, demo_seed) %}
  {%- set value = var(var_name, none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- set own = lookalike.lookalike_own_inputs_set() -%}
    {%- if own -%}
      {#- Inputs are a set: never the demo's seed beside your own tables. #}
      {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "lookalike: variable '" ~ var_name ~ "' is not set, but " ~ own | join(' and ') ~ (" is" if own | length == 1 else " are")
            ~ " set. Your own inputs are read as a set and never mixed with the demo's: set "
            ~ lookalike.lookalike_required_inputs() | reject('in', own) | join(' and ')
            ~ " too (docs/inputs.md), or unset " ~ own | join(' and ') ~ " to build the bundled demo.") }}
      {%- endif -%}
      {{ return(api.Relation.create(identifier='lookalike_input_not_configured')) }}
    {%- endif -%}
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
  {%- if ':' in (value | string) -%}
    {{ return(lookalike._lookalike_node_input_relation(var_name, value | string | trim)) }}
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
        ~ "For a relation with another name, create a view with a plain name over it and point the variable at the view; "
        ~ "for a model, seed or source of your project use ref:model_name or source:source_name.table_name.") }}
  {%- endif -%}
  {%- if parts | length == 1 -%}
    {%- set relation = api.Relation.create(database=target.get("database"), schema=target.schema, identifier=parts[0]) -%}
  {%- elif parts | length == 2 -%}
    {%- set relation = api.Relation.create(database=target.get("database"), schema=parts[0], identifier=parts[1]) -%}
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


{#- The relation of a "ref:..." or "source:..." input value (see lookalike_input_relation). Called
    while parsing as well, so ref() / source() record the DAG edge; when executing, a relation that
    is not in the warehouse (a model not built yet, e.g. excluded by --select) fails with the fix. -#}
{% macro _lookalike_node_input_relation(var_name, value) %}
  {%- set kind, _, name = value.partition(':') -%}
  {%- set kind = kind | trim | lower -%}
  {%- set parts = (name | trim).split('.') -%}
  {%- set forms = "ref:model_name, ref:package_name.model_name, source:source_name.table_name, or a relation name "
        ~ "(table, schema.table or database.schema.table)" -%}
  {%- set plain = [] -%}
  {%- for part in parts if modules.re.match('^[^\\W\\d][\\w$-]*$', part) -%}{%- do plain.append(part) -%}{%- endfor -%}
  {%- if kind not in ['ref', 'source'] -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: variable '" ~ var_name ~ "' = '" ~ value ~ "' starts with '" ~ kind ~ ":', which is neither ref: nor source:. "
        ~ "Use " ~ forms ~ ".") }}
  {%- endif -%}
  {%- if plain | length != parts | length or (kind == 'ref' and parts | length > 2) or (kind == 'source' and parts | length != 2) -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: variable '" ~ var_name ~ "' = '" ~ value ~ "' is not a valid " ~ kind ~ ": input; use "
        ~ ("ref:model_name or ref:package_name.model_name" if kind == 'ref' else "source:source_name.table_name (both as declared in your sources YAML)")
        ~ ", each name a plain identifier (letters, digits, _, $ or -, not starting with a digit).") }}
  {%- endif -%}
  {%- if kind == 'source' -%}
    {%- set relation = source(parts[0], parts[1]) -%}
  {%- elif parts | length == 2 -%}
    {%- set relation = ref(parts[0], parts[1]) -%}
  {%- else -%}
    {#- ref:model is a node of the root project (project_name), named with its package: a one-argument
        ref() from a package would also work but makes dbt 1.11 warn that a package node depends on a
        root project node (behaviour flag require_ref_searches_node_package_before_root). -#}
    {%- set relation = ref(project_name, parts[0]) -%}
  {%- endif -%}
  {%- if execute -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if found is none -%}
      {{ exceptions.raise_compiler_error(
          "lookalike: variable '" ~ var_name ~ "' = '" ~ value ~ "' points at " ~ relation ~ ", which does not exist. "
          ~ ("Build it in the same invocation: `dbt build` without --select, or --select +package:lookalike to build "
             ~ "the package with the models it reads." if kind == 'ref'
             else "Load the source table, or fix the source's database, schema or identifier in your sources YAML.")) }}
    {%- endif -%}
  {%- endif -%}
  {{ return(relation) }}
{% endmacro %}


{#- Like lookalike_input_relation, for optional inputs (events, items): returns none when the
    variable is null and the demo's inputs are not read (the demo is off, your own required inputs
    are set, or the demo has no such seed), instead of failing. -#}
{% macro lookalike_optional_input_relation(var_name, demo_seed) %}
  {%- set value = var(var_name, none) -%}
  {%- if value is none or (value | string | trim) == '' -%}
    {%- if demo_seed and lookalike.lookalike_demo_enabled() and not lookalike.lookalike_own_inputs_given() -%}
      {{ return(ref(demo_seed)) }}
    {%- endif -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(lookalike.lookalike_input_relation(var_name, demo_seed)) }}
{% endmacro %}
