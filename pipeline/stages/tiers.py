"""The tiers stage: tiers with hysteresis, next-best products, channel migration, the call list,
the relationship-manager scorecard and the branch summary, for one business date.

Tables written (all keyed by business_date; a re-run replaces the date's rows):

- ``int_tier_inputs`` (SQL) and ``int_cross_sell_inputs`` (SQL): what the models read;
- ``int_customer_tiers``: one row per active customer: effective tier and the raw tier of the
  date, reasons, hysteresis state (``below_since``, ``best_rank_below``), flags and amounts;
- ``tier_history``: every initial tier, upgrade and downgrade, with its reasons, across dates;
- ``int_cross_sell`` and ``int_cross_sell_evaluation``: top products per customer, and AUC and
  top-decile lift per product on held-out customers;
- ``int_channel_migration``, ``int_call_list``, ``int_rm_value_created`` (SQL: value created
  per customer at today's rates, ``pipeline/stages/rm_value.py``), ``int_rm_scorecard`` (SQL),
  ``int_branch_summary`` (SQL), and the check table ``tiers_consistency`` (SQL).

Hysteresis reads the latest earlier date's ``int_customer_tiers``: run dates in order. Re-running
an earlier date after later ones leaves the later dates as they were (re-run them too).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.dates import shift_months
from pipeline.errors import CheckFailed
from pipeline.stages.base import Stage, StageContext

if TYPE_CHECKING:
    import polars as pl

    from pipeline.config.tiers import TiersConfig
    from pipeline.engine.base import Engine

TABLES: dict[str, str] = {
    "int_customer_tiers": """
        customer_id varchar not null, business_date date not null,
        tier varchar not null, tier_rank integer not null, tier_reasons varchar not null,
        tier_change varchar not null, previous_tier varchar,
        raw_tier varchar not null, raw_tier_rank integer not null, raw_tier_reasons varchar,
        below_since date, best_rank_below integer,
        is_merchant boolean, is_golden boolean, is_potential boolean, is_growing boolean,
        potential_reasons varchar,
        contribution_amount decimal(18, 2), economic_profit_amount decimal(18, 2),
        capital_charge_amount decimal(18, 2), history_days integer,
        aum_amount decimal(18, 2), recent_aum_amount decimal(18, 2),
        clv_amount decimal(18, 2), p_alive double,
        life_stage varchar, value_score double, turnover_amount decimal(18, 2),
        counter_cost_amount decimal(18, 2), home_branch_id varchar, rm_id varchar, age integer,
        has_default_account boolean, has_watch_account boolean, max_days_past_due integer,
        merchant_score double, migration_protection varchar
    """,
    "tier_history": """
        customer_id varchar not null, business_date date not null, change_type varchar not null,
        from_tier varchar, to_tier varchar not null, reasons varchar not null
    """,
    "int_cross_sell": """
        customer_id varchar not null, business_date date not null, product_rank integer not null,
        product_code varchar not null, propensity_score double, score_kind varchar,
        lookalike_rank double, expected_value_amount double, model_version varchar,
        cutoff_date date
    """,
    "int_cross_sell_evaluation": """
        business_date date not null, product_code varchar not null, status varchar not null,
        score_kind varchar, model_version varchar, fitted_on_date date, cutoff_date date,
        test_cutoff_date date, train_cutoffs integer, train_rows bigint, train_takers bigint,
        test_rows bigint, takers bigint, auc double, top_decile_lift double,
        brier_score double, brier_base_rate double, mean_predicted double,
        observed_rate double, product_value_amount double, scored_customers bigint
    """,
    "int_channel_migration": """
        customer_id varchar not null, business_date date not null,
        counter_online_capable_txns bigint, yearly_migratable_txns double,
        yearly_saving_amount decimal(18, 2), migration_reasons varchar,
        contribution_amount decimal(18, 2), home_branch_id varchar, tier varchar,
        yearly_cost_saving_amount decimal(18, 2), yearly_fee_forgone_amount decimal(18, 2)
    """,
    "int_call_list": """
        business_date date not null, call_rank integer not null, customer_id varchar not null,
        reason_code varchar not null, script_code varchar not null, reason_detail varchar
    """,
}
"""Tables this stage writes from Python frames, with fixed column types (the export's schemas
rest on them)."""


def ensure_tables(engine: Engine) -> None:
    """Give the Python-written tables their declared types (:data:`TABLES`) on ``engine``:
    created when missing, the columns a table of an older warehouse lacks added (null for the
    dates written before; the stage writes only the columns the table has), a look-alike's
    ``propensity_score`` nullable (older warehouses declared it not null; docs/cross_sell.md).
    A frame is cast to these types when written, whatever polars computed."""
    for table, columns in TABLES.items():
        engine.ensure_table(table, columns, key="business_date")


def _previous(engine: Engine, columns: str, business_date: date) -> pl.DataFrame:
    """``columns`` of the latest earlier date's ``int_customer_tiers`` (none on a first date)."""
    return engine.read(
        f"select {columns} from int_customer_tiers "
        "where business_date = (select max(business_date) from int_customer_tiers "
        "where business_date < $d)",
        {"d": business_date},
    )


