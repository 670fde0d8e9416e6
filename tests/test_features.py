"""The features stage's window arithmetic, config validation, and its CLI command."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Config
from pipeline.config.economics import EconomicsConfig
from pipeline.config.features import FeaturesConfig
from pipeline.stages.features import window_of


def test_window_is_month_to_date_plus_whole_months(cfg: Config) -> None:
    w = window_of(cfg, date(2026, 3, 15))
    assert (w.month_start, w.window_start, w.recent_start) == (
        date(2026, 3, 1),
        date(2025, 4, 1),
        date(2026, 1, 1),
    )


def test_trend_split_must_leave_earlier_months() -> None:
    with pytest.raises(ValidationError, match="trend_recent_months"):
        FeaturesConfig(window_months=3, trend_recent_months=3)


def test_mcc_in_two_categories_is_refused() -> None:
    with pytest.raises(ValidationError, match="mcc 5411"):
        FeaturesConfig(mcc_categories={"a": ["5411"], "b": ["5411"]})


def test_economics_needs_every_rate() -> None:
    with pytest.raises(ValidationError, match="ftp_rate_percent: missing MTG"):
        EconomicsConfig(ftp_rate_percent={"DDA": 1, "TDA": 1, "CCD": 1, "PLN": 1, "BLN": 1})
    with pytest.raises(ValidationError, match="pd_buckets"):
        EconomicsConfig(pd_buckets=[{"min_days_past_due": 30, "pd_percent": 10}])


@pytest.mark.parametrize("stage", ["features", "contribution", "value"])
def test_stage_commands_have_help(stage: str) -> None:
    result = CliRunner().invoke(app, [stage, "--help"])
    assert result.exit_code == 0
    assert f"cvp {stage} --date" in result.output
