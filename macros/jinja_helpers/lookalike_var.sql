{#- Every variable of the package, validated in one place.

    lookalike_var_specs(): name -> spec. default is the value of dbt_project.yml; the bounds,
      nullable and default of a run setting are those declared in lookalike_udf/settings.py
      (tests/unit/test_settings_contract.py checks all three agree; decision 0021): a host project's own models do not see the package's vars, so a macro called
      from one (lookalike.lookalike_run_health, ...) falls back to it. kind is one of
      int / number     (min, max inclusive unless min_open / max_open; nullable: null allowed)
      bool             (true/false; the strings 'true'/'false' too, as --vars may give them)
      choice           (choices: the allowed values, compared lower-cased)
      string           (any text; it reaches SQL only as a quoted literal or identifier)
      relation         (null, ref:model, ref:package.model, source:source.table, or table /
                        schema.table / database.schema.table; forms checked by lookalike_input_relation)
      timestamp        (null or an ISO date-time, with an optional UTC offset)
      int_list         (a list of int in [min, max])
      string_list      (a list of names)
      choice_list      (a list of values from choices)
      number_list      (a list of numbers)
    lookalike_check_var(name, value): {value, error}: the value converted (ints and numbers from
      text, offsets of date-times to UTC) and null, or the error message naming the variable, the
      value and the fix. It never raises, so every variable can be checked in one pass.
    lookalike_var(name): the variable's value, validated (a compiler error carries the message).
    lookalike_var_sql(name): the value as a SQL literal: a number, true / false, null, or a
      quoted string.
    lookalike_validate_vars(): validates every variable (the on-run-start hook) and raises one
      error listing every bad one, so a bad value stops the build before any model runs and
      nothing earlier is touched. -#}

{% macro lookalike_var_specs() %}
  {{ return({
    'lookalike_demo': {'kind': 'bool', 'nullable': true, 'default': none},
    'lookalike_user_snapshots': {'kind': 'relation', 'default': none},
    'lookalike_labels': {'kind': 'relation', 'default': none},
    'lookalike_runs': {'kind': 'relation', 'default': none},
    'lookalike_events': {'kind': 'relation', 'default': none},
    'lookalike_items': {'kind': 'relation', 'default': none},
    'lookalike_outcomes': {'kind': 'relation', 'default': none},
    'lookalike_snapshot_format': {'kind': 'choice', 'choices': ['periodic', 'scd2'], 'default': 'periodic'},
    'lookalike_item_category_column': {'kind': 'string', 'default': 'category'},
    'lookalike_event_features': {'kind': 'bool', 'default': true},
    'lookalike_event_windows': {'kind': 'int_list', 'min': 1, 'max': 36500, 'default': [7, 30, 90, 365]},
    'lookalike_event_active_day_windows': {'kind': 'int_list', 'min': 1, 'max': 36500, 'default': [30, 90]},
    'lookalike_event_top_types': {'kind': 'int', 'min': 0, 'max': 1000, 'default': 5},
    'lookalike_affinity_top_categories': {'kind': 'int', 'min': 0, 'max': 1000, 'default': 5},
    'lookalike_affinity_window': {'kind': 'int', 'min': 1, 'max': 36500, 'default': 365},
    'lookalike_as_of': {'kind': 'timestamp', 'default': none},
    'lookalike_feature_include': {'kind': 'string_list', 'default': []},
    'lookalike_feature_exclude': {'kind': 'string_list', 'default': []},
    'lookalike_min_seed_users': {'kind': 'int', 'min': 1, 'max': 1000000000, 'default': 10},
    'lookalike_engagement_type': {'kind': 'string', 'default': 'MULTI_ENGAGE'},
    'lookalike_build_only': {'kind': 'bool', 'default': false},
    'lookalike_test_fraction': {'kind': 'number', 'min': 0, 'max': 1, 'min_open': true, 'max_open': true, 'default': 0.2},
    'lookalike_unlabeled_sample_size': {'kind': 'int', 'min': 1, 'max': 1000000000, 'default': 5000},
    'lookalike_random_seed': {'kind': 'int', 'min': 0, 'max': 4294967295, 'default': 42},
    'lookalike_pu_method': {'kind': 'string', 'default': 'bagging'},
    'lookalike_unlabeled_as_of': {'kind': 'string', 'default': 'auto'},
    'lookalike_pu_bags': {'kind': 'int', 'min': 1, 'max': 50, 'default': 20},
    'lookalike_model_type': {'kind': 'string', 'default': 'hgb_logistic_or_rf'},
    'lookalike_sample_size': {'kind': 'int', 'min': 20, 'max': 1000000000000, 'nullable': true, 'default': none},
    'lookalike_extra_attention': {'kind': 'bool', 'default': false},
    'lookalike_expected_positive_share': {'kind': 'number', 'min': 0, 'max': 1, 'max_open': true, 'nullable': true, 'default': none},
    'lookalike_tune_model': {'kind': 'bool', 'default': false},
    'lookalike_tune_time_budget_seconds': {'kind': 'number', 'min': 1, 'max': 3600, 'default': 60},
    'lookalike_auto_tune': {'kind': 'bool', 'default': false},
    'lookalike_refit_on_all_labels': {'kind': 'bool', 'default': true},
    'lookalike_failed_run_severity': {'kind': 'choice', 'choices': ['warn', 'error'], 'default': 'warn'},
    'lookalike_audience_top_n': {'kind': 'int', 'min': 1, 'max': 1000000000000, 'nullable': true, 'default': none},
    'lookalike_audience_top_pct': {'kind': 'number', 'min': 0, 'max': 100, 'min_open': true, 'nullable': true, 'default': 5},
    'lookalike_audience_min_score': {'kind': 'number', 'min': 0, 'max': 1, 'nullable': true, 'default': none},
    'lookalike_audience_holdout_pct': {'kind': 'number', 'min': 0, 'max': 100, 'max_open': true, 'default': 0},
    'lookalike_lift_window_days': {'kind': 'number', 'min': 0, 'max': 36500, 'min_open': true, 'nullable': true, 'default': none},
    'lookalike_audience_export_path': {'kind': 'string', 'default': none},
    'lookalike_audience_export_holdout': {'kind': 'bool', 'default': false},
    'lookalike_lift_min_group_users': {'kind': 'int', 'min': 1, 'max': 1000000000, 'default': 30},
    'lookalike_reasons_max_users': {'kind': 'int', 'min': 0, 'max': 1000000000000, 'nullable': true, 'default': 10000},
    'lookalike_on_run_failure': {'kind': 'choice', 'choices': ['keep_last_good', 'drop'], 'default': 'keep_last_good'},
    'lookalike_force_retrain': {'kind': 'bool', 'default': false},
    'lookalike_scoring_engine': {'kind': 'choice', 'choices': ['python', 'sql'], 'default': 'python'},
    'lookalike_scoring_sql_dialects': {'kind': 'choice_list', 'choices': ['duckdb', 'postgres', 'snowflake', 'bigquery', 'spark', 'databricks', 'sqlite'], 'nullable': true, 'default': none},
    'lookalike_score_batch_size': {'kind': 'int', 'min': 1, 'max': 100000000, 'default': 100000},
    'lookalike_threshold_top_pct': {'kind': 'number', 'min': 0, 'max': 100, 'default': 10},
    'lookalike_health_min_positive_users': {'kind': 'int', 'min': 0, 'max': 1000000000, 'default': 50},
    'lookalike_health_min_test_auc': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.6},
    'lookalike_health_max_auc_gap': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.1},
    'lookalike_health_max_unmatched_share': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.2},
    'lookalike_health_max_psi': {'kind': 'number', 'min': 0, 'max': 100, 'default': 0.25},
    'lookalike_health_max_days_after_data': {'kind': 'number', 'min': 0, 'max': 100000, 'default': 31},
    'lookalike_health_max_tied_share': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.2},
    'lookalike_history_retention_days': {'kind': 'int', 'min': 1, 'max': 36500, 'default': 90},
    'lookalike_history_max_auc_drop': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.05},
    'lookalike_history_min_audience_overlap': {'kind': 'number', 'min': 0, 'max': 1, 'default': 0.5},
    'lookalike_history_drift_rising_builds': {'kind': 'int', 'min': 2, 'max': 1000, 'default': 3},
    'lookalike_drift_time_relative_features': {'kind': 'string_list', 'default': []},
    'lookalike_quality_band_cutoffs': {'kind': 'number_list', 'min': 0, 'max': 1, 'default': [0.6, 0.7, 0.8]},
    'lookalike_serving': {'kind': 'bool', 'nullable': true, 'default': none},
    'lookalike_serving_path': {'kind': 'string', 'default': 'serving/lookalike.duckdb'},
  }) }}
{% endmacro %}


