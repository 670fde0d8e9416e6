"""The engine of a run, from the config (``engine.name``, or ``--engine``)."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from pipeline.config import Config
from pipeline.engine.base import Engine
from pipeline.errors import PipelineError
from pipeline.stages.base import Stage


def refuse_unported(stages: Iterable[Stage], engine: str) -> None:
    """Refuse, before anything runs, a run whose stages do not all run on ``engine``: a stage
    never falls back to DuckDB silently.

    Raises
    ------
    PipelineError
        Naming each stage that does not run on the engine.
    """
    missing = [s.name for s in stages if engine not in s.engines]
    if missing:
        ready = [s.name for s in stages if engine in s.engines]
        advice = (
            f"--stages {','.join(ready)} alone on {engine}, the others"
            if ready
            else ("them" if len(missing) > 1 else "it")
        )
        raise PipelineError(
            f"--engine {engine}: stage {', '.join(missing)} not ported to {engine} yet (a stage "
            f"runs on {engine} only when every statement it executes goes through the engine "
            f"layer: docs/scale.md); run {advice} with --engine duckdb"
        )


def open_engine(con: duckdb.DuckDBPyConnection, cfg: Config) -> Engine:
    """DuckDB on the warehouse connection ``con``, or a Spark session and its lake
    (``engine.spark``): the warehouse file keeps the ledgers either way."""
    if cfg.engine.name == "duckdb":
        from pipeline.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(con)
    from pipeline.engine.spark_engine import SparkEngine
    from pipeline.engine.spark_session import session_from_config

    spark = cfg.engine.spark
    return SparkEngine(session_from_config(spark), spark.lake)
