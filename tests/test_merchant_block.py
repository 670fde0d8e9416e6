"""The merchants stage's stored block of closed months (``agg_merchant_block_pairs``) gives
what a night without it gives: the same six tables as a warehouse where every window
transaction is read raw (``block_months`` returning None, the path the hand-worked cases of
tests/test_merchants.py check, with their 28-day windows that hold no closed month).

A small generated zone: seeded random trade of a few merchants over March to mid-June 2026
(repeat payers across months, one merchant with many payers who seldom pay again, suppliers,
bill payments, counter deposits, a counterparty under two names, late postings), a 92-day
window: the block is March-April on 31 May, April-May from 1 June.
"""

from __future__ import annotations

import random
from datetime import date

import duckdb
import pytest

from pipeline.config import Config
from pipeline.stages import merchants
from pipeline.warehouse import migrate
from tests.conftest import run_stage_for
from tests.merchant_cases import BANK, Rows, days
from tests.test_merchants import base_rows, make_config

OUTPUTS = (
    "int_merchant_signals",
    "int_merchant_scorecard",
    "int_merchants",
    "int_merchant_counterparties",
    "int_merchant_prospects",
    "int_market_clusters",
)


def zone(seed: int = 7) -> Rows:
    rng = random.Random(seed)
    r = base_rows()
    for m in range(6):
        cid = f"M{m}"
        r.customer(cid, occupation="SE", home_branch="BM" if m % 2 else "B1")
        for d in days(date(2026, 3, 1), date(2026, 6, 12)):
            if d.isoweekday() > 5:
                continue
            for _ in range(rng.randint(2, 6)):
                p = f"P{m}-{rng.randint(0, 40 if m < 5 else 400)}"
                name = f"买家{p}" if rng.random() > 0.05 else f"买家{p}店"
                cents = rng.randint(50_000, 3_000_000)
                r.txn(cid, d, "TRI", "C", f"{cents / 100:.2f}", cp_account=p, cp_name=name)
            if rng.random() < 0.3:
                s = f"S{rng.randint(0, 4)}"
                amount = rng.choice(["10000.00", "5500.00", f"{rng.randint(1000, 90000)}.00"])
                r.txn(cid, d, "TRO", "D", amount, cp_account=s, cp_name=f"供应商{s}")
                r.txns[-1]["counterparty_customer_id"] = "M1" if s == "S0" else None
                r.txns[-1]["counterparty_bank"] = BANK if s == "S0" else "105"
            if rng.random() < 0.2:
                r.txn(cid, d, "PAY", "D", "800.00", cp_account=f"U{m}", cp_name="电费")
            if d.isoweekday() == 1:
                r.txn(cid, d, "DEP", "C", "5000.00", channel="CTR", branch="BM")
    # M5's five largest payers paid once, in April: the block's first five, untouched since.
    for k, amount in enumerate(["150000.00", "140000.00", "130000.00", "120000.00", "110000.00"]):
        r.txn("M5", date(2026, 4, 15), "TRI", "C", amount, cp_account=f"BIG{k}", cp_name="大户")
    # Late postings: dated in a closed month, delivered in the next.
    late = [
        ("M2", date(2026, 4, 29), date(2026, 5, 4)),
        ("M3", date(2026, 5, 28), date(2026, 6, 3)),
        ("M4", date(2026, 5, 30), date(2026, 6, 8)),
    ]
    for cid, dated, delivered in late:
        r.txn(cid, dated, "TRI", "C", "77777.77", cp_account=f"P{cid[1]}-3", cp_name="买家")
        r.txns[-1]["business_date"] = delivered
    return r


def config(**merchants_settings: object) -> Config:
    settings = {"window_days": 92, "max_buyers": 5, "max_suppliers": 2, **merchants_settings}
    return make_config(**settings)


def loaded(rows: Rows) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    rows.load(con)
    return con


def night(con: duckdb.DuckDBPyConnection, cfg: Config, day: date) -> dict[str, object]:
    return run_stage_for(con, cfg, merchants.STAGE, day).facts


NEW_ACCOUNT = (
    "insert into hist_accounts by name select 'P1-7' as account_id, 'M1' as customer_id, "
    "'DDA' as product_code, 0 as balance, 'A' as status, 0 as row_hash, "
    "date '2026-06-10' as valid_from, date '9999-12-31' as valid_to"
)


