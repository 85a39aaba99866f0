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


{#- Record what this build did with the current model's table: action 'built', 'kept' or 'appended', the key it
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
  {{ return(lookalike.lookalike_node_keys(state, none)['key']) }}
{%- endmacro -%}


{#- The inputs key, and with `upto` ({'input': a model name the current model reads, 'column',
    'bound': a SQL scalar}) also the key the same inputs would give if that input held only its
    rows with `column` at or before `bound` (both from one scan of it, lookalike_relation_checksum_upto;
    decision 0039). Returns {'key', 'upto_key'}; upto_key is none without `upto`, or when that input
    is named by a recorded checksum or key rather than by its rows.
    Config lookalike_key_checksums ({input model name: macro name}) names an input by a narrower
    checksum: that macro of the package (it may dispatch), given the input's relation and every input ({name: relation}),
    returns SQL of one row (n_rows, checksum) covering all of that input the model's output can
    depend on (int_lookalike__training_points: the snapshot keys up to its latest as-of time). -#}
{%- macro lookalike_node_keys(state, upto, leave_out=none) -%}
  {%- set out = {'key': none, 'upto_key': none, 'other_key': none} -%}
  {%- if not execute -%}{{ return(out) }}{%- endif -%}
  {%- set library = lookalike.lookalike_library_version() -%}
  {%- if library is none and model.language == 'python' -%}
    {{ log('lookalike: ' ~ this.identifier ~ ' is built every time: ' ~ lookalike.lookalike_library_version_missing(), info=true) }}
    {{ return(out) }}
  {%- endif -%}
  {%- set inputs = {} -%}
  {%- for unique_id in model.depends_on.nodes | sort -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias or node.identifier) if node else none -%}
    {%- if relation is none -%}{{ return(out) }}{%- endif -%}
    {%- do inputs.update({unique_id: {'name': node.name, 'relation': relation}}) -%}
  {%- endfor -%}
  {%- set by_name = {} -%}
  {%- for found in inputs.values() -%}{%- do by_name.update({found['name']: found['relation']}) -%}{%- endfor -%}
  {%- set narrow = config.get('lookalike_key_checksums') or {} -%}
  {%- set parts = [] -%}
  {%- set upto_parts = [] if upto else none -%}
  {%- set other_parts = [] -%}
  {%- for unique_id in inputs | sort -%}
    {%- set name = inputs[unique_id]['name'] -%}
    {%- set relation = inputs[unique_id]['relation'] -%}
    {%- set entry = state.get(lookalike.lookalike_state_name(relation)) -%}
    {%- set recorded = entry is not none and entry['action'] in lookalike.lookalike_recorded_actions() and entry['inputs_key'] -%}
    {%- if name in narrow -%}
      {%- set found = run_query(lookalike[narrow[name]](relation, by_name)) -%}
      {%- set part = 'narrow:' ~ relation.identifier ~ ':' ~ narrow[name] ~ ':' ~ found.rows[0][0] ~ ':' ~ found.rows[0][1] -%}
    {%- elif recorded and entry['rows_checksum'] and entry['invocation_id'] == invocation_id -%}
      {%- set part = 'rows:' ~ relation.identifier ~ ':' ~ entry['rows_checksum'] -%}
    {%- elif recorded and not entry['rows_checksum'] -%}
      {%- set part = 'key:' ~ relation.identifier ~ ':' ~ entry['inputs_key'] -%}
    {%- elif upto and name == upto['input'] -%}
      {%- set found = run_query(lookalike.lookalike_relation_checksum_upto(relation, upto['column'], upto['bound'])) -%}
      {%- set part = 'checksum:' ~ relation.identifier ~ ':' ~ found.rows[0][0] ~ ':' ~ found.rows[0][1] -%}
      {%- do upto_parts.append('checksum:' ~ relation.identifier ~ ':' ~ found.rows[0][2] ~ ':' ~ found.rows[0][3]) -%}
    {%- else -%}
      {%- set found = run_query(lookalike.lookalike_relation_checksum(relation)) -%}
      {%- set part = 'checksum:' ~ relation.identifier ~ ':' ~ found.rows[0][0] ~ ':' ~ found.rows[0][1] -%}
    {%- endif -%}
    {%- do parts.append(part) -%}
    {#- The cut input adds its part to upto_parts above, only when named by its rows; a part short
        leaves no upto_key. -#}
    {%- if upto and name != upto['input'] -%}{%- do upto_parts.append(part) -%}{%- endif -%}
    {%- if name != leave_out -%}{%- do other_parts.append(part) -%}{%- endif -%}
  {%- endfor -%}
  {#- A model that reads its own previous table (lookalike_user_scores) compiles that part only once
      the table exists; it marks it, and the key leaves it out, so a second build can keep it. -#}
  {%- set code = modules.re.sub('\\s*/\\* lookalike_keep: self-read begin \\*/.*?/\\* lookalike_keep: self-read end \\*/', '', model.compiled_code or '', flags=modules.re.S) -%}
  {%- set package_code = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.package_name == 'lookalike' and node.resource_type in ('model', 'seed') -%}
    {%- do package_code.append(node.unique_id ~ ':' ~ (node.raw_code if node.resource_type == 'model' else node.checksum.checksum)) -%}
  {%- endfor -%}
  {%- set head = [model.language, local_md5(code), 'library:' ~ library] -%}
  {%- set tail = 'code:' ~ local_md5(package_code | join('\n')) -%}
  {%- set pieces = head + [parts | join('\n'), tail] -%}
  {{ log('lookalike: inputs key of ' ~ this.identifier ~ ' from: ' ~ (pieces | join(' | ')), info=false) }}
  {%- do out.update({'key': local_md5(pieces | join('|'))}) -%}
  {%- if upto_parts is not none and upto_parts | length == parts | length -%}
    {%- do out.update({'upto_key': local_md5((head + [upto_parts | join('\n'), tail]) | join('|'))}) -%}
  {%- endif -%}
  {%- if leave_out -%}
    {%- do out.update({'other_key': local_md5((head + ['without:' ~ leave_out, other_parts | join('\n'), tail]) | join('|'))}) -%}
  {%- endif -%}
  {{ return(out) }}
{%- endmacro -%}


{#- The actions of lookalike_build_state after which a table holds what its inputs_key describes:
    built whole, kept as it was, or given its input's new rows (decision 0039). -#}
{%- macro lookalike_recorded_actions() -%}
  {{ return(['built', 'kept', 'appended', 'updated']) }}
{%- endmacro -%}


{#- Whether this warehouse's lookalike_table can append an input's new rows to the previous table
    instead of building it whole (config lookalike_append, decision 0039). Elsewhere such a model is
    built whole when its input changed, as every other model. -#}
{%- macro lookalike_appends_new_rows() -%}
  {{ return(adapter.dispatch('lookalike_appends_new_rows', 'lookalike')()) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_appends_new_rows() -%}
  {{ return(true) }}
{%- endmacro -%}

{%- macro default__lookalike_appends_new_rows() -%}
  {{ return(false) }}
{%- endmacro -%}


{#- The place, in a model with config lookalike_append ({'input', 'column'}), where its input is
    read: `select * from {{ ref(input) }} {{ lookalike.lookalike_append_filter() }}`. A comment in the
    compiled code (so the key and a whole build are unaffected); the append path of lookalike_table
    puts the filter for the new rows there (decision 0039). -#}
{%- macro lookalike_append_filter() -%}
/* lookalike_append: new rows only */
{%- endmacro -%}


{#- Whether the current model's table can be kept as it is, or given its input's new rows:
    {'keep', 'append', 'key', 'rows'}. A model without config lookalike_keep, or with no key, is
    always built.
    Append (config lookalike_append: {'input': model name, 'column'}; where lookalike_appends_new_rows):
    when the table exists with a recorded key, and that key equals the key the inputs give now if
    the input is cut to its rows with `column` at or before the table's latest `column` (W), then
    every row the previous build read is still there, unchanged, and every other row is after W.
    A model whose output is the union, over the distinct values of `column`, of a function of
    the input rows with that value (int_lookalike__user_snapshots: deduplicated per user and
    snapshot_at) then equals the previous table plus its SQL over the rows after W. -#}
{%- macro lookalike_keep_decision() -%}
  {%- set decision = {'keep': false, 'append': false, 'delta': false, 'key': none, 'rows': none} -%}
  {%- if not config.get('lookalike_keep', false) -%}{{ return(decision) }}{%- endif -%}
  {%- set state = lookalike.lookalike_build_state() -%}
  {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
  {%- set entry = state.get(lookalike.lookalike_state_name(this)) -%}
  {%- set reusable = existing is not none and existing.is_table and entry is not none and lookalike.lookalike_reuse_enabled()
        and entry['action'] in lookalike.lookalike_recorded_actions() and entry['inputs_key'] -%}
  {%- set append = config.get('lookalike_append') -%}
  {%- set upto = none -%}
  {%- if append and reusable and model.language == 'sql' and lookalike.lookalike_appends_new_rows() -%}
    {%- set column = lookalike.lookalike_quote_identifier(append['column']) -%}
    {%- if run_query('select max(' ~ column ~ ') is not null from ' ~ this).rows[0][0] -%}
      {%- set upto = {'input': append['input'], 'column': append['column'], 'bound': 'select max(' ~ column ~ ') from ' ~ this} -%}
    {%- endif -%}
  {%- endif -%}
  {#- Config lookalike_delta (decision 0041; where lookalike_appends_new_rows): with 'after', the
      input is cut at the table's latest `after` as for an append; with 'compare', the key is also
      computed without that input (other_key) and recorded beside the whole key ('<key>/<other>'). -#}
  {%- set delta = config.get('lookalike_delta') if model.language == 'sql' and lookalike.lookalike_appends_new_rows() else none -%}
  {%- if delta -%}
    {{ return(lookalike.lookalike_delta_decision(decision, state, entry, reusable, delta)) }}
  {%- endif -%}
  {%- set keys = lookalike.lookalike_node_keys(state, upto) -%}
  {%- set key = keys['key'] -%}
  {%- do decision.update({'key': key}) -%}

  {%- if key and reusable and entry['inputs_key'] == key -%}
    {%- if config.get('lookalike_keep_check_rows', true) -%}
      {#- Kept only if untouched: an edited table (a hand-edited model_json) is built again. -#}
      {%- do decision.update({'keep': entry['rows_checksum'] is not none and lookalike.lookalike_rows_checksum(this) == entry['rows_checksum'],
                              'rows': entry['rows_checksum']}) -%}
    {%- else -%}
      {%- do decision.update({'keep': true}) -%}
    {%- endif -%}
  {%- elif key and append and upto and keys['upto_key'] and keys['upto_key'] == entry['inputs_key'] -%}
    {%- if config.get('lookalike_keep_check_rows', true) -%}
      {%- do decision.update({'append': entry['rows_checksum'] is not none and lookalike.lookalike_rows_checksum(this) == entry['rows_checksum']}) -%}
    {%- else -%}
      {%- do decision.update({'append': true}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(decision) }}
{%- endmacro -%}


{#- lookalike_keep_decision for a model with config lookalike_delta (decision 0041; DuckDB):
    {'input': a model it reads, 'key': a column, and 'after': a column, or 'compare': 'columns' /
    'row_hash'}. Each row of the table is a function of its key's rows of that input and of the
    model's other inputs and code. The recorded inputs key is '<key>/<other>[/<input rows>]':
    the usual key, the key without that input, and with 'after' the input's row checksum (n_rows:checksum).
    - keep: the usual key is unchanged (and, with lookalike_keep_check_rows, the rows untouched);
      the recorded parts are kept as they are (the input is unchanged, by its recorded key).
    - delta ('after'): the other inputs and the code are unchanged and the input cut to its rows
      with `after` at or before the table's latest `after` (W) has the recorded row checksum: the
      input only gained rows after W. The keys with such rows are replaced.
    - delta ('compare'): the other inputs and the code are unchanged: the keys whose input row
      differs from the table's are replaced (lookalike_delta_keys_sql).
    Otherwise built whole. The input's row checksum is computed only when the table is not kept. -#}
{%- macro lookalike_delta_decision(decision, state, entry, reusable, delta) -%}
  {%- set keys = lookalike.lookalike_node_keys(state, none, delta['input']) -%}
  {%- set key = keys['key'] -%}
  {%- if not key -%}{{ return(decision) }}{%- endif -%}
  {%- set recorded = (entry['inputs_key'] or '').split('/') if reusable else [] -%}
  {%- set untouched = not config.get('lookalike_keep_check_rows', true) -%}
  {%- if recorded and recorded[0] == key -%}
    {%- set untouched = untouched or (entry['rows_checksum'] is not none and lookalike.lookalike_rows_checksum(this) == entry['rows_checksum']) -%}
    {%- if untouched -%}
      {%- do decision.update({'keep': true, 'key': entry['inputs_key'], 'rows': entry['rows_checksum']}) -%}
      {{ return(decision) }}
    {%- endif -%}
  {%- endif -%}
  {%- set other = recorded | length >= 2 and recorded[1] == keys['other_key'] -%}
  {%- if delta.get('after') -%}
    {%- set input = ref(delta['input']) -%}
    {%- set column = lookalike.lookalike_quote_identifier(delta['after']) -%}
    {%- set bound = 'select max(' ~ column ~ ') from ' ~ this -%}
    {%- if other and recorded | length == 3 and run_query('select (' ~ bound ~ ') is not null').rows[0][0] -%}
      {%- set found = run_query(lookalike.lookalike_relation_checksum_upto(input, delta['after'], bound)).rows[0] -%}
      {%- set other = recorded[2] == found[2] ~ ':' ~ found[3] -%}
    {%- else -%}
      {%- set found = run_query(lookalike.lookalike_relation_checksum(input)).rows[0] -%}
      {%- set other = false -%}
    {%- endif -%}
    {%- do decision.update({'key': key ~ '/' ~ keys['other_key'] ~ '/' ~ found[0] ~ ':' ~ found[1]}) -%}
  {%- else -%}
    {%- do decision.update({'key': key ~ '/' ~ keys['other_key']}) -%}
  {%- endif -%}
  {%- if other -%}
    {%- do decision.update({'delta': untouched or (entry['rows_checksum'] is not none and lookalike.lookalike_rows_checksum(this) == entry['rows_checksum'])}) -%}
  {%- endif -%}
  {{ return(decision) }}
{%- endmacro -%}


{#- The append path's SQL: the model's compiled code with its input cut to the rows after the
    table's latest `column` (at lookalike_append_filter), inserted by column name. -#}
{%- macro lookalike_append_sql(compiled) -%}
  {%- set append = config.get('lookalike_append') -%}
  {%- set marker = lookalike.lookalike_append_filter() | trim -%}
  {%- if compiled.count(marker) != 1 -%}
    {{ exceptions.raise_compiler_error('lookalike: ' ~ this.identifier ~ ' has config lookalike_append but its SQL holds lookalike.lookalike_append_filter() '
        ~ compiled.count(marker) ~ ' times (once: where it reads ' ~ append['input'] ~ ')') }}
  {%- endif -%}
  {%- set column = lookalike.lookalike_quote_identifier(append['column']) -%}
  {%- set filter = 'where ' ~ column ~ ' > (select max(' ~ column ~ ') from ' ~ this ~ ')' -%}
insert into {{ this }} by name
{{ compiled.replace(marker, filter) }}
{%- endmacro -%}


{#- The place, in a model with config lookalike_delta ({'input', 'key', ...}), where a relation is
    read whose rows can be restricted to the keys that changed (decision 0041): `where
    {{ lookalike.lookalike_delta_keys_filter('e.user_id') }}`, `column` naming the key there. It is
    `(true)` with a comment in a whole build; the delta path of lookalike_table replaces every such
    place with `(<column> in (<the changed keys>))`. -#}
{%- macro lookalike_delta_keys_filter(column) -%}
(true /* lookalike_delta_keys: {{ column }} */)
{%- endmacro -%}


{#- The relation that holds the changed keys during the current model's delta path. -#}
{%- macro lookalike_delta_keys_relation() -%}
  {{ return(this.incorporate(path={'identifier': this.identifier ~ '__lookalike_delta_keys'}, type='table')) }}
{%- endmacro -%}


{#- A 64-bit hash of the named columns of each row (sorted by name), for config lookalike_delta's
    compare 'row_hash': the model stores it, the delta path compares it with the input's. -#}
{%- macro lookalike_row_hash(columns) -%}
  {{ return(adapter.dispatch('lookalike_row_hash', 'lookalike')(columns)) }}
{%- endmacro -%}

{%- macro duckdb__lookalike_row_hash(columns) -%}
hash({% for c in columns | sort %}{{ lookalike.lookalike_quote_identifier(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro -%}

{%- macro default__lookalike_row_hash(columns) -%}
xxhash64({% for c in columns | sort %}{{ lookalike.lookalike_quote_identifier(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro -%}


{#- The columns of config lookalike_delta's input that the 'row_hash' comparison covers: all but the
    key and the config's `ignore` list. -#}
{%- macro lookalike_delta_hashed_columns(relation) -%}
  {%- set delta = config.get('lookalike_delta') -%}
  {%- set skip = [delta['key']] + (delta.get('ignore') or []) -%}
  {{ return(lookalike.lookalike_input_columns(relation).keys() | reject('in', skip) | sort | list) }}
{%- endmacro -%}


{#- The keys whose rows the current model's delta path replaces (decision 0041), as SQL of one
    column named like the key:
      'after': the keys with an input row after the table's latest `after` (the input only gained
               such rows: lookalike_keep_decision checked it);
      'compare': 'columns': the keys whose input row differs from this table's row in any column
               the input has (or that only one side has);
      'compare': 'row_hash': the keys whose input row's lookalike_row_hash differs from the
               table's row_hash column (or that only one side has). -#}
{%- macro lookalike_delta_keys_sql() -%}
  {%- set delta = config.get('lookalike_delta') -%}
  {%- set input = ref(delta['input']) -%}
  {%- set key = lookalike.lookalike_quote_identifier(delta['key']) -%}
  {%- if delta.get('after') -%}
    {%- set column = lookalike.lookalike_quote_identifier(delta['after']) -%}
select distinct {{ key }} from {{ input }} where {{ column }} > (select max({{ column }}) from {{ this }})
  {%- else -%}
    {%- if delta['compare'] == 'columns' -%}
      {%- set columns = lookalike.lookalike_input_columns(input).keys() | reject('in', [delta['key']]) | sort | list -%}
    {%- else -%}
      {%- set columns = ['row_hash'] -%}
    {%- endif -%}
select coalesce(n.{{ key }}, o.{{ key }}) as {{ key }}
from (
    select {{ key }}{% for c in columns %}, {% if delta['compare'] == 'row_hash' %}{{ lookalike.lookalike_row_hash(lookalike.lookalike_delta_hashed_columns(input)) }} as row_hash{% else %}{{ lookalike.lookalike_quote_identifier(c) }}{% endif %}{% endfor %}
    from {{ input }}
) as n
full outer join (
    select {{ key }}{% for c in columns %}, {{ lookalike.lookalike_quote_identifier(c) }}{% endfor %}
    from {{ this }}
) as o
    on n.{{ key }} = o.{{ key }}
where n.{{ key }} is null or o.{{ key }} is null
    {%- for c in columns %}
    or n.{{ lookalike.lookalike_quote_identifier(c) }} is distinct from o.{{ lookalike.lookalike_quote_identifier(c) }}
    {%- endfor %}
  {%- endif -%}
{%- endmacro -%}


{#- The delta path's SQL: the model's compiled code with every lookalike_delta_keys_filter replaced
    by a semi-join on the changed keys (`keys`: their relation), inserted by column name. -#}
{%- macro lookalike_delta_insert_sql(compiled, keys) -%}
  {%- set delta = config.get('lookalike_delta') -%}
  {%- set pattern = '\\(true /\\* lookalike_delta_keys: (.+?) \\*/\\)' -%}
  {%- if modules.re.search(pattern, compiled) is none -%}
    {{ exceptions.raise_compiler_error('lookalike: ' ~ this.identifier ~ ' has config lookalike_delta but its SQL holds no lookalike.lookalike_delta_keys_filter() (where it reads ' ~ delta['input'] ~ ')') }}
  {%- endif -%}
  {%- set replacement = '(\\1 in (select ' ~ lookalike.lookalike_quote_identifier(delta['key']) ~ ' from ' ~ keys ~ '))' -%}
insert into {{ this }} by name
{{ modules.re.sub(pattern, replacement, compiled) }}
{%- endmacro -%}


{#- After the current model's table was built: record the key it was built from, unless a row
    matches config lookalike_keep_unless (a failure marker): then no key, so the next build builds
    it again. -#}
{%- macro lookalike_record_built(decision, action='built') -%}
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
  {%- do lookalike.lookalike_record_state(action, key, rows) -%}
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
