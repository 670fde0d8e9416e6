"""Put a DuckDB warehouse's tables into the lake: a warehouse moved to Spark, whose nights then
run there (docs/scale.md, "Base tables: cvp lake load")."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import duckdb

from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.engine.spark_engine import SparkEngine
from pipeline.engine.spark_types import WIDENED
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
    """Copy ``tables`` from the warehouse into the lake with their DuckDB types, each replacing
    what the lake held of it; return the rows of each. DuckDB writes the Parquet files itself
    (a table with a ``business_date`` column in a folder per date, Hive-style; the others in
    one file), the types Spark cannot read widened (:data:`WIDENED`), and the engine takes
    them with their schema: no row passes through Python or the JVM (docs/scale.md, "Base
    tables: cvp lake load")."""
    done: dict[str, int] = {}
    for table in tables:
        if not table_exists(con, table):
            raise ValueError(f"{table}: no such table in the warehouse")
        columns = DuckDBEngine(con).columns(table)
        key = "business_date" if "business_date" in {n for n, _ in columns} else None
        select = ", ".join(
            f'cast("{n}" as {WIDENED[t]}) as "{n}"' if t in WIDENED else f'"{n}"'
            for n, t in columns
        )
        folder = engine.lake / table
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        target, options = folder / "part-0.parquet", "format parquet"
        if key is not None:
            target, options = folder, f"format parquet, partition_by ({key})"
        where = str(target).replace("'", "''")
        row = con.execute(f"copy (select {select} from \"{table}\") to '{where}' ({options})")
        engine.adopt_parquet(table, columns, key)
        done[table] = int((row.fetchone() or (0,))[0])  # COPY tells how many rows it wrote
    return done
