"""A whole night on both engines (issue 18's proof): the recorded zone's last night run by
``cvp run --date`` on DuckDB, and on Spark from the same state (the warehouse as the last night
found it), so that every stage after ingest and the export run on each engine one after the
other, reading what the one before wrote. Every export file must have the same bytes and every
data table the same rows and types (tests/stage_parity.py's comparison).

On the Spark side the warehouse as the last night found it is first moved into the lake as a
bank would move it (``cvp lake load --tables all``); then ``cvp run --date`` with the engine
``spark`` runs the whole night, ingest to export. Ingest's control tables (the file ledger,
quarantine) stay in the warehouse file on both sides and are compared too."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from pipeline.cli import app
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.engine.lake import data_tables
from pipeline.engine.record import BEFORE_LAST
from pipeline.export import sha256_file, verify_export
from pipeline.stages import STAGES
from tests.conftest import RECORDED_LAST
from tests.stage_parity import differences

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CLOCKS = {"agg_customer_event_day_dates": ("source_received_at", "aggregated_at")}
"""The named exception: when the date's deliveries were received and aggregated, the times of
each night's own run (its ingest's file ledger, its clv stage), not something an engine
computes."""
INGEST_CONTROL = {"file_ledger": "received_at", "quarantine": "quarantined_at"}
"""Ingest's control tables and their clocks."""


def _cvp(config: Path, *words: str) -> None:
    try:
        code = app([*words, "--config", str(config)], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    assert not code, f"cvp {' '.join(words)} failed (exit {code})"


def _home(recorded: Path, home: Path, engine: str) -> Path:
    """``home`` holding the warehouse as the last night found it and a config for ``engine``
    (the recording's, with these paths and a lake in ``home``)."""
    home.mkdir(parents=True)
    shutil.copy(recorded / "warehouse" / BEFORE_LAST, home / "cvp.duckdb")
    cfg = yaml.safe_load((recorded / "warehouse" / "young.yaml").read_text(encoding="utf-8"))
    cfg["paths"] = {
        "landing_dir": str(recorded / "landing"),
        "warehouse": str(home / "cvp.duckdb"),
        "export_dir": str(home / "exports"),
    }
    cfg["engine"] = {"name": engine, "spark": {"lake": str(home / "lake")}}
    config = home / "cvp.yaml"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


def test_a_night_on_spark_exports_what_the_duckdb_night_exports(
    recorded_night: Path, spark: SparkSession, tmp_path: Path
) -> None:
    from pipeline.engine.spark_engine import SparkEngine

    day = str(RECORDED_LAST)
    _cvp(
        _home(recorded_night, tmp_path / "duckdb", "duckdb"),
        "run",
        "--date",
        day,
        "--log-format",
        "json",
    )
    config = _home(recorded_night, tmp_path / "spark", "spark")
    assert [s.name for s in STAGES if "spark" not in s.engines] == []
    _cvp(config, "lake", "load", "--tables", "all")  # the state before the night, in the lake
    _cvp(config, "run", "--date", day, "--log-format", "json")

    folder = RECORDED_LAST.strftime("%Y%m%d")
    duck, other = tmp_path / "duckdb" / "exports" / folder, tmp_path / "spark" / "exports" / folder
    assert verify_export(other) == []
    files = sorted(p.name for p in duck.glob("*.parquet"))
    assert len(files) == 8 and files == sorted(p.name for p in other.glob("*.parquet"))
    for name in files:
        assert sha256_file(duck / name) == sha256_file(other / name), name

    con = duckdb.connect(str(tmp_path / "duckdb" / "cvp.duckdb"), read_only=True)
    lake = SparkEngine(spark, tmp_path / "spark" / "lake")
    tables = data_tables(con)
    assert len(tables) > 50
    found = {t: differences(DuckDBEngine(con), lake, t, CLOCKS.get(t, ())) for t in tables}
    assert {t: d for t, d in found.items() if d} == {}
    # ingest's verdicts, in each side's warehouse file: the same but for when they were made
    control = duckdb.connect(str(tmp_path / "spark" / "cvp.duckdb"), read_only=True)
    duck, kept = DuckDBEngine(con), DuckDBEngine(control)
    assert (
        duck.read(
            "select count(*) as n from file_ledger where business_date = $d", {"d": RECORDED_LAST}
        ).item()
        > 0
    )
    for table, clock in INGEST_CONTROL.items():
        assert differences(duck, kept, table, (clock,)) is None, table
    # the date's transactions are the lake's alone: published, then gone from the file
    assert (
        kept.read(
            "select count(*) as n from stg_transactions where business_date = $d",
            {"d": RECORDED_LAST},
        ).item()
        == 0
    )
