"""The clv stage's stored event state (clv_event_state) gives what one pass over every
delivery gives, whatever happened since it was built.

On the simulated warehouse of tests/test_clv_stage.py: the summary the RFM rows and the
contribution window's event days come from, built on a stored state of the closed months
plus the days since, is compared row by row with the same summary from no state (every
delivery read), after a first night, an ordinary night, late postings for earlier months in
the new days, a re-send of an earlier month, a config change and a forced re-run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.config import Config, load_config
from pipeline.runner import run_stages
from pipeline.stages.clv import backtest_cutoff, build_rfm, update_event_aggregate
from pipeline.warehouse import connect
from tests.test_clv_stage import (
    DAY,
    LOG,
    START,
    _amounts,
    _resend_with_late_posting,
    _txn,
    _txn_rows,
    contribution,
    deliver,
    insert_txns,
    simulate,
)


@pytest.fixture(scope="module")
def events() -> dict[str, list[date]]:
    return simulate(300)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return load_config(
        Path("configs/default.yaml"),
        {"warehouse": tmp_path / "w.duckdb", "export_dir": tmp_path / "exports"},
    )


@pytest.fixture
def warehouse(cfg: Config, events: dict[str, list[date]]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(cfg)
    insert_txns(con, [t for t in _txn_rows(events) if t["txn_date"] <= DAY])  # type: ignore[operator]
    deliver(con, START, DAY, datetime(2026, 8, 1, 6, 0))
    contribution(con, DAY, _amounts(events))
    yield con
    con.close()


NIGHT = date(2026, 7, 20)


def _outputs(con: duckdb.DuckDBPyConnection, cfg: Config, day: date, incremental: bool) -> Any:
    clv = cfg.clv
    update_event_aggregate(con, clv, day)
    cal_end = backtest_cutoff(day, clv.holdout_months)
    build_rfm(con, clv, day, cal_end, (day - timedelta(days=89), day), incremental=incremental)
    summary = con.sql("select * from int_customer_event_summary order by all").fetchall()
    rfm = con.sql("select * from int_customer_rfm order by all").fetchall()
    con.execute("drop table int_customer_event_summary")
    return summary, rfm


def _reference(con: duckdb.DuckDBPyConnection, cfg: Config, day: date) -> Any:
    """The summary's sums, grouped by customer and day first (no delivery marks, no state)."""
    rw = cfg.clv.life_stages.recent_window_days
    cal = backtest_cutoff(day, cfg.clv.holdout_months)
    return con.execute(
        """
        with days as (
            select customer_id, event_date, sum(amount_total) as amount
            from agg_customer_event_day where business_date <= $d group by all
        )
        select customer_id, min(event_date), arg_min(amount, event_date),
               max(event_date) filter (where event_date <= $cal),
               count(*) filter (where event_date <= $cal),
               sum(amount) filter (where event_date <= $cal),
               count(*) filter (where event_date > $cal - $rw and event_date <= $cal),
               max(event_date), count(*), sum(amount),
               count(*) filter (where event_date > $d - $rw),
               count(*) filter (where event_date > $d - 90)
        from days group by all order by all
        """,
        {"d": day, "cal": cal, "rw": rw},
    ).fetchall()


def _check(con: duckdb.DuckDBPyConnection, cfg: Config, day: date) -> None:
    stored = _outputs(con, cfg, day, incremental=True)
    state = con.sql("select count(*), min(state_end) from clv_event_state").fetchone()
    assert state == (state[0], day.replace(day=1) - timedelta(days=1)) and state[0] > 100
    assert stored == _outputs(con, cfg, day, incremental=False)
    # (customer, first day, first day's amount, ..., events_recent, window_events)
    summed = [(r[0], r[1], r[2] + r[3], *r[4:12], r[14]) for r in stored[0]]
    assert summed == _reference(con, cfg, day)


def _late(cid: str, day: date, delivered: date, amount: str, n: int) -> dict[str, object]:
    row = _txn(cid, day, "POS", "D", amount, n)
    row["business_date"] = delivered
    return row


def test_the_stored_state_gives_what_every_delivery_gives(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection, events: dict[str, list[date]]
) -> None:
    con = warehouse
    _check(con, cfg, NIGHT)  # first night: no state stored yet
    key = con.sql("select any_value(state_key) from clv_event_state").fetchone()
    _check(con, cfg, NIGHT + timedelta(days=1))  # an ordinary night reuses it
    assert con.sql("select any_value(state_key) from clv_event_state").fetchone() == key

    # late postings for earlier months in tonight's delivery: before a customer's first event,
    # on it, before the calibration end, on a day the state holds already
    night = NIGHT + timedelta(days=2)
    ids = list(events)
    first = events[ids[3]][0]
    insert_txns(
        con,
        [
            _late(ids[3], first - timedelta(days=5), night, "11.00", 10**7),
            _late(ids[4], events[ids[4]][0], night, "12.00", 10**7 + 1),
            _late(ids[5], date(2026, 3, 14), night, "13.00", 10**7 + 2),
            _late(ids[6], events[ids[6]][-1], night, "14.00", 10**7 + 3),
        ],
    )
    deliver(con, night, night, datetime(2026, 8, 1, 7, 0))  # after the first receipt
    _check(con, cfg, night)
    assert con.sql("select any_value(state_key) from clv_event_state").fetchone() == key

    # re-sends of earlier months: 2026-03-01 with a late posting dated 2026-02-27, 2026-06-10
    # with one on a customer's first day
    _resend_with_late_posting(con, ids[7])
    con.execute(
        "update file_ledger set received_at = timestamp '2026-08-02 08:00', "
        "outcome = 'replaced' where business_date = date '2026-06-10'"
    )
    cid = next(c for c in ids[8:] if events[c][0] < date(2026, 6, 10))
    insert_txns(con, [_late(cid, events[cid][0], date(2026, 6, 10), "15.00", 10**7 + 4)])
    _check(con, cfg, night)
    assert con.sql("select any_value(state_key) from clv_event_state").fetchone() != key

    # another recent window, another validation cut-off
    stages = cfg.clv.life_stages.model_copy(update={"recent_window_days": 30})
    other = cfg.model_copy(
        update={"clv": cfg.clv.model_copy(update={"life_stages": stages, "holdout_months": 2})}
    )
    _check(con, other, night)


def test_a_forced_rerun_writes_what_the_first_run_wrote(
    cfg: Config, warehouse: duckdb.DuckDBPyConnection
) -> None:
    tables = ("int_customer_rfm", "int_customer_event_contribution", "int_customer_clv")
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG)
    first = [warehouse.sql(f"select * from {t} order by all").fetchall() for t in tables]
    run_stages(warehouse, cfg, ["clv"], [DAY], LOG, force=True)
    assert [warehouse.sql(f"select * from {t} order by all").fetchall() for t in tables] == first
