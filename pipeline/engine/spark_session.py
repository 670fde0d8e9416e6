"""The Spark session of a run, from the config (section ``engine.spark``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config.engine import SparkConfig
from pipeline.engine.spark import SESSION_CONF, local_python

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def session_conf(cfg: SparkConfig) -> dict[str, str]:
    """The settings a run's session gets: the lake as ``spark.sql.warehouse.dir``, the
    config's ``conf``, and cvp's :data:`SESSION_CONF` (always, last)."""
    quiet = {"spark.ui.showConsoleProgress": "false"}  # stderr carries cvp's JSON log lines
    lake = {"spark.sql.warehouse.dir": str(cfg.lake.resolve())}
    return {**quiet, **lake, **cfg.conf, **SESSION_CONF}


def session_from_config(cfg: SparkConfig) -> SparkSession:
    """A Spark Connect session (``remote``), else one on ``master`` (null: the master the
    running application already has, as under ``spark-submit``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        from pipeline.errors import ConfigError

        raise ConfigError(
            "engine spark: pyspark is not installed (pip install 'cvp[spark]'; Java 17 needed)"
        ) from None
    builder = SparkSession.builder.appName("cvp")
    local_python(cfg.master)
    if cfg.remote:
        builder = builder.remote(cfg.remote)
    elif cfg.master:
        builder = builder.master(cfg.master)
    for key, value in session_conf(cfg).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    for key, value in SESSION_CONF.items():  # a session that already existed keeps its own
        session.conf.set(key, value)
    return session
