"""The simulated world: population, accounts, counterparties and the plans that drive activity.

Everything random about a customer that does not change day by day (salary, pay day, employer,
decoy events, shops nearby) is drawn here once; ``activity`` then plays the days.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import polars as pl

from pipeline.generate import identity, network, takeup, vocab
from pipeline.generate.accounts import Accounts, Holdings, build_accounts
from pipeline.generate.network import Merchants, Registry
from pipeline.generate.population import Branches, Customers, P, build_branches, build_customers


@dataclass(frozen=True)
class Income:
    """Monthly income per customer: salary, pension or a parent's allowance."""

    monthly_cents: np.ndarray
    pay_dom: np.ndarray
    payer: np.ndarray
    job_start_day: np.ndarray
    graduate_cents: np.ndarray
    graduate_employer: np.ndarray
    # A salary raise (promotion, better job): from raise_day the salary is multiplied by
    # raise_factor (1 and a day never reached for everyone else): ``takeup.plan_raises``.
    raise_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    raise_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class Plan:
    """One-off planned transfers (decoys): day, customer's account, code, amount, counterparty."""

    day: np.ndarray
    acct: np.ndarray
    code: np.ndarray
    amount: np.ndarray
    cp: np.ndarray
    decoy_cust: np.ndarray
    decoy_day: np.ndarray


@dataclass
class World:
    """Everything the day loop needs."""

    start: np.datetime64
    days: int
    bank_code: str
    branches: Branches
    cust: Customers
    acct: Accounts
    hold: Holdings
    merch: Merchants
    income: Income
    plan: Plan
    shops: list[np.ndarray]
    billers: np.ndarray
    persons: np.ndarray
    exit_account: np.ndarray
    sms: np.ndarray
    registry: pl.DataFrame


def _employers(rng: np.random.Generator, reg: Registry, n: int) -> tuple[np.ndarray, np.ndarray]:
    body = np.array(vocab.EMPLOYER_BODIES, dtype=object)[
        rng.integers(0, len(vocab.EMPLOYER_BODIES), n)
    ]
    suffix = np.array(vocab.EMPLOYER_SUFFIXES, dtype=object)[
        rng.integers(0, len(vocab.EMPLOYER_SUFFIXES), n)
    ]
    place = np.where(rng.random(n) < 0.6, "长沙", "湖南").astype(object)
    names = place + body + suffix
    names[: len(vocab.PUBLIC_EMPLOYERS)] = vocab.PUBLIC_EMPLOYERS
    # Many employers pay salaries through our bank (代发工资), most through others.
    banks = np.where(rng.random(n) < 0.35, reg.bank_code, network.other_banks(rng, n))
    idx = reg.add(names, banks, network.external_accounts(rng, n, company=True))
    high = reg.add(
        np.array(vocab.HIGH_PAY_EMPLOYERS, dtype=object),
        network.other_banks(rng, len(vocab.HIGH_PAY_EMPLOYERS)),
        network.external_accounts(rng, len(vocab.HIGH_PAY_EMPLOYERS), company=True),
    )
    return idx, high


def _relatives(
    rng: np.random.Generator, reg: Registry, cust: Customers, who: np.ndarray
) -> np.ndarray:
    surname = np.array([str(s)[0] for s in cust.name[who]], dtype=object)
    given = identity.draw_names(rng, rng.random(len(who)) < 0.5).to_numpy()
    names = surname + np.array([str(g)[1:] or "明" for g in given], dtype=object)
    return reg.add(
        names, network.other_banks(rng, len(who)), network.external_accounts(rng, len(who))
    )