def assert_as_from_raw(
    con: duckdb.DuckDBPyConnection,
    rows: Rows,
    cfg: Config,
    day: date,
    mp: pytest.MonkeyPatch,
    *more_sql: str,
) -> None:
    """The night's six tables equal those of a fresh warehouse (``rows`` and ``more_sql``)
    that reads every row raw."""
    with mp.context() as m:
        m.setattr(merchants, "block_months", lambda *_: None)
        raw = loaded(rows)
        for sql in more_sql:
            raw.execute(sql)
        night(raw, cfg, day)
    for table in OUTPUTS:
        query = f"select * from {table} where business_date = ?"
        left, right = con.execute(query, [day]).pl(), raw.execute(query, [day]).pl()
        assert left.height > 0 or table == "int_market_clusters", table
        assert left.sort(left.columns).equals(right.sort(right.columns)), (table, day)


def test_block_nights_equal_raw_nights_as_months_close(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, cfg = zone(), config()
    con = loaded(rows)
    assert night(con, cfg, date(2026, 5, 31))["merchant_block_built"]  # March-April
    assert_as_from_raw(con, rows, cfg, date(2026, 5, 31), monkeypatch)
    assert night(con, cfg, date(2026, 6, 1))["merchant_block_built"]  # May closed: April-May
    facts = night(con, cfg, date(2026, 6, 10))
    assert not facts["merchant_block_built"]
    assert facts["merchant_block_covered"] == facts["merchant_screened"] == 6
    assert_as_from_raw(con, rows, cfg, date(2026, 6, 10), monkeypatch)


def test_a_late_delivery_into_a_closed_month_rebuilds_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, cfg = zone(), config()
    con = loaded(rows)
    night(con, cfg, date(2026, 6, 9))
    # The delivery of 20 May is re-sent with two more inflows, one from the top payer.
    more = Rows()
    top = con.execute(
        "select counterparty_key from int_merchant_counterparties where customer_id = 'M0' "
        "and role = 'buyer' and counterparty_rank = 1 and business_date = date '2026-06-09'"
    ).fetchone()
    assert top is not None
    more.txn("M0", date(2026, 5, 20), "TRI", "C", "123456.78", cp_account=top[0], cp_name="买家")
    more.txn("M5", date(2026, 5, 20), "TRI", "C", "2000.00", cp_account="NEW", cp_name="新买家")
    more.load(con)
    rows.txns.extend(more.txns)
    con.execute(
        "insert into file_ledger (file_name, feed, channel, business_date, outcome, received_at) "
        "select 'TXN_NET_20260520.csv', 'TXN', 'NET', date '2026-05-20', 'replaced', "
        "max(refreshed_at) + interval 1 second from agg_refresh_log"
    )
    assert night(con, cfg, date(2026, 6, 10))["merchant_block_built"]
    assert_as_from_raw(con, rows, cfg, date(2026, 6, 10), monkeypatch)


def test_a_config_change_or_a_new_own_account_gives_a_raw_nights_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, cfg = zone(), config()
    con = loaded(rows)
    night(con, cfg, date(2026, 6, 9))
    # Other settings: more buyers kept, a longer window (another block: February-May).
    other = config(max_buyers=12, max_suppliers=1, window_days=130, small_payment_max_amount=900)
    assert night(con, other, date(2026, 6, 10))["merchant_block_built"]
    assert_as_from_raw(con, rows, other, date(2026, 6, 10), monkeypatch)
    assert night(con, cfg, date(2026, 6, 10))["merchant_block_built"]  # back: rebuilt
    # M1 opens an account on 10 June that it paid from before (P1-7): those payments become
    # own-account transfers, so the block no longer stands for M1.
    con.execute(NEW_ACCOUNT)
    facts = night(con, cfg, date(2026, 6, 11))
    assert not facts["merchant_block_built"]
    assert facts["merchant_block_covered"] == 5
    assert_as_from_raw(con, rows, cfg, date(2026, 6, 11), monkeypatch, NEW_ACCOUNT)
    own = con.execute(
        "select count(*) from int_merchant_counterparties where customer_id = 'M1' "
        "and counterparty_key = 'P1-7' and business_date = date '2026-06-11'"
    ).fetchone()
    assert own == (0,)
