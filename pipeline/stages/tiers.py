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
from pipeline.engine.base import partition_columns, replace_partition_from
from pipeline.errors import CheckFailed
from pipeline.stages.base import Stage, StageContext

if TYPE_CHECKING:
    import polars as pl

    from pipeline.config.lists import CallListConfig
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


UNREAD_COLUMNS = frozenset(
    {"business_date", "tenure_months", "service_cost_amount", "counter_txns"}
    | {"inflow_prior_month_amount"}
)
"""Columns of ``int_tier_inputs`` and ``int_growth_signals`` the models do not read (kept in
the tables for analysts)."""

LIST_INPUTS = (
    *("counter_online_capable_txns", "counter_cost_saving_amount", "counter_fee_amount"),
    *("online_fee_amount", "marketing_consent", "is_declared"),
)
"""Columns of ``int_tier_inputs`` the migration and call lists read beside the tiers."""


MIGRATION_INPUTS = (
    *("customer_id", "tier", "contribution_amount", "home_branch_id", "migration_protection"),
    *("counter_online_capable_txns", "counter_cost_saving_amount", "counter_fee_amount"),
    "online_fee_amount",
)
"""The columns of the date's tiers :func:`models.tiers.channel_migration` reads."""

CALL_INPUTS = (
    *("customer_id", "marketing_consent", "tier_rank", "tier_change", "p_alive"),
    *("clv_amount", "is_merchant", "is_declared", "is_potential", "has_default_account"),
)
"""The columns of the date's tiers :func:`models.tiers.call_candidates` reads (beside the
next best product and the migration flag): a million customers' other columns are not
copied again."""


def _tier_inputs_query(engine: Engine) -> str:
    """Each customer's inputs of the date (``$d``): ``int_tier_inputs``, its growth signals,
    and its row of the latest earlier date's tiers as ``last_<column>``
    (:func:`models.tiers.customer_tiers`); the columns named (no ``*`` modifier: portable)."""
    from models.tiers import LAST_COLUMNS

    inputs = [f'i."{n}"' for n, _ in engine.columns("int_tier_inputs") if n not in UNREAD_COLUMNS]
    growth = [
        f'g."{n}"'
        for n, _ in engine.columns("int_growth_signals")
        if n not in UNREAD_COLUMNS and n != "customer_id"
    ]
    last = [f'p."{c}" as "last_{c}"' for c in LAST_COLUMNS]
    return (
        f"select {', '.join(inputs + growth + last)} "
        "from int_tier_inputs as i "
        "left join int_growth_signals as g "
        "on g.customer_id = i.customer_id and g.business_date = $d "
        "left join (select customer_id, " + ", ".join(LAST_COLUMNS) + " "
        "from int_customer_tiers where business_date = "
        "(select max(business_date) from int_customer_tiers where business_date < $d)) as p "
        "on p.customer_id = i.customer_id "
        "where i.business_date = $d"
    )


def _tiers_today_columns(engine: Engine) -> list[tuple[str, str]]:
    """The scratch table of the date's tiers: ``int_customer_tiers``' columns, then the
    inputs the lists read (:data:`LIST_INPUTS`), each of its table's type."""
    tiers = partition_columns(engine, "int_customer_tiers")
    inputs = dict(engine.columns("int_tier_inputs"))
    return tiers + [(n, inputs[n]) for n in LIST_INPUTS]


def _call_list(
    engine: Engine, settings: CallListConfig, tier_count: int, day: date
) -> pl.DataFrame:
    """The call list: each part of the customers' best calls (:func:`models.tiers.top_calls`
    of the date's tiers, next best product and migration candidacy), then the best of them."""
    from models.tiers import call_candidates, rank_calls, top_calls

    def best_calls(customers: pl.DataFrame) -> pl.DataFrame:
        return top_calls(call_candidates(customers, settings, tier_count), settings.size)

    engine.map_frame(
        "call_candidates_today",
        f"select {', '.join('t.' + c for c in CALL_INPUTS)}, "
        "x.product_code as next_best_product, "
        "x.propensity_score as next_best_score, x.expected_value_amount as next_best_value, "
        "m.customer_id is not null as is_migration_candidate "
        "from tiers_today as t "
        "left join int_cross_sell as x "
        "on x.customer_id = t.customer_id and x.business_date = $d and x.product_rank = 1 "
        "left join migration_today as m on m.customer_id = t.customer_id",
        {"d": day},
        best_calls,
        CALL_COLUMNS,
    )
    try:
        return rank_calls(engine.read("select * from call_candidates_today"), settings.size)
    finally:
        engine.drop("call_candidates_today")


