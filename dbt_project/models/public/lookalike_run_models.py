import lookalike_udf.dbt_models as lookalike


def model(dbt, session):
    return lookalike.train_models(
        runs=dbt.ref("int_lookalike__runs"),
        label_summary=dbt.ref("lookalike_input_label_summary"),
        examples=dbt.ref("int_lookalike__training_examples"),
        fingerprints=dbt.ref("int_lookalike__run_fingerprints"),
        previous=lookalike.previous_table(session, dbt.this),
        force=dbt.config.get("force_retrain"),
    )
