"""The export stage: the date's lists as Parquet, with a manifest, published atomically.

Refused (:class:`pipeline.errors.ExportBlocked`, exit 5) when any check upstream failed for the
date: the latest run of a stage for the date failed (or never finished) and no later run
succeeded, or a check table (``chk_*`` or a file of ``sql/checks/``) has a row with
``is_ok = false`` for the date. Every file's columns and types are fixed here by explicit casts
and documented in ``docs/exports.md`` (a test holds the two together). No names, ID numbers or
clear mobiles leave the warehouse: the mobile is masked (``138****1234``), counterparties are
identified by a keyed hash (HMAC) of their account (:mod:`pipeline.privacy`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from pipeline.errors import ExportBlocked, StageFailed
from pipeline.export import MOBILE_MASK_SQL
from pipeline.privacy import counterparty_ref, ref_key
from pipeline.stages.base import Stage, StageContext

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

    from pipeline.engine.base import Engine

_MOBILE = MOBILE_MASK_SQL.format(col="c.mobile")

QUERIES: dict[str, str] = {
    "customer_value": f"""
        select t.customer_id::varchar as customer_id,
               t.business_date::date as business_date,
               t.tier::varchar as tier,
               t.tier_rank::integer as tier_rank,
               t.tier_reasons::varchar as tier_reasons,
               t.tier_change::varchar as tier_change,
               t.contribution_amount::decimal(18, 2) as contribution_amount,
               t.value_score::double as value_score,
               t.is_golden::boolean as is_golden,
               t.aum_amount::decimal(18, 2) as aum_amount,
               -- unknown stays null: no lifetime value for the customer at the date
               case when v.customer_id is not null then t.clv_amount end::decimal(18, 2)
                   as clv_amount,
               t.p_alive::double as p_alive,
               t.life_stage::varchar as life_stage,
               t.is_merchant::boolean as is_merchant,
               t.is_potential::boolean as is_potential,
               t.potential_reasons::varchar as potential_reasons,
               x.product_code::varchar as next_best_product,
               x.propensity_score::double as next_best_score,
               t.rm_id::varchar as rm_id,
               t.home_branch_id::varchar as home_branch_id,
               ({_MOBILE})::varchar as mobile_masked,
               t.economic_profit_amount::decimal(18, 2) as economic_profit_amount,
               t.capital_charge_amount::decimal(18, 2) as capital_charge_amount,
               t.history_days::integer as history_days,
               t.has_default_account::boolean as has_default_account,
               t.has_watch_account::boolean as has_watch_account,
               t.recent_aum_amount::decimal(18, 2) as recent_aum_amount
        from int_customer_tiers as t
        left join int_cross_sell as x
          on x.customer_id = t.customer_id and x.business_date = t.business_date
         and x.product_rank = 1
        left join int_customer_clv as v
          on v.customer_id = t.customer_id and v.business_date = t.business_date
        left join hist_customers as c
          on c.customer_id = t.customer_id
         and c.valid_from <= $business_date and c.valid_to > $business_date
        where t.business_date = $business_date
        order by t.customer_id
    """,
    "merchants": """
        select m.customer_id::varchar as customer_id,
               m.business_date::date as business_date,
               m.merchant_score::double as merchant_score,
               m.turnover_amount::decimal(18, 2) as turnover_amount,
               m.is_declared::boolean as is_declared,
               m.reasons::varchar as reasons,
               m.market_cluster_id::varchar as market_cluster_id,
               m.home_branch_id::varchar as home_branch_id,
               t.tier::varchar as tier
        from int_merchants as m
        left join int_customer_tiers as t
          on t.customer_id = m.customer_id and t.business_date = m.business_date
        where m.business_date = $business_date
        order by m.merchant_score desc, m.customer_id
    """,
    "merchant_network": """
        select n.customer_id::varchar as customer_id,
               n.business_date::date as business_date,
               -- the account in clear, replaced by its keyed hash before it leaves (run)
               n.counterparty_key::varchar as counterparty_ref,
               n.role::varchar as role,
               n.counterparty_rank::integer as counterparty_rank,
               n.amount::decimal(18, 2) as amount,
               n.is_our_customer::boolean as is_our_customer,
               n.counterparty_customer_id::varchar as counterparty_customer_id,
               n.is_counterparty_merchant::boolean as is_counterparty_merchant
        from int_merchant_counterparties as n
        where n.business_date = $business_date
        order by n.customer_id, n.role, n.counterparty_rank
    """,
    "cross_sell": """
        select customer_id::varchar as customer_id,
               business_date::date as business_date,
               product_rank::integer as product_rank,
               product_code::varchar as product_code,
               propensity_score::double as propensity_score
        from int_cross_sell
        where business_date = $business_date
        order by customer_id, product_rank
    """,
    "channel_migration": """
        select customer_id::varchar as customer_id,
               business_date::date as business_date,
               tier::varchar as tier,
               home_branch_id::varchar as home_branch_id,
               contribution_amount::decimal(18, 2) as contribution_amount,
               counter_online_capable_txns::bigint as counter_online_capable_txns,
               yearly_migratable_txns::double as yearly_migratable_txns,
               yearly_saving_amount::decimal(18, 2) as yearly_saving_amount,
               migration_reasons::varchar as migration_reasons,
               yearly_cost_saving_amount::decimal(18, 2) as yearly_cost_saving_amount,
               yearly_fee_forgone_amount::decimal(18, 2) as yearly_fee_forgone_amount
        from int_channel_migration
        where business_date = $business_date
        order by yearly_saving_amount desc, customer_id
    """,
    "call_list": f"""
        select l.call_rank::integer as call_rank,
               l.customer_id::varchar as customer_id,
               l.business_date::date as business_date,
               l.reason_code::varchar as reason_code,
               l.script_code::varchar as script_code,
               l.reason_detail::varchar as reason_detail,
               t.tier::varchar as tier,
               t.rm_id::varchar as rm_id,
               ({_MOBILE})::varchar as mobile_masked
        from int_call_list as l
        left join int_customer_tiers as t
          on t.customer_id = l.customer_id and t.business_date = l.business_date
        left join hist_customers as c
          on c.customer_id = l.customer_id
         and c.valid_from <= $business_date and c.valid_to > $business_date
        where l.business_date = $business_date
        order by l.call_rank
    """,
    "rm_scorecard": """
        select rm_id::varchar as rm_id,
               business_date::date as business_date,
               compare_date::date as compare_date,
               customers::bigint as customers,
               customers_by_tier::varchar as customers_by_tier,
               book_contribution_amount::decimal(18, 2) as book_contribution_amount,
               book_clv_amount::decimal(18, 2) as book_clv_amount,
               book_aum_amount::decimal(18, 2) as book_aum_amount,
               previous_contribution_amount::decimal(18, 2) as previous_contribution_amount,
               value_created_amount::decimal(18, 2) as value_created_amount,
               clv_change_amount::decimal(18, 2) as clv_change_amount,
               upgrades::bigint as upgrades,
               downgrades::bigint as downgrades,
               golden_customers::bigint as golden_customers,
               merchants::bigint as merchants,
               potential_customers::bigint as potential_customers,
               book_economic_profit_amount::decimal(18, 2) as book_economic_profit_amount,
               book_capital_charge_amount::decimal(18, 2) as book_capital_charge_amount,
               period_start_month::date as period_start_month,
               period_end_month::date as period_end_month,
               value_volume_amount::decimal(18, 2) as value_volume_amount,
               value_new_amount::decimal(18, 2) as value_new_amount,
               value_lost_amount::decimal(18, 2) as value_lost_amount,
               rate_effect_amount::decimal(18, 2) as rate_effect_amount,
               new_customers::bigint as new_customers,
               lost_customers::bigint as lost_customers,
               value_created_rank::integer as value_created_rank
        from int_rm_scorecard
        where business_date = $business_date
        order by rm_id
    """,
    "branch_summary": """
        select branch_id::varchar as branch_id,
               tier::varchar as tier,
               business_date::date as business_date,
               tier_rank::integer as tier_rank,
               customers::bigint as customers,
               contribution_amount::decimal(18, 2) as contribution_amount,
               aum_amount::decimal(18, 2) as aum_amount,
               clv_amount::decimal(18, 2) as clv_amount,
               counter_cost_amount::decimal(18, 2) as counter_cost_amount,
               migration_candidates::bigint as migration_candidates,
               migration_saving_amount::decimal(18, 2) as migration_saving_amount,
               merchants::bigint as merchants,
               golden_customers::bigint as golden_customers,
               potential_customers::bigint as potential_customers,
               economic_profit_amount::decimal(18, 2) as economic_profit_amount,
               capital_charge_amount::decimal(18, 2) as capital_charge_amount
        from int_branch_summary
        where business_date = $business_date
        order by branch_id, tier_rank
    """,
}
"""One query per exported file; every column cast to its documented type. A column added to a
file goes at its end (docs/exports.md: a minor schema version). Each runs on the stage's
engine (DuckDB SQL of the portable subset: tests/test_spark_stages_sptiers.py lints them)."""

PSEUDONYMISED = {"merchant_network": "counterparty_ref"}
"""File → the column read in clear and replaced by :func:`pipeline.privacy.counterparty_ref`
in this process, before anything is written."""


def check_tables(engine: Engine) -> list[str]:
    """The check tables present: every table of ``sql/checks/`` (``chk_*`` and the others)."""
    from pipeline.warehouse import SQL_DIR

    declared = {p.stem for p in (SQL_DIR / "checks").glob("*.sql")}
    return sorted(t for t in declared if engine.table_exists(t))


def blocking_problems(
    con: duckdb.DuckDBPyConnection, engine: Engine, business_date: date
) -> list[str]:
    """Why the date must not be exported; empty when every stage and check passed. The run
    ledger is the warehouse file's (``con``), the check tables the engine's."""
    problems = []
    rows = con.execute(
        """
        select stage, status, message from (
            select stage, status, message,
                   row_number() over (partition by stage order by started_at desc) as n
            from run_ledger
            where business_date = $d and stage <> 'export' and status <> 'skipped'
        ) where n = 1 and status <> 'succeeded'
        order by stage
        """,
        {"d": business_date},
    ).fetchall()
    for stage, status, message in rows:
        what = "failed" if status == "failed" else f"did not finish (status {status})"
        problems.append(f"stage {stage} {what}" + (f": {message}" if message else ""))
    for table in check_tables(engine):
        cols = {name for name, _ in engine.columns(table)}
        if not {"business_date", "is_ok"} <= cols:
            problems.append(f"check table {table} lacks business_date or is_ok")
            continue
        failed = _count(engine, f"{table} where business_date = $d and not is_ok", business_date)
        if failed:
            problems.append(f"check {table}: {failed} failed rows")
    return problems


def _count(engine: Engine, rows: str, business_date: date) -> int:
    """``select count(*) from <rows>`` on the engine, ``$d`` the date."""
    return int(engine.read(f"select count(*) as n from {rows}", {"d": business_date})["n"][0])


def export_arrow(frame: pl.DataFrame) -> pa.Table:
    """A list read by the engine as the Arrow table written: the types DuckDB's
    ``to_arrow_table`` gives its columns (strings as ``string``, not polars'
    ``large_string``), so a file's bytes do not depend on the engine that read it."""
    import polars as pl
    import pyarrow as pa

    arrow = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    fields = [
        pa.field(f.name, pa.string() if f.type == pa.large_string() else f.type)
        for f in arrow.schema
    ]
    return arrow.cast(pa.schema(fields))


