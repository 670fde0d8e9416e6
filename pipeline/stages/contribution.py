"""The contribution stage: profit contribution per customer, and the check that it adds up.

Builds ``int_customer_product_contribution`` (customer × account branch × product),
``int_customer_contribution`` (one row per customer) and ``chk_contribution_reconciliation``
(each component summed over customers against the portfolio-level figure, per branch and
product). A difference beyond rounding fails the stage, naming branch, product and component.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.errors import CheckFailed, StageFailed
from pipeline.sqlfiles import run_sql
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.features import (
    drop_current_parts,
    load_reference_tables,
    refresh_window_parts,
    window_of,
)


def check_reconciliation(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> int:
    """Materialise the reconciliation check for the date; raise on any mismatch.

    Raises
    ------
    StageFailed
        Naming the first mismatching branch, product and component (and how many more).
    """
    rows = run_sql(con, "checks/chk_contribution_reconciliation", params)
    bad = con.execute(
        "select branch_id, product_code, component, customer_sum_amount, portfolio_amount "
        "from chk_contribution_reconciliation where business_date = ? and not is_ok "
        "order by abs(difference_amount) desc",
        [params["business_date"]],
    ).fetchall()
    if bad:
        branch, product, component, summed, portfolio = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise CheckFailed(
            f"contribution does not reconcile for branch {branch}, product {product}, "
            f"component {component}: customers sum to {summed}, portfolio gives {portfolio}"
            f"{more}; see chk_contribution_reconciliation"
        )
    return rows


def _has_current_aggregates(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> bool:
    try:
        row = con.execute(
            "select count(*) from agg_account_balance_month "
            "where month_start = $month_start and as_of_date = $business_date "
            "union all select count(*) from agg_customer_txn_month "
            "where month_start = $month_start and as_of_date = $business_date",
            {k: params[k] for k in ("business_date", "month_start")},
        ).fetchall()
    except duckdb.CatalogException:
        return False
    return any(r[0] for r in row)


def run(ctx: StageContext) -> int:
    """Profit contribution per customer over the trailing window, reconciled to the portfolio."""
    cfg = ctx.cfg
    window = window_of(cfg, ctx.business_date)
    params: dict[str, Any] = {
        **window.params(),
        "day_count_days": cfg.economics.day_count_days,
        "tolerance_per_row": cfg.economics.reconciliation_tolerance_per_row,
    }
    if not _has_current_aggregates(ctx.con, params):
        raise StageFailed(
            f"no monthly aggregates as of {ctx.business_date}: run "
            f"`cvp features --date {ctx.business_date}` first"
        )
    load_reference_tables(ctx.con, cfg)
    economics_hash = cfg.section_fingerprint("economics")
    for table in ("agg_customer_contribution_parts", "agg_portfolio_contribution_parts"):
        ctx.facts.update(refresh_window_parts(ctx.con, table, window, params, economics_hash))
    ctx.facts["product_rows"] = run_sql(
        ctx.con, "contribution/int_customer_product_contribution", params
    )
    rows = run_sql(ctx.con, "contribution/int_customer_contribution", params)
    ctx.facts["reconciliation_rows"] = check_reconciliation(ctx.con, params)
    # the portfolio's month to date (a few hundred rows) stays for a re-check of the date
    drop_current_parts(ctx.con, ("agg_customer_contribution_parts",))
    summary = ctx.con.execute(
        "select sum(contribution_amount), avg((contribution_amount < 0)::int) "
        "from int_customer_contribution where business_date = ?",
        [ctx.business_date],
    ).fetchone()
    if summary:
        ctx.facts["contribution_total"] = str(summary[0])
        ctx.facts["negative_share"] = summary[1]
    return rows


STAGE = Stage(
    name="contribution",
    run=run,
    needs=("features",),
    reads=("agg_account_balance_month", "agg_customer_txn_month", "hist_customers"),
    writes=(
        "agg_customer_contribution_parts",
        "agg_portfolio_contribution_parts",
        "int_customer_product_contribution",
        "int_customer_contribution",
        "chk_contribution_reconciliation",
    ),
    config_sections=("features", "economics"),
)
