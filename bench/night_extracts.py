"""One more business date of extracts, in the spec's format, for a bench warehouse's customers.

A bench warehouse (:mod:`bench.warehouse_1m`) holds a year of history written directly with
SQL. To time a whole night as cron runs it, ingest included, the night needs the next date's
landing folder: the CUST and ACCT snapshots of the same customers and accounts and the day's
transactions on the five channels, GB18030, each with its control file. Built here from the
warehouse itself, read-only:

- TXN: the day's transactions from the same generator (each customer's own rate, dropouts
  stay dropped, merchants keep trading), ids beyond the history's;
- ACCT: every current account version; a demand deposit of a customer who transacted that day
  moves by the day's net amount (floored at 0), so ingest writes new versions for those
  accounts only, as on a real night;
- CUST: every current customer version, unchanged.

Usage::

    python -m bench.night_extracts var/bench/night_1000000.duckdb var/bench/night_1000000_landing
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.warehouse_1m import MERCHANT_EVERY, SERIAL_SQL, insert_transactions, load_macros

CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")
NEW_IDS_FROM = 10**11
"""Transaction ids of the new day start here, beyond any id of the history."""

TXN_COLUMNS = """
    txn_id, strftime(txn_date, '%Y%m%d'), replace(cast(txn_time as varchar), ':', ''), customer_id,
    account_id, channel, txn_code, direction, cast(amount as varchar), currency,
    cast(fee as varchar), counterparty_account, counterparty_name, counterparty_bank,
    counterparty_customer_id, mcc, branch_id, terminal_id
"""
CUST_COLUMNS = """
    customer_id, name, gender, strftime(birth_date, '%Y%m%d'), id_type, id_number, mobile,
    education, occupation, industry, region_code, home_branch_id, rm_id,
    strftime(open_date, '%Y%m%d'), business_license, marketing_consent, status
"""
ACCT_COLUMNS = """
    account_id, customer_id, product_code, strftime(open_date, '%Y%m%d'),
    strftime(maturity_date, '%Y%m%d'), strftime(close_date, '%Y%m%d'), cast(balance as varchar),
    cast(credit_limit as varchar), cast(interest_rate as varchar), currency, branch_id, status,
    cast(days_past_due as varchar)
"""


def _write(
    con: duckdb.DuckDBPyConnection,
    source: str,
    columns: str,
    folder: Path,
    name: str,
    amount_column: str | None,
) -> int:
    """Write the rows of ``source`` as ``name`` (the spec's ``columns``, GB18030, ``|``, no
    header) and its control file (count and the sum of ``amount_column``, or 0.00)."""
    utf8 = folder / f".{name}.utf8"
    con.execute(
        f"copy (select {columns} from ({source})) to '{utf8}' "
        "(format csv, delimiter '|', header false, quote '\"')"
    )
    total = f"coalesce(sum({amount_column}), 0)" if amount_column else "0"
    count, amount = con.execute(f"select count(*), {total} from ({source})").fetchone()  # type: ignore[misc]
    with utf8.open(encoding="utf-8") as src, (folder / name).open("wb") as out:
        for chunk in iter(lambda: src.read(1 << 22), ""):
            out.write(chunk.encode("gb18030"))
    utf8.unlink()
    (folder / f"{name}.ok").write_text(
        f"{name}|{count}|{amount:.2f}|{folder.name}\n", encoding="ascii"
    )
    return int(count)


def write_next_day(warehouse: Path, landing: Path, seed: int = 1) -> dict[str, object]:
    """Write the landing folder of the day after the warehouse's last date; return its path,
    the rows per file and the seconds it took."""
    started = time.monotonic()
    con = duckdb.connect(str(warehouse), read_only=True)
    first, last = con.execute(
        "select min(business_date), max(business_date) from file_ledger"
    ).fetchone()  # type: ignore[misc]
    customers = con.execute("select count(*) from hist_customers").fetchone()[0]  # type: ignore[index]
    day = last + timedelta(days=1)
    days = (last - first).days + 1
    folder = landing / day.strftime("%Y%m%d")
    folder.mkdir(parents=True, exist_ok=True)
    params: dict[str, object] = {
        "seed": seed,
        "customers": customers,
        "days": days,
        "start": first,
        "end": last,
        "far": date(9999, 12, 31),
        "merchant_every": MERCHANT_EVERY,
    }
    load_macros(con, seed)
    con.execute("create temp table new_txn as select * from stg_transactions limit 0")
    insert_transactions(con, "new_txn", params, days, 1, NEW_IDS_FROM)
    con.execute(f"update new_txn set txn_id = {SERIAL_SQL}")
    rows: dict[str, int] = {}
    stamp = day.strftime("%Y%m%d")
    for channel in CHANNELS:
        rows[channel] = _write(
            con,
            f"select * from new_txn where channel = '{channel}' order by txn_id",
            TXN_COLUMNS,
            folder,
            f"TXN_{channel}_{stamp}.dat",
            "amount",
        )
    rows["CUST"] = _write(
        con,
        "select * from hist_customers where valid_to = date '9999-12-31' order by customer_id",
        CUST_COLUMNS,
        folder,
        f"CUST_{stamp}.dat",
        None,
    )
    con.execute(
        "create temp table moved as select account_id, "
        "sum(case direction when 'C' then amount when 'D' then -amount else 0 end) as net "
        "from new_txn group by account_id"
    )
    rows["ACCT"] = _write(
        con,
        "select a.* replace (case when a.product_code = 'DDA' and m.net is not null "
        "then cast(greatest(a.balance + m.net, 0) as decimal(18, 2)) else a.balance end "
        "as balance) from hist_accounts a left join moved m using (account_id) "
        "where a.valid_to = date '9999-12-31' order by account_id",
        ACCT_COLUMNS,
        folder,
        f"ACCT_{stamp}.dat",
        "balance",
    )
    con.close()
    return {"folder": folder, "date": day, **rows, "seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the next date's landing folder.")
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("landing", type=Path)
    args = parser.parse_args()
    print(write_next_day(args.warehouse, args.landing))


if __name__ == "__main__":
    main()
