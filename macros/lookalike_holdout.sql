{#- A user's holdout bucket in a run, 0..9999 (issue 30, decision 0028): the first 8 hex digits of
    md5(length(run_id) || ':' || run_id || user_id) as an integer, mod 10000. It depends only on
    the run (the salt) and the user, so a user keeps its group across builds, whatever the scores.
    The length prefix keeps ('a:b', 'c') and ('a', ':bc') apart. lookalike_udf.holdout.holdout_bucket
    is the same formula in Python. `run_id` and `user_id` are SQL expressions. -#}
{%- macro lookalike_holdout_bucket(run_id, user_id) -%}
  {%- set text = dbt.type_string() -%}
  {%- set hashed = 'md5(' ~ dbt.concat(['cast(length(' ~ run_id ~ ') as ' ~ text ~ ')', "':'", 'cast(' ~ run_id ~ ' as ' ~ text ~ ')', 'cast(' ~ user_id ~ ' as ' ~ text ~ ')']) ~ ')' -%}
  ({{ adapter.dispatch('lookalike_hex_to_bigint', 'lookalike')('substr(' ~ hashed ~ ', 1, 8)') }} % 10000)
{%- endmacro -%}

{#- A text of hex digits (at most 15) as a bigint. -#}
{%- macro duckdb__lookalike_hex_to_bigint(hex) -%}
cast(('0x' || {{ hex }}) as bigint)
{%- endmacro -%}

{%- macro spark__lookalike_hex_to_bigint(hex) -%}
cast(conv({{ hex }}, 16, 10) as bigint)
{%- endmacro -%}

{%- macro default__lookalike_hex_to_bigint(hex) -%}
  {{ exceptions.raise_compiler_error("lookalike_hex_to_bigint has no implementation for the adapter '" ~ adapter.type() ~ "'. Add a " ~ adapter.type() ~ "__lookalike_hex_to_bigint macro (hex digits as a bigint, used by the holdout split).") }}
{%- endmacro -%}
