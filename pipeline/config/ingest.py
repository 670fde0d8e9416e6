"""Configuration of the ingest stage: the landing-zone layout and how strict to be."""

from __future__ import annotations

import string
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict

from models.params.spec import CHANNELS, require_known


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileFormat(_Frozen):
    encoding: str = "gb18030"
    """Python codec name of the data files. GB18030 is a superset of GBK; prefer it."""
    delimiter: str = Field(default="|", min_length=1, max_length=1)
    """Field separator; the spec's ``|`` never occurs inside a field."""
    header: bool = False
    """True when the first line of every data file names the columns (it is skipped)."""
    bom: Literal["reject", "strip"] = "reject"
    """A data file that starts with a byte-order mark: ``reject`` it (the spec has none), or
    ``strip`` a mark of the configured encoding (a mark of another encoding is always
    rejected: the file is in the wrong encoding)."""

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


PLACEHOLDERS = ("date", "channel")


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is a plain file name with only ``{date}`` and ``{channel}`` in it.

    The name is built by replacing those two (never ``str.format``: a pattern must not look
    up attributes or items), and must name a file directly in the date folder.
    """
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"pattern {pattern!r}: {exc}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise ValueError(
                f"pattern {pattern!r}: unknown placeholder {shown}; "
                "only {date} (YYYYMMDD) and {channel} are known"
            )
    bare = pattern.replace("{date}", "").replace("{channel}", "")
    if "{" in bare or "}" in bare:
        raise ValueError(f"pattern {pattern!r}: a brace outside {{date}} or {{channel}}")
    if "/" in pattern or "\\" in pattern or "\0" in pattern or pattern.startswith("."):
        raise ValueError(
            f"pattern {pattern!r}: must be a file name directly in the date folder "
            "(no path separator, no leading dot)"
        )
    if "{date}" not in pattern:
        raise ValueError(f"pattern {pattern!r}: must contain {{date}}")
    return pattern


def file_name(pattern: str, stamp: str, channel: str | None = None) -> str:
    """The data file name of ``pattern`` for a date (YYYYMMDD) and channel."""
    return pattern.replace("{date}", stamp).replace("{channel}", channel or "")


class AmountLimits(_Frozen):
    """Bounds on the values of a row, beyond the spec's formats: a row outside them is
    quarantined at ingest rather than overflowing a later stage's sums."""

    max_amount: Decimal = Field(default=Decimal("10000000000"), gt=0, le=Decimal("1e14"))
    """Largest amount, fee, balance or credit limit in a row, CNY (10 billion by default; a
    DECIMAL(18,2) holds 1e16, and the features stage sums a year of balance-days)."""
    min_rate_percent: Decimal = Field(default=Decimal("-10"), ge=-100, le=0)
    """Smallest ``interest_rate`` (annual percent)."""
    max_rate_percent: Decimal = Field(default=Decimal("100"), gt=0, le=1000)
    """Largest ``interest_rate`` (annual percent)."""


class FeedConfig(_Frozen):
    pattern: str
    """Data file name, with ``{date}`` for YYYYMMDD and ``{channel}`` for transaction feeds;
    no other placeholder, no path separator. Matched exactly against the date folder."""
    required: bool = True
    """A required feed missing on a date makes the delivery incomplete (exit 3)."""
    columns: list[str] | None = None
    """The file's column order when it differs from the spec; names are the spec's."""

    @field_validator("pattern")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return check_pattern(value)


TUNING: JsonDict = {"tuning": True}
"""Marks a setting that changes how fast a stage runs, never its results: it is left out of the
inputs tokens (:meth:`pipeline.config.Config.section_fingerprint`)."""


