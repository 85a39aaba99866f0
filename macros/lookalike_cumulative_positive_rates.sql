{#- Cumulative positive rate by score fraction, in SQL.
    direction 'descending': the weighted share of positives among the top `fraction` of rows by
    score; 'ascending': among the bottom `fraction`. fraction runs 0.1 .. 1.0 in steps of 0.1 and
    covers the first ceil(fraction * n) rows, so every fraction has a row even when a group holds
    fewer than ten rows. Ties in score are broken by id_column, so results are deterministic.
    Emits the group columns, direction, fraction, n_users (rows covered), positive_rate. -#}
{% macro lookalike_cumulative_positive_rates(relation, group_by=['run_id', 'split'], score='score', label='label', weight='weight', id_column='example_id') %}
  {%- set groups = group_by | join(', ') -%}
  {%- set g = groups ~ ', ' if group_by else '' -%}
  {%- set partition = 'partition by ' ~ groups if group_by else '' -%}
with lookalike_ordered as (
    select {{ g }}
        cast({{ label }} as double) as lookalike_label,
        cast({{ weight }} as double) as lookalike_weight,
        row_number() over ({{ partition }} order by {{ score }} desc, {{ id_column }}) as rn_descending,
        row_number() over ({{ partition }} order by {{ score }} asc, {{ id_column }}) as rn_ascending,
        count(*) over ({{ partition }}) as n_total
    from {{ relation }}
    where {{ score }} is not null and {{ label }} in (0, 1)
),
lookalike_directions as (
    select {{ g }} 'descending' as direction, rn_descending as rn, n_total, lookalike_label, lookalike_weight
    from lookalike_ordered
    union all
    select {{ g }} 'ascending' as direction, rn_ascending as rn, n_total, lookalike_label, lookalike_weight
    from lookalike_ordered
),
lookalike_cumulative as (
    select {{ g }} direction, rn, n_total,
        sum(lookalike_label * lookalike_weight) over (partition by {{ g }} direction order by rn rows between unbounded preceding and current row) as weighted_positive,
        sum(lookalike_weight) over (partition by {{ g }} direction order by rn rows between unbounded preceding and current row) as weighted_total
    from lookalike_directions
),
lookalike_fractions as (
    {%- for k in range(1, 11) %}
    select {{ k }} as tenths{{ ' union all' if not loop.last }}
    {%- endfor %}
)
select {{ g }}
    c.direction,
    cast(f.tenths as double) / 10 as fraction,
    cast(c.rn as bigint) as n_users,
    c.weighted_positive / nullif(c.weighted_total, 0) as positive_rate
from lookalike_cumulative as c
inner join lookalike_fractions as f
    on c.rn = cast(floor((f.tenths * c.n_total + 9) / 10.0) as {{ dbt.type_bigint() }})
{% endmacro %}
