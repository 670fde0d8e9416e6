"""txn_id is unique within its channel across all days: find ids already loaded on another date.

Probing all of ``stg_transactions`` for every date costs a scan of every txn_id loaded so far
(~0.4 s a date at 10 million rows). The table ``ingest_txn_id_ranges`` keeps, per channel and
business date, the smallest and largest txn_id loaded; only dates whose range overlaps the
range of the new ids of the same channel can hold one of them, so only those dates are probed.
Ids that grow with time (as the generated ones, and most source systems', do) overlap no
earlier date and need no probe at all; ids in any other order only make the probe wider, never
wrong. The ranges are written in the date's transaction, beside the rows they describe, and
built from ``stg_transactions`` the first time (a warehouse loaded before they existed).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

RANGES = "ingest_txn_id_ranges"


def ensure_ranges(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ranges table, filled from the transactions already loaded, if it is missing."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = $t and not temporary",
        {"t": RANGES},
    ).fetchone()
    if exists and exists[0]:
        return
    con.execute(
        f"""
        create table {RANGES} as
        select channel, business_date, min(txn_id) as min_txn_id, max(txn_id) as max_txn_id
        from stg_transactions group by channel, business_date
        """
    )


def flag_seen_elsewhere(
    con: duckdb.DuckDBPyConnection, business_date: date, channels: list[str]
) -> bool:
    """Flag rows of ``validated`` whose txn_id was loaded in its channel on another date.

    ``channels[i]`` is the channel of file ``i``. Returns whether any row was flagged (usually
    none, so the update is rarely needed); ``validated`` is then a temporary table.
    """
    ensure_ranges(con)
    params = {"channels": channels, "business_date": business_date}
    candidates = con.execute(
        f"""
        select list(distinct r.business_date)
        from (
            select list_extract($channels, file_id + 1) as channel,
                   min(txn_id) as min_txn_id, max(txn_id) as max_txn_id
            from validated where txn_id is not null group by file_id
        ) n
        join {RANGES} r
          on r.channel = n.channel and r.min_txn_id <= n.max_txn_id
         and n.min_txn_id <= r.max_txn_id
        where r.business_date <> $business_date
        """,
        params,
    ).fetchone()
    dates = candidates[0] if candidates and candidates[0] else []
    if not dates:
        return False
    seen = con.execute(
        """
        select v.file_id, v.txn_id, strftime(min(s.business_date), '%Y%m%d') as seen_date
        from validated v
        join stg_transactions s
          on s.txn_id = v.txn_id and s.channel = list_extract($channels, v.file_id + 1)
        where s.business_date <> $business_date and list_contains($dates, s.business_date)
        group by v.file_id, v.txn_id
        """,
        params | {"dates": dates},
    ).fetchall()
    if not seen:
        return False
    file_ids, txn_ids, seen_dates = zip(*seen, strict=True)
    con.register("validated_read", con.table("validated").to_arrow_table())
    con.unregister("validated")
    con.execute("create temp table validated as select * from validated_read")
    con.unregister("validated_read")
    con.register(
        "seen_elsewhere",
        pa.table(
            {
                "file_id": pa.array(file_ids, pa.int32()),
                "txn_id": pa.array(txn_ids, pa.string()),
                "seen_date": pa.array(seen_dates, pa.string()),
            }
        ),
    )
    try:
        con.execute(
            """
            update validated v
            set reason = concat_ws('; ', nullif(v.reason, ''),
                                   'txn_id: already loaded for business date ' || s.seen_date)
            from seen_elsewhere s where v.file_id = s.file_id and v.txn_id = s.txn_id
            """
        )
    finally:
        con.unregister("seen_elsewhere")
    return True


def record_ranges(
    con: duckdb.DuckDBPyConnection, business_date: date, channels: list[str], files: list[int]
) -> None:
    """After the rows of ``validated``'s files ``files`` replaced their channels' rows for the
    date, replace those channels' ranges (``channels[i]`` is the channel of file ``i``)."""
    ensure_ranges(con)
    loaded = [channels[i] for i in files]
    con.execute(
        f"delete from {RANGES} where business_date = $d and list_contains($loaded, channel)",
        {"d": business_date, "loaded": loaded},
    )
    con.execute(
        f"""
        insert into {RANGES}
        select list_extract($channels, file_id + 1), $d, min(txn_id), max(txn_id)
        from validated
        where reason = '' and list_contains($files, file_id)
        group by file_id
        """,
        {"channels": channels, "d": business_date, "files": files},
    )
