"""Is the history complete up to a date, and which dates a late delivery made stale.

A date's results are only as good as every delivery before it: balances carry over,
snapshots are versions of the one before, and the rolling windows sum every day. So a stage
runs for a date only when every date since the first one loaded is complete, or waived by
name (``cvp waive``); otherwise the run stops with exit 3 naming the missing dates.

A date is *complete* when the warehouse holds it: at least one file of the date loaded, and
its latest ingest (if any was recorded) succeeded. This reads the ledgers, not the landing
zone, so a date whose files were archived after loading stays complete.

A date is *stale* when a delivery for it or for an earlier date was loaded after its derived
tables were built: ``cvp run`` re-runs such dates before the ones asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from pipeline.config import Config
from pipeline.errors import DeliveryIncomplete, StageFailed
from pipeline.warehouse import table_exists


@dataclass(frozen=True)
class Gap:
    business_date: date
    reason: str


def first_loaded_date(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute(
        "select min(business_date) from file_ledger where outcome in ('loaded', 'replaced')"
    ).fetchone()
    return row[0] if row else None


def gaps(con: duckdb.DuckDBPyConnection, through: date) -> list[Gap]:
    """The dates from the first one loaded up to ``through`` (inclusive) that are not
    complete and not waived, oldest first, each with why."""
    first = first_loaded_date(con)
    if first is None or first > through:
        return []
    waived = (  # a warehouse opened read-only may predate the table
        "select distinct business_date from history_waivers"
        if table_exists(con, "history_waivers")
        else "select null::date as business_date where false"
    )
    rows = con.execute(
        """
        with days as (
            select cast(d as date) as business_date
            from range($first::timestamp, $through::timestamp + interval 1 day,
                       interval 1 day) t(d)
        ),
        loaded as (
            select business_date, count(*) as files
            from file_ledger
            where outcome in ('loaded', 'replaced') and business_date between $first and $through
            group by business_date
        ),
        ingest as (
            select business_date, arg_max(status, started_at) as status,
                   arg_max(message, started_at) as message
            from run_ledger
            where stage = 'ingest' and status <> 'skipped'
              and business_date between $first and $through
            group by business_date
        ),
        waived as ({waived})
        select d.business_date,
               case when l.files is null then 'nothing loaded'
                    else 'ingest ' || i.status || coalesce(': ' || i.message, '') end
        from days d
        left join loaded l using (business_date)
        left join ingest i using (business_date)
        where (l.files is null or coalesce(i.status, 'succeeded') <> 'succeeded')
          and d.business_date not in (select business_date from waived)
        order by 1
        """.replace("{waived}", waived),
        {"first": first, "through": through},
    ).fetchall()
    return [Gap(day, reason) for day, reason in rows]


def check_history(con: duckdb.DuckDBPyConnection, day: date, including: bool = True) -> None:
    """Refuse to go on for ``day`` while the history before it (and ``day`` itself, with
    ``including``) has gaps.

    Raises
    ------
    DeliveryIncomplete
        Naming every missing date (the first five with why), and the two ways out.
    """
    found = gaps(con, day if including else day - timedelta(days=1))
    if not found:
        return
    shown = "; ".join(f"{g.business_date} ({g.reason[:160]})" for g in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    first = found[0].business_date
    raise DeliveryIncomplete(
        f"history incomplete for {day}: {len(found)} date(s) missing: {shown}{more}; "
        f"load them (`cvp ingest --date {first}` once delivered), or record that a date "
        f"will never come (`cvp waive --date {first} --reason '...'`)"
    )


def waive(con: duckdb.DuckDBPyConnection, day: date, reason: str) -> None:
    """Record that ``day`` is accepted as incomplete (a holiday, a lost delivery): runs of
    later dates go on without it. The waiver stays in ``history_waivers``."""
    con.execute(
        "insert into history_waivers values (?, ?, ?)", [day, reason.strip(), datetime.now()]
    )


def stale_dates(con: duckdb.DuckDBPyConnection, before: date) -> list[date]:
    """Dates before ``before`` whose derived tables were built before a delivery for the date
    or an earlier one was loaded (a late file, a corrected re-send), oldest first."""
    rows = con.execute(
        """
        with latest as (
            select stage, business_date,
                   arg_max(status, started_at) as status, arg_max(ended_at, started_at) as ended_at
            from run_ledger
            where stage <> 'ingest' and status <> 'skipped' and business_date < $before
            group by stage, business_date
        ),
        built as (
            select business_date, min(ended_at) as built_at
            from latest where status = 'succeeded'
            group by business_date
        )
        select b.business_date
        from built b
        where exists (
            select 1 from file_ledger f
            where f.outcome in ('loaded', 'replaced')
              and f.business_date <= b.business_date
              and f.received_at > b.built_at)
        order by 1
        """,
        {"before": before},
    ).fetchall()
    return [r[0] for r in rows]


def min_history(cfg: Config, stage: str, day: date) -> tuple[int, str]:
    """The days of history ``stage`` needs for ``day``, and where that number comes from:
    ``history.min_days`` when it lists the stage, else what the stage reads (merchants: their
    window; tiers: the features window of the date, whose AUM averages divide by all its
    days; export: both, since it publishes both). Other stages: 1 (any history)."""
    from pipeline.dates import first_of_month

    if stage in cfg.history.min_days:
        return cfg.history.min_days[stage], f"history.min_days.{stage}"
    if stage == "merchants":
        return cfg.merchants.window_days, "merchants.window_days"
    if stage == "tiers":
        start = first_of_month(day.replace(day=1), -(cfg.features.window_months - 1))
        return (day - start).days + 1, f"the features window {start} to {day}"
    if stage == "export":
        return max(min_history(cfg, "tiers", day), min_history(cfg, "merchants", day))
    return 1, "any history"


def check_min_history(con: duckdb.DuckDBPyConnection, cfg: Config, stage: str, day: date) -> None:
    """Refuse ``stage`` for ``day`` when the warehouse holds fewer days than it needs
    (:func:`min_history`).

    Raises
    ------
    StageFailed
        Saying how many days there are, from when, how many are needed and why.
    """
    need, source = min_history(cfg, stage, day)
    first = first_loaded_date(con)
    if first is None:
        return
    have = (day - first).days + 1
    if have < need:
        raise StageFailed(
            f"stage {stage} for {day} refuses: {have} day(s) of history (from {first}), "
            f"it needs {need} ({source}); load the earlier dates first, or set "
            f"history.min_days.{stage} lower if the warehouse is meant to be this young"
        )
