"""Benchmark: the merchants stage on a large warehouse (default 1 million customers, a year).

Builds the warehouse with :func:`bench.warehouse_1m.build_bench_warehouse` unless the file
exists, then times the merchants stage for the last date:

1. the first night: the stage's monthly credit aggregate (``agg_merchant_inflow_month``) is
   dropped first, so the stage computes the window's closed months from the raw rows;
2. a normal night (median of ``--repeats`` runs): the closed months are up to date, so only
   the month to date is read for the screen.

Goal: a normal night under 60 seconds. Wall time depends on what else runs on the machine, so
the CPU seconds of this process (DuckDB's threads included) are printed too: CPU seconds /
cores is the wall time on an otherwise idle machine, at best. Detection quality is measured on
the generator's data instead (``python -m pipeline.evaluate.merchants``): the bench warehouse
has no ground truth. The stage writes its tables into the warehouse: run it on a copy.

Usage::

    python -m bench.bench_merchants var/bench/warehouse_1m.duckdb [--repeats 3] [--memory-limit 6GB]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

GOAL_SECONDS = 60.0


def bench_merchants(
    path: Path,
    customers: int = 1_000_000,
    days: int = 365,
    end: date = date(2026, 11, 27),
    memory_limit: str | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """Time the merchants stage for ``end`` on the warehouse at ``path`` (built if missing):
    a first night without the stage's aggregate, then ``repeats`` normal nights.

    ``memory_limit`` (e.g. ``6GB``) caps DuckDB so that it spills to disk instead of being
    killed when other processes share the machine.
    """
    from bench.warehouse_1m import build_bench_warehouse
    from pipeline.config import load_config
    from pipeline.stages.base import StageContext, run_stage
    from pipeline.stages.merchants import INFLOW_AGGREGATE, STAGE
    from pipeline.warehouse import RunLedger, migrate, table_exists

    build_seconds = None
    if not path.exists():
        built = build_bench_warehouse(path, customers=customers, days=days, end=end)
        build_seconds = built["seconds"]
    cfg = load_config(Path("configs/default.yaml"), environ={})
    con = duckdb.connect(str(path))
    try:
        migrate(con)
        limit = memory_limit or cfg.warehouse.memory_limit
        if limit:
            con.execute("set memory_limit = ?", [limit])
        if cfg.warehouse.threads:
            con.execute(f"set threads = {int(cfg.warehouse.threads)}")
        con.execute(f"drop table if exists {INFLOW_AGGREGATE}")
        if table_exists(con, "agg_refresh_log"):
            con.execute("delete from agg_refresh_log where table_name = ?", [INFLOW_AGGREGATE])

        def night() -> tuple[float, float, int, dict[str, object]]:
            ctx = StageContext(
                con=con,
                cfg=cfg,
                business_date=end,
                ledger=RunLedger(con, cfg.fingerprint()),
                log=logging.getLogger("bench"),
            )
            wall, cpu = time.perf_counter(), time.process_time()
            rows = run_stage(ctx, STAGE)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"  merchants: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
            return wall, cpu, rows, dict(ctx.facts)

        first_wall, first_cpu, _, _ = night()
        nights = [night() for _ in range(repeats)]
        n_txn = con.execute("select count(*) from stg_transactions").fetchone()
        n_cust = con.execute("select count(distinct customer_id) from hist_customers").fetchone()
    finally:
        con.close()
    seconds = round(statistics.median(n[0] for n in nights), 1)
    facts = nights[-1][3]
    return {
        "stage": "merchants",
        "customers": n_cust[0] if n_cust else None,
        "transactions": n_txn[0] if n_txn else None,
        "business_date": str(end),
        "merchants": nights[-1][2],
        "first_night_seconds": round(first_wall, 1),
        "first_night_cpu_seconds": round(first_cpu, 1),
        "seconds": seconds,
        "cpu_seconds": round(statistics.median(n[1] for n in nights), 1),
        "nights_seconds": [round(n[0], 1) for n in nights],
        "goal_seconds": GOAL_SECONDS,
        "within_goal": seconds <= GOAL_SECONDS,
        "build_seconds": build_seconds,
        "memory_limit": limit,
        **{k: v for k, v in facts.items() if k != "merchants"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the merchants stage at scale.")
    parser.add_argument("path", type=Path, nargs="?", default=Path("var/bench/warehouse_1m.duckdb"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 6GB")
    parser.add_argument("--repeats", type=int, default=3, help="normal nights to time")
    args = parser.parse_args()
    print(
        bench_merchants(
            args.path, args.customers, args.days, args.end, args.memory_limit, args.repeats
        )
    )


if __name__ == "__main__":
    main()
