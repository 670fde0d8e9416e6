"""The merchants stage: high-value individual merchants and their counterparty chains.

For the business date: a screen over monthly credit aggregates kept incrementally
(``agg_merchant_inflow_month``: closed months computed once, recomputed only when a delivery
for one of their dates is re-sent, plus the month to date) picks the customers whose window
transactions the stored block of closed months does not hold are read into a temp table: the
block (``agg_merchant_block_*``, per-customer states built once a month, rebuilt like the
monthly aggregates) plus the states of those rows give, per customer, the signals over the
trailing window (SQL), the scorecard and the detection rule (``models.merchants``), each
merchant's main buyers and suppliers (SQL), market clusters (``models.merchant_network``,
networkx), the merchants table and the prospects at other banks (SQL). See
``docs/merchants.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta

import duckdb

from pipeline.dates import first_of_month, month_end
from pipeline.engine.base import Engine
from pipeline.sqlfiles import load_sql, observe, sql_path
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.features import create_refresh_log, log_refresh, stale_months

INFLOW_AGGREGATE = "agg_merchant_inflow_month"
INFLOW_FEEDS = ("TXN",)
"""The feeds whose re-sent deliveries make a closed month of the aggregate stale."""
INFLOW_VERSION = "1"
"""Stands for the aggregate's definition in ``agg_refresh_log.config_hash``: change it when
``sql/merchants/agg_merchant_inflow_month.sql`` changes, and every stored month is recomputed."""


def refresh_inflow_months(
    con: duckdb.DuckDBPyConnection, engine: Engine, business_date: date, window_days: int
) -> int:
    """Compute the closed months of the window missing from, or stale in, the aggregate
    (stored by ``engine``; ``agg_refresh_log`` in the warehouse file ``con``).

    The months are those of the deliveries that can hold a window transaction: from the
    window's first day to the month before the business date's. Returns how many were stale.
    """
    create_refresh_log(con)
    first = (business_date - timedelta(days=window_days - 1)).replace(day=1)
    current = business_date.replace(day=1)
    closed: list[date] = []
    while first < current:
        closed.append(first)
        first = first_of_month(first, 1)
    exists = engine.table_exists(INFLOW_AGGREGATE)
    stale = (
        stale_months(con, INFLOW_AGGREGATE, INFLOW_FEEDS, closed, INFLOW_VERSION)
        if exists
        else closed
    )
    if not stale:
        return 0
    model = load_sql(sql_path(f"merchants/{INFLOW_AGGREGATE}"))
    for month in stale:  # a month per pass: its spill is a month's groups, not a year's
        params = {"month_from": month, "month_to": month, "as_of": month_end(month)}
        observe(con, model, params)
        engine.replace_where(
            INFLOW_AGGREGATE, model.body, "month_start = $month_from", params, key="month_start"
        )
        log_refresh(con, INFLOW_AGGREGATE, [month], None, INFLOW_VERSION)
    return len(stale)


BLOCK_TABLES = {
    "agg_merchant_block_pairs": "int_merchant_pair_state",
    "agg_merchant_block_days": "int_merchant_day_state",
    "agg_merchant_block_branches": "int_merchant_branch_state",
    "agg_merchant_block_customers": "int_merchant_customer_state",
}
"""The stored block of closed months: each table and the state (``sql/merchants/<state>.sql``,
run with ``build_block``) it keeps. The pairs also keep their rank in their role; the customers
their pairs and cents per role, the block's months, and the name and own accounts it was built
with."""
BLOCK_PAIRS, BLOCK_CUSTOMERS = "agg_merchant_block_pairs", "agg_merchant_block_customers"
BLOCK_VERSION = "2"
"""Stands for the block's definition (the state files of ``BLOCK_TABLES`` and how
:func:`store_block` keeps them) in ``agg_refresh_log.config_hash``: change it when they change,
and the block is rebuilt."""
BLOCK_SETTINGS = ("small_payment_max_amount", "round_amount_unit")
"""The merchants settings the block's states depend on (beside its months): their values are
hashed into ``agg_refresh_log.config_hash``, so a change rebuilds the block."""
STATES = tuple(BLOCK_TABLES.values())
TOP_RANKS = 100
"""Pairs of a block rank up to this are stored first (the rows ``int_merchant_pairs`` reads of
the pairs untouched since the block, while max_buyers and max_suppliers are at most this)."""
PAIR_COLUMNS = (
    "customer_id varchar, counterparty_key varchar, role varchar, txn_count bigint, "
    "sum_cents decimal(38, 0), sum_sq_cents decimal(38, 0), month_bits bigint, "
    "last_txn_date date, min_name varchar, max_name varchar, min_bank varchar, "
    "max_bank varchar, counterparty_customer_id varchar"
)
CUSTOMER_STATE_COLUMNS = (
    "inflow_amount decimal(38, 2), inflow_count bigint, largest_inflow_amount decimal(18, 2), "
    "small_payment_amount decimal(38, 2), payer_inflow_amount decimal(38, 2), "
    "counter_cash_deposit_count bigint, counter_cash_amount decimal(38, 2), "
    "outflow_amount decimal(38, 2), supplier_payment_count bigint, round_payment_count bigint"
)
BLOCK_COLUMNS = {
    "agg_merchant_block_pairs": f"{PAIR_COLUMNS}, block_rank bigint",
    "agg_merchant_block_days": "customer_id varchar, txn_date date, day_inflow_cents double, "
    "day_outflow_cents double",
    "agg_merchant_block_branches": "customer_id varchar, branch_id varchar, txn_count bigint",
    "agg_merchant_block_customers": f"customer_id varchar, {CUSTOMER_STATE_COLUMNS}, "
    "buyer_pairs bigint, buyer_cents decimal(38, 0), supplier_pairs bigint, "
    "supplier_cents decimal(38, 0), block_start date, block_end date, name varchar, "
    "own_accounts varchar[]",
}
"""The block tables' columns: the states' (types as their SQL gives them) and what
:func:`store_block` adds."""


def _columns(columns: str) -> list[tuple[str, str]]:
    """The (name, type) pairs of a column list ``"name type, ..."`` (a type may hold ``", "``)."""
    return [tuple(c.split(" ", 1)) for c in re.split(r", (?=[a-z_]+ )", columns)]


def _names(columns: str) -> list[str]:
    return [name for name, _ in _columns(columns)]


def _no_rows(columns: str) -> str:
    """A SELECT of no row with the columns ``"name type, ..."``."""
    return (
        "select "
        + ", ".join(f"cast(null as {t}) as {n}" for n, t in _columns(columns))
        + " where false"
    )


def block_months(business_date: date, window_days: int) -> tuple[date, date] | None:
    """The block of closed months inside the window: from the first month that starts in it to
    the month before the business date's, as (first day, last day); None when there is none."""
    first = business_date - timedelta(days=window_days - 1)
    start = first if first.day == 1 else first_of_month(first, 1)
    end = business_date.replace(day=1) - timedelta(days=1)
    return (start, end) if start <= end else None


