"""Tiers and cross-sell on Spark as on DuckDB (issue 18): the same nights on both engines write
the same rows, row by row, in every table they write (tests/stage_parity.py: the same DuckDB
types, rows as multisets, money exact, DOUBLE within a relative 1e-9).

- The recorded night (400 customers, ten nights), its last night run twice: first with the
  cross-sell model tables and the night's Python-written lists dropped on both copies, so they
  are created again with their declared types (a fresh lake), the "models" stored and every
  customer scored; then again, reading the stored models and the cut-off's stored scores. Its
  history holds no complete cut-off, so every product is a look-alike (no fitted model). Its
  config invites more customers online (:data:`MIGRATION`): under the default none of the
  400 is a channel-migration candidate, and an empty table proves nothing.
- A hand-made zone whose cut-offs have closed label windows: the take-up model is fitted and
  stored (the pickled model the same bytes on both engines), the customers scored in three
  parts on Spark, then a later night of the month reuses it and the stored scores.

The first night's look-alikes are fitted on the driver and score the customers per part, their
ranks taken over every customer by SQL (sql/lists/cross_sell_scores.sql): ranked within each
part instead, Spark's ranks differ from DuckDB's (one part) and the first test fails.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import polars as pl

from pipeline.config import Config
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.stages import tiers
from pipeline.stages.cross_sell import TABLES as MODEL_TABLES
from pipeline.stages.cross_sell import run_cross_sell
from tests.stage_parity import CONTROL_TABLES, Run, differences, open_runs, parts, run_on
from tests.test_cross_sell import input_tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.engine.base import Engine

CALLS = 8
"""The call list's size in these nights: 33 of the 400 customers have a reason to call, about
11 in each of three parts."""

DROPPED = (*MODEL_TABLES, "int_cross_sell", "int_cross_sell_evaluation")
DROPPED += ("int_channel_migration", "int_call_list")
"""Created again by the stage (declared types) on both engines; the hysteresis' own
``int_customer_tiers`` and the scorecard's ``tier_history`` are kept (earlier dates read)."""

MIGRATION = {
    "max_contribution_amount: 200": "max_contribution_amount: 100000",
    "min_counter_txns: 3": "min_counter_txns: 1",
    "online_fee_amount: {}": "online_fee_amount: {TRO: 0.35}",
    "size: 500 ": f"size: {CALLS} ",
}
"""The recorded config's ``tiers.migration`` changed so that customers are invited, one online
fee priced (``ref_online_fees`` then holds a row); a call list shorter than its candidates, so
that the best calls of each part of the customers are cut to the best of all."""

MAYBE_EMPTY = frozenset({"hist_published_contribution_month", "int_rm_value_created"})
"""Compared, but empty on the recorded night: its ten days of history do not cover the RM
scorecard's start year, so the period is not measurable, no closed month is published and no
value created (the first publication is compared with rows in
tests/test_spark_stages_spcontrib.py)."""


def _assert_equal(duck: Engine, lake: Engine, tables: tuple[str, ...]) -> None:
    problems = [d for t in tables if (d := differences(duck, lake, t))]
    assert not problems, "\n".join(problems)
    for table in set(tables) - MAYBE_EMPTY:  # equal because empty proves nothing
        assert duck.read(f"select count(*) as n from {table}")["n"][0], f"{table}: no rows"


