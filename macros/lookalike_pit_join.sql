{#- Point-in-time join: for every row of `left` (user key `left_user`, time `left_at`), the most recent
    row of `snapshot_keys` (columns user_id, snapshot_at, valid_to; unique per user and time) with
    snapshot_at <= left_at (inclusive), provided it is still valid then (valid_to null or
    left_at < valid_to, for SCD2 input). Emits left.* plus matched_snapshot_at (null when none).
    DuckDB uses an ASOF join; other adapters a portable window over the candidate rows. -#}
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