def month_starts(block: tuple[date, date]) -> list[date]:
    """The first day of each month of the block."""
    months = [block[0]]
    while months[-1] < first_of_month(block[1]):
        months.append(first_of_month(months[-1], 1))
    return months


def block_hash(settings: dict[str, object]) -> str:
    """``BLOCK_VERSION`` and the values of ``BLOCK_SETTINGS``, as one string."""
    values = json.dumps({k: settings[k] for k in BLOCK_SETTINGS}, sort_keys=True, default=str)
    return f"{BLOCK_VERSION}:{hashlib.sha256(values.encode()).hexdigest()[:16]}"


def block_is_current(
    con: duckdb.DuckDBPyConnection, engine: Engine, block: tuple[date, date], config_hash: str
) -> bool:
    """Whether the stored block is of these months, built under this hash, and no TXN delivery
    for one of their dates was loaded since (``stale_months``, as for the monthly aggregates)."""
    if not all(engine.table_exists(table) for table in BLOCK_TABLES):
        return False
    row = engine.read(
        "select min(block_start) as s0, max(block_start) as s1, min(block_end) as e0, "
        "max(block_end) as e1, "
        "count(*) filter (where block_start is null or block_end is null) as missing "
        f"from {BLOCK_CUSTOMERS}"
    ).row(0)
    # every row of one block: one start, one end, none missing
    if (row[0], row[3]) != block or row[1] != row[0] or row[2] != row[3] or row[4]:
        return False
    return not stale_months(con, BLOCK_PAIRS, INFLOW_FEEDS, month_starts(block), config_hash)


def drop_block(engine: Engine) -> None:
    """Empty block tables (a night without a block, or before the block is rebuilt)."""
    for table, columns in BLOCK_COLUMNS.items():
        engine.drop(table)
        engine.replace_where(table, _no_rows(columns), "false")


