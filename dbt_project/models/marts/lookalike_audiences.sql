{{ config(post_hook="{{ lookalike.lookalike_export_audiences() }}") }}
{#- The audience to send to a campaign. One row per run and selected user (grain: run_id, user_id):
    the users of lookalike_user_scores within every limit set for the run (runs input columns
    audience_top_n, audience_top_pct, audience_min_score; null = the variable lookalike_<setting>;
    a limit that is null everywhere does not apply). Ranks, percentiles and staleness are those
    of lookalike_user_scores, so a FAILED run's kept audience (is_stale) is selected the same way.
    A run with audience_export_path is also written to that file after the build of this model. -#}

with scores as (
    select * from {{ ref('lookalike_user_scores') }}
),

runs as (
    select run_id, audience_top_n, audience_top_pct, audience_min_score
    from {{ ref('int_lookalike__runs') }}
),

sized as (
    select run_id, count(*) as n_scored
    from scores
    group by run_id
)

select
    scores.run_id,
    scores.user_id,
    scores.score,
    scores.score_rank,
    scores.score_percentile,
    scores.is_seed_user,
    scores.is_stale,
    scores.scored_at,
    runs.audience_top_n,
    runs.audience_top_pct,
    runs.audience_min_score
from scores
inner join runs on scores.run_id = runs.run_id
inner join sized on scores.run_id = sized.run_id
where (runs.audience_top_n is null or scores.score_rank <= runs.audience_top_n)
  and (runs.audience_top_pct is null or scores.score_rank <= ceil(sized.n_scored * runs.audience_top_pct / 100.0))
  and (runs.audience_min_score is null or scores.score >= runs.audience_min_score)
