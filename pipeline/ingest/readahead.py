"""Read and validate a date's files in a worker thread: part by part while the warehouse loads
the parts before, and the next dates' while this one loads.

Reading (hashing, decoding GB18030, splitting) and validating the rows against the spec need
no table of the warehouse, so they run on the other core, in the worker's own in-memory DuckDB,
while the warehouse's connection applies the parts read before (and commits the previous
date). A date is read in parts, in load order: each snapshot file alone, then the transaction
files together; the warehouse applies a part as soon as it is read, so at a million customers
the customers snapshot loads while the accounts snapshot is read, and only one snapshot's raw
rows are held at a time. What is left to the warehouse is what needs it: control totals and
strictness (from the figures the check returns), the txn_id probe of earlier dates, and the
writes.

``cvp ingest --from D1 --to D2`` calls :func:`pipeline.ingest.ingest_date` date by date; each
call also starts reading the next :data:`READ_AHEAD_DATES` calendar dates' delivered files, and
a later call takes such a read only if it is of the same files under the same configuration
and each part's files' checksums (data and control bytes, recomputed when the part is taken)
equal those of the bytes that were read. Anything else (another date, a file delivered or
re-sent since) is read afresh, so what is loaded and checksummed is always what is on disk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from pipeline.config import Config
from pipeline.errors import ExtractError
from pipeline.ingest.contract import FEEDS
from pipeline.ingest.discover import Delivery, discover, load_threads
from pipeline.ingest.reader import ReadFile, file_sha256, read_file, tagged
from pipeline.ingest.validate import (
    CheckedTransactions,
    check_transactions,
    in_row_groups,
    validate,
)


@dataclass(frozen=True)
class SnapshotRead:
    """One snapshot file, read, and its rows validated
    (:func:`pipeline.ingest.validate.validation_sql`; None: the file could not be parsed)."""

    file: ReadFile
    validated: pa.Table | None


@dataclass(frozen=True)
class TransactionsRead:
    """The date's transaction files, read, and their rows checked together, ``file_id`` being
    a file's position among them (None: no file was readable)."""

    files: list[ReadFile]
    checked: CheckedTransactions | None


Part = SnapshotRead | TransactionsRead


READ_AHEAD_DATES = 2
"""How many dates after the one loading are read ahead. With one, the reader and the
warehouse waited for each other whenever one date was slower on one side: at a million
customers both cores were busy only ~85% of the time."""

_AHEAD_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvp-read-ahead")
_NOW_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvp-read")
"""Reads ahead run in date order in one thread; the date being loaded is taken (or read, when
nothing usable was read ahead) in another, so it never queues behind later dates."""
_WORKER = threading.local()

Stamp = tuple[object, ...]
_ahead: dict[date, tuple[Stamp, DateReading]] = {}


def _stamp(cfg: Config, deliveries: list[Delivery]) -> Stamp:
    """What a read is of: the configuration and the files."""
    return (cfg.fingerprint(), tuple(d.data_path for d in deliveries))


