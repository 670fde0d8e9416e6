"""The clv stage's nightly validation in SQL (issue 18): the holdout's metrics
(sql/clv/clv_holdout_metrics.sql, clv_holdout_bucket_metrics.sql) and the money backtest's
(sql/clv/clv_money_backtest_metrics.sql) over a scratch table of per-customer predictions, worked
by hand on tiny frames, and equal to the numpy references (models.clv.validate_holdout,
models.clv.money_backtest) on a simulated population: integers exactly, DOUBLEs to 1e-9.
The same files on Spark: tests/test_spark_stages_spclv.py."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from models.clv import (
    fit_purchase_model,
    holdout_predictions,
    money_backtest,
    purchase_fit_key,
    stored_purchase_fit,
    validate_holdout,
)
from pipeline.config.clv import ClvConfig
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.stages.clv import (
    EXPECTED,
    HOLDOUT_SCORES,
    calibration_triples,
    holdout_metrics,
    validate_on_holdout,
)
from tests.test_clv_models import DAYS, population

FIT = stored_purchase_fit(
    {
        "model": "bgnbd",
        "penalizer": 0.0,
        "log_likelihood": -1.0,
        "n_customers": 5,
        "n_unique_rows": 5,
        "n_repeaters": 3,
        "time_unit_days": 1,
        **{"r": 0.5, "alpha": 10.0, "a": 0.5, "b": 2.0},
        **{f"{k}_se": None for k in ("r", "alpha", "a", "b")},
    }
)
"""A fit to carry through :func:`holdout_metrics` (which reads predictions, not the fit)."""


def _scores(rows: list[tuple[str, int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "frequency": pl.Int32,
            "holdout_events": pl.Int32,
            "predicted_events": pl.Float64,
        },
        orient="row",
    )


def test_holdout_metrics_by_hand() -> None:
    engine = DuckDBEngine(duckdb.connect())
    # customer, calibration frequency, actual holdout events, predicted
    engine.temp_frame(
        HOLDOUT_SCORES,
        _scores(
            [
                ("a", 5, 2, 3.0),
                ("b", 0, 1, 1.0),
                ("c", 1, 0, 2.0),
                ("d", 2, 1, 1.0),
                ("e", 0, 0, 0.5),
            ]
        ),
    )
    result = holdout_metrics(engine, ClvConfig(holdout_bucket_cap=2), 30, FIT)
    assert (result.n_customers, result.actual_events) == (5, 4)
    assert result.predicted_events == 7.5
    # errors 1, 0, 2, 0, 0.5: squares 5.25 over 5 customers
    assert result.rmse == pytest.approx(math.sqrt(1.05), abs=1e-12)
    # average ranks: predicted e 1, b d 2.5, c 4, a 5; actual c e 1.5, b d 3.5, a 5;
    # centred on 3: cross products sum to 5, squares to 9.5 and 9
    assert result.spearman == pytest.approx(5 / math.sqrt(9.5 * 9), abs=1e-12)
    # top decile of 5 customers: one, a (2 of the 4 events)
    assert result.top_decile_share == 0.5
    assert result.buckets.to_dicts() == [
        {
            "bucket_order": 0,
            "n_customers": 2,
            "predicted_events": 1.5,
            "actual_events": 1.0,
            "frequency_bucket": "0",
            "mean_predicted": 0.75,
            "mean_actual": 0.5,
            "mean_error": 0.25,
        },
        {
            "bucket_order": 1,
            "n_customers": 1,
            "predicted_events": 2.0,
            "actual_events": 0.0,
            "frequency_bucket": "1",
            "mean_predicted": 2.0,
            "mean_actual": 0.0,
            "mean_error": 2.0,
        },
        {
            "bucket_order": 2,
            "n_customers": 2,
            "predicted_events": 4.0,
            "actual_events": 3.0,
            "frequency_bucket": "2+",
            "mean_predicted": 2.0,
            "mean_actual": 1.5,
            "mean_error": 0.5,
        },
    ]
    assert not engine.table_exists("clv_holdout_metrics")


def test_the_top_decile_breaks_ties_by_customer_id_and_constant_ranks_have_no_spearman() -> None:
    engine = DuckDBEngine(duckdb.connect())
    # 20 customers, top decile 2; four tie at the top prediction: x00 and x01 (by id, not by
    # the order of the rows) are in it, with 3 and 1 of the 8 events
    rows = [(f"x{i:02d}", 1, 0, 1.0) for i in range(4, 20)]
    rows += [("x03", 1, 2, 5.0), ("x02", 1, 2, 5.0), ("x01", 1, 1, 5.0), ("x00", 1, 3, 5.0)]
    engine.temp_frame(HOLDOUT_SCORES, _scores(rows))
    result = holdout_metrics(engine, ClvConfig(), 30, FIT)
    assert result.top_decile_share == 4 / 8
    # fewer than 10 customers: still one in the top decile; no event at all: no share
    engine.drop(HOLDOUT_SCORES)
    engine.temp_frame(HOLDOUT_SCORES, _scores([("b", 0, 0, 2.0), ("a", 0, 0, 2.0)]))
    result = holdout_metrics(engine, ClvConfig(), 30, FIT)
    assert result.top_decile_share is None
    assert result.spearman is None  # both sides constant
    assert result.rmse == 2.0


def test_a_prediction_that_is_not_finite_refuses_the_validation() -> None:
    from models.clv import ClvFitError

    engine = DuckDBEngine(duckdb.connect())
    engine.temp_frame(
        HOLDOUT_SCORES,
        _scores([("a", 0, 0, 1.0)]).with_columns(predicted_events=pl.lit(None, pl.Float64)),
    )
    with pytest.raises(ClvFitError, match="NaN or infinite"):
        holdout_metrics(engine, ClvConfig(), 30, FIT)


def test_predictions_mark_what_is_not_finite_as_null(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import models.clv

    rows = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "frequency": [1, 0],
            "recency_days": [10, 0],
            "t_days": [20, 5],
            "holdout_events": [1, 0],
        }
    )
    monkeypatch.setattr(models.clv, "expected_events", lambda *args: np.array([np.inf, np.nan]))
    out = holdout_predictions(rows, FIT, DAYS, 30)
    assert out.columns == [
        "customer_id",
        "frequency",
        "holdout_events",
        "predicted_events",
        "survival_months",
        "survival_trend_months",
    ]
    assert out["predicted_events"].null_count() == 2
    assert out["survival_months"].null_count() == 2  # no money months asked for
    empty = holdout_predictions(rows.clear(), FIT, DAYS, 30, money_months=3)
    assert empty.height == 0 and empty.columns == out.columns


def _rfm_table(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, cutoff: date) -> None:
    con.register("rfm_rows", frame.to_arrow())
    con.execute(
        "create table int_customer_rfm as select customer_id, cast($cutoff as date) as "
        "calibration_end, frequency::integer as frequency, recency_days::integer as "
        "recency_days, t_days::integer as t_days, holdout_events::integer as holdout_events, "
        "cast($cutoff as date) - t_days::integer as first_event_date from rfm_rows",
        {"cutoff": cutoff},
    )
    con.unregister("rfm_rows")


def test_the_sql_validation_is_the_numpy_reference() -> None:
    """validate_holdout (numpy, the whole frame on one process) and the night's path (the
    triples' fit, predictions per customer by map_frame, metrics in SQL) agree."""
    cutoff = date(2026, 4, 30)
    frame = population(600, seed=3).with_columns(
        holdout_events=(pl.col("frequency") * 7 + pl.col("t_days")) % 4
    )
    cfg = DAYS.model_copy(update={"holdout_bucket_cap": 3})
    con = duckdb.connect()
    _rfm_table(con, frame.sort("customer_id"), cutoff)
    engine = DuckDBEngine(con)
    triples = calibration_triples(engine, cutoff)
    # the reuse key of the triples is the key of the customers' rows
    assert purchase_fit_key(triples, cfg) == purchase_fit_key(frame, cfg)
    # ... and changes with the count of customers, with one customer's recency or T, with
    # the settings
    key = purchase_fit_key(triples, cfg)
    assert key != purchase_fit_key(frame.head(599), cfg)
    for column in ("recency_days", "t_days", "frequency"):
        moved = frame.with_columns(
            pl.when(pl.col("customer_id") == "C00007")
            .then(pl.col(column) + 1)
            .otherwise(pl.col(column))
            .alias(column)
        )
        assert purchase_fit_key(moved, cfg) != key, column
    assert purchase_fit_key(triples, cfg.model_copy(update={"penalizer": 0.01})) != key
    fit = fit_purchase_model(triples, cfg)
    reference = validate_holdout(frame.sort("customer_id"), 61, cfg, fit)
    got = validate_on_holdout(engine, cfg, cutoff, 61, fit)
    engine.drop(HOLDOUT_SCORES)
    ref, new = reference.metrics(), got.metrics()
    for name in ("holdout_days", "n_customers", "actual_events"):
        assert new[name] == ref[name], name
    for name in ("predicted_events", "rmse", "spearman", "top_decile_share"):
        assert new[name] == pytest.approx(ref[name], rel=1e-9, abs=1e-12), name
    assert got.buckets.columns == reference.buckets.columns
    for want, have in zip(reference.buckets.to_dicts(), got.buckets.to_dicts(), strict=True):
        assert have == {
            k: (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v) for k, v in want.items()
        }


