import lookalike_udf.dbt_models as lookalike


def model(dbt, session):
    return lookalike.score_population(
        models=dbt.ref("lookalike_run_models"),
        population=dbt.ref("lookalike_inference_features"),
        batch_size=int(dbt.config.get("score_batch_size") or 100000),
        runs=dbt.ref("int_lookalike__runs"),
        fingerprints=dbt.ref("int_lookalike__run_fingerprints"),
        previous=lookalike.previous_table(session, dbt.this),
        force=dbt.config.get("force_retrain"),
        engine=dbt.config.get("scoring_engine"),
        hashes=dbt.ref("int_lookalike__population_feature_hashes"),
    )
