"""The lifetime-value code checked against the literature, on the CDNOW data in lifetimes.

Source data: ``lifetimes/datasets/CDNOW_sample.txt``, the raw purchases of the 2,357-customer
1/10th sample of the CDNOW cohort used by Fader, Hardie & Lee (2005), "Counting your customers
the easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284.
Columns: master id, sample id, date (YYYYMMDD), CDs bought, dollar value; one line per
purchase, several on a day possible.

Our own path runs end to end: the raw lines go into a table of the event aggregate's shape
(one row per customer and day, amounts summed: the paper counts at most one transaction per
day), ``sql/clv/int_customer_rfm.sql`` builds the RFM summary with calibration to 1997-09-30,
and ``models/clv.py`` fits in weeks (``time_unit_days = 7``).

Published figures:
- BG/NBD (FHL 2005, section 5): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, and for a
  customer with x = 2, t_x = 30.43, T = 38.86 weeks, E[Y(39) | x, t_x, T] = 1.226.
- Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value", note 025):
  p = 6.25, q = 3.74, gamma = 15.44, fitted on the 946 customers with repeat purchases in the
  calibration period, m_x = the mean of their repeat-transaction values. Which aggregation gives
  that m_x: the mean over repeat purchase DAYS of the day's summed dollar value, first day
  excluded. It reproduces lifetimes' ``cdnow_customers_summary_with_transactions.csv`` column
  ``zbar`` to the cent (checked below); the mean over individual purchase lines does not. The
  note gives the parameters to 2 decimals, so they are compared to that precision.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from models.clv import expected_events, fit_purchase_model, fit_spend_model
from pipeline.config.clv import ClvConfig
from pipeline.stages.clv import build_rfm

CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


def _datasets() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")  # locate without importing (import warns)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    rows = []
    for line in (_datasets() / "CDNOW_sample.txt").read_text().splitlines():
        _master, sample_id, day, _cds, dollars = line.split()
        rows.append((sample_id, date(int(day[:4]), int(day[4:6]), int(day[6:])), dollars))
    con = duckdb.connect(":memory:")
    raw = pl.DataFrame(rows, schema=["customer_id", "purchase_date", "dollars"], orient="row")
    con.register("cdnow_raw", raw.to_arrow())
    # The event aggregate's shape; each day's purchases are one event, delivered that day
    # (so every row is its day's first delivery).
    con.execute(
        """
        create table agg_customer_event_day as
        select customer_id, purchase_date as event_date, purchase_date as business_date,
               count(*)::bigint as txn_count, sum(dollars::decimal(18, 2)) as amount_total,
               true as is_first_delivery
        from cdnow_raw group by all
        """
    )
    build_rfm(con, ClvConfig(), HOLDOUT_END, CALIBRATION_END)
    return con


@pytest.fixture(scope="module")
def rfm(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute(
        "select * from int_customer_rfm where calibration_end = ?", [CALIBRATION_END]
    ).pl()


WEEKS = ClvConfig(time_unit_days=7, penalizer=0.0, min_customers=100, min_repeaters=20)


def test_rfm_matches_the_published_summary(rfm: pl.DataFrame) -> None:
    assert rfm.height == 2357
    assert int((rfm["frequency"] > 0).sum()) == 946
    summary = pl.read_csv(_datasets() / "cdnow_customers_summary_with_transactions.csv")
    joined = rfm.with_columns(ID=pl.col("customer_id").cast(pl.Int64)).join(summary, on="ID")
    assert joined.height == 2357
    assert (joined["frequency"] == joined["x"]).all()
    # the published summary rounds weeks to 2 decimals; ours are exact day differences
    assert (joined["recency_days"] / 7 - joined["t_x"]).abs().max() < 0.005 + 1e-9
    assert (joined["t_days"] / 7 - joined["T"]).abs().max() < 0.005 + 1e-9
    zbar = joined.select(
        ((pl.col("repeat_amount_avg").fill_null(0.0) - pl.col("zbar")).abs()).alias("d")
    )["d"]
    assert zbar.max() < 0.005 + 1e-9  # equal to the cent (rounding half-way cases aside)


def test_customer_one_by_hand(rfm: pl.DataFrame) -> None:
    # Sample id 0001 bought on 1997-01-01, 1997-01-18, 1997-08-02 (and 1997-12-12, holdout).
    one = rfm.filter(pl.col("customer_id") == "0001").row(0, named=True)
    assert one["frequency"] == 2
    assert one["recency_days"] == (date(1997, 8, 2) - date(1997, 1, 1)).days == 213
    assert one["t_days"] == (CALIBRATION_END - date(1997, 1, 1)).days == 272
    assert one["repeat_amount_avg"] == pytest.approx((29.73 + 14.96) / 2)
    assert one["holdout_events"] == 1


def test_bgnbd_parameters_match_fader_hardie_lee_2005(rfm: pl.DataFrame) -> None:
    fit = fit_purchase_model(rfm, WEEKS)
    got = {k: round(v, 3) for k, v in fit.params.items()}
    assert got == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert fit.n_customers == 2357 and fit.n_repeaters == 946
    assert fit.n_unique_rows < fit.n_customers  # fitted on unique rows with weights
    assert all(se is not None and 0 < se < 1 for k, se in fit.std_errors.items() if k != "alpha")
    e39 = expected_events(fit, 39.0, np.array([2]), np.array([30.43]), np.array([38.86]))
    assert round(float(e39[0]), 3) == 1.226


def test_gamma_gamma_parameters_match_fader_hardie_2013(rfm: pl.DataFrame) -> None:
    spend = fit_spend_model(rfm.with_columns(monetary_value=pl.col("repeat_amount_avg")), WEEKS)
    assert spend.fitted and spend.n_customers == 946
    assert spend.params["p"] == pytest.approx(6.25, abs=0.005)
    assert spend.params["q"] == pytest.approx(3.74, abs=0.005)
    assert spend.params["v"] == pytest.approx(15.44, abs=0.005)
