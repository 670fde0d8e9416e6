"""The features stage on Spark (issue 18): the same nights run on DuckDB and on Spark (local[2],
a lake in tmp_path) give the same tables, row by row and type by type, and the same refresh
decisions; the month to date is a scratch table of the run on Spark too, never stored.

The warehouse is tests/test_contribution.py's hand-made one (three customers, a year of
balances). Two nights: a month's end (every month computed, the closing month stored closed)
and a night inside the next month after a late delivery for the closed month (that month
recomputed, its window's closed part rewritten, the month to date in ``<table>_current``)."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline.config import Config
from pipeline.engine.base import Engine
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.stages.base import StageContext, run_stage
from pipeline.stages.features import AGGREGATES
from pipeline.stages.features import STAGE as FEATURES
from pipeline.warehouse import RunLedger
from tests.test_contribution import add_txn, build_scenario

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MONTH_END, MID = date(2026, 10, 31), date(2026, 11, 20)
LATE = date(2026, 10, 29)
"""A date of the closed October whose transactions are delivered again after its refresh."""


def _night(con: duckdb.DuckDBPyConnection, cfg: Config, engine: Engine, day: date) -> None:
    ledger = RunLedger(con, "test")
    ctx = StageContext(con, cfg, day, ledger, logging.getLogger("test"), engine=engine)
    run_stage(ctx, FEATURES)


def _late_delivery(con: duckdb.DuckDBPyConnection) -> None:
    add_txn(con, "C1", "A1", "POS", "POS", "80.00", LATE)
    con.execute(
        "insert into file_ledger (file_name, feed, business_date, outcome, received_at) "
        "values ('TXN_20261029_2.dat', 'TXN', ?, 'replaced', ?)",
        [LATE, datetime.now()],
    )


def _rows(engine: Engine, table: str) -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    columns = engine.columns(table)
    rows = engine.read(f"select * from {table}").rows()
    doubles = {i for i, (_, kind) in enumerate(columns) if kind == "DOUBLE"}
    # DOUBLE left out of the order: rows are compared as multisets
    return columns, sorted(
        rows, key=lambda r: tuple("" if i in doubles else repr(v) for i, v in enumerate(r))
    )


def _assert_equal(duck: Engine, lake: Engine, table: str) -> None:
    (want_cols, want), (got_cols, got) = _rows(duck, table), _rows(lake, table)
    assert got_cols == want_cols, table
    assert len(got) == len(want), (table, len(got), len(want))
    for a, b in zip(want, got, strict=True):
        for (name, kind), x, y in zip(want_cols, a, b, strict=True):
            if kind == "DOUBLE" and x is not None and y is not None:
                assert math.isclose(x, y, rel_tol=1e-9), (table, name, a, b)
            else:  # money and everything else exact
                assert x == y, (table, name, a, b)


def _refreshes(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        "select table_name, month_start, as_of_date, config_hash, count(*) "
        "from agg_refresh_log group by all order by all"
    ).fetchall()


def test_features_nights_give_duckdbs_tables_on_spark(
    cfg: Config, spark: SparkSession, tmp_path: Path
) -> None:
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    assert "spark" in FEATURES.engines
    on_duck, on_spark = duckdb.connect(":memory:"), duckdb.connect(":memory:")
    for con in (on_duck, on_spark):
        build_scenario(con)
    duck = DuckDBEngine(on_duck)
    lake = SparkEngine(spark, tmp_path / "lake")
    load_lake(on_spark, lake)
    tables = [t for t in FEATURES.writes if t != "agg_refresh_log"]

    for con, engine in ((on_duck, duck), (on_spark, lake)):
        _night(con, cfg, engine, MONTH_END)
    for table in tables:
        _assert_equal(duck, lake, table)

    _late_delivery(on_duck)
    _late_delivery(on_spark)
    load_lake(on_spark, lake, ["stg_transactions"])
    for con, engine in ((on_duck, duck), (on_spark, lake)):
        _night(con, cfg, engine, MID)
    for table in tables:
        _assert_equal(duck, lake, table)
    # the same months recomputed, as of the same dates, under the same configs
    assert _refreshes(on_spark) == _refreshes(on_duck)
    october = [r for r in _refreshes(on_spark) if r[0] == "agg_customer_txn_month"]
    assert (("agg_customer_txn_month", date(2026, 10, 1), MONTH_END), 2) in [
        (r[:3], r[4]) for r in october
    ], october  # the late delivery recomputed the closed October
    customers = lake.read(
        "select count(*) as n from int_customer_features where business_date = $d", {"d": MID}
    )
    assert customers["n"].to_list() == [3]
    # the month to date: in the run's scratch tables on Spark, never in the lake
    for table in AGGREGATES:
        stored = lake.read(
            f"select count(*) as n from {table} where as_of_date <> last_day(month_start)"
        )
        assert stored["n"].to_list() == [0], table
        _assert_equal(duck, lake, f"{table}_current")
        held = lake.read(f"select distinct as_of_date from {table}_current")
        assert held["as_of_date"].to_list() in ([MID], []), table
    txn_now = lake.read("select count(*) as n from agg_customer_txn_month_current")
    assert txn_now["n"].to_list()[0] > 0


def test_features_on_the_recorded_night_gives_duckdbs_tables_on_spark(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    """The 400-customer night (tests/stage_parity.py): the month to date recomputed, every
    table features stores compared (agg_refresh_log stays in the warehouse file)."""
    from tests.stage_parity import CONTROL_TABLES, assert_stage_equal

    stored = tuple(t for t in FEATURES.writes if t not in CONTROL_TABLES)
    duck, lake = assert_stage_equal(
        recorded_night, replace(FEATURES, writes=stored), spark, tmp_path
    )
    assert duck.facts["customers"] == lake.facts["customers"] == 400
    for table in AGGREGATES:
        _assert_equal(duck.engine, lake.engine, f"{table}_current")
