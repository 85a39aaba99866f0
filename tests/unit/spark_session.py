"""The local SparkSession the unit tests share (test_spark_frames, test_engine_seam): one fixture,
imported by each module that needs it (`from spark_session import spark`)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A local[1] SparkSession in UTC with its own warehouse and Derby home; stopped at the end."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the README's test install has the spark extra
        pytest.fail(f"the Spark tests need the spark extra: pip install -e '.[test,spark]' ({exc})", pytrace=False)
    if shutil.which("java") is None:  # pragma: no cover
        pytest.fail("the Spark tests need a Java 17+ runtime (Debian package openjdk-17-jre-headless)", pytrace=False)
    from pyspark.sql import SparkSession

    from lookalike_udf.engines.spark import ensure_worker_python

    ensure_worker_python()
    base = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("lookalike-unit")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={base}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
