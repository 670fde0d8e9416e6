"""The merchant scorecard: points per signal, reason codes, decoy vetoes, the detection rule.

A customer is a high-value individual merchant (个体工商户) when the points of the scorecard
rules that fire reach the cut-off, the yearly turnover reaches the floor, and no decoy rule
vetoes it. The decoy rules keep out customers whose large inflows have another explanation:
one large inflow (a flat sold, an inheritance) or a salary-like stream from one payer.
All thresholds are :class:`models.params.merchants.MerchantScoring` (the ``merchants``
section of the configuration).
"""

from __future__ import annotations

import polars as pl

from models.errors import ModelInputError
from models.params.merchants import SIGNALS, MerchantScoring

DECOY_COLUMNS: tuple[str, ...] = (
    "payer_count",
    "largest_inflow_share",
    "top_payer_share",
    "top_payer_months",
    "top_payer_amount_cv",
)
REASON_SEPARATOR = "; "


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ModelInputError(f"{what}: required column {', '.join(missing)} missing")


def _rule_fires(column: str, at_least: float | None, at_most: float | None) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64)
    fires = pl.lit(True)
    if at_least is not None:
        fires = fires & (value >= at_least)
    if at_most is not None:
        fires = fires & (value <= at_most)
    return fires.fill_null(False)


def _join_codes(flags: list[tuple[str, pl.Expr]]) -> pl.Expr:
    if not flags:
        return pl.lit("")
    codes = [pl.when(fired).then(pl.lit(code)).otherwise(None) for code, fired in flags]
    return pl.concat_list(codes).list.drop_nulls().list.join(REASON_SEPARATOR)


def score_merchants(signals: pl.DataFrame, settings: MerchantScoring) -> pl.DataFrame:
    """Score every candidate on the scorecard and decide who is a merchant.

    Parameters
    ----------
    signals
        One row per customer_id with the signals named by the scorecard rules
        (see ``models.params.merchants.SIGNALS``) and the decoy columns ``payer_count``,
        ``largest_inflow_share``, ``top_payer_share``, ``top_payer_months``,
        ``top_payer_amount_cv``.
    settings
        The ``merchants`` configuration: rules, cut-off, turnover floor, decoy thresholds.

    Returns
    -------
    pl.DataFrame
        ``customer_id``, ``turnover_amount``, ``merchant_score`` (sum of the points of the
        rules that fired), ``reasons`` (their codes, ``'; '``-joined, in configuration order),
        ``decoy_reasons`` (the vetoes that fired) and ``is_merchant``.

    Examples
    --------
    >>> import polars as pl
    >>> from models.params.merchants import MerchantScoring, ScoreRule
    >>> cfg = MerchantScoring(
    ...     rules={"HIGH_TURNOVER": ScoreRule(signal="turnover_amount", at_least=1e6, points=60)}
    ... )
    >>> frame = pl.DataFrame({"customer_id": ["C1"], "turnover_amount": [2e6], "payer_count": [80],
    ...     "largest_inflow_share": [0.01], "top_payer_share": [0.02],
    ...     "top_payer_months": [3], "top_payer_amount_cv": [0.9]})
    >>> score_merchants(frame, cfg).select("merchant_score", "reasons", "is_merchant").row(0)
    (60.0, 'HIGH_TURNOVER', True)
    """
    needed = ("customer_id", "turnover_amount", *DECOY_COLUMNS)
    needed += tuple(sorted({r.signal for r in settings.rules.values()} - set(needed)))
    _require(signals, needed, "merchant signals")

    fired = [
        (code, _rule_fires(rule.signal, rule.at_least, rule.at_most))
        for code, rule in settings.rules.items()
    ]
    score = pl.sum_horizontal(
        [pl.when(f).then(pl.lit(settings.rules[c].points)).otherwise(0.0) for c, f in fired]
        or [pl.lit(0.0)]
    )
    decoy = settings.decoys
    vetoes = [
        (
            "DECOY_SINGLE_INFLOW",
            (pl.col("largest_inflow_share") > decoy.max_largest_inflow_share).fill_null(False),
        ),
        (
            "DECOY_ONE_PAYER",
            (
                (pl.col("top_payer_share") > decoy.max_top_payer_share)
                & (pl.col("payer_count") <= decoy.one_payer_max_payers)
            ).fill_null(False),
        ),
        (
            "DECOY_SALARY",
            (
                (pl.col("top_payer_months") >= decoy.salary_min_months)
                & (pl.col("top_payer_amount_cv") <= decoy.salary_max_cv)
                & (pl.col("top_payer_share") >= decoy.salary_min_share)
            ).fill_null(False),
        ),
    ]
    vetoed = pl.any_horizontal([v for _, v in vetoes])
    return (
        signals.select(
            "customer_id",
            pl.col("turnover_amount"),
            score.cast(pl.Float64).alias("merchant_score"),
            _join_codes(fired).alias("reasons"),
            _join_codes(vetoes).alias("decoy_reasons"),
            vetoed.alias("_vetoed"),
        )
        .with_columns(
            is_merchant=(
                (pl.col("merchant_score") >= settings.score_cutoff)
                & (pl.col("turnover_amount").cast(pl.Float64) >= settings.turnover_floor_amount)
            ).fill_null(False)
            & ~pl.col("_vetoed")
        )
        .drop("_vetoed")
    )


__all__ = ["DECOY_COLUMNS", "REASON_SEPARATOR", "SIGNALS", "score_merchants"]
