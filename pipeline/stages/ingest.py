"""The ingest stage inside ``cvp run``: the date's files into the warehouse."""

from __future__ import annotations

from pipeline.errors import DeliveryIncomplete
from pipeline.ingest import ingest_date
from pipeline.ingest.readahead import release_read_memory
from pipeline.stages.base import Stage, StageContext


def run(ctx: StageContext) -> int:
    result = ingest_date(ctx.con, ctx.cfg, ctx.business_date, ctx.log)
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
)
