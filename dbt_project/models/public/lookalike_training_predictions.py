import lookalike_udf.dbt_models as lookalike


def model(dbt, session):
    return lookalike.predict_training_examples(
        models=dbt.ref("lookalike_run_models"),
        examples=dbt.ref("int_lookalike__training_examples"),
        previous=lookalike.previous_table(session, dbt.this),
        force=dbt.config.get("force_retrain"),
        # Decision 0047: lookalike_run_models not written since this table was (lookalike_build_state).
        models_unchanged=lookalike.models_unchanged_since(session, dbt.this, dbt.config.get("lookalike_build_state")),
    )
