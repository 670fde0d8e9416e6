"""The ingest stage inside ``cvp run``: the date's files into the warehouse; on Spark, read,
checked and applied in the warehouse file as on DuckDB, then published to the lake
(:mod:`pipeline.ingest.publish`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pipeline.errors import DeliveryIncomplete
from pipeline.ingest import ingest_date
from pipeline.ingest.readahead import release_read_memory
from pipeline.stages.base import Stage, StageContext

if TYPE_CHECKING:
    from pipeline.engine.spark_engine import SparkEngine


def run(ctx: StageContext) -> int:
    lake = cast("SparkEngine", ctx.engine) if ctx.engine.name == "spark" else None
    result = ingest_date(ctx.con, ctx.cfg, ctx.business_date, ctx.log, lake=lake)
    release_read_memory()  # the night's later stages need it
    if result.incomplete:
        raise DeliveryIncomplete(
            f"delivery for {ctx.business_date} incomplete: " + "; ".join(result.incomplete)
        )
    return result.rows_loaded


STAGE = Stage(
    name="ingest",
    run=run,
    reads=("landing zone",),
    writes=(
        "stg_transactions",
        "hist_customers",
        "hist_accounts",
        "hist_branches",
        "quarantine",
        "file_ledger",
    ),
    config_sections=("ingest", "bank_code"),
    transactional=False,
    engines=("duckdb", "spark"),
)
