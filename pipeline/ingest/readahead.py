"""Read and validate a date's files in a worker thread, the next dates' while this one loads.

Reading (hashing, decoding GB18030, splitting) and validating the rows against the spec need
no table of the warehouse, so they run on the other core, in the worker's own in-memory DuckDB,
while the warehouse's connection applies and commits the previous date. What is left to the
warehouse is what needs it: control totals and strictness (from the figures the check
returns), the txn_id probe of earlier dates, and the writes.

``cvp ingest --from D1 --to D2`` calls :func:`pipeline.ingest.ingest_date` date by date; each
call also starts reading the next :data:`READ_AHEAD_DATES` calendar dates' delivered files, and
a later call takes such a read only if it is of the same files under the same configuration
and each file's checksum (data and control bytes, recomputed now) equals the one of the bytes
that were read. Anything else (another date, a file delivered or re-sent since) is read
afresh, so what is loaded and checksummed is always what is on disk.
"""

from __future__ import annotations

import threading
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
class DateRead:
    files: list[ReadFile]
    """Every delivered file of the date, in load order."""
    validated: dict[str, pa.Table]
    """Validated rows (:func:`pipeline.ingest.validate.validation_sql`) by snapshot file name."""
    transactions: CheckedTransactions | None
    """Every readable transaction file's rows, checked, ``file_id`` being the file's position
    among the date's transaction files (None: no such file)."""


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
_ahead: dict[date, tuple[Stamp, Future[DateRead]]] = {}


def _stamp(cfg: Config, deliveries: list[Delivery]) -> Stamp:
    """What a read is of: the configuration and the files."""
    return (cfg.fingerprint(), tuple(d.data_path for d in deliveries))


def start_reading(
    cfg: Config, deliveries: list[Delivery], ahead_until: date | None = None
) -> Future[DateRead]:
    """The read of ``deliveries`` (one date's files, in order), then the next dates' reads
    started ahead, up to ``ahead_until`` only (the end of the range asked for; None: none, so
    a one-date ingest reads that date and nothing else). A read started ahead by an earlier
    call is taken when it is of the same files and they are unchanged since."""
    day = deliveries[0].business_date if deliveries else None
    entry = _ahead.pop(day, None) if day is not None else None
    ahead = None
    if entry is not None and entry[0] == _stamp(cfg, deliveries):
        ahead = entry[1]
    elif entry is not None:
        entry[1].cancel()
    reading = _NOW_POOL.submit(_take, ahead, cfg, deliveries)
    for stale in [d for d in _ahead if day is None or d <= day]:
        _ahead.pop(stale)[1].cancel()
    if day is not None:
        for k in range(1, READ_AHEAD_DATES + 1):
            if ahead_until is not None and day + timedelta(days=k) <= ahead_until:
                _read_ahead(cfg, day + timedelta(days=k))
    return reading


def _take(ahead: Future[DateRead] | None, cfg: Config, deliveries: list[Delivery]) -> DateRead:
    """The read ``ahead`` if its files are unchanged, else a fresh read."""
    if ahead is not None:
        try:
            read = ahead.result()
        except Exception:  # read again below, to raise it for this date
            read = None
        if read is not None and _unchanged(read):
            return read
    return read_date(cfg, deliveries)


def _unchanged(read: DateRead) -> bool:
    """Whether every file read is still on disk with the same bytes."""
    try:
        return all(file_sha256(f.delivery) == f.sha256 for f in read.files)
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
        _ahead[day] = (stamp, _AHEAD_POOL.submit(read_date, cfg, delivered))


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


def read_date(cfg: Config, deliveries: list[Delivery]) -> DateRead:
    """Read each delivered file (:func:`pipeline.ingest.reader.read_file`) and validate its
    rows: each snapshot file alone, the transaction files together."""
    files = [read_file(cfg.ingest, d) for d in deliveries]
    con = _worker_duckdb(load_threads(cfg.ingest, deliveries))
    validated: dict[str, pa.Table] = {}
    fields, misshapen = [], []
    txn = [f for f in files if f.delivery.feed == "TXN"]
    for f in files:
        if f.raw is None or f.delivery.feed == "TXN":
            continue
        d = f.delivery
        validated[d.file_name] = validate(
            con,
            FEEDS[d.feed],
            tagged(f.raw.fields, 0),
            tagged(f.raw.misshapen, 0),
            d.business_date,
            cfg.ingest.limits,
            cfg.ingest.id_pattern,
        )
    for i, f in enumerate(txn):
        if f.raw is not None:
            fields.append(tagged(f.raw.fields, i, f.delivery.channel or ""))
            misshapen.append(tagged(f.raw.misshapen, i))
    checked = None
    if fields:
        checked = check_transactions(
            con,
            in_row_groups(pa.concat_tables(fields)),
            pa.concat_tables(misshapen),
            txn[0].delivery.business_date,
            cfg.ingest.limits,
            cfg.ingest.id_pattern,
        )
    return DateRead(files, validated, checked)
