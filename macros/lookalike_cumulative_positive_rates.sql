{#- Cumulative positive rate by score fraction, in SQL, built on lookalike_decile_table.
    direction 'descending': the share of positives (weighted) among the top `fraction` of scores;
    'ascending': among the bottom `fraction`. fraction runs 0.1 .. 1.0 in steps of 0.1.
    Emits the group columns, direction, fraction, n_users, positive_rate. -#}
{% macro lookalike_cumulative_positive_rates(relation, group_by=['run_id', 'split'], score='score', label='label', weight='weight', id_column='example_id') %}
  {%- set groups = group_by | join(', ') -%}
  {%- set partition = 'partition by ' ~ groups if group_by else '' -%}
with lookalike_deciles as (
    {{ lookalike.lookalike_decile_table(relation, group_by, score, label, weight, id_column) }}
),
lookalike_directions as (
    select *, 'ascending' as direction, decile + 1 as step from lookalike_deciles
    union all
    select *, 'descending' as direction, 10 - decile as step from lookalike_deciles
),
lookalike_cumulative as (
    select {{ groups ~ ',' if group_by }}
        direction,
        step,
        sum(n_users) over ({{ partition ~ ', direction' if group_by else 'partition by direction' }} order by step rows between unbounded preceding and current row) as n_users,
        sum(positive_rate * sum_weight) over ({{ partition ~ ', direction' if group_by else 'partition by direction' }} order by step rows between unbounded preceding and current row)
            / nullif(sum(sum_weight) over ({{ partition ~ ', direction' if group_by else 'partition by direction' }} order by step rows between unbounded preceding and current row), 0)
            as positive_rate
    from lookalike_directions
)
select {{ groups ~ ',' if group_by }}
    direction,
    cast(step as double) / 10 as fraction,
    n_users,
    positive_rate
from lookalike_cumulative
{% endmacro %}
