"""The features stage: keep the monthly aggregates current and build the customer view.

Each night only what new deliveries touched is recomputed: closed months of the window whose
deliveries were loaded after their last refresh (``agg_refresh_log``, compared with
``file_ledger.received_at``), or whose pricing config changed, plus the business date's own
month to date. Only closed months are stored: the month to date lives in temp tables of the
run (``<table>_current``), which the later stages of the same run read and a stage run alone
computes again (:func:`refresh_monthly`). Each window is then the sum of two parts
(``agg_customer_*_parts``): its closed months, computed once per window month, and the month
to date; ``int_customer_features`` is built from them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from pipeline.config import Config
from pipeline.config.economics import (
    DEPOSIT_PRODUCTS,
    INVESTMENT_PRODUCTS,
    LENDING_PRODUCTS,
    MAX_TERM_MONTHS,
    PRODUCTS,
    TERM_PRICED_PRODUCTS,
    TXN_CODES,
    curve_rate,
    lifetime_pd,
    product_ftp_rate,
)
from pipeline.dates import first_of_month, month_end
from pipeline.engine.base import Engine
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.sqlfiles import customer_ranges, load_sql, observe, sql_path
from pipeline.stages.base import Stage, StageContext
from pipeline.warehouse import table_exists

AGGREGATES = {
    "agg_account_balance_month": ("ACCT",),
    "agg_customer_txn_month": ("TXN", "ACCT"),
    "agg_card_cycle_month": ("TXN", "ACCT"),
}
"""Each monthly aggregate and the feeds whose deliveries make one of its months stale."""


@dataclass(frozen=True)
class Window:
    """The trailing window of a business date, in calendar months, and the month before it
    (``oldest_month``: the contribution's rolling year takes the part of it that falls in the
    last 365 days, docs/contribution.md)."""

    business_date: date
    month_start: date
    window_start: date
    recent_start: date

    @property
    def oldest_month(self) -> date:
        return first_of_month(self.window_start, -1)

    def params(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date,
            "month_start": self.month_start,
            "window_start": self.window_start,
            "recent_start": self.recent_start,
        }


def window_of(cfg: Config, business_date: date) -> Window:
    """The date's month to date plus the ``window_months - 1`` whole months before it."""
    month = business_date.replace(day=1)
    return Window(
        business_date=business_date,
        month_start=month,
        window_start=first_of_month(month, -(cfg.features.window_months - 1)),
        recent_start=first_of_month(month, -(cfg.features.trend_recent_months - 1)),
    )


REFERENCE_TABLES = (
    "ref_product_rates",
    "ref_ftp_by_term",
    "ref_interchange",
    "ref_channel_costs",
    "ref_pd_buckets",
    "ref_pd_by_dpd",
    "ref_lifetime_pd",
    "ref_mcc_categories",
    "ref_age_bands",
)
"""The config's rates as scratch tables of the run, for the SQL files to join."""


def load_reference_tables(
    con: duckdb.DuckDBPyConnection, cfg: Config, engine: Engine | None = None
) -> None:
    """Write the config's rates as scratch tables ``ref_*`` (:data:`REFERENCE_TABLES`) of
    ``engine`` (by default DuckDB on ``con``) for the SQL files to join. They are typed by an
    in-memory DuckDB whatever the engine, so both engines join the same rows and types."""
    ref = duckdb.connect(":memory:")
    try:
        _build_reference_tables(ref, cfg)
        target = _engine(con, engine)
        for table in REFERENCE_TABLES:
            target.temp_frame(table, ref.table(table).pl())
    finally:
        ref.close()


def _engine(con: duckdb.DuckDBPyConnection, engine: Engine | None) -> Engine:
    """The engine a helper works on: the stage's, or DuckDB on ``con`` (a stage not ported)."""
    return DuckDBEngine(con) if engine is None else engine


