{#- One row per run and split (train, test): weighted AUC and KS, example counts, positive rate,
    and on the test split the recall of held-out seeds in the top 10 % and 20 % of the scored
    population (null on the train split, for build_only runs and when the run was not scored). -#}
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
    recall.recall_top_20pct
from metrics
left join recall
    on metrics.run_id = recall.run_id
   and metrics.split = 'test'
