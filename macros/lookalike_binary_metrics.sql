{#- Weighted ROC AUC and KS per group, in SQL.
    relation: rows with a score, a 0/1 label and an optional weight (null weight = 1).
    Emits one row per group: the group columns, n_examples, n_positive, sum_weight,
    positive_rate (weighted share of label 1), auc, ks, log_loss.
    auc equals sklearn.metrics.roc_auc_score(label, score, sample_weight=weight): tied scores count
    one half. ks is max |TPR - FPR| over score thresholds, as from sklearn.metrics.roc_curve.
    Both are null when the group lacks either class. log_loss equals
    sklearn.metrics.log_loss(label, score, sample_weight=weight, labels=[0, 1]): the weighted mean
    of -ln(score) over positives and -ln(1 - score) over negatives, each probability clipped to
    [eps, 1 - eps] with eps = 2.220446049250313e-16 (float64's machine epsilon, as scikit-learn
    clips); it is defined for a group of one class too. -#}
{% macro lookalike_binary_metrics(relation, group_by=['run_id', 'split'], score='score', label='label', weight='weight') %}
  {%- set groups = group_by | join(', ') -%}
  {%- set partition = 'partition by ' ~ groups if group_by else '' -%}
with lookalike_scored as (
    select {{ groups ~ ',' if group_by }}
        cast({{ score }} as double) as score,
        cast({{ label }} as integer) as label,
        coalesce(cast({{ weight }} as double), 1.0) as weight
    from {{ relation }}
    where {{ score }} is not null and {{ label }} in (0, 1)
),
lookalike_by_score as (
    select {{ groups ~ ',' if group_by }}
        score,
        count(*) as n_examples,
        cast(sum(label) as {{ dbt.type_bigint() }}) as n_positive,
        sum(case when label = 1 then weight else 0 end) as weight_positive,
        sum(case when label = 0 then weight else 0 end) as weight_negative
    from lookalike_scored
    group by {{ groups ~ ',' if group_by }} score
),
lookalike_cumulative as (
    select *,
        coalesce(sum(weight_negative) over ({{ partition }} order by score
            rows between unbounded preceding and 1 preceding), 0) as weight_negative_below,
        sum(weight_positive) over ({{ partition }} order by score desc rows between unbounded preceding and current row)
            as weight_positive_at_or_above,
        sum(weight_negative) over ({{ partition }} order by score desc rows between unbounded preceding and current row)
            as weight_negative_at_or_above,
        sum(weight_positive) over ({{ partition }}) as total_positive,
        sum(weight_negative) over ({{ partition }}) as total_negative
    from lookalike_by_score
)
select {{ groups ~ ',' if group_by }}
    cast(sum(n_examples) as {{ dbt.type_bigint() }}) as n_examples,
    cast(sum(n_positive) as {{ dbt.type_bigint() }}) as n_positive,
    max(total_positive) + max(total_negative) as sum_weight,
    max(total_positive) / nullif(max(total_positive) + max(total_negative), 0) as positive_rate,
    case when max(total_positive) > 0 and max(total_negative) > 0 then
        sum(weight_positive * (weight_negative_below + 0.5 * weight_negative))
        / (max(total_positive) * max(total_negative))
    end as auc,
    case when max(total_positive) > 0 and max(total_negative) > 0 then
        max(abs(weight_positive_at_or_above / total_positive - weight_negative_at_or_above / total_negative))
    end as ks,
    sum(weight_positive * -ln({{ lookalike.lookalike_clipped_probability('score') }})
        + weight_negative * -ln({{ lookalike.lookalike_clipped_probability('1.0 - score') }}))
        / nullif(max(total_positive) + max(total_negative), 0) as log_loss
from lookalike_cumulative
{{ 'group by ' ~ groups if group_by }}
{% endmacro %}


{#- A probability clipped to [eps, 1 - eps], eps = float64's machine epsilon (scikit-learn's log_loss
    clips the same way). Portable: least / greatest. -#}
{% macro lookalike_clipped_probability(expression) -%}
    least(greatest({{ expression }}, cast(2.220446049250313e-16 as double)), cast(0.9999999999999998 as double))
{%- endmacro %}
