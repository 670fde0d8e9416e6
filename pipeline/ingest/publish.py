"""On Spark, a date's ingested rows into the lake (docs/scale.md, "Ingest on Spark").

Ingest reads, checks and applies a date in the DuckDB warehouse file whatever the engine: the
checks need the lines' numbers and the type-2 diff the current versions, and one code path
means bad input behaves the same on both engines. On Spark that file keeps the history tables
(a row per customer, account or branch version: the size of the bank, not of its trade) and a
date's transaction rows only while the date is ingested; the stages read the lake's copies.
Before the date's commit, what it changed is published:

- the transaction rows of the channels whose files were loaded or replaced: the lake's rows of
  those channels in the date's partition replaced, then removed from the warehouse file;
- a history table whose snapshot (or a quarantined row's restriction) was applied: its
  versions still open on the date or closed on or after it (``valid_to >= date``) replaced,
  which holds every version the date can have opened, closed or reopened, since snapshots
  load in date order. A table the lake has not yet is written whole.

The lake has no transactions: a failure after a write and before the commit rolls the
warehouse file back (its file ledger and run ledger say the date is not loaded) and leaves the
lake's rows of the date written; the date's re-run writes them again, and both writes replace.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb

from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.ingest.contract import TXN

if TYPE_CHECKING:
    from pipeline.engine.spark_engine import SparkEngine


def _channels_sql(channels: list[str]) -> str:
    return "channel in (" + ", ".join("'" + c.replace("'", "''") + "'" for c in channels) + ")"


def publish_date(
    con: duckdb.DuckDBPyConnection,
    lake: SparkEngine,
    day: date,
    histories: set[str],
    channels: list[str],
) -> None:
    """Publish ``day``'s changes to the ``histories`` (table names) and its transaction rows
    of ``channels`` from the warehouse file ``con`` into ``lake``."""
    warehouse = DuckDBEngine(con)
    for table in sorted(histories):
        columns = warehouse.columns(table)
        if not lake.table_exists(table):
            lake.store_arrow(
                table, con.execute(f"select * from {table}").to_arrow_table(), columns, None
            )
            continue
        versions = con.execute(f"select * from {table} where valid_to >= ?", [day]).to_arrow_table()
        lake.temp_arrow("ingest_versions", versions, columns)
        try:
            lake.replace_where(table, "select * from ingest_versions", "valid_to >= $d", {"d": day})
        finally:
            lake.drop("ingest_versions")
    if not channels:
        return
    table, chosen = TXN.table, _channels_sql(sorted(set(channels)))
    rows = con.execute(
        f"select * from {table} where business_date = ? and {chosen}", [day]
    ).to_arrow_table()
    lake.temp_arrow("ingest_transactions", rows, warehouse.columns(table))
    try:
        lake.replace_partition(table, "select * from ingest_transactions", day, where=chosen)
    finally:
        lake.drop("ingest_transactions")
    con.execute(f"delete from {table} where business_date = ? and {chosen}", [day])
