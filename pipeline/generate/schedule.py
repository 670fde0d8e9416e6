"""Scheduled activity: income on pay day, loan and card repayments, deposits maturing, product
subscriptions and redemptions, fees, new customers' first deposit, decoys' planned transfers and
customers leaving.
"""

from __future__ import annotations

import numpy as np

from pipeline.generate.activity import age_band, pick_channel
from pipeline.generate.ledger import CH, Batch, chunk
from pipeline.generate.world import World


def day_of_month(w: World, day: int) -> tuple[int, bool]:
    """Calendar day of month of a window day, and whether it is the last of its month."""
    d = w.start + np.timedelta64(day, "D")
    dom = int((d - d.astype("datetime64[M]")).astype(int)) + 1
    last = (d + np.timedelta64(1, "D")).astype("datetime64[M]") != d.astype("datetime64[M]")
    return dom, bool(last)


def _due(dom_wanted: np.ndarray, dom: int, last: bool) -> np.ndarray:
    """Monthly events fall on their day, or on the month's last day if the month is short."""
    return (dom_wanted == dom) | (last & (dom_wanted > dom))


def income_events(w: World, day: int, active: np.ndarray) -> list[Batch]:
    """Salaries, pensions and allowances; graduates' first salaries, rising month by month."""
    dom, last = day_of_month(w, day)
    inc = w.income
    started = day >= inc.job_start_day
    months_in_job = np.maximum(0, (day - inc.job_start_day) // 30)
    grad_pay = (inc.graduate_cents * (1 + 0.01 * months_in_job)).astype(np.int64)
    amount = np.where(started, grad_pay, inc.monthly_cents)
    payer = np.where(started, inc.graduate_employer, inc.payer)
    dom_wanted = np.where(started, 15, inc.pay_dom)
    who = np.flatnonzero(active & (amount > 0) & (payer >= 0) & _due(dom_wanted, dom, last))
    if len(who) == 0:
        return []
    return [chunk(who, w.hold.dda[who], CH["NET"], "TRI", amount[who], cp=payer[who])]


def credit_events(rng: np.random.Generator, w: World, day: int, active: np.ndarray) -> list[Batch]:
    """Loan instalments and card repayments from the demand deposit; new loans drawn."""
    a = w.acct
    dom, last = day_of_month(w, day)
    out: list[Batch] = []
    is_loan = np.isin(a.product, ["PLN", "MTG", "BLN"])
    live = (a.open_day < day) & (a.close_day > day) & active[a.cust] & ~a.delinquent
    due = np.flatnonzero(is_loan & live & (a.balance > 0) & _due(a.repay_dom, dom, last))
    if len(due):
        interest = np.round(a.balance[due] * a.rate[due] / 1200).astype(np.int64)
        pay = np.minimum(a.monthly_payment[due], a.balance[due] + interest)
        owner = a.cust[due]
        channel = np.where(rng.random(len(due)) < 0.85, CH["NET"], CH["CTR"])
        branch = np.where(channel == CH["CTR"], w.cust.home_branch[owner], -1)
        out.append(
            chunk(
                owner,
                w.hold.dda[owner],
                channel,
                "LRP",
                pay,
                cp=due,
                acct2=due,
                delta2=-(pay - interest),
                branch=branch,
                terminal=np.where(branch >= 0, 1, -1),
            )
        )
    cards = np.flatnonzero(
        (a.product == "CCD") & live & (a.balance > 0) & _due(a.repay_dom, dom, last)
    )
    if len(cards):
        interest = np.where(a.revolver[cards], np.round(a.balance[cards] * 0.1825 / 12), 0)
        a.balance[cards] += interest.astype(np.int64)
        full = a.balance[cards]
        pay = np.where(a.revolver[cards], np.maximum(np.minimum(full, 10000), full // 10), full)
        owner = a.cust[cards]
        out.append(
            chunk(
                owner, w.hold.dda[owner], CH["NET"], "LRP", pay, cp=cards, acct2=cards, delta2=-pay
            )
        )
    new = np.flatnonzero(is_loan & (a.open_day == day) & (a.rollover_of < 0))
    if len(new):
        owner = a.cust[new]
        channel = np.where(rng.random(len(new)) < 0.6, CH["NET"], CH["CTR"])
        branch = np.where(channel == CH["CTR"], a.branch[new], -1)
        out.append(
            chunk(
                owner,
                w.hold.dda[owner],
                channel,
                "LDR",
                a.balance[new],
                cp=new,
                acct2=new,
                delta2=np.zeros(len(new), np.int64),
                branch=branch,
                terminal=np.where(branch >= 0, 1, -1),
                system=True,
            )
        )
    return out


def product_events(rng: np.random.Generator, w: World, day: int, active: np.ndarray) -> list[Batch]:
    """Time deposits maturing (and rolling over); wealth products and funds bought and sold."""
    a = w.acct
    out: list[Batch] = []
    matured = np.flatnonzero((a.product == "TDA") & (a.maturity_day == day) & (a.open_day < day))
    if len(matured):
        years = (a.maturity_day[matured] - a.open_day[matured]) / 365
        paid = np.round(a.balance[matured] * (1 + a.rate[matured] / 100 * years)).astype(np.int64)
        owner = a.cust[matured]
        out.append(
            chunk(
                owner,
                w.hold.dda[owner],
                CH["NET"],
                "PRR",
                paid,
                cp=matured,
                acct2=matured,
                delta2=-a.balance[matured],
                system=True,
            )
        )
        a.close_day[matured] = day
        rolled = np.flatnonzero(np.isin(a.rollover_of, matured) & (a.open_day == day))
        if len(rolled):
            owner = a.cust[rolled]
            out.append(
                chunk(
                    owner,
                    w.hold.dda[owner],
                    CH["NET"],
                    "PRB",
                    a.balance[rolled],
                    cp=rolled,
                    acct2=rolled,
                    delta2=np.zeros(len(rolled), np.int64),
                    system=True,
                )
            )
    held = np.flatnonzero(
        np.isin(a.product, ["WMP", "FND"])
        & (a.open_day < day)
        & (a.close_day > day)
        & active[a.cust]
    )
    trade = held[rng.random(len(held)) < 1 / 40]
    if len(trade):
        owner = a.cust[trade]
        channel = pick_channel(rng, "PAY", age_band(w.cust.age[owner]))
        branch = np.where(channel == CH["CTR"], w.cust.home_branch[owner], -1)
        buy = rng.random(len(trade)) < 0.5
        unit = np.where(a.product[trade] == "WMP", 1_000_000, 100_000)
        dda_bal = a.balance[w.hold.dda[owner]]
        buy_amount = np.maximum(unit, (dda_bal * 0.6 // unit) * unit)
        sell_amount = np.round(a.balance[trade] * rng.uniform(0.2, 1.0, len(trade)))
        sell_amount = np.minimum(sell_amount.astype(np.int64), a.balance[trade])
        amount = np.where(buy, buy_amount, sell_amount)
        ok = amount > 0
        code = np.where(buy, 7, 8)  # PRB, PRR
        delta2 = np.where(buy, amount, -amount)
        out.append(
            chunk(
                owner[ok],
                w.hold.dda[owner][ok],
                channel[ok],
                code[ok],
                amount[ok],
                cp=trade[ok],
                acct2=trade[ok],
                delta2=delta2[ok],
                branch=branch[ok],
                terminal=np.where(branch[ok] >= 0, 2, -1),
            )
        )
    return out


def revalue(rng: np.random.Generator, w: World) -> None:
    """Daily held value: funds move with the market, wealth products accrue their yield."""
    a = w.acct
    fnd = np.flatnonzero(a.product == "FND")
    a.balance[fnd] = np.round(a.balance[fnd] * (1 + rng.normal(0.0002, 0.008, len(fnd))))
    wmp = np.flatnonzero(a.product == "WMP")
    a.balance[wmp] += np.round(a.balance[wmp] * a.rate[wmp] / 36500).astype(np.int64)


def fee_events(w: World, day: int, active: np.ndarray) -> list[Batch]:
    """SMS alert service fee (2.00 CNY) on the first of the month."""
    dom, _ = day_of_month(w, day)
    if dom != 1:
        return []
    who = np.flatnonzero(active & w.sms)
    return [chunk(who, w.hold.dda[who], CH["NET"], "FEE", np.full(len(who), 200))]


def arrival_events(w: World, day: int) -> list[Batch]:
    """A new customer opens an account at the counter with a cash deposit."""
    who = np.flatnonzero(w.cust.open_day == day)
    if len(who) == 0:
        return []
    amount = np.maximum(10000, np.round(w.cust.wealth[who] * 0.2, -2).astype(np.int64) * 100)
    branch = w.cust.home_branch[who]
    return [
        chunk(
            who,
            w.hold.dda[who],
            CH["CTR"],
            "DEP",
            amount,
            branch=branch,
            terminal=np.ones(len(who), np.int64),
            system=True,
        )
    ]


def planned_events(w: World, day: int) -> list[Batch]:
    """Decoys' one-off transfers: flat sale, inheritance, moving money between own accounts."""
    rows = np.flatnonzero(w.plan.day == day)
    if len(rows) == 0:
        return []
    acct = w.plan.acct[rows]
    code = np.where(w.plan.code[rows] == "TRI", 2, 3)
    return [
        chunk(w.acct.cust[acct], acct, CH["NET"], code, w.plan.amount[rows], cp=w.plan.cp[rows])
    ]


def leaving_events(w: World, day: int) -> list[Batch]:
    """Customers who leave move their whole balance to their account at another bank."""
    c = w.cust
    who = np.flatnonzero((c.lifecycle == 3) & (c.lifecycle_day == day))
    if len(who) == 0:
        return []
    owned = np.isin(w.acct.cust, who)
    w.acct.close_day[owned] = day
    c.status[who] = "C"
    dda = w.hold.dda[who]
    amount = w.acct.balance[dda]
    ok = amount > 0
    return [
        chunk(
            who[ok], dda[ok], CH["NET"], "TRO", amount[ok], cp=w.exit_account[who[ok]], system=True
        )
    ]
