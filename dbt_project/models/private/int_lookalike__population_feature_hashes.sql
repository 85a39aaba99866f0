{#- Each row is a function of the user's row of lookalike_inference_features only: on DuckDB, when
    the compiled code is unchanged, only the users whose feature row's row_hash differs from the one
    stored here (or who are new or gone) are hashed again and replaced (config lookalike_delta,
    decision 0041). -#}
{{ config(lookalike_keep=true, lookalike_keep_check_rows=false,
          lookalike_delta={'input': 'lookalike_inference_features', 'key': 'user_id', 'compare': 'row_hash',
                           'ignore': ['as_of_at', 'snapshot_at']}) }}
{#- One row per user of the population (grain: user_id): an MD5 of the user's feature values in
    lookalike_inference_features, every column but user_id, as_of_at and snapshot_at (the columns
    a model reads), names included. int_lookalike__population_scores stores it beside each score
    and, when a run's model is unchanged but the population changed, rescores only the users whose
    hash changed and carries the others' previous rows (decision 0036). A value that depends on the
    scoring time (an event feature over a window, days since the last event) changes the hash when
    the time moves: those users are rescored.
    row_hash: a 64-bit hash of the same values (lookalike_row_hash), by which the next build finds
    the users whose feature row changed without computing every MD5 again.
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
    {%- endfor %})) as feature_hash,
    {{ lookalike.lookalike_row_hash(features) }} as row_hash
{#- Aliased: on Spark, `from t where (...)` would read `where (...)` as an alias with a column list. #}
from {{ ref('lookalike_inference_features') }} as inference_features  -- noqa: AL05
where {{ lookalike.lookalike_delta_keys_filter('user_id') }}
{%- if not partial %}
  and 1 = 0
{%- endif %}
