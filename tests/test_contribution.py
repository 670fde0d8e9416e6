"""Contribution of hand-made customers, worked out by hand from configs/default.yaml's rates.

Business date D = 2026-11-30: the window is 2025-12-01 .. 2026-11-30, 365 days, and the
account snapshots are loaded from 2025-12-01, so history_days = 365 and a year's figure is the
window's (annualised × 365 / 365). ACT/365: amount = balance-days × rate% / 36,500.
FTP: DDA = 0.5 × 2.10 (24M) + 0.5 × 1.45 (O/N) = 1.775; TDA 12M 1.95, 60M 2.50; PLN 36M 2.30;
MTG 360M 2.90; PLN without maturity and cards: flat 2.60. Reserve: 6.2% × (FTP − 1.62).
Capital: risk weight × balance-days × 10.5% × 10% = RW% × bd × 1.05 / 3,650,000.

C1  A1 DDA 10,000.00 at 0.20% from 2026-11-01: 30 days, balance-days 300,000
        deposit NII = 1.575 × 300,000 / 36,500                  = 12.945205
        reserve     = 6.2 × 0.155 × 300,000 / 3,650,000          = 0.078986
        upkeep      = 12 × 30 / 365                              = 0.986301
    A2 DDA closed (status C, balance 0) from 2026-11-01: no upkeep
    L1 PLN 50,000.00 at 4.35%, opened 2025-11-01, maturing 2028-11-01 (36 months: FTP 2.30):
        11-01..11-05 performing (5 days), 11-06..11-19 35 dpd: watch (14 days),
        11-20..11-30 95 dpd, status D: default (11 days)
        loan NII    = (4.35 × 950,000 − 2.30 × 1,500,000) / 36,500 = 18.698630
                      (no interest accrues on the days in default)
        expected loss = 60% × (1% × 250,000 + 43.75% × 700,000) / 365 = 507.534247
                      (watch: lifetime PD over 2 years left, 1 − 0.75² = 43.75%)
        provision   = 60% × 50,000 on entering default           = 30,000.00 (once, not annualised)
        upkeep      = 120 × 30 / 365                             = 9.863014
        capital     = (75 × 950,000 + 100 × 550,000) × 1.05 / 3,650,000 = 36.318493
    K1 CCD 18.25%, 3,000.00 from 2026-10-01, 500.00 from 11-15; the 10-31 statement (3,000)
        repaid in full on 11-15 (LRP from A1): a transactor, no interest
        loan NII    = −2.60 × 143,000 / 36,500                   = −10.186301
        expected loss = 75% × 1% × 143,000 / 365                 = 2.938356
        upkeep      = 60 × 61 / 365                              = 10.027397
        capital     = 75 × 143,000 × 1.05 / 3,650,000            = 3.085274
    Transactions: POS 5,000 on A1 (0.35% = 17.50, capped 13.00), POS 1,000 on K1 (0.45% = 4.50),
        CTR TRO with fee 2.00, FEE charge 2.00 (NET: revenue, no service cost), NET LRP to K1
        fee 4.00, interchange 17.50, service 0.20 + 0.20 + 12.00 + 0 + 0.30 = 12.70
    revenue = 12.945205 + 18.698630 − 10.186301 + 4.00 + 17.50         = 42.957534
    cost    = 12.70 + (0.986301 + 9.863014 + 10.027397) + 0.078986
              + (507.534247 + 30,000 + 2.938356)                          = 30,544.128301
    contribution = −30,501.170767; capital 39.403767; economic profit −30,540.574534

C2  T1 TDA 100,000.00 at 1.50%, 12 months (FTP 1.95), T2 TDA 100,000.00 at 1.50%, 60 months
        (FTP 2.50), both from 2026-11-01 (3,000,000 balance-days each):
        deposit NII = (0.45 + 1.00) × 3,000,000 / 36,500          = 119.178082
        reserve     = 6.2 × (0.33 + 0.88) × 3,000,000 / 3,650,000   = 6.166027
        upkeep      = 10 × 60 / 365                              = 1.643836
    K2 CCD 18.25%, 2,000.00 from 2026-10-01; 200.00 repaid of the 10-31 statement: revolves in
        November (61 days, 122,000 balance-days; November's 60,000 earn interest)
        loan NII    = (18.25 × 60,000 − 2.60 × 122,000) / 36,500  = 21.309589
        expected loss = 75% × 1% × 122,000 / 365                 = 2.506849
        upkeep 60 × 61 / 365 = 10.027397; capital 75 × 122,000 × 1.05 / 3,650,000 = 2.632192
        a 100.00 annual-fee FEE charge on K2: fee revenue 100.00, no service cost
    W1 WMP 200,000.00 from 2026-11-01: commission 0.50 × 6,000,000 / 36,500 = 82.191781;
        upkeep 15 × 30 / 365 = 1.232877
    service: the NET LRP credit on K2, 0.30. Not counted: a transaction delivered 2026-12-01.
    revenue = 119.178082 + 21.309589 + 82.191781 + 100.00               = 322.679452
    cost    = 0.30 + (1.643836 + 10.027397 + 1.232877) + 6.166027 + 2.506849 = 21.876986
    contribution = 300.802466; economic profit = 300.802466 − 2.632192 = 298.170274

C3  M1 MTG 100,000.00 at 3.50% (opened 2020-01-01, 30 years: FTP 2.90) from 2026-10-01,
        in default (100 dpd, status D) 10-10 .. 11-09, cured from 11-10:
        provision +25% × 100,000 on 10-10, released on 11-10: 0 over the window
        (25,000.00 on 2026-10-31); loan NII = (3.50 × 3,000,000 − 2.90 × 6,100,000) / 36,500
        = −196.986301 (interest on the 30 performing days only); expected loss
        25% × 1% × 3,000,000 / 365 = 20.547945
    P3 PLN 20,000.00 in default since 2025-06-01 (no maturity: flat FTP 2.60): charged nothing
        for the loss this year (it was provisioned when it defaulted), funding cost only:
        loan NII = −2.60 × 7,300,000 / 36,500 = −520.00; capital 100 × 7,300,000 × 1.05 /
        3,650,000 = 210.00
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

D = date(2026, 11, 30)
FAR = FAR_FUTURE
NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)


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
    *,
    status: str = "A",
    opened: date = date(2020, 1, 1),
    maturity: date | None = None,
) -> None:
    con.execute(
        "insert into hist_accounts (account_id, customer_id, product_code, open_date, "
        "maturity_date, balance, interest_rate, currency, branch_id, status, days_past_due, "
        "row_hash, valid_from, valid_to) values (?, ?, ?, ?, ?, ?, ?, 'CNY', ?, ?, ?, 0, ?, ?)",
        [
            aid,
            cid,
            product,
            opened,
            maturity,
            Decimal(balance),
            Decimal(rate),
            branch,
            status,
            dpd,
            valid_from,
            valid_to,
        ],
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
    counterparty: str | None = None,
) -> None:
    n = next(_N)
    direction = direction or {"DEP": "C", "TRI": "C", "QRY": "N"}.get(code, "D")
    con.execute(
        "insert into stg_transactions (txn_id, txn_date, txn_time, customer_id, account_id, "
        "channel, txn_code, direction, amount, currency, fee, mcc, branch_id, business_date, "
        "line_number, counterparty_account) values "
        "(?, ?, time '10:00:00', ?, ?, ?, ?, ?, ?, 'CNY', ?, ?, 'B001', ?, ?, ?)",
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
            counterparty,
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
    for cid in ("C1", "C2", "C3"):
        add_customer(con, cid)
    add_version(con, "A1", "C1", "DDA", "10000.00", "0.20", NOV)
    add_version(con, "A2", "C1", "DDA", "0.00", "0.20", NOV, status="C")
    loan = {"opened": date(2025, 11, 1), "maturity": date(2028, 11, 1)}
    add_version(con, "L1", "C1", "PLN", "50000.00", "4.35", NOV, date(2026, 11, 6), 0, **loan)
    add_version(
        con,
        "L1",
        "C1",
        "PLN",
        "50000.00",
        "4.35",
        date(2026, 11, 6),
        date(2026, 11, 20),
        35,
        **loan,
    )
    add_version(
        con, "L1", "C1", "PLN", "50000.00", "4.35", date(2026, 11, 20), FAR, 95, status="D", **loan
    )
    add_version(con, "K1", "C1", "CCD", "3000.00", "18.25", OCT, date(2026, 11, 15), 0)
    add_version(con, "K1", "C1", "CCD", "500.00", "18.25", date(2026, 11, 15), FAR, 0)
    add_version(
        con,
        "T1",
        "C2",
        "TDA",
        "100000.00",
        "1.50",
        NOV,
        date(2026, 12, 1),
        opened=NOV,
        maturity=date(2027, 11, 1),
    )
    add_version(
        con,
        "T1",
        "C2",
        "TDA",
        "900000.00",
        "1.50",
        date(2026, 12, 1),
        opened=NOV,
        maturity=date(2027, 11, 1),
    )  # after D
    add_version(
        con, "T2", "C2", "TDA", "100000.00", "1.50", NOV, opened=NOV, maturity=date(2031, 11, 1)
    )
    add_version(con, "K2", "C2", "CCD", "2000.00", "18.25", OCT, FAR, 0)
    add_version(con, "W1", "C2", "WMP", "200000.00", "0", NOV)
    mtg = {"opened": date(2020, 1, 1), "maturity": date(2050, 1, 1)}
    add_version(con, "M1", "C3", "MTG", "100000.00", "3.50", OCT, date(2026, 10, 10), 0, **mtg)
    add_version(
        con,
        "M1",
        "C3",
        "MTG",
        "100000.00",
        "3.50",
        date(2026, 10, 10),
        date(2026, 11, 10),
        100,
        status="D",
        **mtg,
    )
    add_version(con, "M1", "C3", "MTG", "100000.00", "3.50", date(2026, 11, 10), FAR, 0, **mtg)
    add_version(con, "P3", "C3", "PLN", "20000.00", "6.00", date(2025, 6, 1), FAR, 200, status="D")
    nov = date(2026, 11, 3)
    add_txn(con, "C1", "A1", "POS", "POS", "5000.00", nov)
    add_txn(con, "C1", "K1", "POS", "POS", "1000.00", nov)
    add_txn(con, "C1", "A1", "CTR", "TRO", "300.00", nov, fee="2.00")
    add_txn(con, "C1", "A1", "NET", "FEE", "2.00", nov)
    add_txn(con, "C1", "A1", "NET", "LRP", "3000.00", date(2026, 11, 15), counterparty="K1")
    add_txn(con, "C2", "K2", "NET", "LRP", "200.00", date(2026, 11, 10), direction="C")
    add_txn(con, "C2", "K2", "NET", "FEE", "100.00", date(2026, 11, 5))
    # delivered after the business date: not part of the 2026-11-30 result
    add_txn(con, "C2", "W1", "CTR", "TRO", "99.00", date(2026, 11, 30), delivered=date(2026, 12, 1))
    mark_loaded(con, date(2025, 12, 1), date(2026, 12, 1))


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
    assert (c1["window_start"], c1["history_days"]) == (date(2025, 12, 1), 365)
    assert c1["deposit_nii_amount"] == Decimal("12.945205")
    assert c1["loan_nii_amount"] == Decimal("18.698630") - Decimal("10.186301")
    assert c1["commission_amount"] == 0
    assert c1["fee_amount"] == Decimal("4.00")
    assert c1["interchange_amount"] == Decimal("17.50")
    assert c1["service_cost_amount"] == Decimal("12.70")
    assert c1["counter_cost_amount"] == Decimal("12.00")  # of it, the counter TRO (CTR)
    assert c1["upkeep_cost_amount"] == Decimal("0.986301") + Decimal("9.863014") + Decimal(
        "10.027397"
    )
    assert c1["reserve_cost_amount"] == Decimal("0.078986")
    assert c1["default_provision_amount"] == Decimal("30000")
    assert c1["risk_cost_amount"] == Decimal("507.534247") + Decimal("30000") + Decimal("2.938356")
    assert c1["revenue_amount"] == Decimal("42.957534")
    assert c1["cost_amount"] == Decimal("30544.128301")
    assert c1["contribution_amount"] == Decimal("-30501.170767")
    assert c1["capital_charge_amount"] == Decimal("36.318493") + Decimal("3.085274")
    assert c1["economic_profit_amount"] == Decimal("-30540.574534")
    assert c1["home_branch_id"] == "B001" and c1["rm_id"] == "RM1"

    c2 = contribution_of(con, "C2")
    assert c2["deposit_nii_amount"] == Decimal("119.178082")
    assert c2["reserve_cost_amount"] == Decimal("6.166027")
    assert c2["loan_nii_amount"] == Decimal("21.309589")
    assert c2["commission_amount"] == Decimal("82.191781")
    assert c2["fee_amount"] == Decimal("100.00")
    assert c2["service_cost_amount"] == Decimal("0.30")  # the 12-01 delivery is not seen
    assert c2["contribution_amount"] == Decimal("300.802466")
    assert c2["economic_profit_amount"] == Decimal("298.170274")


def product_row(con: duckdb.DuckDBPyConnection, cid: str, product: str) -> dict[str, Decimal]:
    cur = con.execute(
        "select * from int_customer_product_contribution where customer_id = ? "
        "and product_code = ? and business_date = ?",
        [cid, product, D],
    )
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def test_time_deposits_priced_at_their_term(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Same customer rate, longer term: a wider margin on the matched-maturity curve."""
    run(con, cfg, "features", "contribution")
    # T1 alone: (1.95 − 1.50) × 3,000,000 / 36,500; the 60-month T2 adds 1.00 × 3,000,000 / 36,500
    c = duckdb.connect(":memory:")
    migrate(c)
    add_customer(c, "C2")
    add_version(
        c, "T1", "C2", "TDA", "100000.00", "1.50", NOV, opened=NOV, maturity=date(2027, 11, 1)
    )
    mark_loaded(c, date(2025, 12, 1), D)
    run(c, cfg, "features", "contribution")
    assert contribution_of(c, "C2")["deposit_nii_amount"] == Decimal("36.986301")
    assert product_row(con, "C2", "TDA")["deposit_nii_amount"] == Decimal("119.178082")


