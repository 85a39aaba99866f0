{#- The table materialization of this package's models on DuckDB (decision 0019): dbt-duckdb's
    `table`, plus one short cut. A table whose inputs are unchanged since it was built is kept as
    it is: no statement rebuilds or copies it, and its comment records that this build kept it
    ('...; kept by build <invocation_id>'), which lookalike_runs reads.

    A model takes the short cut when its table exists, reuse is on (no --full-refresh, no var
    lookalike_force_retrain), and either
      - it is a feature table guarded by lookalike_reuse_or whose compiled SQL says its inputs key
        is unchanged (decision 0005; those used to copy themselves), or
      - it sets config lookalike_keep: true, the key of this build (lookalike_table_key: its
        compiled code, the library and scikit-learn versions, its upstream tables, the package's
        code) equals the key stored on the table when it was built, and the table still holds
        the rows it was built with (a checksum, stored with the key: an edited table is rebuilt).
    The serving table (config serving_path) is kept only while the serving file still holds the
    build it published.
    Otherwise the table is built as dbt-duckdb's `table` builds it, and a lookalike_keep model
    then stores its key and row checksum in the table's comment
    ('lookalike inputs key: <key>; rows <n_rows>:<md5>; built by build <invocation_id>'), unless a row matches config
    lookalike_keep_unless (a SQL condition, e.g. a failure marker): then it is built again next
    time. -#}
{% materialization lookalike_table, adapter='duckdb', supported_languages=['sql', 'python'] %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set keep_config = config.get('lookalike_keep', false) -%}
  {%- set marker = lookalike.lookalike_unchanged_marker_key(compiled_code if model['language'] == 'sql' else '') -%}
  {%- set comments = lookalike.lookalike_table_comments() if (keep_config and not marker) else {} -%}
  {%- set key = marker if marker else (lookalike.lookalike_table_key(comments) if keep_config else none) -%}
  {%- set exists = existing_relation is not none and existing_relation.is_table -%}
  {%- set keep = false -%}
  {%- set rows = none -%}
  {%- if key and exists and lookalike.lookalike_reuse_enabled() -%}
    {%- if marker -%}
      {%- set keep = true -%}
    {%- else -%}
      {%- set comment = lookalike.lookalike_comment_of(comments, this) -%}
      {%- set rows = lookalike.lookalike_comment_rows(comment) -%}
      {%- set keep = lookalike.lookalike_comment_key(comment) == key and rows is not none
                     and lookalike.lookalike_rows_checksum(this) == rows -%}
    {%- endif -%}
    {#- The serving table (config serving_path) describes a file outside the warehouse: keep it
        only while that file is still the one it published (same build id), so a deleted or
        replaced serving file is published again. -#}
    {%- if keep and config.get('serving_path') is not none -%}
      {%- set keep = run_query(lookalike.lookalike_serving_intact_sql(this, config.get('serving_path'))).rows[0][0] is sameas true -%}
      {%- if not keep -%}
        {{ log('lookalike: ' ~ this.identifier ~ ' publishes again: the serving file is missing or is not the one it published', info=true) }}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
  {#- End the transaction those checks opened: a Python model writes its table through another
      cursor, which a transaction begun before it would not see. -#}
  {%- call statement('lookalike_keep_checked') -%} select 1 {%- endcall -%}
  {{ adapter.commit() }}

  {%- if keep -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' kept: its inputs are unchanged since it was built (key ' ~ key[:12] ~ ')', info=true) }}
    {%- call statement('main') -%}
      comment on table {{ this }} is {{ lookalike.lookalike_literal('lookalike inputs key: ' ~ key ~ ('; rows ' ~ rows if rows else '') ~ '; kept by build ' ~ invocation_id) }}
    {%- endcall -%}
    {{ adapter.commit() }}
    {{ return({'relations': [this.incorporate(type='table')]}) }}
  {%- endif -%}

  {%- if model['language'] == 'sql' -%}
    {%- set result = materialization_table_duckdb() -%}
  {%- else -%}
    {#- dbt runs a Python model only from a statement('main') in the materialization itself, not
        from a macro it calls: this is dbt-duckdb's `table` for a Python model, without the
        DuckLake and foreign-key cases (this package's Python models have neither). -#}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
    {%- set grant_config = config.get('grants') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- call statement('main', language='python') -%}
      {{- create_table_as(False, intermediate_relation, compiled_code, 'python') }}
    {%- endcall -%}
    {%- if existing_relation is not none -%}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {%- endif -%}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {%- set result = {'relations': [target_relation]} -%}
  {%- endif -%}

  {%- if keep_config and key and not marker -%}
    {%- set unless = config.get('lookalike_keep_unless') -%}
    {%- if unless and run_query('select count(*) from ' ~ this ~ ' where ' ~ unless).rows[0][0] > 0 -%}
      {{ log('lookalike: ' ~ this.identifier ~ ' will be built again next time (a row matches ' ~ unless ~ ')', info=true) }}
    {%- else -%}
      {%- set built_rows = lookalike.lookalike_rows_checksum(this) -%}
      {%- call statement('lookalike_store_key') -%}
        comment on table {{ this }} is {{ lookalike.lookalike_literal('lookalike inputs key: ' ~ key ~ '; rows ' ~ built_rows ~ '; built by build ' ~ invocation_id) }}
      {%- endcall -%}
    {%- endif -%}
    {{ adapter.commit() }}
  {%- endif -%}
  {{ return(result) }}
{% endmaterialization %}
