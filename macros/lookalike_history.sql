{#- Run history across builds (issue 30 parts 1 and 4, decision 0029).

    The three history relations (lookalike_audience_history, lookalike_run_history,
    lookalike_feature_drift_history) are incremental, append-only and full_refresh: false: every
    build adds its own rows, named by the build id (dbt's invocation_id) and the build time (the
    invocation's start, UTC), and never rewrites an earlier build's rows. Rows older than var
    lookalike_history_retention_days are deleted by a pre-hook (lookalike_prune_history) before
    the build appends its own. -#}

{#- This build's id (dbt's invocation_id) as a SQL text literal. -#}
{%- macro lookalike_build_id() -%}
cast({{ lookalike.lookalike_literal(invocation_id) }} as {{ dbt.type_string() }})
{%- endmacro -%}

{#- This build's time: the invocation's start in UTC, as a SQL timestamp literal. -#}
{%- macro lookalike_build_time() -%}
cast({{ lookalike.lookalike_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }} as {{ dbt.type_timestamp() }})
{%- endmacro -%}

{#- The oldest time a history row may have to be kept: the build time minus var
    lookalike_history_retention_days, as a SQL timestamp literal (computed in Jinja, so no
    adapter-specific date arithmetic). -#}
{%- macro lookalike_history_cutoff() -%}
  {%- set days = lookalike.lookalike_var('lookalike_history_retention_days') -%}
  {%- set cutoff = run_started_at - modules.datetime.timedelta(days=days) -%}
  {{- return('cast(' ~ lookalike.lookalike_literal(cutoff.strftime('%Y-%m-%d %H:%M:%S.%f')) ~ ' as ' ~ dbt.type_timestamp() ~ ')') -}}
{%- endmacro -%}

{#- Pre-hook of the history relations: delete the rows whose `time_column` is before the
    retention cut-off. Nothing on the first build (no table yet). Returns the SQL the hook runs. -#}
{%- macro lookalike_prune_history(relation, time_column) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- if existing is none -%}{{ return('') }}{%- endif -%}
  {{- return(adapter.dispatch('lookalike_prune_history', 'lookalike')(existing, time_column, lookalike.lookalike_history_cutoff())) -}}
{%- endmacro -%}

{%- macro default__lookalike_prune_history(relation, time_column, cutoff) -%}
  {{- return('delete from ' ~ relation ~ ' where ' ~ time_column ~ ' < ' ~ cutoff) -}}
{%- endmacro -%}

{#- Spark's parquet tables have no DELETE: when some rows are too old, the rows to keep are copied
    to a side table and written back with INSERT OVERWRITE (Spark refuses to overwrite a table
    from a query that reads it). Nothing is rewritten while no row is too old. -#}
{%- macro spark__lookalike_prune_history(relation, time_column, cutoff) -%}
  {%- set old = run_query('select count(*) from ' ~ relation ~ ' where ' ~ time_column ~ ' < ' ~ cutoff).rows[0][0] -%}
  {%- if old == 0 -%}{{ return('') }}{%- endif -%}
  {%- set side = api.Relation.create(database=relation.database, schema=relation.schema, identifier=relation.identifier ~ '__lookalike_kept', type='table') -%}
  {%- do adapter.drop_relation(side) -%}
  {%- do run_query('create table ' ~ side ~ ' using parquet as select * from ' ~ relation ~ ' where ' ~ time_column ~ ' >= ' ~ cutoff) -%}
  {%- do run_query('insert overwrite table ' ~ relation ~ ' select * from ' ~ side) -%}
  {%- do adapter.drop_relation(side) -%}
  {{- return('') -}}
{%- endmacro -%}


{#- on-run-end: when lookalike_run_history was built in this invocation, one console line per run
    compared with an earlier build (audience churn), and one per history warning:

        lookalike: run 'pit'     audience vs build 3f2a9c1e…: 4 entered, 3 left, 57 of 60 stayed (95 %)
        lookalike: run 'pit'     history: test AUC 0.712 is 0.081 below the previous build's 0.793 ...
-#}
{% macro lookalike_history_summary(results, max_message_chars=200) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set built = [] -%}
  {%- for result in results or [] if result.node is not none and result.node.package_name == 'lookalike'
        and result.node.name == 'lookalike_run_history' and result.status == 'success' -%}
    {%- do built.append(result.node) -%}
  {%- endfor -%}
  {%- if not built -%}{{ return('') }}{%- endif -%}
  {%- set node = built[0] -%}
  {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
  {%- set table = run_query("select run_id, previous_build_id, n_audience_entered, n_audience_left, n_audience_stayed, "
        ~ "n_previous_audience_users, history_warnings from " ~ relation
        ~ " where build_id = " ~ lookalike.lookalike_literal(invocation_id) ~ " order by run_id") -%}
  {%- set width = [0] -%}
  {%- for row in table.rows -%}
    {%- do width.append([(row['run_id'] | string | length) + 6, 40] | min) -%}
  {%- endfor -%}
  {%- for row in table.rows -%}
    {%- set run_label = ("run '" ~ row['run_id'] ~ "'").ljust(width | max) -%}
    {%- if row['previous_build_id'] is not none and row['n_audience_entered'] is not none -%}
      {%- set previous = row['n_previous_audience_users'] -%}
      {%- set share = (' (' ~ ('%.0f' | format(100.0 * row['n_audience_stayed'] / previous)) ~ ' %)') if previous else '' -%}
      {{ log("lookalike: " ~ run_label ~ "  audience vs build " ~ (row['previous_build_id'] | string)[:8] ~ "…: "
          ~ row['n_audience_entered'] ~ " entered, " ~ row['n_audience_left'] ~ " left, "
          ~ row['n_audience_stayed'] ~ " of " ~ previous ~ " stayed" ~ share, info=true) }}
    {%- endif -%}
    {%- for message in (row['history_warnings'].split(' | ') if row['history_warnings'] else []) -%}
      {%- set prefix = "run '" ~ row['run_id'] ~ "': " -%}
      {%- set text = message[prefix | length:] if message.startswith(prefix) else message -%}
      {%- set text = text[:max_message_chars - 1] ~ '…' if text | length > max_message_chars else text -%}
      {{ log("lookalike: " ~ run_label ~ "  history: " ~ text, info=true) }}
    {%- endfor -%}
  {%- endfor -%}
  {{ return('') }}
{% endmacro %}
