"""The Spark session cvp's translated SQL runs in, and the settings it needs.

``SESSION_CONF`` is part of the translation's contract (docs/scale.md, "The translation
layer"): the fix-ups of :mod:`pipeline.engine.translate` assume it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SESSION_CONF = {
    # Errors, as DuckDB raises them, where Spark's legacy mode returns NULL: an overflowing
    # cast or sum, a string that is not a number, x / 0 (DuckDB: ±inf, never a silent NULL).
    # Spark 4's default; set here for 3.5 clusters.
    "spark.sql.ansi.enabled": "true",
    # current_date, dates from timestamps and Parquet timestamps read as the warehouse's UTC
    "spark.sql.session.timeZone": "UTC",
    # DECIMAL arithmetic keeps its scale, as DuckDB's does (a product's scale is the sum of
    # the operands', the precision capped at 38, an overflow an error): by default Spark cuts
    # the scale to 6 when the precision passes 38 and so rounds money sums DuckDB keeps exact
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    # TIME columns (stg_transactions.txn_time): Spark 4.1+ reads them only with this; 3.5
    # has no TIME type (the lake's storage contract will decide how to keep one there)
    "spark.sql.timeType.enabled": "true",
}
"""Spark settings the translated SQL is written for."""

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",  # small data: 200 empty tasks per shuffle otherwise
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",  # compiling costs more than it saves on small data
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
}
"""A local test or dev session's extra settings (small data, no web UI)."""


def local_python(master: str | None) -> None:
    """On a ``local`` master, the Python workers of ``mapInArrow`` run this process's
    interpreter, whose packages cvp has (pyspark's default is ``python3`` on the PATH): sets
    ``PYSPARK_PYTHON`` unless it is set. A cluster's workers use the Python of its config."""
    if master and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def local_session(cores: int = 2) -> SparkSession:
    """A ``local[cores]`` session with :data:`SESSION_CONF` (pyspark and Java 17 needed)."""
    from pyspark.sql import SparkSession

    master = f"local[{cores}]"
    builder = SparkSession.builder.master(master).appName("cvp")
    local_python(master)
    for key, value in {**SESSION_CONF, **LOCAL_CONF}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
