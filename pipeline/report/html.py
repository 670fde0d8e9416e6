"""Render the collected sections into one self-contained HTML page (inline CSS and SVG, no
script, no network).

Each plot sits in a ``<figure id="fig-...">`` whose caption says what it shows and the numbers
that matter; a section whose upstream table is missing keeps its figure element with a plain
sentence instead of the plot. Tables carry ids ``tbl-...``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from pipeline.report import figures
from pipeline.report.collect import CHANNELS, SectionMissing
from pipeline.report.fmt import cny, cny_short, count, num, pct, plural

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

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bad:#dc2626;
        --ok:#059669; --bg:#f8fafc; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", "Noto Sans", "PingFang SC",
       "Microsoft YaHei", Helvetica, Arial, sans-serif; color:var(--ink); background:var(--bg); }
header { background:#0f172a; color:#f8fafc; padding:28px 40px 22px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:650; }
header p { margin:0; color:#cbd5e1; }
nav { position:sticky; top:0; background:#fff; border-bottom:1px solid var(--line);
      padding:8px 40px; z-index:1; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; white-space:nowrap; }
main { max-width:1100px; margin:0 auto; padding:8px 40px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px;
          padding:18px 24px 8px; margin:22px 0; }
section > h2 { margin:0 0 4px; font-size:20px; }
section > p.lead { margin:0 0 12px; color:var(--muted); }
.kpis { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:12px;
        margin:6px 0 14px; }
.kpi { border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.kpi .v { font-size:22px; font-weight:650; }
.kpi .k { color:var(--muted); font-size:13px; }
figure { margin:12px 0 18px; }
figure svg { display:block; width:100%; max-width:860px; height:auto; }
figcaption { margin-top:6px; color:var(--ink); font-size:14px; max-width:860px; }
figcaption b { font-weight:650; }
figure.missing, p.missing { background:#fff7ed; border:1px dashed #fdba74; border-radius:8px;
                            padding:12px 16px; color:#9a3412; }
table { border-collapse:collapse; margin:8px 0 18px; font-size:13.5px; min-width:50%; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left; }
th { color:var(--muted); font-weight:600; background:#f9fafb; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
td.bad { color:var(--bad); font-weight:600; } td.ok { color:var(--ok); }
.scroll { overflow-x:auto; }
footer { color:var(--muted); font-size:13px; text-align:center; padding:10px 0 30px; }
@media print { nav { display:none; } section { break-inside:avoid; } body { background:#fff; } }
"""


def _figure(fig_id: str, title: str, svg: str, caption: str) -> str:
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
    return (
        f'<figure id="{fig_id}">{svg}'
        f"<figcaption><b>{escape(title)}.</b> {caption}</figcaption></figure>"
    )


def _missing_figure(fig_id: str, title: str, missing: SectionMissing) -> str:
    return (
        f'<figure id="{fig_id}" class="missing"><figcaption><b>{escape(title)}: not available.'
        f"</b> {escape(str(missing))}</figcaption></figure>"
    )


Column = tuple[str, str, Callable[[Any], str] | None]
"""(header, key, formatter): a formatter marks a numeric, right-aligned column."""


