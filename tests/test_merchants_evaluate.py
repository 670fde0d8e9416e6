"""The evaluation against ground truth, on a hand-made truth table."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.evaluate.merchants import evaluate_merchants


def test_precision_recall_decoys_turnover_error_and_undeclared() -> None:
    truth = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F"],
            "persona": [
                "merchant",
                "merchant",
                "merchant",
                "merchant",
                "decoy_flat_sale",
                "salaried",
            ],
            "is_merchant": [True, True, True, True, False, False],
            "merchant_turnover_amount": [2e6, 1.5e6, 4e6, 0.5e6, None, None],
            "is_declared": [False, True, False, False, False, False],
            "is_decoy": [False, False, False, False, True, False],
            "market_cluster_id": [1, 1, None, None, None, None],
        }
    )
    # Detected: A (estimate +10%), B (-20%), D (a merchant under the floor, +100%) and the
    # decoy E. Missed: C (high value).
    detected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "D", "E"],
            "turnover_amount": [2.2e6, 1.2e6, 1.0e6, 2.0e6],
            "is_declared": [False, True, False, False],
            "market_cluster_id": ["MC-A", "MC-A", None, None],
        }
    )
    r = evaluate_merchants(detected, truth, floor_amount=1e6)
    assert r["precision"] == pytest.approx(3 / 4)
    assert r["precision_strict"] == pytest.approx(2 / 4)
    assert r["recall"] == pytest.approx(2 / 3, abs=1e-4)  # A, B of A, B, C
    assert r["recall_all_merchants"] == pytest.approx(3 / 4)
    assert r["decoys_flagged"] == 1
    assert r["decoys_flagged_by_kind"] == {"decoy_flat_sale": 1}
    assert r["turnover_mdape"] == pytest.approx(0.2)  # median of 0.1, 0.2, 1.0
    assert r["undeclared_detected"] == 3  # A, D, E
    assert r["undeclared_turnover_amount"] == pytest.approx(5.2e6)
    assert r["missed_high_value"] == 1
    assert r["cluster_adjusted_rand"] == pytest.approx(1.0)
