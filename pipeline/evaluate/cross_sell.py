"""Measure the next-product take-up models against the generator's ground truth.

Given a warehouse where the tiers stage ran for a date and the account truth that
``cvp generate`` writes beside its landing zone (``<DIR>.accounts_truth.parquet``; take-ups have
a ``takeup_trait``), print per product:

- ``stored``: the out-of-time validation the stage stored for the date (AUC, top-decile lift,
  Brier score beside the base rate's, takers) — measured by the pipeline on its own history;
- ``forward``: what happened after the date, from the truth: among the customers who did not
  hold the product on the date, the take-up rate within ``--horizon-months`` (or up to the last
  date of the truth) of those the night recommended it to (in their top products) against all
  non-holders: the lift of the recommendation, and the mean probability the night gave the
  recommended (calibration in the large, when the truth covers the whole horizon).

The truth is used only here, to measure; the stage never reads it.

Usage::

    python -m pipeline.evaluate.cross_sell --warehouse var/demo/cvp.duckdb \\
        --accounts-truth var/demo/landing.accounts_truth.parquet --date 2026-09-30
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.dates import shift_months
from pipeline.evaluate import DEFAULT_OUT, publish


def evaluate_forward(
    recommendations: pl.DataFrame,
    truth: pl.DataFrame,
    business_date: date,
    horizon_end: date,
    products: list[str],
) -> list[dict[str, Any]]:
    """Take-up after ``business_date`` among the recommended against all non-holders.

    Parameters
    ----------
    recommendations
        ``int_cross_sell`` of the date: ``customer_id``, ``product_code``,
        ``propensity_score`` (null for a look-alike), ``score_kind``.
    truth
        The account truth: ``customer_id``, ``product_code``, ``open_date``, ``closed_date``,
        ``takeup_trait``.
    business_date, horizon_end
        The window (business_date, horizon_end] in which take-up counts.
    products
        Products to report.
    """
    customers = truth.filter(pl.col("open_date") <= business_date).select("customer_id").unique()
    out = []
    for product in products:
        mine = truth.filter(pl.col("product_code") == product)
        holders = mine.filter(
            (pl.col("open_date") <= business_date)
            & (pl.col("closed_date").is_null() | (pl.col("closed_date") > business_date))
        ).select("customer_id")
        takers = (
            mine.filter(
                pl.col("takeup_trait").is_not_null()
                & (pl.col("open_date") > business_date)
                & (pl.col("open_date") <= horizon_end)
            )
            .select("customer_id")
            .unique()
        )
        base = customers.join(holders, on="customer_id", how="anti").with_columns(
            took=pl.col("customer_id").is_in(takers["customer_id"].implode())
        )
        recs = recommendations.filter(pl.col("product_code") == product)
        chosen = base.join(
            recs.select("customer_id", "propensity_score", "score_kind"), on="customer_id"
        )
        rate = float(base["took"].mean()) if base.height else None  # type: ignore[arg-type]
        rate_rec = float(chosen["took"].mean()) if chosen.height else None  # type: ignore[arg-type]
        out.append(
            {
                "product_code": product,
                "non_holders": base.height,
                "takers": int(base["took"].sum()),
                "take_up_rate": rate,
                "recommended": chosen.height,
                "takers_recommended": int(chosen["took"].sum()),
                "take_up_rate_recommended": rate_rec,
                "lift": rate_rec / rate if rate and rate_rec is not None else None,
                "mean_probability_recommended": chosen["propensity_score"].mean(),
                "score_kind": chosen["score_kind"].mode().first() if chosen.height else None,
            }
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB file")
    parser.add_argument(
        "--accounts-truth", type=Path, required=True, help="<DIR>.accounts_truth.parquet"
    )
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="business date")
    parser.add_argument("--horizon-months", type=int, default=3, help="take-up window")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the JSON result")
    args = parser.parse_args(argv)
    truth = pl.read_parquet(args.accounts_truth)
    last_truth = truth["open_date"].max()
    horizon_end = shift_months(args.date, args.horizon_months)
    if isinstance(last_truth, date):
        horizon_end = min(horizon_end, last_truth)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        stored = con.execute(
            "select * from int_cross_sell_evaluation where business_date = ? order by product_code",
            [args.date],
        ).pl()
        recs = con.execute(
            "select customer_id, product_code, propensity_score, score_kind "
            "from int_cross_sell where business_date = ?",
            [args.date],
        ).pl()
    finally:
        con.close()
    products = stored["product_code"].to_list()
    result = {
        "business_date": str(args.date),
        "forward_window": [str(args.date + timedelta(days=1)), str(horizon_end)],
        "stored": [
            {k: (str(v) if isinstance(v, date) else v) for k, v in r.items()}
            for r in stored.select(
                "product_code",
                "score_kind",
                "test_cutoff_date",
                "train_takers",
                "takers",
                "auc",
                "top_decile_lift",
                "brier_score",
                "brier_base_rate",
                "status",
            ).iter_rows(named=True)
        ],
        "forward": evaluate_forward(recs, truth, args.date, horizon_end, products),
    }
    publish("cross_sell", result, args.out)
    return result


if __name__ == "__main__":
    main()
