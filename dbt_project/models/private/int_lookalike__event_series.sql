{#- Kept as it is when nothing it reads changed (lookalike_keep, decision 0025): copying ~100M rows
    would cost half a minute at 20M events. No row checksum: the key names it downstream. -#}
{{ config(lookalike_keep=true, lookalike_keep_check_rows=false) }}
{#- Cumulative event series for the point-in-time event features (see macros/lookalike_event_features.sql).
    One row per user, series and distinct time series_at (grain: user_id, series, series_at):
      'type|<event_type>'  events of each top event type: cum_count and cum_value (sum of value)
      'all'                all events (the affinity denominator)
      'cat|<category>'     events on items of each top category
      'item_first'         the first event on each item (cum_count = distinct items so far)
      'day_first'          the first event of each calendar day
      'day_last'           the last event of each calendar day
    cum_count / cum_value are running totals up to and including series_at; first_at is the series'
    first time. Only users with a training example (int_lookalike__training_points) get series:
    the population's features are computed in one pass at the scoring time
    (lookalike_inference_features), so the ASOF lookups only serve training examples. -#}
{%- set spec = lookalike.lookalike_event_spec() %}
{%- set type_values = spec['types'] | map(attribute='value') | list %}
{%- set category_values = spec['categories'] | map(attribute='value') | list %}

with events as (
    select *
    from {{ ref('stg_lookalike__events') }}
    where user_id in (select training_points.user_id from {{ ref('int_lookalike__training_points') }} as training_points)
),

points as (
    {%- if type_values %}
    select user_id, {{ dbt.concat(["'type|'", 'event_type']) }} as series, event_at as series_at, count(*) as n, sum(coalesce(value, 0)) as v
    from events
    where event_type in ({% for t in type_values %}{{ lookalike.lookalike_literal(t) }}{{ ', ' if not loop.last }}{% endfor %})
    group by 1, 2, 3
    union all
    {%- endif %}
    {%- if category_values %}
    select user_id, 'all' as series, event_at as series_at, count(*) as n, 0 as v
    from events
    group by 1, 2, 3
    union all
    select e.user_id, {{ dbt.concat(["'cat|'", 'i.category']) }} as series, e.event_at as series_at, count(*) as n, 0 as v
    from events as e
    inner join {{ ref('stg_lookalike__items') }} as i
        on e.item_id = i.item_id
    where i.category in ({% for c in category_values %}{{ lookalike.lookalike_literal(c) }}{{ ', ' if not loop.last }}{% endfor %})
    group by 1, 2, 3
    union all
    {%- endif %}
    select user_id, 'item_first' as series, series_at, count(*) as n, 0 as v
    from (
        select user_id, item_id, min(event_at) as series_at
        from events
        where item_id is not null
        group by user_id, item_id
    ) as first_items
    group by 1, 2, 3
    union all
    select user_id, 'day_first' as series, series_at, count(*) as n, 0 as v
    from (
        select user_id, min(event_at) as series_at
        from events
        group by user_id, cast(event_at as date)
    ) as first_of_day
    group by 1, 2, 3
    union all
    select user_id, 'day_last' as series, series_at, count(*) as n, 0 as v
    from (
        select user_id, max(event_at) as series_at
        from events
        group by user_id, cast(event_at as date)
    ) as last_of_day
    group by 1, 2, 3
)

select
    user_id,
    series,
    series_at,
    sum(n) over (partition by user_id, series order by series_at rows between unbounded preceding and current row) as cum_count,
    sum(v) over (partition by user_id, series order by series_at rows between unbounded preceding and current row) as cum_value,
    min(series_at) over (partition by user_id, series) as first_at
from points
