"""Load a date's transaction files (one per channel) together, in one pass.

The files are read apart (each keeps its own line numbers, control check and strictness), but
checked by one query over all of them, checked against earlier dates' txn_ids once
(:mod:`pipeline.ingest.txn_ids`), and
written with one delete, one insert, one quarantine write and one ledger write: per-file fixed
costs (statement planning, the probe of the history) dominated when each ~6k-row file was
loaded on its own. Outcomes are exactly those of loading the files one by one.

The files arrive read (hashed, decoded, split) and checked, all files in one query, by
:mod:`pipeline.ingest.readahead`: the raw fields of every line, the bad lines with their
reasons, and each file's totals. The good rows are typed from the raw fields by the insert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import duckdb

from pipeline.config import Config
from pipeline.ingest.contract import TXN
from pipeline.ingest.guards import flag_unknown_transactions
from pipeline.ingest.load import (
    NOT_SEEN,
    FileOutcome,
    Previous,
    control_problem,
    ledger_rows,
    reject,
    to_cents,
    too_many_bad,
)
from pipeline.ingest.reader import ReadFile
from pipeline.ingest.txn_ids import flag_seen_elsewhere, record_ranges
from pipeline.ingest.validate import CheckedTransactions, typed_columns_sql

if TYPE_CHECKING:
    from pipeline.engine.spark_engine import SparkEngine


@contextmanager
def checked_rows(con: duckdb.DuckDBPyConnection, checked: CheckedTransactions) -> Iterator[None]:
    """The checked files as the relations ``raw_fields`` and ``bad`` in the block; the block may
    turn ``bad`` into a temporary table to add to it."""
    con.register("raw_fields", checked.raw_fields)
    con.register("bad", checked.bad)
    try:
        yield
    finally:
        con.unregister("raw_fields")
        con.unregister("bad")
        con.execute("drop table if exists bad")


def _bad_counts(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    rows = con.execute("select file_id, count(*) from bad group by file_id").fetchall()
    return {int(f): int(n) for f, n in rows}


def load_transactions(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    business_date: date,
    files: list[ReadFile],
    checked: CheckedTransactions | None,
    seen: dict[str, Previous],
    lake: SparkEngine | None = None,
) -> list[FileOutcome]:
    """Check and load a date's transaction files, inside the caller's transaction.

    ``checked`` holds the checked rows of every parsed file (``file_id`` its position in
    ``files``); ``seen`` holds the file ledger's latest entry per file name of the date. Returns one
    outcome per file, in the order given; a rejected file changes nothing but the ledger
    (and quarantine). With ``lake`` (Spark) the other dates' txn_ids are probed there; the
    rows are written to the warehouse file all the same (:mod:`pipeline.ingest.publish`).
    """
    outcomes: dict[int, FileOutcome] = {}
    ledger: list[tuple[ReadFile, FileOutcome]] = []
    parts: list[int] = []
    for i, f in enumerate(files):
        d, previous = f.delivery, seen.get(f.delivery.file_name, NOT_SEEN)
        if previous.unchanged(f.sha256):
            outcomes[i] = FileOutcome(
                d.file_name,
                d.feed,
                "unchanged",
                message="identical to the file already processed (same checksum)",
            )
        elif f.refusal is not None or f.control is None:
            outcomes[i] = reject(d, f.refusal or f.control_error or "control file unreadable")
            ledger.append((f, outcomes[i]))
        else:
            parts.append(i)
    if parts:
        assert checked is not None
        with checked_rows(con, checked):
            _check_and_write(
                con, cfg, business_date, files, parts, checked, outcomes, ledger, seen, lake
            )
    if ledger:
        con.executemany(
            "insert into file_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [ledger_rows(f.delivery, f.size, f.sha256, f.control, o) for f, o in ledger],
        )
    return [outcomes[i] for i in range(len(files))]


def _check_and_write(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    business_date: date,
    files: list[ReadFile],
    parts: list[int],
    checked: CheckedTransactions,
    outcomes: dict[int, FileOutcome],
    ledger: list[tuple[ReadFile, FileOutcome]],
    seen: dict[str, Previous],
    lake: SparkEngine | None,
) -> None:
    """Control totals, the txn_id probe, strictness, then the writes, for the files ``parts``
    (positions in ``files``) that were parsed and are not unchanged."""
    counts = {i: (t.rows, to_cents(t.control_total), t.bad) for i, t in checked.totals.items()}
    control_ok = []
    for i in parts:
        f = files[i]
        assert f.control is not None
        count, total, _ = counts.get(i, (0, Decimal("0.00"), 0))
        totals = checked.totals.get(i)
        unreadable = totals.unreadable_amounts if totals else 0
        problem = control_problem(TXN, count, total, f.control, unreadable)
        if problem:
            outcomes[i] = reject(f.delivery, problem)
            ledger.append((f, outcomes[i]))
        else:
            control_ok.append(i)
    channels = [files[i].delivery.channel or "" for i in range(len(files))]
    flagged = bool(control_ok) and flag_seen_elsewhere(
        con, business_date, channels, checked.totals, lake
    )
    names = [f.delivery.file_name for f in files]
    if control_ok and flag_unknown_transactions(con, cfg, business_date, names, control_ok):
        flagged = True
    if flagged:
        bad = _bad_counts(con)
        counts = {i: (n, total, bad.get(i, 0)) for i, (n, total, _) in counts.items()}
    for i in control_ok:
        f, previous = files[i], seen.get(files[i].delivery.file_name, NOT_SEEN)
        count, _, bad_rows = counts.get(i, (0, Decimal("0.00"), 0))
        name = f.delivery.file_name
        problem = too_many_bad(cfg, count, bad_rows)
        if problem:
            outcomes[i] = FileOutcome(name, "TXN", "rejected", 0, bad_rows, problem)
        else:
            outcome = "replaced" if previous.ever_loaded else "loaded"
            outcomes[i] = FileOutcome(name, "TXN", outcome, count - bad_rows, bad_rows)
        ledger.append((f, outcomes[i]))
    _write(con, business_date, files, checked, flagged, control_ok, outcomes, seen)


def _write(
    con: duckdb.DuckDBPyConnection,
    business_date: date,
    files: list[ReadFile],
    checked: CheckedTransactions,
    flagged: bool,
    control_ok: list[int],
    outcomes: dict[int, FileOutcome],
    seen: dict[str, Previous],
) -> None:
    """Replace the accepted files' channels for the date; quarantine every checked file's bad
    rows (replacing what an earlier version of the file left there)."""
    accepted = [i for i in control_ok if outcomes[i].outcome in ("loaded", "replaced")]
    if accepted:
        con.execute(
            "delete from stg_transactions where business_date = $d "
            "and list_contains($channels, channel)",
            {"d": business_date, "channels": [files[i].delivery.channel for i in accepted]},
        )
        cols = ", ".join(TXN.column_names)
        con.execute(
            f"insert into stg_transactions ({cols}, business_date, line_number) "
            f"select {typed_columns_sql(TXN)}, $d, r.line_number from raw_fields r "
            "anti join bad b on r.file_id = b.file_id and r.line_number = b.line_number "
            "where list_contains($files, r.file_id)",
            {"d": business_date, "files": accepted},
        )
        loaded = _loaded_ranges(con, checked, flagged, accepted)
        record_ranges(
            con, business_date, {files[i].delivery.channel or "": loaded[i] for i in accepted}
        )
    resent = [
        files[i].delivery.file_name
        for i in control_ok
        if seen.get(files[i].delivery.file_name, NOT_SEEN).sha256 is not None
    ]
    if resent:
        con.execute(
            "delete from quarantine where business_date = $d and list_contains($names, file_name)",
            {"d": business_date, "names": resent},
        )
    if any(outcomes[i].rows_quarantined for i in control_ok):
        con.execute(
            "insert into quarantine select list_extract($names, file_id + 1), 'TXN', $d, "
            "line_number, line, reason, $now from bad "
            "where list_contains($files, file_id) order by file_id, line_number",
            {
                "names": [f.delivery.file_name for f in files],
                "d": business_date,
                "now": datetime.now(),
                "files": control_ok,
            },
        )


def _loaded_ranges(
    con: duckdb.DuckDBPyConnection,
    checked: CheckedTransactions,
    flagged: bool,
    accepted: list[int],
) -> dict[int, tuple[str, str] | None]:
    """The smallest and largest txn_id each accepted file loaded: from the check, or, when
    the probe of other dates flagged lines since, from the rows left."""
    if not flagged:
        return {
            i: totals.good_txn_ids if (totals := checked.totals.get(i)) else None for i in accepted
        }
    rows = con.execute(
        "select r.file_id, min(r.r_txn_id), max(r.r_txn_id) from raw_fields r "
        "anti join bad b on r.file_id = b.file_id and r.line_number = b.line_number "
        "where list_contains($files, r.file_id) group by r.file_id",
        {"files": accepted},
    ).fetchall()
    found = {int(f): (lo, hi) for f, lo, hi in rows}
    return {i: found.get(i) for i in accepted}
