"""The merchants stage: high-value individual merchants and their counterparty chains.

For the business date: a screen over monthly credit aggregates kept incrementally
(``agg_merchant_inflow_month``: closed months computed once, recomputed only when a delivery
for one of their dates is re-sent, plus the month to date) picks the customers whose window
transactions are read once into a temp table; from those, per-customer signals over the
trailing window (SQL), the scorecard and the detection rule (``models.merchants``), each
merchant's main buyers and suppliers (SQL), market clusters (``models.merchant_network``,
networkx), the merchants table and the prospects at other banks (SQL). See
``docs/merchants.md``.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from pipeline.dates import first_of_month, month_end
from pipeline.sqlfiles import load_sql, run_sql, sql_path, write_partition
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.features import create_refresh_log, log_refresh, stale_months
from pipeline.warehouse import table_exists

INFLOW_AGGREGATE = "agg_merchant_inflow_month"
INFLOW_FEEDS = ("TXN",)
"""The feeds whose re-sent deliveries make a closed month of the aggregate stale."""
INFLOW_VERSION = "1"
"""Stands for the aggregate's definition in ``agg_refresh_log.config_hash``: change it when
``sql/merchants/agg_merchant_inflow_month.sql`` changes, and every stored month is recomputed."""


def refresh_inflow_months(
    con: duckdb.DuckDBPyConnection, business_date: date, window_days: int
) -> int:
    """Compute the closed months of the window missing from, or stale in, the aggregate.

    The months are those of the deliveries that can hold a window transaction: from the
    window's first day to the month before the business date's. Returns how many were stale.
    """
    create_refresh_log(con)
    first = (business_date - timedelta(days=window_days - 1)).replace(day=1)
    current = business_date.replace(day=1)
    closed: list[date] = []
    while first < current:
        closed.append(first)
        first = first_of_month(first, 1)
    exists = table_exists(con, INFLOW_AGGREGATE)
    stale = (
        stale_months(con, INFLOW_AGGREGATE, INFLOW_FEEDS, closed, INFLOW_VERSION)
        if exists
        else closed
    )
    if not stale:
        return 0
    model = load_sql(sql_path(f"merchants/{INFLOW_AGGREGATE}"))
    params = {"month_from": stale[0], "month_to": stale[-1], "as_of": month_end(stale[-1])}
    con.execute(f"create or replace temp table _inflow_months as {model.body}", params)
    if not exists:
        con.execute(f"create table {INFLOW_AGGREGATE} as select * from _inflow_months limit 0")
    con.execute(
        f"delete from {INFLOW_AGGREGATE} where month_start between ? and ?",
        [stale[0], stale[-1]],
    )
    con.execute(f"insert into {INFLOW_AGGREGATE} by name select * from _inflow_months")
    con.execute("drop table _inflow_months")
    span = [m for m in closed if stale[0] <= m <= stale[-1]]
    log_refresh(con, INFLOW_AGGREGATE, span, None, INFLOW_VERSION)
    return len(stale)


def temp_table(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> int:
    """Materialise ``sql/<name>.sql`` as a temp table for this run; return its row count."""
    model = load_sql(sql_path(name))
    con.execute(
        f"create or replace temp table {model.table} as {model.body}",
        {k: params[k] for k in model.params},
    )
    row = con.execute(f"select count(*) from {model.table}").fetchone()
    return int(row[0]) if row else 0


WORK_TABLES = ("int_merchant_screen", "int_merchant_window_txns", "int_merchant_pairs")
"""The temp tables of a run, in the order they are built (``sql/merchants/<name>.sql``)."""


def read_window_txns(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> int:
    """Screen the customers (``int_merchant_screen``), read their window transactions once
    (``int_merchant_window_txns``) and sum them per counterparty (``int_merchant_pairs``),
    all temp tables for this run; return how many customers were screened in."""
    counts = [temp_table(con, f"merchants/{name}", params) for name in WORK_TABLES]
    return counts[0]


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
    stale = refresh_inflow_months(con, day, settings.window_days)
    screened = read_window_txns(con, params)
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
    for name in reversed(WORK_TABLES):
        con.execute(f"drop table {name}")

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
            "merchant_inflow_months_refreshed": stale,
            "merchant_screened": screened,
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
    reads=(
        "stg_transactions",
        "hist_customers",
        "hist_accounts",
        "hist_branches",
        "file_ledger",
    ),
    writes=(
        "agg_merchant_inflow_month",
        "agg_refresh_log",
        "int_merchant_signals",
        "int_merchant_scorecard",
        "int_merchant_counterparties",
        "int_market_clusters",
        "int_merchants",
        "int_merchant_prospects",
    ),
    config_sections=("merchants", "bank_code"),
)
