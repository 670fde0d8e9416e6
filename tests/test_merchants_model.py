"""The scorecard and the market clusters as pure functions over hand-made frames."""

from __future__ import annotations

import polars as pl
import pytest

from models.errors import ModelInputError
from models.merchant_network import find_market_clusters, link_merchants
from models.merchants import score_merchants
from pipeline.config.merchants import ClusterConfig, DecoyRules, MerchantsConfig, ScoreRule

NEUTRAL = {
    "largest_inflow_share": 0.01,
    "top_payer_share": 0.02,
    "top_payer_months": 12,
    "top_payer_amount_cv": 0.8,
}


def frame(**columns: list[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {k: [v] * n for k, v in NEUTRAL.items()}
    return pl.DataFrame({"customer_id": [f"C{i}" for i in range(n)], **base, **columns})


SETTINGS = MerchantsConfig(
    score_cutoff=30,
    turnover_floor_amount=1_000_000,
    candidate_min_amount=0,
    rules={
        "HIGH_TURNOVER": ScoreRule(signal="turnover_amount", at_least=1_000_000, points=20),
        "MANY_PAYERS": ScoreRule(signal="payer_count", at_least=30, points=15),
        "FEW_BIG": ScoreRule(signal="small_payment_share", at_most=0.2, points=1),
        "SELF_EMPLOYED": ScoreRule(signal="is_self_employed", at_least=1, points=5),
    },
)


def test_points_reasons_and_inclusive_thresholds() -> None:
    scored = score_merchants(
        frame(
            turnover_amount=[1_000_000.0, 999_999.99, 2e6, 2e6],
            payer_count=[30, 30, 29, None],
            small_payment_share=[0.2, 0.21, 0.5, 0.9],
            is_self_employed=[True, False, True, False],
        ),
        SETTINGS,
    )
    assert scored["merchant_score"].to_list() == [41.0, 15.0, 25.0, 20.0]
    assert scored["reasons"].to_list() == [
        "HIGH_TURNOVER; MANY_PAYERS; FEW_BIG; SELF_EMPLOYED",
        "MANY_PAYERS",
        "HIGH_TURNOVER; SELF_EMPLOYED",
        "HIGH_TURNOVER",
    ]
    # 41 ≥ 30 and turnover at the floor; the others fall short of the cut-off.
    assert scored["is_merchant"].to_list() == [True, False, False, False]


def test_each_decoy_vetoes_a_high_score() -> None:
    settings = SETTINGS.model_copy(
        update={
            "decoys": DecoyRules(
                max_largest_inflow_share=0.3,
                max_top_payer_share=0.5,
                one_payer_max_payers=20,
                salary_min_months=6,
                salary_max_cv=0.25,
                salary_min_share=0.35,
            )
        }
    )
    signals = frame(
        turnover_amount=[3e6] * 6,
        payer_count=[100, 100, 20, 100, 100, 30],
        small_payment_share=[0.1] * 6,
        is_self_employed=[True] * 6,
    ).with_columns(
        largest_inflow_share=pl.Series([0.31, 0.3, 0.05, 0.05, 0.05, 0.05]),
        top_payer_share=pl.Series([0.31, 0.3, 0.51, 0.4, 0.4, 0.51]),
        top_payer_months=pl.Series([1, 1, 3, 6, 5, 3]),
        top_payer_amount_cv=pl.Series([0.0, 0.0, 0.9, 0.25, 0.1, 0.9]),
    )
    scored = score_merchants(signals, settings)
    assert scored["decoy_reasons"].to_list() == [
        "DECOY_SINGLE_INFLOW",  # flat sale: 31% in one inflow
        "",  # exactly at the limits: no veto
        "DECOY_ONE_PAYER",  # 51% from one payer, 20 payers in all
        "DECOY_SALARY",  # 6 months, cv 0.25, 40% of inflows
        "",  # only 5 months of salary
        "",  # 51% from one payer but 30 payers: a wholesaler's big buyer
    ]
    assert scored["is_merchant"].to_list() == [False, True, False, False, True, True]


def test_missing_signal_column_is_named() -> None:
    with pytest.raises(ModelInputError, match="small_payment_share"):
        score_merchants(frame(turnover_amount=[1.0], payer_count=[3]), SETTINGS)


def test_hubs_do_not_link_and_shared_counterparties_do() -> None:
    rows = [("A", k) for k in ("x", "y", "z", "hub")] + [("B", k) for k in ("x", "y", "z", "hub")]
    rows += [("C", "hub"), ("C", "x"), ("D", "hub"), ("D", "y")]
    cp = pl.DataFrame(rows, schema=["customer_id", "counterparty_key"], orient="row")
    pairs = link_merchants(
        cp, ClusterConfig(min_shared_counterparties=2, max_counterparty_merchants=3)
    )
    # 'hub' trades with 4 merchants (> 3): ignored. A-B share x, y, z; C and D share one each.
    assert pairs.rows() == [("A", "B", 3)]


def test_clusters_by_shared_counterparties_and_by_market_branch() -> None:
    merchants = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "turnover_amount": [1e6, 2e6, 3e6, 4e6, 5e6],
            "home_branch_id": ["BM", "BM", "BM", "BM", "B1"],
            "is_market_home_branch": [True, True, True, True, False],
        }
    )
    cp = pl.DataFrame(
        {"customer_id": ["A", "A", "B", "B"], "counterparty_key": ["x", "y", "x", "y"]}
    )
    clusters = find_market_clusters(
        merchants, cp, ClusterConfig(min_shared_counterparties=2, link_same_market_branch=True)
    )
    got = {
        r["market_cluster_id"]: (r["member_customer_ids"], r["turnover_amount"], r["link_type"])
        for r in clusters.to_dicts()
    }
    # C and D share nothing but the market branch BM; E is alone at an ordinary branch.
    assert got == {
        "MC-A": (["A", "B"], 3e6, "shared_counterparties"),
        "MC-C": (["C", "D"], 7e6, "same_market_branch"),
    }
    off = find_market_clusters(
        merchants, cp, ClusterConfig(min_shared_counterparties=2, link_same_market_branch=False)
    )
    assert off["market_cluster_id"].to_list() == ["MC-A"]
