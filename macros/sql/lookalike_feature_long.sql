{#- A relation's feature columns as long rows: one row per row of `source` and feature, for
    lookalike_feature_info and lookalike_feature_drift.
    features: [{name, kind}] (kind numeric, boolean or categorical); source: a FROM item, named
    `alias`; carry: SQL select items over `alias` written first (e.g. ['examples.run_id']);
    boolean_case: booleans as `case when x then 1 when not x then 0 end` (true) or `cast(x as double)`
    (false; the same values); where: an optional condition.
    Emits the carry columns, feature, feature_kind, num_value (double: numbers and booleans; null for
    text), cat_value (text: categorical features; null for the others).
    The default cross joins the caller's CTE `lookalike_features` (one row per feature: feature,
    feature_kind) and picks the value with a CASE per row. Spark unpivots with one `stack`
    generator instead (issue 29, bench/SPARK.md "Issue 29: the fixed cost at S"): no nested loop join, no CASE over every
    feature for every row, and no task per feature (a union of one-row selects is one partition
    per select there). -#}
{% macro lookalike_feature_long(features, source, alias, carry, boolean_case, where=none) %}
  {{ return(adapter.dispatch('lookalike_feature_long', 'lookalike')(features, source, alias, carry, boolean_case, where)) }}
{% endmacro %}

{#- The value of feature f of the row `alias` as (num_value SQL, cat_value SQL), or none for the
    column the kind does not fill. -#}
{% macro lookalike_feature_long_values(f, alias, boolean_case) %}
  {%- set column = alias ~ '.' ~ lookalike.lookalike_quote_identifier(f.name) -%}
  {%- if f.kind == 'categorical' -%}
    {{ return([none, 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')']) }}
  {%- elif f.kind == 'boolean' and boolean_case -%}
    {{ return(['case when ' ~ column ~ ' then cast(1 as double) when not ' ~ column ~ ' then cast(0 as double) end', none]) }}
  {%- else -%}
    {{ return(['cast(' ~ column ~ ' as double)', none]) }}
  {%- endif -%}
{% endmacro %}

{% macro default__lookalike_feature_long(features, source, alias, carry, boolean_case, where) %}
  {%- set text = dbt.type_string() -%}
  {%- set numeric = features | rejectattr('kind', 'equalto', 'categorical') | list -%}
  {%- set categorical = features | selectattr('kind', 'equalto', 'categorical') | list %}
    select {% for c in carry %}{{ c }}, {% endfor %}
        lookalike_features.feature,
        lookalike_features.feature_kind,
        {#- A CASE needs at least one WHEN: with no feature of a kind (all-numeric or all-text
            inputs), that value column is a typed null. #}
        {%- if numeric %}
        case lookalike_features.feature
        {%- for f in numeric %}
            when {{ lookalike.lookalike_literal(f.name) }} then {{ lookalike.lookalike_feature_long_values(f, alias, boolean_case)[0] }}
        {%- endfor %}
        end as num_value,
        {%- else %}
        cast(null as double) as num_value,
        {%- endif %}
        {%- if categorical %}
        case lookalike_features.feature
        {%- for f in categorical %}
            when {{ lookalike.lookalike_literal(f.name) }} then {{ lookalike.lookalike_feature_long_values(f, alias, boolean_case)[1] }}
        {%- endfor %}
        end as cat_value
        {%- else %}
        cast(null as {{ text }}) as cat_value
        {%- endif %}
    from {{ source }} as {{ alias }}
    cross join lookalike_features
    {%- if where %}
    where {{ where }}
    {%- endif %}
{% endmacro %}

{% macro spark__lookalike_feature_long(features, source, alias, carry, boolean_case, where) %}
  {%- set text = dbt.type_string() %}
    select {% for c in carry %}{{ c }}, {% endfor %}
        lookalike_unpivot.feature,
        lookalike_unpivot.feature_kind,
        lookalike_unpivot.num_value,
        lookalike_unpivot.cat_value
    from {{ source }} as {{ alias }}
    lateral view stack({{ features | length }}
    {%- for f in features %}
    {%- set values = lookalike.lookalike_feature_long_values(f, alias, boolean_case) %},
        cast({{ lookalike.lookalike_literal(f.name) }} as {{ text }}), cast({{ lookalike.lookalike_literal(f.kind) }} as {{ text }}),
        {{ values[0] if values[0] is not none else 'cast(null as double)' }}, {{ values[1] if values[1] is not none else 'cast(null as ' ~ text ~ ')' }}
    {%- endfor %}
    ) lookalike_unpivot as feature, feature_kind, num_value, cat_value
    {%- if where %}
    where {{ where }}
    {%- endif %}
{% endmacro %}


{#- A relation of literal rows as a query: `columns` (names), `rows` (lists of SQL constant
    expressions, one per column). The default is a union of one-row selects; Spark reads that
    as one partition (and one task) per select, so it gets one inline table (VALUES) instead. -#}
{% macro lookalike_literal_rows(columns, rows) %}
  {{ return(adapter.dispatch('lookalike_literal_rows', 'lookalike')(columns, rows)) }}
{% endmacro %}

{% macro default__lookalike_literal_rows(columns, rows) %}
    {%- for row in rows %}
    select {% for value in row %}{{ value }} as {{ columns[loop.index0] }}{{ ', ' if not loop.last }}{% endfor %}
    {{- ' union all' if not loop.last }}
    {%- endfor %}
{% endmacro %}

{% macro spark__lookalike_literal_rows(columns, rows) %}
    select * from values
    {%- for row in rows %}
        ({{ row | join(', ') }}){{ ',' if not loop.last }}
    {%- endfor %}
    as lookalike_literal_rows({{ columns | join(', ') }})
{% endmacro %}