MONEY_MONTHS = [date(2026, m, 1) for m in range(1, 6)]


def _money_zone() -> DuckDBEngine:
    """Four calibration customers a-d (calibration month March 2026, two months after it) with
    survival weights, expected contributions and monthly contribution; e earns but is no
    calibration customer."""
    con = duckdb.connect()
    engine = DuckDBEngine(con)
    engine.temp_frame(
        HOLDOUT_SCORES,
        pl.DataFrame(
            {
                "customer_id": ["a", "b", "c", "d"],
                "frequency": [1, 1, 0, 2],
                "holdout_events": [0, 0, 0, 0],
                "predicted_events": [0.1, 0.1, 0.1, 0.1],
                "survival_months": [1.5, 1.0, 0.5, 2.0],
                "survival_trend_months": [2.0, 1.0, 1.0, 0.5],
            }
        ),
    )
    # c has no expected contribution (0); a's as of another month is not the calibration's
    engine.temp_frame(
        EXPECTED,
        pl.DataFrame(
            {
                "as_of_month": [MONEY_MONTHS[2]] * 3 + [MONEY_MONTHS[1]],
                "customer_id": ["a", "b", "d", "a"],
                "run_rate": [Decimal("10.00"), Decimal("20.00"), Decimal("5.00"), Decimal("999")],
                "monthly_trend": [1.0, 0.0, -2.0, 50.0],
            },
            schema_overrides={"run_rate": pl.Decimal(18, 2)},
        ),
    )
    con.execute(
        "create table agg_customer_contribution_month (customer_id varchar, month_start date, "
        "contribution_amount decimal(18, 6))"
    )
    rows = [
        ("a", 0, "3"), ("a", 1, "3"), ("a", 2, "3"), ("a", 3, "10"), ("a", 4, "10.00"),
        ("b", 1, "6"), ("b", 3, "7.50"),
        ("c", 2, "30"),
        ("e", 3, "100"),
    ]  # fmt: skip
    con.executemany(
        "insert into agg_customer_contribution_month values (?, ?, ?)",
        [(c, MONEY_MONTHS[m], Decimal(a)) for c, m, a in rows],
    )
    return engine


