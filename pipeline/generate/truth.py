"""Ground truth: what the generator made of each customer and each account, for judging later
stages (merchant detection, decoys, lifecycles, growth, credit staging, card interest).

Customer truth (``<out>.truth.parquet``, one row per customer_id): customer_id; persona;
is_merchant and the merchant's trade (merchant_turnover_amount, merchant_sales_amount,
merchant_cash_share, merchant_trading_days_per_week, merchant_buyer_count,
merchant_supplier_count, market_cluster_id), is_declared, is_merchant_buyer,
is_merchant_supplier; is_decoy, decoy_event_date; lifecycle, lifecycle_date (dormant or
churned: the day activity stops; growing: the day of a salary raise, null for students and
young employees, who grow from the start), is_growing,
graduation_date, has_graduated_in_window, is_new_in_window; open_date, monthly_income_amount,
initial_wealth_amount, age, home_branch_id; has_defaulted_account (one of the customer's
accounts has a default_date in the account truth); trait_saving, trait_investing,
trait_protection, trait_spending, trait_borrowing (the latent traits that drive behaviour and
take-up, standard normal: ``takeup``); attrition_start_date (a churned customer's first day of
draining, before lifecycle_date, when every account closes; null for others).

Account truth (``<out>.accounts_truth.parquet``, one row per account_id, every account that
appears in ACCT during the window):

account_id, customer_id, product_code, open_date, maturity_date
    As in ACCT (maturity_date null where ACCT leaves it empty).
original_term_months
    Contractual term of TDA and loans (PLN, MTG, BLN); null otherwise.
closed_date
    First business date the account shows status C (balance 0); null if open at the end.
card_behaviour
    CCD: the holder's habit, ``transactor`` (repays each statement balance in full) or
    ``revolver`` (repays the minimum, 10% or 100 CNY whichever is more); a card that switches
    habit for 2-4 months shows the habit of its other months. Null for other products.
statement_cycle_count
    CCD: statement cycles judged inside the window: statement on a month's last day inside the
    window, positive statement balance (ACCT balance that day), due date (statement + 25 days)
    also inside it. Null for other products.
revolved_cycle_share
    CCD: share of those cycles whose repayments (LRP rows naming the card, from the day after
    the statement to the due date) fell short of the statement balance, cycles in arrears
    included; null when no cycle was judged.
watch_date
    First business date with days_past_due >= 30; null if never inside the window.
default_date
    First business date with days_past_due >= 90 (status D); the first business date for
    accounts already in default then; null if never.
cure_date
    Business date the arrears were cleared: an LRP from the demand deposit names the account,
    days_past_due is 0 and status A again from that date. Null if none.
is_legacy_default
    Already in arrears on the first business date (the bank's legacy bad book; never cures).
takeup_trait
    For an account the customer took up inside the window (its open_date is the take-up date),
    the latent trait that drove it (``saving`` TDA, ``investing`` WMP/FND, ``protection`` INS,
    ``spending`` CCD, ``borrowing`` PLN); null for accounts held on the first date, rollovers
    and new customers' demand deposits.

An account in arrears is frozen: no instalment, repayment, purchase, interest or fee moves its
balance until its cure date (or the end, if it does not cure).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.generate.accounts import NEVER
from pipeline.generate.population import DECOYS, LIFECYCLES, PERSONAS, P
from pipeline.generate.takeup import TRAITS
from pipeline.generate.trade import trading_days_per_year
from pipeline.generate.world import World

WATCH_DAYS_PAST_DUE = 30
DEFAULT_DAYS_PAST_DUE = 90


def _dates(w: World, day: np.ndarray, valid: np.ndarray) -> pl.Series:
    values = w.start + np.where(valid, day, 0).astype("timedelta64[D]")
    return pl.Series(values).cast(pl.Date).set(pl.Series(~valid), None)


def _first_day_past_due(w: World, threshold: int) -> np.ndarray:
    """First window day an account is ``threshold`` or more days past due (NEVER if none)."""
    a = w.acct
    day = np.maximum(a.miss_day + threshold - 1, 0)
    reached = (a.miss_day < NEVER) & (day < a.cure_day) & (day < w.days) & (day < a.close_day)
    return np.where(reached, day, NEVER)


def accounts_truth_frame(w: World) -> pl.DataFrame:
    """The account ground truth (columns in the module docstring).

    Parameters
    ----------
    w
        The world after the simulation (card cycles counted, accounts closed).

    Returns
    -------
    pl.DataFrame
        One row per account that appeared in ACCT, sorted by account_id.
    """
    a = w.acct
    shown = a.open_day < w.days
    is_card = a.product == "CCD"
    has_term = np.isin(a.product, ["TDA", "PLN", "MTG", "BLN"])
    watch = _first_day_past_due(w, WATCH_DAYS_PAST_DUE)
    default = _first_day_past_due(w, DEFAULT_DAYS_PAST_DUE)
    cycles = a.cycle_count
    share = np.where(cycles > 0, a.revolved_count / np.maximum(cycles, 1), np.nan)
    # A switcher keeps its usual habit in most months (switches last 2-4 of the window's).
    behaviour = np.where(a.revolver, "revolver", "transactor")
    maturity = np.where(a.maturity_date == "", "19700101", a.maturity_date)
    frame = pl.DataFrame(
        {
            "account_id": a.account_id,
            "customer_id": w.cust.customer_id[a.cust],
            "product_code": a.product,
            "open_date": pl.Series(a.open_date).str.to_date("%Y%m%d"),
            "maturity_date": pl.Series(maturity)
            .str.to_date("%Y%m%d")
            .set(pl.Series(a.maturity_date == ""), None),
            "original_term_months": pl.Series(a.term_months)
            .cast(pl.Int32)
            .set(pl.Series(~has_term), None),
            "closed_date": _dates(w, a.close_day, a.close_day < w.days),
            "card_behaviour": pl.Series(behaviour).set(pl.Series(~is_card), None),
            "statement_cycle_count": pl.Series(cycles)
            .cast(pl.Int32)
            .set(pl.Series(~is_card), None),
            "revolved_cycle_share": pl.Series(np.round(share, 4)).fill_nan(None),
            "watch_date": _dates(w, watch, watch < NEVER),
            "default_date": _dates(w, default, default < NEVER),
            "cure_date": _dates(w, a.cure_day, a.cure_day < w.days),
            "is_legacy_default": a.legacy_arrears,
            "takeup_trait": pl.Series(np.array(TRAITS)[np.maximum(a.takeup_trait, 0)]).set(
                pl.Series(a.takeup_trait < 0), None
            ),
        }
    )
    return frame.filter(pl.Series(shown)).sort("account_id")


def truth_frame(w: World) -> pl.DataFrame:
    """The customer ground-truth table (columns in the module docstring).

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
    defaulted = np.zeros(n, dtype=bool)
    defaulted[w.acct.cust[_first_day_past_due(w, DEFAULT_DAYS_PAST_DUE) < NEVER]] = True
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
                "has_defaulted_account": defaulted,
                **{f"trait_{name}": np.round(c.traits[:, i], 4) for i, name in enumerate(TRAITS)},
                "attrition_start_date": _dates(w, c.drain_day, c.drain_day >= 0),
            }
        )
        .with_columns(
            pl.when(pl.col("is_cluster_member"))
            .then(pl.col("market_cluster_id"))
            .alias("market_cluster_id"),
            pl.when(pl.col("decoy_event_date").is_not_null() & pl.col("is_decoy"))
            .then(pl.col("decoy_event_date"))
            .alias("decoy_event_date"),
            pl.when(pl.col("lifecycle").is_in(["dormant", "churned", "growing"]))
            .then(pl.col("lifecycle_date"))
            .alias("lifecycle_date"),
            pl.when(pl.col("persona") == "student")
            .then(pl.col("graduation_date"))
            .alias("graduation_date"),
        )
        .drop("is_cluster_member")
    )
