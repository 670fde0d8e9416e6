"""One business day of activity: who does what, on which channel, for how much.

Rates are per customer per day. Channel habits follow age: the elderly go to the counter and
the ATM, the young bank online (columns of the tables are CTR ATM TEL NET POS; rows are age
bands <30, 30-44, 45-59, 60+).
"""

from __future__ import annotations

import numpy as np

from pipeline.generate import vocab
from pipeline.generate.ledger import CH, Batch, chunk
from pipeline.generate.population import P
from pipeline.generate.takeup import INTENT_DAYS, T
from pipeline.generate.world import World

_CHANNEL_HABITS: dict[str, np.ndarray] = {
    "WDL": np.array([[8, 92, 0, 0, 0], [15, 85, 0, 0, 0], [30, 70, 0, 0, 0], [60, 40, 0, 0, 0]]),
    "DEP": np.array([[30, 70, 0, 0, 0], [45, 55, 0, 0, 0], [60, 40, 0, 0, 0], [80, 20, 0, 0, 0]]),
    "TRO": np.array([[3, 2, 2, 93, 0], [8, 4, 4, 84, 0], [20, 8, 10, 62, 0], [50, 10, 15, 25, 0]]),
    "PAY": np.array([[2, 0, 3, 95, 0], [5, 0, 8, 87, 0], [15, 2, 15, 68, 0], [40, 5, 25, 30, 0]]),
    "QRY": np.array(
        [[0, 20, 10, 70, 0], [0, 30, 20, 50, 0], [5, 35, 35, 25, 0], [10, 30, 55, 5, 0]]
    ),
}
# Daily rates by age band for ordinary (non-scheduled) events.
_RATES: dict[str, np.ndarray] = {
    "POS": np.array([0.10, 0.09, 0.06, 0.03]),
    "WDL": np.array([0.015, 0.02, 0.025, 0.035]),
    "DEP": np.array([0.005, 0.007, 0.008, 0.01]),
    "TRO": np.array([0.025, 0.022, 0.015, 0.008]),
    "TRI": np.array([0.012, 0.01, 0.008, 0.006]),
    "PAY": np.array([0.01, 0.014, 0.014, 0.012]),
    "QRY": np.array([0.008, 0.01, 0.014, 0.02]),
}
# How the latent traits (pipeline/generate/takeup.py) show in behaviour: rate x exp(weight *
# trait - weight^2 / 2) per kind of event, so the population's mean rate is unchanged.
_TRAIT_WEIGHTS: dict[str, dict[str, float]] = {
    "POS": {"spending": 0.7},
    "PAY": {"protection": 0.6, "borrowing": 0.4},
    "DEP": {"saving": 0.6},
    "WDL": {"saving": -0.4, "borrowing": 0.3},
    "TRO": {"borrowing": 0.5},
    "QRY": {"investing": 0.7},
}
_MCC = np.array([int(m[0]) for m in vocab.MCCS])
_MCC_P = np.array([m[1] for m in vocab.MCCS]) / sum(m[1] for m in vocab.MCCS)
_MCC_MEDIAN = np.array([m[2] for m in vocab.MCCS])
_WDL_AMOUNTS = np.array([100, 200, 300, 500, 800, 1000, 2000, 3000, 5000]) * 100
_WDL_P = np.array([6, 12, 8, 20, 8, 20, 14, 8, 4], dtype=float)


def age_band(age: np.ndarray) -> np.ndarray:
    """0: under 30, 1: 30-44, 2: 45-59, 3: 60 and over."""
    return np.digitize(age, [30, 45, 60])


def pick_channel(rng: np.random.Generator, kind: str, band: np.ndarray) -> np.ndarray:
    """Channel index per row from the habit table of ``kind``."""
    table = _CHANNEL_HABITS[kind].astype(float)
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[band]
    return (rng.random(len(band))[:, None] > cum).sum(axis=1)


def _lognormal_cents(
    rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int
) -> np.ndarray:
    return np.maximum(100, np.round(median * np.exp(rng.normal(0, sigma, n)) * 100)).astype(
        np.int64
    )


