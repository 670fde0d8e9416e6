"""Measure the potential flags: do they persist, and are they right?

Given a warehouse where the tiers stage ran for several dates and the customer truth that
``cvp generate`` writes beside its landing zone (``<DIR>.truth.parquet``: ``is_growing``,
``persona``), print per potential reason (``STUDENT``, ``YOUNG_GRADUATE``, ``INFLOW_GROWTH``,
``CLV_GROWTH``):

- ``persistence``: for each pair of consecutive stored dates, the share of customers flagged
  with the reason on the first who still carry it on the second (customers present on both);
- ``precision``: on the last date, the share of flagged customers the truth calls growing
  (``is_growing``: students and young employees whose income starts or rises) — for the
  growth reasons the truth is the only judge; STUDENT and YOUNG_GRADUATE are facts of the
  customer file;
- ``nurture_calls``: POTENTIAL_NURTURE calls on the last date and how many went to customers
  the truth calls growing.

The truth is used only here, to measure; the stage never reads it.

Usage::

    python -m pipeline.evaluate.potential --warehouse var/demo/cvp.duckdb \\
        --truth var/demo/landing.truth.parquet
"""

from __future__ import annotations

import argparse
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipeline.evaluate import DEFAULT_OUT, publish

REASONS = ("STUDENT", "YOUNG_GRADUATE", "INFLOW_GROWTH", "CLV_GROWTH")


def persistence(flags: pl.DataFrame) -> list[dict[str, Any]]:
    """Share of each reason's customers on one date still flagged on the next stored date.

    Parameters
    ----------
    flags
        ``customer_id``, ``business_date``, ``potential_reasons`` (``;``-joined codes).
    """
    dates = sorted(flags["business_date"].unique().to_list())
    out = []
    for first, second in pairwise(dates):
        a = flags.filter(pl.col("business_date") == first)
        b = flags.filter(pl.col("business_date") == second)
        both = a.join(b, on="customer_id", suffix="_next")
        for reason in REASONS:
            had = both.filter(pl.col("potential_reasons").fill_null("").str.contains(reason))
            kept = had.filter(pl.col("potential_reasons_next").fill_null("").str.contains(reason))
            out.append(
                {
                    "from": str(first),
                    "to": str(second),
                    "reason": reason,
                    "flagged": had.height,
                    "still_flagged": kept.height,
                    "persistence": round(kept.height / had.height, 4) if had.height else None,
                }
            )
    return out


def precision(flags: pl.DataFrame, truth: pl.DataFrame) -> list[dict[str, Any]]:
    """Share of each reason's customers (one date) whom the truth calls growing."""
    joined = flags.join(truth.select("customer_id", "is_growing"), on="customer_id", how="left")
    out = []
    for reason in REASONS:
        had = joined.filter(pl.col("potential_reasons").fill_null("").str.contains(reason))
        right = int(had["is_growing"].fill_null(False).sum())
        out.append(
            {
                "reason": reason,
                "flagged": had.height,
                "growing_in_truth": right,
                "precision": round(right / had.height, 4) if had.height else None,
            }
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB file")
    parser.add_argument("--truth", type=Path, required=True, help="<DIR>.truth.parquet")
    parser.add_argument(
        "--date", type=date.fromisoformat, default=None, help="last date (default: latest)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the JSON result")
    args = parser.parse_args(argv)
    truth = pl.read_parquet(args.truth)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        flags = con.execute(
            "select customer_id, business_date, potential_reasons from int_customer_tiers "
            "where business_date <= coalesce(?, business_date) order by business_date",
            [args.date],
        ).pl()
        last = flags["business_date"].max()
        calls = con.execute(
            "select customer_id from int_call_list where business_date = ? "
            "and reason_code = 'POTENTIAL_NURTURE'",
            [last],
        ).pl()
    finally:
        con.close()
    growing = truth.filter("is_growing")["customer_id"]
    result = {
        "dates": [str(d) for d in sorted(flags["business_date"].unique().to_list())],
        "persistence": persistence(flags),
        "precision": precision(flags.filter(pl.col("business_date") == last), truth),
        "nurture_calls": {
            "date": str(last),
            "calls": calls.height,
            "to_growing_in_truth": int(calls["customer_id"].is_in(growing.implode()).sum()),
        },
    }
    publish("potential", result, args.out)
    return result


if __name__ == "__main__":
    main()