def _build_reference_tables(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """The config's rates as tables ``ref_*`` of ``con`` (a scratch in-memory DuckDB)."""
    eco, feat = cfg.economics, cfg.features

    def group(product: str) -> str:
        if product in DEPOSIT_PRODUCTS:
            return "deposit"
        if product in INVESTMENT_PRODUCTS:
            return "investment"
        return "lending" if product in LENDING_PRODUCTS else "other"

    con.execute(
        "create or replace temp table ref_product_rates (product_code varchar, "
        "product_group varchar, ftp_rate_percent decimal(12,6), "
        "commission_rate_percent decimal(12,6), upkeep_amount_per_year decimal(18,6), "
        "lgd_percent decimal(12,6), risk_weight_percent decimal(12,6), "
        "has_term_ftp boolean)"
    )
    con.executemany(
        "insert into ref_product_rates values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                p,
                group(p),
                product_ftp_rate(eco, p),
                eco.commission_rate_percent.get(p),
                eco.upkeep_amount_per_year.get(p),
                eco.lgd_percent.get(p),
                eco.capital.risk_weight_percent.get(p),
                eco.ftp_curve is not None and p in TERM_PRICED_PRODUCTS,
            ]
            for p in PRODUCTS
        ],
    )
    con.execute(
        "create or replace temp table ref_ftp_by_term (term_months integer, "
        "ftp_rate_percent decimal(12,6))"
    )
    if eco.ftp_curve is not None:
        terms = list(range(MAX_TERM_MONTHS + 1))
        _insert_columns(
            con, "ref_ftp_by_term", [terms, [curve_rate(eco.ftp_curve, m) for m in terms]]
        )
    con.execute(
        "create or replace temp table ref_interchange (product_code varchar, "
        "rate_percent decimal(12,6), cap_amount decimal(18,2))"
    )
    rows = [[p, r.rate_percent, r.cap_amount] for p, r in eco.interchange.items()]
    if rows:
        con.executemany("insert into ref_interchange values (?, ?, ?)", rows)
    con.execute(
        "create or replace temp table ref_channel_costs (channel varchar, txn_code varchar, "
        "unit_cost_amount decimal(18,6))"
    )
    con.executemany(
        "insert into ref_channel_costs values (?, ?, ?)",
        [
            [
                ch,
                code,
                0
                if code in eco.system_txn_codes
                else eco.unit_cost_override_amount.get(ch, {}).get(code, cost),
            ]
            for ch, cost in eco.unit_cost_amount.items()
            for code in TXN_CODES
        ],
    )
    con.execute(
        "create or replace temp table ref_pd_buckets (min_days_past_due integer, "
        "max_days_past_due integer, pd_percent decimal(12,6))"
    )
    buckets = eco.pd_buckets
    con.executemany(
        "insert into ref_pd_buckets values (?, ?, ?)",
        [
            [
                b.min_days_past_due,
                buckets[i + 1].min_days_past_due - 1 if i + 1 < len(buckets) else None,
                b.pd_percent,
            ]
            for i, b in enumerate(buckets)
        ],
    )
    # the bucket of each number of days past due, for an equi-join (a range join over every
    # account day is a nested loop); days past the last bucket's start are looked up at its start
    con.execute(
        """
        create or replace temp table ref_pd_by_dpd as
        select d.days_past_due, b.min_days_past_due, b.pd_percent
        from (
            select unnest(range(least(0, min(min_days_past_due)),
                                max(min_days_past_due) + 1)) as days_past_due
            from ref_pd_buckets
        ) d
        join ref_pd_buckets b
          on d.days_past_due >= b.min_days_past_due
         and (b.max_days_past_due is null or d.days_past_due <= b.max_days_past_due)
        """
    )
    con.execute(
        "create or replace temp table ref_lifetime_pd (min_days_past_due integer, "
        "years integer, pd_percent decimal(12,6))"
    )
    pairs = [(b, years) for b in buckets for years in range(1, 41)]
    _insert_columns(
        con,
        "ref_lifetime_pd",
        [
            [b.min_days_past_due for b, _ in pairs],
            [years for _, years in pairs],
            [lifetime_pd(b.pd_percent, years) for b, years in pairs],
        ],
    )
    con.execute(
        "create or replace temp table ref_mcc_categories (mcc varchar, mcc_category varchar)"
    )
    mcc_rows = [[code, cat] for cat, codes in feat.mcc_categories.items() for code in codes]
    if mcc_rows:
        con.executemany("insert into ref_mcc_categories values (?, ?)", mcc_rows)
    bounds = [0, *feat.age_bands, 200]
    con.execute(
        "create or replace temp table ref_age_bands (min_age integer, max_age integer, "
        "age_band varchar)"
    )
    con.executemany(
        "insert into ref_age_bands values (?, ?, ?)",
        [
            [
                lo,
                hi,
                f"<{hi}" if lo == 0 else (f"{lo}+" if hi == 200 else f"{lo}-{hi - 1}"),
            ]
            for lo, hi in itertools.pairwise(bounds)
        ],
    )


