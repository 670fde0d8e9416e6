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
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.ingest.contract import TXN
from pipeline.ingest.validate import FileTotals, raw_line_sql

if TYPE_CHECKING:
    from pipeline.engine.spark_engine import SparkEngine

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
    con: duckdb.DuckDBPyConnection,
    business_date: date,
    channels: list[str],
    totals: dict[int, FileTotals],
    lake: SparkEngine | None = None,
) -> bool:
    """Flag the lines of ``raw_fields`` whose txn_id was loaded in its channel on another date.

    ``channels[i]`` is the channel of file ``i``, ``totals[i]`` its figures (the range of its
    txn_ids). A flagged line is added to ``bad`` (then a temporary table) with the reason, or
    has the reason added to those it already has there. Returns whether any line was flagged
    (usually none). With ``lake`` (Spark), the other dates' transactions are the lake's
    (:mod:`pipeline.ingest.publish`).
    """
    ensure_ranges(con)
    new = [(channels[i], *t.txn_ids) for i, t in totals.items() if t.txn_ids is not None]
    if not new:
        return False
    chans, lows, highs = (list(c) for c in zip(*new, strict=True))
    candidates = con.execute(
        f"""
        select list(distinct r.business_date)
        from (
            select unnest($chans) as channel, unnest($lows) as min_txn_id,
                unnest($highs) as max_txn_id
        ) n
        join {RANGES} r
          on r.channel = n.channel and r.min_txn_id <= n.max_txn_id
         and n.min_txn_id <= r.max_txn_id
        where r.business_date <> $business_date
        """,
        {"chans": chans, "lows": lows, "highs": highs, "business_date": business_date},
    ).fetchone()
    dates = candidates[0] if candidates and candidates[0] else []
    if not dates:
        return False
    if lake is None:
        seen = con.execute(
            """
            select v.file_id, v.r_txn_id, strftime(min(s.business_date), '%Y%m%d')
            from raw_fields v
            join stg_transactions s
              on s.txn_id = v.r_txn_id and s.channel = list_extract($channels, v.file_id + 1)
            where s.business_date <> $business_date and list_contains($dates, s.business_date)
            group by v.file_id, v.r_txn_id
            """,
            {"channels": channels, "business_date": business_date, "dates": dates},
        ).fetchall()
    else:
        seen = _seen_in_lake(con, lake, business_date, channels, dates)
    if not seen:
        return False
    file_ids, txn_ids, seen_dates = zip(*seen, strict=True)
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
        flagged = con.execute(
            f"""
            select coalesce(b.file_id, f.file_id) as file_id,
                coalesce(b.line_number, f.line_number) as line_number,
                coalesce(b.line, f.line) as line,
                concat_ws('; ', b.reason, f.why) as reason
            from bad b
            full join (
                select r.file_id, r.line_number, {raw_line_sql(TXN)} as line,
                    'txn_id: already loaded for business date ' || s.seen_date as why
                from raw_fields r
                join seen_elsewhere s on r.file_id = s.file_id and r.r_txn_id = s.txn_id
            ) f on b.file_id = f.file_id and b.line_number = f.line_number
            order by 1, 2
            """
        ).to_arrow_table()
    finally:
        con.unregister("seen_elsewhere")
    con.unregister("bad")
    con.register("bad_flagged", flagged)
    con.execute("create temp table bad as select * from bad_flagged")
    con.unregister("bad_flagged")
    return True


def _seen_in_lake(
    con: duckdb.DuckDBPyConnection,
    lake: SparkEngine,
    business_date: date,
    channels: list[str],
    dates: list[date],
) -> list[tuple[int, str, str]]:
    """The DuckDB probe's rows, from the lake's transactions of ``dates``: the new ids go to
    the engine, the ids found there come back (usually none)."""
    query = (
        "select distinct file_id, list_extract($channels, file_id + 1) as channel, "
        "r_txn_id as txn_id from raw_fields where r_txn_id is not null"
    )
    params = {"channels": channels}
    columns = DuckDBEngine(con).describe(query, params)
    lake.temp_arrow("ingest_new_txn_ids", con.execute(query, params).to_arrow_table(), columns)
    listed = ", ".join(f"date '{d.isoformat()}'" for d in dates)
    try:
        found = lake.read(
            f"""
            select v.file_id as file_id, v.txn_id as txn_id,
                min(s.business_date) as seen_date
            from ingest_new_txn_ids v
            join stg_transactions s on s.txn_id = v.txn_id and s.channel = v.channel
            where s.business_date <> $business_date and s.business_date in ({listed})
            group by v.file_id, v.txn_id
            """,
            {"business_date": business_date},
        )
    finally:
        lake.drop("ingest_new_txn_ids")
    return [(int(f), str(t), d.strftime("%Y%m%d")) for f, t, d in found.iter_rows()]


def record_ranges(
    con: duckdb.DuckDBPyConnection,
    business_date: date,
    ranges: dict[str, tuple[str, str] | None],
) -> None:
    """After the date's rows of the channels ``ranges`` names were replaced, replace those
    channels' ranges: the smallest and largest txn_id loaded (None: none loaded)."""
    ensure_ranges(con)
    con.execute(
        f"delete from {RANGES} where business_date = $d and list_contains($loaded, channel)",
        {"d": business_date, "loaded": list(ranges)},
    )
    rows = [(ch, business_date, lo_hi[0], lo_hi[1]) for ch, lo_hi in ranges.items() if lo_hi]
    if rows:
        con.executemany(f"insert into {RANGES} values (?, ?, ?, ?)", rows)
