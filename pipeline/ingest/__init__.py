"""The ingest stage: a business date's delivered files into the warehouse, exactly once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipeline.config import Config
from pipeline.ingest.contract import FEEDS
from pipeline.ingest.discover import Missing, discover, load_threads
from pipeline.ingest.load import NOT_SEEN, FileOutcome, Previous, load_file, previous_entries
from pipeline.ingest.publish import publish_date
from pipeline.ingest.readahead import SnapshotRead, start_reading
from pipeline.ingest.reader import ReadFile
from pipeline.ingest.transactions import load_transactions
from pipeline.progress import RunProgress
from pipeline.warehouse import RunLedger, transaction

if TYPE_CHECKING:
    from pipeline.engine.spark_engine import SparkEngine

APPLIED = ("loaded", "replaced")
"""The outcomes of a file whose rows the warehouse took."""


@contextmanager
def duckdb_threads(con: duckdb.DuckDBPyConnection, threads: int | None) -> Iterator[None]:
    """DuckDB's thread count set to ``threads`` (None: unchanged) inside the block only."""
    if threads is None:
        yield
        return
    row = con.execute("select current_setting('threads')").fetchone()
    before = int(row[0]) if row else threads
    con.execute(f"set threads = {int(threads)}")
    try:
        yield
    finally:
        con.execute(f"set threads = {before}")


@dataclass
class DateIngest:
    business_date: date
    files: list[FileOutcome] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    bytes_delivered: int = 0
    """The size of the date's delivered data files (a group commit is bounded by it)."""

    @property
    def incomplete(self) -> list[str]:
        """Why the delivery is incomplete: required feeds missing or rejected."""
        out = [f"{m.file_name}: {m.reason}" for m in self.missing if m.required]
        out += [
            f"{f.file_name}: {f.outcome}: {f.message}"
            for f in self.files
            if f.outcome in ("rejected", "held")
        ]
        return out

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)


def ingest_date(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    business_date: date,
    log: logging.Logger,
    own_transaction: bool = True,
    ahead_until: date | None = None,
    lake: SparkEngine | None = None,
) -> DateIngest:
    """Load every delivered file of ``business_date`` in feed order; report what is missing.

    The date is one transaction (with ``own_transaction`` False, part of the caller's): a
    failure or a kill part-way leaves the warehouse as it was
    before the date, and the next run does the date again (files already loaded in an earlier
    run are recognised by checksum and skipped). The files are read (hashed, decoded, split)
    and their rows validated in a worker thread, part by part while the parts before load, and
    the next dates' while this one loads (:mod:`pipeline.ingest.readahead`; only dates up to
    ``ahead_until``, the end of the range asked for); here snapshots load file by file, then
    the transaction files together (:mod:`pipeline.ingest.transactions`). With ``lake``
    (Spark), what the date changed is published there before the commit
    (:mod:`pipeline.ingest.publish`).
    """
    delivered, missing = discover(cfg.paths.landing_dir, cfg.ingest, business_date)
    # a file loaded before and since archived or moved away is done, not missing: the
    # warehouse holds its rows (issue 14: re-running an old date after the zone was archived)
    loaded = {n for n, p in previous_entries(con, business_date).items() if p.ever_loaded}
    gone = [m for m in missing if m.file_name in loaded]
    missing = [m for m in missing if m.file_name not in loaded]
    if gone:
        log.info(
            f"{len(gone)} file(s) loaded before are no longer in the landing zone: done, "
            "files gone",
            extra={"business_date": business_date, "stage": "ingest"},
        )
    result = DateIngest(
        business_date,
        missing=missing,
        bytes_delivered=sum(d.data_path.stat().st_size for d in delivered),
    )
    for m in missing:
        level = logging.WARNING if m.required else logging.INFO
        log.log(level, f"{m.file_name}: {m.reason}", extra={"business_date": business_date})
    reading = start_reading(cfg, delivered, ahead_until)
    atomic: AbstractContextManager[object] = transaction(con) if own_transaction else nullcontext()
    with duckdb_threads(con, load_threads(cfg.ingest, delivered)), atomic:
        seen = previous_entries(con, business_date)
        histories: set[str] = set()  # the history tables the date changed
        channels: list[str] = []  # the channels whose transaction rows it replaced
        for part in reading.parts():
            if isinstance(part, SnapshotRead):
                f = part.file
                previous = seen.get(f.delivery.file_name, NOT_SEEN)
                outcome = _load_logged(con, cfg, f, part.validated, previous, log)
                result.files.append(outcome)
                # its rows are in the warehouse: free them before the next part (at a million
                # customers the CUST file's ~350 MB, while the larger ACCT file is read)
                del part, f
                pa.default_memory_pool().release_unused()
                if outcome.outcome in APPLIED:
                    histories.add(FEEDS[outcome.feed].table)
                if outcome.feed == "CUST" and outcome.outcome in APPLIED:
                    # accounts and transactions of the date were judged against the old
                    # customers (a late or re-sent CUST): judge them again
                    seen = {n: replace(p, again=True) for n, p in seen.items()}
            else:
                started = time.monotonic()
                outcomes = load_transactions(
                    con, cfg, business_date, part.files, part.checked, seen, lake
                )
                channels += [
                    f.delivery.channel or ""
                    for f, o in zip(part.files, outcomes, strict=True)
                    if o.outcome in APPLIED
                ]
                seconds = (time.monotonic() - started) / len(part.files)
                for outcome in outcomes:
                    _log(log, outcome, business_date, seconds)
                result.files += outcomes
        if lake is not None and (histories or channels):
            publish_date(con, lake, business_date, histories, channels)
    return result


