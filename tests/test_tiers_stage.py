"""The tiers stage on a real DuckDB warehouse with hand-made upstream tables.

``build_upstream`` writes the few columns the stage reads from each upstream table for a list of
customers; the export tests reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.config import Config, load_config
from pipeline.dates import shift_months
from pipeline.errors import CheckFailed
from pipeline.stages.base import StageContext
from pipeline.stages.features import aggregate_config_hash
from pipeline.stages.tiers import STAGE
from pipeline.warehouse import connect
from tests.conftest import REPO, run_stage_for

DAY = date(2026, 11, 27)
HISTORY_DAYS = 200
"""history_days of the hand-made contribution rows (a warehouse holding part of the window)."""


@dataclass
class Cust:
    customer_id: str
    contribution: float = 0.0
    capital_charge: float = 0.0
    aum: float = 0.0
    clv: float = 0.0
    p_alive: float = 0.9
    life_stage: str = "mature"
    age: int | None = 45
    occupation: str = "EMP"
    education: str = "SEC"
    trend: float | None = 1.0
    consent: str = "Y"
    status: str = "A"
    branch: str = "B001"
    rm: str | None = "RM1"
    merchant_turnover: float | None = None
    declared: bool = False
    golden: bool = False
    counter_txns: int = 0
    products: list[str] = field(default_factory=lambda: ["DDA"])
    mobile: str = "13812341234"
    id_number: str = "11010119800101001X"
    pos_amount: float = 0.0
    recent_aum: float | None = None
    """Month-to-date average daily balance of assets; None: the same as ``aum``."""
    days_past_due: int | None = None
    """A personal loan (PLN) this many days past due; None: no loan."""
    loan_status: str = "A"
    counter_fee: float = 0.0
    """Fees paid on the counter transactions (all TRO)."""
    merchant_score: float | None = None
    """Merchant scorecard score of a customer not detected as a merchant."""


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], ddl: str) -> None:
    con.execute(f"create table if not exists {table} ({ddl})")
    if rows:
        cols = list(rows[0])
        con.executemany(
            f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
            [[r[c] for c in cols] for r in rows],
        )


def build_upstream(con: duckdb.DuckDBPyConnection, day: date, customers: list[Cust]) -> None:
    """Write the date's rows of every table the tiers stage reads, and the customers' versions."""
    _load(
        con,
        "int_customer_features",
        [
            {
                "customer_id": c.customer_id,
                "business_date": day,
                "home_branch_id": c.branch,
                "rm_id": c.rm or "",
                "education": c.education,
                "occupation": c.occupation,
                "marketing_consent": c.consent,
                "status": c.status,
                "age_years": c.age,
                "tenure_months": 24,
                "aum_amount": Decimal(str(c.aum)),
                "adb_dda_amount": Decimal("100"),
                "amount_trend_ratio": c.trend,
                "ctr_txn_count": c.counter_txns,
                "gender": "M",
                "industry": "F",
                "atm_txn_count": 1,
                "tel_txn_count": 0,
                "net_txn_count": 2,
                "pos_txn_count": 1,
                "pos_amount": Decimal(str(c.pos_amount)),
                "pay_txn_count": 0,
                "tri_amount": Decimal("10"),
                "inflow_amount": Decimal("10"),
                "has_regular_inflow": False,
                "top_mcc_category": "FOOD",
                "count_trend_ratio": 1.0,
                "active_months": 12,
            }
            for c in customers
        ],
        """customer_id varchar, business_date date, home_branch_id varchar, rm_id varchar,
          education varchar, occupation varchar, marketing_consent varchar, status varchar,
          age_years integer, tenure_months integer, aum_amount decimal(18,2),
          adb_dda_amount decimal(18,2), amount_trend_ratio double, ctr_txn_count bigint,
          gender varchar, industry varchar, atm_txn_count bigint, tel_txn_count bigint,
          net_txn_count bigint, pos_txn_count bigint, pos_amount decimal(18,2),
          pay_txn_count bigint, tri_amount decimal(18,2), inflow_amount decimal(18,2),
          has_regular_inflow boolean, top_mcc_category varchar, count_trend_ratio double,
          active_months integer""",
    )
    _load(
        con,
        "int_customer_contribution",
        [
            {
                "customer_id": c.customer_id,
                "business_date": day,
                "contribution_amount": Decimal(str(c.contribution)),
                "capital_charge_amount": Decimal(str(c.capital_charge)),
                "economic_profit_amount": Decimal(str(c.contribution))
                - Decimal(str(c.capital_charge)),
                "service_cost_amount": Decimal("1") + 12 * c.counter_txns,
                "counter_cost_amount": Decimal(12 * c.counter_txns),
                "history_days": HISTORY_DAYS,
                "home_branch_id": c.branch,
            }
            for c in customers
        ],
        "customer_id varchar, business_date date, contribution_amount decimal(38,6), "
        "capital_charge_amount decimal(38,6), economic_profit_amount decimal(38,6), "
        "service_cost_amount decimal(38,6), counter_cost_amount decimal(38,6), "
        "history_days integer, home_branch_id varchar",
    )
    _load(
        con,
        "int_customer_clv",
        [
            {
                "customer_id": c.customer_id,
                "business_date": day,
                "clv_amount": Decimal(str(c.clv)),
                "p_alive": c.p_alive,
                "life_stage": c.life_stage,
                "monthly_contribution_amount": None,
                "monthly_trend_amount": None,
            }
            for c in customers
        ],
        "customer_id varchar, business_date date, clv_amount decimal(18,2), p_alive double, "
        "life_stage varchar, monthly_contribution_amount decimal(18,2), "
        "monthly_trend_amount decimal(18,2)",
    )
    _load(
        con,
        "int_merchants",
        [
            {
                "customer_id": c.customer_id,
                "business_date": day,
                "merchant_score": 80.0,
                "turnover_amount": Decimal(str(c.merchant_turnover)),
                "is_declared": c.declared,
                "reasons": "MANY_PAYERS",
                "market_cluster_id": "K1",
                "home_branch_id": c.branch,
            }
            for c in customers
            if c.merchant_turnover is not None
        ],
        "customer_id varchar, business_date date, merchant_score double, "
        "turnover_amount decimal(18,2), is_declared boolean, reasons varchar, "
        "market_cluster_id varchar, home_branch_id varchar",
    )
    _load(
        con,
        "int_merchant_counterparties",
        [],
        "customer_id varchar, business_date date, "
        "counterparty_key varchar, role varchar, counterparty_rank integer, "
        "counterparty_name varchar, amount decimal(18,2), is_our_customer boolean, "
        "counterparty_customer_id varchar, is_counterparty_merchant boolean",
    )
    _load(
        con,
        "int_customer_value_score",
        [
            {"customer_id": c.customer_id, "business_date": day, "value_score": 50.0}
            for c in customers
        ],
        "customer_id varchar, business_date date, value_score double",
    )
    _load(
        con,
        "int_golden_customers",
        [
            {"customer_id": c.customer_id, "business_date": day, "is_golden": c.golden}
            for c in customers
        ],
        "customer_id varchar, business_date date, is_golden boolean",
    )
    _load(
        con,
        "agg_customer_txn_month",
        [
            {
                "customer_id": c.customer_id,
                "month_start": day.replace(day=1),
                "as_of_date": day,
                "channel": "CTR",
                "txn_code": "TRO",
                "direction": "D",
                "txn_count": c.counter_txns,
                "amount": Decimal(100),
                "fee_amount": Decimal(str(c.counter_fee)),
            }
            for c in customers
            if c.counter_txns
        ]
        + [
            # inflow over the twelve closed months before the date: 3,000 a month, then the
            # trend times that in the last six (the smoothed INFLOW_GROWTH signal)
            {
                "customer_id": c.customer_id,
                "month_start": shift_months(day.replace(day=1), -k),
                "as_of_date": shift_months(day.replace(day=1), -k + 1) - timedelta(days=1),
                "channel": "NET",
                "txn_code": "TRI",
                "direction": "C",
                "txn_count": 1,
                "amount": Decimal(3000) * Decimal(str(c.trend if k <= 6 else 1)),
                "fee_amount": Decimal(0),
            }
            for c in customers
            if c.trend is not None and c.trend != 1.0
            for k in range(1, 13)
        ],
        "customer_id varchar, month_start date, as_of_date date, channel varchar, "
        "txn_code varchar, direction varchar, txn_count bigint, amount decimal(18,2), "
        "fee_amount decimal(18,2)",
    )
    _load(
        con,
        "agg_account_balance_month",
        [
            {
                "account_id": f"{c.customer_id}-DDA",
                "customer_id": c.customer_id,
                "product_code": "DDA",
                "month_start": day.replace(day=1),
                "as_of_date": day,
                "balance_days": Decimal(str(c.aum if c.recent_aum is None else c.recent_aum))
                * day.day,
            }
            for c in customers
        ],
        "account_id varchar, customer_id varchar, product_code varchar, month_start date, "
        "as_of_date date, balance_days decimal(18,2)",
    )
    _load(
        con,
        "int_merchant_scorecard",
        [
            {
                "customer_id": c.customer_id,
                "business_date": day,
                "merchant_score": 80.0 if c.merchant_turnover is not None else c.merchant_score,
                "is_merchant": c.merchant_turnover is not None,
            }
            for c in customers
            if c.merchant_turnover is not None or c.merchant_score is not None
        ],
        "customer_id varchar, business_date date, merchant_score double, is_merchant boolean",
    )
    con.execute("delete from hist_customers where valid_from = ?", [day])
    con.execute("delete from hist_accounts where valid_from = ?", [day])
    con.execute("update hist_customers set valid_to = ? where valid_to > ?", [day, day])
    con.execute("update hist_accounts set valid_to = ? where valid_to > ?", [day, day])
    for c in customers:
        con.execute(
            "insert into hist_customers (customer_id, name, birth_date, id_number, mobile, "
            "occupation, home_branch_id, rm_id, marketing_consent, status, row_hash, valid_from, "
            "valid_to) values (?, '张弢', date '1980-01-01', ?, ?, ?, ?, ?, ?, ?, 1, ?, "
            "date '9999-12-31')",
            [
                c.customer_id,
                c.id_number,
                c.mobile,
                c.occupation,
                c.branch,
                c.rm,
                c.consent,
                c.status,
                day,
            ],
        )
        for p in c.products:
            con.execute(
                "insert into hist_accounts (account_id, customer_id, product_code, balance, "
                "status, row_hash, valid_from, valid_to) values (?, ?, ?, 100, 'A', 1, ?, "
                "date '9999-12-31')",
                [f"{c.customer_id}-{p}", c.customer_id, p, day],
            )
        if c.days_past_due is not None:
            con.execute(
                "insert into hist_accounts (account_id, customer_id, product_code, balance, "
                "status, days_past_due, row_hash, valid_from, valid_to) "
                "values (?, ?, 'PLN', 5000, ?, ?, 1, ?, date '9999-12-31')",
                [f"{c.customer_id}-PLN", c.customer_id, c.loan_status, c.days_past_due, day],
            )
    hold_month_to_date(con, day)


DEFAULTS = load_config(
    REPO / "configs" / "default.yaml",
    {"landing_dir": Path("landing"), "warehouse": Path("cvp.duckdb"), "export_dir": Path("x")},
)
"""The default config: the month to date below is as it computes it (its economics and
features sections; the tests change only other sections)."""


def hold_month_to_date(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Move the month-to-date rows of the monthly aggregates into this connection's temp
    tables, as the features stage of the same run leaves them (never stored)."""
    _load(
        con,
        "agg_card_cycle_month",
        [],
        "account_id varchar, month_start date, as_of_date date, is_revolving boolean",
    )
    con.execute(
        "create temp table if not exists agg_current_log (table_name varchar, "
        "month_start date, as_of_date date, refreshed_at timestamp, config_hash varchar)"
    )
    for table in ("agg_account_balance_month", "agg_customer_txn_month", "agg_card_cycle_month"):
        con.execute(
            f"create or replace temp table {table}_current as from {table} "
            "where month_start = $m and as_of_date = $d",
            {"m": day.replace(day=1), "d": day},
        )
        con.execute(f"delete from {table} where as_of_date = ?", [day])
        con.execute("delete from agg_current_log where table_name = ?", [table])
        con.execute(
            "insert into agg_current_log values (?, ?, ?, now(), ?)",
            [table, day.replace(day=1), day, aggregate_config_hash(DEFAULTS, table)],
        )


