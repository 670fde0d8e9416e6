"""The clv stage on a real DuckDB warehouse with hand-made base tables.

Events are simulated from a BG/NBD process (fixed seed) and written to ``stg_transactions``
with a ``file_ledger`` row per delivery, as ingest would; ``int_customer_contribution`` is a
hand-made table of the contribution stage's shape. Expected counts come from the simulation's
own event list, never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline.config import Config, load_config
from pipeline.config.clv import ClvConfig
from pipeline.dates import shift_months
from pipeline.errors import DataContractError
from pipeline.runner import run_stages
from pipeline.warehouse import connect

START = date(2026, 1, 1)
DAY = date(2026, 7, 31)
LOG = logging.getLogger("test_clv")


def simulate(n: int, seed: int = 7) -> dict[str, list[date]]:
    """Event days per customer from a BG/NBD process: rate ~ Gamma(0.9, 1/12) per day,
    dropout p ~ Beta(1, 6) after each event; first event in the first 120 days."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[date]] = {}
    horizon = (DAY - START).days
    for i in range(n):
        lam = rng.gamma(0.9, 1 / 12)
        p = rng.beta(1.0, 6.0)
        t = int(rng.integers(0, 120))
        days = [t]
        while True:
            if rng.random() < p:
                break
            t += max(1, int(np.ceil(rng.exponential(1 / lam))))
            if t > horizon:
                break
            days.append(t)
        out[f"C{i:05d}"] = [START + timedelta(days=d) for d in days]
    return out


