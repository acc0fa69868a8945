"""``start_spark``: the one place that decides local mode vs a cluster.

Under ``spark-submit`` the cluster manager has already set ``spark.master`` (and memory, executors):
nothing here overrides it. Started from ``shelf-models`` on one machine (no ``spark.master`` in the
environment), Spark runs in local mode with ``SHELF_SPARK_MASTER`` (default ``local[*]``) and
``SHELF_SPARK_DRIVER_MEMORY`` (default ``4g``; in local mode the driver is the executor). Every
session computes in UTC so that timestamps mean the same on every machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True, slots=True)
class SparkSettings:
    """How a job's SparkSession is configured (the cluster's own settings win under spark-submit)."""

    app_name: str = "shelf-models"
    master: str | None = None  # None: the cluster's (spark-submit) or local[*]
    driver_memory: str = "4g"
    shuffle_partitions: int = 8  # small for one machine; set higher on a cluster (see models/README.md)
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, app_name: str) -> SparkSettings:
        return cls(
            app_name=app_name,
            master=os.environ.get("SHELF_SPARK_MASTER"),
            driver_memory=os.environ.get("SHELF_SPARK_DRIVER_MEMORY", "4g"),
            shuffle_partitions=int(os.environ.get("SHELF_SPARK_SHUFFLE_PARTITIONS", "8")),
        )


def _under_spark_submit() -> bool:
    return "spark.master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "") or bool(
        os.environ.get("SPARK_ENV_LOADED")
    )


def start_spark(settings: SparkSettings) -> SparkSession:
    """The SparkSession for a job or a test run (``getOrCreate``: one per process)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(settings.app_name)
    if settings.master is not None:
        builder = builder.master(settings.master)
    elif not _under_spark_submit():
        builder = builder.master("local[*]")
        builder = builder.config("spark.driver.memory", settings.driver_memory)
    if settings.master is not None or not _under_spark_submit():
        # Python workers (the profiles' pools) run this interpreter, with this environment's packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        **settings.extra,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