def run_tiers(cfg: Config, con: duckdb.DuckDBPyConnection, day: date) -> StageContext:
    return run_stage_for(con, cfg, STAGE, day)


def small_config(cfg: Config) -> Config:
    """Cross-sell settings for a handful of customers (few holders needed, few iterations)."""
    lists = cfg.lists.model_copy(
        update={
            "cross_sell": cfg.lists.cross_sell.model_copy(
                update={"min_takers": 2, "max_iter": 10, "products": ["TDA", "WMP"]}
            )
        }
    )
    return cfg.model_copy(update={"lists": lists})


def population() -> list[Cust]:
    wmp = ["DDA", "WMP"]
    return [
        Cust(
            "C01",
            contribution=70_000.004,
            capital_charge=2_500.126,
            aum=7_000_000,
            products=["DDA", "TDA", "WMP"],
        ),
        Cust("C02", contribution=1_200, products=wmp, pos_amount=900),
        Cust("C03", contribution=10, counter_txns=6),  # migration candidate
        Cust("C04", contribution=10, counter_txns=6, age=70),  # elderly: protected
        Cust("C05", contribution=10, counter_txns=6, age=21, occupation="STU"),  # potential
        Cust("C06", contribution=10, counter_txns=6, trend=2.0),  # growing: protected
        Cust(  # merchant: platinum
            "C07", contribution=50, capital_charge=180.5, merchant_turnover=4_000_000, rm="RM2"
        ),
        Cust("C08", contribution=10, consent="N", counter_txns=6),  # no consent
        Cust("C09", contribution=10, capital_charge=99, status="C"),  # closed: no tier
        Cust("C10", contribution=6_000, golden=True, branch="B002", products=["DDA", "TDA"]),
        Cust("C11", contribution=2_000, products=wmp, pos_amount=800),
        Cust("C12", contribution=100, capital_charge=0.004, branch="B002", products=["DDA", "TDA"]),
    ]


