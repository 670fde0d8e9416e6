"""A reader never sees a partial export: kill a real ``cvp export`` part-way and look.

The writer sleeps after each file when ``CVP_EXPORT_TEST_PAUSE_SECONDS`` is set (see
pipeline/export.py), which makes the window in which the temporary folder is half-written wide
enough to SIGKILL the process inside it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.export import PAUSE_ENV, verify_export
from tests.test_export import prepared, run_export

REPO = Path(__file__).resolve().parent.parent


def err_log(cfg: Config) -> Path:
    return cfg.paths.warehouse.parent / "export-stderr.log"


def start_export(cfg: Config, pause: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVP_")}
    env[PAUSE_ENV] = str(pause)
    cvp = Path(sys.executable).parent / "cvp"
    with err_log(cfg).open("ab") as err:
        return subprocess.Popen(
            [
                str(cvp),
                "export",
                "--date",
                "2026-11-27",
                "--log-format",
                "json",
                "--warehouse",
                str(cfg.paths.warehouse),
                "--export-dir",
                str(cfg.paths.export_dir),
                "--landing-dir",
                str(cfg.paths.landing_dir),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def kill_mid_way(cfg: Config, proc: subprocess.Popen[bytes], files: int = 2) -> Path:
    """Wait until the temporary folder holds ``files`` Parquet files, then SIGKILL."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tmps = list(cfg.paths.export_dir.glob(".tmp-20261127-*"))
        if tmps and len(list(tmps[0].glob("*.parquet"))) >= files:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return tmps[0]
        if proc.poll() is not None:
            pytest.fail(f"export ended before the kill: {err_log(cfg).read_text()[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the export never started writing")


def test_killed_export_leaves_no_date_folder_or_the_previous_one_whole(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    con.close()
    folder = cfg.paths.export_dir / "20261127"

    # First export of the date, killed after two files: no date folder at all.
    tmp = kill_mid_way(cfg, start_export(cfg, pause=1.0))
    assert tmp.exists() and not (tmp / "_SUCCESS").exists()  # the kill really was part-way
    assert not folder.exists()

    # A complete export, then a re-run killed part-way: the complete one is still there, whole.
    done = start_export(cfg, pause=0)
    assert done.wait(timeout=120) == 0, err_log(cfg).read_text()[-2000:]
    assert verify_export(folder) == []
    manifest = (folder / "_manifest.json").read_text(encoding="utf-8")
    kill_mid_way(cfg, start_export(cfg, pause=1.0))
    assert verify_export(folder) == []
    assert (folder / "_manifest.json").read_text(encoding="utf-8") == manifest
    rows = {f["name"]: f["rows"] for f in json.loads(manifest)["files"]}
    assert rows["customer_value.parquet"] == 11

    # The next export cleans the killed runs' leftovers.
    from pipeline.warehouse import connect

    con = connect(cfg)
    run_export(cfg, con)
    con.close()
    assert [p.name for p in cfg.paths.export_dir.iterdir()] == ["20261127"]
    assert verify_export(folder) == []


def test_old_export_restored_when_killed_between_the_renames(cfg: Config) -> None:
    # Simulate a death between "rename old aside" and "rename new in": the date folder is
    # missing, a complete .old-* and a partial .tmp-* remain. The next export restores, then
    # replaces, and a reader never sees the partial folder.
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    folder = cfg.paths.export_dir / "20261127"
    os.rename(folder, cfg.paths.export_dir / ".old-20261127-dead")
    (cfg.paths.export_dir / ".tmp-20261127-dead").mkdir()
    from pipeline.export import clean_leftovers

    clean_leftovers(cfg.paths.export_dir, __import__("datetime").date(2026, 11, 27))
    assert verify_export(folder) == []
    assert [p.name for p in cfg.paths.export_dir.iterdir()] == ["20261127"]
    con.close()
