"""Shared fixtures: a configuration pointing into tmp_path, and a full day's hand-made delivery."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from pipeline.config import Config, load_config
from pipeline.stages.base import Stage, StageContext, run_stage
from pipeline.warehouse import RunLedger
from tests.landing import acct_line, cust_line, txn_line, write_feed

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.engine.base import Engine

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 27)


def run_stage_for(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    stage: Stage,
    day: date = DAY,
    engine: Engine | None = None,
) -> StageContext:
    """Run ``stage`` alone for ``day`` as the runner does (ledger row, transaction), on
    ``engine`` (DuckDB on ``con`` by default); return its context, whose ``facts`` hold what
    the stage reported."""
    ctx = StageContext(
        con=con,
        cfg=cfg,
        business_date=day,
        ledger=RunLedger(con, "test"),
        log=logging.getLogger("test"),
        engine=engine,  # type: ignore[arg-type]  # None: DuckDB on con
    )
    run_stage(ctx, stage)
    return ctx


YOUNG_HISTORY = "min_days: {merchants: 1, tiers: 1, export: 1}"
"""history.min_days for a test zone of a few days: merchants, tiers and export otherwise refuse
a warehouse younger than their windows (a year)."""


def young_config(folder: Path, source: Path = REPO / "configs" / "default.yaml") -> Path:
    """``source`` with :data:`YOUNG_HISTORY`, written to ``folder/young.yaml``."""
    text = source.read_text(encoding="utf-8")
    assert "min_days: {}" in text
    path = folder / "young.yaml"
    path.write_text(text.replace("min_days: {}", YOUNG_HISTORY, 1), encoding="utf-8")
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """The default configuration with every path inside tmp_path."""
    return load_config(
        REPO / "configs" / "default.yaml",
        {
            "landing_dir": tmp_path / "landing",
            "warehouse": tmp_path / "cvp.duckdb",
            "export_dir": tmp_path / "exports",
        },
        environ={},
    )


def deliver_day(
    landing: Path,
    day: date = DAY,
    *,
    txn: dict[str, list[str]] | None = None,
    customers: list[str] | None = None,
    accounts: list[str] | None = None,
) -> None:
    """Write a complete delivery for ``day``: CUST, ACCT and all five TXN channels."""
    stamp = day.strftime("%Y%m%d")
    write_feed(
        landing,
        day,
        f"CUST_{stamp}.dat",
        customers if customers is not None else [cust_line("C1"), cust_line("C2", "王東")],
        feed="CUST",
    )
    write_feed(
        landing,
        day,
        f"ACCT_{stamp}.dat",
        accounts
        if accounts is not None
        else [acct_line("A1", "C1", "1000.50"), acct_line("A2", "C2", "20.00")],
        feed="ACCT",
    )
    txn = txn or {}
    for channel in ("CTR", "ATM", "TEL", "NET", "POS"):
        lines = txn.get(channel, [])
        write_feed(landing, day, f"TXN_{channel}_{stamp}.dat", lines, feed="TXN")


@pytest.fixture
def deliver() -> Callable[..., None]:
    return deliver_day


__all__ = ["DAY", "REPO", "YOUNG_HISTORY", "deliver_day", "txn_line", "young_config"]


def spark_unavailable() -> str | None:
    """Why the Spark tests cannot run here (``None`` when they can): Java 17 and pyspark are
    needed (`make setup` installs pyspark; `.ci/run` installs Java)."""
    import importlib.util
    import shutil

    if shutil.which("java") is None:
        return "no java on PATH (install openjdk-17-jre-headless)"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (make setup)"
    return None


SPARK_SKIPPED = "Spark tests skipped: "


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local[2] Spark session for the whole test run, with cvp's session settings."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(SPARK_SKIPPED + reason)
    import warnings

    from pipeline.engine.spark import local_session

    with warnings.catch_warnings():
        # pyspark 4.3 warns that it does not yet fully support pandas 3 (we use no pandas API)
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
        session = local_session(2)
    yield session
    session.stop()


RECORDED_FIRST, RECORDED_LAST = date(2026, 10, 27), date(2026, 11, 5)
"""The nights of :func:`recorded_night`."""


@pytest.fixture(scope="session")
def recorded_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated zone (400 customers, ten nights across a month's end, so that the month's
    closing aggregates and the clv state have rows) run on DuckDB with the SQL recorder on
    (pipeline/engine/record.py), in a process of its own (the CLI sets up logging and
    environment). Its ``cases/`` hold every SQL file's run; ``warehouse/cvp.duckdb`` the
    warehouse after the last night (``warehouse/young.yaml`` its config)."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(SPARK_SKIPPED + reason)
    import subprocess
    import sys

    from pipeline.generate import generate_landing_zone

    out = tmp_path_factory.mktemp("spark-record")
    generate_landing_zone(out / "landing", 400, RECORDED_FIRST, 10, seed=3)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.engine.record", "--out", str(out),
         "--landing", str(out / "landing"),
         "--first", str(RECORDED_FIRST), "--last", str(RECORDED_LAST)],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly when the Spark tests were skipped: a silent skip would hide that the SQL was
    never checked on Spark."""
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if SPARK_SKIPPED in str(r.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} SPARK TESTS SKIPPED: {spark_unavailable()}: the SQL was not "
            "checked on Spark",
            red=True,
            bold=True,
        )