def _insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: list[list[Any]]) -> None:
    """Insert rows given column by column in one statement (executemany binds row by row)."""
    names = [f"c{i}" for i in range(len(columns))]
    con.execute(
        f"insert into {table} select " + ", ".join(f"unnest(${n})" for n in names),
        dict(zip(names, columns, strict=True)),
    )


def aggregate_params(cfg: Config, table: str) -> dict[str, Any]:
    """The config values an aggregate's SQL takes besides its months."""
    eco = cfg.economics
    if table == "agg_account_balance_month":
        return {
            "watch_dpd": eco.credit.watch_days_past_due,
            "default_dpd": eco.credit.default_days_past_due,
            "default_statuses": eco.credit.default_statuses,
            "years_without_maturity": eco.credit.lifetime_years_without_maturity,
        }
    if table == "agg_card_cycle_month":
        return {"grace_days": eco.cards.grace_days}
    return {}


def aggregate_config_hash(cfg: Config, table: str) -> str:
    """The config an aggregate's stored months depend on: a change recomputes them."""
    if table == "agg_account_balance_month":
        payload: Any = {
            **aggregate_params(cfg, table),
            "pd": [b.model_dump(mode="json") for b in cfg.economics.pd_buckets],
        }
    elif table == "agg_card_cycle_month":
        payload = aggregate_params(cfg, table)
    elif table == "agg_customer_txn_month":
        payload = {
            "interchange": {
                k: v.model_dump(mode="json") for k, v in cfg.economics.interchange.items()
            },
            "mcc": cfg.features.mcc_categories,
        }
    else:
        payload = {}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _conform(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    table: str,
    rows_sql: str,
    params: dict[str, Any],
) -> None:
    """Give an existing ``table`` the columns of ``rows_sql``: one written by another version
    of the SQL (other columns) is dropped, its refreshes forgotten, to be rebuilt whole; one
    stored with other types (e.g. wider) takes the SQL file's, no row changed."""
    if not engine.table_exists(table):
        return
    want, have = engine.describe(rows_sql, params), engine.columns(table)
    if {n for n, _ in want} != {n for n, _ in have}:
        engine.drop(table)
        if table_exists(con, "agg_refresh_log"):
            con.execute("delete from agg_refresh_log where table_name = ?", [table])
    elif dict(want) != dict(have):
        engine.replace_where(table, f"select * from ({rows_sql}) where false", "false", params)


def _replace_months(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    sql_name: str,
    month_from: date,
    month_to: date,
    as_of: date,
    delete_where: str,
    extra: dict[str, Any],
) -> int:
    """Recompute the table of ``sql_name`` (``<folder>/<table>``) for a range of months and
    swap those rows in."""
    table = sql_name.rsplit("/", 1)[-1]
    model = load_sql(sql_path(sql_name))
    given = {**extra, "month_from": month_from, "month_to": month_to, "as_of": as_of}
    params = {k: given[k] for k in model.params}
    observe(con, model, params)
    _conform(con, engine, table, model.body, params)
    return engine.replace_where(table, model.body, delete_where, params, key="month_start")


