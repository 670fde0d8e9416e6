"""Relationship-manager value created at constant rates, for the tiers stage.

Value created compares two years of each manager's book: the 12 closed months ending the last
closed month (E) against the 12 ending ``lists.rm_scorecard.period_months`` earlier (S), both
priced at today's rates and costs (``agg_customer_contribution_month``, restated whenever the
economics config changes). What the same start year was worth as first published
(``hist_published_contribution_month``, written here the first time a closed month is
computed) minus its restatement is the rate effect: a treasury line, not the manager's.
``sql/lists/int_rm_value_created.sql`` splits it per customer; docs/exports.md, rm_scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from pipeline.dates import first_of_month, month_end
from pipeline.stages.contribution import (
    MONTHLY_COLUMNS,
    history_start,
    refresh_monthly_contribution,
)

if TYPE_CHECKING:
    import duckdb

    from pipeline.config import Config
    from pipeline.engine.base import Engine

YEAR_MONTHS = 12


@dataclass(frozen=True)
class RmPeriod:
    """The two years compared: each is the 12 closed months ending ``start_month`` or
    ``end_month``; ``*_days`` the days of it the warehouse holds (from
    :func:`pipeline.stages.contribution.history_start`). ``measurable`` when the history covers
    month S whole."""

    start_month: date
    end_month: date
    start_days: int
    end_days: int
    measurable: bool

    def months(self) -> list[date]:
        """Every month either year reads, oldest first."""
        first = first_of_month(self.start_month, -(YEAR_MONTHS - 1))
        count = (self.end_month.year - first.year) * 12 + self.end_month.month - first.month
        return [first_of_month(first, k) for k in range(count + 1)]


def _days_held(last_month: date, first_loaded: date) -> int:
    start = max(first_of_month(last_month, -(YEAR_MONTHS - 1)), first_loaded)
    return max(0, (month_end(last_month) - start).days + 1)


def rm_period(con: duckdb.DuckDBPyConnection, cfg: Config, day: date) -> RmPeriod:
    """The period of ``day``'s scorecard: E is the month before ``day``'s month."""
    end = first_of_month(day, -1)
    start = first_of_month(end, -cfg.lists.rm_scorecard.period_months)
    first = history_start(con, day) or day
    return RmPeriod(
        start_month=start,
        end_month=end,
        start_days=_days_held(start, first),
        end_days=_days_held(end, first),
        measurable=first <= start,
    )


PUBLISHED = "hist_published_contribution_month"


def publish_closed_months(
    engine: Engine, months: list[date], economics_hash: str, day: date
) -> int:
    """Record each closed month's contribution per customer the first time it is computed, in
    ``hist_published_contribution_month``, with the economics config of that night. A month is
    never rewritten there. Returns how many months were published now."""
    if not engine.table_exists(PUBLISHED):  # read by int_rm_value_created, also when empty
        engine.replace_where(
            PUBLISHED,
            f"select {MONTHLY_COLUMNS}, cast(null as varchar) as economics_hash, "
            "cast(null as date) as published_date where false",
            "false",
            key="month_start",
        )
    if not months:
        return 0
    span = {"first": min(months), "last": max(months)}
    computed = engine.read(
        "select distinct month_start from agg_customer_contribution_month "
        "where month_start between $first and $last",
        span,
    )["month_start"].to_list()
    published = set(
        engine.read(
            f"select distinct month_start from {PUBLISHED} "
            "where month_start between $first and $last",
            span,
        )["month_start"].to_list()
    )
    new = sorted(m for m in computed if m in months and m not in published)
    for month in new:
        engine.replace_where(
            PUBLISHED,
            "select customer_id, month_start, contribution_amount, $economics_hash as "
            "economics_hash, $day as published_date from agg_customer_contribution_month "
            "where month_start = $month",
            "month_start = $month",
            {"economics_hash": economics_hash, "day": day, "month": month},
            key="month_start",
        )
    return len(new)


def prepare_rm_value(
    con: duckdb.DuckDBPyConnection, engine: Engine, cfg: Config, day: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bring the monthly contributions of both years up to date (restated at today's rates when
    the economics config changed), publish the months seen for the first time, and return the
    parameters of ``sql/lists/int_rm_value_created.sql`` and the facts to log. The tables
    live on ``engine``; the history's start and the refresh log are read on ``con``."""
    period = rm_period(con, cfg, day)
    months = period.months() if period.measurable else []
    computed = refresh_monthly_contribution(con, engine, cfg, months)  # creates it when new
    published = publish_closed_months(engine, months, cfg.section_fingerprint("economics"), day)
    params = {
        "start_month": period.start_month,
        "end_month": period.end_month,
        "start_from": first_of_month(period.start_month, -(YEAR_MONTHS - 1)),
        "end_from": first_of_month(period.end_month, -(YEAR_MONTHS - 1)),
        "start_days": max(period.start_days, 1),
        "end_days": max(period.end_days, 1),
        "annual_days": cfg.economics.annual_days,
        "measurable": period.measurable,
    }
    facts = {
        "rm_period": f"{period.start_month:%Y-%m}..{period.end_month:%Y-%m}",
        "rm_value_measurable": period.measurable,
        "rm_months_computed": computed,
        "rm_months_published": published,
    }
    return params, facts
