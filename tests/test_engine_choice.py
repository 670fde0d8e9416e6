"""Choosing the engine: the config section, ``--engine``, and the refusal of a stage that does
not run on Spark (no Spark needed: the refusal comes before any session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.engine.choose import refuse_unported
from pipeline.errors import ConfigError, PipelineError
from pipeline.stages import STAGES
from pipeline.stages.base import Stage
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


def test_every_stage_runs_on_spark_and_a_new_one_is_refused_until_ported(
    tmp_path: Path,
) -> None:
    """A stage runs on Spark only once it says so (``Stage.engines``): every stage of the
    night does now; one added later is refused by name before anything runs, never run on
    DuckDB in its place."""
    assert [s.name for s in STAGES if "spark" not in s.engines] == []
    new = Stage(name="scorecards", run=lambda ctx: 0)
    assert new.engines == ("duckdb",)
    with pytest.raises(PipelineError) as refused:
        refuse_unported([*STAGES, new], "spark")
    assert "stage scorecards not ported to spark yet" in str(refused.value)
    assert "--stages " + ",".join(s.name for s in STAGES) + " alone on spark" in str(refused.value)
    assert "--engine duckdb" in str(refused.value)
    refuse_unported(STAGES, "spark")  # the night's stages pass
