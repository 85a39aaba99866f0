{#- Reuse of the SQL feature tables between builds (see docs/decisions/0005-feature-table-reuse.md).

    A guarded model computes an inputs key from: its own compiled SQL (so every variable and macro
    it uses), a checksum of every other relation it reads (`checksummed`: computed now, with
    lookalike_relation_checksum), the stored keys of the guarded models it reads (`upstream`), and
    the code of every model of the package. When its table exists and was built from the same key,
    the model copies its previous table instead of recomputing it. `--full-refresh` and var
    lookalike_force_retrain always recompute.

    Usage in a model:
        {{ config(post_hook="{{ lookalike.lookalike_store_inputs_key() }}") }}
        {%- set body %} ...the model's SQL... {% endset %}
        {{ lookalike.lookalike_reuse_or(body, checksummed=[ref('a')], upstream=[ref('b')]) }}
-#}

{%- macro lookalike_inputs_key(body, checksummed=[], upstream=[]) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set parts = ['body:' ~ local_md5(body)] -%}
  {%- for relation in checksummed -%}
    {%- set found = run_query(lookalike.lookalike_relation_checksum(relation)) -%}
    {%- do parts.append('input:' ~ relation.identifier ~ ':' ~ found.rows[0][0] ~ ':' ~ found.rows[0][1]) -%}
  {%- endfor -%}
  {%- for relation in upstream -%}
    {%- do parts.append('upstream:' ~ relation.identifier ~ ':' ~ (lookalike.lookalike_stored_inputs_key(relation) or 'none')) -%}
  {%- endfor -%}
  {%- set code = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.package_name == 'lookalike' and node.resource_type in ('model', 'seed') -%}
    {%- do code.append(node.unique_id ~ ':' ~ (node.raw_code if node.resource_type == 'model' else node.checksum.checksum)) -%}
  {%- endfor -%}
  {%- do parts.append('code:' ~ local_md5(code | join('\n'))) -%}
  {{ return(local_md5(parts | join('|'))) }}
{%- endmacro -%}


{%- macro lookalike_reuse_enabled() -%}
  {%- set force = var('lookalike_force_retrain', false) -%}
  {{ return(execute and not flags.FULL_REFRESH and not (force is sameas true or (force | string | lower) in ('true', '1', 'yes'))) }}
{%- endmacro -%}


{#- The model's SQL, or a copy of its previous table when that was built from the same inputs key.
    The key is kept in the model's config for the post-hook that stores it. -#}
{%- macro lookalike_reuse_or(body, checksummed=[], upstream=[]) -%}
  {%- set key = lookalike.lookalike_inputs_key(body, checksummed, upstream) -%}
  {%- if lookalike.lookalike_reuse_enabled() and key and lookalike.lookalike_stored_inputs_key(this) == key -%}
    {{- log('lookalike: ' ~ this.identifier ~ ' reused (inputs unchanged, key ' ~ key[:12] ~ ')', info=true) -}}
    {%- if config.get('materialized') == 'incremental' %}
-- lookalike: inputs key {{ key }} unchanged since the previous build: keep the previous rows.
select * from {{ this }} where false
    {%- else %}
-- lookalike: inputs key {{ key }} unchanged since the previous build: copy the previous table.
select * from {{ this }}
    {%- endif %}
  {%- else -%}
-- lookalike: inputs key {{ key }}
{{ body }}
  {%- endif -%}
{%- endmacro -%}


{#- Pre-hook of a guarded incremental model: when its inputs changed (the compiled SQL is the full
    body), empty the table inside the build's transaction, so the append that follows replaces
    every row. Nothing to do on the first build, on --full-refresh (the materialization rebuilds
    the table) or when the inputs are unchanged (the append adds no row). -#}
{%- macro lookalike_clear_if_changed() -%}
  {%- if not execute or flags.FULL_REFRESH -%}{{ return('') }}{%- endif -%}
  {%- if adapter.get_relation(this.database, this.schema, this.identifier) is none -%}{{ return('') }}{%- endif -%}
  {#- Only the leading comment lines of the compiled SQL say so (lookalike_unchanged_marker_key):
      the body holds string literals from the data (event types, categories). #}
  {%- if lookalike.lookalike_unchanged_marker_key(model.compiled_code) -%}{{ return('') }}{%- endif -%}
  {{ adapter.dispatch('lookalike_clear_table', 'lookalike')() }}
{%- endmacro -%}

{%- macro default__lookalike_clear_table() -%}
  delete from {{ this }}
{%- endmacro -%}

{#- Spark: parquet tables have no DELETE; TRUNCATE empties a managed table. Nothing is
    transactional there, so the stored key goes first: a build that fails after the truncate then
    recomputes next time instead of taking the empty table for an unchanged one. -#}
{%- macro spark__lookalike_clear_table() -%}
  {%- do run_query("alter table " ~ this ~ " unset tblproperties if exists ('lookalike_inputs_key')") -%}
  truncate table {{ this }}
{%- endmacro -%}


{%- macro lookalike_stored_inputs_key(relation) -%}
  {{ return(adapter.dispatch('lookalike_stored_inputs_key', 'lookalike')(relation)) }}
{%- endmacro -%}

{#- A DuckDB table's comment ('' when it has none or does not exist). -#}
{%- macro lookalike_table_comment(relation) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set found = run_query("select comment from duckdb_tables() where database_name = " ~ lookalike.lookalike_literal(relation.database)
      ~ " and schema_name = " ~ lookalike.lookalike_literal(relation.schema) ~ " and table_name = " ~ lookalike.lookalike_literal(relation.identifier)) -%}
  {{ return('' if found.rows | length == 0 or found.rows[0][0] is none else found.rows[0][0] | string) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_stored_inputs_key(relation) -%}
  {#- The key is 32 hex digits; "; rows ..." and "; kept by build <invocation_id>" may follow
      (lookalike_table). -#}
  {{ return(lookalike.lookalike_comment_key(lookalike.lookalike_table_comment(relation)) if execute else none) }}
{%- endmacro -%}

{%- macro spark__lookalike_stored_inputs_key(relation) -%}
  {#- A table property on Spark (the metastore keeps it with the table). -#}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}{{ return(none) }}{%- endif -%}
  {%- set found = run_query("show tblproperties " ~ relation ~ " ('lookalike_inputs_key')") -%}
  {%- if found.rows | length == 0 -%}{{ return(none) }}{%- endif -%}
  {%- set value = found.rows[0][found.rows[0] | length - 1] | string -%}
  {{ return(value if (value | length) == 32 and ' ' not in value else none) }}
{%- endmacro -%}

{%- macro default__lookalike_stored_inputs_key(relation) -%}
  {{ return(none) }}
{%- endmacro -%}


{#- Post-hook: remember the key the table was built from (a table comment on DuckDB). The key is
    read back from the compiled SQL's first line, so it is exactly the one the build used. -#}
{%- macro lookalike_store_inputs_key() -%}
  {{ return(adapter.dispatch('lookalike_store_inputs_key', 'lookalike')()) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_store_inputs_key() -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set compiled = model.compiled_code or '' -%}
  {%- set marker = '-- lookalike: inputs key ' -%}
  {%- if marker not in compiled -%}{{ return('') }}{%- endif -%}
  {%- set key = compiled.split(marker)[1][:32] -%}
  comment on table {{ this }} is 'lookalike inputs key: {{ key }}'
{%- endmacro -%}

{%- macro spark__lookalike_store_inputs_key() -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set compiled = model.compiled_code or '' -%}
  {%- set marker = '-- lookalike: inputs key ' -%}
  {%- if marker not in compiled -%}{{ return('') }}{%- endif -%}
  {%- set key = compiled.split(marker)[1][:32] -%}
  alter table {{ this }} set tblproperties ('lookalike_inputs_key' = '{{ key }}')
{%- endmacro -%}

{%- macro default__lookalike_store_inputs_key() -%}
{%- endmacro -%}


{#- The inputs key of a guarded feature table whose compiled SQL says the key is unchanged since
    the previous build (the line lookalike_reuse_or writes), else none. Only the leading comment
    lines count (a `-- depends_on:` line may come first): the body holds literals from the data. -#}
{%- macro lookalike_unchanged_marker_key(code) -%}
  {%- set found = modules.re.match('(?:[ \\t]*(?:--[^\\n]*)?\\n)*?[ \\t]*-- lookalike: inputs key ([0-9a-f]{32}) unchanged since the previous build', code or '') -%}
  {{ return(found.group(1) if found else none) }}
{%- endmacro -%}


{#- Every DuckDB table's comment, in one query: {database + newline + schema + newline + name:
    comment}. lookalike_comment_of reads it. -#}
{%- macro lookalike_table_comments() -%}
  {%- set out = {} -%}
  {%- if execute -%}
    {%- for row in run_query("select database_name, schema_name, table_name, comment from duckdb_tables() where comment is not null").rows -%}
      {%- do out.update({[row[0], row[1], row[2]] | join('\n'): row[3] | string}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(out) }}
{%- endmacro -%}

{%- macro lookalike_comment_of(comments, relation) -%}
  {{ return(comments.get([relation.database, relation.schema, relation.identifier] | join('\n'), '')) }}
{%- endmacro -%}

{#- The inputs key in a table comment ('lookalike inputs key: <32 hex digits>...'), or none. -#}
{%- macro lookalike_comment_key(comment) -%}
  {%- set found = modules.re.match('lookalike inputs key: ([0-9a-f]{32})(;|$)', comment or '') -%}
  {{ return(found.group(1) if found else none) }}
{%- endmacro -%}

{#- The row checksum in a lookalike_keep table's comment ('...; rows <n_rows>:<md5>'), or none. -#}
{%- macro lookalike_comment_rows(comment) -%}
  {%- set found = modules.re.search('; rows ([0-9]+:[0-9a-f]{32})', comment or '') -%}
  {{ return(found.group(1) if found else none) }}
{%- endmacro -%}


{#- The key of the current model's table for lookalike_table's short cut (decision 0019), or none
    when there is none to trust (then the table is built). `comments`: lookalike_table_comments().
    It folds in: the model's compiled code (so every variable and config value it reads, and the
    relation names), the library and scikit-learn versions (SQL function
    lookalike_library_version(), from the package's dbt-duckdb plugin; without the plugin there is
    no key), every upstream relation (see below), and the code of every model of the package
    (lookalike_inputs_key). A missing upstream relation gives no key. -#}
{%- macro lookalike_table_key(comments) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set has_version = run_query("select count(*) from duckdb_functions() where function_name = 'lookalike_library_version'") -%}
  {%- if has_version.rows[0][0] == 0 -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' is built every time: the SQL function lookalike_library_version() is missing (add plugin lookalike_udf.duckdb_plugin to the profile)', info=true) }}
    {{ return(none) }}
  {%- endif -%}
  {%- set library = run_query('select lookalike_library_version()').rows[0][0] -%}
  {%- set checksummed = [] -%}
  {%- set named = [] -%}
  {%- for unique_id in model.depends_on.nodes | sort -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias or node.identifier) if node else none -%}
    {%- if relation is none -%}
      {{ return(none) }}
    {%- endif -%}
    {#- A feature table guarded by lookalike_reuse_or is named by its stored key. A lookalike_keep
        table by its row checksum: the stored one when this build wrote or kept the table (it
        checked it then), else one computed now, so an edit between builds changes the key.
        Anything else by a checksum of its rows now. -#}
    {%- set comment = lookalike.lookalike_comment_of(comments, relation) -%}
    {%- set rows = lookalike.lookalike_comment_rows(comment) -%}
    {%- set stored_key = lookalike.lookalike_comment_key(comment) -%}
    {%- if rows and (comment.endswith('; built by build ' ~ invocation_id) or comment.endswith('; kept by build ' ~ invocation_id)) -%}
      {%- do named.append('rows:' ~ relation.identifier ~ ':' ~ rows) -%}
    {%- elif stored_key and not rows -%}
      {%- do named.append('upstream:' ~ relation.identifier ~ ':' ~ stored_key) -%}
    {%- else -%}
      {%- do checksummed.append(relation) -%}
    {%- endif -%}
  {%- endfor -%}
  {#- A model that reads its own previous table (lookalike_user_scores) compiles that part only once
      the table exists; it marks it, and the key leaves it out, so a second build can keep it. -#}
  {%- set code = modules.re.sub('\\s*/\\* lookalike_keep: self-read begin \\*/.*?/\\* lookalike_keep: self-read end \\*/', '', model.compiled_code, flags=modules.re.S) -%}
  {{ return(lookalike.lookalike_inputs_key(model.language ~ '\n' ~ code ~ '\nlibrary:' ~ library ~ '\n' ~ (named | join('\n')), checksummed, [])) }}
{%- endmacro -%}


{#- Whether lookalike_table kept `relation` as it was in this build (its comment names this
    invocation): lookalike_runs then reports the kept runs' actions as 'reused'. -#}
{%- macro lookalike_kept_in_this_build(relation) -%}
  {{ return(adapter.dispatch('lookalike_kept_in_this_build', 'lookalike')(relation)) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_kept_in_this_build(relation) -%}
  {{ return(execute and lookalike.lookalike_table_comment(relation).endswith('; kept by build ' ~ invocation_id)) }}
{%- endmacro -%}

{%- macro default__lookalike_kept_in_this_build(relation) -%}
  {{ return(false) }}
{%- endmacro -%}


{#- The checksum of `relation`'s rows now, '<n_rows>:<md5>' (lookalike_relation_checksum). -#}
{%- macro lookalike_rows_checksum(relation) -%}
  {%- set found = run_query(lookalike.lookalike_relation_checksum(relation)) -%}
  {{ return(found.rows[0][0] ~ ':' ~ found.rows[0][1]) }}
{%- endmacro -%}


{#- True when the serving file named by serving_path (relative to the build's database file) holds
    the one build id recorded in the serving table `relation` (decision 0019). -#}
{%- macro lookalike_serving_intact_sql(relation, serving_path) -%}
select (select count(distinct build_id) from {{ relation }}) = 1
   and lookalike_serving_build_id(
         {{ lookalike.lookalike_literal(serving_path | string) }},
         (select path from duckdb_databases() where database_name = current_database())
       ) = (select min(build_id) from {{ relation }})
{%- endmacro -%}
