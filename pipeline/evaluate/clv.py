"""Measure lifetime value against the generator's ground truth and the naive baseline.

Given a warehouse where the clv stage ran for a date and the customer truth that ``cvp
generate`` writes beside its landing zone (``<DIR>.truth.parquet``: ``lifecycle``,
``lifecycle_date``, ``attrition_start_date``), print:

- ``money_backtest``: the nightly backtest the stage stored for the date (CLV, run rate alone
  and the trailing-year baseline against the contribution customers produced since the
  calibration end: Spearman, MAE, top-decile capture) — measured on the warehouse's history;
- ``attrition``: who really leaves, from the truth. Among the customers scored on the date and
  still customers then, those who close everything within ``--horizon-months`` after it
  (``lifecycle`` churned, ``lifecycle_date`` in the window): AUC of 1 - P(alive) and of
  1 - S(horizon) implied by CLV (no: P(alive) is what is stored) against AUC of the naive
  "days since the last event"; and how many of them were already draining on the date
  (``attrition_start_date`` on or before it).

The truth is used only here, to measure; the stage never reads it.

Usage::

    python -m pipeline.evaluate.clv --warehouse var/demo/cvp.duckdb \\
        --truth var/demo/landing.truth.parquet --date 2026-09-30
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipeline.dates import shift_months
from pipeline.evaluate import DEFAULT_OUT, publish


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if 0 < y.sum() < len(y):
        return round(float(roc_auc_score(y, score)), 4)
    return None


def evaluate_attrition(
    scores: pl.DataFrame, truth: pl.DataFrame, business_date: date, horizon_end: date
) -> dict[str, Any]:
    """How well P(alive) ranks the customers who leave in (business_date, horizon_end].

    Parameters
    ----------
    scores
        ``int_customer_clv`` of the date: ``customer_id``, ``p_alive``, ``last_event_date``.
    truth
        The customer truth: ``customer_id``, ``lifecycle``, ``lifecycle_date``,
        ``attrition_start_date``.
    """
    rows = scores.join(
        truth.select("customer_id", "lifecycle", "lifecycle_date", "attrition_start_date"),
        on="customer_id",
        how="left",
    ).filter(
        ~(
            (pl.col("lifecycle") == "churned") & (pl.col("lifecycle_date") <= business_date)
        ).fill_null(False)
    )
    leaves = (
        (pl.col("lifecycle") == "churned")
        & (pl.col("lifecycle_date") > business_date)
        & (pl.col("lifecycle_date") <= horizon_end)
    ).fill_null(False)
    rows = rows.with_columns(leaves=leaves)
    y = rows["leaves"].to_numpy().astype(int)
    recency = (
        rows.select((pl.lit(business_date) - pl.col("last_event_date")).dt.total_days())
        .to_series()
        .fill_null(10**6)
        .to_numpy()
    )
    draining = rows.filter(
        pl.col("leaves") & (pl.col("attrition_start_date") <= business_date).fill_null(False)
    )
    return {
        "customers": rows.height,
        "leavers": int(y.sum()),
        "leavers_draining_on_the_date": draining.height,
        "auc_one_minus_p_alive": _auc(y, 1 - rows["p_alive"].fill_null(1.0).to_numpy()),
        "auc_days_since_last_event": _auc(y, recency.astype(float)),
        "mean_p_alive_leavers": rows.filter("leaves")["p_alive"].mean(),
        "mean_p_alive_others": rows.filter(~pl.col("leaves"))["p_alive"].mean(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB file")
    parser.add_argument("--truth", type=Path, required=True, help="<DIR>.truth.parquet")
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="business date")
    parser.add_argument("--horizon-months", type=int, default=3, help="attrition window")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the JSON result")
    args = parser.parse_args(argv)
    truth = pl.read_parquet(args.truth)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        money = con.execute(
            "select predictor, calibration_end, holdout_end, customers, spearman, mae_amount, "
            "top_decile_capture, predicted_total_amount, realized_total_amount, "
            "clv_beats_baseline from clv_money_backtest where business_date = ? "
            "order by predictor",
            [args.date],
        ).pl()
        fit = con.execute(
            "select value_method, value_method_reason, gg_frequency_value_spearman, mode_jump, "
            "param_jump_detail from clv_fit_runs where business_date = ? and fit_role = 'full'",
            [args.date],
        ).pl()
        scores = con.execute(
            "select customer_id, p_alive, last_event_date from int_customer_clv "
            "where business_date = ?",
            [args.date],
        ).pl()
    finally:
        con.close()
    last_date = truth["lifecycle_date"].max()
    horizon_end = shift_months(args.date, args.horizon_months)
    result = {
        "business_date": str(args.date),
        "fit": fit.to_dicts(),
        "money_backtest": money.to_dicts(),
        "attrition_window_end": str(horizon_end),
        "attrition": evaluate_attrition(scores, truth, args.date, horizon_end),
        "truth_last_lifecycle_date": str(last_date),
    }
    publish("clv", result, args.out)
    return result


if __name__ == "__main__":
    main()
