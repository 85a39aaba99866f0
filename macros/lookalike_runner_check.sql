{#- on-run-start (issue 29 part 3): plain `dbt` on a Spark target without a Databricks cluster or
    endpoint (method session: the local or self-managed Spark of profiles.yml; thrift) runs the SQL
    models and then fails every Python model with
    dbt-spark's "Databricks cluster_id is required ...", which does not say what to do. Stop at the
    start instead, naming the command that works. lookalike-dbt (lookalike_udf/spark_dbt.py) sets
    LOOKALIKE_DBT=1. A target with a Databricks cluster or endpoint submits Python models itself and
    is not stopped. (The target's `method` is not among the Spark credentials dbt exposes to Jinja.)
    Returns no SQL. -#}
{%- macro lookalike_check_runner() -%}
  {{ return(adapter.dispatch('lookalike_check_runner', 'lookalike')()) }}
{%- endmacro -%}

{%- macro default__lookalike_check_runner() -%}
  {{ return('') }}
{%- endmacro -%}

{%- macro spark__lookalike_check_runner() -%}
  {%- if execute and not target.get('cluster') and not target.get('endpoint') and env_var('LOOKALIKE_DBT', '') != '1' -%}
    {{ exceptions.raise_compiler_error(
        "lookalike: plain `dbt` cannot run this package's Python models on open-source Spark "
        ~ "(target '" ~ target.name ~ "', no Databricks cluster or endpoint): dbt-spark submits Python models only to Databricks. "
        ~ "Run `lookalike-dbt " ~ (invocation_args_dict.get('which') or 'build') ~ " --target " ~ target.name ~ "` instead "
        ~ "(installed with the package's spark extra: dbt with one submission method added, every argument passed on). "
        ~ "See docs/spark.md.") }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro -%}
