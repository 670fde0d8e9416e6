"""Value score, golden customers, concentration and segments: hand-computed cases."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from models.segments import cluster_behaviour, demographic_segments
from models.value import identify_golden, score_value, summarise_concentration
from pipeline.config import Config
from pipeline.config.value import GoldenRules
from pipeline.stages import value
from pipeline.stages.base import StageContext, run_stage
from pipeline.warehouse import RunLedger, migrate
from tests.test_contribution import (
    D,
    add_customer,
    add_version,
    build_scenario,
    mark_loaded,
    run,
)

WEIGHTS = {"contribution": 0.5, "assets": 0.25, "clv": 0.25}


def _customers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "contribution_amount": [300.0, -20.0, 10.0],
            "aum_amount": [1000.0, 5000.0, 0.0],
            "clv_amount": [50.0, 10.0, 20.0],
            "txn_count": [1, 2, 3],
            "products_held": [1, 1, 1],
            "tenure_months": [1, 1, 1],
        }
    )


def test_value_score_is_weighted_percentile_rank_with_shares() -> None:
    out = score_value(_customers(), WEIGHTS, has_clv=True).sort("customer_id")
    # percentile ranks 0, 0.5, 1; points = 100 x weight x rank:
    # a: contribution 1, assets 0.5, clv 1   -> 50 + 12.5 + 25 = 87.5
    # b: contribution 0, assets 1,   clv 0   ->  0 + 25   +  0 = 25
    # c: contribution 0.5, assets 0, clv 0.5 -> 25 +  0   + 12.5 = 37.5
    assert out["value_score"].to_list() == [87.5, 25.0, 37.5]
    assert out["contribution_points"].to_list() == [50.0, 0.0, 25.0]
    assert out.filter(pl.col("customer_id") == "a")["contribution_share"][0] == pytest.approx(
        50 / 87.5
    )
    shares = out.select(pl.sum_horizontal("contribution_share", "assets_share", "clv_share"))
    assert shares.to_series().to_list() == pytest.approx([1.0, 1.0, 1.0])
    assert out["score_note"][0] == "all parts"


def test_value_score_without_clv_renormalises_and_says_so() -> None:
    out = score_value(_customers().drop("clv_amount"), WEIGHTS, has_clv=False)
    out = out.sort("customer_id")
    # weights re-normalised: contribution 2/3, assets 1/3; a = 66.667 + 0.5 x 33.333
    assert out["value_score"].to_list() == [83.3333, 33.3333, 33.3333]  # rounded to 4 places
    assert out["clv_points"].to_list() == [None, None, None]
    assert "clv dropped" in out["score_note"][0]


def test_golden_needs_band_months_and_no_delinquency() -> None:
    """Four customers over three months, top band = percentile ≥ 0.5 and positive: with 4
    customers the percentiles are 0, 1/3, 2/3, 1, so the top two are in the band."""
    rules = GoldenRules(
        min_contribution_percentile=0.5, band_months=3, min_months_in_band=2, max_days_past_due=0
    )
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    monthly = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"] * 3,
            "month_start": [m for m in months for _ in range(4)],
            # a: top in all three; b: in band in August only; c: twice, but 30 dpd now;
            # d: top in October with a negative month before (ranked, but not positive)
            "contribution_amount": [9.0, 8.0, 1.0, -5.0, 9.0, 1.0, 8.0, -6.0, 9.0, 1.0, 8.0, 10.0],
        }
    )
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "contribution_amount": [400.0, 300.0, 200.0, -5.0],
            "max_days_past_due": [0, 0, 30, 0],
        }
    )
    out = identify_golden(customers, monthly, rules, months).sort("customer_id")
    # August: a, b in band; September: a, c; October: d (10.0), a (9.0)
    assert out["months_in_band"].to_list() == [3, 1, 1, 1]
    assert out["is_golden"].to_list() == [True, False, False, False]
    assert out["reason_codes"].to_list() == [
        "TOP_BAND_3OF3M;NO_DELINQUENCY",
        "BAND_ONLY_1OF3M;NO_DELINQUENCY",
        "BAND_ONLY_1OF3M;DELINQUENT_30DPD",
        "BAND_ONLY_1OF3M;NO_DELINQUENCY",
    ]


def test_golden_found_on_the_first_night_of_a_warehouse_with_history(cfg: Config) -> None:
    """Ten customers with demand deposits since 2026-03-01, one contribution each month: the
    margin (1.775 − 0.20)% on their balance less upkeep and reserve cost. The top band of ten is
    one customer (percentile (rank − 1) / 9 ≥ 0.9). G9 holds the most from May to September,
    G8 in October (of the 6 closed months before November): G9 is in the band 5 of 6 months,
    golden on the very first run; G8 1 of 6, not golden."""
    con = duckdb.connect(":memory:")
    migrate(con)
    start = date(2026, 3, 1)
    for i in range(10):
        cid = f"G{i}"
        add_customer(con, cid)
        add_version(con, f"{cid}A", cid, "DDA", f"{(i + 1) * 10000}.00", "0.20", start)
    # G8 jumps to 1,000,000 on 2026-10-01
    con.execute("update hist_accounts set valid_to = date '2026-10-01' where account_id = 'G8A'")
    add_version(con, "G8A2", "G8", "DDA", "1000000.00", "0.20", date(2026, 10, 1))
    mark_loaded(con, start, D)
    run(con, cfg, "features", "contribution")
    ctx = StageContext(con, cfg, D, RunLedger(con, "t"), logging.getLogger("t"))
    run_stage(ctx, value.STAGE)
    golden = dict(
        con.execute(
            "select customer_id, reason_codes from int_golden_customers where is_golden"
        ).fetchall()
    )
    assert golden == {"G9": "TOP_BAND_5OF6M;NO_DELINQUENCY"}
    g8 = con.execute(
        "select months_in_band from int_golden_customers where customer_id = 'G8'"
    ).fetchone()
    assert g8 == (1,)
    october = con.execute(
        "select contribution_amount from agg_customer_contribution_month "
        "where customer_id = 'G9' and month_start = date '2026-10-01'"
    ).fetchone()
    # October alone, not annualised: 100,000 × 31 days = 3,100,000 balance-days;
    # margin 1.575 × 3,100,000 / 36,500 = 133.767123, upkeep 12 × 31 / 365 = 1.019178,
    # reserve 6.2 × (1.775 − 1.62) × 3,100,000 / 3,650,000 = 0.816192
    assert october == (Decimal("133.767123") - Decimal("1.019178") - Decimal("0.816192"),)


def test_concentration_shares_and_gini() -> None:
    frame = pl.DataFrame(
        {
            "contribution_amount": [60.0, 30.0, 20.0, 0.0, -10.0] + [0.0] * 5,
            "is_golden": [True, False, False, False, False] + [False] * 5,
        }
    )
    s = summarise_concentration(frame)
    assert s["total_contribution_amount"] == 100.0
    assert s["top_10pct_share"] == 0.6  # the top 1 of 10
    assert s["top_20pct_share"] == 0.9
    assert s["top_20pct_share_of_positive"] == 90 / 110
    assert s["golden_share"] == 0.6
    assert s["negative_customer_share"] == 0.1
    # Gini of (0 x7, 20, 30, 60) floored at 0: 2*(8*20+9*30+10*60)/(10*110) - 11/10
    assert s["gini"] == pytest.approx(2 * (160 + 270 + 600) / 1100 - 1.1)


def _view(n: int) -> pl.DataFrame:
    rows = []
    for i in range(n):
        heavy_counter = i % 3 == 0
        rows.append(
            {
                "customer_id": f"C{i:04d}",
                "txn_count": 20,
                "ctr_txn_count": 15 if heavy_counter else 1,
                "atm_txn_count": 1,
                "tel_txn_count": 0,
                "net_txn_count": 2 if heavy_counter else 15,
                "pos_txn_count": 2 if heavy_counter else 3,
                "pos_amount": 100.0 + i,
                "aum_amount": 1000.0 * (i % 7),
                "adb_loans_amount": 0.0,
                "products_held": 1 + i % 2,
                "amount_trend_ratio": None,
                "has_regular_inflow": i % 2 == 0,
            }
        )
    return pl.DataFrame(rows)


def test_clusters_are_stable_and_profiled() -> None:
    view = _view(60)
    a1, p1 = cluster_behaviour(view, k=3, seed=7, fit_sample=1000)
    a2, _ = cluster_behaviour(view.sample(fraction=1.0, shuffle=True, seed=1), 3, 7, 1000)
    assert a1.sort("customer_id").equals(a2.sort("customer_id"))
    assert p1["customers"].sum() == 60
    assert p1["customers"].to_list() == sorted(p1["customers"].to_list(), reverse=True)
    counter = a1.filter(pl.col("customer_id") == "C0000")["behaviour_cluster"][0]
    # the heavy counter users (every third customer) form their own cluster
    members = a1.filter(pl.col("behaviour_cluster") == counter)["customer_id"].to_list()
    assert members == [f"C{i:04d}" for i in range(0, 60, 3)]
    text = p1.filter(pl.col("behaviour_cluster") == counter)["profile"][0]
    assert "20 customers" in text and "counter use" in text


def test_demographic_segment_key() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a"],
            "industry": [None],
            "education": ["BA"],
            "region_code": ["410102"],
            "age_band": ["35-44"],
            "occupation": ["EMP"],
        }
    )
    assert demographic_segments(frame)["demographic_segment"][0] == "-|BA|410102|35-44"


def test_value_stage_on_hand_made_customers(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    build_scenario(con)
    run(con, cfg, "features", "contribution")
    ctx = StageContext(con, cfg, D, RunLedger(con, "t"), logging.getLogger("t"))
    assert run_stage(ctx, value.STAGE) == 3
    scores = con.execute(
        "select customer_id, value_score, score_note from int_customer_value_score "
        "order by customer_id"
    ).fetchall()
    assert [s[0] for s in scores] == ["C1", "C2", "C3"]
    assert "clv dropped" in scores[0][2]  # no int_customer_clv table
    top = con.execute(
        "select customers, top_1pct_share, golden_customers from rpt_contribution_concentration"
    ).fetchone()
    # the top 1% (1 customer, C2: 300.802466, tests/test_contribution.py) over the total
    total = con.execute("select sum(contribution_amount) from int_customer_contribution")
    assert top is not None and top[0] == 3 and top[2] == 0
    assert top[1] == pytest.approx(300.802466 / float(total.fetchone()[0]))  # type: ignore[index]


def test_fewer_distinct_customers_than_clusters_give_fewer_clusters() -> None:
    """Two behaviours among 1,500 customers (more than the first rows looked at) and k = 6:
    two clusters, each customer in its behaviour's."""
    view = _view(1500).with_columns(
        pos_amount=pl.lit(100.0),
        aum_amount=pl.lit(0.0),
        products_held=pl.lit(1),
        has_regular_inflow=pl.lit(True),
    )
    assignments, profiles = cluster_behaviour(view, k=6, seed=7, fit_sample=2000)
    assert profiles["customers"].to_list() == [1000, 500]
    counter = assignments.filter(pl.col("customer_id") == "C0000")["behaviour_cluster"][0]
    members = assignments.filter(pl.col("behaviour_cluster") == counter)["customer_id"]
    assert members.to_list() == [f"C{i:04d}" for i in range(0, 1500, 3)]
