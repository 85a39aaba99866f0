{#- Post-hook of lookalike_audiences: write each run's audience to its audience_export_path
    (runs input column, else var lookalike_audience_export_path; '{run_id}' in the path is
    replaced by the run id), as Parquet or CSV by the file's extension. The path is a quoted
    literal; it is the user's own file system, so no other check is made. DuckDB only: other
    adapters export with their own tools (a warning says so). -#}
{% macro lookalike_export_audiences() %}
  {{ return(adapter.dispatch('lookalike_export_audiences', 'lookalike')()) }}
{% endmacro %}

{% macro default__lookalike_export_audiences() %}
  {{ return('') }}
{% endmacro %}

{% macro duckdb__lookalike_export_audiences() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set found = run_query("select run_id, audience_export_path from " ~ ref('int_lookalike__runs')
        ~ " where audience_export_path is not null and run_id in (select distinct run_id from " ~ this ~ ")") -%}
  {%- set statements = [] -%}
  {%- for run_id, path in found.rows -%}
    {%- set target_path = path | replace('{run_id}', run_id) -%}
    {%- set format = 'csv' if target_path.lower().endswith('.csv') else 'parquet' -%}
    {%- do statements.append("copy (select * from " ~ this ~ " where run_id = " ~ lookalike.lookalike_literal(run_id)
          ~ " order by score_rank) to " ~ lookalike.lookalike_literal(target_path) ~ " (format " ~ format
          ~ (", header true" if format == 'csv' else "") ~ ")") -%}
  {%- endfor -%}
  {{ return(statements | join(';\n') if statements else 'select 1') }}
{% endmacro %}
