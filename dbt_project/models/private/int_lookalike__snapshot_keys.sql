{{ config(materialized='view') }}
{#- One row per user and snapshot_at: the keys the point-in-time joins search. -#}
select user_id, snapshot_at, valid_to
from {{ ref('int_lookalike__user_snapshots') }}
