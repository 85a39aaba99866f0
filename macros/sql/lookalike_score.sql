{#- lookalike.score(run_id, relation, id_column='user_id'): a SELECT returning the id column under
    its own name (`id_column`: member_id in, member_id out) and score (0..1) for every row of
    `relation`, scored by the run's stored model as plain SQL of the
    current adapter (no Python at query time). `relation` must have the model's feature columns
    by name (lookalike_run_scoring_sql.feature_names, the columns of lookalike_inference_features)
    and an id column; extra columns are ignored.

    Usage in a host project's SQL model:
        select * from ({{ lookalike.score('my_run', ref('new_users')) }}) as scored

    The SQL is read from lookalike_run_scoring_sql at compile time, so the model depends on it (a
    DAG edge) and is compiled with the model that was current when it ran. It is pasted only when
    it matches its checksum sql_sha256 (computed by the warehouse, lookalike_sha256_hex): an SQL
    text edited in the table since it was compiled is refused with a compile error naming the run
    and the fix (build lookalike_run_scoring_sql again, which compiles it anew). -#}
{% macro score(run_id, relation, id_column='user_id') %}
  {%- set source = ref('lookalike', 'lookalike_run_scoring_sql') -%}
  {%- set id_out = lookalike.lookalike_quote_identifier(id_column) -%}
  {%- if not execute -%}
    {{ return('select cast(null as ' ~ dbt.type_string() ~ ') as ' ~ id_out ~ ', cast(null as double) as score') }}
  {%- endif -%}
  {%- set dialect = lookalike.lookalike_scoring_dialect() -%}
  {%- set found = run_query('select sql_text, feature_names, compile_error, '
        ~ lookalike.lookalike_sha256_hex('sql_text') ~ ' = sql_sha256 as sql_verified from ' ~ source
        ~ ' where run_id = ' ~ lookalike.lookalike_literal(run_id) ~ ' and dialect = ' ~ lookalike.lookalike_literal(dialect)) -%}
  {%- if found.rows | length == 0 -%}
    {{ exceptions.raise_compiler_error("lookalike.score: lookalike_run_scoring_sql has no " ~ dialect ~ " SQL for run '" ~ run_id
        ~ "'. Check that the run is TRAINED (lookalike_runs.status) and that var lookalike_scoring_sql_dialects lists "
        ~ dialect ~ ", then build the package again (dbt build --select +lookalike_run_scoring_sql).") }}
  {%- endif -%}
  {%- if found.rows[0][0] is none -%}
    {{ exceptions.raise_compiler_error("lookalike.score: run '" ~ run_id ~ "' has no SQL: " ~ found.rows[0][2]) }}
  {%- endif -%}
  {%- if found.rows[0][3] is not sameas true -%}
    {{ exceptions.raise_compiler_error("lookalike.score: the " ~ dialect ~ " SQL of run '" ~ run_id
        ~ "' in lookalike_run_scoring_sql does not match its checksum sql_sha256 (edited or corrupted since it was compiled), "
        ~ "so it is not used. Build the package's lookalike_run_scoring_sql again (dbt build --select lookalike_run_scoring_sql): "
        ~ "it compiles the run's SQL anew from its stored model.") }}
  {%- endif -%}
  {%- set features = fromjson(found.rows[0][1]) -%}
{#- The stored SQL reads user_id from lookalike_input and returns user_id, score: the id goes in as
    user_id and comes out under its own name again. -#}
with lookalike_input as (
    select {{ id_out }} as user_id
    {%- for name in features %},
        {{ lookalike.lookalike_quote_identifier(name) }}
    {%- endfor %}
    from {{ relation }}
),
lookalike_scored as (
{{ found.rows[0][0] }}
)
select user_id as {{ id_out }}, score from lookalike_scored
{% endmacro %}


{#- The sqlglot dialect of the current adapter. -#}
{% macro lookalike_scoring_dialect() %}
  {{ return(adapter.dispatch('lookalike_scoring_dialect', 'lookalike')()) }}
{% endmacro %}

{% macro default__lookalike_scoring_dialect() %}
  {{ return(target.type) }}
{% endmacro %}

{% macro spark__lookalike_scoring_dialect() %}
  {{ return('spark') }}
{% endmacro %}


{#- SQL for the SHA-256 (lowercase hex) of the UTF-8 text `expr`, as lookalike_udf computes
    lookalike_run_scoring_sql.sql_sha256. -#}
{% macro lookalike_sha256_hex(expr) %}
  {{ return(adapter.dispatch('lookalike_sha256_hex', 'lookalike')(expr)) }}
{% endmacro %}

{% macro default__lookalike_sha256_hex(expr) %}
  {{- return('sha2(' ~ expr ~ ', 256)') -}}
{% endmacro %}

{% macro duckdb__lookalike_sha256_hex(expr) %}
  {{- return('sha256(' ~ expr ~ ')') -}}
{% endmacro %}
