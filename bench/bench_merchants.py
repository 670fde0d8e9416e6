"""Benchmark: the merchants stage on a large warehouse (default 1 million customers, a year).

Builds the warehouse with :func:`bench.warehouse_1m.build_bench_warehouse` unless the file
exists, then times only the merchants stage for the last date (goal: under 60 seconds).
Detection quality is measured on the generator's data instead
(``python -m pipeline.evaluate_merchants``): the bench warehouse has no ground truth.

Usage::

    python -m bench.bench_merchants var/bench/warehouse_1m.duckdb --customers 1000000
"""

from __future__ import annotations

import argparse
import logging
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
) -> dict[str, Any]:
    """Time the merchants stage for ``end`` on the warehouse at ``path`` (built if missing).

    ``memory_limit`` (e.g. ``4GB``) caps DuckDB so that it spills to disk instead of being
    killed when other processes share the machine.
    """
    from bench.warehouse_1m import build_bench_warehouse
    from pipeline.config import load_config
    from pipeline.stages.base import StageContext, run_stage
    from pipeline.stages.merchants import STAGE
    from pipeline.warehouse import RunLedger, migrate

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
        ctx = StageContext(
            con=con,
            cfg=cfg,
            business_date=end,
            ledger=RunLedger(con, cfg.fingerprint()),
            log=logging.getLogger("bench"),
        )
        started = time.monotonic()
        rows = run_stage(ctx, STAGE)
        seconds = round(time.monotonic() - started, 1)
        n_txn = con.execute("select count(*) from stg_transactions").fetchone()
        n_cust = con.execute("select count(distinct customer_id) from hist_customers").fetchone()
    finally:
        con.close()
    return {
        "stage": "merchants",
        "customers": n_cust[0] if n_cust else None,
        "transactions": n_txn[0] if n_txn else None,
        "business_date": str(end),
        "merchants": rows,
        "seconds": seconds,
        "goal_seconds": GOAL_SECONDS,
        "within_goal": seconds <= GOAL_SECONDS,
        "build_seconds": build_seconds,
        "memory_limit": limit,
        **{k: v for k, v in ctx.facts.items() if k != "merchants"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the merchants stage at scale.")
    parser.add_argument("path", type=Path, nargs="?", default=Path("var/bench/warehouse_1m.duckdb"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 4GB")
    args = parser.parse_args()
    print(bench_merchants(args.path, args.customers, args.days, args.end, args.memory_limit))


if __name__ == "__main__":
    main()
