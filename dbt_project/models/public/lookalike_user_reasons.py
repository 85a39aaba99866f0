import lookalike_udf.dbt_models as lookalike


def model(dbt, session):
    return lookalike.user_reasons(
        models=dbt.ref("lookalike_run_models"),
        audience_features=dbt.ref("int_lookalike__reason_inputs"),
        batch_size=int(dbt.config.get("score_batch_size") or 100000),
    )
