"""Spec-format files: GB18030 text, ``|``-separated, no header, LF line ends, and a ``.ok``
control file written after its data file (extract-spec.md).

Money is formatted from integer cents, and control totals are integer sums, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.generate.ledger import CHANNELS, CODES, DIRECTION, Batch
from pipeline.generate.world import World

ENCODING = "gb18030"
# Days past due from which an account shows status D (delinquent): the default threshold.
DEFAULT_DAYS_PAST_DUE = 90


@dataclass(frozen=True)
class Written:
    """One delivered feed file."""

    name: str
    rows: int
    total_cents: int
    bytes: int


def cents_text(cents: pl.Expr) -> pl.Expr:
    """Format non-negative integer cents as ``123.45``."""
    return pl.concat_str(
        [(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)]
    )


def total_text(cents: int) -> str:
    """Control-file amount: exact decimal with two places."""
    return f"{cents // 100}.{cents % 100:02d}"


def write_feed(
    folder: Path, name: str, data: bytes, rows: int, total_cents: int, ymd: str
) -> Written:
    """Write a data file, then its control file ``<name>.ok``.

    Parameters
    ----------
    folder
        The business date's folder.
    name
        Data file name, e.g. ``TXN_NET_20261123.dat``.
    data
        Encoded file content.
    rows
        Record count for the control file.
    total_cents
        Control amount in cents.
    ymd
        Business date ``YYYYMMDD``.

    Returns
    -------
    Written
        What was delivered (bytes include the control file).
    """
    (folder / name).write_bytes(data)
    ok = f"{name}|{rows}|{total_text(total_cents)}|{ymd}\n".encode("ascii")
    (folder / f"{name}.ok").write_bytes(ok)
    return Written(name=name, rows=rows, total_cents=total_cents, bytes=len(data) + len(ok))


def _lines(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    return frame.select(pl.concat_str([pl.col(c) for c in columns], separator="|"))[:, 0]


def _join(lines: pl.Series) -> str:
    if len(lines) == 0:
        return ""
    return "\n".join(lines.to_list()) + "\n"


def ymd(day64: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` to ``YYYYMMDD`` strings."""
    text = np.asarray(day64).astype("datetime64[D]").astype(str)
    if text.size == 0:
        return text
    return np.char.replace(text, "-", "")


def customer_lines(w: World, index: np.ndarray) -> list[bytes]:
    """Encoded CUST lines (with LF) for the customers at ``index``, as they stand now."""
    if len(index) == 0:
        return []
    c = w.cust
    frame = pl.DataFrame(
        {
            "customer_id": c.customer_id[index],
            "name": c.name[index].astype(str),
            "gender": np.where(c.female[index], "F", "M"),
            "birth_date": ymd(c.birth_date[index]),
            "id_type": c.id_type[index],
            "id_number": c.id_number[index].astype(str),
            "mobile": c.mobile[index].astype(str),
            "education": c.education[index],
            "occupation": c.occupation[index],
            "industry": c.industry[index],
            "region_code": c.region[index],
            "home_branch_id": w.branches.ids[c.home_branch[index]],
            "rm_id": c.rm_id[index],
            "open_date": ymd(c.open_date[index]),
            "business_license": c.business_license[index],
            "marketing_consent": c.consent[index],
            "status": c.status[index],
        }
    )
    text = _lines(frame, frame.columns).to_list()
    return [(line + "\n").encode(ENCODING) for line in text]


def branch_file(w: World) -> tuple[bytes, int]:
    """BRCH content and row count."""
    frame = w.branches.frame
    return _join(_lines(frame, frame.columns)).encode(ENCODING), len(frame)


def _date_text(start: np.datetime64, day_offset: pl.Expr) -> pl.Expr:
    base = pl.lit(start.astype("datetime64[D]").astype(object)).cast(pl.Date)
    return (base + pl.duration(days=day_offset)).dt.strftime("%Y%m%d")


class AccountFormatter:
    """ACCT snapshots: the static parts of each line are built once, balances every day."""

    def __init__(self, w: World) -> None:
        a = w.acct
        owner = a.cust
        self._w = w
        head = _lines(
            pl.DataFrame(
                {
                    "account_id": a.account_id,
                    "customer_id": w.cust.customer_id[owner],
                    "product_code": a.product,
                    "open_date": a.open_date,
                    "maturity_date": a.maturity_date,
                }
            ),
            ["account_id", "customer_id", "product_code", "open_date", "maturity_date"],
        )
        limit = pl.Series("limit", a.limit_cents)
        middle = _lines(
            pl.DataFrame(
                {
                    "credit_limit": pl.select(
                        pl.when(pl.lit(pl.Series(a.product == "CCD")))
                        .then(cents_text(pl.lit(limit)))
                        .otherwise(pl.lit(""))
                    ).to_series(),
                    "rate": np.char.mod("%.2f", a.rate),
                    "currency": np.full(a.n, "CNY"),
                    "branch_id": w.branches.ids[a.branch],
                }
            ),
            ["credit_limit", "rate", "currency", "branch_id"],
        )
        self._static = pl.DataFrame(
            {
                "head": head,
                "middle": middle,
                "open_day": a.open_day,
                "credit": a.is_credit,
                "frozen": w.cust.status[owner] == "F",
            }
        )

    def snapshot(self, day: int) -> tuple[bytes, int, int]:
        """ACCT content, row count and balance total (cents) at the end of ``day``.

        Status is C once closed, F for a frozen customer's accounts, D from 90 days past due,
        A otherwise (an account 1-89 days past due is still A, with its days past due).
        """
        a = self._w.acct
        balance = np.maximum(a.balance, 0)
        closed = pl.col("close_day") <= day
        frame = (
            self._static.with_columns(
                close_day=pl.Series(a.close_day),
                balance_cents=pl.Series(balance),
                days_past_due=pl.Series(a.days_past_due(day)),
            )
            .filter(pl.col("open_day") <= day)
            .with_columns(
                close=pl.when(closed)
                .then(_date_text(self._w.start, pl.col("close_day")))
                .otherwise(pl.lit("")),
                balance=cents_text(pl.col("balance_cents")),
                status=pl.when(closed)
                .then(pl.lit("C"))
                .when(pl.col("frozen"))
                .then(pl.lit("F"))
                .when(pl.col("days_past_due") >= DEFAULT_DAYS_PAST_DUE)
                .then(pl.lit("D"))
                .otherwise(pl.lit("A")),
                dpd=pl.when(pl.col("credit") & ~closed)
                .then(pl.col("days_past_due").cast(pl.String))
                .when(pl.col("credit"))
                .then(pl.lit("0"))
                .otherwise(pl.lit("")),
            )
        )
        lines = _lines(frame, ["head", "close", "balance", "middle", "status", "dpd"])
        total = int(frame["balance_cents"].sum())
        return _join(lines).encode("ascii"), len(frame), total


