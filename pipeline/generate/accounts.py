"""Accounts and product holdings (ACCT): who holds what, on which terms, at what balance.

Balances are integer cents throughout. Loans and cards carry outstanding principal; deposits
and investments carry held value.

Arrears: an account stops paying on its ``miss_day`` (days past due is 1 that day and grows by
one a day) until its ``cure_day``, when one repayment clears the arrears. A share of loans and
cards is already in arrears on the first business date (the legacy bad book, ``miss_day`` < 0);
a share of performing ones stops paying inside the window, and about a third of those cure,
some while still in watch (30-89 days past due), some after default (90+).

Cards: the statement date is the month's last day; a card repays the statement balance on its
``repay_dom`` (1-20) of the next month, in full when its holder transacts that cycle, the
minimum (10% or 100 CNY, whichever is more) when the holder revolves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.generate.population import Branches, Customers, P
from pipeline.generate.takeup import TRAIT_OF_PRODUCT, T, plan_takeups, trait_multiplier

PRODUCTS: tuple[str, ...] = ("DDA", "TDA", "WMP", "FND", "INS", "CCD", "PLN", "MTG", "BLN")
CREDIT_PRODUCTS: tuple[str, ...] = ("CCD", "PLN", "MTG", "BLN")
_ID_PREFIX = {
    "DDA": "621700",
    "TDA": "430101",
    "WMP": "430201",
    "FND": "430301",
    "INS": "430401",
    "CCD": "625900",
    "PLN": "430601",
    "MTG": "430701",
    "BLN": "430801",
}
# Term in months -> customer rate (percent) for time deposits.
TDA_TERMS: dict[int, float] = {3: 1.10, 6: 1.30, 12: 1.50, 24: 1.60, 36: 1.90, 60: 2.00}
NEVER = 10**9
# Share of performing accounts, per product, that stop paying inside the window.
ARREARS_SHARE: dict[str, float] = {"CCD": 0.03, "PLN": 0.03, "BLN": 0.03, "MTG": 0.01}
CURE_SHARE = 1 / 3
CARD_SWITCH_SHARE = 0.1
CARD_FEE_SHARE = 0.5


@dataclass
class Accounts:
    """Accounts as parallel arrays, in account_id order; mutable state is updated daily."""

    n: int
    account_id: np.ndarray
    cust: np.ndarray
    product: np.ndarray
    open_day: np.ndarray
    open_date: np.ndarray
    maturity_date: np.ndarray
    branch: np.ndarray
    limit_cents: np.ndarray
    rate: np.ndarray
    balance: np.ndarray
    close_day: np.ndarray
    term_months: np.ndarray
    legacy_arrears: np.ndarray
    miss_day: np.ndarray
    cure_day: np.ndarray
    monthly_payment: np.ndarray
    repay_dom: np.ndarray
    revolver: np.ndarray
    switch_from: np.ndarray
    switch_to: np.ndarray
    card_fee: np.ndarray
    open_month_day: np.ndarray
    maturity_day: np.ndarray
    rollover_of: np.ndarray
    # Card cycles: the last statement (its day, -1 before the first one inside the window, and
    # balances), repayments since it, and the cycles counted so far (for the ground truth).
    statement_day: int
    statement_cents: np.ndarray
    cycle_paid_cents: np.ndarray
    cycle_count: np.ndarray
    revolved_count: np.ndarray
    # The latent trait (takeup.TRAITS index) that drove a take-up inside the window; -1 for
    # accounts held on the first date and rollovers.
    takeup_trait: np.ndarray

    @property
    def is_credit(self) -> np.ndarray:
        """True for loans and cards (balance is owed by the customer)."""
        return np.isin(self.product, CREDIT_PRODUCTS)

    def in_arrears(self, day: int) -> np.ndarray:
        """True where the account is past due on ``day`` (it pays nothing; balance frozen)."""
        return (self.miss_day <= day) & (day < self.cure_day)

    def days_past_due(self, day: int) -> np.ndarray:
        """Days past due at the end of ``day`` (0 when not in arrears)."""
        return np.where(self.in_arrears(day), day - self.miss_day + 1, 0)

    def revolves(self, cards: np.ndarray, month: int) -> np.ndarray:
        """Whether each card's holder revolves the statement of window month ``month``."""
        switched = (self.switch_from[cards] <= month) & (month < self.switch_to[cards])
        return self.revolver[cards] ^ switched