def _txn_rows(events: dict[str, list[date]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    codes = ["POS", "TRO", "PAY", "WDL"]
    for cid, days in events.items():
        for k, d in enumerate(days):
            rows.append(_txn(cid, d, codes[k % 4], "D", "100.00", len(rows)))
            if k % 3 == 0:  # a second transaction on the same day: still one event
                rows.append(_txn(cid, d, "DEP", "C", "50.00", len(rows)))
            rows.append(_txn(cid, d, "FEE", "D", "1.00", len(rows)))  # not an event
    return rows


def _txn(cid: str, d: date, code: str, direction: str, amount: str, n: int) -> dict[str, object]:
    return {
        "txn_id": f"T{n:08d}",
        "txn_date": d,
        "txn_time": time(10, 0),
        "customer_id": cid,
        "account_id": f"A{cid}",
        "channel": "NET",
        "txn_code": code,
        "direction": direction,
        "amount": amount,
        "currency": "CNY",
        "business_date": d,
        "line_number": n,
    }


def insert_txns(con: duckdb.DuckDBPyConnection, rows: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(rows, infer_schema_length=None)
    con.register("new_txns", frame.to_arrow())
    con.execute(
        "insert into stg_transactions by name select * replace "
        "(amount::decimal(18, 2) as amount) from new_txns"
    )
    con.unregister("new_txns")


def deliver(con: duckdb.DuckDBPyConnection, first: date, last: date, at: datetime) -> None:
    """file_ledger rows for the TXN deliveries of first..last, as ingest writes them."""
    con.execute(
        """
        insert into file_ledger (file_name, feed, channel, business_date, outcome, received_at)
        select 'TXN_NET_' || strftime(d, '%Y%m%d') || '.dat', 'TXN', 'NET', d::date, 'loaded', $at
        from range($first::timestamp, $last::timestamp + interval 1 day, interval 1 day) t(d)
        """,
        {"first": first, "last": last, "at": at},
    )


def contribution(con: duckdb.DuckDBPyConnection, day: date, amounts: dict[str, str]) -> None:
    """Contribution rows as the contribution stage writes them: with history_days 365 the
    yearly figure is the window's amount itself; a 1,000.00 default provision, which the
    lifetime-value models must leave out, is in each."""
    con.execute(
        """
        create table if not exists int_customer_contribution (
            customer_id varchar, business_date date, window_start date, window_end date,
            history_days integer, contribution_amount decimal(18, 2),
            default_provision_amount decimal(18, 2))
        """
    )
    frame = pl.DataFrame(
        {"customer_id": list(amounts), "contribution_amount": list(amounts.values())}
    )
    con.register("contrib", frame.to_arrow())
    con.execute(
        "insert into int_customer_contribution select customer_id, $day, $start, $day, 365, "
        "contribution_amount::decimal(18, 2) - 1000, 1000 from contrib",
        {"day": day, "start": day - timedelta(days=89)},
    )
    con.unregister("contrib")
    con.execute(
        "insert into run_ledger (run_id, stage, business_date, status, started_at) "
        "values ('test', 'contribution', $day, 'succeeded', now())",
        {"day": day},
    )


@pytest.fixture(scope="module")
def events() -> dict[str, list[date]]:
    return simulate(600)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return load_config(
        Path("configs/default.yaml"),
        {
            "warehouse": tmp_path / "w.duckdb",
            "export_dir": tmp_path / "exports",
            "landing_dir": tmp_path / "landing",
        },
    )


def _amounts(events: dict[str, list[date]]) -> dict[str, str]:
    # every 10th customer loses money, every 10th + 1 contributes exactly zero
    return {
        cid: ("-30.00" if i % 10 == 0 else "0.00" if i % 10 == 1 else f"{20 + i % 50}.00")
        for i, cid in enumerate(events)
    }


@pytest.fixture
def warehouse(cfg: Config, events: dict[str, list[date]]) -> duckdb.DuckDBPyConnection:
    con = connect(cfg)
    txns = _txn_rows(events)
    # a customer with only non-events (fees, transfers in, enquiries) never appears
    txns.append(_txn("NOEVENT", date(2026, 3, 1), "TRI", "C", "500.00", len(txns)))
    txns.append(_txn("NOEVENT", date(2026, 3, 2), "QRY", "N", "0.00", len(txns)))
    insert_txns(con, [t for t in txns if t["txn_date"] <= DAY])  # type: ignore[operator]
    deliver(con, START, DAY, datetime(2026, 8, 1, 6, 0))
    contribution(con, DAY, _amounts(events))
    yield con
    con.close()


def _days_to(events: dict[str, list[date]], cutoff: date) -> dict[str, list[date]]:
    return {c: [d for d in ds if d <= cutoff] for c, ds in events.items() if ds[0] <= cutoff}


def _resend_with_late_posting(warehouse: duckdb.DuckDBPyConnection, cid: str) -> None:
    """A re-send of 2026-03-01 that adds a POS purchase of customer ``cid`` dated 2026-02-27."""
    warehouse.execute(
        "update file_ledger set received_at = timestamp '2026-08-02 07:00', "
        "outcome = 'replaced' where business_date = date '2026-03-01'"
    )
    late = _txn(cid, date(2026, 2, 27), "POS", "D", "10.00", 10**7)
    late["business_date"] = date(2026, 3, 1)
    insert_txns(warehouse, [late])


def test_stage_scores_every_customer_and_validates(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    seen = _days_to(events, DAY)
    clv = warehouse.sql("select * from int_customer_clv").pl()
    assert clv.height == len(seen)
    assert "NOEVENT" not in set(clv["customer_id"])
    by_id = {r["customer_id"]: r for r in clv.iter_rows(named=True)}
    for cid, days in list(seen.items())[:50]:
        row = by_id[cid]
        assert row["frequency"] == len(days) - 1
        assert row["recency_days"] == (days[-1] - days[0]).days
        assert row["t_days"] == (DAY - days[0]).days
    for col in ("expected_events", "p_alive", "p_active_30d", "expected_days_to_next_event"):
        assert clv[col].is_finite().all() and clv[col].null_count() == 0
    assert ((clv["p_alive"] >= 0) & (clv["p_alive"] <= 1)).all()
    assert (clv["p_active_30d"] <= clv["p_alive"]).all()
    assert set(clv["life_stage"]) <= {"new", "growing", "mature", "declining", "dormant"}
    money = warehouse.sql("select typeof(clv_amount) from int_customer_clv limit 1").fetchone()
    assert money == ("DECIMAL(18,2)",)

    # Loss-makers keep their own (negative) value per event: CLV is negative, not shrunk.
    loser = next(c for i, c in enumerate(events) if i % 10 == 0 and c in seen)
    row = by_id[loser]
    window_events = sum(1 for d in seen[loser] if DAY - timedelta(days=89) <= d <= DAY)
    own = -30 / max(window_events, 1)
    assert float(row["expected_contribution_per_event"]) == pytest.approx(own, abs=0.006)
    assert float(row["clv_amount"]) <= 0

    runs = warehouse.sql("select * from clv_fit_runs order by fit_role").pl()
    assert runs["fit_role"].to_list() == ["calibration", "full"]
    cal = runs.row(0, named=True)
    assert cal["validation_status"] == "validated"
    cal_end = shift_months(DAY, -3)
    assert cal["calibration_end"] == cal_end == date(2026, 4, 30)
    # actual holdout events, counted from the simulation: event days after the calibration
    # end of customers first seen by it
    in_cal = _days_to(events, cal_end)
    actual = sum(sum(1 for d in events[c] if cal_end < d <= DAY) for c in in_cal)
    assert cal["holdout_actual_events"] == actual
    assert cal["holdout_customers"] == len(in_cal)
    assert 0.5 < cal["holdout_predicted_events"] / actual < 1.5
    assert cal["holdout_spearman"] > 0.3
    buckets = warehouse.sql("select * from clv_holdout_buckets order by bucket_order").pl()
    assert buckets["n_customers"].sum() == len(in_cal)
    assert buckets["actual_events"].sum() == actual
    assert buckets["frequency_bucket"].to_list()[-1] in {"7+", "6", "5"}

    exported = json.loads((cfg.paths.export_dir / "clv" / "20260731.json").read_text())
    full = runs.row(1, named=True)
    assert exported["fits"][0]["r"] == pytest.approx(full["r"])
    assert len(exported["holdout_buckets"]) == buckets.height
    assert not list((cfg.paths.export_dir / "clv").glob(".*tmp"))


def test_aggregate_is_incremental_and_follows_resends(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    from pipeline.stages.clv import update_event_aggregate

    assert update_event_aggregate(warehouse, cfg.clv, DAY) == (DAY - START).days + 1
    assert update_event_aggregate(warehouse, cfg.clv, DAY) == 0
    n_events = sum(len(ds) for ds in _days_to(events, DAY).values())
    assert warehouse.sql("select count(*) from agg_customer_event_day").fetchone() == (n_events,)
    # A re-send of 2026-03-01 adds a late posting dated 2026-02-27 for a customer.
    cid = next(iter(events))
    _resend_with_late_posting(warehouse, cid)
    assert update_event_aggregate(warehouse, cfg.clv, DAY) == 1
    had = date(2026, 2, 27) in events[cid]
    got = warehouse.execute(
        "select count(distinct event_date) from agg_customer_event_day where customer_id = ?",
        [cid],
    ).fetchone()
    assert got == (len(_days_to(events, DAY)[cid]) + (0 if had else 1),)
    # Changing the event definition re-aggregates every delivery.
    narrow = cfg.clv.model_copy(
        update={"events": cfg.clv.events.model_copy(update={"txn_codes": ["POS"]})}
    )
    assert update_event_aggregate(warehouse, narrow, DAY) == (DAY - START).days + 1


def read_rfm(
    con: duckdb.DuckDBPyConnection, cfg: ClvConfig, business_date: date, calibration_end: date
) -> pl.DataFrame:
    """Build ``int_customer_rfm`` (holdout up to ``business_date``) and read its rows as of
    ``calibration_end``."""
    from pipeline.engine.duckdb_engine import DuckDBEngine
    from pipeline.stages.clv import build_rfm

    build_rfm(con, cfg, business_date, calibration_end)
    DuckDBEngine(con).drop("int_customer_event_summary")
    return con.sql(
        "select * from int_customer_rfm where calibration_end = ? order by customer_id",
        params=[calibration_end],
    ).pl()


def test_first_delivery_marks_follow_late_postings_load_order_and_resends(cfg: Config) -> None:
    """Distinct event days come from is_first_delivery: one marked row per customer and day,
    the earliest delivery's, however late postings and deliveries arrive."""
    from pipeline.stages.clv import update_event_aggregate

    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)

    def txn(cid: str, day: date, delivered: date, amount: str, n: int) -> dict[str, object]:
        row = _txn(cid, day, "POS", "D", amount, n)
        row["business_date"] = delivered
        return row

    con = connect(cfg)
    # A: 10.00 on d1 on time, late postings for d1 in d2 (20.00) and d3 (40.00), 5.00 on d3.
    # B: 7.00 for d1 posted late in d3 only, 3.00 on d2.
    insert_txns(
        con,
        [
            txn("A", d1, d1, "10.00", 1),
            txn("A", d1, d2, "20.00", 2),
            txn("A", d1, d3, "40.00", 3),
            txn("A", d3, d3, "5.00", 4),
            txn("B", d2, d2, "3.00", 5),
            txn("B", d1, d3, "7.00", 6),
        ],
    )

    def marks() -> list[tuple[str, date, date]]:
        return con.sql(
            "select customer_id, event_date, business_date from agg_customer_event_day "
            "where is_first_delivery order by all"
        ).fetchall()

    # d2 and d3 are loaded first, d1 afterwards (out of order)
    deliver(con, d2, d3, datetime(2026, 3, 4, 6, 0))
    assert update_event_aggregate(con, cfg.clv, d3) == 2
    assert marks() == [("A", d1, d2), ("A", d3, d3), ("B", d1, d3), ("B", d2, d2)]
    deliver(con, d1, d1, datetime(2026, 3, 5, 6, 0))
    assert update_event_aggregate(con, cfg.clv, d3) == 1
    assert marks() == [("A", d1, d1), ("A", d3, d3), ("B", d1, d3), ("B", d2, d2)]

    rfm = {r["customer_id"]: r for r in read_rfm(con, cfg.clv, d3, d3).to_dicts()}
    # A: days d1, d3; the first day's 70.00 (three deliveries) is not a repeat amount
    assert (rfm["A"]["frequency"], rfm["A"]["recency_days"]) == (1, 2)
    assert rfm["A"]["repeat_amount_avg"] == pytest.approx(5.0)
    assert (rfm["B"]["first_event_date"], rfm["B"]["frequency"]) == (d1, 1)
    assert rfm["B"]["repeat_amount_avg"] == pytest.approx(3.0)
    # as of d2 only the deliveries up to d2 count: A has one day (twice delivered), B one
    as_of_d2 = {r["customer_id"]: r for r in read_rfm(con, cfg.clv, d2, d2).to_dicts()}
    assert {c: (r["first_event_date"], r["frequency"]) for c, r in as_of_d2.items()} == {
        "A": (d1, 0),
        "B": (d2, 0),
    }

    # d1 is re-sent without A's transaction: d2's late posting becomes A's first for d1
    con.execute("delete from stg_transactions where business_date = ? and customer_id = 'A'", [d1])
    con.execute(
        "update file_ledger set received_at = timestamp '2026-03-06 06:00', "
        "outcome = 'replaced' where business_date = ?",
        [d1],
    )
    assert update_event_aggregate(con, cfg.clv, d3) == 1
    expected = [("A", d1, d2), ("A", d3, d3), ("B", d1, d3), ("B", d2, d2)]
    assert marks() == expected
    # the same marks as a rebuild from scratch
    con.execute("drop table agg_customer_event_day")
    con.execute("drop table agg_customer_event_day_dates")
    assert update_event_aggregate(con, cfg.clv, d3) == 3
    assert marks() == expected
    con.close()


def test_parameter_jump_is_flagged(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    warehouse.execute("update clv_fit_runs set business_date = date '2026-07-30', r = r * 3")
    with caplog.at_level(logging.WARNING, logger="test_clv"):
        run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    row = warehouse.execute(
        "select param_jump, param_jump_detail from clv_fit_runs "
        "where business_date = ? and fit_role = 'full'",
        [DAY],
    ).fetchone()
    assert row is not None and row[0] is True and row[1].startswith("since 2026-07-30: r ")
    assert "parameters jumped" in caplog.text


def _few_customers(cfg: Config) -> duckdb.DuckDBPyConnection:
    con = connect(cfg)
    few = simulate(30, seed=3)
    insert_txns(con, _txn_rows(_days_to(few, DAY)))
    deliver(con, START, DAY, datetime(2026, 8, 1, 6, 0))
    contribution(con, DAY, _amounts(few))
    return con


def test_too_few_customers_fails_clearly_and_writes_nothing_when_told_to(cfg: Config) -> None:
    strict = cfg.model_copy(
        update={"clv": cfg.clv.model_copy(update={"on_insufficient_history": "fail"})}
    )
    con = _few_customers(strict)
    with pytest.raises(DataContractError, match=r"fewer than clv.min_customers = 100"):
        run_stages(con, strict, ["clv"], [DAY], LOG)
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert "int_customer_clv" not in tables
    con.close()


def test_too_few_customers_by_default_get_rfm_without_model_outputs(cfg: Config) -> None:
    con = _few_customers(cfg)
    run_stages(con, cfg, ["clv"], [DAY], LOG)
    rows = con.execute(
        "select count(*), count(clv_amount), count(p_alive), min(life_stage), max(life_stage), "
        "min(frequency) >= 0 from int_customer_clv where business_date = ?",
        [DAY],
    ).fetchall()[0]
    assert rows == (30, 0, 0, "insufficient_history", "insufficient_history", True)
    con.close()


def test_cli_backtest_prints_metrics(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    from pipeline.cli import app

    warehouse.close()
    result = CliRunner().invoke(
        app,
        [
            "clv", "backtest", "--calibration-end", "2026-05-31", "--holdout-end", "2026-07-31",
            "--warehouse", str(cfg.paths.warehouse), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    cal_end = date(2026, 5, 31)
    actual = sum(sum(1 for d in events[c] if cal_end < d <= DAY) for c in _days_to(events, cal_end))
    assert out["actual_events"] == actual and out["holdout_days"] == 61
    bad = CliRunner().invoke(
        app,
        [
            "clv", "backtest", "--calibration-end", "2026-07-31", "--holdout-end", "2026-05-31",
            "--warehouse", str(cfg.paths.warehouse),
        ],
    )  # fmt: skip
    assert bad.exit_code == 1 and "must be after" in bad.output


def test_money_backtest_beside_the_naive_baseline_and_the_method_recorded(
    cfg: Config,
    warehouse: duckdb.DuckDBPyConnection,
    events: dict[str, list[date]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Ground truth from the simulation: a customer earns 10 CNY in each month with an event;
    # dropouts stop earning. The backtest from 2026-04-30 compares May-July with the CLV
    # (survival x trailing monthly contribution) and with the trailing months pro rata.
    # Earnings here have no trend but attrition, which the survival curve already counts:
    # the trend is off, and its row is the run rate's.
    cfg = cfg.model_copy(update={"clv": cfg.clv.model_copy(update={"trend_window_months": 0})})
    months = [date(2026, m, 1) for m in range(1, 8)]
    rows = [
        (cid, m, 10.0 if any(d.replace(day=1) == m for d in days) else 0.0)
        for cid, days in events.items()
        for m in months
    ]
    warehouse.execute(
        "create table agg_customer_contribution_month (customer_id varchar, month_start date, "
        "contribution_amount decimal(18, 6))"
    )
    frame = pl.DataFrame(
        rows, schema=["customer_id", "month_start", "contribution_amount"], orient="row"
    )
    warehouse.register("monthly_rows", frame.to_arrow())
    warehouse.execute("insert into agg_customer_contribution_month select * from monthly_rows")
    warehouse.unregister("monthly_rows")
    with caplog.at_level(logging.WARNING, logger="test_clv"):
        run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    # the validation's scratch tables are gone (clv_holdout_scores, the calibration month's
    # expected contributions, the metrics)
    left = warehouse.execute(
        "select table_name from information_schema.tables "
        "where table_name like 'clv_holdout_%' or table_name like 'clv_expected_%' "
        "or table_name like '%_metrics'"
    ).fetchall()
    assert left == [("clv_holdout_buckets",)]
    bt = warehouse.sql("select * from clv_money_backtest order by predictor").pl()
    assert bt["predictor"].to_list() == ["baseline", "clv", "run_rate"]
    assert (bt["calibration_end"] == date(2026, 4, 30)).all()
    assert (bt["holdout_end"] == date(2026, 7, 31)).all() and (bt["trailing_months"] == 4).all()
    seen_by_cut = _days_to(events, date(2026, 4, 30))
    realized = sum(
        10.0 * len({d.replace(day=1) for d in events[c] if d > date(2026, 4, 30)})
        for c in seen_by_cut
    )
    assert bt["realized_total_amount"][0] == pytest.approx(realized)
    assert (bt["customers"] == len(seen_by_cut)).all()
    base, clv = bt.row(0, named=True), bt.row(1, named=True)
    # survival weighting lowers the error in money (dropouts stop earning) ...
    assert clv["mae_amount"] < base["mae_amount"]
    # ... but on this data (earning = a month with an event) does not rank better than the
    # trailing months: not beating the baseline is recorded and said, never hidden
    beats = clv["spearman"] > base["spearman"] and clv["mae_amount"] < base["mae_amount"]
    assert bt["clv_beats_baseline"].to_list() == [beats] * 3
    if not beats:
        assert "does not beat the naive baseline" in caplog.text
    full = warehouse.execute(
        "select value_method, value_method_reason, gg_frequency_value_spearman, "
        "cold_log_likelihood, mode_jump from clv_fit_runs where fit_role = 'full'"
    ).fetchone()
    assert full is not None and full[0] == "survival_x_contribution"
    assert full[1] == "configured: value_method contribution" and full[2] is not None
    assert full[3] is not None and full[4] is False
    methods = warehouse.sql("select distinct clv_method from int_customer_clv").fetchall()
    assert methods == [("survival_x_contribution",)]


def test_gamma_gamma_only_while_its_assumption_holds(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    # Configured gamma_gamma with a threshold no data meets: the night says so, values by
    # contribution, and records the method per customer.
    strict = cfg.model_copy(
        update={
            "clv": cfg.clv.model_copy(
                update={"value_method": "gamma_gamma", "gg_max_abs_correlation": 1e-9}
            )
        }
    )
    with caplog.at_level(logging.WARNING, logger="test_clv"):
        run_stages(warehouse, strict, ["clv"], [DAY], LOG)
    full = warehouse.execute(
        "select value_method, value_method_reason from clv_fit_runs where fit_role = 'full'"
    ).fetchone()
    assert full is not None and full[0] == "survival_x_contribution"
    assert full[1].startswith("Gamma-Gamma")
    assert "valued by survival_x_contribution instead" in caplog.text
    lenient = cfg.model_copy(
        update={
            "clv": cfg.clv.model_copy(
                update={"value_method": "gamma_gamma", "gg_max_abs_correlation": 1.0}
            )
        }
    )
    run_stages(warehouse, lenient, ["clv"], [DAY], LOG)
    methods = dict(
        warehouse.execute(
            "select clv_method, count(*) from int_customer_clv group by all"
        ).fetchall()
    )
    assert set(methods) == {"gamma_gamma", "own_value_per_event"}


def test_gamma_gamma_reads_an_md5_sample_of_the_repeaters_beyond_its_cap(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    # the repeat customers with positive contribution per event, from the simulation: every
    # customer but the loss-makers and the zeros (i % 10 in 0, 1) seen twice by the day
    amounts = _amounts(events)
    seen = _days_to(events, DAY)
    eligible = [c for c, days in seen.items() if len(days) > 1 and float(amounts[c]) > 0]
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    everyone = "select gg_n_customers from clv_fit_runs where fit_role = 'full'"
    assert warehouse.execute(everyone).fetchone() == (len(eligible),)  # below the cap

    cap = 50  # about 50 of them: those whose md5(customer_id) sorts below 50/n of 16^8
    bound = f"{cap * 1000 // len(eligible) * 16**8 // 1000:08x}"
    sample = [c for c in eligible if hashlib.md5(c.encode()).hexdigest() < bound]
    capped = cfg.model_copy(
        update={"clv": cfg.clv.model_copy(update={"spend_sample_customers": cap})}
    )
    run_stages(warehouse, capped, ["clv"], [DAY], LOG)
    assert warehouse.execute(everyone).fetchone() == (len(sample),)
    assert 25 < len(sample) < 75


def test_refit_from_the_previous_nights_parameters_records_both_likelihoods(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    # the previous night's parameters, half again as large: the refit from there reaches the
    # same optimum as the default start, so no mode jump; both likelihoods are recorded
    warehouse.execute(
        "update clv_fit_runs set business_date = date '2026-07-30', r = r * 1.5, "
        "alpha = alpha * 1.5"
    )
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    row = warehouse.execute(
        "select cold_log_likelihood, warm_log_likelihood, log_likelihood, mode_jump "
        "from clv_fit_runs where business_date = ? and fit_role = 'full'",
        [DAY],
    ).fetchone()
    assert row is not None and row[0] is not None and row[1] is not None
    assert row[1] == pytest.approx(row[0], rel=1e-4)
    assert row[2] == pytest.approx(max(row[0], row[1]))
    assert row[3] is False


def contribution_months(rows: list[tuple[str, date, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse whose ``agg_customer_contribution_month`` holds ``rows``
    (customer_id, month_start, CNY)."""
    con = duckdb.connect()
    con.execute(
        "create table agg_customer_contribution_month (customer_id varchar, month_start date, "
        "contribution_amount decimal(18, 6))"
    )
    con.executemany("insert into agg_customer_contribution_month values (?, ?, ?)", rows)
    return con


def expected_rows(
    rows: list[tuple[str, date, Any]], month: date, cfg: ClvConfig
) -> dict[str, tuple[Decimal, float | None]]:
    """``sql/clv/clv_expected_contribution.sql`` run on monthly contributions ``rows`` as of
    ``month``: each customer's (run rate, trend)."""
    from pipeline.engine.duckdb_engine import DuckDBEngine
    from pipeline.stages.clv import EXPECTED, expected_contributions

    con = contribution_months(rows)
    expected_contributions(DuckDBEngine(con), month, month, cfg)
    found = con.execute(f"select customer_id, run_rate, monthly_trend from {EXPECTED}")
    return {r[0]: (r[1], r[2]) for r in found.fetchall()}


def test_the_trend_is_each_customers_slope_shrunk_toward_their_bands() -> None:
    # Hand-worked, one band, three closed months (x = 0, 1, 2: sxx = 2):
    # A 0, 10, 20: slope 10, a perfect line (se^2 = 0); B 0, 0, 0: slope 0 (se^2 = 0);
    # C 0, 3, 0: slope 0, syy = 6, s^2 = 6 / 1, se^2 = 6 / 2 = 3; D 5, 7 (two months): no
    # slope of its own. Band: mean slope 10/3, var(10, 0, 0) = 100/3, mean se^2 = 1, so
    # tau^2 = 97/3 and C keeps w = tau^2 / (tau^2 + 3) = 97/106 of its own slope (0) and
    # 9/106 of the band's: 10/3 x 9/106 = 30/106. A and B keep theirs (w = 1), D gets 10/3.
    aug, sep, oct_ = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
    rows = [("A", aug, 0), ("A", sep, 10), ("A", oct_, 20), ("B", aug, 0), ("B", sep, 0)]
    rows += [("B", oct_, 0), ("C", aug, 0), ("C", sep, 3), ("C", oct_, 0), ("D", sep, 5)]
    rows += [("D", oct_, 7), ("E", date(2026, 6, 1), 50)]  # E: nothing in the run rate's months
    got = expected_rows(rows, oct_, ClvConfig(trend_window_months=3, trend_bands=1))
    assert set(got) == {"A", "B", "C", "D"}
    assert got["A"] == pytest.approx((10.0, 10.0))
    assert got["B"] == pytest.approx((0.0, 0.0))
    assert got["C"] == pytest.approx((1.0, 30 / 106))
    assert got["D"] == pytest.approx((6.0, 10 / 3))
    flat = expected_rows(rows, oct_, ClvConfig(trend_window_months=0))
    assert {k: v[1] for k, v in flat.items()} == dict.fromkeys("ABCD")


def test_tied_run_rates_fall_into_bands_by_customer_id_not_row_order() -> None:
    # Five customers at run rate 0 (each line's three months average 0), two bands: ranks
    # 1-3 are band 0, 4-5 band 1. By customer_id: a, b, c in band 0, whose mean slope (a 2,
    # b 4; c has no slope of its own, two months) is 3, which c gets. Ranked in the reversed
    # row order, e, d, c would be band 0 and c would get (50 + 30) / 2 = 40. Perfect lines:
    # se^2 = 0, own slopes kept.
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    lines = {"a": [-2, 0, 2], "b": [-4, 0, 4], "d": [-30, 0, 30], "e": [-50, 0, 50]}
    rows = [(c, m, a) for c, amounts in lines.items() for m, a in zip(months, amounts, strict=True)]
    rows += [("c", months[1], -1), ("c", months[2], 1)]
    cfg = ClvConfig(trend_window_months=3, run_rate_months=3, trend_bands=2)
    for ordered in (rows, rows[::-1]):
        got = {k: v[1] for k, v in expected_rows(ordered, months[-1], cfg).items()}
        assert got == pytest.approx({"a": 2.0, "b": 4.0, "c": 3.0, "d": 30.0, "e": 50.0})


HALF_CENT_MONTHS = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
HALF_CENT_ROWS = [
    *[("F", m, Decimal(a)) for m, a in zip(HALF_CENT_MONTHS, ["0.1", "0.2", "0.3"], strict=True)],
    ("G", HALF_CENT_MONTHS[1], Decimal("1.00")),
    ("G", HALF_CENT_MONTHS[2], Decimal("1.01")),
    ("H", HALF_CENT_MONTHS[1], Decimal("-1.00")),
    ("H", HALF_CENT_MONTHS[2], Decimal("-1.01")),
    *[("I", m, Decimal(a)) for m, a in zip(HALF_CENT_MONTHS, ["0", "0", "0.01"], strict=True)],
]
"""Monthly contributions whose run rates (3 months, x `HALF_CENT_RUN_RATES`) are hand-worked:
0.1, 0.2 and 0.3 CNY average exactly 0.2 (summed as DOUBLEs in this order they give
0.6000000000000001 / 3, and a parallel sum may add them in another order, so the run rate and
its cent changed between two runs); 1.00 and 1.01 average 1.005 exactly, a half cent, 1.01
half away from zero (as a DOUBLE, 1.005 is 1.00499999999999989..., and DuckDB's DOUBLE
division made it 1.00 where Spark's exact one gave 1.01); -1.00 and -1.01: -1.01; 0.01 over
three months: 0.00333..., 0.00."""

HALF_CENT_RUN_RATES = {
    "F": Decimal("0.20"),
    "G": Decimal("1.01"),
    "H": Decimal("-1.01"),
    "I": Decimal("0.00"),
}


def test_the_run_rate_is_the_exact_mean_of_the_months_rounded_half_away_from_zero() -> None:
    cfg = ClvConfig(trend_window_months=0, run_rate_months=3)
    got = expected_rows(HALF_CENT_ROWS, HALF_CENT_MONTHS[-1], cfg)
    assert {k: v[0] for k, v in got.items()} == HALF_CENT_RUN_RATES


def test_calibration_fit_is_reused_in_its_month_until_its_inputs_or_config_change(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    from models.clv import fit_purchase_model
    from pipeline.engine.duckdb_engine import DuckDBEngine
    from pipeline.stages.clv import HOLDOUT_SCORES, calibration_triples, validate_on_holdout

    cal_end = date(2026, 4, 30)  # the calibration end of every night from 07-31 to 08-30

    def stored() -> list[tuple[object, ...]]:
        return warehouse.execute("select fit_key, fitted_on from clv_purchase_fits").fetchall()

    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    [(key, fitted_on)] = stored()
    assert fitted_on == DAY
    # The next night reuses the fit: it is not fitted again ...
    nxt = DAY + timedelta(days=1)
    deliver(warehouse, nxt, nxt, datetime(2026, 8, 2, 6, 0))
    contribution(warehouse, nxt, _amounts(events))
    run_stages(warehouse, cfg, ["clv"], [nxt], LOG)
    assert stored() == [(key, DAY)]
    # ... and the night's validation is what a refit gives, to the bit
    engine = DuckDBEngine(warehouse)
    fit = fit_purchase_model(calibration_triples(engine, cal_end), cfg.clv)
    refit = validate_on_holdout(engine, cfg.clv, cal_end, (nxt - cal_end).days, fit)
    engine.drop(HOLDOUT_SCORES)
    row = warehouse.execute(
        "select r, alpha, a, b, r_se, alpha_se, a_se, b_se, log_likelihood, n_customers, "
        "holdout_predicted_events, holdout_rmse, holdout_spearman from clv_fit_runs "
        "where fit_role = 'calibration' and business_date = ?",
        [nxt],
    ).fetchone()
    names = ("r", "alpha", "a", "b")
    assert row == (
        *(refit.fit.params[k] for k in names),
        *(refit.fit.std_errors[k] for k in names),
        refit.fit.log_likelihood,
        refit.fit.n_customers,
        refit.predicted_events,
        refit.rmse,
        refit.spearman,
    )

    # A re-send of 2026-03-01 with a late posting on 2026-02-27 changes the calibration
    # summary: fitted again.
    feb27 = date(2026, 2, 27)
    cid = next(c for c, ds in events.items() if ds[0] < feb27 and feb27 not in ds)
    _resend_with_late_posting(warehouse, cid)
    run_stages(warehouse, cfg, ["clv"], [nxt], LOG)
    [(late_key, fitted_on)] = stored()
    assert late_key != key and fitted_on == nxt

    # Another penalizer (a what-if config): fitted again too.
    other = cfg.model_copy(update={"clv": cfg.clv.model_copy(update={"penalizer": 0.0001})})
    run_stages(warehouse, other, ["clv"], [nxt], LOG)
    assert stored()[0][0] not in (key, late_key)
