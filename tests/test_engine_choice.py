"""Choosing the engine: the config section, ``--engine``, and the refusal of a stage that does
not run on Spark yet (no Spark needed: the refusal comes before any session)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.stages import STAGES
from tests.conftest import REPO

DEFAULT = REPO / "configs" / "default.yaml"


def _with_engine(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text(DEFAULT.read_text(encoding="utf-8") + "\n" + section, encoding="utf-8")
    return path


def test_the_engine_changes_no_figure_and_cvp_keeps_its_session_settings(
    tmp_path: Path,
) -> None:
    spark = load_config(
        _with_engine(
            tmp_path,
            "engine:\n  name: spark\n  spark:\n    master: yarn\n"
            "    conf: {spark.executor.memory: 8g}\n",
        ),
        environ={},
    )
    assert spark.engine.name == "spark" and spark.engine.spark.master == "yarn"
    # which engine runs is not an input of any result: nothing re-runs for it
    assert spark.fingerprint() == load_config(DEFAULT, environ={}).fingerprint()
    with pytest.raises(ConfigError, match=r"engine\.spark\.conf: .*spark\.sql\.ansi\.enabled"):
        load_config(
            _with_engine(
                tmp_path, "engine:\n  spark:\n    conf: {spark.sql.ansi.enabled: 'false'}\n"
            ),
            environ={},
        )
    with pytest.raises(ConfigError, match=r"engine\.spark\.conf: .*start with 'spark\.'"):
        load_config(_with_engine(tmp_path, "engine:\n  spark:\n    conf: {ansi: 'x'}\n"), {}, {})


def test_a_stage_not_ported_refuses_spark_before_anything_runs(tmp_path: Path) -> None:
    env = {
        "CVP_LANDING_DIR": str(tmp_path / "landing"),
        "CVP_WAREHOUSE": str(tmp_path / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp_path / "exports"),
    }
    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    unported = [s.name for s in STAGES if "spark" not in s.engines]
    result = runner.invoke(app, ["run", "--date", "2026-11-27", "--engine", "spark"], env=env)
    assert result.exit_code == 1
    assert f"stage {', '.join(unported)} not ported to spark yet" in result.output
    alone = unported[-1]  # one stage alone (ingest, the last not ported, has no --engine)
    result = runner.invoke(
        app, ["run", "--date", "2026-11-27", "--stages", alone, "--engine", "spark"], env=env
    )
    assert result.exit_code == 1
    assert f"stage {alone} not ported to spark yet" in result.output
    assert "--engine duckdb" in result.output
    con = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from run_ledger").fetchone() == (0,)
    finally:
        con.close()
