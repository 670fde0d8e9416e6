"""The value stage: value score, golden customers, segments and contribution concentration.

The global parts are SQL over the date's customers: each customer's percentile ranks and
months in the golden band (``sql/value/value_ranks.sql``, window functions), the
concentration's sums (``sql/value/concentration_sums.sql``), the clusters' sizes and centres.
The behavioural clusters are fitted on the driver over a sample; every rule that reads one
customer's row alone (``models/value.py``, ``models/segments.py``) runs per part of the
customers (:meth:`~pipeline.engine.base.Engine.map_frame`), so no process holds them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from pipeline.dates import first_of_month
from pipeline.engine.base import Engine
from pipeline.errors import StageFailed
from pipeline.stages.base import Stage, StageContext
from pipeline.stages.contribution import refresh_monthly_contribution

if TYPE_CHECKING:
    import polars as pl

    from models.params.value import GoldenRules
    from models.segments import ClusterModel
    from pipeline.config.value import ValueConfig

PARTS = ("contribution", "assets", "clv", "activity", "breadth", "tenure")
""":data:`models.value.SCORE_INPUTS`' parts, in its order (the score table's columns)."""


PASSED_ON = (
    *("contribution_amount", "aum_amount", "contribution_percentile", "months_in_band"),
    *("industry", "education", "region_code", "age_band", "occupation", "age_years"),
)
"""The inputs the tables and the clusters' profiles take as they are (:func:`value_rows`
hands them on, so no table is written from a join)."""


def value_row_columns(inputs: dict[str, str]) -> list[tuple[str, str]]:
    """The per-customer results of :func:`value_rows` and their types (``inputs``: the
    types of the query's columns, for those handed on)."""
    from models.segments import BEHAVIOUR_FEATURES

    return [
        ("customer_id", "VARCHAR"),
        ("value_score", "DOUBLE"),
        *[(f"{p}_{k}", "DOUBLE") for p in PARTS for k in ("points", "share")],
        ("score_note", "VARCHAR"),
        ("band_months", "INTEGER"),
        ("is_golden", "BOOLEAN"),
        ("reason_codes", "VARCHAR"),
        ("demographic_segment", "VARCHAR"),
        ("raw_cluster", "INTEGER"),
        *[(f"z_{name}", "DOUBLE") for name in BEHAVIOUR_FEATURES],
        *[(name, inputs[name]) for name in PASSED_ON],
    ]


def inputs_query() -> str:
    """Each customer's row of the date (``$d``) for :func:`value_rows`: the customer view's
    columns the models read, the contribution, and the global parts (``value_ranks``)."""
    from models.segments import DEMOGRAPHIC_COLUMNS, REQUIRED

    view = dict.fromkeys([*REQUIRED, *DEMOGRAPHIC_COLUMNS, "max_days_past_due", "age_years"])
    ranks = [f"{p}_percentile" for p in PARTS]
    return (
        f"select {', '.join('f.' + c for c in view)}, c.contribution_amount, "
        f"{', '.join('r.' + c for c in ranks)}, r.months_in_band "
        "from int_customer_features as f "
        "inner join int_customer_contribution as c "
        "on c.customer_id = f.customer_id and c.business_date = f.business_date "
        "inner join value_ranks as r on r.customer_id = f.customer_id "
        "where f.business_date = $d"
    )


def value_rows(
    customers: pl.DataFrame,
    weights: Mapping[str, float],
    has_clv: bool,
    golden: GoldenRules,
    band_months: int,
    clusters: ClusterModel,
) -> pl.DataFrame:
    """Each customer's value score, golden flag, demographic segment and nearest behavioural
    cluster, from their own row of :func:`inputs_query` (global ranks included), with the
    inputs of :data:`PASSED_ON`."""
    from models.segments import assign_clusters, demographic_segments
    from models.value import identify_golden, score_value

    golden_rows = identify_golden(customers, golden, band_months).select(
        "customer_id", "band_months", "is_golden", "reason_codes"
    )
    segments = demographic_segments(customers).select("customer_id", "demographic_segment")
    return (
        score_value(customers, weights, has_clv)
        .join(customers.select("customer_id", *PASSED_ON), on="customer_id")
        .join(golden_rows, on="customer_id")
        .join(segments, on="customer_id")
        .join(assign_clusters(customers, clusters), on="customer_id")
    )


def _lifetime_values(engine: Engine, day: date) -> bool:
    """The scratch table ``value_clv``: the clv stage's amounts of the date (none when it
    wrote none); whether there are any."""
    import polars as pl

    if engine.table_exists("int_customer_clv"):
        query = "select customer_id, clv_amount from int_customer_clv where business_date = $d"
        if engine.temp_query("value_clv", query, {"d": day}):
            return True
    engine.temp_frame(
        "value_clv", pl.DataFrame(schema={"customer_id": pl.Utf8, "clv_amount": pl.Float64})
    )
    return False


def _fit_clusters(engine: Engine, day: date, customers: int, settings: ValueConfig) -> ClusterModel:
    """The behavioural clusters, fitted on about ``cluster_fit_sample`` of the date's
    customers: those whose md5(customer_id) sorts low (the same sample on both engines and
    on every night, whatever the order of the rows), everyone when they are fewer."""
    from models.segments import REQUIRED, fit_clusters
    from pipeline.sampling import sample_md5_below, sample_permille

    permille = sample_permille(customers, settings.cluster_fit_sample)
    sample = engine.read(
        f"select {', '.join('f.' + c for c in REQUIRED)} from int_customer_features as f "
        "inner join value_ranks as r on r.customer_id = f.customer_id "
        "where f.business_date = $d and ($everyone or md5(f.customer_id) < $below) "
        "order by f.customer_id",
        {"d": day, "everyone": permille >= 1000, "below": sample_md5_below(permille)},
    )
    return fit_clusters(sample, settings.cluster_count, settings.cluster_seed)


def _segment_profiles(engine: Engine, clusters: ClusterModel, top_features: int) -> pl.DataFrame:
    """The clusters' profiles (:func:`models.segments.cluster_profiles`) with their members'
    average contribution, assets and age; the scratch table ``cluster_numbers`` maps each raw
    cluster to its number."""
    import polars as pl

    from models.segments import BEHAVIOUR_FEATURES, cluster_profiles

    centres = ", ".join(f"avg(r.z_{name}) as z_{name}" for name in BEHAVIOUR_FEATURES)
    members = engine.read(
        f"select r.raw_cluster, count(*) as customers, {centres}, "
        "avg(cast(r.contribution_amount as double)) as avg_contribution_amount, "
        "avg(cast(r.aum_amount as double)) as avg_aum_amount, "
        "avg(cast(r.age_years as double)) as avg_age_years "
        "from value_rows as r group by r.raw_cluster"
    )
    numbers, profiles = cluster_profiles(clusters, members, top_features)
    engine.temp_frame(
        "cluster_numbers",
        pl.DataFrame(
            {"raw_cluster": list(numbers), "behaviour_cluster": list(numbers.values())},
            schema={"raw_cluster": pl.Int32, "behaviour_cluster": pl.Int32},
        ),
    )
    averages = members.select(
        pl.col("raw_cluster")
        .replace_strict(numbers, return_dtype=pl.Int64)
        .alias("behaviour_cluster"),
        "avg_contribution_amount",
        "avg_aum_amount",
        "avg_age_years",
    )
    return profiles.join(averages, on="behaviour_cluster", how="left").sort("behaviour_cluster")


def run(ctx: StageContext) -> int:
    """Value score, golden customers, segments and the Pareto view of contribution."""
    import polars as pl

    from models.value import summarise_concentration, top_counts

    con, engine, cfg, day = ctx.con, ctx.engine, ctx.cfg, ctx.business_date
    settings = cfg.value
    has_clv = _lifetime_values(engine, day)
    ctx.facts["clv_used"] = has_clv
    rules = settings.golden
    months = [first_of_month(day, -k) for k in range(rules.band_months, 0, -1)]
    ctx.facts["golden_months_computed"] = refresh_monthly_contribution(con, engine, cfg, months)
    engine.temp_file(
        "value/value_ranks",
        {
            "business_date": day,
            "band_first": months[0],
            "band_last": months[-1],
            "min_contribution_percentile": rules.min_contribution_percentile,
            "min_contribution_amount": rules.min_contribution_amount,
        },
    )
    customers = int(engine.read("select count(*) as n from value_ranks")["n"][0])
    if customers == 0:
        raise StageFailed(
            f"no customer view and contribution for {day}: run `cvp features` and "
            f"`cvp contribution --date {day}` first"
        )
    clusters = _fit_clusters(engine, day, customers, settings)
    query = inputs_query()
    engine.map_frame(
        "value_rows",
        query,
        {"d": day},
        partial(
            value_rows,
            weights=settings.score_weights,
            has_clv=has_clv,
            golden=rules,
            band_months=len(months),
            clusters=clusters,
        ),
        value_row_columns(dict(engine.describe(query, {"d": day}))),
    )
    points = ", ".join(f"{p}_points, {p}_share" for p in PARTS)
    rows = engine.replace_partition(
        "int_customer_value_score",
        f"select customer_id, value_score, {points}, score_note, contribution_amount, "
        "aum_amount, $d as business_date from value_rows",
        day,
        {"d": day},
    )
    engine.replace_partition(
        "int_golden_customers",
        "select customer_id, contribution_amount, contribution_percentile, months_in_band, "
        "band_months, is_golden, reason_codes, $d as business_date from value_rows",
        day,
        {"d": day},
    )
    profiles = _segment_profiles(engine, clusters, settings.profile_top_features)
    engine.replace_partition(
        "int_customer_segments",
        "select r.customer_id, r.industry, r.education, r.region_code, r.age_band, "
        "r.occupation, r.demographic_segment, n.behaviour_cluster, $d as business_date "
        "from value_rows as r inner join cluster_numbers as n on n.raw_cluster = r.raw_cluster",
        day,
        {"d": day},
    )
    engine.write_partition("int_segment_profiles", profiles, day)

    engine.temp_file("value/concentration_sums", {"business_date": day, **top_counts(customers)})
    summary = summarise_concentration(
        engine.read("select * from concentration_sums").row(0, named=True)
    )
    engine.write_partition("rpt_contribution_concentration", pl.DataFrame([summary]), day)
    ctx.facts.update(
        {k: summary[k] for k in ("top_20pct_share", "golden_customers", "golden_share", "gini")}
    )
    for scratch in (
        "value_clv",
        "value_ranks",
        "value_rows",
        "cluster_numbers",
        "concentration_sums",
    ):
        engine.drop(scratch)
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
