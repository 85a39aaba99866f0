{{ config(lookalike_keep=true, lookalike_keep_check_rows=false,
          lookalike_append={'input': 'stg_lookalike__user_snapshots', 'column': 'snapshot_at'}) }}
{#- One row per user and snapshot_at, with valid_to (null for periodic snapshots; the SCD2 version's
    end, exclusive, for dbt snapshots). When the input holds several rows for the same user and
    snapshot_at, one is kept deterministically: the first in feature-column order (nulls last).
    Every output row depends only on the input rows with its own snapshot_at, so when the input
    only gained rows newer than the table's latest snapshot_at, and every older row is unchanged
    (checked by checksum: lookalike_keep_decision), DuckDB inserts this SQL over the new rows
    instead of building the table whole (config lookalike_append, decision 0039). -#}
{%- set features = lookalike.lookalike_staged_features(ref('stg_lookalike__user_snapshots')) %}

with snapshots as {{ lookalike.lookalike_inline_cte() }} (
    select * from {{ ref('stg_lookalike__user_snapshots') }} {{ lookalike.lookalike_append_filter() }}
),

{#- Only the (user_id, snapshot_at) keys that occur more than once are sorted: ranking every row by
    every feature column cost 115 s at 12M rows x 30 features; the hash aggregate and anti-join
    cost a few seconds. #}
duplicated_keys as (
    select user_id, snapshot_at
    from snapshots
    group by user_id, snapshot_at
    having count(*) > 1
),

deduplicated as (
    select * from (
        select
            snapshots.*,
            row_number() over (
                partition by snapshots.user_id, snapshots.snapshot_at
                order by {% for f in features %}snapshots.{{ lookalike.lookalike_quote_identifier(f) }} nulls last, {% endfor %}snapshots.user_id
            ) as duplicate_index
        from snapshots
        inner join duplicated_keys
            on snapshots.user_id = duplicated_keys.user_id
           and snapshots.snapshot_at = duplicated_keys.snapshot_at
    ) as ranked
    where duplicate_index = 1
)

select
    user_id,
    snapshot_at,
    valid_to{% for f in features %},
    {{ lookalike.lookalike_quote_identifier(f) }}{% endfor %}
from snapshots
where not exists (
    select 1 from duplicated_keys
    where duplicated_keys.user_id = snapshots.user_id
      and duplicated_keys.snapshot_at = snapshots.snapshot_at
)
union all
select
    user_id,
    snapshot_at,
    valid_to{% for f in features %},
    {{ lookalike.lookalike_quote_identifier(f) }}{% endfor %}
from deduplicated