def ingest_dates(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    dates: list[date],
    ledger: RunLedger,
    log: logging.Logger,
    progress: RunProgress | None = None,
    lake: SparkEngine | None = None,
) -> list[DateIngest]:
    """Ingest ``dates`` in order, each recorded in the run ledger (``cvp ingest --from --to``)
    and told to ``progress`` as it starts and ends.

    Consecutive dates share a transaction until ``ingest.commit_every_rows`` rows,
    ``ingest.commit_every_dates`` dates or ``ingest.commit_every_mb`` MB of files are loaded
    (group commit). An error rolls the open group back; its dates up to the failing one are
    then done again one transaction each, as a one-date run does them: the dates before are
    kept, the failing date's error is recorded and raised. A delivery found incomplete is no
    error: the date's outcome is recorded and the range stops there (the dates after it are
    returned as not attempted), so that its late files can still load: a snapshot older than
    the latest loaded one is refused. A range whose first date follows a gap in the history
    is refused the same way (:func:`pipeline.history.check_history`). With ``lake`` (Spark),
    each date is published there before its group commits (a rolled-back date's rows are
    written again by its redo).
    """
    from pipeline.history import check_history

    if dates:
        check_history(con, dates[0], including=False)
    if progress is not None:
        progress.plan(dates, ["ingest"])
    results: list[DateIngest] = []
    budget = cfg.ingest.commit_every_rows
    max_bytes = int(cfg.ingest.commit_every_mb * 2**20)
    while len(results) < len(dates):
        first, started, pending, pending_bytes = len(results), time.monotonic(), 0, 0
        trying: date | None = None
        con.execute("begin transaction")
        try:
            for day in dates[first:]:
                if len(results) > first and (
                    pending >= budget
                    or len(results) - first >= cfg.ingest.commit_every_dates
                    or (max_bytes and pending_bytes >= max_bytes)
                ):
                    break
                trying = day
                results.append(
                    _ingest_recorded(con, cfg, day, ledger, log, True, dates[-1], progress, lake)
                )
                trying, pending = None, pending + results[-1].rows_loaded
                pending_bytes += results[-1].bytes_delivered
                if results[-1].incomplete:
                    break
            con.execute("commit")
        except Exception as exc:
            _rollback(con)
            redo = dates[first : len(results) + (trying is not None)]
            del results[first:]
            if trying is not None and redo == [trying]:  # alone: nothing before it to keep
                ledger.start("ingest", trying)
                ledger.finish("ingest", trying, "failed", message=_first_line(exc))
                raise
            where = str(trying) if trying else f"commit of {redo[0]} to {redo[-1]}"
            log.warning(
                f"{where}: {_first_line(exc)}; rolled back from {redo[0]}, "
                "redone one date at a time",
                extra={"stage": "ingest", "business_date": redo[-1]},
            )
            for day in redo:  # the failing date raises again, or passes if it was transient
                results.append(
                    _ingest_recorded(con, cfg, day, ledger, log, False, dates[-1], progress, lake)
                )
                if results[-1].incomplete:
                    break
            if results and results[-1].incomplete:
                break
            continue
        except BaseException:
            _rollback(con)
            raise
        if len(results) - first > 1:
            log.info(
                f"committed {len(results) - first} dates, {dates[first]} to "
                f"{dates[len(results) - 1]}",
                extra={
                    "stage": "ingest",
                    "business_date": dates[len(results) - 1],
                    "rows": pending,
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
        if results and results[-1].incomplete:
            break
    return results


def _ingest_recorded(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    day: date,
    ledger: RunLedger,
    log: logging.Logger,
    grouped: bool,
    ahead_until: date | None = None,
    progress: RunProgress | None = None,
    lake: SparkEngine | None = None,
) -> DateIngest:
    """One date with its run ledger row; ``grouped``: inside the caller's transaction, which
    an error rolls back with the ledger row."""
    if progress is not None:
        progress.stage_started("ingest", day)
    ledger.start("ingest", day)
    try:
        result = ingest_date(
            con, cfg, day, log, own_transaction=not grouped, ahead_until=ahead_until, lake=lake
        )
    except Exception as exc:
        if not grouped:
            ledger.finish("ingest", day, "failed", message=_first_line(exc))
        raise
    incomplete = result.incomplete
    ledger.finish(
        "ingest", day, "failed" if incomplete else "succeeded", rows=result.rows_loaded,
        message="delivery incomplete: " + "; ".join(incomplete) if incomplete else None,
    )  # fmt: skip
    if progress is not None:
        progress.stage_finished("ingest", day, "incomplete" if incomplete else "succeeded")
    return result


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if the failure left one (a failed commit does not)."""
    with suppress(duckdb.TransactionException):
        con.execute("rollback")


def _load_logged(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    f: ReadFile,
    validated: pa.Table | None,
    previous: Previous,
    log: logging.Logger,
) -> FileOutcome:
    started = time.monotonic()
    outcome = load_file(con, cfg, f, validated, previous)
    _log(log, outcome, f.delivery.business_date, time.monotonic() - started)
    return outcome


def _log(log: logging.Logger, outcome: FileOutcome, business_date: date, seconds: float) -> None:
    """One line per file; ``seconds`` of a transaction file is its share of the date's."""
    level = logging.ERROR if outcome.outcome in ("rejected", "held") else logging.INFO
    text = f"{outcome.file_name}: {outcome.outcome}"
    if outcome.message:
        text += f": {outcome.message}"
    log.log(
        level,
        text,
        extra={
            "stage": "ingest",
            "business_date": business_date,
            "feed": outcome.feed,
            "rows": outcome.rows_loaded,
            "seconds": round(seconds, 3),
            "outcome": outcome.outcome,
        },
    )
