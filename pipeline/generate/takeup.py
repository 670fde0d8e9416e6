"""Latent traits, product take-up and attrition: the ground truth the next-product and
lifetime-value models are judged against.

Every customer carries five latent traits (standard normal, drawn from their own random
stream): ``saving``, ``investing``, ``protection``, ``spending`` and ``borrowing``. A trait
shows in behaviour every day (``activity``: savers deposit more and withdraw less, spenders pay
by card more, borrowers pay bills and transfer out more, investors look up rates and keep more
on deposit, the protection-minded pay more bills), raises the odds of holding the matching
product on the first date, and drives take-up during the window: a non-holder of product P takes
it up after an exponential waiting time with monthly hazard ``TAKEUP_HAZARD[P] * exp(TRAIT_WEIGHT
* trait - TRAIT_WEIGHT**2 / 2)`` (mean ``TAKEUP_HAZARD[P]`` over the population). In the
``INTENT_DAYS`` before a take-up the customer looks the product up (QRY, three times the usual
rate): a signal that precedes the event, so only a model that looks strictly before its cut-off
is honest about it.

Attrition: a churned customer (lifecycle ``churned``) drains before leaving: from their
``drain_day`` (45-120 days before the lifecycle date) activity fades linearly to a fifth and
every ``DRAIN_EVERY_DAYS`` days a third of the demand deposit moves to their account at another
bank; on the lifecycle date the rest goes and every account closes (``schedule.leaving_events``).

Growth: a share (``RAISE_SHARE``, 12%) of ordinary salaried customers aged 25-50 get a raise on a
day inside the window (their salary times 1.4-1.8 from then on): lifecycle ``growing`` with
that day as ``lifecycle_date`` in the truth, so the growth flags have something real to find.

Truth: ``accounts_truth`` gives each take-up account (``takeup_trait``: the trait that drove it,
null for accounts held on the first date or rolled over), the customer truth gives the traits
(``trait_<name>``) and ``attrition_start_date``.
"""

from __future__ import annotations

import numpy as np

from pipeline.generate.population import Customers, P

TRAITS: tuple[str, ...] = ("saving", "investing", "protection", "spending", "borrowing")
T = {name: i for i, name in enumerate(TRAITS)}
TRAIT_OF_PRODUCT: dict[str, str] = {
    "TDA": "saving",
    "WMP": "investing",
    "FND": "investing",
    "INS": "protection",
    "CCD": "spending",
    "PLN": "borrowing",
}
# Monthly take-up hazard of a non-holder at trait 0 (population mean), per product.
TAKEUP_HAZARD: dict[str, float] = {
    "TDA": 0.012,
    "WMP": 0.012,
    "FND": 0.010,
    "INS": 0.008,
    "CCD": 0.015,
    "PLN": 0.008,
}
TRAIT_WEIGHT = 1.2
INTENT_DAYS = 60
DRAIN_EVERY_DAYS = 14
DAYS_PER_MONTH = 30.4375


def draw_traits(rng: np.random.Generator, cust: Customers) -> np.ndarray:
    """Latent traits, one row per customer (columns in ``TRAITS`` order).

    Investing leans with wealth and saving with age, so the traits are not independent of what
    a bank already sees, but most of each is the customer's own (shown only in behaviour).
    Merchants and decoys get 0 (their behaviour is scripted elsewhere).
    """
    traits = rng.normal(0.0, 1.0, (cust.n, len(TRAITS)))
    z_wealth = (np.log10(cust.wealth) - 4.2) / 0.6
    traits[:, T["investing"]] = 0.4 * z_wealth + np.sqrt(1 - 0.16) * traits[:, T["investing"]]
    z_age = (cust.age - 45) / 15.5
    traits[:, T["saving"]] = 0.3 * z_age + np.sqrt(1 - 0.09) * traits[:, T["saving"]]
    # merchants' and decoys' behaviour is scripted (trade, planned transfers): neutral traits
    traits[cust.persona >= P["merchant"]] = 0.0
    return traits


def trait_multiplier(traits: np.ndarray, name: str, weight: float) -> np.ndarray:
    """exp(weight * trait - weight^2 / 2): mean 1 over the population."""
    return np.exp(weight * traits[:, T[name]] - weight**2 / 2)


def plan_takeups(
    rng: np.random.Generator,
    cust: Customers,
    traits: np.ndarray,
    eligible: dict[str, np.ndarray],
    days: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Who takes up which product on which window day.

    Parameters
    ----------
    rng
        The take-up random stream.
    cust
        The customers.
    traits
        From :func:`draw_traits`.
    eligible
        Per product, the customers who may take it up (non-holders who qualify).
    days
        Window length.

    Returns
    -------
    dict
        Per product, (customer positions, take-up day), sorted by customer.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # A customer can act from their first day with the bank; churners never take anything up.
    first = np.maximum(cust.open_day, 0) + 1
    for product, hazard in TAKEUP_HAZARD.items():
        rate = hazard * trait_multiplier(traits, TRAIT_OF_PRODUCT[product], TRAIT_WEIGHT)
        wait = rng.exponential(DAYS_PER_MONTH / np.maximum(rate, 1e-9))
        day = first + wait.astype(np.int64)
        who = np.flatnonzero(eligible[product] & (day < days) & (cust.lifecycle != 3))
        out[product] = (who, day[who])
    return out


def drain_days(rng: np.random.Generator, cust: Customers) -> np.ndarray:
    """The day each churner starts draining (-1 for everyone else)."""
    lead = rng.integers(45, 121, cust.n)
    churner = (cust.lifecycle == 3) & (cust.persona < P["merchant"])
    return np.where(churner, np.maximum(cust.lifecycle_day - lead, 0), -1).astype(np.int64)


RAISE_SHARE = 0.12
"""Share of the eligible (ordinary salaried 25-50) who get a raise in the window."""


def plan_raises(
    rng: np.random.Generator, cust: Customers, monthly_cents: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Salary raises: (day, factor) per customer; day 10**9 and factor 1 for those without.

    Chosen among ordinary stable salaried customers aged 25-50 (with a salary), on a day in
    the window's first 80%; they become lifecycle ``growing`` (1) with that day.
    """
    n = cust.n
    eligible = (
        (cust.lifecycle == 0)
        & (cust.persona < P["merchant"])
        & np.isin(cust.occupation, ["EMP", "CIV"])
        & (cust.age >= 25)
        & (cust.age <= 50)
        & (monthly_cents > 0)
        & (cust.open_day < 0)
    )
    chosen = eligible & (rng.random(n) < RAISE_SHARE)
    day = np.where(chosen, rng.integers(0, max(int(days * 0.8), 1), n), 10**9).astype(np.int64)
    factor = np.where(chosen, rng.uniform(1.4, 1.8, n), 1.0)
    cust.lifecycle[chosen] = 1
    cust.lifecycle_day[chosen] = day[chosen]
    return day, factor
