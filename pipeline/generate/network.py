"""Counterparties: the registry every transaction points into, and the merchants' trade network.

Registry rows ``0 .. n_accounts-1`` are the bank's own accounts (so a transfer to a customer
carries that customer's account, name, the bank's code and customer id); external parties
(employers, shops, billers, buyers, suppliers, people at other banks) follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipeline.generate import identity, vocab
from pipeline.generate.accounts import Accounts, Holdings
from pipeline.generate.population import Branches, Customers, P


@dataclass
class Registry:
    """Growable counterparty table; ``frame()`` freezes it into string columns."""

    bank_code: str
    account: list[np.ndarray] = field(default_factory=list)
    name: list[np.ndarray] = field(default_factory=list)
    bank: list[np.ndarray] = field(default_factory=list)
    customer_id: list[np.ndarray] = field(default_factory=list)
    terminal: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def add(
        self,
        names: np.ndarray,
        banks: np.ndarray,
        accounts: np.ndarray,
        customer_ids: np.ndarray | None = None,
        terminals: np.ndarray | None = None,
    ) -> np.ndarray:
        """Append parties and return their registry indices."""
        m = len(names)
        self.name.append(np.asarray(names, dtype=object))
        self.bank.append(np.asarray(banks, dtype=object))
        self.account.append(np.asarray(accounts, dtype=object))
        blank = np.full(m, "", dtype=object)
        self.customer_id.append(blank if customer_ids is None else customer_ids.astype(object))
        self.terminal.append(blank if terminals is None else terminals.astype(object))
        index = np.arange(self.size, self.size + m)
        self.size += m
        return index

    def frame(self) -> pl.DataFrame:
        """All parties as a string frame, row number = registry index."""
        return pl.DataFrame(
            {
                "cp_account": np.concatenate(self.account).astype(str),
                "cp_name": np.concatenate(self.name).astype(str),
                "cp_bank": np.concatenate(self.bank).astype(str),
                "cp_customer_id": np.concatenate(self.customer_id).astype(str),
                "cp_terminal": np.concatenate(self.terminal).astype(str),
            }
        )


def external_accounts(rng: np.random.Generator, n: int, company: bool = False) -> np.ndarray:
    """Account numbers at other banks: 19-digit cards for people, 15 digits for companies."""
    if company:
        head, tail, prefix = rng.integers(10**8, 10**9, n), rng.integers(10**5, 10**6, n), ""
    else:
        head, tail, prefix = rng.integers(10**7, 10**8, n), rng.integers(10**8, 10**9, n), "62"
    return np.char.add(np.char.add(prefix, head.astype(str)), tail.astype(str))


def other_banks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw codes of other banks, the big four most often."""
    weights = np.array([16, 18, 14, 6, 5, 5, 6, 5, 4, 10, 8], dtype=float)
    return np.array(vocab.OTHER_BANKS)[rng.choice(len(weights), n, p=weights / weights.sum())]


def _pick(rng: np.random.Generator, options: tuple[str, ...], n: int) -> np.ndarray:
    return np.array(options, dtype=object)[rng.integers(0, len(options), n)]


def trade_names(rng: np.random.Generator, n: int, suffixes: tuple[str, ...]) -> np.ndarray:
    """Names like 长沙李记食品批发商行 / 王芳副食经营部."""
    surname = _pick(rng, vocab.SURNAMES, n)
    place = np.where(
        rng.random(n) < 0.5, _pick(rng, tuple(vocab.HOME_REGION_NAMES.values()), n), ""
    ).astype(object)
    owner = surname + np.where(rng.random(n) < 0.5, "记", _pick(rng, vocab.GIVEN_MALE, n))
    return place + owner + _pick(rng, vocab.GOODS, n) + _pick(rng, suffixes, n)


