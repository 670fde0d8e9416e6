"""Pure-function tests of models/clv.py: CLV sum, activity, life stages, guards."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from models.clv import (
    CONTRIBUTION_METHOD,
    ClvFitError,
    assign_life_stage,
    choose_value_method,
    expected_events,
    fit_purchase_model,
    fit_spend_model,
    money_backtest,
    penalizer_ladder,
    score_customers,
    scoring_fits,
    survival_probabilities,
)
from models.errors import ModelInputError
from pipeline.config.clv import ClvConfig, LifeStageRules


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
    with pytest.raises(ModelInputError, match="required column t_days missing"):
        fit_purchase_model(rfm.drop("t_days"), DAYS)
    broken = rfm.with_columns(recency_days=pl.col("t_days") + 1)
    with pytest.raises(ModelInputError, match="break 0 <= recency <= T"):
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


def test_survival_agrees_with_the_papers_expected_events(rfm: pl.DataFrame) -> None:
    # The survival curve assumes lambda | alive ~ Gamma(r + x, alpha + T) and p | alive ~
    # Beta(a, b + x). Then E[Y(t)] = P(alive) E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p],
    # which must equal FHL 2005 eq. (10) as lifetimes computes it: an outside reference.
    from scipy import integrate, stats

    fit = fit_purchase_model(rfm, DAYS)
    r, alpha, a, b = (fit.params[k] for k in ("r", "alpha", "a", "b"))
    cases = [(0, 0, 200), (1, 30, 120), (4, 100, 300), (9, 250, 260), (3, 20, 330)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*cases, strict=True))
    t = 90.0
    ours = []
    p_alive = fit.fitter.conditional_probability_alive(x, tx, T)
    for xi, Ti, pa in zip(x, T, p_alive, strict=True):

        def f(p: float, xi: float = xi, Ti: float = Ti) -> float:
            gone = 1 - ((alpha + Ti) / (alpha + Ti + p * t)) ** (r + xi)
            return float(gone / p * stats.beta.pdf(p, a, b + xi))

        ours.append(pa * integrate.quad(f, 0, 1, limit=200)[0])
    paper = expected_events(fit, t, x, tx, T)
    assert np.allclose(ours, paper, rtol=0.01)
    # and the 16-point quadrature of the survival curve is close to the exact integral
    surv = survival_probabilities(fit, x, tx, T, months=3, days_per_month=30.0)
    for i, (xi, Ti, pa) in enumerate(zip(x, T, p_alive, strict=True)):

        def g(p: float, xi: float = xi, Ti: float = Ti) -> float:
            stay = ((alpha + Ti) / (alpha + Ti + p * 90.0)) ** (r + xi)
            return float(stay * stats.beta.pdf(p, a, b + xi))

        assert surv[i, 2] == pytest.approx(pa * integrate.quad(g, 0, 1, limit=200)[0], abs=0.005)
    assert (np.diff(surv, axis=1) <= 1e-12).all() and (surv[:, 0] <= p_alive + 1e-12).all()


def test_clv_in_money_is_survival_times_monthly_contribution(rfm: pl.DataFrame) -> None:
    fit = fit_purchase_model(rfm, DAYS)
    spend = fit_spend_model(rfm, DAYS)
    # a one-event customer with a huge value per event: valued by what they contribute a
    # month, not by an event value projected over the year
    frame = rfm.with_columns(monthly_contribution=pl.lit(10.0)).with_columns(
        monetary_value=pl.when(pl.col("frequency") == 0)
        .then(pl.lit(50_000.0))
        .otherwise(pl.col("monetary_value"))
    )
    scored = score_customers(frame, fit, spend, DAYS, CONTRIBUTION_METHOD)
    assert set(scored["clv_method"]) == {CONTRIBUTION_METHOD}
    assert scored["clv_amount"].max() <= 12 * 10.0
    surv = survival_probabilities(
        fit,
        scored["frequency"].to_numpy(),
        scored["recency_days"].to_numpy(),
        scored["t_days"].to_numpy(),
        12,
        30.0,
    )
    by_hand = (surv / 1.01 ** np.arange(1, 13)).sum(axis=1) * 10.0
    assert np.allclose(scored["clv_amount"].to_numpy(), by_hand)


def test_value_method_is_chosen_and_explained(rfm: pl.DataFrame) -> None:
    spend = fit_spend_model(rfm, DAYS)
    method, corr, why = choose_value_method(rfm, spend, DAYS)
    assert method == CONTRIBUTION_METHOD and why.startswith("configured")
    gg = DAYS.model_copy(update={"value_method": "gamma_gamma"})
    # in this population value per event is drawn independently of frequency
    assert corr is not None and abs(corr) < 0.1
    assert choose_value_method(rfm, spend, gg)[0] == "gamma_gamma"
    # value rising with frequency breaks the assumption: the night says so
    tied = rfm.with_columns(monetary_value=pl.col("frequency").cast(pl.Float64) * 3 + 1)
    method, corr, why = choose_value_method(tied, fit_spend_model(tied, gg), gg)
    assert method == CONTRIBUTION_METHOD and corr is not None and corr > 0.9
    assert "assumption fails" in why


def test_money_backtest_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "clv": [40.0, 30.0, 20.0, 0.0],
            "baseline": [10.0, 30.0, 20.0, 40.0],
            "realized_amount": [40.0, 30.0, 10.0, 0.0],
        }
    )
    out = {r["predictor"]: r for r in money_backtest(frame).iter_rows(named=True)}
    assert out["clv"]["spearman"] == pytest.approx(1.0)
    assert out["clv"]["mae_amount"] == pytest.approx(10 / 4)
    assert out["baseline"]["mae_amount"] == pytest.approx((30 + 0 + 10 + 40) / 4)
    # top decile = the single best prediction: a (40 of 80 earned) vs d (0)
    assert out["clv"]["top_decile_capture"] == pytest.approx(0.5)
    assert out["baseline"]["top_decile_capture"] == pytest.approx(0.0)


def test_the_damped_trend_adds_phi_plus_phi_squared_and_so_on() -> None:
    from models.clv import trend_steps

    # run rate of 3 months: centred one month before the last closed month, so month 1 lies
    # two months after the centre: 0.5 + 0.25; month 2: 0.5 + 0.25 + 0.125
    assert trend_steps(2, 3, 0.5) == pytest.approx([0.75, 0.875])
    assert trend_steps(2, 3, 1.0) == pytest.approx([2.0, 3.0])
    # a one-month run rate is centred on the last closed month
    assert trend_steps(1, 1, 0.5) == pytest.approx([0.5])


def test_gamma_gamma_fit_does_not_depend_on_row_order(rfm: pl.DataFrame) -> None:
    """The same customers in another order give the same parameters, to the bit (the scores'
    cents depend on them: a re-run must write what the first run wrote)."""
    fits = [
        fit_spend_model(rfm.sample(fraction=1.0, shuffle=True, seed=seed), ClvConfig()).params
        for seed in range(4)
    ]
    assert all(f == fits[0] for f in fits)


def test_the_purchase_fit_on_weighted_triples_is_the_fit_on_customers(rfm: pl.DataFrame) -> None:
    """SQL's group by of (frequency, recency, T) with counts is the fit's own input: the same
    parameters to the bit, and the same counts."""
    triples = rfm.group_by("frequency", "recency_days", "t_days").agg(weight=pl.len())
    by_customer, by_triple = fit_purchase_model(rfm, DAYS), fit_purchase_model(triples, DAYS)
    assert by_triple.params == by_customer.params
    assert by_triple.log_likelihood == by_customer.log_likelihood
    counts = ("n_customers", "n_unique_rows", "n_repeaters")
    assert [getattr(by_triple, c) for c in counts] == [getattr(by_customer, c) for c in counts]
    assert by_triple.n_customers == rfm.height > by_triple.n_unique_rows


def test_the_fits_shipped_to_executors_hold_parameters_only(rfm: pl.DataFrame) -> None:
    """scoring_fits: the same scores, without the fitters' training data. (To the bit but
    for the survival sums of survival_x_contribution: ``surv @ weights`` is a BLAS product
    whose last bit depends on a triple's row among the unique triples, whose order varies
    from call to call: two calls with the same fit differ as much.)"""
    import pickle

    from polars.testing import assert_frame_equal

    purchase, spend = fit_purchase_model(rfm, DAYS), fit_spend_model(rfm, DAYS)
    bare_purchase, bare_spend = scoring_fits(purchase, spend)
    frame = rfm.with_columns(monthly_contribution=pl.col("monetary_value") * 2)
    for method in ("gamma_gamma", CONTRIBUTION_METHOD):
        fitted = score_customers(frame, purchase, spend, DAYS, method).sort("customer_id")
        shipped = score_customers(frame, bare_purchase, bare_spend, DAYS, method)
        exact = method == "gamma_gamma"
        assert_frame_equal(shipped.sort("customer_id"), fitted, check_exact=exact, rel_tol=1e-12)
    assert not hasattr(bare_purchase.fitter, "data") and not hasattr(bare_spend.fitter, "data")
    assert len(pickle.dumps((bare_purchase, bare_spend))) < 4000
