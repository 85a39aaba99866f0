{{ config(post_hook="{{ lookalike.lookalike_store_inputs_key() }}") }}
{#- One row per user and snapshot_at, with valid_to (null for periodic snapshots; the SCD2 version's
    end, exclusive, for dbt snapshots). When the input holds several rows for the same user and
    snapshot_at, one is kept deterministically: the first in feature-column order (nulls last). -#}
{%- set features = lookalike.lookalike_staged_features(ref('stg_lookalike__user_snapshots')) %}

{%- set body %}
with numbered as (
    select
        *,
        row_number() over (
            partition by user_id, snapshot_at
            order by {% for f in features %}{{ adapter.quote(f) }} nulls last, {% endfor %}user_id
        ) as duplicate_index
    from {{ ref('stg_lookalike__user_snapshots') }}
)

select
    user_id,
    snapshot_at,
    valid_to{% for f in features %},
    {{ adapter.quote(f) }}{% endfor %}
from numbered
where duplicate_index = 1
{%- endset %}
{#- Copies the previous table when nothing this model reads changed (macros/lookalike_reuse.sql). #}
{{ lookalike.lookalike_reuse_or(body, checksummed=[ref('stg_lookalike__user_snapshots')], upstream=[]) }}
