{#- Rows of the inputs that no run could use, counted by input and reason. One row per input and
    issue with at least one row (grain: input_variable, issue); empty when the inputs are clean.
    Every message is also appended to each run's lookalike_runs.status_message, and the data test
    assert_no_input_issues prints them as a warning. -#}
{%- set text = dbt.type_string() -%}
{%- set snapshots = lookalike.lookalike_input_relation('lookalike_user_snapshots', 'lookalike_demo_user_snapshots') -%}
{%- set scd2 = lookalike.lookalike_var('lookalike_snapshot_format') == 'scd2' -%}
{%- set events = lookalike.lookalike_optional_input_relation('lookalike_events', 'lookalike_demo_events') if lookalike.lookalike_var('lookalike_event_features') else none -%}



with label_counts as (
    select count(*) as n_without_run
    from {{ ref('stg_lookalike__labels') }}
    where run_id is null
),

snapshot_counts as (
    select
        count(case when user_id is null then 1 end) as n_without_user,
        count(case when user_id is not null
                    and {{ lookalike.lookalike_utc_timestamp(snapshots, 'dbt_valid_from' if scd2 else 'snapshot_at') }} is null
                   then 1 end) as n_without_time
    from {{ snapshots }}
),

{%- if events is not none %}
event_counts as (
    select
        count(case when user_id is null or event_type is null then 1 end) as n_without_user_or_type,
        count(case when user_id is not null and event_type is not null
                    and {{ lookalike.lookalike_utc_timestamp(events, 'event_at') }} is null
                   then 1 end) as n_without_time
    from {{ events }}
),
{%- endif %}

{%- set rows = [
      ('lookalike_labels', lookalike.lookalike_input_relation('lookalike_labels', 'lookalike_demo_labels'), 'missing_run_id', 'label_counts', 'n_without_run',
       "labels input (var lookalike_labels) have no run_id and belong to no run; they were ignored. Set run_id on those rows or remove them."),
      ('lookalike_user_snapshots', snapshots, 'missing_user_id', 'snapshot_counts', 'n_without_user',
       "snapshot input (var lookalike_user_snapshots) have no user_id and were dropped. Set user_id on those rows or remove them."),
      ('lookalike_user_snapshots', snapshots, 'missing_snapshot_at', 'snapshot_counts', 'n_without_time',
       "snapshot input (var lookalike_user_snapshots) have no readable " ~ ('dbt_valid_from' if scd2 else 'snapshot_at')
       ~ " (null or not a date-time) and were dropped. Fix the value (a timestamp, or text such as '2026-03-01 00:00:00' or '2026-03-01T09:00:00+09:00').")] -%}
{%- if events is not none -%}
  {%- do rows.append(('lookalike_events', events, 'missing_user_id_or_event_type', 'event_counts', 'n_without_user_or_type',
       "events input (var lookalike_events) have no user_id or no event_type and were dropped. Set them or remove the rows.")) -%}
  {%- do rows.append(('lookalike_events', events, 'missing_event_at', 'event_counts', 'n_without_time',
       "events input (var lookalike_events) have no readable event_at (null or not a date-time) and were dropped. Fix the value.")) -%}
{%- endif %}

{#- Unknown names in lookalike_feature_include / _exclude: one row per variable (n_rows = names). #}
{#- The event feature spec reads the staged events and items (declared here for dbt's DAG). #}
-- depends_on: {{ ref('stg_lookalike__events') }}, {{ ref('stg_lookalike__items') }}
{%- set unknown = lookalike.lookalike_unknown_feature_names() -%}
{%- set unknown_rows = [] -%}
{%- for variable in ['lookalike_feature_include', 'lookalike_feature_exclude'] -%}
  {%- set names = [] -%}
  {%- for var_name, name in unknown if var_name == variable -%}{%- do names.append("'" ~ name ~ "'") -%}{%- endfor -%}
  {%- if names -%}
    {%- do unknown_rows.append((variable, names | length,
          "lookalike: var " ~ variable ~ " names " ~ names | length ~ " feature(s) that are neither a column of the snapshot input "
          ~ "(var lookalike_user_snapshots) nor an event feature: " ~ names | join(', ')
          ~ "; they are ignored. Check the spelling (the build log lists the known names).")) -%}
  {%- endif -%}
{%- endfor %}

issues as (
{%- for variable, relation, issue, source_cte, count_column, sentence in rows %}
    select
        cast({{ lookalike.lookalike_literal(variable) }} as {{ text }}) as input_variable,
        cast({{ lookalike.lookalike_literal(relation | string) }} as {{ text }}) as input_relation,
        cast({{ lookalike.lookalike_literal(issue) }} as {{ text }}) as issue,
        cast({{ count_column }} as {{ dbt.type_bigint() }}) as n_rows,
        {{ lookalike.lookalike_literal('lookalike: ') }} || cast({{ count_column }} as {{ text }})
            || {{ lookalike.lookalike_literal(' row(s) of the ' ~ sentence) }} as message
    from {{ source_cte }}
    {{- '\n    union all' if not loop.last or unknown_rows }}
{%- endfor %}
{%- for variable, n_names, message in unknown_rows %}
    select
        cast({{ lookalike.lookalike_literal(variable) }} as {{ text }}) as input_variable,
        cast(null as {{ text }}) as input_relation,
        cast('unknown_feature_name' as {{ text }}) as issue,
        cast({{ n_names }} as {{ dbt.type_bigint() }}) as n_rows,
        cast({{ lookalike.lookalike_literal(message) }} as {{ text }}) as message
    {{- '\n    union all' if not loop.last }}
{%- endfor %}
)

select input_variable, input_relation, issue, n_rows, message
from issues
where n_rows > 0
