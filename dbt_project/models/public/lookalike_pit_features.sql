{{ config(lookalike_keep=true, lookalike_keep_check_rows=false) }}
-- depends_on: {{ ref('int_lookalike__event_series') }}
{#- Every feature of every training example, as of the example's time. One row per run and
    training example (grain: run_id, example_id). Snapshot columns come from the matched snapshot
    (snapshot_at <= as_of_at, inclusive); event features from events strictly before as_of_at. -#}
{%- set snapshot_features = lookalike.lookalike_staged_features(ref('int_lookalike__user_snapshots')) %}
{%- set spec = lookalike.lookalike_event_spec() %}
{%- set event_features = lookalike.lookalike_event_feature_names(spec) %}
{{ lookalike.lookalike_check_feature_names(snapshot_features, event_features) }}
{#- Warns once per build about names in lookalike_feature_include / _exclude that match nothing. #}
{%- do lookalike.lookalike_warn_unknown_feature_names(spec) %}

with points as (
    select example_id, run_id, user_id, as_of_at, snapshot_at
    from {{ ref('int_lookalike__training_points') }}
){% if event_features %},

event_features as (
    {{ lookalike.lookalike_event_features('points', spec) }}
){% endif %}

select
    points.example_id,
    points.run_id,
    points.user_id,
    points.as_of_at,
    points.snapshot_at
    {%- for f in snapshot_features %},
    snapshots.{{ lookalike.lookalike_quote_identifier(f) }}
    {%- endfor %}
    {%- for f in event_features %},
    event_features.{{ lookalike.lookalike_quote_identifier(f) }}
    {%- endfor %}
from points
inner join {{ ref('int_lookalike__user_snapshots') }} as snapshots
    on points.user_id = snapshots.user_id
   and points.snapshot_at = snapshots.snapshot_at
{%- if event_features %}
left join event_features
    on points.user_id = event_features.user_id
   and points.as_of_at = event_features.as_of_at
{%- endif %}
