"""The merchants stage's monthly screen (``agg_merchant_inflow_month``) kept incrementally,
and the counterparty details computed for the kept counterparties only.

Same hand-made window as ``tests/test_merchants.py``: 28 days, 2026-06-15 to 2026-07-12, so
June is a closed month of the window and July the month to date. A customer's window inflow
is annualised over 28 days (365 / 28); with ``candidate_min_amount`` 100,000 a customer needs
at least 7,671.23 of inflow in the window to be a candidate.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipeline.config import Config
from pipeline.stages.merchants import INFLOW_AGGREGATE, STAGE
from pipeline.warehouse import migrate
from tests.conftest import run_stage_for
from tests.merchant_cases import Rows
from tests.test_merchants import END, add_market_merchant, base_rows, make_config, one

TABLES = ("int_merchant_signals", "int_merchant_counterparties", "int_merchants")


def run_night(con: duckdb.DuckDBPyConnection, cfg: Config, day: date) -> dict[str, object]:
    return run_stage_for(con, cfg, STAGE, day).facts


def loaded(rows: Rows) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    rows.load(con)
    return con


def same_rows(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection, table: str) -> bool:
    query = f"select * from {table} where business_date = ?"
    left, right = a.execute(query, [END]).pl(), b.execute(query, [END]).pl()
    return left.sort(left.columns).equals(right.sort(right.columns))


def test_closed_month_is_computed_once_and_nights_match_a_full_rebuild() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    # A late posting: dated 30 June, delivered on 3 July (counts in July's deliveries).
    r.txn("M1", date(2026, 6, 30), "TRI", "C", "3000.00", cp_account="P9", cp_name="买家P9")
    r.txns[-1]["business_date"] = date(2026, 7, 3)
    cfg = make_config()
    night = loaded(r)
    first = run_night(night, cfg, date(2026, 7, 11))
    second = run_night(night, cfg, END)
    assert first["merchant_inflow_months_refreshed"] == 1  # June, computed the first night
    assert second["merchant_inflow_months_refreshed"] == 0  # ... and reused the next
    june = one(
        night,
        f"select credit_amount, credit_count from {INFLOW_AGGREGATE} "
        "where customer_id = 'M1' and month_start = date '2026-06-01'",
    )
    # June's deliveries, 15-30 June: 12 weekdays × 3 × 1,000 + 3 Monday deposits × 5,000
    assert june == {"credit_amount": 51000, "credit_count": 39}
    rebuilt = loaded(r)
    run_night(rebuilt, cfg, END)
    for table in TABLES:
        assert same_rows(night, rebuilt, table), table
    s = one(night, "select inflow_amount from int_merchant_signals where business_date = ?", [END])
    assert s["inflow_amount"] == 83000  # 60 × 1,000 + 4 × 5,000 + the late 3,000


def test_a_resent_delivery_recomputes_its_closed_month() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")  # pins the window's first transaction to 15 June
    r.customer("R1")
    r.txn("R1", date(2026, 6, 20), "TRI", "C", "5000.00", cp_account="P1")  # 65,178.57 a year
    cfg = make_config(candidate_min_amount=100_000)
    con = loaded(r)
    run_night(con, cfg, END)
    candidates = "select customer_id from int_merchant_signals order by 1"
    assert con.execute(candidates).fetchall() == [("M1",)]
    # The delivery of 20 June is re-sent with one more inflow of 5,000: 10,000 in the window,
    # 130,357.14 a year. Until the ledger records the re-sent file, June stays as computed.
    more = Rows()
    more.txn("R1", date(2026, 6, 20), "TRI", "C", "5000.00", cp_account="P2")
    more.load(con)
    run_night(con, cfg, END)
    assert con.execute(candidates).fetchall() == [("M1",)]
    con.execute(
        "insert into file_ledger (file_name, feed, channel, business_date, outcome, received_at) "
        "select 'TXN_NET_20260620.csv', 'TXN', 'NET', date '2026-06-20', 'replaced', "
        "max(refreshed_at) + interval 1 second from agg_refresh_log"
    )
    facts = run_night(con, cfg, END)
    assert facts["merchant_inflow_months_refreshed"] == 1
    assert con.execute(candidates).fetchall() == [("M1",), ("R1",)]
    s = one(con, "select inflow_amount from int_merchant_signals where customer_id = 'R1'")
    assert s["inflow_amount"] == 10000


def test_counterparty_seen_under_two_names_and_banks_takes_the_most_frequent() -> None:
    r = base_rows()
    add_market_merchant(r, "M1")
    # S1 is paid 4 times as 甲批发部 at bank 105 (the builder's Tuesdays) and once more under
    # another name at another bank: the chain shows the most frequent of each.
    r.txn("M1", date(2026, 7, 10), "TRO", "D", "1000.00", cp_account="S1", cp_name="甲商店")
    r.txns[-1]["counterparty_bank"] = "999"
    con = loaded(r)
    run_night(con, make_config(), END)
    cp = one(
        con,
        "select counterparty_name, counterparty_bank, txn_count, active_months, amount "
        "from int_merchant_counterparties where customer_id = 'M1' and counterparty_key = 'S1'",
    )
    assert cp == {
        "counterparty_name": "甲批发部",
        "counterparty_bank": "105",
        "txn_count": 5,
        "active_months": 2,  # June and July
        "amount": 41000,
    }
