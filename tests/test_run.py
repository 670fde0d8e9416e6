"""`cvp run`: what is skipped, what re-runs after a change, what a subset needs, the dry run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import REPO, young_config

LANDING = REPO / "data_samples" / "landing"
DAY = "2026-11-23"


def invoke(tmp: Path, *words: str, config: Path | None = None) -> tuple[int, str]:
    env = {
        "CVP_LANDING_DIR": str(LANDING),
        "CVP_WAREHOUSE": str(tmp / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp / "exports"),
    }
    args = [*words, "--config", str(config or young_config(tmp))]
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


def plan_of(output: str) -> dict[str, str]:
    """stage -> action from `cvp run --dry-run` lines: `<date>  <stage>  <action>  <why>`."""
    out = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == DAY:
            out[parts[1]] = parts[2]
    return out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    assert invoke(tmp, "init")[0] == 0
    code, output = invoke(tmp, "run", "--date", DAY, "--log-format", "json")
    assert code == 0, output[-2000:]
    return tmp


def test_a_rerun_skips_every_stage_but_the_ingest_check(warehouse: Path) -> None:
    code, output = invoke(warehouse, "run", "--date", DAY, "--dry-run")
    assert code == 0
    plan = plan_of(output)
    assert plan.pop("ingest") == "run"  # it looks, and skips files by checksum
    assert set(plan.values()) == {"skip"}
    assert list(plan) == [
        "features",
        "contribution",
        "merchants",
        "clv",
        "value",
        "tiers",
        "export",
    ]


def test_a_changed_rate_reruns_what_it_affects_and_nothing_else(
    warehouse: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "dearer_counter.yaml"
    text = young_config(tmp_path).read_text()
    assert "    CTR: 12.00" in text
    changed.write_text(text.replace("    CTR: 12.00", "    CTR: 14.00", 1))
    code, output = invoke(warehouse, "run", "--date", DAY, "--dry-run", config=changed)
    assert code == 0
    plan = plan_of(output)
    assert plan["merchants"] == "skip"  # reads no rate of the economics section
    for stage in ("features", "contribution", "clv", "value", "tiers", "export"):
        assert plan[stage] == "run", (stage, output)


def test_a_changed_score_weight_reruns_value_and_after_only(
    warehouse: Path, tmp_path: Path
) -> None:
    changed = tmp_path / "weights.yaml"
    text = young_config(tmp_path).read_text()
    changed.write_text(text.replace("    tenure: 0.05 ", "    tenure: 0.06 ", 1))
    code, output = invoke(warehouse, "run", "--date", DAY, "--dry-run", config=changed)
    assert code == 0
    assert plan_of(output) == {
        "ingest": "run", "features": "skip", "contribution": "skip", "merchants": "skip",
        "clv": "skip", "value": "run", "tiers": "run", "export": "run",
    }  # fmt: skip


def test_a_subset_without_its_dependencies_says_which_are_missing(
    warehouse: Path, tmp_path: Path
) -> None:
    shutil.copy(warehouse / "cvp.duckdb", tmp_path / "cvp.duckdb")
    # not loaded yet: a hole in the history, exit 3 naming it
    code, output = invoke(tmp_path, "run", "--date", "2026-11-24", "--stages", "tiers,export")
    assert code == 3
    assert "history incomplete for 2026-11-24: 1 date(s) missing: 2026-11-24 (nothing" in output
    code, output = invoke(tmp_path, "ingest", "--date", "2026-11-24")
    assert code == 0, output
    code, output = invoke(tmp_path, "run", "--date", "2026-11-24", "--stages", "tiers,export")
    assert code == 1
    assert (
        "stage tiers for 2026-11-24 needs merchants, clv, value first "
        "(merchants: never run for the date" in output
    )


def test_unknown_stage_names_are_refused(warehouse: Path) -> None:
    code, output = invoke(warehouse, "run", "--date", DAY, "--stages", "tiers,expert")
    assert code == 1
    assert "--stages: unknown expert" in output


def test_a_subset_refuses_needs_built_under_another_config(warehouse: Path, tmp_path: Path) -> None:
    """Issue 14, item 2: `--stages tiers,export` ran tiers on a contribution last built under
    another config. Each need must be current for the date and this config, not merely done."""
    shutil.copy(warehouse / "cvp.duckdb", tmp_path / "cvp.duckdb")
    changed = tmp_path / "dearer_counter.yaml"
    text = young_config(tmp_path).read_text()
    changed.write_text(text.replace("    CTR: 12.00", "    CTR: 14.00", 1))
    code, output = invoke(tmp_path, "contribution", "--date", DAY, config=changed)
    assert code == 1  # features was built under the default config: refused, says what to run
    assert "needs features first" in output and "--stages features,contribution" in output
    code, output = invoke(
        tmp_path, "run", "--date", DAY, "--stages", "features,contribution", config=changed
    )
    assert code == 0, output
    code, output = invoke(tmp_path, "run", "--date", DAY, "--stages", "tiers,export")
    assert code == 1
    # value's own token is the default's, but it reads a contribution built since under
    # the changed config: the check goes all the way up
    needs = f"stage tiers for {DAY} needs contribution first (contribution: built with another "
    assert needs in output
    assert "--stages contribution,merchants,clv,value,tiers`" in output
    # under the changed config, what reads contribution is stale instead
    code, output = invoke(tmp_path, "run", "--date", DAY, "--stages", "tiers", config=changed)
    assert code == 1 and "needs clv, value first" in output
    # the nightly run brings everything current, then a subset runs
    code, output = invoke(tmp_path, "run", "--date", DAY, config=changed)
    assert code == 0, output
    code, output = invoke(tmp_path, "run", "--date", DAY, "--stages", "tiers", config=changed)
    assert code == 0, output


def test_an_export_folder_moved_or_altered_is_published_again(
    warehouse: Path, tmp_path: Path
) -> None:
    """Issue 14, item 8: the ledger said done, so a deleted export folder stayed missing."""
    shutil.copy(warehouse / "cvp.duckdb", tmp_path / "cvp.duckdb")
    shutil.copytree(warehouse / "exports", tmp_path / "exports")
    folder = tmp_path / "exports" / DAY.replace("-", "")
    assert plan_of(invoke(tmp_path, "run", "--date", DAY, "--dry-run")[1])["export"] == "skip"
    shutil.rmtree(folder)
    code, output = invoke(tmp_path, "run", "--date", DAY, "--dry-run")
    assert code == 0 and plan_of(output)["export"] == "run"
    assert "published folder:" in output
    assert invoke(tmp_path, "run", "--date", DAY)[0] == 0
    assert (folder / "_SUCCESS").exists()
    victim = sorted(folder.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-10])  # truncated by hand
    assert plan_of(invoke(tmp_path, "run", "--date", DAY, "--dry-run")[1])["export"] == "run"
    assert invoke(tmp_path, "run", "--date", DAY)[0] == 0
    from pipeline.export import verify_export

    assert verify_export(folder) == []


def test_a_night_whose_clv_was_not_fitted_exports_no_clv_fit(
    warehouse: Path, tmp_path: Path
) -> None:
    """Issue 14, item 8: a stale clv_fit.json was shipped when CLV was not fitted. The sample
    zone is too young for a fit: neither the fit an earlier run of the night wrote (under
    another config, say) nor another night's may be attached."""
    shutil.copy(warehouse / "cvp.duckdb", tmp_path / "cvp.duckdb")
    clv_dir = tmp_path / "exports" / "clv"
    clv_dir.mkdir(parents=True)
    stale = clv_dir / f"{DAY.replace('-', '')}.json"
    stale.write_text('{"business_date": "2026-11-23", "fits": []}', encoding="utf-8")
    (clv_dir / "20261122.json").write_text('{"business_date": "2026-11-22"}', encoding="utf-8")
    for stage in ("clv", "export"):
        code, output = invoke(tmp_path, stage, "--date", DAY)
        assert code == 0, output[-2000:]
    folder = tmp_path / "exports" / DAY.replace("-", "")
    assert (folder / "_SUCCESS").exists() and not (folder / "clv_fit.json").exists()
    manifest = (folder / "_manifest.json").read_text(encoding="utf-8")
    assert "clv_fit.json" not in manifest
    assert not stale.exists()