def _money_metrics(engine: DuckDBEngine, with_trend: bool = True) -> dict[str, dict[str, object]]:
    engine.temp_file(
        "clv/clv_money_backtest_metrics",
        {
            "cal_month": MONEY_MONTHS[2],
            "first_month": MONEY_MONTHS[0],
            "last_month": MONEY_MONTHS[4],
            "trailing_months": 3,
            "months": 2,
            "trend_steps": 1.5,
            "with_trend": with_trend,
        },
    )
    out = engine.read("select * from clv_money_backtest_metrics order by predictor_order")
    engine.drop("clv_money_backtest_metrics")
    return {r.pop("predictor"): r for r in out.drop("predictor_order").iter_rows(named=True)}


def test_money_backtest_metrics_by_hand() -> None:
    got = _money_metrics(_money_zone())
    assert list(got) == ["clv", "run_rate", "run_rate_trend", "baseline"]
    # realised after March: a 20, b 7.5, c 0, d 0 (no row); e is not a calibration customer
    # clv = S x run rate + S_trend x trend: a 17, b 20, c 0, d 9
    clv = got["clv"]
    assert clv["customers"] == 4
    assert clv["predicted_total_amount"] == 46.0
    assert clv["realized_total_amount"] == 27.5
    assert clv["mae_amount"] == (3 + 12.5 + 0 + 9) / 4
    # ranks predicted c 1, d 2, a 3, b 4; realised c d 1.5, b 3, a 4: centred on 2.5, cross
    # products 3.5, squares 5 and 4.5
    assert clv["spearman"] == pytest.approx(3.5 / math.sqrt(22.5), abs=1e-12)
    # top decile of 4: one customer, b (7.5 of 27.5)
    assert clv["top_decile_capture"] == pytest.approx(7.5 / 27.5, abs=1e-15)
    # run rate x 2: a 20, b 40, c 0, d 10; with the trend x 1.5: a 21.5, b 40, c 0, d 7
    assert got["run_rate"]["predicted_total_amount"] == 70.0
    assert got["run_rate_trend"]["predicted_total_amount"] == 68.5
    # baseline: the trailing three months' mean x 2: a 6, b 4, c 20, d 0
    base = got["baseline"]
    assert base["predicted_total_amount"] == 30.0
    assert base["mae_amount"] == (14 + 3.5 + 20 + 0) / 4
    assert base["top_decile_capture"] == 0.0  # c, who earned nothing after
    assert base["spearman"] == pytest.approx(0.5 / math.sqrt(22.5), abs=1e-12)
    # and the numpy reference on the same predictions agrees
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "clv": [17.0, 20.0, 0.0, 9.0],
            "run_rate": [20.0, 40.0, 0.0, 10.0],
            "run_rate_trend": [21.5, 40.0, 0.0, 7.0],
            "baseline": [6.0, 4.0, 20.0, 0.0],
            "realized_amount": [20.0, 7.5, 0.0, 0.0],
        }
    )
    for row in money_backtest(frame).iter_rows(named=True):
        have = got[row.pop("predictor")]
        assert have == {k: pytest.approx(v, rel=1e-12, abs=1e-15) for k, v in row.items()}


def test_money_backtest_without_the_trend_has_no_trend_predictor() -> None:
    got = _money_metrics(_money_zone(), with_trend=False)
    assert list(got) == ["clv", "run_rate", "baseline"]