def stale_months(
    con: duckdb.DuckDBPyConnection,
    table: str,
    feeds: tuple[str, ...],
    months: list[date],
    config_hash: str,
    inputs: tuple[str, ...] = (),
) -> list[date]:
    """Closed months never refreshed, whose latest refresh was under another config, with a
    delivery of one of ``feeds`` for a date in the month loaded after the refresh, or (a table
    computed from other monthly tables) with a month of one of ``inputs`` refreshed after it.

    Only the latest refresh of a month counts: the table holds what that refresh wrote, so a
    refresh under this config that an other config's refresh overwrote since is no use."""
    if not months:
        return []
    rows = con.execute(
        """
        with wanted as (select unnest($months::date[]) as month_start),
        last_refresh as (
            select month_start, max(refreshed_at) as refreshed_at,
                   arg_max(config_hash, refreshed_at) as config_hash
            from agg_refresh_log
            where table_name = $table
              and as_of_date = last_day(month_start)
            group by month_start
        )
        select w.month_start
        from wanted w left join last_refresh r using (month_start)
        where r.refreshed_at is null
           or r.config_hash is distinct from $config_hash
           or exists (
               select 1 from file_ledger f
               where f.feed in (select unnest($feeds::varchar[]))
                 and f.outcome in ('loaded', 'replaced')
                 and f.business_date between w.month_start
                     and last_day(w.month_start)
                 and f.received_at > r.refreshed_at)
           or exists (
               select 1 from agg_refresh_log i
               where i.table_name in (select unnest($inputs::varchar[]))
                 and i.month_start = w.month_start
                 and i.as_of_date = last_day(i.month_start)
                 and i.refreshed_at > r.refreshed_at)
        order by 1
        """,
        {
            "months": months,
            "table": table,
            "config_hash": config_hash,
            "feeds": list(feeds),
            "inputs": list(inputs),
        },
    ).fetchall()
    return [r[0] for r in rows]


def month_to_date_is_current(
    con: duckdb.DuckDBPyConnection,
    table: str,
    feeds: tuple[str, ...],
    month: date,
    as_of: date,
    config_hash: str,
    log: str = "agg_refresh_log",
) -> bool:
    """Whether ``table`` holds ``month``'s rows as of ``as_of`` (a date inside the month, its
    last day included) as this config computes them: the latest refresh logged for the month
    and date was under ``config_hash``, and no delivery of ``feeds`` for a date of the month
    up to ``as_of`` was loaded since. Deliveries after ``as_of`` do not matter: the rows as
    of a date see only what was loaded for that date and before. ``log``: the stored
    ``agg_refresh_log``, or ``agg_current_log``, this run's log of its temp month to date."""
    if not table_exists(con, log):
        return False
    row = con.execute(
        f"""
        select arg_max(config_hash, refreshed_at), max(refreshed_at)
        from {log}
        where table_name = $table and month_start = $month and as_of_date = $as_of
        """,
        {"table": table, "month": month, "as_of": as_of},
    ).fetchone()
    if not row or row[1] is None or row[0] != config_hash:
        return False
    later = con.execute(
        """
        select count(*) from file_ledger
        where feed in (select unnest($feeds::varchar[]))
          and outcome in ('loaded', 'replaced')
          and business_date between $month and $as_of
          and received_at > $refreshed_at
        """,
        {"feeds": list(feeds), "month": month, "as_of": as_of, "refreshed_at": row[1]},
    ).fetchone()
    return not (later and later[0])


def create_refresh_log(con: duckdb.DuckDBPyConnection) -> None:
    """``agg_refresh_log``: when each month of a monthly aggregate was last computed, as of
    which date and under which config (read by :func:`stale_months`)."""
    con.execute(
        "create table if not exists agg_refresh_log (table_name varchar, month_start date, "
        "as_of_date date, refreshed_at timestamp, config_hash varchar)"
    )


def log_refresh(
    con: duckdb.DuckDBPyConnection,
    table: str,
    months: list[date],
    as_of: date | None,
    config_hash: str,
) -> None:
    """Record ``months`` of ``table`` as computed now, as of ``as_of`` (None: each month's end)."""
    for m in months:
        con.execute(
            "insert into agg_refresh_log values (?, ?, ?, now(), ?)",
            [table, m, as_of or month_end(m), config_hash],
        )


def refresh_aggregates(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    window: Window,
    recompute_current: bool = True,
    engine: Engine | None = None,
) -> dict[str, object]:
    """Bring the monthly aggregates of the date's window up to date; return what was done.
    ``recompute_current`` False keeps the month to date when it is already as of the date.
    The tables are ``engine``'s (by default DuckDB on ``con``); the logs are ``con``'s."""
    done: dict[str, object] = {}
    for table, feeds in AGGREGATES.items():
        done.update(
            refresh_monthly(
                con,
                f"features/{table}",
                feeds,
                window,
                aggregate_config_hash(cfg, table),
                aggregate_params(cfg, table),
                recompute_current,
                engine,
            )
        )
    return done


