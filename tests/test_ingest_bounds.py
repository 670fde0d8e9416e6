"""Bounded memory (issue 14, item 9): a group commit holds a bounded number of dates and bytes,
not only rows; a one-date ingest reads that date only (no read-ahead past the range asked for:
it used to read two later dates, and hang on a FIFO in one of them)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import date

import pytest

from pipeline.config import Config
from pipeline.ingest import ingest_dates
from pipeline.warehouse import RunLedger, connect
from tests.conftest import REPO

SAMPLES = REPO / "data_samples" / "landing"
DATES = [date(2026, 11, 23 + i) for i in range(5)]


class Groups(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("committed "):
            self.sizes.append(int(text.split()[1]))


@pytest.mark.parametrize(
    ("bounds", "groups"),
    [
        ({"commit_every_dates": 2}, [2, 2]),  # and the fifth date alone (no message)
        ({"commit_every_mb": 0.001}, []),  # every date is over a kilobyte: one date a group
        ({}, [5]),
    ],
)
def test_a_group_commit_is_bounded_in_dates_and_bytes(
    cfg: Config, bounds: dict[str, float], groups: list[int]
) -> None:
    shutil.copytree(SAMPLES, cfg.paths.landing_dir)
    cfg = cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update=bounds)})
    log = logging.getLogger("test.bounds")
    handler = Groups()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    con = connect(cfg)
    try:
        results = ingest_dates(con, cfg, DATES, RunLedger(con, "test"), log)
    finally:
        con.close()
        log.removeHandler(handler)
    assert [r.business_date for r in results] == DATES
    assert handler.sizes == groups


def test_a_one_date_ingest_reads_no_other_date(cfg: Config) -> None:
    shutil.copytree(SAMPLES, cfg.paths.landing_dir)
    later = cfg.paths.landing_dir / "20261124" / "TXN_NET_20261124.dat"
    later.unlink()
    os.mkfifo(later)  # reading it blocks until someone writes: nobody will
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(cfg.paths.landing_dir),
        CVP_WAREHOUSE=str(cfg.paths.warehouse),
        CVP_EXPORT_DIR=str(cfg.paths.export_dir),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", "--new", "--date", "2026-11-23"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    files = [
        json.loads(line)
        for line in done.stderr.splitlines()
        if line.startswith("{") and '"outcome"' in line
    ]
    assert files and {f["business_date"] for f in files} == {"2026-11-23"}
