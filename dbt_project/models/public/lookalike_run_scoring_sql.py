import lookalike_udf.dbt_models as lookalike


def model(dbt, session):
    return lookalike.scoring_sql(
        models=dbt.ref("lookalike_run_models"),
        dialects=dbt.config.get("scoring_sql_dialects"),
        previous=lookalike.previous_table(session, dbt.this),
        force=dbt.config.get("force_retrain"),
        target_dialect=dbt.config.get("target_dialect"),
    )
