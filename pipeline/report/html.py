"""Render the collected sections into one self-contained HTML page (inline CSS and SVG, no
script, no network) from the Jinja2 templates in ``templates/`` (autoescaping on).

Python computes the numbers and draws the figures (this module and :mod:`figures`); the
templates lay them out; every word comes from the language's catalogue (:mod:`i18n`). Each plot
sits in a ``<figure id="fig-...">`` whose caption says what it shows and the numbers that
matter; a section whose upstream table is missing keeps its figure element with a plain
sentence instead of the plot. Tables carry ids ``tbl-...``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache, partial
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup, escape

from pipeline.report import figures
from pipeline.report.collect import CHANNELS, SectionMissing
from pipeline.report.fmt import cny, count, num, pct
from pipeline.report.i18n import Language

FIGURE_IDS = (
    "fig-tiers",
    "fig-lorenz",
    "fig-components",
    "fig-clv-distribution",
    "fig-clv-calibration",
    "fig-merchants",
    "fig-market-clusters",
    "fig-channel-mix",
    "fig-migration",
    "fig-rm-leaderboard",
    "fig-branches",
    "fig-dq-rows",
    "fig-dq-quarantine",
)
"""Every figure of the report, in page order."""

Data = dict[str, Any]
Sections = dict[str, Data | SectionMissing]


def _template(name: str) -> str | None:
    path = files("pipeline.report") / "templates" / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


@cache
def environment() -> jinja2.Environment:
    """The templates, read from the package (importlib.resources: works from a wheel)."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _cell_formats(lang: Language) -> dict[str, Callable[[Any], str]]:
    """Formatters of the numeric (right-aligned) table columns, by the name a template gives."""
    return {
        "count": count,
        "cny": cny,
        "cny_short": lang.cny_short,
        "pct": pct,
        "pct1": lambda v: pct(v, 1),
        **{f"num{p}": partial(num, places=p) for p in (0, 1, 2, 3, 4, 6)},
        "yesno": lambda v: lang.plain("common.yes" if v else "common.no"),
    }


def _cell(lang: Language) -> Callable[[str | None, Any], str]:
    """A table cell's text by the column's kind: a formatter's name (a numeric column), ``code:
    <kind>`` (a code of the data, shown by its name in the language) or None (text as it is)."""
    formats = _cell_formats(lang)

    def cell(kind: str | None, value: Any) -> str:
        if kind in formats:
            return formats[kind](value)
        if kind and kind.startswith("code:"):
            return lang.code(kind.removeprefix("code:"), value)
        return "—" if value is None else str(value)

    return cell


def _labelled(svg: str, title: str) -> Markup:
    """The figure's SVG (matplotlib's own, trusted) with its title as accessible name."""
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1))


def _share(part: Any, whole: Any) -> float:
    return float(part or 0) / float(whole) if whole else 0.0


def _by_tier(text: str | None, lang: Language) -> str | None:
    """``gold=2; mass=1`` (int_rm_scorecard.customers_by_tier) with the tiers' names."""
    if not text:
        return text
    items = [part.strip().partition("=") for part in text.split(";") if part.strip()]
    return lang.join(
        [lang.plain("rms.by_tier", tier=lang.code("tier", k), n=n) for k, _, n in items],
        "semicolon",
    )


