"""Value score, golden customers, concentration and segments: hand-computed cases."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from models.segments import (
    BEHAVIOUR_FEATURES,
    assign_clusters,
    cluster_profiles,
    demographic_segments,
    fit_clusters,
)
from models.value import identify_golden, score_value, summarise_concentration, top_counts
from pipeline.config import Config
from pipeline.config.value import GoldenRules
from pipeline.sqlfiles import temp_table
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
    """Three customers' percentile ranks: a has the most contribution and lifetime value, b
    the most assets, c the middle of both."""
    return pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "contribution_percentile": [1.0, 0.0, 0.5],
            "assets_percentile": [0.5, 1.0, 0.0],
            "clv_percentile": [1.0, 0.0, 0.5],
        }
    )


def test_value_score_is_weighted_percentile_rank_with_shares() -> None:
    out = score_value(_customers(), WEIGHTS, has_clv=True).sort("customer_id")
    # points = 100 x weight x rank:
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
    out = score_value(_customers().drop("clv_percentile"), WEIGHTS, has_clv=False)
    out = out.sort("customer_id")
    # weights re-normalised: contribution 2/3, assets 1/3; a = 66.667 + 0.5 x 33.333
    assert out["value_score"].to_list() == [83.3333, 33.3333, 33.3333]  # rounded to 4 places
    assert out["clv_points"].to_list() == [None, None, None]
    assert "clv dropped" in out["score_note"][0]


VIEW_COLUMNS = {
    "customer_id": "varchar",
    "business_date": "date",
    **{c: "bigint" for c in ("txn_count", "ctr_txn_count", "atm_txn_count", "tel_txn_count")},
    **{c: "bigint" for c in ("net_txn_count", "pos_txn_count", "products_held")},
    **{c: "decimal(18, 2)" for c in ("pos_amount", "aum_amount", "adb_loans_amount")},
    "amount_trend_ratio": "double",
    "has_regular_inflow": "boolean",
    **{c: "varchar" for c in ("industry", "education", "region_code", "age_band", "occupation")},
    "tenure_months": "integer",
    "max_days_past_due": "integer",
    "age_years": "integer",
}
"""The customer view's columns sql/value/value_ranks.sql reads."""


def _value_ranks(
    customers: dict[str, dict[str, object]],
    monthly: list[tuple[str, date, float]],
    band: tuple[date, date],
    rules: GoldenRules,
) -> pl.DataFrame:
    """sql/value/value_ranks.sql over hand-made tables of the date D: the view's columns
    given per customer (others 0 or NULL), their contribution_amount, the monthly history."""
    con = duckdb.connect(":memory:")
    con.execute(
        "create table int_customer_features ("
        + ", ".join(f"{c} {t}" for c, t in VIEW_COLUMNS.items())
        + ")"
    )
    con.execute(
        "create table int_customer_contribution "
        "(customer_id varchar, business_date date, contribution_amount decimal(38, 6))"
    )
    con.execute(
        "create table agg_customer_contribution_month "
        "(customer_id varchar, month_start date, contribution_amount decimal(38, 6))"
    )
    con.execute("create table value_clv (customer_id varchar, clv_amount decimal(18, 2))")
    for cid, row in customers.items():
        con.execute(
            "insert into int_customer_features (customer_id, business_date, txn_count, "
            "aum_amount, products_held, tenure_months, max_days_past_due) values (?, ?, ?, ?, "
            "?, ?, ?)",
            [cid, D, row.get("txn_count", 0), row.get("aum_amount", 0), 1, 12, 0],
        )
        con.execute(
            "insert into int_customer_contribution values (?, ?, ?)",
            [cid, D, row["contribution_amount"]],
        )
        if "clv_amount" in row:
            con.execute("insert into value_clv values (?, ?)", [cid, row["clv_amount"]])
    if monthly:
        con.executemany("insert into agg_customer_contribution_month values (?, ?, ?)", monthly)
    temp_table(
        con,
        "value/value_ranks",
        {
            "business_date": D,
            "band_first": band[0],
            "band_last": band[1],
            "min_contribution_percentile": rules.min_contribution_percentile,
            "min_contribution_amount": rules.min_contribution_amount,
        },
    )
    return con.execute("select * from value_ranks order by customer_id").pl()


def test_percentiles_rank_ties_at_their_average_and_a_missing_value_at_zero() -> None:
    """Five customers: contribution 10, 20, 20, 20, 50 ranks 1, 3, 3, 3, 5 (the three 20s
    share ranks 2-4: their average 3), so (rank − 1) / 4 = 0, 0.5, 0.5, 0.5, 1; lifetime
    value only for three of them, the others count 0: 0, 0, 30, 30, 40 ranks 1.5, 1.5,
    3.5, 3.5, 5 -> 0.125, 0.125, 0.625, 0.625, 1."""
    amounts = {"a": 10, "b": 20, "c": 20, "d": 20, "e": 50}
    clv = {"c": 30, "d": 30, "e": 40}
    customers = {
        cid: {"contribution_amount": v, **({"clv_amount": clv[cid]} if cid in clv else {})}
        for cid, v in amounts.items()
    }
    rules = GoldenRules(band_months=1, min_months_in_band=1)
    out = _value_ranks(customers, [], (date(2026, 10, 1), date(2026, 10, 1)), rules)
    assert out["contribution_percentile"].to_list() == [0.0, 0.5, 0.5, 0.5, 1.0]
    assert out["clv_percentile"].to_list() == [0.125, 0.125, 0.625, 0.625, 1.0]
    assert out["activity_percentile"].to_list() == [0.5] * 5  # all 0 transactions: tied
    assert out["months_in_band"].to_list() == [0] * 5  # no monthly history


