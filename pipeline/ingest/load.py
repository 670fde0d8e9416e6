"""Load one delivered file exactly once: check, validate, then replace.

For each file the feed's rows for the date are replaced (transactions) or the date's snapshot
version is applied (customers, accounts, branches), its bad rows go to quarantine, and the
file ledger records the outcome. :func:`load_file` runs inside the caller's transaction
(:func:`pipeline.ingest.ingest_date` makes one per business date), so a process killed at any
point leaves the warehouse as it was before; the next run does it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pyarrow as pa

from pipeline.config import Config
from pipeline.errors import ExtractError
from pipeline.ingest.contract import FEEDS, Feed
from pipeline.ingest.discover import Control, Delivery, parse_control
from pipeline.ingest.reader import read_fields
from pipeline.ingest.validate import validation_sql
from pipeline.warehouse import FAR_FUTURE


@dataclass(frozen=True)
class FileOutcome:
    file_name: str
    feed: str
    outcome: str
    """loaded, replaced, unchanged (identical file already loaded) or rejected."""
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


def file_sha256(delivery: Delivery) -> str:
    digest = hashlib.sha256()
    with delivery.data_path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    digest.update(delivery.control_path.read_bytes().strip())
    return digest.hexdigest()


@dataclass(frozen=True)
class Previous:
    sha256: str | None
    outcome: str | None
    ever_loaded: bool


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
        [
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
        ],
    )


def _reject(
    con: duckdb.DuckDBPyConnection,
    d: Delivery,
    size: int,
    sha: str,
    control: Control | None,
    message: str,
    quarantined: int = 0,
) -> FileOutcome:
    result = FileOutcome(d.file_name, d.feed, "rejected", 0, quarantined, message)
    if quarantined:
        _quarantine(con, d, quarantined, seen=True)
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


def _mark_txn_ids_seen_elsewhere(con: duckdb.DuckDBPyConnection, d: Delivery) -> int:
    """txn_id is unique within its channel across all days: flag ids loaded on another date.

    Returns how many rows were flagged (usually none, so the update is rarely needed).
    """
    seen = con.execute(
        """
        select s.txn_id, strftime(min(s.business_date), '%Y%m%d') as seen_date
        from stg_transactions s semi join validated v on s.txn_id = v.txn_id
        where s.channel = $channel and s.business_date <> $business_date
        group by s.txn_id
        """,
        {"channel": d.channel, "business_date": d.business_date},
    ).fetchall()
    if seen:
        ids, dates = zip(*seen, strict=True)
        con.register("seen_elsewhere", pa.table({"txn_id": ids, "seen_date": dates}))
        con.execute(
            """
            update validated v
            set reason = concat_ws('; ', nullif(v.reason, ''),
                                   'txn_id: already loaded for business date ' || s.seen_date)
            from seen_elsewhere s where v.txn_id = s.txn_id
            """
        )
        con.unregister("seen_elsewhere")
    return len(seen)


def _replace_transactions(con: duckdb.DuckDBPyConnection, feed: Feed, d: Delivery) -> None:
    con.execute(
        "delete from stg_transactions where channel = ? and business_date = ?",
        [d.channel, d.business_date],
    )
    cols = ", ".join(feed.column_names)
    con.execute(
        f"insert into stg_transactions ({cols}, business_date, line_number) "
        f"select {cols}, ?, line_number from validated where reason = ''",
        [d.business_date],
    )


def _apply_snapshot(con: duckdb.DuckDBPyConnection, feed: Feed, d: Delivery) -> None:
    """Type-2 history: close versions that changed or vanished, open versions for new rows.

    Re-applying a date first undoes that date's versions, so a corrected re-send of the
    latest snapshot replaces it. A key whose row was quarantined keeps its current version.
    """
    table, key = feed.table, feed.key[0]
    cols = ", ".join(feed.column_names)
    params = {"d": d.business_date, "far": FAR_FUTURE}
    con.execute(f"delete from {table} where valid_from = $d", {"d": d.business_date})
    con.execute(f"update {table} set valid_to = $far where valid_to = $d", params)
    con.execute(
        f"create or replace temp table snapshot as select {cols}, hash({cols}) as row_hash "
        f"from validated where reason = ''"
    )
    con.execute(
        f"""
        update {table} h set valid_to = $d
        where h.valid_to = $far
          and not exists (select 1 from snapshot s
                          where s.{key} = h.{key} and s.row_hash = h.row_hash)
          and h.{key} not in (select {key} from validated
                              where reason <> '' and {key} is not null)
        """,
        params,
    )
    con.execute(
        f"""
        insert into {table} ({cols}, row_hash, valid_from, valid_to)
        select {cols}, row_hash, $d, $far from snapshot s
        where not exists (select 1 from {table} h where h.valid_to = $far and h.{key} = s.{key})
        """,
        params,
    )
    con.execute("drop table snapshot")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def load_file(
    con: duckdb.DuckDBPyConnection, cfg: Config, d: Delivery, previous: Previous | None = None
) -> FileOutcome:
    """Check, validate and load one delivered file, inside the caller's transaction.

    Returns the outcome; a rejected file changes nothing but the ledger (and quarantine).
    """
    feed = FEEDS[d.feed]
    size = d.data_path.stat().st_size
    sha = file_sha256(d)
    if previous is None:
        previous = previous_entries(con, d.business_date).get(d.file_name, NOT_SEEN)
    if previous.sha256 == sha:
        return FileOutcome(
            d.file_name,
            d.feed,
            "unchanged" if previous.outcome != "rejected" else "rejected",
            message="identical to the file already processed (same checksum)",
        )
    try:
        control = parse_control(d)
    except ExtractError as exc:
        return _reject(con, d, size, sha, None, str(exc))
    if feed.snapshot:
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
    feed_cfg = cfg.ingest.feeds[d.feed]
    file_columns = feed_cfg.columns or list(feed.column_names)
    raw = read_fields(d.data_path, cfg.ingest.format, file_columns)
    sql = validation_sql(feed, len(file_columns))
    values = {"business_date": d.business_date, "channel": d.channel}
    params = {k: v for k, v in values.items() if f"${k}" in sql}
    con.register("raw_fields", raw.fields)
    con.register("misshapen", raw.misshapen)
    try:
        con.execute(f"create or replace temp table validated as {sql}", params)
    finally:
        con.unregister("raw_fields")
        con.unregister("misshapen")
    row = con.execute(
        "select count(*), coalesce(sum(control_value), 0), count(*) filter (reason <> '') "
        "from validated"
    ).fetchone()
    assert row is not None
    # The control file carries two decimals, so a malformed amount (e.g. 1.234, quarantined
    # below) can only be compared at that precision.
    count, bad = int(row[0]), int(row[2])
    total = Decimal(row[1]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if count != control.record_count:
        return _reject(
            con,
            d,
            size,
            sha,
            control,
            f"{count} records but the control file says {control.record_count} "
            "(truncated or corrupt); file rejected whole",
        )
    if total != control.amount_total:
        column = feed.amount_column
        return _reject(
            con,
            d,
            size,
            sha,
            control,
            f"sum of {column} is {total:.2f} but the control file says "
            f"{control.amount_total:.2f}; file rejected whole",
        )
    if d.feed == "TXN" and _mark_txn_ids_seen_elsewhere(con, d):
        bad = _count(con, "select count(*) from validated where reason <> ''")
    limit = cfg.ingest
    if count and (bad > limit.max_bad_rows or bad / count > limit.max_bad_row_fraction):
        message = (
            f"{bad} of {count} rows are bad, over the limit "
            f"({limit.max_bad_rows} rows or {limit.max_bad_row_fraction:.1%}); "
            "file rejected whole, bad rows in quarantine"
        )
        result = FileOutcome(d.file_name, d.feed, "rejected", 0, bad, message)
    else:
        outcome = "replaced" if previous.ever_loaded else "loaded"
        result = FileOutcome(d.file_name, d.feed, outcome, count - bad, bad)
        if feed.snapshot:
            _apply_snapshot(con, feed, d)
        else:
            _replace_transactions(con, feed, d)
    _quarantine(con, d, bad, seen=previous.sha256 is not None)
    _ledger(con, d, size, sha, control, result)
    return result
