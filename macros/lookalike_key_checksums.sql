{#- Narrower checksums of the snapshot keys for the inputs keys of the models that read only part of them
    (config lookalike_key_checksums, lookalike_node_keys; decision 0039).

    int_lookalike__training_points: the part of int_lookalike__snapshot_keys it can depend on, as
    one checksum row (n_rows, checksum) for its inputs key (config lookalike_key_checksums,
    lookalike_node_keys; decision 0039). The model reads the snapshot keys in two places only:
      - the population: each user and its first snapshot_at (who can be sampled, and the earliest
        event a sampled user can be placed at);
      - the point-in-time match of the unlabeled sample, at as-of times that are positive label
        times or events between the run's first and last positive label times: never after the
        latest as-of time of a positive training example in lookalike_pit_labels (T).
    So its output is a function of (user_id, first snapshot_at) per user and of the keys with
    snapshot_at <= T (with their valid_to); snapshots newer than every positive label (a scheduled
    day's new snapshots) leave the key, and the table, as they were. The labeled examples' own
    snapshots come from lookalike_pit_labels, which is in the key by its rows.
    `relation`: the snapshot keys; `inputs`: {model name: relation} of the model's inputs. -#}
{% macro lookalike_training_keys_checksum(relation, inputs) %}
  {{ return(adapter.dispatch('lookalike_training_keys_checksum', 'lookalike')(relation, inputs)) }}
{% endmacro %}

{% macro duckdb__lookalike_training_keys_checksum(relation, inputs) %}
  {%- set shape = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do shape.append(column.name ~ ' ' ~ column.data_type) -%}
  {%- endfor -%}
  {%- set bound = '(select max(as_of_at) from ' ~ inputs['lookalike_pit_labels'] ~ ' where is_training_example and label = 1)' -%}
select
    count(*) as n_rows,
    md5(cast(coalesce(sum(hash(user_id, first_snapshot_at, n_keys, keys_sum)), 0) as varchar)
        || '|' || {{ lookalike.lookalike_literal('upto latest positive as-of|' ~ (shape | join(', '))) }}) as checksum
from (
    select
        user_id,
        min(snapshot_at) as first_snapshot_at,
        count(*) filter (where snapshot_at <= {{ bound }}) as n_keys,
        coalesce(sum(hash(snapshot_at, valid_to)) filter (where snapshot_at <= {{ bound }}), 0) as keys_sum
    from {{ relation }}
    group by user_id
) as per_user
{% endmacro %}

{#- Other adapters: every key (the model is built again whenever a snapshot is added). -#}
{% macro default__lookalike_training_keys_checksum(relation, inputs) %}
  {{ return(lookalike.lookalike_relation_checksum(relation)) }}
{% endmacro %}


{#- The part of int_lookalike__snapshot_keys that lookalike_pit_labels can depend on (decision 0039):
    it matches each label to the snapshot keys of the label's user at the label's as-of time
    (label_timestamp, or the scoring time for a label without one), so only the keys of users with
    a label, at or before the latest such time, enter its key. Snapshots of unlabeled users, and
    snapshots newer than every label, keep the table.
    `relation`: the snapshot keys; `inputs`: {model name: relation} of the model's inputs. -#}
{% macro lookalike_label_keys_checksum(relation, inputs) %}
  {{ return(adapter.dispatch('lookalike_label_keys_checksum', 'lookalike')(relation, inputs)) }}
{% endmacro %}

{% macro duckdb__lookalike_label_keys_checksum(relation, inputs) %}
  {%- set shape = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do shape.append(column.name ~ ' ' ~ column.data_type) -%}
  {%- endfor -%}
  {%- set labels = inputs['stg_lookalike__labels'] -%}
select
    count(*) as n_rows,
    md5(cast(coalesce(sum(hash(lookalike_rows)), 0) as varchar)
        || '|' || {{ lookalike.lookalike_literal('labeled users up to the latest label time|' ~ (shape | join(', '))) }}) as checksum
from (
    select * from {{ relation }}
    where user_id in (select labels.user_id from {{ labels }} as labels)
      and snapshot_at <= (select max(coalesce(labels.label_timestamp, {{ lookalike.lookalike_as_of() }})) from {{ labels }} as labels)
) as lookalike_rows
{% endmacro %}

{#- Other adapters: every key. -#}
{% macro default__lookalike_label_keys_checksum(relation, inputs) %}
  {{ return(lookalike.lookalike_relation_checksum(relation)) }}
{% endmacro %}


{#- The part of stg_lookalike__events that lookalike_inference_features can depend on (decision
    0041): it reads only events strictly before the scoring time (lookalike_event_features_as_of).
    Events at or after it (which a pinned scoring time sees arrive) leave its key as it was. The
    event feature plan (top types and categories, counted over all events) is in the compiled code,
    so the key still changes when a new event changes the plan.
    `relation`: the staged events; `inputs`: {model name: relation} of the model's inputs. -#}
{% macro lookalike_inference_events_checksum(relation, inputs) %}
  {{ return(adapter.dispatch('lookalike_inference_events_checksum', 'lookalike')(relation, inputs)) }}
{% endmacro %}

{% macro duckdb__lookalike_inference_events_checksum(relation, inputs) %}
  {%- set shape = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do shape.append(column.name ~ ' ' ~ column.data_type) -%}
  {%- endfor -%}
select
    count(*) as n_rows,
    md5(cast(coalesce(sum(hash(lookalike_rows)), 0) as varchar)
        || '|' || {{ lookalike.lookalike_literal('before the scoring time|' ~ (shape | join(', '))) }}) as checksum
from (
    select * from {{ relation }} where event_at < {{ lookalike.lookalike_as_of() }}
) as lookalike_rows
{% endmacro %}

{#- Other adapters: every event. -#}
{% macro default__lookalike_inference_events_checksum(relation, inputs) %}
  {{ return(lookalike.lookalike_relation_checksum(relation)) }}
{% endmacro %}


{#- The part of int_lookalike__run_fingerprints that lookalike_run_models can depend on (decision
    0047): it reads only each run's training_checksum (lookalike_udf.dbt_models.train_models), never
    the population's checksum (population_checksum, n_population), which changes with any user's
    features. So a day when only the population changed keeps the models table (and the Python
    models that read only it and the training examples). The other columns are covered by their
    rows, as lookalike_relation_checksum covers them.
    `relation`: the run fingerprints; `inputs`: {model name: relation} of the model's inputs. -#}
{% macro lookalike_training_fingerprints_checksum(relation, inputs) %}
  {{ return(adapter.dispatch('lookalike_training_fingerprints_checksum', 'lookalike')(relation, inputs)) }}
{% endmacro %}

{% macro duckdb__lookalike_training_fingerprints_checksum(relation, inputs) %}
  {{ return(lookalike.lookalike_relation_checksum(relation, exclude=['population_checksum', 'n_population'])) }}
{% endmacro %}

{#- Other adapters: every column. Spark's derived Python models do not read lookalike_build_state
    (Engine.built_before), so a kept models table would not let them carry their runs over. -#}
{% macro default__lookalike_training_fingerprints_checksum(relation, inputs) %}
  {{ return(lookalike.lookalike_relation_checksum(relation)) }}
{% endmacro %}
