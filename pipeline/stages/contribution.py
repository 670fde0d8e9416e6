"""The contribution stage: profit contribution per customer, and the check that it adds up.

Builds ``int_customer_product_contribution`` (customer × account branch × product),
``int_customer_contribution`` (one row per customer, a yearly figure with economic profit
beside it) and ``chk_contribution_reconciliation`` (each component summed over customers
against the same component recomputed from the loaded accounts and transactions, per branch
and product). A difference beyond rounding fails the stage, naming branch, product and
component. The rules are in docs/contribution.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from pipeline.config import Config
from pipeline.dates import month_end
from pipeline.engine.base import Engine
from pipeline.errors import CheckFailed
from pipeline.sqlfiles import load_sql, observe, sql_path
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.features import (
    AGGREGATES,
    Window,
    aggregate_params,
    create_refresh_log,
    drop_current_parts,
    ensure_aggregates,
    load_reference_tables,
    log_refresh,
    refresh_closed_aggregates,
    refresh_monthly,
    refresh_window_parts,
    stale_months,
    window_of,
)


def check_reconciliation(engine: Engine, params: dict[str, Any]) -> int:
    """Materialise the reconciliation check for the date; raise on any mismatch.

    Raises
    ------
    StageFailed
        Naming the first mismatching branch, product and component (and how many more).
    """
    rows = engine.run_file("checks/chk_contribution_reconciliation", params)
    bad = engine.read(
        "select branch_id, product_code, component, customer_sum_amount, source_amount "
        "from chk_contribution_reconciliation where business_date = $day and not is_ok "
        "order by abs(difference_amount) desc, branch_id, product_code, component",
        {"day": params["business_date"]},
    ).rows()
    if bad:
        branch, product, component, summed, source = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise CheckFailed(
            f"contribution does not reconcile for branch {branch}, product {product}, "
            f"component {component}: customers sum to {summed}, the loaded accounts and "
            f"transactions give {source}{more}; see chk_contribution_reconciliation"
        )
    return rows


@dataclass(frozen=True)
class RollingYear:
    """The days a night's contribution covers: the last ``annual_days`` up to the business
    date, or all the warehouse holds when that is less. The window's closed months and month
    to date are taken whole; of the month before them (``oldest_days`` of its
    ``oldest_month_days``) the share that falls in the rolling year, pro rata."""

    history_days: int
    oldest_days: int
    oldest_month_days: int

    def start(self, business_date: date) -> date:
        return business_date - timedelta(days=self.history_days - 1)


def history_start(con: duckdb.DuckDBPyConnection, day: date) -> date | None:
    """The first day the warehouse holds balances for, as of ``day``: the date of the first
    account snapshot loaded (``file_ledger``, feed ACCT); None when none is."""
    row = con.execute(
        "select min(business_date) from file_ledger where feed = 'ACCT' "
        "and outcome in ('loaded', 'replaced') and business_date <= ?",
        [day],
    ).fetchone()
    return row[0] if row else None


def rolling_year(con: duckdb.DuckDBPyConnection, window: Window, annual_days: int) -> RollingYear:
    """The rolling year of the window's business date (see :class:`RollingYear`): history
    starts at the first account snapshot loaded (:func:`history_start`)."""
    day = window.business_date
    first = history_start(con, day) or window.oldest_month
    oldest_month_days = (window.window_start - window.oldest_month).days
    window_days = (day - window.window_start).days + 1
    if first > window.oldest_month:  # less than the oldest month's worth of history
        return RollingYear((day - max(window.window_start, first)).days + 1, 0, oldest_month_days)
    oldest_days = min(oldest_month_days, max(0, annual_days - window_days))
    return RollingYear(window_days + oldest_days, oldest_days, oldest_month_days)


def contribution_params(
    con: duckdb.DuckDBPyConnection, cfg: Config, business_date: date
) -> dict[str, Any]:
    """Every parameter the contribution SQL files take for a business date."""
    eco = cfg.economics
    window = window_of(cfg, business_date)
    year = rolling_year(con, window, eco.annual_days)
    return {
        **window.params(),
        "oldest_month": window.oldest_month,
        "oldest_days": year.oldest_days,
        "oldest_month_days": year.oldest_month_days,
        "history_days": year.history_days,
        "contribution_start": year.start(business_date),
        "with_stored_parts": True,
        "chunk_customers": cfg.warehouse.chunk_customers,
        "day_count_days": eco.day_count_days,
        "annual_days": eco.annual_days,
        "tolerance_per_row": eco.reconciliation_tolerance_per_row,
        "reserve_ratio_percent": eco.reserve_requirement.ratio_percent,
        "reserve_rate_percent": eco.reserve_requirement.remuneration_rate_percent,
        "default_risk_weight_percent": eco.capital.default_risk_weight_percent,
        "capital_cost_percent": eco.capital.capital_ratio_percent
        * eco.capital.hurdle_rate_percent
        / 100,
        **aggregate_params(cfg, "agg_account_balance_month"),
        **aggregate_params(cfg, "agg_card_cycle_month"),
    }


def run(ctx: StageContext) -> int:
    """Profit contribution per customer over the trailing window, reconciled to the source."""
    cfg = ctx.cfg
    window = window_of(cfg, ctx.business_date)
    params = contribution_params(ctx.con, cfg, ctx.business_date)
    # the month to date as of this date (a later date of the month may have replaced it)
    engine = ctx.engine
    ctx.facts.update(ensure_aggregates(ctx.con, cfg, ctx.business_date, engine=engine))
    economics_hash = cfg.section_fingerprint("economics")
    ctx.facts.update(
        refresh_window_parts(
            ctx.con,
            "agg_customer_contribution_parts",
            window,
            params,
            economics_hash,
            stored_parts=("closed", "oldest"),
            engine=engine,
        )
    )
    ctx.facts["history_days"] = params["history_days"]
    ctx.facts.update(
        refresh_monthly(
            ctx.con,
            "contribution/agg_source_contribution_month",
            ("ACCT", "TXN"),
            window,
            economics_hash,
            params,
            engine=engine,
        )
    )
    ctx.facts["product_rows"] = engine.run_file(
        "contribution/int_customer_product_contribution", params
    )
    rows = engine.run_file("contribution/int_customer_contribution", params)
    ctx.facts["reconciliation_rows"] = check_reconciliation(engine, params)
    drop_current_parts(ctx.con, ("agg_customer_contribution_parts",), engine)
    summary = engine.read(
        "select sum(contribution_amount) as total, "
        "avg(case when contribution_amount < 0 then 1 else 0 end) as negative_share "
        "from int_customer_contribution where business_date = $day",
        {"day": ctx.business_date},
    ).row(0)
    ctx.facts["contribution_total"] = str(summary[0])
    ctx.facts["negative_share"] = summary[1]
    return rows


MONTHLY_COLUMNS = (
    "cast(null as varchar) as customer_id, cast(null as date) as month_start, "
    "cast(null as decimal(18, 6)) as contribution_amount"
)
"""The columns of ``agg_customer_contribution_month`` (a select list of typed NULLs)."""


def refresh_monthly_contribution(
    con: duckdb.DuckDBPyConnection, engine: Engine, cfg: Config, months: list[date]
) -> int:
    """Keep ``agg_customer_contribution_month`` (customer_id, month_start: the contribution of
    one closed month, not annualised) for ``months``: a month is computed when missing, under
    another economics config, or when deliveries for it arrived since (the golden-customer
    rule ranks customers month by month from it). The table lives on ``engine``, its refresh
    log (``agg_refresh_log``) on ``con``. Returns the months computed."""
    load_reference_tables(con, cfg, engine)
    refresh_closed_aggregates(con, cfg, months, engine)
    table = "agg_customer_contribution_month"
    create_refresh_log(con)
    economics_hash = cfg.section_fingerprint("economics")
    stale = (
        stale_months(con, table, ("ACCT", "TXN"), months, economics_hash, inputs=tuple(AGGREGATES))
        if engine.table_exists(table)
        else list(months)
    )
    pricing = load_sql(sql_path("contribution/int_customer_product_contribution"))
    for month in stale:
        last = month_end(month)
        params = {
            **contribution_params(con, cfg, last),
            "month_from": month,
            "month_to": month,
            # the month alone, not annualised
            "history_days": last.day,
            "annual_days": last.day,
            "oldest_days": 0,
            "oldest_month_days": 1,
            "with_stored_parts": False,
            "customer_from": "",  # every customer in one pass
            "customer_to": None,
        }
        refresh_window_parts(
            con,
            "agg_customer_contribution_parts",
            window_of(cfg, last),
            params,
            "",
            (),
            engine=engine,
        )
        args = {k: params[k] for k in pricing.params}
        observe(con, pricing, args)
        engine.replace_where(
            table,
            f"select customer_id, date '{month}' as month_start, "
            "cast(sum(contribution_amount) as decimal(18, 6)) as contribution_amount "
            f"from ({pricing.body}) group by customer_id",
            f"month_start = date '{month}'",
            args,
            key="month_start",
        )
        log_refresh(con, table, [month], None, economics_hash)
    if not engine.table_exists(table):  # no month asked for: read empty by the SQL files
        engine.replace_where(
            table, f"select {MONTHLY_COLUMNS} where false", "false", key="month_start"
        )
    drop_current_parts(con, ("agg_customer_contribution_parts",), engine)
    return len(stale)


STAGE = Stage(
    name="contribution",
    run=run,
    needs=("features",),
    reads=(
        "agg_account_balance_month",
        "agg_customer_txn_month",
        "agg_card_cycle_month",
        "hist_customers",
        "hist_accounts",
        "stg_transactions",
        "file_ledger",
    ),
    writes=(
        "agg_customer_contribution_parts",
        "agg_source_contribution_month",
        "int_customer_product_contribution",
        "int_customer_contribution",
        "chk_contribution_reconciliation",
    ),
    config_sections=("features", "economics"),
    engines=("duckdb", "spark"),
)