def test_golden_needs_band_months_and_no_delinquency() -> None:
    """Four customers over three months, top band = percentile ≥ 0.5 and positive: with 4
    customers the percentiles are 0, 1/3, 2/3, 1, so the top two are in the band."""
    rules = GoldenRules(
        min_contribution_percentile=0.5, band_months=3, min_months_in_band=2, max_days_past_due=0
    )
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    # a: top in all three; b: in band in August only; c: twice, but 30 dpd now;
    # d: top in October with a negative month before (ranked, but not positive); and a month
    # outside the band (July) that would put b in it
    amounts = [9.0, 8.0, 1.0, -5.0, 9.0, 1.0, 8.0, -6.0, 9.0, 1.0, 8.0, 10.0]
    monthly = [
        (c, m, v)
        for (m, c), v in zip([(m, c) for m in months for c in "abcd"], amounts, strict=True)
    ] + [("b", date(2026, 7, 1), 99.0)]
    yearly = {"a": 400.0, "b": 300.0, "c": 200.0, "d": -5.0}
    inputs = _value_ranks(
        {c: {"contribution_amount": v} for c, v in yearly.items()},
        monthly,
        (months[0], months[-1]),
        rules,
    )
    # August: a, b in band; September: a, c; October: d (10.0), a (9.0)
    assert inputs["months_in_band"].to_list() == [3, 1, 1, 1]
    delinquent = inputs.with_columns(
        contribution_amount=pl.Series(list(yearly.values())),
        max_days_past_due=pl.Series([0, 0, 30, 0], dtype=pl.Int32),
    )
    out = identify_golden(delinquent, rules, len(months))
    assert out["is_golden"].to_list() == [True, False, False, False]
    assert out["reason_codes"].to_list() == [
        "TOP_BAND_3OF3M;NO_DELINQUENCY",
        "BAND_ONLY_1OF3M;NO_DELINQUENCY",
        "BAND_ONLY_1OF3M;DELINQUENT_30DPD",
        "BAND_ONLY_1OF3M;NO_DELINQUENCY",
    ]
    assert out["contribution_percentile"].to_list() == [1.0, 2 / 3, 1 / 3, 0.0]


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
    con = duckdb.connect(":memory:")
    con.execute(
        "create table int_golden_customers (customer_id varchar, business_date date, "
        "contribution_amount decimal(38, 6), is_golden boolean)"
    )
    amounts = [60, 30, 20, 0, -10] + [0] * 5
    con.executemany(
        "insert into int_golden_customers values (?, ?, ?, ?)",
        [(f"C{i}", D, v, i == 0) for i, v in enumerate(amounts)],
    )
    assert top_counts(10) == {"top_1": 1, "top_5": 1, "top_10": 1, "top_20": 2}
    temp_table(con, "value/concentration_sums", {"business_date": D, **top_counts(10)})
    sums = con.execute("select * from concentration_sums").pl().row(0, named=True)
    s = summarise_concentration(sums)
    assert s["total_contribution_amount"] == 100.0
    assert s["top_10pct_share"] == 0.6  # the top 1 of 10
    assert s["top_20pct_share"] == 0.9
    assert s["top_20pct_share_of_positive"] == 90 / 110
    assert s["golden_share"] == 0.6
    assert s["negative_customer_share"] == 0.1
    assert s["negative_contribution_amount"] == -10.0
    # Gini of (0 x7, 20, 30, 60) floored at 0: 2*(8*20+9*30+10*60)/(10*110) - 11/10
    assert s["gini"] == pytest.approx(2 * (160 + 270 + 600) / 1100 - 1.1, abs=1e-15)


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


def _clusters(
    view: pl.DataFrame, k: int, seed: int, parts: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The value stage's clusters in one process: fitted on the whole view, assigned in
    ``parts`` (every ``parts``-th customer), the members' centres, numbered and profiled."""
    model = fit_clusters(view, k, seed)
    assigned = pl.concat(
        assign_clusters(view.gather_every(parts, offset), model) for offset in range(parts)
    )
    z = [f"z_{name}" for name in BEHAVIOUR_FEATURES]
    members = assigned.group_by("raw_cluster").agg(
        pl.len().alias("customers"), *[pl.col(c).mean() for c in z]
    )
    numbers, profiles = cluster_profiles(model, members, top_features=3)
    assignments = assigned.select(
        "customer_id",
        pl.col("raw_cluster")
        .replace_strict(numbers, return_dtype=pl.Int32)
        .alias("behaviour_cluster"),
    )
    return assignments.sort("customer_id"), profiles


def test_clusters_are_stable_and_profiled() -> None:
    view = _view(60)
    a1, p1 = _clusters(view, k=3, seed=7)
    a2, _ = _clusters(view.sample(fraction=1.0, shuffle=True, seed=1), 3, 7, parts=3)
    assert a1.equals(a2)  # the order of the rows and the parts do not move a customer
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
    assignments, profiles = _clusters(view, k=6, seed=7)
    assert profiles["customers"].to_list() == [1000, 500]
    counter = assignments.filter(pl.col("customer_id") == "C0000")["behaviour_cluster"][0]
    members = assignments.filter(pl.col("behaviour_cluster") == counter)["customer_id"]
    assert members.to_list() == [f"C{i:04d}" for i in range(0, 1500, 3)]
