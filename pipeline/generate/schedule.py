"""Scheduled activity: income on pay day, loan and card repayments (and arrears cleared),
deposits maturing, product subscriptions and redemptions, fees, new customers' first deposit,
decoys' planned transfers and customers leaving; at the end of the day, the card cycles.
"""

from __future__ import annotations

import numpy as np

from pipeline.generate.activity import age_band, pick_channel
from pipeline.generate.ledger import CH, CODE, CODES, DIRECTION, Batch, chunk
from pipeline.generate.takeup import DRAIN_EVERY_DAYS
from pipeline.generate.world import World

CARD_FEE_CENTS = 10000
_SIGN_C = np.array([DIRECTION[c] == "C" for c in CODES])


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
    salary = inc.monthly_cents
    if len(inc.raise_day):
        raised = day >= inc.raise_day
        salary = np.where(raised, np.round(salary * inc.raise_factor), salary).astype(np.int64)
    amount = np.where(started, grad_pay, salary)
    payer = np.where(started, inc.graduate_employer, inc.payer)
    dom_wanted = np.where(started, 15, inc.pay_dom)
    who = np.flatnonzero(active & (amount > 0) & (payer >= 0) & _due(dom_wanted, dom, last))
    if len(who) == 0:
        return []
    return [chunk(who, w.hold.dda[who], CH["NET"], "TRI", amount[who], cp=payer[who])]


def month_index(w: World, day: int) -> int:
    """Calendar months from the first business date's month to ``day``'s month."""
    month = (w.start + np.timedelta64(day, "D")).astype("datetime64[M]")
    return int((month - w.start.astype("datetime64[M]")).astype(int))


