"""Configuration of the engine (section ``engine``): DuckDB, the default, or Spark
(docs/scale.md, "The engine layer"). Which engine runs changes no figure: the section is not
part of the config's fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SparkConfig(_Frozen):
    master: str | None = "local[2]"
    """The Spark master (``local[2]``, ``yarn``, ``spark://host:7077``); null: the one the
    session already has (``spark-submit --master yarn`` provides it). Ignored when ``remote``
    is set."""
    remote: str | None = None
    """A Spark Connect URL (``sc://host:15002``): the session is a client of that server."""
    lake: Path = Path("var/lake")
    """The lake folder: one Hive-style Parquet folder per table (``spark.sql.warehouse.dir``),
    a path the driver and the executors share. Relative paths are from the working directory."""
    conf: dict[str, str] = Field(default_factory=dict)
    """Further Spark settings (``spark.executor.memory: 8g``). cvp's own session settings
    (pipeline/engine/spark.py ``SESSION_CONF``: ANSI mode, UTC, exact decimals) cannot be
    changed here: the translated SQL is written for them."""

    @field_validator("conf")
    @classmethod
    def _spark_keys(cls, value: dict[str, str]) -> dict[str, str]:
        from pipeline.engine.spark import SESSION_CONF

        odd = sorted(k for k in value if not k.startswith("spark."))
        if odd:
            raise ValueError(f"{odd}: Spark settings start with 'spark.'")
        fixed = sorted(k for k in value if k in SESSION_CONF and value[k] != SESSION_CONF[k])
        if fixed:
            raise ValueError(
                f"{fixed}: set by cvp ({', '.join(f'{k}={SESSION_CONF[k]}' for k in fixed)}); "
                "the translated SQL gives DuckDB's results only with cvp's value"
            )
        return value


class EngineConfig(_Frozen):
    name: Literal["duckdb", "spark"] = "duckdb"
    """The engine the stages run on; ``--engine`` overrides it. The ledgers, inputs tokens
    and the lock stay in the DuckDB warehouse file (``paths.warehouse``) either way."""
    spark: SparkConfig = SparkConfig()
    """The Spark session and the lake, for ``name: spark``."""
