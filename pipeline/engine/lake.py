"""Put a DuckDB warehouse's tables into the lake: a warehouse moved to Spark, whose nights then
run there (docs/scale.md, "Base tables: cvp lake load")."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from pipeline.dates import first_of_month
from pipeline.engine.spark_engine import SparkEngine
from pipeline.warehouse import table_exists

BASE_TABLES = ("hist_branches", "hist_customers", "hist_accounts", "stg_transactions")
"""What ingest writes and the later stages read: the history tables whole, the transactions
partitioned by business date."""
CONTROL_TABLES = frozenset(
    {
        "run_ledger",
        "file_ledger",
        "agg_refresh_log",
        "quarantine",
        "ingest_txn_id_ranges",
        "unknown_customer_rows",
        "accepted_files",
    }
)
"""What stays in the DuckDB warehouse file whatever the engine (docs/scale.md, "Storage
contract on Spark"): never put into the lake. Ingest's per-line verdicts and the operator's
accepted files are written beside its file ledger (docs/scale.md, "Ingest on Spark")."""


def data_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The warehouse's stored tables but the control tables: what a lake holds."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'main' and table_type = 'BASE TABLE' order by 1"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in CONTROL_TABLES]


def load_lake(
    con: duckdb.DuckDBPyConnection, engine: SparkEngine, tables: Iterable[str] = BASE_TABLES
) -> dict[str, int]:
    """Copy ``tables`` from the warehouse into the lake with their DuckDB types; return the
    rows of each. A table with a ``business_date`` column is written one month at a time (each
    of its dates a partition, replaced); the others whole."""
    done: dict[str, int] = {}
    for table in tables:
        if not table_exists(con, table):
            raise ValueError(f"{table}: no such table in the warehouse")
        columns = [(r[0], r[1]) for r in con.execute(f"describe {table}").fetchall()]
        if "business_date" not in {n for n, _ in columns}:
            arrow = con.execute(f"select * from {table}").to_arrow_table()
            done[table] = engine.store_arrow(table, arrow, columns, None)
            continue
        months = [
            r[0]
            for r in con.execute(
                f"select distinct date_trunc('month', business_date)::date from {table} order by 1"
            ).fetchall()
        ]
        if not months:  # no rows yet: the table, empty, with its types
            arrow = con.execute(f"select * from {table} limit 0").to_arrow_table()
            done[table] = engine.store_arrow(table, arrow, columns, "business_date")
            continue
        rows = 0
        for month in months:
            arrow = con.execute(
                f"select * from {table} where business_date >= ? and business_date < ?",
                [month, first_of_month(month, 1)],
            ).to_arrow_table()
            rows += engine.store_arrow(table, arrow, columns, "business_date")
        done[table] = rows
    return done
