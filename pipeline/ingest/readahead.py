"""Read and validate a date's files in a worker thread, the next date's while this one loads.

Reading (hashing, decoding GB18030, splitting) and validating the rows against the spec need
no table of the warehouse, so they run on the other core, in the worker's own in-memory DuckDB,
while the warehouse's connection applies and commits the previous date. What is left to the
warehouse is what needs it: control totals and strictness (from the validated rows), the
txn_id probe of earlier dates, and the writes.

``cvp ingest --from D1 --to D2`` calls :func:`pipeline.ingest.ingest_date` date by date; each
call also starts reading the next calendar date's delivered files, and the next call takes
that read only if it is of the same files under the same configuration and each file's
checksum (data and control bytes, recomputed now) equals the one of the bytes that were read.
Anything else (another date, a file delivered or re-sent since) is read afresh, so what is
loaded and checksummed is always what is on disk.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from pipeline.config import Config
from pipeline.ingest.contract import FEEDS, TXN
from pipeline.ingest.discover import Delivery, discover, load_threads
from pipeline.ingest.reader import ReadFile, file_sha256, read_file, tagged
from pipeline.ingest.validate import validate


@dataclass(frozen=True)
class DateRead:
    files: list[ReadFile]
    """Every delivered file of the date, in load order."""
    validated: dict[str, pa.Table]
    """Validated rows (:func:`pipeline.ingest.validate.validation_sql`) by snapshot file name,
    and under ``TXN`` those of every readable transaction file, ``file_id`` being the file's
    position among the date's transaction files."""


_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvp-read")
_WORKER = threading.local()
_ahead: tuple[tuple[object, ...], Future[DateRead]] | None = None

Stamp = tuple[object, ...]


def _stamp(cfg: Config, deliveries: list[Delivery]) -> Stamp:
    """What a read is of: the configuration and the files."""
    return (cfg.fingerprint(), tuple(d.data_path for d in deliveries))


def start_reading(cfg: Config, deliveries: list[Delivery]) -> Future[DateRead]:
    """The read of ``deliveries`` (one date's files, in order), then the next calendar
    date's read started ahead. The read started ahead by the previous call is taken when it is
    of the same files and they are unchanged since."""
    global _ahead
    stamp = _stamp(cfg, deliveries)
    ahead = _ahead[1] if _ahead is not None and _ahead[0] == stamp else None
    reading = _POOL.submit(_take, ahead, cfg, deliveries)
    _ahead = None
    if deliveries:
        _ahead = _read_next(cfg, deliveries[0].business_date + timedelta(days=1))
    return reading


def _take(ahead: Future[DateRead] | None, cfg: Config, deliveries: list[Delivery]) -> DateRead:
    """Runs in the worker after ``ahead`` (one worker, first in first out)."""
    if ahead is not None:
        try:
            read = ahead.result()
        except Exception:  # read again below, to raise it for this date
            read = None
        if read is not None and all(file_sha256(f.delivery) == f.sha256 for f in read.files):
            return read
    return read_date(cfg, deliveries)


def _read_next(cfg: Config, day: date) -> tuple[Stamp, Future[DateRead]] | None:
    delivered, _ = discover(cfg.paths.landing_dir, cfg.ingest, day)
    if not delivered:
        return None
    return _stamp(cfg, delivered), _POOL.submit(read_date, cfg, delivered)


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
        )
    for i, f in enumerate(txn):
        if f.raw is not None:
            fields.append(tagged(f.raw.fields, i, f.delivery.channel or ""))
            misshapen.append(tagged(f.raw.misshapen, i))
    if fields:
        validated["TXN"] = validate(
            con,
            TXN,
            pa.concat_tables(fields),
            pa.concat_tables(misshapen),
            txn[0].delivery.business_date,
        )
    return DateRead(files, validated)
