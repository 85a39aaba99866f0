import lookalike_udf.export as export


def model(dbt, session):
    return export.export_audiences(
        audiences=dbt.ref("lookalike_audiences"),
        runs=dbt.ref("int_lookalike__runs"),
        include_holdout=dbt.config.get("export_holdout"),
    )
