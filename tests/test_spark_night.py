"""A whole night on both engines (issue 18's proof): the recorded zone's last night run by
``cvp run --date`` on DuckDB, and on Spark from the same state (the warehouse as the last night
found it), so that every stage after ingest and the export run on each engine one after the
other, reading what the one before wrote. Every export file must have the same bytes and every
data table the same rows and types (tests/stage_parity.py's comparison).

Ingest does not run on Spark yet (docs/scale.md, "Ingest on Spark: the design"): on the Spark
side the date is ingested by DuckDB, the warehouse is moved into the lake as a bank would move
it (``cvp lake load --tables all``), and ``cvp run --engine spark`` runs the other stages."""

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

ON_SPARK = [s.name for s in STAGES if "spark" in s.engines]
"""The stages the Spark night runs (the others, ingest, run on DuckDB before the lake load)."""
CLOCKS = {"agg_customer_event_day_dates": ("source_received_at", "aggregated_at")}
"""The named exception: when the date's deliveries were received and aggregated, the times of
each night's own run (its ingest's file ledger, its clv stage), not something an engine
computes."""


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
    before = [s.name for s in STAGES if s.name not in ON_SPARK]
    assert before == ["ingest"]  # when ingest runs on Spark, the night is one cvp run
    _cvp(
        config,
        "run",
        "--date",
        day,
        "--stages",
        ",".join(before),
        "--engine",
        "duckdb",
        "--log-format",
        "json",
    )
    _cvp(config, "lake", "load", "--tables", "all")
    _cvp(config, "run", "--date", day, "--stages", ",".join(ON_SPARK), "--log-format", "json")

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
