{#- Confusion counts and per-class precision / recall / f1 at two score cutoffs per group, in SQL.
    relation: rows with a score, a 0/1 label and an optional weight (null weight = 1).
    A row is predicted positive when score >= threshold. Two cutoffs per group:
      - max_ks: the threshold (one of the group's scores) where |TPR - FPR| over "score >= threshold"
        is largest, the KS of lookalike_binary_metrics; ties go to the highest threshold. Only for
        groups holding both classes.
      - top_pct: the score of the row at position ceil(top_pct% x rows) when rows are ordered by
        score descending (rows counted unweighted, at least one). Rows tied with it are predicted
        positive too, so slightly more than top_pct% may be.
    Counts are weighted (sum of weights, so they equal sklearn.metrics.confusion_matrix with
    sample_weight). f1 = 2 TP / (2 TP + FP + FN) per class, as sklearn computes it; precision, recall
    and f1 are null where that denominator is 0 (sklearn's zero_division).
    Emits the group columns, cutoff, top_pct (null for max_ks), threshold, n_predicted_positive
    (rows), true_positive, false_positive, true_negative, false_negative, precision_positive,
    recall_positive, f1_positive, precision_negative, recall_negative, f1_negative, accuracy.
    accuracy = (TP + TN) / total weight, sklearn.metrics.accuracy_score with sample_weight. -#}
{% macro lookalike_threshold_metrics(relation, group_by=['run_id', 'split'], score='score', label='label', weight='weight', top_pct=10) %}
  {{ return(adapter.dispatch('lookalike_threshold_metrics', 'lookalike')(relation, group_by, score, label, weight, top_pct)) }}
{% endmacro %}

{% macro default__lookalike_threshold_metrics(relation, group_by, score, label, weight, top_pct) %}
  {%- if top_pct is none or top_pct is string or not (top_pct > 0 and top_pct <= 100) -%}
    {{ exceptions.raise_compiler_error("lookalike_threshold_metrics: top_pct must be a number in (0, 100], got " ~ top_pct ~ ". Fix var lookalike_threshold_top_pct.") }}
  {%- endif -%}
  {%- set groups = group_by | join(', ') -%}
  {%- set g = groups ~ ', ' if group_by else '' -%}
  {%- set partition = 'partition by ' ~ groups if group_by else '' -%}
  {%- set on = [] -%}
  {%- for c in group_by %}{% do on.append('c.' ~ c ~ ' = t.' ~ c) %}{% endfor -%}
with lookalike_scored as (
    select {{ g }}
        cast({{ score }} as double) as score,
        cast({{ label }} as integer) as label,
        coalesce(cast({{ weight }} as double), 1.0) as weight
    from {{ relation }}
    where {{ score }} is not null and {{ label }} in (0, 1)
),
lookalike_by_score as (
    select {{ g }}
        score,
        count(*) as n_rows,
        sum(case when label = 1 then weight else 0 end) as weight_positive,
        sum(case when label = 0 then weight else 0 end) as weight_negative
    from lookalike_scored
    group by {{ g }} score
),
lookalike_cumulative as (
    select {{ g }}
        score,
        cast(sum(n_rows) over ({{ partition }} order by score desc rows between unbounded preceding and current row) as {{ dbt.type_bigint() }}) as n_at_or_above,
        sum(weight_positive) over ({{ partition }} order by score desc rows between unbounded preceding and current row) as tp,
        sum(weight_negative) over ({{ partition }} order by score desc rows between unbounded preceding and current row) as fp,
        cast(sum(n_rows) over ({{ partition }}) as {{ dbt.type_bigint() }}) as n_total,
        sum(weight_positive) over ({{ partition }}) as total_positive,
        sum(weight_negative) over ({{ partition }}) as total_negative
    from lookalike_by_score
),
lookalike_ks_ranked as (
    select {{ g }}
        score,
        row_number() over ({{ partition }}
            order by abs(tp / total_positive - fp / total_negative) desc, score desc) as ks_order
    from lookalike_cumulative
    where total_positive > 0 and total_negative > 0
),
lookalike_thresholds as (
    select {{ g }} 'max_ks' as cutoff, cast(null as double) as top_pct, score as threshold
    from lookalike_ks_ranked
    where ks_order = 1
    union all
    select {{ g }} 'top_pct' as cutoff, cast({{ top_pct }} as double) as top_pct, max(score) as threshold
    from lookalike_cumulative
    where n_at_or_above >= case when ceil({{ top_pct }} * n_total / 100.0) < 1 then 1
                                else ceil({{ top_pct }} * n_total / 100.0) end
    {{ 'group by ' ~ groups if group_by }}
),
lookalike_counts as (
    select {% for c in group_by %}t.{{ c }}, {% endfor %}
        t.cutoff,
        t.top_pct,
        t.threshold,
        c.n_at_or_above as n_predicted_positive,
        c.tp as true_positive,
        c.fp as false_positive,
        c.total_negative - c.fp as true_negative,
        c.total_positive - c.tp as false_negative
    from lookalike_thresholds as t
    inner join lookalike_cumulative as c
        on {% for cond in on %}{{ cond }} and {% endfor %}c.score = t.threshold
)
select *,
    true_positive / nullif(true_positive + false_positive, 0) as precision_positive,
    true_positive / nullif(true_positive + false_negative, 0) as recall_positive,
    2 * true_positive / nullif(2 * true_positive + false_positive + false_negative, 0) as f1_positive,
    true_negative / nullif(true_negative + false_negative, 0) as precision_negative,
    true_negative / nullif(true_negative + false_positive, 0) as recall_negative,
    2 * true_negative / nullif(2 * true_negative + false_negative + false_positive, 0) as f1_negative,
    (true_positive + true_negative)
        / nullif(true_positive + false_positive + true_negative + false_negative, 0) as accuracy
from lookalike_counts
{% endmacro %}
