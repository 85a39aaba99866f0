import lookalike_udf.evaluation as evaluation


def model(dbt, session):
    return evaluation.training_log(models=dbt.ref("lookalike_run_models"))
