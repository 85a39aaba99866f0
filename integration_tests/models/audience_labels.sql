{#- One row per customer contacted by a campaign: converted = positive (1), declined = negative (0).
    The package's lookalike_labels input: a host model, so the package must read it after it is built. -#}
select
    campaign as run_id,
    customer_id as user_id,
    case outcome when 'converted' then 1 when 'declined' then 0 end as label,
    cast(responded_at as timestamp) as label_timestamp
from {{ ref('raw_campaign_responses') }}
