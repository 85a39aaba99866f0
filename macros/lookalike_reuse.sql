{#- One reuse layer for the package's tables (decision 0025; it replaces the table-comment keys of
    decision 0019 and the guarded feature tables of decision 0005).

    A model with config `lookalike_keep: true` is kept as it is, without a statement, when its
    inputs key equals the key stored when its table was built. The key (lookalike_node_key) is
    derived from what dbt knows the model reads, never from a hand-written list:
      - its compiled code (so every variable and config value it reads, and the relation names);
      - the library and scikit-learn versions (SQL function lookalike_library_version() of the
        package's dbt-duckdb plugin; a Python model gets no key without it, a SQL model needs none);
      - every node in `model.depends_on.nodes` (refs, sources, `-- depends_on:` lines), named by
          * its stored row checksum when this build wrote or kept it (checked then),
          * its stored key when it is a keep table that stores no row checksum
            (`lookalike_keep_check_rows: false`: the large feature tables, whose checksum would
            cost more than the check is worth),
          * otherwise a checksum of its rows now (lookalike_relation_checksum), so an edit between
            builds reaches every model downstream;
      - the code of every model and seed of the package.
    Keys live in one relation, `lookalike_build_state` in the target schema (one row per table
    written or kept, per build), not in table comments. lookalike_runs reads it as data to report
    runs whose models or scores this build kept as 'reused'. -#}


{%- macro lookalike_build_state_relation() -%}
  {{ return(api.Relation.create(database=target.get('database'), schema=target.schema, identifier='lookalike_build_state', type='table')) }}
{%- endmacro -%}


{#- The name a relation is recorded under in lookalike_build_state: its parts, unquoted, joined by
    dots (stable across adapters' quoting policies; the database only where the adapter names it). -#}
{%- macro lookalike_state_name(relation) -%}
  {%- set parts = [relation.database] if (relation.include_policy.database and relation.database) else [] -%}
  {%- do parts.extend([relation.schema, relation.identifier]) -%}
  {{ return(parts | join('.')) }}
{%- endmacro -%}


{#- on-run-start: create lookalike_build_state when missing (and its schema), and forget rows older
    than 30 days that no longer describe a table's latest build. Returns no SQL. -#}
{%- macro lookalike_create_build_state() -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set state = lookalike.lookalike_build_state_relation() -%}
  {%- do adapter.create_schema(api.Relation.create(database=state.database, schema=state.schema)) -%}
  {%- set text = dbt.type_string() -%}
  {%- do run_query(adapter.dispatch('lookalike_create_build_state_sql', 'lookalike')(state, text)) -%}
  {%- do adapter.dispatch('lookalike_prune_build_state', 'lookalike')(state) -%}
  {{ return('') }}
{%- endmacro -%}

{%- macro default__lookalike_create_build_state_sql(state, text) -%}
create table if not exists {{ state }} (
    relation_name {{ text }},
    invocation_id {{ text }},
    action {{ text }},
    inputs_key {{ text }},
    rows_checksum {{ text }},
    recorded_at {{ dbt.type_timestamp() }}
)
{%- endmacro -%}

{%- macro spark__lookalike_create_build_state_sql(state, text) -%}
{{ lookalike.default__lookalike_create_build_state_sql(state, text) }} using parquet
{%- endmacro -%}

{%- macro default__lookalike_prune_build_state(state) -%}
  {%- do run_query("delete from " ~ state ~ " where recorded_at < " ~ dbt.dateadd('day', -30, dbt.current_timestamp())
      ~ " and recorded_at < (select max(newer.recorded_at) from " ~ state ~ " as newer where newer.relation_name = " ~ state ~ ".relation_name)") -%}
{%- endmacro -%}

{#- DuckDB: the delete, committed at once (the on-run-start hook's connection holds the transaction). -#}
{%- macro duckdb__lookalike_prune_build_state(state) -%}
  {%- do lookalike.default__lookalike_prune_build_state(state) -%}
  {%- do adapter.commit() -%}
{%- endmacro -%}

{#- Spark's parquet tables have no DELETE: the state grows by a row per kept table and build. -#}
{%- macro spark__lookalike_prune_build_state(state) -%}
{%- endmacro -%}


{#- The latest recorded row of every relation: {state name: {invocation_id, action, inputs_key,
    rows_checksum}}. One query. -#}
{%- macro lookalike_build_state() -%}
  {%- set out = {} -%}
  {%- if not execute -%}{{ return(out) }}{%- endif -%}
  {%- set state = lookalike.lookalike_build_state_relation() -%}
  {#- No adapter.get_relation here: dbt's relation cache was filled before on-run-start created the
      table, so it would miss it on a first build. #}
  {%- set found = run_query("select relation_name, invocation_id, action, inputs_key, rows_checksum from ("
      ~ "select s.*, row_number() over (partition by relation_name order by recorded_at desc) as lookalike_rank from " ~ state ~ " as s"
      ~ ") as latest where lookalike_rank = 1") -%}
  {%- for row in found.rows -%}
    {%- do out.update({row[0]: {'invocation_id': row[1], 'action': row[2], 'inputs_key': row[3], 'rows_checksum': row[4]}}) -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro -%}


{#- Record what this build did with the current model's table: action 'built' or 'kept', the key it
    was built from (none: build it again next time) and its row checksum (none: not checked). -#}
{%- macro lookalike_record_state(action, key, rows) -%}
  {%- set state = lookalike.lookalike_build_state_relation() -%}
  {%- set values = [lookalike.lookalike_state_name(this), invocation_id, action, key, rows] -%}
  {%- set literals = [] -%}
  {%- for value in values -%}
    {%- do literals.append('cast(null as ' ~ dbt.type_string() ~ ')' if value is none else lookalike.lookalike_literal(value | string)) -%}
  {%- endfor -%}
  {%- call statement('lookalike_record_state') -%}
    insert into {{ state }} (relation_name, invocation_id, action, inputs_key, rows_checksum, recorded_at)
    select {{ literals | join(', ') }}, {{ dbt.current_timestamp() }}
  {%- endcall -%}
{%- endmacro -%}


{%- macro lookalike_reuse_enabled() -%}
  {%- set force = var('lookalike_force_retrain', false) -%}
  {{ return(execute and not flags.FULL_REFRESH and not (force is sameas true or (force | string | lower) in ('true', '1', 'yes'))) }}
{%- endmacro -%}


{#- The library and scikit-learn versions, or none when the engine has no lookalike_library_version()
    (a DuckDB profile without the package's plugin; Spark without lookalike-dbt). -#}
{%- macro lookalike_library_version() -%}
  {{ return(adapter.dispatch('lookalike_library_version', 'lookalike')()) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_library_version() -%}
  {%- set has_version = run_query("select count(*) from duckdb_functions() where function_name = 'lookalike_library_version'") -%}
  {%- if has_version.rows[0][0] == 0 -%}{{ return(none) }}{%- endif -%}
  {{ return(run_query('select lookalike_library_version()').rows[0][0]) }}
{%- endmacro -%}

{#- Spark: lookalike-dbt (lookalike_udf/spark_dbt.py) sets LOOKALIKE_LIBRARY_VERSION in the process that
    runs both dbt and the Python models, so the version in the key is the one that fits and scores.
    Plain dbt on Databricks does not set it: its Python models are built every time. -#}
{%- macro spark__lookalike_library_version() -%}
  {%- set version = env_var('LOOKALIKE_LIBRARY_VERSION', '') -%}
  {{ return(version if version else none) }}
{%- endmacro -%}

{%- macro default__lookalike_library_version() -%}
  {{ return(none) }}
{%- endmacro -%}

{#- Whether this warehouse's population scoring can score part of a run (decision 0036): the
    engine's Engine.partial_scoring, seen from SQL (int_lookalike__population_feature_hashes is
    empty where it cannot, so it costs no scan). -#}
{%- macro lookalike_scores_in_part() -%}
  {{ return(adapter.dispatch('lookalike_scores_in_part', 'lookalike')()) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_scores_in_part() -%}
  {{ return(true) }}
{%- endmacro -%}

{%- macro default__lookalike_scores_in_part() -%}
  {{ return(false) }}
{%- endmacro -%}

{#- Why lookalike_library_version() gave none, and the fix (the log line of a Python model that is
    built every time). -#}
{%- macro lookalike_library_version_missing() -%}
  {{ return(adapter.dispatch('lookalike_library_version_missing', 'lookalike')()) }}
{%- endmacro -%}

{%- macro spark__lookalike_library_version_missing() -%}
  {{ return('LOOKALIKE_LIBRARY_VERSION is not set (build with lookalike-dbt, which sets it)') }}
{%- endmacro -%}

{%- macro default__lookalike_library_version_missing() -%}
  {{ return('the SQL function lookalike_library_version() is missing (add plugin lookalike_udf.duckdb_plugin to the profile)') }}
{%- endmacro -%}


{#- The current model's inputs key (see the top of this file), or none when there is none to trust:
    a Python model without the library version, or a relation it reads that does not exist.
    `state`: lookalike_build_state(). -#}
{%- macro lookalike_node_key(state) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set library = lookalike.lookalike_library_version() -%}
  {%- if library is none and model.language == 'python' -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' is built every time: ' ~ lookalike.lookalike_library_version_missing(), info=true) }}
    {{ return(none) }}
  {%- endif -%}
  {%- set parts = [] -%}
  {%- for unique_id in model.depends_on.nodes | sort -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias or node.identifier) if node else none -%}
    {%- if relation is none -%}{{ return(none) }}{%- endif -%}
    {%- set entry = state.get(lookalike.lookalike_state_name(relation)) -%}
    {%- set recorded = entry is not none and entry['action'] in ('built', 'kept') and entry['inputs_key'] -%}
    {%- if recorded and entry['rows_checksum'] and entry['invocation_id'] == invocation_id -%}
      {%- do parts.append('rows:' ~ relation.identifier ~ ':' ~ entry['rows_checksum']) -%}
    {%- elif recorded and not entry['rows_checksum'] -%}
      {%- do parts.append('key:' ~ relation.identifier ~ ':' ~ entry['inputs_key']) -%}
    {%- else -%}
      {%- set found = run_query(lookalike.lookalike_relation_checksum(relation)) -%}
      {%- do parts.append('checksum:' ~ relation.identifier ~ ':' ~ found.rows[0][0] ~ ':' ~ found.rows[0][1]) -%}
    {%- endif -%}
  {%- endfor -%}
  {#- A model that reads its own previous table (lookalike_user_scores) compiles that part only once
      the table exists; it marks it, and the key leaves it out, so a second build can keep it. -#}
  {%- set code = modules.re.sub('\\s*/\\* lookalike_keep: self-read begin \\*/.*?/\\* lookalike_keep: self-read end \\*/', '', model.compiled_code or '', flags=modules.re.S) -%}
  {%- set package_code = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.package_name == 'lookalike' and node.resource_type in ('model', 'seed') -%}
    {%- do package_code.append(node.unique_id ~ ':' ~ (node.raw_code if node.resource_type == 'model' else node.checksum.checksum)) -%}
  {%- endfor -%}
  {%- set pieces = [model.language, local_md5(code), 'library:' ~ library, parts | join('\n'), 'code:' ~ local_md5(package_code | join('\n'))] -%}
  {{ log('lookalike: inputs key of ' ~ this.identifier ~ ' from: ' ~ (pieces | join(' | ')), info=false) }}
  {{ return(local_md5(pieces | join('|'))) }}
{%- endmacro -%}


{#- Whether the current model's table can be kept as it is: {'keep', 'key', 'rows'}. A model without
    config lookalike_keep, or with no key, is always built. -#}
{%- macro lookalike_keep_decision() -%}
  {%- set decision = {'keep': false, 'key': none, 'rows': none} -%}
  {%- if not config.get('lookalike_keep', false) -%}{{ return(decision) }}{%- endif -%}
  {%- set state = lookalike.lookalike_build_state() -%}
  {%- set key = lookalike.lookalike_node_key(state) -%}
  {%- do decision.update({'key': key}) -%}
  {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
  {%- set entry = state.get(lookalike.lookalike_state_name(this)) -%}
  {%- if key and existing is not none and existing.is_table and entry is not none and lookalike.lookalike_reuse_enabled()
        and entry['action'] in ('built', 'kept') and entry['inputs_key'] == key -%}
    {%- if config.get('lookalike_keep_check_rows', true) -%}
      {#- Kept only if untouched: an edited table (a hand-edited model_json) is built again. -#}
      {%- do decision.update({'keep': entry['rows_checksum'] is not none and lookalike.lookalike_rows_checksum(this) == entry['rows_checksum'],
                              'rows': entry['rows_checksum']}) -%}
    {%- else -%}
      {%- do decision.update({'keep': true}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(decision) }}
{%- endmacro -%}


{#- After the current model's table was built: record the key it was built from, unless a row
    matches config lookalike_keep_unless (a failure marker): then no key, so the next build builds
    it again. -#}
{%- macro lookalike_record_built(decision) -%}
  {%- if not config.get('lookalike_keep', false) -%}{{ return('') }}{%- endif -%}
  {%- set key = decision['key'] -%}
  {%- set rows = none -%}
  {%- set unless = config.get('lookalike_keep_unless') -%}
  {%- if key and unless and run_query('select count(*) from ' ~ this ~ ' where ' ~ unless).rows[0][0] > 0 -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' will be built again next time (a row matches ' ~ unless ~ ')', info=true) }}
    {%- set key = none -%}
  {%- endif -%}
  {%- if key and config.get('lookalike_keep_check_rows', true) -%}
    {%- set rows = lookalike.lookalike_rows_checksum(this) -%}
  {%- endif -%}
  {%- do lookalike.lookalike_record_state('built', key, rows) -%}
{%- endmacro -%}


{#- The checksum of `relation`'s rows now, '<n_rows>:<md5>' (lookalike_relation_checksum). -#}
{%- macro lookalike_rows_checksum(relation) -%}
  {%- set found = run_query(lookalike.lookalike_relation_checksum(relation)) -%}
  {{ return(found.rows[0][0] ~ ':' ~ found.rows[0][1]) }}
{%- endmacro -%}


{#- SQL: 1 when this build kept `relation` as it was (a row of lookalike_build_state), else 0.
    lookalike_runs reads it to report the kept runs' actions as 'reused'. -#}
{%- macro lookalike_kept_in_this_build_sql(relation) -%}
(select count(*) from {{ lookalike.lookalike_build_state_relation() }}
 where relation_name = {{ lookalike.lookalike_literal(lookalike.lookalike_state_name(relation)) }}
   and invocation_id = {{ lookalike.lookalike_literal(invocation_id) }}
   and action = 'kept')
{%- endmacro -%}


{#- True when the serving file named by serving_path (relative to the build's database file) holds
    the one build id recorded in the serving table `relation` (decision 0019). DuckDB only: the
    serving file is a DuckDB file, read by the plugin's SQL function lookalike_serving_build_id()
    (called from the DuckDB lookalike_table materialization). -#}
{%- macro lookalike_serving_intact_sql(relation, serving_path) -%}
  {{ return(adapter.dispatch('lookalike_serving_intact_sql', 'lookalike')(relation, serving_path)) }}
{%- endmacro -%}

{%- macro default__lookalike_serving_intact_sql(relation, serving_path) -%}
  {{ exceptions.raise_compiler_error("lookalike_serving_intact_sql has no implementation for the adapter '" ~ adapter.type() ~ "'. Add a "
      ~ adapter.type() ~ "__lookalike_serving_intact_sql macro (SQL giving true when the serving file at serving_path still holds the one build id of the serving table), or leave the serving model (var lookalike_serving) off on this adapter.") }}
{%- endmacro -%}

{%- macro duckdb__lookalike_serving_intact_sql(relation, serving_path) -%}
select (select count(distinct build_id) from {{ relation }}) = 1
   and lookalike_serving_build_id(
         {{ lookalike.lookalike_literal(serving_path | string) }},
         (select path from duckdb_databases() where database_name = current_database())
       ) = (select min(build_id) from {{ relation }})
{%- endmacro -%}