def _income(rng: np.random.Generator, reg: Registry, cust: Customers, days: int) -> Income:
    n = cust.n
    employers, high_payers = _employers(rng, reg, max(12, n // 40))
    pay_dom_of = rng.choice([5, 10, 15, 20, 25], len(employers))
    employer = employers[rng.integers(0, len(employers), n)]
    occ = cust.occupation
    salaried = np.isin(occ, ["EMP", "CIV"]) | ((occ == "OTH") & (rng.random(n) < 0.4))
    salary = np.exp(rng.normal(np.log(6500), 0.45, n))
    salary = np.where(occ == "CIV", salary * 1.2, salary)
    high = cust.persona == P["decoy_high_salary"]
    salary = np.where(high, rng.uniform(40000, 150000, n), salary)
    employer = np.where(high, high_payers[rng.integers(0, len(high_payers), n)], employer)
    monthly = np.where(salaried | high, salary, 0.0)
    payer = np.where(salaried | high, employer, -1)
    pension_payer = reg.add(
        np.array([vocab.PENSION_PAYER], dtype=object),
        np.array(["402"], dtype=object),
        network.external_accounts(rng, 1, company=True),
    )[0]
    retired = occ == "RET"
    monthly = np.where(retired, np.exp(rng.normal(np.log(3800), 0.35, n)), monthly)
    payer = np.where(retired, pension_payer, payer)
    students = np.flatnonzero(occ == "STU")
    parents = _relatives(rng, reg, cust, students)
    monthly[students] = rng.uniform(1000, 2500, len(students))
    payer[students] = parents
    merchant = cust.persona >= P["merchant"]
    monthly = np.where(merchant & ~high & ~salaried, 0.0, monthly)
    by_employer = (payer >= employers[0]) & (payer <= employers[-1])
    dom = np.where(
        by_employer, pay_dom_of[np.clip(payer - employers[0], 0, len(employers) - 1)], 25
    )
    dom = np.where(retired, 8, np.where(occ == "STU", rng.integers(1, 6, n), dom))
    job_start = np.where(occ == "STU", cust.graduation_day + rng.integers(20, 90, n), 10**9)
    return Income(
        monthly_cents=np.round(monthly * 100).astype(np.int64),
        pay_dom=dom.astype(np.int64),
        payer=payer.astype(np.int64),
        job_start_day=job_start.astype(np.int64),
        graduate_cents=(rng.uniform(4000, 8000, n) * 100).astype(np.int64),
        graduate_employer=employers[rng.integers(0, len(employers), n)],
    )


def _decoy_plan(
    rng: np.random.Generator, reg: Registry, cust: Customers, hold: Holdings, days: int
) -> Plan:
    parts: list[tuple[np.ndarray, ...]] = []
    decoy_cust: list[np.ndarray] = []
    decoy_day: list[np.ndarray] = []
    span = max(days, 1)

    flat = np.flatnonzero(cust.persona == P["decoy_flat_sale"])
    k = len(flat)
    day = rng.integers(0, span, k)
    buyers = reg.add(
        identity.draw_names(rng, rng.random(k) < 0.5).to_numpy(),
        network.other_banks(rng, k),
        network.external_accounts(rng, k),
    )
    price = np.round(rng.uniform(1e6, 5e6, k), -3) * 100
    parts.append((day, hold.dda[flat], np.full(k, "TRI"), price.astype(np.int64), buyers))
    developer = reg.add(
        network.trade_names(rng, k, ("房地产开发有限公司",)),
        network.other_banks(rng, k),
        network.external_accounts(rng, k, company=True),
    )
    later = day + rng.integers(3, 11, k)
    parts.append(
        (
            later,
            hold.dda[flat],
            np.full(k, "TRO"),
            (np.round(price * rng.uniform(0.4, 0.8, k), -6)).astype(np.int64),
            developer,
        )
    )
    decoy_cust.append(flat)
    decoy_day.append(day)

    heirs = np.flatnonzero(cust.persona == P["decoy_inheritance"])
    k = len(heirs)
    relatives = _relatives(rng, reg, cust, heirs)
    day = rng.integers(0, span, k)
    amount = (np.round(rng.uniform(2e5, 3e6, k), -2) * 100).astype(np.int64)
    parts.append((day, hold.dda[heirs], np.full(k, "TRI"), amount, relatives))
    two = rng.random(k) < 0.5
    parts.append(
        (
            day[two] + rng.integers(10, 40, int(two.sum())),
            hold.dda[heirs][two],
            np.full(int(two.sum()), "TRI"),
            amount[two] // 2,
            relatives[two],
        )
    )
    decoy_cust.append(heirs)
    decoy_day.append(day)

    movers = np.flatnonzero(cust.persona == P["decoy_own_transfer"])
    k = len(movers)
    elsewhere = reg.add(
        cust.name[movers], network.other_banks(rng, k), network.external_accounts(rng, k)
    )
    moves_per_customer = max(1, days // 5)
    who = np.repeat(np.arange(k), moves_per_customer)
    day = rng.integers(0, span, len(who))
    kind = rng.integers(0, 3, len(who))
    amount = (
        np.clip(
            np.round(cust.wealth[movers][who] * rng.uniform(0.05, 0.2, len(who)), -4), 50000, 500000
        )
        * 100
    ).astype(np.int64)
    acct = np.where(kind == 0, hold.dda[movers][who], hold.dda[movers][who])
    cp = np.where(kind == 0, hold.second_dda[movers][who], elsewhere[who])
    code = np.where(kind == 2, "TRI", "TRO")
    parts.append((day, acct, code, amount, cp))
    decoy_cust.append(movers)
    decoy_day.append(np.full(k, -1))

    cols = list(zip(*parts, strict=True))
    return Plan(
        day=np.concatenate(cols[0]).astype(np.int64),
        acct=np.concatenate(cols[1]).astype(np.int64),
        code=np.concatenate(cols[2]).astype("<U3"),
        amount=np.concatenate(cols[3]).astype(np.int64),
        cp=np.concatenate(cols[4]).astype(np.int64),
        decoy_cust=np.concatenate(decoy_cust).astype(np.int64),
        decoy_day=np.concatenate(decoy_day).astype(np.int64),
    )


def _shops(rng: np.random.Generator, reg: Registry, n: int) -> list[np.ndarray]:
    shops = []
    for mcc, _, _, _ in vocab.MCCS:
        k = max(5, n // 150)
        templates = vocab.SHOP_TEMPLATES[mcc]
        names = np.array(
            [
                templates[t].format(
                    place=vocab.HOME_REGION_NAMES[vocab.HOME_REGIONS[p]],
                    street=vocab.STREETS[s],
                    owner=vocab.SURNAMES[o],
                )
                for t, p, s, o in zip(
                    rng.integers(0, len(templates), k),
                    rng.integers(0, len(vocab.HOME_REGIONS), k),
                    rng.integers(0, len(vocab.STREETS), k),
                    rng.integers(0, 40, k),
                    strict=True,
                )
            ],
            dtype=object,
        )
        terminals = np.char.add(f"P{mcc}", np.char.zfill(rng.integers(0, 10**6, k).astype(str), 6))
        shops.append(
            reg.add(
                names,
                np.full(k, "", dtype=object),
                np.full(k, "", dtype=object),
                terminals=terminals,
            )
        )
    return shops


def build_world(customers: int, start: date, days: int, seed: int, bank_code: str) -> World:
    """Draw the whole population and every plan from one seed.

    Parameters
    ----------
    customers
        Number of customers.
    start
        First business date.
    days
        Number of business dates.
    seed
        Random seed; the same seed gives the same world.
    bank_code
        The bank's own code in counterparty_bank.

    Returns
    -------
    World
        Ready for the day loop.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    branches = build_branches(rng, customers, start)
    cust = build_customers(rng, customers, start, days, branches)
    start64 = np.datetime64(start, "D")
    credit_rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    takeup_rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    cust.traits = takeup.draw_traits(takeup_rng, cust)
    cust.drain_day = takeup.drain_days(takeup_rng, cust)
    acct, hold = build_accounts(rng, cust, branches, start64, days, credit_rng, takeup_rng)
    reg = Registry(bank_code=bank_code)
    network.own_accounts(reg, acct, cust)
    merch = network.build_merchants(rng, reg, cust, hold, branches)
    income = _income(rng, reg, cust, days)
    raise_day, raise_factor = takeup.plan_raises(takeup_rng, cust, income.monthly_cents, days)
    income = replace(income, raise_day=raise_day, raise_factor=raise_factor)
    plan = _decoy_plan(rng, reg, cust, hold, days)
    shops = _shops(rng, reg, customers)
    billers = reg.add(
        np.array(vocab.BILLERS, dtype=object),
        np.array(["402"] * len(vocab.BILLERS), dtype=object),
        network.external_accounts(rng, len(vocab.BILLERS), company=True),
    )
    k = max(50, customers // 5)
    persons = reg.add(
        identity.draw_names(rng, rng.random(k) < 0.5).to_numpy(),
        network.other_banks(rng, k),
        network.external_accounts(rng, k),
    )
    exit_account = reg.add(
        cust.name, network.other_banks(rng, cust.n), network.external_accounts(rng, cust.n)
    )
    reg.add(
        np.array([""], dtype=object), np.array([""], dtype=object), np.array([""], dtype=object)
    )
    return World(
        start=start64,
        days=days,
        bank_code=bank_code,
        branches=branches,
        cust=cust,
        acct=acct,
        hold=hold,
        merch=merch,
        income=income,
        plan=plan,
        shops=shops,
        billers=billers,
        persons=persons,
        exit_account=exit_account,
        sms=rng.random(customers) < 0.3,
        registry=reg.frame(),
    )
