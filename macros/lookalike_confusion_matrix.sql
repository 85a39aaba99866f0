{#- A binary confusion matrix in long form, in SQL: four rows (actual_label x predicted_label) per
    row of thresholds, weighted and unweighted.
    relation: rows with a score, a 0/1 label and an optional weight (null weight = 1); rows without
      a score or with another label are left out, as in lookalike_binary_metrics.
    thresholds: a relation with the group columns, a cutoff name and a threshold (one row per group
      and cutoff; lookalike_run_threshold_metrics has that shape).
    A row is predicted positive (predicted_label 1) when score >= threshold.
    Emits the group columns, cutoff, threshold, actual_label, predicted_label, n_examples (rows) and
    sum_weight (sum of the rows' weights). Every cell is present, with 0 when no row falls in it, so
    n_examples equals sklearn.metrics.confusion_matrix(label, score >= threshold, labels=[0, 1])
    and sum_weight the same with sample_weight=weight. -#}
{% macro lookalike_confusion_matrix(relation, thresholds, group_by=['run_id', 'split'], score='score', label='label', weight='weight', cutoff='cutoff', threshold='threshold') %}
  {{ return(adapter.dispatch('lookalike_confusion_matrix', 'lookalike')(relation, thresholds, group_by, score, label, weight, cutoff, threshold)) }}
{% endmacro %}

{% macro default__lookalike_confusion_matrix(relation, thresholds, group_by, score, label, weight, cutoff, threshold) %}
  {%- set on_rows = [] -%}
  {%- for c in group_by %}{% do on_rows.append('r.' ~ c ~ ' = t.' ~ c) %}{% endfor -%}
  {%- set on_counts = [] -%}
  {%- for c in group_by %}{% do on_counts.append('n.' ~ c ~ ' = c.' ~ c) %}{% endfor -%}
with lookalike_rows as (
    select {% for c in group_by %}{{ c }}, {% endfor %}
        cast({{ score }} as double) as score,
        cast({{ label }} as integer) as label,
        coalesce(cast({{ weight }} as double), 1.0) as weight
    from {{ relation }}
    where {{ score }} is not null and {{ label }} in (0, 1)
),
lookalike_cuts as (
    select {% for c in group_by %}{{ c }}, {% endfor %}
        {{ cutoff }} as cutoff,
        cast({{ threshold }} as double) as threshold
    from {{ thresholds }}
),
lookalike_cells as (
    select {% for c in group_by %}t.{{ c }}, {% endfor %}t.cutoff, t.threshold, a.actual_label, p.predicted_label
    from lookalike_cuts as t
    cross join (select 0 as actual_label union all select 1 as actual_label) as a
    cross join (select 0 as predicted_label union all select 1 as predicted_label) as p
),
lookalike_counts as (
    select {% for c in group_by %}t.{{ c }}, {% endfor %}t.cutoff,
        r.label as actual_label,
        case when r.score >= t.threshold then 1 else 0 end as predicted_label,
        count(*) as n_examples,
        sum(r.weight) as sum_weight
    from lookalike_cuts as t
    inner join lookalike_rows as r
        on {{ on_rows | join(' and ') if on_rows else '1 = 1' }}
    group by {% for c in group_by %}t.{{ c }}, {% endfor %}t.cutoff, r.label, case when r.score >= t.threshold then 1 else 0 end
)
select {% for c in group_by %}c.{{ c }}, {% endfor %}
    c.cutoff,
    c.threshold,
    c.actual_label,
    c.predicted_label,
    cast(coalesce(n.n_examples, 0) as {{ dbt.type_bigint() }}) as n_examples,
    cast(coalesce(n.sum_weight, 0) as double) as sum_weight
from lookalike_cells as c
left join lookalike_counts as n
    on {% for cond in on_counts %}{{ cond }} and {% endfor %}n.cutoff = c.cutoff
   and n.actual_label = c.actual_label
   and n.predicted_label = c.predicted_label
{% endmacro %}
