{{ config(lookalike_keep=true, lookalike_keep_check_rows=false) }}
{#- Every feature of every user to score, as of the scoring time (var lookalike_as_of). One row per
    user (grain: user_id): the user's latest snapshot at or before the scoring time, plus event
    features from events strictly before it. Users without such a snapshot are not scored.
    Everyone shares one as-of time here, so the event features come from one grouped pass over
    the events (lookalike_event_features_as_of), not from the ASOF lookups the training points need. -#}
{%- set snapshot_features = lookalike.lookalike_staged_features(ref('int_lookalike__user_snapshots')) %}
{%- set spec = lookalike.lookalike_event_spec() %}
{%- set event_features = lookalike.lookalike_event_feature_names(spec) %}

with points as (
    select user_id, snapshot_at, {{ lookalike.lookalike_as_of() }} as as_of_at
    from {{ ref('int_lookalike__inference_snapshots') }}
){% if event_features %},

event_features as (
    {{ lookalike.lookalike_event_features_as_of('points', spec, lookalike.lookalike_as_of()) }}
){% endif %}

select
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
