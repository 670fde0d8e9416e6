"""Configuration: layering of file, environment and flags; every mistake named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from tests.conftest import REPO

DEFAULT = REPO / "configs" / "default.yaml"


def test_flags_beat_environment_beat_file() -> None:
    env = {"CVP_WAREHOUSE": "/env/w.duckdb", "CVP_EXPORT_DIR": "/env/exports"}
    cfg = load_config(DEFAULT, {"export_dir": Path("/flag/exports")}, environ=env)
    assert cfg.paths.landing_dir == Path("var/landing")  # from the file
    assert cfg.paths.warehouse == Path("/env/w.duckdb")  # environment over file
    assert cfg.paths.export_dir == Path("/flag/exports")  # flag over environment


def test_every_mistake_is_reported_with_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = DEFAULT.read_text()
    text = text.replace("max_bad_row_fraction: 0.01", "max_bad_row_fraction: 2")
    text = text.replace("encoding: gb18030", "encoding: klingon")
    text = text.replace("channels: [CTR, ATM, TEL, NET, POS]", "channels: [CTR, FAX]", 1)
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{bad}: ingest.") for line in lines)
    joined = "\n".join(lines)
    assert "ingest.max_bad_row_fraction: Input should be less than or equal to 1" in joined
    assert "ingest.format.encoding" in joined and "klingon" in joined
    assert "ingest.channels" in joined and "FAX" in joined


def test_unknown_keys_are_mistakes_not_silently_ignored(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(DEFAULT.read_text().replace("max_bad_rows:", "max_bad_row:"))
    with pytest.raises(ConfigError, match=r"ingest\.max_bad_row: Extra inputs are not permitted"):
        load_config(bad, environ={})


def test_missing_config_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_config_fingerprint_changes_with_a_rate_but_not_with_paths() -> None:
    a = load_config(DEFAULT, environ={})
    b = load_config(DEFAULT, {"warehouse": Path("/elsewhere.duckdb")}, environ={})
    assert a.fingerprint() == b.fingerprint()
    c = a.model_copy(update={"bank_code": "999"})
    assert c.fingerprint() != a.fingerprint()


def test_a_speed_setting_changes_no_inputs_token_but_a_rule_does() -> None:
    a = load_config(DEFAULT, environ={})

    def with_ingest(**update: object) -> str:
        ingest = a.ingest.model_copy(update=update)
        return a.model_copy(update={"ingest": ingest}).section_fingerprint("ingest", "bank_code")

    before = a.section_fingerprint("ingest", "bank_code")
    assert with_ingest(commit_every_rows=0, one_thread_below_mb=0) == before
    assert with_ingest(max_bad_rows=5) != before


def _with(tmp_path: Path, replacements: dict[str, str]) -> Path:
    text = DEFAULT.read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    out = tmp_path / "edited.yaml"
    out.write_text(text)
    return out


def test_out_of_range_rates_costs_and_limits_name_the_value(tmp_path: Path) -> None:
    bad = _with(
        tmp_path,
        {
            "memory_limit: null": 'memory_limit: "lots"',
            "    DDA: 1.80 ": "    DDA: -1.80 ",
            "    CTR: 12.00 ": "    CTR: -12.00 ",
            "    DDA: 12\n": "    DDA: -12\n",
        },
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    text = str(err.value)
    assert "warehouse.memory_limit: 'lots' is not a memory size DuckDB understands" in text
    assert (
        "economics.ftp_rate_percent.DDA: Input should be greater than or equal to 0 (got -1.8"
        in text
    )
    assert (
        "economics.unit_cost_amount.CTR: Input should be greater than or equal to 0 (got -12"
        in text
    )
    assert (
        "economics.upkeep_amount_per_year.DDA: Input should be greater than or equal to 0 (got -12"
        in text
    )


def test_lgd_and_pd_are_at_most_100_percent(tmp_path: Path) -> None:
    bad = _with(
        tmp_path,
        {"    PLN: 60 ": "    PLN: 175 ", "pd_percent: 8.0}": "pd_percent: 108.0}"},
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    text = str(err.value)
    assert "economics.lgd_percent.PLN: Input should be less than or equal to 100 (got 175" in text
    assert "economics.pd_buckets.1.pd_percent: Input should be less than or equal to 100" in text


def test_unknown_keys_get_a_did_you_mean(tmp_path: Path) -> None:
    bad = _with(tmp_path, {"max_bad_rows:": "max_bad_row:", "  threads: null": "  thread: null"})
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    text = str(err.value)
    assert (
        "ingest.max_bad_row: Extra inputs are not permitted; did you mean 'max_bad_rows'?" in text
    )
    assert "warehouse.thread: Extra inputs are not permitted; did you mean 'threads'?" in text


def test_a_negative_online_fee_is_refused(tmp_path: Path) -> None:
    bad = _with(tmp_path, {"online_fee_amount: {}": "online_fee_amount: {TRO: -2}"})
    with pytest.raises(ConfigError) as err:
        load_config(bad, environ={})
    assert "tiers.migration.online_fee_amount.TRO: Input should be greater than or equal to 0" in (
        str(err.value)
    )


def test_export_may_not_need_less_history_than_tiers(tmp_path: Path) -> None:
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("min_days: {}", "min_days: {tiers: 28, export: 7}", 1))
    with pytest.raises(ConfigError, match=r"history\.min_days: .*export \(7\) below tiers \(28\)"):
        load_config(bad)
