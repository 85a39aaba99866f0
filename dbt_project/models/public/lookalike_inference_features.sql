{#- Each user's row depends only on the user's row of int_lookalike__inference_snapshots, the user's
    events before the scoring time and the items, with the scoring time and the event feature plan
    in the compiled code. On DuckDB, when the compiled code and the events (those before the scoring
    time, lookalike_inference_events_checksum) and items are unchanged, only the users whose
    inference snapshot row differs from theirs in this table are selected again and replaced
    (config lookalike_delta, decision 0041); otherwise the table is built whole. -#}
{{ config(lookalike_keep=true, lookalike_keep_check_rows=false,
          lookalike_delta={'input': 'int_lookalike__inference_snapshots', 'key': 'user_id', 'compare': 'columns'},
          lookalike_key_checksums={'stg_lookalike__events': 'lookalike_inference_events_checksum'}) }}
{#- Every feature of every user to score, as of the scoring time (var lookalike_as_of). One row per
    user (grain: user_id): the user's latest snapshot at or before the scoring time, plus event
    features from events strictly before it. Users without such a snapshot are not scored.
    Everyone shares one as-of time here, so the event features come from one grouped pass over
    the events (lookalike_event_features_as_of), not from the ASOF lookups the training points need.
    The snapshot features are int_lookalike__inference_snapshots' own columns (that table holds
    the user's whole snapshot row). -#}
{%- set snapshot_features = lookalike.lookalike_staged_features(ref('int_lookalike__inference_snapshots')) %}
{%- set spec = lookalike.lookalike_event_spec() %}
{%- set event_features = lookalike.lookalike_event_feature_names(spec) %}

with points as (
    select *, {{ lookalike.lookalike_as_of() }} as as_of_at
    {#- Aliased: on Spark, `from t where (...)` would read `where (...)` as an alias with a column list. #}
    from {{ ref('int_lookalike__inference_snapshots') }} as inference_snapshots  -- noqa: AL05
    where {{ lookalike.lookalike_delta_keys_filter('user_id') }}
){% if event_features %},

event_features as (
    {{ lookalike.lookalike_event_features_as_of('points', spec, lookalike.lookalike_as_of(), lookalike.lookalike_delta_keys_filter('e.user_id')) }}
){% endif %}

select
    points.user_id,
    points.as_of_at,
    points.snapshot_at
    {%- for f in snapshot_features %},
    points.{{ lookalike.lookalike_quote_identifier(f) }}
    {%- endfor %}
    {%- for f in event_features %},
    event_features.{{ lookalike.lookalike_quote_identifier(f) }}
    {%- endfor %}
from points
{%- if event_features %}
left join event_features
    on points.user_id = event_features.user_id
   and points.as_of_at = event_features.as_of_at
{%- endif %}
