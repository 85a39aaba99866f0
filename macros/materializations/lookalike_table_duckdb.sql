{#- The table materialization of this package's models on DuckDB (decisions 0019 and 0025):
    dbt-duckdb's `table`, plus one short cut. A model with config lookalike_keep whose inputs key
    (lookalike_node_key, macros/lookalike_reuse.sql) equals the one recorded in lookalike_build_state
    when its table was built, and whose table still holds the rows it was built with (unless
    lookalike_keep_check_rows is false), is kept as it is: no statement rebuilds or copies it, and
    lookalike_build_state records that this build kept it. The serving table (config serving_path)
    is kept only while the serving file still holds the build it published. Otherwise the table is
    built as dbt-duckdb's `table` builds it, and the key is recorded (lookalike_record_built).
    A model with config lookalike_append whose input only gained rows after the table's latest
    (lookalike_keep_decision) gets the model's SQL over those rows inserted instead (decision 0039).
    A model with config lookalike_delta whose other inputs are unchanged gets the rows of the keys
    whose input rows changed replaced (action 'updated', decision 0041). -#}
{% materialization lookalike_table, adapter='duckdb', supported_languages=['sql', 'python'] %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set decision = lookalike.lookalike_keep_decision() -%}
  {%- set keep = decision['keep'] -%}
  {#- The serving table (config serving_path) describes a file outside the warehouse: keep it only
      while that file is still the one it published (same build id), so a deleted or replaced
      serving file is published again. -#}
  {%- if keep and config.get('serving_path') is not none -%}
    {%- set keep = run_query(lookalike.lookalike_serving_intact_sql(this, config.get('serving_path'))).rows[0][0] is sameas true -%}
    {%- if not keep -%}
      {{ log('lookalike: ' ~ this.identifier ~ ' publishes again: the serving file is missing or is not the one it published', info=true) }}
    {%- endif -%}
  {%- endif -%}
  {#- End the transaction those checks opened: a Python model writes its table through another
      cursor, which a transaction begun before it would not see. -#}
  {%- call statement('lookalike_keep_checked') -%} select 1 {%- endcall -%}
  {{ adapter.commit() }}

  {%- if keep -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' kept: its inputs are unchanged since it was built (key ' ~ decision['key'][:12] ~ ')', info=true) }}
    {%- call statement('main') -%} select 1 {%- endcall -%}
    {%- do lookalike.lookalike_record_state('kept', decision['key'], decision['rows']) -%}
    {{ adapter.commit() }}
    {{ return({'relations': [this.incorporate(type='table')]}) }}
  {%- endif -%}
  {%- if decision['append'] -%}
    {#- Decision 0039: every row the previous table was built from is unchanged and every other
        row of the input is newer than the table's latest: insert the model's SQL over the new rows. -#}
    {{ log('lookalike: ' ~ this.identifier ~ ' appended: only rows newer than its latest ' ~ config.get('lookalike_append')['column'] ~ ' were added to its input (key ' ~ decision['key'][:12] ~ ')', info=true) }}
    {%- call statement('main') -%}
      {{ lookalike.lookalike_append_sql(compiled_code) }}
    {%- endcall -%}
    {%- do lookalike.lookalike_record_built(decision, 'appended') -%}
    {{ adapter.commit() }}
    {{ return({'relations': [this.incorporate(type='table')]}) }}
  {%- endif -%}
  {%- if decision['delta'] -%}
    {#- Decision 0041: every row of the table is a function of its key's rows of the input (and of
        inputs that are unchanged): replace the rows of the keys whose input rows changed. -#}
    {%- set keys = lookalike.lookalike_delta_keys_relation() -%}
    {%- call statement('lookalike_delta_keys') -%}
      create or replace table {{ keys }} as {{ lookalike.lookalike_delta_keys_sql() }}
    {%- endcall -%}
    {%- set changed = run_query('select count(*) from ' ~ keys).rows[0][0] -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' updated: ' ~ changed ~ ' ' ~ config.get('lookalike_delta')['key'] ~ ' changed in ' ~ config.get('lookalike_delta')['input'] ~ ' (key ' ~ decision['key'][:12] ~ ')', info=true) }}
    {%- call statement('lookalike_delta_delete') -%}
      delete from {{ this }} where {{ lookalike.lookalike_quote_identifier(config.get('lookalike_delta')['key']) }} in (select {{ lookalike.lookalike_quote_identifier(config.get('lookalike_delta')['key']) }} from {{ keys }})
    {%- endcall -%}
    {%- call statement('main') -%}
      {{ lookalike.lookalike_delta_insert_sql(compiled_code, keys) }}
    {%- endcall -%}
    {%- call statement('lookalike_delta_drop') -%}
      drop table if exists {{ keys }}
    {%- endcall -%}
    {%- do lookalike.lookalike_record_built(decision, 'updated') -%}
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

  {%- do lookalike.lookalike_record_built(decision) -%}
  {{ adapter.commit() }}
  {{ return(result) }}
{% endmaterialization %}