def own_accounts(reg: Registry, accounts: Accounts, cust: Customers) -> None:
    """Register every own account first, so that registry index = account index."""
    owner = accounts.cust
    reg.add(
        cust.name[owner],
        np.full(accounts.n, reg.bank_code, dtype=object),
        accounts.account_id.astype(object),
        customer_ids=cust.customer_id[owner],
    )


@dataclass(frozen=True)
class Merchants:
    """The individual merchants' trade: one row per merchant, pools as flat arrays."""

    cust: np.ndarray
    turnover_cents: np.ndarray
    cash_share: np.ndarray
    ticket_cents: np.ndarray
    day_off: np.ndarray
    keep_cents: np.ndarray
    unit_cents: np.ndarray
    cluster: np.ndarray
    buyer_start: np.ndarray
    buyer_count: np.ndarray
    buyers: np.ndarray
    supplier_start: np.ndarray
    supplier_count: np.ndarray
    suppliers: np.ndarray
    branch: np.ndarray
    expected_supplier_inflow_cents: np.ndarray = field(default_factory=lambda: np.zeros(0))


# Share of a merchant's inflow passed on to suppliers (the rest is spent or kept).
PASS_THROUGH = 0.93


def build_merchants(
    rng: np.random.Generator,
    reg: Registry,
    cust: Customers,
    hold: Holdings,
    branches: Branches,
) -> Merchants:
    """Draw merchants' turnover, market clusters, buyers and suppliers.

    Parameters
    ----------
    rng
        Random generator.
    reg
        Counterparty registry (buyers and suppliers are added to it).
    cust
        The customers; persona ``merchant`` marks the merchants.
    hold
        Per-customer accounts (own-bank buyers and suppliers are referenced by their DDA).
    branches
        The network; each cluster trades around one market-area branch.

    Returns
    -------
    Merchants
        Trade parameters; yearly turnover is log-normal, clipped to 0.3–30 million CNY.
    """
    idx = np.flatnonzero(cust.persona == P["merchant"])
    m = len(idx)
    turnover = np.clip(np.exp(rng.normal(np.log(1.8e6), 1.0, m)), 3e5, 3e7)
    ticket = np.clip(turnover / 365 / rng.uniform(10, 40, m), 80, 30000)
    n_clusters = int(np.clip(round(m / 25), 1, 40))
    clustered = rng.random(m) < 0.8
    cluster = np.where(clustered, rng.integers(0, n_clusters, m), -1)
    market_branches = np.flatnonzero(branches.market_area)
    cluster_branch = market_branches[np.arange(n_clusters) % len(market_branches)]
    branch = np.where(clustered, cluster_branch[np.maximum(cluster, 0)], cust.home_branch[idx])
    cust.home_branch[idx] = branch

    ordinary = np.flatnonzero(
        (cust.persona < P["merchant"])
        & (cust.lifecycle == 0)
        & (cust.open_day < 0)
        & (cust.wealth > 3000)
    )
    # Cluster pools of buyers (shared by members) and suppliers.
    pool_buyers: list[np.ndarray] = []
    pool_suppliers: list[np.ndarray] = []
    for c in range(n_clusters):
        members = int((cluster == c).sum())
        size = 20 + 30 * members
        pool_buyers.append(_new_buyers(rng, reg, size, ordinary, hold))
        k = int(rng.integers(5, 13))
        sup = _new_suppliers(rng, reg, k)
        other = idx[cluster != c]
        if len(other) and rng.random() < 0.6:
            sup[0] = hold.dda[other[rng.integers(0, len(other))]]
        pool_suppliers.append(sup)

    buyers: list[np.ndarray] = []
    suppliers: list[np.ndarray] = []
    n_buyers = np.clip((np.sqrt(turnover / 1e6) * 80 * rng.uniform(0.6, 1.4, m)), 30, 400)
    n_buyers = n_buyers.astype(np.int64)
    for j in range(m):
        own = _new_buyers(rng, reg, int(n_buyers[j]), ordinary, hold)
        k = int(rng.integers(3, 7))
        if cluster[j] >= 0:
            pool = pool_buyers[cluster[j]]
            share = rng.choice(pool, min(len(pool), int(n_buyers[j]) // 2), replace=False)
            own = np.concatenate([share, own[: int(n_buyers[j]) - len(share)]])
            sp = pool_suppliers[cluster[j]]
            sup = rng.choice(sp, min(k, len(sp)), replace=False)
            if rng.random() < 0.4:
                sup = np.concatenate([sup, _new_suppliers(rng, reg, 1)])
        else:
            sup = _new_suppliers(rng, reg, k)
        sup = sup[sup != hold.dda[idx[j]]]
        buyers.append(own)
        suppliers.append(sup)
    b_count = np.array([len(b) for b in buyers], dtype=np.int64)
    s_count = np.array([len(s) for s in suppliers], dtype=np.int64)
    daily = turnover / 365
    unit = np.where(turnover > 3e6, 1_000_000, np.where(turnover > 1e6, 500_000, 100_000))
    flat_buyers = np.concatenate(buyers) if m else np.zeros(0, np.int64)
    flat_suppliers = np.concatenate(suppliers) if m else np.zeros(0, np.int64)
    s_start = np.concatenate([[0], np.cumsum(s_count)[:-1]]).astype(np.int64) if m else s_count
    expected = np.zeros(m)
    dda_to_merchant = {int(hold.dda[c]): j for j, c in enumerate(idx)}
    for j in range(m):
        for s in suppliers[j]:
            if int(s) in dda_to_merchant:
                expected[dda_to_merchant[int(s)]] += turnover[j] * PASS_THROUGH / s_count[j]
    return Merchants(
        cust=idx,
        turnover_cents=np.round(turnover * 100).astype(np.int64),
        cash_share=rng.uniform(0.1, 0.35, m),
        ticket_cents=np.round(ticket * 100).astype(np.int64),
        day_off=np.where(rng.random(m) < 0.6, rng.integers(0, 7, m), -1),
        keep_cents=np.round(daily * rng.uniform(1.0, 3.0, m) * 100).astype(np.int64),
        unit_cents=unit,
        cluster=cluster,
        buyer_start=np.concatenate([[0], np.cumsum(b_count)[:-1]]).astype(np.int64)
        if m
        else b_count,
        buyer_count=b_count,
        buyers=flat_buyers.astype(np.int64),
        supplier_start=s_start,
        supplier_count=s_count,
        suppliers=flat_suppliers.astype(np.int64),
        branch=branch,
        expected_supplier_inflow_cents=np.round(expected * 100).astype(np.int64),
    )


def _new_buyers(
    rng: np.random.Generator, reg: Registry, n: int, ordinary: np.ndarray, hold: Holdings
) -> np.ndarray:
    """Small buyers: people and shops, mostly at other banks; some are our customers."""
    ours = rng.random(n) < 0.12
    k_ours = int(ours.sum())
    ext = n - k_ours
    person = rng.random(ext) < 0.6
    names = np.where(
        person,
        identity.draw_names(rng, rng.random(ext) < 0.5).to_numpy(),
        trade_names(rng, ext, vocab.BUYER_SUFFIXES),
    )
    own_bank = rng.random(ext) < 0.1
    banks = np.where(own_bank, reg.bank_code, other_banks(rng, ext))
    ext_idx = reg.add(names, banks, external_accounts(rng, ext))
    our_idx = (
        hold.dda[ordinary[rng.integers(0, len(ordinary), k_ours)]]
        if len(ordinary)
        else np.zeros(0, np.int64)
    )
    return np.concatenate([ext_idx, our_idx]).astype(np.int64)


def _new_suppliers(rng: np.random.Generator, reg: Registry, n: int) -> np.ndarray:
    names = trade_names(rng, n, vocab.SUPPLIER_SUFFIXES)
    banks = np.where(rng.random(n) < 0.2, reg.bank_code, other_banks(rng, n))
    return reg.add(names, banks, external_accounts(rng, n, company=True)).astype(np.int64)
