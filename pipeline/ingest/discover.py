"""Find a business date's files in the landing zone and read their control files."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pipeline.config.ingest import IngestConfig, file_name
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
    size = 0
    for d in deliveries:
        try:
            size += d.data_path.lstat().st_size
        except OSError:
            continue
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
        text = read_regular(path, max_bytes=4096).decode("ascii").strip()
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


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``, which must be a regular file itself (not a link to one).

    Opened with ``O_NOFOLLOW`` and ``O_NONBLOCK`` and checked with ``fstat`` on the open
    descriptor, so neither a link swapped in after discovery nor a FIFO or device is read
    (a FIFO would block, ``/dev/zero`` never ends).

    Raises
    ------
    ExtractError
        When the path is not a regular file, or is larger than ``max_bytes``.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise ExtractError(
                f"{path.name}: is a symbolic link; only regular files directly in the date "
                "folder are read"
            ) from None
        raise ExtractError(f"{path.name}: cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ExtractError(
                f"{path.name}: is {_kind(mode)}; only regular files directly in the date "
                "folder are read"
            )
        if max_bytes is None:
            return fh.read()
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ExtractError(f"{path.name}: larger than {max_bytes} bytes")
    return data


def _entries(folder: Path) -> dict[str, int]:
    """The date folder's entries by exact name, with their ``lstat`` mode (links not followed)."""
    try:
        with os.scandir(folder) as it:
            return {e.name: e.stat(follow_symlinks=False).st_mode for e in it}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def discover(
    landing_dir: Path, cfg: IngestConfig, business_date: date
) -> tuple[list[Delivery], list[Missing]]:
    """The date's delivered files in load order, and the feeds not (yet) delivered.

    A data file counts as delivered only when its ``.ok`` control file exists beside it.
    Names are matched exactly; only regular files directly in the date folder are taken. A
    link, folder, FIFO or device under an expected name is refused (``required``, whatever
    the feed: the delivery is not usable as it is) and nothing behind it is read.
    """
    folder = date_folder(landing_dir, business_date)
    stamp = business_date.strftime("%Y%m%d")
    linked = folder.is_symlink()
    entries = {} if linked else _entries(folder)
    delivered: list[Delivery] = []
    missing: list[Missing] = []
    for feed in LOAD_ORDER:
        feed_cfg = cfg.feeds[feed]
        channels: list[str | None] = list(cfg.channels) if feed == "TXN" else [None]
        for channel in channels:
            name = file_name(feed_cfg.pattern, stamp, channel)
            data = folder / name
            control = folder / (name + ".ok")
            unsafe = [
                f"{n} is {_kind(entries[n])}"
                for n in (name, name + ".ok")
                if n in entries and not stat.S_ISREG(entries[n])
            ]
            if linked:
                unsafe = [f"the date folder {folder.name} is a symbolic link"]
            if unsafe:
                missing.append(
                    Missing(
                        feed,
                        channel,
                        name,
                        True,
                        "rejected: " + "; ".join(unsafe) + "; only regular files directly in "
                        "the date folder are read: ask for the file itself",
                    )
                )
            elif name in entries and name + ".ok" in entries:
                delivered.append(Delivery(feed, channel, business_date, data, control))
            elif name in entries:
                missing.append(
                    Missing(feed, channel, name, feed_cfg.required, "no control file (.ok) yet")
                )
            elif feed_cfg.required:
                missing.append(Missing(feed, channel, name, True, "not delivered"))
    return delivered, missing
