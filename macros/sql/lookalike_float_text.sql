{#- A double as text, the same on every engine: DuckDB's cast to varchar, which writes the shortest
    round-trip digits as Python's repr does ('2.0', '1e-05', '1250000000.0', '1e+16', 'inf', 'nan').
    Used where text feeds a hash (lookalike_pit_labels.label_id), so the same label gets the same id
    on DuckDB and Spark. -#}
{% macro lookalike_float_text(expr) %}
  {{ return(adapter.dispatch('lookalike_float_text', 'lookalike')(expr)) }}
{% endmacro %}

{% macro default__lookalike_float_text(expr) -%}
cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark writes Java's Double.toString ('1.0E-5', '1.25E9', 'Infinity', 'NaN'): rewritten to the
    Python/DuckDB form. Java's plain range [1e-3, 1e7) already agrees; exponents 7..15 become plain
    digits, -4 a plain fraction, the rest Python's exponent form (e+NN / e-NN). -#}
{% macro spark__lookalike_float_text(expr) -%}
{%- set s = "cast(" ~ expr ~ " as string)" -%}
{%- set m = "regexp_extract(" ~ s ~ ", '^-?([0-9.]+)E', 1)" -%}
{%- set e = "cast(regexp_extract(" ~ s ~ ", 'E(-?[0-9]+)$', 1) as int)" -%}
{%- set mant = "(case when " ~ m ~ " like '%.0' then substr(" ~ m ~ ", 1, length(" ~ m ~ ") - 2) else " ~ m ~ " end)" -%}
{%- set digits = "replace(" ~ mant ~ ", '.', '')" -%}
{%- set sign = "(case when " ~ expr ~ " < 0 then '-' else '' end)" -%}
case
    when {{ expr }} is null then null
    when isnan({{ expr }}) then 'nan'
    when {{ expr }} = double('inf') then 'inf'
    when {{ expr }} = double('-inf') then '-inf'
    when instr({{ s }}, 'E') = 0 then {{ s }}
    when {{ e }} between 7 and 15 then
        case when length({{ digits }}) <= {{ e }} + 1
             then {{ sign }} || rpad({{ digits }}, {{ e }} + 1, '0') || '.0'
             else {{ sign }} || substr({{ digits }}, 1, {{ e }} + 1) || '.' || substr({{ digits }}, {{ e }} + 2)
        end
    when {{ e }} = -4 then {{ sign }} || '0.000' || {{ digits }}
    else {{ sign }} || {{ mant }} || 'e' || (case when {{ e }} < 0 then '-' else '+' end)
         || (case when abs({{ e }}) < 10 then '0' else '' end) || cast(abs({{ e }}) as string)
end
{%- endmacro %}
