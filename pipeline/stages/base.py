"""What a stage is, and how one runs for a business date.

A stage declares the stages it needs, the tables it reads and writes and the config sections
it depends on, and has one function that does the work and returns a row count. Running it
records the run ledger and wraps the work in one transaction, so a failed or killed stage
leaves its tables as they were.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb

from models.errors import ModelInputError
from pipeline.config import Config
from pipeline.engine.base import Engine, EngineName
from pipeline.errors import DataContractError, PipelineError, StageFailed
from pipeline.warehouse import RunLedger, release_cache, transaction

INJECT_FAILURE = "CVP_INJECT_FAILURE"
"""Environment variable naming a stage to fail on purpose: for the resume tests only."""


@dataclass
class StageContext:
    con: duckdb.DuckDBPyConnection
    cfg: Config
    business_date: date
    ledger: RunLedger
    log: logging.Logger
    facts: dict[str, object] = field(default_factory=dict)
    """Figures a stage reports for the log and the run summary (e.g. precision, RMSE)."""
    engine: Engine = None  # type: ignore[assignment]  # set in __post_init__
    """Where the stage's tables live and its SQL runs; by default DuckDB on ``con``. ``con``
    stays the warehouse file for the ledgers whatever the engine."""

    def __post_init__(self) -> None:
        if self.engine is None:
            from pipeline.engine.duckdb_engine import DuckDBEngine

            self.engine = DuckDBEngine(self.con)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[StageContext], int]
    needs: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    config_sections: tuple[str, ...] = ()
    transactional: bool = True
    """False for a stage that manages its own transactions (ingest commits file by file)."""
    engines: tuple[EngineName, ...] = ("duckdb",)
    """The engines the stage runs on: ``spark`` only once every statement it executes goes
    through :class:`~pipeline.engine.base.Engine` (docs/scale.md lists them)."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_stage(ctx: StageContext, stage: Stage, inputs_token: str | None = None) -> int:
    """Run one stage for ``ctx.business_date``, recording it in the run ledger.

    ``inputs_token`` is recorded so that a later run can tell whether anything changed
    (see :mod:`pipeline.runner`).

    Raises
    ------
    StageFailed
        Wrapping any error, after the ledger records the failure.
    """
    ctx.ledger.start(stage.name, ctx.business_date, inputs_token)
    release_cache(ctx.con, ctx.cfg.warehouse.memory_limit)  # the last stage's blocks
    started, cpu_started = time.monotonic(), time.process_time()
    try:
        if os.environ.get(INJECT_FAILURE) == stage.name:
            raise StageFailed(f"failure injected by {INJECT_FAILURE} (tests only)")
        if stage.transactional:
            with transaction(ctx.con):
                rows = stage.run(ctx)
        else:
            rows = stage.run(ctx)
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        ctx.ledger.finish(stage.name, ctx.business_date, "failed", message=message[:500])
        if isinstance(exc, PipelineError):  # keeps its exit code (3, 5, ...)
            if not str(exc).startswith(f"stage {stage.name} "):
                exc.args = (f"stage {stage.name} for {ctx.business_date}: {exc}",)
            raise
        if isinstance(exc, ModelInputError):  # a model's input broke its contract
            raise DataContractError(
                f"stage {stage.name} for {ctx.business_date}: {message}"
            ) from exc
        raise StageFailed(f"stage {stage.name} for {ctx.business_date} failed: {message}") from exc
    ctx.ledger.finish(stage.name, ctx.business_date, "succeeded", rows=rows)
    # after the ledger's write: its commit is where DuckDB checkpoints what the stage wrote
    seconds = round(time.monotonic() - started, 3)
    ctx.log.info(
        f"{stage.name} done",
        extra={
            "stage": stage.name,
            "business_date": ctx.business_date,
            "rows": rows,
            "seconds": seconds,
            # CPU of this process only (DuckDB's threads included); the peak resident memory
            # of the process so far, so the stage where it jumps is the one that needed it
            "cpu_seconds": round(time.process_time() - cpu_started, 3),
            "peak_rss_mb": peak_rss_mb(),
        },
    )
    return rows
