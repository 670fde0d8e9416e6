"""Benchmark: lifetime value at scale (default 1 million customers, a year of history).

Builds the warehouse with :func:`bench.warehouse_1m.build_bench_warehouse` unless the file
exists, then times, for the last date:

1. the event aggregate: the one-time backfill of a year of deliveries, and one nightly
   increment (the last delivery again);
2. the RFM summary (``sql/clv/int_customer_rfm.sql`` on the aggregate, into polars);
3. the fits on unique (frequency, recency, T) rows with weights (BG/NBD, Gamma-Gamma);
4. scoring every customer (unique rows, joined back).

Goal: RFM + fit + scoring under 30 seconds. The bench warehouse has no contribution stage
output, so monetary value is a stand-in: 1% of the mean repeat amount per event day.

Beside it, the route a user would take by hand with lifetimes on the same events:
``summary_data_from_transaction_data`` on the transactions, ``BetaGeoFitter.fit``,
``GammaGammaFitter.fit`` and ``customer_lifetime_value`` (12 months, freq 'D'). It runs on a
random subsample of customers (``--by-hand-customers``, default 100,000) and is scaled
linearly to the full population (every step is linear in customers), as stated in the output.

Usage::

    python -m bench.bench_clv var/bench/clv_1m.duckdb --customers 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

GOAL_SECONDS = 30.0


def bench_clv(
    path: Path,
    customers: int = 1_000_000,
    days: int = 365,
    end: date = date(2026, 11, 27),
    by_hand_customers: int = 100_000,
) -> dict[str, Any]:
    """Time the clv steps for ``end`` on the warehouse at ``path`` (built if missing)."""
    import duckdb
    import polars as pl

    from bench.warehouse_1m import build_bench_warehouse
    from models.clv import fit_purchase_model, fit_spend_model, score_customers
    from pipeline.config.clv import ClvConfig
    from pipeline.stages.clv import read_rfm, update_event_aggregate

    out: dict[str, Any] = {}
    if not path.exists():
        built = build_bench_warehouse(path, customers=customers, days=days, end=end)
        out["build_seconds"] = built["seconds"]
    cfg = ClvConfig()
    con = duckdb.connect(str(path))
    con.execute("drop table if exists agg_customer_event_day")
    con.execute("drop table if exists agg_customer_event_day_dates")

    t = time.perf_counter()
    out["deliveries_backfilled"] = update_event_aggregate(con, cfg, end)
    out["aggregate_backfill_seconds"] = time.perf_counter() - t
    con.execute("delete from agg_customer_event_day_dates where business_date = ?", [end])
    t = time.perf_counter()
    update_event_aggregate(con, cfg, end)
    out["aggregate_nightly_seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    rfm = read_rfm(con, cfg, end, end).with_columns(
        monetary_value=(pl.col("repeat_amount_avg") * 0.01).fill_null(0.0)
    )
    out["rfm_seconds"] = time.perf_counter() - t
    out["customers"] = rfm.height

    t = time.perf_counter()
    purchase = fit_purchase_model(rfm, cfg)
    out["purchase_fit_seconds"] = time.perf_counter() - t
    out["unique_rows"] = purchase.n_unique_rows
    t = time.perf_counter()
    spend = fit_spend_model(rfm, cfg)
    out["spend_fit_seconds"] = time.perf_counter() - t
    out["fit_seconds"] = out["purchase_fit_seconds"] + out["spend_fit_seconds"]
    out["params"] = {**purchase.params, **spend.params}

    t = time.perf_counter()
    scored = score_customers(rfm, purchase, spend, cfg)
    out["score_seconds"] = time.perf_counter() - t
    out["total_seconds"] = out["rfm_seconds"] + out["fit_seconds"] + out["score_seconds"]
    out["clv_sum"] = float(scored["clv_amount"].sum())

    out.update(_by_hand(con, cfg, end, rfm.height, by_hand_customers, purchase.penalizer))
    out["penalizer"] = purchase.penalizer
    con.close()
    return out


def _by_hand(
    con: Any, cfg: Any, end: date, population: int, sample: int, penalizer: float
) -> dict[str, Any]:
    """The lifetimes-only route on a random subsample of customers, scaled to the population.

    Starts from the penalizer the pipeline's fit converged with and raises it as a user would
    after a ConvergenceError (the bench data has no churn); failed attempts count in the time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data

    share = min(1.0, sample / population)
    t = time.perf_counter()
    txns = con.execute(
        f"""
        with chosen as (
            select customer_id from (select distinct customer_id from agg_customer_event_day)
            using sample reservoir({int(sample)} rows) repeatable (1)
        )
        select t.customer_id, t.txn_date, t.amount::double * 0.01 as margin
        from stg_transactions t semi join chosen c on t.customer_id = c.customer_id
        where list_contains($codes, t.txn_code) and list_contains($channels, t.channel)
            and t.direction <> 'N' and t.txn_date <= $end
        """,
        {
            "codes": list(cfg.events.txn_codes),
            "channels": list(cfg.events.channels),
            "end": end,
        },
    ).df()
    extract = time.perf_counter() - t
    t = time.perf_counter()
    summary = summary_data_from_transaction_data(
        txns, "customer_id", "txn_date", monetary_value_col="margin",
        observation_period_end=str(end), freq="D",
    )  # fmt: skip
    t_summary = time.perf_counter() - t
    t = time.perf_counter()
    from lifetimes.utils import ConvergenceError

    for pen in sorted({penalizer, 1e-3, 1e-2, 1e-1}):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                bgf = BetaGeoFitter(penalizer_coef=pen).fit(
                    summary["frequency"], summary["recency"], summary["T"]
                )
            break
        except ConvergenceError:
            continue
    penalizer = pen
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    ggf = GammaGammaFitter(penalizer_coef=penalizer).fit(
        repeat["frequency"], repeat["monetary_value"]
    )
    ggf.customer_lifetime_value(
        bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=cfg.horizon_months, discount_rate=cfg.monthly_discount_rate, freq="D",
    )  # fmt: skip
    t_clv = time.perf_counter() - t
    sampled = t_summary + t_fit + t_clv
    return {
        "by_hand_customers": len(summary),
        "by_hand_extract_seconds": extract,
        "by_hand_summary_seconds": t_summary,
        "by_hand_fit_seconds": t_fit,
        "by_hand_clv_seconds": t_clv,
        "by_hand_sample_seconds": sampled,
        "by_hand_scaled_seconds": sampled / share,
        "by_hand_scale_factor": 1 / share,
        "by_hand_params": {k: float(v) for k, v in bgf.params_.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Time RFM, fit and scoring of clv at scale.")
    parser.add_argument("path", type=Path, nargs="?", default=Path("var/bench/clv_1m.duckdb"))
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--by-hand-customers", type=int, default=100_000)
    args = parser.parse_args()
    r = bench_clv(args.path, args.customers, args.days, args.end, args.by_hand_customers)
    if "build_seconds" in r:
        print(f"warehouse built in {r['build_seconds']:.1f} s")
    print(
        f"event aggregate: backfill of {r['deliveries_backfilled']} deliveries "
        f"{r['aggregate_backfill_seconds']:.1f} s (once); nightly increment "
        f"{r['aggregate_nightly_seconds']:.2f} s"
    )
    print(f"customers {r['customers']:,}, unique (frequency, recency, T) rows {r['unique_rows']:,}")
    print(f"RFM build     {r['rfm_seconds']:7.2f} s")
    print(
        f"fit           {r['fit_seconds']:7.2f} s  (BG/NBD {r['purchase_fit_seconds']:.2f}, "
        f"Gamma-Gamma {r['spend_fit_seconds']:.2f})"
    )
    print(f"scoring       {r['score_seconds']:7.2f} s")
    status = "met" if r["total_seconds"] < GOAL_SECONDS else "MISSED"
    print(f"total         {r['total_seconds']:7.2f} s  (goal {GOAL_SECONDS:.0f} s: {status})")
    print(f"penalizer used {r['penalizer']:g}")
    print("params " + ", ".join(f"{k}={v:.4g}" for k, v in r["params"].items()))
    print(
        f"by hand (lifetimes) on {r['by_hand_customers']:,} sampled customers: summary "
        f"{r['by_hand_summary_seconds']:.1f} s + fit {r['by_hand_fit_seconds']:.1f} s + CLV "
        f"{r['by_hand_clv_seconds']:.1f} s = {r['by_hand_sample_seconds']:.1f} s "
        f"(plus {r['by_hand_extract_seconds']:.1f} s to extract the transactions)"
    )
    print(
        f"by hand scaled x{r['by_hand_scale_factor']:.1f} to {r['customers']:,} customers: "
        f"{r['by_hand_scaled_seconds']:.0f} s; ratio by hand / pipeline = "
        f"{r['by_hand_scaled_seconds'] / r['total_seconds']:.1f}x"
    )


if __name__ == "__main__":
    main()
