"""Read a date's files in a worker thread, and the next date's while this one loads.

Reading (hashing, decoding GB18030, splitting) needs no database, so it can run on the other
core while DuckDB validates and commits. ``cvp ingest --from D1 --to D2`` calls
:func:`pipeline.ingest.ingest_date` date by date; each call also starts reading the next
calendar date's delivered files, and the next call takes that read only if it is
of the same files under the same configuration and each file's checksum (data and control
bytes, recomputed now) equals the one of the bytes that were read. Anything else (another
date, a file delivered or re-sent since) is read afresh, so what is loaded and checksummed is
always what is on disk.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from pipeline.config import Config
from pipeline.ingest.discover import Delivery, discover
from pipeline.ingest.reader import ReadFile, file_sha256, read_file

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvp-read")
_ahead: tuple[tuple[object, ...], Future[list[ReadFile]]] | None = None

Stamp = tuple[object, ...]


def _stamp(cfg: Config, deliveries: list[Delivery]) -> Stamp:
    """What a read is of: the configuration and the files."""
    return (cfg.fingerprint(), tuple(d.data_path for d in deliveries))


def start_reading(cfg: Config, deliveries: list[Delivery]) -> Future[list[ReadFile]]:
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


def _take(
    ahead: Future[list[ReadFile]] | None, cfg: Config, deliveries: list[Delivery]
) -> list[ReadFile]:
    """Runs in the worker after ``ahead`` (one worker, first in first out)."""
    if ahead is not None:
        try:
            files = ahead.result()
        except Exception:  # read again below, to raise it for this date
            files = None
        if files is not None and all(file_sha256(f.delivery) == f.sha256 for f in files):
            return files
    return read_all(cfg, deliveries)


def _read_next(cfg: Config, day: date) -> tuple[Stamp, Future[list[ReadFile]]] | None:
    landing: Path = cfg.paths.landing_dir
    delivered, _ = discover(landing, cfg.ingest, day)
    if not delivered:
        return None
    return _stamp(cfg, delivered), _POOL.submit(read_all, cfg, delivered)


def read_all(cfg: Config, deliveries: list[Delivery]) -> list[ReadFile]:
    """Each delivered file read (:func:`pipeline.ingest.reader.read_file`), in order."""
    return [read_file(cfg.ingest, d) for d in deliveries]
