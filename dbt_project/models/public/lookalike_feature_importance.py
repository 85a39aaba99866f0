import lookalike_udf.dbt_models as lookalike
import lookalike_udf.quality as quality


def model(dbt, session):
    return quality.feature_report(
        models=dbt.ref("lookalike_run_models"),
        examples=dbt.ref("int_lookalike__training_examples"),
        population=dbt.ref("lookalike_inference_features"),
        runs=dbt.ref("int_lookalike__runs"),
        previous=lookalike.previous_table(session, dbt.this),
        force=dbt.config.get("force_retrain"),
        # Decision 0047: lookalike_run_models not written since this table was (lookalike_build_state).
        models_unchanged=lookalike.models_unchanged_since(session, dbt.this, dbt.config.get("lookalike_build_state")),
    )
