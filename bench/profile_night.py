"""Where a night's time goes: every SQL statement of ``cvp run``'s stages, timed.

Runs the stages of one date in this process on a warehouse (use a copy: the night is written
into it), through a proxy of the DuckDB connection that times each ``execute`` (wall, and the
process's CPU, which includes DuckDB's threads), then prints per stage the SQL's total and its
largest statements. A stage's time beyond its SQL is Python (reading files, fitting models).
The analysts' snapshot and the exports' files are not SQL and are not listed.

Usage::

    cp var/bench/night_1000000.duckdb /tmp/w.duckdb
    python -m bench.profile_night /tmp/w.duckdb --landing var/bench/night_1000000_landing \\
        --date 2026-11-28 [--config var/bench/night_config.yaml] [--top 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from bench.bench_night import BENCH_DIR, night_env
from pipeline.config import load_config
from pipeline.runner import ORDER, run_stages
from pipeline.warehouse import connect


class _Timed:
    """A DuckDB connection whose ``execute`` calls are timed into ``log``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[tuple[str, float, float, str]]):
        self._con = con
        self._log = log
        self.stage = "?"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, query: object, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.monotonic(), time.process_time()
        result = self._con.execute(query, *args, **kwargs)  # type: ignore[arg-type]
        text = " ".join(str(query).split())
        self._log.append(
            (self.stage, time.monotonic() - wall, time.process_time() - cpu, text[:110])
        )
        return result

    def cursor(self) -> _Timed:
        timed = _Timed(self._con.cursor(), self._log)
        timed.stage = self.stage
        return timed


class _Stages:
    """Progress hooks that tell the proxy which stage runs and keep each stage's wall time."""

    def __init__(self, con: _Timed) -> None:
        self.con = con
        self.walls: dict[str, float] = {}
        self._started = 0.0

    def plan(self, *_: object) -> None:
        pass

    def stage_started(self, name: str, _day: date) -> None:
        self.con.stage, self._started = name, time.monotonic()

    def stage_finished(self, name: str, _day: date, _outcome: str) -> None:
        self.walls[name] = time.monotonic() - self._started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--config", type=Path, default=BENCH_DIR / "night_config.yaml")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    # the paths come from the environment, which overrides the config's, as in bench_night
    os.environ.update(
        night_env(args.warehouse, args.landing, args.warehouse.with_suffix(".exports"))
    )
    cfg = load_config(args.config)
    log: list[tuple[str, float, float, str]] = []
    con = _Timed(connect(cfg), log)
    stages = _Stages(con)
    run_stages(
        con,  # type: ignore[arg-type]
        cfg,
        list(ORDER),
        [args.date],
        logging.getLogger("profile_night"),
        force=False,
        progress=stages,  # type: ignore[arg-type]
    )
    by_stage: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for stage, wall, cpu, text in log:
        by_stage[stage].append((wall, cpu, text))
    for stage, rows in by_stage.items():
        wall, cpu = sum(r[0] for r in rows), sum(r[1] for r in rows)
        print(
            f"\n{stage}: stage {stages.walls.get(stage, 0):.1f} s wall; "
            f"its SQL {wall:.1f} s wall, {cpu:.1f} s CPU"
        )
        for w, c, text in sorted(rows, key=lambda r: -r[1])[: args.top]:
            print(f"  {c:6.2f} CPU {w:6.2f} wall  {text}")


if __name__ == "__main__":
    main()
