"""The merchants stage: high-value individual merchants and their counterparty chains.

For the business date: per-customer signals over the trailing window (SQL), the scorecard
and the detection rule (``models.merchants``), each merchant's main buyers and suppliers
(SQL), market clusters (``models.merchant_network``, networkx), the merchants table and the
prospects at other banks (SQL). See ``docs/merchants.md``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb

from pipeline.sqlfiles import run_sql
from pipeline.stages.base import Stage, StageContext

if TYPE_CHECKING:
    import polars as pl


def write_partition(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, business_date: date
) -> int:
    """Replace the rows of ``business_date`` in ``table`` with ``frame`` (created if missing)."""
    arrow = frame.to_arrow()
    con.register("_partition_rows", arrow)
    try:
        con.execute(f"create table if not exists {table} as select * from _partition_rows limit 0")
        con.execute(f"delete from {table} where business_date = $d", {"d": business_date})
        con.execute(f"insert into {table} by name select * from _partition_rows")
    finally:
        con.unregister("_partition_rows")
    return frame.height


def run(ctx: StageContext) -> int:
    """Detect high-value individual merchants and map their buyers, suppliers and clusters."""
    import polars as pl

    from models.merchant_network import find_market_clusters
    from models.merchants import score_merchants

    con, day, settings = ctx.con, ctx.business_date, ctx.cfg.merchants
    params: dict[str, object] = {
        "business_date": day,
        "window_days": settings.window_days,
        "annualise": settings.annualise,
        "candidate_min_amount": settings.candidate_min_amount,
        "small_payment_max_amount": settings.small_payment_max_amount,
        "round_amount_unit": settings.round_amount_unit,
        "recurring_supplier_min_months": settings.recurring_supplier_min_months,
        "top_suppliers": settings.top_suppliers,
        "pass_through_days": settings.pass_through_days,
        "max_buyers": settings.max_buyers,
        "max_suppliers": settings.max_suppliers,
        "bank_code": ctx.cfg.bank_code,
        "prospect_min_amount": settings.prospect_min_amount,
    }
    candidates = run_sql(con, "merchants/int_merchant_signals", params)
    signals = con.execute(
        "select * from int_merchant_signals where business_date = $d and history_days >= $min_days",
        {"d": day, "min_days": settings.min_history_days},
    ).pl()
    scored = score_merchants(signals, settings).with_columns(
        business_date=pl.lit(day, dtype=pl.Date)
    )
    write_partition(con, "int_merchant_scorecard", scored, day)

    run_sql(con, "merchants/int_merchant_counterparties", params)
    detected = signals.join(
        scored.filter("is_merchant").select("customer_id"), on="customer_id", how="semi"
    ).select("customer_id", "turnover_amount", "home_branch_id", "is_market_home_branch")
    counterparties = con.execute(
        "select customer_id, counterparty_key from int_merchant_counterparties "
        "where business_date = $d",
        {"d": day},
    ).pl()
    clusters = find_market_clusters(detected, counterparties, settings.clusters)
    clusters = clusters.with_columns(
        pl.col("turnover_amount").cast(pl.Decimal(18, 2)),
        business_date=pl.lit(day, dtype=pl.Date),
    )
    write_partition(con, "int_market_clusters", clusters, day)

    merchants = run_sql(con, "merchants/int_merchants", params)
    prospects = run_sql(con, "merchants/int_merchant_prospects", params)

    summary = con.execute(
        "select count(*) filter (where not is_declared), "
        "coalesce(sum(turnover_amount) filter (where not is_declared), 0), "
        "coalesce(sum(turnover_amount), 0) "
        "from int_merchants where business_date = $d",
        {"d": day},
    ).fetchone()
    undeclared, undeclared_amount, total_amount = summary if summary else (0, 0, 0)
    ctx.facts.update(
        {
            "merchant_candidates": candidates,
            "merchants": merchants,
            "merchants_undeclared": int(undeclared),
            "merchants_undeclared_turnover_amount": float(undeclared_amount),
            "merchants_turnover_amount": float(total_amount),
            "market_clusters": clusters.height,
            "merchant_prospects": prospects,
        }
    )
    ctx.log.info(
        "merchants detected",
        extra={"business_date": day, **ctx.facts},
    )
    return merchants


STAGE = Stage(
    name="merchants",
    run=run,
    needs=("ingest",),
    reads=("stg_transactions", "hist_customers", "hist_accounts", "hist_branches"),
    writes=(
        "int_merchant_signals",
        "int_merchant_scorecard",
        "int_merchant_counterparties",
        "int_market_clusters",
        "int_merchants",
        "int_merchant_prospects",
    ),
    config_sections=("merchants", "bank_code"),
)
