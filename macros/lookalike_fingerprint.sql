{#- Order-independent checksum of every row of `relation` (grain of the result: one row per
    `group_by` value, or one row). Used to decide whether a run's model and scores can be reused:
    equal checksums mean equal rows, whatever their order. Columns: the group columns, n_rows and
    checksum (text). The column names and types are folded in at compile time, so a renamed or
    retyped column changes the checksum too. -#}
{% macro lookalike_relation_checksum(relation, group_by=[], exclude=[]) %}
  {{ return(adapter.dispatch('lookalike_relation_checksum', 'lookalike')(relation, group_by, exclude)) }}
{% endmacro %}

{% macro duckdb__lookalike_relation_checksum(relation, group_by, exclude) %}
  {%- set shape = [] -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) if column.name not in exclude -%}
      {%- do shape.append(column.name ~ ' ' ~ column.data_type) -%}
    {%- endfor -%}
  {%- endif -%}
  {#- Column names may hold any character (quotes, newlines): every name reaches the SQL quoted
      (lookalike_quote_identifier) and the shape as an escaped literal (lookalike_literal). #}
  {%- set excluded = [] -%}
  {%- for name in exclude -%}{%- do excluded.append(lookalike.lookalike_quote_identifier(name)) -%}{%- endfor -%}
  {%- set grouped = [] -%}
  {%- for name in group_by -%}{%- do grouped.append(lookalike.lookalike_quote_identifier(name)) -%}{%- endfor -%}
select
    {%- for g in grouped %}
    {{ g }},
    {%- endfor %}
    count(*) as n_rows,
    {#- hash(row) of DuckDB hashes the row's values; the sum is independent of row order. #}
    md5(cast(coalesce(sum(hash(lookalike_rows)), 0) as varchar) || '|' || {{ lookalike.lookalike_literal(shape | join(', ')) }}) as checksum
from (
    select * {%- if excluded %} exclude ({{ excluded | join(', ') }}){% endif %}
    from {{ relation }}
) as lookalike_rows
{%- if grouped %}
group by {{ grouped | join(', ') }}
{%- endif %}
{% endmacro %}

{#- Two checksums of `relation` in one scan (decision 0039): of every row (n_rows, checksum, exactly
    lookalike_relation_checksum's) and of the rows whose `column` is at or before `bound` (a SQL
    scalar; n_rows_upto, checksum_upto, in the same form, so that when no row is after `bound` both
    pairs are equal). The append path of lookalike_table compares the second with the checksum its
    previous build recorded. DuckDB only: other adapters build whole (lookalike_appends_new_rows). -#}
{% macro lookalike_relation_checksum_upto(relation, column, bound) %}
  {{ return(adapter.dispatch('lookalike_relation_checksum_upto', 'lookalike')(relation, column, bound)) }}
{% endmacro %}

{% macro duckdb__lookalike_relation_checksum_upto(relation, column, bound) %}
  {%- set shape = [] -%}
  {%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(relation) -%}
      {%- do shape.append(c.name ~ ' ' ~ c.data_type) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set upto = 'lookalike_rows.' ~ lookalike.lookalike_quote_identifier(column) ~ ' <= (' ~ bound ~ ')' -%}
select
    count(*) as n_rows,
    md5(cast(coalesce(sum(hash(lookalike_rows)), 0) as varchar) || '|' || {{ lookalike.lookalike_literal(shape | join(', ')) }}) as checksum,
    count(*) filter (where {{ upto }}) as n_rows_upto,
    md5(cast(coalesce(sum(hash(lookalike_rows)) filter (where {{ upto }}), 0) as varchar) || '|' || {{ lookalike.lookalike_literal(shape | join(', ')) }}) as checksum_upto
from (
    select * from {{ relation }}
) as lookalike_rows
{% endmacro %}

{% macro default__lookalike_relation_checksum_upto(relation, column, bound) %}
  {{ exceptions.raise_compiler_error("lookalike_relation_checksum_upto has no implementation for the adapter '" ~ adapter.type() ~ "' (only DuckDB appends new rows: lookalike_appends_new_rows).") }}
{% endmacro %}

{% macro spark__lookalike_relation_checksum(relation, group_by, exclude) %}
  {#- xxhash64 of each row's values (nulls included, column order fixed), summed as decimal(38,0) so
      the sum neither overflows under ANSI mode nor depends on row order. Columns are listed (open
      Spark has no `* except`). -#}
  {%- set shape = [] -%}
  {%- set kept = [] -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) if column.name not in exclude -%}
      {%- do shape.append(column.name ~ ' ' ~ column.data_type) -%}
      {%- do kept.append(lookalike.lookalike_quote_identifier(column.name)) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set grouped = [] -%}
  {%- for name in group_by -%}{%- do grouped.append(lookalike.lookalike_quote_identifier(name)) -%}{%- endfor -%}
select
    {%- for g in grouped %}
    {{ g }},
    {%- endfor %}
    count(*) as n_rows,
    md5(cast(coalesce(sum(cast(xxhash64({{ kept | join(', ') if kept else "''" }}) as decimal(38, 0))), 0) as string) || '|' || {{ lookalike.lookalike_literal(shape | join(', ')) }}) as checksum
from {{ relation }}
{%- if grouped %}
group by {{ grouped | join(', ') }}
{%- endif %}
{% endmacro %}

{% macro default__lookalike_relation_checksum(relation, group_by, exclude) %}
  {{ exceptions.raise_compiler_error("lookalike_relation_checksum has no implementation for the adapter '" ~ adapter.type() ~ "'. Add a " ~ adapter.type() ~ "__lookalike_relation_checksum macro (an order-independent sum of row hashes), or contribute one to the package.") }}
{% endmacro %}