def test_tiers_nights_on_spark_give_duckdbs_rows(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    text = (recorded_night / "warehouse" / "young.yaml").read_text(encoding="utf-8")
    for old, new in MIGRATION.items():
        assert old in text
        text = text.replace(old, new)
    config = tmp_path / "tiers.yaml"
    config.write_text(text, encoding="utf-8")
    runs: tuple[Run, Run] = open_runs(recorded_night, spark, tmp_path, config)
    for run in runs:
        for table in DROPPED:
            run.engine.drop(table)
    tables = tuple(t for t in tiers.STAGE.writes if t not in CONTROL_TABLES)
    with parts(spark, 3):  # the per-customer models on three parts of the customers
        first = [run_on(run, tiers.STAGE) for run in runs]
    _assert_equal(runs[0].engine, runs[1].engine, tables)
    for ctx in first:  # models stored, every customer scored
        assert ctx.facts["cross_sell_fitted"] and not ctx.facts["cross_sell_scores_cached"]
    second = [run_on(run, tiers.STAGE) for run in runs]
    _assert_equal(runs[0].engine, runs[1].engine, tables)
    for ctx in second:  # the stored models and the cut-off's stored scores read
        assert "cross_sell_fitted" not in ctx.facts and ctx.facts["cross_sell_scores_cached"]
    counts = ("tiers", "upgrades", "downgrades", "potential", "calls", "migration_candidates")
    assert [first[0].facts[k] for k in counts] == [first[1].facts[k] for k in counts]
    assert first[0].facts["calls"] == CALLS


# ---- the take-up model fitted and stored --------------------------------------------------

MONTHS = [date(2026, m, 1) for m in (4, 5, 6, 7)]
NIGHTS = (date(2026, 8, 5), date(2026, 8, 6))
"""Cut-offs 30 April to 31 July (one-month windows); the first three have closed one-month
label windows by 5 August: the model of that version is fitted on the first night and read
on the second (the same cut-off, deliveries and version)."""


def _zone() -> duckdb.DuckDBPyConnection:
    """240 customers; a quarter take up WMP (in May, June or July) and spend more at the till
    in the months before."""
    con = input_tables()
    con.execute(
        "create table file_ledger (business_date date, outcome varchar, received_at timestamp)"
    )
    con.execute("insert into file_ledger values ('2026-07-31', 'loaded', '2026-08-01 02:00')")
    rng = np.random.default_rng(7)
    for i in range(240):
        cid, taker = f"X{i:03d}", i % 4 == 0
        con.execute(
            "insert into hist_customers values (?, ?, 'EMP', 'BA', date '2020-01-01', 'A', "
            "date '2025-01-01', date '9999-12-31')",
            [cid, date(1950 + i % 50, 5, 1)],
        )
        con.execute(
            "insert into hist_accounts values (?, ?, 'DDA', date '2020-01-01', null, 'A', "
            "date '2025-01-01', date '9999-12-31')",
            [f"{cid}-DDA", cid],
        )
        if taker:
            opened = date(2026, 5 + i % 3, 10)
            con.execute(
                "insert into hist_accounts values (?, ?, 'WMP', ?, null, 'A', ?, "
                "date '9999-12-31')",
                [f"{cid}-WMP", cid, opened, opened],
            )
        for month in MONTHS:
            last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            n = int(rng.poisson(12 if taker else 4))
            con.execute(
                "insert into agg_customer_txn_month values (?, ?, ?, 'POS', 'POS', ?, ?)",
                [cid, month, last, n, n * 100 + i],
            )
            con.execute(
                "insert into agg_account_balance_month values (?, ?, 'DDA', ?, ?, ?)",
                [f"{cid}-DDA", cid, month, last, 1000 * (i % 17)],
            )
    return con


def test_a_takeup_model_fitted_stored_and_reused_on_spark(
    spark: SparkSession, cfg: Config, tmp_path: Path
) -> None:
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    xs = cfg.lists.cross_sell.model_copy(
        update={
            "products": ["WMP"],
            "min_takers": 5,
            "max_iter": 10,
            "window_months": 1,
            "horizon_months": 1,
        }
    )
    small = cfg.model_copy(update={"lists": cfg.lists.model_copy(update={"cross_sell": xs})})
    duck_con, spark_con = _zone(), _zone()
    duck, lake = DuckDBEngine(duck_con), SparkEngine(spark, tmp_path / "lake")
    load_lake(spark_con, lake, ["hist_customers", "hist_accounts"])
    load_lake(spark_con, lake, ["agg_customer_txn_month", "agg_account_balance_month"])
    for night, day in enumerate(NIGHTS):
        with parts(spark, 3):  # the customers scored in three parts on Spark
            done = [
                run_cross_sell(con, small, day, e)
                for con, e in ((duck_con, duck), (spark_con, lake))
            ]
        _assert_equal(duck, lake, tuple(MODEL_TABLES))  # int_cross_sell too: the ranking
        for out in done:
            assert out.facts.get("cross_sell_fitted", False) is (night == 0)
            assert out.facts["cross_sell_scores_cached"] is (night == 1)
        a, b = (out.evaluation.sort(pl.all()) for out in done)
        assert a.equals(b), (a, b)
    (model,) = duck.read("select score_kind, model, train_takers from cross_sell_models").rows()
    assert model[0] == "takeup" and model[1] and model[2] >= 5  # a fitted model, compared
    ranked = duck.read("select propensity_score from int_cross_sell")
    assert ranked.height and ranked["propensity_score"].is_not_null().all()
