{#- Safe SQL text for names and values that come from users or from their data.

    lookalike_quote_identifier(name): the name as a quoted identifier, with the quote character
    doubled inside it, so any column name (quotes, semicolons, comments, newlines, unicode) stays
    one identifier. adapter.quote() does not escape, so it must not be used on such names.
    lookalike_literal(value): the value as a SQL string literal with its quotes escaped.
    Both dispatch, so an engine with other quoting rules (Spark: backticks, backslash escapes)
    gets its own implementation. -#}

{% macro lookalike_quote_identifier(name) %}
  {{ return(adapter.dispatch('lookalike_quote_identifier', 'lookalike')(name)) }}
{% endmacro %}

{% macro default__lookalike_quote_identifier(name) %}
  {{ return('"' ~ (name | string | replace('"', '""')) ~ '"') }}
{% endmacro %}

{% macro spark__lookalike_quote_identifier(name) %}
  {{ return('`' ~ (name | string | replace('`', '``')) ~ '`') }}
{% endmacro %}


{% macro lookalike_literal(value) %}
  {{ return(adapter.dispatch('lookalike_literal', 'lookalike')(value)) }}
{% endmacro %}

{% macro default__lookalike_literal(value) %}
  {%- if value is none -%}{{ return('null') }}{%- endif -%}
  {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{% endmacro %}

{% macro spark__lookalike_literal(value) %}
  {%- if value is none -%}{{ return('null') }}{%- endif -%}
  {{ return("'" ~ (value | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
{% endmacro %}
