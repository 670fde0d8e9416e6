"""The two-engine stage harness (tests/stage_parity.py) sees what it must: a stage made only of
engine operations gives the same table on both engines, and a one-cent difference on one engine
fails the comparison. The stages' own two-engine tests rely on both."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from pipeline.stages.base import Stage, StageContext
from tests.stage_parity import assert_stage_equal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _branch_summary(ctx: StageContext) -> int:
    """A real SQL file (the branch network view) and a frame, through the engine alone."""
    rows = ctx.engine.run_file("lists/int_branch_summary", {"business_date": ctx.business_date})
    money = pl.DataFrame({"customer_id": ["C1"], "amount": [Decimal("10.01")]})
    if ctx.engine.name == "spark" and ctx.facts.get("off_by_a_cent"):
        money = money.with_columns(amount=pl.lit(Decimal("10.02")))
    ctx.engine.write_partition("tmp_parity_money", money, ctx.business_date)
    return rows


BRANCHES = Stage(
    name="branch_summary",
    run=_branch_summary,
    writes=("int_branch_summary", "tmp_parity_money"),
    engines=("duckdb", "spark"),
)


def test_a_stage_of_engine_operations_is_equal_on_both_engines(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    duck, _ = assert_stage_equal(recorded_night, BRANCHES, spark, tmp_path)
    # the branch view has rows for the night, so equality is not of two empty tables
    assert duck.engine.read("select count(*) as n from int_branch_summary").item() > 10


def _off_by_a_cent(ctx: StageContext) -> int:
    ctx.facts["off_by_a_cent"] = True
    return _branch_summary(ctx)


def test_a_cent_of_difference_fails_the_comparison(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    off = Stage(name="branch_summary", run=_off_by_a_cent, writes=BRANCHES.writes)
    with pytest.raises(AssertionError) as failed:
        assert_stage_equal(recorded_night, off, spark, tmp_path)
    assert "tmp_parity_money" in str(failed.value) and "10.02" in str(failed.value)
    assert "int_branch_summary" not in str(failed.value)