@pytest.fixture
def warehouse(cfg: Config) -> duckdb.DuckDBPyConnection:
    con = connect(cfg)
    yield con
    con.close()


def test_tiers_stage_end_to_end(cfg: Config, warehouse: duckdb.DuckDBPyConnection) -> None:
    cfg = small_config(cfg)
    build_upstream(warehouse, DAY, population())
    ctx = run_tiers(cfg, warehouse, DAY)
    con = warehouse
    tiers = dict(
        con.execute(
            "select customer_id, tier from int_customer_tiers where business_date = ?", [DAY]
        ).fetchall()
    )
    # C09 is closed: no tier. Thresholds by hand from the default ladder.
    assert "C09" not in tiers
    assert tiers["C01"] == "private" and tiers["C02"] == "gold" and tiers["C07"] == "platinum"
    assert tiers["C10"] == "platinum" and tiers["C03"] == "mass"
    hist = con.execute(
        "select count(*) from tier_history where business_date = ?", [DAY]
    ).fetchone()
    assert hist == (11,)  # every active customer's initial tier
    mig = sorted(
        r[0]
        for r in con.execute(
            "select customer_id from int_channel_migration where business_date = ?", [DAY]
        ).fetchall()
    )
    # C03 and C08 (consent does not matter for migration); C04 old, C05 potential, C06 growing.
    assert mig == ["C03", "C08"]
    saving = con.execute(
        "select yearly_saving_amount from int_channel_migration where customer_id = 'C03'"
    ).fetchone()
    # 6 counter txns in the 88 days from 2026-09-01 to 11-27: 6 * 365 / 88 = 24.886 a year,
    # each saving 12.00 - 0.30 (economics CTR and NET unit costs): 291.17.
    assert saving == (Decimal("291.17"),)
    calls = [
        r[0]
        for r in con.execute(
            "select customer_id from int_call_list where business_date = ?", [DAY]
        ).fetchall()
    ]
    assert "C08" not in calls and "C09" not in calls
    assert "C07" in calls  # undeclared merchant
    checks = con.execute("select check_name, is_ok from tiers_consistency").fetchall()
    assert len(checks) == 6 and all(ok for _, ok in checks)
    rm = dict(con.execute("select rm_id, customers from int_rm_scorecard").fetchall())
    assert rm == {"RM1": 10, "RM2": 1}
    # RM1's book by tier, in ladder order (not alphabetical): every active customer but C07
    book = [t for c, t in tiers.items() if c != "C07"]
    ladder = ["private", "diamond", "platinum", "gold", "mass"]
    mix = ";".join(f"{t}={book.count(t)}" for t in ladder if t in book)
    assert mix.startswith("private=1;")
    assert con.execute(
        "select customers_by_tier from int_rm_scorecard where rm_id = 'RM1'"
    ).fetchone() == (mix,)
    branch = con.execute(
        "select sum(customers) filter (where tier <> 'not_tiered'), "
        "sum(customers) filter (where tier = 'not_tiered'), sum(migration_candidates) "
        "from int_branch_summary"
    ).fetchone()
    assert branch == (11, 1, 2)  # C09 (closed) is the branch's reconciling row
    # one night, no history: no cut-off whose take-up window has closed, so no probability
    ev = con.execute(
        "select product_code, score_kind, status from int_cross_sell_evaluation"
    ).fetchall()
    assert sorted(p for p, _, _ in ev) == ["TDA", "WMP"]
    assert all(k == "lookalike" and s.startswith("look-alike") for _, k, s in ev)
    assert con.execute(
        "select count(*) from int_cross_sell where propensity_score is not null"
    ).fetchone() == (0,)
    held = con.execute(
        "select count(*) from int_cross_sell x join hist_accounts a on a.customer_id = "
        "x.customer_id and a.product_code = x.product_code"
    ).fetchone()
    assert held == (0,)
    assert ctx.facts["migration_candidates"] == 2


