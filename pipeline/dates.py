"""Calendar arithmetic on business dates, shared by the stages."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def shift_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (earlier when negative), clamped to the
    last day of a shorter month: 2024-03-31 less one month is 2024-02-29."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_of_month(day: date, months: int = 0) -> date:
    """The first day of the month ``months`` after (before, when negative) ``day``'s month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, 1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return first_of_month(day, 1) - timedelta(days=1)
