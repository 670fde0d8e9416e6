"""The input contract of ``extract-spec.md`` as data: each feed's columns, types and codes.

The validating SQL in :mod:`pipeline.ingest.validate` is generated from these tables, so the
spec lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EDUCATION = ("PRI", "SEC", "JC", "BA", "MA", "PHD", "UNK")
OCCUPATION = ("STU", "EMP", "CIV", "SE", "FRM", "RET", "UNE", "OTH", "UNK")
INDUSTRY = tuple("ABCDEFGHIJKLMNOPQRST")
PRODUCTS = ("DDA", "TDA", "WMP", "FND", "INS", "CCD", "PLN", "MTG", "BLN")
TXN_CODES = ("DEP", "WDL", "TRI", "TRO", "PAY", "POS", "FEE", "PRB", "PRR", "LDR", "LRP", "QRY")

DIRECTION_OF_CODE = {
    "DEP": "C",
    "WDL": "D",
    "TRI": "C",
    "TRO": "D",
    "PAY": "D",
    "POS": "D",
    "FEE": "D",
    "PRB": "D",
    "PRR": "C",
    "LDR": "C",
    "LRP": "D",
    "QRY": "N",
}
"""Money into (C) or out of (D) the customer's account for each transaction code; N none."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    """One of: string, date, time, amount, rate, integer, code."""
    nullable: bool = False
    codes: tuple[str, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    """A regular expression the whole value must match (RE2 syntax)."""


@dataclass(frozen=True)
class Feed:
    name: str
    columns: tuple[Column, ...]
    amount_column: str | None
    """The column summed in the control file; None where the control amount is 0.00."""
    key: tuple[str, ...]
    """Columns unique within one file."""
    snapshot: bool
    table: str
    extra_checks: tuple[tuple[str, str], ...] = field(default=())
    """(SQL condition that is TRUE for a bad row, reason) pairs beyond the column checks; they
    may use ``$business_date`` and, for TXN, ``file_channel`` (the channel of the row's file)."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _s(name: str, nullable: bool = False, max_length: int | None = None) -> Column:
    return Column(name, "string", nullable, max_length=max_length)


def _c(name: str, codes: tuple[str, ...], nullable: bool = False) -> Column:
    return Column(name, "code", nullable, codes=codes)


CUST = Feed(
    name="CUST",
    columns=(
        _s("customer_id", max_length=20),
        _s("name"),
        _c("gender", ("M", "F", "U")),
        Column("birth_date", "date"),
        _c("id_type", ("01", "02", "03")),
        _s("id_number"),
        Column("mobile", "string", nullable=True, pattern=r"1[0-9]{10}"),
        _c("education", EDUCATION),
        _c("occupation", OCCUPATION),
        _c("industry", INDUSTRY, nullable=True),
        Column("region_code", "string", pattern=r"[0-9]{6}"),
        _s("home_branch_id"),
        _s("rm_id", nullable=True),
        Column("open_date", "date"),
        _c("business_license", ("Y", "N")),
        _c("marketing_consent", ("Y", "N")),
        _c("status", ("A", "C", "F")),
    ),
    amount_column=None,
    key=("customer_id",),
    snapshot=True,
    table="hist_customers",
)

ACCT = Feed(
    name="ACCT",
    columns=(
        _s("account_id"),
        _s("customer_id", max_length=20),
        _c("product_code", PRODUCTS),
        Column("open_date", "date"),
        Column("maturity_date", "date", nullable=True),
        Column("close_date", "date", nullable=True),
        Column("balance", "amount"),
        Column("credit_limit", "amount", nullable=True),
        Column("interest_rate", "rate", nullable=True),
        Column("currency", "string", pattern=r"[A-Z]{3}"),
        _s("branch_id"),
        _c("status", ("A", "C", "F", "D")),
        Column("days_past_due", "integer", nullable=True),
    ),
    amount_column="balance",
    key=("account_id",),
    snapshot=True,
    table="hist_accounts",
)

BRCH = Feed(
    name="BRCH",
    columns=(
        _s("branch_id"),
        _s("name"),
        Column("region_code", "string", pattern=r"[0-9]{6}"),
        _c("branch_type", ("FLG", "STD", "SUB", "SSB")),
        _c("market_area", ("Y", "N")),
        Column("open_date", "date"),
        _c("status", ("A", "C")),
    ),
    amount_column=None,
    key=("branch_id",),
    snapshot=True,
    table="hist_branches",
)

_direction_cases = " ".join(f"when '{k}' then '{v}'" for k, v in DIRECTION_OF_CODE.items())

TXN = Feed(
    name="TXN",
    columns=(
        _s("txn_id"),
        Column("txn_date", "date"),
        Column("txn_time", "time"),
        _s("customer_id", max_length=20),
        _s("account_id"),
        _s("channel"),
        _c("txn_code", TXN_CODES),
        _c("direction", ("C", "D", "N")),
        Column("amount", "amount"),
        Column("currency", "string", pattern=r"[A-Z]{3}"),
        Column("fee", "amount", nullable=True),
        _s("counterparty_account", nullable=True),
        _s("counterparty_name", nullable=True),
        _s("counterparty_bank", nullable=True),
        _s("counterparty_customer_id", nullable=True),
        Column("mcc", "string", nullable=True, pattern=r"[0-9]{4}"),
        _s("branch_id", nullable=True),
        _s("terminal_id", nullable=True),
    ),
    amount_column="amount",
    key=("txn_id",),
    snapshot=False,
    table="stg_transactions",
    extra_checks=(
        ("channel <> file_channel", "channel: differs from the file's channel"),
        ("txn_date > $business_date", "txn_date: after the business date"),
        (
            f"direction <> (case txn_code {_direction_cases} end)",
            "direction: inconsistent with txn_code",
        ),
        ("txn_code = 'QRY' and amount <> 0", "amount: an enquiry (QRY) must have amount 0"),
        ("file_channel = 'POS' and mcc is null", "mcc: required on card (POS) transactions"),
    ),
)

FEEDS = {f.name: f for f in (BRCH, CUST, ACCT, TXN)}