{%- macro _lookalike_var_message(name, value, expected) -%}
  {{ return("lookalike: variable '" ~ name ~ "' is " ~ ('"' ~ value ~ '"' if value is string else (value | tojson))
      ~ "; it must be " ~ expected ~ ". Fix it in --vars or in the vars of dbt_project.yml (docs/variables.md).") }}
{%- endmacro -%}


{#- A number from a variable value (int, float or numeric text), or none when it is not one. -#}
{%- macro _lookalike_as_number(value, integer) -%}
  {%- if value is boolean or value is none -%}{{ return(none) }}{%- endif -%}
  {%- if value is number -%}
    {%- if integer and value != (value | int) -%}{{ return(none) }}{%- endif -%}
    {{ return(value | int if integer else value) }}
  {%- endif -%}
  {%- if value is string -%}
    {%- set text = value | trim -%}
    {%- if integer and modules.re.fullmatch('[+-]?[0-9]+', text) -%}{{ return(text | int) }}{%- endif -%}
    {%- if not integer and modules.re.fullmatch('[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?', text) -%}{{ return(text | float) }}{%- endif -%}
  {%- endif -%}
  {{ return(none) }}
{%- endmacro -%}


{#- The number within the spec's bounds (min, max; excluded when min_open / max_open), or none. -#}
{%- macro _lookalike_number_in_range(value, spec, integer) -%}
  {%- set number = lookalike._lookalike_as_number(value, integer) -%}
  {%- if number is none or number < spec.min or number > spec.max
        or (spec.get('min_open') and number == spec.min) or (spec.get('max_open') and number == spec.max) -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(number) }}
{%- endmacro -%}


{#- 'between 1 and 50', 'strictly between 0 and 1', 'above 0 and at most 100', 'at least 0 and
    below 1': the same words as lookalike_udf.settings.bounds_text. -#}
{%- macro _lookalike_bounds_text(spec) -%}
  {%- if spec.get('min_open') and spec.get('max_open') -%}{{ return('strictly between ' ~ spec.min ~ ' and ' ~ spec.max) }}
  {%- elif spec.get('min_open') -%}{{ return('above ' ~ spec.min ~ ' and at most ' ~ spec.max) }}
  {%- elif spec.get('max_open') -%}{{ return('at least ' ~ spec.min ~ ' and below ' ~ spec.max) }}
  {%- endif -%}
  {{ return('between ' ~ spec.min ~ ' and ' ~ spec.max) }}
{%- endmacro -%}


{#- An ISO date-time (optional time, fraction and UTC offset) as 'YYYY-MM-DD HH:MM:SS.ffffff' in
    UTC, or none when the text is not one. -#}
{%- macro _lookalike_utc_text(value) -%}
  {%- set text = value | string | trim -%}
  {%- set pattern = '([0-9]{4})-([0-9]{2})-([0-9]{2})([ T]([0-9]{2}):([0-9]{2})(:([0-9]{2})([.]([0-9]{1,6}))?)?)?[ ]*(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?' -%}
  {%- set m = modules.re.fullmatch(pattern, text) -%}
  {%- if not m -%}{{ return(none) }}{%- endif -%}
  {%- set year, month, day = m.group(1) | int, m.group(2) | int, m.group(3) | int -%}
  {%- set hour, minute, second = (m.group(5) or 0) | int, (m.group(6) or 0) | int, (m.group(8) or 0) | int -%}
  {%- set micro = ((m.group(10) or '') ~ '000000')[:6] | int -%}
  {%- set days_in_month = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
  {%- if year < 2 or month < 1 or month > 12 or day < 1 or day > days_in_month[month - 1] or hour > 23 or minute > 59 or second > 59 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set moment = modules.datetime.datetime(year, month, day, hour, minute, second, micro) -%}
  {%- set offset = m.group(11) -%}
  {%- if offset and offset not in ['Z', 'z'] -%}
    {%- set digits = offset[1:] | replace(':', '') -%}
    {%- set minutes = (digits[:2] | int) * 60 + ((digits[2:4] or '0') | int) -%}
    {%- set delta = modules.datetime.timedelta(minutes=minutes) -%}
    {#- 05:00+09:00 is 20:00 UTC the day before: subtract a positive offset. -#}
    {%- set moment = moment - delta if offset[0] == '+' else moment + delta -%}
  {%- endif -%}
  {{ return(moment.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro -%}


{% macro lookalike_check_var(name, value) %}
  {%- set specs = lookalike.lookalike_var_specs() -%}
  {%- if name not in specs -%}
    {{ return({'value': none, 'error': "lookalike_var: '" ~ name ~ "' is not a variable of the lookalike package."}) }}
  {%- endif -%}
  {%- set spec = specs[name] -%}
  {%- set empty = value is none or (value is string and (value | trim) in ['', 'null', 'none', 'None']) -%}
  {%- if spec.kind in ['relation', 'timestamp'] or spec.get('nullable') -%}
    {%- if empty -%}{{ return({'value': none, 'error': none}) }}{%- endif -%}
  {%- elif empty and spec.kind not in ['string', 'string_list', 'int_list', 'number_list', 'choice_list'] -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'set (it has no null meaning)')}) }}
  {%- endif -%}
  {%- if spec.kind in ['int', 'number'] -%}
    {%- set number = lookalike._lookalike_number_in_range(value, spec, spec.kind == 'int') -%}
    {%- if number is none -%}
      {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value,
          ('an integer ' if spec.kind == 'int' else 'a number ') ~ lookalike._lookalike_bounds_text(spec))}) }}
    {%- endif -%}
    {{ return({'value': number, 'error': none}) }}
  {%- elif spec.kind == 'bool' -%}
    {%- if value is boolean -%}{{ return({'value': value, 'error': none}) }}{%- endif -%}
    {%- if value is string and (value | trim | lower) in ['true', 'false'] -%}
      {{ return({'value': (value | trim | lower) == 'true', 'error': none}) }}
    {%- endif -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'true or false')}) }}
  {%- elif spec.kind == 'choice' -%}
    {%- if value is string and (value | trim | lower) in spec.choices -%}
      {{ return({'value': value | trim | lower, 'error': none}) }}
    {%- endif -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'one of ' ~ spec.choices | join(', '))}) }}
  {%- elif spec.kind == 'string' -%}
    {%- if value is none -%}{{ return({'value': none, 'error': none}) }}{%- endif -%}
    {%- if value is string or (value is number and value is not boolean) -%}{{ return({'value': value | string, 'error': none}) }}{%- endif -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'a text value')}) }}
  {%- elif spec.kind == 'relation' -%}
    {%- if value is string -%}{{ return({'value': value | trim, 'error': none}) }}{%- endif -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'a relation name: table, schema.table or database.schema.table')}) }}
  {%- elif spec.kind == 'timestamp' -%}
    {%- if value is string and (value | trim | lower) == 'latest' -%}{{ return({'value': 'latest', 'error': none}) }}{%- endif -%}
    {%- set text = lookalike._lookalike_utc_text(value) if value is string else none -%}
    {%- if text is none -%}
      {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value,
          "null, latest, or an ISO date-time such as '2026-06-01', '2026-06-01 12:00:00' or '2026-06-01T12:00:00+09:00' (offsets are converted to UTC)")}) }}
    {%- endif -%}
    {{ return({'value': text, 'error': none}) }}
  {%- endif -%}
  {#- Lists. -#}
  {%- if value is none -%}{{ return({'value': [], 'error': none}) }}{%- endif -%}
  {%- if value is string or value is mapping or value is not iterable -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value,
        'a list, e.g. [' ~ ('30, 90' if spec.kind != 'string_list' else 'name_a, name_b') ~ ']')}) }}
  {%- endif -%}
  {%- set items = [] -%}
  {%- for item in value -%}
    {%- if spec.kind == 'choice_list' -%}
      {%- do items.append(item | lower if item is string and (item | lower) in spec.choices else none) -%}
    {%- elif spec.kind == 'string_list' -%}
      {%- do items.append(item if item is string else none) -%}
    {%- else -%}
      {%- do items.append(lookalike._lookalike_number_in_range(item, spec, spec.kind == 'int_list')) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if none in items -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value,
        'a list of column names (text)' if spec.kind == 'string_list'
        else 'a list of values from ' ~ spec.choices | join(', ') if spec.kind == 'choice_list'
        else 'a list of ' ~ ('integers ' if spec.kind == 'int_list' else 'numbers ') ~ lookalike._lookalike_bounds_text(spec))}) }}
  {%- endif -%}
  {%- if name == 'lookalike_quality_band_cutoffs' and (items | length != 3 or items[0] > items[1] or items[1] > items[2]) -%}
    {{ return({'value': none, 'error': lookalike._lookalike_var_message(name, value, 'three increasing AUC values [poor_below, fair_below, good_below]')}) }}
  {%- endif -%}
  {{ return({'value': items, 'error': none}) }}
{% endmacro %}


