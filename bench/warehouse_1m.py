"""A large synthetic warehouse written directly with SQL, for benchmarks.

The file generator (``cvp generate``) writes spec-format deliveries and is far too slow for a
million customers over a year. This module writes the warehouse's base tables directly: the
schema from :func:`pipeline.warehouse.migrate`, then ``INSERT ... SELECT`` from ``range()``
with hash-based pseudo-random values (deterministic for a seed), so the stages after ingest
can be timed at scale.

What it holds (defaults: 1,000,000 customers, 365 days ending 2026-11-27):

- ``hist_branches``: 200 branches, one in eight serving a market area.
- ``hist_customers``: one version per customer, valid from the first date.
- ``hist_accounts``: 1 to 5 accounts per customer (about 3): a demand deposit for everyone,
  then time deposits, wealth products, funds, insurance, credit cards and loans; balances in
  four quarterly versions, some loans and cards past due.
- ``stg_transactions``: about 0.2 transactions per customer per day across the five channels
  (NET, POS, ATM, CTR, TEL), each customer at its own rate (log-uniform over a 20-fold range)
  and 30% of them stopping at a random day of the year, so lifetime-value models see the
  heterogeneity and dropout they exist for; a realistic code, direction and MCC mix,
  counterparties on transfers (a share of them our own customers); plus about 1.5%
  merchant-like customers who receive many small TRI inflows from many distinct payers and pay
  a few suppliers round amounts.
- ``stg_transactions`` is stored in business-date order, as nightly ingest leaves it.
- ``file_ledger``: one ``loaded`` row per feed (and channel) and date, and a succeeded
  ``ingest`` row per date in ``run_ledger``, so later stages see the dates as ingested.

Usage::

    python -m bench.warehouse_1m var/bench/warehouse_1m.duckdb --customers 1000000
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipeline.ingest.txn_ids import ensure_ranges
from pipeline.warehouse import migrate

CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")
SERIAL_SQL = (
    "strftime(business_date, '%Y%m%d') || left(txn_id, 1) || lpad(substr(txn_id, 2), 12, '0')"
)
"""A generated transaction's id as a core system numbers it: the business date, the family's
letter, the serial. The ids of a date sort after those of every earlier date in every channel,
as most sources' do and as ingest's probe for ids loaded on another date expects: it then
reads no earlier date (pipeline/ingest/txn_ids.py). Numbered ``'T' || i`` before (session 16),
every date's ids overlapped every other's, and each bench night probed the year's transactions,
as no such bank's night does."""
BUILD_MEMORY = "12GB"
"""DuckDB's memory limit while a bench warehouse is built and its first night runs: half the
machine, so the build can share it (unlimited, the 2M reorder reached 20 GB, session 16)."""
MERCHANT_EVERY = 67
"""Customer numbers divisible by this are merchant-like (about 1.5% of customers)."""

_MACROS = """
create or replace temp macro u(x, salt) as (hash(x, salt) % 1000003) / 1000003.0;
create or replace temp macro cid(n) as 'C' || lpad(cast(n as varchar), 9, '0');
create or replace temp macro n_acc(c) as 1 + cast(hash(c, $seed, 'na') % 5 as integer);
create or replace temp macro prod(c, j) as case
    when j = 0 then 'DDA'
    else ['TDA', 'TDA', 'WMP', 'FND', 'INS', 'CCD', 'CCD', 'CCD', 'PLN', 'MTG', 'BLN', 'TDA']
         [1 + cast(hash(c, j, $seed, 'pr') % 12 as integer)]
    end;
create or replace temp macro aid(c, j) as 'A' || lpad(cast(c as varchar), 9, '0') || '-' || j;
create or replace temp table _ids_low as select j from range(0, 1048576) t(j);
create or replace temp table _ids_high as select k from range(0, 4096) t(k);
create or replace temp macro ids(first, n) as table
    select first + k * 1048576 + j as i
    from _ids_high, _ids_low
    where k <= n // 1048576 and k * 1048576 + j < n;
"""
"""``ids(first, n)`` is ``range(first, first + n)`` on both cores: DuckDB's ``range`` is read by
one thread, and the draws behind each id are the build's work (session 17: the 2M history
ran on one core). The same ids in another order; every table the build writes is
ordered, and its transactions are sorted by date, channel and id at the end. Up to 2^32 ids
a call (4096 × 2^20): a 4M-customer year draws 1.1 billion."""