def _views(s: Sections, lang: Language) -> dict[str, Any]:
    """What the templates need beyond the collected rows: derived numbers and the figures."""
    v: dict[str, Any] = {}
    t = s["tiers"]
    if not isinstance(t, SectionMissing):
        best = [x for x in t["tiers"] if x["contribution_share"] > 0]
        v["tiers"] = {
            "svg": figures.plot_tiers(t, lang),
            "top": max(
                best, key=lambda x: x["contribution_share"] / max(x["customer_share"], 1e-12)
            )
            if best
            else None,
            "counts": lang.join(
                [f"{lang.code('tier', x['tier'])} {count(x['customers'])}" for x in t["tiers"]],
                "semicolon",
            ),
        }
    c = s["concentration"]
    if not isinstance(c, SectionMissing):
        v["lorenz"] = {"svg": figures.plot_lorenz(c, lang)}
    c = s["components"]
    if not isinstance(c, SectionMissing):
        parts = sorted(c["parts"], key=lambda p: -p["amount"])
        rev, cost = c["revenue_amount"] or 0.0, c["cost_amount"] or 0.0

        def shares(group: list[Data], total: float) -> str:
            return lang.join(
                [
                    f"{lang.in_sentence(lang.code('component', p['column']))} "
                    f"{pct(_share(p['amount'], total))}"
                    for p in group
                ]
            )

        v["components"] = {
            "svg": figures.plot_components(c, lang),
            "revenue": shares([p for p in parts if p["sign"] > 0][:3], rev),
            "cost": shares([p for p in parts if p["sign"] < 0][:2], cost),
        }
    c = s["clv"]
    if not isinstance(c, SectionMissing):
        v["clv"] = {
            "svg": figures.plot_clv(c, lang),
            "stages": lang.join(
                [
                    f"{lang.code('life_stage', x['life_stage'])} {count(x['customers'])}"
                    for x in c["stages"]
                ]
            ),
        }
    k = s["calibration"]
    if not isinstance(k, SectionMissing):
        v["calibration"] = {"svg": figures.plot_calibration(k, lang)}
    m = s["merchants"]
    if not isinstance(m, SectionMissing):
        v["merchants"] = {
            "svg": figures.plot_merchants(m, lang),
            "undeclared_share": _share(m["undeclared_turnover_amount"], m["turnover_amount"]),
        }
    c = s["clusters"]
    if not isinstance(c, SectionMissing):
        v["clusters"] = {"svg": figures.plot_clusters(c, lang)}
    c = s["channels"]
    if not isinstance(c, SectionMissing):
        v["channels"] = {
            "svg": figures.plot_channels(c, lang),
            "shares": lang.join(
                [
                    f"{lang.in_sentence(lang.code('channel', code))} "
                    f"{pct(_share(c['totals'][code], c['txns']))}"
                    for code in CHANNELS
                ]
            ),
        }
    m = s["migration"]
    if not isinstance(m, SectionMissing):
        v["migration"] = {"svg": figures.plot_migration(m, lang)}
    r = s["rms"]
    if not isinstance(r, SectionMissing):
        v["rms"] = {
            "svg": figures.plot_rms(r, lang),
            "first": r["rms"][0] if r["rms"] else {},
            "rows": [
                {
                    **x,
                    "customers_by_tier": _by_tier(x["customers_by_tier"], lang),
                    "new_left": f"{x['new_customers'] or 0} / {x['lost_customers'] or 0}",
                }
                for x in r["rms"]
            ],
        }
    b = s["branches"]
    if not isinstance(b, SectionMissing):
        rows = b["branches"]
        total = sum(float(x["contribution_amount"] or 0) for x in rows)
        profits = [x["economic_profit_amount"] for x in rows]
        v["branches"] = {
            "svg": figures.plot_branches(b, lang),
            "total": total,
            "top": rows[0] if rows else None,
            "top_share": _share(rows[0]["contribution_amount"], total) if rows else 0.0,
            "profit": None if any(p is None for p in profits) else sum(float(p) for p in profits),
        }
    q = s["quality"]
    if not isinstance(q, SectionMissing):
        v["quality"] = {
            "rows_svg": figures.plot_rows_history(q, lang),
            "quarantine_svg": figures.plot_quarantine(q, lang),
            "first": min((h["business_date"] for h in q["history"]), default=None),
            "reasons": lang.join(
                [f"{r['reason']} ({r['feed']}) {count(r['rows'])}" for r in q["reasons"]],
                "semicolon",
            ),
        }
    return v


def render_html(
    sections: Sections,
    day: date,
    generated_at: datetime,
    source: str,
    lang: str = "en",
    fingerprint: str | None = None,
    version: str | None = None,
) -> str:
    """The whole page for ``day`` from :func:`pipeline.report.collect.collect_all`'s output,
    in ``lang`` (``en`` or ``zh``); ``fingerprint`` and ``version`` name the configuration and
    the code that made it."""
    language = Language(lang)
    formats = _cell_formats(language)
    page = environment().get_template("report.html.j2")
    return page.render(
        s=sections,
        v=_views(sections, language),
        day=day,
        generated_at=generated_at,
        source=source,
        provenance=language("page.provenance", fingerprint=fingerprint, version=version)
        if fingerprint
        else "",
        t=language,
        lang=language,
        missing=lambda x: isinstance(x, SectionMissing),
        labelled=_labelled,
        numeric=lambda kind: kind in formats,
        cell=_cell(language),
        count=count,
        cny=cny,
        cny_short=language.cny_short,
        pct=pct,
        num=num,
    )