def credit_events(rng: np.random.Generator, w: World, day: int, active: np.ndarray) -> list[Batch]:
    """Loan instalments and card repayments, arrears cleared on cure days, new loans drawn.

    Repayments are direct debits from the demand deposit: they happen whether or not the
    customer is active today, every one carries the loan or card as its counterparty, and when
    the deposit cannot carry them the customer tops it up the same day from their account at
    another bank (a TRI; the self-employed, who have no salary here, mostly). An account in
    arrears pays nothing until its cure day.
    """
    a = w.acct
    dom, last = day_of_month(w, day)
    out: list[Batch] = []
    is_loan = np.isin(a.product, ["PLN", "MTG", "BLN"])
    is_open = (a.open_day < day) & (a.close_day > day)
    performing = is_open & ~a.in_arrears(day) & (a.cure_day != day)
    due = np.flatnonzero(is_loan & performing & (a.balance > 0) & _due(a.repay_dom, dom, last))
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
                forced=True,
            )
        )
    cards = np.flatnonzero(
        (a.product == "CCD")
        & performing
        & (a.repay_dom == dom)
        & (a.statement_cents > 0)
        & (a.balance > 0)
    )
    if len(cards):
        statement = a.statement_cents[cards]
        minimum = np.minimum(statement, np.maximum(statement // 10, 10000))
        pay = np.where(a.revolves(cards, month_index(w, day) - 1), minimum, statement)
        pay = np.minimum(pay, a.balance[cards])
        owner = a.cust[cards]
        out.append(
            chunk(
                owner,
                w.hold.dda[owner],
                CH["NET"],
                "LRP",
                pay,
                cp=cards,
                acct2=cards,
                delta2=-pay,
                forced=True,
            )
        )
    cured = np.flatnonzero(is_open & (a.cure_day == day))
    if len(cured):
        out.append(_clear_arrears(w, day, cured))
    out.extend(_top_ups(w, out))
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


def _clear_arrears(w: World, day: int, cured: np.ndarray) -> Batch:
    """At the counter, the missed instalments (a card's missed minimum payments) are paid.

    The balance was frozen while in arrears, so a loan's catch-up pays each missed month's
    interest on it and the rest reduces principal; on a card the whole payment does.
    """
    a = w.acct
    missed = np.maximum(1, np.round((day - a.miss_day[cured]) / 30.4)).astype(np.int64)
    balance = a.balance[cured]
    card = a.product[cured] == "CCD"
    interest = np.where(card, 0, np.round(balance * a.rate[cured] / 1200)).astype(np.int64)
    instalment = np.where(
        card, np.minimum(balance, np.maximum(balance // 10, 10000)), a.monthly_payment[cured]
    )
    pay = np.minimum(missed * instalment, balance + missed * interest)
    principal = np.clip(pay - missed * interest, 0, balance)
    owner = a.cust[cured]
    return chunk(
        owner,
        w.hold.dda[owner],
        CH["CTR"],
        "LRP",
        pay,
        cp=cured,
        acct2=cured,
        delta2=-principal,
        branch=w.cust.home_branch[owner],
        terminal=np.ones(len(cured), np.int64),
        forced=True,
    )


def _top_ups(w: World, forced: list[Batch]) -> list[Batch]:
    """The customer moves in, from their account elsewhere, what today's repayments lack."""
    if not forced:
        return []
    a = w.acct
    acct = np.concatenate([b.acct for b in forced])
    amount = np.concatenate([b.amount for b in forced])
    need = np.rint(np.bincount(acct, weights=amount, minlength=a.n)).astype(np.int64)
    short = np.flatnonzero(need > np.maximum(a.balance, 0))
    if len(short) == 0:
        return []
    owner = a.cust[short]
    gap = need[short] - np.maximum(a.balance[short], 0)
    return [chunk(owner, short, CH["NET"], "TRI", gap, cp=w.exit_account[owner], forced=True)]


def close_card_cycles(w: World, day: int, kept: Batch) -> None:
    """End of the day on the cards (after the day's rows have moved the balances).

    Repayments to a card (LRP rows naming it, credits on it) count towards the open cycle up to
    the 25th. On the 25th, the due date of the statement taken on the previous month's last
    day, the cycle is judged: a card revolved it when its repayments fall short of the statement
    balance, and then a month's interest at its rate on that balance is posted to it, unless it
    is in arrears (frozen, non-accrual). On the month's last day the statement is taken.
    """
    a = w.acct
    dom, last = day_of_month(w, day)
    if dom <= 25:
        repaid = (kept.code == CODE["LRP"]) & (kept.acct2 >= 0)
        card = a.product[kept.acct] == "CCD"
        credit = card & (_SIGN_C[kept.code])
        paid = np.bincount(kept.acct2[repaid], weights=kept.amount[repaid], minlength=a.n)
        paid += np.bincount(kept.acct[credit], weights=kept.amount[credit], minlength=a.n)
        a.cycle_paid_cents += np.rint(paid).astype(np.int64)
    if dom == 25 and a.statement_day >= 0:
        judged = np.flatnonzero(
            (a.product == "CCD")
            & (a.statement_cents > 0)
            & (a.open_day <= a.statement_day)
            & (a.close_day > day)
        )
        revolved = a.cycle_paid_cents[judged] < a.statement_cents[judged]
        a.cycle_count[judged] += 1
        a.revolved_count[judged] += revolved
        earning = judged[revolved & ~a.in_arrears(day)[judged]]
        interest = np.round(a.statement_cents[earning] * a.rate[earning] / 1200)
        a.balance[earning] += interest.astype(np.int64)
    if last:
        a.statement_day = day
        a.statement_cents = a.balance.copy()
        a.cycle_paid_cents[:] = 0


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


def takeup_events(rng: np.random.Generator, w: World, day: int, active: np.ndarray) -> list[Batch]:
    """Products taken up today (pipeline/generate/takeup.py): the first subscription, paid
    from the demand deposit (a share of its balance, in whole hundreds of CNY). Cards open
    empty and loans are drawn by ``credit_events``."""
    a = w.acct
    new = np.flatnonzero(
        (a.takeup_trait >= 0)
        & (a.open_day == day)
        & np.isin(a.product, ["TDA", "WMP", "FND", "INS"])
    )
    if len(new) == 0:
        return []
    owner = a.cust[new]
    share = np.select([a.product[new] == "FND", a.product[new] == "INS"], [0.3, 0.2], default=0.5)
    amount = (np.maximum(a.balance[w.hold.dda[owner]], 0) * share // 10000 * 10000).astype(np.int64)
    ok = amount > 0
    channel = pick_channel(rng, "PAY", age_band(w.cust.age[owner[ok]]))
    branch = np.where(channel == CH["CTR"], w.cust.home_branch[owner[ok]], -1)
    return [
        chunk(
            owner[ok],
            w.hold.dda[owner[ok]],
            channel,
            "PRB",
            amount[ok],
            cp=new[ok],
            acct2=new[ok],
            delta2=amount[ok],
            branch=branch,
            terminal=np.where(branch >= 0, 2, -1),
            system=True,
        )
    ]


def revalue(rng: np.random.Generator, w: World) -> None:
    """Daily held value: funds move with the market, wealth products accrue their yield."""
    a = w.acct
    fnd = np.flatnonzero(a.product == "FND")
    a.balance[fnd] = np.round(a.balance[fnd] * (1 + rng.normal(0.0002, 0.008, len(fnd))))
    wmp = np.flatnonzero(a.product == "WMP")
    a.balance[wmp] += np.round(a.balance[wmp] * a.rate[wmp] / 36500).astype(np.int64)


def fee_events(w: World, day: int, active: np.ndarray) -> list[Batch]:
    """SMS alert service fee (2.00 CNY) on the demand deposit on the first of the month; annual
    card fee (100 CNY) on the card itself on its opening anniversary, for the cards that carry
    one and are not in arrears. The amount is the fee: the rows' fee column stays 0."""
    dom, _ = day_of_month(w, day)
    out: list[Batch] = []
    if dom == 1:
        who = np.flatnonzero(active & w.sms)
        out.append(chunk(who, w.hold.dda[who], CH["NET"], "FEE", np.full(len(who), 200)))
    a = w.acct
    today = (w.start + np.timedelta64(day, "D")).astype(object)
    anniversary = a.open_month_day == today.month * 100 + today.day
    if (today.month, today.day) == (2, 28) and today.year % 4 != 0:
        anniversary |= a.open_month_day == 229
    cards = np.flatnonzero(
        a.card_fee
        & anniversary
        & (a.open_day < day)
        & (a.close_day > day)
        & ~a.in_arrears(day)
        & (a.cure_day != day)
    )
    if len(cards):
        fee = np.full(len(cards), CARD_FEE_CENTS)
        out.append(chunk(a.cust[cards], cards, CH["NET"], "FEE", fee, system=True))
    return out


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
    """Customers who leave drain first: from their drain day, every ``DRAIN_EVERY_DAYS`` days
    a third of the demand deposit moves to their account at another bank; on the day they
    leave, the rest, and every account closes."""
    c = w.cust
    out: list[Batch] = []
    draining = np.flatnonzero(
        (c.drain_day >= 0)
        & (day >= c.drain_day)
        & (day < c.lifecycle_day)
        & ((day - c.drain_day) % DRAIN_EVERY_DAYS == 0)
    )
    if len(draining):
        dda = w.hold.dda[draining]
        part = np.maximum(w.acct.balance[dda], 0) // 3 // 100 * 100
        ok = part > 0
        out.append(
            chunk(
                draining[ok],
                dda[ok],
                CH["NET"],
                "TRO",
                part[ok],
                cp=w.exit_account[draining[ok]],
                system=True,
            )
        )
    who = np.flatnonzero((c.lifecycle == 3) & (c.lifecycle_day == day))
    if len(who) == 0:
        return out
    owned = np.isin(w.acct.cust, who)
    w.acct.close_day[owned] = day
    c.status[who] = "C"
    dda = w.hold.dda[who]
    amount = w.acct.balance[dda]
    ok = amount > 0
    return [
        *out,
        chunk(
            who[ok], dda[ok], CH["NET"], "TRO", amount[ok], cp=w.exit_account[who[ok]], system=True
        ),
    ]
