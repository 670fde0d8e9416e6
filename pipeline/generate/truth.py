"""Ground truth: one row per customer with what the generator made them, for judging later
stages (merchant detection, decoys, lifecycles, growth)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.generate.population import DECOYS, LIFECYCLES, PERSONAS, P
from pipeline.generate.trade import trading_days_per_year
from pipeline.generate.world import World


def _dates(w: World, day: np.ndarray, valid: np.ndarray) -> pl.Series:
    values = w.start + np.where(valid, day, 0).astype("timedelta64[D]")
    return pl.Series(values).cast(pl.Date).set(pl.Series(~valid), None)


def truth_frame(w: World) -> pl.DataFrame:
    """The ground-truth table (see the module docstring for its purpose).

    Parameters
    ----------
    w
        The world after the simulation (statuses reflect the last day).

    Returns
    -------
    pl.DataFrame
        One row per customer_id, sorted by customer_id.
    """
    c = w.cust
    m = w.merch
    n = c.n
    persona = np.array(PERSONAS)[c.persona]
    is_merchant = c.persona == P["merchant"]
    turnover = np.full(n, np.nan)
    sales = np.full(n, np.nan)
    cash_share = np.full(n, np.nan)
    days_per_week = np.full(n, np.nan)
    buyers = np.zeros(n, dtype=np.int64)
    suppliers = np.zeros(n, dtype=np.int64)
    cluster = np.full(n, -1, dtype=np.int64)
    total = (m.turnover_cents + m.expected_supplier_inflow_cents) / 100
    turnover[m.cust] = np.round(total, 2)
    sales[m.cust] = m.turnover_cents / 100
    cash_share[m.cust] = np.round(m.cash_share, 3)
    days_per_week[m.cust] = np.round(trading_days_per_year(m.day_off) / 365 * 7)
    buyers[m.cust] = m.buyer_count
    suppliers[m.cust] = m.supplier_count
    cluster[m.cust] = m.cluster
    # Our own customers who trade with the merchants (counterparty chain).
    acct_owner = w.acct.cust
    own_buyer = np.zeros(n, dtype=bool)
    own_supplier = np.zeros(n, dtype=bool)
    b = m.buyers[m.buyers < w.acct.n]
    s = m.suppliers[m.suppliers < w.acct.n]
    own_buyer[acct_owner[b]] = True
    own_supplier[acct_owner[s]] = True

    decoy_day = np.full(n, -1, dtype=np.int64)
    decoy_day[w.plan.decoy_cust] = w.plan.decoy_day
    is_decoy = np.isin(persona, DECOYS)
    lifecycle = np.array(LIFECYCLES)[c.lifecycle]
    graduated = (c.graduation_day > -(10**6)) & (c.occupation != "STU")
    growing = c.lifecycle == 1
    return (
        pl.DataFrame(
            {
                "customer_id": c.customer_id,
                "persona": persona,
                "is_merchant": is_merchant,
                "merchant_turnover_amount": pl.Series(turnover).fill_nan(None),
                "merchant_sales_amount": pl.Series(sales).fill_nan(None),
                "merchant_cash_share": pl.Series(cash_share).fill_nan(None),
                "merchant_trading_days_per_week": pl.Series(days_per_week).fill_nan(None),
                "merchant_buyer_count": pl.Series(np.where(is_merchant, buyers, 0)),
                "merchant_supplier_count": pl.Series(np.where(is_merchant, suppliers, 0)),
                "is_declared": c.business_license == "Y",
                "market_cluster_id": pl.Series(np.where(cluster >= 0, cluster, 0)).cast(pl.Int32),
                "is_cluster_member": cluster >= 0,
                "is_merchant_buyer": own_buyer,
                "is_merchant_supplier": own_supplier,
                "is_decoy": is_decoy,
                "decoy_event_date": _dates(w, decoy_day, decoy_day >= 0),
                "lifecycle": lifecycle,
                "lifecycle_date": _dates(w, c.lifecycle_day, c.lifecycle_day >= 0),
                "is_growing": growing,
                "graduation_date": _dates(w, c.graduation_day, c.graduation_day > -(10**6)),
                "has_graduated_in_window": graduated,
                "is_new_in_window": c.open_day >= 0,
                "open_date": pl.Series(c.open_date).cast(pl.Date),
                "monthly_income_amount": w.income.monthly_cents / 100,
                "initial_wealth_amount": np.round(c.wealth, 2),
                "age": c.age.astype(np.int32),
                "home_branch_id": w.branches.ids[c.home_branch],
            }
        )
        .with_columns(
            pl.when(pl.col("is_cluster_member"))
            .then(pl.col("market_cluster_id"))
            .alias("market_cluster_id"),
            pl.when(pl.col("decoy_event_date").is_not_null() & pl.col("is_decoy"))
            .then(pl.col("decoy_event_date"))
            .alias("decoy_event_date"),
            pl.when(pl.col("lifecycle").is_in(["dormant", "churned"]))
            .then(pl.col("lifecycle_date"))
            .alias("lifecycle_date"),
            pl.when(pl.col("persona") == "student")
            .then(pl.col("graduation_date"))
            .alias("graduation_date"),
        )
        .drop("is_cluster_member")
    )