def refresh_closed_months(
    con: duckdb.DuckDBPyConnection,
    sql_name: str,
    feeds: tuple[str, ...],
    months: list[date],
    config_hash: str,
    params: dict[str, Any],
    engine: Engine | None = None,
) -> list[date]:
    """Recompute the stale ones of closed ``months`` of a monthly table, one month per pass
    (a pass's memory and spill are a month's groups, not a year's: a first night at 2M
    customers spilled more than 34 GB computing its year in one pass); return them."""
    table = sql_name.rsplit("/", 1)[-1]
    eng = _engine(con, engine)
    create_refresh_log(con)
    stale = (
        stale_months(con, table, feeds, months, config_hash)
        if eng.table_exists(table)
        else list(months)
    )
    for month in stale:
        _replace_months(
            con, eng, sql_name, month, month, month_end(month), "month_start = $month_from", params
        )
        log_refresh(con, table, [month], None, config_hash)
    ensure_current_table(con, table, eng)
    return stale


def refresh_closed_aggregates(
    con: duckdb.DuckDBPyConnection, cfg: Config, months: list[date], engine: Engine | None = None
) -> int:
    """Bring the monthly aggregates of closed ``months`` up to date, also outside the date's
    window (the RM scorecard's start year reaches a month further back). Returns how many
    (table, month) pairs were recomputed."""
    return sum(
        len(
            refresh_closed_months(
                con,
                f"features/{table}",
                feeds,
                months,
                aggregate_config_hash(cfg, table),
                aggregate_params(cfg, table),
                engine,
            )
        )
        for table, feeds in AGGREGATES.items()
    )


def ensure_aggregates(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    business_date: date,
    when_missing: bool = False,
    engine: Engine | None = None,
) -> dict[str, object]:
    """Make the monthly aggregates hold what ``business_date`` reads, as this config computes
    them: for a stage run alone for any loaded date, in any order. Nothing is recomputed when
    they already do (the nightly run: the features stage just refreshed them).

    ``when_missing``: only when this run does not hold the month to date as of the date under
    this config (a stage run alone, or another date of the month replaced it), for a stage
    whose needs already prove the closed months current."""
    eng = _engine(con, engine)
    load_reference_tables(con, cfg, eng)
    if when_missing and _has_month_to_date(con, eng, cfg, business_date):
        return {}
    return refresh_aggregates(
        con, cfg, window_of(cfg, business_date), recompute_current=False, engine=eng
    )


def _has_month_to_date(
    con: duckdb.DuckDBPyConnection, engine: Engine, cfg: Config, business_date: date
) -> bool:
    """Whether this run holds every aggregate's month as of ``business_date`` as this config
    computes it, with no delivery for the month loaded since: in its scratch
    ``<table>_current`` (``agg_current_log``), or, on the month's last day, stored closed."""
    month = business_date.replace(day=1)
    log = "agg_refresh_log" if business_date == month_end(month) else "agg_current_log"
    for table, feeds in AGGREGATES.items():
        config_hash = aggregate_config_hash(cfg, table)
        if not (
            engine.table_exists(table)
            and month_to_date_is_current(con, table, feeds, month, business_date, config_hash, log)
        ):
            return False
    for table in AGGREGATES:
        ensure_current_table(con, table, engine)
    return True


