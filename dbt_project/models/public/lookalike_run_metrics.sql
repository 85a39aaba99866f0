{#- One row per run and split (train, test): weighted AUC, KS and log loss, example counts, positive
    rate; accuracy, precision, recall and f1 of the positive class at the split's top_pct cutoff of
    lookalike_run_threshold_metrics (var lookalike_threshold_top_pct; docs/evaluation.md); and on
    the test split the recall of held-out seeds in the top 10 % and 20 % of the scored population
    (null on the train split, for build_only runs and when the run was not scored). -#}
with metrics as (
    {{ lookalike.lookalike_binary_metrics(ref('lookalike_training_predictions'), group_by=['run_id', 'split']) }}
),

recall as (
    {{ lookalike.lookalike_seed_recall(ref('lookalike_training_predictions'), ref('lookalike_user_scores'),
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
