"""The clv stage on Spark (issue 18): the same nights on DuckDB and on Spark (local[2], the lake
in tmp_path) write the same rows in every table the stage writes, with real lifetimes fits.

Two zones. tests/test_clv_stage.py's simulated BG/NBD events (January to July 2026, a
delivery a day, contribution rows and closed months of contribution per customer): 31 July
aggregates every delivery, fits, validates on the holdout from 30 April (a calibration fit,
stored), scores and backtests in money; then a re-send of 1 March with a late posting and a
new delivery on 1 August: the re-sent delivery is aggregated again and its late day marked
(``settle_first_deliveries``, ``update_from``), the calibration summary changed, so the
stored fit is not reused but refitted on both engines; a re-run of 1 August reuses it on both.
And the harness's recorded night (400 customers, ten nights of the generated zone, too short
for a fit) with its last deliveries aggregated again.

On Spark the customers are scored in three parts (``map_frame``), the fitted parameters
broadcast to each, and so are the calibration customers' holdout predictions, whose metrics
(RMSE, Spearman, top decile, buckets, the money backtest) are SQL over all of them: a statistic
taken per part where the whole bank's is needed (a Gamma-Gamma fitted per part, say) breaks
the equality.

Equal as tests/stage_parity.py says (the same DuckDB types; rows as multisets, exact but for
DOUBLE, relative 1e-9), with three named exceptions, each a clock: ``fit_seconds`` of
``clv_fit_runs`` (how long the fit took), ``aggregated_at`` of ``agg_customer_event_day_dates``
(``now()``, replay's CLOCK_COLUMNS) and ``state_key`` of ``clv_event_state`` (a hash of every
delivery's aggregation time, ``event_state_key``); each is checked present instead.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from pipeline.config import Config, load_config
from pipeline.engine.base import Engine
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.engine.lake import CONTROL_TABLES, data_tables
from pipeline.stages import clv
from pipeline.warehouse import connect
from tests.conftest import run_stage_for
from tests.stage_parity import differences, open_runs, parts, run_on
from tests.test_clv_stage import (
    DAY,
    HALF_CENT_MONTHS,
    HALF_CENT_ROWS,
    HALF_CENT_RUN_RATES,
    _amounts,
    _resend_with_late_posting,
    _txn_rows,
    contribution,
    contribution_months,
    deliver,
    insert_txns,
    simulate,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CLOCKS = {
    "clv_fit_runs": ("fit_seconds",),
    "agg_customer_event_day_dates": ("aggregated_at",),
    "clv_event_state": ("state_key",),
}
"""Columns that hold (or hash) the time the row was computed: not compared, named here."""

TABLES = [t for t in clv.STAGE.writes if t not in CONTROL_TABLES]


def assert_equal(duck: Engine, spark: Engine, tables: list[str] = TABLES) -> None:
    """Every table the same on both engines (types, rows) and not empty; a clock column
    holds values, so that leaving it out is not leaving out a column of NULLs."""
    for table in tables:
        assert duck.read(f"select count(*) as n from {table}").item(), f"{table}: no rows"
        for clock in CLOCKS.get(table, ()):
            for engine in (duck, spark):
                filled = engine.read(f"select count({clock}) as n from {table}").item()
                assert filled, (table, clock, engine.name)
    problems = [d for t in tables if (d := differences(duck, spark, t, CLOCKS.get(t, ())))]
    assert not problems, "\n".join(problems)


@dataclass
class Night:
    con: duckdb.DuckDBPyConnection
    cfg: Config
    engine: Engine


def _config(folder: Path) -> Config:
    return load_config(
        Path("configs/default.yaml"),
        {
            "warehouse": folder / "w.duckdb",
            "export_dir": folder / "exports",
            "landing_dir": folder / "landing",
        },
    )


def _monthly(events: dict[str, list[date]]) -> pl.DataFrame:
    """Closed months of contribution: a customer's month with an event earns an amount with
    cents (no two alike), one without earns nothing; every 7th customer loses money."""
    rows = []
    for i, (cid, days) in enumerate(events.items()):
        for m in range(1, 8):
            month = date(2026, m, 1)
            active = any(d.replace(day=1) == month for d in days)
            cents = f"{(i * 7 + m * 3) % 40 + 1}.{(i * 13 + m) % 100:02d}"
            amount = ("-" if i % 7 == 0 else "") + cents if active else "0"
            rows.append((cid, month, amount))
    return pl.DataFrame(rows, schema=["customer_id", "month_start", "amount"], orient="row")


def _zone(tmp_path: Path, spark: SparkSession) -> tuple[Night, Night, dict[str, list[date]]]:
    """tests/test_clv_stage.py's warehouse (250 customers) to 31 July on DuckDB, and a copy
    whose data tables are in a lake."""
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    events = simulate(250, seed=11)
    duck_cfg = _config(tmp_path / "duckdb")
    (tmp_path / "duckdb").mkdir()
    con = connect(duck_cfg)
    insert_txns(con, [t for t in _txn_rows(events) if t["txn_date"] <= DAY])  # type: ignore[operator]
    deliver(con, date(2026, 1, 1), DAY, datetime(2026, 8, 1, 6, 0))
    contribution(con, DAY, _amounts(events))
    con.register("monthly_rows", _monthly(events).to_arrow())
    con.execute(
        "create table agg_customer_contribution_month as select customer_id, month_start, "
        "amount::decimal(18, 6) as contribution_amount from monthly_rows"
    )
    con.unregister("monthly_rows")
    con.close()
    spark_cfg = _config(tmp_path / "spark")
    (tmp_path / "spark").mkdir()
    shutil.copy(duck_cfg.paths.warehouse, spark_cfg.paths.warehouse)
    duck_con, spark_con = connect(duck_cfg), connect(spark_cfg)
    lake = SparkEngine(spark, tmp_path / "lake")
    load_lake(spark_con, lake, data_tables(spark_con))
    return (
        Night(duck_con, duck_cfg, DuckDBEngine(duck_con)),
        Night(spark_con, spark_cfg, lake),
        events,
    )


def _night(runs: tuple[Night, Night], day: date, spark: SparkSession) -> list[dict[str, object]]:
    """The stage for ``day`` on both engines; on Spark the customers scored in three parts
    (tests/stage_parity.py's ``parts``: the test session's one would score them all at once)."""
    with parts(spark, 3):
        return [run_stage_for(r.con, r.cfg, clv.STAGE, day, r.engine).facts for r in runs]


def _fits(night: Night, day: date) -> list[dict[str, Any]]:
    payload = json.loads((night.cfg.paths.export_dir / "clv" / f"{day:%Y%m%d}.json").read_text())
    return [{k: v for k, v in fit.items() if k != "fit_seconds"} for fit in payload["fits"]]


def _alike(a: object, b: object) -> bool:
    """Equal, but for DOUBLEs within 1e-12 relative: the validation's metrics are SQL sums of
    DOUBLEs, which each engine adds in its own order (the last bits differ)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_alike(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _same(facts: list[dict[str, object]], *names: str) -> None:
    for name in names:
        assert _alike(facts[0][name], facts[1][name]), (name, facts[0][name], facts[1][name])


def test_clv_nights_fit_validate_and_score_the_same_on_spark(
    spark: SparkSession, tmp_path: Path
) -> None:
    duck, lake, events = _zone(tmp_path, spark)
    runs = (duck, lake)

    facts = _night(runs, DAY, spark)
    assert_equal(duck.engine, lake.engine)
    _same(facts, "clv_deliveries_aggregated", "clv_customers", "clv_holdout", "clv_r")
    _same(facts, "clv_calibration_fit_reused", "clv_backtest_mae", "clv_beats_baseline")
    assert facts[1]["clv_deliveries_aggregated"] == (DAY - date(2026, 1, 1)).days + 1
    assert facts[1]["clv_holdout"] == "validated"
    assert facts[1]["clv_calibration_fit_reused"] is False
    assert _alike(_fits(duck, DAY), _fits(lake, DAY))

    # a re-send of 1 March with a late posting on 27 February, and 1 August's delivery
    feb27 = date(2026, 2, 27)
    cid = next(c for c, ds in events.items() if ds[0] < feb27 and feb27 not in ds)
    nxt = DAY + timedelta(days=1)
    for run in runs:
        _resend_with_late_posting(run.con, cid)
        deliver(run.con, nxt, nxt, datetime(2026, 8, 2, 6, 0))
        contribution(run.con, nxt, _amounts(events))
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    assert isinstance(lake.engine, SparkEngine)  # the two changed tables into the lake again
    load_lake(lake.con, lake.engine, ["stg_transactions", "int_customer_contribution"])
    facts = _night(runs, nxt, spark)
    assert_equal(duck.engine, lake.engine)
    _same(facts, "clv_deliveries_aggregated", "clv_calibration_fit_reused", "clv_r")
    assert facts[1]["clv_deliveries_aggregated"] == 2  # 1 March again, and 1 August
    assert facts[1]["clv_calibration_fit_reused"] is False  # the late day changed its inputs
    late = lake.engine.read(
        "select is_first_delivery from agg_customer_event_day "
        "where customer_id = $cid and event_date = $day",
        {"cid": cid, "day": feb27},
    )
    assert late["is_first_delivery"].to_list() == [True]  # settled: its only delivery

    facts = _night(runs, nxt, spark)  # a re-run: the month's stored calibration fit reused
    assert [f["clv_calibration_fit_reused"] for f in facts] == [True, True]
    assert_equal(duck.engine, lake.engine, ["clv_fit_runs", "clv_purchase_fits"])
    assert _alike(_fits(duck, nxt), _fits(lake, nxt))


def test_the_recorded_night_aggregates_and_scores_the_same_on_spark(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    """The harness's last night (ten days of the generated zone, ingested: too short a
    history for a fit, so the customers are scored without model outputs on both), with its
    last seven deliveries' aggregation forgotten on both copies: they are aggregated again
    on each engine, late postings marked, and the event state (which holds 30 and 31
    October) rebuilt."""
    # only the tables the stage reads and writes into the lake (each is a Spark write)
    runs = open_runs(recorded_night, spark, tmp_path, tables=[*clv.STAGE.reads, *TABLES])
    forgotten = {"first": date(2026, 10, 30)}
    for run in runs:
        assert run.engine.delete_where(
            "agg_customer_event_day_dates", "business_date >= $first", forgotten
        )
    with parts(spark, 3):
        facts = [run_on(run, clv.STAGE).facts for run in runs]
    assert [f["clv_deliveries_aggregated"] for f in facts] == [7, 7]
    assert [f["clv_status"] for f in facts] == ["insufficient_history"] * 2
    assert_equal(
        runs[0].engine,
        runs[1].engine,
        [
            "agg_customer_event_day",
            "agg_customer_event_day_dates",
            "clv_event_state",
            "int_customer_rfm",
            "int_customer_event_contribution",
            "int_customer_clv",
        ],
    )


def test_a_half_cent_run_rate_rounds_to_the_same_cent_on_spark(
    tmp_path: Path, spark: SparkSession
) -> None:
    """The hand-worked run rates of tests/test_clv_stage.py on Spark: 1.005 CNY is 1.01 there
    too (a DECIMAL division made it 1.00 on DuckDB and 1.01 on Spark, a cent apart at 1M)."""
    from pipeline.config.clv import ClvConfig
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    lake = SparkEngine(spark, tmp_path / "lake")
    load_lake(contribution_months(HALF_CENT_ROWS), lake, ["agg_customer_contribution_month"])
    month = HALF_CENT_MONTHS[-1]
    clv.expected_contributions(
        lake, month, month, ClvConfig(trend_window_months=0, run_rate_months=3)
    )
    got = lake.read(f"select customer_id, run_rate from {clv.EXPECTED}")
    assert dict(got.rows()) == HALF_CENT_RUN_RATES
