{{ config(lookalike_keep=true,
          lookalike_key_checksums={'int_lookalike__snapshot_keys': 'lookalike_label_keys_checksum'}) }}
{#- One row per input label. Point-in-time rule: the label joins to the user's most recent snapshot
    with snapshot_at <= label_timestamp (inclusive); a label without a timestamp joins to the latest
    snapshot at or before the scoring time (var lookalike_as_of). Unmatched labels keep a null
    snapshot_at. Its inputs key names the snapshot keys by the labelled users' keys up to the
    latest label time, the only ones it can match (macros/lookalike_key_checksums.sql, decision
    0039): a day of new snapshots after every label keeps it. -#}

with labels as (
    select
        *,
        row_number() over (
            partition by run_id, user_id, label_timestamp, label, weight
            order by run_id
        ) as duplicate_index
    from {{ ref('stg_lookalike__labels') }}
),

keyed as (
    select
        {{ dbt.hash(dbt.concat([
            "coalesce(run_id, '')", "'|'", "coalesce(user_id, '')", "'|'",
            "coalesce(cast(label_timestamp as " ~ dbt.type_string() ~ "), '')", "'|'",
            "coalesce(cast(label as " ~ dbt.type_string() ~ "), '')", "'|'",
            lookalike.lookalike_float_text('weight'), "'|'",
            "cast(duplicate_index as " ~ dbt.type_string() ~ ")"])) }} as label_id,
        run_id,
        user_id,
        label,
        label_timestamp,
        weight,
        coalesce(label_timestamp, {{ lookalike.lookalike_as_of() }}) as as_of_at,
        invalid_reason,
        invalid_reason is null as is_valid
    from labels
),

conflicts as (
    select run_id, user_id, label_timestamp
    from keyed
    where is_valid
    group by run_id, user_id, label_timestamp
    having count(distinct label) > 1
),

matched as (
    {{ lookalike.lookalike_pit_join('keyed', 'user_id', 'as_of_at', ref('int_lookalike__snapshot_keys')) }}
)

select
    matched.label_id,
    matched.run_id,
    matched.user_id,
    matched.label,
    matched.label_timestamp,
    matched.weight,
    matched.as_of_at,
    matched.matched_snapshot_at as snapshot_at,
    matched.matched_snapshot_at is not null as is_matched,
    coalesce(runs.is_declared, false) as is_known_run,
    matched.is_valid,
    matched.invalid_reason,
    conflicts.run_id is not null as is_conflicting,
    (
        matched.matched_snapshot_at is not null
        and coalesce(runs.is_declared, false)
        and matched.is_valid
        and conflicts.run_id is null
    ) as is_training_example
from matched
left join {{ ref('int_lookalike__runs') }} as runs
    on matched.run_id = runs.run_id
left join conflicts
    on matched.run_id = conflicts.run_id
   and matched.user_id = conflicts.user_id
   and (matched.label_timestamp = conflicts.label_timestamp
        or (matched.label_timestamp is null and conflicts.label_timestamp is null))