def read_list(engine: Engine, name: str, business_date: date, key: bytes) -> pa.Table:
    """The rows of one exported file, its counterparties pseudonymised (HMAC under ``key``)."""
    import polars as pl

    frame = engine.read(QUERIES[name], {"business_date": business_date})
    column = PSEUDONYMISED.get(name)
    if column is not None:
        refs = [counterparty_ref(key, v) for v in frame[column].to_list()]
        frame = frame.with_columns(pl.Series(column, refs, dtype=pl.String))
    return export_arrow(frame)


def build_manifest(ctx: StageContext) -> dict[str, Any]:
    from pipeline.warehouse import code_version

    inputs = ctx.con.execute(
        """
        select file_name, feed, sha256, rows_loaded, outcome from (
            select *, row_number() over (partition by file_name order by received_at desc) as n
            from file_ledger where business_date = $d
        ) where n = 1 and outcome in ('loaded', 'replaced')
        order by file_name
        """,
        {"d": ctx.business_date},
    ).fetchall()
    return {
        "schema_version": ctx.cfg.export.schema_version,
        "business_date": ctx.business_date.isoformat(),
        "config_hash": ctx.cfg.fingerprint(),
        "code_version": code_version(),
        "input_files": [
            {"file_name": f, "feed": feed, "sha256": sha, "rows_loaded": rows, "outcome": out}
            for f, feed, sha, rows, out in inputs
        ],
    }