def test_without_a_curve_every_account_takes_the_flat_rate(cfg: Config) -> None:
    """ftp_curve: null: T1 (12 months) and the DDA at the flat TDA 2.30 and DDA 1.80:
    (2.30 − 1.50) × 3,000,000 / 36,500 = 65.753425; (1.80 − 0.20) × 300,000 / 36,500 =
    13.150685."""
    flat = cfg.model_copy(
        update={"economics": cfg.economics.model_copy(update={"ftp_curve": None})}
    )
    c = duckdb.connect(":memory:")
    migrate(c)
    add_customer(c, "F1")
    add_version(
        c, "F1T", "F1", "TDA", "100000.00", "1.50", NOV, opened=NOV, maturity=date(2027, 11, 1)
    )
    add_version(c, "F1A", "F1", "DDA", "10000.00", "0.20", NOV)
    mark_loaded(c, date(2025, 12, 1), D)
    run(c, flat, "features", "contribution")
    assert product_row(c, "F1", "TDA")["deposit_nii_amount"] == Decimal("65.753425")
    assert product_row(c, "F1", "DDA")["deposit_nii_amount"] == Decimal("13.150685")


def test_default_is_provisioned_once_and_released_on_cure(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    run(con, cfg, "features", "contribution", day=date(2026, 10, 31))
    assert contribution_of(con, "C3", date(2026, 10, 31))["default_provision_amount"] == Decimal(
        "25000"
    )
    run(con, cfg, "features", "contribution")
    c3 = contribution_of(con, "C3")
    assert c3["default_provision_amount"] == 0  # provisioned 10-10, released 11-10
    assert c3["risk_cost_amount"] == Decimal("20.547945")
    assert c3["loan_nii_amount"] == Decimal("-196.986301") - Decimal("520.00")
    assert c3["capital_charge_amount"] == Decimal("115.068493") + Decimal("210.00")
    assert product_row(con, "C3", "PLN")["risk_cost_amount"] == 0  # the old default: no charge


def test_history_shorter_than_a_year_is_annualised(cfg: Config) -> None:
    """A DDA of 10,000.00 at 0.20% held for the 30 days the warehouse holds: (1.775 − 0.20)
    × 300,000 / 36,500 over 30 days = 12.945205, × 365 / 30 = 157.50 a year; a counter
    transfer (12.00) in those 30 days is 146.00 a year. A PLN of 10,000.00 already in default
    in the first snapshot is the opening book (provisioned before cvp): no provision, its
    funding −2.60 × 300,000 / 36,500 × 365 / 30 = −260.00 a year."""
    c = duckdb.connect(":memory:")
    migrate(c)
    add_customer(c, "N1")
    add_version(c, "N1A", "N1", "DDA", "10000.00", "0.20", NOV)
    add_version(c, "N1L", "N1", "PLN", "10000.00", "6.00", NOV, FAR, 120, status="D")
    add_txn(c, "N1", "N1A", "CTR", "TRO", "50.00", date(2026, 11, 20))
    mark_loaded(c, NOV, D)
    run(c, cfg, "features", "contribution")
    row = contribution_of(c, "N1")
    assert row["history_days"] == 30
    assert row["deposit_nii_amount"] == Decimal("157.500000")
    assert row["service_cost_amount"] == Decimal("146.000000")
    assert row["loan_nii_amount"] == Decimal("-260.000000")
    assert row["default_provision_amount"] == 0


def test_steady_book_does_not_drop_on_the_first_of_the_month(cfg: Config) -> None:
    """Constant balances and a transfer every day since 2025-09-01: the yearly figure of
    2026-11-01 (a window of 336 days) is that of 2026-10-31 (365 days) within 0.5%."""
    c = duckdb.connect(":memory:")
    migrate(c)
    start = date(2025, 9, 1)
    add_customer(c, "S1")
    add_version(c, "S1A", "S1", "DDA", "50000.00", "0.20", start)
    add_version(
        c, "S1L", "S1", "PLN", "30000.00", "4.35", start, opened=start, maturity=date(2028, 9, 1)
    )
    day = start
    while day <= NOV:
        add_txn(c, "S1", "S1A", "NET", "TRO", "100.00", day)
        day += timedelta(days=1)
    mark_loaded(c, start, NOV)
    totals = []
    for d in (date(2026, 10, 31), NOV):
        run(c, cfg, "features", "contribution", day=d)
        totals.append(contribution_of(c, "S1", d)["contribution_amount"])
    assert totals[1] != 0
    assert abs(totals[1] - totals[0]) / abs(totals[0]) < Decimal("0.005")


def test_reconciliation_against_the_source_passes_and_catches_wrong_rules(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    run(con, cfg, "features", "contribution")
    ok = con.execute(
        "select bool_and(is_ok), count(*) filter (where branch_id = '*') "
        "from chk_contribution_reconciliation"
    )
    assert ok.fetchone() == (True, 11)
    # the fee revenue found in the extracts: 2.00 fee + 2.00 FEE + 100.00 FEE
    fee = con.execute(
        "select source_amount from chk_contribution_reconciliation "
        "where branch_id = '*' and component = 'fee'"
    ).fetchone()
    assert fee == (Decimal("104.00"),)

    # a wrong rule upstream: interest accrued on days in default
    con.execute(
        "update agg_account_balance_month set accrual_rate_balance_days = rate_balance_days"
    )
    with pytest.raises(StageFailed, match="component loan_nii"):
        run(con, cfg, "contribution")
    # another: FEE charges not counted as revenue
    run(con, cfg, "features", "contribution")
    con.execute("update agg_customer_txn_month set amount = 0 where txn_code = 'FEE'")
    with pytest.raises(StageFailed, match="component fee"):
        run(con, cfg, "contribution")


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
    assert contribution_of(con, "C1")["service_cost_amount"] == Decimal("27.70")  # + 15.00


def test_backfill_sees_only_what_that_night_saw(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    # 2026-12-01: the rolling year 2025-12-02 .. 2026-12-01 (the window 2026-01-01 .. 12-01,
    # 335 days, and 30 of December 2025's 31 days); C2's costs to serve in it: the NET LRP
    # (0.30) and the counter transfer delivered that day (12.00)
    run(con, cfg, "features", "contribution", day=date(2026, 12, 1))
    row = contribution_of(con, "C2", date(2026, 12, 1))
    assert (row["window_start"], row["history_days"]) == (date(2025, 12, 2), 365)
    assert row["service_cost_amount"] == Decimal("12.30")
    run(con, cfg, "features", "contribution", day=D)
    assert contribution_of(con, "C2")["contribution_amount"] == Decimal("300.802466")


def test_rolling_year_takes_the_oldest_month_pro_rata(cfg: Config) -> None:
    """History since 2025-09-01: on 2026-11-01 the year is 2025-11-02 .. 2026-11-01, the
    window (2025-12-01 .. 2026-11-01, 336 days) and 29 of November 2025's 30 days. A counter
    transfer (12.00) on 2025-11-10 counts 29/30 of it: 11.60; one on 2025-10-20 (outside)
    nothing; one on 2026-06-15 in full: 23.60 a year."""
    c = duckdb.connect(":memory:")
    migrate(c)
    add_customer(c, "R1")
    add_version(c, "R1A", "R1", "DDA", "0.00", "0.20", date(2025, 9, 1))
    for day in (date(2025, 10, 20), date(2025, 11, 10), date(2026, 6, 15)):
        add_txn(c, "R1", "R1A", "CTR", "TRO", "10.00", day)
    mark_loaded(c, date(2025, 9, 1), NOV)
    run(c, cfg, "features", "contribution", day=NOV)
    row = contribution_of(c, "R1", NOV)
    assert (row["window_start"], row["history_days"]) == (date(2025, 11, 2), 365)
    assert row["service_cost_amount"] == Decimal("23.60")


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
