"""The value stage: value score, golden customers, segments and contribution concentration.

Reads the customer view and contribution for the date (and lifetime values when the clv stage
wrote them for the date), calls the models in ``models/value.py`` and ``models/segments.py``
and writes one partition per business date of each output table.
"""

from __future__ import annotations

from pipeline.dates import first_of_month
from pipeline.errors import StageFailed
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.contribution import refresh_monthly_contribution


def feature_columns() -> list[str]:
    """The columns of int_customer_features the value, golden and segment models read."""
    from models.segments import DEMOGRAPHIC_COLUMNS
    from models.segments import REQUIRED as BEHAVIOUR_COLUMNS
    from models.value import SCORE_INPUTS

    wanted = [
        *BEHAVIOUR_COLUMNS,
        *DEMOGRAPHIC_COLUMNS,
        *SCORE_INPUTS.values(),
        "max_days_past_due",  # identify_golden
        "age_years",  # the segment profiles
    ]
    # clv_amount comes from int_customer_clv, contribution_amount from the contribution
    skip = {"clv_amount", "contribution_amount"}
    return [c for c in dict.fromkeys(wanted) if c not in skip]


def run(ctx: StageContext) -> int:
    """Value score, golden customers, segments and the Pareto view of contribution."""
    import polars as pl

    from models.segments import cluster_behaviour, demographic_segments
    from models.value import identify_golden, score_value, summarise_concentration

    con, engine, cfg, day = ctx.con, ctx.engine, ctx.cfg, ctx.business_date
    # only the columns the models read (the customer view has ~70): at 1M customers the
    # whole view cost 2.1 s to read into polars
    columns = ", ".join(f"f.{c}" for c in feature_columns())
    features = engine.read(
        f"select {columns}, c.contribution_amount from int_customer_features f "
        "join int_customer_contribution c using (customer_id, business_date) "
        "where f.business_date = $day order by f.customer_id",
        {"day": day},
    )
    if features.height == 0:
        raise StageFailed(
            f"no customer view and contribution for {day}: run `cvp features` and "
            f"`cvp contribution --date {day}` first"
        )
    has_clv = False
    if engine.table_exists("int_customer_clv"):
        clv = engine.read(
            "select customer_id, clv_amount from int_customer_clv where business_date = $day",
            {"day": day},
        )
        if clv.height:
            has_clv = True
            features = features.join(clv, on="customer_id", how="left").with_columns(
                pl.col("clv_amount").cast(pl.Float64).fill_null(0.0)
            )
    ctx.facts["clv_used"] = has_clv

    scores = score_value(features, cfg.value.score_weights, has_clv)
    scores = scores.join(
        features.select("customer_id", "contribution_amount", "aum_amount"), on="customer_id"
    )
    rows = engine.write_partition("int_customer_value_score", scores, day)

    months = [first_of_month(day, -k) for k in range(cfg.value.golden.band_months, 0, -1)]
    ctx.facts["golden_months_computed"] = refresh_monthly_contribution(con, engine, cfg, months)
    monthly = engine.read(  # the band's months are consecutive month starts
        "select customer_id, month_start, contribution_amount "
        "from agg_customer_contribution_month where month_start between $first and $last",
        {"first": months[0], "last": months[-1]},
    )
    golden = identify_golden(
        features.select("customer_id", "contribution_amount", "max_days_past_due"),
        monthly,
        cfg.value.golden,
        months,
    )
    engine.write_partition("int_golden_customers", golden, day)

    assignments, profiles = cluster_behaviour(
        features,
        cfg.value.cluster_count,
        cfg.value.cluster_seed,
        cfg.value.cluster_fit_sample,
        cfg.value.profile_top_features,
    )
    segments = demographic_segments(features).join(assignments, on="customer_id", how="left")
    engine.write_partition("int_customer_segments", segments, day)
    extra = (
        features.join(assignments, on="customer_id")
        .group_by("behaviour_cluster")
        .agg(
            pl.col("contribution_amount").cast(pl.Float64).mean().alias("avg_contribution_amount"),
            pl.col("aum_amount").cast(pl.Float64).mean().alias("avg_aum_amount"),
            pl.col("age_years").cast(pl.Float64).mean().alias("avg_age_years"),
        )
    )
    profiles = profiles.join(extra, on="behaviour_cluster", how="left").sort("behaviour_cluster")
    engine.write_partition("int_segment_profiles", profiles, day)

    summary = summarise_concentration(golden)
    engine.write_partition("rpt_contribution_concentration", pl.DataFrame([summary]), day)
    ctx.facts.update(
        {k: summary[k] for k in ("top_20pct_share", "golden_customers", "golden_share", "gini")}
    )
    return rows


STAGE = Stage(
    name="value",
    run=run,
    needs=("contribution", "clv"),  # lifetime values are read when clv wrote them
    reads=(
        "int_customer_features",
        "int_customer_contribution",
        "int_customer_clv",
        "agg_account_balance_month",
        "agg_customer_txn_month",
        "agg_card_cycle_month",
        "file_ledger",
    ),
    writes=(
        "agg_customer_contribution_month",
        "int_customer_value_score",
        "int_golden_customers",
        "int_customer_segments",
        "int_segment_profiles",
        "rpt_contribution_concentration",
    ),
    config_sections=("value", "economics"),
    engines=("duckdb", "spark"),
)