def store_block(
    con: duckdb.DuckDBPyConnection, engine: Engine, block: tuple[date, date], config_hash: str
) -> None:
    """Keep the states of the block's rows (built with ``build_block``, temp tables named as
    the state files): the pairs with their rank in their role, and per screened customer
    their sums, their pairs and cents per role, and the name and own accounts the block was
    built with. Every screened customer is covered from now on."""
    for table, state in BLOCK_TABLES.items():
        if table == BLOCK_PAIRS:
            # Payees are all read (rank 0). Stored narrow: most pairs are one payment under
            # one name at one bank, so Σc² (= (Σc)²), the largest name and bank (= the
            # smallest) are NULL then (int_merchant_pairs reads them back). The first ranks
            # are written first: the few row groups a filter on block_rank reads.
            narrow = {
                "sum_sq_cents": "case when txn_count > 1 then sum_sq_cents end",
                "max_name": "case when max_name <> min_name then max_name end",
                "max_bank": "case when max_bank <> min_bank then max_bank end",
            }
            engine.temp_query(
                "_block_pairs",
                "select "
                + ", ".join(f"{narrow.get(c, c)} as {c}" for c in _names(PAIR_COLUMNS))
                + ", case when role = 'payee' then 0 else row_number() over ("
                "partition by customer_id, role order by sum_cents desc, counterparty_key) end "
                f"as block_rank from {state}",
            )
            for part in (f"block_rank <= {TOP_RANKS}", f"block_rank > {TOP_RANKS}"):
                engine.replace_where(table, f"select * from _block_pairs where {part}", "false")
            engine.drop("_block_pairs")
            continue
        elif table == BLOCK_CUSTOMERS:
            select = f"""
                with pairs as (
                    select customer_id,
                        count(*) filter (where role = 'buyer') as buyer_pairs,
                        coalesce(sum(sum_cents) filter (where role = 'buyer'), 0) as buyer_cents,
                        count(*) filter (where role = 'supplier') as supplier_pairs,
                        coalesce(sum(sum_cents) filter (where role = 'supplier'), 0)
                            as supplier_cents
                    from int_merchant_pair_state group by customer_id
                )
                select c.customer_id, {", ".join(f"s.{c}" for c in _names(CUSTOMER_STATE_COLUMNS))},
                    coalesce(p.buyer_pairs, 0) as buyer_pairs,
                    coalesce(p.buyer_cents, 0) as buyer_cents,
                    coalesce(p.supplier_pairs, 0) as supplier_pairs,
                    coalesce(p.supplier_cents, 0) as supplier_cents,
                    cast($start as date) as block_start, cast($end as date) as block_end,
                    c.name, c.own_accounts
                from int_merchant_coverage as c
                left join {state} as s using (customer_id)
                left join pairs as p using (customer_id)"""
        else:
            select = f"select * from {state}"
        params = {"start": block[0], "end": block[1]} if table == BLOCK_CUSTOMERS else {}
        engine.replace_where(table, select, "false", params)  # added: no row replaced
    log_refresh(con, BLOCK_PAIRS, month_starts(block), None, config_hash)
    engine.temp_query(
        "int_merchant_coverage",
        "select customer_id, name, own_accounts, true as is_covered, reads_block "
        "from int_merchant_coverage",
    )


WORK_TABLES = (
    "int_merchant_screen",
    "int_merchant_coverage",
    "int_merchant_window_txns",
    *STATES,
    "int_merchant_pairs",
    "int_merchant_pair_totals",
)
"""The temp tables of a run, in the order they are built (``sql/merchants/<name>.sql``)."""


def read_window_txns(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    day: date,
    window_days: int,
    params: dict[str, object],
) -> bool:
    """Screen the customers (``int_merchant_screen``), read the window transactions the
    stored block of closed months does not stand for (``int_merchant_window_txns``; the block
    is built first from a full read when missing or stale) and add their states to the
    block's (``int_merchant_*_state``, ``int_merchant_pairs``, ``int_merchant_pair_totals``),
    all temp tables for this run. Returns whether the block was built."""
    block = block_months(day, window_days)
    config_hash = block_hash(params)
    current = block is not None and block_is_current(con, engine, block, config_hash)
    if not current:
        drop_block(engine)
    start, end = block or (day, day - timedelta(days=1))  # no row is in an empty block
    run = {**params, "block_start": start, "block_end": end, "build_block": False}
    for name in WORK_TABLES[:3]:
        engine.temp_file(f"merchants/{name}", run)
    built = block is not None and not current
    if built:
        for state in STATES:
            engine.temp_file(f"merchants/{state}", {**run, "build_block": True})
        store_block(con, engine, (start, end), config_hash)
    for name in WORK_TABLES[3:]:
        engine.temp_file(f"merchants/{name}", run)
    # A counterparty that can be in the chain shows two names or banks: the chain takes the
    # most frequent from all its transactions, so read the block's rows of its customer too
    # (the states leave them out for a covered customer).
    varied = (
        "(select distinct customer_id from int_merchant_pairs where role <> 'payee' "
        "and (min_name <> max_name or min_bank <> max_bank))"
    )
    more = engine.read(
        f"select count(*) as n from int_merchant_coverage as c semi join {varied} as v "
        "on v.customer_id = c.customer_id where not c.reads_block"
    ).item()
    if more:
        engine.temp_query(
            "int_merchant_coverage",
            "select c.customer_id, c.name, c.own_accounts, c.is_covered, "
            "c.reads_block or v.customer_id is not null as reads_block "
            f"from int_merchant_coverage as c left join {varied} as v "
            "on v.customer_id = c.customer_id",
        )
        engine.temp_file("merchants/int_merchant_window_txns", run)
    return built


