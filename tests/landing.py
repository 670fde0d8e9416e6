"""Build tiny hand-made deliveries in the spec's format, for ingest tests."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal
from pathlib import Path

AMOUNT_FIELD = {"CUST": None, "BRCH": None, "ACCT": 6, "TXN": 8}


def write_feed(
    landing: Path,
    business_date: date,
    file_name: str,
    lines: list[str],
    *,
    feed: str,
    encoding: str = "gb18030",
    newline: str = "\n",
    count: int | None = None,
    amount: str | None = None,
    control: bool = True,
) -> Path:
    """Write a data file and, unless ``control`` is False, its ``.ok``.

    The control count and amount are computed from ``lines`` unless given explicitly.
    """
    folder = landing / business_date.strftime("%Y%m%d")
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / file_name
    data.write_bytes("".join(line + newline for line in lines).encode(encoding))
    if control:
        idx = AMOUNT_FIELD[feed]
        total = Decimal("0.00")
        if idx is not None:
            for line in lines:
                parts = line.split("|")
                with contextlib.suppress(ArithmeticError):
                    total += Decimal(parts[idx]) if len(parts) > idx and parts[idx] else 0
        n = len(lines) if count is None else count
        text = f"{file_name}|{n}|{amount if amount is not None else f'{total:.2f}'}|"
        text += business_date.strftime("%Y%m%d")
        (folder / (file_name + ".ok")).write_text(text + "\n", encoding="ascii")
    return data


def cust_line(cid: str, name: str = "张弢", status: str = "A", consent: str = "Y") -> str:
    return "|".join(
        [
            cid,
            name,
            "M",
            "19800101",
            "01",
            "110101198001010011",
            "13800001234",
            "BA",
            "EMP",
            "F",
            "410102",
            "B001",
            "",
            "20200101",
            "N",
            consent,
            status,
        ]
    )


def acct_line(aid: str, cid: str, balance: str = "100.00", product: str = "DDA") -> str:
    return "|".join(
        [aid, cid, product, "20200101", "", "", balance, "", "0.20", "CNY", "B001", "A", ""]
    )


def txn_line(
    tid: str,
    cid: str = "C1",
    aid: str = "A1",
    *,
    channel: str = "NET",
    day: str = "20261127",
    code: str = "TRI",
    direction: str = "C",
    amount: str = "100.00",
    fee: str = "0.00",
    mcc: str = "",
    cp_name: str = "李珅",
) -> str:
    return "|".join(
        [
            tid,
            day,
            "101500",
            cid,
            aid,
            channel,
            code,
            direction,
            amount,
            "CNY",
            fee,
            "6222000011112222",
            cp_name,
            "103",
            "",
            mcc,
            "",
            "",
        ]
    )
