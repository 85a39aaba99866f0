{#- The Elkan–Noto constant of each positive-only run (decision 0032): c = the mean score of the
    run's held-out seeds, i.e. the examples with label 1 in the test split, as scored by the model
    fitted on the train split (lookalike_training_predictions). Under SCAR (the seeds are a random
    sample of the positives), a model g that separates seeds from unlabeled users gives
    P(positive | x) ~= g(x) / c (Elkan and Noto, 2008, estimator e1), so calibrated_score =
    min(1, score / c). Only runs without negatives (training_method pu_bagging or pu_plain), whose
    population is scored by that same split model (they are never refitted), get a row; runs with
    negatives already score a probability estimate. Unweighted: one term per held-out seed example.
    predictions: rows with run_id, split, label, score (lookalike_training_predictions).
    models: rows with run_id, training_method (lookalike_run_models).
    Emits run_id, calibration_constant (double; null when every held-out seed scores 0),
    n_calibration_seeds (bigint). A run without held-out seeds has no row. -#}
{% macro lookalike_calibration_constants(predictions, models) %}
select
    predictions.run_id,
    nullif(avg(cast(predictions.score as double)), 0) as calibration_constant,
    cast(count(*) as {{ dbt.type_bigint() }}) as n_calibration_seeds
from {{ predictions }} as predictions
inner join {{ models }} as models
    on predictions.run_id = models.run_id
where predictions.split = 'test'
  and predictions.label = 1
  and predictions.score is not null
  and models.training_method in ('pu_bagging', 'pu_plain')
group by predictions.run_id
{% endmacro %}

{#- score / c capped at 1 (the Elkan–Noto estimate of P(positive | x)); null when c is null
    (least() skips nulls on DuckDB and Spark, so the null case is explicit). -#}
{% macro lookalike_calibrated_score(score, constant) %}
    case when {{ constant }} is not null then least(cast(1 as double), cast({{ score }} as double) / {{ constant }}) end
{%- endmacro %}
