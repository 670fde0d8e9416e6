"""The merchants stage on Spark (issue 18): the same nights on DuckDB and on Spark (local[2],
the lake in tmp_path) write the same rows, row by row, in every table the stage writes.

The zone is tests/test_merchant_block.py's (seeded trade of six merchants over March to
mid-June 2026, a counterparty under two names, late postings, a 92-day window): 31 May builds
the stored block of closed months (March-April), 1 June rebuilds it (April-May), 10 June reads
it and only the days since. Each night also refreshes the monthly inflow screen
(``agg_merchant_inflow_month``, months replaced by range). ``agg_refresh_log`` stays in the
DuckDB warehouse file whatever the engine (docs/scale.md, "Storage contract"), so each engine
has a warehouse of its own.

Equal as tests/stage_parity.py says: the same column names and DuckDB types; rows as
multisets, exact but for DOUBLE columns (relative 1e-9: the engines add in different orders).
The harness's recorded night is checked too (a re-run of its last night).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.stages import merchants
from tests.conftest import run_stage_for
from tests.stage_parity import CONTROL_TABLES, assert_stage_equal, differences
from tests.test_merchant_block import config, loaded, zone

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NIGHTS = (date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 10))
"""The block built, rebuilt as a month closes, then read."""


def test_merchant_nights_write_the_same_rows_on_spark(spark: SparkSession, tmp_path: Path) -> None:
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    rows, cfg = zone(), config()
    duck_con, spark_con = loaded(rows), loaded(rows)
    duck, lake = DuckDBEngine(duck_con), SparkEngine(spark, tmp_path / "lake")
    load_lake(spark_con, lake)
    facts: dict[str, list[dict[str, object]]] = {"duckdb": [], "spark": []}
    for day in NIGHTS:
        for con, engine in ((duck_con, duck), (spark_con, lake)):
            ctx = run_stage_for(con, cfg, merchants.STAGE, day, engine)
            facts[engine.name].append(ctx.facts)
    assert facts["duckdb"] == facts["spark"]
    assert [f["merchant_block_built"] for f in facts["spark"]] == [True, True, False]
    assert facts["spark"][-1]["merchant_block_covered"] == 6
    tables = [t for t in merchants.STAGE.writes if t not in CONTROL_TABLES]
    problems = [d for t in tables if (d := differences(duck, lake, t))]
    assert not problems, "\n".join(problems)
    # every table has rows to compare: equality is not of two empty tables
    for table in tables:
        assert duck.read(f"select count(*) as n from {table}").item() > 0, table


def test_merchants_rerun_on_the_recorded_night_is_equal_on_spark(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    """The harness's night (400 customers, ten nights): the stored block and screen read
    back from the lake, the night's tables replaced."""
    duck, _ = assert_stage_equal(recorded_night, merchants.STAGE, spark, tmp_path)
    assert duck.facts["merchant_candidates"]