def _branches_for(
    rng: np.random.Generator, w: World, cust: np.ndarray, channel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counter and ATM rows happen at the home branch mostly; others have no branch."""
    n = len(cust)
    staffed = np.flatnonzero(w.branches.branch_type != "SSB")
    any_branch = np.arange(len(w.branches.branch_type))
    away = rng.random(n) < 0.2
    branch = np.where(
        away,
        np.where(
            channel == CH["CTR"],
            staffed[rng.integers(0, len(staffed), n)],
            any_branch[rng.integers(0, len(any_branch), n)],
        ),
        w.cust.home_branch[cust],
    )
    at_branch = (channel == CH["CTR"]) | (channel == CH["ATM"])
    return np.where(at_branch, branch, -1), np.where(at_branch, rng.integers(1, 7, n), -1)


def counter_fee(w: World, channel: np.ndarray, cp: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Cross-bank transfers at the counter or by phone: 0.5%, at least 2 and at most 50 CNY."""
    banks = w.registry["cp_bank"].to_numpy()
    cross = (cp >= 0) & (banks[np.maximum(cp, 0)] != w.bank_code)
    charged = cross & ((channel == CH["CTR"]) | (channel == CH["TEL"]))
    return np.where(charged, np.clip(amount // 200, 200, 5000), 0)


def ordinary_events(
    rng: np.random.Generator, w: World, day: int, active: np.ndarray
) -> list[Batch]:
    """Spending, cash, transfers, bill payments and enquiries of every active customer.

    Card holders pay by card at the till most of the time, unless the card is in arrears (it is
    blocked: they pay from the demand deposit).
    """
    c = w.cust
    blocked = w.acct.in_arrears(day) | (w.acct.cure_day == day)
    band = age_band(c.age)
    scale = c.activity * np.where(c.persona == P["merchant"], 0.5, 1.0)
    # a churner fades from their drain day to a fifth of their activity on leaving
    draining = (c.drain_day >= 0) & (day >= c.drain_day) & (day < c.lifecycle_day)
    span = np.maximum(c.lifecycle_day - c.drain_day, 1)
    scale = np.where(draining, scale * (1 - 0.8 * (day - c.drain_day) / span), scale)
    a = w.acct
    soon = (a.takeup_trait >= 0) & (a.open_day > day) & (a.open_day <= day + INTENT_DAYS)
    intent = np.zeros(c.n, dtype=bool)
    intent[a.cust[soon]] = True
    out: list[Batch] = []
    for kind, rates in _RATES.items():
        lam = rates[band] * scale * active
        for trait, weight in _TRAIT_WEIGHTS.get(kind, {}).items():
            lam = lam * np.exp(weight * c.traits[:, T[trait]] - weight**2 / 2)
        if kind == "QRY":
            lam = np.where(intent, 3 * lam, lam)  # looking the product up before taking it
        count = rng.poisson(lam)
        who = np.repeat(np.arange(c.n), count)
        n = len(who)
        if n == 0:
            continue
        acct = w.hold.dda[who]
        b = band[who]
        if kind == "POS":
            k = rng.choice(len(_MCC), n, p=_MCC_P)
            amount = _lognormal_cents(rng, _MCC_MEDIAN[k], 0.7, n)
            card = w.hold.ccd[who]
            use_card = (card >= 0) & (rng.random(n) < 0.6)
            use_card &= a.open_day[np.maximum(card, 0)] <= day
            use_card &= ~blocked[np.maximum(card, 0)]
            acct = np.where(use_card, card, acct)
            shop_rows = np.empty(n, dtype=np.int64)
            for j, pool in enumerate(w.shops):
                rows = np.flatnonzero(k == j)
                shop_rows[rows] = pool[rng.integers(0, len(pool), len(rows))]
            out.append(chunk(who, acct, CH["POS"], "POS", amount, cp=shop_rows, mcc=_MCC[k]))
            continue
        if kind == "TRI":
            payer = w.persons[rng.integers(0, len(w.persons), n)]
            amount = _lognormal_cents(rng, 500.0, 1.0, n)
            out.append(chunk(who, acct, CH["NET"], "TRI", amount, cp=payer))
            continue
        channel = pick_channel(rng, kind, b)
        branch, term = _branches_for(rng, w, who, channel)
        cp = None
        fee = None
        if kind == "WDL":
            amount = _WDL_AMOUNTS[rng.choice(len(_WDL_AMOUNTS), n, p=_WDL_P / _WDL_P.sum())]
        elif kind == "DEP":
            amount = np.maximum(10000, np.round(_lognormal_cents(rng, 2000.0, 0.9, n), -4))
        elif kind == "TRO":
            amount = _lognormal_cents(rng, 600.0, 1.0, n)
            amount = np.where(rng.random(n) < 0.4, np.maximum(10000, np.round(amount, -4)), amount)
            ours = rng.random(n) < 0.2
            peer = w.hold.dda[rng.integers(0, c.n, n)]
            cp = np.where(ours, peer, w.persons[rng.integers(0, len(w.persons), n)])
            cp = np.where(cp == acct, w.persons[0], cp)
            fee = counter_fee(w, channel, cp, amount)
        elif kind == "PAY":
            amount = _lognormal_cents(rng, 120.0, 0.6, n)
            cp = w.billers[rng.integers(0, len(w.billers), n)]
        else:
            amount = np.zeros(n, dtype=np.int64)
        out.append(
            chunk(who, acct, channel, kind, amount, cp=cp, fee=fee, branch=branch, terminal=term)
        )
    return out
