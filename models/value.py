"""Value score (分值评估), golden customers (黄金客户甄别) and contribution concentration.

Pure functions over polars frames; the value stage feeds them from the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

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


def percentile_column(part: str) -> str:
    """The column holding the customer's percentile rank (0-1) on a part's input."""
    return f"{part}_percentile"


def score_value(
    customers: pl.DataFrame, weights: Mapping[str, float], has_clv: bool
) -> pl.DataFrame:
    """Give each customer a 0-100 value score with each part's points and share.

    Each part is the customer's percentile rank (0-1) on its input column among the date's
    customers (a global rank: sql/value/value_ranks.sql computes it); its points are
    ``100 × weight / total weight × rank``, so the score is the weighted average rank × 100.
    A customer's score needs their own row alone, so the customers can be scored in parts.

    Parameters
    ----------
    customers
        One row per customer_id with :func:`percentile_column` of each part of
        :data:`SCORE_INPUTS` that has a weight (``clv_percentile`` only when ``has_clv``).
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
    >>> df = pl.DataFrame({"customer_id": ["a", "b"], "contribution_percentile": [0.0, 1.0],
    ...     "assets_percentile": [1.0, 0.0]})
    >>> score_value(df, {"contribution": 1, "assets": 1}, has_clv=False)["value_score"].to_list()
    [50.0, 50.0]
    """
    parts = [p for p, w in weights.items() if w > 0 and (has_clv or p != "clv")]
    _require(customers, ["customer_id", *map(percentile_column, parts)], "the value inputs")
    total = sum(weights[p] for p in parts)
    if total <= 0:
        raise ValueError("Value score weights leave no part with a positive weight")
    points = [
        (100.0 * weights[p] / total * pl.col(percentile_column(p))).alias(f"{p}_points")
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


def identify_golden(customers: pl.DataFrame, rules: GoldenRules, band_months: int) -> pl.DataFrame:
    """Apply the golden-customer rules (黄金客户甄别), with reason codes for and against.

    A customer is golden when their contribution was in the top band in at least
    ``min_months_in_band`` of the ``band_months`` closed months looked at, and no account is
    delinquent at the date. Being in the top band in a month (percentile rank among that
    month's customers at least ``min_contribution_percentile``, and above
    ``min_contribution_amount``) is a global rank: sql/value/value_ranks.sql counts the
    months from the warehouse's monthly history (so a warehouse loaded with a year of history
    finds them on its first night); the rules here read the customer's own row alone.

    Parameters
    ----------
    customers
        One row per customer_id with contribution_amount (the yearly figure at the date),
        contribution_percentile (its percentile rank among the date's customers),
        months_in_band and max_days_past_due.
    rules
        configs: value.golden.
    band_months
        The closed months looked at (``rules.band_months``).

    Returns
    -------
    pl.DataFrame
        customer_id, contribution_amount, contribution_percentile, months_in_band,
        band_months, is_golden, reason_codes (``;``-separated: TOP_BAND_<n>OF<m>M and
        NO_DELINQUENCY when golden; BAND_ONLY_<n>OF<m>M, DELINQUENT_<d>DPD otherwise).

    Examples
    --------
    >>> rules = GoldenRules(min_contribution_percentile=0.5, band_months=2, min_months_in_band=2)
    >>> customers = pl.DataFrame({"customer_id": ["a", "b"], "contribution_amount": [100.0, 30.0],
    ...     "contribution_percentile": [1.0, 0.0], "months_in_band": [2, 0],
    ...     "max_days_past_due": [0, 0]})
    >>> identify_golden(customers, rules, 2)["reason_codes"].to_list()
    ['TOP_BAND_2OF2M;NO_DELINQUENCY', 'BAND_ONLY_0OF2M;NO_DELINQUENCY']
    """
    _require(
        customers,
        [
            "customer_id",
            "contribution_amount",
            "contribution_percentile",
            "months_in_band",
            "max_days_past_due",
        ],
        "customers",
    )
    out = customers.with_columns(
        pl.col("months_in_band").cast(pl.Int64).fill_null(0),
        pl.lit(band_months, pl.Int32).alias("band_months"),
    )
    held = pl.col("months_in_band") >= rules.min_months_in_band
    clean = pl.col("max_days_past_due").fill_null(0) <= rules.max_days_past_due
    band = pl.col("months_in_band").cast(pl.Utf8) + pl.lit(f"OF{band_months}M")
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


def top_counts(customers: int) -> dict[str, int]:
    """How many customers are the top 1, 5, 10 and 20% of ``customers`` (``round(n ×
    share)``, at least one), keyed as sql/value/concentration_sums.sql takes them.

    >>> top_counts(250)
    {'top_1': 2, 'top_5': 12, 'top_10': 25, 'top_20': 50}
    """
    shares = {1: 0.01, 5: 0.05, 10: 0.10, 20: 0.20}
    return {f"top_{p}": max(1, round(customers * share)) for p, share in shares.items()}


def summarise_concentration(
    sums: Mapping[str, Decimal | int | None],
) -> dict[str, float | int | None]:
    """The Pareto / Lorenz view of contribution: who produces it.

    Parameters
    ----------
    sums
        The exact sums of sql/value/concentration_sums.sql over the date's customers (one
        row per customer with contribution_amount and is_golden), the top n% taken as
        :func:`top_counts` says.

    Returns
    -------
    dict
        customers, total contribution, share of the total from the top 1/5/10/20% of
        customers by contribution (above 1 when the rest lose money), the top 20%'s share of
        the positive contributions only, golden customers and their share, share of customers
        with negative contribution, their total, and the Gini coefficient of contribution (on
        values floored at zero, since Gini is defined for non-negative quantities):
        ``2 Σ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n`` over the floored values in ascending order.
        Each ratio is taken of the exact sums, then given as a float.

    Examples
    --------
    >>> s = summarise_concentration({"customers": 2, "total_amount": Decimal("3"),
    ...     "top_1_amount": Decimal("2"), "top_5_amount": Decimal("2"),
    ...     "top_10_amount": Decimal("2"), "top_20_amount": Decimal("2"),
    ...     "top_20_positive_amount": Decimal("2"), "positive_amount": Decimal("3"),
    ...     "rank_weighted_positive_amount": Decimal("5"), "golden_customers": 1,
    ...     "golden_amount": Decimal("2"), "negative_customers": 0, "negative_amount": 0})
    >>> round(s["gini"], 6), round(s["top_1pct_share"], 6)
    (0.166667, 0.666667)
    """
    n = int(sums["customers"] or 0)

    def amount(key: str) -> Decimal:
        return Decimal(sums[key] or 0)

    total, positive = amount("total_amount"), amount("positive_amount")

    def share(part: Decimal, whole: Decimal) -> float | None:
        return float(part / whole) if whole else None

    gini = (
        float(2 * amount("rank_weighted_positive_amount") / (n * positive) - Decimal(n + 1) / n)
        if n and positive > 0
        else 0.0
    )
    return {
        "customers": n,
        "total_contribution_amount": float(total),
        **{f"top_{p}pct_share": share(amount(f"top_{p}_amount"), total) for p in (1, 5, 10, 20)},
        "top_20pct_share_of_positive": share(amount("top_20_positive_amount"), positive)
        if positive > 0
        else None,
        "golden_customers": int(sums["golden_customers"] or 0),
        "golden_share": share(amount("golden_amount"), total),
        "negative_customer_share": int(sums["negative_customers"] or 0) / n if n else 0.0,
        "negative_contribution_amount": float(amount("negative_amount")),
        "gini": gini,
    }
