"""Hand-made warehouse rows for the merchants tests: one builder per kind of customer.

Rows go straight into the base tables (``stg_transactions``, ``hist_*``) of a real DuckDB
warehouse; every amount is chosen so that the expected signals can be computed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal

import duckdb

FAR = date(9999, 12, 31)
BANK = "102"
OTHER_BANK = "105"


@dataclass
class Rows:
    """Rows for the base tables, appended by the builders and loaded by :meth:`load`."""

    customers: list[dict[str, object]] = field(default_factory=list)
    accounts: list[dict[str, object]] = field(default_factory=list)
    branches: list[dict[str, object]] = field(default_factory=list)
    txns: list[dict[str, object]] = field(default_factory=list)
    _n: int = 0

    def branch(self, branch_id: str, market: bool) -> None:
        self.branches.append(
            {"branch_id": branch_id, "market_area": "Y" if market else "N", "status": "A"}
        )

    def customer(
        self,
        cid: str,
        *,
        occupation: str = "EMP",
        licence: str = "N",
        home_branch: str = "B1",
        rm_id: str | None = None,
        name: str | None = None,
        balance: str = "50000.00",
        open_date: date = date(2015, 1, 1),
    ) -> str:
        self.customers.append(
            {
                "customer_id": cid,
                "name": name or f"客户{cid}",
                "occupation": occupation,
                "business_license": licence,
                "home_branch_id": home_branch,
                "rm_id": rm_id,
                "open_date": open_date,
                "status": "A",
            }
        )
        self.accounts.append(
            {
                "account_id": f"A{cid}",
                "customer_id": cid,
                "product_code": "DDA",
                "balance": Decimal(balance),
                "status": "A",
            }
        )
        return f"A{cid}"

    def txn(
        self,
        cid: str,
        day: date,
        code: str,
        direction: str,
        amount: float | str,
        *,
        cp_account: str | None = None,
        cp_name: str | None = None,
        cp_bank: str | None = OTHER_BANK,
        cp_customer: str | None = None,
        channel: str = "NET",
        branch: str | None = None,
    ) -> None:
        self._n += 1
        self.txns.append(
            {
                "txn_id": f"T{self._n:08d}",
                "txn_date": day,
                "txn_time": time(10, 0),
                "customer_id": cid,
                "account_id": f"A{cid}",
                "channel": channel,
                "txn_code": code,
                "direction": direction,
                "amount": Decimal(str(amount)),
                "currency": "CNY",
                "fee": Decimal("0"),
                "counterparty_account": cp_account,
                "counterparty_name": cp_name,
                "counterparty_bank": cp_bank if (cp_account or cp_name) else None,
                "counterparty_customer_id": cp_customer,
                "branch_id": branch,
                "business_date": day,
                "line_number": self._n,
            }
        )

    def load(self, con: duckdb.DuckDBPyConnection, since: date = date(2015, 1, 1)) -> None:
        """Insert every row; snapshots are one version valid from ``since`` onwards."""
        import polars as pl

        hist = {"row_hash": 0, "valid_from": since, "valid_to": FAR}
        for table, rows in [
            ("hist_customers", self.customers),
            ("hist_accounts", self.accounts),
            ("hist_branches", self.branches),
        ]:
            if rows:
                frame = pl.DataFrame([{**r, **hist} for r in rows], infer_schema_length=None)
                con.register("_rows", frame.to_arrow())
                con.execute(f"insert into {table} by name select * from _rows")
                con.unregister("_rows")
        if self.txns:
            frame = pl.DataFrame(self.txns, infer_schema_length=None)
            con.register("_rows", frame.to_arrow())
            con.execute("insert into stg_transactions by name select * from _rows")
            con.unregister("_rows")


def days(start: date, end: date) -> list[date]:
    """Every date from start to end inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
