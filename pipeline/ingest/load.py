"""Load one delivered snapshot file exactly once: check, validate, then apply; and the checks,
outcomes and ledger rows that transaction files (:mod:`pipeline.ingest.transactions`) share.

For each snapshot file the date's version is applied (customers, accounts, branches), its bad
rows go to quarantine, and the file ledger records the outcome. :func:`load_file` runs inside
the caller's transaction
(:func:`pipeline.ingest.ingest_date` makes one per business date), so a process killed at any
point leaves the warehouse as it was before; the next run does it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pyarrow as pa

from pipeline.config import Config
from pipeline.ingest import guards
from pipeline.ingest.contract import FEEDS, Feed
from pipeline.ingest.discover import Control, Delivery
from pipeline.ingest.reader import ReadFile
from pipeline.warehouse import FAR_FUTURE


@dataclass(frozen=True)
class FileOutcome:
    file_name: str
    feed: str
    outcome: str
    """loaded, replaced, unchanged (identical file already loaded), rejected or held (a
    snapshot that shrinks too much, :mod:`pipeline.ingest.guards`)."""
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass(frozen=True)
class Previous:
    sha256: str | None
    outcome: str | None
    ever_loaded: bool
    again: bool = False
    """Judge the file again even if unchanged (the date's customers changed since)."""

    def unchanged(self, sha: str) -> bool:
        """Whether a file with checksum ``sha`` was already judged for good: a rejected or
        held file is judged again (the configuration may have changed, or the file may have
        been accepted since)."""
        return self.sha256 == sha and not self.again and self.outcome not in JUDGED_AGAIN


JUDGED_AGAIN = ("rejected", "held")


NOT_SEEN = Previous(None, None, False)


def previous_entries(con: duckdb.DuckDBPyConnection, business_date: date) -> dict[str, Previous]:
    """Per file name of the date: its latest ledger entry and whether it was ever loaded."""
    rows = con.execute(
        "select file_name, arg_max(sha256, received_at), arg_max(outcome, received_at), "
        "bool_or(outcome in ('loaded', 'replaced')) "
        "from file_ledger where business_date = ? group by file_name",
        [business_date],
    ).fetchall()
    return {name: Previous(sha, outcome, bool(loaded)) for name, sha, outcome, loaded in rows}


def _latest_snapshot(con: duckdb.DuckDBPyConnection, feed: str) -> date | None:
    row = con.execute(
        "select max(business_date) from file_ledger where feed = ? "
        "and outcome in ('loaded', 'replaced')",
        [feed],
    ).fetchone()
    return row[0] if row else None


def ledger_rows(
    d: Delivery, size: int, sha: str, control: Control | None, result: FileOutcome
) -> list[object]:
    """The file ledger's row for a file's outcome."""
    return [
        d.file_name,
        d.feed,
        d.channel,
        d.business_date,
        size,
        sha,
        control.record_count if control else None,
        control.amount_total if control else None,
        result.rows_loaded,
        result.rows_quarantined,
        result.outcome,
        result.message or None,
        datetime.now(),
    ]


def _ledger(
    con: duckdb.DuckDBPyConnection,
    d: Delivery,
    size: int,
    sha: str,
    control: Control | None,
    result: FileOutcome,
) -> None:
    con.execute(
        "insert into file_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ledger_rows(d, size, sha, control, result),
    )


def reject(d: Delivery, message: str) -> FileOutcome:
    """The outcome of a file rejected whole before any of its rows were judged."""
    return FileOutcome(d.file_name, d.feed, "rejected", 0, 0, message)


def _reject(
    con: duckdb.DuckDBPyConnection,
    d: Delivery,
    size: int,
    sha: str,
    control: Control | None,
    message: str,
) -> FileOutcome:
    result = reject(d, message)
    _ledger(con, d, size, sha, control, result)
    return result


def _quarantine(con: duckdb.DuckDBPyConnection, d: Delivery, bad: int, seen: bool) -> None:
    """Replace the file's quarantined rows (``seen``: the file was processed before)."""
    if seen:
        con.execute(
            "delete from quarantine where file_name = ? and business_date = ?",
            [d.file_name, d.business_date],
        )
    if bad:
        con.execute(
            "insert into quarantine select ?, ?, ?, line_number, line, reason, ? "
            "from validated where reason <> '' order by line_number",
            [d.file_name, d.feed, d.business_date, datetime.now()],
        )


def _apply_snapshot(
    con: duckdb.DuckDBPyConnection, cfg: Config, feed: Feed, d: Delivery, sha: str
) -> str | None:
    """Type-2 history: close versions that changed or vanished, open versions for new rows.

    One hashed-row diff of the snapshot against the current versions finds the keys that
    changed, appeared or vanished; only their rows are touched. Re-applying a date first
    undoes that date's versions, so a corrected re-send of the latest snapshot replaces it.
    A key whose row was quarantined keeps its current version.

    Returns why the snapshot is held instead (:func:`pipeline.ingest.guards.shrink_problem`:
    nothing applied), or None. The nightly case reads the shrink from the diff itself; only a
    re-send of a date already applied asks the history apart.
    """
    table, key = feed.table, feed.key[0]
    cols = ", ".join(feed.column_names)
    params = {"d": d.business_date, "far": FAR_FUTURE}
    row = con.execute(
        f"select count(*) from {table} where valid_from = $d or valid_to = $d",
        {"d": d.business_date},
    ).fetchone()
    redo = bool(row and row[0])
    if redo:
        held = guards.shrink_problem(con, cfg, feed, d.file_name, d.business_date, sha)
        if held:
            return held
        con.execute(f"delete from {table} where valid_from = $d", {"d": d.business_date})
        con.execute(f"update {table} set valid_to = $far where valid_to = $d", params)
    con.execute(
        f"create or replace temp table snapshot as select {cols}, hash({cols}) as row_hash "
        f"from validated where reason = ''"
    )
    con.execute(
        f"""
        create or replace temp table snapshot_diff as
        select coalesce(s.{key}, h.{key}) as {key}, h.{key} is not null as was_current,
            s.{key} is not null as in_file
        from snapshot s
        full join (select {key}, row_hash from {table} where valid_to = $far) h
          on s.{key} = h.{key}
        where s.row_hash is distinct from h.row_hash
        """,
        {"far": FAR_FUTURE},
    )
    held = (
        None if redo else guards.shrink_in_diff(con, cfg, feed, d.file_name, d.business_date, sha)
    )
    if held is None:
        con.execute(
            f"""
            update {table} h set valid_to = $d
            where h.valid_to = $far
              and h.{key} in (select {key} from snapshot_diff where was_current)
              and h.{key} not in (select {key} from validated
                                  where reason <> '' and {key} is not null)
            """,
            params,
        )
        con.execute(
            f"""
            insert into {table} ({cols}, row_hash, valid_from, valid_to)
            select {cols}, row_hash, $d, $far from snapshot s
            where s.{key} in (select {key} from snapshot_diff)
              and not exists (
                  select 1 from {table} h where h.valid_to = $far and h.{key} = s.{key}
              )
            """,
            params,
        )
    con.execute("drop table snapshot")
    con.execute("drop table snapshot_diff")
    return held


def control_problem(
    feed: Feed, count: int, total: Decimal, control: Control, unreadable: int = 0
) -> str | None:
    """Why a file's rows disagree with its control file (it is then rejected whole), or None.

    ``total`` is the control column's sum at two places: the control file carries two
    decimals, so a malformed amount (e.g. 1.234, quarantined) can only be compared so.
    ``unreadable`` rows (too many or too few fields, an amount that is no number) have no
    amount to add: then only the record count is checked, and those rows go to quarantine.
    """
    if count != control.record_count:
        return (
            f"{count} records but the control file says {control.record_count} "
            "(truncated or corrupt); file rejected whole"
        )
    if total != control.amount_total and not (unreadable and feed.amount_column):
        return (
            f"sum of {feed.amount_column} is {total:.2f} but the control file says "
            f"{control.amount_total:.2f}; file rejected whole"
        )
    return None


def too_many_bad(cfg: Config, count: int, bad: int) -> str | None:
    """Why a file has more bad rows than the configured strictness allows, or None."""
    limit = cfg.ingest
    if count and (bad > limit.max_bad_rows or bad / count > limit.max_bad_row_fraction):
        return (
            f"{bad} of {count} rows are bad, over the limit "
            f"({limit.max_bad_rows} rows or {limit.max_bad_row_fraction:.1%}); "
            "file rejected whole, bad rows in quarantine"
        )
    return None


def to_cents(total: object) -> Decimal:
    """A control-column sum at the control file's two places."""
    return Decimal(str(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@contextmanager
def validated_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> Iterator[None]:
    """``rows`` (validated in the reader's thread) as the relation ``validated`` in the block;
    the block may turn it into a temporary table to update it."""
    con.register("validated", rows)
    try:
        yield
    finally:
        con.unregister("validated")
        con.execute("drop table if exists validated")


def load_file(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    f: ReadFile,
    validated: pa.Table | None,
    previous: Previous | None = None,
) -> FileOutcome:
    """Check and load one snapshot file (CUST, ACCT, BRCH), inside the caller's transaction;
    ``validated`` holds its validated rows (None when it was not parsed). Transaction files
    load together: :mod:`pipeline.ingest.transactions`.

    Returns the outcome; a rejected file changes nothing but the ledger (and quarantine).
    """
    d, size, sha, control = f.delivery, f.size, f.sha256, f.control
    feed = FEEDS[d.feed]
    assert feed.snapshot, f"{d.file_name}: transaction files load with load_transactions"
    if previous is None:
        previous = previous_entries(con, d.business_date).get(d.file_name, NOT_SEEN)
    if previous.unchanged(sha):
        return FileOutcome(
            d.file_name,
            d.feed,
            "unchanged",
            message="identical to the file already processed (same checksum)",
        )
    if f.refusal is not None:
        return _reject(con, d, size, sha, control, f.refusal)
    if control is None:
        return _reject(con, d, size, sha, None, f.control_error or "control file unreadable")
    latest = _latest_snapshot(con, d.feed)
    if latest and latest > d.business_date:
        return _reject(
            con,
            d,
            size,
            sha,
            control,
            f"snapshot older than the latest loaded ({latest:%Y%m%d}); "
            "snapshots load in date order",
        )
    assert validated is not None
    with validated_rows(con, validated):
        return _check_and_apply(con, cfg, f, control, previous)


def _check_and_apply(
    con: duckdb.DuckDBPyConnection, cfg: Config, f: ReadFile, control: Control, previous: Previous
) -> FileOutcome:
    d, size, sha, feed = f.delivery, f.size, f.sha256, FEEDS[f.delivery.feed]
    row = con.execute(
        "select count(*), coalesce(sum(control_value), 0), count(*) filter (reason <> ''), "
        "count(*) filter (control_value is null) from validated"
    ).fetchone()
    assert row is not None
    count, bad = int(row[0]), int(row[2])
    problem = control_problem(feed, count, to_cents(row[1]), control, int(row[3]))
    if problem:
        return _reject(con, d, size, sha, control, problem)
    if feed.name == "CUST":
        problem = guards.unreadable_known_customer(con, cfg)
    if feed.name == "ACCT" and f.raw is not None:
        unknown = guards.flag_unknown_accounts(
            con, cfg, feed, f.raw.fields, d.file_name, d.business_date
        )
        if unknown and cfg.ingest.unknown_customer == "quarantine":
            bad += unknown
    problem = problem or too_many_bad(cfg, count, bad)
    if problem:
        result = FileOutcome(d.file_name, d.feed, "rejected", 0, bad, problem)
    else:
        held = _apply_snapshot(con, cfg, feed, d, sha)
        if held:
            result = FileOutcome(d.file_name, d.feed, "held", 0, 0, held)
            _ledger(con, d, size, sha, control, result)
            return result
        outcome = "replaced" if previous.ever_loaded else "loaded"
        result = FileOutcome(d.file_name, d.feed, outcome, count - bad, bad)
        if feed.name == "CUST":
            guards.keep_restrictions(con, d.business_date)
    _quarantine(con, d, bad, seen=previous.sha256 is not None)
    _ledger(con, d, size, sha, control, result)
    return result