def _groups(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """The parts of a date's read, in load order: each snapshot file, then the transaction
    files together."""
    txn = [d for d in deliveries if d.feed == "TXN"]
    return [[d] for d in deliveries if d.feed != "TXN"] + ([txn] if txn else [])


class DateReading:
    """A date's parts being read, one after the other, by ``pool``'s single thread."""

    def __init__(
        self, cfg: Config, deliveries: list[Delivery], pool: ThreadPoolExecutor, ahead: bool
    ) -> None:
        self._cfg, self._ahead = cfg, ahead
        self._threads = load_threads(cfg.ingest, deliveries)
        self._pending: list[tuple[list[Delivery], Future[Part]]] = [
            (group, pool.submit(read_part, cfg, group, self._threads))
            for group in _groups(deliveries)
        ]

    def parts(self) -> Iterator[Part]:
        """Each part as soon as it is read, in load order. A part read ahead whose files
        changed since, or whose read failed, is read again now (to raise that failure for this
        date). Parts are not kept once given: their rows are freed when the caller drops them.
        A caller that stops early (a failure while loading) cancels the parts not started."""
        try:
            while self._pending:
                group, reading = self._pending.pop(0)
                part = self._take(group, reading)
                del reading  # the future holds the part too
                yield part
                del part
        finally:
            self.cancel()

    def _take(self, group: list[Delivery], reading: Future[Part]) -> Part:
        if not self._ahead:
            return reading.result()
        try:
            part: Part | None = reading.result()
        except Exception:
            part = None
        if part is None or not _unchanged(part):
            part = _NOW_POOL.submit(read_part, self._cfg, group, self._threads).result()
        return part

    def cancel(self) -> None:
        """Drop the parts not started yet."""
        for _, reading in self._pending:
            reading.cancel()


def start_reading(
    cfg: Config, deliveries: list[Delivery], ahead_until: date | None = None
) -> DateReading:
    """The read of ``deliveries`` (one date's files, in order), then the next dates' reads
    started ahead, up to ``ahead_until`` only (the end of the range asked for; None: none, so
    a one-date ingest reads that date and nothing else). A read started ahead by an earlier
    call is taken when it is of the same files (and each part when they are unchanged)."""
    day = deliveries[0].business_date if deliveries else None
    entry = _ahead.pop(day, None) if day is not None else None
    if entry is not None and entry[0] == _stamp(cfg, deliveries):
        reading = entry[1]
    else:
        if entry is not None:
            entry[1].cancel()
        reading = DateReading(cfg, deliveries, _NOW_POOL, ahead=False)
    for stale in [d for d in _ahead if day is None or d <= day]:
        _ahead.pop(stale)[1].cancel()
    if day is not None:
        for k in range(1, READ_AHEAD_DATES + 1):
            if ahead_until is not None and day + timedelta(days=k) <= ahead_until:
                _read_ahead(cfg, day + timedelta(days=k))
    return reading


def _unchanged(part: Part) -> bool:
    """Whether every file of ``part`` is still on disk with the same bytes."""
    files = [part.file] if isinstance(part, SnapshotRead) else part.files
    try:
        return all(file_sha256(f.delivery) == f.sha256 for f in files)
    except ExtractError:  # now unreadable: read afresh, which rejects it
        return False


def _read_ahead(cfg: Config, day: date) -> None:
    """Start reading ``day``'s delivered files, unless the same read is already under way."""
    delivered, _ = discover(cfg.paths.landing_dir, cfg.ingest, day)
    stamp = _stamp(cfg, delivered)
    entry = _ahead.get(day)
    if entry is not None and entry[0] == stamp:
        return
    if entry is not None:
        _ahead.pop(day)[1].cancel()
    if delivered:
        _ahead[day] = (stamp, DateReading(cfg, delivered, _AHEAD_POOL, ahead=True))


def _worker_duckdb(threads: int | None) -> duckdb.DuckDBPyConnection:
    """The worker's own in-memory DuckDB, on ``threads`` threads (None: all cores)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_WORKER, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        row = con.execute("select current_setting('threads')").fetchone()
        _WORKER.con, _WORKER.cores = con, int(row[0]) if row else 1
        _WORKER.threads = _WORKER.cores
    wanted = threads or _WORKER.cores
    if wanted != _WORKER.threads:
        con.execute(f"set threads = {int(wanted)}")
        _WORKER.threads = wanted
    return con


def _close_worker() -> None:
    con: duckdb.DuckDBPyConnection | None = getattr(_WORKER, "con", None)
    if con is not None:
        con.close()
        del _WORKER.con


def release_read_memory() -> None:
    """Give back what reading took, for the stages after ingest: each reading thread's
    in-memory DuckDB is closed (it keeps the memory of its largest validation; the next read
    opens another) unless a read ahead is still pending, and Arrow's allocator returns the
    memory it no longer uses to the system."""
    if not _ahead:
        for pool in (_NOW_POOL, _AHEAD_POOL):
            pool.submit(_close_worker).result()
    pa.default_memory_pool().release_unused()


def read_part(cfg: Config, deliveries: list[Delivery], threads: int | None) -> Part:
    """Read one part of a date (:func:`_groups`): a snapshot file, its rows validated, or the
    transaction files (:func:`pipeline.ingest.reader.read_file`), their rows checked together;
    on ``threads`` DuckDB threads (:func:`pipeline.ingest.discover.load_threads` of the date)."""
    files = [read_file(cfg.ingest, d) for d in deliveries]
    con = _worker_duckdb(threads)
    if deliveries[0].feed != "TXN":
        (f,) = files
        validated = None
        if f.raw is not None:
            validated = validate(
                con,
                FEEDS[f.delivery.feed],
                tagged(f.raw.fields, 0),
                tagged(f.raw.misshapen, 0),
                f.delivery.business_date,
                cfg.ingest.limits,
                cfg.ingest.id_pattern,
            )
        return SnapshotRead(f, validated)
    fields, misshapen = [], []
    for i, f in enumerate(files):
        if f.raw is not None:
            fields.append(tagged(f.raw.fields, i, f.delivery.channel or ""))
            misshapen.append(tagged(f.raw.misshapen, i))
    checked = None
    if fields:
        checked = check_transactions(
            con,
            in_row_groups(pa.concat_tables(fields)),
            pa.concat_tables(misshapen),
            deliveries[0].business_date,
            cfg.ingest.limits,
            cfg.ingest.id_pattern,
        )
    return TransactionsRead(files, checked)
