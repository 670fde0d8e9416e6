"""The command line: every command has help with an example; errors are one line, exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import (
    EXIT_DELIVERY_INCOMPLETE,
    EXIT_EXPORT_BLOCKED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WAREHOUSE_BUSY,
)
from tests.conftest import REPO, young_config

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


def cvp(*words: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``cvp`` as cron runs it: a process whose stderr is not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *words],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_bad_date_is_one_line_exit_1_without_traceback(tmp_path: Path) -> None:
    warehouse = ["--warehouse", str(tmp_path / "w.duckdb")]
    proc = cvp("ingest", "--date", "27/11/2026", "--log-format", "text", *warehouse)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: --date '27/11/2026': expected an ISO date such as 2026-11-27"
    )


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every line of stderr as JSON, each with a tz-aware time and a run id."""
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert lines
    for line in lines:
        assert datetime.fromisoformat(str(line["ts"])).utcoffset() is not None, line
        assert line["run_id"], line
    return lines


def test_json_mode_all_of_stderr_is_json_lines_tied_to_run_ledger(tmp_path: Path) -> None:
    env = {
        "CVP_LANDING_DIR": str(REPO / "data_samples" / "landing"),
        "CVP_WAREHOUSE": str(tmp_path / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp_path / "exports"),
    }
    young = ["--config", str(young_config(tmp_path))]  # the sample zone has 5 days
    runs = []
    for words in (
        ["ingest", "--new", "--from", "2026-11-23", "--to", "2026-11-24"],
        ["run", "--date", "2026-11-24"],  # every stage, the analysts' snapshot
    ):
        ok = cvp(*words, *young, env=env)  # --log-format auto: JSON off a terminal
        assert ok.returncode == 0, ok.stderr
        lines = json_lines(ok.stderr)
        assert len({line["run_id"] for line in lines}) == 1
        runs.append(lines[0]["run_id"])
    con = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    ledger = con.execute("select distinct run_id from run_ledger").fetchall()
    con.close()
    assert sorted(ledger) == sorted((r,) for r in runs)  # each log line ties to its run's rows

    failing = [
        (1, ["ingest", "--date", "27/11/2026", "--log-format", "json"], {}),  # a bad value
        (2, ["run", "--date", "2026-11-25", "--no-such-flag", "--log-format", "json"], {}),
        (3, ["ingest", "--date", "2026-11-28"], {}),  # nothing delivered: incomplete
        (1, ["run", "--date", "2026-11-24", "--force"], {"CVP_INJECT_FAILURE": "tiers"}),
    ]
    for code, words, extra in failing:
        proc = cvp(*words, *young, env={**env, **extra})
        assert proc.returncode == code, (words, proc.stderr)
        last = json_lines(proc.stderr)[-1]
        assert last["level"] == "error" and last["exit_code"] == code, last
        assert "Traceback" not in proc.stderr


def test_usage_errors_exit_2_as_documented(tmp_path: Path) -> None:
    for words in (
        ["status", "--no-such-flag"],  # an unknown option
        ["accept"],  # a required option missing
        ["no-such-command"],
        ["status", "--last", "0"],  # out of its range
    ):
        proc = cvp(*words, "--warehouse", str(tmp_path / "w.duckdb"))
        assert proc.returncode == 2, (words, proc.stderr)
        assert "Usage:" in proc.stderr
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Exit codes") : readme.index("## Configuration")]
    assert "| 2 | usage error" in table
    assert {int(c) for c in re.findall(r"^\| (\d) \|", table, re.M)} == {
        EXIT_OK,
        EXIT_FAILURE,
        EXIT_USAGE,
        EXIT_DELIVERY_INCOMPLETE,
        EXIT_WAREHOUSE_BUSY,
        EXIT_EXPORT_BLOCKED,
    }


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


def test_status_since_and_last_show_fewer_dates_but_all_that_needs_attention(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(REPO / "data_samples" / "landing", landing)
    (landing / "20261124" / "TXN_CTR_20261124.dat").unlink()  # needs attention
    env = {"CVP_LANDING_DIR": str(landing), "CVP_WAREHOUSE": str(tmp_path / "cvp.duckdb")}
    assert runner.invoke(app, ["ingest", "--new", "--date", "2026-11-23"], env=env).exit_code == 0
    everything = json.loads(runner.invoke(app, ["status", "--json"], env=env).output)
    landed = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert [e["business_date"] for e in everything["dates"]] == landed

    result = runner.invoke(app, ["status", "--last", "2"], env=env)
    assert result.exit_code == 0, result.output
    shown = [line.split()[0] for line in result.output.splitlines() if line[:4] == "2026"]
    assert shown == ["2026-11-26", "2026-11-27"]
    assert "(3 earlier date(s) not shown: --since/--last)" in result.output
    assert everything["needs_attention"] == ["2026-11-24"]
    assert "needs attention (all dates): 2026-11-24" in result.output
    # landed whole, not loaded yet: pending (the next run loads them), not a problem
    assert everything["pending"] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    line = next(x for x in result.output.splitlines() if x.startswith("2026-11-27"))
    assert "PENDING" in line and "delivered, not loaded yet" in line

    result = runner.invoke(app, ["status", "--since", "2026-11-25", "--json"], env=env)
    report = json.loads(result.output)
    assert [e["business_date"] for e in report["dates"]] == landed[2:]
    assert report["dates_hidden"] == 2
    assert report["needs_attention"] == everything["needs_attention"]
    assert runner.invoke(app, ["status", "--since", "25/11/2026"], env=env).exit_code == 1


def test_a_library_warning_in_json_mode_is_a_json_line_too() -> None:
    code = (
        "import warnings\n"
        "from pipeline.logs import setup_logging\n"
        "setup_logging('json')\n"
        "warnings.warn('overflow encountered in exp', RuntimeWarning)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = json_lines(proc.stderr)
    assert line["level"] == "warning" and "overflow encountered in exp" in str(line["msg"])