def refresh_monthly(
    con: duckdb.DuckDBPyConnection,
    sql_name: str,
    feeds: tuple[str, ...],
    window: Window,
    config_hash: str,
    params: dict[str, Any],
    recompute_current: bool = True,
    engine: Engine | None = None,
) -> dict[str, object]:
    """Bring a monthly table (``sql_name``: ``<folder>/<table>``, grain month_start,
    as_of_date, …) up to date for the date's window and the month before it: closed months
    never computed, whose latest refresh was under another config, or with a delivery of one
    of ``feeds`` loaded since, a month per pass; then the business date's own month,
    recomputed by the stage that owns the table (``recompute_current``) or when this run does
    not hold it as of the date under this config.

    The month to date is not stored: it lives in the scratch table ``<table>_current`` of
    this run (``engine``'s; logged in ``con``'s temp ``agg_current_log``), which the later
    stages of the same run read beside the stored closed months; a stage run alone computes
    it again. On the month's last day the month is closed: it is stored as a closed month
    (as of that day) and ``<table>_current`` is empty."""
    table = sql_name.rsplit("/", 1)[-1]
    eng = _engine(con, engine)
    closed: list[date] = []
    m = window.oldest_month
    while m < window.month_start:
        closed.append(m)
        m = first_of_month(m, 1)
    stale = refresh_closed_months(con, sql_name, feeds, closed, config_hash, params, eng)
    cur, day = window.month_start, window.business_date
    rows: int | None = None
    if day == month_end(cur):
        if recompute_current or not (
            eng.table_exists(table)
            and month_to_date_is_current(con, table, feeds, cur, day, config_hash)
        ):
            rows = _replace_months(
                con, eng, sql_name, cur, cur, day, "month_start = $month_from", params
            )
            log_refresh(con, table, [cur], day, config_hash)
        _write_current(con, eng, sql_name, cur, day, params, empty=True)
    elif recompute_current or not month_to_date_is_current(
        con, table, feeds, cur, day, config_hash, log="agg_current_log"
    ):
        rows = _write_current(con, eng, sql_name, cur, day, params)
        con.execute("delete from agg_current_log where table_name = ?", [table])
        con.execute(
            "insert into agg_current_log values (?, ?, ?, now(), ?)", [table, cur, day, config_hash]
        )
    _drop_stored_month_to_date(con, eng, table, scan=recompute_current)
    return {
        f"{table}_months_refreshed": len(stale),
        f"{table}_current_rows": "kept" if rows is None else rows,
    }


def _write_current(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    sql_name: str,
    month: date,
    as_of: date,
    params: dict[str, Any],
    empty: bool = False,
) -> int:
    """Compute ``month``'s rows as of ``as_of`` into the scratch table ``<table>_current``
    (``empty``: none, the month is stored closed), with the stored table's columns in its
    order (the SQL files read both with ``union all``); the row count."""
    table = sql_name.rsplit("/", 1)[-1]
    model = load_sql(sql_path(sql_name))
    given = {**params, "month_from": month, "month_to": month, "as_of": as_of}
    args = {k: given[k] for k in model.params}
    _conform(con, engine, table, model.body, args)
    if not engine.table_exists(table):  # the stored table's columns, no row yet
        query = f"select * from ({model.body}) where false"
        engine.replace_where(table, query, "false", args, key="month_start")
    con.execute(
        "create temp table if not exists agg_current_log (table_name varchar, "
        "month_start date, as_of_date date, refreshed_at timestamp, config_hash varchar)"
    )
    if empty:
        engine.temp_query(f"{table}_current", f"select * from {table} limit 0")
        con.execute("delete from agg_current_log where table_name = ?", [table])
        return 0
    observe(con, model, args)
    columns = engine.columns(table)
    cols = ", ".join(f'"{n}"' for n, _ in columns)
    # in customer order: the window parts read it one range of customers at a time, and a
    # range then reads only its own row groups (DuckDB skips the others by their min and max)
    order = " order by customer_id" if "customer_id" in dict(columns) else ""
    return engine.temp_query(f"{table}_current", f"select {cols} from ({model.body}){order}", args)


def ensure_current_table(
    con: duckdb.DuckDBPyConnection, table: str, engine: Engine | None = None
) -> None:
    """Give this run an empty ``<table>_current`` when it has none (or one of other columns
    than the stored table's): the SQL files read it beside the stored months, also when they
    compute closed months only."""
    eng = _engine(con, engine)
    if not eng.table_exists(table):
        return
    want = eng.columns(table)
    if eng.table_exists(f"{table}_current") and eng.columns(f"{table}_current") == want:
        return
    eng.temp_query(f"{table}_current", f"select * from {table} limit 0")


