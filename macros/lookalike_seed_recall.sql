{#- Recall of held-out seeds at the top of the scored population, per run: a quality figure that
    needs no negatives (as AWS Clean Rooms reports for lookalike models).
    predictions: rows with run_id, user_id, split, label (lookalike_training_predictions); the
      held-out seeds are the distinct users with label 1 in the test split.
    user_scores: the ranked population (lookalike_user_scores: run_id, score, score_rank, is_stale);
      rows kept from an earlier build (is_stale) are left out.
    population_scores: every user's score (int_lookalike__population_scores: run_id, user_id,
      score, scoring_action). SINGLE_ENGAGE runs leave their seeds out of lookalike_user_scores,
      so the seeds' scores are read here; a run with a failed-scoring marker gets no row.
    pcts: the top percentages, e.g. [10, 20].
    The top p % is what lookalike_audiences selects with audience_top_pct = p: the k = ceil(n_scored
    * p / 100) best ranks. Its cut-off c is the lowest score in it. Ties at the cut-off count
    fractionally (the expected recall when the tie is broken at random): a held-out seed scoring
    above c counts 1; one scoring exactly c counts (k - a) / t, where a users of the population
    score above c and t score exactly c (so k - a of the t tied users made the cut); below c, 0.
    When every user shares one score, recall@p is about p %, not 1.
    Emits one row per run that has scored held-out seeds and a ranked population: run_id,
    n_held_out_seed_users (BIGINT), recall_top_<p>pct (share of those seeds, unweighted). -#}
{% macro lookalike_seed_recall(predictions, user_scores, population_scores, pcts=[10, 20]) %}
with lookalike_held_out as (
    select distinct run_id, user_id
    from {{ predictions }}
    where split = 'test' and label = 1
),
lookalike_ranked as (
    select run_id, score, score_rank, count(*) over (partition by run_id) as n_scored
    from {{ user_scores }}
    where not coalesce(is_stale, false)
),
lookalike_cutoff_scores as (
    select run_id
    {%- for p in pcts %},
        cast(max(ceil(n_scored * {{ p }} / 100.0)) as double) as slots_{{ loop.index }},
        min(case when score_rank <= ceil(n_scored * {{ p }} / 100.0) then score end) as cutoff_{{ loop.index }}
    {%- endfor %}
    from lookalike_ranked
    group by run_id
),
{#- Per cut-off: the share of the users tied at it that made the cut, (k - a) / t. #}
lookalike_cutoffs as (
    select cutoffs.run_id
    {%- for p in pcts %},
        cutoffs.cutoff_{{ loop.index }},
        (cutoffs.slots_{{ loop.index }} - sum(case when ranked.score > cutoffs.cutoff_{{ loop.index }} then 1 else 0 end))
            / nullif(sum(case when ranked.score = cutoffs.cutoff_{{ loop.index }} then 1 else 0 end), 0) as tie_share_{{ loop.index }}
    {%- endfor %}
    from lookalike_cutoff_scores as cutoffs
    inner join lookalike_ranked as ranked
        on cutoffs.run_id = ranked.run_id
    group by cutoffs.run_id{% for p in pcts %}, cutoffs.slots_{{ loop.index }}, cutoffs.cutoff_{{ loop.index }}{% endfor %}
),
lookalike_failed_scoring as (
    select distinct run_id from {{ population_scores }} where scoring_action = '{{ lookalike.lookalike_vocabulary()['scoring_action']['FAILED'] }}'
),
lookalike_seed_scores as (
    select held.run_id, held.user_id, population.score
    from lookalike_held_out as held
    inner join {{ population_scores }} as population
        on held.run_id = population.run_id
       and held.user_id = population.user_id
    where population.score is not null
      and held.run_id not in (select run_id from lookalike_failed_scoring)
)
select
    seeds.run_id,
    cast(count(*) as {{ dbt.type_bigint() }}) as n_held_out_seed_users
    {%- for p in pcts %},
    avg(case when seeds.score > cutoffs.cutoff_{{ loop.index }} then cast(1 as double)
             when seeds.score = cutoffs.cutoff_{{ loop.index }} then cast(cutoffs.tie_share_{{ loop.index }} as double)
             else cast(0 as double) end) as recall_top_{{ p }}pct
    {%- endfor %}
from lookalike_seed_scores as seeds
inner join lookalike_cutoffs as cutoffs
    on seeds.run_id = cutoffs.run_id
group by seeds.run_id
{% endmacro %}
