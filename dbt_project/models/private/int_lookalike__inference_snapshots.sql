{#- Each user's row depends only on that user's snapshot rows (and the scoring time, which is in the
    compiled code): on DuckDB, when int_lookalike__user_snapshots only gained rows newer than this
    table's latest snapshot_at (every older row unchanged, checked by checksum), only the users with
    such rows are selected again and replaced (config lookalike_delta, decision 0041). -#}
{{ config(lookalike_keep=true,
          lookalike_delta={'input': 'int_lookalike__user_snapshots', 'key': 'user_id', 'after': 'snapshot_at'}) }}
{#- One row per user: the user's latest snapshot at or before the scoring time (var lookalike_as_of),
    with every feature; for SCD2 input, only if that version is still valid at the scoring time. This is the population that gets scored. -#}
{%- set features = lookalike.lookalike_staged_features(ref('int_lookalike__user_snapshots')) %}

with latest as (
    select user_id, max(snapshot_at) as snapshot_at
    from {{ ref('int_lookalike__user_snapshots') }}
    where snapshot_at <= {{ lookalike.lookalike_as_of() }}
      and {{ lookalike.lookalike_delta_keys_filter('user_id') }}
    group by user_id
)

select
    snapshots.user_id,
    snapshots.snapshot_at{% for f in features %},
    snapshots.{{ lookalike.lookalike_quote_identifier(f) }}{% endfor %}
from {{ ref('int_lookalike__user_snapshots') }} as snapshots
inner join latest
    on snapshots.user_id = latest.user_id
   and snapshots.snapshot_at = latest.snapshot_at
where ({{ lookalike.lookalike_delta_keys_filter('snapshots.user_id') }})
  and (snapshots.valid_to is null
   or {{ lookalike.lookalike_as_of() }} < snapshots.valid_to)