@dataclass(frozen=True)
class Holdings:
    """Per-customer pointers into the account arrays (-1 where the customer holds none)."""

    dda: np.ndarray
    second_dda: np.ndarray
    ccd: np.ndarray


def _round_to(cents: np.ndarray, unit_cny: int) -> np.ndarray:
    unit = unit_cny * 100
    return np.maximum(unit, (cents // unit) * unit)


def _annuity(principal: np.ndarray, monthly_rate: np.ndarray, months: np.ndarray) -> np.ndarray:
    growth = (1 + monthly_rate) ** months
    return principal * monthly_rate * growth / (growth - 1)


def _remaining(
    principal: np.ndarray, monthly_rate: np.ndarray, months: np.ndarray, paid: np.ndarray
) -> np.ndarray:
    g_n = (1 + monthly_rate) ** months
    g_k = (1 + monthly_rate) ** paid
    return principal * (g_n - g_k) / (g_n - 1)


def build_accounts(
    rng: np.random.Generator,
    cust: Customers,
    branches: Branches,
    start: np.datetime64,
    days: int,
    credit_rng: np.random.Generator,
    takeup_rng: np.random.Generator | None = None,
) -> tuple[Accounts, Holdings]:
    """Give every customer a demand deposit, the other products they hold on the first date
    (likelier with the matching latent trait) and the products they take up in the window.

    Parameters
    ----------
    rng
        Random generator.
    cust
        The customers.
    branches
        The branch network (accounts open at the home branch, mostly).
    start
        First business date.
    days
        Window length; time deposits maturing in it roll over, some loans are drawn in it.
    credit_rng
        Random generator for arrears, cures and card habits (its own stream, so that drawing
        them leaves the rest of the world as it was).
    takeup_rng
        Random generator for take-up (``takeup.plan_takeups``); None: a fresh stream.

    Returns
    -------
    tuple[Accounts, Holdings]
        The accounts in account_id order and per-customer pointers.
    """
    n = cust.n
    w = cust.wealth
    age = cust.age
    occ = cust.occupation
    merchant = cust.persona == P["merchant"]
    working = np.isin(occ, ["EMP", "CIV", "SE"]) | merchant
    existing = cust.open_day < 0
    churner = cust.lifecycle == 3
    rows: list[pl.DataFrame] = []

    def add(owner: np.ndarray, product: str, balance: np.ndarray, **extra: np.ndarray) -> None:
        m = len(owner)
        data = {
            "cust": owner.astype(np.int64),
            "product": np.full(m, product),
            "balance": balance.astype(np.int64),
            "open_day": extra.get(
                "open_day", np.minimum(cust.open_day[owner], 0) if m else np.zeros(0, np.int64)
            ).astype(np.int64),
            "term_months": extra.get("term_months", np.zeros(m, np.int64)).astype(np.int64),
            "rate": extra.get("rate", np.zeros(m)).astype(float),
            "limit": extra.get("limit", np.zeros(m, np.int64)).astype(np.int64),
            "payment": extra.get("payment", np.zeros(m, np.int64)).astype(np.int64),
            "rollover_of": extra.get("rollover_of", np.full(m, -1)).astype(np.int64),
            "takeup": extra.get("takeup", np.full(m, -1)).astype(np.int64),
        }
        rows.append(pl.DataFrame(data))

    everyone = np.arange(n)
    dda_bal = (w * rng.uniform(0.08, 0.3, n) * 100).astype(np.int64)
    dda_bal = np.where(merchant, (w * rng.uniform(0.05, 0.15, n) * 100).astype(np.int64), dda_bal)
    # savers and investors keep more on deposit
    lean = cust.traits[:, T["saving"]] + cust.traits[:, T["investing"]]
    dda_bal = (dda_bal * np.exp(0.25 * lean - 0.0625)).astype(np.int64)
    dda_bal = np.where(existing, dda_bal, 0)
    dda_open = cust.open_day.copy()
    add(everyone, "DDA", dda_bal, open_day=dda_open)
    own = np.flatnonzero(cust.persona == P["decoy_own_transfer"])
    add(
        own,
        "DDA",
        (w[own] * 0.2 * 100).astype(np.int64),
        open_day=np.minimum(cust.open_day[own], 0),
    )

    eligible = existing & ~churner & (cust.lifecycle != 4)
    u = rng.random((7, n))

    def lean_to(product: str) -> np.ndarray:
        return trait_multiplier(cust.traits, TRAIT_OF_PRODUCT[product], 0.6)

    p_tda = 0.12 + 0.25 * (age >= 50) + 0.2 * (w > 1e5)
    tda = np.flatnonzero(eligible & (u[0] < p_tda * lean_to("TDA")) & (occ != "STU"))
    terms = np.array(list(TDA_TERMS))[rng.integers(0, len(TDA_TERMS), len(tda))]
    term_days = (terms * 30.4).astype(np.int64)
    tda_open = -(rng.random(len(tda)) * term_days).astype(np.int64) - 1
    add(
        tda,
        "TDA",
        _round_to((w[tda] * rng.uniform(0.3, 0.6, len(tda)) * 100).astype(np.int64), 1000),
        open_day=tda_open,
        term_months=terms,
        rate=np.array([TDA_TERMS[int(t)] for t in terms]) if len(terms) else np.zeros(0),
    )

    p_wmp = 0.04 + 0.1 * (w > 5e4) + 0.25 * (w > 2e5)
    wmp = np.flatnonzero(eligible & (u[1] < p_wmp * lean_to("WMP")) & (w > 3e4))
    add(
        wmp,
        "WMP",
        _round_to((w[wmp] * rng.uniform(0.2, 0.4, len(wmp)) * 100).astype(np.int64), 10000),
        rate=np.round(rng.uniform(2.4, 3.6, len(wmp)), 2),
    )
    p_fnd = 0.03 + 0.12 * (w > 1e5) * (age < 60)
    fnd = np.flatnonzero(eligible & (u[2] < p_fnd * lean_to("FND")) & (w > 1e4))
    add(fnd, "FND", (w[fnd] * rng.uniform(0.05, 0.2, len(fnd)) * 100).astype(np.int64))
    p_ins = 0.04 + 0.06 * (w > 1e5)
    ins = np.flatnonzero(eligible & (u[3] < p_ins * lean_to("INS")) & (age >= 25))
    add(
        ins,
        "INS",
        _round_to((rng.uniform(1e4, 2e5, len(ins)) * 100).astype(np.int64), 1000),
        rate=np.round(rng.uniform(2.0, 2.5, len(ins)), 2),
    )

    p_ccd = np.where(working & (age >= 22) & (age <= 60), 0.35, 0.08)
    ccd = np.flatnonzero(eligible & (u[4] < p_ccd * lean_to("CCD")) & (age >= 20))
    limit = _round_to((np.clip(w[ccd] * 0.15, 3000, 100000) * 100).astype(np.int64), 1000)
    revolver = rng.random(len(ccd)) < 0.3
    used = np.where(revolver, rng.uniform(0.3, 0.8, len(ccd)), rng.uniform(0, 0.2, len(ccd)))
    add(
        ccd,
        "CCD",
        (limit * used).astype(np.int64),
        limit=limit,
        rate=np.full(len(ccd), 18.25),
        term_months=revolver.astype(np.int64),
    )

    def loans(
        owner: np.ndarray,
        product: str,
        principal_cny: np.ndarray,
        months: np.ndarray,
        rate: np.ndarray,
        open_day: np.ndarray | None = None,
        takeup: np.ndarray | None = None,
    ) -> None:
        principal = principal_cny * 100
        r = rate / 1200
        payment = _annuity(principal, r, months)
        if open_day is None:
            paid = (rng.random(len(owner)) * (months - 1)).astype(np.int64)
            balance = _remaining(principal, r, months, paid)
            open_day = -(paid * 30.4).astype(np.int64) - rng.integers(1, 28, len(owner))
        else:
            balance = principal
        add(
            owner,
            product,
            np.round(balance).astype(np.int64),
            open_day=open_day,
            term_months=months,
            rate=rate,
            payment=np.round(payment).astype(np.int64),
            takeup=np.full(len(owner), -1) if takeup is None else takeup,
        )

    pln = np.flatnonzero(
        eligible & (u[5] < 0.06 * lean_to("PLN")) & working & (age >= 23) & (age <= 55)
    )
    loans(
        pln,
        "PLN",
        np.round(rng.uniform(2e4, 3e5, len(pln)), -3),
        rng.choice([12, 24, 36, 60], len(pln)),
        np.round(rng.uniform(3.2, 6.5, len(pln)), 2),
    )
    mtg_ok = eligible & (age >= 28) & (age <= 55) & np.isin(occ, ["EMP", "CIV", "SE"])
    mtg = np.flatnonzero(mtg_ok & (u[6] < 0.14))
    loans(
        mtg,
        "MTG",
        np.round(np.clip(rng.lognormal(13.3, 0.45, len(mtg)), 2e5, 3e6), -4),
        rng.choice([240, 300, 360], len(mtg)),
        np.round(rng.uniform(3.2, 4.2, len(mtg)), 2),
    )
    bln_p = np.where(merchant, 0.35, np.where(occ == "SE", 0.04, 0.0))
    bln = np.flatnonzero(eligible & (rng.random(n) < bln_p))
    loans(
        bln,
        "BLN",
        np.round(rng.uniform(1e5, 1e6, len(bln)), -4),
        rng.choice([12, 24, 36], len(bln)),
        np.round(rng.uniform(3.85, 6.5, len(bln)), 2),
    )
    # Take-up inside the window (pipeline/generate/takeup.py): non-holders who qualify.
    held = {
        p: np.isin(everyone, o)
        for p, o in (("TDA", tda), ("WMP", wmp), ("FND", fnd), ("INS", ins), ("CCD", ccd))
    }
    held["PLN"] = np.isin(everyone, pln)
    ordinary = (cust.persona < P["merchant"]) & (cust.lifecycle != 4)
    qualifies = {
        "TDA": occ != "STU",
        "WMP": w > 3e4,
        "FND": w > 1e4,
        "INS": age >= 25,
        "CCD": (age >= 20) & (age <= 65),
        "PLN": working & (age >= 23) & (age <= 55),
    }
    plans = plan_takeups(
        takeup_rng if takeup_rng is not None else np.random.default_rng(0),
        cust,
        cust.traits,
        {p: ordinary & ~held[p] & qualifies[p] for p in qualifies},
        days,
    )
    for product, (who, day) in plans.items():
        k = len(who)
        trait = np.full(k, T[TRAIT_OF_PRODUCT[product]])
        zero = np.zeros(k, np.int64)
        if product == "TDA":
            terms = np.array(list(TDA_TERMS))[rng.integers(0, len(TDA_TERMS), k)]
            rates = np.array([TDA_TERMS[int(t)] for t in terms]) if k else np.zeros(0)
            add(who, "TDA", zero, open_day=day, term_months=terms, rate=rates, takeup=trait)
        elif product in ("WMP", "INS"):
            lo, hi = (2.4, 3.6) if product == "WMP" else (2.0, 2.5)
            rates = np.round(rng.uniform(lo, hi, k), 2)
            add(who, product, zero, open_day=day, rate=rates, takeup=trait)
        elif product == "FND":
            add(who, "FND", zero, open_day=day, takeup=trait)
        elif product == "CCD":
            limit = _round_to((np.clip(w[who] * 0.15, 3000, 100000) * 100).astype(np.int64), 1000)
            revolver = rng.random(k) < 0.3
            add(
                who,
                "CCD",
                zero,
                open_day=day,
                limit=limit,
                rate=np.full(k, 18.25),
                term_months=revolver.astype(np.int64),
                takeup=trait,
            )
        else:
            loans(
                who,
                "PLN",
                np.round(rng.uniform(2e4, 2e5, k), -3),
                rng.choice([12, 24, 36], k),
                np.round(rng.uniform(3.6, 6.5, k), 2),
                open_day=day,
                takeup=trait,
            )

    frame = pl.concat(rows)
    # Time deposits maturing in the window roll over (60%) into a new deposit that day.
    is_tda = (frame["product"] == "TDA").to_numpy()
    t_open = frame["open_day"].to_numpy()
    t_mat = t_open + (frame["term_months"].to_numpy() * 30.4).astype(np.int64)
    held_first = (frame["takeup"] < 0).to_numpy()
    roll = np.flatnonzero(
        is_tda & held_first & (t_mat >= 0) & (t_mat < days) & (rng.random(len(frame)) < 0.6)
    )
    if len(roll):
        old = frame[roll]
        years = old["term_months"].to_numpy() / 12
        grown = old["balance"].to_numpy() * (1 + old["rate"].to_numpy() / 100 * years)
        rows_roll = old.with_columns(
            balance=pl.Series(np.round(grown).astype(np.int64)),
            open_day=pl.Series(t_mat[roll]),
            rollover_of=pl.Series(roll.astype(np.int64)),
        )
        frame = pl.concat([frame, rows_roll])
    frame = frame.with_row_index("seq").sort(["cust", "seq"])
    return _finish(rng, frame, cust, branches, start, days, credit_rng)


def _plan_arrears(
    rng: np.random.Generator,
    product: np.ndarray,
    open_day: np.ndarray,
    maturity_day: np.ndarray,
    balance: np.ndarray,
    legacy: np.ndarray,
    days: int,
    revolver: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Miss and cure days of performing accounts that fall into arrears inside the window.

    Candidates were open before the window, owe something and do not mature soon after it. The
    count per product is exact (ARREARS_SHARE of its candidates). A third of them cure: half
    after 35-85 days past due (still in watch), half after 100-200 (after default), on a day
    inside the window when it is long enough. The others miss early enough to reach default.
    """
    m = len(product)
    miss = np.full(m, NEVER, dtype=np.int64)
    cure = np.full(m, NEVER, dtype=np.int64)
    ok = ~legacy & (open_day < 0) & (balance > 0) & (maturity_day > days + 60)
    # a transactor can repay the card to zero before the missed payment: revolvers miss (the
    # count is still the share of all candidate cards)
    owes = ok if revolver is None else ok & ((product != "CCD") | revolver)
    chosen = [np.zeros(0, np.int64)]
    for code, share in ARREARS_SHARE.items():
        pool = np.flatnonzero(owes & (product == code))
        count = min(round(share * int((ok & (product == code)).sum())), len(pool))
        chosen.append(rng.choice(pool, count, replace=False))
    picked = np.sort(np.concatenate(chosen))
    order = rng.permutation(picked)
    n_cure = round(CURE_SHARE * len(order))
    curers, stayers = order[:n_cure], order[n_cure:]
    in_watch = np.arange(n_cure) % 2 == 0
    length = np.where(in_watch, rng.integers(35, 86, n_cure), rng.integers(100, 201, n_cure))
    latest = np.maximum(days - length - 1, 1)
    miss[curers] = (rng.random(n_cure) * latest).astype(np.int64)
    cure[curers] = miss[curers] + length
    horizon = days - 100 if days > 130 else days
    miss[stayers] = rng.integers(0, max(horizon, 1), len(stayers))
    return miss, cure


def _finish(
    rng: np.random.Generator,
    frame: pl.DataFrame,
    cust: Customers,
    branches: Branches,
    start: np.datetime64,
    days: int,
    credit_rng: np.random.Generator,
) -> tuple[Accounts, Holdings]:
    m = len(frame)
    seq = frame["seq"].to_numpy()
    position = np.empty(m, dtype=np.int64)
    position[seq] = np.arange(m)
    rollover_src = frame["rollover_of"].to_numpy()
    rollover_of = np.where(rollover_src >= 0, position[np.maximum(rollover_src, 0)], -1)
    owner = frame["cust"].to_numpy()
    product = frame["product"].to_numpy().astype("<U3")
    open_day = frame["open_day"].to_numpy()
    term = frame["term_months"].to_numpy()
    open_date = start + open_day.astype("timedelta64[D]")
    has_term = np.isin(product, ["TDA", "PLN", "MTG", "BLN"]) | (
        (product == "WMP") & (rng.random(m) < 0.6)
    )
    term_days = np.where(
        product == "WMP", rng.choice([182, 365], m), (term * 30.4).astype(np.int64)
    )
    maturity_day = np.where(has_term, open_day + term_days, 10**9)
    maturity = start + np.where(has_term, maturity_day, 0).astype("timedelta64[D]")
    maturity_str = np.where(has_term, np.char.replace(maturity.astype(str), "-", ""), "")
    rate = frame["rate"].to_numpy()
    rate = np.where(product == "DDA", 0.20, rate)
    credit = np.isin(product, ["PLN", "MTG", "BLN", "CCD"])
    u = rng.random(m)
    # the legacy bad book: accounts already open on the first business date (a loan drawn
    # later cannot be months past due the day it opens)
    delinquent = credit & (open_day <= 0) & (u < np.where(product == "MTG", 0.01, 0.04))
    dpd0 = np.where(
        delinquent, rng.choice([31, 45, 61, 75, 91, 120, 180], m), np.where(credit, 0, -1)
    )
    home = cust.home_branch[owner]
    elsewhere = rng.random(m) < 0.15
    staffed = np.flatnonzero(branches.branch_type != "SSB")
    branch = np.where(elsewhere, staffed[rng.integers(0, len(staffed), m)], home)
    prefixes = np.array([_ID_PREFIX[str(p)] for p in product])
    account_id = np.char.add(prefixes, np.char.zfill(np.arange(1, m + 1).astype(str), 10))
    open_ymd = np.char.replace(open_date.astype(str), "-", "")
    balance = frame["balance"].to_numpy().copy()
    # The legacy bad book stopped paying dpd0 - 1 days before the first business date.
    miss_day, cure_day = _plan_arrears(
        credit_rng,
        product,
        open_day,
        maturity_day,
        balance,
        delinquent,
        days,
        revolver=(product == "CCD") & (term == 1),
    )
    miss_day = np.where(delinquent, 1 - dpd0, miss_day)
    is_card = product == "CCD"
    months = int(days / 30.4) + 2
    switcher = is_card & (credit_rng.random(m) < CARD_SWITCH_SHARE)
    switch_from = np.where(switcher, credit_rng.integers(0, max(months - 2, 1), m), -1)
    switch_to = np.where(switcher, switch_from + credit_rng.integers(2, 5, m), -1)
    card_fee = is_card & (credit_rng.random(m) < CARD_FEE_SHARE)
    # Cards repay on day 1-20 of the month after the statement, inside the 25-day grace.
    repay_dom = np.where(is_card, np.abs(open_day) % 20 + 1, np.abs(open_day) % 28 + 1)
    accounts = Accounts(
        n=m,
        account_id=account_id,
        cust=owner,
        product=product,
        open_day=open_day,
        open_date=open_ymd,
        maturity_date=maturity_str,
        branch=branch,
        limit_cents=frame["limit"].to_numpy(),
        rate=rate,
        balance=balance,
        close_day=np.full(m, NEVER, dtype=np.int64),
        term_months=np.where(is_card, 0, term),
        legacy_arrears=delinquent,
        miss_day=miss_day,
        cure_day=cure_day,
        monthly_payment=frame["payment"].to_numpy(),
        repay_dom=repay_dom.astype(np.int64),
        revolver=is_card & (term == 1),
        switch_from=switch_from,
        switch_to=switch_to,
        card_fee=card_fee,
        open_month_day=open_ymd.astype(np.int64) % 10000,
        maturity_day=maturity_day,
        rollover_of=rollover_of,
        statement_day=-1,
        statement_cents=balance.copy(),
        cycle_paid_cents=np.zeros(m, dtype=np.int64),
        cycle_count=np.zeros(m, dtype=np.int64),
        revolved_count=np.zeros(m, dtype=np.int64),
        takeup_trait=frame["takeup"].to_numpy(),
    )
    n = cust.n
    dda = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    ccd = np.full(n, -1, dtype=np.int64)
    is_dda = np.flatnonzero(product == "DDA")
    # Reverse so that the first DDA of each customer wins the plain assignment.
    dda[owner[is_dda[::-1]]] = is_dda[::-1]
    extra = is_dda[is_dda != dda[owner[is_dda]]]
    second[owner[extra]] = extra
    is_ccd = np.flatnonzero(product == "CCD")
    ccd[owner[is_ccd]] = is_ccd
    return accounts, Holdings(dda=dda, second_dda=second, ccd=ccd)
