import lookalike_udf.serving as serving


def model(dbt, session):
    """Publish every public mart to the serving DuckDB file (decision 0014). It runs after all of them
    and their data tests, so a build that fails leaves the previous serving file in place."""
    # One literal dbt.ref per public mart: dbt reads the DAG from them (a test checks the list
    # against dbt_project/models/public).
    marts = {
        "lookalike_runs": dbt.ref("lookalike_runs"),
        "lookalike_user_scores": dbt.ref("lookalike_user_scores"),
        "lookalike_input_issues": dbt.ref("lookalike_input_issues"),
        "lookalike_pit_features": dbt.ref("lookalike_pit_features"),
        "lookalike_inference_features": dbt.ref("lookalike_inference_features"),
        "lookalike_pit_labels": dbt.ref("lookalike_pit_labels"),
        "lookalike_run_metrics": dbt.ref("lookalike_run_metrics"),
        "lookalike_run_deciles": dbt.ref("lookalike_run_deciles"),
        "lookalike_run_cumulative_positive_rates": dbt.ref("lookalike_run_cumulative_positive_rates"),
        "lookalike_input_label_summary": dbt.ref("lookalike_input_label_summary"),
        "lookalike_label_monthly": dbt.ref("lookalike_label_monthly"),
        "lookalike_label_weight_counts": dbt.ref("lookalike_label_weight_counts"),
        "lookalike_run_scoring_sql": dbt.ref("lookalike_run_scoring_sql"),
        "lookalike_run_models": dbt.ref("lookalike_run_models"),
        "lookalike_training_predictions": dbt.ref("lookalike_training_predictions"),
        "lookalike_feature_importance": dbt.ref("lookalike_feature_importance"),
        "lookalike_run_threshold_metrics": dbt.ref("lookalike_run_threshold_metrics"),
        "lookalike_run_confusion_matrix": dbt.ref("lookalike_run_confusion_matrix"),
        "lookalike_feature_info": dbt.ref("lookalike_feature_info"),
        "lookalike_run_training_log": dbt.ref("lookalike_run_training_log"),
        "lookalike_feature_drift": dbt.ref("lookalike_feature_drift"),
        "lookalike_audiences": dbt.ref("lookalike_audiences"),
        "lookalike_user_reasons": dbt.ref("lookalike_user_reasons"),
        "lookalike_audience_lift": dbt.ref("lookalike_audience_lift"),
    }
    return serving.publish(session, marts, dbt.config.get("serving_path"))
