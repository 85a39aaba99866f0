{#- Point-in-time join: for every row of `left` (user key `left_user`, time `left_at`), the most recent
    row of `snapshot_keys` (columns user_id, snapshot_at, valid_to; unique per user and time) with
    snapshot_at <= left_at (inclusive), provided it is still valid then (valid_to null or
    left_at < valid_to, for SCD2 input). Emits left.* plus matched_snapshot_at (null when none).
    DuckDB uses an ASOF join; Spark a union of the points and the snapshots, ordered by time per
    user, carrying the last snapshot forward (equi-joins and one window, decision 0033); other
    adapters a portable range join ranked per point. -#}
{% macro lookalike_pit_join(left, left_user, left_at, snapshot_keys) %}
  {{ return(adapter.dispatch('lookalike_pit_join', 'lookalike')(left, left_user, left_at, snapshot_keys)) }}
{% endmacro %}

{% macro default__lookalike_pit_join(left, left_user, left_at, snapshot_keys) %}
  select l.*, s.snapshot_at as matched_snapshot_at
  from {{ left }} as l
  left join (
    select l2.{{ left_user }} as pit_user, l2.{{ left_at }} as pit_at, max(s2.snapshot_at) as snapshot_at
    from (select distinct {{ left_user }}, {{ left_at }} from {{ left }}) as l2
    inner join {{ snapshot_keys }} as s2
      on s2.user_id = l2.{{ left_user }} and s2.snapshot_at <= l2.{{ left_at }}
     and (s2.valid_to is null or l2.{{ left_at }} < s2.valid_to)
    group by 1, 2
  ) as s
    on s.pit_user = l.{{ left_user }} and s.pit_at = l.{{ left_at }}
{% endmacro %}

{% macro duckdb__lookalike_pit_join(left, left_user, left_at, snapshot_keys) %}
  select l.*,
    case when s.valid_to is null or l.{{ left_at }} < s.valid_to then s.snapshot_at end as matched_snapshot_at
  from {{ left }} as l
  asof left join {{ snapshot_keys }} as s
    on l.{{ left_user }} = s.user_id and l.{{ left_at }} >= s.snapshot_at
{% endmacro %}

{#- Spark: the snapshots and the distinct (user, time) points in one union, sorted per user by time
    with a snapshot before a point at the same time (inclusive), and last(..., true) carries the
    latest snapshot (time and valid_to, as one struct, so a null valid_to is kept) forward onto
    each point. One shuffle by user and a sort: the work grows with snapshots plus points, where a
    range join compares every point with every earlier snapshot of its user (decision 0033). As
    DuckDB's ASOF join, the latest snapshot is matched, then dropped when no longer valid. Only
    the snapshots of users with a point enter the union (a semi-join on user): a few thousand
    labels do not shuffle and sort the whole snapshot history. -#}
{% macro spark__lookalike_pit_join(left, left_user, left_at, snapshot_keys) %}
  select l.*, s.matched_snapshot_at
  from {{ left }} as l
  left join (
    select pit_user, pit_at,
      case when pit_match.valid_to is null or pit_at < pit_match.valid_to then pit_match.snapshot_at end as matched_snapshot_at
    from (
      select pit_user, pit_at, pit_kind,
        last(case when pit_kind = 0 then named_struct('snapshot_at', pit_at, 'valid_to', pit_valid_to) end, true) over (
          partition by pit_user order by pit_at, pit_kind rows between unbounded preceding and current row
        ) as pit_match
      from (
        select user_id as pit_user, snapshot_at as pit_at, 0 as pit_kind, valid_to as pit_valid_to
        from {{ snapshot_keys }}
        where user_id in (select {{ left_user }} from {{ left }})
        union all
        select distinct {{ left_user }}, {{ left_at }}, 1, null
        from {{ left }}
      ) as pit_rows
    ) as pit_carried
    where pit_kind = 1
  ) as s
    on s.pit_user = l.{{ left_user }} and s.pit_at = l.{{ left_at }}
{% endmacro %}
