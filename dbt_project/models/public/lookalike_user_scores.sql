{{ config(lookalike_keep=true) }}
{#- One row per run and scored user, scored on the user's latest snapshot at or before the scoring
    time. SINGLE_ENGAGE runs leave out every user with a label in the run (a seed); MULTI_ENGAGE
    runs rank seeds along with everyone else.
    A run that fails in this build (validation, training or scoring) keeps the rows it had in the
    previous build under var lookalike_on_run_failure = keep_last_good (the default), with
    is_stale = true and their original scored_at and model_fingerprint, so a dashboard on the
    audience does not go empty; with drop it has no rows. -#}
{%- set keep_last_good = lookalike.lookalike_var('lookalike_on_run_failure') == 'keep_last_good' -%}
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) if execute else none -%}
{%- set previous_columns = lookalike.lookalike_input_columns(previous) if previous is not none else {} -%}
{%- set can_keep = keep_last_good and previous is not none
      and (['run_id', 'user_id', 'score', 'score_rank', 'score_percentile', 'score_decile', 'is_seed_user', 'snapshot_at', 'scored_at'] | reject('in', previous_columns) | list | length) == 0 %}

with raw_scores as (
    select * from {{ ref('int_lookalike__population_scores') }}
),

{#- A run whose scoring failed part-way has a marker row (scoring_action = 'failed'): none of its
    rows are published, and lookalike_runs reports it FAILED with the marker's message. #}
failed_scoring as (
    select distinct run_id from raw_scores where scoring_action = '{{ lookalike.lookalike_vocabulary()['scoring_action']['FAILED'] }}'
),

scores as (
    select *
    from raw_scores
    where run_id not in (select failed_scoring.run_id from failed_scoring)
),

runs as (
    select run_id, engagement_type, build_only from {{ ref('int_lookalike__runs') }}
),

models as (
    select run_id, model_status, training_fingerprint from {{ ref('lookalike_run_models') }}
),

{#- Positive-only runs: c, the mean score of the held-out seeds (macro lookalike_calibration_constants;
    decision 0032), for calibrated_score = min(1, score / c). Runs with negatives have none. #}
calibration as (
    {{ lookalike.lookalike_calibration_constants(ref('lookalike_training_predictions'), ref('lookalike_run_models')) }}
),

{#- Users with a valid label in the run; is_seed_user is true only for positive seeds. #}
labeled as (
    select run_id, user_id, max(case when label = 1 then 1 else 0 end) = 1 as is_seed_user
    from {{ ref('lookalike_pit_labels') }}
    where is_valid
    group by run_id, user_id
),

kept as (
    select
        scores.run_id,
        scores.user_id,
        scores.score,
        scores.scored_at,
        coalesce(labeled.is_seed_user, false) as is_seed_user,
        labeled.user_id is not null as is_labeled_user
    from scores
    inner join runs
        on scores.run_id = runs.run_id
    left join labeled
        on scores.run_id = labeled.run_id
       and scores.user_id = labeled.user_id
    where not (runs.engagement_type = 'SINGLE_ENGAGE' and labeled.user_id is not null)
),

fresh as (
    select
        kept.run_id,
        kept.user_id,
        kept.score,
        cast(row_number() over (partition by kept.run_id order by kept.score desc, kept.user_id asc) as bigint) as score_rank,
        percent_rank() over (partition by kept.run_id order by kept.score) as score_percentile,
        cast(10 - ntile(10) over (partition by kept.run_id order by kept.score desc, kept.user_id asc) as bigint) as score_decile,
        kept.is_seed_user,
        kept.is_labeled_user,
        population.snapshot_at,
        kept.scored_at,
        false as is_stale,
        models.training_fingerprint as model_fingerprint,
        {{ lookalike.lookalike_calibrated_score('kept.score', 'calibration.calibration_constant') }} as calibrated_score
    from kept
    inner join {{ ref('int_lookalike__inference_snapshots') }} as population
        on kept.user_id = population.user_id
    left join models
        on kept.run_id = models.run_id
    left join calibration
        on kept.run_id = calibration.run_id
)

{#- The previous rows of failed runs (keep_last_good). This block is there only once a previous
    table exists, so lookalike_table leaves it out of the keep key (between the two markers): the
    second build computes the same key as the first and keeps the table. Whether previous rows are
    kept at all (var lookalike_on_run_failure) stays in the key: it is the SQL comment below. #}
-- lookalike_on_run_failure: {{ 'keep_last_good' if keep_last_good else 'drop' }}
select * from fresh
{%- if can_keep %}
/* lookalike_keep: self-read begin */
union all
select
    previous.run_id,
    previous.user_id,
    previous.score,
    previous.score_rank,
    previous.score_percentile,
    previous.score_decile,
    previous.is_seed_user,
    {{ 'previous.is_labeled_user' if 'is_labeled_user' in previous_columns else 'previous.is_seed_user' }} as is_labeled_user,
    previous.snapshot_at,
    previous.scored_at,
    true as is_stale,
    {{ 'previous.model_fingerprint' if 'model_fingerprint' in previous_columns else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as model_fingerprint,
    {{ 'previous.calibrated_score' if 'calibrated_score' in previous_columns else 'cast(null as double)' }} as calibrated_score
from {{ previous }} as previous
{#- Runs of this build that should have an audience and have none: not trained, scoring failed,
    or nothing scored. Their previous rows are kept (keep_last_good). #}
where previous.run_id in (
    select runs.run_id
    from runs
    left join models on runs.run_id = models.run_id
    where not coalesce(runs.build_only, false)
      and (models.model_status is distinct from '{{ lookalike.lookalike_vocabulary()['model_status']['TRAINED'] }}'
           or runs.run_id in (select run_id from failed_scoring)
           or runs.run_id not in (select run_id from fresh))
)
/* lookalike_keep: self-read end */
{%- endif %}