{% macro lookalike_var(name) %}
  {%- set specs = lookalike.lookalike_var_specs() -%}
  {%- set checked = lookalike.lookalike_check_var(name, var(name, specs[name].default if name in specs else none)) -%}
  {%- if checked.error -%}{{ exceptions.raise_compiler_error(checked.error) }}{%- endif -%}
  {{ return(checked.value) }}
{% endmacro %}


{% macro lookalike_var_sql(name) %}
  {%- set value = lookalike.lookalike_var(name) -%}
  {%- if value is none -%}{{ return('null') }}{%- endif -%}
  {%- if value is boolean -%}{{ return('true' if value else 'false') }}{%- endif -%}
  {%- if value is number -%}{{ return(value | string) }}{%- endif -%}
  {{ return(lookalike.lookalike_literal(value)) }}
{% endmacro %}


{#- The error of every bad variable, for the given values (default: the variables as set). -#}
{% macro lookalike_var_errors(values=none) %}
  {%- set errors = [] -%}
  {%- set specs = lookalike.lookalike_var_specs() -%}
  {%- for name in specs -%}
    {%- set value = values[name] if values is not none and name in values else var(name, specs[name].default) -%}
    {%- set checked = lookalike.lookalike_check_var(name, value) -%}
    {%- if checked.error -%}{%- do errors.append(checked.error) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(errors) }}
{% endmacro %}


