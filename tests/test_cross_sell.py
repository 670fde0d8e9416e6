"""models/cross_sell.py on synthetic look-alike data with a known signal."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.cross_sell import recommend_products, top_decile_lift
from pipeline.config.lists import CrossSellConfig


def test_top_decile_lift_by_hand() -> None:
    # 20 customers, 4 holders (base rate 0.2); top decile = 2 best scores: one holder -> 0.5.
    y = np.array([1, 0] + [1, 1, 1] + [0] * 15)
    s = np.array([0.9, 0.8] + [0.1] * 3 + [0.0] * 15)
    assert top_decile_lift(y, s) == pytest.approx(0.5 / 0.2)
    assert top_decile_lift(np.zeros(5, dtype=int), np.zeros(5)) is None


def _population(n: int = 1200, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pos_spend = rng.gamma(2.0, 1000.0, n)
    age = rng.integers(20, 70, n)
    occupation = rng.choice(["EMP", "STU", "RET"], n)
    # WMP holders: high card spenders; CCD holders: the young; INS: nobody (too few to model).
    holds_wmp = pos_spend + rng.normal(0, 500, n) > 3000
    holds_ccd = (age < 40) ^ (rng.random(n) < 0.1)
    holds_ins = np.zeros(n, dtype=bool)
    holds_ins[:3] = True
    return pl.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "pos_spend_amount": pos_spend,
            "age": age,
            "occupation": occupation,
            "holds_wmp": holds_wmp,
            "holds_ccd": holds_ccd,
            "holds_ins": holds_ins,
        }
    )


SETTINGS = CrossSellConfig(products=["WMP", "CCD", "INS"], top_k=2, max_iter=30)


def test_propensity_learns_signal_and_is_evaluated_on_holdout() -> None:
    result = recommend_products(_population(), SETTINGS)
    ev = {r["product_code"]: r for r in result.evaluation.iter_rows(named=True)}
    assert ev["WMP"]["status"] == "fitted" and ev["CCD"]["status"] == "fitted"
    assert ev["WMP"]["holdout_customers"] == 360  # 30 % of 1200
    assert ev["WMP"]["train_customers"] == 840
    assert ev["WMP"]["auc"] > 0.85
    assert ev["CCD"]["auc"] > 0.8
    assert ev["WMP"]["top_decile_lift"] > 1.5
    assert ev["INS"]["status"].startswith("skipped")
    assert ev["INS"]["auc"] is None


def test_recommendations_exclude_held_products_and_rank_by_score() -> None:
    pop = _population()
    recs = recommend_products(pop, SETTINGS).recommendations
    held = pop.unpivot(
        index="customer_id", on=["holds_wmp", "holds_ccd"], variable_name="flag"
    ).filter(pl.col("value"))
    held = held.with_columns(product_code=pl.col("flag").str.slice(6).str.to_uppercase())
    clash = recs.join(held, on=["customer_id", "product_code"], how="inner")
    assert clash.height == 0
    assert "INS" not in recs["product_code"].to_list()  # not modelled, never recommended
    assert recs.group_by("customer_id").len()["len"].max() <= 2
    firsts = recs.filter(pl.col("product_rank") == 1).join(
        recs.filter(pl.col("product_rank") == 2), on="customer_id", suffix="_2"
    )
    assert (firsts["propensity_score"] >= firsts["propensity_score_2"]).all()


def test_fixed_seed_gives_identical_scores() -> None:
    a = recommend_products(_population(), SETTINGS)
    b = recommend_products(_population().reverse(), SETTINGS)  # row order does not matter
    assert a.recommendations.equals(b.recommendations)
    assert a.evaluation.equals(b.evaluation)


def test_empty_and_constant_features_are_ignored() -> None:
    # A feature with no values yet (e.g. a trend before there is history) must not break fitting.
    pop = _population().with_columns(trend=pl.lit(None, dtype=pl.Float64), constant=pl.lit(1.0))
    result = recommend_products(pop, SETTINGS)
    assert result.evaluation.filter(pl.col("product_code") == "WMP")["status"][0] == "fitted"
