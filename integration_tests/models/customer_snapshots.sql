{#- One row per customer per monthly snapshot, renamed to what the package reads (user_id,
    snapshot_at). The host's own staging model: the package's lookalike_user_snapshots input. -#}
select
    customer_id as user_id,
    cast(snapshot_date as timestamp) as snapshot_at,
    orders_90d,
    plan,
    is_subscribed,
    noise
from {{ ref('raw_customer_snapshots') }}