CALL_COLUMNS = [
    ("customer_id", "VARCHAR"),
    ("reason_code", "VARCHAR"),
    ("script_code", "VARCHAR"),
    ("reason_detail", "VARCHAR"),
    ("call_priority", "INTEGER"),
    ("call_value", "DOUBLE"),
]
""":func:`models.tiers.call_candidates`' columns and types."""


def _facts(engine: Engine) -> tuple[dict[str, Any], int]:
    """The run's facts of the date's tiers and migration list, and the customers tiered."""
    by_tier = engine.read("select tier, count(*) as n from tiers_today group by tier order by tier")
    counts = engine.read(
        "select count(*) as customers, "
        "coalesce(sum(case when tier_change = 'upgrade' then 1 else 0 end), 0) as upgrades, "
        "coalesce(sum(case when tier_change = 'downgrade' then 1 else 0 end), 0) as downgrades, "
        "coalesce(sum(case when is_potential then 1 else 0 end), 0) as potential, "
        "coalesce(sum(case when has_default_account then 1 else 0 end), 0) as credit_hold, "
        "coalesce(sum(case when has_watch_account then 1 else 0 end), 0) as credit_watch "
        "from tiers_today"
    ).row(0, named=True)
    migration = engine.read(
        "select count(*) as n, sum(yearly_saving_amount) as saving, "
        "sum(yearly_fee_forgone_amount) as forgone from migration_today"
    ).row(0, named=True)
    facts = {
        "tiers": dict(by_tier.iter_rows()),
        **{k: int(v) for k, v in counts.items() if k != "customers"},
        "migration_candidates": int(migration["n"]),
        "migration_net_saving": float(migration["saving"] or 0),
        "migration_fees_forgone": float(migration["forgone"] or 0),
    }
    return facts, int(counts["customers"])


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
    from functools import partial

    from models.tiers import channel_migration, customer_tiers, tier_changes
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
    engine.run_file(
        "tiers/int_growth_signals",
        {
            "business_date": day,
            "last_closed_month": _last_closed_month(day),
            "recent_months": rules.potential.trend_recent_months,
            "prior_months": rules.potential.trend_prior_months,
        },
    )
    release_cache(con, cfg.warehouse.memory_limit)  # the frames below need the memory

    xs = run_cross_sell(con, cfg, day, engine)  # int_cross_sell: the date's products
    engine.write_partition(
        "int_cross_sell_evaluation",
        _conformed(engine, "int_cross_sell_evaluation", xs.evaluation),
        day,
    )
    cross_sell_facts = xs.facts

    # per customer (on Spark per part of the customers: no process holds them all)
    cutoff = cfg.merchants.score_cutoff
    engine.map_frame(
        "tiers_today",
        _tier_inputs_query(engine),
        {"d": day},
        partial(customer_tiers, business_date=day, rules=rules, merchant_score_cutoff=cutoff),
        _tiers_today_columns(engine),
    )
    replace_partition_from(engine, "int_customer_tiers", "tiers_today", day)
    engine.map_frame(
        "tier_changes_today",
        "select customer_id, tier_change, previous_tier, tier, tier_reasons from tiers_today",
        None,
        partial(tier_changes, business_date=day),
        partition_columns(engine, "tier_history"),
    )
    replace_partition_from(engine, "tier_history", "tier_changes_today", day)
    window_days = (day - window_start).days + 1
    engine.map_frame(
        "migration_today",
        f"select {', '.join(MIGRATION_INPUTS)} from tiers_today",
        None,
        partial(
            channel_migration,
            rules=rules.migration,
            window_days=window_days,
            merchant_score_cutoff=cutoff,
        ),
        partition_columns(engine, "int_channel_migration"),
    )
    replace_partition_from(engine, "int_channel_migration", "migration_today", day)
    calls = _call_list(engine, lists.call_list, len(rules.ladder), day)
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
    facts, tiered = _facts(engine)
    ctx.facts.update({**facts, "calls": calls.height, **cross_sell_facts})
    for scratch in ("tiers_today", "tier_changes_today", "migration_today"):
        engine.drop(scratch)
    if failed:
        raise CheckFailed(
            "tiers checks failed: "
            + ", ".join(f"{name} ({rows} rows)" for name, rows in failed)
            + "; see table tiers_consistency"
        )
    return tiered


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
