"""Collect the report's figures' data from the warehouse, one function per section.

Each ``collect_<section>(con, day)`` returns a plain dict of rows and headline numbers, or
raises :class:`SectionMissing` with a sentence saying which table is missing for the date and
which command builds it. A table that exists but is empty for the date counts as missing unless
the stage that writes it succeeded for that date (then "none found" is the honest answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import duckdb
from markupsafe import Markup

from pipeline.export import mask_counterparty
from pipeline.report.i18n import Language
from pipeline.warehouse import table_exists

WRITTEN_BY = {
    "int_customer_tiers": "tiers",
    "int_customer_features": "features",
    "int_customer_contribution": "contribution",
    "chk_contribution_reconciliation": "contribution",
    "rpt_contribution_concentration": "value",
    "int_customer_clv": "clv",
    "clv_fit_runs": "clv",
    "clv_holdout_buckets": "clv",
    "int_merchants": "merchants",
    "int_market_clusters": "merchants",
    "int_merchant_prospects": "merchants",
    "int_channel_migration": "tiers",
    "int_rm_scorecard": "tiers",
    "int_branch_summary": "tiers",
    "file_ledger": "ingest",
}
"""Which stage writes each table the report reads (for the "run cvp <stage>" hint)."""

COMPONENTS = (
    ("deposit_nii_amount", 1),
    ("loan_nii_amount", 1),
    ("commission_amount", 1),
    ("fee_amount", 1),
    ("interchange_amount", 1),
    ("service_cost_amount", -1),
    ("upkeep_cost_amount", -1),
    ("reserve_cost_amount", -1),
    ("risk_cost_amount", -1),
)
"""Contribution components of ``int_customer_contribution``: column and sign in the total (their
names are in the report's catalogues, ``component.<column>``).
Risk cost includes the default provisions; the capital charge is not a component (economic
profit = contribution − capital charge)."""

CHANNELS = ("ctr", "atm", "tel", "net", "pos")
"""Channel prefixes of the ``<ch>_txn_count`` columns of ``int_customer_features`` (their names
are in the report's catalogues, ``channel.<prefix>``)."""

TOP_CLUSTERS = 10
"""Market clusters drawn (largest turnover first)."""
TOP_PROSPECTS = 10
"""Prospects (counterparties at other banks) listed."""
TOP_MIGRATION_BRANCHES = 12
"""Branches drawn in the migration-saving figure (largest saving first)."""
TOP_RMS = 15
"""Relationship managers on the leaderboard."""
MAX_SCATTER_POINTS = 2000
"""Merchants drawn at most in the scatter (evenly over the turnover ranking beyond that)."""
DQ_HISTORY_DATES = 30
"""Business dates shown in the rows-loaded history (the date and the ones before it)."""


class SectionMissing(Exception):
    """A section cannot be drawn: its upstream table is absent or empty for the date.

    ``key`` names the sentence in the report's catalogues (``missing.<key>``), ``values`` fill
    it; ``str()`` is the English sentence."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def say(self, lang: Language) -> Markup:
        """The sentence in ``lang``, as HTML (the values escaped)."""
        values = dict(self.values)
        status = values.pop("status", None)
        why = lang("missing.why", status=status) if status else ""
        return lang(f"missing.{self.key}", why=why, **values)

    def __str__(self) -> str:
        return self.say(Language("en")).striptags()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``sql`` with ``$name`` parameters and return the rows as dicts."""
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def stage_succeeded(con: duckdb.DuckDBPyConnection, stage: str, day: date) -> bool:
    """The latest non-skipped run of ``stage`` for ``day`` succeeded."""
    if not table_exists(con, "run_ledger"):
        return False
    found = con.execute(
        "select status from run_ledger where stage = $s and business_date = $d "
        "and status <> 'skipped' order by started_at desc limit 1",
        {"s": stage, "d": day},
    ).fetchone()
    return bool(found and found[0] == "succeeded")


def require(con: duckdb.DuckDBPyConnection, table: str, day: date) -> int:
    """The number of ``table``'s rows for ``day``; raise SectionMissing when it cannot be used."""
    stage = WRITTEN_BY.get(table, "run")
    if not table_exists(con, table):
        raise SectionMissing("no_table", table=table, stage=stage, day=day)
    found = con.execute(
        f"select count(*) from {table} where business_date = $d", {"d": day}
    ).fetchone()
    count = int(found[0]) if found else 0
    if count == 0 and not stage_succeeded(con, stage, day):
        raise SectionMissing("no_rows", table=table, stage=stage, day=day)
    return count


def _f(value: Any) -> float:
    return 0.0 if value is None else float(value)


def columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The column names of ``table``."""
    return {r[0] for r in con.execute(f"describe {table}").fetchall()}


def sum_or_null(present: set[str], column: str, alias: str | None = None, cast: str = "") -> str:
    """``sum(column)`` as ``alias``, or a null when the table predates the column (a warehouse
    not yet run with the economic-profit columns): the figure shows "—" rather than failing."""
    expr = f"sum({column}){cast}" if column in present else "null"
    return f"{expr} as {alias or column}"


def collect_overview(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    require(con, "int_customer_tiers", day)
    have = columns(con, "int_customer_tiers")
    (row,) = rows(
        con,
        f"""
        select count(*) as customers,
               sum(contribution_amount) as contribution_amount,
               {sum_or_null(have, "economic_profit_amount")},
               {sum_or_null(have, "capital_charge_amount")},
               sum(aum_amount) as aum_amount,
               sum(clv_amount) as clv_amount,
               count(*) filter (where is_golden) as golden_customers,
               count(*) filter (where is_merchant) as merchants,
               count(*) filter (where is_potential) as potential_customers
        from int_customer_tiers where business_date = $d
        """,
        {"d": day},
    )
    return row


def collect_tiers(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Customers, contribution and economic profit per tier, best tier first."""
    require(con, "int_customer_tiers", day)
    have = columns(con, "int_customer_tiers")
    tiers = rows(
        con,
        f"""
        select tier, min(tier_rank) as tier_rank, count(*) as customers,
               sum(contribution_amount) as contribution_amount,
               {sum_or_null(have, "economic_profit_amount")},
               sum(aum_amount) as aum_amount,
               count(*) filter (where is_golden) as golden_customers,
               count(*) filter (where is_merchant) as merchants,
               count(*) filter (where is_potential) as potential_customers
        from int_customer_tiers where business_date = $d
        group by tier order by tier_rank, tier
        """,
        {"d": day},
    )
    total_customers = sum(int(t["customers"]) for t in tiers)
    total_contribution = sum(_f(t["contribution_amount"]) for t in tiers)
    for t in tiers:
        t["customer_share"] = int(t["customers"]) / total_customers if total_customers else 0.0
        t["contribution_share"] = (
            _f(t["contribution_amount"]) / total_contribution if total_contribution else 0.0
        )
    profits = [t["economic_profit_amount"] for t in tiers]
    return {
        "tiers": tiers,
        "customers": total_customers,
        "contribution_amount": total_contribution,
        "economic_profit_amount": (
            None if any(p is None for p in profits) else sum(_f(p) for p in profits)
        ),
    }


def lorenz_points(values: Sequence[float], points: int = 400) -> tuple[list[float], list[float]]:
    """The Lorenz curve of ``values`` floored at zero: (share of customers, share of the total),
    customers ranked from the lowest, sampled at about ``points`` places from (0, 0) to (1, 1)."""
    import numpy as np

    v = np.sort(np.clip(np.asarray(values, dtype=float), 0.0, None))
    n = len(v)
    total = float(v.sum())
    if n == 0 or total <= 0:
        return [0.0, 1.0], [0.0, 0.0]
    cum = np.concatenate([[0.0], np.cumsum(v) / total])
    idx = np.unique(np.linspace(0, n, min(points, n) + 1).round().astype(int))
    return [float(i) / n for i in idx], [float(cum[i]) for i in idx]


def top_share(values: Sequence[float], fraction: float) -> float:
    """Share of the net total produced by the top ``fraction`` of customers by value."""
    import math

    ordered = sorted(values, reverse=True)
    total = sum(ordered)
    k = math.ceil(len(ordered) * fraction)
    return sum(ordered[:k]) / total if total else 0.0


def collect_concentration(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Per-customer contribution (for the curve) and the concentration summary."""
    require(con, "int_customer_contribution", day)
    values = [
        float(r[0])
        for r in con.execute(
            "select contribution_amount::double from int_customer_contribution "
            "where business_date = $d and contribution_amount is not null",
            {"d": day},
        ).fetchall()
    ]
    x, y = lorenz_points(values)
    positive = [v for v in values if v > 0]
    summary: dict[str, Any] = {}
    if table_exists(con, "rpt_contribution_concentration"):
        found = rows(
            con,
            "select * from rpt_contribution_concentration where business_date = $d",
            {"d": day},
        )
        summary = found[0] if found else {}
    n = len(values)
    ordered = sorted(values, reverse=True)
    k = -(-n * 20 // 100)
    top20_positive = sum(v for v in ordered[:k] if v > 0)
    computed = {
        "customers": n,
        "total_contribution_amount": sum(values),
        "top_20pct_share": top_share(values, 0.20),
        "top_20pct_share_of_positive": top20_positive / sum(positive) if positive else 0.0,
        "negative_customer_share": sum(1 for v in values if v < 0) / n if n else 0.0,
        "negative_contribution_amount": sum(v for v in values if v < 0),
        "gini": None,
    }
    return {
        "lorenz_x": x,
        "lorenz_y": y,
        "summary": {**computed, **{k: v for k, v in summary.items() if v is not None}},
        "from_value_stage": bool(summary),
    }


def collect_components(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Each contribution component summed over the date's customers (cost as a positive sum),
    and the capital charge that takes contribution to economic profit."""
    require(con, "int_customer_contribution", day)
    have = columns(con, "int_customer_contribution")
    present = [c for c in COMPONENTS if c[0] in have]
    sums = ", ".join(f"sum({c})::double as {c}" for c, _ in present)
    extra = ", ".join(
        sum_or_null(have, c, cast="::double")
        for c in ("capital_charge_amount", "economic_profit_amount")
    )
    history = "min(history_days)" if "history_days" in have else "null"
    (row,) = rows(
        con,
        f"select count(*) as customers, {sums}, sum(revenue_amount)::double as revenue_amount, "
        "sum(cost_amount)::double as cost_amount, "
        f"sum(contribution_amount)::double as contribution_amount, {extra}, "
        f"{history} as history_days, min(window_start) as window_start, "
        "max(window_end) as window_end "
        "from int_customer_contribution where business_date = $d",
        {"d": day},
    )
    parts = [{"column": c, "sign": sign, "amount": _f(row[c])} for c, sign in present]
    return {
        "parts": parts,
        "revenue_amount": _f(row["revenue_amount"]),
        "cost_amount": _f(row["cost_amount"]),
        "contribution_amount": _f(row["contribution_amount"]),
        "capital_charge_amount": row["capital_charge_amount"],
        "economic_profit_amount": row["economic_profit_amount"],
        "history_days": row["history_days"],
        "customers": int(row["customers"]),
        "window_start": row["window_start"],
        "window_end": row["window_end"],
    }


LIFE_STAGES = ("new", "growing", "mature", "declining", "dormant")


def collect_clv(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Lifetime values, life stages and the date's fit."""
    require(con, "int_customer_clv", day)
    values = [
        float(r[0])
        for r in con.execute(
            "select clv_amount::double from int_customer_clv "
            "where business_date = $d and clv_amount is not null order by 1",
            {"d": day},
        ).fetchall()
    ]
    stages = rows(
        con,
        "select life_stage, count(*) as customers, sum(clv_amount)::double as clv_amount, "
        "avg(p_alive) as mean_p_alive from int_customer_clv where business_date = $d "
        "group by life_stage",
        {"d": day},
    )
    order = {s: i for i, s in enumerate(LIFE_STAGES)}
    stages.sort(key=lambda r: (order.get(r["life_stage"], len(order)), str(r["life_stage"])))
    (summary,) = rows(
        con,
        "select count(*) as customers, sum(clv_amount)::double as clv_amount, "
        "median(clv_amount)::double as median_clv_amount, avg(p_alive) as mean_p_alive, "
        "count(*) filter (where clv_amount < 0) as negative_customers "
        "from int_customer_clv where business_date = $d",
        {"d": day},
    )
    fit: dict[str, Any] = {}
    if table_exists(con, "clv_fit_runs"):
        found = rows(
            con,
            "select * from clv_fit_runs where business_date = $d and fit_role = 'full'",
            {"d": day},
        )
        fit = found[0] if found else {}
    summary["top_10pct_share"] = top_share(values, 0.10) if values else 0.0
    money: list[dict[str, Any]] = []
    if table_exists(con, "clv_money_backtest"):
        money = rows(
            con,
            "select * from clv_money_backtest where business_date = $d order by predictor",
            {"d": day},
        )
    takeup: list[dict[str, Any]] = []
    if table_exists(con, "int_cross_sell_evaluation"):
        takeup = rows(
            con,
            "select * from int_cross_sell_evaluation where business_date = $d "
            "order by product_code",
            {"d": day},
        )
    return {
        "values": values,
        "stages": stages,
        "summary": summary,
        "fit": fit,
        "money": money,
        "takeup": takeup,
    }


def collect_calibration(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Holdout validation: predicted and actual events per calibration-frequency bucket."""
    fit: dict[str, Any] = {}
    if table_exists(con, "clv_fit_runs"):
        found = rows(
            con,
            "select * from clv_fit_runs where business_date = $d "
            "order by fit_role = 'calibration' desc",
            {"d": day},
        )
        fit = found[0] if found else {}
    status = fit.get("validation_status")
    if not table_exists(con, "clv_holdout_buckets"):
        raise SectionMissing("no_holdout_table", day=day, status=status)
    buckets = rows(
        con,
        "select * from clv_holdout_buckets where business_date = $d order by bucket_order",
        {"d": day},
    )
    if not buckets:
        raise SectionMissing("no_holdout", day=day, status=status)
    full = {}
    if table_exists(con, "clv_fit_runs"):
        found = rows(
            con,
            "select * from clv_fit_runs where business_date = $d and fit_role = 'full'",
            {"d": day},
        )
        full = found[0] if found else {}
    # The holdout window is the calibration fit's; the metrics may be stored on either row.
    metrics = {
        k: full.get(k) if full.get(k) is not None else fit.get(k)
        for k in (
            "holdout_customers",
            "holdout_predicted_events",
            "holdout_actual_events",
            "holdout_rmse",
            "holdout_spearman",
            "holdout_top_decile_share",
            "validation_status",
            "model",
        )
    }
    metrics["calibration_end"] = buckets[0].get("calibration_end") or fit.get("calibration_end")
    metrics["holdout_end"] = buckets[0].get("holdout_end") or fit.get("holdout_end")
    return {"buckets": buckets, "metrics": metrics}


def collect_merchants(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Detected merchants: turnover against balances, declared or not."""
    require(con, "int_merchants", day)
    merchants = rows(
        con,
        "select customer_id, turnover_amount::double as turnover_amount, "
        "aum_amount::double as aum_amount, is_declared, merchant_score, market_cluster_id "
        "from int_merchants where business_date = $d order by turnover_amount desc",
        {"d": day},
    )
    undeclared = [m for m in merchants if not m["is_declared"]]
    total = sum(_f(m["turnover_amount"]) for m in merchants)
    step = -(-len(merchants) // MAX_SCATTER_POINTS)
    return {
        "merchants": merchants[::step] if step > 1 else merchants,
        "scatter_step": step,
        "count": len(merchants),
        "undeclared_count": len(undeclared),
        "turnover_amount": total,
        "undeclared_turnover_amount": sum(_f(m["turnover_amount"]) for m in undeclared),
    }


def collect_clusters(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """The largest market clusters and the largest prospects at other banks."""
    require(con, "int_market_clusters", day)
    clusters = rows(
        con,
        "select market_cluster_id, link_type, member_count, turnover_amount::double "
        "as turnover_amount, main_branch_id, link_count from int_market_clusters "
        "where business_date = $d order by turnover_amount desc, market_cluster_id",
        {"d": day},
    )
    prospects: list[dict[str, Any]] = []
    if table_exists(con, "int_merchant_prospects"):
        prospects = rows(
            con,
            "select counterparty_key, counterparty_bank, role, amount::double as amount, "
            "txn_count, merchant_count from int_merchant_prospects where business_date = $d "
            "order by amount desc, counterparty_key limit $n",
            {"d": day, "n": TOP_PROSPECTS},
        )
        for p in prospects:  # other banks' accounts and cards, or names: never in clear
            p["counterparty_key"] = mask_counterparty(p["counterparty_key"])
    return {
        "clusters": clusters[:TOP_CLUSTERS],
        "count": len(clusters),
        "members": sum(int(c["member_count"]) for c in clusters),
        "turnover_amount": sum(_f(c["turnover_amount"]) for c in clusters),
        "prospects": prospects,
    }


def collect_channels(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Transactions per channel over the trailing window, per tier."""
    require(con, "int_customer_features", day)
    require(con, "int_customer_tiers", day)
    sums = ", ".join(f"sum(f.{c}_txn_count) as {c}" for c in CHANNELS)
    per_tier = rows(
        con,
        f"select t.tier, min(t.tier_rank) as tier_rank, count(*) as customers, {sums} "
        "from int_customer_tiers t join int_customer_features f "
        "on f.customer_id = t.customer_id and f.business_date = t.business_date "
        "where t.business_date = $d group by t.tier order by tier_rank, t.tier",
        {"d": day},
    )
    totals = {c: sum(int(r[c] or 0) for r in per_tier) for c in CHANNELS}
    return {"per_tier": per_tier, "totals": totals, "txns": sum(totals.values())}


def collect_migration(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Channel-migration candidates and their yearly saving, per home branch."""
    require(con, "int_channel_migration", day)
    (summary,) = rows(
        con,
        "select count(*) as candidates, sum(yearly_saving_amount)::double as saving_amount, "
        "sum(yearly_migratable_txns) as yearly_txns, "
        "sum(counter_online_capable_txns) as counter_txns "
        "from int_channel_migration where business_date = $d",
        {"d": day},
    )
    branches = rows(
        con,
        "select home_branch_id, count(*) as candidates, "
        "sum(yearly_saving_amount)::double as saving_amount "
        "from int_channel_migration where business_date = $d "
        "group by home_branch_id order by saving_amount desc, home_branch_id",
        {"d": day},
    )
    counter_cost = None
    if table_exists(con, "int_customer_tiers"):
        found = con.execute(
            "select sum(counter_cost_amount)::double from int_customer_tiers "
            "where business_date = $d",
            {"d": day},
        ).fetchone()
        counter_cost = found[0] if found else None
    return {
        "summary": summary,
        "branches": branches[:TOP_MIGRATION_BRANCHES],
        "branch_count": len(branches),
        "counter_cost_amount": counter_cost,
    }


def collect_rms(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Relationship managers ranked by value created over the period, with its parts (volume,
    new, lost) and the rate effect kept apart; null columns when the warehouse predates them."""
    require(con, "int_rm_scorecard", day)
    have = set(columns(con, "int_rm_scorecard"))

    def col(name: str, cast: str = "::double") -> str:
        return f"{name}{cast} as {name}" if name in have else f"null as {name}"

    rms = rows(
        con,
        "select rm_id, compare_date, customers, replace(customers_by_tier, ';', '; ') "
        "as customers_by_tier, "
        "book_contribution_amount::double as book_contribution_amount, "
        f"{col('book_economic_profit_amount')}, "
        "book_clv_amount::double as book_clv_amount, book_aum_amount::double as book_aum_amount, "
        "value_created_amount::double as value_created_amount, "
        f"{col('value_volume_amount')}, {col('value_new_amount')}, {col('value_lost_amount')}, "
        f"{col('rate_effect_amount')}, {col('new_customers', '')}, {col('lost_customers', '')}, "
        f"{col('period_start_month', '')}, {col('period_end_month', '')}, "
        "clv_change_amount::double as clv_change_amount, upgrades, downgrades, "
        "golden_customers, merchants, potential_customers "
        "from int_rm_scorecard where business_date = $d "
        "order by value_created_amount desc nulls last, rm_id",
        {"d": day},
    )
    rate_effect = sum(float(r["rate_effect_amount"] or 0) for r in rms)
    return {"rms": rms[:TOP_RMS], "count": len(rms), "rate_effect_amount": rate_effect}


def collect_branches(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """Per branch (all tiers): customers, value, cost and mix; plus contribution per tier."""
    require(con, "int_branch_summary", day)
    have = {f"s.{c}" for c in columns(con, "int_branch_summary")}
    name_join = ""
    name_col = "null::varchar as branch_name, null::varchar as market_area"
    if table_exists(con, "hist_branches"):
        name_join = (
            "left join hist_branches hb on hb.branch_id = s.branch_id "
            "and hb.valid_from <= $d and $d < hb.valid_to"
        )
        name_col = "any_value(hb.name) as branch_name, any_value(hb.market_area) as market_area"
    branches = rows(
        con,
        f"select s.branch_id, {name_col}, sum(s.customers) as customers, "
        "sum(s.contribution_amount)::double as contribution_amount, "
        f"{sum_or_null(have, 's.economic_profit_amount', 'economic_profit_amount', '::double')}, "
        f"{sum_or_null(have, 's.capital_charge_amount', 'capital_charge_amount', '::double')}, "
        "sum(s.aum_amount)::double as aum_amount, sum(s.clv_amount)::double as clv_amount, "
        "sum(s.counter_cost_amount)::double as counter_cost_amount, "
        "sum(s.migration_saving_amount)::double as migration_saving_amount, "
        "sum(s.merchants) as merchants, sum(s.golden_customers) as golden_customers, "
        "sum(s.potential_customers) as potential_customers "
        f"from int_branch_summary s {name_join} where s.business_date = $d "
        "group by s.branch_id order by contribution_amount desc, s.branch_id",
        {"d": day},
    )
    by_tier = rows(
        con,
        "select branch_id, tier, tier_rank, customers, "
        "contribution_amount::double as contribution_amount "
        "from int_branch_summary where business_date = $d order by tier_rank, branch_id",
        {"d": day},
    )
    return {"branches": branches, "by_tier": by_tier}


def collect_quality(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any]:
    """The date's files, rows loaded and quarantined (with history), reasons, reconciliation
    and stage runs."""
    require(con, "file_ledger", day)
    latest_files = """
        with latest as (
            select *, row_number() over (partition by file_name, business_date
                                         order by received_at desc) as rn
            from file_ledger
        )
        select * from latest where rn = 1
    """
    files = rows(
        con,
        f"select file_name, feed, channel, outcome, rows_loaded, rows_quarantined, "
        f"control_count, message from ({latest_files}) where business_date = $d "
        "order by feed, channel, file_name",
        {"d": day},
    )
    history = rows(
        con,
        f"""
        with dates as (
            select distinct business_date from file_ledger where business_date <= $d
            order by business_date desc limit $n
        )
        select f.business_date, f.feed,
               sum(coalesce(f.rows_loaded, 0)) as rows_loaded,
               sum(coalesce(f.rows_quarantined, 0)) as rows_quarantined,
               count(*) filter (where f.outcome = 'rejected') as files_rejected
        from ({latest_files}) f join dates using (business_date)
        group by f.business_date, f.feed order by f.business_date, f.feed
        """,
        {"d": day, "n": DQ_HISTORY_DATES},
    )
    reasons: list[dict[str, Any]] = []
    if table_exists(con, "quarantine"):
        # A reason may carry the offending value after a colon; group on the rule only.
        reasons = rows(
            con,
            "select split_part(reason, ':', 1) as reason, feed, count(*) as rows "
            "from quarantine where business_date = $d group by all "
            "order by rows desc, reason, feed",
            {"d": day},
        )
    reconciliation: dict[str, Any] | None = None
    # source_amount: the component recomputed from the loaded accounts and transactions (a
    # check table of an older warehouse compared with the monthly aggregates: not shown)
    if table_exists(con, "chk_contribution_reconciliation") and "source_amount" in columns(
        con, "chk_contribution_reconciliation"
    ):
        found = rows(
            con,
            "select count(*) as checks, count(*) filter (where not is_ok) as failed, "
            "max(abs(difference_amount))::double as max_difference_amount, "
            "max(tolerance_amount)::double as tolerance_amount "
            "from chk_contribution_reconciliation where business_date = $d",
            {"d": day},
        )
        if found and found[0]["checks"]:
            reconciliation = found[0]
            reconciliation["whole"] = rows(
                con,
                "select component, customer_sum_amount::double as customer_sum_amount, "
                "source_amount::double as source_amount, "
                "difference_amount::double as difference_amount, is_ok "
                "from chk_contribution_reconciliation where business_date = $d "
                "and branch_id = '*' and product_code = '*' order by component",
                {"d": day},
            )
    runs: list[dict[str, Any]] = []
    if table_exists(con, "run_ledger"):
        runs = rows(
            con,
            """
            with latest as (
                select *, row_number() over (partition by stage
                                             order by started_at desc) as rn
                from run_ledger where business_date = $d and status <> 'skipped'
            )
            select stage, status, rows, started_at,
                   date_diff('millisecond', started_at, ended_at) / 1000.0 as seconds, message
            from latest where rn = 1 order by started_at
            """,
            {"d": day},
        )
    return {
        "files": files,
        "history": history,
        "reasons": reasons,
        "reconciliation": reconciliation,
        "runs": runs,
        "rows_loaded": sum(int(f["rows_loaded"] or 0) for f in files),
        "rows_quarantined": sum(int(f["rows_quarantined"] or 0) for f in files),
        "files_rejected": sum(1 for f in files if f["outcome"] == "rejected"),
    }


Collector = Callable[[duckdb.DuckDBPyConnection, date], dict[str, Any]]

COLLECTORS: dict[str, Collector] = {
    "overview": collect_overview,
    "tiers": collect_tiers,
    "concentration": collect_concentration,
    "components": collect_components,
    "clv": collect_clv,
    "calibration": collect_calibration,
    "merchants": collect_merchants,
    "clusters": collect_clusters,
    "channels": collect_channels,
    "migration": collect_migration,
    "rms": collect_rms,
    "branches": collect_branches,
    "quality": collect_quality,
}


def collect_all(
    con: duckdb.DuckDBPyConnection, day: date
) -> dict[str, dict[str, Any] | SectionMissing]:
    """Every section's data, or the SectionMissing that says why it cannot be drawn."""
    out: dict[str, dict[str, Any] | SectionMissing] = {}
    for name, collect in COLLECTORS.items():
        try:
            out[name] = collect(con, day)
        except SectionMissing as missing:
            out[name] = missing
    return out
