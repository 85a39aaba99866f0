{#- One row per run and training example (grain: run_id, example_id), without features: the
    example's label, weight, as-of time, matched snapshot and split.
    Examples are (a) the run's usable labels (lookalike_pit_labels.is_training_example), and
    (b) for runs given no negatives, a deterministic sample of the unlabeled population (users
    without a positive label in the run), labelled 0. Each sampled user gets an as-of time taken
    round-robin from the run's positives (in a seeded random order), so both classes share one
    distribution of snapshot dates and the model cannot learn "which month" instead of behaviour.
    The run setting unlabeled_as_of (decision 0035) then decides where in the user's own history
    that example sits:
      label_times  the drawn label time itself (the behaviour before decision 0035);
      user_events  one of the user's events between the run's first and last positive label
                   times (and at or after the user's first snapshot, so it has one), picked in a
                   seeded order; a user without such an event keeps the drawn time. Seeds labelled
                   at one of their own events (a first purchase of a kind, ...) are by
                   construction in the middle of a session; so is the unlabeled example then, and
                   "when" (recent activity, days since the last event) is not what separates them.
      auto         user_events when more than half of the run's positive training examples are
                   labelled exactly at one of the user's events (same user, event_at = as-of
                   time), else label_times.
    The train/test split is stratified and made per user (all examples of a user share a split),
    seeded by the run's random_seed. -#}
{#- Its inputs key names the snapshot keys by their part it can read (the population and the keys up to
    the latest positive label time, macros/lookalike_training_keys_checksum.sql): a day of new
    snapshots keeps the table (decision 0039). -#}
{{ config(lookalike_keep=true, lookalike_keep_check_rows=false,
          lookalike_key_checksums={'int_lookalike__snapshot_keys': 'lookalike_training_keys_checksum'}) }}


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
    select runs.run_id, runs.unlabeled_sample_size, runs.unlabeled_as_of, cast(runs.random_seed as {{ dbt.type_string() }}) as seed
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

{#- Events of the positives at their label times: one row per (user, time) with an event. -#}
positive_event_times as (
    select distinct events.user_id, events.event_at
    from {{ ref('stg_lookalike__events') }} as events
    where events.user_id in (select labeled.user_id from labeled where labeled.label = 1)
),

{#- Per run without negatives: the share of positives labelled at one of their own events, the
    first and last positive label times, and the as-of rule applied (unlabeled_as_of, auto resolved). -#}
time_matching as (
    select
        pu.run_id,
        case
            when pu.unlabeled_as_of = 'user_events' then 'user_events'
            when pu.unlabeled_as_of = 'auto'
                 and 2 * sum(case when positive_event_times.user_id is not null then 1 else 0 end) > count(*)
                then 'user_events'
            else 'label_times'
        end as as_of_rule,
        min(labeled.as_of_at) as first_positive_at,
        max(labeled.as_of_at) as last_positive_at
    from positive_unlabeled_runs as pu
    inner join labeled
        on pu.run_id = labeled.run_id
       and labeled.label = 1
    left join positive_event_times
        on labeled.user_id = positive_event_times.user_id
       and labeled.as_of_at = positive_event_times.event_at
    group by pu.run_id, pu.unlabeled_as_of
),

population as (
    select user_id, min(snapshot_at) as first_snapshot_at
    from {{ ref('int_lookalike__snapshot_keys') }}
    group by user_id
),

candidates as (
    select
        pu.run_id,
        population.user_id,
        population.first_snapshot_at,
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

drawn_sample as (
    select
        {{ dbt.hash(dbt.concat(["'unlabeled|'", 'candidates.run_id', "'|'", 'candidates.user_id'])) }} as example_id,
        candidates.run_id,
        candidates.user_id,
        candidates.first_snapshot_at,
        positive_times.as_of_at as drawn_at,
        pu.seed
    from candidates
    inner join positive_times
        on candidates.run_id = positive_times.run_id
       and mod(candidates.sample_index - 1, positive_times.n_times) = positive_times.time_index
    inner join positive_unlabeled_runs as pu
        on candidates.run_id = pu.run_id
    where candidates.sample_index <= candidates.unlabeled_sample_size
),

{#- user_events: one of the sampled user's events between the run's first and last positive label
    times, at or after the user's first snapshot, picked in a seeded order (an equi-join on the
    user, a filter, one window). -#}
sampled_event_times as (
    select run_id, example_id, event_at
    from (
        select
            drawn_sample.run_id,
            drawn_sample.example_id,
            events.event_at,
            row_number() over (
                partition by drawn_sample.run_id, drawn_sample.example_id
                order by {{ dbt.hash(dbt.concat(['drawn_sample.seed', "'|'", 'drawn_sample.example_id', "'|'", 'cast(events.event_at as ' ~ dbt.type_string() ~ ')'])) }}, events.event_at
            ) as event_index
        from drawn_sample
        inner join time_matching
            on drawn_sample.run_id = time_matching.run_id
           and time_matching.as_of_rule = 'user_events'
        inner join {{ ref('stg_lookalike__events') }} as events
            on drawn_sample.user_id = events.user_id
        where events.event_at >= time_matching.first_positive_at
          and events.event_at <= time_matching.last_positive_at
          and events.event_at >= drawn_sample.first_snapshot_at
    ) as ranked_events
    where event_index = 1
),

unlabeled_sample as (
    select
        drawn_sample.example_id,
        drawn_sample.run_id,
        drawn_sample.user_id,
        0 as label,
        1.0 as weight,
        coalesce(sampled_event_times.event_at, drawn_sample.drawn_at) as as_of_at,
        '{{ lookalike.lookalike_vocabulary()['example_source']['UNLABELED_SAMPLE'] }}' as example_source
    from drawn_sample
    left join sampled_event_times
        on drawn_sample.run_id = sampled_event_times.run_id
       and drawn_sample.example_id = sampled_event_times.example_id
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
