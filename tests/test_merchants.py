"""The merchants stage on hand-made rows in a real DuckDB warehouse.

The window in most tests is 28 days, Monday 2026-06-15 to Sunday 2026-07-12: four whole ISO
weeks, 20 weekdays, spanning June and July. Every expected figure below is computed by hand
in the comment beside it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Config, load_config
from pipeline.config.merchants import MerchantsConfig
from pipeline.stages.merchants import STAGE
from pipeline.warehouse import migrate
from tests.conftest import run_stage_for
from tests.merchant_cases import BANK, Rows, days

START = date(2026, 6, 15)
END = date(2026, 7, 12)
REPO = Path(__file__).resolve().parent.parent


def make_config(**merchants: object) -> Config:
    base = load_config(REPO / "configs" / "default.yaml", environ={})
    settings = {
        "window_days": 28,
        "min_history_days": 7,
        "recurring_supplier_min_months": 2,
        "top_suppliers": 1,
        "candidate_min_amount": 100_000,
        **merchants,
    }
    section = MerchantsConfig.model_validate(
        {**base.merchants.model_dump(exclude={"rules", "decoys", "clusters"}), **settings}
    )
    return base.model_copy(update={"merchants": section})


def run_merchants(rows: Rows, cfg: Config, day: date = END) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    rows.load(con)
    run_stage_for(con, cfg, STAGE, day)
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> dict:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, sql
    return dict(zip(names, row, strict=True))


def add_market_merchant(r: Rows, cid: str, payer_prefix: str = "P", **customer: object) -> None:
    """20 weekdays × 3 payments of 1,000 from 10 payers; 4 Monday counter deposits of 5,000;
    4 Tuesday transfers of 10,000 to S1 and 4 Wednesday transfers of 5,500 to S2."""
    r.customer(cid, occupation="SE", licence="Y", home_branch="BM", **customer)  # type: ignore[arg-type]
    k = 0
    for d in days(START, END):
        if d.isoweekday() <= 5:
            for _ in range(3):
                p = f"{payer_prefix}{k % 10}"
                r.txn(cid, d, "TRI", "C", "1000.00", cp_account=p, cp_name=f"买家{p}")
                k += 1
        if d.isoweekday() == 1:
            r.txn(cid, d, "DEP", "C", "5000.00", channel="CTR", branch="BM")
        if d.isoweekday() == 2:
            r.txn(cid, d, "TRO", "D", "10000.00", cp_account="S1", cp_name="甲批发部")
        if d.isoweekday() == 3:
            r.txn(
                cid,
                d,
                "TRO",
                "D",
                "5500.00",
                cp_account="S2",
                cp_name="乙商行",
                cp_bank=BANK,
                cp_customer="C900",
            )


def base_rows() -> Rows:
    r = Rows()
    r.branch("B1", market=False)
    r.branch("BM", market=True)
    return r


def test_signals_of_a_market_merchant_by_hand() -> None:
    r = base_rows()
    add_market_merchant(r, "M1", rm_id="RM01", balance="80000.00")
    # Not turnover: own account at another bank (same name), own second account, a loan
    # drawdown and a product redemption.
    r.txn("M1", date(2026, 6, 20), "TRI", "C", "100000.00", cp_account="X9", cp_name="客户M1")
    r.accounts.append(
        {
            "account_id": "AM1-2",
            "customer_id": "M1",
            "product_code": "TDA",
            "balance": Decimal("20000.00"),
            "status": "A",
        }
    )
    r.txn("M1", date(2026, 6, 21), "TRI", "C", "50000.00", cp_account="AM1-2", cp_bank=BANK)
    r.txn("M1", date(2026, 6, 22), "LDR", "C", "200000.00")
    r.txn("M1", date(2026, 6, 23), "PRR", "C", "30000.00")
    # Outside the window: the day before it starts, and a later business date.
    r.txn("M1", START - timedelta(days=1), "TRI", "C", "9999.00", cp_account="P0")
    con = run_merchants(r, make_config())
    s = one(con, "select * from int_merchant_signals where customer_id = 'M1'")
    assert s["history_days"] == 28
    assert s["inflow_amount"] == Decimal("80000.00")  # 60 × 1,000 + 4 × 5,000
    assert s["turnover_amount"] == Decimal("1042857.14")  # 80,000 × 365 / 28
    assert s["inflow_count"] == 64
    assert s["payer_count"] == 10
    assert s["small_payment_share"] == pytest.approx(1.0)
    assert s["largest_inflow_share"] == pytest.approx(5000 / 80000)
    assert s["top_payer_share"] == pytest.approx(6000 / 80000)  # 60 payments over 10 payers
    assert s["top_payer_months"] == 2
    assert s["top_payer_amount_cv"] == pytest.approx(0.0)
    assert s["inflow_week_share"] == pytest.approx(1.0)
    assert s["inflow_business_day_share"] == pytest.approx(1.0)
    assert s["outflow_amount"] == Decimal("62000.00")  # 4 × 10,000 + 4 × 5,500
    assert s["supplier_count"] == 2
    assert s["recurring_supplier_count"] == 2  # both paid in June and July
    assert s["top_supplier_share"] == pytest.approx(40000 / 62000)
    assert s["round_outflow_share"] == pytest.approx(0.5)  # 10,000s round, 5,500s not
    assert s["pass_through_ratio"] == pytest.approx(62000 / 80000)
    assert s["counter_cash_deposit_count"] == 4
    assert s["counter_cash_deposit_share"] == pytest.approx(20000 / 80000)
    assert s["market_branch_share"] == pytest.approx(1.0)
    assert s["is_market_home_branch"] and s["is_self_employed"] and s["is_declared"]
    assert s["deposit_amount"] == Decimal("100000.00")  # DDA 80,000 + TDA 20,000
    m = one(con, "select * from int_merchants where customer_id = 'M1'")
    assert m["rm_id"] == "RM01" and m["home_branch_id"] == "BM"
    assert m["turnover_amount"] == Decimal("1042857.14")
    assert "MANY_PAYERS" not in m["reasons"]  # 10 payers < 30
    # 20 turnover + 10 small + 10 weeks + 10 days + 10 recurring + 5 concentrated + 5 round
    # + 10 pass-through + 5 market share + 5 market home + 5 SE + 5 declared = 100; counter
    # cash needs 12 deposits (4 here).
    assert m["merchant_score"] == 100
    assert "COUNTER_CASH" not in m["reasons"]


def test_weeks_and_business_days_count_only_days_with_inflows() -> None:
    r = base_rows()
    r.customer("W1", occupation="SE")
    # First week: an inflow every weekday (5 days); weeks 2-4: only the Saturday.
    for d in days(START, END):
        if (d < START + timedelta(days=7) and d.isoweekday() <= 5) or d.isoweekday() == 6:
            r.txn("W1", d, "TRI", "C", "20000.00", cp_account=f"P{d.day}")
    con = run_merchants(r, make_config())
    s = one(con, "select * from int_merchant_signals where customer_id = 'W1'")
    assert s["inflow_week_share"] == pytest.approx(4 / 4)
    assert s["inflow_business_day_share"] == pytest.approx(5 / 20)


def test_pass_through_counts_only_outflows_soon_after_inflows() -> None:
    r = base_rows()
    r.customer("T1")
    r.txn("T1", START, "TRI", "C", "200000.00", cp_account="P1")
    r.txn("T1", START + timedelta(days=7), "TRO", "D", "50000.00", cp_account="S1")  # day 7: in
    r.txn("T1", START + timedelta(days=8), "TRO", "D", "30000.00", cp_account="S1")  # day 8: out
    con = run_merchants(r, make_config(pass_through_days=7))
    s = one(con, "select pass_through_ratio from int_merchant_signals")
    assert s["pass_through_ratio"] == pytest.approx(50000 / 200000)


def test_small_payments_and_market_branch_share() -> None:
    r = base_rows()
    r.customer("S1")
    r.txn("S1", START, "TRI", "C", "20000.00", cp_account="P1")  # at the threshold: small
    r.txn("S1", START, "TRI", "C", "60000.00", cp_account="P2")
    r.txn("S1", START, "DEP", "C", "30000.00", channel="CTR", branch="BM")  # cash: no payer
    r.txn("S1", START, "WDL", "D", "1000.00", channel="ATM", branch="B1")
    r.txn("S1", START, "QRY", "N", "0.00", channel="ATM", branch="BM")
    con = run_merchants(r, make_config())
    s = one(con, "select * from int_merchant_signals")
    assert s["small_payment_share"] == pytest.approx(20000 / 80000)  # of payer inflows
    assert s["market_branch_share"] == pytest.approx(2 / 3)
    assert s["counter_cash_deposit_count"] == 1


def test_below_candidate_amount_is_not_scored() -> None:
    r = base_rows()
    r.customer("L1")
    r.txn("L1", START, "TRI", "C", "7000.00", cp_account="P1")  # 7,000 × 365/28 = 91,250
    con = run_merchants(r, make_config(candidate_min_amount=100_000))
    assert one(con, "select count(*) as n from int_merchant_signals")["n"] == 0


def test_decoys_are_not_merchants() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    # Flat sale: one inflow of 2,000,000 and a few small ones.
    r.customer("F1")
    r.txn("F1", date(2026, 6, 25), "TRI", "C", "2000000.00", cp_account="BUYER", cp_name="买房人")
    for i in range(40):
        r.txn("F1", START + timedelta(days=i % 28), "TRI", "C", "500.00", cp_account=f"F{i}")
    # Inheritance: 1,200,000 from a relative, then spread into other banks.
    r.customer("I1")
    r.txn("I1", date(2026, 6, 18), "TRI", "C", "1200000.00", cp_account="REL", cp_name="亲属")
    for i in range(4):
        r.txn("I1", date(2026, 6, 19 + i), "TRO", "D", "250000.00", cp_account=f"B{i}")
    con = run_merchants(r, make_config())
    got = dict(
        con.execute("select customer_id, decoy_reasons from int_merchant_scorecard").fetchall()
    )
    merchants = {row[0] for row in con.execute("select customer_id from int_merchants").fetchall()}
    assert merchants == {"M1"}
    assert "DECOY_SINGLE_INFLOW" in got["F1"]
    assert "DECOY_SINGLE_INFLOW" in got["I1"] and "DECOY_ONE_PAYER" in got["I1"]


def test_high_salary_is_not_a_merchant() -> None:
    r = base_rows()
    r.customer("H1", occupation="EMP")
    d = date(2026, 7, 10)
    start = date(2025, 7, 15)
    # A year: 12 monthly salaries of 110,000 (1,320,000) plus 60 small transfers from friends.
    for i in range(12):
        month = date(2025 + (7 + i) // 12, (7 + i) % 12 + 1, 5)
        r.txn("H1", month, "TRI", "C", "110000.00", cp_account="EMPLOYER", cp_name="某科技公司")
    for i in range(60):
        r.txn("H1", start + timedelta(days=6 * i), "TRI", "C", "800.00", cp_account=f"F{i % 40}")
    con = run_merchants(r, make_config(window_days=365), day=d)
    s = one(con, "select * from int_merchant_scorecard where customer_id = 'H1'")
    assert not s["is_merchant"]
    assert "DECOY_SALARY" in s["decoy_reasons"]
    sig = one(con, "select top_payer_months, top_payer_amount_cv from int_merchant_signals")
    assert sig["top_payer_months"] == 12 and sig["top_payer_amount_cv"] == pytest.approx(0.0)


def test_top_payer_spread_is_exact() -> None:
    r = base_rows()
    r.customer("V1")
    # The top payer pays 40,000.00, 50,000.00 and 60,000.00 (a smaller one 1,000.00): in
    # cents n·Σc² − (Σc)² = 3 × 7.7e13 − 1.5e7² = 6e12, Σc = 1.5e7, so the spread
    # stddev_pop / avg is sqrt(6e12) / 1.5e7 = sqrt(2/3) / 5, computed once from exact sums.
    for i, amount in enumerate(("50000.00", "60000.00", "40000.00")):
        r.txn("V1", START + timedelta(days=7 * i), "TRI", "C", amount, cp_account="BIG")
    r.txn("V1", START, "TRI", "C", "1000.00", cp_account="SMALL")
    con = run_merchants(r, make_config())
    sig = one(con, "select top_payer_months, top_payer_amount_cv from int_merchant_signals")
    assert sig["top_payer_months"] == 1
    assert sig["top_payer_amount_cv"] == math.sqrt(6e12) / 1.5e7


def test_counterparty_chain_prospects_and_cluster() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    add_market_merchant(r, "M2")  # the same 10 payers: 10 shared counterparties
    r.customer("C900")  # supplier S2 is our customer
    con = run_merchants(r, make_config(prospect_min_amount=50_000))
    cp = one(
        con,
        "select * from int_merchant_counterparties where customer_id = 'M1' "
        "and counterparty_key = 'S1'",
    )
    assert cp["role"] == "supplier" and cp["amount"] == Decimal("40000.00")
    assert cp["txn_count"] == 4 and cp["counterparty_bank"] == "105"
    assert not cp["is_our_customer"] and cp["counterparty_rank"] == 1
    s2 = one(
        con,
        "select * from int_merchant_counterparties where counterparty_key = 'S2' "
        "and customer_id = 'M1'",
    )
    assert s2["is_our_customer"] and s2["counterparty_customer_id"] == "C900"
    buyer = one(
        con,
        "select * from int_merchant_counterparties where counterparty_key = 'P0' "
        "and customer_id = 'M2'",
    )
    assert buyer["role"] == "buyer" and buyer["amount"] == Decimal("6000.00")
    assert buyer["txn_count"] == 6
    # S1 took 40,000 from each merchant: 80,000 ≥ 50,000 and at another bank. S2 is ours.
    prospects = con.execute(
        "select counterparty_key, amount, merchant_count from int_merchant_prospects"
    ).fetchall()
    assert prospects == [("S1", Decimal("80000.00"), 2)]
    cluster = one(con, "select * from int_market_clusters")
    assert cluster["member_customer_ids"] == ["M1", "M2"]
    assert cluster["turnover_amount"] == Decimal("2085714.28")  # 2 × 1,042,857.14
    assert cluster["link_type"] == "shared_counterparties"
    ids = con.execute("select distinct market_cluster_id from int_merchants").fetchall()
    assert ids == [("MC-M1",)]


def test_rerun_replaces_the_dates_rows() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    cfg = make_config()
    con = run_merchants(r, cfg)
    run_stage_for(con, cfg, STAGE, END)
    for table in ("int_merchant_signals", "int_merchants", "int_merchant_scorecard"):
        assert one(con, f"select count(*) as n from {table}")["n"] == 1


def test_turnover_below_the_floor_is_not_a_merchant() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    con = run_merchants(r, make_config(turnover_floor_amount=1_100_000))
    s = one(con, "select * from int_merchant_scorecard")
    assert s["merchant_score"] >= 60 and not s["is_merchant"]
    assert one(con, "select count(*) as n from int_merchants")["n"] == 0


def test_cli_has_a_merchants_command_with_help() -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, ["merchants", "--help"])
    assert result.exit_code == 0
    assert "cvp merchants --date" in result.output


def test_config_rejects_unknown_signal_and_impossible_rule() -> None:
    from pydantic import ValidationError

    from pipeline.config.merchants import ScoreRule

    with pytest.raises(ValidationError, match="unknown signal"):
        ScoreRule(signal="turnover", at_least=1, points=5)
    with pytest.raises(ValidationError, match="never fire"):
        ScoreRule(signal="payer_count", at_least=10, at_most=5, points=5)
    with pytest.raises(ValidationError, match="candidate_min_amount"):
        MerchantsConfig(candidate_min_amount=2_000_000)


def test_new_customer_turnover_is_annualised_over_its_own_history() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")  # the warehouse's history starts on START
    r.customer("N1", open_date=START + timedelta(days=14))  # 14 days: Jun 29 to Jul 12
    for d in days(START + timedelta(days=14), END):
        r.txn("N1", d, "TRI", "C", "3000.00", cp_account=f"P{d.day % 7}")
    con = run_merchants(r, make_config())
    s = one(con, "select * from int_merchant_signals where customer_id = 'N1'")
    assert s["history_days"] == 14
    assert s["inflow_amount"] == Decimal("42000.00")  # 14 × 3,000
    assert s["turnover_amount"] == Decimal("1095000.00")  # 42,000 × 365 / 14
    con2 = run_merchants(r, make_config(annualise=False, candidate_min_amount=50_000))
    s2 = one(con2, "select * from int_merchant_signals where customer_id = 'M1'")
    assert s2["turnover_amount"] == Decimal("80000.00")
