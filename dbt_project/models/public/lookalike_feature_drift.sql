{#- How far the scored population is from the run's training examples, per feature. One row per
    trained run and feature (grain: run_id, feature). PSI (population stability index) over ten
    bins: numeric and boolean features by the training examples' deciles (nulls in a bin of their
    own), text features by category. Shares are smoothed at 1e-4 so empty bins stay finite.
    PSI < 0.1 none, < 0.25 moderate, else large (drift_level). The population side is a repeatable
    sample of at most 50,000 users of lookalike_inference_features (DuckDB; the whole relation
    elsewhere); the training side is every training example of the run (lookalike_pit_features,
    unweighted). lookalike_runs.health warns when a feature's PSI exceeds lookalike_health_max_psi.
    Sample size: a decile's share from 50,000 users has a standard error under 0.0014; at 200k
    users the 50,000 sample moved PSI by at most 0.0027 against 200,000 (no drift level changed)
    and took 2.4 s instead of 7.5 s (issue 17).
    Time-relative features (is_time_relative) shift between the label times of the training
    examples and the scoring time by construction, so their drift is reported here but not judged
    by lookalike_runs.health: the event layer's recency features (evt_<type>_days_since_first /
    _last), its all-history count (evt_distinct_items), its windowed features (…_<w>d) whose
    window, counted back from the run's earliest training time, starts before the first event of
    the events input (the window was cut short at training time and is not at scoring time), and
    the columns listed in var lookalike_drift_time_relative_features (e.g. tenure_days). -#}
{{ config(lookalike_keep=true) }}
-- depends_on: {{ ref('lookalike_run_models') }}, {{ ref('lookalike_pit_features') }}, {{ ref('lookalike_inference_features') }}
{%- set features = [] -%}
{%- for key, column in lookalike.lookalike_input_columns(ref('lookalike_inference_features')).items() -%}
  {%- if key not in ['user_id', 'as_of_at', 'snapshot_at'] -%}
    {%- set dtype = column.dtype | lower -%}
    {%- do features.append({'name': column.name, 'kind': 'boolean' if dtype in ['boolean', 'bool'] else ('categorical' if (column.is_string() or dtype in ['varchar', 'text', 'string']) else 'numeric')}) -%}
  {%- endif -%}
{%- endfor -%}
{%- set text = dbt.type_string() -%}
{%- set declared = (lookalike.lookalike_var('lookalike_drift_time_relative_features') or []) | map('lower') | list -%}
{%- for f in features -%}
  {%- set window = modules.re.match('^(?:evt|aff)_.*_([0-9]+)d$', f.name | lower) -%}
  {%- if (f.name | lower) in declared or modules.re.match('^evt_.*_days_since_(first|last)$', f.name | lower) or (f.name | lower) == 'evt_distinct_items' -%}
    {%- do f.update({'time_rule': 'always', 'window_days': 0}) -%}
  {%- elif window -%}
    {%- do f.update({'time_rule': 'window', 'window_days': window.group(1) | int}) -%}
  {%- else -%}
    {%- do f.update({'time_rule': 'never', 'window_days': 0}) -%}
  {%- endif -%}
{%- endfor -%}
{%- set first_event = lookalike.lookalike_oldest_event_time() -%}
{%- set first_event_sql = ("cast('" ~ first_event.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") if first_event is not none else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
{%- set quantiles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] %}

{%- if features | length == 0 %}
select
    cast(null as {{ text }}) as run_id, cast(null as {{ text }}) as feature, cast(null as {{ text }}) as feature_kind,
    cast(null as double) as psi, cast(null as {{ text }}) as drift_level,
    cast(null as double) as train_mean, cast(null as double) as population_mean,
    cast(null as double) as train_null_share, cast(null as double) as population_null_share,
    cast(null as double) as train_zero_share, cast(null as double) as population_zero_share,
    cast(null as {{ dbt.type_bigint() }}) as n_train_examples, cast(null as {{ dbt.type_bigint() }}) as n_population_users,
    cast(null as boolean) as is_time_relative
where 1 = 0
{%- else %}

{%- set feature_rows = [] %}
{%- for f in features %}
  {%- do feature_rows.append(['cast(' ~ lookalike.lookalike_literal(f.name) ~ ' as ' ~ text ~ ')', 'cast(' ~ lookalike.lookalike_literal(f.kind) ~ ' as ' ~ text ~ ')',
        'cast(' ~ lookalike.lookalike_literal(f.time_rule) ~ ' as ' ~ text ~ ')', f.window_days | string]) %}
{%- endfor %}

with lookalike_features as (
    {{- lookalike.lookalike_literal_rows(['feature', 'feature_kind', 'time_rule', 'window_days'], feature_rows) }}
),

trained_runs as (
    select run_id from {{ ref('lookalike_run_models') }} where model_status = '{{ lookalike.lookalike_vocabulary()['model_status']['TRAINED'] }}'
),

train_long as {{ lookalike.lookalike_inline_cte() }} (
    {{- lookalike.lookalike_feature_long(features, ref('lookalike_pit_features'), 'examples', ['examples.run_id as run_id'], boolean_case=false,
        where='examples.run_id in (select trained_runs.run_id from trained_runs)') }}
),

population_long as {{ lookalike.lookalike_inline_cte() }} (
    {{- lookalike.lookalike_feature_long(features, lookalike.lookalike_sampled(ref('lookalike_inference_features'), 50000), 'population',
        ['cast(null as ' ~ text ~ ') as run_id'], boolean_case=false) }}
),

edges as (
    select
        run_id,
        feature
        {%- for q in quantiles %},
        {{ lookalike.lookalike_quantile_of_set('num_value', quantiles, loop.index0) }} as q{{ loop.index }}
        {%- endfor %}
    from train_long
    where feature_kind <> 'categorical'
    group by run_id, feature
),

train_binned as (
    select train_long.run_id, train_long.feature, {{ lookalike.lookalike_drift_bin('train_long', quantiles | length) }} as bin, count(*) as n
    from train_long
    left join edges on train_long.run_id = edges.run_id and train_long.feature = edges.feature
    group by 1, 2, 3
),

population_binned as (
    select trained_runs.run_id, population_long.feature, {{ lookalike.lookalike_drift_bin('population_long', quantiles | length) }} as bin, count(*) as n
    from population_long
    cross join trained_runs
    left join edges on trained_runs.run_id = edges.run_id and population_long.feature = edges.feature
    group by 1, 2, 3
),

shares as (
    select
        coalesce(t.run_id, p.run_id) as run_id,
        coalesce(t.feature, p.feature) as feature,
        cast(coalesce(t.n, 0) as double) / nullif(sum(coalesce(t.n, 0)) over (partition by coalesce(t.run_id, p.run_id), coalesce(t.feature, p.feature)), 0) as train_share,
        cast(coalesce(p.n, 0) as double) / nullif(sum(coalesce(p.n, 0)) over (partition by coalesce(t.run_id, p.run_id), coalesce(t.feature, p.feature)), 0) as population_share
    from train_binned as t
    full outer join population_binned as p
        on t.run_id = p.run_id and t.feature = p.feature and t.bin = p.bin
),

psi as (
    select
        run_id,
        feature,
        sum((greatest(population_share, 0.0001) - greatest(train_share, 0.0001))
            * ln(greatest(population_share, 0.0001) / greatest(train_share, 0.0001))) as psi
    from shares
    group by run_id, feature
),



{#- Each run's earliest training time: a window counted back from it that starts before the first
    event was cut short when the run's examples were built. #}
run_times as (
    select run_id, min(as_of_at) as earliest_as_of
    from {{ ref('lookalike_pit_features') }}
    group by run_id
),

train_stats as (
    {{ lookalike.lookalike_drift_stats('train_long', 'train') }}
),

population_stats as (
    {{ lookalike.lookalike_drift_stats('population_long', 'population') }}
)

select
    train_stats.run_id,
    train_stats.feature,
    lookalike_features.feature_kind,
    psi.psi,
    case when psi.psi < 0.1 then 'none' when psi.psi < 0.25 then 'moderate' else 'large' end as drift_level,
    train_stats.train_mean,
    population_stats.population_mean,
    train_stats.train_null_share,
    population_stats.population_null_share,
    train_stats.train_zero_share,
    population_stats.population_zero_share,
    cast(train_stats.n_rows as {{ dbt.type_bigint() }}) as n_train_examples,
    cast(population_stats.n_rows as {{ dbt.type_bigint() }}) as n_population_users,
    case
        when lookalike_features.time_rule = 'always' then true
        when lookalike_features.time_rule = 'window' then coalesce(
            {{ dbt.dateadd('day', '-1 * lookalike_features.window_days', 'run_times.earliest_as_of') }} < {{ first_event_sql }}, false)
        else false
    end as is_time_relative
from train_stats
inner join lookalike_features on train_stats.feature = lookalike_features.feature
inner join psi on train_stats.run_id = psi.run_id and train_stats.feature = psi.feature
left join population_stats on train_stats.feature = population_stats.feature
left join run_times on train_stats.run_id = run_times.run_id
{%- endif %}
