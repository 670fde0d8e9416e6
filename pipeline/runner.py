"""Run stages for business dates: dependency checks, the run ledger, one stage at a time."""

from __future__ import annotations

import logging
from datetime import date

import duckdb

from pipeline.config import Config
from pipeline.errors import StageFailed
from pipeline.stages import BY_NAME
from pipeline.stages.base import Stage, StageContext, run_stage
from pipeline.warehouse import RunLedger


def succeeded(con: duckdb.DuckDBPyConnection, stage: str, business_date: date) -> bool:
    """True when the latest run of ``stage`` for the date succeeded."""
    rows = con.execute(
        "select status from run_ledger where stage = ? and business_date = ? "
        "and status <> 'skipped' order by started_at desc limit 1",
        [stage, business_date],
    ).fetchall()
    return bool(rows) and rows[0][0] == "succeeded"


def check_needs(
    con: duckdb.DuckDBPyConnection, stage: Stage, business_date: date, planned: set[str]
) -> None:
    missing = [n for n in stage.needs if n not in planned and not succeeded(con, n, business_date)]
    if missing:
        raise StageFailed(
            f"stage {stage.name} for {business_date} needs {', '.join(missing)} first: "
            f"run `cvp {missing[0]} --date {business_date}` (or `cvp run`)"
        )


def run_stages(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    names: list[str],
    dates: list[date],
    log: logging.Logger,
) -> None:
    """Run the named stages for each date in order, stopping at the first failure."""
    ledger = RunLedger(con, cfg.fingerprint())
    for day in dates:
        planned: set[str] = set()
        for name in names:
            stage = BY_NAME[name]
            check_needs(con, stage, day, planned)
            ctx = StageContext(con=con, cfg=cfg, business_date=day, ledger=ledger, log=log)
            run_stage(ctx, stage)
            planned.add(name)
