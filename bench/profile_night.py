"""Where a night's time goes: every SQL statement of ``cvp run``'s stages, timed.

Runs the stages of one date in this process on a warehouse (use a copy: the night is written
into it), through a proxy of the DuckDB connection that times each ``execute`` (wall, and the
process's CPU, which includes DuckDB's threads) and notes, after it, the memory of DuckDB's
scratch tables and uncommitted rows (``duckdb_memory()``'s ``IN_MEMORY_TABLE``: in memory,
and offloaded to temp files). It prints per stage the SQL's total and its largest statements.
A stage's time beyond its SQL is Python (reading files, fitting models). The analysts'
snapshot and the exports' files are not SQL and are not listed.

``--save`` keeps every statement in a JSON file; ``compare`` lines up two saved profiles of
different sizes statement by statement (literals and numbers ignored, repeats summed) and
lists those whose CPU grew most beyond the sizes' ratio: where a night stops growing linearly.
A checkpoint's cost falls on the statement whose commit finds the WAL large enough, and that
differs between sizes (a stage's commit, the ledger's update after it, the next stage's first
insert): ``compare`` counts those statements of every stage as one line.

Usage::

    cp var/bench/night_1000000.duckdb /tmp/w.duckdb
    python -m bench.profile_night /tmp/w.duckdb --landing var/bench/night_1000000_landing \\
        --date 2026-11-28 [--config var/bench/night_config.yaml] [--top 8] [--save p1m.json]
        [--stages features,contribution --force]   # a spent warehouse's night again
    python -m bench.profile_night compare p1m.json p2m.json --scale 2 [--top 25]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
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

Statement = tuple[str, float, float, str, int, int]
"""stage, wall s, CPU s, the SQL on one line, scratch MB in memory and in temp files after it"""


class _Timed:
    """A DuckDB connection whose ``execute`` calls are timed into ``log``; ``probe`` (another
    cursor of the same database) reads the memory after each."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        log: list[Statement],
        probe: duckdb.DuckDBPyConnection,
    ):
        self._con = con
        self._log = log
        self._probe = probe
        self.stage = "?"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, query: object, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.monotonic(), time.process_time()
        result = self._con.execute(query, *args, **kwargs)  # type: ignore[arg-type]
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        row = self._probe.execute(
            "select memory_usage_bytes, temporary_storage_bytes from duckdb_memory() "
            "where tag = 'IN_MEMORY_TABLE'"
        ).fetchone()
        memory, offloaded = (int(row[0]) >> 20, int(row[1]) >> 20) if row else (0, 0)
        self._log.append((self.stage, wall, cpu, " ".join(str(query).split()), memory, offloaded))
        return result

    def cursor(self) -> _Timed:
        timed = _Timed(self._con.cursor(), self._log, self._probe)
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


def profile(args: argparse.Namespace) -> None:
    """Run the night through the timed proxy, print it per stage, save it if asked."""
    # the paths come from the environment, which overrides the config's, as in bench_night
    os.environ.update(
        night_env(args.warehouse, args.landing, args.warehouse.with_suffix(".exports"))
    )
    cfg = load_config(args.config)
    log: list[Statement] = []
    raw = connect(cfg)
    con = _Timed(raw, log, raw.cursor())
    stages = _Stages(con)
    run_stages(
        con,  # type: ignore[arg-type]
        cfg,
        args.stages.split(",") if args.stages else list(ORDER),
        [args.date],
        logging.getLogger("profile_night"),
        force=args.force,
        progress=stages,  # type: ignore[arg-type]
    )
    by_stage: dict[str, list[Statement]] = defaultdict(list)
    for statement in log:
        by_stage[statement[0]].append(statement)
    for stage, rows in by_stage.items():
        wall, cpu = sum(r[1] for r in rows), sum(r[2] for r in rows)
        peak = max(r[4] + r[5] for r in rows)
        print(
            f"\n{stage}: stage {stages.walls.get(stage, 0):.1f} s wall; "
            f"its SQL {wall:.1f} s wall, {cpu:.1f} s CPU; scratch up to {peak:,} MB"
        )
        for _, w, c, text, memory, offloaded in sorted(rows, key=lambda r: -r[2])[: args.top]:
            print(f"  {c:6.2f} CPU {w:6.2f} wall {memory:6,}+{offloaded:,} MB  {text[:110]}")
    if args.save:
        args.save.write_text(json.dumps({"walls": stages.walls, "statements": log}))


CHECKPOINTED = ("commit", "insert into run_ledger", "update run_ledger")
"""The statements a checkpoint's cost falls on (one of them, depending on the WAL's size)."""


def _shape(stage: str, sql: str) -> tuple[str, str]:
    """A statement's stage and text without its literals and numbers, so a range's or a
    month's pass matches another size's; the statements a checkpoint may fall on are one."""
    if sql.startswith(CHECKPOINTED):
        return "(every stage)", "commits and run_ledger writes: where the checkpoints fall"
    return stage, re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "'?'", sql))


def compare(args: argparse.Namespace) -> None:
    """Statement by statement, the CPU of two saved profiles; the largest growth beyond
    ``--scale`` (the sizes' ratio) first."""
    sums: list[dict[tuple[str, str], float]] = []
    for path in (args.smaller, args.larger):
        cpu: dict[tuple[str, str], float] = defaultdict(float)
        for stage, _, c, text, *_ in json.loads(path.read_text())["statements"]:
            cpu[_shape(stage, text)] += c
        sums.append(cpu)
    small, large = sums
    for stage in dict.fromkeys(s for s, _ in large):
        a = sum(c for (s, _), c in small.items() if s == stage)
        b = sum(c for (s, _), c in large.items() if s == stage)
        print(f"{stage:13s} SQL CPU {a:7.1f} -> {b:7.1f} s  x{b / a if a else 0:.2f}")
    print(f"\nlargest growth beyond x{args.scale} (CPU s: smaller, larger, excess):")
    keys = sorted(set(small) | set(large), key=lambda k: args.scale * small[k] - large[k])
    for key in keys[: args.top]:
        a, b = small[key], large[key]
        print(f"  {a:6.2f} {b:7.2f} {b - args.scale * a:+7.2f}  {key[0]:12s} {key[1][:100]}")


def main() -> None:
    if sys.argv[1:2] == ["compare"]:
        parser = argparse.ArgumentParser(description="Two saved profiles, statement by statement")
        parser.add_argument("command")
        parser.add_argument("smaller", type=Path)
        parser.add_argument("larger", type=Path)
        parser.add_argument("--scale", type=float, required=True, help="customers larger/smaller")
        parser.add_argument("--top", type=int, default=25)
        compare(parser.parse_args())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--config", type=Path, default=BENCH_DIR / "night_config.yaml")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--save", type=Path, help="keep every statement in this JSON file")
    parser.add_argument("--stages", help="these stages only, comma-separated (default: all)")
    parser.add_argument(
        "--force", action="store_true", help="re-run a date the warehouse already ran"
    )
    profile(parser.parse_args())


if __name__ == "__main__":
    main()
