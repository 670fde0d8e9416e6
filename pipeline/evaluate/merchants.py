"""Measure the merchants stage against the generator's ground truth.

Given a warehouse where ``cvp merchants`` ran for a date and the truth file that
``cvp generate`` writes beside its landing zone (``<DIR>.truth.parquet``), print:

- precision: the share of detected customers who are merchants in truth (``strict``: whose
  true yearly turnover also reaches the floor);
- recall: the share of true high-value merchants (merchant, true turnover ≥ floor) detected,
  and of all true merchants;
- decoys flagged (flat sale, inheritance, high salary, own transfers), by kind;
- the turnover estimate's median absolute percentage error over detected true merchants;
- undeclared merchants detected: count and total estimated turnover (the value missed);
- market clusters: adjusted Rand index of detected merchants' clusters against the truth.

The truth is used only here, to measure; the stage never reads it.

Held-out seeds: the scorecard's thresholds were set on the demo zone (seed 42, 3,000
customers); precision and recall that count are those on zones it was not tuned on,
``HELD_OUT_SEEDS`` (``--seed`` marks the result ``held_out``; generate one with
``python -m pipeline.demo --dir var/s7 --seed 7``).

Usage::

    python -m pipeline.evaluate.merchants --warehouse var/x.duckdb \\
        --truth var/landing.truth.parquet --date 2026-11-27
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.evaluate import DEFAULT_OUT, publish

TUNED_ON_SEEDS = (42,)
"""Generator seeds the merchant scorecard was tuned on (the demo zone)."""
HELD_OUT_SEEDS = (7, 11, 2027)
"""Seeds it was not tuned on: report precision and recall on these."""

TRUTH_COLUMNS = (
    "customer_id",
    "persona",
    "is_merchant",
    "merchant_turnover_amount",
    "is_declared",
    "is_decoy",
)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def evaluate_merchants(
    detected: pl.DataFrame, truth: pl.DataFrame, floor_amount: float
) -> dict[str, Any]:
    """Compare detected merchants with the truth.

    Parameters
    ----------
    detected
        ``int_merchants`` for one date: ``customer_id``, ``turnover_amount``, ``is_declared``,
        ``market_cluster_id``.
    truth
        The generator's truth: one row per customer (see :data:`TRUTH_COLUMNS`, plus
        ``market_cluster_id`` when present).
    floor_amount
        The turnover floor of the detection rule (CNY a year).

    Returns
    -------
    dict
        The figures listed in the module docstring.
    """
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise ValueError(f"truth file: required column {', '.join(missing)} missing")
    t = truth.with_columns(
        is_high_value=pl.col("is_merchant")
        & (pl.col("merchant_turnover_amount").fill_null(0) >= floor_amount)
    )
    d = detected.select(
        "customer_id",
        pl.col("turnover_amount").cast(pl.Float64).alias("estimated_turnover_amount"),
        pl.col("is_declared").alias("detected_declared"),
        pl.col("market_cluster_id").alias("detected_cluster_id"),
    ).join(t, on="customer_id", how="left")
    n_detected = d.height
    true_pos = int(d["is_merchant"].fill_null(False).sum())
    strict_pos = int(d["is_high_value"].fill_null(False).sum())
    n_high = int(t["is_high_value"].sum())
    n_merchants = int(t["is_merchant"].sum())
    decoys = d.filter(pl.col("is_decoy").fill_null(False))
    by_kind = dict(decoys.group_by("persona").len().sort("persona").iter_rows())
    truth_decoys = dict(t.filter("is_decoy").group_by("persona").len().sort("persona").iter_rows())
    hits = d.filter(pl.col("is_merchant").fill_null(False))
    ape = (hits["estimated_turnover_amount"] - hits["merchant_turnover_amount"]).abs() / hits[
        "merchant_turnover_amount"
    ]
    undeclared = d.filter(~pl.col("detected_declared"))
    missed = t.filter(pl.col("is_high_value")).join(d, on="customer_id", how="anti")
    result: dict[str, Any] = {
        "detected": n_detected,
        "true_merchants": n_merchants,
        "true_high_value_merchants": n_high,
        "precision": round(true_pos / n_detected, 4) if n_detected else None,
        "precision_strict": round(strict_pos / n_detected, 4) if n_detected else None,
        "recall": round(int(d["is_high_value"].fill_null(False).sum()) / n_high, 4)
        if n_high
        else None,
        "recall_all_merchants": round(true_pos / n_merchants, 4) if n_merchants else None,
        "decoys_flagged": int(decoys.height),
        "decoys_flagged_by_kind": by_kind,
        "decoys_in_truth": truth_decoys,
        "turnover_mdape": round(_num(ape.median()), 4) if hits.height else None,
        "turnover_within_20pct": round(_num((ape <= 0.2).mean()), 4) if hits.height else None,
        "undeclared_detected": int(undeclared.height),
        "undeclared_turnover_amount": round(_num(undeclared["estimated_turnover_amount"].sum()), 2),
        "undeclared_true_merchants_detected": int(undeclared["is_merchant"].fill_null(False).sum()),
        "missed_high_value": int(missed.height),
        "missed_true_turnover_median": round(_num(missed["merchant_turnover_amount"].median()), 2)
        if missed.height
        else None,
    }
    if "market_cluster_id" in t.columns and hits.height > 1:
        from sklearn.metrics import adjusted_rand_score

        labels = hits.select(
            pl.col("market_cluster_id").cast(pl.String).fill_null("solo-" + pl.col("customer_id")),
            pl.col("detected_cluster_id").fill_null("solo-" + pl.col("customer_id")),
        )
        result["cluster_adjusted_rand"] = round(
            float(adjusted_rand_score(labels[:, 0].to_list(), labels[:, 1].to_list())), 4
        )
    return result


def load_detected(con: duckdb.DuckDBPyConnection, business_date: date) -> pl.DataFrame:
    """``int_merchants`` rows of one business date."""
    return con.execute(
        "select customer_id, turnover_amount, is_declared, market_cluster_id "
        "from int_merchants where business_date = ?",
        [business_date],
    ).pl()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB file")
    parser.add_argument("--truth", type=Path, required=True, help="<DIR>.truth.parquet")
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="business date")
    parser.add_argument(
        "--floor", type=float, default=None, help="turnover floor (default: from the config)"
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML configuration")
    parser.add_argument(
        "--seed", type=int, default=None, help="generator seed of the zone (held out or not)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the JSON result")
    args = parser.parse_args(argv)
    floor = args.floor
    if floor is None:
        from pipeline.config import load_config

        floor = load_config(args.config, environ={}).merchants.turnover_floor_amount
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        detected = load_detected(con, args.date)
    finally:
        con.close()
    result = evaluate_merchants(detected, pl.read_parquet(args.truth), floor)
    if args.seed is not None:
        result["seed"] = args.seed
        result["held_out"] = args.seed not in TUNED_ON_SEEDS
    publish("merchants", result, args.out)
    return result


if __name__ == "__main__":
    main()