def test_rerun_replaces_and_next_month_keeps_hysteresis(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    cfg = small_config(cfg)
    con = warehouse
    build_upstream(con, DAY, population())
    run_tiers(cfg, con, DAY)
    run_tiers(cfg, con, DAY)  # a re-run replaces the date's rows
    assert con.execute("select count(*) from int_customer_tiers").fetchone() == (11,)
    assert con.execute("select count(*) from tier_history").fetchone() == (11,)
    nxt = shift_months(DAY, 1)
    people = population()
    people[0].contribution, people[0].aum = 100, 100  # C01 falls to mass: held as private
    people[11].contribution = 1_500  # C12 mass -> gold at once
    build_upstream(con, nxt, people)
    run_tiers(cfg, con, nxt)
    rows = dict(
        con.execute(
            "select customer_id, tier || '/' || tier_change from int_customer_tiers "
            "where business_date = ?",
            [nxt],
        ).fetchall()
    )
    assert rows["C01"] == "private/held" and rows["C12"] == "gold/upgrade"
    up = con.execute(
        "select from_tier, to_tier, reasons from tier_history where business_date = ?", [nxt]
    ).fetchall()
    assert up == [("mass", "gold", "CONTRIBUTION_GOLD;UPGRADE")]
    card = con.execute(
        "select upgrades, value_created_amount, compare_date from int_rm_scorecard "
        "where rm_id = 'RM1' and business_date = ?",
        [nxt],
    ).fetchone()
    # value created compares closed months' contributions (tests/test_rm_value.py); these
    # hand-made tables hold none, so it is unknown, not zero
    assert card == (1, None, DAY)


def test_failed_check_fails_the_stage(cfg: Config, warehouse: duckdb.DuckDBPyConnection) -> None:
    cfg = small_config(cfg)
    build_upstream(warehouse, DAY, population())
    # An upstream defect: a customer twice in the features gets two tiers.
    warehouse.execute(
        "insert into int_customer_features select * from int_customer_features "
        "where customer_id = 'C03'"
    )
    with pytest.raises(CheckFailed, match=r"one_tier_per_active_customer \(1 rows\)"):
        run_tiers(cfg, warehouse, DAY)
    status = warehouse.execute(
        "select status from run_ledger where stage = 'tiers' order by started_at desc limit 1"
    ).fetchone()
    assert status == ("failed",)
    # The stage's writes were rolled back with it.
    assert warehouse.execute(
        "select count(*) from information_schema.tables where table_name = 'int_customer_tiers'"
    ).fetchone() == (0,)


def test_economic_profit_beside_contribution_sums_to_the_customers(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    cfg = small_config(cfg)
    con = warehouse
    build_upstream(con, DAY, population())
    run_tiers(cfg, con, DAY)
    # Per customer: each amount rounded to the cent, economic profit = contribution − capital
    # charge of the rounded amounts; history_days carried. C01: 70000.004 − 2500.126.
    c01 = con.execute(
        "select contribution_amount, capital_charge_amount, economic_profit_amount, "
        "history_days from int_customer_tiers where customer_id = 'C01'"
    ).fetchone()
    assert c01 == (Decimal("70000.00"), Decimal("2500.13"), Decimal("67499.87"), HISTORY_DAYS)
    # The branch and manager sums against sums over int_customer_contribution written here:
    # active customers (status A in the features) by home branch and by manager, C09 left out.
    expected_sql = """
        select f.{key}, sum(round(c.contribution_amount, 2)),
               sum(round(c.contribution_amount, 2) - round(c.capital_charge_amount, 2)),
               sum(round(c.capital_charge_amount, 2))
        from int_customer_contribution c
        join int_customer_features f
          on f.customer_id = c.customer_id and f.business_date = c.business_date
        where c.business_date = ? and f.status = 'A' and f.{key} <> ''
        group by all order by 1
    """
    # the branch summary holds every customer with a contribution (the others in a
    # 'not_tiered' row of their branch), so it adds up to int_customer_contribution
    branches = con.execute(
        expected_sql.format(key="home_branch_id").replace("and f.status = 'A' ", ""), [DAY]
    ).fetchall()
    assert len(branches) == 2
    summary = con.execute(
        "select branch_id, sum(contribution_amount), sum(economic_profit_amount), "
        "sum(capital_charge_amount) from int_branch_summary where business_date = ? "
        "group by branch_id order by 1",
        [DAY],
    ).fetchall()
    assert summary == branches
    rms = con.execute(expected_sql.format(key="rm_id"), [DAY]).fetchall()
    assert [r[0] for r in rms] == ["RM1", "RM2"]
    scorecard = con.execute(
        "select rm_id, book_contribution_amount, book_economic_profit_amount, "
        "book_capital_charge_amount from int_rm_scorecard where business_date = ? order by 1",
        [DAY],
    ).fetchall()
    assert scorecard == rms
    # RM2's book is C07 alone: 50 − 180.50.
    assert rms[1][2] == Decimal("-130.50")


def test_an_older_tiers_table_gains_the_new_columns(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    cfg = small_config(cfg)
    con = warehouse
    build_upstream(con, DAY, population())
    run_tiers(cfg, con, DAY)
    # A warehouse written before economic profit: the columns dropped, as if never there.
    for column in ("economic_profit_amount", "capital_charge_amount", "history_days"):
        con.execute(f"alter table int_customer_tiers drop column {column}")
    # ... and by a version that wrote a column this one no longer computes
    con.execute("alter table int_cross_sell_evaluation add column train_customers bigint")
    run_tiers(cfg, con, DAY)
    assert con.execute(
        "select count(*), count(train_customers) from int_cross_sell_evaluation "
        "where business_date = ?",
        [DAY],
    ).fetchone() == (2, 0)
    row = con.execute(
        "select sum(economic_profit_amount), min(history_days) from int_customer_tiers"
    ).fetchone()
    # active contribution 70000 + 1200 + 5 × 10 + 50 + 6000 + 2000 + 100 = 79400, less the
    # capital charges 2500.13 + 180.50 + 0.00 (C09's 99 is a closed customer's)
    assert row == (Decimal("76719.37"), HISTORY_DAYS)


DEFAULTERS_QUERY = """
    select count(*) filter (where t.has_default_account and t.tier_rank < $floor)
               as defaulters_above_floor,
           count(*) filter (where t.has_default_account and l.customer_id is not null)
               as defaulters_called
    from int_customer_tiers as t
    left join int_call_list as l
      on l.customer_id = t.customer_id and l.business_date = t.business_date
    where t.business_date = $d
"""
"""The gate's proof on any warehouse: both counts are 0 (docs/exports.md)."""


def test_credit_gate_and_honest_migration_in_the_stage(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    cfg = small_config(cfg)
    con = warehouse
    people = [
        # a student with 2,000,000 of deposits and a personal loan 120 days past due
        Cust("D1", aum=2_000_000, contribution=900, age=21, occupation="STU", days_past_due=120),
        # status D (delinquent) whatever the days past due, an undeclared merchant
        Cust("D2", aum=400_000, days_past_due=0, loan_status="D", merchant_turnover=4_000_000),
        # 45 days past due: watch list; 400,000 would be platinum
        Cust("W1", aum=400_000, days_past_due=45),
        # 29 days past due: performing; platinum
        Cust("P1", aum=400_000, days_past_due=29),
        # scorecard 75 >= merchants.score_cutoff 60, not detected: protected
        Cust("M1", contribution=10, counter_txns=6, merchant_score=75),
        # 6 counter transfers with 15 of fees each: the fees exceed the saving
        Cust("F1", contribution=10, counter_txns=6, counter_fee=90),
        # 6 counter transfers with 2 of fees each: still saves
        Cust("F2", contribution=10, counter_txns=6, counter_fee=12),
        # 12-month average 10,000 but 2,000,000 this month: diamond on the recent balance
        Cust("R1", aum=10_000, recent_aum=2_000_000),
    ]
    build_upstream(con, DAY, people)
    ctx = run_tiers(cfg, con, DAY)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select customer_id, tier, tier_reasons, has_default_account, has_watch_account, "
            "migration_protection from int_customer_tiers where business_date = ?",
            [DAY],
        ).fetchall()
    }
    assert rows["D1"] == ("mass", "AUM_DIAMOND;CREDIT_HOLD", True, False, "POTENTIAL")
    assert rows["D2"][:4] == (
        "mass",
        "AUM_PLATINUM;MERCHANT_TURNOVER_PLATINUM;CREDIT_HOLD",
        True,
        False,
    )
    assert rows["W1"][:4] == ("mass", "AUM_PLATINUM;CREDIT_WATCH", False, True)
    assert rows["P1"][:4] == ("platinum", "AUM_PLATINUM;INITIAL", False, False)
    assert rows["R1"][:2] == ("diamond", "RECENT_AUM_DIAMOND;INITIAL")
    assert rows["M1"][4] == "MERCHANT_LIKE"
    calls = dict(
        con.execute(
            "select customer_id, reason_code from int_call_list where business_date = ?", [DAY]
        ).fetchall()
    )
    # D1 would be POTENTIAL_NURTURE, D2 MERCHANT_SERVICES: neither is called.
    assert "D1" not in calls and "D2" not in calls
    assert con.execute(DEFAULTERS_QUERY, {"floor": 4, "d": DAY}).fetchone() == (0, 0)
    mig = con.execute(
        "select customer_id, yearly_cost_saving_amount, yearly_fee_forgone_amount, "
        "yearly_saving_amount from int_channel_migration where business_date = ?",
        [DAY],
    ).fetchall()
    # 88 days from 2026-09-01 to 11-27; a counter transfer costs 12.00, online 0.30 (TRO has
    # no override): 6 x 11.70 = 70.20 x 365/88 = 291.17 a year. F2: 12 of fees x 365/88 =
    # 49.77 forgone, net 241.40. F1: 90 x 365/88 = 373.30 forgone > 291.17: dropped.
    assert mig == [("F2", Decimal("291.17"), Decimal("49.77"), Decimal("241.40"))]
    assert ctx.facts["credit_hold"] == 2 and ctx.facts["credit_watch"] == 1


def test_a_broken_credit_gate_fails_the_stage(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiers check guards the gate: with the gate's rule removed (a regression in
    models.tiers), a defaulter with 2,000,000 of deposits would be diamond; the stage fails
    and nothing is exported."""
    import models.tiers

    monkeypatch.setattr(models.tiers, "apply_credit_gate", lambda tiers, rules: tiers)
    build_upstream(warehouse, DAY, [Cust("D1", aum=2_000_000, days_past_due=120)])
    with pytest.raises(CheckFailed, match="defaulters_at_lowest_tier_and_not_called"):
        run_tiers(small_config(cfg), warehouse, DAY)


def _recheck(cfg: Config, warehouse: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Run the tiers stage's checks again on what the warehouse holds now: failing rows by
    check."""
    from pipeline.sqlfiles import run_sql

    params = {
        "business_date": DAY,
        "tier_names": cfg.tiers.tier_names,
        "protected_min_age": cfg.tiers.migration.protected_min_age,
    }
    run_sql(warehouse, "checks/tiers_consistency", params)
    rows = warehouse.execute(
        "select check_name, failing_rows from tiers_consistency"
        " where business_date = ? and not is_ok",
        [DAY],
    ).fetchall()
    return dict(rows)


def test_a_branch_summary_short_of_contribution_fails_the_check(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """The summary must add up to int_customer_contribution: drop the reconciling row of the
    closed customer C09 and the check reports it."""
    build_upstream(warehouse, DAY, population())
    run_tiers(small_config(cfg), warehouse, DAY)
    warehouse.execute("delete from int_branch_summary where tier = 'not_tiered'")
    assert set(_recheck(cfg, warehouse)) == {"branch_summary_equals_contribution"}


def test_a_branch_summary_one_cent_off_fails_the_check(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """Exact, not within rounding: one cent moved from one branch's row to another's keeps the
    total but fails the check for both branches."""
    build_upstream(warehouse, DAY, population())
    run_tiers(small_config(cfg), warehouse, DAY)
    assert _recheck(cfg, warehouse) == {}
    branches = [
        r[0]
        for r in warehouse.execute(
            "select distinct branch_id from int_branch_summary order by 1"
        ).fetchall()
    ]
    assert len(branches) >= 2
    for branch, cents in ((branches[0], 0.01), (branches[1], -0.01)):
        warehouse.execute(
            "update int_branch_summary set contribution_amount = contribution_amount + ?"
            " where branch_id = ? and tier = (select min(tier) from int_branch_summary"
            " where branch_id = ?)",
            [cents, branch, branch],
        )
    assert _recheck(cfg, warehouse) == {"branch_summary_equals_contribution": 2}
