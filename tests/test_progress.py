"""The operator's view of a run going on (issue 17): `cvp status` shows the live progress of
the run holding the warehouse instead of failing, says so plainly when that run was killed,
and a terminal gets a bar ("date N of M") while cron and JSON logs never do.

Real `cvp` processes on the sample zone, a real DuckDB reader holding the warehouse, a real
kill -9, a real pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import REPO

LANDING = REPO / "data_samples" / "landing"


def environ(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CVP_LANDING_DIR": str(LANDING),
        "CVP_WAREHOUSE": str(tmp / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp / "exports"),
    }


def start(tmp: Path, *words: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *words, "--config", str(tmp / "cvp.yaml")],
        cwd=REPO,
        env=environ(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cvp(tmp: Path, *words: str) -> tuple[int, str]:
    proc = start(tmp, *words)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def wait_for(path: Path) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_status_shows_a_live_run_then_a_killed_one_then_none(tmp_path: Path) -> None:
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    assert "lock_wait_seconds: 10" in text
    (tmp_path / "cvp.yaml").write_text(
        text.replace("lock_wait_seconds: 10", "lock_wait_seconds: 120")
    )
    env = environ(tmp_path)
    setup = CliRunner().invoke(
        app,
        ["ingest", "--new", "--date", "2026-11-23", "--config", str(tmp_path / "cvp.yaml")],
        env={k: env[k] for k in ("CVP_LANDING_DIR", "CVP_WAREHOUSE", "CVP_EXPORT_DIR")},
    )
    assert setup.exit_code == 0, setup.output
    progress = tmp_path / "cvp.duckdb.progress.json"

    # an analyst's connection keeps the run waiting for the warehouse: it is going, and holds
    # the warehouse's lock, so `cvp status` cannot read the warehouse
    reader = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    try:
        run = start(tmp_path, "ingest", "--from", "2026-11-24", "--to", "2026-11-25")
        state = wait_for(progress)
        assert stat.S_IMODE(progress.stat().st_mode) == 0o600  # like the warehouse
        assert state["pid"] == run.pid and state["command"] == "cvp ingest 2026-11-24 to 2026-11-25"

        code, output = cvp(tmp_path, "status")
        assert code == 0, output
        assert f"is held by run {state['run_id']} (pid {run.pid}" in output
        assert "this is that run's live progress" in output
        code, output = cvp(tmp_path, "status", "--json")
        assert code == 0, output
        live = json.loads(output)["run_in_progress"]
        assert live["alive"] is True and live["run_id"] == state["run_id"]
        assert live["dates_total"] == 2

        run.send_signal(signal.SIGKILL)  # no clean-up: the file stays behind
        run.communicate(timeout=60)
    finally:
        reader.close()
    assert progress.exists()
    code, output = cvp(tmp_path, "status")
    assert code == 0, output
    assert f"run {state['run_id']} (pid {run.pid}" in output
    assert "is no longer running (killed or crashed)" in output
    assert "2026-11-23  complete" in output  # and the warehouse's status after it
    code, output = cvp(tmp_path, "status", "--json")
    report = json.loads(output)
    assert report["stopped_run"]["alive"] is False and report["dates"]

    # the next run replaces the file, records its run id, and removes the file at its end
    code, output = cvp(tmp_path, "ingest", "--from", "2026-11-24", "--to", "2026-11-25")
    assert code == 0, output
    assert not progress.exists()
    ids = {json.loads(line)["run_id"] for line in output.splitlines() if line.startswith("{")}
    assert len(ids) == 1
    con = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    ledger = con.execute(
        "select business_date::varchar, status from run_ledger where run_id = ? order by 1",
        [ids.pop()],
    ).fetchall()
    con.close()
    assert ledger == [("2026-11-24", "succeeded"), ("2026-11-25", "succeeded")]
    code, output = cvp(tmp_path, "status")
    assert "no longer running" not in output and "2026-11-25  complete" in output


def on_terminal(tmp: Path, *words: str) -> tuple[int, str]:
    """Run cvp with a pseudo-terminal as stdin, stdout and stderr; what it showed."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *words],
        cwd=REPO,
        env={**environ(tmp), "TERM": "xterm-256color", "COLUMNS": "120"},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    shown = b""
    while select.select([main], [], [], 120)[0]:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return proc.wait(timeout=60), shown.decode("utf-8", errors="replace")


def test_a_terminal_gets_a_bar_and_json_or_cron_do_not(tmp_path: Path) -> None:
    code, shown = on_terminal(
        tmp_path, "ingest", "--new", "--from", "2026-11-23", "--to", "2026-11-25"
    )
    assert code == 0, shown
    assert "date 3 of 3: 2026-11-25 ingest" in shown and "3/3" in shown
    assert "TXN_POS_20261125.dat: loaded" in shown  # the log lines still show, above the bar

    code, shown = on_terminal(
        tmp_path, "ingest", "--from", "2026-11-26", "--to", "2026-11-27", "--log-format", "json"
    )
    assert code == 0, shown
    lines = shown.splitlines()
    assert lines and all(json.loads(line)["run_id"] for line in lines)  # no bar in between

    # cron: no terminal, so no bar, and the lines are JSON by default
    code, output = cvp_without_config(
        tmp_path, "run", "--from", "2026-11-26", "--to", "2026-11-27", "--stages", "features"
    )
    assert code == 0, output
    assert output and "\r" not in output and " of 2" not in output
    assert all(json.loads(line)["run_id"] for line in output.splitlines())


def cvp_without_config(tmp: Path, *words: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", *words],
        cwd=REPO,
        env=environ(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stderr
