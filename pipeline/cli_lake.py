"""``cvp lake``: the Spark engine's lake (docs/scale.md, "The engine layer")."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli_options import (
    ConfigOpt,
    DebugOpt,
    LogFormatOpt,
    WarehouseOpt,
    handle_errors,
    load,
)

lake_app = typer.Typer(
    help="The Spark engine's lake: tables as Parquet.\n\nExample: cvp lake load",
    add_completion=True,
)


@lake_app.command("load")
@handle_errors
def load_command(
    tables: Annotated[
        str | None,
        typer.Option(
            "--tables",
            help="Comma-separated tables, or 'all': every data table (default: the base tables).",
        ),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
    log_format: LogFormatOpt = "auto",
) -> None:
    """Copy the warehouse's base tables (hist_*, stg_transactions), or every data table
    (``--tables all``: a DuckDB warehouse moved to Spark), into the lake.

    The stages then read them on Spark (engine.spark.lake). Each table keeps its DuckDB column
    types; a table with business_date is partitioned by it. The ledgers and control tables
    stay in the warehouse file. Re-running replaces what it copied.

    Example: cvp lake load --tables all
    """
    from pipeline.engine.lake import BASE_TABLES, data_tables, load_lake
    from pipeline.engine.spark_engine import SparkEngine
    from pipeline.engine.spark_session import session_from_config
    from pipeline.warehouse import connect, hold_warehouse

    cfg = load(config, warehouse=warehouse)
    with hold_warehouse(cfg, "cvp lake load"):
        con = connect(cfg, read_only=True, create=False)
        try:
            names = list(BASE_TABLES)
            if tables == "all":
                names = data_tables(con)
            elif tables:
                names = [t.strip() for t in tables.split(",") if t.strip()]
            spark = cfg.engine.spark
            done = load_lake(con, SparkEngine(session_from_config(spark), spark.lake), names)
        finally:
            con.close()
    for table, rows in done.items():
        typer.echo(f"{table}: {rows} rows -> {cfg.engine.spark.lake / table}")
