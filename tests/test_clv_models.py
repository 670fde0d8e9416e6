"""Pure-function tests of models/clv.py: CLV sum, activity, life stages, guards."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from models.clv import (
    ClvFitError,
    assign_life_stage,
    fit_purchase_model,
    fit_spend_model,
    penalizer_ladder,
    score_customers,
)
from pipeline.config.clv import ClvConfig, LifeStageRules
from pipeline.errors import DataContractError


def population(n: int = 3000, seed: int = 11) -> pl.DataFrame:
    """RFM rows from a BG/NBD process in days: rate ~ Gamma(0.8, 1/20), dropout ~ Beta(1, 5);
    spend per event ~ Gamma around a customer mean; observed for 60 to 360 days."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lam, p = rng.gamma(0.8, 1 / 20), rng.beta(1.0, 5.0)
        T = int(rng.integers(60, 361))
        t, times = 0.0, []
        while True:
            if times and rng.random() < p:
                break
            t += rng.exponential(1 / lam)
            if t > T:
                break
            times.append(int(t))
        days = sorted(set(times))
        x = len(days) - 1 if days else 0
        rec = days[-1] - days[0] if days else 0
        mean = rng.gamma(6.0, 3.0)
        rows.append(
            {
                "customer_id": f"C{i:05d}",
                "frequency": x,
                "recency_days": rec,
                "t_days": T - (days[0] if days else 0),
                "monetary_value": float(rng.gamma(20, mean / 20)) if x else 0.0,
                "days_since_last_event": T - (days[-1] if days else 0),
                "events_recent": sum(1 for d in days if d > T - 90),
            }
        )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def rfm() -> pl.DataFrame:
    return population()


DAYS = ClvConfig(time_unit_days=1, days_per_month=30.0, horizon_months=12)


def _lifetimes_clv(
    purchase_fitter: object, spend_fitter: object, frame: pl.DataFrame
) -> np.ndarray:
    from lifetimes.utils import _customer_lifetime_value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 deprecation notices inside lifetimes
        out = _customer_lifetime_value(
            purchase_fitter,
            frame["frequency"].to_pandas(),
            frame["recency_days"].to_pandas().astype(float),
            frame["t_days"].to_pandas().astype(float),
            spend_fitter.conditional_expected_average_profit(  # type: ignore[attr-defined]
                frame["frequency"].to_pandas(), frame["monetary_value"].to_pandas()
            ),
            time=12,
            discount_rate=0.01,
            freq="D",
        )
    return np.asarray(out, dtype=float)


def test_clv_equals_lifetimes_customer_lifetime_value(rfm: pl.DataFrame) -> None:
    # Same discrete discounted sum, computed by lifetimes per customer (30-day months in 'D').
    purchase = fit_purchase_model(rfm, DAYS)
    spend = fit_spend_model(rfm, DAYS)
    assert spend.fitted
    scored = score_customers(rfm, purchase, spend, DAYS)
    positive = scored.filter(pl.col("monetary_value") > 0).head(300)
    expected = _lifetimes_clv(purchase.fitter, spend.fitter, positive)
    np.testing.assert_allclose(positive["clv_amount"].to_numpy(), expected, rtol=1e-9)


def test_non_positive_contribution_keeps_own_value(rfm: pl.DataFrame) -> None:
    purchase = fit_purchase_model(rfm, DAYS)
    spend = fit_spend_model(rfm, DAYS)
    losers = rfm.head(5).with_columns(monetary_value=pl.Series([-12.5, 0.0, -3.0, -1.0, -8.0]))
    scored = score_customers(losers, purchase, spend, DAYS)
    assert scored["expected_contribution_per_event"].to_list() == [-12.5, 0.0, -3.0, -1.0, -8.0]
    assert (scored["clv_amount"] <= 0).all()
    assert scored["clv_amount"][1] == 0.0


def test_p_active_matches_a_simulation_of_the_posterior(rfm: pl.DataFrame) -> None:
    # Given (x, t_x, T), the customer is alive with P(alive) and then buys at a rate drawn
    # from Gamma(r + x, alpha + T) (FHL 2005 section 3); simulate the next 30 days.
    purchase = fit_purchase_model(rfm, DAYS)
    spend = fit_spend_model(rfm, DAYS)
    one = rfm.filter(pl.col("frequency") == 3).head(1)
    row = score_customers(one, purchase, spend, DAYS).row(0, named=True)
    r, alpha = purchase.params["r"], purchase.params["alpha"]
    rng = np.random.default_rng(5)
    n = 400_000
    alive = rng.random(n) < row["p_alive"]
    lam = rng.gamma(r + 3, 1 / (alpha + row["t_days"]), n)
    wait = rng.exponential(1 / lam)
    assert row["p_active_30d"] == pytest.approx(np.mean(alive & (wait <= 30)), abs=0.004)
    assert row["expected_days_to_next_event"] == pytest.approx(np.median(wait), rel=0.02)


