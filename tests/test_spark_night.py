"""A whole night on both engines (issue 18's proof): a zone's night run by ``cvp run --date`` on
DuckDB, and on Spark from the same state (the warehouse as the night found it), ingest to
export, each stage reading what the one before wrote. Every export file must have the same
bytes, every data table the same rows and types (tests/stage_parity.py's comparison), and
ingest's verdicts in each side's warehouse file (file ledger, quarantine) the same rows.

On the Spark side the warehouse as the night found it is first moved into the lake as a bank
would move it (``cvp lake load --tables all``); then ``cvp run --date`` with the engine
``spark`` runs the whole night. Two zones:

- the recorded zone's last night (400 customers, ten nights across a month's end: the night
  after the first deliveries' month closed);
- the ``make demo`` zone's last night (3,000 customers, 425 days: a year of history, the
  golden customers' and tiers' previous months, two month-end nights run before it), as the
  issue's Done-when asks.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from pipeline.cli import app
from pipeline.demo import END, month_ends
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.engine.lake import data_tables
from pipeline.engine.record import BEFORE_LAST
from pipeline.export import sha256_file, verify_export
from pipeline.stages import STAGES
from tests.conftest import RECORDED_LAST, REPO
from tests.stage_parity import differences

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CLOCKS = {
    "agg_customer_event_day_dates": ("source_received_at", "aggregated_at"),
    "clv_fit_runs": ("fit_seconds",),
}
"""The named exceptions: when the date's deliveries were received and aggregated, the times of
each night's own run (its ingest's file ledger, its clv stage), and how long the night's
BG/NBD fit took (the demo zone's history is long enough to fit): not something an engine
computes."""
INGEST_CONTROL = {"file_ledger": "received_at", "quarantine": "quarantined_at"}
"""Ingest's control tables and their clocks."""
DEMO_CUSTOMERS, DEMO_DAYS, DEMO_SEED = 3000, 425, 42
"""``make demo``'s zone (pipeline/demo.py's defaults)."""


def _cvp(config: Path, *words: str) -> None:
    try:
        code = app([*words, "--config", str(config)], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    assert not code, f"cvp {' '.join(words)} failed (exit {code})"


def _config(home: Path, landing: Path, engine: str, source: dict[str, object]) -> Path:
    """A config in ``home`` for ``engine``: ``source``'s, with the warehouse, exports and lake
    in ``home``."""
    cfg = dict(source)
    cfg["paths"] = {
        "landing_dir": str(landing),
        "warehouse": str(home / "cvp.duckdb"),
        "export_dir": str(home / "exports"),
    }
    cfg["engine"] = {"name": engine, "spark": {"lake": str(home / "lake")}}
    config = home / "cvp.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


def _both_nights(
    before: Path, landing: Path, source: dict[str, object], day: date, folder: Path
) -> tuple[Path, Path]:
    """The night of ``day`` from the warehouse ``before``: on DuckDB in ``folder/duckdb``, on
    Spark in ``folder/spark`` (the warehouse moved into the lake first)."""
    homes = folder / "duckdb", folder / "spark"
    for home, engine in zip(homes, ("duckdb", "spark"), strict=True):
        home.mkdir(parents=True)
        shutil.copy(before, home / "cvp.duckdb")
        key = before.with_name(before.name + ".refkey")  # the counterparty key moves with it
        if key.exists():
            shutil.copy(key, home / "cvp.duckdb.refkey")
        config = _config(home, landing, engine, source)
        if engine == "spark":
            _cvp(config, "lake", "load", "--tables", "all")  # the state before the night
        _cvp(config, "run", "--date", str(day), "--log-format", "json")
    return homes


def _assert_same_night(duck_home: Path, spark_home: Path, day: date, spark: SparkSession) -> None:
    from pipeline.engine.spark_engine import SparkEngine

    folder = day.strftime("%Y%m%d")
    duck, other = duck_home / "exports" / folder, spark_home / "exports" / folder
    assert verify_export(other) == []
    files = sorted(p.name for p in duck.glob("*.parquet"))
    assert len(files) == 8 and files == sorted(p.name for p in other.glob("*.parquet"))
    for name in files:
        assert sha256_file(duck / name) == sha256_file(other / name), name

    con = duckdb.connect(str(duck_home / "cvp.duckdb"), read_only=True)
    duck_engine, lake = DuckDBEngine(con), SparkEngine(spark, spark_home / "lake")
    tables = data_tables(con)
    assert len(tables) > 50
    found = {t: differences(duck_engine, lake, t, CLOCKS.get(t, ())) for t in tables}
    assert {t: d for t, d in found.items() if d} == {}
    # ingest's verdicts, in each side's warehouse file: the same but for when they were made
    control = duckdb.connect(str(spark_home / "cvp.duckdb"), read_only=True)
    kept = DuckDBEngine(control)
    ledger = "select count(*) as n from file_ledger where business_date = $d"
    assert duck_engine.read(ledger, {"d": day}).item() > 0
    for table, clock in INGEST_CONTROL.items():
        assert differences(duck_engine, kept, table, (clock,)) is None, table
    # the date's transactions are the lake's alone: published, then gone from the file
    here = "select count(*) as n from stg_transactions where business_date = $d"
    assert kept.read(here, {"d": day}).item() == 0
    assert lake.read(here, {"d": day}).item() > 0
    # analysts read the lake on Spark: no copy of the warehouse file, which lacks the tables
    assert (duck_home / "cvp.analysts.duckdb").exists()
    assert not (spark_home / "cvp.analysts.duckdb").exists()


def test_a_night_on_spark_exports_what_the_duckdb_night_exports(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    assert [s.name for s in STAGES if "spark" not in s.engines] == []
    warehouse = recorded_night / "warehouse"
    source = yaml.safe_load((warehouse / "young.yaml").read_text(encoding="utf-8"))
    homes = _both_nights(
        warehouse / BEFORE_LAST, recorded_night / "landing", source, RECORDED_LAST, tmp_path
    )
    _assert_same_night(*homes, RECORDED_LAST, spark)


def test_the_demo_zones_last_night_on_spark_exports_what_duckdb_exports(
    spark: SparkSession, tmp_path: Path
) -> None:
    """``make demo``'s zone, its history ingested and its two month-end nights run on DuckDB
    (as the demo does), then its last night on each engine."""
    from pipeline.generate import generate_landing_zone

    start = END - timedelta(days=DEMO_DAYS - 1)
    landing = tmp_path / "landing"
    generate_landing_zone(landing, DEMO_CUSTOMERS, start, DEMO_DAYS, DEMO_SEED)
    source = yaml.safe_load((REPO / "configs" / "default.yaml").read_text(encoding="utf-8"))
    history = tmp_path / "history"
    history.mkdir()
    config = _config(history, landing, "duckdb", source)
    _cvp(config, "init")
    _cvp(config, "ingest", "--from", str(start), "--to", str(END - timedelta(days=1)))
    for day in month_ends(start, END, 2)[:-1]:
        _cvp(config, "run", "--date", str(day), "--log-format", "json")
    homes = _both_nights(history / "cvp.duckdb", landing, source, END, tmp_path)
    _assert_same_night(*homes, END, spark)
