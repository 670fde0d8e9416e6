"""Contribution of hand-made customers, computed by hand from configs/default.yaml's rates.

Business date 2026-11-10; the window is 2025-12-01 .. 2026-11-10 (ACT/365). Hand computation
(rates from configs/default.yaml, economics):

C1  A1 DDA 10,000.00 at 0.20% from 2026-10-25: 17 days -> balance-days 170,000
        deposit NII = (1.80 - 0.20) x 170,000 / 36,500 = 7.452055
        upkeep      = 12 x 17 / 365                     = 0.558904
    L1 PLN 50,000.00 at 4.35% from 2026-11-01, 35 days past due from 2026-11-06:
        10 days -> balance-days 500,000
        loan NII    = (4.35 - 2.60) x 500,000 / 36,500   = 23.972603
        risk cost   = PD 25% (30-59 dpd) x LGD 60% x 500,000 / 365 / 100 = 205.479452
        upkeep      = 120 x 10 / 365                     = 3.287671
    K1 CCD balance 0 from 2026-11-01: upkeep 60 x 10 / 365 = 1.643836
    POS on the debit card (A1): 5,000.00 -> 0.35% = 17.50, capped at 13.00; 1,000.00 -> 3.50
    POS on the credit card (K1): 1,000.00 -> 0.45% = 4.50          interchange = 21.00
    CTR DEP (15.00), CTR TRO with fee 2.00 (12.00), NET TRO x2 (0.30 each), ATM QRY (0.50),
    POS x3 (0.20 each), NET TRO in October (0.30)                  service cost = 29.00
    revenue = 7.452055 + 23.972603 + 2.00 + 21.00 = 54.424658
    cost    = 29.00 + 0.558904 + 3.287671 + 1.643836 + 205.479452 = 239.969863
    contribution = -185.545205

C2  W1 WMP 200,000.00 from 2026-11-01: 10 days -> commission 0.50 x 2,000,000 / 36,500
        = 27.397260; upkeep 15 x 10 / 365 = 0.410959
    T1 TDA 100,000.00 at 2.50% (above the 2.30% FTP): deposit NII = -0.20 x 1,000,000 / 36,500
        = -5.479452; upkeep 10 x 10 / 365 = 0.273973
    Not counted: a transaction delivered on 2026-11-11 (after the date) and the balance
    version from 2026-11-11.
    contribution = 27.397260 - 5.479452 - 0.410959 - 0.273973 = 21.232876
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Config
from pipeline.errors import StageFailed
from pipeline.stages import contribution, features
from pipeline.stages.base import StageContext, run_stage
from pipeline.warehouse import FAR_FUTURE, RunLedger, migrate

D = date(2026, 11, 10)
FAR = FAR_FUTURE


def add_customer(con: duckdb.DuckDBPyConnection, cid: str, branch: str = "B001") -> None:
    con.execute(
        "insert into hist_customers (customer_id, gender, birth_date, education, occupation, "
        "industry, region_code, home_branch_id, rm_id, open_date, business_license, "
        "marketing_consent, status, row_hash, valid_from, valid_to) values "
        "(?, 'M', date '1980-05-01', 'BA', 'EMP', 'F', '410102', ?, 'RM1', "
        "date '2015-01-01', 'N', 'Y', 'A', 0, date '2026-10-01', ?)",
        [cid, branch, FAR],
    )


def add_version(
    con: duckdb.DuckDBPyConnection,
    aid: str,
    cid: str,
    product: str,
    balance: str,
    rate: str,
    valid_from: date,
    valid_to: date = FAR,
    dpd: int | None = None,
    branch: str = "B001",
) -> None:
    con.execute(
        "insert into hist_accounts (account_id, customer_id, product_code, open_date, balance, "
        "interest_rate, currency, branch_id, status, days_past_due, row_hash, valid_from, "
        "valid_to) values (?, ?, ?, date '2020-01-01', ?, ?, 'CNY', ?, 'A', ?, 0, ?, ?)",
        [aid, cid, product, Decimal(balance), Decimal(rate), branch, dpd, valid_from, valid_to],
    )


_N = iter(range(1, 10**9))


def add_txn(
    con: duckdb.DuckDBPyConnection,
    cid: str,
    aid: str,
    channel: str,
    code: str,
    amount: str,
    day: date,
    *,
    fee: str = "0.00",
    delivered: date | None = None,
    direction: str | None = None,
) -> None:
    n = next(_N)
    direction = direction or {"DEP": "C", "TRI": "C", "QRY": "N"}.get(code, "D")
    con.execute(
        "insert into stg_transactions (txn_id, txn_date, txn_time, customer_id, account_id, "
        "channel, txn_code, direction, amount, currency, fee, mcc, branch_id, business_date, "
        "line_number) values (?, ?, time '10:00:00', ?, ?, ?, ?, ?, ?, 'CNY', ?, ?, 'B001', ?, ?)",
        [
            f"T{n}",
            day,
            cid,
            aid,
            channel,
            code,
            direction,
            Decimal(amount),
            Decimal(fee),
            "5411" if code == "POS" else None,
            delivered or day,
            n,
        ],
    )


def mark_loaded(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """file_ledger rows, so the features stage sees the dates as delivered."""
    day = first
    while day <= last:
        for feed in ("ACCT", "TXN"):
            con.execute(
                "insert into file_ledger (file_name, feed, business_date, outcome, received_at) "
                "values (?, ?, ?, 'loaded', ?)",
                [f"{feed}_{day:%Y%m%d}.dat", feed, day, datetime.now()],
            )
        day += timedelta(days=1)


def run(con: duckdb.DuckDBPyConnection, cfg: Config, *names: str, day: date = D) -> None:
    ledger = RunLedger(con, "test")
    for name in names:
        stage = {"features": features.STAGE, "contribution": contribution.STAGE}[name]
        ctx = StageContext(con, cfg, day, ledger, logging.getLogger("test"))
        run_stage(ctx, stage)


def build_scenario(con: duckdb.DuckDBPyConnection) -> None:
    migrate(con)
    add_customer(con, "C1")
    add_customer(con, "C2")
    add_version(con, "A1", "C1", "DDA", "10000.00", "0.20", date(2026, 10, 25))
    add_version(con, "L1", "C1", "PLN", "50000.00", "4.35", date(2026, 11, 1), date(2026, 11, 6), 0)
    add_version(con, "L1", "C1", "PLN", "50000.00", "4.35", date(2026, 11, 6), FAR, 35)
    add_version(con, "K1", "C1", "CCD", "0.00", "18.25", date(2026, 11, 1))
    add_version(con, "W1", "C2", "WMP", "200000.00", "0", date(2026, 11, 1))
    add_version(con, "T1", "C2", "TDA", "100000.00", "2.50", date(2026, 11, 1), date(2026, 11, 11))
    add_version(con, "T1", "C2", "TDA", "900000.00", "2.50", date(2026, 11, 11))  # after D
    nov = date(2026, 11, 3)
    add_txn(con, "C1", "A1", "POS", "POS", "5000.00", nov)
    add_txn(con, "C1", "A1", "POS", "POS", "1000.00", nov)
    add_txn(con, "C1", "K1", "POS", "POS", "1000.00", nov)
    add_txn(con, "C1", "A1", "CTR", "DEP", "300.00", nov)
    add_txn(con, "C1", "A1", "CTR", "TRO", "300.00", nov, fee="2.00")
    add_txn(con, "C1", "A1", "NET", "TRO", "10.00", nov)
    add_txn(con, "C1", "A1", "NET", "TRO", "20.00", date(2026, 11, 10))
    add_txn(con, "C1", "A1", "ATM", "QRY", "0.00", nov)
    add_txn(con, "C1", "A1", "NET", "TRO", "50.00", date(2026, 10, 28))
    # delivered after the business date: not part of the 2026-11-10 result
    add_txn(con, "C2", "W1", "CTR", "TRO", "99.00", date(2026, 11, 9), delivered=date(2026, 11, 11))
    mark_loaded(con, date(2026, 10, 25), date(2026, 11, 11))


@pytest.fixture
def con(cfg: Config) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    build_scenario(c)
    return c


def contribution_of(con: duckdb.DuckDBPyConnection, cid: str, day: date = D) -> dict[str, Decimal]:
    cur = con.execute(
        "select * from int_customer_contribution where customer_id = ? and business_date = ?",
        [cid, day],
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def test_hand_computed_components(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    run(con, cfg, "features", "contribution")
    c1 = contribution_of(con, "C1")
    assert c1["window_start"] == date(2025, 12, 1)
    assert c1["deposit_nii_amount"] == Decimal("7.452055")
    assert c1["loan_nii_amount"] == Decimal("23.972603")
    assert c1["commission_amount"] == Decimal("0")
    assert c1["fee_amount"] == Decimal("2.00")
    assert c1["interchange_amount"] == Decimal("21.00")
    assert c1["service_cost_amount"] == Decimal("29.00")
    assert c1["upkeep_cost_amount"] == Decimal("0.558904") + Decimal("3.287671") + Decimal(
        "1.643836"
    )
    assert c1["risk_cost_amount"] == Decimal("205.479452")
    assert c1["revenue_amount"] == Decimal("54.424658")
    assert c1["cost_amount"] == Decimal("239.969863")
    assert c1["contribution_amount"] == Decimal("-185.545205")
    assert c1["home_branch_id"] == "B001" and c1["rm_id"] == "RM1"

    c2 = contribution_of(con, "C2")
    assert c2["commission_amount"] == Decimal("27.397260")
    assert c2["deposit_nii_amount"] == Decimal("-5.479452")
    assert c2["service_cost_amount"] == 0  # the 2026-11-11 delivery is not seen on 2026-11-10
    assert c2["contribution_amount"] == Decimal("21.232876")


def test_features_of_hand_made_customer(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    run(con, cfg, "features")
    row = con.execute(
        "select window_days, adb_dda_amount, adb_pln_amount, ctr_txn_count, net_txn_count, "
        "pos_amount, products_held, max_days_past_due, age_band, tenure_months, "
        "top_mcc_category, card_spend_by_category from int_customer_features "
        "where customer_id = 'C1'"
    ).fetchone()
    # 2025-12-01 .. 2026-11-10 is 345 days; DDA 170,000 balance-days / 345 = 492.75
    assert row == (
        345,
        Decimal("492.75"),
        Decimal("1449.28"),
        2,
        3,
        Decimal("7000.00"),
        2,
        35,
        "45-54",
        142,
        "groceries",
        {"groceries": Decimal("7000.00")},  # all three purchases carry MCC 5411
    )


def test_reconciliation_catches_a_planted_error(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    run(con, cfg, "features", "contribution")
    ok = con.execute("select bool_and(is_ok), count(*) from chk_contribution_reconciliation")
    # 8 components for each of 5 (branch, product) cells and for the whole ('*', '*')
    assert ok.fetchone() == (True, 6 * 8)
    con.execute(
        "update int_customer_product_contribution set fee_amount = fee_amount + 0.01 "
        "where customer_id = 'C1' and product_code = 'DDA'"
    )
    load = features.load_reference_tables
    load(con, cfg)
    window = features.window_of(cfg, D)
    params = {**window.params(), "day_count_days": 365, "tolerance_per_row": Decimal("0.000001")}
    with pytest.raises(StageFailed, match="branch B001, product DDA, component fee"):
        contribution.check_reconciliation(con, params)


def test_closed_months_are_not_recomputed_without_new_deliveries(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    run(con, cfg, "features")
    log = "select refreshed_at from agg_refresh_log where month_start = date '2026-10-01' "
    log += "and table_name = 'agg_customer_txn_month' order by refreshed_at"
    first = con.execute(log).fetchall()
    assert len(first) == 1
    run(con, cfg, "features")
    assert con.execute(log).fetchall() == first
    # a re-sent October delivery makes October stale: it is recomputed with the new row
    add_txn(con, "C1", "A1", "CTR", "WDL", "100.00", date(2026, 10, 30))
    mark_loaded(con, date(2026, 10, 30), date(2026, 10, 30))
    run(con, cfg, "features", "contribution")
    assert len(con.execute(log).fetchall()) == 2
    assert contribution_of(con, "C1")["service_cost_amount"] == Decimal("44.00")


def test_backfill_sees_only_what_that_night_saw(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    run(con, cfg, "features", "contribution", day=date(2026, 11, 11))
    assert contribution_of(con, "C2", date(2026, 11, 11))["service_cost_amount"] == Decimal("12")
    run(con, cfg, "features", "contribution", day=D)
    assert contribution_of(con, "C2")["contribution_amount"] == Decimal("21.232876")


def _pair(cfg: Config, *customers: tuple[int, int, str]) -> list[Decimal]:
    """Contribution of customers (balance, counter deposits, customer rate %) run together."""
    c = duckdb.connect(":memory:")
    migrate(c)
    for i, (balance, ctr_count, rate) in enumerate(customers):
        cid, aid = f"P{i}", f"P{i}A"
        add_customer(c, cid)
        add_version(c, aid, cid, "DDA", f"{balance}.00", rate, date(2026, 11, 1))
        for _ in range(ctr_count):
            add_txn(c, cid, aid, "CTR", "DEP", "100.00", date(2026, 11, 2))
        add_txn(c, cid, aid, "POS", "POS", "80.00", date(2026, 11, 2))
    mark_loaded(c, date(2026, 11, 1), D)
    run(c, cfg, "features", "contribution")
    values = [contribution_of(c, f"P{i}")["contribution_amount"] for i in range(len(customers))]
    c.close()
    return values


PROPERTY = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(balance=st.integers(0, 2_000_000), ctr=st.integers(0, 5))
def test_one_more_counter_transaction_never_raises_contribution(
    cfg: Config, balance: int, ctr: int
) -> None:
    more, fewer = _pair(cfg, (balance, ctr + 1, "0.20"), (balance, ctr, "0.20"))
    assert more < fewer


@PROPERTY
@given(
    balance=st.integers(0, 2_000_000),
    rate_bp=st.integers(0, 300),
    cut_bp=st.integers(1, 100),
)
def test_a_wider_deposit_margin_never_lowers_contribution(
    cfg: Config, balance: int, rate_bp: int, cut_bp: int
) -> None:
    lower = max(0, rate_bp - cut_bp)
    wide, narrow = _pair(
        cfg, (balance, 1, f"{lower / 100:.2f}"), (balance, 1, f"{rate_bp / 100:.2f}")
    )
    assert wide >= narrow