UNREAD_COLUMNS = frozenset(
    {"business_date", "tenure_months", "service_cost_amount", "counter_txns"}
    | {"inflow_prior_month_amount"}
)
"""Columns of ``int_tier_inputs`` and ``int_growth_signals`` the models do not read (kept in
the tables for analysts): not read into this process."""


def _read_partition(engine: Engine, table: str, business_date: date) -> pl.DataFrame:
    """The date's rows of ``table``: the columns the models read, named (no ``*`` modifier:
    portable)."""
    names = [n for n, _ in engine.columns(table) if n not in UNREAD_COLUMNS]
    columns = ", ".join(f'"{n}"' for n in names)
    return engine.read(
        f"select {columns} from {table} where business_date = $d", {"d": business_date}
    )


def online_fees(rules: TiersConfig) -> pl.DataFrame:
    """``tiers.migration.online_fee_amount`` as the rows of ``ref_online_fees``."""
    import polars as pl

    fees = rules.migration.online_fee_amount
    return pl.DataFrame(
        {"txn_code": list(fees), "fee_amount": list(fees.values())},
        schema={"txn_code": pl.String, "fee_amount": pl.Decimal(18, 2)},
    )


def run(ctx: StageContext) -> int:
    """Tiers with hysteresis, next-best products, migration and call lists, scorecards."""
    import polars as pl

    from models.tiers import (
        apply_credit_gate,
        apply_hysteresis,
        assign_tiers,
        build_call_list,
        flag_potential,
        migration_protection,
        select_channel_migration,
        tier_changes,
    )
    from pipeline.stages.cross_sell import run_cross_sell
    from pipeline.stages.features import ensure_aggregates
    from pipeline.stages.rm_value import prepare_rm_value
    from pipeline.warehouse import release_cache

    con, engine, cfg, day = ctx.con, ctx.engine, ctx.cfg, ctx.business_date
    rules, lists = cfg.tiers, cfg.lists
    month_start = day.replace(day=1)
    window_start = shift_months(month_start, -(rules.migration.window_months - 1))
    credit = cfg.economics.credit
    params: dict[str, Any] = {
        "business_date": day,
        "month_start": month_start,
        "window_start": window_start,
        "online_codes": rules.migration.online_capable_codes,
        "compare_date": shift_months(day, -1),
        "tier_names": rules.tier_names,
        "protected_min_age": rules.migration.protected_min_age,
        "watch_dpd": credit.watch_days_past_due,
        "default_dpd": credit.default_days_past_due,
        "default_statuses": credit.default_statuses,
    }
    ensure_tables(engine)
    # ref_channel_costs (the contribution model's unit costs), and the month to date as of
    # this date (int_tier_inputs reads it; a later date of the month may have replaced it)
    ensure_aggregates(con, cfg, day, when_missing=True, engine=engine)
    engine.temp_frame("ref_online_fees", online_fees(rules))
    engine.run_file("tiers/int_tier_inputs", params)
    inputs = _read_partition(engine, "int_tier_inputs", day)

    engine.run_file(
        "tiers/int_growth_signals",
        {
            "business_date": day,
            "last_closed_month": _last_closed_month(day),
            "recent_months": rules.potential.trend_recent_months,
            "prior_months": rules.potential.trend_prior_months,
        },
    )
    growth = _read_partition(engine, "int_growth_signals", day)
    previous_flags = _previous(engine, "customer_id, potential_reasons", day)
    inputs = inputs.join(growth, on="customer_id", how="left")
    release_cache(con, cfg.warehouse.memory_limit)  # the frames below need the memory
    customers = assign_tiers(flag_potential(inputs, rules.potential, previous_flags), rules)
    tiers = apply_credit_gate(
        apply_hysteresis(
            _previous(engine, "customer_id, tier, below_since, best_rank_below", day),
            customers,
            day,
            rules,
        ),
        rules,
    )
    del inputs, growth, previous_flags, customers  # a million rows each: cross-sell needs room
    cutoff = cfg.merchants.score_cutoff
    tiers = migration_protection(tiers, rules.migration, cutoff)
    engine.write_partition(
        "int_customer_tiers", _conformed(engine, "int_customer_tiers", tiers), day
    )
    history = tier_changes(tiers, day).drop("business_date")
    engine.write_partition("tier_history", history, day)

    xs = run_cross_sell(con, cfg, day, engine)
    engine.write_partition(
        "int_cross_sell", _conformed(engine, "int_cross_sell", xs.recommendations), day
    )
    engine.write_partition(
        "int_cross_sell_evaluation",
        _conformed(engine, "int_cross_sell_evaluation", xs.evaluation),
        day,
    )

    window_days = (day - window_start).days + 1
    migration = select_channel_migration(tiers, rules.migration, window_days, cutoff).join(
        tiers.select("customer_id", "contribution_amount", "home_branch_id", "tier"),
        on="customer_id",
    )
    engine.write_partition("int_channel_migration", migration, day)

    best = xs.recommendations.filter(pl.col("product_rank") == 1).select(
        "customer_id",
        pl.col("product_code").alias("next_best_product"),
        pl.col("propensity_score").alias("next_best_score"),
        pl.col("expected_value_amount").alias("next_best_value"),
    )
    candidates = tiers.join(best, on="customer_id", how="left").with_columns(
        is_migration_candidate=pl.col("customer_id").is_in(migration["customer_id"].implode()),
    )
    calls = build_call_list(candidates, lists.call_list, len(rules.ladder))
    engine.write_partition("int_call_list", calls, day)

    rm_params, rm_facts = prepare_rm_value(con, ctx.engine, cfg, day)
    ctx.facts.update(rm_facts)
    engine.run_file("lists/int_rm_value_created", {**params, **rm_params})
    engine.run_file("lists/int_rm_scorecard", params)
    engine.run_file("lists/int_branch_summary", params)
    engine.run_file("checks/tiers_consistency", params)

    failed = engine.read(
        "select check_name, failing_rows from tiers_consistency "
        "where business_date = $d and not is_ok order by check_name",
        {"d": day},
    ).rows()
    ctx.facts.update(
        {
            "tiers": dict(tiers.group_by("tier").len().iter_rows()),
            "upgrades": int((tiers["tier_change"] == "upgrade").sum()),
            "downgrades": int((tiers["tier_change"] == "downgrade").sum()),
            "potential": int(tiers["is_potential"].sum()),
            "migration_candidates": migration.height,
            "migration_net_saving": float(migration["yearly_saving_amount"].sum() or 0),
            "migration_fees_forgone": float(migration["yearly_fee_forgone_amount"].sum() or 0),
            "credit_hold": int(tiers["has_default_account"].sum()),
            "credit_watch": int(tiers["has_watch_account"].sum()),
            "calls": calls.height,
            **xs.facts,
        }
    )
    if failed:
        raise CheckFailed(
            "tiers checks failed: "
            + ", ".join(f"{name} ({rows} rows)" for name, rows in failed)
            + "; see table tiers_consistency"
        )
    return tiers.height


