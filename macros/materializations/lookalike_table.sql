{#- The table materialization of this package's models on Spark (decision 0016).

    dbt-spark's own `table` drops a parquet table before building the new one. Then a model that
    fails leaves no table at all, and a model cannot read its own previous table (the reuse of
    unchanged feature tables, models and scores, and the last good audience of a failed run, all
    need it). This one builds the new table under `<name>__lookalike_new`, and only when that
    succeeded drops the old table and renames the new one into place (a moment without the table,
    not a failed build without it). SQL and Python models alike. dbt_project.yml selects it on
    Spark only; every other adapter keeps dbt's `table`.
    Like the DuckDB one, it keeps a model with config lookalike_keep whose inputs key is unchanged
    (decision 0025, macros/lookalike_reuse.sql), SQL and Python models alike: lookalike-dbt sets
    the library version that Python models' keys need (spark__lookalike_library_version). Without it
    (plain dbt on Databricks) Python models are built every time and reuse runs inside them. -#}
{% materialization lookalike_table, adapter='spark', supported_languages=['sql', 'python'] %}
  {%- set language = model['language'] -%}
  {%- set identifier = model['alias'] -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
  {%- set target_relation = api.Relation.create(identifier=identifier, schema=schema, database=database, type='table') -%}
  {%- set new_relation = api.Relation.create(identifier=identifier ~ '__lookalike_new', schema=schema, database=database, type='table') -%}

  {%- set decision = lookalike.lookalike_keep_decision() -%}
  {%- if decision['keep'] -%}
    {{ log('lookalike: ' ~ identifier ~ ' kept: its inputs are unchanged since it was built (key ' ~ decision['key'][:12] ~ ')', info=true) }}
    {%- call statement('main') -%} select 1 {%- endcall -%}
    {%- do lookalike.lookalike_record_state('kept', decision['key'], decision['rows']) -%}
    {{ return({'relations': [target_relation]}) }}
  {%- endif -%}

  {#- A leftover of a build that stopped between the two steps. dbt's relation cache lists the
      schema's tables at the start of the build, so only a leftover costs a statement (a
      `drop table if exists` before every built model cost about 0.06 s each on Spark). -#}
  {%- set leftover = adapter.get_relation(database=database, schema=schema, identifier=identifier ~ '__lookalike_new') -%}
  {% if leftover is not none %}
    {% do adapter.drop_relation(leftover) %}
  {% endif %}

  {{ run_hooks(pre_hooks) }}

  {%- call statement('main', language=language) -%}
    {{ create_table_as(False, new_relation, compiled_code, language) }}
  {%- endcall -%}

  {% if old_relation is not none %}
    {% do adapter.drop_relation(old_relation) %}
  {% endif %}
  {% do adapter.rename_relation(new_relation, target_relation) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {%- do lookalike.lookalike_record_built(decision) -%}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
