"""Contribution and value on Spark as on DuckDB (issue 18): each stage run for the recorded
night's last date on both engines from the same warehouse state, every table it writes equal
row by row (tests/stage_parity.py: the same DuckDB types, rows as multisets, money exact);
value's per-customer rules on Spark in three parts of the customers.

The recorded warehouse already holds the stored parts and closed months the last night needs,
so a plain re-run would compute only the month to date: each test first forgets, on both
copies, the refresh log (``agg_refresh_log``) of the tables the stage keeps by month, so that
every one is recomputed on each engine and compared, not copied from the recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.dates import first_of_month
from pipeline.stages import contribution, value
from pipeline.stages.rm_value import PUBLISHED, publish_closed_months
from tests.conftest import RECORDED_LAST
from tests.stage_parity import CONTROL_TABLES, Run, differences, open_runs, parts, run_on

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _forget_refreshes(runs: tuple[Run, Run], tables: list[str]) -> None:
    for run in runs:
        run.con.execute("delete from agg_refresh_log where table_name in ?", [tables])


def _assert_equal(runs: tuple[Run, Run], tables: tuple[str, ...]) -> None:
    tables = tuple(t for t in tables if t not in CONTROL_TABLES)
    problems = [d for t in tables if (d := differences(runs[0].engine, runs[1].engine, t))]
    assert not problems, "\n".join(problems)
    for table in tables:  # equal because empty proves nothing
        n = runs[0].engine.read(f"select count(*) as n from {table}")["n"][0]
        assert n, f"{table}: no rows to compare"


def test_contribution_on_spark_gives_duckdbs_rows(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    runs = open_runs(recorded_night, spark, tmp_path)
    _forget_refreshes(runs, ["agg_customer_contribution_parts", "agg_source_contribution_month"])
    duck, lake = (run_on(run, contribution.STAGE) for run in runs)
    _assert_equal(runs, contribution.STAGE.writes)
    for ctx in (duck, lake):  # the window's closed part and the source's months recomputed
        assert ctx.facts["agg_customer_contribution_parts_closed_rows"]
        assert ctx.facts["agg_source_contribution_month_months_refreshed"]
    assert duck.facts["contribution_total"] == lake.facts["contribution_total"]


def test_value_and_the_first_publication_on_spark_give_duckdbs_rows(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    runs = open_runs(recorded_night, spark, tmp_path)
    _forget_refreshes(runs, ["agg_customer_contribution_month"])
    for run in runs:  # the clusters fitted on an md5 sample of about 100 of the 400 customers
        run.cfg = run.cfg.model_copy(
            update={"value": run.cfg.value.model_copy(update={"cluster_fit_sample": 100})}
        )
    duck = run_on(runs[0], value.STAGE)
    with parts(spark, 3):  # the per-customer rules on three parts of the customers
        lake = run_on(runs[1], value.STAGE)
    contexts = [duck, lake]
    _assert_equal(runs, value.STAGE.writes)
    for ctx in contexts:  # every month of the golden band recomputed on each engine
        assert ctx.facts["golden_months_computed"] == ctx.cfg.value.golden.band_months
    # rm_value (run by tiers): the closed months' first publication, from the months above
    october = first_of_month(RECORDED_LAST, -1)
    for run in runs:
        run.engine.drop(PUBLISHED)
        assert publish_closed_months(run.engine, [october], "hash", RECORDED_LAST) == 1
    _assert_equal(runs, (PUBLISHED,))