def _conformed(engine: Engine, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's columns the table has: a column the frame computes but an older table
    lacks was added by :func:`ensure_tables`; a column an older version wrote and this one no
    longer computes stays null for the new date."""
    have = {name for name, _ in engine.columns(table)} - {"business_date"}
    return frame.select([c for c in frame.columns if c in have])


def _last_closed_month(day: date) -> date:
    """First day of the last month closed on ``day`` (its own month on its last day)."""
    if (day + timedelta(days=1)).day == 1:
        return day.replace(day=1)
    return shift_months(day.replace(day=1), -1)


STAGE = Stage(
    name="tiers",
    run=run,
    needs=("value", "merchants", "clv"),
    reads=(
        "int_customer_features",
        "int_customer_contribution",
        "int_customer_clv",
        "int_merchants",
        "int_customer_value_score",
        "int_golden_customers",
        "agg_customer_txn_month",
        "agg_account_balance_month",
        "int_merchant_scorecard",
        "hist_accounts",
        "hist_customers",
        "agg_card_cycle_month",
        "file_ledger",
        "int_customer_product_contribution",
    ),
    writes=(
        "int_tier_inputs",
        "int_growth_signals",
        "int_cross_sell_inputs",
        "int_customer_tiers",
        "tier_history",
        "int_cross_sell",
        "int_cross_sell_evaluation",
        "cross_sell_models",
        "cross_sell_model_runs",
        "cross_sell_scores",
        "int_channel_migration",
        "int_call_list",
        "agg_customer_contribution_month",
        "hist_published_contribution_month",
        "int_rm_value_created",
        "int_rm_scorecard",
        "int_branch_summary",
        "tiers_consistency",
    ),
    config_sections=("tiers", "lists", "economics", "merchants"),
    engines=("duckdb", "spark"),
)