{#- Every lookalike_* variable that is set but is not a variable of the package (a typo such as
    lookalike_test_fraktion would otherwise be ignored in silence): a list of
    {name, where, suggestion}, where = '--vars' or the root project's dbt_project.yml, suggestion =
    the closest known name (lookalike_closest_name) or none.
    Read from invocation_args_dict['vars'] (the --vars of this invocation) and from the root
    project's vars, global and under `lookalike:`. dbt 1.11 gives Jinja no public list of the
    project's vars; they are read through var.packages_for_node() (the projects whose vars apply:
    this package and the root project), which a hook's or model's var object has. Where it is
    missing (another dbt version), only --vars are checked. -#}
{% macro lookalike_unknown_vars() %}
  {%- set known = lookalike.lookalike_var_specs() -%}
  {%- set found = [] -%}
  {%- set sources = [] -%}
  {%- set cli = (invocation_args_dict or {}).get('vars') or {} -%}
  {%- set cli = fromyaml(cli) if cli is string else cli -%}
  {%- if cli is mapping -%}{%- do sources.append(('--vars', cli)) -%}{%- endif -%}
  {%- if var.packages_for_node is defined -%}
    {%- for project in var.packages_for_node() if project.project_name == project_name -%}
      {%- set root_vars = project.vars.to_dict() -%}
      {%- do sources.append(('the vars of ' ~ project_name ~ "'s dbt_project.yml", root_vars)) -%}
      {%- if root_vars.get('lookalike') is mapping and project_name != 'lookalike' -%}
        {%- do sources.append(('the vars: lookalike: block of ' ~ project_name ~ "'s dbt_project.yml", root_vars['lookalike'])) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- for where, values in sources -%}
    {%- for name in values if name is string and name.startswith('lookalike_') and name not in known -%}
      {%- do found.append({'name': name, 'where': where,
            'suggestion': lookalike.lookalike_closest_name(name, known.keys() | list, 'lookalike_')}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(found) }}
{% endmacro %}


