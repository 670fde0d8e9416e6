"""The report's plots: matplotlib figures on Agg canvases, returned as inline SVG text.

Every function takes a section's data (see :mod:`pipeline.report.collect`) and the report's
:class:`~pipeline.report.i18n.Language` (labels and number formats), and returns one ``<svg>``
element. Text is drawn as paths, so the SVG needs no font on the reader's machine; Chinese text
(labels of the Chinese report, branch names) is drawn from the packaged Noto Sans SC
(:mod:`pipeline.report.fonts`). Element ids carry a per-figure prefix so several SVGs can live
in one HTML page.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.report import fonts
from pipeline.report.collect import CHANNELS
from pipeline.report.fmt import pct
from pipeline.report.i18n import Language

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BLUE = "#2563eb"
GREEN = "#059669"
RED = "#dc2626"
AMBER = "#d97706"
PALETTE = ("#1e3a8a", "#2563eb", "#60a5fa", "#93c5fd", "#cbd5e1", "#94a3b8", "#64748b")
CHANNEL_COLOURS = ("#dc2626", "#f59e0b", "#a855f7", "#2563eb", "#059669")
WIDTH = 8.0
"""Figure width in inches (SVG user units scale with the page)."""


STYLE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "cvp-report",
    "font.size": 9.5,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.6,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "figure.dpi": 100,
}
"""matplotlib settings of the report's plots, applied only while a plot is drawn."""

Plot = Callable[[dict[str, Any], Language], str]

FAMILIES = {"en": ["DejaVu Sans", fonts.FAMILY], "zh": [fonts.FAMILY, "DejaVu Sans"]}
"""Font families per report language; a glyph missing from the first is taken from the next."""


def _styled(plot: Plot) -> Plot:
    """Draw ``plot`` under :data:`STYLE`, leaving the caller's matplotlib settings as they were."""

    @functools.wraps(plot)
    def wrapper(data: dict[str, Any], lang: Language) -> str:
        import matplotlib

        fonts.register_for_matplotlib()
        style = {**STYLE, "font.family": FAMILIES[lang.lang]}
        # the CJK font has one weight: bold titles take it at its regular weight, and
        # matplotlib would log that once per title
        font_log = logging.getLogger("matplotlib.font_manager")
        level = font_log.level
        font_log.setLevel(logging.ERROR)
        try:
            with matplotlib.rc_context(style):  # type: ignore[arg-type]
                return plot(data, lang)
        finally:
            font_log.setLevel(level)

    return wrapper


def _new(height: float = 3.4, ncols: int = 1, width_ratios: Sequence[float] | None = None) -> Any:
    """A figure on its own Agg canvas: no pyplot, no global backend, nothing left open."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(
        1,
        ncols,
        gridspec_kw={"width_ratios": list(width_ratios)} if width_ratios else None,
    )
    return fig, axes


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def to_svg(fig: Any, key: str) -> str:
    """Serialise ``fig``; prefix its ids with ``key`` so inline SVGs in one page do not clash."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text)
    return text


def _money_axis(axis: Any, lang: Language) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: lang.cny_short(v, unit=False)))


