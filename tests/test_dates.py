"""Month arithmetic, against dates worked out by hand."""

from __future__ import annotations

from datetime import date

from pipeline.dates import first_of_month, month_end, shift_months


def test_shifting_by_months_keeps_the_day_or_clamps_it_to_the_month_end() -> None:
    assert shift_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert shift_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert shift_months(date(2026, 11, 27), -3) == date(2026, 8, 27)
    assert shift_months(date(2026, 1, 15), -13) == date(2024, 12, 15)


def test_first_of_a_month_and_end_of_a_month() -> None:
    assert first_of_month(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert first_of_month(date(2026, 12, 5), 1) == date(2027, 1, 1)
    assert first_of_month(date(2026, 3, 15)) == date(2026, 3, 1)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert month_end(date(2026, 12, 31)) == date(2026, 12, 31)
