{#- Behaviour features from events, point in time.

    For every point (user_id, as_of_at) only events with event_at < as_of_at count (strictly
    before: an event at the label's timestamp is usually the conversion itself). A trailing window
    of w days covers as_of_at - w days <= event_at < as_of_at: an event exactly w days before the
    as-of time is inside. Snapshot rows, in contrast, match inclusively (snapshot_at <= as_of_at).

    Features (names are deterministic; <type> and <category> are slugs: lower case, runs of other
    characters replaced by '_', so no text from the data reaches a name; the values themselves only
    reach SQL as lookalike_literal string literals, and names are quoted with
    lookalike_quote_identifier):
      evt_<type>_cnt_<w>d          events of the type in the window (0 when none)
      evt_<type>_value_<w>d        sum of value in the window (0 when none; only for types whose
                                   events carry a value)
      evt_<type>_days_since_last   days from the last event of the type to as_of_at (null when none)
      evt_<type>_days_since_first  days from the first event of the type to as_of_at (null when none)
      evt_distinct_items           distinct item_id before as_of_at (0 when none)
      evt_active_days_<w>d         distinct calendar days with an event in the window (0 when none)
      aff_<category>_share_<w>d    share of the user's events in the window whose item is in the
                                   category (null when the user has no event in the window)
    <type> runs over the top var lookalike_event_top_types event types by volume, <category> over
    the top var lookalike_affinity_top_categories item categories by event volume.

    How: int_lookalike__event_series holds, per user and series (an event type, a category, all
    events, first sighting of an item, first / last event of a day), cumulative counts and sums at
    each distinct time. A window count is then C(as_of_at) - C(as_of_at - w), where C(x) is the
    cumulative count of the last row strictly before x: two ASOF lookups per point and window, so the
    cost grows with events plus points, never events times points. -#}


{#- Slug for a value used in a column name. -#}
{% macro lookalike_slug(value) %}
  {%- set slug = modules.re.sub('[^a-z0-9]+', '_', (value | string | lower)).strip('_') -%}
  {{ return(slug if slug else 'blank') }}
{% endmacro %}


{#- The event feature plan, read from the staged events and items at run time.
    Returns {types: [{value, slug, has_value}], categories: [{value, slug}], windows,
    active_day_windows, affinity_window, features: [{name, series, kind, window}], candidate_names};
    features is empty while parsing and when there are no events. Include / exclude variables apply
    to feature names; candidate_names lists every event feature name before they apply. -#}
{% macro lookalike_event_spec() %}
  {%- set events = ref('stg_lookalike__events') -%}
  {%- set items = ref('stg_lookalike__items') -%}
  {%- set windows = var('lookalike_event_windows', [7, 30, 90, 365]) | map('int') | list -%}
  {%- set active_windows = var('lookalike_event_active_day_windows', [30, 90]) | map('int') | list -%}
  {%- set affinity_window = var('lookalike_affinity_window', 365) | int -%}
  {%- set spec = {'types': [], 'categories': [], 'windows': windows, 'active_day_windows': active_windows,
                  'affinity_window': affinity_window, 'features': [], 'candidate_names': []} -%}
  {%- if not execute -%}{{ return(spec) }}{%- endif -%}
  {%- for w in windows + active_windows + [affinity_window] -%}
    {%- if w < 1 -%}
      {{ exceptions.raise_compiler_error("lookalike: event windows must be whole days >= 1; got " ~ w
          ~ ". Fix var lookalike_event_windows / lookalike_event_active_day_windows / lookalike_affinity_window.") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set top_types = run_query(
      "select event_type, count(*) as n, count(value) as n_value from " ~ events
      ~ " group by event_type order by n desc, event_type limit " ~ (var('lookalike_event_top_types', 5) | int)) -%}
  {%- if top_types.rows | length == 0 -%}{{ return(spec) }}{%- endif -%}
  {%- set used = [] -%}
  {%- for row in top_types.rows -%}
    {%- set slug = lookalike.lookalike_slug(row[0]) -%}
    {%- if slug in used -%}{%- set slug = slug ~ '_' ~ loop.index -%}{%- endif -%}
    {%- do used.append(slug) -%}
    {%- do spec['types'].append({'value': row[0], 'slug': slug, 'has_value': row[2] > 0}) -%}
  {%- endfor -%}
  {%- set n_categories = var('lookalike_affinity_top_categories', 5) | int -%}
  {%- if n_categories > 0 -%}
    {%- set top_categories = run_query(
        "select i.category, count(*) as n from " ~ events ~ " as e inner join " ~ items
        ~ " as i on e.item_id = i.item_id where i.category is not null group by i.category"
        ~ " order by n desc, i.category limit " ~ n_categories) -%}
    {%- set used = [] -%}
    {%- for row in top_categories.rows -%}
      {%- set slug = lookalike.lookalike_slug(row[0]) -%}
      {%- if slug in used -%}{%- set slug = slug ~ '_' ~ loop.index -%}{%- endif -%}
      {%- do used.append(slug) -%}
      {%- do spec['categories'].append({'value': row[0], 'slug': slug}) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set candidates = [] -%}
  {%- for t in spec['types'] -%}
    {%- set series = 'type|' ~ t['value'] -%}
    {%- for w in windows -%}
      {%- do candidates.append({'name': 'evt_' ~ t['slug'] ~ '_cnt_' ~ w ~ 'd', 'series': series, 'kind': 'count', 'window': w}) -%}
    {%- endfor -%}
    {%- if t['has_value'] -%}
      {%- for w in windows -%}
        {%- do candidates.append({'name': 'evt_' ~ t['slug'] ~ '_value_' ~ w ~ 'd', 'series': series, 'kind': 'value', 'window': w}) -%}
      {%- endfor -%}
    {%- endif -%}
    {%- do candidates.append({'name': 'evt_' ~ t['slug'] ~ '_days_since_last', 'series': series, 'kind': 'since_last', 'window': 0}) -%}
    {%- do candidates.append({'name': 'evt_' ~ t['slug'] ~ '_days_since_first', 'series': series, 'kind': 'since_first', 'window': 0}) -%}
  {%- endfor -%}
  {%- do candidates.append({'name': 'evt_distinct_items', 'series': 'item_first', 'kind': 'cumulative', 'window': 0}) -%}
  {%- for w in active_windows -%}
    {%- do candidates.append({'name': 'evt_active_days_' ~ w ~ 'd', 'series': 'day', 'kind': 'active_days', 'window': w}) -%}
  {%- endfor -%}
  {%- for c in spec['categories'] -%}
    {%- do candidates.append({'name': 'aff_' ~ c['slug'] ~ '_share_' ~ affinity_window ~ 'd', 'series': 'cat|' ~ c['value'], 'kind': 'share', 'window': affinity_window}) -%}
  {%- endfor -%}
  {%- set include = var('lookalike_feature_include', []) | map('lower') | list -%}
  {%- set exclude = var('lookalike_feature_exclude', []) | map('lower') | list -%}
  {%- for f in candidates -%}
    {%- do spec['candidate_names'].append(f['name']) -%}
    {%- if (not include or f['name'] in include) and f['name'] not in exclude -%}
      {%- do spec['features'].append(f) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(spec) }}
{% endmacro %}


{#- Names of the event features of a spec. -#}
{% macro lookalike_event_feature_names(spec) %}
  {{ return(spec['features'] | map(attribute='name') | list) }}
{% endmacro %}


{#- The (series, offset_days) lookups the features of a spec need. -#}
{% macro lookalike_event_lookups(spec) %}
  {%- set lookups = [] -%}
  {%- for f in spec['features'] -%}
    {%- if f['kind'] in ['count', 'value', 'share'] -%}
      {%- set pairs = [(f['series'], 0), (f['series'], f['window'])] -%}
      {%- if f['kind'] == 'share' -%}{%- set pairs = pairs + [('all', 0), ('all', f['window'])] -%}{%- endif -%}
    {%- elif f['kind'] == 'active_days' -%}
      {%- set pairs = [('day_first', 0), ('day_last', f['window'])] -%}
    {%- else -%}
      {%- set pairs = [(f['series'], 0)] -%}
    {%- endif -%}
    {%- for p in pairs -%}
      {%- if p not in lookups -%}{%- do lookups.append(p) -%}{%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(lookups) }}
{% endmacro %}


{#- For each row (user, lookup time) of `lookups`, the last row of `series` for the same user and
    series strictly before the lookup time. Emits lookups.* plus cum_count, cum_value, last_at,
    first_at; lookups without an earlier row drop out (the caller treats them as zero). -#}
{% macro lookalike_event_asof(lookups, series) %}
  {{ return(adapter.dispatch('lookalike_event_asof', 'lookalike')(lookups, series)) }}
{% endmacro %}

{% macro duckdb__lookalike_event_asof(lookups, series) %}
    select l.*, s.cum_count, s.cum_value, s.series_at as last_at, s.first_at
    from {{ lookups }} as l
    asof inner join {{ series }} as s
      on l.user_id = s.user_id and l.series = s.series and l.lookup_at > s.series_at
{% endmacro %}

{#- Spark: the lookups and the series rows in one union, sorted per user and series by time with a
    lookup before a series row at the same time (strictly before), and last(..., true) carries the
    latest series row forward onto each lookup: one shuffle and a sort, equi-joins only, the work
    growing with series rows plus lookups (decision 0033). `lookups` has the columns user_id,
    as_of_at, series, offset_days and lookup_at (lookalike_event_features' lookalike_lookups). -#}
{% macro spark__lookalike_event_asof(lookups, series) %}
    select user_id, as_of_at, series, offset_days, lookup_at,
        asof_match.cum_count, asof_match.cum_value, asof_match.last_at, asof_match.first_at
    from (
        select user_id, as_of_at, series, offset_days, asof_at as lookup_at, asof_kind,
            last(case when asof_kind = 1 then named_struct('cum_count', cum_count, 'cum_value', cum_value, 'last_at', asof_at, 'first_at', first_at) end, true) over (
                partition by user_id, series order by asof_at, asof_kind rows between unbounded preceding and current row
            ) as asof_match
        from (
            select user_id, series, lookup_at as asof_at, 0 as asof_kind, as_of_at, offset_days,
                null as cum_count, null as cum_value, null as first_at
            from {{ lookups }}
            union all
            select user_id, series, series_at, 1, null, null, cum_count, cum_value, first_at
            from {{ series }}
        ) as asof_rows
    ) as asof_carried
    where asof_kind = 0 and asof_match is not null
{% endmacro %}

{% macro default__lookalike_event_asof(lookups, series) %}
    select * from (
        select l.*, s.cum_count, s.cum_value, s.series_at as last_at, s.first_at,
            row_number() over (partition by l.user_id, l.as_of_at, l.series, l.offset_days order by s.series_at desc) as lookalike_rank
        from {{ lookups }} as l
        inner join {{ series }} as s
          on l.user_id = s.user_id and l.series = s.series and s.series_at < l.lookup_at
    ) as ranked
    where lookalike_rank = 1
{% endmacro %}


{#- One row per distinct (user_id, as_of_at) of `points`, with every event feature of `spec`.
    The series hold only users with a training example (int_lookalike__event_series), the users
    these points come from, so they are read whole. -#}
{% macro lookalike_event_features(points, spec) %}
  {%- set lookups = lookalike.lookalike_event_lookups(spec) -%}
  {%- set offsets = [] -%}
  {%- for series, offset in lookups -%}
    {%- if offset not in offsets -%}{%- do offsets.append(offset) -%}{%- endif -%}
  {%- endfor -%}
with lookalike_points as (
    select distinct user_id, as_of_at from {{ points }}
),
lookalike_offsets as (
    {%- for series, offset in lookups %}
    select {{ lookalike.lookalike_literal(series) }} as series, {{ offset }} as offset_days{{ ' union all' if not loop.last }}
    {%- endfor %}
),
lookalike_user_series as (
    select distinct user_id, series from {{ ref('int_lookalike__event_series') }}
),
lookalike_lookups as (
    select
        p.user_id,
        p.as_of_at,
        o.series,
        o.offset_days,
        {{ dbt.dateadd('day', '-1 * o.offset_days', 'p.as_of_at') }} as lookup_at
    from lookalike_points as p
    inner join lookalike_user_series as us
        on p.user_id = us.user_id
    inner join lookalike_offsets as o
        on us.series = o.series
),
lookalike_matched as (
    {{ lookalike.lookalike_event_asof('lookalike_lookups', ref('int_lookalike__event_series')) }}
),
lookalike_per_series as (
    {#- Level 1: one row per point and series, the cumulative values at each offset. #}
    select
        m.user_id,
        m.as_of_at,
        m.series,
        {%- for o in offsets %}
        max(case when m.offset_days = {{ o }} then m.cum_count end) as cnt_{{ o }},
        {%- endfor %}
        {%- for o in offsets %}
        max(case when m.offset_days = {{ o }} then m.cum_value end) as val_{{ o }},
        {%- endfor %}
        max(case when m.offset_days = 0 then m.last_at end) as last_at,
        max(case when m.offset_days = 0 then m.first_at end) as first_at
    from lookalike_matched as m
    group by m.user_id, m.as_of_at, m.series
),
lookalike_pivot as (
    {#- Level 2: one row per point, one column per feature. #}
    select
        p.user_id,
        p.as_of_at
        {%- for f in spec['features'] %},
        {%- set s = lookalike.lookalike_literal(f['series']) %}
        {%- set col = lookalike.lookalike_quote_identifier(f['name']) %}
        {%- set w = f['window'] %}
        {%- if f['kind'] == 'count' %}
        max(case when p.series = {{ s }} then coalesce(p.cnt_0, 0) - coalesce(p.cnt_{{ w }}, 0) end) as {{ col }}
        {%- elif f['kind'] == 'value' %}
        max(case when p.series = {{ s }} then coalesce(p.val_0, 0) - coalesce(p.val_{{ w }}, 0) end) as {{ col }}
        {%- elif f['kind'] == 'since_last' %}
        max(case when p.series = {{ s }} then cast({{ dbt.datediff('p.last_at', 'p.as_of_at', 'second') }} as double) / 86400 end) as {{ col }}
        {%- elif f['kind'] == 'since_first' %}
        max(case when p.series = {{ s }} and p.last_at is not null then cast({{ dbt.datediff('p.first_at', 'p.as_of_at', 'second') }} as double) / 86400 end) as {{ col }}
        {%- elif f['kind'] == 'cumulative' %}
        max(case when p.series = {{ s }} then p.cnt_0 end) as {{ col }}
        {%- elif f['kind'] == 'active_days' %}
        coalesce(max(case when p.series = 'day_first' then p.cnt_0 end), 0)
            - coalesce(max(case when p.series = 'day_last' then p.cnt_{{ w }} end), 0) as {{ col }}
        {%- elif f['kind'] == 'share' %}
        cast(coalesce(max(case when p.series = {{ s }} then coalesce(p.cnt_0, 0) - coalesce(p.cnt_{{ w }}, 0) end), 0) as double)
            / nullif(max(case when p.series = 'all' then coalesce(p.cnt_0, 0) - coalesce(p.cnt_{{ w }}, 0) end), 0) as {{ col }}
        {%- endif %}
        {%- endfor %}
    from lookalike_per_series as p
    group by p.user_id, p.as_of_at
)
select
    p.user_id,
    p.as_of_at
    {{- lookalike.lookalike_event_feature_outputs(spec, 'v') }}
from lookalike_points as p
left join lookalike_pivot as v
    on p.user_id = v.user_id
   and p.as_of_at = v.as_of_at
{% endmacro %}


{#- The output columns of both paths, each preceded by a comma: counts, sums, distinct items and
    active days are 0 for a user without such events; days since and shares stay null. -#}
{% macro lookalike_event_feature_outputs(spec, alias) %}
    {%- for f in spec['features'] %},
    {%- set col = lookalike.lookalike_quote_identifier(f['name']) %}
    {%- if f['kind'] in ['count', 'value', 'cumulative', 'active_days'] %}
    cast(coalesce({{ alias }}.{{ col }}, 0) as double) as {{ col }}
    {%- else %}
    cast({{ alias }}.{{ col }} as double) as {{ col }}
    {%- endif %}
    {%- endfor %}
{% endmacro %}


{#- The event features of `points` when every point shares one as-of time (`as_of`, a SQL
    timestamp expression): the population at the scoring time. Same features and values as
    lookalike_event_features (window counts and sums over as_of - w <= event_at < as_of, days since
    the last / first event before as_of, distinct items and active days before as_of, category
    shares), but computed in one grouped pass over the events instead of ASOF lookups into the
    cumulative series: with a single as-of time no lookup is needed, and the population does not
    wait for int_lookalike__event_series. Sums of values may differ from the series' differences
    of running totals in the last floating-point digits. One row per distinct user of `points`.
    `events_filter` (SQL over `e`, optional) narrows the events read (lookalike_inference_features:
    lookalike_delta_keys_filter, decision 0041). -#}
{% macro lookalike_event_features_as_of(points, spec, as_of, events_filter=none) %}
  {%- set since = {} -%}
  {%- for w in (spec['windows'] + spec['active_day_windows'] + [spec['affinity_window']]) | unique -%}
    {%- do since.update({w: dbt.dateadd('day', -1 * w, as_of)}) -%}
  {%- endfor -%}
with lookalike_points as (
    select distinct user_id from {{ points }}
),
lookalike_events as (
    select
        e.user_id,
        e.event_type,
        e.event_at,
        e.value,
        e.item_id
        {%- if spec['categories'] %},
        i.category
        {%- endif %}
    from {{ ref('stg_lookalike__events') }} as e
    {%- if spec['categories'] %}
    left join {{ ref('stg_lookalike__items') }} as i
        on e.item_id = i.item_id
    {%- endif %}
    where e.event_at < {{ as_of }}
    {%- if events_filter %}
      and {{ events_filter }}
    {%- endif %}
),
lookalike_aggregated as (
    select
        user_id
        {%- for f in spec['features'] %},
        {%- set t = lookalike.lookalike_literal(f['series'][5:]) if f['series'].startswith('type|') else none %}
        {%- set col = lookalike.lookalike_quote_identifier(f['name']) %}
        {%- set in_window = 'event_at >= ' ~ since[f['window']] if f['window'] else 'true' %}
        {%- if f['kind'] == 'count' %}
        count(case when event_type = {{ t }} and {{ in_window }} then 1 end) as {{ col }}
        {%- elif f['kind'] == 'value' %}
        sum(case when event_type = {{ t }} and {{ in_window }} then coalesce(value, 0) end) as {{ col }}
        {%- elif f['kind'] == 'since_last' %}
        cast({{ dbt.datediff('max(case when event_type = ' ~ t ~ ' then event_at end)', as_of, 'second') }} as double) / 86400 as {{ col }}
        {%- elif f['kind'] == 'since_first' %}
        cast({{ dbt.datediff('min(case when event_type = ' ~ t ~ ' then event_at end)', as_of, 'second') }} as double) / 86400 as {{ col }}
        {%- elif f['kind'] == 'cumulative' %}
        {{ lookalike.lookalike_count_distinct('item_id') }} as {{ col }}
        {%- elif f['kind'] == 'active_days' %}
        {{ lookalike.lookalike_count_distinct('case when ' ~ in_window ~ ' then cast(event_at as date) end') }} as {{ col }}
        {%- elif f['kind'] == 'share' %}
        cast(count(case when category = {{ lookalike.lookalike_literal(f['series'][4:]) }} and {{ in_window }} then 1 end) as double)
            / nullif(count(case when {{ in_window }} then 1 end), 0) as {{ col }}
        {%- endif %}
        {%- endfor %}
    from lookalike_events
    group by user_id
)
select
    p.user_id,
    {{ as_of }} as as_of_at
    {{- lookalike.lookalike_event_feature_outputs(spec, 'v') }}
from lookalike_points as p
left join lookalike_aggregated as v
    on p.user_id = v.user_id
{% endmacro %}
