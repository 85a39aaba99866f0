"""Run dbt on open-source Spark with this package's Python models (decision 0016).

dbt-spark 1.11 runs SQL models on a local or self-managed Spark (``method: session``), but submits
Python models only to Databricks (``all_purpose_cluster`` / ``job_cluster``): on open Spark they fail
with "Databricks cluster_id is required" (dbt-labs/dbt-spark#415, open; the session helper of PR
#1063 is not merged). This module adds one submission method, ``session``, that executes the
compiled Python model in this process against the same in-process ``SparkSession`` dbt-spark's
session connection uses, and makes it the default. Nothing else in dbt changes.

Use it instead of ``dbt``::

    lookalike-dbt build --target spark          # console script
    python -m lookalike_udf.spark_dbt build --target spark

Every argument is passed to dbt unchanged. With a non-Spark target it behaves exactly like ``dbt``.
Tested with dbt-core 1.11, dbt-spark 1.11.0 and pyspark 4.x (the versions pinned by the ``spark``
extra); :data:`TESTED_DBT_SPARK` is checked at start and a different minor version warns.
"""

from __future__ import annotations

import os
import sys
import warnings

from . import library_version

TESTED_DBT_SPARK = "1.11"


def _helper_class():
    from dbt.adapters.base import PythonJobHelper

    class _SessionHelper(PythonJobHelper):
        """Executes a compiled dbt-spark Python model in this process.

        The compiled code (dbt-spark's ``py_write_table``) defines ``model(dbt, session)``, calls it
        with the global name ``spark`` and writes the result with ``saveAsTable``. We bind ``spark``
        to the active session, the one dbt-spark's ``method: session`` connection created.
        """

        def __init__(self, parsed_model: dict, credentials) -> None:
            self.parsed_model = parsed_model
            self.credentials = credentials

        def submit(self, compiled_code: str):
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
            namespace = {"spark": spark, "__name__": "__lookalike_dbt_python_model__"}
            exec(
                compile(compiled_code, self.parsed_model.get("original_file_path", "<python model>"), "exec"), namespace
            )
            return None

    return _SessionHelper


def register() -> None:
    """Add the ``session`` submission method to dbt-spark's adapter and make it the default.

    Idempotent. The property wrappers keep dbt-spark's own Databricks helpers available (a model can
    still set ``submission_method: all_purpose_cluster``).
    """
    from dbt.adapters.spark.impl import SparkAdapter

    if getattr(SparkAdapter, "_lookalike_session_helper", None) is not None:
        return
    helper = _helper_class()
    original = SparkAdapter.python_submission_helpers

    def python_submission_helpers(self):
        helpers = dict(original.fget(self))
        helpers["session"] = helper
        return helpers

    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
    SparkAdapter.default_python_submission_method = property(lambda self: "session")
    SparkAdapter._lookalike_session_helper = helper


def _check_version() -> None:
    try:
        from dbt.adapters.spark.__version__ import version
    except Exception:  # pragma: no cover - dbt-spark missing: dbt itself says so for a spark target
        return
    if not str(version).startswith(TESTED_DBT_SPARK + "."):
        warnings.warn(
            f"lookalike-dbt: tested with dbt-spark {TESTED_DBT_SPARK}.x, found {version}; "
            "the session submission helper may not fit this version.",
            stacklevel=2,
        )


def run(argv: list[str]) -> int:
    """Run ``dbt <argv>`` with the session helper registered; returns dbt's exit code."""
    from dbt.cli.main import dbtRunner

    # Spark's Python workers (mapInArrow scoring) must run this interpreter, the one with
    # lookalike_udf and scikit-learn installed; the JVM reads this once, when the session starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # The package's on-run-start check (macros/lookalike_runner_check.sql) stops plain `dbt` on a
    # Spark session target; this is not plain dbt.
    os.environ["LOOKALIKE_DBT"] = "1"
    # The library's and scikit-learn's versions, part of the inputs key of every kept table
    # (macros/lookalike_reuse.sql, spark__lookalike_library_version): with it, an unchanged Python
    # model's table is kept on Spark as on DuckDB instead of being read and written again.
    os.environ["LOOKALIKE_LIBRARY_VERSION"] = library_version()
    try:
        register()
        _check_version()
    except ImportError:
        pass  # no dbt-spark installed: non-Spark targets still work
    result = dbtRunner().invoke(list(argv))
    if result.exception is not None and result.result is None:
        print(f"lookalike-dbt: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
