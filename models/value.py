"""Value score (分值评估), golden customers (黄金客户甄别) and contribution concentration.

Pure functions over polars frames; the value stage feeds them from the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from models.params.value import GoldenRules

SCORE_INPUTS = {
    "contribution": "contribution_amount",
    "assets": "aum_amount",
    "clv": "clv_amount",
    "activity": "txn_count",
    "breadth": "products_held",
    "tenure": "tenure_months",
}
"""The column behind each part of the value score."""


def _require(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    for col in columns:
        if col not in frame.columns:
            raise ValueError(f"Required column {col} missing from {what}")


def percentile_rank(values: pl.Expr) -> pl.Expr:
    """(rank − 1) / (n − 1) with ties at their average rank: 0 the lowest, 1 the highest."""
    n = values.count()
    return pl.when(n > 1).then((values.rank("average") - 1) / (n - 1)).otherwise(pl.lit(1.0))


def score_value(
    customers: pl.DataFrame, weights: Mapping[str, float], has_clv: bool
) -> pl.DataFrame:
    """Give each customer a 0-100 value score with each part's points and share.

    Each part is the customer's percentile rank (0-1) on its input column; its points are
    ``100 × weight / total weight × rank``, so the score is the weighted average rank × 100.

    Parameters
    ----------
    customers
        One row per customer_id with the columns of :data:`SCORE_INPUTS` (``clv_amount`` only
        when ``has_clv``).
    weights
        Weight of each part (configs: value.score_weights).
    has_clv
        False when no lifetime values exist for the date: the clv part is dropped and the
        other weights re-normalised, which ``score_note`` says.

    Returns
    -------
    pl.DataFrame
        customer_id, value_score, ``<part>_points`` and ``<part>_share`` per part, score_note.

    Examples
    --------
    >>> df = pl.DataFrame({"customer_id": ["a", "b"], "contribution_amount": [1.0, 2.0],
    ...     "aum_amount": [5.0, 1.0], "txn_count": [1, 1], "products_held": [1, 2],
    ...     "tenure_months": [3, 3]})
    >>> score_value(df, {"contribution": 1, "assets": 1}, has_clv=False)["value_score"].to_list()
    [50.0, 50.0]
    """
    parts = [p for p, w in weights.items() if w > 0 and (has_clv or p != "clv")]
    _require(customers, ["customer_id", *[SCORE_INPUTS[p] for p in parts]], "the value inputs")
    total = sum(weights[p] for p in parts)
    if total <= 0:
        raise ValueError("Value score weights leave no part with a positive weight")
    points = [
        (
            100.0 * weights[p] / total * percentile_rank(pl.col(SCORE_INPUTS[p]).cast(pl.Float64))
        ).alias(f"{p}_points")
        for p in parts
    ]
    note = (
        "all parts"
        if has_clv or weights.get("clv", 0) == 0
        else (
            "clv dropped (no lifetime values for the date); weights re-normalised over "
            + ", ".join(parts)
        )
    )
    out = customers.select("customer_id", *points)
    out = out.with_columns(pl.sum_horizontal([f"{p}_points" for p in parts]).alias("value_score"))
    shares = [
        pl.when(pl.col("value_score") > 0)
        .then(pl.col(f"{p}_points") / pl.col("value_score"))
        .otherwise(0.0)
        .alias(f"{p}_share")
        for p in parts
    ]
    missing = [p for p in SCORE_INPUTS if p not in parts]
    filler = [
        pl.lit(None, pl.Float64).alias(f"{p}_{k}") for p in missing for k in ("points", "share")
    ]
    out = out.with_columns(*shares, *filler, pl.lit(note).alias("score_note"))
    cols = ["customer_id", "value_score"]
    for p in SCORE_INPUTS:
        cols += [f"{p}_points", f"{p}_share"]
    return out.select([*cols, "score_note"]).with_columns(pl.col("value_score").round(4))


def identify_golden(
    customers: pl.DataFrame,
    monthly: pl.DataFrame,
    rules: GoldenRules,
    months: list[date],
) -> pl.DataFrame:
    """Apply the golden-customer rules (黄金客户甄别), with reason codes for and against.

    A customer is golden when their contribution was in the top band (percentile rank among
    that month's customers at least ``min_contribution_percentile``, and above
    ``min_contribution_amount``) in at least ``min_months_in_band`` of the closed ``months``,
    and no account is delinquent at the date. The months come from the warehouse's monthly
    history, so a warehouse loaded with a year of history finds them on its first night.

    Parameters
    ----------
    customers
        One row per customer_id with contribution_amount (the yearly figure at the date) and
        max_days_past_due.
    monthly
        customer_id, month_start, contribution_amount: each closed month's contribution.
    rules
        configs: value.golden.
    months
        The closed months looked at (``rules.band_months`` of them, latest last).

    Returns
    -------
    pl.DataFrame
        customer_id, contribution_amount, contribution_percentile (of the yearly figure),
        months_in_band, band_months, is_golden, reason_codes (``;``-separated:
        TOP_BAND_<n>OF<m>M and NO_DELINQUENCY when golden; BAND_ONLY_<n>OF<m>M,
        DELINQUENT_<d>DPD otherwise).

    Examples
    --------
    >>> from decimal import Decimal
    >>> rules = GoldenRules(min_contribution_percentile=0.5, band_months=2, min_months_in_band=2)
    >>> months = [date(2026, 9, 1), date(2026, 10, 1)]
    >>> monthly = pl.DataFrame({"customer_id": ["a", "b", "a", "b"],
    ...     "month_start": [months[0], months[0], months[1], months[1]],
    ...     "contribution_amount": [9.0, 1.0, 8.0, 2.0]})
    >>> customers = pl.DataFrame({"customer_id": ["a", "b"],
    ...     "contribution_amount": [100.0, 30.0], "max_days_past_due": [0, 0]})
    >>> identify_golden(customers, monthly, rules, months)["reason_codes"].to_list()
    ['TOP_BAND_2OF2M;NO_DELINQUENCY', 'BAND_ONLY_0OF2M;NO_DELINQUENCY']
    """
    _require(customers, ["customer_id", "contribution_amount", "max_days_past_due"], "customers")
    _require(monthly, ["customer_id", "month_start", "contribution_amount"], "monthly history")
    wanted = monthly.filter(pl.col("month_start").cast(pl.Date).is_in(months))
    amount = pl.col("contribution_amount").cast(pl.Float64)
    in_band = wanted.with_columns(
        (
            (percentile_rank(amount).over("month_start") >= rules.min_contribution_percentile)
            & (amount > float(rules.min_contribution_amount))
        ).alias("_in_band")
    )
    counts = in_band.group_by("customer_id").agg(
        pl.col("_in_band").sum().cast(pl.Int64).alias("months_in_band")
    )
    out = (
        customers.with_columns(
            percentile_rank(pl.col("contribution_amount").cast(pl.Float64)).alias(
                "contribution_percentile"
            )
        )
        .join(counts, on="customer_id", how="left")
        .with_columns(
            pl.col("months_in_band").fill_null(0), pl.lit(len(months)).alias("band_months")
        )
    )
    held = pl.col("months_in_band") >= rules.min_months_in_band
    clean = pl.col("max_days_past_due").fill_null(0) <= rules.max_days_past_due
    band = pl.col("months_in_band").cast(pl.Utf8) + pl.lit(f"OF{len(months)}M")
    reasons = pl.concat_str(
        [
            pl.when(held).then(pl.lit("TOP_BAND_") + band).otherwise(pl.lit("BAND_ONLY_") + band),
            pl.when(clean)
            .then(pl.lit("NO_DELINQUENCY"))
            .otherwise(
                pl.lit("DELINQUENT_") + pl.col("max_days_past_due").cast(pl.Utf8) + pl.lit("DPD")
            ),
        ],
        separator=";",
    ).alias("reason_codes")
    return out.with_columns((held & clean).alias("is_golden"), reasons).select(
        "customer_id",
        "contribution_amount",
        "contribution_percentile",
        "months_in_band",
        "band_months",
        "is_golden",
        "reason_codes",
    )


def summarise_concentration(golden: pl.DataFrame) -> dict[str, float | int | None]:
    """The Pareto / Lorenz view of contribution: who produces it.

    Parameters
    ----------
    golden
        One row per customer with contribution_amount and is_golden.

    Returns
    -------
    dict
        customers, total contribution, share of the total from the top 1/5/10/20% of
        customers by contribution (above 1 when the rest lose money), the top 20%'s share of
        the positive contributions only, golden customers and their share, share of customers with
        negative contribution, their total, and the Gini coefficient of contribution (on
        values floored at zero, since Gini is defined for non-negative quantities).
    """
    _require(golden, ["contribution_amount", "is_golden"], "golden customers")
    values = golden.get_column("contribution_amount").cast(pl.Float64).sort(descending=True)
    n = len(values)
    total = float(values.sum()) if n else 0.0

    def top_share(fraction: float) -> float | None:
        k = max(1, round(n * fraction)) if n else 0
        return float(values.head(k).sum()) / total if total else None

    golden_total = float(
        golden.filter(pl.col("is_golden")).get_column("contribution_amount").cast(pl.Float64).sum()
    )
    positive = values.clip(lower_bound=0).sort()
    pos_total = float(positive.sum())
    if n and pos_total > 0:
        ranks = pl.Series(range(1, n + 1), dtype=pl.Float64)
        weighted = float((ranks * positive).sum())
        gini = 2 * weighted / (n * pos_total) - (n + 1) / n
    else:
        gini = 0.0
    negatives = values.filter(values < 0)
    return {
        "customers": n,
        "total_contribution_amount": total,
        "top_1pct_share": top_share(0.01),
        "top_5pct_share": top_share(0.05),
        "top_10pct_share": top_share(0.10),
        "top_20pct_share": top_share(0.20),
        "top_20pct_share_of_positive": (
            float(values.head(max(1, round(n * 0.2))).clip(lower_bound=0).sum()) / pos_total
            if pos_total > 0
            else None
        ),
        "golden_customers": int(golden.get_column("is_golden").sum()),
        "golden_share": golden_total / total if total else None,
        "negative_customer_share": len(negatives) / n if n else 0.0,
        "negative_contribution_amount": float(negatives.sum()),
        "gini": gini,
    }
