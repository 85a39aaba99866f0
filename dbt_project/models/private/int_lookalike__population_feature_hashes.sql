{{ config(lookalike_keep=true, lookalike_keep_check_rows=false) }}
{#- One row per user of the population (grain: user_id): an MD5 of the user's feature values in
    lookalike_inference_features, every column but user_id, as_of_at and snapshot_at (the columns
    a model reads), names included. int_lookalike__population_scores stores it beside each score
    and, when a run's model is unchanged but the population changed, rescores only the users whose
    hash changed and carries the others' previous rows (decision 0036). A value that depends on the
    scoring time (an event feature over a window, days since the last event) changes the hash when
    the time moves: those users are rescored.
    Only DuckDB scores part of a run; on other warehouses the table is empty (no scan) and every
    changed run is rescored whole. Text is hashed rather than binary values so that the hash does
    not depend on the engine's version (a double's text is its shortest round-trip form). -#}
{%- set columns = lookalike.lookalike_input_columns(ref('lookalike_inference_features')) %}
{%- set features = columns.keys() | reject('in', ['user_id', 'as_of_at', 'snapshot_at']) | sort | list %}
{%- set partial = lookalike.lookalike_scores_in_part() %}

select
    user_id,
    md5(concat_ws(chr(31), {{ lookalike.lookalike_literal(features | join(',')) }}
    {%- for f in features %},
        coalesce({{ dbt.concat(["'v'", 'cast(' ~ lookalike.lookalike_quote_identifier(f) ~ ' as ' ~ dbt.type_string() ~ ')']) }}, 'n')
    {%- endfor %})) as feature_hash
from {{ ref('lookalike_inference_features') }}
{%- if not partial %}
where 1 = 0
{%- endif %}