DROPOUT_SHARE = 0.3
"""Share of customers who stop transacting at a uniform day of the year (BG/NBD's dropout)."""
KEEP_SHARE = 0.2696
"""Share of the uniform draws kept by the per-customer thinning: E[20^U / 20] = 19 / (20 ln 20)
= 0.317 times the share of the year customers are active (0.7 + 0.3 × 0.5 = 0.85), so the
kept rows average 0.2 transactions per customer per day."""

EVERYDAY_SQL = """
        insert into {table}
        with drawn as (
            select i,
                   1 + cast(hash(i, $seed, 'c') % $customers as bigint) as c,
                   $day_from + cast(hash(i, $seed, 'd') % $day_count as integer) as d,
                   u(i, $seed) as uc, u(i, 'code') as ux, u(i, 'amt') as ua
            from ids($id_from,
                       cast($customers * $day_count * 0.2 / $keep_share as bigint)) t(i)
        ),
        base as (
            -- each customer's own rate (log-uniform over 1..20, thinning the uniform draws) and,
            -- for some, a last active day: what BG/NBD models (heterogeneous Poisson + dropout)
            select *
            from drawn
            where u(i, 'keep') < pow(20, u(c, 'rate')) / 20
              and d < case when u(c, 'drop') < $dropout_share
                           then cast(u(c, 'drop_day') * $days as integer) else $days + 36500 end
        ),
        chan as (
            select *,
                   case when uc < 0.45 then 'NET' when uc < 0.70 then 'POS'
                        when uc < 0.82 then 'ATM' when uc < 0.92 then 'CTR' else 'TEL' end
                       as channel
            from base
        ),
        coded as (
            select *,
                   case channel
                       when 'POS' then 'POS'
                       when 'NET' then case when ux < 0.35 then 'TRO' when ux < 0.60 then 'PAY'
                                            when ux < 0.80 then 'TRI' when ux < 0.88 then 'PRB'
                                            when ux < 0.94 then 'PRR' else 'LRP' end
                       when 'ATM' then case when ux < 0.60 then 'WDL' when ux < 0.75 then 'DEP'
                                            when ux < 0.90 then 'QRY' else 'TRO' end
                       when 'CTR' then case when ux < 0.30 then 'DEP' when ux < 0.55 then 'WDL'
                                            when ux < 0.70 then 'TRO' when ux < 0.78 then 'PRB'
                                            when ux < 0.85 then 'PAY' when ux < 0.92 then 'TRI'
                                            else 'QRY' end
                       else case when ux < 0.50 then 'QRY' when ux < 0.80 then 'PAY'
                                 else 'TRO' end
                   end as txn_code
            from chan
        ),
        final as (
            select case when channel = 'POS' then 'P' else 'T' end || i as txn_id,
                   $start + d as txn_date,
                   make_time(cast(8 + hash(i, 'h') % 14 as bigint),
                             cast(hash(i, 'm') % 60 as bigint), 0.0) as txn_time,
                   cid(c) as customer_id,
                   case when channel = 'POS' and prod(c, 1) = 'CCD' and n_acc(c) > 1
                        then aid(c, 1) else aid(c, 0) end as account_id,
                   channel, txn_code,
                   case when txn_code in ('DEP', 'TRI', 'PRR', 'LDR') then 'C'
                        when txn_code = 'QRY' then 'N' else 'D' end as direction,
                   cast(case when txn_code = 'QRY' then 0
                             when txn_code = 'POS' then round(5 * pow(400, ua), 2)
                             when txn_code in ('PRB', 'PRR') then round(1000 * pow(100, ua), -2)
                             else round(20 * pow(1000, ua), 2) end as decimal(18, 2)) as amount,
                   'CNY' as currency,
                   cast(case when channel = 'CTR' and txn_code = 'TRO' then 2.00
                             when channel = 'ATM' and txn_code = 'WDL' and ua > 0.9 then 2.00
                             else 0.00 end as decimal(18, 2)) as fee,
                   case when txn_code in ('TRI', 'TRO', 'PAY')
                        then '6222' || lpad(cast(hash(i, 'cp') % 100000000 as varchar), 12, '0')
                   end as counterparty_account,
                   case when txn_code in ('TRI', 'TRO', 'PAY')
                        then '对手' || (hash(i, 'cp') % 100000) end as counterparty_name,
                   case when txn_code in ('TRI', 'TRO') then
                            case when hash(i, 'cb') % 10 < 4 then '102' else '103' end
                        when txn_code = 'PAY' then '105' end as counterparty_bank,
                   case when txn_code in ('TRI', 'TRO') and hash(i, 'cb') % 10 < 4
                        then cid(1 + hash(i, 'cp') % $customers) end as counterparty_customer_id,
                   case when channel = 'POS' then
                       ['5411', '5812', '5541', '5311', '5732', '4111', '5912', '7011', '5999',
                        '8062', '5411', '5812'][1 + cast(hash(i, 'mcc') % 12 as integer)]
                   end as mcc,
                   case when channel in ('CTR', 'ATM')
                        then 'B' || lpad(cast(1 + hash(c, $seed, 'hb') % 200 as varchar), 4, '0')
                   end as branch_id,
                   case when channel in ('ATM', 'POS') then 'TM' || (hash(i, 'tm') % 50000)
                   end as terminal_id,
                   $start + d + case when hash(i, 'late') % 200 = 0
                                          and d < $day_from + $day_count - 1
                                     then 1 else 0 end as business_date,
                   i as line_number
            from coded
        )
        select * from final
"""
"""Everyday transactions of ``$day_count`` days from day ``$day_from`` of the history: about 0.2
per customer per day, at each customer's own rate, until the customer's last active day."""

