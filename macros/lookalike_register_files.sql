{#- Register data files as a relation the input variables can point at, without dbt seeds (which
    insert row by row: 3,150 rows took 189 s through dbt-spark) and without copying the data.

        dbt run-operation lookalike_register_files \
          --args '{name: inputs.snapshots, path: /data/snapshots, format: parquet}'
        lookalike-dbt run-operation lookalike_register_files --target spark --args '{...}'

    name:    schema.table (each part a plain identifier); the schema is created when missing.
    path:    a file, a folder or a glob the engine can read (local, s3://, abfss://, dbfs:/ ...).
    format:  parquet (default), csv or json; on Spark also orc and delta.
    replace: false (default) refuses to touch an existing relation; true replaces a view (DuckDB)
             or an external table (Spark), never a table holding its own data.

    DuckDB: a view over read_parquet / read_csv / read_json (the files are read at query time).
    Spark:  an external (unmanaged) table over the location; dropping it never deletes the files.
    Prints one line with the relation and its row count. Every failure names the argument and the
    fix (tests/integration/test_register_files.py). -#}
{% macro lookalike_register_files(name, path, format='parquet', replace=false) %}
  {%- set parts = (name | string | trim).split('.') -%}
  {%- set bad = [] -%}
  {%- for part in parts if not modules.re.match('^[^\\W\\d][\\w$]*$', part) -%}{%- do bad.append(part) -%}{%- endfor -%}
  {%- if parts | length != 2 or bad -%}
    {{ exceptions.raise_compiler_error(
        "lookalike_register_files: name '" ~ name ~ "' is not schema.table with plain identifiers "
        ~ "(letters, digits, _ or $, not starting with a digit), e.g. name: inputs.snapshots.") }}
  {%- endif -%}
  {%- set path = path | string | trim -%}
  {%- if path == '' or path == 'None' or modules.re.search("['\\\\\\x00-\\x1f\\x7f]", path) -%}
    {{ exceptions.raise_compiler_error(
        "lookalike_register_files: path " ~ (path | tojson) ~ " is empty or holds a quote, a backslash or a "
        ~ "control character; give a plain file, folder or glob path (rename the files or use a link).") }}
  {%- endif -%}
  {%- set formats = lookalike._lookalike_register_formats() -%}
  {%- set format = format | string | trim | lower -%}
  {%- if format not in formats -%}
    {{ exceptions.raise_compiler_error(
        "lookalike_register_files: format '" ~ format ~ "' is not one of " ~ formats | join(', ')
        ~ " on " ~ target.type ~ ".") }}
  {%- endif -%}
  {%- set relation = api.Relation.create(database=target.get('database'), schema=parts[0], identifier=parts[1]) -%}
  {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- if existing is not none and not (replace | string | lower in ['true', '1', 'yes']) -%}
    {{ exceptions.raise_compiler_error(
        "lookalike_register_files: " ~ relation ~ " already exists; pass replace: true to replace it "
        ~ "(only a view on DuckDB or an external table on Spark is ever replaced).") }}
  {%- endif -%}
  {%- do adapter.dispatch('lookalike_register_files_sql', 'lookalike')(relation, existing, path, format) -%}
  {#- run-operation does not commit on its own: without it DuckDB rolls the view back at exit. -#}
  {%- do adapter.commit() -%}
  {%- set counted = run_query('select count(*) from ' ~ relation) -%}
  {{ log("lookalike: registered " ~ relation ~ " over " ~ path ~ " (" ~ format ~ ", " ~ counted.columns[0].values()[0] ~ " rows)", info=true) }}
{% endmacro %}


{% macro _lookalike_register_formats() %}
  {{ return(adapter.dispatch('lookalike_register_formats', 'lookalike')()) }}
{% endmacro %}

{% macro default__lookalike_register_formats() %}
  {{ return(['parquet', 'csv', 'json']) }}
{% endmacro %}

{% macro spark__lookalike_register_formats() %}
  {{ return(['parquet', 'csv', 'json', 'orc', 'delta']) }}
{% endmacro %}


{% macro default__lookalike_register_files_sql(relation, existing, path, format) %}
  {{ exceptions.raise_compiler_error(
      "lookalike_register_files is implemented for DuckDB and Spark, not for " ~ target.type
      ~ "; create a view or an external table over the files with your warehouse's own statement.") }}
{% endmacro %}

{% macro duckdb__lookalike_register_files_sql(relation, existing, path, format) %}
  {%- if existing is not none and existing.type != 'view' -%}
    {{ exceptions.raise_compiler_error(
        "lookalike_register_files: " ~ relation ~ " is a " ~ existing.type ~ " holding its own data; it is "
        ~ "never replaced. Drop it yourself or register the files under another name.") }}
  {%- endif -%}
  {%- set reader = {'parquet': 'read_parquet', 'csv': 'read_csv', 'json': 'read_json'}[format] -%}
  {%- call statement('lookalike_register_files') -%}
    create schema if not exists {{ lookalike.lookalike_quote_identifier(relation.schema) }};
    create or replace view {{ relation }} as
    select * from {{ reader }}({{ lookalike.lookalike_literal(path) }})
  {%- endcall -%}
{% endmacro %}

{% macro spark__lookalike_register_files_sql(relation, existing, path, format) %}
  {%- if existing is not none -%}
    {%- set described = run_query('describe table extended ' ~ relation) -%}
    {%- set kind = [] -%}
    {%- for row in described.rows if (row[0] | string | trim) == 'Type' -%}{%- do kind.append(row[1] | string | trim | upper) -%}{%- endfor -%}
    {%- if kind != ['EXTERNAL'] -%}
      {{ exceptions.raise_compiler_error(
          "lookalike_register_files: " ~ relation ~ " is a " ~ (kind | join('') or 'table') | lower ~ " table holding its own "
          ~ "data; it is never replaced. Drop it yourself or register the files under another name.") }}
    {%- endif -%}
    {%- call statement('lookalike_register_files_drop') -%}drop table {{ relation }}{%- endcall -%}
  {%- endif -%}
  {%- call statement('lookalike_register_files_schema') -%}
    create database if not exists {{ lookalike.lookalike_quote_identifier(relation.schema) }}
  {%- endcall -%}
  {%- call statement('lookalike_register_files') -%}
    create table {{ relation }} using {{ format }}
    {%- if format == 'csv' %} options (header 'true', inferSchema 'true'){% endif %}
    location {{ lookalike.lookalike_literal(path) }}
  {%- endcall -%}
{% endmacro %}