def _empty(ax: Any, text: str) -> None:
    ax.figure.set_size_inches(WIDTH, 1.0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(0.5, 0.5, text, ha="center", va="center", color=MUTED, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


@_styled
def plot_tiers(data: dict[str, Any], lang: Language) -> str:
    """Customers per tier beside contribution per tier."""
    tiers = data["tiers"]
    names = [t["tier"] for t in tiers]
    fig, (left, right) = _new(3.2, 2)
    ys = range(len(names))
    customers = [int(t["customers"]) for t in tiers]
    contribution = [float(t["contribution_amount"] or 0) for t in tiers]
    colours = [PALETTE[min(i, len(PALETTE) - 1)] for i in range(len(names))]
    left.barh(ys, customers, color=colours)
    right.barh(
        ys,
        contribution,
        color=[c if v >= 0 else RED for c, v in zip(colours, contribution, strict=True)],
    )
    for ax, title in (
        (left, lang.plain("fig.customers")),
        (right, lang.plain("fig.contribution_cny")),
    ):
        ax.set_yticks(list(ys), [lang.code("tier", n) for n in names])
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
    right.set_yticklabels([])
    _money_axis(right.xaxis, lang)
    for y, (n, t) in enumerate(zip(customers, tiers, strict=True)):
        left.text(
            n, y, f" {n:,} ({pct(t['customer_share'])})", va="center", fontsize=8.5, color=INK
        )
    for y, (v, t) in enumerate(zip(contribution, tiers, strict=True)):
        right.text(
            max(v, 0), y, f" {pct(t['contribution_share'])}", va="center", fontsize=8.5, color=INK
        )
    left.set_xlim(0, max(customers or [1]) * 1.45)
    top = max([*contribution, 0.0])
    right.set_xlim(min([*contribution, 0.0]) * 1.1, top * 1.3 if top > 0 else 1)
    return to_svg(fig, "svg-tiers")


@_styled
def plot_lorenz(data: dict[str, Any], lang: Language) -> str:
    """Lorenz curve of contribution (floored at zero) with the line of equality."""
    fig, ax = _new(3.6)
    x = [v * 100 for v in data["lorenz_x"]]
    y = [v * 100 for v in data["lorenz_y"]]
    ax.plot([0, 100], [0, 100], color=MUTED, lw=1, ls="--", label=lang.plain("fig.equality"))
    ax.fill_between(x, y, x, color=BLUE, alpha=0.08)
    ax.plot(x, y, color=BLUE, lw=2, label=lang.plain("fig.ranked"))
    share = data["summary"].get("top_20pct_share_of_positive")
    if share is not None:
        at = 100 - 100 * float(share)
        ax.plot([80, 80], [0, at], color=AMBER, lw=1)
        ax.plot([80, 100], [at, at], color=AMBER, lw=1)
        ax.annotate(
            lang.plain("fig.top_20", share=pct(float(share))),
            xy=(80, at),
            xytext=(30, 62),
            color=INK,
            fontsize=8.5,
            arrowprops={"arrowstyle": "->", "color": AMBER},
        )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel(lang.plain("fig.share_of_customers"))
    ax.set_ylabel(lang.plain("fig.cumulative_share"))
    ax.legend(loc="upper left", fontsize=8.5)
    ax.set_aspect("auto")
    return to_svg(fig, "svg-lorenz")


@_styled
def plot_components(data: dict[str, Any], lang: Language) -> str:
    """Waterfall from revenue components, down through costs, to the net contribution; then,
    when the capital charge is known, down by it to the economic profit."""
    fig, ax = _new(3.6)
    labels, bottoms, heights, colours = [], [], [], []
    level = 0.0
    for part in data["parts"]:
        delta = part["sign"] * part["amount"]
        labels.append(lang.code("component", part["column"]))
        bottoms.append(level if delta >= 0 else level + delta)
        heights.append(abs(delta))
        colours.append(GREEN if delta >= 0 else RED)
        level += delta
    labels.append(lang.plain("fig.contribution"))
    net = data["contribution_amount"]
    bottoms.append(min(0.0, net))
    heights.append(abs(net))
    colours.append(BLUE if net >= 0 else RED)
    totals = [(len(labels) - 1, net)]
    capital, profit = data.get("capital_charge_amount"), data.get("economic_profit_amount")
    if capital is not None and profit is not None:
        labels += [lang.plain("fig.capital_charge"), lang.plain("fig.economic_profit")]
        bottoms += [min(net, net - capital), min(0.0, profit)]
        heights += [abs(capital), abs(profit)]
        colours += [RED, BLUE if profit >= 0 else RED]
        totals.append((len(labels) - 1, profit))
    xs = range(len(labels))
    ax.bar(xs, heights, bottom=bottoms, color=colours, width=0.65)
    for x, part in zip(xs, data["parts"], strict=False):
        top = bottoms[x] + heights[x]
        sign = "+" if part["sign"] > 0 else "−"
        ax.text(
            x,
            top,
            f"{sign}{lang.cny_short(part['amount'], unit=False)}",
            ha="center",
            va="bottom",
            fontsize=8,
            color=INK,
        )
    if len(totals) > 1:
        x = totals[0][0] + 1
        ax.text(
            x,
            bottoms[x] + heights[x],
            f"−{lang.cny_short(capital, unit=False)}",
            ha="center",
            va="bottom",
            fontsize=8,
            color=INK,
        )
    for x, amount in totals:
        ax.text(
            x,
            bottoms[x] + heights[x],
            lang.cny_short(amount, unit=False),
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=INK,
            weight="bold",
        )
    ax.axhline(0, color=MUTED, lw=0.8)
    top = max(b + h for b, h in zip(bottoms, heights, strict=True))
    low = min([*bottoms, 0.0])
    ax.set_ylim(low - 0.04 * (top - low), top + 0.12 * (top - low or 1))
    ax.set_xticks(list(xs), labels, rotation=20, ha="right")
    ax.grid(axis="x", visible=False)
    _money_axis(ax.yaxis, lang)
    ax.set_ylabel(lang.plain("fig.cny_a_year"))
    return to_svg(fig, "svg-components")


@_styled
def plot_clv(data: dict[str, Any], lang: Language) -> str:
    """Histogram of lifetime value (1st-99th percentile) beside customers per life stage."""
    import numpy as np

    fig, (left, right) = _new(3.4, 2, width_ratios=(1.6, 1))
    values = np.asarray(data["values"], dtype=float)
    if len(values):
        lo, hi = np.percentile(values, [1, 99])
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        left.hist(np.clip(values, lo, hi), bins=40, color=BLUE, alpha=0.85)
        median = float(np.median(values))
        left.axvline(median, color=AMBER, lw=1.5)
        left.text(
            median,
            left.get_ylim()[1] * 0.92,
            lang.plain("fig.median", amount=lang.cny_short(median)),
            color=INK,
            fontsize=8.5,
        )
        _money_axis(left.xaxis, lang)
    else:
        _empty(left, lang.plain("fig.no_clv"))
    left.set_title(lang.plain("fig.clv_title"))
    left.set_ylabel(lang.plain("fig.customers_axis"))
    stages = data["stages"]
    names = [str(s["life_stage"]) for s in stages]
    counts = [int(s["customers"]) for s in stages]
    stage_colours = {
        "new": "#60a5fa",
        "growing": GREEN,
        "mature": BLUE,
        "declining": AMBER,
        "dormant": MUTED,
    }
    right.barh(range(len(names)), counts, color=[stage_colours.get(n, MUTED) for n in names])
    right.set_yticks(range(len(names)), [lang.code("life_stage", n) for n in names])
    right.invert_yaxis()
    right.grid(axis="y", visible=False)
    right.set_title(lang.plain("fig.life_stage"))
    total = sum(counts) or 1
    for y, n in enumerate(counts):
        right.text(n, y, f" {n:,} ({pct(n / total)})", va="center", fontsize=8.5, color=INK)
    right.set_xlim(0, max(counts or [1]) * 1.6)
    return to_svg(fig, "svg-clv")


@_styled
def plot_calibration(data: dict[str, Any], lang: Language) -> str:
    """Mean predicted and actual holdout events per calibration-frequency bucket."""
    fig, ax = _new(3.4)
    buckets = data["buckets"]
    labels = [f"{b['frequency_bucket']}\nn={int(b['n_customers']):,}" for b in buckets]
    xs = list(range(len(labels)))
    ax.plot(
        xs,
        [b["mean_actual"] for b in buckets],
        marker="o",
        color=INK,
        label=lang.plain("fig.actual"),
    )
    ax.plot(
        xs,
        [b["mean_predicted"] for b in buckets],
        marker="s",
        color=BLUE,
        ls="--",
        label=lang.plain("fig.predicted"),
    )
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(lang.plain("fig.calibration_x"))
    ax.set_ylabel(lang.plain("fig.calibration_y"))
    ax.legend(loc="upper left", fontsize=8.5)
    return to_svg(fig, "svg-calibration")


@_styled
def plot_merchants(data: dict[str, Any], lang: Language) -> str:
    """Yearly turnover against assets held, declared and undeclared merchants."""
    fig, ax = _new(3.6)
    merchants = data["merchants"]
    if not merchants:
        _empty(ax, lang.plain("fig.no_merchants"))
        return to_svg(fig, "svg-merchants")
    for declared, colour, label in (
        (True, BLUE, lang.plain("fig.declared")),
        (False, AMBER, lang.plain("fig.undeclared")),
    ):
        group = [m for m in merchants if bool(m["is_declared"]) is declared]
        ax.scatter(
            [max(float(m["turnover_amount"] or 0), 1.0) for m in group],
            [max(float(m["aum_amount"] or 0), 1.0) for m in group],
            s=22,
            color=colour,
            alpha=0.8,
            label=f"{label} ({len(group):,})",
            edgecolor="white",
            linewidth=0.4,
        )
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        # 1-2-5 steps: turnover and balances often span less than a decade
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        _money_axis(axis, lang)
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(lang.plain("fig.turnover_axis"))
    ax.set_ylabel(lang.plain("fig.aum_axis"))
    ax.legend(loc="upper left", fontsize=8.5)
    return to_svg(fig, "svg-merchants")


@_styled
def plot_clusters(data: dict[str, Any], lang: Language) -> str:
    """The largest market clusters by turnover, with their size."""
    clusters = data["clusters"]
    fig, ax = _new(max(1.6, 0.32 * len(clusters) + 1.0))
    if not clusters:
        _empty(ax, lang.plain("fig.no_clusters"))
        return to_svg(fig, "svg-clusters")
    labels = [f"{c['market_cluster_id']}  ({c['main_branch_id'] or '—'})" for c in clusters]
    values = [float(c["turnover_amount"] or 0) for c in clusters]
    ax.barh(range(len(labels)), values, color=BLUE, height=0.6)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    for y, c in enumerate(clusters):
        ax.text(
            values[y],
            y,
            lang.plain(
                "fig.cluster_bar",
                merchants=lang.n("merchant", int(c["member_count"])),
                link=lang.code("link_type", c["link_type"]),
            ),
            va="center",
            fontsize=8,
            color=INK,
        )
    ax.set_xlim(0, max(values) * 1.45 if max(values) > 0 else 1)
    _money_axis(ax.xaxis, lang)
    ax.set_xlabel(lang.plain("fig.cluster_axis"))
    return to_svg(fig, "svg-clusters")


@_styled
def plot_channels(data: dict[str, Any], lang: Language) -> str:
    """Each tier's transactions split by channel (100% bars), with all customers on top."""
    rows = [{"tier": lang.plain("fig.all_customers"), **data["totals"]}, *data["per_tier"]]
    fig, ax = _new(max(2.2, 0.36 * len(rows) + 1.1))
    lefts = [0.0] * len(rows)
    for code, colour in zip(CHANNELS, CHANNEL_COLOURS, strict=True):
        shares = []
        for r in rows:
            total = sum(int(r[c] or 0) for c in CHANNELS)
            shares.append(100 * int(r[code] or 0) / total if total else 0.0)
        ax.barh(
            range(len(rows)),
            shares,
            left=lefts,
            color=colour,
            label=lang.code("channel", code),
            height=0.7,
        )
        for y, (s, left) in enumerate(zip(shares, lefts, strict=True)):
            if s >= 7:
                ax.text(
                    left + s / 2,
                    y,
                    f"{s:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white",
                )
        lefts = [a + b for a, b in zip(lefts, shares, strict=True)]
    ax.set_yticks(range(len(rows)), [lang.code("tier", r["tier"]) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.grid(False)
    ax.set_xlabel(lang.plain("fig.channel_axis"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=5, fontsize=8.5)
    return to_svg(fig, "svg-channels")


@_styled
def plot_migration(data: dict[str, Any], lang: Language) -> str:
    """Yearly saving if each branch's migration candidates moved counter work online."""
    branches = data["branches"]
    fig, ax = _new(max(1.6, 0.3 * len(branches) + 1.0))
    if not branches:
        _empty(ax, lang.plain("fig.no_migration"))
        return to_svg(fig, "svg-migration")
    values = [float(b["saving_amount"] or 0) for b in branches]
    ax.barh(range(len(branches)), values, color=GREEN)
    ax.set_yticks(range(len(branches)), [str(b["home_branch_id"]) for b in branches])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    for y, b in enumerate(branches):
        ax.text(
            values[y],
            y,
            lang.plain("fig.migration_bar", customers=lang.n("customer", int(b["candidates"]))),
            va="center",
            fontsize=8,
            color=INK,
        )
    ax.set_xlim(0, max(values) * 1.35 if max(values) > 0 else 1)
    _money_axis(ax.xaxis, lang)
    ax.set_xlabel(lang.plain("fig.saving_axis"))
    return to_svg(fig, "svg-migration")


@_styled
def plot_rms(data: dict[str, Any], lang: Language) -> str:
    """Value created per relationship manager (top of the leaderboard): volume, new and lost
    stacked, the total as a tick."""
    rms = data["rms"]
    fig, ax = _new(max(2.2, 0.28 * len(rms) + 1.0))
    if not rms:
        _empty(ax, lang.plain("fig.no_rms"))
        return to_svg(fig, "svg-rms")
    rows = range(len(rms))
    parts = (
        ("value_volume_amount", BLUE, lang.plain("fig.volume")),
        ("value_new_amount", GREEN, lang.plain("fig.new")),
        ("value_lost_amount", RED, lang.plain("fig.lost")),
    )
    pos = [0.0] * len(rms)
    neg = [0.0] * len(rms)
    for key, color, label in parts:
        vals = [float(r.get(key) or 0) for r in rms]
        starts = [p if v >= 0 else n for v, p, n in zip(vals, pos, neg, strict=True)]
        ax.barh(rows, vals, left=starts, color=color, label=label, height=0.7)
        pos = [p + max(v, 0) for p, v in zip(pos, vals, strict=True)]
        neg = [n + min(v, 0) for n, v in zip(neg, vals, strict=True)]
    totals = [float(r["value_created_amount"] or 0) for r in rms]
    ax.scatter(
        totals, rows, marker="|", s=160, color=INK, zorder=3, label=lang.plain("fig.value_created")
    )
    ax.set_yticks(rows, [f"{r['rm_id']} ({int(r['customers'])})" for r in rms])
    ax.invert_yaxis()
    ax.axvline(0, color=MUTED, lw=0.8)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=7, frameon=False, ncol=4)
    _money_axis(ax.xaxis, lang)
    ax.set_xlabel(lang.plain("fig.rms_axis"))
    return to_svg(fig, "svg-rms")


@_styled
def plot_branches(data: dict[str, Any], lang: Language) -> str:
    """Contribution per branch, stacked by tier."""
    branches = data["branches"]
    order = [b["branch_id"] for b in branches]
    fig, ax = _new(max(2.4, 0.26 * len(order) + 1.3))
    tiers: dict[str, int] = {}
    for r in data["by_tier"]:
        # the 'not_tiered' reconciling row (closed and frozen customers) has no rank: last
        rank = r["tier_rank"]
        tiers.setdefault(r["tier"], int(rank) if rank is not None else len(tiers) + 100)
    pos = [0.0] * len(order)
    neg = [0.0] * len(order)
    index = {b: i for i, b in enumerate(order)}
    for i, (tier, _rank) in enumerate(sorted(tiers.items(), key=lambda kv: kv[1])):
        vals = [0.0] * len(order)
        for r in data["by_tier"]:
            if r["tier"] == tier:
                vals[index[r["branch_id"]]] += float(r["contribution_amount"] or 0)
        starts = [p if v >= 0 else n for v, p, n in zip(vals, pos, neg, strict=True)]
        ax.barh(
            range(len(order)),
            vals,
            left=starts,
            color=PALETTE[min(i, len(PALETTE) - 1)],
            label=lang.code("tier", tier),
            height=0.72,
        )
        pos = [p + max(v, 0) for p, v in zip(pos, vals, strict=True)]
        neg = [n + min(v, 0) for n, v in zip(neg, vals, strict=True)]
    names = {b["branch_id"]: b.get("branch_name") for b in branches}
    ax.set_yticks(range(len(order)), [f"{b} {names[b]}" if names[b] else b for b in order])
    ax.invert_yaxis()
    ax.axvline(0, color=MUTED, lw=0.8)
    ax.grid(axis="y", visible=False)
    _money_axis(ax.xaxis, lang)
    ax.set_xlabel(lang.plain("fig.branches_axis"))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(tiers), fontsize=8.5)
    return to_svg(fig, "svg-branches")


FEED_COLOURS = {"TXN": BLUE, "ACCT": "#60a5fa", "CUST": "#93c5fd", "BRCH": "#cbd5e1"}


@_styled
def plot_rows_history(data: dict[str, Any], lang: Language) -> str:
    """Rows loaded per business date and feed, with quarantined rows on a second axis."""
    history = data["history"]
    dates = sorted({h["business_date"] for h in history})
    fig, ax = _new(3.0)
    if not dates:
        _empty(ax, lang.plain("fig.no_files"))
        return to_svg(fig, "svg-dq-rows")
    xs = range(len(dates))
    bottom = [0.0] * len(dates)
    pos = {d: i for i, d in enumerate(dates)}
    feeds = sorted(
        {h["feed"] for h in history},
        key=lambda f: list(FEED_COLOURS).index(f) if f in FEED_COLOURS else 99,
    )
    for feed in feeds:
        vals = [0.0] * len(dates)
        for h in history:
            if h["feed"] == feed:
                vals[pos[h["business_date"]]] = float(h["rows_loaded"])
        ax.bar(xs, vals, bottom=bottom, color=FEED_COLOURS.get(feed, MUTED), label=feed, width=0.8)
        bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
    quarantined = [0.0] * len(dates)
    for h in history:
        quarantined[pos[h["business_date"]]] += float(h["rows_quarantined"])
    q = ax.twinx()
    q.plot(
        xs, quarantined, color=RED, marker="o", ms=3, lw=1.2, label=lang.plain("fig.quarantined")
    )
    q.set_ylim(0, max(max(quarantined) * 1.3, 1))
    q.set_ylabel(lang.plain("fig.rows_quarantined"), color=RED)
    q.grid(False)
    q.spines["right"].set_visible(True)
    step = max(1, len(dates) // 10)
    ax.set_xticks(list(xs)[::step], [d.strftime("%m-%d") for d in dates][::step])
    ax.set_ylabel(lang.plain("fig.rows_loaded"))
    ax.grid(axis="x", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = q.get_legend_handles_labels()
    ax.legend(
        handles + h2, labels + l2, loc="upper left", ncol=5, fontsize=8, bbox_to_anchor=(0, 1.18)
    )
    return to_svg(fig, "svg-dq-rows")


@_styled
def plot_quarantine(data: dict[str, Any], lang: Language) -> str:
    """Quarantined rows of the date by reason and feed."""
    reasons = data["reasons"]
    fig, ax = _new(max(1.6, 0.3 * len(reasons) + 0.9))
    if not reasons:
        _empty(ax, lang.plain("fig.no_quarantine"))
        return to_svg(fig, "svg-dq-quarantine")
    labels = [f"{r['reason']} ({r['feed']})" for r in reasons]
    values = [int(r["rows"]) for r in reasons]
    ax.barh(range(len(labels)), values, color=RED)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8, color=INK)
    ax.set_xlim(0, max(values) * 1.2)
    ax.set_xlabel(lang.plain("fig.rows_quarantined"))
    return to_svg(fig, "svg-dq-quarantine")