def _drop_stored_month_to_date(
    con: duckdb.DuckDBPyConnection, engine: Engine, table: str, scan: bool
) -> None:
    """Delete the month-to-date row sets earlier versions stored (``as_of_date`` before the
    month's end): ``scan`` (the stage that owns the table) looks at every row, as some
    versions stored them without an ``agg_refresh_log`` entry; otherwise only those logged."""
    if scan:
        engine.delete_where(table, "as_of_date <> last_day(month_start)")
    else:
        partial = con.execute(
            "select distinct month_start, as_of_date from agg_refresh_log "
            "where table_name = ? and as_of_date <> last_day(month_start)",
            [table],
        ).fetchall()
        for month, as_of in partial:
            engine.delete_where(
                table,
                "month_start = $month and as_of_date = $as_of",
                {"month": month, "as_of": as_of},
            )
    con.execute(
        "delete from agg_refresh_log where table_name = ? and as_of_date <> last_day(month_start)",
        [table],
    )


def _part_is_current(
    con: duckdb.DuckDBPyConnection, table: str, window: Window, config_hash: str, part: str
) -> bool:
    """True when the stored part of the window (``closed``: its closed months; ``oldest``: the
    month before them) is what this config computes now: its latest write was under
    ``config_hash`` (a write under another config since replaced it, whatever an earlier write
    under this one did) and came after every month it sums was last refreshed."""
    first, last, marker = _part_months(window, part)
    row = con.execute(
        "select arg_max(config_hash, refreshed_at), max(refreshed_at) from agg_refresh_log "
        "where table_name = ? and month_start = ? and as_of_date = ?",
        [table, window.month_start, marker],
    ).fetchone()
    if not row or row[1] is None or row[0] != config_hash:
        return False
    latest = con.execute(
        "select max(refreshed_at) from agg_refresh_log where table_name in ? "
        "and month_start >= ? and month_start <= ? "
        "and as_of_date = last_day(month_start)",
        [list(AGGREGATES), first, last],
    ).fetchone()
    return latest is None or latest[0] is None or row[1] >= latest[0]


def _part_months(window: Window, part: str) -> tuple[date, date, date]:
    """First and last month a stored part sums, and the date its refresh is logged as of."""
    if part == "oldest":
        return window.oldest_month, window.oldest_month, month_end(window.oldest_month)
    marker = date.fromordinal(window.month_start.toordinal() - 1)
    return window.window_start, marker.replace(day=1), marker


def _write_part(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    table: str,
    params: dict[str, Any],
    window: Window,
    part: str,
    as_of: date,
) -> int:
    """Compute one part of ``table``'s window. The closed part is stored in ``table``; the
    month to date only lives in the scratch table ``<table>_current`` of this run (it is
    summed into the window the same night and recomputed the next), which saves writing it.

    A pass reads one range of ``params["chunk_customers"]`` customers (:func:`part_ranges`):
    the first replaces the part, the others are appended."""
    tagged, args = _tagged_part(table, params, window, part, as_of)
    model = load_sql(sql_path(f"{_PART_SQL[table]}/{table}"))
    target = f"{table}_current" if part == "current" else table
    rows = 0
    for i, (first, before) in enumerate(part_ranges(con, engine, window, params)):
        part_args = {**args, "customer_from": first, "customer_to": before}
        observe(con, model, part_args)
        if i > 0:  # appended: nothing deleted
            rows += engine.replace_where(target, tagged, "false", part_args)
        elif part == "current":
            rows += engine.temp_query(target, tagged, part_args)
        else:
            _conform(con, engine, table, tagged, part_args)
            rows += engine.replace_where(
                table,
                tagged,
                "window_month = $part_window_month and part = $part_name",
                {**part_args, "part_window_month": window.month_start, "part_name": part},
                key="window_month",
            )
    if part == "current" and engine.table_exists(table):
        engine.delete_where(table, "part = 'current'")  # month-to-date rows stored by old versions
    return rows


def part_ranges(
    con: duckdb.DuckDBPyConnection, engine: Engine, window: Window, params: dict[str, Any]
) -> list[tuple[str, str | None]]:
    """The customer ranges a window part is computed in: on DuckDB ranges of
    ``params["chunk_customers"]`` customers valid at the business date, so a pass groups a
    range's customers within the memory limit (one pass over every customer went out of
    core at 2M: docs/warehouse.md); its inputs are in customer order, so a pass reads only its
    range's row groups. On Spark one pass over every customer ("" to None)."""
    if engine.name != "duckdb":
        return [("", None)]
    return customer_ranges(con, window.business_date, params["chunk_customers"])


