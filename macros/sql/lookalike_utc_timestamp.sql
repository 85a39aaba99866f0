{#- A column of an input relation as a timestamp in UTC, without time zone, whatever the host's
    time zone is. One rule for labels, snapshots, events and var lookalike_as_of:
      - timestamp with time zone: converted to UTC;
      - text with a UTC offset ('2026-03-01T05:00:00+09:00', '...Z'): converted to UTC;
      - text without an offset, timestamp without time zone, date: taken as UTC as it is;
      - text that is not a date-time: null (callers count such rows and exclude them).
    relation: the input relation; name: the column's name (lower case). Returns a SQL expression;
    a typed null when the relation has no such column. -#}
{% macro lookalike_utc_timestamp(relation, name) %}
  {%- set columns = lookalike.lookalike_input_columns(relation) -%}
  {%- if name not in columns -%}
    {{ return('cast(null as ' ~ dbt.type_timestamp() ~ ')') }}
  {%- endif -%}
  {%- set column = columns[name] -%}
  {{ return(adapter.dispatch('lookalike_utc_timestamp', 'lookalike')(lookalike.lookalike_quote_identifier(column.name), column.dtype | lower)) }}
{% endmacro %}

{% macro default__lookalike_utc_timestamp(expression, dtype) %}
  {{ return(dbt.safe_cast(expression, dbt.type_timestamp())) }}
{% endmacro %}

{% macro duckdb__lookalike_utc_timestamp(expression, dtype) %}
  {%- if 'with time zone' in dtype or dtype == 'timestamptz' -%}
    {{ return("timezone('UTC', " ~ expression ~ ")") }}
  {%- elif dtype in ['varchar', 'text', 'string'] or dtype.startswith('varchar') -%}
    {#- An offset after a time part: Z, +09, +0900 or +09:00 (a plain date's '-01' is not one). -#}
    {{ return("case when regexp_matches(trim(" ~ expression ~ "), '[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]*)?)?\\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$')"
              ~ " then timezone('UTC', try_cast(trim(" ~ expression ~ ") as timestamptz))"
              ~ " else try_cast(trim(" ~ expression ~ ") as timestamp) end") }}
  {%- else -%}
    {{ return('try_cast(' ~ expression ~ ' as timestamp)') }}
  {%- endif -%}
{% endmacro %}

{% macro spark__lookalike_utc_timestamp(expression, dtype) %}
  {#- Spark timestamps are instants shown in the session time zone; the spark target pins it to
      UTC (profiles.yml, spark.sql.session.timeZone). Text with an offset or Z converts to that
      instant; text without one is read in the session time zone (UTC); bad text gives null. -#}
  {%- if dtype in ['string'] or dtype.startswith('varchar') or dtype.startswith('char') -%}
    {{ return('try_cast(trim(' ~ expression ~ ') as timestamp)') }}
  {%- else -%}
    {{ return('try_cast(' ~ expression ~ ' as timestamp)') }}
  {%- endif -%}
{% endmacro %}
