"""Branches and personal customers: who they are, where they bank, what persona they play.

Every date is kept twice: as ``datetime64[D]`` for the files and as a day offset from the first
business date (negative in the past) for the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from pipeline.generate import identity, vocab

PERSONAS: tuple[str, ...] = (
    "salaried",
    "student",
    "retiree",
    "farmer",
    "self_employed",
    "unemployed",
    "other",
    "merchant",
    "decoy_flat_sale",
    "decoy_inheritance",
    "decoy_high_salary",
    "decoy_own_transfer",
)
P = {name: i for i, name in enumerate(PERSONAS)}
DECOYS = ("decoy_flat_sale", "decoy_inheritance", "decoy_high_salary", "decoy_own_transfer")

OCCUPATIONS: tuple[str, ...] = ("STU", "EMP", "CIV", "SE", "FRM", "RET", "UNE", "OTH", "UNK")
EDUCATIONS: tuple[str, ...] = ("PRI", "SEC", "JC", "BA", "MA", "PHD", "UNK")
LIFECYCLES: tuple[str, ...] = ("stable", "growing", "dormant", "churned", "frozen")


@dataclass(frozen=True)
class Branches:
    """Branch table: one row per branch, ``frame`` in BRCH column order."""

    frame: pl.DataFrame
    branch_type: np.ndarray
    market_area: np.ndarray
    region: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        """Branch ids as a string array."""
        return self.frame["branch_id"].to_numpy()


@dataclass
class Customers:
    """Customer attributes as parallel arrays, indexed by customer position (= id order)."""

    n: int
    customer_id: np.ndarray
    name: np.ndarray
    female: np.ndarray
    age: np.ndarray
    birth_date: np.ndarray
    id_type: np.ndarray
    id_number: np.ndarray
    mobile: np.ndarray
    education: np.ndarray
    occupation: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    home_branch: np.ndarray
    rm_id: np.ndarray
    open_date: np.ndarray
    open_day: np.ndarray
    business_license: np.ndarray
    consent: np.ndarray
    status: np.ndarray
    persona: np.ndarray
    wealth: np.ndarray
    lifecycle: np.ndarray
    lifecycle_day: np.ndarray
    graduation_day: np.ndarray
    activity: np.ndarray
    # Latent traits (``takeup.TRAITS`` columns) and the day a churner starts draining (-1 for
    # others): set by ``world.build_world`` from their own random stream.
    traits: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    drain_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def n_branches(customers: int) -> int:
    """Network size for a population: 20 branches for a small town, up to 60."""
    return int(np.clip(round(20 + 15 * np.log10(max(customers, 1000) / 1000)), 20, 60))


def build_branches(rng: np.random.Generator, customers: int, start: date) -> Branches:
    """Draw the branch network: flagships, standard branches, saving offices, self-service.

    Parameters
    ----------
    rng
        Random generator.
    customers
        Population size; the network grows with it.
    start
        First business date; every branch opened before it.

    Returns
    -------
    Branches
        The network; about 15% of branches serve a market area.
    """
    n = n_branches(customers)
    kinds = np.array(["FLG"] * 2 + ["STD"] * 0 + ["STD"] * (n - 2))
    u = rng.random(n - 2)
    kinds[2:] = np.where(u < 0.42, "STD", np.where(u < 0.78, "SUB", "SSB"))
    n_market = max(2, round(0.15 * n))
    market_candidates = np.flatnonzero(kinds != "SSB")[2:]
    market_idx = rng.choice(market_candidates, n_market, replace=False)
    market = np.zeros(n, dtype=bool)
    market[market_idx] = True
    kinds[market_idx] = np.where(rng.random(n_market) < 0.6, "STD", "SUB")
    region = np.array(vocab.HOME_REGIONS)[rng.integers(0, len(vocab.HOME_REGIONS), n)]
    region[0] = "430102"
    names: list[str] = []
    market_no = 0
    for i in range(n):
        area = vocab.HOME_REGION_NAMES[str(region[i])]
        street = vocab.STREETS[i % len(vocab.STREETS)]
        if i == 0:
            names.append("长沙分行营业部")
        elif kinds[i] == "FLG":
            names.append(f"{area}支行营业部")
        elif market[i]:
            mkt = vocab.MARKETS[market_no % len(vocab.MARKETS)]
            market_no += 1
            names.append(f"{mkt}支行" if kinds[i] == "STD" else f"{mkt}储蓄所")
        elif kinds[i] == "STD":
            names.append(f"{area}{street}路支行")
        elif kinds[i] == "SUB":
            names.append(f"{street}路储蓄所")
        else:
            names.append(f"{street}路自助银行")
    span = (np.datetime64(start) - np.datetime64("1990-01-01")).astype(int) - 400
    opened = np.datetime64("1990-01-01") + rng.integers(0, span, n).astype("timedelta64[D]")
    frame = pl.DataFrame(
        {
            "branch_id": [f"BR{i + 1:03d}" for i in range(n)],
            "name": names,
            "region_code": region.astype(str),
            "branch_type": kinds.astype(str),
            "market_area": np.where(market, "Y", "N").astype(str),
            "open_date": np.char.replace(opened.astype(str), "-", ""),
            "status": ["A"] * n,
        }
    )
    return Branches(frame=frame, branch_type=kinds, market_area=market, region=region)


def _pick(rng: np.random.Generator, options: tuple[str, ...], probs: list[float], n: int):
    p = np.asarray(probs, dtype=float)
    return np.array(options)[rng.choice(len(options), n, p=p / p.sum())]


def _draw_occupation(rng: np.random.Generator, age: np.ndarray, student: np.ndarray) -> np.ndarray:
    n = len(age)
    young = _pick(rng, OCCUPATIONS, [0, 60, 4, 8, 3, 0, 15, 3, 7], n)
    mid = _pick(rng, OCCUPATIONS, [0, 50, 12, 14, 8, 0, 4, 5, 7], n)
    old = _pick(rng, OCCUPATIONS, [0, 3, 1, 5, 10, 71, 0, 3, 7], n)
    occ = np.where(age < 25, young, np.where(age < 60, mid, old))
    return np.where(student, "STU", occ)


def _draw_education(
    rng: np.random.Generator, age: np.ndarray, occupation: np.ndarray
) -> np.ndarray:
    n = len(age)
    young = _pick(rng, EDUCATIONS, [3, 25, 30, 32, 6, 1, 3], n)
    mid = _pick(rng, EDUCATIONS, [15, 40, 20, 17, 3, 0.5, 4.5], n)
    old = _pick(rng, EDUCATIONS, [35, 40, 10, 8, 1, 0.2, 5.8], n)
    edu = np.where(age < 40, young, np.where(age < 60, mid, old))
    student = _pick(rng, EDUCATIONS, [0, 0, 30, 58, 10, 2, 0], n)
    graduate = _pick(rng, EDUCATIONS, [0, 2, 18, 60, 15, 5, 0], n)
    edu = np.where(occupation == "CIV", graduate, edu)
    return np.where(occupation == "STU", student, edu)


def _draw_industry(rng: np.random.Generator, occupation: np.ndarray) -> np.ndarray:
    n = len(occupation)
    emp = _pick(
        rng,
        tuple("BCDEFGHIJKLMNOPQR"),
        [1, 18, 3, 10, 14, 7, 6, 6, 4, 4, 5, 2, 1, 3, 5, 6, 2],
        n,
    )
    civ = _pick(rng, ("S", "P", "Q", "N", "R"), [45, 25, 20, 5, 5], n)
    se = _pick(rng, ("F", "H", "O", "E", "G", "C"), [55, 18, 12, 7, 5, 3], n)
    ind = np.full(n, "", dtype=object)
    ind = np.where(occupation == "EMP", emp, ind)
    ind = np.where(occupation == "CIV", civ, ind)
    ind = np.where(occupation == "SE", se, ind)
    ind = np.where(occupation == "FRM", "A", ind)
    ind = np.where((occupation == "OTH") & (rng.random(n) < 0.5), emp, ind)
    return ind.astype(str)


def _choose_special(
    rng: np.random.Generator, eligible: np.ndarray, taken: np.ndarray, count: int
) -> np.ndarray:
    pool = np.flatnonzero(eligible & ~taken)
    count = min(count, len(pool))
    chosen = rng.choice(pool, count, replace=False) if count else np.array([], dtype=np.int64)
    taken[chosen] = True
    return np.sort(chosen)


def _home_branches(rng: np.random.Generator, region: np.ndarray, branches: Branches) -> np.ndarray:
    n = len(region)
    staffed = np.flatnonzero(branches.branch_type != "SSB")
    home = staffed[rng.integers(0, len(staffed), n)]
    same = rng.random(n) < 0.75
    for code in np.unique(branches.region[staffed]):
        local = staffed[branches.region[staffed] == code]
        rows = np.flatnonzero(same & (region == code))
        home[rows] = local[rng.integers(0, len(local), len(rows))]
    return home


def build_customers(
    rng: np.random.Generator, n: int, start: date, days: int, branches: Branches
) -> Customers:
    """Draw the personal customers of a provincial capital, their personas and lifecycles.

    Parameters
    ----------
    rng
        Random generator.
    n
        Number of customers (all who are customers at some point of the window).
    start
        First business date.
    days
        Length of the window; a few customers open during it.
    branches
        The branch network (home branches; merchants bank at market-area branches).

    Returns
    -------
    Customers
        Sorted by open date so that the customer id order is the order of arrival.
    """
    start64 = np.datetime64(start)
    student = rng.random(n) < 0.07
    age = np.clip(rng.normal(45, 15.5, n), 18, 90).astype(int)
    age = np.where(student, rng.integers(18, 25, n), age)
    occupation = _draw_occupation(rng, age, student)
    taken = student.copy()
    working = (age >= 25) & (age <= 60)
    n_merch = max(3, round(0.015 * n))
    merchants = _choose_special(rng, working, taken, n_merch)
    flat = _choose_special(
        rng,
        (age >= 30) & (age <= 65) & np.isin(occupation, ["EMP", "CIV"]),
        taken,
        max(1, round(0.003 * n)),
    )
    inherit = _choose_special(rng, (age >= 30) & (age <= 75), taken, max(1, round(0.003 * n)))
    high = _choose_special(
        rng,
        (age >= 30) & (age <= 55) & np.isin(occupation, ["EMP", "CIV"]),
        taken,
        max(1, round(0.005 * n)),
    )
    own = _choose_special(rng, (age >= 28) & (age <= 65), taken, max(1, round(0.003 * n)))

    persona = np.full(n, P["other"], dtype=np.int8)
    for occ, name in [
        ("EMP", "salaried"),
        ("CIV", "salaried"),
        ("STU", "student"),
        ("RET", "retiree"),
        ("FRM", "farmer"),
        ("SE", "self_employed"),
        ("UNE", "unemployed"),
    ]:
        persona[occupation == occ] = P[name]
    persona[merchants] = P["merchant"]
    persona[flat] = P["decoy_flat_sale"]
    persona[inherit] = P["decoy_inheritance"]
    persona[high] = P["decoy_high_salary"]
    persona[own] = P["decoy_own_transfer"]
    occupation[merchants] = np.where(
        rng.random(len(merchants)) < 0.8,
        "SE",
        _pick(rng, ("EMP", "FRM", "OTH", "UNK"), [40, 25, 20, 15], len(merchants)),
    )
    education = _draw_education(rng, age, occupation)
    education[high] = _pick(rng, ("BA", "MA", "PHD"), [40, 45, 15], len(high))
    industry = _draw_industry(rng, occupation)
    industry[merchants] = np.where(industry[merchants] == "", "F", industry[merchants])

    female = rng.random(n) < 0.51
    birth_date = (
        start64
        - (age * 365.25).astype(int).astype("timedelta64[D]")
        - rng.integers(1, 365, n).astype("timedelta64[D]")
    )
    region = np.where(
        rng.random(n) < 0.88,
        np.array(vocab.HOME_REGIONS)[rng.integers(0, len(vocab.HOME_REGIONS), n)],
        np.array(vocab.PROVINCE_REGIONS)[rng.integers(0, len(vocab.PROVINCE_REGIONS), n)],
    )
    u = rng.random(n)
    birth_region = np.where(
        u < 0.55,
        region,
        np.where(
            u < 0.9,
            np.array(vocab.PROVINCE_REGIONS)[rng.integers(0, len(vocab.PROVINCE_REGIONS), n)],
            np.array(vocab.OTHER_BIRTH_REGIONS)[rng.integers(0, len(vocab.OTHER_BIRTH_REGIONS), n)],
        ),
    )

    # Wealth: log10 of financial assets in CNY, rising with age and education.
    edu_bonus = (
        pl.Series(education)
        .replace_strict(
            {"PRI": -0.2, "SEC": -0.05, "JC": 0.05, "BA": 0.2, "MA": 0.35, "PHD": 0.4, "UNK": 0.0}
        )
        .to_numpy()
    )
    log_wealth = 4.2 + 0.012 * (age - 40) + edu_bonus + rng.normal(0, 0.55, n)
    log_wealth = np.where(student, 3.3 + rng.normal(0, 0.3, n), log_wealth)
    log_wealth[high] += 0.9
    log_wealth[merchants] = 4.6 + rng.normal(0, 0.3, len(merchants))
    wealth = 10**log_wealth

    new_share = min(0.1, 0.004 * days / 30)
    is_new = (rng.random(n) < new_share) & (persona < P["merchant"])
    first_possible = np.maximum(
        birth_date + np.timedelta64(365 * 18 + 5, "D"), np.datetime64("1998-01-01")
    )
    span = np.maximum((start64 - first_possible).astype(int), 30)
    open_past = first_possible + (span * rng.random(n) ** 0.8).astype("timedelta64[D]")
    open_past = np.minimum(open_past, start64 - np.timedelta64(1, "D"))
    open_new = start64 + rng.integers(0, max(days, 1), n).astype("timedelta64[D]")
    open_date = np.where(is_new, open_new, open_past).astype("datetime64[D]")

    order = np.argsort(open_date, kind="stable")

    def sort(a: np.ndarray) -> np.ndarray:
        return a[order]

    (
        age,
        female,
        birth_date,
        occupation,
        education,
        industry,
        region,
        birth_region,
        persona,
        wealth,
        open_date,
        student,
    ) = map(
        sort,
        (
            age,
            female,
            birth_date,
            occupation,
            education,
            industry,
            region,
            birth_region,
            persona,
            wealth,
            open_date,
            student,
        ),
    )
    open_day = (open_date - start64).astype(int)
    merchant = persona == P["merchant"]
    special = persona >= P["merchant"]

    home = _home_branches(rng, region, branches)
    market_branches = np.flatnonzero(branches.market_area)
    n_m = int(merchant.sum())
    on_market = rng.random(n_m) < 0.85
    home[merchant] = np.where(
        on_market, market_branches[rng.integers(0, len(market_branches), n_m)], home[merchant]
    )

    rich = wealth >= np.quantile(wealth, 0.94)
    rm_pool = np.array([f"RM{i:04d}" for i in range(1, max(3, n // 400) + 1)])
    rm_id = np.where(
        rich | (special & ~merchant & (rng.random(n) < 0.5)),
        rm_pool[rng.integers(0, len(rm_pool), n)],
        "",
    ).astype(str)

    business_license = np.where(
        merchant,
        np.where(rng.random(n) < 0.28, "Y", "N"),
        np.where((occupation == "SE") & (rng.random(n) < 0.15), "Y", "N"),
    ).astype(str)
    consent = np.where(rng.random(n) < 0.6, "Y", "N").astype(str)

    # Lifecycles: some ordinary customers go dormant or leave during the window; a few frozen.
    lifecycle = np.where(student | ((age <= 25) & (occupation == "EMP")), 1, 0).astype(np.int8)
    lifecycle_day = np.full(n, -1, dtype=np.int64)
    ordinary = ~special & (open_day < 0)
    u = rng.random(n)
    dormant = ordinary & (u < 0.04) & (days > 1)
    churned = ordinary & (u >= 0.04) & (u < 0.09) & (days > 1)
    frozen = ordinary & (u >= 0.09) & (u < 0.092)
    lifecycle[dormant] = 2
    lifecycle[churned] = 3
    lifecycle[frozen] = 4
    lo = max(1, days // 10)
    lifecycle_day[dormant | churned] = rng.integers(
        lo, max(days, lo + 1), int((dormant | churned).sum())
    )
    status = np.where(frozen, "F", "A").astype("<U1")

    # Students graduate on 30 June of the year they turn 22 or 23; income starts after that.
    grad_year = birth_date.astype("datetime64[Y]").astype(int) + 1970 + 22 + (rng.random(n) < 0.3)
    grad_date = np.asarray(
        (grad_year - 1970).astype("datetime64[Y]") + np.timedelta64(180, "D"), dtype="datetime64[D]"
    )
    graduation_day = np.where(student, (grad_date - start64).astype(int), -(10**6))

    names = identity.draw_names(rng, female).to_numpy()
    id_number = identity.resident_ids(rng, birth_region, birth_date, female).to_numpy()
    u = rng.random(n)
    id_type = np.where(u < 0.003, "02", np.where(u < 0.005, "03", "01"))
    passport = np.char.add("E", rng.integers(10**7, 10**8, n).astype(str)).astype(object)
    other_id = np.char.add("H", rng.integers(10**8, 10**9, n).astype(str)).astype(object)
    id_number = np.where(id_type == "02", passport, np.where(id_type == "03", other_id, id_number))
    activity = np.exp(rng.normal(-0.125, 0.5, n))
    return Customers(
        n=n,
        customer_id=np.array([f"C{i + 1:09d}" for i in range(n)]),
        name=names,
        female=female,
        age=age,
        birth_date=birth_date,
        id_type=id_type,
        id_number=id_number,
        mobile=identity.mobiles(rng, n).to_numpy(),
        education=education,
        occupation=occupation,
        industry=industry,
        region=region,
        home_branch=home,
        rm_id=rm_id,
        open_date=open_date,
        open_day=open_day,
        business_license=business_license,
        consent=consent,
        status=status,
        persona=persona,
        wealth=wealth,
        lifecycle=lifecycle,
        lifecycle_day=lifecycle_day,
        graduation_day=graduation_day,
        activity=activity,
    )
