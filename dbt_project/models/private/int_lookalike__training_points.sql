{#- One row per run and training example (grain: run_id, example_id), without features: the
    example's label, weight, as-of time, matched snapshot and split.
    Examples are (a) the run's usable labels (lookalike_pit_labels.is_training_example), and
    (b) for runs given no negatives, a deterministic sample of the unlabeled population (users
    without a positive label in the run), labelled 0. Each sampled user gets an as-of time taken
    round-robin from the run's positives (in a seeded random order), so both classes share one
    distribution of snapshot dates and the model cannot learn "which month" instead of behaviour.
    The train/test split is stratified and made per user (all examples of a user share a split),
    seeded by the run's random_seed. -#}
{{ config(lookalike_keep=true, lookalike_keep_check_rows=false) }}


with runs as (
    select * from {{ ref('int_lookalike__runs') }}
),

labels as (
    select * from {{ ref('lookalike_pit_labels') }}
),

labeled as (
    select
        label_id as example_id,
        run_id,
        user_id,
        label,
        weight,
        as_of_at,
        snapshot_at,
        '{{ lookalike.lookalike_vocabulary()['example_source']['LABEL'] }}' as example_source
    from labels
    where is_training_example
),

positive_unlabeled_runs as (
    select runs.run_id, runs.unlabeled_sample_size, cast(runs.random_seed as {{ dbt.type_string() }}) as seed
    from runs
    where runs.is_declared
      and not exists (
          select 1 from labels
          where labels.run_id = runs.run_id and labels.label = 0 and labels.is_valid
      )
),

positive_times as (
    select
        labeled.run_id,
        labeled.as_of_at,
        row_number() over (
            partition by labeled.run_id
            order by {{ dbt.hash(dbt.concat(['pu.seed', "'|'", 'labeled.example_id'])) }}
        ) - 1 as time_index,
        count(*) over (partition by labeled.run_id) as n_times
    from labeled
    inner join positive_unlabeled_runs as pu
        on labeled.run_id = pu.run_id
    where labeled.label = 1
),

population as (
    select distinct user_id
    from {{ ref('int_lookalike__snapshot_keys') }}
),

candidates as (
    select
        pu.run_id,
        population.user_id,
        pu.unlabeled_sample_size,
        row_number() over (
            partition by pu.run_id
            order by {{ dbt.hash(dbt.concat(['pu.run_id', "'|'", 'pu.seed', "'|'", 'population.user_id'])) }}, population.user_id
        ) as sample_index
    from positive_unlabeled_runs as pu
    cross join population
    where not exists (
        select 1 from labels
        where labels.run_id = pu.run_id
          and labels.user_id = population.user_id
          and labels.label = 1
          and labels.is_valid
    )
),

unlabeled_sample as (
    select
        {{ dbt.hash(dbt.concat(["'unlabeled|'", 'candidates.run_id', "'|'", 'candidates.user_id'])) }} as example_id,
        candidates.run_id,
        candidates.user_id,
        0 as label,
        1.0 as weight,
        positive_times.as_of_at,
        '{{ lookalike.lookalike_vocabulary()['example_source']['UNLABELED_SAMPLE'] }}' as example_source
    from candidates
    inner join positive_times
        on candidates.run_id = positive_times.run_id
       and mod(candidates.sample_index - 1, positive_times.n_times) = positive_times.time_index
    where candidates.sample_index <= candidates.unlabeled_sample_size
),

unlabeled_matched as (
    {{ lookalike.lookalike_pit_join('unlabeled_sample', 'user_id', 'as_of_at', ref('int_lookalike__snapshot_keys')) }}
),

examples as (
    select example_id, run_id, user_id, label, weight, as_of_at, snapshot_at, example_source
    from labeled
    union all
    select example_id, run_id, user_id, label, weight, as_of_at, matched_snapshot_at as snapshot_at, example_source
    from unlabeled_matched
    where matched_snapshot_at is not null
),

user_strata as (
    select
        examples.run_id,
        examples.user_id,
        max(examples.label) as user_label
    from examples
    group by examples.run_id, examples.user_id
),

user_split as (
    select
        user_strata.run_id,
        user_strata.user_id,
        row_number() over (
            partition by user_strata.run_id, user_strata.user_label
            order by {{ dbt.hash(dbt.concat(['user_strata.run_id', "'|'", 'cast(runs.random_seed as ' ~ dbt.type_string() ~ ')', "'|'", 'user_strata.user_id'])) }}, user_strata.user_id
        ) as stratum_index,
        count(*) over (partition by user_strata.run_id, user_strata.user_label) as stratum_size,
        runs.test_fraction
    from user_strata
    inner join runs
        on user_strata.run_id = runs.run_id
)

select
    examples.example_id,
    examples.run_id,
    examples.user_id,
    examples.label,
    examples.weight,
    examples.as_of_at,
    examples.snapshot_at,
    examples.example_source,
    case
        when user_split.stratum_index <= round(user_split.stratum_size * user_split.test_fraction) then 'test'
        else 'train'
    end as split
from examples
inner join user_split
    on examples.run_id = user_split.run_id
   and examples.user_id = user_split.user_id