def run(ctx: StageContext) -> int:
    """Write the date's Parquet lists, manifest and _SUCCESS atomically into the export folder."""
    from pipeline.export import publish_export
    from pipeline.stages.clv import fit_json

    engine, day = ctx.engine, ctx.business_date
    problems = blocking_problems(ctx.con, engine, day)
    if problems:
        raise ExportBlocked(
            f"export for {day} refused: "
            + "; ".join(problems)
            + f". Fix and re-run the failed stage, then `cvp export --date {day}`"
        )
    tiered = engine.table_exists("int_customer_tiers") and _count(
        engine, "int_customer_tiers where business_date = $d", day
    )
    if not tiered:
        raise StageFailed(f"no tiers for {day}: run `cvp tiers --date {day}` first")
    key = ref_key(ctx.cfg)
    tables = {name: read_list(engine, name, day, key) for name in ctx.cfg.export.files}
    clv_fit = fit_json(ctx.cfg.paths.export_dir, day)
    attachments = {"clv_fit.json": clv_fit} if clv_fit.exists() else {}
    folder = publish_export(
        ctx.cfg.paths.export_dir,
        day,
        tables,
        build_manifest(ctx),
        attachments,
        compression=ctx.cfg.export.compression,
    )
    ctx.facts.update({"export_folder": str(folder), **{k: v.num_rows for k, v in tables.items()}})
    return tables["customer_value"].num_rows


STAGE = Stage(
    name="export",
    run=run,
    needs=("tiers",),
    reads=(
        "int_customer_tiers",
        "int_cross_sell",
        "int_channel_migration",
        "int_call_list",
        "int_rm_scorecard",
        "int_branch_summary",
        "int_merchants",
        "int_merchant_counterparties",
        "int_customer_clv",
        "hist_customers",
        "tiers_consistency",
        "chk_contribution_reconciliation",
        "run_ledger",
        "file_ledger",
    ),
    writes=("export folder",),
    config_sections=("export",),
    engines=("duckdb", "spark"),
)
