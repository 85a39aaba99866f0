{#- Score deciles per group, in SQL. Decile 0 holds the lowest scores, 9 the highest (ntile over
    score descending, ties broken by id_column as in score_rank, so the split is deterministic and
    the best-ranked rows are in decile 9).
    Emits the group columns, decile, n_users, n_positive, sum_weight, positive_rate (weighted),
    min_score, max_score, lift (decile positive rate / the group's positive rate). -#}
{% macro lookalike_decile_table(relation, group_by=['run_id', 'split'], score='score', label='label', weight='weight', id_column='example_id') %}
  {%- set groups = group_by | join(', ') -%}
  {%- set partition = 'partition by ' ~ groups if group_by else '' -%}
with lookalike_ranked as (
    select {{ groups ~ ',' if group_by }}
        cast({{ score }} as double) as score,
        cast({{ label }} as integer) as label,
        coalesce(cast({{ weight }} as double), 1.0) as weight,
        cast(10 - ntile(10) over ({{ partition }} order by {{ score }} desc, {{ id_column }}) as bigint) as decile
    from {{ relation }}
    where {{ score }} is not null and {{ label }} in (0, 1)
),
lookalike_deciles as (
    select {{ groups ~ ',' if group_by }}
        decile,
        count(*) as n_users,
        cast(sum(label) as {{ dbt.type_bigint() }}) as n_positive,
        sum(weight) as sum_weight,
        sum(weight * label) as weight_positive,
        min(score) as min_score,
        max(score) as max_score
    from lookalike_ranked
    group by {{ groups ~ ',' if group_by }} decile
)
select {{ groups ~ ',' if group_by }}
    decile,
    n_users,
    n_positive,
    sum_weight,
    weight_positive / nullif(sum_weight, 0) as positive_rate,
    min_score,
    max_score,
    (weight_positive / nullif(sum_weight, 0))
        / nullif(sum(weight_positive) over ({{ partition }}) / nullif(sum(sum_weight) over ({{ partition }}), 0), 0) as lift
from lookalike_deciles
{% endmacro %}