class IngestConfig(_Frozen):
    format: FileFormat = FileFormat()
    feeds: dict[str, FeedConfig] = Field(
        default_factory=lambda: {
            "BRCH": FeedConfig(pattern="BRCH_{date}.dat", required=False),
            "CUST": FeedConfig(pattern="CUST_{date}.dat"),
            "ACCT": FeedConfig(pattern="ACCT_{date}.dat"),
            "TXN": FeedConfig(pattern="TXN_{channel}_{date}.dat"),
        }
    )
    """Feeds by name (BRCH, CUST, ACCT, TXN); loaded in that order each date."""
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    """Transaction channels expected every date, one TXN file each."""
    max_bad_rows: int = Field(default=1000, ge=0)
    """A file with more bad rows than this is rejected whole."""
    max_bad_row_fraction: float = Field(default=0.01, ge=0, le=1)
    """A file whose share of bad rows exceeds this is rejected whole."""
    max_line_bytes: int = Field(default=65536, ge=256, le=1 << 20)
    """A data file with a longer line is rejected whole (the spec's longest record is a few
    hundred bytes); bounds the memory one line can take."""
    limits: AmountLimits = AmountLimits()
    """Range checks on amounts, balances and rates."""
    snapshot_max_shrink: float = Field(default=0.05, ge=0, le=1)
    """A snapshot (CUST, ACCT, BRCH) that would close more than this share of the current
    records (customers, accounts, branches absent from it), or is empty while records are
    current, is held: nothing is applied, the date exits 3, until ``cvp accept --file``."""
    id_pattern: str | None = None
    """A regular expression (RE2) every identifier (``customer_id``, ``account_id``,
    ``txn_id``, ``branch_id`` and the other ``*_id`` columns) must match whole, e.g.
    ``[0-9A-Za-z_-]{1,32}``; a row with another id is quarantined. Empty: no check (it costs
    ~0.1-0.25 µs per value and thread, ~0.7 s of CPU a date at a million customers)."""
    unknown_customer: Literal["quarantine", "load"] = "quarantine"
    """An account or transaction whose customer_id is not a current customer: ``quarantine``
    it with the reason, or ``load`` it anyway (counted in ``cvp status``)."""
    one_thread_below_mb: float = Field(default=32, ge=0, json_schema_extra=TUNING)
    """A date whose delivered files total less than this many MB loads on one DuckDB thread
    (the warehouse's setting is restored after); a larger date uses the warehouse's threads.
    A date of ~30k transactions (60k customers, ~4 MB) is too small to split: on the 2-core
    machine one thread took ~25% less CPU and less wall time than two, and the next date's
    files are read and validated on the other core meanwhile. A million customers' ~490k
    transactions (~62 MB, more with the snapshots) loaded 7% faster on two threads than on
    one (``bench_ingest --customers 1000000 --days 22``). 0 never limits the threads."""
    commit_every_rows: int = Field(default=1_000_000, ge=0, json_schema_extra=TUNING)
    """A range (``cvp ingest --from D1 --to D2``) keeps consecutive dates in one transaction
    until this many rows are loaded, then commits: a commit costs about as much as loading a
    small date (WAL, checkpoint), and one per ~30k-row date made it most of the load time.
    A failure rolls back the open group; its dates are then redone one transaction each, so
    the dates before the failure are kept and the failure is reported as for one date. A kill
    loses at most the uncommitted group, which the next run loads. 0 commits every date."""
    commit_every_dates: int = Field(default=31, ge=1, json_schema_extra=TUNING)
    """A group commit holds at most this many dates, however few rows they have: 800 small
    dates in one uncommitted group held 1.45 GB (issue 14)."""
    commit_every_mb: float = Field(default=512, ge=0, json_schema_extra=TUNING)
    """... and at most this many MB of delivered files (0: no bound): the uncommitted group's
    memory follows the bytes it loaded, not only the rows."""

    @field_validator("feeds")
    @classmethod
    def _known_feeds(cls, feeds: dict[str, FeedConfig]) -> dict[str, FeedConfig]:
        unknown = set(feeds) - {"BRCH", "CUST", "ACCT", "TXN"}
        if unknown:
            raise ValueError(f"unknown feeds {sorted(unknown)}; known: BRCH, CUST, ACCT, TXN")
        missing = {"BRCH", "CUST", "ACCT", "TXN"} - set(feeds)
        if missing:
            raise ValueError(f"feeds {sorted(missing)} missing")
        from pipeline.ingest.contract import FEEDS

        for name, feed in feeds.items():
            spec = set(FEEDS[name].column_names)
            if feed.columns is not None and (
                set(feed.columns) != spec or len(feed.columns) != len(spec)
            ):
                raise ValueError(
                    f"{name}.columns must name each of the spec's columns once: "
                    f"missing {sorted(spec - set(feed.columns))}, "
                    f"unknown {sorted(set(feed.columns) - spec)}"
                )
        if "{channel}" not in feeds["TXN"].pattern:
            raise ValueError("TXN pattern must contain {channel}")
        for name in ("BRCH", "CUST", "ACCT"):
            if "{channel}" in feeds[name].pattern:
                raise ValueError(f"{name} pattern: {{channel}} is for transaction feeds only")
        return feeds

    @field_validator("id_pattern")
    @classmethod
    def _re2_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            con.execute("select regexp_full_match('x', ?)", [value]).fetchall()
        except duckdb.Error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        finally:
            con.close()
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: list[str]) -> list[str]:
        return require_known(channels, CHANNELS, "channels")