MERCHANT_INFLOW_SQL = """
        insert into {table}
        with base as (
            select i,
                   $merchant_every * (1 + cast(hash(i, $seed, 'mm')
                       % ($customers // $merchant_every) as bigint)) as c,
                   $day_from + cast(hash(i, $seed, 'md') % $day_count as integer) as d,
                   hash(i, $seed, 'payer') % 200000 as payer
            from ids($id_from,
                       cast($customers // $merchant_every * $day_count * 3 as bigint)) t(i)
        ),
        final as (
            select 'M' || i as txn_id, $start + d as txn_date,
                   make_time(cast(7 + hash(i, 'h') % 12 as bigint),
                             cast(hash(i, 'm') % 60 as bigint), 0.0) as txn_time,
                   cid(c) as customer_id, aid(c, 0) as account_id,
                   case when hash(i, 'ch') % 4 = 0 then 'CTR' else 'NET' end as channel,
                   'TRI' as txn_code, 'C' as direction,
                   cast(round(50 * pow(100, u(i, 'amt')), 2) as decimal(18, 2)) as amount,
                   'CNY' as currency, cast(0 as decimal(18, 2)) as fee,
                   '6217' || lpad(cast(payer as varchar), 12, '0') as counterparty_account,
                   '买家' || payer as counterparty_name,
                   case when payer % 3 = 0 then '102' else '104' end as counterparty_bank,
                   case when payer % 3 = 0 then cid(1 + payer * 5 % $customers)
                   end as counterparty_customer_id,
                   cast(null as varchar) as mcc,
                   cast(null as varchar) as branch_id, cast(null as varchar) as terminal_id,
                   $start + d as business_date, i as line_number
            from base
        )
        select * from final
"""
"""Merchant-like customers: ~3 small TRI inflows a day from many distinct payers."""

