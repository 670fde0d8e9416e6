"""The command line: every command has help with an example; errors are one line, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import REPO

runner = CliRunner()


def command_names() -> list[list[str]]:
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            names += [[name, s] for s in sub]
        else:
            names.append([name])
    return names


@pytest.mark.parametrize("words", command_names(), ids=lambda w: " ".join(w))
def test_every_command_has_help_with_an_example(words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"])
    assert result.exit_code == 0
    assert "Example: cvp" in result.output


def test_bad_date_is_one_line_exit_1_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "ingest",
            "--date",
            "27/11/2026",
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: --date '27/11/2026': expected an ISO date such as 2026-11-27"
    )


def test_config_check_reports_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "configs/default.yaml").read_text().replace('"102"', "''"))
    result = runner.invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: bank_code: String should have at least 1 character" in result.output


def test_config_check_accepts_the_default() -> None:
    result = runner.invoke(app, ["config", "check", "--config", str(REPO / "configs/default.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


@pytest.mark.parametrize("words", [[], *command_names()], ids=lambda w: " ".join(w) or "cvp")
def test_boolean_options_are_plain_flags_in_help(words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"])
    assert result.exit_code == 0
    shown = [line for line in result.output.splitlines() if "<bool>" in line]
    # typer's own --help and completion options keep their metavar; ours are bare flags
    assert all("--help" in line or "completion" in line for line in shown), shown


def test_version_and_completion() -> None:
    from pipeline.warehouse import code_version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"cvp {code_version()}"
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
