"""Number formats of the report: money in CNY, shares in percent, counts with separators."""

from __future__ import annotations

from typing import Any


def cny_short(value: Any, unit: bool = True) -> str:
    """``CNY 1.23 M``-style amount: k, M (million) or bn, one to three significant places.

    >>> cny_short(1234567)
    'CNY 1.23 M'
    >>> cny_short(-950, unit=False)
    '−950'
    """
    if value is None:
        return "—"
    v = float(value)
    sign = "−" if v < 0 else ""
    a = abs(v)
    text, suffix = (f"{a:.0f}" if a >= 1 or a == 0 else f"{a:.2f}"), ""
    for scale, name in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if a >= scale:
            q = a / scale
            text, suffix = (f"{q:.3g}" if q < 1000 else f"{q:,.0f}"), name
            break
    return f"{'CNY ' if unit else ''}{sign}{text}{suffix}"


def cny(value: Any) -> str:
    """Whole CNY with thousands separators: ``1,234,567``; ``—`` when unknown."""
    if value is None:
        return "—"
    v = round(float(value))
    return f"−{-v:,}" if v < 0 else f"{v:,}"


def count(value: Any) -> str:
    """A count with thousands separators."""
    return "—" if value is None else f"{int(value):,}"


def pct(value: Any, places: int = 0) -> str:
    """A share (0.81) as a percentage (``81%``)."""
    if value is None:
        return "—"
    text = f"{100 * float(value):.{places}f}%"
    return text.replace("-", "−")


def num(value: Any, places: int = 2) -> str:
    """A plain number to ``places`` decimals."""
    return "—" if value is None else f"{float(value):,.{places}f}".replace("-", "−")


def plural(n: int, word: str) -> str:
    """``1 customer``, ``2 customers`` (regular plurals only)."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