SUPPLIER_SQL = """
        insert into {table}
        with base as (
            select i,
                   $merchant_every * (1 + cast(hash(i, $seed, 'sm')
                       % ($customers // $merchant_every) as bigint)) as c,
                   $day_from + cast(hash(i, $seed, 'sd') % $day_count as integer) as d
            from ids($id_from,
                       cast($customers // $merchant_every * $day_count * 0.3 as bigint)) t(i)
        ),
        final as (
            select 'S' || i as txn_id, $start + d as txn_date, time '15:00:00' as txn_time,
                   cid(c) as customer_id, aid(c, 0) as account_id, 'NET' as channel,
                   'TRO' as txn_code, 'D' as direction,
                   cast(1000 * (1 + hash(i, 'amt') % 50) as decimal(18, 2)) as amount,
                   'CNY' as currency, cast(0 as decimal(18, 2)) as fee,
                   '6228' || lpad(cast(c * 3 + hash(i, 'sup') % 3 as varchar), 12, '0')
                       as counterparty_account,
                   '供应商' || (c * 3 + hash(i, 'sup') % 3) as counterparty_name,
                   '105' as counterparty_bank, cast(null as varchar) as counterparty_customer_id,
                   cast(null as varchar) as mcc, cast(null as varchar) as branch_id,
                   cast(null as varchar) as terminal_id,
                   $start + d as business_date, i as line_number
            from base
        )
        select * from final
"""
"""... and merchants pay a few suppliers round amounts, about twice a week."""


def insert_transactions(
    con: duckdb.DuckDBPyConnection,
    table: str,
    params: dict[str, object],
    day_from: int,
    day_count: int,
    id_from: int,
) -> None:
    """Append the transactions of days ``day_from`` .. ``day_from + day_count - 1`` of the
    history (0 = the first date) to ``table``, ids from ``id_from`` (beyond the ids already
    used when extending a warehouse by a day)."""
    p = {
        **params,
        "day_from": day_from,
        "day_count": day_count,
        "id_from": id_from,
        "keep_share": KEEP_SHARE,
        "dropout_share": DROPOUT_SHARE,
    }
    for sql in (EVERYDAY_SQL, MERCHANT_INFLOW_SQL, SUPPLIER_SQL):
        _con_exec(con, sql.format(table=table), p)


def load_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """The generator's temp macros (pseudo-random values, ids, products) for ``seed``."""
    for stmt in _MACROS.split(";"):
        if stmt.strip():
            # macros cannot take prepared parameters: inline the seed
            con.execute(stmt.replace("$seed", str(int(seed))))


