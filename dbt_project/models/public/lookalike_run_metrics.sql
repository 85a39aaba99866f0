{{ config(lookalike_keep=true) }}
{#- One row per run and split (train, test): weighted AUC, KS and log loss, example counts, positive
    rate; accuracy, precision, recall and f1 of the positive class at the split's top_pct cutoff of
    lookalike_run_threshold_metrics (var lookalike_threshold_top_pct; docs/evaluation.md); and on
    the test split the recall of held-out seeds in the top 10 % and 20 % of the scored population
    (null on the train split, for build_only runs, when the run was not scored, and when its
    population model was refitted on every label). Every figure describes the model fitted on the
    train split (lookalike_training_predictions). -#}
with metrics as (
    {{ lookalike.lookalike_binary_metrics(ref('lookalike_training_predictions'), group_by=['run_id', 'split']) }}
),

{#- Held-out seeds only of runs whose population model never saw them: a run refitted on every
    label (split_model_json set, decision 0032) would rank its test split's seeds with a model
    fitted on them, so it gets no recall. #}
{%- set held_out_predictions = '(select * from ' ~ ref('lookalike_training_predictions') ~ ' where run_id not in (select run_id from '
      ~ ref('lookalike_run_models') ~ ' where split_model_json is not null)) as held_out_predictions' %}
recall as (
    {{ lookalike.lookalike_seed_recall(held_out_predictions, ref('lookalike_user_scores'),
                                       ref('int_lookalike__population_scores'), pcts=[10, 20]) }}
)

select
    metrics.run_id,
    metrics.split,
    metrics.n_examples,
    metrics.n_positive,
    metrics.sum_weight,
    metrics.positive_rate,
    metrics.auc,
    metrics.ks,
    recall.n_held_out_seed_users,
    recall.recall_top_10pct,
    recall.recall_top_20pct,
    metrics.log_loss,
    at_cutoff.threshold,
    at_cutoff.accuracy,
    at_cutoff.precision_positive,
    at_cutoff.recall_positive,
    at_cutoff.f1_positive
from metrics
left join recall
    on metrics.run_id = recall.run_id
   and metrics.split = 'test'
left join {{ ref('lookalike_run_threshold_metrics') }} as at_cutoff
    on metrics.run_id = at_cutoff.run_id
   and metrics.split = at_cutoff.split
   and at_cutoff.cutoff = 'top_pct'
