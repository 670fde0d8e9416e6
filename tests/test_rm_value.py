"""RM value created at constant rates: hand-worked cases on a warehouse with 15 months of
demand deposits, priced by the real features and contribution stages.

Every account is a demand deposit (DDA) at 0.20% with the flat FTP of the test config (the
curve switched off), so one CNY held one day contributes, before upkeep,
    (FTP − 0.20) / 36500 − 6.2 × (FTP − 1.62) / 3650000      (margin − reserve cost)
and upkeep is 12 CNY an account-year (12 / 365 a day open). The business date is 2026-11-27:
E is October 2026 (year 2025-11..2026-10), S September 2026 (year 2025-10..2026-09), both 365
days, and the warehouse holds them whole (history from 2025-09-01), so nothing is scaled.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pytest

from pipeline.config import Config
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.sqlfiles import run_sql
from pipeline.stages.rm_value import prepare_rm_value
from pipeline.stages.tiers import ensure_tables
from pipeline.warehouse import migrate
from tests.test_contribution import FAR, add_version, mark_loaded, run

DAY = date(2026, 11, 27)
HISTORY = date(2025, 9, 1)
CENT = Decimal("0.01")


def per_cny_day(ftp: str) -> Decimal:
    f = Decimal(ftp)
    return (f - Decimal("0.20")) / 36500 - Decimal("6.2") * (f - Decimal("1.62")) / 3650000


def flat_ftp(cfg: Config, dda: str) -> Config:
    eco = cfg.economics.model_copy(
        update={
            "ftp_curve": None,
            "ftp_rate_percent": {**cfg.economics.ftp_rate_percent, "DDA": Decimal(dda)},
        }
    )
    return cfg.model_copy(update={"economics": eco})


def add_customer(
    con: duckdb.DuckDBPyConnection,
    cid: str,
    rm: str,
    valid_from: date = date(2025, 1, 1),
    valid_to: date = FAR,
    status: str = "A",
) -> None:
    con.execute(
        "insert into hist_customers (customer_id, home_branch_id, rm_id, status, "
        "marketing_consent, row_hash, valid_from, valid_to) "
        "values (?, 'B001', ?, ?, 'Y', 0, ?, ?)",
        [cid, rm, status, valid_from, valid_to],
    )


def build_books(con: duckdb.DuckDBPyConnection) -> None:
    """RM1: K1 holds 100,000 throughout; K2 50,000, raised to 200,000 on 2026-10-01.
    RM2: K3 holds 300,000 throughout; K4 80,000 and leaves on 2026-10-15 (customer closed,
    account closed); K5 is new on 2026-10-10 with 20,000."""
    migrate(con)
    start = HISTORY
    add_customer(con, "K1", "RM1")
    add_version(con, "K1A", "K1", "DDA", "100000.00", "0.20", start)
    add_customer(con, "K2", "RM1")
    add_version(con, "K2A", "K2", "DDA", "50000.00", "0.20", start, date(2026, 10, 1))
    add_version(con, "K2A", "K2", "DDA", "200000.00", "0.20", date(2026, 10, 1))
    add_customer(con, "K3", "RM2")
    add_version(con, "K3A", "K3", "DDA", "300000.00", "0.20", start)
    add_customer(con, "K4", "RM2", valid_to=date(2026, 10, 15))
    add_customer(con, "K4", "RM2", date(2026, 10, 15), status="C")
    add_version(con, "K4A", "K4", "DDA", "80000.00", "0.20", start, date(2026, 10, 15))
    add_version(con, "K4A", "K4", "DDA", "0.00", "0.20", date(2026, 10, 15), status="C")
    add_customer(con, "K5", "RM2", date(2026, 10, 10))
    add_version(con, "K5A", "K5", "DDA", "20000.00", "0.20", date(2026, 10, 10))
    mark_loaded(con, start, DAY)


def night(con: duckdb.DuckDBPyConnection, cfg: Config) -> dict[str, dict[str, Decimal]]:
    """The pricing stages, then value created and the scorecard as the tiers stage runs them;
    returns the scorecard per manager."""
    run(con, cfg, "features", "contribution", day=DAY)
    ensure_tables(DuckDBEngine(con))
    rm_params, _ = prepare_rm_value(con, DuckDBEngine(con), cfg, DAY)
    run_sql(con, "lists/int_rm_value_created", {"business_date": DAY, **rm_params})
    run_sql(
        con,
        "lists/int_rm_scorecard",
        {"business_date": DAY, "compare_date": date(2026, 10, 27), "tier_names": ["mass"]},
    )
    cur = con.execute("select * from int_rm_scorecard where business_date = ?", [DAY])
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    build_books(c)
    yield c
    c.close()


def test_volume_new_and_a_leavers_full_year(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    cards = night(con, flat_ftp(cfg, "1.80"))
    unit = per_cny_day("1.80")
    # K1 the same both years: 0. K2 +150,000 for October's 31 days (upkeep the same).
    assert cards["RM1"]["value_volume_amount"] == cents(150_000 * 31 * unit)
    assert cards["RM1"]["value_new_amount"] == 0 and cards["RM1"]["value_lost_amount"] == 0
    # K5: 22 days of October with 20,000, and upkeep for those days
    k5 = cents(20_000 * 22 * unit - Decimal(12) * 22 / 365)
    assert cards["RM2"]["value_new_amount"] == k5
    # K4 leaves: RM2 loses K4's whole start year (80,000 a year less 12 upkeep), not just the
    # half month of October it was still there
    k4 = cents(80_000 * 365 * unit - 12)
    assert cards["RM2"]["value_lost_amount"] == -k4
    assert cards["RM2"]["value_volume_amount"] == 0  # K3 unchanged
    assert cards["RM2"]["value_created_amount"] == k5 - k4
    assert (cards["RM2"]["new_customers"], cards["RM2"]["lost_customers"]) == (1, 1)
    assert cards["RM1"]["value_created_rank"] == 1 and cards["RM2"]["value_created_rank"] == 2
    # nothing restated on the first night: the months are published as computed
    assert cards["RM1"]["rate_effect_amount"] == 0 and cards["RM2"]["rate_effect_amount"] == 0
    lost = con.execute(
        "select rm_id, part, start_contribution_amount from int_rm_value_created "
        "where customer_id = 'K4'"
    ).fetchall()
    assert lost == [("RM2", "lost", k4)]


def test_an_ftp_change_moves_the_rate_effect_not_the_ranks(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    """Night one publishes the months at DDA FTP 1.80; a what-if at 2.00 restates them. The
    start books' whole year is repriced into the rate effect: 0.20% on their balance-days,
    less the reserve cost's 6.2% share; value created moves only by the repricing of what
    changed (K2's October growth, K4's and K5's years), and the ranks stay."""
    before = night(con, flat_ftp(cfg, "1.80"))
    after = night(con, flat_ftp(cfg, "2.00"))
    step = per_cny_day("2.00") - per_cny_day("1.80")  # 0.2 × 0.938 / 36500 a CNY-day
    # start books (K1 K2; K3 K4) over the 365 days of the start year
    assert after["RM1"]["rate_effect_amount"] == cents(150_000 * 365 * step)
    assert after["RM2"]["rate_effect_amount"] == cents(380_000 * 365 * step)
    assert after["RM1"]["value_created_amount"] - before["RM1"]["value_created_amount"] == cents(
        150_000 * 31 * per_cny_day("2.00")
    ) - cents(150_000 * 31 * per_cny_day("1.80"))
    assert [after[r]["value_created_rank"] for r in ("RM1", "RM2")] == [1, 2]


def test_back_to_the_published_config_nothing_is_restated(
    con: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    before = night(con, flat_ftp(cfg, "1.80"))
    night(con, flat_ftp(cfg, "2.00"))
    again = night(con, flat_ftp(cfg, "1.80"))
    assert again["RM1"]["rate_effect_amount"] == 0
    assert again["RM1"]["value_created_amount"] == before["RM1"]["value_created_amount"]


def test_unknown_when_the_history_does_not_cover_the_start_month(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    migrate(con)
    add_customer(con, "K1", "RM1")
    add_version(con, "K1A", "K1", "DDA", "100000.00", "0.20", date(2026, 9, 15))
    mark_loaded(con, date(2026, 9, 15), DAY)
    cards = night(con, flat_ftp(cfg, "1.80"))
    assert cards == {} or all(c["value_created_amount"] is None for c in cards.values())
    assert con.execute("select count(*) from int_rm_value_created").fetchone() == (0,)