def _con_exec(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> None:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    con.execute(sql, used)


def build_bench_warehouse(
    path: Path,
    customers: int = 1_000_000,
    days: int = 365,
    seed: int = 1,
    end: date = date(2026, 11, 27),
    memory_limit: str = BUILD_MEMORY,
) -> dict[str, object]:
    """Write a benchmark warehouse at ``path`` (replacing any file there).

    Parameters
    ----------
    path
        The DuckDB file to write.
    customers
        Number of personal customers.
    days
        Number of business dates, ending at ``end``.
    seed
        Salt of every pseudo-random choice; the same seed gives the same warehouse.
    end
        The last business date.
    memory_limit
        DuckDB's memory limit for the build (spilling beyond it): the reorder of a year of
        transactions otherwise takes 80% of the machine's memory at 2M customers.

    Returns
    -------
    dict
        Row counts per table, the first and last dates and the build time in seconds.
    """
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(path.suffix + ".wal")):
        stale.unlink(missing_ok=True)
    start = end - timedelta(days=days - 1)
    con = duckdb.connect(str(path), config={"memory_limit": memory_limit})
    migrate(con)
    p: dict[str, object] = {
        "seed": seed,
        "customers": customers,
        "days": days,
        "start": start,
        "end": end,
        "far": date(9999, 12, 31),
        "merchant_every": MERCHANT_EVERY,
    }
    load_macros(con, seed)

    _con_exec(
        con,
        """
        insert into hist_branches
        select 'B' || lpad(cast(b as varchar), 4, '0'), '网点' || b,
               '4101' || lpad(cast(b % 20 as varchar), 2, '0'),
               case when b % 25 = 0 then 'FLG' when b % 10 = 3 then 'SSB'
                    when b % 4 = 1 then 'SUB' else 'STD' end,
               case when b % 8 = 0 then 'Y' else 'N' end,
               date '2000-01-01' + cast(b * 17 as integer), 'A',
               hash(b), $start, $far
        from range(1, 201) t(b)
        """,
        p,
    )
    _con_exec(
        con,
        """
        insert into hist_customers
        select cid(c), '客户' || c,
               case when hash(c, $seed, 'g') % 2 = 0 then 'M' else 'F' end,
               date '1940-01-01' + cast(hash(c, $seed, 'b') % 24000 as integer),
               '01', '4101' || lpad(cast(c as varchar), 14, '0'),
               '138' || lpad(cast(c % 100000000 as varchar), 8, '0'),
               ['PRI', 'SEC', 'SEC', 'JC', 'BA', 'BA', 'MA', 'PHD', 'UNK']
                   [1 + cast(hash(c, $seed, 'e') % 9 as integer)],
               case when c % $merchant_every = 0 then 'SE'
                    else ['STU', 'EMP', 'EMP', 'EMP', 'CIV', 'SE', 'FRM', 'RET', 'RET', 'UNE',
                          'OTH', 'UNK'][1 + cast(hash(c, $seed, 'o') % 12 as integer)] end,
               case when hash(c, $seed, 'i') % 5 = 0 then null
                    else chr(65 + cast(hash(c, $seed, 'i2') % 20 as integer)) end,
               '4101' || lpad(cast(hash(c, $seed, 'r') % 20 as varchar), 2, '0'),
               'B' || lpad(cast(1 + hash(c, $seed, 'hb') % 200 as varchar), 4, '0'),
               case when hash(c, $seed, 'rm') % 10 < 3
                    then 'RM' || lpad(cast(hash(c, $seed, 'rm2') % 2000 as varchar), 4, '0')
               end,
               date '2000-01-01' + cast(hash(c, $seed, 'od') % 9000 as integer),
               case when c % $merchant_every = 0 and hash(c, $seed, 'bl') % 3 = 0 then 'Y'
                    else 'N' end,
               case when hash(c, $seed, 'mc') % 10 < 7 then 'Y' else 'N' end,
               'A', hash(c, $seed), $start, $far
        from range(1, $customers + 1) t(c)
        """,
        p,
    )
    # Four quarterly versions per account; balances drift between versions.
    _con_exec(
        con,
        """
        insert into hist_accounts
        with acc as (
            select c, j, prod(c, j) as product_code
            from range(1, $customers + 1) t(c), range(0, 5) s(j)
            where j < n_acc(c)
        ),
        ver as (
            select a.*, v,
                   $start + cast(v * $days // 4 as integer) as valid_from,
                   case when v = 3 then $far
                        else $start + cast((v + 1) * $days // 4 as integer) end as valid_to
            from acc a, range(0, 4) q(v)
        ),
        shaped as (
            select *,
                   case product_code
                       when 'DDA' then 20 * pow(2000, u(c * 7 + j, 'bal'))
                       when 'TDA' then 5000 * pow(100, u(c * 7 + j, 'bal'))
                       when 'WMP' then 50000 * pow(20, u(c * 7 + j, 'bal'))
                       when 'FND' then 5000 * pow(40, u(c * 7 + j, 'bal'))
                       when 'INS' then 10000 * pow(20, u(c * 7 + j, 'bal'))
                       when 'CCD' then 200 * pow(100, u(c * 7 + j, 'bal'))
                       when 'PLN' then 20000 * pow(10, u(c * 7 + j, 'bal'))
                       when 'MTG' then 300000 * pow(5, u(c * 7 + j, 'bal'))
                       else 100000 * pow(10, u(c * 7 + j, 'bal'))
                   end * (0.8 + 0.4 * u(c * 7 + j, v)) as bal,
                   case when product_code in ('CCD', 'PLN', 'MTG', 'BLN') then
                       case when u(c * 7 + j, 'dpd' || v) < 0.01 then 95
                            when u(c * 7 + j, 'dpd' || v) < 0.03 then 45
                            when u(c * 7 + j, 'dpd' || v) < 0.08 then 10
                            else 0 end
                   end as dpd
            from ver
        ),
        final as (
            select aid(c, j) as account_id, cid(c) as customer_id, product_code,
                   date '2010-01-01' + cast(hash(c, j, $seed, 'ao') % 5000 as integer)
                       as open_date,
                   case when product_code in ('TDA', 'WMP', 'PLN', 'MTG', 'BLN')
                        then date '2027-06-30' end as maturity_date,
                   cast(null as date) as close_date,
                   cast(round(bal, 2) as decimal(18, 2)) as balance,
                   case when product_code = 'CCD' then 50000.00 end as credit_limit,
                   cast(case product_code
                       when 'DDA' then 0.10 when 'TDA' then 1.45 when 'CCD' then 18.25
                       when 'PLN' then 3.60 when 'MTG' then 3.10 when 'BLN' then 3.85
                       else 0.0 end as decimal(12, 6)) as interest_rate,
                   'CNY' as currency,
                   'B' || lpad(cast(1 + hash(c, $seed, 'hb') % 200 as varchar), 4, '0')
                       as branch_id,
                   case when dpd >= 90 then 'D' else 'A' end as status,
                   cast(dpd as integer) as days_past_due,
                   hash(c, j, v) as row_hash, valid_from, valid_to
            from shaped
        )
        select * from final
        """,
        p,
    )
    insert_transactions(con, "stg_transactions", p, 0, days, 0)
    _con_exec(
        con,
        """
        insert into file_ledger
        with dates as (select $start + cast(d as integer) as business_date
                       from range(0, $days) t(d)),
        feeds as (
            select * from (values ('BRCH', null), ('CUST', null), ('ACCT', null),
                                  ('TXN', 'CTR'), ('TXN', 'ATM'), ('TXN', 'TEL'),
                                  ('TXN', 'NET'), ('TXN', 'POS')) f(feed, channel)
        )
        select case when channel is null then feed else feed || '_' || channel end
                   || '_' || strftime(business_date, '%Y%m%d') || '.dat',
               feed, channel, business_date, null, null, null, null, null, 0,
               'loaded', 'bench warehouse (bench/warehouse_1m.py)', now()
        from dates, feeds
        """,
        p,
    )
    _con_exec(
        con,
        """
        insert into run_ledger (run_id, stage, business_date, status, started_at, ended_at,
                                rows, message)
        select 'bench', 'ingest', $start + cast(d as integer), 'succeeded', now(), now(), 0,
               'bench warehouse (bench/warehouse_1m.py)'
        from range(0, $days) t(d)
        """,
        p,
    )
    order_transactions(con)
    counts = {
        t: con.execute(f"select count(*) from {t}").fetchone()[0]  # type: ignore[index]
        for t in ("hist_branches", "hist_customers", "hist_accounts", "stg_transactions")
    }
    con.execute("checkpoint")
    con.close()
    seconds = round(time.monotonic() - started, 1)
    return {**counts, "start": start, "end": end, "seconds": seconds}


def order_transactions(con: duckdb.DuckDBPyConnection) -> None:
    """Store ``stg_transactions`` in business-date order, as nightly ingest leaves it (it
    appends one delivery after another), so date filters can skip row groups (zone maps), with
    the ids of :data:`SERIAL_SQL`; and the per-date id ranges ingest keeps beside them."""
    con.execute("create or replace table _bench_txn as select * from stg_transactions")
    con.execute("delete from stg_transactions")
    con.execute(
        f"insert into stg_transactions select * replace ({SERIAL_SQL} as txn_id) "
        "from _bench_txn order by business_date, channel, line_number"
    )
    con.execute("drop table _bench_txn")
    ensure_ranges(con)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the benchmark warehouse.")
    parser.add_argument("path", type=Path, nargs="?", default=Path("var/bench/warehouse_1m.duckdb"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    args = parser.parse_args()
    summary = build_bench_warehouse(args.path, args.customers, args.days, args.seed, args.end)
    print(f"built {args.path} in {summary['seconds']} s: {summary}")


if __name__ == "__main__":
    main()
