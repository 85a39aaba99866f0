{#- One row per run with features above a threshold: run_id and drifted_features, the at most
    max_listed worst as 'feature (PSI 0.31), ...' (worst first, ties by name), then ' and N more'
    when more exceed it (issue 25: a health line listed up to 45 features). relation has run_id,
    feature and psi; lookalike_feature_drift has every feature. PSI is ranked rounded to 9 decimals:
    two features with the same bins (days since first / last event) have the same PSI up to the
    last bits of a sum whose order differs between engines, and must tie on every engine. -#}
{% macro lookalike_worst_features(relation, threshold, max_listed=5) %}
  {%- set text = dbt.type_string() -%}
select
    run_id,
    {{ lookalike.lookalike_listagg("case when drift_rank <= " ~ max_listed ~ " then feature || ' (PSI ' || cast(round(psi, 2) as " ~ text ~ ") || ')' end", "', '", 'order by drift_rank') }}
        || case when count(*) > {{ max_listed }} then ' and ' || cast(count(*) - {{ max_listed }} as {{ text }}) || ' more' else '' end
        as drifted_features
from (
    select run_id, feature, psi, row_number() over (partition by run_id order by round(psi, 9) desc, feature) as drift_rank
    from {{ relation }}
    where psi > {{ threshold }}
) ranked
group by run_id
{% endmacro %}
