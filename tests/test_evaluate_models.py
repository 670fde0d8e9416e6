"""The evaluation tools against ground truth (pipeline/evaluate/), on hand-made tables."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.evaluate.clv import evaluate_attrition
from pipeline.evaluate.cross_sell import evaluate_forward
from pipeline.evaluate.potential import persistence, precision

D = date(2026, 9, 30)


def test_cross_sell_forward_lift_from_the_truth() -> None:
    # five customers on the date; H already holds WMP; A and B were recommended WMP; A and C
    # take it up inside the window, E after it.
    truth = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "H", "E", "A", "C", "H", "E"],
            "product_code": ["DDA"] * 5 + ["WMP"] * 4,
            "open_date": [date(2020, 1, 1)] * 5
            + [date(2026, 10, 5), date(2026, 11, 1), date(2025, 1, 1), date(2027, 2, 1)],
            "closed_date": [None] * 9,
            "takeup_trait": [None] * 5 + ["investing", "investing", None, "investing"],
        },
        schema_overrides={"closed_date": pl.Date},
    )
    recs = pl.DataFrame(
        {
            "customer_id": ["A", "B"],
            "product_code": ["WMP", "WMP"],
            "propensity_score": [0.3, 0.1],
            "score_kind": ["takeup", "takeup"],
        }
    )
    (row,) = evaluate_forward(recs, truth, D, date(2026, 12, 31), ["WMP"])
    assert row["non_holders"] == 4 and row["takers"] == 2  # A, B, C, E; A and C
    assert row["take_up_rate"] == pytest.approx(0.5)
    assert row["take_up_rate_recommended"] == pytest.approx(0.5)  # A of A, B
    assert row["lift"] == pytest.approx(1.0)
    assert row["mean_probability_recommended"] == pytest.approx(0.2)


def test_clv_attrition_auc_from_the_truth() -> None:
    scores = pl.DataFrame(
        {
            "customer_id": ["L1", "L2", "S1", "S2", "GONE"],
            "p_alive": [0.2, 0.5, 0.9, 0.4, 0.1],
            "last_event_date": [date(2026, 9, 1)] * 5,
        }
    )
    truth = pl.DataFrame(
        {
            "customer_id": ["L1", "L2", "S1", "S2", "GONE"],
            "lifecycle": ["churned", "churned", "stable", "stable", "churned"],
            "lifecycle_date": [date(2026, 10, 10), date(2026, 12, 1), None, None, D],
            "attrition_start_date": [date(2026, 8, 1), date(2026, 10, 1), None, None, None],
        }
    )
    out = evaluate_attrition(scores, truth, D, date(2026, 12, 31))
    # GONE left on the date: not a customer any more; L1, L2 leave in the window
    assert out["customers"] == 4 and out["leavers"] == 2
    assert out["leavers_draining_on_the_date"] == 1
    # 1 - p_alive: leavers 0.8, 0.5 against 0.1, 0.6: 3 of 4 pairs ordered right
    assert out["auc_one_minus_p_alive"] == pytest.approx(0.75)


def test_potential_persistence_and_precision() -> None:
    flags = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "A", "B", "C"],
            "business_date": [date(2026, 9, 30)] * 3 + [date(2026, 10, 31)] * 3,
            "potential_reasons": [
                "INFLOW_GROWTH",
                "INFLOW_GROWTH;STUDENT",
                "",
                "INFLOW_GROWTH",
                "STUDENT",
                "INFLOW_GROWTH",
            ],
        }
    )
    rows = {r["reason"]: r for r in persistence(flags)}
    assert rows["INFLOW_GROWTH"]["flagged"] == 2 and rows["INFLOW_GROWTH"]["persistence"] == 0.5
    assert rows["STUDENT"]["persistence"] == 1.0
    truth = pl.DataFrame({"customer_id": ["A", "B", "C"], "is_growing": [True, False, False]})
    last = flags.filter(pl.col("business_date") == date(2026, 10, 31))
    prec = {r["reason"]: r for r in precision(last, truth)}
    assert prec["INFLOW_GROWTH"]["precision"] == 0.5  # A right, C not
