{{ config(lookalike_keep=true) }}
{#- The audience to send to a campaign. One row per run and selected user (grain: run_id, user_id):
    the users of lookalike_user_scores within every limit set for the run (runs input columns
    audience_top_n, audience_top_pct, audience_min_score; null = the variable lookalike_<setting>;
    a limit that is null everywhere does not apply). Ranks, percentiles and staleness are those
    of lookalike_user_scores, so a FAILED run's kept audience (is_stale) is selected the same way.
    Ties: users with equal scores are ranked by user_id (lookalike_user_scores.score_rank), so an
    audience cut inside a tie holds the tied users with the smallest ids; cutoff_score,
    n_users_at_cutoff_score and is_tied_at_cutoff say when that happened.
    Holdout: audience_holdout_pct % of each run's audience is flagged is_holdout by a hash of
    (run_id, user_id) (lookalike_holdout_bucket: 0..9999, held out below pct x 100), so a user
    stays in the same group across builds, whatever the scores or ties; holdout users are not
    exported unless var lookalike_audience_export_holdout (decision 0028).
    Runs with audience_export_path are written to files by lookalike_audience_exports. -#}

with scores as (
    select * from {{ ref('lookalike_user_scores') }}
),

runs as (
    select run_id, audience_top_n, audience_top_pct, audience_min_score, audience_holdout_pct
    from {{ ref('int_lookalike__runs') }}
),

sized as (
    select run_id, count(*) as n_scored
    from scores
    group by run_id
),

selected as (
    select
        scores.run_id,
        scores.user_id,
        scores.score,
        scores.score_rank,
        scores.score_percentile,
        scores.is_seed_user,
        scores.is_stale,
        scores.scored_at,
        scores.calibrated_score,
        runs.audience_top_n,
        runs.audience_top_pct,
        runs.audience_min_score,
        runs.audience_holdout_pct
    from scores
    inner join runs on scores.run_id = runs.run_id
    inner join sized on scores.run_id = sized.run_id
    where (runs.audience_top_n is null or scores.score_rank <= runs.audience_top_n)
      and (runs.audience_top_pct is null or scores.score_rank <= ceil(sized.n_scored * runs.audience_top_pct / 100.0))
      and (runs.audience_min_score is null or scores.score >= runs.audience_min_score)
),

{#- The lowest score in each run's audience, how many selected users have it, and how many scored
    users have it in all: when more users share it than were selected, the tie was cut by user_id. #}
cutoffs as (
    select run_id, min(score) as cutoff_score
    from selected
    group by run_id
),

cutoff_counts as (
    select
        cutoffs.run_id,
        cutoffs.cutoff_score,
        count(*) as n_users_at_cutoff_score
    from cutoffs
    inner join scores
        on cutoffs.run_id = scores.run_id
       and cutoffs.cutoff_score = scores.score
    group by cutoffs.run_id, cutoffs.cutoff_score
),

selected_at_cutoff as (
    select selected.run_id, count(*) as n_selected_at_cutoff
    from selected
    inner join cutoffs
        on selected.run_id = cutoffs.run_id
       and selected.score = cutoffs.cutoff_score
    group by selected.run_id
)

select
    selected.run_id,
    selected.user_id,
    selected.score,
    selected.score_rank,
    selected.score_percentile,
    selected.is_seed_user,
    selected.is_stale,
    selected.scored_at,
    selected.audience_top_n,
    selected.audience_top_pct,
    selected.audience_min_score,
    cutoff_counts.cutoff_score,
    cast(cutoff_counts.n_users_at_cutoff_score as {{ dbt.type_bigint() }}) as n_users_at_cutoff_score,
    coalesce(selected.score = cutoff_counts.cutoff_score
             and cutoff_counts.n_users_at_cutoff_score > selected_at_cutoff.n_selected_at_cutoff, false) as is_tied_at_cutoff,
    selected.audience_holdout_pct,
    coalesce({{ lookalike.lookalike_holdout_bucket('selected.run_id', 'selected.user_id') }} < selected.audience_holdout_pct * 100, false) as is_holdout,
    selected.calibrated_score
from selected
left join cutoff_counts on selected.run_id = cutoff_counts.run_id
left join selected_at_cutoff on selected.run_id = selected_at_cutoff.run_id