def _tagged_part(
    table: str, params: dict[str, Any], window: Window, part: str, as_of: date
) -> tuple[str, dict[str, Any]]:
    """The SQL of one part of ``table``'s window, its rows tagged with the part, and its args
    (every customer: ``customer_from`` '' and ``customer_to`` None)."""
    model = load_sql(sql_path(f"{_PART_SQL[table]}/{table}"))
    tagged = (
        f"select date '{window.month_start}' as window_month, '{part}' as part, "
        f"date '{as_of}' as as_of_date, * from ({model.body})"
    )
    given = {**params, "customer_from": "", "customer_to": None}
    return tagged, {k: given[k] for k in model.params}


_PART_SQL = {
    "agg_customer_feature_parts": "features",
    "agg_customer_card_spend_parts": "features",
    "agg_customer_contribution_parts": "contribution",
}
"""Window-part tables and the SQL folder of each."""


def refresh_window_parts(
    con: duckdb.DuckDBPyConnection,
    table: str,
    window: Window,
    params: dict[str, Any],
    config_hash: str,
    stored_parts: tuple[str, ...] = ("closed",),
    engine: Engine | None = None,
) -> dict[str, object]:
    """Write the window's parts of ``table``: the stored ones (``closed``: the closed months;
    ``oldest``: the month before them), each only when stale, and the month to date (every
    night, scratch table ``<table>_current``). A window is then the sum of its parts."""
    eng = _engine(con, engine)
    base = {**params, "month_start": window.month_start, "business_date": window.business_date}
    done: dict[str, object] = {}
    if stored_parts and eng.table_exists(table):
        # stored parts written by another version of the SQL are forgotten, not read
        probe = {**base, "month_from": window.month_start, "month_to": window.month_start}
        tagged, args = _tagged_part(table, probe, window, stored_parts[0], window.business_date)
        _conform(con, eng, table, tagged, args)
    for part in stored_parts:
        if _part_is_current(con, table, window, config_hash, part):
            continue
        first, last, marker = _part_months(window, part)
        months = {**base, "month_from": first, "month_to": last}
        done[f"{table}_{part}_rows"] = _write_part(con, eng, table, months, window, part, marker)
        log_refresh(con, table, [window.month_start], marker, config_hash)
    current = {**base, "month_from": window.month_start, "month_to": window.month_start}
    done[f"{table}_current_rows"] = _write_part(
        con, eng, table, current, window, "current", window.business_date
    )
    return done


def drop_current_parts(
    con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], engine: Engine | None = None
) -> None:
    """Free the month-to-date scratch tables once the window is built (later stages of the
    same run need the memory)."""
    eng = _engine(con, engine)
    for table in tables:
        eng.drop(f"{table}_current")


def run(ctx: StageContext) -> int:
    """Update the monthly aggregates and build the customer view for the date."""
    con, engine, cfg = ctx.con, ctx.engine, ctx.cfg
    window = window_of(cfg, ctx.business_date)
    load_reference_tables(con, cfg, engine)
    ctx.facts.update(refresh_aggregates(con, cfg, window, engine=engine))
    params = {
        **window.params(),
        "regular_inflow_min_amount": cfg.features.regular_inflow_min_amount,
        "regular_inflow_min_months": cfg.features.regular_inflow_min_months,
        "chunk_customers": cfg.warehouse.chunk_customers,
    }
    features_hash = cfg.section_fingerprint("features")
    for table in ("agg_customer_feature_parts", "agg_customer_card_spend_parts"):
        ctx.facts.update(
            refresh_window_parts(con, table, window, params, features_hash, engine=engine)
        )
    rows = engine.run_file("features/int_customer_features", params)
    parts = ("agg_customer_feature_parts", "agg_customer_card_spend_parts")
    drop_current_parts(con, parts, engine)
    ctx.facts["customers"] = rows
    return rows


STAGE = Stage(
    name="features",
    run=run,
    needs=("ingest",),
    reads=("stg_transactions", "hist_accounts", "hist_customers", "file_ledger"),
    writes=(
        "agg_account_balance_month",
        "agg_customer_txn_month",
        "agg_card_cycle_month",
        "agg_refresh_log",
        "agg_customer_feature_parts",
        "agg_customer_card_spend_parts",
        "int_customer_features",
    ),
    config_sections=("features", "economics"),
    engines=("duckdb", "spark"),
)
