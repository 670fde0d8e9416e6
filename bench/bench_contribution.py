"""Benchmark: the features and contribution stages on 1 million customers and a year.

Builds the warehouse with :func:`bench.warehouse_1m.build_bench_warehouse` unless the file
exists, drops every table the two stages derive, then, for the last date:

1. the first night: the monthly aggregates do not exist yet, so the features stage backfills
   the 11 closed months of the window and the current month, then contribution runs;
2. a normal night (median of ``--repeats`` runs): closed months are up to date, so features
   recomputes only the current month (its window parts live in temp tables), then
   contribution and its reconciliation check run. Each repeat re-runs the same date, so it
   also deletes that date's partitions first (a real night writes a new date).

The bench writes to the warehouse: point it at your own copy, never at a shared read-only file.

Goal: features + contribution on a normal night under 60 seconds. Wall time depends on what
else runs on the machine, so the CPU seconds of this process (DuckDB's threads included) are
printed too: CPU seconds / cores is the wall time on an otherwise idle machine, at best.
Measured 2026-11-29 (shared 2-core machine, memory limit 6GB, ``--repeats 2``): a normal
night 47.8 s wall, 83 s CPU; the first night 439 s wall, 628 s CPU. See docs/tables.md
(contribution, Speed) for where the time goes.

Usage::

    python -m bench.bench_contribution [var/bench/warehouse_1m.duckdb] [--repeats 3]
        [--memory-limit 6GB]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.stages.contribution import STAGE as CONTRIBUTION
from pipeline.stages.features import STAGE as FEATURES

GOAL_SECONDS = 60.0
DERIVED = FEATURES.writes + CONTRIBUTION.writes
"""Tables the two stages derive: dropped first, so the first night starts from nothing."""
DEFAULT_PATH = Path("var/bench/warehouse_1m.duckdb")


def bench_contribution(
    path: Path = DEFAULT_PATH,
    customers: int = 1_000_000,
    days: int = 365,
    end: date = date(2026, 11, 27),
    repeats: int = 3,
    memory_limit: str | None = "6GB",
) -> dict[str, Any]:
    """Time features + contribution for ``end`` on the warehouse at ``path`` (built if missing)."""
    from bench.warehouse_1m import build_bench_warehouse
    from pipeline.config import load_config
    from pipeline.runner import run_stages
    from pipeline.warehouse import connect

    out: dict[str, Any] = {}
    if not path.exists():
        built = build_bench_warehouse(path, customers=customers, days=days, end=end)
        out["build_seconds"] = built["seconds"]
        print(f"built {path} in {built['seconds']} s")
    cfg = load_config(None, {"warehouse": path})
    log = logging.getLogger("bench")
    con = connect(cfg)
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    out["memory_limit"] = memory_limit
    for table in DERIVED:  # a true first night
        con.execute(f"drop table if exists {table}")
    out["transactions"] = con.execute("select count(*) from stg_transactions").fetchone()[0]  # type: ignore[index]

    cpu: dict[str, float] = {}

    def timed(stage: str) -> float:
        t, c = time.perf_counter(), time.process_time()
        run_stages(con, cfg, [stage], [end], log)
        seconds = time.perf_counter() - t
        cpu[stage] = time.process_time() - c
        print(f"  {stage}: {seconds:.1f} s wall, {cpu[stage]:.1f} s CPU", flush=True)
        return seconds

    out["first_night_features_seconds"] = timed("features")
    out["first_night_contribution_seconds"] = timed("contribution")
    out["first_night_cpu_seconds"] = cpu["features"] + cpu["contribution"]
    nights = []
    night_cpu = []
    for _ in range(repeats):
        f = timed("features")
        c = timed("contribution")
        nights.append((f, c, f + c))
        night_cpu.append(cpu["features"] + cpu["contribution"])
    out["night_features_seconds"] = statistics.median(n[0] for n in nights)
    out["night_contribution_seconds"] = statistics.median(n[1] for n in nights)
    out["night_total_seconds"] = statistics.median(n[2] for n in nights)
    out["night_runs"] = [round(n[2], 1) for n in nights]
    out["night_cpu_seconds"] = statistics.median(night_cpu)
    out["night_cpu_runs"] = [round(c, 1) for c in night_cpu]
    out["cpu_cores"] = os.cpu_count()
    out["customers"] = con.execute(
        "select count(*) from int_customer_contribution where business_date = ?", [end]
    ).fetchone()[0]  # type: ignore[index]
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=DEFAULT_PATH)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    args = parser.parse_args()
    out = bench_contribution(
        args.path,
        args.customers,
        args.days,
        repeats=args.repeats,
        memory_limit=args.memory_limit,
    )
    for key, value in out.items():
        print(f"{key:36s} {round(value, 2) if isinstance(value, float) else value}")
    verdict = "meets" if out["night_total_seconds"] < GOAL_SECONDS else "misses"
    print(
        f"features + contribution, normal night: {out['night_total_seconds']:.1f} s "
        f"({verdict} the {GOAL_SECONDS:.0f} s goal)"
    )


if __name__ == "__main__":
    main()
