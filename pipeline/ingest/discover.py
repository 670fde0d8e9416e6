"""Find a business date's files in the landing zone and read their control files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pipeline.config.ingest import IngestConfig
from pipeline.errors import ExtractError

LOAD_ORDER = ("BRCH", "CUST", "ACCT", "TXN")
_AMOUNT = re.compile(r"\d+\.\d{2}")


@dataclass(frozen=True)
class Control:
    file_name: str
    record_count: int
    amount_total: Decimal
    business_date: date


@dataclass(frozen=True)
class Delivery:
    feed: str
    channel: str | None
    business_date: date
    data_path: Path
    control_path: Path

    @property
    def file_name(self) -> str:
        return self.data_path.name


@dataclass(frozen=True)
class Missing:
    feed: str
    channel: str | None
    file_name: str
    required: bool
    reason: str


def load_threads(settings: IngestConfig, deliveries: list[Delivery]) -> int | None:
    """DuckDB threads to load these files with: one for a small date
    (``ingest.one_thread_below_mb``), else None (the warehouse's setting)."""
    size = sum(d.data_path.stat().st_size for d in deliveries if d.data_path.exists())
    return 1 if size < settings.one_thread_below_mb * 2**20 else None


def date_folder(landing_dir: Path, business_date: date) -> Path:
    return landing_dir / business_date.strftime("%Y%m%d")


def parse_control(delivery: Delivery) -> Control:
    """Read ``<data file>.ok``: ``name|count|amount|YYYYMMDD`` on one ASCII line.

    Raises
    ------
    ExtractError
        When the control file is malformed or names another file or date.
    """
    path = delivery.control_path
    try:
        text = path.read_text(encoding="ascii").strip()
    except UnicodeDecodeError:
        raise ExtractError(f"{path}: control file is not ASCII") from None
    parts = text.split("|")
    if len(parts) != 4:
        raise ExtractError(f"{path}: expected 'name|count|amount|YYYYMMDD', got {text[:80]!r}")
    name, count, amount, when = parts
    if name != delivery.file_name:
        raise ExtractError(f"{path}: names file {name!r}, expected {delivery.file_name!r}")
    if not count.isdigit():
        raise ExtractError(f"{path}: record count {count!r} is not a whole number")
    if not _AMOUNT.fullmatch(amount):
        raise ExtractError(f"{path}: amount total {amount!r} is not a decimal with 2 places")
    try:
        control_date = datetime.strptime(when, "%Y%m%d").date()
        total = Decimal(amount)
    except (ValueError, InvalidOperation):
        raise ExtractError(f"{path}: business date {when!r} is not YYYYMMDD") from None
    if control_date != delivery.business_date:
        raise ExtractError(
            f"{path}: business date {when} differs from the folder's "
            f"{delivery.business_date:%Y%m%d}"
        )
    return Control(name, int(count), total, control_date)


def discover(
    landing_dir: Path, cfg: IngestConfig, business_date: date
) -> tuple[list[Delivery], list[Missing]]:
    """The date's delivered files in load order, and the feeds not (yet) delivered.

    A data file counts as delivered only when its ``.ok`` control file exists beside it.
    """
    folder = date_folder(landing_dir, business_date)
    stamp = business_date.strftime("%Y%m%d")
    delivered: list[Delivery] = []
    missing: list[Missing] = []
    for feed in LOAD_ORDER:
        feed_cfg = cfg.feeds[feed]
        channels: list[str | None] = list(cfg.channels) if feed == "TXN" else [None]
        for channel in channels:
            name = feed_cfg.pattern.format(date=stamp, channel=channel or "")
            data = folder / name
            control = folder / (name + ".ok")
            if data.exists() and control.exists():
                delivered.append(Delivery(feed, channel, business_date, data, control))
            elif data.exists():
                missing.append(
                    Missing(feed, channel, name, feed_cfg.required, "no control file (.ok) yet")
                )
            elif feed_cfg.required:
                missing.append(Missing(feed, channel, name, True, "not delivered"))
    return delivered, missing
