"""Number formats of the report: money in CNY, shares in percent, counts with separators.

Only the short money form depends on the language: English counts in thousands, millions and
billions (``CNY 1.23 M``), Chinese in 万 (10⁴) and 亿 (10⁸) of 元 (``123万元``). Table cells
give whole yuan with separators in both.
"""

from __future__ import annotations

from typing import Any

SCALES = {
    "en": ((1e9, " bn"), (1e6, " M"), (1e3, " k")),
    "zh": ((1e8, "亿"), (1e4, "万")),
}
"""Short-form money scales per language, largest first."""


def cny_short(value: Any, unit: bool = True, lang: str = "en") -> str:
    """A short amount, one to three significant places: ``CNY 1.23 M`` or ``123万元``.

    >>> cny_short(1234567)
    'CNY 1.23 M'
    >>> cny_short(-950, unit=False)
    '−950'
    >>> cny_short(1234567, lang="zh")
    '123万元'
    >>> cny_short(-250000000, unit=False, lang="zh")
    '−2.5亿'
    """
    if value is None:
        return "—"
    v = float(value)
    sign = "−" if v < 0 else ""
    a = abs(v)
    text, suffix = (f"{a:,.0f}" if a >= 1 or a == 0 else f"{a:.2f}"), ""
    for scale, name in SCALES[lang]:
        if a >= scale:
            q = a / scale
            text, suffix = (f"{q:.3g}" if q < 1000 else f"{q:,.0f}"), name
            break
    if lang == "zh":
        return f"{sign}{text}{suffix}{'元' if unit else ''}"
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
