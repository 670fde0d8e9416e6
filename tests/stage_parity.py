"""One stage on both engines from the same warehouse state, every table it writes compared.

The state is :func:`tests.conftest.recorded_night`'s warehouse (400 customers, ten nights, all
run on DuckDB). For each engine a copy of it is opened; for Spark, every data table of the copy
is put into a lake first (:func:`pipeline.engine.lake.load_lake`), so the stage reads on Spark
exactly what it reads on DuckDB. The stage then runs for the last night on each (a re-run, as
``--force`` does), and every table in ``stage.writes`` must hold the same rows on both: the
same columns with the same DuckDB types, rows equal as multisets, money exact, DOUBLE within
:data:`pipeline.engine.replay.DOUBLE_RTOL` (summation order differs between engines).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from pipeline.config import Config, load_config
from pipeline.engine.base import Engine
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.engine.lake import CONTROL_TABLES, data_tables
from pipeline.engine.replay import compare
from pipeline.stages.base import Stage, StageContext, run_stage
from pipeline.warehouse import RunLedger
from tests.conftest import RECORDED_LAST

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.engine.spark_engine import SparkEngine


@dataclass
class Run:
    """A stage's run on one engine: its warehouse connection, config and engine."""

    con: duckdb.DuckDBPyConnection
    cfg: Config
    engine: Engine


def open_runs(
    recorded: Path,
    spark: SparkSession,
    folder: Path,
    config: Path | None = None,
    tables: Iterable[str] | None = None,
) -> tuple[Run, Run]:
    """The recorded warehouse copied twice under ``folder``: one run on DuckDB, one on Spark
    (its data tables in ``folder/lake``, or only those of ``tables`` it holds: each costs a
    Spark write). ``config`` defaults to the recording's."""
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine

    source = recorded / "warehouse" / "cvp.duckdb"
    runs = []
    for name in ("duckdb", "spark"):
        home = folder / name
        home.mkdir(parents=True)
        shutil.copy(source, home / "cvp.duckdb")
        cfg = load_config(
            config or recorded / "warehouse" / "young.yaml",
            {
                "landing_dir": recorded / "landing",
                "warehouse": home / "cvp.duckdb",
                "export_dir": home / "exports",
            },
            environ={},
        )
        con = duckdb.connect(str(home / "cvp.duckdb"))
        engine: Engine
        if name == "duckdb":
            engine = DuckDBEngine(con)
        else:
            lake: SparkEngine = SparkEngine(spark, folder / "lake")
            stored = data_tables(con)
            load_lake(con, lake, [t for t in stored if tables is None or t in set(tables)])
            engine = lake
        runs.append(Run(con, cfg, engine))
    return runs[0], runs[1]


@contextmanager
def parts(spark: SparkSession, count: int) -> Iterator[None]:
    """Spark's shuffles (and so :meth:`~pipeline.engine.base.Engine.map_frame`'s parts of the
    customers) in ``count`` partitions for a while: the test session's one partition would
    hand a per-part function every customer at once, as DuckDB does."""
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(count))
    try:
        yield
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


def run_on(run: Run, stage: Stage, day: date = RECORDED_LAST) -> StageContext:
    """``stage`` for ``day`` on the run's engine, as the runner runs it (ledger row,
    transaction on the warehouse file)."""
    ctx = StageContext(
        con=run.con,
        cfg=run.cfg,
        business_date=day,
        ledger=RunLedger(run.con, "parity"),
        log=logging.getLogger("parity"),
        engine=run.engine,
    )
    run_stage(ctx, stage)
    return ctx


def differences(
    duck: Engine, spark: Engine, table: str, clocks: tuple[str, ...] = ()
) -> str | None:
    """``None`` when ``table`` holds the same rows with the same types on both engines, else
    what differs first. ``clocks``: columns that hold when something ran, not compared."""
    columns = duck.columns(table)
    if spark.columns(table) != columns:
        return f"{table}: columns {columns} on DuckDB, {spark.columns(table)} on Spark"
    names = [n for n, _ in columns]
    doubles = {i for i, (_, t) in enumerate(columns) if t in ("DOUBLE", "FLOAT")}
    rows: list[list[tuple[Any, ...]]] = []
    for engine in (duck, spark):
        frame = engine.read(f"select * from {table}")
        frame = frame.with_columns(pl.lit(None).alias(c) for c in clocks)
        rows.append([tuple(r) for r in frame.iter_rows()])
    diff = compare(names, rows[0], rows[1], doubles)
    return f"{table}: {diff}" if diff else None


def assert_stage_equal(
    recorded: Path,
    stage: Stage,
    spark: SparkSession,
    folder: Path,
    day: date = RECORDED_LAST,
    config: Path | None = None,
) -> tuple[StageContext, StageContext]:
    """Run ``stage`` for ``day`` on both engines from the recorded state and assert every
    table it writes equal; return both contexts (DuckDB's first) for further checks."""
    duck, lake = open_runs(recorded, spark, folder, config)
    done = run_on(duck, stage, day), run_on(lake, stage, day)
    stored = [t for t in stage.writes if t not in CONTROL_TABLES]  # the ledgers: DuckDB's
    problems = [d for t in stored if (d := differences(duck.engine, lake.engine, t))]
    assert not problems, "\n".join(problems)
    return done
