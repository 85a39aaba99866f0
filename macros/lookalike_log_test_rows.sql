{#- Print the rows a data test is about to report, one console line each, so the build log names
    them (dbt itself prints only the test's name and its count: "WARN 2 assert_no_failed_runs").
    test_name:  the test, for the line's prefix.
    sql:        the test's query; it must return a column `message` (each message names its run).
    relation:   the relation the query reads: nothing is printed (and nothing is queried) while
                parsing or when it does not exist yet (e.g. `dbt compile` before the first build).
    max_chars:  messages longer than this are cut, with a pointer to the full text.
    Called from the test's own SQL, so the lines come right before dbt's WARN / FAIL line. -#}
{% macro lookalike_log_test_rows(test_name, sql, relation, max_chars=400) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
    {{ return('') }}
  {%- endif -%}
  {%- set table = run_query("select message from (" ~ sql ~ ") as lookalike_test_rows order by message") -%}
  {%- for row in table.rows -%}
    {%- set message = row['message'] | string -%}
    {%- set message = message[:max_chars - 1] ~ '… (full text: the test\'s query)' if message | length > max_chars else message -%}
    {{ log("lookalike: " ~ test_name ~ ": " ~ message, info=true) }}
  {%- endfor -%}
  {{ return('') }}
{% endmacro %}
