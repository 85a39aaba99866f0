{#- on-run-end: one console line per run of lookalike_runs, so the outcome of a build shows where
    people look (a FAILED run is otherwise only a WARN of a data test).

        lookalike: 4 run(s) in "db"."main"."lookalike_runs": 2 FINISHED, 2 FAILED; 3 unhealthy
        lookalike: run 'few_negatives'  FAILED    test AUC -      unhealthy  negative_label_users has 7 distinct users; ...
        lookalike: run 'pit'            FINISHED  test AUC 1.000  unhealthy  only 22 distinct positive users ... (+1 more)

    The message is the first cause: status_message for a FAILED run, else health_messages, else
    status_message (warnings); without its "run '<id>': " prefix, cut at max_message_chars, and
    "(+N more)" when the column holds more ' | '-separated messages.
    Quiet (no line, no query) unless lookalike_runs was built successfully in this invocation
    (`results`: the invocation's node results), e.g. `dbt test` or `dbt build --select staging`.
    Then, in any invocation: one line per audience file that could not be written
    (lookalike_audience_exports), and one per model of the package that failed, with the first
    line of its error. -#}
{% macro lookalike_run_summary(results, max_message_chars=160) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- for result in results or [] if result.node is not none and result.node.package_name == 'lookalike'
        and result.node.name == 'stg_lookalike__user_snapshots' and result.status == 'success' -%}
    {{ log(lookalike.lookalike_inputs_line(), info=true) }}
  {%- endfor -%}
  {%- do lookalike.lookalike_run_summary_runs(results, max_message_chars) -%}
  {%- do lookalike.lookalike_failure_summary(results, max_message_chars) -%}
  {{ return('') }}
{% endmacro %}


{#- The console lines of failed audience exports and failed models of the package (see
    lookalike_run_summary). -#}
{% macro lookalike_failure_summary(results, max_message_chars=160) %}
  {%- for result in results or [] if result.node is not none and result.node.package_name == 'lookalike'
        and result.node.resource_type == 'model' -%}
    {%- if result.status == 'error' -%}
      {%- set first = ((result.message or '') | string).strip().split('\n')[0] -%}
      {%- set first = first[:max_message_chars - 1] ~ '…' if first | length > max_message_chars else first -%}
      {{ log("lookalike: model " ~ result.node.name ~ " failed (its dependants are skipped; the tables it does not feed are built): " ~ first, info=true) }}
    {%- elif result.node.name == 'lookalike_audience_exports' and result.status == 'success' -%}
      {%- set relation = api.Relation.create(database=result.node.database, schema=result.node.schema, identifier=result.node.alias) -%}
      {%- set table = run_query("select run_id, export_message from " ~ relation
            ~ " where export_status = 'failed' order by run_id") -%}
      {%- for row in table.rows -%}
        {{ log("lookalike: run '" ~ row['run_id'] ~ "'  audience export failed: " ~ row['export_message'], info=true) }}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}


{% macro lookalike_run_summary_runs(results, max_message_chars=160) %}
  {%- set built = [] -%}
  {%- for result in results or [] if result.node is not none and result.node.package_name == 'lookalike'
        and result.node.name == 'lookalike_runs' and result.status == 'success' -%}
    {%- do built.append(result.node) -%}
  {%- endfor -%}
  {%- if not built -%}{{ return('') }}{%- endif -%}
  {%- set node = built[0] -%}
  {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
  {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
    {{ return('') }}
  {%- endif -%}
  {%- set table = run_query("select run_id, status, test_auc, health, status_message, health_messages from "
        ~ relation ~ " order by run_id") -%}
  {%- set run_status = lookalike.lookalike_vocabulary()['run_status'] -%}
  {%- set statuses = [run_status['FINISHED'], run_status['FINISHED_TRAINING'], run_status['FAILED']] -%}
  {%- set counts = {} -%}
  {%- set unhealthy = [] -%}
  {%- set warned = [] -%}
  {%- set widths = {'run': [0], 'status': [0]} -%}
  {%- for row in table.rows -%}
    {%- do counts.update({row['status']: counts.get(row['status'], 0) + 1}) -%}
    {%- if row['health'] == 'unhealthy' -%}{%- do unhealthy.append(row['run_id']) -%}{%- endif -%}
    {%- if row['health'] == 'warning' -%}{%- do warned.append(row['run_id']) -%}{%- endif -%}
    {#- "run '<id>'", padded to the longest (at most 40 characters). #}
    {%- do widths['run'].append([(row['run_id'] | string | length) + 6, 40] | min) -%}
    {%- do widths['status'].append(row['status'] | string | length) -%}
  {%- endfor -%}
  {%- set parts = [] -%}
  {%- for status in statuses if status in counts -%}
    {%- do parts.append(counts[status] ~ ' ' ~ status) -%}
  {%- endfor -%}
  {%- for status in counts if status not in statuses -%}
    {%- do parts.append(counts[status] ~ ' ' ~ status) -%}
  {%- endfor -%}
  {{ log("lookalike: " ~ (table.rows | length) ~ " run(s) in " ~ relation ~ (": " ~ parts | join(', ') if parts else "")
      ~ ("; " ~ (unhealthy | length) ~ " unhealthy" if unhealthy else "")
      ~ ("; " ~ (warned | length) ~ " with health warnings" if warned else ""), info=true) }}
  {%- for row in table.rows -%}
    {%- set run_label = ("run '" ~ row['run_id'] ~ "'") -%}
    {%- set message = row['status_message'] if row['status'] == run_status['FAILED'] and row['status_message']
          else row['health_messages'] or row['status_message'] or '' -%}
    {%- set messages = message.split(' | ') if message else [] -%}
    {%- set first = messages[0] if messages else '' -%}
    {%- set prefix = run_label ~ ': ' -%}
    {%- set first = first[prefix | length:] if first.startswith(prefix) else first -%}
    {%- set first = first[:max_message_chars - 1] ~ '…' if first | length > max_message_chars else first -%}
    {%- set more = ' (+' ~ (messages | length - 1) ~ ' more)' if messages | length > 1 else '' -%}
    {%- set auc = '%.3f' | format(row['test_auc']) if row['test_auc'] is not none else '-' -%}
    {{ log(("lookalike: " ~ run_label.ljust(widths['run'] | max) ~ "  " ~ (row['status'] | string).ljust(widths['status'] | max)
        ~ "  test AUC " ~ auc.ljust(5) ~ "  " ~ (row['health'] | string).ljust(9) ~ "  " ~ first ~ more) | trim, info=true) }}
  {%- endfor -%}
  {%- if table.rows | length > 0 -%}
    {{ log("lookalike: full messages: select run_id, status_message, health_messages from " ~ relation, info=true) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}


{#- One console line naming the inputs this build read (docs/inputs.md, "Which inputs are read"):
        lookalike: inputs read: user_snapshots inputs.snapshots, labels inputs.labels, runs inputs.runs, events none (var lookalike_events not set), items none (var lookalike_items not set) -#}
{% macro lookalike_inputs_line() %}
  {%- set own = lookalike.lookalike_own_inputs_given() -%}
  {%- set demo = lookalike.lookalike_demo_enabled() and not own -%}
  {%- set parts = [] -%}
  {%- for short, name in [('user_snapshots', 'lookalike_user_snapshots'), ('labels', 'lookalike_labels'), ('runs', 'lookalike_runs'),
                          ('events', 'lookalike_events'), ('items', 'lookalike_items')] -%}
    {%- set value = var(name, none) -%}
    {%- if short in ['events', 'items'] and not lookalike.lookalike_var('lookalike_event_features') -%}
      {%- do parts.append(short ~ ' off (var lookalike_event_features: false)') -%}
    {%- elif value is not none and (value | string | trim) != '' -%}
      {%- do parts.append(short ~ ' ' ~ value) -%}
    {%- elif demo -%}
      {%- do parts.append(short ~ ' the demo seed lookalike_demo_' ~ short) -%}
    {%- else -%}
      {%- do parts.append(short ~ ' none (var ' ~ name ~ ' not set)') -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return('lookalike: inputs read: ' ~ parts | join(', ')) }}
{% endmacro %}