def _table(table_id: str, columns: Sequence[Column], data: Sequence[dict[str, Any]]) -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if f else f"<th>{escape(h)}</th>" for h, _, f in columns
    )
    body = []
    for row in data:
        cells = []
        for _, key, f in columns:
            value = row.get(key)
            if f:
                cells.append(f'<td class="n">{escape(f(value))}</td>')
            else:
                cells.append(f"<td>{escape('—' if value is None else str(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _section(sec_id: str, title: str, lead: str, body: str) -> str:
    return (
        f'<section id="{sec_id}"><h2>{escape(title)}</h2><p class="lead">{lead}</p>{body}</section>'
    )


def _kpi(value: str, key: str) -> str:
    return f'<div class="kpi"><div class="v">{escape(value)}</div><div class="k">{key}</div></div>'


Data = dict[str, Any]
Sections = dict[str, Data | SectionMissing]


def _overview(s: Sections) -> str:
    o, q = s["overview"], s["quality"]
    if isinstance(o, SectionMissing):
        return f'<p class="missing">{escape(str(o))}</p>'
    kpis = [
        _kpi(count(o["customers"]), "active customers with a tier"),
        _kpi(cny_short(o["contribution_amount"]), "profit contribution a year"),
        _kpi(cny_short(o["economic_profit_amount"]), "economic profit a year (after capital)"),
        _kpi(cny_short(o["aum_amount"]), "assets under management (average)"),
        _kpi(cny_short(o["clv_amount"]), "lifetime value of the book"),
        _kpi(count(o["golden_customers"]), "golden customers"),
        _kpi(count(o["merchants"]), "high-value individual merchants"),
        _kpi(count(o["potential_customers"]), "potential (future target) customers"),
    ]
    if not isinstance(q, SectionMissing):
        kpis.append(_kpi(count(q["rows_quarantined"]), "rows quarantined on the date"))
    return f'<div class="kpis">{"".join(kpis)}</div>'


def _tiers(s: Sections) -> str:
    t = s["tiers"]
    title = "Customers and contribution by tier"
    if isinstance(t, SectionMissing):
        return _missing_figure("fig-tiers", title, t)
    tiers = t["tiers"]
    best = [x for x in tiers if x["contribution_share"] > 0]
    lead_bits = []
    if best:
        top = max(best, key=lambda x: x["contribution_share"] / max(x["customer_share"], 1e-12))
        lead_bits.append(
            f"<b>{escape(str(top['tier']))}</b> customers are {pct(top['customer_share'], 1)} "
            f"of the book and produce {pct(top['contribution_share'], 1)} of contribution."
        )
    counts = "; ".join(f"{escape(str(x['tier']))} {count(x['customers'])}" for x in tiers)
    caption = (
        f"{count(t['customers'])} customers, total contribution "
        f"{cny_short(t['contribution_amount'])} a year, economic profit "
        f"{cny_short(t['economic_profit_amount'])}. Customers per tier: {counts}. "
        + " ".join(lead_bits)
    )
    table = _table(
        "tbl-tiers",
        [
            ("tier", "tier", None),
            ("customers", "customers", count),
            ("share", "customer_share", lambda v: pct(v, 1)),
            ("contribution, CNY", "contribution_amount", cny),
            ("share", "contribution_share", lambda v: pct(v, 1)),
            ("economic profit, CNY", "economic_profit_amount", cny),
            ("AUM, CNY", "aum_amount", cny),
            ("golden", "golden_customers", count),
            ("merchants", "merchants", count),
            ("potential", "potential_customers", count),
        ],
        tiers,
    )
    return _figure("fig-tiers", title, figures.plot_tiers(t), caption) + table


def _lorenz(s: Sections) -> str:
    c = s["concentration"]
    title = "Concentration of contribution (Lorenz curve)"
    if isinstance(c, SectionMissing):
        return _missing_figure("fig-lorenz", title, c)
    m = c["summary"]
    gini = f" Gini {num(m['gini'])}." if m.get("gini") is not None else ""
    more = (
        " — more than all of it, because the other 80% lose money in total"
        if (m["top_20pct_share"] or 0) > 1
        else ""
    )
    caption = (
        f"The top 20% of customers produce <b>{pct(m['top_20pct_share'])}</b> of the net "
        f"contribution{more} ({pct(m['top_20pct_share_of_positive'])} of all positive "
        f"contributions).{gini} {pct(m['negative_customer_share'])} of customers lose money "
        f"(together {cny_short(m['negative_contribution_amount'])}); the curve floors them at "
        f"zero. {count(m['customers'])} customers."
    )
    if not c["from_value_stage"]:
        caption += " (rpt_contribution_concentration missing: shares computed here.)"
    return _figure("fig-lorenz", title, figures.plot_lorenz(c), caption)


def _components(s: Sections) -> str:
    c = s["components"]
    title = "Contribution components"
    if isinstance(c, SectionMissing):
        return _missing_figure("fig-components", title, c)
    parts = sorted(c["parts"], key=lambda p: -p["amount"])
    revenue = [p for p in parts if p["sign"] > 0]
    cost = [p for p in parts if p["sign"] < 0]
    rev_total = c["revenue_amount"] or 0.0
    cost_total = c["cost_amount"] or 0.0
    window = ""
    if c["window_start"] and c["window_end"]:
        held = (
            f", of which the warehouse holds {plural(c['history_days'], 'day')}"
            if c["history_days"] is not None
            else ""
        )
        window = f" a year (window {c['window_start']} to {c['window_end']}{held}, annualised)"
    capital = ""
    if c["economic_profit_amount"] is not None:
        capital = (
            f"; less the capital charge {cny_short(c['capital_charge_amount'])}, economic profit "
            f"<b>{cny_short(c['economic_profit_amount'])}</b>"
        )
    caption = (
        f"Revenue {cny_short(rev_total)} minus cost {cny_short(cost_total)} gives contribution "
        f"<b>{cny_short(c['contribution_amount'])}</b>{window}{capital}, over all "
        f"{count(c['customers'])} customers with a contribution (inactive ones too, unlike the "
        "tiers). Largest revenue: "
        + ", ".join(
            f"{escape(p['label']).lower()} {pct(p['amount'] / rev_total if rev_total else 0)}"
            for p in revenue[:3]
        )
        + "; largest cost: "
        + ", ".join(
            f"{escape(p['label']).lower()} {pct(p['amount'] / cost_total if cost_total else 0)}"
            for p in cost[:2]
        )
        + "."
    )
    return _figure("fig-components", title, figures.plot_components(c), caption)


def _clv(s: Sections) -> str:
    c = s["clv"]
    title = "Lifetime value"
    out = []
    if isinstance(c, SectionMissing):
        out.append(_missing_figure("fig-clv-distribution", title, c))
    else:
        m, fit = c["summary"], c["fit"]
        stages = ", ".join(
            f"{escape(str(x['life_stage']))} {count(x['customers'])}" for x in c["stages"]
        )
        model = ""
        if fit:
            model = (
                f" Model {escape(str(fit.get('model') or ''))} fitted on "
                f"{count(fit.get('n_customers'))} customers; Gamma-Gamma "
                f"{escape(str(fit.get('gg_status') or 'n/a'))}."
            )
        caption = (
            f"{count(m['customers'])} customers scored; lifetime value of the book "
            f"<b>{cny_short(m['clv_amount'])}</b>, median {cny_short(m['median_clv_amount'])}, "
            f"the top 10% hold {pct(m['top_10pct_share'])}. "
            f"{count(m['negative_customers'])} have a negative value (they cost more than they "
            f"bring). Mean P(alive) {num(m['mean_p_alive'])}. Life stages: {stages}.{model}"
        )
        out.append(
            _figure(
                "fig-clv-distribution",
                "Lifetime value distribution and life stages",
                figures.plot_clv(c),
                caption,
            )
        )
        out.append(_money_backtest(c.get("money") or [], fit))
        out.append(_takeup(c.get("takeup") or []))
    k = s["calibration"]
    title = "Holdout calibration"
    if isinstance(k, SectionMissing):
        out.append(_missing_figure("fig-clv-calibration", title, k))
    else:
        m = k["metrics"]
        caption = (
            f"Fitted on history to {m['calibration_end']}, predicted events to "
            f"{m['holdout_end']} for {count(m['holdout_customers'])} customers: predicted "
            f"{num(m['holdout_predicted_events'], 0)} against actual "
            f"{count(m['holdout_actual_events'])} events; RMSE per customer "
            f"{num(m['holdout_rmse'])}, Spearman rank correlation "
            f"{num(m['holdout_spearman'])}, the predicted top decile made "
            f"{pct(m['holdout_top_decile_share'])} of actual events. Validation: "
            f"{escape(str(m['validation_status']))}. Lines that track each other mean the "
            "model ranks and sizes customers' future activity well."
        )
        out.append(
            _figure(
                "fig-clv-calibration",
                title + ": predicted vs actual by frequency",
                figures.plot_calibration(k),
                caption,
            )
        )
    return "".join(out)


def _money_backtest(money: list[dict[str, Any]], fit: dict[str, Any]) -> str:
    """The nightly money backtest (docs/clv.md), with a warning when CLV loses."""
    if not money:
        return '<p class="missing">No money backtest for this date (clv_money_backtest).</p>'
    first = money[0]
    beats = bool(first.get("clv_beats_baseline"))
    verdict = (
        "CLV beats the naive baseline (higher Spearman and lower MAE)."
        if beats
        else "<b>Warning: CLV does not beat the naive baseline</b> (trailing-year contribution "
        "pro rata) on both Spearman and MAE."
    )
    method = ""
    if fit.get("value_method"):
        method = (
            f" Valued by {escape(str(fit['value_method']))} "
            f"({escape(str(fit.get('value_method_reason') or ''))}); Spearman(frequency, value "
            f"per event) {num(fit.get('gg_frequency_value_spearman'))}."
        )
    if fit.get("mode_jump"):
        method += f" Parameter mode jump: {escape(str(fit.get('mode_jump_detail')))}."
    lead = (
        f"<p>Money backtest: CLV as of {first['calibration_end']} over the months to "
        f"{first['holdout_end']} against the contribution customers produced. {verdict}"
        f"{method}</p>"
    )
    cols: list[Column] = [
        ("predictor", "predictor", None),
        ("customers", "customers", count),
        ("Spearman", "spearman", lambda v: num(v, 3)),
        ("MAE (CNY)", "mae_amount", lambda v: num(v, 0)),
        ("top-decile capture", "top_decile_capture", pct),
        ("predicted (CNY)", "predicted_total_amount", cny_short),
        ("realised (CNY)", "realized_total_amount", cny_short),
    ]
    return lead + _table("tbl-clv-money-backtest", cols, money)


def _takeup(takeup: list[dict[str, Any]]) -> str:
    """Next-product take-up models: out-of-time metrics per product (docs/cross_sell.md)."""
    if not takeup:
        return ""
    cols: list[Column] = [
        ("product", "product_code", None),
        ("kind", "score_kind", None),
        ("test cut-off", "test_cutoff_date", None),
        ("takers (test)", "takers", count),
        ("AUC", "auc", lambda v: num(v, 3)),
        ("top-decile lift", "top_decile_lift", lambda v: num(v, 2)),
        ("Brier", "brier_score", lambda v: num(v, 4)),
        ("Brier of base rate", "brier_base_rate", lambda v: num(v, 4)),
        ("status", "status", None),
    ]
    return (
        "<p>Next product = take-up within the horizon, validated out of time (a model trained "
        "only on outcomes known by the test cut-off); a look-alike has no probability.</p>"
        + _table("tbl-takeup", cols, takeup)
    )


def _merchants(s: Sections) -> str:
    out = []
    m = s["merchants"]
    title = "Detected merchants"
    if isinstance(m, SectionMissing):
        out.append(_missing_figure("fig-merchants", title, m))
    else:
        total = m["turnover_amount"]
        undeclared = m["undeclared_turnover_amount"]
        caption = (
            f"<b>{count(m['count'])}</b> individual merchants detected, turning over "
            f"{cny_short(total)} a year through personal accounts. "
            f"<b>{count(m['undeclared_count'])}</b> have not declared a business: "
            f"{cny_short(undeclared)} of undeclared turnover "
            f"({pct(undeclared / total if total else 0)}). Points far right and low are "
            "large traders with modest balances."
        )
        if not m["count"]:
            caption = "No merchants detected on this date (the merchants stage ran)."
        elif m["scatter_step"] > 1:
            caption += f" Every {m['scatter_step']}th merchant by turnover is drawn."
        out.append(
            _figure(
                "fig-merchants",
                title + ": turnover against assets held",
                figures.plot_merchants(m),
                caption,
            )
        )
    c = s["clusters"]
    title = "Largest market clusters"
    if isinstance(c, SectionMissing):
        out.append(_missing_figure("fig-market-clusters", title, c))
    else:
        first = c["clusters"][0] if c["clusters"] else None
        biggest = (
            f" The largest, {escape(str(first['market_cluster_id']))}, joins "
            f"{count(first['member_count'])} merchants turning over "
            f"{cny_short(first['turnover_amount'])}."
            if first
            else ""
        )
        caption = (
            f"{plural(c['count'], 'cluster')} of merchants trading together (shared "
            f"counterparties or direct trade), {count(c['members'])} members, "
            f"{cny_short(c['turnover_amount'])} yearly turnover.{biggest} Bars: the "
            f"{len(c['clusters'])} largest by turnover (main branch in brackets)."
        )
        if not c["count"]:
            caption = "No market clusters on this date."
        out.append(_figure("fig-market-clusters", title, figures.plot_clusters(c), caption))
        if c["prospects"]:
            out.append(
                "<p>Largest prospects: counterparties at other banks trading with our "
                "merchants.</p>"
                + _table(
                    "tbl-prospects",
                    [
                        ("counterparty", "counterparty_key", None),
                        ("bank", "counterparty_bank", None),
                        ("role", "role", None),
                        ("amount, CNY", "amount", cny),
                        ("transactions", "txn_count", count),
                        ("our merchants", "merchant_count", count),
                    ],
                    c["prospects"],
                )
            )
    return "".join(out)


def _channels(s: Sections) -> str:
    out = []
    c = s["channels"]
    title = "Channel mix by tier"
    if isinstance(c, SectionMissing):
        out.append(_missing_figure("fig-channel-mix", title, c))
    else:
        total = c["txns"] or 0
        shares = ", ".join(
            f"{label.lower()} {pct(c['totals'][code] / total if total else 0)}"
            for code, label in CHANNELS
        )
        caption = (
            f"{count(total)} transactions over the trailing window: {shares}. "
            "The counter (red) is the most expensive channel to serve."
        )
        out.append(_figure("fig-channel-mix", title, figures.plot_channels(c), caption))
    m = s["migration"]
    title = "Channel migration saving"
    if isinstance(m, SectionMissing):
        out.append(_missing_figure("fig-migration", title, m))
    else:
        sm = m["summary"]
        counter = (
            f" All customers' counter work costs {cny_short(m['counter_cost_amount'])} a year."
            if m["counter_cost_amount"] is not None
            else ""
        )
        caption = (
            f"<b>{count(sm['candidates'])}</b> low-contribution customers could move "
            f"{num(sm['yearly_txns'], 0)} counter transactions a year online, saving an "
            f"estimated <b>{cny_short(sm['saving_amount'])}</b> a year (the protected — "
            f"potential, growing, elderly — are left out).{counter} Bars: the "
            f"{len(m['branches'])} of {count(m['branch_count'])} branches with the largest "
            "saving."
        )
        if not sm["candidates"]:
            caption = f"No channel-migration candidates on this date.{counter}"
        out.append(
            _figure("fig-migration", title + " by branch", figures.plot_migration(m), caption)
        )
    return "".join(out)


def _rms(s: Sections) -> str:
    r = s["rms"]
    title = "Relationship-manager leaderboard"
    if isinstance(r, SectionMissing):
        return _missing_figure("fig-rm-leaderboard", title, r)
    rms = r["rms"]
    first = rms[0] if rms else {}
    if first.get("period_end_month"):
        basis = (
            f"the book's contribution over the 12 months to {first['period_end_month']:%Y-%m} "
            f"against the 12 months to {first['period_start_month']:%Y-%m}, both at today's "
            "rates and costs: volume (customers in the book at both ends) + new customers − "
            "leavers' full year"
        )
        rate = (
            f" Restating the start year at today's rates changed it by "
            f"{cny_short(r['rate_effect_amount'])} in all: a treasury effect, not in value created."
        )
    else:
        basis = "not measurable yet: the history does not cover the start of the period"
        rate = ""
    lead = (
        f" {escape(str(first['rm_id']))} leads with {cny_short(first['value_created_amount'])}."
        if first.get("value_created_amount") is not None
        else ""
    )
    caption = (
        f"{plural(r['count'], 'manager')}; the {len(rms)} who created the most value "
        f"({basis}).{lead}{rate} In brackets: customers in the book."
    )
    table = _table(
        "tbl-rm-leaderboard",
        [
            ("manager", "rm_id", None),
            ("customers", "customers", count),
            ("by tier", "customers_by_tier", None),
            ("book contribution, CNY", "book_contribution_amount", cny),
            ("book economic profit, CNY", "book_economic_profit_amount", cny),
            ("value created, CNY", "value_created_amount", cny),
            ("of it volume, CNY", "value_volume_amount", cny),
            ("new, CNY", "value_new_amount", cny),
            ("lost, CNY", "value_lost_amount", cny),
            ("rate effect (apart), CNY", "rate_effect_amount", cny),
            ("new / left", "new_left", None),
            ("CLV change, CNY", "clv_change_amount", cny),
            ("upgrades", "upgrades", count),
            ("downgrades", "downgrades", count),
            ("golden", "golden_customers", count),
            ("merchants", "merchants", count),
        ],
        [{**m, "new_left": f"{m['new_customers'] or 0} / {m['lost_customers'] or 0}"} for m in rms],
    )
    return _figure("fig-rm-leaderboard", title, figures.plot_rms(r), caption) + table


def _branches(s: Sections) -> str:
    b = s["branches"]
    title = "Branches"
    if isinstance(b, SectionMissing):
        return _missing_figure("fig-branches", title, b)
    rows = b["branches"]
    total = sum(float(x["contribution_amount"] or 0) for x in rows)
    top = rows[0] if rows else None
    lead = (
        f" {escape(str(top['branch_id']))} contributes most: "
        f"{cny_short(top['contribution_amount'])} "
        f"({pct(float(top['contribution_amount'] or 0) / total if total else 0)})."
        if top
        else ""
    )
    profits = [x["economic_profit_amount"] for x in rows]
    profit = (
        ""
        if any(v is None for v in profits)
        else f", economic profit {cny_short(sum(float(v) for v in profits))}"
    )
    caption = f"{count(len(rows))} branches, contribution {cny_short(total)} a year{profit}.{lead}"
    table = _table(
        "tbl-branches",
        [
            ("branch", "branch_id", None),
            ("name", "branch_name", None),
            ("market area", "market_area", None),
            ("customers", "customers", count),
            ("contribution, CNY", "contribution_amount", cny),
            ("economic profit, CNY", "economic_profit_amount", cny),
            ("AUM, CNY", "aum_amount", cny),
            ("CLV, CNY", "clv_amount", cny),
            ("counter cost, CNY", "counter_cost_amount", cny),
            ("migration saving, CNY", "migration_saving_amount", cny),
            ("merchants", "merchants", count),
            ("golden", "golden_customers", count),
        ],
        rows,
    )
    return (
        _figure(
            "fig-branches", "Contribution per branch, by tier", figures.plot_branches(b), caption
        )
        + table
    )


def _quality(s: Sections, day: date) -> str:
    q = s["quality"]
    if isinstance(q, SectionMissing):
        return _missing_figure("fig-dq-rows", "Data quality", q) + _missing_figure(
            "fig-dq-quarantine", "Quarantined rows", q
        )
    dates = sorted({h["business_date"] for h in q["history"]})
    first = dates[0] if dates else day
    out = [
        _figure(
            "fig-dq-rows",
            "Rows loaded and quarantined",
            figures.plot_rows_history(q),
            f"{count(len(q['files']))} files for {day}: {count(q['rows_loaded'])} rows loaded, "
            f"<b>{count(q['rows_quarantined'])}</b> quarantined, "
            f"{count(q['files_rejected'])} files rejected. Bars: rows per business date and "
            f"feed from {first} to {day}; line: quarantined rows.",
        )
    ]
    reasons = q["reasons"]
    caption = (
        "No row of the date failed validation."
        if not reasons
        else "By reason: "
        + "; ".join(f"{escape(str(r['reason']))} ({r['feed']}) {count(r['rows'])}" for r in reasons)
        + "."
    )
    out.append(
        _figure(
            "fig-dq-quarantine",
            f"Quarantined rows on {day} by reason",
            figures.plot_quarantine(q),
            caption,
        )
    )
    out.append(
        "<h3>Files of the date</h3>"
        + _table(
            "tbl-dq-files",
            [
                ("file", "file_name", None),
                ("feed", "feed", None),
                ("outcome", "outcome", None),
                ("control count", "control_count", count),
                ("rows loaded", "rows_loaded", count),
                ("quarantined", "rows_quarantined", count),
            ],
            q["files"],
        )
    )
    rec = q["reconciliation"]
    if rec is None:
        out.append(
            '<p class="missing">No contribution reconciliation for this date: table '
            f"chk_contribution_reconciliation has no rows; run `cvp contribution --date {day}`."
            "</p>"
        )
    else:
        verdict = (
            '<b class="ok">all agree</b>'
            if not rec["failed"]
            else f'<b class="bad">{count(rec["failed"])} disagree</b>'
        )
        out.append(
            f"<h3>Reconciliation</h3><p>{count(rec['checks'])} checks of the customer figures "
            "summed against the same components recomputed from the loaded accounts and "
            f"transactions, per branch, product and component: {verdict}; "
            f"largest difference CNY {num(rec['max_difference_amount'], 6)} (tolerance up to "
            f"{num(rec['tolerance_amount'], 6)}). Below, the whole bank's total of each "
            "component.</p>"
            + _table(
                "tbl-dq-reconciliation",
                [
                    ("component", "component", None),
                    ("sum over customers, CNY", "customer_sum_amount", lambda v: num(v, 2)),
                    ("accounts and transactions, CNY", "source_amount", lambda v: num(v, 2)),
                    ("difference, CNY", "difference_amount", lambda v: num(v, 6)),
                    ("ok", "is_ok", lambda v: "yes" if v else "NO"),
                ],
                rec["whole"],
            )
        )
    if q["runs"]:
        out.append(
            "<h3>Stage runs</h3>"
            + _table(
                "tbl-dq-runs",
                [
                    ("stage", "stage", None),
                    ("status", "status", None),
                    ("rows", "rows", count),
                    ("seconds", "seconds", lambda v: num(v, 1)),
                    ("message", "message", None),
                ],
                q["runs"],
            )
        )
    return "".join(out)


NAV = (
    ("overview", "Overview"),
    ("value", "Value"),
    ("lifetime", "Lifetime value"),
    ("merchants", "Merchants"),
    ("channels", "Channels"),
    ("people", "Managers & branches"),
    ("quality", "Data quality"),
)


def render_html(
    sections: Sections, day: date, generated_at: datetime, source: str, provenance: str = ""
) -> str:
    """The whole page for ``day`` from :func:`pipeline.report.collect.collect_all`'s output."""
    body = [
        _section("overview", "Overview", f"Business date {day}.", _overview(sections)),
        _section(
            "value",
            "Who creates value",
            "Profit contribution a year (revenue minus the cost to serve, the reserve cost and "
            "the risk, from the trailing window) and economic profit beside it (contribution "
            "minus the charge for the capital lending ties up), by tier, how concentrated "
            "contribution is, and where it comes from.",
            _tiers(sections) + _lorenz(sections) + _components(sections),
        ),
        _section(
            "lifetime",
            "Lifetime value",
            "Expected discounted future contribution (BG/NBD + Gamma-Gamma) and how well the "
            "model predicted a held-out period.",
            _clv(sections),
        ),
        _section(
            "merchants",
            "High-value individual merchants",
            "Personal customers whose accounts carry business turnover, declared or not, and "
            "the markets they trade in.",
            _merchants(sections),
        ),
        _section(
            "channels",
            "Channels",
            "Where customers transact, and what moving low-value counter work online would save.",
            _channels(sections),
        ),
        _section(
            "people",
            "Relationship managers and branches",
            "Value created per manager's book, and value, cost and customer mix per branch.",
            _rms(sections) + _branches(sections),
        ),
        _section(
            "quality",
            "Data quality",
            "What arrived, what was loaded or quarantined, whether contribution reconciles, "
            "and how each stage ran.",
            _quality(sections, day),
        ),
    ]
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in NAV)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Customer value report {day}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Customer value report — {day}</h1>"
        f"<p>Generated {generated_at:%Y-%m-%d %H:%M} from {escape(source)}"
        f"{escape(provenance)}. "
        "Amounts in CNY; k = thousand, M = million.</p></header>"
        f"<nav>{nav}</nav><main>{''.join(body)}</main>"
        "<footer>cvp report · self-contained: no network or script needed to read it"
        "</footer></body></html>\n"
    )