{#- on-run-start: warn about unknown lookalike_* variables (with a did-you-mean), then validate every
    variable before anything is built; one error lists every bad one. -#}
{% macro lookalike_validate_vars() %}
  {%- if execute -%}
    {%- for unknown in lookalike.lookalike_unknown_vars() -%}
      {%- do exceptions.warn("lookalike: variable '" ~ unknown.name ~ "' (set in " ~ unknown.where
            ~ ") is not a variable of the lookalike package, so it is ignored. "
            ~ ("Did you mean '" ~ unknown.suggestion ~ "'? " if unknown.suggestion else "")
            ~ "The package's variables are listed in docs/variables.md.") -%}
    {%- endfor -%}
    {%- set errors = lookalike.lookalike_var_errors() -%}
    {%- if errors -%}{{ exceptions.raise_compiler_error(errors | join('\n')) }}{%- endif -%}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}


{#- run-operation: print every error for the given values (`--args '{values: {...}}'`), one per
    line, without stopping: used by the tests to check every variable in one invocation. -#}
{% macro lookalike_print_var_errors(values) %}
  {%- for error in lookalike.lookalike_var_errors(values) -%}
    {{ print(error) }}
  {%- endfor -%}
{% endmacro %}


{#- run-operation: check each [name, value] pair of `--args '{pairs: [...]}'` and print one JSON line
    per pair, {"check": index, "error": message or null}: used by the tests to compare the
    start-of-build check with the run check (lookalike_udf.settings) value by value, in one invocation. -#}
{% macro lookalike_print_var_checks(pairs) %}
  {%- for name, value in pairs -%}
    {{ print(tojson({'check': loop.index0, 'error': lookalike.lookalike_check_var(name, value).error})) }}
  {%- endfor -%}
{% endmacro %}