class TransactionFormatter:
    """TXN files per channel, built with polars gathers from integer columns."""

    def __init__(self, w: World) -> None:
        self._w = w
        self._cust_ids = pl.Series(w.cust.customer_id)
        self._acct_ids = pl.Series(w.acct.account_id)
        self._branch_ids = pl.Series([*w.branches.ids.tolist(), ""])
        self._registry = w.registry
        self._codes = pl.Series(CODES)
        self._directions = pl.Series([DIRECTION[c] for c in CODES])
        self._channels = pl.Series(CHANNELS)

    def files(
        self, batch: Batch, day: int, late: np.ndarray, seconds: np.ndarray
    ) -> dict[str, tuple[bytes, int, int]]:
        """TXN content per channel: (bytes, row count, amount total in cents).

        Parameters
        ----------
        batch
            The day's kept rows.
        day
            Window day (business date).
        late
            Days each row's txn_date lies before the business date (0, 1 or 2).
        seconds
            Time of day of each row.
        """
        w = self._w
        date_text = str(ymd(np.asarray(w.start + np.timedelta64(day, "D"))))
        blank = len(self._registry) - 1
        reg = self._registry[np.where(batch.cp >= 0, batch.cp, blank)]
        branch_no = np.where(batch.branch >= 0, batch.branch, len(self._branch_ids) - 1)
        sec = pl.col("seconds")
        two = [(sec // 3600), (sec // 60 % 60), (sec % 60)]
        frame = pl.DataFrame(
            {
                "channel_no": batch.channel,
                "seconds": seconds,
                "late": late,
                "customer_id": self._cust_ids.gather(batch.cust),
                "account_id": self._acct_ids.gather(batch.acct),
                "channel": self._channels.gather(batch.channel),
                "txn_code": self._codes.gather(batch.code),
                "direction": self._directions.gather(batch.code),
                "amount_cents": batch.amount,
                "fee_cents": batch.fee,
                "counterparty_account": reg["cp_account"],
                "counterparty_name": reg["cp_name"],
                "counterparty_bank": reg["cp_bank"],
                "counterparty_customer_id": reg["cp_customer_id"],
                "cp_terminal": reg["cp_terminal"],
                "mcc_no": batch.mcc,
                "branch_id": self._branch_ids.gather(branch_no),
                "terminal_no": batch.terminal,
            }
        ).sort(["channel_no", "seconds", "account_id"])
        frame = frame.with_columns(
            txn_date=_date_text(w.start, day - pl.col("late")),
            txn_time=pl.concat_str([p.cast(pl.String).str.zfill(2) for p in two]),
            amount=cents_text(pl.col("amount_cents")),
            currency=pl.lit("CNY"),
            fee=cents_text(pl.col("fee_cents")),
            mcc=pl.when(pl.col("mcc_no") >= 0)
            .then(pl.col("mcc_no").cast(pl.String).str.zfill(4))
            .otherwise(pl.lit("")),
            terminal_id=pl.when(pl.col("channel") == "POS")
            .then(pl.col("cp_terminal"))
            .when(pl.col("terminal_no") >= 0)
            .then(
                pl.concat_str(
                    [
                        pl.col("branch_id"),
                        pl.when(pl.col("channel") == "CTR")
                        .then(pl.lit("T"))
                        .otherwise(pl.lit("A")),
                        pl.col("terminal_no").cast(pl.String).str.zfill(2),
                    ]
                )
            )
            .otherwise(pl.lit("")),
            txn_id=pl.concat_str(
                [
                    pl.col("channel"),
                    pl.lit(date_text),
                    (pl.int_range(pl.len()).over("channel_no") + 1).cast(pl.String).str.zfill(8),
                ]
            ),
        )
        columns = [
            "txn_id",
            "txn_date",
            "txn_time",
            "customer_id",
            "account_id",
            "channel",
            "txn_code",
            "direction",
            "amount",
            "currency",
            "fee",
            "counterparty_account",
            "counterparty_name",
            "counterparty_bank",
            "counterparty_customer_id",
            "mcc",
            "branch_id",
            "terminal_id",
        ]
        out: dict[str, tuple[bytes, int, int]] = {}
        for number, name in enumerate(CHANNELS):
            part = frame.filter(pl.col("channel_no") == number)
            total = int(part["amount_cents"].sum()) if len(part) else 0
            out[name] = (_join(_lines(part, columns)).encode(ENCODING), len(part), total)
        return out
