{#- Written between a CTE's name and its body (`name as {{ lookalike.lookalike_inline_cte() }} (`)
    for a CTE that only reads and reshapes a relation and is referenced more than once. DuckDB
    materializes such a CTE (every row, every column, in memory) before the query runs; inlining it
    lets each reference scan and project only what it needs. Measured at 200,000 users (bench/RESULTS.md,
    "Issue 27 part 2"): lookalike_feature_drift's peak 704 -> 216 MiB, int_lookalike__user_snapshots'
    888 -> 226 MiB, both faster. Spark and most engines inline CTEs anyway: nothing to write there. -#}
{% macro lookalike_inline_cte() %}
  {{ return(adapter.dispatch('lookalike_inline_cte', 'lookalike')()) }}
{% endmacro %}

{% macro default__lookalike_inline_cte() -%}
{%- endmacro %}

{% macro duckdb__lookalike_inline_cte() -%}
not materialized
{%- endmacro %}