def test_life_stage_rules_in_order() -> None:
    rules = LifeStageRules()
    frame = pl.DataFrame(
        {
            # dormant (p), dormant (days), new, declining (p), declining (rate), growing
            # (rate), growing (few repeats), mature
            "p_alive": [0.2, 0.9, 0.9, 0.6, 0.9, 0.9, 0.9, 0.9],
            "days_since_last_event": [10, 180, 5, 10, 10, 5, 5, 5],
            "t_days": [300, 300, 89, 300, 299, 299, 299, 299],
            "frequency": [20, 20, 1, 20, 29, 29, 3, 29],
            # lifetime rate of the last four: 30 / 300 = 0.1 a day; recent rate = n / 90
            "events_recent": [5, 0, 1, 5, 4, 14, 9, 9],
        }
    )
    got = assign_life_stage(frame, rules)["life_stage"].to_list()
    assert got == [
        "dormant",
        "dormant",
        "new",
        "declining",
        "declining",  # 4/90 = 0.044 < 0.5 * 0.1
        "growing",  # 14/90 = 0.156 > 1.5 * 0.1
        "growing",  # 9/90 = 0.1: steady, but only 3 repeat events
        "mature",
    ]


def test_mbgnbd_lets_one_time_customers_churn(rfm: pl.DataFrame) -> None:
    one_time = rfm.filter(pl.col("frequency") == 0).head(20)
    for model, below_one in (("bgnbd", False), ("mbgnbd", True)):
        cfg = DAYS.model_copy(update={"model": model})
        purchase = fit_purchase_model(rfm, cfg)
        scored = score_customers(one_time, purchase, fit_spend_model(rfm, cfg), cfg)
        assert bool((scored["p_alive"] < 1).all()) is below_one


def test_too_few_customers_or_repeaters_is_a_clear_error(rfm: pl.DataFrame) -> None:
    with pytest.raises(ClvFitError, match="only 50 customers with an event"):
        fit_purchase_model(rfm.head(50), DAYS)
    nobody = rfm.with_columns(frequency=pl.lit(0), recency_days=pl.lit(0))
    with pytest.raises(ClvFitError, match="only 0 of 3000 customers made a repeat event"):
        fit_purchase_model(nobody, DAYS)
    with pytest.raises(DataContractError, match="required column t_days missing"):
        fit_purchase_model(rfm.drop("t_days"), DAYS)
    broken = rfm.with_columns(recency_days=pl.col("t_days") + 1)
    with pytest.raises(DataContractError, match="break 0 <= recency <= T"):
        fit_purchase_model(broken, DAYS)


def test_gamma_gamma_skipped_with_few_positive_repeaters(rfm: pl.DataFrame) -> None:
    few = rfm.with_columns(
        monetary_value=pl.when(pl.int_range(pl.len()) < 5).then(10.0).otherwise(-1.0)
    )
    spend = fit_spend_model(few, DAYS)
    assert not spend.fitted and spend.status.startswith("skipped: ")
    purchase = fit_purchase_model(rfm, DAYS)
    scored = score_customers(few.head(10), purchase, spend, DAYS)
    assert (
        scored["expected_contribution_per_event"].to_list()
        == few.head(10)["monetary_value"].to_list()
    )


def test_penalizer_ladder() -> None:
    assert penalizer_ladder(0.0, 0.01) == [0.0, 0.0001, 0.001, 0.01]
    assert penalizer_ladder(0.005, 0.01) == [0.005, 0.01]
    assert penalizer_ladder(0.0, 0.0) == [0.0]


def test_no_nan_reaches_the_scores(rfm: pl.DataFrame) -> None:
    purchase = fit_purchase_model(rfm, DAYS)
    spend = fit_spend_model(rfm, DAYS)
    scored = score_customers(rfm.with_columns(monetary_value=pl.lit(None)), purchase, spend, DAYS)
    assert (scored["clv_amount"] == 0).all()  # unknown contribution: no value, not NaN
