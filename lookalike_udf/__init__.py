"""lookalike_udf: the Python half of the lookalike dbt package.

The dbt models call :mod:`lookalike_udf.dbt_models`; everything else is importable on its own:

- :mod:`lookalike_udf.features`: Arrow rows to a feature matrix (JSON-serialisable encoder).
- :mod:`lookalike_udf.estimators`: the model types (one module each: defaults, tuning grid, fit,
  JSON without pickle, scoring) behind one registry.
- :mod:`lookalike_udf.scoring`: a stored run model (encoder + estimator) loaded from JSON and scoring.
- :mod:`lookalike_udf.training`: fit one run's classifier.
- :mod:`lookalike_udf.validation`: per-run input checks and their messages.
"""

__version__ = "0.1.0"

from .errors import LookalikeError, RunValidationError  # noqa: E402


def library_version() -> str:
    """This library's and scikit-learn's versions: what a stored model's bytes depend on besides
    its inputs (part of every kept table's inputs key, decision 0025: the SQL function
    ``lookalike_library_version()`` on DuckDB, the variable ``LOOKALIKE_LIBRARY_VERSION`` that
    ``lookalike-dbt`` sets on Spark). scikit-learn's version comes from its installed metadata, so a
    build that runs no Python model does not pay for importing it."""
    from importlib.metadata import version

    return f"lookalike_udf {__version__}; scikit-learn {version('scikit-learn')}"


__all__ = ["LookalikeError", "RunValidationError", "__version__", "library_version"]