def run(ctx: StageContext) -> int:
    """Detect high-value individual merchants and map their buyers, suppliers and clusters."""
    import polars as pl

    from models.merchant_network import find_market_clusters
    from models.merchants import score_merchants

    con, engine, day, settings = ctx.con, ctx.engine, ctx.business_date, ctx.cfg.merchants
    params: dict[str, object] = {
        "business_date": day,
        "window_days": settings.window_days,
        "annualise": settings.annualise,
        "candidate_min_amount": settings.candidate_min_amount,
        "small_payment_max_amount": settings.small_payment_max_amount,
        "round_amount_unit": settings.round_amount_unit,
        "recurring_supplier_min_months": settings.recurring_supplier_min_months,
        "top_suppliers": settings.top_suppliers,
        "pass_through_days": settings.pass_through_days,
        "max_buyers": settings.max_buyers,
        "max_suppliers": settings.max_suppliers,
        "bank_code": ctx.cfg.bank_code,
        "prospect_min_amount": settings.prospect_min_amount,
    }
    stale = refresh_inflow_months(con, engine, day, settings.window_days)
    built = read_window_txns(con, engine, day, settings.window_days, params)
    screened, covered = engine.read(
        "select count(*) as screened, count(*) filter (where is_covered) as covered "
        "from int_merchant_coverage"
    ).row(0)
    candidates = engine.run_file("merchants/int_merchant_signals", params)
    signals = engine.read(
        "select * from int_merchant_signals where business_date = $d and history_days >= $min_days",
        {"d": day, "min_days": settings.min_history_days},
    )
    scored = score_merchants(signals, settings).with_columns(
        business_date=pl.lit(day, dtype=pl.Date)
    )
    engine.write_partition("int_merchant_scorecard", scored, day)

    engine.run_file("merchants/int_merchant_counterparties", params)
    detected = signals.join(
        scored.filter("is_merchant").select("customer_id"), on="customer_id", how="semi"
    ).select("customer_id", "turnover_amount", "home_branch_id", "is_market_home_branch")
    counterparties = engine.read(
        "select customer_id, counterparty_key from int_merchant_counterparties "
        "where business_date = $d",
        {"d": day},
    )
    clusters = find_market_clusters(detected, counterparties, settings.clusters)
    clusters = clusters.with_columns(
        pl.col("turnover_amount").cast(pl.Decimal(18, 2)),
        business_date=pl.lit(day, dtype=pl.Date),
    )
    engine.write_partition("int_market_clusters", clusters, day)

    merchants = engine.run_file("merchants/int_merchants", params)
    prospects = engine.run_file("merchants/int_merchant_prospects", params)
    for name in reversed(WORK_TABLES):
        engine.drop(name)

    summary = engine.read(
        "select count(*) filter (where not is_declared) as undeclared, "
        "coalesce(sum(turnover_amount) filter (where not is_declared), 0) as undeclared_amount, "
        "coalesce(sum(turnover_amount), 0) as total_amount "
        "from int_merchants where business_date = $d",
        {"d": day},
    ).row(0)
    undeclared, undeclared_amount, total_amount = summary
    ctx.facts.update(
        {
            "merchant_inflow_months_refreshed": stale,
            "merchant_screened": screened,
            "merchant_block_built": built,
            "merchant_block_covered": covered,
            "merchant_candidates": candidates,
            "merchants": merchants,
            "merchants_undeclared": int(undeclared),
            "merchants_undeclared_turnover_amount": float(undeclared_amount),
            "merchants_turnover_amount": float(total_amount),
            "market_clusters": clusters.height,
            "merchant_prospects": prospects,
        }
    )
    ctx.log.info(
        "merchants detected",
        extra={"business_date": day, **ctx.facts},
    )
    return merchants


STAGE = Stage(
    name="merchants",
    run=run,
    needs=("ingest",),
    reads=(
        "stg_transactions",
        "hist_customers",
        "hist_accounts",
        "hist_branches",
        "file_ledger",
    ),
    writes=(
        "agg_merchant_inflow_month",
        *BLOCK_TABLES,
        "agg_refresh_log",
        "int_merchant_signals",
        "int_merchant_scorecard",
        "int_merchant_counterparties",
        "int_market_clusters",
        "int_merchants",
        "int_merchant_prospects",
    ),
    config_sections=("merchants", "bank_code"),
    engines=("duckdb", "spark"),
)
