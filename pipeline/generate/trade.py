"""The individual merchants' business day: many small buyers pay in, cash is banked at the
counter, and whatever exceeds a working float is passed on to a few suppliers in round sums.
"""

from __future__ import annotations

import numpy as np

from pipeline.generate.activity import counter_fee
from pipeline.generate.ledger import CH, Batch, chunk
from pipeline.generate.world import World

# Buyer choice is skewed towards regulars: index = floor(u ** _REGULARS * pool size).
_REGULARS = 1.6
_TICKET_SIGMA = 0.6
_CASH_DAYS = 0.45


def trading_days_per_year(day_off: np.ndarray) -> np.ndarray:
    """365 for merchants who trade every day, 365 * 6/7 for those with a weekly day off."""
    return np.where(day_off >= 0, 365 * 6 / 7, 365.0)


def merchant_events(
    rng: np.random.Generator, w: World, day: int, active: np.ndarray
) -> list[Batch]:
    """Buyer payments, cash deposits and supplier payments of the merchants trading today.

    Parameters
    ----------
    rng
        Random generator for the day.
    w
        The world (merchant parameters, balances of the previous evening).
    day
        Window day.
    active
        Customers active today.

    Returns
    -------
    list[Batch]
        Chunks of TRI (NET), DEP (CTR/ATM at the market branch) and TRO rows.
    """
    m = w.merch
    weekday = int((w.start + np.timedelta64(day, "D")).astype("datetime64[D]").astype(int) + 3) % 7
    trading = active[m.cust] & (m.day_off != weekday)
    j = np.flatnonzero(trading)
    if len(j) == 0:
        return []
    per_day = m.turnover_cents[j] / trading_days_per_year(m.day_off[j])
    transfer_part = per_day * (1 - m.cash_share[j])
    count = rng.poisson(transfer_part / m.ticket_cents[j])
    row_m = np.repeat(j, count)
    n = len(row_m)
    amount = np.round(
        m.ticket_cents[row_m] * np.exp(rng.normal(-(_TICKET_SIGMA**2) / 2, _TICKET_SIGMA, n))
    )
    amount = np.where(rng.random(n) < 0.5, np.round(amount, -2), amount)
    amount = np.maximum(100, amount).astype(np.int64)
    pick = (rng.random(n) ** _REGULARS * m.buyer_count[row_m]).astype(np.int64)
    buyer = m.buyers[m.buyer_start[row_m] + pick]
    cust = m.cust[row_m]
    dda = w.hold.dda[cust]
    out = [chunk(cust, dda, CH["NET"], "TRI", amount, cp=buyer)]
    inflow = np.bincount(row_m, weights=amount, minlength=len(m.cust))

    banking = j[rng.random(len(j)) < _CASH_DAYS]
    if len(banking):
        cash_day = (
            m.turnover_cents[banking]
            * m.cash_share[banking]
            / trading_days_per_year(m.day_off[banking])
            / _CASH_DAYS
        )
        cash = np.round(cash_day * np.exp(rng.normal(-0.045, 0.3, len(banking))), -4)
        cash = np.maximum(10000, cash).astype(np.int64)
        channel = np.where(rng.random(len(banking)) < 0.85, CH["CTR"], CH["ATM"])
        out.append(
            chunk(
                m.cust[banking],
                w.hold.dda[m.cust[banking]],
                channel,
                "DEP",
                cash,
                branch=m.branch[banking],
                terminal=rng.integers(1, 5, len(banking)),
            )
        )
        inflow += np.bincount(banking, weights=cash, minlength=len(m.cust))

    # Pass-through: money above the float goes to suppliers, in round sums.
    balance = w.acct.balance[w.hold.dda[m.cust]] + inflow
    spare = balance - m.keep_cents
    payers = np.flatnonzero(active[m.cust] & (spare >= m.unit_cents))
    if len(payers):
        payout = spare[payers] * rng.uniform(0.7, 1.0, len(payers))
        unit = m.unit_cents[payers]
        parts = 1 + (payout >= 5 * unit) + (payout >= 15 * unit)
        each = (payout / parts // unit * unit).astype(np.int64)
        row_p = np.repeat(payers, parts)
        amount = np.repeat(each, parts)
        keep = amount > 0
        row_p, amount = row_p[keep], amount[keep]
        k = len(row_p)
        pick = (rng.random(k) * m.supplier_count[row_p]).astype(np.int64)
        supplier = m.suppliers[m.supplier_start[row_p] + pick]
        channel = np.where(rng.random(k) < 0.75, CH["NET"], CH["CTR"])
        branch = np.where(channel == CH["CTR"], m.branch[row_p], -1)
        cust = m.cust[row_p]
        out.append(
            chunk(
                cust,
                w.hold.dda[cust],
                channel,
                "TRO",
                amount,
                cp=supplier,
                fee=counter_fee(w, channel, supplier, amount),
                branch=branch,
                terminal=np.where(branch >= 0, 3, -1),
            )
        )
    return out
